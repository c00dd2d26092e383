"""OTLP acceptance 2: the receiver answers 503 (Retry-After: 1) for its first
10 s, then 200. Every span the agent built while it refused arrives exactly once,
and the retries are counted."""
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, value, wait_until
from http_peers import Nginx, read_spans
from otlp_receiver import OtlpReceiver


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        with OtlpReceiver(os.path.join(directory, "otlp.jsonl"), fail_status=503,
                          fail_for_ms=10000, retry_after=1) as receiver, \
                Agent("--spans.output", spans_path,
                      "--otlp.endpoint", f"http://127.0.0.1:{receiver.port}",
                      "--otlp.max-delay-ms", "200") as running, \
                Nginx(os.path.join(directory, "nginx")) as nginx:
            for _ in range(20):
                subprocess.run(["curl", "-sf", "-o", "/dev/null",
                                f"http://127.0.0.1:{nginx.port}/index.html"], check=True)
            wait_until(lambda: receiver.rejected_attempts(), 10, "a refused export")
            built = lambda: {s["spanId"] for s in read_spans(spans_path)}
            wait_until(lambda: len(built()) >= 40, 10, "the agent's spans")
            # The spans built so far; other tests' traffic goes on adding spans
            # (the agent sees the whole host), so "every span" is these.
            wanted = built()
            wait_until(lambda: wanted <= {s["spanId"] for s, _, _ in receiver.spans()}, 60,
                       "every span to arrive after the receiver recovers")
            ids = [s["spanId"] for s, _, _ in receiver.spans()]
            if len(ids) != len(set(ids)):
                fail(f"{len(ids) - len(set(ids))} spans arrived more than once")
            samples = running.samples()
            retries = value(samples, "infrared_otlp_retries_total")
            refused = len(receiver.rejected_attempts())
            print(f"{len(ids)} spans arrived once each after {refused} refused requests; "
                  f"infrared_otlp_retries_total {retries}")
            if not retries or retries < refused:
                fail(f"retries counted {retries}, refused requests {refused}")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
