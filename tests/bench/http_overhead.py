#!/usr/bin/python3
"""nginx + wrk throughput without and with the agent, and the ratio, in one run.

    tests/bench/http_overhead.py [seconds=10] [connections=16]

Runs wrk against a local nginx (one worker) serving a small static file, first
alone, then with the agent capturing every connection, then alone again (to see
the noise). Needs root, nginx, wrk and a built agent."""
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


def wrk(port, seconds, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s",
                          f"http://127.0.0.1:{port}/index.html"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    with tempfile.TemporaryDirectory() as directory, Nginx(os.path.join(directory, "n")) as nginx:
        wrk(nginx.port, 2, connections)  # warm up
        alone = wrk(nginx.port, seconds, connections)
        with Agent() as running:
            time.sleep(1)
            cpu_before = cpu_seconds(running.process.pid)
            watched = wrk(nginx.port, seconds, connections)
            agent_cpu = cpu_seconds(running.process.pid) - cpu_before
        again = wrk(nginx.port, seconds, connections)
    print(f"nginx+wrk requests/sec without agent: {alone:.0f} (again after: {again:.0f})")
    print(f"nginx+wrk requests/sec with agent:    {watched:.0f}")
    print(f"ratio with/without: {watched / ((alone + again) / 2):.3f}")
    print(f"agent CPU during the run: {agent_cpu:.2f} s over {seconds} s "
          f"({100 * agent_cpu / seconds:.1f}% of one core)")


if __name__ == "__main__":
    main()
