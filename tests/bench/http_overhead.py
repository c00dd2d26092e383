#!/usr/bin/python3
"""nginx + wrk throughput without and with the agent, and the ratio, in one run.

    tests/bench/http_overhead.py [seconds=10] [connections=16]

Runs wrk against a local nginx (one worker) serving a small static file, first
alone, then with the agent capturing every connection, then with the agent
capturing no payload of either (capture.executables names another program: its
probes stay attached and pass their calls over), then with no agent but a
tracefs syscall event enabled (the hook floor: once any syscall tracepoint is in
use, the kernel sends every syscall of every task through its traced slow path,
whatever program runs there, so no syscall-tracepoint capture can cost less),
then alone again (to see the noise). Needs root, nginx, wrk and a built agent."""
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from agent import Agent  # noqa: E402
from http_peers import Nginx  # noqa: E402
from proc_usage import cpu_seconds, peak_rss_kib  # noqa: E402


def wrk(port, seconds, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s",
                          f"http://127.0.0.1:{port}/index.html"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


# An event no workload here calls: enabling it costs only the traced path itself.
FLOOR_EVENT = "/sys/kernel/tracing/events/syscalls/sys_enter_acct/enable"


def hook_floor_run(port, seconds, connections):
    """Requests/sec with every syscall on the traced path and no program attached."""
    if not os.path.exists(FLOOR_EVENT):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=True)
    with open(FLOOR_EVENT, "w") as f:
        f.write("1")
    try:
        return wrk(port, seconds, connections)
    finally:
        with open(FLOOR_EVENT, "w") as f:
            f.write("0")


def watched_run(port, seconds, connections, *agent_args):
    """(requests/sec, agent CPU seconds, agent peak RSS in MiB) of one wrk run with the agent."""
    with Agent(*agent_args) as running:
        time.sleep(1)
        cpu_before = cpu_seconds(running.process.pid)
        rate = wrk(port, seconds, connections)
        return (rate, cpu_seconds(running.process.pid) - cpu_before,
                peak_rss_kib(running.process.pid) / 1024)


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    with tempfile.TemporaryDirectory() as directory, Nginx(os.path.join(directory, "n")) as nginx:
        wrk(nginx.port, 2, connections)  # warm up
        alone = wrk(nginx.port, seconds, connections)
        watched, agent_cpu, agent_peak = watched_run(nginx.port, seconds, connections)
        unselected, unselected_cpu, unselected_peak = watched_run(nginx.port, seconds, connections,
                                                 "--capture.executables", "no-such-program")
        floor = hook_floor_run(nginx.port, seconds, connections)
        again = wrk(nginx.port, seconds, connections)
    baseline = (alone + again) / 2
    print(f"nginx+wrk requests/sec without agent: {alone:.0f} (again after: {again:.0f})")
    print(f"nginx+wrk requests/sec with agent:    {watched:.0f}")
    print(f"ratio with/without: {watched / baseline:.3f}")
    print(f"agent CPU during the run: {agent_cpu:.2f} s over {seconds} s "
          f"({100 * agent_cpu / seconds:.1f}% of one core)")
    print(f"agent peak RSS: {agent_peak:.1f} MiB")
    print(f"nginx+wrk requests/sec with agent, capture off for them: {unselected:.0f}")
    print(f"ratio capture off/without: {unselected / baseline:.3f}")
    print(f"agent CPU with capture off: {unselected_cpu:.2f} s "
          f"({100 * unselected_cpu / seconds:.1f}% of one core)")
    print(f"agent peak RSS with capture off: {unselected_peak:.1f} MiB")
    print(f"nginx+wrk requests/sec, syscall hook floor (no agent): {floor:.0f}")
    print(f"ratio hook floor/without: {floor / baseline:.3f}")
    print(f"ratio capture off/hook floor: {unselected / floor:.3f}")


if __name__ == "__main__":
    main()
