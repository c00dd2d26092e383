"""No leak: 100,000 short HTTP connections and 100,000 short-lived processes leave
the agent where it started.

The agent runs with series idling out after 3 s. In each of two rounds, one python
server answers 50,000 connections from one python client (a copy of python named
infrared-leak-py), each a GET and a response, closed by the server; then two shells
run 25,000 copies of /bin/true (named infrared-leak-true) each. After each round,
once its processes are gone, the process table (infrared_tracked_processes) and the
connection tracker (infrared_tracked_connections, and the idle connections it remembers,
infrared_idle_connections) are back where they were, no series
of theirs is left (HTTP, TCP, process), and /metrics holds no more series than before
(SLACK_SERIES for other processes of the host). The first round fills what is
bounded (4096 recently gone processes kept for late socket events, malloc's arenas);
the agent's heap after the second is within HEAP_BOUND_MIB of the first. The test's
own scrapes (python3) are excluded from reporting.

Run alone (RUN_SERIAL): every agent on the host sees these 200,000 events.
INFRARED_LEAK_COUNT changes both numbers (e.g. 1000000 for a long run).
"""
import os
import shutil
import subprocess
import tempfile
import threading
import time

import agent
from agent import Agent, fail, value, wait_until
from agent_memory import rss_mib

COUNT = int(os.environ.get("INFRARED_LEAK_COUNT", "100000"))
SHELLS = 2
# The agent's heap may keep what its allocator holds on to after peaks (thread
# arenas, the largest scrape): a leak of even 100 bytes per connection or process
# would be 19 MiB here.
HEAP_BOUND_MIB = 6
ROUNDS = 2
TRIM_SECONDS = 11
SLACK_SERIES = 100
SLACK_CONNECTIONS = 4  # other programs of the host
TAG = "infrared-leak"

SERVER = r"""
import socket, sys
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print(listener.getsockname()[1], flush=True)
response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
for _ in range(int(sys.argv[1])):
    connection, _ = listener.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    connection.sendall(response)
    connection.close()
"""

CLIENT = r"""
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
request = b"GET /leak HTTP/1.1\r\nHost: leak\r\n\r\n"
for _ in range(count):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(request)
    while connection.recv(4096):
        pass
    connection.close()
"""


def state(running):
    samples = running.samples()
    return {
        "processes": value(samples, "infrared_tracked_processes"),
        "connections": value(samples, "infrared_tracked_connections"),
        "idle_connections": value(samples, "infrared_idle_connections"),
        "series": len(samples),
    }


class Scraper:
    def __init__(self, running):
        self.running = running
        self.stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)

    def _run(self):
        while not self.stop.wait(0.5):
            self.running.scrape()


def run_connections(running, python, count):
    started = time.monotonic()
    server = subprocess.Popen([python, "-c", SERVER, str(count)], stdout=subprocess.PIPE,
                              text=True)
    port = int(server.stdout.readline())
    subprocess.run([python, "-c", CLIENT, str(port), str(count)], check=True, timeout=600)
    if server.wait(60) != 0:
        fail("the server failed")
    print(f"{count} connections in {time.monotonic() - started:.1f} s")


def run_processes(running, true, count):
    started = time.monotonic()
    per_shell = count // SHELLS
    shells = [subprocess.Popen(["/bin/sh", "-c", f'i=0; while [ $i -lt {per_shell} ]; do '
                                f'"{true}"; i=$((i+1)); done'])
              for _ in range(SHELLS)]
    for shell in shells:
        if shell.wait(600) != 0:
            fail("a shell failed")
    print(f"{per_shell * SHELLS} processes in {time.monotonic() - started:.1f} s")


def ours(running):
    """Series of the test's workloads still in /metrics."""
    return [name for name, labels, _ in running.samples()
            if any(TAG in value for value in labels.values())]


def series_names(running):
    return [name + str(sorted(labels.items())) for name, labels, _ in running.samples()]


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory, \
            Agent("--metrics.series-idle-seconds", "3",
                  "--process.rescan-interval-seconds", "5",
                  "--exclude.executables", "python3*") as running:
        python = os.path.join(directory, f"{TAG}-py")
        shutil.copy("/usr/bin/python3", python)
        time.sleep(1)
        before = state(running)
        baseline_series = set(series_names(running))
        print(f"before: {before}, heap {rss_mib(running.process.pid)['RssAnon']:.1f} MiB")
        true = os.path.join(directory, f"{TAG}-true")
        shutil.copy("/bin/true", true)
        heaps = []
        for round_number in range(ROUNDS):
            # Scraped every half second, as Prometheus would: each scrape carries
            # the last figures of the processes gone since the one before.
            with Scraper(running):
                run_connections(running, python, COUNT // ROUNDS)
                run_processes(running, true, COUNT // ROUNDS)

            def back():
                now = state(running)
                return (now["processes"] <= before["processes"] + 2
                        and now["connections"] <= before["connections"] + SLACK_CONNECTIONS
                        and now["idle_connections"] <= before["idle_connections"]
                        + SLACK_CONNECTIONS
                        and now["series"] <= before["series"] + SLACK_SERIES
                        and not ours(running)) and now
            try:
                after = wait_until(back, 30, "the tables and series back at their baseline")
            except SystemExit:
                grown = sorted(set(series_names(running)) - baseline_series)
                fail(f"not back to the baseline: before {before}, now {state(running)}; "
                     f"ours left: {sorted(set(ours(running)))[:10]}; new series: {grown[:10]}")
            time.sleep(TRIM_SECONDS)  # the agent gives freed memory back every 10 s
            heaps.append(rss_mib(running.process.pid)["RssAnon"])
            print(f"after round {round_number + 1}: {after}, heap {heaps[-1]:.1f} MiB")
        # The first round fills what is bounded (the table of recently gone
        # processes, malloc's arenas); a leak would grow again in the second.
        if heaps[-1] - heaps[0] > HEAP_BOUND_MIB:
            fail(f"the heap grew {heaps[-1] - heaps[0]:.1f} MiB from the first round to the "
                 f"last (bound {HEAP_BOUND_MIB})")
        drops = {f"{l['stage']}/{l['reason']}": v for n, l, v in running.samples()
                 if n == "infrared_dropped_total" and v}
        print(f"drops: {drops}")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
