"""Loss accounting past the connection table (http.max_connections at 64, its smallest):
connections refused a place (conn_tracker/table_full) are not copied, and the kernel,
told so, counts each request their calls begin, which the agent reads after each drain
as conn_tracker/request_untracked. A copy of nginx (named so that only it is captured)
serves ROUTE; after ROUNDS requests on every connection and the closes:

    sent == reported (http_server_request_duration_seconds_count)
            + infrared_dropped_total{stage="conn_tracker"} of request_untracked,
              request_lost, response_lost, exchange_lost, pending_overflow,
              connection_expired

- Plain HTTP, 96 keep-alive connections opened at once: the agent parses the first
  64 and refuses 32 before any request flows. With the ring buffer never full, the split
  is exact: the 64 connections' requests reported, the 32's counted as untracked, and
  their reads and writes counted as not copied (skipped_calls{reason="table_full"}).
- TLS (the plaintext from the libssl uprobes), 80 connections opened at once, so that
  the agent refuses the last 16 sockets before their first byte, then each given its
  handshake and first request in turn: a socket gives its place up once the kernel sees
  TLS records on it (sock_tls_socket events), and a stream takes one when it first
  carries data, so the first 64 streams are parsed and the last 16 refused: exactly so
  when the ring buffer never filled. The kernel judges the refused sockets by their
  first bytes all the same: one notice for each of the 80.
- Go's crypto/tls, a client: with the table full of idle connections, every request of
  a Go program that exits without closing its connection is counted as untracked."""
import contextlib
import os
import socket
import ssl
import tempfile
import time

import agent
from agent import Agent, fail, find, value, wait_until
from http_peers import wait_for_port
from test_load_accounting import ROUTE, pad_of, read_body, start_nginx_copy
from tls_peers import Certificate, HttpsClient, NginxTls, build_go_client

TABLE = 64
PLAIN_CONNECTIONS = 96
TLS_CONNECTIONS = 80
ROUNDS = 10
GO_REQUESTS = 2000
NAME = "infrared-table-nginx"
LOSS_REASONS = ("request_untracked", "request_lost", "response_lost", "exchange_lost",
                "pending_overflow", "connection_expired")


def request(sock, index):
    pad = pad_of(index)
    sock.sendall(f"GET {ROUTE}?pad={pad} HTTP/1.1\r\nHost: table\r\n\r\n".encode())
    if read_body(sock) != pad.encode():
        fail("a response does not match its request")


def finish(socks, rounds, index):
    """Sends `rounds` requests on each socket in turn, numbered from `index`, then closes
    them all; the number of the next request."""
    for _ in range(rounds):
        for sock in socks:
            request(sock, index)
            index += 1
    for sock in socks:
        sock.close()
    return index


@contextlib.contextmanager
def nginx_copy(directory, certificate=None):
    """The port of a copy of nginx named NAME serving ROUTE, while in the block."""
    nginx, port = start_nginx_copy(directory, NAME, worker_connections=512,
                                   certificate=certificate)
    try:
        wait_for_port(port)
        yield port
    finally:
        nginx.terminate()
        nginx.wait(10)


def drops(samples, reason):
    return value(samples, "infrared_dropped_total", stage="conn_tracker", reason=reason) or 0


def uncopied(samples):
    return value(samples, "infrared_capture_skipped_calls_total", reason="table_full") or 0


def notices_of(samples):
    """Connections the kernel found to carry TLS records."""
    return value(samples, "infrared_events_total", source="sock_tls_socket") or 0


def served(samples):
    """Requests the nginx copies reported serving."""
    return sum(v for n, labels, v in samples
               if n == "http_server_request_duration_seconds_count"
               and labels.get("http_route") == ROUTE)


def books(samples, reported_of):
    """(requests reported, {reason: count}, kernel ring-buffer drops) of a scrape."""
    reported = reported_of(samples)
    dropped = {reason: drops(samples, reason) for reason in LOSS_REASONS + ("table_full",)}
    kernel = value(samples, "infrared_dropped_total", stage="kernel_sock",
                   reason="ringbuf_full") or 0
    return reported, dropped, kernel


