"""GenAI: large request bodies, over TLS and plain HTTP.

SDKs put "model" and the sampling settings after "messages", which can run to
hundreds of KiB; the kernel copies capture.bytes_per_call (16 KiB) of each call
until the agent has seen an LLM request on the connection, then
genai.bytes_per_call (128 KiB). A Python httpx client (one keep-alive connection)
sends three chat requests, each with 60,000 bytes of messages and then "model"
and "max_tokens": 77, half a second apart (the agent decides within one poll
interval, 100 ms):

- the first is cut by the kernel before "model": the span still names the model
  (the response's stands in) but cannot know max_tokens;
- the second and third are copied whole: gen_ai.request.max_tokens is 77;
- every span carries the fake server's token counts.
"""
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, wait_until
from http_peers import read_spans
from llm_peers import FakeLlmServer, new_service
from tls_peers import Certificate

CLIENT = r"""
import httpx, json, sys, time
url, count = sys.argv[1], int(sys.argv[2])
body = {"messages": [{"role": "user", "content": "x" * 60000}], "model": "gpt-4o-mini",
        "max_tokens": 77}
with httpx.Client(verify=False) as client:
    for _ in range(count):
        response = client.post(url + "/v1/chat/completions", content=json.dumps(body),
                               headers={"content-type": "application/json",
                                        "authorization": "Bearer sk-test-large"})
        response.raise_for_status()
        time.sleep(0.5)
"""
CALLS = 3


def check(spans_path, service, scheme):
    def spans():
        return [s for s in read_spans(spans_path) if s["resource"].get("service.name") == service]
    wait_until(lambda: len(spans()) >= CALLS, 20, f"{CALLS} spans of {service}")
    found = sorted(spans(), key=lambda s: int(s["startTimeUnixNano"]))
    if len(found) != CALLS:
        fail(f"{service}: {len(found)} spans, wanted {CALLS}")
    max_tokens = [s["attributes"].get("gen_ai.request.max_tokens") for s in found]
    models = {s["attributes"].get("gen_ai.request.model") for s in found}
    schemes = {s["attributes"].get("url.scheme") for s in found}
    if max_tokens != [None, 77, 77] or models != {"gpt-4o-mini"} or schemes != {scheme}:
        fail(f"{service}: max_tokens {max_tokens} (wanted [None, 77, 77]), models {models}, "
             f"schemes {schemes}")
    if any(not s["attributes"].get("gen_ai.usage.input_tokens") for s in found):
        fail(f"{service}: a span without input tokens")
    print(f"{scheme}: the first request cut before its model (named from the response), "
          f"the next two copied whole: max_tokens {max_tokens}")


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        certificate = Certificate(os.path.join(directory, "tls"))
        with Agent("--spans.output", spans_path), FakeLlmServer() as plain, \
                FakeLlmServer(certificate) as tls:
            for server, scheme in ((plain, "http"), (tls, "https")):
                service = new_service(f"large-{scheme}")
                subprocess.run(["/usr/bin/python3", "-c", CLIENT, server.url, str(CALLS)],
                               check=True, env=dict(os.environ, OTEL_SERVICE_NAME=service))
                check(spans_path, service, scheme)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
