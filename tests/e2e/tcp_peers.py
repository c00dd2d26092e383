"""TCP peers for end-to-end tests of the agent's TCP telemetry, and the label filters
of its metrics.

Peers are Python processes with an OTEL_SERVICE_NAME of their own, so each test (and
each run of it) finds its series among every other process on the host. A peer stays
alive after its work until close(), so the agent can still read its /proc entry.
"""
import contextlib
import json
import os
import queue
import subprocess
import threading
import time

import agent
from agent import Agent, fail

PYTHON = "/usr/bin/python3"
AGENT_ARGS = ()  # what the agent needs to export TCP telemetry, if anything
PEER_TIMEOUT = 30
LOOPBACKS = (("127.0.0.1", 4), ("::1", 6))  # (host, IP version)

# The label each role filters by, one dict per metric: when the agent's label names
# change, only these change.
_PROCESS = {"service": "service_name", "executable": "process_executable_name"}
_PEER = {**_PROCESS, "address": "server_address", "port": "server_port"}
_DIRECTED = {**_PEER, "direction": "direction"}
LABELS = {
    "tcp_connect_duration_seconds": {**_PEER, "outcome": "outcome"},
    "tcp_connections_opened_total": _DIRECTED,
    "tcp_connections_active": _DIRECTED,
    "tcp_bytes_sent_total": _DIRECTED,
    "tcp_bytes_received_total": _DIRECTED,
    "tcp_retransmits_total": _DIRECTED,
    "tcp_resets_total": _DIRECTED,
    "tcp_rtt_seconds": _DIRECTED,
    "tcp_connection_duration_seconds": _DIRECTED,
}

# serve HOST CONNECTIONS REPLY: listens on a port the kernel picks and prints it; for
# each connection reads to EOF, sends REPLY bytes and closes; then prints
# {"received": [...]}.
# connect HOST PORT TIMES SEND EXPECT: TIMES connections, each sending SEND bytes,
# half-closing and reading to EOF (EXPECT bytes, or exit 1); prints
# {"connect_seconds": [...], "rtt_us": [...], "retransmits": [...]} from the
# client's clock and the kernel's TCP_INFO.
# refuse HOST PORT TIMES: TIMES connects that must be refused; prints {"refused": n}.
PEER = r"""
import json, socket, struct, sys, time

def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def drain(sock):
    total = 0
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return total
        total += len(chunk)

def serve(host, connections, reply):
    listener = socket.socket(family(host))
    listener.bind((host, 0))
    listener.listen(128)
    print(listener.getsockname()[1], flush=True)
    received = []
    for _ in range(connections):
        conn, _ = listener.accept()
        received.append(drain(conn))
        conn.sendall(b"r" * reply)
        conn.close()
    return {"received": received}

def connect(host, port, times, send, expect):
    result = {"connect_seconds": [], "rtt_us": [], "retransmits": []}
    for _ in range(times):
        sock = socket.socket(family(host))
        start = time.monotonic()
        sock.connect((host, port))
        result["connect_seconds"].append(time.monotonic() - start)
        sock.sendall(b"s" * send)
        sock.shutdown(socket.SHUT_WR)
        received = drain(sock)
        if received != expect:
            sys.exit(f"received {received} bytes, expected {expect}")
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        result["rtt_us"].append(struct.unpack_from("I", info, 68)[0])  # tcpi_rtt
        result["retransmits"].append(struct.unpack_from("I", info, 100)[0])  # tcpi_total_retrans
        sock.close()
    return result

def refuse(host, port, times):
    refused = 0
    for _ in range(times):
        sock = socket.socket(family(host))
        try:
            sock.connect((host, port))
        except ConnectionRefusedError:
            refused += 1
        sock.close()
    return {"refused": refused}

mode, host, numbers = sys.argv[1], sys.argv[2], [int(a) for a in sys.argv[3:]]
result = {"serve": serve, "connect": connect, "refuse": refuse}[mode](host, *numbers)
print(json.dumps(result), flush=True)
sys.stdin.read()
"""


def service(test, role):
    """A service name no other test or run shares."""
    return f"infr-{test}-{role}-{os.getpid()}"


class Peer:
    """PEER in one mode, as service. run starts it: subprocess.Popen, or a relay's
    run_in bound to a namespace."""

    def __init__(self, service_name, mode, host, *numbers, run=subprocess.Popen):
        self.service = service_name
        self.lines = queue.Queue()
        env = dict(os.environ, OTEL_SERVICE_NAME=service_name)
        self.process = run([PYTHON, "-c", PEER, mode, host, *map(str, numbers)], env=env,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def line(self, timeout=PEER_TIMEOUT):
        """The next line the peer prints, or a failure if it ends or takes too long."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            self.close()
            fail(f"the peer {self.service} printed nothing more (exit status {self.process.poll()})")
        return line

    def result(self, timeout=PEER_TIMEOUT):
        return json.loads(self.line(timeout))

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Server(Peer):
    """serve mode; port is the one it listens on."""

    def __init__(self, service_name, host, connections, reply=0, run=subprocess.Popen):
        super().__init__(service_name, "serve", host, connections, reply, run=run)
        self.port = int(self.line())


def _series(samples, metric, suffix, roles):
    names = LABELS[metric]
    wanted = {names[role]: str(value) for role, value in roles.items()}
    return [s for s in samples
            if s[0] == metric + suffix and all(s[1].get(k) == v for k, v in wanted.items())]


def total(samples, metric, **roles):
    """The sum of a counter's or gauge's series whose labels match roles; 0 if none."""
    return sum(s[2] for s in _series(samples, metric, "", roles))


def histogram(samples, metric, **roles):
    """(count, sum) of a histogram over its series whose labels match roles."""
    return (sum(s[2] for s in _series(samples, metric, "_count", roles)),
            sum(s[2] for s in _series(samples, metric, "_sum", roles)))


def await_agent(running, read, done, what, timeout=20):
    """read(samples) of every scrape until done(value) holds; the value, or a failure
    saying what was expected and what the agent last reported."""
    deadline = time.monotonic() + timeout
    while True:
        value = read(running.samples())
        if done(value):
            return value
        if time.monotonic() > deadline:
            fail(f"after {timeout}s the agent reports {value!r} for {what}")
        time.sleep(0.1)


def milliseconds(seconds):
    return " ".join(f"{s * 1000:.1f}" for s in seconds)


def loopback_test(run, read, what):
    """A whole test on IPv4 and IPv6 loopback under one agent. run(peers, host,
    version) makes its traffic, entering its peers and sockets into the ExitStack
    peers, and returns {key: value} the agent should report; read(samples, *key) is
    what the agent reports for a key. Passes when all match exactly."""
    agent.require_bpf()
    with Agent(*AGENT_ARGS) as running, contextlib.ExitStack() as peers:
        expected = {}
        for host, version in LOOPBACKS:
            expected.update(run(peers, host, version))
        await_agent(running, lambda samples: {key: read(samples, *key) for key in expected},
                    lambda found: found == expected, f"{what}, wanted {expected}")
    print(f"the agent reports {what} exactly on IPv4 and IPv6")
    print("1 passed, 0 failed")
