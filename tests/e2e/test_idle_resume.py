"""A keep-alive connection silent longer than http.connection_idle_seconds (1 s here) is
forgotten, and resumes as it was: this test's own process sends nginx a request, waits
4 s, then sends another on the same connection. Both ends of both exchanges keep the
connection's endpoints: with a Host header that names no port, the client's server_port
label and both spans' server.port are the port the connection went to (a connection
resumed without its endpoints would say 80), and the spans' network.peer.port the other
end's, for the second exchange as for the first. While silent, both ends of the
connection are among those infrared_idle_connections counts; once it resumes, they are
not."""
import os
import socket
import tempfile
import time

import agent
from agent import Agent, fail, value, wait_until
from http_peers import Nginx, histogram_counts, read_spans

IDLE_SECONDS = 1
SILENCE_SECONDS = 4  # the idle time, the agent's once-a-second sweep, and a margin
HOST = "idle-resume"


def exchange(sock, path):
    """Sends a GET of `path` and reads its whole response (nginx gives a Content-Length)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            fail("nginx closed the connection")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        fail(f"nginx answered {head[:40]!r}")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            fail("nginx closed the connection mid-body")
        body += chunk


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        nginx = Nginx(os.path.join(directory, "nginx"))
        with Agent("--http.connection-idle-seconds", str(IDLE_SECONDS),
                   "--spans.output", spans_path) as running, nginx:
            with socket.create_connection(("127.0.0.1", nginx.port)) as sock:
                client_port = sock.getsockname()[1]
                exchange(sock, "/index.html")
                time.sleep(SILENCE_SECONDS - 1)
                idle_while_silent = value(running.samples(), "infrared_idle_connections") or 0
                if idle_while_silent < 2:
                    fail(f"infrared_idle_connections was {idle_while_silent} while the "
                         "connection was silent, wanted both its ends (2 or more)")
                time.sleep(1)
                exchange(sock, "/index.html")
                # Both ends (the socket here and nginx's) resumed: both left the
                # remembered ones. Other connections on the host may come and go,
                # but two fewer must be seen once the agent has read the exchange.

                def idle_now():
                    return value(running.samples(), "infrared_idle_connections") or 0
                try:
                    wait_until(lambda: idle_now() <= idle_while_silent - 2, 10,
                               "both ends no longer idle")
                except SystemExit:
                    fail(f"infrared_idle_connections {idle_while_silent} while silent, "
                         f"{idle_now()} after the exchange; wanted 2 fewer")
            expected = {("GET", "200"): 2}

            def counts():
                samples = running.samples()
                return (histogram_counts(samples, "http_server_request_duration_seconds",
                                         service_name=nginx.service_name),
                        histogram_counts(samples, "http_client_request_duration_seconds",
                                         server_address=HOST, server_port=str(nginx.port)))
            try:
                wait_until(lambda: counts() == (expected, expected), 20,
                           "both exchanges, at both ends")
            except SystemExit:
                fail(f"counted (server, client) {counts()}, wanted {expected} each")

            def ports():
                """(server.port, network.peer.port) of the server spans, then the client's."""
                spans = [s for s in read_spans(spans_path)
                         if s["attributes"].get("server.address") == HOST]
                return tuple(sorted((s["attributes"].get("server.port"),
                                     s["attributes"].get("network.peer.port"))
                                    for s in spans if s["kind"] == kind)
                             for kind in ("SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"))
            wanted = ([(nginx.port, client_port)] * 2, [(nginx.port, nginx.port)] * 2)
            try:
                wait_until(lambda: ports() == wanted, 20, "the spans' ports")
            except SystemExit:
                fail(f"spans' (server.port, network.peer.port) (server, client) {ports()}, "
                     f"wanted {wanted}")
            print(f"resumed after {SILENCE_SECONDS} s silent (idle time {IDLE_SECONDS} s): "
                  f"both exchanges kept the connection's ports; {idle_while_silent:.0f} idle "
                  f"connections while silent")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
