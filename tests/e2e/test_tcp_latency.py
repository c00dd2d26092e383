"""TCP latency: a client in one network namespace connects 5 times to a server in
another, through a relay that delays every packet by 50 ms each way, so every round
trip takes 100 ms. The agent's connect durations for the client (outcome established)
count 5 and average 100 ms, and its RTTs average 100 ms, each within 15%."""
import functools

import agent
from agent import Agent, fail, within
from netns_relay import Relay
from tcp_peers import AGENT_ARGS, Peer, Server, await_agent, histogram, milliseconds, service

CONNECTIONS = 5
DELAY_MS = 50
RTT_SECONDS = 2 * DELAY_MS / 1000
TOLERANCE = 0.15
CLIENT = service("tcplatency", "client")
SERVER = service("tcplatency", "server")


def main():
    agent.require_bpf()
    with Relay(delay_ms=DELAY_MS) as relay, Agent(*AGENT_ARGS) as running:
        address = relay.address(relay.b)
        with Server(SERVER, address, CONNECTIONS, 100, run=functools.partial(relay.run_in, relay.b)) as server, \
                Peer(CLIENT, "connect", address, server.port, CONNECTIONS, 100, 100,
                     run=functools.partial(relay.run_in, relay.a)) as client:
            measured = client.result()
            print(f"the client measured connects of {milliseconds(measured['connect_seconds'])} ms, "
                  f"the kernel RTTs of {' '.join(str(us) for us in measured['rtt_us'])} us")
            if not all(within(s, RTT_SECONDS, TOLERANCE) for s in measured["connect_seconds"]):
                fail(f"the relay did not delay connects to {RTT_SECONDS}s: {measured['connect_seconds']}")

            connects = await_agent(
                running, lambda samples: histogram(samples, "tcp_connect_duration_seconds", service=CLIENT,
                                                   outcome="established", address=address, port=server.port),
                lambda found: found[0] >= CONNECTIONS, f"{CONNECTIONS} established connects of {CLIENT}")
            rtts = await_agent(running, lambda samples: histogram(samples, "tcp_rtt_seconds", service=CLIENT),
                               lambda found: found[0] > 0, f"RTTs of {CLIENT}")
            count, total = connects
            if count != CONNECTIONS or not within(total / count, RTT_SECONDS, TOLERANCE):
                fail(f"connect durations count {count}, sum {total}s; wanted {CONNECTIONS} "
                     f"averaging {RTT_SECONDS}s ±{TOLERANCE:.0%}")
            if not within(rtts[1] / rtts[0], RTT_SECONDS, TOLERANCE):
                fail(f"RTTs count {rtts[0]}, sum {rtts[1]}s: the mean is not {RTT_SECONDS}s ±{TOLERANCE:.0%}")
            print(f"connects: {count:.0f} averaging {total / count * 1000:.1f} ms; "
                  f"RTTs: {rtts[0]:.0f} averaging {rtts[1] / rtts[0] * 1000:.1f} ms")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
