"""HTTPS acceptance 1 and 3: every client unmodified, against local TLS servers.

1. nginx (self-signed certificate, HTTP/1.1) serves a file of its own to each of
   curl, Python httpx, node's https module, node's fetch and a Go net/http program,
   each started after the agent and making REQUESTS GETs on one keep-alive
   connection. Each client has exactly REQUESTS client spans (GET, its path, 200,
   url.scheme=https, the file's size) and nginx has exactly that many server spans
   for each path; the duration histograms count the same.
   `openssl s_server -WWW` (HTTP/1.0, one connection per request) serves curl:
   REQUESTS client spans. s_server's own side is not required: -WWW reads and writes
   through an SSL BIO, which calls libssl's internal ssl_read_internal and
   ssl_write_internal, so the exported SSL_read/SSL_write(_ex) never run in s_server
   (bpftrace shows no hit). If server spans do appear, they must be exactly right.
   A Go binary is static: the agent attaches to it when its first process execs,
   which a program doing TLS within milliseconds of starting outruns. So the Go
   client runs once first (against a closed port), and the test waits for the
   agent to report the binary probed; every later process of it is covered.
3. The ciphertext on these sockets never reaches the HTTP parser: the kernel
   counts their calls as not copied (tls_ciphertext), no connection is found not to
   be HTTP and the parsers skip no byte. The agent captures only the test's
   programs, so that other traffic on the host does not count.
"""
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, wait_until
from http_peers import free_port, read_spans
from tls_peers import (Certificate, NginxTls, OpenSslServer, all_clients, build_go_client,
                       check_ciphertext_never_parsed, client_expect, curl_client, expect_capture,
                       server_expect)

REQUESTS = 6


def nginx_clients(nginx, clients):
    """Each client fetches its own file, of its own size; returns the expectations."""
    expectations = []
    served = {}
    for i, client in enumerate(clients):
        path, size = f"/{client.name}.html", 1000 + 100 * i
        nginx.add_file(path[1:], size)
        client.run(REQUESTS, nginx.url(path), size)
        print(f"{client.name}: {REQUESTS} GETs of {path} answered 200 with {size} bytes")
        expectations.append(client_expect(client, nginx.port, {path: (REQUESTS, size)}))
        served[path] = (REQUESTS, size)
    return expectations + [server_expect(nginx, served)]


def s_server_client(s_server):
    path, size = "/s_server.html", 2345
    s_server.add_file(path[1:], size)
    client = curl_client()
    responses = client.run(REQUESTS, s_server.url(path), size)
    print(f"curl: {REQUESTS} GETs of {path} from openssl s_server answered 200 with {size} "
          f"bytes on {sum(r.connects for r in responses)} connections")
    return (client_expect(client, s_server.port, {path: (REQUESTS, size)}),
            server_expect(s_server, {path: (REQUESTS, size)}))


def check_s_server_side(spans_path, expectation):
    spans = expectation.select(read_spans(spans_path))
    if not spans:
        print(f"{expectation.what}: no server spans (its SSL BIO bypasses SSL_read/SSL_write)")
        return
    problems = expectation.problems(spans)
    if problems:
        fail("; ".join(problems))
    print(f"{expectation.what}: {len(spans)} server spans, all as sent")


def probe_go_binary(running, go_binary):
    """Runs the Go client once, failing to connect, and waits until the agent has
    attached to the binary."""
    subprocess.run([go_binary, "1", f"https://127.0.0.1:{free_port()}/"],
                   capture_output=True, check=False)
    name = os.path.basename(go_binary)

    def attached():
        return any(labels.get("library") == name and labels.get("probe") ==
                   "crypto/tls.(*Conn).Write" and value == 1
                   for family, labels, value in running.samples()
                   if family == "infrared_probe_attached")
    wait_until(attached, 10, f"the agent to probe the Go binary {name}")
    print(f"go: {name} probed after its first run")


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        certificate = Certificate(os.path.join(directory, "tls"))
        go_binary = build_go_client(directory)
        clients = all_clients(go_binary)
        selection = ["curl", "python3", "node", os.path.basename(go_binary), "nginx", "openssl"]
        with Agent("--spans.output", spans_path,
                   *[arg for name in selection for arg in ("--capture.executables", name)]) as running, \
                NginxTls(os.path.join(directory, "nginx"), certificate) as nginx, \
                OpenSslServer(os.path.join(directory, "s_server"), certificate) as s_server:
            probe_go_binary(running, go_binary)
            before = running.samples()
            expectations = nginx_clients(nginx, clients)
            s_server_curl, s_server_side = s_server_client(s_server)
            expect_capture(running, spans_path, expectations + [s_server_curl])
            check_s_server_side(spans_path, s_server_side)
            check_ciphertext_never_parsed(before, running.samples())
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
