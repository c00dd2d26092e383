"""TCP retransmits: a client in one network namespace sends 2 MiB to a server in
another through a relay that drops 5% of the data segments (a seeded choice, never
a handshake or a pure ACK). The kernel retransmits what was lost, and the agent
counts retransmits for the client. A quiet client on loopback, which loses nothing,
has none."""
import functools

import agent
from agent import Agent, fail
from netns_relay import Relay, is_tcp_with_payload
from tcp_peers import AGENT_ARGS, Peer, Server, await_agent, service, total

SIZE = 2 << 20
QUIET_SIZE = 64 << 10
CLIENT = service("tcpretrans", "client")
SERVER = service("tcpretrans", "server")
QUIET = service("tcpretrans", "quiet")
QUIET_SERVER = service("tcpretrans", "quietserver")


def main():
    agent.require_bpf()
    with Relay(delay_ms=5, drop_ratio=0.05, seed=7, drop_only=is_tcp_with_payload) as relay, \
            Agent(*AGENT_ARGS) as running:
        address = relay.address(relay.b)
        with Server(SERVER, address, 1, run=functools.partial(relay.run_in, relay.b)) as server, \
                Peer(CLIENT, "connect", address, server.port, 1, SIZE, 0,
                     run=functools.partial(relay.run_in, relay.a)) as client, \
                Server(QUIET_SERVER, "127.0.0.1", 1) as quiet_server, \
                Peer(QUIET, "connect", "127.0.0.1", quiet_server.port, 1, QUIET_SIZE, 0) as quiet:
            kernel = client.result()["retransmits"][0]
            received = server.result()["received"]
            quiet_kernel = quiet.result()["retransmits"][0]
            print(f"the relay dropped {relay.dropped[relay.a]} of the client's and "
                  f"{relay.dropped[relay.b]} of the server's segments; the server received {received}; "
                  f"the kernel retransmitted {kernel} (quiet client: {quiet_kernel})")
            if received != [SIZE] or kernel == 0 or quiet_kernel != 0:
                fail("the relay did not make the kernel retransmit, or the quiet client retransmitted")

            retransmits = await_agent(
                running, lambda samples: total(samples, "tcp_retransmits_total", service=CLIENT),
                lambda found: found > 0, f"retransmits of {CLIENT}")
            await_agent(running,
                        lambda samples: total(samples, "tcp_connections_opened_total", service=QUIET,
                                              direction="outbound"),
                        lambda found: found == 1, f"the connection of {QUIET}")
            quiet_retransmits = total(running.samples(), "tcp_retransmits_total", service=QUIET)
            if quiet_retransmits != 0:
                fail(f"the agent counts {quiet_retransmits} retransmits for {QUIET}, which had none")
            print(f"the agent counts {retransmits:.0f} retransmits for the client, 0 for the quiet one")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
