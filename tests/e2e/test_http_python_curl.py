"""HTTP/1.x acceptance 2: Python's http.server (HTTP/1.0, one connection per
request) as the server and curl as the client. 20 requests for a file and 5 for a
missing path: both ends are counted exactly, and the spans carry the semantic
convention attributes."""
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, wait_until
from http_peers import PythonHttpServer, histogram_counts, read_spans

# Of this run alone, so that the series it names can only be this server's.
SERVER_SERVICE = f"infrared-e2e-httpserver-{os.getpid()}"


def main():
    agent.require_bpf()
    curl = agent.require_program("curl")
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        www = os.path.join(directory, "www")
        os.makedirs(www)
        os.environ["OTEL_SERVICE_NAME"] = SERVER_SERVICE  # inherited by the server only
        server = PythonHttpServer(www)
        with Agent("--spans.output", spans_path) as running, server:
            del os.environ["OTEL_SERVICE_NAME"]
            for path, times in (("/index.html", 20), ("/missing/7", 5)):
                for _ in range(times):
                    subprocess.run([curl, "-s", "-o", "/dev/null", "-A", "infrared-e2e",
                                    f"http://127.0.0.1:{server.port}{path}"], check=True)
            expected = {("GET", "200"): 20, ("GET", "404"): 5}

            def counts():
                samples = running.samples()
                return (histogram_counts(samples, "http_server_request_duration_seconds",
                                         service_name=SERVER_SERVICE),
                        histogram_counts(samples, "http_client_request_duration_seconds",
                                         process_executable_name="curl",
                                         server_port=str(server.port)))
            try:
                wait_until(lambda: counts() == (expected, expected), 20, "exact counts")
            except SystemExit:
                fail(f"sent {expected}, counted (server, client) {counts()}")
            print(f"http.server and curl counted exactly: {expected}")

            spans = [s for s in read_spans(spans_path)
                     if s["resource"].get("service.name") in (SERVER_SERVICE, "curl")
                     and s["attributes"].get("server.port") == server.port]
            servers = [s for s in spans if s["kind"] == "SPAN_KIND_SERVER"]
            missing = [s for s in servers if s["attributes"]["url.path"] == "/missing/7"]
            if len(servers) != 25 or len(missing) != 5:
                fail(f"{len(servers)} server spans, {len(missing)} for /missing/7")
            span = missing[0]
            want = {"http.request.method": "GET", "http.route": "/missing/{id}",
                    "http.response.status_code": 404, "network.protocol.version": "1.1",
                    "server.address": "127.0.0.1", "client.address": "127.0.0.1"}
            got = {k: span["attributes"].get(k) for k in want}
            if got != want or span["name"] != "GET /missing/{id}":
                fail(f"server span {span['name']} {got}, wanted {want}")
            if span["resource"]["process.pid"] != server.process.pid:
                fail(f"server span resource {span['resource']}")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
