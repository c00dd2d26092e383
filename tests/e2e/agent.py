"""Helpers for end-to-end tests: run the real agent, scrape it, parse the exposition.

Tests need root and a kernel with BPF and BTF. Without them a test skips (exit 77)
with a message saying why, unless INFRARED_REQUIRE_BPF=1, where it fails.
With INFRARED_AGENT_LOG_DIR set, every agent's raw stderr goes to agent-<pid>.stderr
there and its exit status, once stopped, to agent-<pid>.status (sanitized_run.py
reads them).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def binary():
    path = os.environ.get("INFRARED_BINARY", os.path.join(REPO, "build", "infrared"))
    if not os.path.exists(path):
        fail(f"the agent binary {path} does not exist; build it first (scripts/test does)")
    return path


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def memory_bound(exceeded, message):
    """Fails with `message` when `exceeded`, except under the sanitized run: there
    AddressSanitizer's quarantine, redzones and allocator caches add their own memory
    (tens to hundreds of MiB), so the bound is reported and left to the plain run,
    which enforces it."""
    if not exceeded:
        return
    if os.environ.get("INFRARED_E2E_SANITIZED") == "1":
        print(f"not enforced under the sanitizers (the plain run enforces it): {message}")
        return
    fail(message)


def skip_or_fail(reason):
    if os.environ.get("INFRARED_REQUIRE_BPF") == "1":
        fail(f"{reason} (INFRARED_REQUIRE_BPF=1, so this is a failure, not a skip)")
    print(f"SKIP: {reason}", file=sys.stderr)
    sys.exit(SKIP)


def require_bpf():
    if os.geteuid() != 0:
        skip_or_fail("this test loads eBPF programs and needs root")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip_or_fail("this kernel has no BTF at /sys/kernel/btf/vmlinux")


def require_program(name):
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if not path:
        fail(f"{name} is not installed; scripts/install-deps installs it")
    return path


def read_json_lines(path):
    """The JSON objects of a JSON-lines file another process is still writing:
    a last line without its newline is being written, so it is left for later."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    complete = data[:data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Agent:
    """The real agent on 127.0.0.1 and a port the kernel picks."""

    def __init__(self, *args, log_level="info"):
        self.args = [binary(), "--web.listen-address", "127.0.0.1:0",
                     "--log.level", log_level, *args]
        self.lines = []
        self.lock = threading.Lock()
        self.port = None

    def __enter__(self):
        self.process = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.copy = None
        self.status_written = False
        log_dir = os.environ.get("INFRARED_AGENT_LOG_DIR")
        if log_dir:
            self.copy_path = os.path.join(log_dir, f"agent-{self.process.pid}")
            self.copy = open(self.copy_path + ".stderr", "wb")
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()
        ready = wait_until(lambda: self._find_log(lambda e: e.get("msg") == "ready")
                           or self.process.poll() is not None, 20, "the agent to become ready")
        if self.process.poll() is not None:
            self.reader.join(2)
            fail(f"the agent exited with {self.process.returncode}: {self.log_text()}")
        self.port = ready["port"]
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self, sig=signal.SIGTERM):
        how = "had exited"
        if self.process.poll() is None:
            self.process.send_signal(sig)
            how = f"stopped with {signal.Signals(sig).name}"
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                how = f"killed 10 s after {signal.Signals(sig).name}"
        self.reader.join(5)
        if self.copy and not self.status_written:
            self.status_written = True
            with open(self.copy_path + ".status", "w") as status:
                print(self.process.returncode, how, file=status)
        return self.process.returncode

    def _read_log(self):
        for raw in self.process.stderr:
            if self.copy:
                self.copy.write(raw)
                self.copy.flush()
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = {"unparsed": raw.decode(errors="replace")}
            with self.lock:
                self.lines.append(entry)

    def _find_log(self, predicate):
        with self.lock:
            for entry in self.lines:
                if predicate(entry):
                    return entry
        return None

    def log_entries(self):
        with self.lock:
            return list(self.lines)

    def log_text(self):
        return "\n".join(json.dumps(e) for e in self.log_entries())

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path, accept=None):
        request = urllib.request.Request(self.url(path))
        if accept:
            request.add_header("Accept", accept)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type"), response.read()

    def scrape(self, accept=None):
        status, _, body = self.get("/metrics", accept)
        if status != 200:
            fail(f"/metrics answered {status}")
        return body.decode("utf-8")

    def samples(self, accept=None):
        return parse_exposition(self.scrape(accept))


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def _parse_labels(text):
    labels = {}
    i = 1
    while i < len(text) - 1:
        eq = text.index("=", i)
        name = text[i:eq].strip(",")
        assert text[eq + 1] == '"', text
        j = eq + 2
        value = []
        while text[j] != '"':
            if text[j] == "\\":
                value.append({"n": "\n", "\\": "\\", '"': '"'}[text[j + 1]])
                j += 2
            else:
                value.append(text[j])
                j += 1
        labels[name] = "".join(value)
        i = j + 1
        if i < len(text) and text[i] == ",":
            i += 1
    return labels


def parse_exposition(text):
    """[(name, {label: value}, float)] for every sample line."""
    samples = []
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            fail(f"unparseable exposition line: {line!r}")
        samples.append((match.group(1), _parse_labels(match.group(2) or "{}"), float(match.group(3))))
    return samples


def find(samples, name, **labels):
    return [s for s in samples if s[0] == name and all(s[1].get(k) == v for k, v in labels.items())]


def value(samples, name, **labels):
    found = find(samples, name, **labels)
    return found[0][2] if len(found) == 1 else None


def within(actual, expected, tolerance):
    return expected > 0 and abs(actual - expected) <= tolerance * expected
