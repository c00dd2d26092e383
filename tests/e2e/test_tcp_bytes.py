"""TCP bytes, exactly: on IPv4 and on IPv6 loopback, a client sends 10 MiB and
receives 3 MiB on one connection, half-closing after its 10 MiB as an HTTP/1.0
client does. The agent counts exactly that for the client, and the mirror image for
the server."""
from agent import fail
from tcp_peers import Peer, Server, loopback_test, service, total

SENT = 10 << 20
RECEIVED = 3 << 20


def transfer(peers, host, version):
    """One transfer; {(service, port, direction): bytes} the agent should count."""
    client_name, server_name = service("tcpbytes", f"client{version}"), service("tcpbytes", f"server{version}")
    server = peers.enter_context(Server(server_name, host, 1, RECEIVED))
    client = peers.enter_context(Peer(client_name, "connect", host, server.port, 1, SENT, RECEIVED))
    client.result()
    if server.result()["received"] != [SENT]:
        fail(f"the server on {host} did not receive {SENT} bytes")
    print(f"[{host}]:{server.port}: the client sent {SENT} and received {RECEIVED} bytes")
    return {(client_name, server.port, "sent"): SENT, (client_name, server.port, "received"): RECEIVED,
            (server_name, server.port, "sent"): RECEIVED, (server_name, server.port, "received"): SENT}


def counted(samples, name, port, direction):
    return total(samples, f"tcp_bytes_{direction}_total", service=name, port=port)


if __name__ == "__main__":
    loopback_test(transfer, counted, "client and server bytes")
