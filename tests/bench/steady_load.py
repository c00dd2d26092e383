#!/usr/bin/python3
"""Steady HTTP load at fixed rates: does the agent report every request, and how
much memory does it hold?

    tests/bench/steady_load.py [seconds=20] [rates=1000,10000] [agent flags...]

For each rate, rate_client.c (built here with cc) sends GET requests to a local
nginx (one worker) at that rate over 8 keep-alive connections for `seconds`,
with the agent running with its defaults. Then it checks that the agent reported
every request on both ends (http_server_request_duration_seconds_count of the
route, http_client_request_duration_seconds_count of rate_client) and that
nothing was dropped anywhere (every infrared_dropped_total series but
kernel_sock/payload_truncated, which this script's own reads of /metrics longer
than capture.bytes_per_call make: cut, not lost), and prints
the agent's CPU seconds, its VmRSS and VmHWM at the end, and its heap (RssAnon)
and the ring buffers it maps (the payload ring buffer is mapped twice over, so it
counts twice its size in RSS). Exits 1 when a request was not reported or
anything was dropped. Needs root, nginx, cc and a built agent."""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from agent import Agent  # noqa: E402
from http_peers import Nginx  # noqa: E402
from proc_usage import cpu_seconds, memory_kib  # noqa: E402

PATH = "/steady.html"


def build_client(directory):
    binary = os.path.join(directory, "rate_client")
    subprocess.run(["cc", "-O2", "-pthread", "-o", binary, os.path.join(HERE, "rate_client.c")],
                   check=True)
    return binary


def bpf_map_rss_kib(pid):
    """KiB of the agent's RSS that are BPF maps it mapped (ring buffers)."""
    total, mapping = 0, ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                mapping = parts[-1] if len(parts) >= 6 else ""
            elif parts[0] == "Rss:" and mapping == "anon_inode:bpf-map":
                total += int(parts[1])
    return total


def counts(samples):
    server = sum(v for n, labels, v in samples if n == "http_server_request_duration_seconds_count"
                 and labels.get("http_route") == PATH)
    client = sum(v for n, labels, v in samples if n == "http_client_request_duration_seconds_count"
                 and labels.get("process_executable_name") == "rate_client")
    dropped = {f'{labels.get("stage")}/{labels.get("reason")}': v for n, labels, v in samples
               if n == "infrared_dropped_total" and v > 0}
    # Calls longer than capture.bytes_per_call are cut, not lost: this script's own
    # reads of /metrics (their lengths still reach the parser).
    dropped.pop("kernel_sock/payload_truncated", None)
    return server, client, dropped


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    rates = [int(r) for r in (sys.argv[2] if len(sys.argv) > 2 else "1000,10000").split(",")]
    failures = []
    with tempfile.TemporaryDirectory() as directory:
        client = build_client(directory)
        with Nginx(os.path.join(directory, "n")) as nginx:
            nginx.add_file(PATH.lstrip("/"), 600)
            for rate in rates:
                with Agent(*sys.argv[3:]) as running:
                    pid = running.process.pid
                    time.sleep(1)
                    cpu_before = cpu_seconds(pid)
                    out = subprocess.run([client, str(nginx.port), PATH, str(rate), str(seconds)],
                                         capture_output=True, text=True).stdout.split()
                    sent = int(out[1])
                    deadline = time.monotonic() + 10
                    while min(counts(running.samples())[:2]) < sent and time.monotonic() < deadline:
                        time.sleep(0.1)
                    time.sleep(0.5)  # an excess would show now
                    server, client_count, dropped = counts(running.samples())
                    cpu = cpu_seconds(pid) - cpu_before
                    memory = memory_kib(pid)
                    maps = bpf_map_rss_kib(pid)
                print(f"{rate} req/s for {seconds:.0f} s: sent {sent} (ok {out[3]}, failed {out[5]}, "
                      f"{out[7]} ms behind schedule); reported server {server:.0f}, client {client_count:.0f}; "
                      f"dropped {dropped or 'nothing'}")
                print(f"{rate} req/s agent: CPU {cpu:.2f} s ({100 * cpu / seconds:.1f}% of a core), "
                      f"VmRSS {memory['VmRSS'] / 1024:.1f} MiB, VmHWM {memory['VmHWM'] / 1024:.1f} MiB, "
                      f"RssAnon {memory['RssAnon'] / 1024:.1f} MiB, BPF maps mapped "
                      f"{maps / 1024:.1f} MiB")
                if server != sent or client_count != sent or dropped:
                    failures.append(f"{rate} req/s: sent {sent}, reported {server:.0f}/{client_count:.0f}, "
                                    f"dropped {dropped}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
