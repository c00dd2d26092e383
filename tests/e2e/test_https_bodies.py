"""HTTPS acceptance 5: chunked and keep-alive responses, and a 5 MiB download, over
TLS to nginx.

Before the agent starts, the test checks nginx's framing itself: /chunked/* comes
with Transfer-Encoding: chunked and no Content-Length, plain files with
Content-Length.

- Chunked: httpx fetches a 200,000-byte chunked text REQUESTS times on one
  connection; each client span and nginx server span has body size 200,000 (decoded).
- Keep-alive: one curl process fetches a plain page and a chunked text in turn,
  2 * REQUESTS requests on one connection (curl reports one connect): one client span
  per request with that request's path and size, and nginx's spans for them all
  come from one client port.
- 5 MiB: curl and httpx each download a 5 MiB file once: status 200 and
  http.response.body.size exactly 5 MiB on both ends.
"""
import http.client
import os
import ssl
import tempfile

import agent
from agent import Agent, fail
from tls_peers import (Certificate, NginxTls, client_expect, curl_argv, curl_client,
                       expect_capture, httpx_client, server_expect)

REQUESTS = 4
CHUNKED = ("/chunked/text.txt", 200_000)
KEEPALIVE_PAGE = ("/page.html", 1500)
KEEPALIVE_CHUNKED = ("/chunked/keepalive.txt", 50_000)
BIG = ("/big.bin", 5 << 20)
KEEPALIVE_PATHS = {KEEPALIVE_PAGE[0]: (REQUESTS, KEEPALIVE_PAGE[1]),
                   KEEPALIVE_CHUNKED[0]: (REQUESTS, KEEPALIVE_CHUNKED[1])}


def check_framing(nginx):
    """What nginx itself sends, read before the agent runs (so no span comes of it)."""
    context = ssl._create_unverified_context()  # the certificate is self-signed
    connection = http.client.HTTPSConnection("127.0.0.1", nginx.port, context=context)
    for (path, size), chunked in ((CHUNKED, True), (KEEPALIVE_CHUNKED, True),
                                  (KEEPALIVE_PAGE, False), (BIG, False)):
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        framing = (response.version, response.status, response.getheader("Transfer-Encoding"),
                   response.getheader("Content-Length"), len(body))
        wanted = (11, 200, "chunked" if chunked else None, None if chunked else str(size), size)
        if framing != wanted:
            fail(f"nginx answered {path} with (version, status, Transfer-Encoding, "
                 f"Content-Length, bytes) {framing}, not {wanted}")
    connection.close()
    print(f"nginx over TLS: {CHUNKED[0]} and {KEEPALIVE_CHUNKED[0]} chunked, "
          f"{KEEPALIVE_PAGE[0]} and {BIG[0]} with Content-Length")


def keep_alive(nginx):
    """Page and chunked text in turn on one curl connection."""
    client = curl_client()
    steps = [KEEPALIVE_PAGE, KEEPALIVE_CHUNKED] * REQUESTS
    responses = client.run_argv(curl_argv([nginx.url(path) for path, _ in steps]),
                                [(200, size) for _, size in steps])
    connects = sum(r.connects for r in responses)
    if connects != 1:
        fail(f"curl opened {connects} connections for {len(steps)} requests, not one")
    print(f"curl: {len(steps)} GETs on one connection, page and chunked text in turn")
    return client


def check_one_connection(spans):
    ports = {s["attributes"].get("network.peer.port") for s in spans}
    if len(ports) != 1:
        fail(f"nginx's spans of the keep-alive requests come from client ports {ports}, not one")
    print(f"nginx's {len(spans)} keep-alive spans all come from client port {ports.pop()}")


def run_clients(nginx):
    """The three cases, each client unmodified; returns what their spans must be."""
    chunked = httpx_client()
    chunked.run(REQUESTS, nginx.url(CHUNKED[0]), CHUNKED[1])
    print(f"httpx: {REQUESTS} GETs of {CHUNKED[0]}, {CHUNKED[1]} bytes decoded each")
    curl = keep_alive(nginx)
    big_curl, big_httpx = curl_client(), httpx_client()
    for client in (big_curl, big_httpx):
        client.run(1, nginx.url(BIG[0]), BIG[1])
    print(f"curl and httpx: {BIG[0]} downloaded, {BIG[1]} bytes each")
    return [
        client_expect(chunked, nginx.port, {CHUNKED[0]: (REQUESTS, CHUNKED[1])}),
        client_expect(curl, nginx.port, KEEPALIVE_PATHS),
        client_expect(big_curl, nginx.port, {BIG[0]: (1, BIG[1])}),
        client_expect(big_httpx, nginx.port, {BIG[0]: (1, BIG[1])}),
        server_expect(nginx, dict(KEEPALIVE_PATHS, **{CHUNKED[0]: (REQUESTS, CHUNKED[1]),
                                                       BIG[0]: (2, BIG[1])})),
    ]


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        nginx = NginxTls(os.path.join(directory, "nginx"),
                         Certificate(os.path.join(directory, "tls")))
        for path, size in (CHUNKED, KEEPALIVE_CHUNKED):
            nginx.add_text_file(os.path.basename(path), size)
        for path, size in (KEEPALIVE_PAGE, BIG):
            nginx.add_file(path[1:], size)
        with nginx:
            check_framing(nginx)
        # Started again after the agent, so the agent sees its OTEL_SERVICE_NAME.
        with Agent("--spans.output", spans_path) as running, nginx:
            found = expect_capture(running, spans_path, run_clients(nginx))
            check_one_connection([s for s in found[-1]
                                  if s["attributes"]["url.path"] in KEEPALIVE_PATHS])
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
