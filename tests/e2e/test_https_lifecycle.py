"""HTTPS acceptance 2 and 4: clients started before and after the agent, and one
attachment for every process that shares libssl.so.3.

2. nginx and a Python httpx client start before the agent; the client makes one
   request, so its TLS connection is open and libssl.so.3 mapped, before the agent
   exists. Once the agent is ready the client makes REQUESTS more on that same
   connection, then REQUESTS on a new one; curl, started after the agent, makes
   REQUESTS. Each request has exactly one client span (url.scheme=https) and one nginx
   server span, and the request made before the agent has none. (nginx's spans are
   told by executable and port: see tls_peers.server_expect.)
4. curl and Python are two programs that map the same libssl.so.3 file (checked from
   /proc and ldd): both are captured while each libssl probe (SSL_write among them) has
   exactly one infrared_probe_attached series for libssl.so.3, at 1, and
   infrared_tls_libraries{kind="openssl"} counts at least that one file.
"""
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, find
from tls_peers import (Certificate, HttpxSession, NginxTls, client_expect, curl_client,
                       expect_capture, server_expect)

REQUESTS = 5
LIBSSL = "libssl.so.3"


def libssl_of_process(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and os.path.basename(fields[5]) == LIBSSL:
                return os.path.realpath(fields[5])
    fail(f"process {pid} has no {LIBSSL} mapped")


def libssl_of_program(path):
    result = subprocess.run(["ldd", path], capture_output=True, text=True, check=True)
    for line in result.stdout.splitlines():
        if line.strip().startswith(LIBSSL + " => "):
            return os.path.realpath(line.split("=>")[1].split()[0])
    fail(f"{path} does not link {LIBSSL}: {result.stdout}")


def check_one_attachment(samples, library):
    """Every probe on libssl.so.3 is one series at 1, whichever processes use it."""
    series = [s for s in find(samples, "infrared_probe_attached")
              if os.path.basename(s[1].get("library", "")) == LIBSSL]
    probes = [s[1]["probe"] for s in series]
    if "SSL_write" not in probes:
        fail(f"no infrared_probe_attached series for SSL_write on {LIBSSL}: {series}")
    if len(probes) != len(set(probes)) or any(s[2] != 1 for s in series):
        fail(f"{LIBSSL} ({library}) should have one attachment per probe, each at 1: {series}")
    libraries = find(samples, "infrared_tls_libraries", kind="openssl")
    if len(libraries) != 1 or libraries[0][2] < 1:
        fail(f"infrared_tls_libraries{{kind=\"openssl\"}} is {libraries}, not one series >= 1")
    print(f"{LIBSSL}: one attachment per probe {sorted(probes)}; "
          f"infrared_tls_libraries{{kind=\"openssl\"}} {libraries[0][2]:g}")


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        certificate = Certificate(os.path.join(directory, "tls"))
        sizes = {"/before.html": 700, "/kept.html": 800, "/fresh.html": 900, "/curl.html": 1000}
        with NginxTls(os.path.join(directory, "nginx"), certificate) as nginx, \
                HttpxSession() as session:
            for path, size in sizes.items():
                nginx.add_file(path[1:], size)
            session.get(nginx.url("/before.html"), sizes["/before.html"])
            library = libssl_of_process(session.process.pid)
            if libssl_of_program(agent.require_program("curl")) != library:
                fail(f"curl and python do not share one {LIBSSL}: the check means nothing")
            print(f"httpx client (pid {session.process.pid}) connected before the agent; "
                  f"it and curl map {library}")

            with Agent("--spans.output", spans_path) as running:
                for _ in range(REQUESTS):
                    session.get(nginx.url("/kept.html"), sizes["/kept.html"])
                session.reconnect()
                for _ in range(REQUESTS):
                    session.get(nginx.url("/fresh.html"), sizes["/fresh.html"])
                curl = curl_client()
                curl.run(REQUESTS, nginx.url("/curl.html"), sizes["/curl.html"])
                print(f"after the agent: httpx {REQUESTS} GETs on its old connection and "
                      f"{REQUESTS} on a new one; curl {REQUESTS} GETs; all answered 200")

                paths = {p: (REQUESTS, sizes[p]) for p in ("/kept.html", "/fresh.html")}
                expect_capture(running, spans_path, [
                    client_expect(session.client, nginx.port, paths),
                    client_expect(curl, nginx.port, {"/curl.html": (REQUESTS, sizes["/curl.html"])}),
                    server_expect(nginx, {p: (REQUESTS, sizes[p]) for p in sizes if p != "/before.html"},
                                  started_before_agent=True),
                ])
                check_one_attachment(running.samples(), library)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
