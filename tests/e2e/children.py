"""Child processes with known CPU and memory figures, reported from /proc."""
import subprocess

_PROC_CPU = """
import os, sys, time
def cpu_seconds():
    with open('/proc/self/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
"""

BURN_CPU = _PROC_CPU + """
start = time.process_time()
x = 0
while time.process_time() - start < float(sys.argv[1]):
    x += 1
print(cpu_seconds(), flush=True)
sys.stdin.read()
"""

TOUCH_MEMORY = """
import sys
size = int(sys.argv[1])
block = bytearray(size)
for i in range(0, size, 4096):
    block[i] = 1
with open('/proc/self/status') as f:
    rss_kib = [int(l.split()[1]) for l in f if l.startswith('VmRSS:')][0]
print(rss_kib * 1024, flush=True)
sys.stdin.read()
"""


class Child:
    """Runs a python script; its first stdout line is its /proc figure. It stays
    alive, idle, until close() (or the context's end) closes its stdin."""

    def __init__(self, script, *args):
        self.process = subprocess.Popen(["/usr/bin/python3", "-c", script, *map(str, args)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.process.pid
        self.figure = float(self.process.stdout.readline())

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
