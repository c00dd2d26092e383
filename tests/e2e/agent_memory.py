"""The agent's memory as /proc reports it, sampled in the background."""
import threading
import time


def rss_mib(pid):
    figures = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "RssAnon"):
                figures[name] = int(rest.split()[0]) / 1024
    return figures


class MemorySampler:
    """The agent's VmRSS and RssAnon (MiB) every 100 ms, with their times."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []
        self.stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)

    def _run(self):
        while not self.stop.is_set():
            try:
                self.samples.append((time.monotonic(), rss_mib(self.pid)))
            except OSError:
                return  # the agent is gone; the test says so
            self.stop.wait(0.1)

    def peak(self, name, since=0.0, until=float("inf")):
        return max((s[name] for t, s in list(self.samples) if since <= t <= until), default=0.0)
