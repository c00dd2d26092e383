"""The Grafana dashboards and Prometheus rules under deploy/ ask only for what the agent
exports.

Every PromQL query is read: each dashboard panel's targets and each label_values
variable (deploy/grafana/*.json), and each rule's expr (deploy/prometheus/*.yaml but
the *.test.yaml). Identifiers outside label matchers and grouping lists are metric
names. Statically, before the agent runs:
  - a metric is `up`, a recording rule the rule files define (a name with ':'), or one
    the README's metric catalogue lists (process_*, http_*, gen_ai_*, tcp_*,
    infrared_*); a histogram is named by its _bucket, _sum or _count series;
  - every label in a matcher, in by/without (for each metric aggregated) and in
    on/ignoring (for each metric of the query) is one the README documents for that
    metric's family, or a Kubernetes label (k8s_namespace_name, k8s_pod_name,
    k8s_container_name, container_id), or a target label Prometheus adds (job,
    instance), or le on a _bucket series.
Then the real agent runs (root and BPF needed; exit 77 without, unless
INFRARED_REQUIRE_BPF=1) with an OTLP receiver, while nginx serves curl (pages, a 500, a
POST), a client resets a connection and holds another open, a connect is refused, and
the openai SDK calls the fake LLM server (tests/peers/fake_llm_server.js): a priced
stream (gpt-4o-mini, in the shipped price table), an unpriced model and a rate-limited
call. Every metric name the queries reference must then be a sample name in /metrics,
and every label (but the Kubernetes and target labels) must appear on a sample of its
family. Each failure names the dashboard and panel, or the rule.

INFRARED_DEPLOY_DIR (default: the repository's deploy/) reads the dashboards and rules
from elsewhere, e.g. a copy with a deliberate mistake, to see this test fail.
"""
import glob
import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import time

import agent
from agent import Agent, fail
from http_peers import Nginx, free_port
from llm_peers import FakeLlmServer, sdk_run
from otlp_receiver import OtlpReceiver

DEPLOY = os.environ.get("INFRARED_DEPLOY_DIR", os.path.join(agent.REPO, "deploy"))
README = os.path.join(agent.REPO, "README.md")
PREFIXES = ("process_", "http_", "gen_ai_", "tcp_", "infrared_")
K8S_LABELS = {"k8s_namespace_name", "k8s_pod_name", "k8s_container_name", "container_id"}
TARGET_LABELS = {"job", "instance"}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile"}
GROUPING = {"by", "without"}
MATCHING = {"on", "ignoring", "group_left", "group_right"}
KEYWORDS = GROUPING | MATCHING | {"bool", "and", "or", "unless", "offset", "inf", "nan"}
SCRAPE_TIMEOUT = 20


# --- the README's metric catalogue -------------------------------------------------------

def strip_parentheses(text):
    depth, kept = 0, []
    for c in text:
        depth += c == "("
        if depth == 0:
            kept.append(c)
        depth -= c == ")" and depth > 0
    return "".join(kept)


def sentence_from(text, start):
    """text from start to the first ';', or '.' or ':' before a space, outside parentheses."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        depth += (c == "(") - (c == ")")
        if depth == 0 and (c == ";" or (c in ".:" and (i + 1 == len(text) or text[i + 1].isspace()))):
            return text[start:i]
    return text[start:]


def backticked(text):
    return set(re.findall(r"`([a-z_][a-z0-9_]*)`", strip_parentheses(text)))


# Where the README defines each named label set that its tables refer to.
LABEL_SETS = {"http server": r"\*\*http server\*\* is ", "http client": r"\*\*http client\*\* is ",
              "tcp": r"\(\*\*tcp\*\*\):", "process": r"Per-process series carry ",
              "genai": r"Metrics, with the labels "}


def catalogue(text):
    """{family: (type, labels)} from the README's metric tables and label-set sentences."""
    sets = {}
    for name, pattern in LABEL_SETS.items():
        match = re.search(pattern, text)
        sets[name] = backticked(sentence_from(text, match.end())) if match else set()
        if not sets[name]:
            fail(f"README.md no longer defines the '{name}' label set where this test looks "
                 f"(/{pattern}/): update LABEL_SETS in {os.path.basename(__file__)}")
    families, base = {}, set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 3:
            continue
        if cells[0] == "metric":
            base = sets["genai"] if cells[2] == "extra labels" else set()
            continue
        if cells[1] not in ("counter", "gauge", "histogram"):
            continue
        labels = set(base)
        for part in strip_parentheses(cells[2]).split(","):
            part = part.strip()
            if "`" in part:
                labels |= backticked(part)
            elif part in sets:
                labels |= sets[part]
            elif part:
                fail(f"README.md: the labels of {cells[0]} name '{part}', not a label set this test knows")
        for name in re.findall(r"`([a-zA-Z_:][a-zA-Z0-9_:]*)[^`]*`", cells[0]):
            kind, known = families.get(name, (cells[1], set()))
            families[name] = (kind, known | labels)
    if len(families) < 30 or "gen_ai_client_operation_duration_seconds" not in families:
        fail(f"read only {len(families)} metric families from README.md's tables: its format changed")
    return families


