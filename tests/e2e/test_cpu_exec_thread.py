"""CPU time across an exec made by a thread other than the leader: the thread takes
the leader's tid (de_thread) and its runtime so far must not be counted again.
A Python process burns CPU on its main thread and on a second thread, which then
execs a program that burns more and sleeps; while it sleeps, the agent's
process_cpu_time_seconds_total of the pid matches /proc's utime+stime within 5%."""
import os
import subprocess
import sys
import textwrap
import time

import agent
from agent import Agent, fail, value, within

TOLERANCE = 0.05

AFTER_EXEC = textwrap.dedent("""
    import time
    end = time.process_time() + 0.6
    while time.process_time() < end:
        pass
    print("burnt", flush=True)
    time.sleep(30)
""")

BEFORE_EXEC = textwrap.dedent("""
    import os, sys, threading, time
    def burn(seconds):
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass
    def second():
        burn(0.6)
        os.execv(sys.executable, [sys.executable, "-c", sys.argv[1]])
    burn(0.6)
    threading.Thread(target=second).start()
    time.sleep(30)
""")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    agent.require_bpf()
    with Agent() as running:
        child = subprocess.Popen([sys.executable, "-c", BEFORE_EXEC, AFTER_EXEC],
                                 stdout=subprocess.PIPE, text=True)
        try:
            if child.stdout.readline().strip() != "burnt":
                fail("the child did not get past its exec")
            expected = proc_cpu_seconds(child.pid)

            def reported():
                return value(running.samples(), "process_cpu_time_seconds_total",
                             process_pid=str(child.pid))

            # The figure settles once the exec'd program's thread has left the CPU.
            deadline = time.monotonic() + 5
            got = reported()
            while (got is None or not within(got, expected, TOLERANCE)) and time.monotonic() < deadline:
                time.sleep(0.2)
                got = reported()
            print(f"/proc utime+stime {expected:.3f}s, agent {got}")
            if got is None or not within(got, expected, TOLERANCE):
                fail(f"agent reported {got} s of CPU for a process /proc says used {expected:.3f} s")
        finally:
            child.kill()
            child.wait()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
