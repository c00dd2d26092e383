"""HTTP/1.x acceptance against nginx (Debian), with the agent watching both ends.

1. A client sends exactly 500 GETs on one keep-alive connection (400 for a static
   file, 100 to a `return 500` location), 25 chunked POSTs and 25 HEADs on it, and
   200 GETs each with Connection: close. The agent's server-side (nginx) and
   client-side counts per method and status equal exactly what was sent, and every
   span's duration lies within what the client measured itself for that request
   (matched by the trace id the client sent in traceparent).
3. Five requests pipelined in one write on one connection are each matched to the
   right response, on both ends. (Not with a 500: nginx closes the connection
   after one, and the agent then rightly reports the rest as unanswered.)
4. A 10 MiB response (sent by nginx with sendfile, far beyond the capture limit)
   is one span with status 200 and the right body size, and the agent's memory
   does not grow with it.
"""
import json
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, wait_until
from http_peers import Nginx, histogram_counts, read_spans, span_seconds

CLIENT = os.path.join(agent.HERE, "http_client.py")
# The programs run under names of their own (symlinks), and only they are captured:
# ctest runs tests side by side, and the drops counted here must be this test's.
NAMES = {"nginx": "ir-http-nginx", "python3": "ir-http-python", "curl": "ir-http-curl"}
PROGRAMS = {}  # name -> the symlink's path, made by main()
SERVICE = "infrared-e2e-client"
# Timestamps are taken at syscall exits, inside the window the client measures;
# this slack covers reading clocks at slightly different moments.
SLACK_SECONDS = 0.0005


