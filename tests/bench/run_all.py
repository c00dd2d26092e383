#!/usr/bin/python3
"""Runs every overhead benchmark of tests/bench and prints one table.

    tests/bench/run_all.py [seconds=10]

Each figure is measured side by side in one run of its benchmark (without the
agent, with it, without again), as machines are noisy: see each script for what
it does. `seconds` sets the wrk runs, each rate of the steady load and the idle
measurement. Needs root, nginx, wrk, bpftrace, gcc, node with tests/peers'
modules (npm ci), python3-httpx and a built agent.

The userspace pipeline row comes from infrared_pipeline_bench (Google Benchmark,
a capture of socket records replayed without BPF: by default the one
infrared_make_capture generates, tests/bench/data/http_mix.ircap): $INFRARED_PIPELINE_BENCH, else
tests/bench/infrared_pipeline_bench in $INFRARED_BUILD_DIR (default build/). A second
row replays a capture record_nginx.py records (5 s of nginx + wrk)."""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def run(argv):
    print("running " + " ".join(argv), file=sys.stderr, flush=True)
    result = subprocess.run(argv, capture_output=True, text=True, cwd=HERE)
    if result.returncode != 0:
        return None, result.stderr.strip().splitlines()[-1:] or ["failed"]
    return result.stdout, None


def grab(text, pattern):
    match = re.search(pattern, text or "", re.MULTILINE)
    return match.group(1) if match else "?"


def pipeline_bench(capture=None):
    """Median events/s per core of the pipeline without and with spans, and bytes/s per
    core of the parser's resync over bytes that are not HTTP, or (None, error); from
    `capture` if given, else the bench's default one."""
    binary = os.environ.get("INFRARED_PIPELINE_BENCH") or os.path.join(
        REPO, os.environ.get("INFRARED_BUILD_DIR", "build"), "tests", "bench", "infrared_pipeline_bench")
    if not os.path.exists(binary):
        return None, [f"{binary} does not exist: build the target infrared_pipeline_bench"]
    out, error = run([binary, "--benchmark_filter=^(pipeline(\\+spans)?|resync)$", "--benchmark_repetitions=5",
                      "--benchmark_report_aggregates_only=true", "--benchmark_format=json"]
                     + ([f"--capture={capture}"] if capture else []))
    if error:
        return None, error
    medians = {b["run_name"]: b.get("events", b.get("bytes_per_second"))
               for b in json.loads(out)["benchmarks"] if b.get("aggregate_name") == "median"}
    return medians, None


