"""Opens that meet a full ring buffer are parked, not lost: connections accepted while
the agent cannot drain still get their addresses.

A copy of nginx (named so that only it is captured) serves the route of
test_load_accounting. The agent runs with an 8 KiB payload ring buffer and is stopped
(SIGSTOP); one client fills the ring buffer with requests, then CONNECTIONS new clients
connect, so that nginx's accepts find it full and the kernel parks their opens. The
agent is let go on; once the filler's requests are all reported or counted lost (the
ring buffer drained), each new client sends one request. Every one of those requests
is reported on a span whose network.peer.port is that client's own port: the tracker
knew the connections from their opens. (A lost open leaves the connection to be learned
from its first data, without addresses: port 0.)
"""
import os
import signal
import socket
import tempfile
import uuid

import agent
from agent import Agent, fail, value, wait_until
from http_peers import read_spans, wait_for_port
from test_load_accounting import LOSS_REASONS, ROUTE, start_nginx_copy

CONNECTIONS = 20
FILLERS = 40  # requests that fill the 8 KiB ring buffer while the agent is stopped


def exchange(sock, trace, pad):
    sock.sendall((f"GET {ROUTE}?pad={pad} HTTP/1.1\r\nHost: parked\r\n"
                  f"traceparent: 00-{trace}-{'1' * 16}-01\r\n\r\n").encode())
    data = b""
    while not data.endswith(pad.encode()):
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("nginx closed the connection")
        data += chunk


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        with Agent("--capture.executables", "infrared-parked-nginx",
                   "--capture.events-buffer-bytes", "8192",
                   "--spans.output", spans_path) as running:
            nginx, port = start_nginx_copy(directory, "infrared-parked-nginx")
            sockets = []
            try:
                wait_for_port(port)
                filler = socket.create_connection(("127.0.0.1", port))
                sockets.append(filler)
                running.process.send_signal(signal.SIGSTOP)
                try:
                    for _ in range(FILLERS):
                        exchange(filler, uuid.uuid4().hex, "f" * 200)
                    clients = {}
                    for _ in range(CONNECTIONS):
                        client = socket.create_connection(("127.0.0.1", port))
                        sockets.append(client)
                        clients[uuid.uuid4().hex] = client
                    # nginx accepts them on its own time: give it that time (the
                    # opens are made at accept(), while the ring buffer is full).
                    wait_until(lambda: accepted(port, CONNECTIONS + 1), 10,
                               "nginx to accept the connections")
                    filler.close()  # its close (parked too) tells the agent what it lost
                finally:
                    running.process.send_signal(signal.SIGCONT)
                # The agent has drained the ring buffer once the filler's requests are
                # all reported or counted lost: the new requests then find room.
                wait_until(lambda: accounted(running) == FILLERS, 20, "the filler's requests")
                # One request at a time, each reported or counted before the next:
                # an 8 KiB ring buffer holds a few exchanges, and an agent slowed
                # by a busy machine must not lose these to a full ring buffer.
                ports = {}
                for trace, client in clients.items():
                    exchange(client, trace, "n")
                    ports[trace] = client.getsockname()[1]
                    wait_until(lambda: accounted(running) == FILLERS + len(ports), 20,
                               f"request {len(ports)} of the new connections")
                check(running, spans_path, ports)
            finally:
                for sock in sockets:
                    sock.close()
                nginx.terminate()
                nginx.wait(10)
    print("1 passed, 0 failed")


def accounted(running):
    """Requests of the route reported or counted as lost so far."""
    samples = running.samples()
    reported = sum(v for n, labels, v in samples
                   if n == "http_server_request_duration_seconds_count"
                   and labels.get("http_route") == ROUTE)
    return reported + sum(value(samples, "infrared_dropped_total", stage="conn_tracker",
                                reason=reason) or 0 for reason in LOSS_REASONS)


def accepted(port, connections):
    """Whether `connections` connections to `port` are established and none of them
    waits in the listening socket's accept queue (its rx_queue in /proc/net/tcp)."""
    established, waiting = 0, 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) != port:
                continue
            if fields[3] == "01":
                established += 1
            elif fields[3] == "0A":
                waiting += int(fields[4].split(":")[1], 16)
    return established >= connections and waiting == 0


def check(running, spans_path, ports):
    def ours():
        return {span["traceId"]: span for span in read_spans(spans_path)
                if span["traceId"] in ports}

    try:
        wait_until(lambda: len(ours()) == len(ports), 20, "a span for every new connection's request")
    except SystemExit:
        drops = {f"{labels['stage']}/{labels['reason']}": int(v)
                 for n, labels, v in running.samples() if n == "infrared_dropped_total" and v}
        fail(f"{len(ours())} of {len(ports)} requests reported; drops: {drops}")
    samples = running.samples()
    kernel = value(samples, "infrared_dropped_total", stage="kernel_sock",
                   reason="ringbuf_full") or 0
    if kernel == 0:
        # The fill did not reach the accepts: nothing was parked, nothing shown.
        fail("the ring buffer was never full: the test did not park any open")
    wrong = {trace: (span["attributes"].get("network.peer.port"), ports[trace])
             for trace, span in ours().items()
             if int(span["attributes"].get("network.peer.port", 0)) != ports[trace]}
    if wrong:
        fail(f"{len(wrong)} of {len(ports)} spans without their client's port "
             f"(span, client): {list(wrong.values())[:5]}")
    print(f"{len(ports)} connections accepted with the ring buffer full: every span carries "
          f"its client's port (the kernel dropped {kernel:.0f} events meanwhile)")


if __name__ == "__main__":
    main()
