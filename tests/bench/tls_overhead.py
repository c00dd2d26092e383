#!/usr/bin/python3
"""nginx + wrk over TLS: throughput without the agent, with it, and with bare
bpftrace uprobes on the same libssl functions (the floor), in one run.

    tests/bench/tls_overhead.py [seconds=10] [connections=16] [agent flags...]

Runs wrk against a local HTTPS nginx (one worker, self-signed certificate,
keepalive) serving a small static file: alone, with the agent, with bpftrace
counting hits on the entries and returns of SSL_write, SSL_read, SSL_write_ex
and SSL_read_ex and the entries of SSL_shutdown and SSL_free in the libssl
nginx links (wrk links it too, so both ends' calls hit), then alone again (to
see the noise). The agent and the floor take turns three times and each is the
median of its rounds, as uprobe costs swing from run to run on a shared
machine. The floor is what any uprobe-based TLS capture pays before
doing any work; the agent's cost above it is its own. Needs root, nginx, wrk,
openssl, bpftrace and a built agent."""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from agent import Agent, fail, require_program, wait_until  # noqa: E402
from http_peers import Nginx  # noqa: E402
from proc_usage import cpu_seconds, peak_rss_kib  # noqa: E402

ROUNDS = 3
DATA_FUNCTIONS = ("SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex")
LIFECYCLE_FUNCTIONS = ("SSL_shutdown", "SSL_free")


class TlsNginx(Nginx):
    """The e2e nginx peer, listening with TLS on a fresh self-signed certificate."""

    def __init__(self, directory):
        super().__init__(directory)
        cert = os.path.join(directory, "cert.pem")
        key = os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        with open(self.conf) as f:
            conf = f.read()
        plain = f"listen 127.0.0.1:{self.port};"
        if plain not in conf:
            fail(f"the nginx peer's config has no '{plain}' line to turn into a TLS listener")
        conf = conf.replace(plain, f"listen 127.0.0.1:{self.port} ssl;\n"
                                   f"    ssl_certificate {cert};\n"
                                   f"    ssl_certificate_key {key};")
        with open(self.conf, "w") as f:
            f.write(conf)


def nginx_libssl():
    """The libssl.so.3 nginx loads, where both the agent's and bpftrace's uprobes go."""
    nginx = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else require_program("nginx")
    out = subprocess.run(["ldd", nginx], capture_output=True, text=True, check=True).stdout
    match = re.search(r"libssl\.so\.3 => (\S+)", out)
    if not match:
        fail(f"{nginx} does not link libssl.so.3 dynamically, so there is nothing to probe")
    return os.path.realpath(match.group(1))


def wrk(port, seconds, connections):
    """(requests/sec, requests completed) of one wrk run."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s",
                          f"https://127.0.0.1:{port}/index.html"],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        fail(f"nginx answered wrk with errors, so the numbers mean nothing:\n{out}")
    socket_errors = re.search(r"Socket errors:.*", out)
    if socket_errors:
        print(f"note: wrk {socket_errors.group(0)}", file=sys.stderr)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return rate, requests


class Bpftrace:
    """bpftrace counting hits on the agent's libssl probe points, and nothing else."""

    def __init__(self, libssl):
        self.points = ([f"uprobe:{libssl}:{f}" for f in DATA_FUNCTIONS + LIFECYCLE_FUNCTIONS]
                       + [f"uretprobe:{libssl}:{f}" for f in DATA_FUNCTIONS])
        # BEGIN fires only after every other probe is attached, so its line means "ready".
        self.program = ('BEGIN { printf("ready\\n"); } '
                        + ",".join(self.points) + " { @[probe] = count(); }")
        self.lines = []
        self.lock = threading.Lock()

    def __enter__(self):
        self.process = subprocess.Popen(["bpftrace", "-e", self.program], text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        wait_until(lambda: "ready" in self._lines() or self.process.poll() is not None,
                   60, "bpftrace to attach its probes")
        if self.process.poll() is not None:
            self.reader.join(2)
            fail(f"bpftrace exited with {self.process.returncode}: "
                 f"{''.join(self._lines())}{self.process.stderr.read()}")
        attaching = next((l for l in self._lines() if l.startswith("Attaching")), "")
        expected = f"Attaching {len(self.points) + 1} probes"
        if not attaching.startswith(expected):
            fail(f"bpftrace said {attaching!r}, expected {expected!r}")
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(5)

    def _read(self):
        for line in self.process.stdout:
            with self.lock:
                self.lines.append(line.strip())

    def _lines(self):
        with self.lock:
            return list(self.lines)

    def hits(self):
        """{probe: count} printed when bpftrace stopped."""
        counts = {}
        for line in self._lines():
            match = re.match(r"@\[(\S+)\]: (\d+)$", line)
            if match:
                counts[match.group(1)] = int(match.group(2))
        return counts


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    agent_flags = sys.argv[3:]  # e.g. --http.tls=false: the socket probes alone
    if os.geteuid() != 0:
        fail("this benchmark loads eBPF programs and needs root")
    for program in ("wrk", "openssl", "bpftrace"):
        require_program(program)
    libssl = nginx_libssl()
    with tempfile.TemporaryDirectory() as directory, TlsNginx(os.path.join(directory, "n")) as nginx:
        wrk(nginx.port, 2, connections)  # warm up
        alone, _ = wrk(nginx.port, seconds, connections)
        # Uprobe costs swing from run to run here: the agent and the floor take
        # turns, and each figure is the median of its rounds.
        watched_rounds, floor_rounds, agent_cpu, peak_kib = [], [], 0.0, 0
        for _ in range(ROUNDS):
            with Agent(*agent_flags) as running:
                time.sleep(1)
                cpu_before = cpu_seconds(running.process.pid)
                watched_rounds.append(wrk(nginx.port, seconds, connections)[0])
                agent_cpu += cpu_seconds(running.process.pid) - cpu_before
                peak_kib = max(peak_kib, peak_rss_kib(running.process.pid))
            with Bpftrace(libssl) as tracer:
                floor_rate, floor_requests = wrk(nginx.port, seconds, connections)
                floor_rounds.append(floor_rate)
        again, _ = wrk(nginx.port, seconds, connections)
    hits = tracer.hits()
    baseline = (alone + again) / 2
    watched, floor = statistics.median(watched_rounds), statistics.median(floor_rounds)
    agent_cpu /= ROUNDS
    print(f"probed library: {libssl}")
    print(f"nginx+wrk TLS requests/sec without agent:  {alone:.0f} (again after: {again:.0f})")
    print(f"nginx+wrk TLS requests/sec with agent:     {watched:.0f}")
    print(f"nginx+wrk TLS requests/sec bpftrace floor: {floor:.0f}")
    print(f"ratio with/without:  {watched / baseline:.3f}")
    print(f"ratio floor/without: {floor / baseline:.3f}")
    print(f"ratio agent/floor: {watched / floor:.3f} (rounds: "
          + ", ".join(f"{w:.0f}/{f:.0f}" for w, f in zip(watched_rounds, floor_rounds)) + ")")
    print(f"agent CPU during the run: {agent_cpu:.2f} s over {seconds} s "
          f"({100 * agent_cpu / seconds:.1f}% of one core)")
    print(f"agent peak RSS: {peak_kib / 1024:.1f} MiB")
    print(f"floor probe hits (last round): {sum(hits.values())} "
          f"({sum(hits.values()) / max(floor_requests, 1):.1f} per request)")
    for probe in tracer.points:
        print(f"  {probe.split(':')[0]}:{probe.rsplit(':', 1)[1]}: {hits.get(probe, 0)}")


if __name__ == "__main__":
    main()