def settle(running, before, sent, reported_of=served):
    """(reported, {reason: count}, kernel drops, calls not copied) since `before`, once
    every request is accounted for (or 20 s passed); `reported_of(samples)` counts the
    requests reported."""
    def since():
        samples = running.samples()
        reported, dropped, kernel = books(samples, reported_of)
        reported0, dropped0, kernel0 = books(before, reported_of)
        return (reported - reported0, {r: dropped[r] - dropped0[r] for r in dropped},
                kernel - kernel0, uncopied(samples) - uncopied(before))

    def counted():
        reported, dropped, _, _ = since()
        return reported + sum(dropped[reason] for reason in LOSS_REASONS)

    try:
        wait_until(lambda: counted() >= sent, 20, "every request accounted for")
    except SystemExit:
        pass
    time.sleep(0.5)  # anything late would show as an excess
    reported, dropped, kernel, calls = since()
    print(f"sent {sent}; reported {reported:.0f}; "
          f"dropped {({r: int(v) for r, v in dropped.items() if v})}; "
          f"kernel ringbuf_full {kernel:.0f}; calls not copied {calls:.0f}")
    counted_dropped = sum(dropped[reason] for reason in LOSS_REASONS)
    if reported + counted_dropped != sent:
        fail(f"sent {sent} != reported {reported:.0f} + dropped {counted_dropped:.0f}")
    return reported, dropped, kernel, calls


def plain(running, directory):
    refused = PLAIN_CONNECTIONS - TABLE
    with nginx_copy(directory) as port:
        before = running.samples()
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(PLAIN_CONNECTIONS)]
        # The agent refuses the last opens before any request flows, so that the kernel,
        # not the agent, counts every request of the refused connections.
        wait_until(lambda: drops(running.samples(), "table_full") - drops(before, "table_full")
                   >= refused, 20, f"{refused} connections refused a place in the table")
        sent = finish(socks, ROUNDS, 0)
        reported, dropped, kernel, calls = settle(running, before, sent)
    if dropped["table_full"] < refused:
        fail(f"only {dropped['table_full']:.0f} table_full drops for {refused} refused connections")
    # nginx reads each request and writes its response: two calls at least.
    if calls < 2 * refused * ROUNDS:
        fail(f"{calls:.0f} calls of refused connections went uncopied, fewer than their "
             f"{2 * refused * ROUNDS} reads and writes")
    if kernel == 0:  # nothing lost on the way: the split is exact
        if reported != TABLE * ROUNDS:
            fail(f"{reported:.0f} requests reported, not the {TABLE * ROUNDS} of the "
                 f"{TABLE} tracked connections")
        if dropped["request_untracked"] != refused * ROUNDS:
            fail(f"{dropped['request_untracked']:.0f} requests counted as untracked, not the "
                 f"{refused * ROUNDS} of the {refused} refused connections")
    print(f"plain: {PLAIN_CONNECTIONS} connections, {TABLE} parsed, {refused} refused")