# --- PromQL ----------------------------------------------------------------------------

TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?:(?:ms|[smhdwy])[0-9]*)*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}@])
  | (?P<variable>\$\{?\w+\}?)
  | (?P<space>\s+)
""", re.X)


class Query:
    """The metrics a PromQL query selects, with their matcher labels, and the labels its
    grouping and matching clauses name, each with the metrics it applies to."""

    def __init__(self, expr, where):
        self.where = where
        self.tokens = []
        position = 0
        while position < len(expr):
            match = TOKEN.match(expr, position)
            if not match:
                fail(f"{where}: cannot read the query at {expr[position:position + 30]!r}: {expr}")
            if match.lastgroup != "space":
                self.tokens.append((match.lastgroup, match.group()))
            position = match.end()
        self.closing = self._match_parentheses()
        self.selectors = []  # (token index, metric, {matcher labels})
        self.clauses = []    # (keyword, [labels], (first, last) token range it applies to)
        self._walk()

    def _match_parentheses(self):
        closing, stack = {}, []
        for i, (_, text) in enumerate(self.tokens):
            if text == "(":
                stack.append(i)
            elif text == ")":
                if not stack:
                    fail(f"{self.where}: unbalanced parentheses")
                closing[stack.pop()] = i
        if stack:
            fail(f"{self.where}: unbalanced parentheses")
        return closing

    def _text(self, i):
        return self.tokens[i][1] if i < len(self.tokens) else None

    def _label_list(self, i):
        """The labels of a `( a, b )` list opening at i, and the index of its ')'."""
        end = self.closing[i]
        return [text for kind, text in self.tokens[i + 1:end] if kind == "ident"], end

    def _walk(self):
        i = 0
        while i < len(self.tokens):
            kind, text = self.tokens[i]
            following = self._text(i + 1)
            if kind == "op" and text == "{":
                fail(f"{self.where}: a selector without a metric name ({{...}}) is not supported here")
            if kind != "ident":
                i += 1
            elif text in GROUPING | MATCHING:
                if following == "(":
                    labels, end = self._label_list(i + 1)
                    self.clauses.append((text, labels, self._scope(i)))
                    i = end + 1
                else:
                    i += 1
            elif following == "(" or text in KEYWORDS or (text in AGGREGATIONS and following in GROUPING):
                i += 1  # a function, an aggregation, or an operator
            else:
                start, labels = i, {}
                if following == "{":
                    end = next(j for j in range(i + 2, len(self.tokens)) if self.tokens[j][1] == "}")
                    body = self.tokens[i + 2:end]
                    for j, (token_kind, token) in enumerate(body):
                        if token_kind == "ident" and j + 1 < len(body) and body[j + 1][0] == "op" \
                                and body[j + 1][1] in ("=", "!=", "=~", "!~"):
                            labels[token] = body[j + 2][1] if j + 2 < len(body) else ""
                    i = end + 1
                else:
                    i += 1
                self.selectors.append((start, text, labels))

    def _scope(self, clause):
        """The token range a clause at index clause applies to: an aggregation's operand
        for by/without; the whole query for on/ignoring/group_left/group_right."""
        if self.tokens[clause][1] in MATCHING:
            return 0, len(self.tokens)
        aggregation = clause - 1
        if aggregation >= 0 and self._text(aggregation) in AGGREGATIONS:  # sum by (...) (operand)
            close_labels = self.closing[clause + 1]
            return close_labels + 1, self.closing[close_labels + 1]
        # sum (operand) by (...): the operand's parentheses end just before the clause.
        opening = next(o for o, c in self.closing.items() if c == clause - 1)
        return opening, clause - 1

    def metrics_in(self, scope):
        first, last = scope
        return [(name, labels) for i, name, labels in self.selectors if first <= i <= last]


def grafana_queries(path):
    """(where, expr, extra labels) of each panel target and query variable of a dashboard."""
    with open(path) as f:
        dashboard = json.load(f)
    name = os.path.basename(path)

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))
    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield f"dashboard {name}, panel '{panel.get('title')}' ({target.get('refId')})", target["expr"], []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        where = f"dashboard {name}, variable ${variable.get('name')}"
        match = re.fullmatch(r"\s*label_values\((.+),\s*([a-zA-Z_]\w*)\s*\)\s*", query, re.S)
        if match:
            yield where, match.group(1), [match.group(2)]
        elif query.strip().startswith("label_values("):
            fail(f"{where}: label_values without a metric ({query}) is not checked here; name a metric")
        else:
            yield where, query, []


def rule_queries(path):
    try:
        import yaml
    except ImportError:
        fail("python3-yaml is not installed (scripts/install-deps installs it with yamllint)")
    with open(path) as f:
        groups = yaml.safe_load(f).get("groups", [])
    records = set()
    queries = []
    for group in groups:
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            records.update([rule["record"]] if "record" in rule else [])
            queries.append((f"rule {name} ({os.path.basename(path)})", rule["expr"], []))
    return queries, records


def references():
    """[(Query, labels of its label_values)] of every query under DEPLOY, the recording
    rules its rule files define, and the files read."""
    dashboards = sorted(glob.glob(os.path.join(DEPLOY, "grafana", "*.json")))
    rule_files = sorted(p for p in glob.glob(os.path.join(DEPLOY, "prometheus", "*.y*ml"))
                        if not re.search(r"\.test\.ya?ml$", p))
    if not dashboards or not rule_files:
        fail(f"no dashboards ({dashboards}) or rule files ({rule_files}) under {DEPLOY}")
    queries, records = [], set()
    for path in dashboards:
        queries += grafana_queries(path)
    for path in rule_files:
        found, defined = rule_queries(path)
        queries += found
        records |= defined
    return [(Query(expr, where), extra) for where, expr, extra in queries], records, \
        [os.path.basename(p) for p in dashboards + rule_files]


# --- the checks ---------------------------------------------------------------------------

class Checker:
    def __init__(self, families, records):
        self.families = families
        self.records = records
        self.problems = []
        self.wanted = {}  # sample name: [where]
        self.used_labels = {}  # (family, label): [where]

    def family(self, name, where):
        """The README family of a sample name, None for up and recording rules; records a
        problem and returns None for anything else unknown."""
        if name == "up":
            return None
        if ":" in name:
            if name not in self.records:
                self.problems.append(f"{where}: {name} looks like a recording rule, but no rule file records it")
            return None
        if not name.startswith(PREFIXES):
            self.problems.append(f"{where}: {name} is not a metric infrared exports")
            return None
        if name in self.families and self.families[name][0] != "histogram":
            return name
        if name in self.families:
            self.problems.append(f"{where}: {name} is a histogram: use {name}_bucket, _sum or _count")
            return None
        for suffix in HISTOGRAM_SERIES:
            base = name[:-len(suffix)]
            if name.endswith(suffix) and self.families.get(base, ("",))[0] == "histogram":
                return base
        self.problems.append(f"{where}: {name} is not in the README's metric catalogue")
        return None

    def label(self, name, label, where, how):
        if ":" in name:
            return
        if name == "up":
            if label not in TARGET_LABELS:
                self.problems.append(f"{where}: up has no label {label} ({how})")
            return
        family = self.family(name, where)
        if family is None:
            return
        if label in K8S_LABELS | TARGET_LABELS or (label == "le" and name.endswith("_bucket")):
            return
        if label not in self.families[family][1]:
            self.problems.append(f"{where}: {family} has no label {label} in the README ({how}); it has "
                                 f"{', '.join(sorted(self.families[family][1])) or 'none'}")
            return
        self.used_labels.setdefault((family, label), []).append(where)

    def query(self, query, extra_labels):
        for _, name, labels in query.selectors:
            if self.family(name, query.where) is not None:
                self.wanted.setdefault(name, []).append(query.where)
            for label in labels:
                self.label(name, label, query.where, "matcher")
            for label in extra_labels:
                self.label(name, label, query.where, "label_values")
        for keyword, labels, scope in query.clauses:
            names = [name for name, _ in query.metrics_in(scope)]
            for label in labels:
                if keyword.startswith("group_"):
                    # Copied from the other side: one of the query's metrics must have it.
                    names = [n for n in names if self.has_label(n, label)] or names[:1]
                for name in names:
                    self.label(name, label, query.where, keyword)

    def has_label(self, name, label):
        family = next((f for f in (name, *(name[:-len(s)] for s in HISTOGRAM_SERIES if name.endswith(s)))
                       if f in self.families), None)
        return label in K8S_LABELS | TARGET_LABELS or (family and label in self.families[family][1])

    def scrape_problems(self, samples):
        names = {name for name, _, _ in samples}
        problems = [f"{name} is not in the agent's /metrics, but {where[0]} uses it"
                    + (f" (and {len(where) - 1} more)" if len(where) > 1 else "")
                    for name, where in sorted(self.wanted.items()) if name not in names]
        seen = {}
        for name, labels, _ in samples:
            family = next((name[:-len(s)] for s in HISTOGRAM_SERIES
                           if name.endswith(s) and name[:-len(s)] in self.families), name)
            seen.setdefault(family, set()).update(labels)
        problems += [f"no {family} sample in /metrics has the label {label}, but {where[0]} uses it"
                     for (family, label), where in sorted(self.used_labels.items())
                     if family in seen and label not in seen[family]]
        return problems


# --- traffic ------------------------------------------------------------------------------

def http_traffic(nginx):
    base = f"http://127.0.0.1:{nginx.port}"
    curl = agent.require_program("curl")
    for args in (["-o", "/dev/null", f"{base}/index.html", "-o", "/dev/null", f"{base}/error"],
                 ["-o", "/dev/null", "-X", "POST", "--data", "hello=world", f"{base}/upload"]):
        subprocess.run([curl, "-s", *args], check=True, timeout=10)


def tcp_traffic(nginx):
    """A connection reset by this end, one held open (returned), one connect refused."""
    reset = socket.create_connection(("127.0.0.1", nginx.port), timeout=5)
    reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reset.close()
    held = socket.create_connection(("127.0.0.1", nginx.port), timeout=5)
    held.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
    held.recv(4096)
    refused = socket.socket()
    try:
        refused.connect(("127.0.0.1", free_port()))
        fail("a connect to a port nobody listens on succeeded")
    except ConnectionRefusedError:
        pass
    finally:
        refused.close()
    return held


def llm_traffic(server):
    openai = {"operation": "chat", "provider": "openai_compatible"}
    for run in (sdk_run("dash-priced-stream", server, "openai-chat", "gpt-4o-mini", 1, "--stream", **openai),
                sdk_run("dash-unpriced", server, "openai-chat", "fake-unpriced-model", 1, **openai),
                sdk_run("dash-ratelimited", server, "openai-chat", "gpt-4o-mini-ratelimit", 1, "--allow-errors",
                        error="rate_limit_exceeded", **openai)):
        run.run()


def scrape_when_complete(running, checker):
    """The agent's samples once every wanted name is in them, or after SCRAPE_TIMEOUT."""
    deadline = time.monotonic() + SCRAPE_TIMEOUT
    while True:
        samples = running.samples()
        names = {name for name, _, _ in samples}
        if all(name in names for name in checker.wanted) or time.monotonic() > deadline:
            return samples
        time.sleep(0.25)


