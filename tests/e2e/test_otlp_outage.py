"""OTLP acceptance 3: the receiver is down for 60 s while nginx serves a steady
load. The agent's memory stays under its cap, the spans it cannot keep are
counted (infrared_dropped_total{stage="otlp",reason="queue_full"}), and export
resumes, without a restart, once the receiver is back on the same port."""
import os
import subprocess
import tempfile
import threading
import time

import agent
from agent import Agent, fail, value, wait_until
from http_peers import Nginx, free_port
from otlp_receiver import OtlpReceiver

DOWN_SECONDS = 60
QUEUE = 256
RSS_CAP_KIB = 200 * 1024  # the agent idles near 50 MiB, most of it ring buffers


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main():
    agent.require_bpf()
    port = free_port()
    with tempfile.TemporaryDirectory() as directory, \
            Agent("--otlp.endpoint", f"http://127.0.0.1:{port}", "--otlp.max-delay-ms", "200",
                  "--otlp.queue-size", str(QUEUE)) as running, \
            Nginx(os.path.join(directory, "nginx")) as nginx:
        stop = threading.Event()
        requests = [0]

        def load():
            while not stop.is_set():
                subprocess.run(["curl", "-s", "-o", "/dev/null",
                                f"http://127.0.0.1:{nginx.port}/index.html"])
                requests[0] += 1
                time.sleep(0.02)

        loader = threading.Thread(target=load)
        loader.start()
        try:
            peak = 0
            deadline = time.monotonic() + DOWN_SECONDS
            while time.monotonic() < deadline:
                peak = max(peak, rss_kib(running.process.pid))
                time.sleep(1)
            samples = running.samples()
            dropped = value(samples, "infrared_dropped_total", stage="otlp", reason="queue_full")
            exported_before = value(samples, "infrared_otlp_spans_total", outcome="exported")
            print(f"receiver down {DOWN_SECONDS}s: {requests[0]} requests, agent peak RSS "
                  f"{peak} KiB, {dropped} spans dropped (queue {QUEUE}), exported "
                  f"{exported_before}")
            if peak > RSS_CAP_KIB:
                fail(f"the agent's RSS reached {peak} KiB, over {RSS_CAP_KIB} KiB")
            if not dropped:
                fail("the queue overflowed without a drop being counted")
            if exported_before:
                fail(f"{exported_before} spans counted exported while the receiver was down")
            with OtlpReceiver(os.path.join(directory, "otlp.jsonl"), port=port) as receiver:
                # The exporter is somewhere in its backoff (at most 30 s, with jitter).
                wait_until(lambda: receiver.spans(), 45, "export to resume")
                wait_until(lambda: value(running.samples(), "infrared_otlp_spans_total",
                                         outcome="exported"), 10, "exports to be counted")
                print(f"export resumed: {len(receiver.spans())} spans received")
        finally:
            stop.set()
            loader.join()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
