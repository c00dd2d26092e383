"""Every loss the README's infrared_dropped_total tables name is a series from the
agent's start (at 0, so that an alert or a rate on it works before the first loss),
and the agent counts no loss the README does not name.

The agent runs with every part that has drop reasons of its own turned on: the spans
file, OTLP export (to a port nothing listens on) and the Kubernetes API (likewise).
The README's rows are `| \\`stage\\` | \\`reason\\`, \\`reason\\` | meaning |`."""
import os
import re
import tempfile

import agent
from agent import Agent, fail

README = os.path.join(agent.REPO, "README.md")
ROW = re.compile(r"^\| `([a-z_0-9]+)` \| ((?:`[a-z_0-9]+`(?:, )?)+) \|", re.M)


def documented():
    with open(README) as f:
        text = f.read()
    pairs = {(stage, reason) for stage, reasons in ROW.findall(text)
             for reason in re.findall(r"`([a-z_0-9]+)`", reasons)}
    if len(pairs) < 40:
        fail(f"only {len(pairs)} stage/reason pairs found in the README: has its table changed shape?")
    return pairs


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        token = os.path.join(directory, "token")
        with open(token, "w") as f:
            f.write("not-a-real-token\n")
        with Agent("--spans.output", os.path.join(directory, "spans.jsonl"),
                   "--otlp.endpoint", "http://127.0.0.1:1",
                   "--k8s.api", "https://127.0.0.1:1", "--k8s.token-file", token,
                   "--k8s.node-name", "node-e2e") as running:
            live = {(labels["stage"], labels["reason"]) for name, labels, _ in running.samples()
                    if name == "infrared_dropped_total"}
    wanted = documented()
    missing, unnamed = sorted(wanted - live), sorted(live - wanted)
    if missing or unnamed:
        fail(f"README names {len(wanted)} losses, the agent has {len(live)} series: "
             f"not in a scrape at start {missing}; not in the README {unnamed}")
    print(f"{len(wanted)} stage/reason pairs: each in the README and in the first scrape")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
