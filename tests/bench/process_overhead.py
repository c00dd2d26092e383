#!/usr/bin/python3
"""Fork-heavy and CPU-heavy workloads without and with the agent, in one run.

    tests/bench/process_overhead.py [processes=10000] [builds=20]

fork-heavy: a shell starts `processes` short processes (/bin/true), one after the
other. cpu-heavy: a C file compiled `builds` times with gcc -O2 (a small build).
Each is timed alone, with the agent (defaults: every probe, every process), then
alone again (to see the noise); prints the ratio with/without (time, so higher
is slower), the agent's CPU seconds and its peak RSS. Needs root and a built agent."""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from agent import Agent  # noqa: E402
from proc_usage import cpu_seconds, peak_rss_kib  # noqa: E402

SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int compare(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }
#define F(n) int f##n(int* v, int k) { for (int i = 0; i < k; ++i) v[i] = (v[i] * 31 + n) % 977; \
  qsort(v, k, sizeof(int), compare); return v[k / 2]; }
F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15)
int main(void) { int v[64]; memset(v, 0, sizeof(v)); printf("%d\n", f0(v, 64) + f15(v, 64)); }
"""


def timed(argv):
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    processes = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    builds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as directory:
        source = os.path.join(directory, "work.c")
        with open(source, "w") as f:
            f.write(SOURCE)
        workloads = {
            "fork-heavy": ["/bin/sh", "-c", f"i=0; while [ $i -lt {processes} ]; do /bin/true; "
                           "i=$((i+1)); done"],
            "cpu-heavy": ["/bin/sh", "-c", f"for i in $(seq {builds}); do gcc -O2 -o "
                          f"{directory}/work {source}; done"],
        }
        for argv in workloads.values():
            timed(argv)  # warm the page cache
        results = {}
        for name, argv in workloads.items():
            alone = timed(argv)
            with Agent() as running:
                time.sleep(1)
                cpu_before = cpu_seconds(running.process.pid)
                watched = timed(argv)
                agent_cpu = cpu_seconds(running.process.pid) - cpu_before
                rss = peak_rss_kib(running.process.pid)
            again = timed(argv)
            results[name] = (alone, again, watched, agent_cpu, rss)
    for name, (alone, again, watched, agent_cpu, rss) in results.items():
        print(f"{name} seconds without agent: {alone:.2f} (again after: {again:.2f})")
        print(f"{name} seconds with agent:    {watched:.2f}")
        print(f"{name} ratio with/without: {watched / ((alone + again) / 2):.3f}")
        print(f"{name} agent CPU: {agent_cpu:.2f} s, peak RSS {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
