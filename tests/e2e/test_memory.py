"""Acceptance 2: a child that allocates and touches 200 MiB; the agent's
process_memory_usage_bytes is within 5% of VmRSS. Then: after the child exits,
its series is in exactly one more scrape (its final figures) and gone after."""
import agent
from agent import Agent, fail, find, value, wait_until, within
from children import TOUCH_MEMORY, Child

SIZE = 200 << 20
TOLERANCE = 0.05


def main():
    agent.require_bpf()
    with Agent(log_level="debug") as running:
        with Child(TOUCH_MEMORY, SIZE) as child:
            expected = child.figure
            pid = str(child.pid)
            measured = wait_until(
                lambda: value(running.samples(), "process_memory_usage_bytes", process_pid=pid),
                10, f"the memory series of pid {pid}")
            print(f"VmRSS {expected / 2**20:.1f} MiB, agent {measured / 2**20:.1f} MiB")
            if not within(measured, expected, TOLERANCE):
                fail(f"process_memory_usage_bytes {measured} is not within 5% of VmRSS {expected}")
            virtual = value(running.samples(), "process_memory_virtual_bytes", process_pid=pid)
            if not virtual or virtual < measured:
                fail(f"process_memory_virtual_bytes {virtual} is below the resident {measured}")

        wait_until(lambda: running._find_log(
            lambda e: e.get("msg") == "exit" and str(e.get("pid")) == pid), 10,
            "the agent to see the child exit")
        final = running.samples()
        if not find(final, "process_cpu_time_seconds_total", process_pid=pid):
            fail("an exited process must appear in the next scrape with its final figures")
        after = running.samples()
        if find(after, "process_cpu_time_seconds_total", process_pid=pid):
            fail("an exited process's series must be gone after one scrape")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