def main():
    with open(README) as f:
        families = catalogue(f.read())
    queries, records, files = references()
    checker = Checker(families, records)
    for query, extra_labels in queries:
        checker.query(query, extra_labels)
    if checker.problems:
        fail("the deploy/ queries use what the README does not document:\n  "
             + "\n  ".join(dict.fromkeys(checker.problems)))
    print(f"{len(queries)} queries in {', '.join(files)}: {len(checker.wanted)} metric names, "
          f"{len(checker.used_labels)} family labels, all in the README's catalogue")

    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        with OtlpReceiver(os.path.join(directory, "otlp.jsonl")) as receiver, \
                Agent("--otlp.endpoint", f"http://127.0.0.1:{receiver.port}",
                      "--otlp.max-delay-ms", "200") as running, \
                Nginx(os.path.join(directory, "nginx")) as nginx, FakeLlmServer() as llm:
            http_traffic(nginx)
            held = tcp_traffic(nginx)
            try:
                llm_traffic(llm)
                samples = scrape_when_complete(running, checker)
            finally:
                held.close()
    problems = checker.scrape_problems(samples)
    if problems:
        fail("the deploy/ queries use what the running agent does not export:\n  " + "\n  ".join(problems))
    print(f"every metric name ({len(checker.wanted)}) and label the dashboards and rules use is in the "
          f"agent's /metrics")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
