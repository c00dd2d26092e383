#!/usr/bin/python3
"""An LLM-shaped workload: streamed chat completions over TLS, each about 2 s long,
timed without the agent, with it, and without again, in one run.

    tests/bench/llm_overhead.py [rounds=3] [concurrency=16]

tests/peers/fake_llm_server.js (node, HTTPS on a fresh self-signed certificate)
answers OpenAI streamed chat completions: the first chunk 300 ms after the request,
then one chunk every 50 ms, 35 in all (about 2 s). `concurrency` client threads
(Python httpx, one keep-alive connection each) each make `rounds` calls in a row.
The figure is the mean wall time of a call, from the request to the last event,
with the agent over without. The agent must report every call with its tokens:
the run fails otherwise, as a ratio of calls it did not see would mean nothing.
Needs root, node with tests/peers/node_modules (npm ci), python3-httpx and a
built agent."""
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

import httpx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from agent import Agent, fail, wait_until  # noqa: E402
from llm_peers import FakeLlmServer  # noqa: E402
from tls_peers import Certificate  # noqa: E402
from proc_usage import cpu_seconds, peak_rss_kib  # noqa: E402

CHUNKS = 35
MODEL = "gpt-4o-mini"


def one_call(client, url, number):
    """Seconds from the request to the stream's last event, and the output tokens it named."""
    body = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": f"Tell a long story, number {number}."}]}
    started = time.monotonic()
    tokens = None
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            line = line.strip()
            if line.startswith("data: {"):
                usage = json.loads(line[len("data: "):]).get("usage")
                if usage:
                    tokens = usage["completion_tokens"]
    return time.monotonic() - started, tokens


def run_phase(server, rounds, concurrency):
    """(mean call seconds, calls, output tokens) of `concurrency` clients × `rounds` calls."""
    url = server.url + "/v1/chat/completions"
    headers = {"authorization": "Bearer sk-bench", "x-fake-slow": "1", "x-fake-chunks": str(CHUNKS)}
    times, tokens, errors = [], [], []
    lock = threading.Lock()

    def client_thread(index):
        try:
            with httpx.Client(verify=False, headers=headers, timeout=30) as client:
                for round_number in range(rounds):
                    seconds, output = one_call(client, url, index * rounds + round_number)
                    with lock:
                        times.append(seconds)
                        tokens.append(output or 0)
        except Exception as error:  # reported below, with the others
            with lock:
                errors.append(repr(error))

    threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        fail(f"{len(errors)} clients failed: {errors[:3]}")
    return statistics.mean(times), len(times), sum(tokens)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def sample(text, name, *labels):
    """The sum of a metric's samples whose labels include each of `labels` ('k="v"')."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(label in line for label in labels):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    with tempfile.TemporaryDirectory() as directory:
        with FakeLlmServer(Certificate(directory)) as server:
            run_phase(server, 1, 2)  # warm up node and the TLS session code
            alone, calls, _ = run_phase(server, rounds, concurrency)
            with Agent() as running:
                time.sleep(1)
                cpu_before = cpu_seconds(running.process.pid)
                watched, watched_calls, tokens = run_phase(server, rounds, concurrency)
                agent_cpu = cpu_seconds(running.process.pid) - cpu_before
                model = f'gen_ai_request_model="{MODEL}"'
                calls_of = lambda: sample(scrape(running.port),  # noqa: E731
                                          "gen_ai_client_operation_duration_seconds_count", model)
                wait_until(lambda: calls_of() >= watched_calls, 10, "the agent to report every call")
                reported_calls = calls_of()
                reported_tokens = sample(scrape(running.port), "gen_ai_client_token_usage_sum", model,
                                         'gen_ai_token_type="output"')
                rss = peak_rss_kib(running.process.pid) / 1024
            again, _, _ = run_phase(server, rounds, concurrency)
    baseline = (alone + again) / 2
    print(f"streamed calls: {calls} per phase, {concurrency} at once, {CHUNKS} chunks over ~2 s each")
    print(f"mean call wall time without agent: {alone:.4f} s (again after: {again:.4f} s)")
    print(f"mean call wall time with agent:    {watched:.4f} s")
    print(f"ratio with/without: {watched / baseline:.4f}")
    print(f"agent reported {reported_calls:.0f} of {watched_calls} calls, "
          f"{reported_tokens:.0f} output tokens (the clients read {tokens})")
    print(f"agent CPU: {agent_cpu:.2f} s, peak RSS {rss:.1f} MiB")
    if reported_calls != watched_calls or reported_tokens != tokens:
        fail(f"the agent reported {reported_calls:.0f} calls of {watched_calls}, "
             f"{reported_tokens:.0f} output tokens of {tokens}")


if __name__ == "__main__":
    main()
