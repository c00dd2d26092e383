"""Acceptance 3: 1,000 runs of /bin/true while the agent runs. Every exec and
every exit is seen (the agent logs each at debug level; the counters agree), no
drop is counted, and none of their series remain two scrapes later."""
import os
import shutil
import subprocess
import tempfile
import uuid

import agent
from agent import Agent, fail, find, value, wait_until

RUNS = 1000


def counter(samples, source):
    return value(samples, "infrared_events_total", source=source) or 0


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory, Agent(log_level="debug") as running:
        name = f"infrared-true-{uuid.uuid4().hex[:8]}"
        true = os.path.join(directory, name)
        shutil.copy("/bin/true", true)
        before = running.samples()
        for _ in range(RUNS):
            subprocess.run([true], check=True)

        def ours():
            entries = running.log_entries()
            pids = {e["pid"] for e in entries
                    if e.get("msg") == "exec" and e.get("filename") == true}
            exits = {e["pid"] for e in entries if e.get("msg") == "exit" and e["pid"] in pids}
            return pids, exits

        wait_until(lambda: len(ours()[1]) >= RUNS, 30, f"{RUNS} exits of {name}")
        execs, exits = ours()
        print(f"execs seen {len(execs)}, exits seen {len(exits)}")
        if len(execs) != RUNS or len(exits) != RUNS:
            fail(f"expected {RUNS} execs and exits, saw {len(execs)} and {len(exits)}")

        first = running.samples()
        for source in ("process_exec", "process_exit", "process_fork"):
            delta = counter(first, source) - counter(before, source)
            if delta < RUNS:
                fail(f"infrared_events_total{{source=\"{source}\"}} rose by {delta} < {RUNS}")
        # Process events only: other tests' sockets may truncate payloads meanwhile.
        drops = [s for s in first if s[0] == "infrared_dropped_total" and s[2] != 0
                 and s[1]["stage"] in ("kernel", "ringbuf", "process_table")]
        if drops:
            fail(f"drops were counted: {drops}")
        second = running.samples()
        for samples in (second,):
            left = find(samples, "process_cpu_time_seconds_total", process_executable_name=name)
            if left:
                fail(f"{len(left)} series of {name} remain two scrapes later")
        tracked = value(second, "infrared_tracked_processes")
        if tracked is None or tracked > len(find(before, "process_cpu_time_seconds_total")) + 50:
            fail(f"the process table holds {tracked} processes after the runs")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
