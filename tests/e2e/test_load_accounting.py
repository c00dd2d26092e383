"""Loss accounting end to end: HTTP requests pushed past what the pipeline can take
are each either reported or counted as dropped, never both, never neither.

A copy of nginx (named so that only it is captured) serves GET /load-accounting?pad=...
with the pad as its body. Four client threads keep one connection each and send
requests one after another, each with its own traceparent and a body length of its
own. The agent runs with an 8 KiB payload ring buffer and is stopped (SIGSTOP) while a
third of the requests flow, so the kernel cannot deliver most of their events; then it
is stopped again for a last few requests after which the clients close their
connections, so that the closes, which carry the last losses, find the ring buffer full
too (the kernel parks them for the agent). After the connections close:

    sent == reported (http_server_request_duration_seconds_count)
            + infrared_dropped_total{stage="conn_tracker"} of request_lost,
              response_lost, exchange_lost, pending_overflow, connection_expired,
              request_untracked

and the kernel did drop (kernel_sock/ringbuf_full > 0). Every span reported carries
the body size of its own request's response (matched by trace id): no exchange after
a loss was paired with another's response.

A second run fills all but two of the agent's 64 places (`http.max_connections`) with
idle connections, then stops it before the four clients connect, so that it refuses
two of them only after the kernel lost most of their first requests to the full ring
buffer: those count as request_untracked too (from the loss counts their events and
closes carry), and the books still balance.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import agent
from agent import Agent, fail, value, wait_until
from http_peers import free_port, read_spans, wait_for_port

CONNECTIONS = 4
PER_PHASE = 250  # requests per connection in each of the first three phases
LAST_PHASE = 20  # requests per connection before it closes, the agent stopped
TABLE = 64  # http.max_connections in the second run: the least it allows
ROUTE = "/load-accounting"
LOSS_REASONS = ("request_lost", "response_lost", "exchange_lost", "pending_overflow",
                "connection_expired", "request_untracked")

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
  access_log off;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = {route} {{ default_type text/plain; return 200 $arg_pad; }}
  }}
}}
"""


def pad_of(index):
    return "p" * (1 + index % 97)


def read_body(sock):
    """The body of the next response on `sock` (framed by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("nginx closed the connection")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += sock.recv(65536)
    return body


class Client(threading.Thread):
    """One keep-alive connection; each request is one write, each response read whole."""

    def __init__(self, port, number):
        super().__init__(daemon=True)
        self.port = port
        self.number = number
        self.sent = {}  # trace id -> expected body size
        self.phases = [threading.Event() for _ in range(4)]
        self.done = [threading.Event() for _ in range(4)]
        self.error = None

    def request(self, sock, index):
        trace = uuid.uuid4().hex
        pad = pad_of(index)
        sock.sendall((f"GET {ROUTE}?pad={pad} HTTP/1.1\r\nHost: load\r\n"
                      f"traceparent: 00-{trace}-{'1' * 16}-01\r\n\r\n").encode())
        if read_body(sock) != pad.encode():
            raise RuntimeError("a response does not match its request")
        self.sent[trace] = len(pad)

    def run(self):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port))
            index = self.number * 100000
            for phase in range(4):
                self.phases[phase].wait()
                for _ in range(PER_PHASE if phase < 3 else LAST_PHASE):
                    self.request(sock, index)
                    index += 1
                if phase == 3:
                    sock.close()
                self.done[phase].set()
        except Exception as error:  # reported by the test
            self.error = error
            for event in self.done:
                event.set()


def run_phase(clients, phase):
    for client in clients:
        client.phases[phase].set()
    for client in clients:
        if not client.done[phase].wait(120):
            fail(f"the clients did not finish phase {phase + 1}")
        if client.error:
            fail(f"a client failed: {client.error}")


def main():
    agent.require_bpf()
    overload()
    refused_late()
    print("2 passed, 0 failed")


def books_balance(agent_flags, drive):
    """Runs the agent (with `agent_flags`) and the nginx copy, has `drive(running, port,
    clients)` make the clients' four phases, then checks the books."""
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        with Agent("--capture.executables", "infrared-load-nginx",
                   "--capture.events-buffer-bytes", "8192",
                   "--spans.output", spans_path, *agent_flags) as running:
            nginx, port = start_nginx_copy(directory, "infrared-load-nginx",
                                           worker_connections=TABLE + 16)
            try:
                wait_for_port(port)
                clients = [Client(port, number) for number in range(CONNECTIONS)]
                drive(running, port, clients)
                for client in clients:
                    client.join(30)
                sent = {trace: size for client in clients for trace, size in client.sent.items()}
                check(running, sent, spans_path)
            finally:
                nginx.terminate()
                nginx.wait(10)


