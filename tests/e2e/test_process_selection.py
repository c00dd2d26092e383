"""Process selection: --select.llm-only reports only processes seen calling an
LLM API (their LLM call, and everything from it on), --select.executables and
--exclude.command-lines narrow it further. Three python clients make the same
plain HTTP requests; one first calls the fake LLM server, one only makes the
plain requests, one calls the LLM server but is excluded by its command line,
and curl (not python3) calls it too. Only the first is reported, in full."""
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, wait_until
from http_peers import PythonHttpServer, read_spans, start_waiting_client
from llm_peers import FakeLlmServer

REQUESTS = 4
def main():
    agent.require_bpf()
    curl = agent.require_program("curl")
    clients = []
    with tempfile.TemporaryDirectory() as root:
        spans_path = os.path.join(root, "spans.jsonl")
        www = os.path.join(root, "www")
        os.makedirs(www)
        server = PythonHttpServer(www)
        with FakeLlmServer() as llm, server, Agent(
                "--spans.output", spans_path, "--select.llm-only", "true",
                "--select.executables", "python3*", "--exclude.command-lines",
                "ignore-me$") as running:
            # A service name of its own, so that its GenAI series are told from any other
            # python3 LLM caller on the host.
            caller = start_waiting_client(clients, server.port, REQUESTS, llm_port=llm.port,
                                          prefix=("env", f"OTEL_SERVICE_NAME=selection-llm-"
                                                         f"{os.getpid()}"))
            plain = start_waiting_client(clients, server.port, REQUESTS)
            ignored = start_waiting_client(clients, server.port, REQUESTS, llm_port=llm.port,
                                           mark=["ignore-me"])
            subprocess.run([curl, "-s", "-o", "/dev/null", "-H", "Content-Type: application/json",
                            "-d", '{"model":"gpt-4o-mini","messages":[]}',
                            f"{llm.url}/v1/chat/completions"], check=True)

            def by_pid(samples, name, pid):
                return [l for n, l, _ in samples if n == name and l.get("process_pid") == str(pid)]

            def http_count(samples, service):
                return sum(v for n, l, v in samples
                           if n == "http_client_request_duration_seconds_count"
                           and l.get("server_port") == str(server.port)
                           and l.get("service_name") == service)

            def reported():
                samples = running.samples()
                mine = by_pid(samples, "process_cpu_time_seconds_total", caller.pid)
                service = mine[0]["service_name"] if mine else None
                # The caller's own: other python3 LLM callers of other tests may run.
                genai = sum(v for n, l, v in samples
                            if n == "gen_ai_client_operation_duration_seconds_count"
                            and l.get("service_name") == service)
                return len(mine), http_count(samples, service), genai
            try:
                wait_until(lambda: reported() == (1, REQUESTS, 1), 20, "the LLM caller's series")
            except SystemExit:
                fail(f"(process series, plain requests, LLM calls) of the caller: {reported()}, "
                     f"wanted (1, {REQUESTS}, 1)")
            print(f"the LLM caller: its process series, its LLM call and its {REQUESTS} later "
                  "requests are reported")
            samples = running.samples()
            for name, process in (("plain", plain), ("ignored", ignored)):
                if by_pid(samples, "process_cpu_time_seconds_total", process.pid):
                    fail(f"the {name} client has process series")
            pids = {s["resource"].get("process.pid") for s in read_spans(spans_path)}
            wanted = {caller.pid}
            if pids & {plain.pid, ignored.pid} or not wanted <= pids:
                fail(f"spans from pids {pids}: wanted {caller.pid}, never {plain.pid} or "
                     f"{ignored.pid}")
            curl_series = [l for n, l, _ in samples if l.get("process_executable_name") == "curl"]
            if curl_series:
                fail(f"curl is not python3* but is reported: {curl_series[:2]}")
            print("the plain client, the excluded command line and curl: no series, no spans")
            # The caller alone (e2e tests run one at a time: no other test's callers).
            if (v := [v for n, l, v in samples if n == "infrared_reported_processes"]) != [1.0]:
                fail(f"infrared_reported_processes is {v}, wanted [1]")
    for client in clients:
        client.kill()
        client.wait()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
