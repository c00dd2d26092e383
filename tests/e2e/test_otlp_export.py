"""OTLP acceptance 1 and 4: an OTLP receiver built on the official OpenTelemetry
JS protobuf definitions decodes every request the agent sends while it watches
nginx traffic (keep-alive, pipelined, a request with a known traceparent): each
span the agent built (its JSON-line output) arrives exactly once, with the same
name, kind, ids (16 and 8 bytes), timestamps, attributes (with their types) and
resource attributes; the traceparent request's span carries that trace id and
parent span id."""
import json
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, value, wait_until
from http_peers import Nginx, read_spans
from otlp_receiver import OtlpReceiver

CLIENT = os.path.join(agent.HERE, "http_client.py")
KINDS = {"SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"}


def run_client(plan):
    result = subprocess.run(["/usr/bin/python3", CLIENT], input=json.dumps(plan),
                            env=dict(os.environ, OTEL_SERVICE_NAME="otlp-e2e-client",
                                     OTEL_RESOURCE_ATTRIBUTES="deployment.environment=e2e"),
                            capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def expected_type(value):
    if isinstance(value, list):  # gen_ai.response.finish_reasons, of another test's LLM call
        return "arrayValue"
    if isinstance(value, bool):
        return "boolValue"
    if isinstance(value, int):
        return "intValue"
    if isinstance(value, float):
        return "doubleValue"
    return "stringValue"


def compare(built, received, resource, resource_types):
    for key in ("traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano",
                "endTimeUnixNano"):
        if str(built[key]) != str(received[key]):
            fail(f"{key}: built {built[key]!r}, received {received[key]!r}")
    if len(received["traceId"]) != 32 or len(received["spanId"]) != 16:
        fail(f"ids are not 16 and 8 bytes: {received['traceId']} {received['spanId']}")
    if built["attributes"] != received["attributes"]:
        fail(f"attributes: built {built['attributes']}, received {received['attributes']}")
    for key, v in built["attributes"].items():
        if received["rawAttributeTypes"][key] != expected_type(v):
            fail(f"attribute {key} arrived as {received['rawAttributeTypes'][key]}")
    if built["resource"] != resource:
        fail(f"resource: built {built['resource']}, received {resource}")
    for key, v in built["resource"].items():
        if resource_types[key] != expected_type(v):
            fail(f"resource attribute {key} arrived as {resource_types[key]}")
    if received["status"]["code"] != built["status"]["code"]:
        fail(f"status: built {built['status']}, received {received['status']}")


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        with OtlpReceiver(os.path.join(directory, "otlp.jsonl")) as receiver:
            with Agent("--spans.output", spans_path,
                       "--otlp.endpoint", f"http://127.0.0.1:{receiver.port}",
                       "--otlp.max-delay-ms", "200", "--otlp.compression", "gzip") as running, \
                    Nginx(os.path.join(directory, "nginx")) as nginx:
                run_client({"kind": "keep_alive", "port": nginx.port, "steps":
                            [{"method": "GET", "path": "/index.html"}] * 50 +
                            [{"method": "GET", "path": "/error"}] * 5 +
                            [{"method": "POST", "path": "/upload", "chunked": True}] * 5})
                run_client({"kind": "pipelined", "port": nginx.port, "steps": [
                    {"method": "GET", "path": "/index.html"}, {"method": "GET", "path": "/busy"},
                    {"method": "HEAD", "path": "/index.html"}]})
                trace, parent = os.urandom(16).hex(), os.urandom(8).hex()
                subprocess.run(["curl", "-sf", "-o", "/dev/null", "-H",
                                f"traceparent: 00-{trace}-{parent}-01",
                                f"http://127.0.0.1:{nginx.port}/index.html"], check=True)
                ours = lambda: [s for s in read_spans(spans_path) if s["kind"] in KINDS and
                                s["attributes"].get("server.port") == nginx.port]
                wait_until(lambda: len(ours()) >= 2 * 64, 20, "the agent's spans")
                # Other tests' traffic may keep adding spans: wait for those built so far.
                snapshot = {s["spanId"] for s in read_spans(spans_path)}
                wait_until(lambda: snapshot <= {s["spanId"] for s, _, _ in receiver.spans()},
                           20, "the receiver to get every span")
                exported = value(running.samples(), "infrared_otlp_spans_total",
                                 outcome="exported")
            # Each span is written to the file before it is offered for export.
            built = read_spans(spans_path)
            received = {}
            for span, resource, types in receiver.spans():
                if span["spanId"] in received:
                    fail(f"span {span['spanId']} arrived twice")
                received[span["spanId"]] = (span, resource, types)
            by_id = {span["spanId"]: span for span in built}
            for span_id in snapshot:
                if span_id not in received:
                    fail(f"span {by_id[span_id]['name']} {span_id} never arrived")
            for span_id, arrived in received.items():
                if span_id not in by_id:
                    fail(f"the receiver got span {span_id}, which the agent never built")
                compare(by_id[span_id], *arrived)
            print(f"{len(built)} spans built, {len(received)} received (all {len(snapshot)} "
                  f"built before the check among them), all identical; "
                  f"infrared_otlp_spans_total{{outcome=\"exported\"}} was {exported}")
            with_parent = [s for s in built if s["traceId"] == trace]
            if len(with_parent) != 2 or any(s["parentSpanId"] != parent for s in with_parent):
                fail(f"the traceparent request's spans: {with_parent}")
            client = [r for s, r, t in received.values()
                      if r.get("service.name") == "otlp-e2e-client"]
            if not client or client[0].get("deployment.environment") != "e2e" or \
                    client[0].get("telemetry.sdk.name") != "infrared":
                fail(f"the client's resource: {client[:1]}")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
