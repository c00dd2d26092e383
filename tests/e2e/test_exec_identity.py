"""A process is named from the environment and arguments it was started with, even when
it writes its process title over them before the agent looks.

nginx's master moves its environment away and writes "nginx: master process ..." over
the memory /proc/<pid>/cmdline and /proc/<pid>/environ show, within milliseconds of its
exec. The kernel copies both at exec, before the program runs, and the agent names the
process from that copy. To make the agent late for certain, it is stopped (SIGSTOP)
while nginx starts and rewrites its title, and resumed after: an agent that read /proc
at that point would see neither OTEL_SERVICE_NAME nor the command line (the counts
would go under service_name="nginx").

Checked: nginx's requests counted under its OTEL_SERVICE_NAME; its server spans carry
that service.name, the command line nginx was started with, and an attribute from its
OTEL_RESOURCE_ATTRIBUTES. Then an exec too big for the ring buffer with its strings
comes without them, counted, and its process is named from /proc.
"""
import http.client
import os
import signal
import subprocess
import tempfile

import agent
from agent import Agent, fail, value, wait_until
from http_peers import Nginx, read_spans

REQUESTS = 10
ENVIRONMENT = "exec-identity-e2e"


def served(running, service):
    return sum(v for n, labels, v in running.samples()
               if n == "http_server_request_duration_seconds_count"
               and labels.get("service_name") == service)


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        with Agent("--spans.output", spans_path) as running:
            nginx = Nginx(os.path.join(directory, "n"))
            os.environ["OTEL_RESOURCE_ATTRIBUTES"] = f"deployment.environment.name={ENVIRONMENT}"
            running.process.send_signal(signal.SIGSTOP)
            try:
                with nginx:
                    pid = nginx.process.pid

                    def title():
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            return f.read().split(b"\0")[0].decode(errors="replace")
                    # nginx listens before its master loop writes the title.
                    try:
                        wait_until(lambda: title().startswith("nginx:"), 10, "nginx's title")
                    except SystemExit:
                        fail(f"nginx did not write its process title (cmdline {title()!r}): "
                             "this test would not show what it is for")
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        if nginx.service_name.encode() in f.read():
                            fail("nginx's environment still shows its OTEL_SERVICE_NAME: "
                                 "this test would not show what it is for")
                    running.process.send_signal(signal.SIGCONT)
                    del os.environ["OTEL_RESOURCE_ATTRIBUTES"]
                    print(f"nginx started while the agent was stopped; /proc shows {title()!r}")

                    connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=5)
                    for _ in range(REQUESTS):
                        connection.request("GET", "/index.html")
                        response = connection.getresponse()
                        response.read()
                        if response.status != 200:
                            fail(f"nginx answered {response.status}")
                    connection.close()

                    try:
                        wait_until(lambda: served(running, nginx.service_name) >= REQUESTS, 15,
                                   "nginx's requests under its service name")
                    except SystemExit:
                        fail(f"{served(running, nginx.service_name):.0f} of {REQUESTS} requests "
                             f"under service_name={nginx.service_name}")
                    if served(running, nginx.service_name) != REQUESTS:
                        fail(f"{served(running, nginx.service_name):.0f} requests counted, "
                             f"wanted {REQUESTS}")
                    print(f"{REQUESTS} requests counted under {nginx.service_name}")

                    wanted = {"service.name": nginx.service_name,
                              "process.command_line": " ".join(nginx.process.args),
                              "deployment.environment.name": ENVIRONMENT}

                    def server_spans():
                        return [s for s in read_spans(spans_path)
                                if s["kind"] == "SPAN_KIND_SERVER"
                                and s["attributes"].get("server.port") == nginx.port]

                    wait_until(lambda: len(server_spans()) >= REQUESTS, 10, "nginx's spans")
                    spans = server_spans()
                    if len(spans) != REQUESTS:
                        fail(f"{len(spans)} server spans on port {nginx.port}, wanted {REQUESTS}")
                    for span in spans:
                        got = {key: span["resource"].get(key) for key in wanted}
                        if got != wanted:
                            fail(f"span resource {got}, wanted {wanted}")
                    print(f"its spans' resource: {wanted}")
            finally:
                running.process.send_signal(signal.SIGCONT)
                os.environ.pop("OTEL_RESOURCE_ATTRIBUTES", None)
    too_big_for_the_ring()
    print("1 passed, 0 failed")


def too_big_for_the_ring():
    """An exec whose environment (20 KB) is bigger than the whole 16 KiB lifecycle ring
    buffer is still delivered, without its strings (counted): the process is named from
    /proc. The ring still has room for about 80 events without strings, so other tests'
    processes do not crowd the retry out."""
    service = f"infrared-e2e-fat-env-{os.getpid()}"
    with Agent("--process.events-buffer-bytes", "16384") as running:
        env = dict(os.environ, OTEL_SERVICE_NAME=service, PADDING="x" * 20000)
        sleeper = subprocess.Popen(["sleep", "30"], env=env)
        try:
            def labels():
                found = [labels for name, labels, _ in running.samples()
                         if name == "process_cpu_time_seconds_total"
                         and labels.get("process_pid") == str(sleeper.pid)]
                return found[0] if found else {}
            # Its fork comes first, under its parent's name; then the exec renames it.
            try:
                wait_until(lambda: labels().get("service_name") == service, 10,
                           "the sleeper's series under its own name")
            except SystemExit:
                fail(f"the sleeper is {labels()}, wanted service_name={service}")
            lost = value(running.samples(), "infrared_dropped_total", stage="kernel",
                         reason="exec_strings") or 0
            if lost < 1:
                fail("a 20 KB environment fitted a 16 KiB ring buffer: nothing counted")
            print(f"a 20 KB environment, a 16 KiB ring: the exec came alone ({lost:.0f} counted "
                  f"exec_strings) and the process is named {service} from /proc")
        finally:
            sleeper.kill()
            sleeper.wait()


if __name__ == "__main__":
    main()
