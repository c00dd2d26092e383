"""Refused connects: 200 connects to a closed IPv4 loopback port and 50 to a closed
::1 port. The port is bound and never listened on, so nothing else takes it and
every SYN is answered with a reset. The agent's connect durations for each client
count exactly those connects with outcome refused, and none established."""
import socket

from agent import fail
from tcp_peers import Peer, histogram, loopback_test, service

ATTEMPTS = {4: 200, 6: 50}
FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}


def refuse(peers, host, version):
    """The refused connects; {(service, port, outcome): count} the agent should count."""
    name, attempts = service("tcprefused", f"client{version}"), ATTEMPTS[version]
    closed = peers.enter_context(socket.socket(FAMILIES[version]))
    closed.bind((host, 0))
    port = closed.getsockname()[1]
    client = peers.enter_context(Peer(name, "refuse", host, port, attempts))
    if client.result()["refused"] != attempts:
        fail(f"not all {attempts} connects to [{host}]:{port} were refused")
    print(f"[{host}]:{port} refused {attempts} connects")
    return {(name, port, "refused"): attempts, (name, port, "established"): 0}


def counted(samples, name, port, outcome):
    return histogram(samples, "tcp_connect_duration_seconds", service=name, port=port, outcome=outcome)[0]


if __name__ == "__main__":
    loopback_test(refuse, counted, "connect outcomes")
