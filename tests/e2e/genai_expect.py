"""What the agent should report for the LLM calls of tests/e2e/llm_peers.py runs, and
the setting the GenAI tests share: two fake LLM servers (TLS and plain HTTP) and the
agent. A run's calls are matched to the agent's spans by service name, port and
response id, and its service's metrics are compared with the fake server's counts."""
import collections
import contextlib
import os
import tempfile

import agent
from agent import Agent, fail, wait_until
from http_peers import read_spans, span_seconds
from llm_peers import FakeLlmServer, token_totals
from otlp_receiver import OtlpReceiver
from tls_peers import Certificate


def client_spans(spans, service, port):
    """The client spans one process made to one port."""
    return [s for s in spans if s["kind"] == "SPAN_KIND_CLIENT"
            and s["resource"].get("service.name") == service
            and s["attributes"].get("server.port") == port]


def metric_sum(samples, name, **labels):
    return sum(v for n, found, v in samples
               if n == name and all(found.get(k) == want for k, want in labels.items()))


def token_usage(samples, service):
    """{input, output}: the _sum of gen_ai_client_token_usage for a service, per token type."""
    return {kind: metric_sum(samples, "gen_ai_client_token_usage_sum", service_name=service,
                             gen_ai_token_type=kind) for kind in ("input", "output")}


def match_calls(spans, calls):
    """[(span or None, call)]: by gen_ai.response.id where the whole answer, with its
    id, was sent, else in order."""
    by_id = {s["attributes"].get("gen_ai.response.id"): s for s in spans}
    return [(by_id.get(call["id"]) if call["id"] and call["delivered"]
             else (spans[i] if i < len(spans) else None), call) for i, call in enumerate(calls)]


def _lower(values):
    return [str(v).lower() for v in values] if isinstance(values, list) else values


def span_problems(run, span, call):
    """What is wrong with the span of one call. Finish reasons compare case-blind
    (Gemini's STOP may be reported as stop)."""
    a = span["attributes"]
    ok = run.error is None
    want = {"gen_ai.operation.name": run.operation, "gen_ai.provider.name": run.provider,
            "gen_ai.request.model": run.model, "http.request.method": "POST",
            "http.response.status_code": call["status"], "url.path": call["path"],
            "url.scheme": run.server.scheme, "server.address": "127.0.0.1",
            "server.port": run.server.port, "error.type": run.error, **run.attributes}
    if ok:
        want["gen_ai.response.model"] = run.response_model
        usage = call["usage"]
        want["gen_ai.usage.input_tokens"] = usage["input"]
        # Counts an API does not report may be absent.
        for key, kind in (("gen_ai.usage.output_tokens", "output"),
                          ("gen_ai.usage.cache_read.input_tokens", "cache_read"),
                          ("gen_ai.usage.cache_creation.input_tokens", "cache_creation")):
            want[key] = usage[kind] if usage[kind] or key in a else None
        if call["id"]:
            want["gen_ai.response.id"] = call["id"]
    got = {key: a.get(key) for key in want}
    problems = [f"{key} is {got[key]!r}, wanted {value!r}" for key, value in want.items() if got[key] != value]
    name = f"{run.operation} {run.model}"
    status = "STATUS_CODE_ERROR" if run.error else None
    if (span["name"], span["kind"]) != (name, "SPAN_KIND_CLIENT"):
        problems.append(f"name and kind are {(span['name'], span['kind'])}, wanted {(name, 'SPAN_KIND_CLIENT')}")
    if (span["status"]["code"] == "STATUS_CODE_ERROR") != bool(status):
        problems.append(f"status is {span['status']['code']}, wanted {status or 'not an error'}")
    finish = a.get("gen_ai.response.finish_reasons")
    if ok and run.finish is not None and _lower(finish or []) != _lower(run.finish):
        problems.append(f"gen_ai.response.finish_reasons is {finish!r}, wanted {run.finish!r}")
    if ok:
        problems += _first_chunk_problems(span, call)
    return problems


def _first_chunk_problems(span, call):
    """Streams have a time to first chunk within the span: at its end when the client
    read the whole stream at once. Other calls have none."""
    first = span["attributes"].get("gen_ai.response.time_to_first_chunk")
    if not call["stream"]:
        return [] if first is None else [f"gen_ai.response.time_to_first_chunk is {first!r} on a non-stream call"]
    if isinstance(first, (int, float)) and 0 < first <= span_seconds(span) + 1e-6:
        return []
    return [f"gen_ai.response.time_to_first_chunk is {first!r}, wanted seconds within the span's "
            f"{span_seconds(span)!r}"]


