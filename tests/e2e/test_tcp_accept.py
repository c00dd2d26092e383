"""Accepted connections: a server on IPv4 loopback and one on ::1 each accept 100
connections. On the server's port the agent counts 100 inbound connections opened
for each server and 100 outbound for each client."""
from tcp_peers import Peer, Server, loopback_test, service, total

CONNECTIONS = 100


def accept(peers, host, version):
    """The connections; {(service, port, direction): count} the agent should count."""
    client_name, server_name = service("tcpaccept", f"client{version}"), service("tcpaccept", f"server{version}")
    server = peers.enter_context(Server(server_name, host, CONNECTIONS))
    client = peers.enter_context(Peer(client_name, "connect", host, server.port, CONNECTIONS, 0, 0))
    client.result()
    server.result()
    print(f"[{host}]:{server.port} accepted {CONNECTIONS} connections")
    return {(server_name, server.port, "inbound"): CONNECTIONS, (client_name, server.port, "outbound"): CONNECTIONS}


def counted(samples, name, port, direction):
    return total(samples, "tcp_connections_opened_total", service=name, port=port, direction=direction)


if __name__ == "__main__":
    loopback_test(accept, counted, "connections opened")
