"""The whole agent under AddressSanitizer, LeakSanitizer and UBSan, in one e2e run.

INFRARED_BINARY is infrared_asan. Existing e2e tests that between them drive every
part of the agent (HTTP and its parsers, TLS uprobes on OpenSSL, node and Go, GenAI
with compressed bodies and streams, process events, TCP, OTLP export, Kubernetes
attribution) run one after another against it. Every agent they start copies its
stderr and exit status to a directory (agent.py, INFRARED_AGENT_LOG_DIR). The run
fails if a test fails, if an agent's stderr holds a sanitizer report, or if an agent
did not exit with 0 (the tests stop it with SIGTERM or SIGINT): LeakSanitizer looks for
leaks only at that exit, and any report makes the agent exit with 66, at once.

Run by hand: INFRARED_BINARY=build/infrared_asan python3 tests/e2e/sanitized_run.py
[test_name ...]
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import agent
from agent import fail

# Each test with what it brings to the run. Left out: tests whose bounds assume an
# agent at full speed (test_cli: stops within 1 s; test_genai_timing, test_tcp_latency,
# test_cpu_prometheus; test_genai_large_requests: decides within one poll), tests of
# the agent's own memory alone (test_otlp_outage: RSS under 200 MiB, ASan's shadow and
# quarantine take more; the tests below that also bound memory report their bounds here
# and leave them to the plain run, agent.memory_bound), test_deploy_manifests (the image does not ship libasan),
# test_otlp_retry (captures every process on the host, and waits for a moment when
# every span built has been exported, which other tests' traffic may never leave it),
# test_http_nginx (its pipelining and sendfile cases: test_http_python_curl and the
# unit tests cover the parser), test_load_accounting (the slowed agent loses close events too, and with
# them the last losses of a connection: a known limit, see README),
# and near-repeats of what is here (test_tcp_accept,
# test_tcp_retransmits, test_process_selection, test_genai_cost, test_memory), to keep
# the run short.
TESTS = [
    "test_http_python_curl",   # HTTP/1 framer, parser, stitcher: python http.server and curl
    "test_http_selection",     # selected executables, per-process capture decisions
    "test_https_clients",      # TLS targets and uprobes: OpenSSL, node, Go (capstone)
    "test_https_bodies",       # chunked and keep-alive over TLS, a 5 MiB download
    "test_https_lifecycle",    # uprobes attached and dropped as libraries come and go
    "test_https_not_http",     # TLS that is not HTTP: per-connection decisions
    "test_https_namespace",    # a client in its own mount namespace: libraries by /proc/pid/root
    "test_genai_sdks",         # SSE, NDJSON, gzip/deflate/br/zstd, provider shapes, prices
    "test_genai_errors",       # error bodies, streams cut short
    "test_genai_secrets",      # redaction, content capture
    "test_lifecycle",          # 1,000 exec/exit events, the process table
    "test_exec_identity",      # argv and environment copied at exec, a process title after
    "test_loss",               # a full ring buffer, drops counted, /proc rescans
    "test_table_accounting",   # a full connection table: refusals, kernel counts, TLS notices
    "test_idle_resume",        # a connection forgotten idle, remembered, and resumed
    "test_exposition",         # hostile executable names through both exposition formats
    "test_tcp_bytes",          # tcp.bpf.c records and the TCP fold
    "test_tcp_refused",        # failed connects
    "test_otlp_export",        # spans, the protobuf encoder, the batch exporter and curl
    "test_k8s_attribution",    # cgroup paths, pod logs, the pod catalog, exclusions
    "test_k8s_api",            # the API client over TLS: list, watch, 410 and relist
    "test_dashboard_metrics",  # every metric family the dashboards use, resets and refusals
    "test_hostile_inputs",     # 1 MiB header lines, header floods, bad chunks, garbage, endless SSE
    "test_scrape_storm",       # 50 concurrent scrapes under load, both exposition formats
    "test_otlp_faults",        # a receiver slow, refusing and answering garbage
]
TEST_TIMEOUT_S = 150

ASAN_OPTIONS = ":".join([
    "halt_on_error=1",
    "abort_on_error=0",
    "exitcode=66",
    "detect_leaks=1",
    "detect_stack_use_after_return=1",
    "check_initialization_order=1",
    "strict_init_order=1",
])
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1:exitcode=66"
# Sanitizer reports, and libstdc++'s own (_GLIBCXX_ASSERTIONS).
REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|WARNING: AddressSanitizer|runtime error:"
                    r"|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer|Assertion '.*' failed")


def run_test(name, log_dir):
    """(exit code, seconds, output) of one test run against the sanitized agent."""
    env = dict(os.environ, INFRARED_AGENT_LOG_DIR=log_dir, ASAN_OPTIONS=ASAN_OPTIONS,
               UBSAN_OPTIONS=UBSAN_OPTIONS, INFRARED_E2E_SANITIZED="1")
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, os.path.join(agent.HERE, f"{name}.py")], env=env,
                                cwd=agent.HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                timeout=TEST_TIMEOUT_S)
        code, output = result.returncode, result.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as timeout:
        code, output = None, (timeout.stdout or b"").decode(errors="replace")
        output += f"\n(killed after {TEST_TIMEOUT_S} s)"
    return code, time.monotonic() - started, output


def agent_problems(log_dir):
    """One message per agent whose stderr holds a sanitizer report or that did not
    exit with 0; and how many agents ran."""
    problems = []
    stems = sorted(f[:-len(".stderr")] for f in os.listdir(log_dir) if f.endswith(".stderr"))
    for stem in stems:
        # The agent's own log lines are JSON; a report is the other lines, which the
        # agent's threads may have interleaved with log lines.
        with open(os.path.join(log_dir, stem + ".stderr"), errors="replace") as stderr:
            lines = [line for line in stderr.read().splitlines() if not line.startswith("{")]
        reported = [i for i, line in enumerate(lines) if REPORT.search(line)]
        if reported:
            report = "\n".join(lines[max(0, reported[0] - 1):reported[0] + 80])
            problems.append(f"{stem}: a sanitizer report in its stderr:\n{report}")
        status_path = os.path.join(log_dir, stem + ".status")
        if not os.path.exists(status_path):
            problems.append(f"{stem}: the test never stopped it, so no exit status")
            continue
        with open(status_path) as status_file:
            status = status_file.read().strip()
        if status.split()[0] != "0":
            problems.append(f"{stem}: exit status {status}, not 0")
    return problems, len(stems)


def main():
    agent.require_bpf()
    binary = agent.binary()
    names = sys.argv[1:] or TESTS
    failed = []
    with tempfile.TemporaryDirectory(prefix="infrared-sanitized-") as root:
        for name in names:
            log_dir = os.path.join(root, name)
            os.mkdir(log_dir)
            code, seconds, output = run_test(name, log_dir)
            problems, agents = agent_problems(log_dir)
            if agents == 0:
                problems.append("no agent ran: the test does not start one through agent.Agent")
            verdict = "passed" if code == 0 else f"FAILED (exit {code})"
            print(f"{name}: {verdict} in {seconds:.1f} s, {agents} agent(s), "
                  f"{len(problems)} sanitizer or exit problem(s)", flush=True)
            if code != 0:
                print("\n".join(output.splitlines()[-40:]), flush=True)
            for problem in problems:
                print(problem, flush=True)
            if code != 0 or problems:
                failed.append(name)
    if failed:
        fail(f"under {os.path.basename(binary)}: {', '.join(failed)}")
    print(f"{len(names)} tests passed under {os.path.basename(binary)}, no sanitizer report")


if __name__ == "__main__":
    main()
