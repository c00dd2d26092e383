"""Acceptance 4 and 5: processes whose executable names hold quotes,
backslashes, newlines and bytes that are not UTF-8, started before the agent
(seeded from /proc) and after it (seen by exec), with such an OTEL_SERVICE_NAME
too; and a process that renames itself with prctl(PR_SET_NAME). The exposition
stays valid: `promtool check metrics` reports nothing on the text format, and
the OpenMetrics format is well formed and ends with # EOF."""
import os
import shutil
import subprocess
import tempfile

import agent
from agent import Agent, fail, find, wait_until

WEIRD = b'we"ird\\back\nline\xff\xfe'
WEIRD_SHOWN = 'we"ird\\back\nline\ufffd\ufffd'
RENAME = b"""
import ctypes, sys
ctypes.CDLL(None).prctl(15, b'pr"ct\\\\l\\n\\xff', 0, 0, 0)  # PR_SET_NAME
sys.stdin.read()
"""


def promtool(text):
    result = subprocess.run([agent.require_program("promtool"), "check", "metrics"],
                            input=text.encode(), capture_output=True)
    return result.returncode, (result.stdout + result.stderr).decode(errors="replace")


def open_metrics_problems(text):
    """promtool 2.42 parses only the text format. On OpenMetrics input it reads
    `# TYPE x counter` and the samples `x_total` as two families and says
    `x_total no help text`; those lines are its limit, not ours, as long as x
    has a HELP line. Everything else it says is a problem."""
    code, output = promtool(text)
    helped = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    problems = [line for line in output.splitlines() if line.strip() and not (
        line.endswith(" no help text") and line.split()[0].endswith("_total")
        and line.split()[0][:-len("_total")] in helped)]
    return problems


def check_readme_catalogue(text):
    """Every metric family and label the agent exports is documented in README.md."""
    with open(os.path.join(agent.REPO, "README.md")) as f:
        readme = f.read()
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    labels = {name for _, sample_labels, _ in agent.parse_exposition(text) for name in sample_labels}
    labels.discard("le")
    missing = sorted(n for n in families | labels if f"`{n}`" not in readme and n not in readme)
    if missing:
        fail(f"README.md does not document: {missing}")


def start(path, env=None, stdin=subprocess.DEVNULL):
    return subprocess.Popen([path, "60"], env=env, stdin=stdin)


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        weird = os.path.join(directory.encode(), WEIRD)
        shutil.copy("/bin/sleep", weird)
        env = dict(os.environ)
        env_b = {k.encode(): v.encode() for k, v in env.items()}
        env_b[b"OTEL_SERVICE_NAME"] = b'svc "x"\\\n\xff'
        seeded = start(weird)
        children = [seeded]
        try:
            with Agent(log_level="debug") as running:
                execed = subprocess.Popen([weird, b"60"], env=env_b)
                renamed = subprocess.Popen(["/usr/bin/python3", "-c", RENAME], stdin=subprocess.PIPE)
                children += [execed, renamed]
                for child in (seeded, execed):
                    wait_until(lambda: find(running.samples(), "process_cpu_time_seconds_total",
                                            process_pid=str(child.pid)), 10, f"pid {child.pid}")
                samples = running.samples()
                got = find(samples, "process_memory_usage_bytes", process_pid=str(seeded.pid))
                if got[0][1]["process_executable_name"] != WEIRD_SHOWN:
                    fail(f"seeded name shown as {got[0][1]['process_executable_name']!r}")
                got = find(samples, "process_memory_usage_bytes", process_pid=str(execed.pid))
                if got[0][1]["process_executable_name"] != WEIRD_SHOWN:
                    fail(f"exec'd name shown as {got[0][1]['process_executable_name']!r}")
                if got[0][1]["service_name"] != 'svc "x"\\\n\ufffd':
                    fail(f"service name shown as {got[0][1]['service_name']!r}")

                text = running.scrape()
                check_readme_catalogue(text)
                code, output = promtool(text)
                print(f"promtool on text 0.0.4: exit {code}, output {output!r}")
                if code != 0 or output.strip():
                    fail(f"promtool check metrics (text 0.0.4) said: {output}")

                accept = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
                status, content_type, body = running.get("/metrics", accept)
                if not content_type.startswith("application/openmetrics-text; version=1.0.0"):
                    fail(f"OpenMetrics was asked for, got {content_type}")
                om = body.decode("utf-8")  # raises if the body is not UTF-8
                if not om.endswith("# EOF\n") or om.count("# EOF") != 1:
                    fail("OpenMetrics exposition must end with exactly one # EOF")
                problems = open_metrics_problems(om)
                print(f"promtool on OpenMetrics: {problems or 'no problems'}")
                if problems:
                    fail(f"promtool check metrics (OpenMetrics) said: {problems}")
                agent.parse_exposition(om.replace("# EOF\n", ""))
                # The renamed process's comm reaches the JSON log when it exits.
                renamed.stdin.close()
                renamed.wait(10)
                exit_line = wait_until(lambda: running._find_log(
                    lambda e: e.get("msg") == "exit" and e.get("pid") == renamed.pid), 10,
                    "the renamed process's exit")
                if exit_line.get("comm") != 'pr"ct\\l\n\ufffd':
                    fail(f"comm logged as {exit_line.get('comm')!r}")
                broken = [e for e in running.log_entries() if "unparsed" in e]
                if broken:
                    fail(f"log lines that are not JSON: {broken[:3]}")
        finally:
            for child in children:
                child.kill()
                child.wait()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
