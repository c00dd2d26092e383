"""The agent's boundary: --help, bad flags and config (exit 2, one sentence),
a user that cannot load BPF (exit 1, names the capability), /healthz and
/readyz, and SIGINT/SIGTERM (detach every probe, exit 0 within a second)."""
import os
import signal
import subprocess
import tempfile
import time

import agent
from agent import Agent, fail, wait_until

KEYS = ["web.listen_address", "metrics.series_idle_seconds", "log.format", "log.level", "process.max_processes",
        "process.events_buffer_bytes", "process.rescan_interval_seconds",
        "k8s.pod_logs_dir", "k8s.container_logs_dir", "k8s.api", "k8s.token_file", "k8s.ca_file",
        "k8s.node_name", "select.executables", "select.command_lines", "select.containers",
        "select.k8s_namespaces", "select.k8s_pod_labels", "select.llm_only", "exclude.executables",
        "exclude.command_lines", "exclude.containers", "exclude.k8s_namespaces",
        "exclude.k8s_pod_labels", "tcp.enabled", "http.enabled",
        "http.tls", "http.max_connections", "http.connection_idle_seconds", "http.route_patterns",
        "capture.executables", "capture.bytes_per_call", "capture.events_buffer_bytes",
        "capture.content", "capture.content_max_bytes", "genai.enabled", "genai.max_body_bytes",
        "genai.bytes_per_call",
        "genai.prices_file", "genai.gateways", "spans.output", "spans.queue_size", "otlp.endpoint", "otlp.traces_endpoint",
        "otlp.headers", "otlp.timeout_ms", "otlp.compression", "otlp.ca_file", "otlp.queue_size",
        "otlp.max_batch", "otlp.max_delay_ms"]