def run_client(plan):
    env = dict(os.environ, OTEL_SERVICE_NAME=SERVICE)
    result = subprocess.run([PROGRAMS["python3"], CLIENT], input=json.dumps(plan), env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        fail(f"the HTTP client failed: {result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines()]


def spans_by_trace(spans_path, kind):
    found = {}
    for span in read_spans(spans_path):
        if span["kind"] == kind:
            found.setdefault(span["traceId"], []).append(span)
    return found


def expect_counts(running, nginx, expected):
    def counts():
        samples = running.samples()
        server = histogram_counts(samples, "http_server_request_duration_seconds",
                                  process_executable_name="nginx",
                                  service_name=nginx.service_name)
        client = histogram_counts(samples, "http_client_request_duration_seconds",
                                  service_name=SERVICE, server_port=str(nginx.port))
        return server, client
    try:
        wait_until(lambda: counts() == (expected, expected), 20, "the exact counts")
    except SystemExit:
        server, client = counts()
        fail(f"sent {expected}; the agent counted server {server}, client {client}")
    print(f"server and client counts equal what was sent: {expected}")


def check_durations(results, spans_path):
    servers = spans_by_trace(spans_path, "SPAN_KIND_SERVER")
    clients = spans_by_trace(spans_path, "SPAN_KIND_CLIENT")
    worst = 0.0
    for result in results:
        trace = result["trace_id"]
        if len(servers.get(trace, [])) != 1 or len(clients.get(trace, [])) != 1:
            fail(f"request {result} has {len(servers.get(trace, []))} server and "
                 f"{len(clients.get(trace, []))} client spans, not one each")
        server, client = servers[trace][0], clients[trace][0]
        for span in (server, client):
            if span["attributes"].get("http.response.status_code") != result["status"]:
                fail(f"span {span} does not carry the status {result['status']}")
        if span_seconds(client) > result["seconds"] + SLACK_SECONDS:
            fail(f"client span {span_seconds(client)}s exceeds the measured {result['seconds']}s")
        if span_seconds(server) > span_seconds(client) + SLACK_SECONDS:
            fail(f"server span {span_seconds(server)}s exceeds the client span "
                 f"{span_seconds(client)}s")
        worst = max(worst, span_seconds(client) / result["seconds"])
    print(f"{len(results)} requests: every span within the client's own measure "
          f"(largest client-span/measured ratio {worst:.3f})")


def acceptance_counts(running, nginx, spans_path):
    steps = ([{"method": "GET", "path": "/index.html"}] * 400 +
             [{"method": "GET", "path": "/error"}] * 100 +
             [{"method": "POST", "path": "/upload", "chunked": True}] * 25 +
             [{"method": "HEAD", "path": "/index.html"}] * 25)
    results = run_client({"kind": "keep_alive", "port": nginx.port, "steps": steps})
    results += run_client({"kind": "closing", "port": nginx.port,
                           "steps": [{"method": "GET", "path": "/index.html"}] * 200})
    sent = {}
    for r in results:
        sent[(r["method"], str(r["status"]))] = sent.get((r["method"], str(r["status"])), 0) + 1
    if sent != {("GET", "200"): 600, ("GET", "500"): 100, ("POST", "201"): 25,
                ("HEAD", "200"): 25}:
        fail(f"nginx did not answer as planned: {sent}")
    expect_counts(running, nginx, sent)
    check_durations(results, spans_path)


def acceptance_pipelining(running, nginx, spans_path):
    steps = [{"method": "GET", "path": "/index.html", "status": 200},
             {"method": "GET", "path": "/busy", "status": 503},
             {"method": "GET", "path": "/missing/42", "status": 404},
             {"method": "HEAD", "path": "/index.html", "status": 200},
             {"method": "POST", "path": "/upload", "body": "x" * 100, "status": 201}]
    results = run_client({"kind": "pipelined", "port": nginx.port, "steps": steps})

    def matched():
        servers = spans_by_trace(spans_path, "SPAN_KIND_SERVER")
        clients = spans_by_trace(spans_path, "SPAN_KIND_CLIENT")
        return all(len(servers.get(r["trace_id"], [])) == 1 and
                   len(clients.get(r["trace_id"], [])) == 1 for r in results)
    wait_until(matched, 10, "spans of the pipelined requests")
    servers = spans_by_trace(spans_path, "SPAN_KIND_SERVER")
    clients = spans_by_trace(spans_path, "SPAN_KIND_CLIENT")
    for step, result in zip(steps, results):
        for span in (servers[result["trace_id"]][0], clients[result["trace_id"]][0]):
            attributes = span["attributes"]
            if (attributes["url.path"], attributes.get("http.response.status_code")) != \
                    (step["path"], step["status"]):
                fail(f"pipelined {step} matched to {attributes}")
    print("5 pipelined requests matched to their responses on both ends")


def agent_rss_kib(running):
    with open(f"/proc/{running.process.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def acceptance_big_response(running, nginx, spans_path):
    size = 10 << 20
    nginx.add_file("big.bin", size)
    rss = []
    for attempt in range(3):
        trace = os.urandom(16).hex()
        subprocess.run([PROGRAMS["curl"], "-sf", "-o", "/dev/null", "-H",
                        f"traceparent: 00-{trace}-{os.urandom(8).hex()}-01",
                        f"http://127.0.0.1:{nginx.port}/big.bin"], check=True)
        spans = wait_until(lambda: (lambda f: f if len(f) == 2 else None)(
            [s for s in read_spans(spans_path) if s["traceId"] == trace]), 10,
            "the spans of the 10 MiB download")
        for span in spans:
            attributes = span["attributes"]
            if attributes.get("http.response.status_code") != 200 or \
                    attributes.get("http.response.body.size") != size:
                fail(f"10 MiB response recorded as {attributes}")
        rss.append(agent_rss_kib(running))
    print(f"10 MiB responses: one span each, body size {size}; agent RSS after each "
          f"{rss} KiB")
    if rss[2] - rss[0] > 8 * 1024:
        fail(f"the agent's memory grew by {rss[2] - rss[0]} KiB over two 10 MiB responses")


def main():
    agent.require_bpf()
    agent.require_program("nginx") if not os.path.exists("/usr/sbin/nginx") else None
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        os.makedirs(os.path.join(directory, "bin"))
        for program, name in NAMES.items():
            PROGRAMS[program] = os.path.join(directory, "bin", name)
            target = {"python3": "/usr/bin/python3", "nginx": "/usr/sbin/nginx"}.get(program) \
                or agent.require_program(program)
            os.symlink(target, PROGRAMS[program])
        with Agent("--spans.output", spans_path,
                   "--capture.executables", ",".join(NAMES.values())) as running, \
                Nginx(os.path.join(directory, "nginx"), PROGRAMS["nginx"]) as nginx:
            acceptance_counts(running, nginx, spans_path)
            acceptance_pipelining(running, nginx, spans_path)
            acceptance_big_response(running, nginx, spans_path)
            drops = [s for s in running.samples()
                     if s[0] == "infrared_dropped_total" and s[2] != 0
                     and s[1]["reason"] not in ("payload_truncated",)]
            if drops:
                fail(f"drops counted: {drops}")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
