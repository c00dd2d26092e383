#!/usr/bin/env python3
"""Checks deploy/prometheus and deploy/grafana without privileges (ctest label deploy):

1. promtool check rules deploy/prometheus/infrared-rules.yaml
2. promtool test rules deploy/prometheus/infrared-rules.test.yaml (a firing and a
   non-firing case for every alert, and the values of some recording rules); every
   alert in the rule file must appear in an alert_rule_test.
3. Every alert has a severity label and summary and description annotations.
4. The Grafana dashboards are what deploy/grafana/generate_dashboards.py writes, use the
   ${datasource} variable on every panel and target, have unique panel ids, and every
   query (panel targets and label_values variables) parses as PromQL (promtool, with
   Grafana's $__rate_interval and $__range set to 5m).

Which metrics and labels the queries may use is checked against the running agent by
tests/e2e/test_dashboard_metrics.py. Exit 0 when all hold, 1 with every problem found.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(REPO, "deploy", "prometheus", "infrared-rules.yaml")
RULE_TESTS = os.path.join(REPO, "deploy", "prometheus", "infrared-rules.test.yaml")
GRAFANA = os.path.join(REPO, "deploy", "grafana")
DATASOURCE = "${datasource}"


def fail(problems):
    print("FAIL:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)


def promtool():
    path = shutil.which("promtool") or ("/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)
    if not path:
        fail(["promtool is not installed; scripts/install-deps installs it (Debian package prometheus)"])
    return path


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        fail(["python3-yaml is not installed (scripts/install-deps installs it with yamllint)"])
    with open(path) as f:
        return yaml.safe_load(f)


def run_promtool(*args):
    result = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)
    output = (result.stdout + result.stderr).strip()
    print(f"promtool {' '.join(os.path.relpath(a, REPO) if a.startswith('/') else a for a in args)}: "
          f"{'ok' if result.returncode == 0 else 'FAILED'}")
    return [] if result.returncode == 0 else [f"promtool {' '.join(args)} failed:\n{output}"]


def rule_problems():
    problems = run_promtool("check", "rules", RULES)
    problems += run_promtool("test", "rules", RULE_TESTS)
    rules = [r for g in load_yaml(RULES)["groups"] for r in g["rules"]]
    tested = {t["alertname"] for test in load_yaml(RULE_TESTS)["tests"] for t in test.get("alert_rule_test", [])}
    for rule in rules:
        if "alert" not in rule:
            continue
        name = rule["alert"]
        if name not in tested:
            problems.append(f"alert {name} has no alert_rule_test in {os.path.basename(RULE_TESTS)}")
        if not rule.get("labels", {}).get("severity"):
            problems.append(f"alert {name} has no severity label")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description"):
            if not annotations.get(key):
                problems.append(f"alert {name} has no {key} annotation")
        if "$labels" not in annotations.get("description", ""):
            problems.append(f"alert {name}'s description uses no $labels")
    if not problems:
        print(f"{len(rules)} rules; every alert tested and annotated")
    return problems


def panels_of(dashboard):
    """Every panel, rows' nested ones included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variable_query(variable):
    query = variable.get("query")
    return query.get("query", "") if isinstance(query, dict) else (query or "")


def queries_of(dashboard):
    """(where, PromQL) of every panel target and every label_values variable."""
    title = dashboard["title"]
    for panel in panels_of(dashboard):
        for target in panel.get("targets", []):
            yield f"{title} / panel '{panel['title']}' ({target['refId']})", target["expr"]
    for variable in dashboard["templating"]["list"]:
        query = variable_query(variable)
        match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query, re.S)
        if variable["type"] == "query":
            yield f"{title} / variable {variable['name']}", match.group(1) if match else query


def grafana_expr(expr):
    """The query as Prometheus would get it: Grafana's interval variables filled in (the
    other variables sit inside matcher strings)."""
    return re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)


def dashboard_problems():
    problems = []
    files = sorted(glob.glob(os.path.join(GRAFANA, "*.json")))
    names = [os.path.basename(f) for f in files]
    wanted = ["infrared-llm.json", "infrared-overview.json", "infrared-processes.json", "infrared-tcp.json"]
    if names != wanted:
        problems.append(f"deploy/grafana holds {names}, wanted {wanted}")
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.executable, os.path.join(GRAFANA, "generate_dashboards.py"), directory], check=True)
        for name in wanted:
            with open(os.path.join(directory, name)) as generated, open(os.path.join(GRAFANA, name)) as committed:
                if generated.read() != committed.read():
                    problems.append(f"deploy/grafana/{name} differs from what generate_dashboards.py writes: "
                                    "edit the script and run it")
        queries = []
        for path in files:
            with open(path) as f:
                dashboard = json.load(f)
            problems += structure_problems(os.path.basename(path), dashboard)
            queries += list(queries_of(dashboard))
        rules = {"groups": [{"name": "dashboard-queries", "rules": [
            {"record": f"dashboard_query_{i}", "expr": grafana_expr(expr)} for i, (_, expr) in enumerate(queries)]}]}
        path = os.path.join(directory, "queries.yaml")
        with open(path, "w") as f:
            json.dump(rules, f)  # JSON is YAML
        result = subprocess.run([promtool(), "check", "rules", path], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            bad = {int(n) for n in re.findall(r"dashboard_query_(\d+)", output)}
            where = [f"{queries[i][0]}: {queries[i][1]}" for i in sorted(bad)] or [output]
            problems.append("queries that do not parse as PromQL:\n    " + "\n    ".join(where))
    if not problems:
        print(f"{len(files)} dashboards, {len(queries)} queries parse")
    return problems


def structure_problems(name, dashboard):
    problems = []
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    source = variables.get("datasource")
    if not source or source["type"] != "datasource" or source["query"] != "prometheus":
        problems.append(f"{name}: no datasource variable of type datasource, query prometheus")
    ids = [p["id"] for p in panels_of(dashboard)]
    if len(ids) != len(set(ids)):
        problems.append(f"{name}: panel ids repeat: {ids}")
    for panel in panels_of(dashboard):
        if panel["type"] == "row":
            continue
        for thing in [panel] + panel.get("targets", []):
            if thing.get("datasource", {}).get("uid") != DATASOURCE:
                problems.append(f"{name} / panel '{panel['title']}': data source is not {DATASOURCE}")
        if not panel.get("targets"):
            problems.append(f"{name} / panel '{panel['title']}' has no query")
    for variable in variables.values():
        if variable["type"] == "query" and variable.get("datasource", {}).get("uid") != DATASOURCE:
            problems.append(f"{name}: variable {variable['name']}'s data source is not {DATASOURCE}")
    return problems


def main():
    problems = rule_problems() + dashboard_problems()
    if problems:
        fail(problems)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