def tls(running, directory):
    certificate = Certificate(os.path.join(directory, "cert"))
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with nginx_copy(os.path.join(directory, "nginx"), certificate) as port:
        wait_until(lambda: any(v >= 1 for _, _, v in find(running.samples(),
                                                          "infrared_tls_libraries",
                                                          kind="openssl")),
                   20, "the agent's probes on libssl")
        before = running.samples()
        refused = TLS_CONNECTIONS - TABLE
        plain_socks = [socket.create_connection(("127.0.0.1", port))
                       for _ in range(TLS_CONNECTIONS)]
        wait_until(lambda: drops(running.samples(), "table_full") - drops(before, "table_full")
                   >= refused, 20, f"{refused} sockets refused a place before their first byte")
        socks = []
        for index, sock in enumerate(plain_socks):
            socks.append(context.wrap_socket(sock))
            request(socks[-1], index)
        sent = finish(socks, ROUNDS - 1, TLS_CONNECTIONS)
        reported, dropped, kernel, calls = settle(running, before, sent)
        notices = notices_of(running.samples()) - notices_of(before)
    untracked = dropped["request_untracked"]
    if calls == 0:
        fail("no TLS library call of a refused stream was counted as not copied")
    walks = (value(running.samples(), "infrared_tls_stream_walks_total") or 0)
    if walks:
        fail(f"the agent walked the TLS stream map {walks:g} times: the kernel's index of "
             f"streams should have found the refused ones")
    if kernel == 0 and notices != TLS_CONNECTIONS:
        fail(f"{notices:g} sockets found to carry TLS, not all {TLS_CONNECTIONS}: the kernel "
             f"did not judge the sockets refused before their first byte")
    if kernel == 0 and (reported != TABLE * ROUNDS or untracked != refused * ROUNDS):
        fail(f"{TLS_CONNECTIONS} TLS connections on a table of {TABLE}: expected "
             f"{TABLE * ROUNDS} requests reported and {refused * ROUNDS} untracked, got "
             f"{reported:.0f} and {untracked:.0f}")
    if reported == 0 or untracked == 0:
        fail(f"expected some requests reported and some untracked: {reported:.0f}, "
             f"{untracked:.0f}")
    print(f"TLS: {TLS_CONNECTIONS} connections, {reported / ROUNDS:.0f} parsed, "
          f"{untracked / ROUNDS:.0f} refused")


def go(running, directory):
    """A Go client's requests while the table is full of idle connections: its socket
    and its TLS stream are refused, and every request is counted, though the client
    exits without closing its connection."""
    go_binary = build_go_client(directory)
    certificate = Certificate(os.path.join(directory, "cert"))
    with nginx_copy(os.path.join(directory, "idle")) as port, \
            NginxTls(os.path.join(directory, "server"), certificate) as server:
        server.add_file("go.html", 100)
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(TABLE)]
        wait_until(lambda: (value(running.samples(), "infrared_tracked_connections") or 0)
                   >= TABLE, 20, f"{TABLE} idle connections tracked")
        client = HttpsClient("go", lambda count, url: [go_binary, str(count), url])
        # A first run has the agent attach to the new executable (the calls a program
        # makes before that are not seen: see the README's TLS limits); the counted
        # run comes after, covered from its first call.
        client.run(1, server.url("/go.html"), 100)
        wait_until(lambda: any(v >= 1 for _, _, v in find(running.samples(),
                                                          "infrared_tls_libraries", kind="go")),
                   20, "the agent's probes on the Go client")
        time.sleep(0.5)  # the first run's request, counted or not, before the books open
        before = running.samples()
        client.run(GO_REQUESTS, server.url("/go.html"), 100)

        def reported_of(samples):
            return sum(v for n, labels, v in samples
                       if n == "http_client_request_duration_seconds_count"
                       and labels.get("service_name") == client.service)

        reported, dropped, kernel, calls = settle(running, before, GO_REQUESTS, reported_of)
        for sock in idle:
            sock.close()
    if reported != 0 or dropped["request_untracked"] != GO_REQUESTS:
        fail(f"the Go client's {GO_REQUESTS} requests on a refused stream: {reported:.0f} "
             f"reported and {dropped['request_untracked']:.0f} untracked, not 0 and all")
    # Every request is a write and a read: had the kernel copied them all (never told
    # to count instead), each would have been refused again, twice.
    if dropped["table_full"] >= 2 * GO_REQUESTS:
        fail(f"{dropped['table_full']:.0f} table_full drops: the kernel went on copying the "
             f"refused stream's calls instead of counting them")
    print(f"Go: {GO_REQUESTS} requests, all counted as untracked; "
          f"{dropped['table_full']:.0f} records refused before the kernel was told")


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory, \
            Agent("--capture.executables", f"{NAME},go-https-client",
                  "--http.max-connections", str(TABLE)) as running:
        os.chmod(directory, 0o755)  # nginx's worker runs as nobody and reads files below
        for part in ("plain", "tls", "go"):
            os.makedirs(os.path.join(directory, part))
        plain(running, os.path.join(directory, "plain"))
        tls(running, os.path.join(directory, "tls"))
        go(running, os.path.join(directory, "go"))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