@contextlib.contextmanager
def agent_stopped(running):
    running.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        running.process.send_signal(signal.SIGCONT)


def overload():
    def drive(running, port, clients):
        for client in clients:
            client.start()
        run_phase(clients, 0)
        with agent_stopped(running):
            run_phase(clients, 1)
        run_phase(clients, 2)
        with agent_stopped(running):  # the closes carry the last losses: the ring is full
            run_phase(clients, 3)

    books_balance([], drive)


def refused_late():
    def drive(running, port, clients):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(TABLE - 2)]
        try:
            wait_until(lambda: value(running.samples(), "infrared_tracked_connections")
                       == TABLE - 2, 20, "the idle connections tracked")
            with agent_stopped(running):  # they connect and send unheard
                for client in clients:
                    client.start()
                run_phase(clients, 0)
            for phase in (1, 2, 3):
                run_phase(clients, phase)
            if not value(running.samples(), "infrared_dropped_total",
                         stage="conn_tracker", reason="table_full"):
                fail("no connection was refused a place")
        finally:
            for sock in idle:
                sock.close()

    books_balance(["--http.max-connections", str(TABLE)], drive)


def start_nginx_copy(directory, name, worker_connections=64, certificate=None):
    """(process, port) of a copy of nginx named `name` (so that a capture selection can
    name it alone), serving ROUTE on a free port, with its files in `directory`; over
    TLS with `certificate` (a tls_peers.Certificate) if given."""
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)  # nginx's worker runs as nobody
    binary = os.path.join(directory, name)
    shutil.copy("/usr/sbin/nginx", binary)
    port = free_port()
    conf = os.path.join(directory, "nginx.conf")
    text = NGINX_CONF.format(dir=directory, port=port, route=ROUTE,
                             worker_connections=worker_connections)
    if certificate:
        plain = f"listen 127.0.0.1:{port};"
        text = text.replace(plain, f"listen 127.0.0.1:{port} ssl;\n"
                                   f"    ssl_certificate {certificate.cert};\n"
                                   f"    ssl_certificate_key {certificate.key};")
    with open(conf, "w") as f:
        f.write(text)
    process = subprocess.Popen([binary, "-p", directory, "-c", conf],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, port


def check(running, sent, spans_path):
    def books():
        samples = running.samples()
        reported = sum(v for n, labels, v in samples
                       if n == "http_server_request_duration_seconds_count"
                       and labels.get("http_route") == ROUTE)
        dropped = sum(value(samples, "infrared_dropped_total", stage="conn_tracker",
                            reason=reason) or 0 for reason in LOSS_REASONS)
        kernel = value(samples, "infrared_dropped_total", stage="kernel_sock",
                       reason="ringbuf_full") or 0
        return reported, dropped, kernel

    # The agent drains what the ring buffer held, then the closes tell the rest.
    try:
        wait_until(lambda: sum(books()[:2]) >= len(sent), 20, "every request accounted for")
    except SystemExit:
        pass
    time.sleep(0.5)  # anything late would show as an excess
    reported, dropped, kernel = books()
    by_reason = {f"{labels['stage']}/{labels['reason']}": int(v)
                 for n, labels, v in running.samples() if n == "infrared_dropped_total" and v}
    print(f"drops: {by_reason}")
    print(f"sent {len(sent)} requests; reported {reported:.0f}, counted as dropped "
          f"{dropped:.0f}; the kernel could not deliver {kernel:.0f} events")
    if kernel == 0:
        fail("the ring buffer never overflowed: the test did not push past the limits")
    if dropped == 0:
        fail("events were lost but no exchange was counted as dropped")
    if reported + dropped != len(sent):
        fail(f"sent {len(sent)} != reported {reported:.0f} + dropped {dropped:.0f}")

    spans = [span for span in read_spans(spans_path)
             if span.get("attributes", {}).get("http.route") == ROUTE]
    seen = set()
    for span in spans:
        trace = span["traceId"]
        if trace not in sent:
            fail(f"a span with a trace id no request carried: {trace}")
        if trace in seen:
            fail(f"two spans for one request: {trace}")
        seen.add(trace)
        size = span["attributes"].get("http.response.body.size")
        if int(size) != sent[trace]:
            fail(f"request {trace} was paired with another's response "
                 f"(body {size}, its own {sent[trace]})")
    if len(spans) != reported:
        fail(f"{len(spans)} spans but {reported:.0f} requests reported")
    print(f"{len(spans)} spans, each with its own response")


if __name__ == "__main__":
    main()