def main():
    seconds = sys.argv[1] if len(sys.argv) > 1 else "10"
    rows = []  # (benchmark, figure, value, target)
    out, error = run([sys.executable, "http_overhead.py", seconds])
    rows.append(("nginx + wrk, plain HTTP", "throughput with/without", grab(out, r"^ratio with/without: ([\d.]+)"),
                 ">= 0.95"))
    rows.append(("", "agent CPU % of a core", grab(out, r"\(([\d.]+)% of one core\)"), ""))
    rows.append(("", "agent peak RSS MiB", grab(out, r"^agent peak RSS: ([\d.]+) MiB"), ""))
    rows.append(("", "throughput capture off/without", grab(out, r"^ratio capture off/without: ([\d.]+)"),
                 ">= 0.99"))
    rows.append(("", "syscall hook floor/without", grab(out, r"^ratio hook floor/without: ([\d.]+)"), ""))
    out, error_llm = run([sys.executable, "llm_overhead.py"])
    rows.append(("LLM-shaped: 2 s streams over TLS", "call wall time with/without",
                 grab(out, r"^ratio with/without: ([\d.]+)"), "<= 1.005"))
    rows.append(("", "agent CPU s, peak RSS MiB", grab(out, r"^agent CPU: ([\d.]+ s, peak RSS [\d.]+) MiB"), ""))
    out, error_steady = run([sys.executable, "steady_load.py", seconds])
    rows.append(("nginx at 1,000 req/s", "agent VmRSS, VmHWM",
                 grab(out, r"^1000 req/s agent: .*VmRSS ([\d.]+ MiB, VmHWM [\d.]+ MiB)"), "<= 64 MB"))
    rows.append(("nginx at 10,000 req/s", "requests sent; not reported or dropped",
                 grab(out, r"^10000 req/s for .*: sent (\d+)") + "; " +
                 ("none" if out and "FAIL" not in out else "see steady_load.py"), "none lost"))
    out, error_tls = run([sys.executable, "tls_overhead.py", seconds])
    ratio, floor = grab(out, r"^ratio with/without:\s+([\d.]+)"), grab(out, r"^ratio floor/without: ([\d.]+)")
    rows.append(("nginx + wrk, TLS", "throughput with/without", ratio, ""))
    rows.append(("", "bpftrace floor/without", floor, ""))
    rows.append(("", "agent / floor (median of 3 rounds)", grab(out, r"^ratio agent/floor: ([\d.]+)"),
                 ">= 0.91 (within 1.1x)"))
    rows.append(("", "agent CPU % of a core, peak RSS MiB",
                 grab(out, r"^agent CPU during the run: .*\(([\d.]+)% of one core\)") + ", " +
                 grab(out, r"^agent peak RSS: ([\d.]+) MiB"), ""))
    out, error_proc = run([sys.executable, "process_overhead.py"])
    for name in ("fork-heavy", "cpu-heavy"):
        rows.append((f"{name} (time)", "with/without", grab(out, rf"^{name} ratio with/without: ([\d.]+)"),
                     ""))
        rows.append(("", "agent CPU s, peak RSS MiB",
                     grab(out, rf"^{name} agent CPU: ([\d.]+ s, peak RSS [\d.]+) MiB"), ""))
    out, error_idle = run(["bash", "idle_overhead.sh", seconds])
    rows.append(("idle host", "agent CPU % of a core", grab(out, r"= ([\d.]+)% of one core"), ""))
    rows.append(("", "agent VmHWM", grab(out, r"^VmHWM: (\d+ kB)"), "<= 64 MB (at 1k req/s)"))
    medians, error_pipeline = pipeline_bench()
    medians = medians or {}
    rows.append(("userspace pipeline, capture replayed", "events/s/core",
                 f"{medians['pipeline']:,.0f}" if "pipeline" in medians else "?", ">= 1,000,000"))
    rows.append(("", "events/s/core, spans built",
                 f"{medians['pipeline+spans']:,.0f}" if "pipeline+spans" in medians else "?", ""))
    rows.append(("HTTP parser resync, non-HTTP bytes", "MB/s/core",
                 f"{medians['resync'] / 1e6:,.0f}" if "resync" in medians else "?", ""))
    with tempfile.TemporaryDirectory() as directory:
        capture = os.path.join(directory, "nginx.ircap")
        out, error_recorded = run([sys.executable, "record_nginx.py", capture, "5"])
        recorded = {}
        if not error_recorded:
            recorded, error_recorded = pipeline_bench(capture)
    recorded = recorded or {}
    rows.append(("userspace pipeline, recorded nginx + wrk", "events/s/core",
                 f"{recorded['pipeline']:,.0f}" if "pipeline" in recorded else "?", ">= 1,000,000"))
    rows.append(("", "events/s/core, spans built",
                 f"{recorded['pipeline+spans']:,.0f}" if "pipeline+spans" in recorded else "?", ""))
    width = [max(len(str(r[i])) for r in rows) for i in range(4)]
    for row in [("benchmark", "figure", "value", "target")] + rows:
        print("  ".join(str(cell).ljust(width[i]) for i, cell in enumerate(row)).rstrip())
    failures = [e for e in (error, error_llm, error_steady, error_tls, error_proc, error_idle,
                            error_pipeline, error_recorded) if e]
    for failure in failures:
        print(f"a benchmark failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