def run(*args, user=None):
    command = [agent.binary(), *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                   "--inh-caps=-all", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


def check_usage_errors():
    result = run("--help")
    if result.returncode != 0:
        fail(f"--help exited {result.returncode}")
    for key in KEYS:
        flag = "--" + key.replace("_", "-")
        if key not in result.stdout or flag not in result.stdout:
            fail(f"--help does not list {key} / {flag}")
    with open(os.path.join(agent.REPO, "README.md")) as f:
        readme = f.read()
    documented = [line.split("config key: ")[1].split(",")[0]
                  for line in result.stdout.splitlines() if "config key: " in line]
    if sorted(documented) != sorted(KEYS):
        fail(f"--help lists config keys {documented}, the test knows {KEYS}")
    for key in documented:
        if f"`{key}`" not in readme:
            fail(f"README.md does not document the config key {key}")
    cases = [
        (["--no-such-flag"], "--no-such-flag"),
        (["--log.level", "loud"], "loud"),
        (["--process.max-processes=-5"], "-5"),
        (["positional"], "positional"),
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as bad_key, \
            tempfile.NamedTemporaryFile("w", suffix=".yaml") as bad_yaml:
        bad_key.write("web:\n  listen_adress: ':1'\n")
        bad_key.flush()
        bad_yaml.write("web: [unclosed\n")
        bad_yaml.flush()
        cases += [(["--config", bad_key.name], "listen_adress"),
                  (["--config", bad_yaml.name], bad_yaml.name),
                  (["--config", "/nonexistent/infrared.yaml"], "/nonexistent/infrared.yaml"),
                  # Operator text with a line break is echoed on the one line.
                  (["--config", "/nonexistent/a\nb.yaml"], "/nonexistent/a?b.yaml"),
                  (["--log.level", "loud\nquiet"], 'Invalid value "loud?quiet"'),
                  # Endless: read up to a bound, then refused, not read until memory ends.
                  (["--config", "/dev/zero"], "larger than 4 MiB"),
                  (["--web.listen-address", "127.0.0.1:0", "--log.level", "error",
                    "--genai.prices-file", "/dev/zero"], "larger than 4 MiB"),
                  # An unusable price table is bad config too, found once the agent runs.
                  (["--web.listen-address", "127.0.0.1:0", "--log.level", "error",
                    "--genai.prices-file", bad_yaml.name], bad_yaml.name)]
        for args, mention in cases:
            result = run(*args)
            message = result.stderr.strip()
            if result.returncode != 2 or mention not in message or "\n" in message:
                fail(f"{args}: exit {result.returncode}, said {message!r}; "
                     f"expected exit 2 and one line naming {mention!r}")


def check_unprivileged():
    result = run("--web.listen-address", "127.0.0.1:0", user=65534)
    if result.returncode != 1 or "CAP_BPF" not in result.stderr:
        fail(f"as nobody: exit {result.returncode}, said {result.stderr!r}")


def check_unusable_span_output():
    """An error after the endpoint started still ends the agent at once."""
    path = "/nonexistent/infrared/spans.jsonl"
    start = time.monotonic()
    result = run("--web.listen-address", "127.0.0.1:0", "--spans.output", path)
    took = time.monotonic() - start
    if result.returncode != 1 or path not in result.stderr or took > 10:
        fail(f"unusable --spans.output: exit {result.returncode} after {took:.1f}s, "
             f"said {result.stderr!r}")


def programs_of(pid):
    """Ids of the BPF programs a process holds (other agents may run meanwhile)."""
    ids = set()
    directory = f"/proc/{pid}/fdinfo"
    for name in os.listdir(directory):
        try:
            with open(os.path.join(directory, name)) as f:
                ids.update(int(line.split()[1]) for line in f if line.startswith("prog_id:"))
        except OSError:
            pass
    return ids


def loaded(program_ids):
    out = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True).stdout
    present = {int(line.split(":")[0]) for line in out.splitlines() if line[:1].isdigit()}
    return program_ids & present


def check_endpoints_and_signals():
    for sig in (signal.SIGTERM, signal.SIGINT):
        running = Agent().__enter__()
        for path, expected in (("/healthz", b"ok\n"), ("/readyz", b"ready\n")):
            status, _, body = running.get(path)
            if status != 200 or body != expected:
                fail(f"{path} answered {status} {body!r}")
        programs = programs_of(running.process.pid)
        if len(programs) < 8 or loaded(programs) != programs:
            fail(f"the agent holds programs {programs}; loaded of them: {loaded(programs)}")
        start = time.monotonic()
        code = running.stop(sig)
        took = time.monotonic() - start
        print(f"{signal.Signals(sig).name}: exit {code} after {took:.3f}s")
        if code != 0 or took > 1.0:
            fail(f"after {signal.Signals(sig).name}: exit {code} in {took:.2f}s; want 0 within 1s")
        # The kernel frees a detached program after an RCU grace period.
        wait_until(lambda: not loaded(programs), 5,
                   "the agent's programs to be unloaded after it stopped")


def check_tcp_can_be_turned_off():
    """--tcp.enabled=false: no TCP probe attached, no tcp_* series, the rest runs."""
    def tcp_parts(running):
        samples = running.samples()
        return ([n for n, _, _ in samples if n.startswith("tcp_")],
                [l.get("probe") for n, l, _ in samples
                 if n == "infrared_probe_attached" and l.get("probe") == "inet_sock_set_state"],
                [n for n, _, _ in samples if n == "process_cpu_time_seconds_total"])
    with Agent("--tcp.enabled=false") as running:
        series, probes, processes = tcp_parts(running)
        if series or probes or not processes:
            fail(f"--tcp.enabled=false: tcp series {series[:3]}, TCP probes {probes}, "
                 f"{len(processes)} process series")
    with Agent() as running:
        wait_until(lambda: tcp_parts(running)[1], 10, "the TCP probes, on by default")
    print("--tcp.enabled=false leaves TCP out; on by default")


def main():
    check_usage_errors()
    agent.require_bpf()
    check_unprivileged()
    check_endpoints_and_signals()
    check_unusable_span_output()
    check_tcp_can_be_turned_off()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