def run_problems(run, spans, samples):
    """What the agent got wrong about one run: its spans, call by call, and its
    service's GenAI metrics."""
    what = f"{run.name} ({run.service})"
    problems = []
    if len(spans) != run.count or any("gen_ai.operation.name" not in s["attributes"] for s in spans):
        problems.append(f"{what}: {len(spans)} client spans ({[s['name'] for s in spans]}), "
                        f"wanted {run.count} GenAI spans, one per call")
    for span, call in match_calls(spans, run.calls):
        if span is None:
            problems.append(f"{what}: no span for call {call['seq']} (gen_ai.response.id {call['id']})")
        else:
            problems += [f"{what}, call {call['seq']}: {p}" for p in span_problems(run, span, call)]
    return problems + [f"{what}: {p}" for p in _metric_problems(run, samples)]


def _metric_problems(run, samples):
    """What is wrong with the GenAI metrics of a run's service."""
    problems = []
    labels = {"service_name": run.service, "gen_ai_operation_name": run.operation,
              "gen_ai_provider_name": run.provider, "gen_ai_request_model": run.model}
    if run.error:
        labels["error_type"] = run.error
    else:
        labels["gen_ai_response_model"] = run.response_model
    counted = metric_sum(samples, "gen_ai_client_operation_duration_seconds_count", **labels)
    if counted != run.count:
        problems.append(f"gen_ai_client_operation_duration_seconds_count{labels} is {counted:g}, "
                        f"wanted {run.count}")
    if run.error is None:
        totals = token_totals(run.calls)
        got = token_usage(samples, run.service)
        if got != {kind: totals[kind] for kind in got}:
            problems.append(f"gen_ai_client_token_usage_sum per token type is {got}, the fake "
                            f"server counted {totals}")
        streams = sum(c["stream"] for c in run.calls)
        first = metric_sum(samples, "gen_ai_client_operation_time_to_first_chunk_seconds_count",
                           service_name=run.service)
        if first != streams:
            problems.append(f"gen_ai_client_operation_time_to_first_chunk_seconds_count is "
                            f"{first:g}, wanted {streams} (one per stream)")
    return problems


def expect_runs(running, spans_path, runs, timeout=20):
    """Waits until the agent's spans and metrics for every run are as they should
    be, then fails with every difference if they are not. Returns each run's spans."""
    def check():
        spans = read_spans(spans_path)
        samples = running.samples()
        found = [client_spans(spans, r.service, r.server.port) for r in runs]
        return [p for r, s in zip(runs, found) for p in run_problems(r, s, samples)], found
    try:
        wait_until(lambda: not check()[0], timeout, "the agent's GenAI spans and metrics", interval=0.25)
    except SystemExit:
        pass  # the list below says what differs
    problems, found = check()
    if problems:
        fail("the agent's GenAI telemetry differs from what was sent:\n  " + "\n  ".join(problems))
    for run in runs:
        outcome = (f"error.type {run.error}" if run.error
                   else "tokens as the fake server counted them")
        print(f"{run.name}: {run.count} span(s) '{run.operation} {run.model}' from {run.provider}, "
              f"{outcome}, duration and token metrics agree")
    return found


Setup = collections.namedtuple("Setup", "running spans_path tls plain receiver")


@contextlib.contextmanager
def llm_setup(*agent_args, executables="node", otlp=False, log_level="info"):
    """A fake LLM server over TLS and one over plain HTTP, an OTLP receiver if asked,
    and the agent (capturing only the executables), writing spans to a file and
    exporting them to the receiver."""
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory, contextlib.ExitStack() as stack:
        spans_path = os.path.join(directory, "spans.jsonl")
        certificate = Certificate(os.path.join(directory, "tls"))
        tls = stack.enter_context(FakeLlmServer(certificate))
        plain = stack.enter_context(FakeLlmServer())
        receiver = None
        if otlp:
            receiver = stack.enter_context(OtlpReceiver(os.path.join(directory, "otlp.jsonl")))
            agent_args += ("--otlp.endpoint", f"http://127.0.0.1:{receiver.port}", "--otlp.max-delay-ms", "200")
        running = stack.enter_context(Agent("--spans.output", spans_path, "--capture.executables", executables,
                                            *agent_args, log_level=log_level))
        yield Setup(running, spans_path, tls, plain, receiver)


def run_and_expect(setup, runs):
    """Runs every client, one after another, then expect_runs."""
    for run in runs:
        run.run()
    return expect_runs(setup.running, setup.spans_path, runs)
