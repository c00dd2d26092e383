"""LLM peers for end-to-end tests: tests/peers/fake_llm_server.js (a fake OpenAI,
Anthropic, Gemini and Ollama with known token counts, which lists every call it
answered at GET /_calls) and unmodified clients of it: the official node SDKs
(tests/peers/llm_clients.js), Python httpx and curl. Each client runs as its own
process under a service name of its own, which the fake server records too (header
x-fake-client), so a test matches the agent's spans and metrics to the server's
numbers call by call."""
import json
import os
import ssl
import subprocess
import urllib.request
import uuid

import agent
from agent import fail, wait_until
from http_peers import read_spans

PEERS = os.path.join(agent.REPO, "tests", "peers")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_creation", "reasoning")

# An OpenAI Chat Completions client on httpx alone:
#   python3 -c HTTPX_CHAT BASE_URL MODEL API_KEY HEADERS_JSON MODE...
# one call per MODE (json or stream), each printing a line like llm_clients.js.
HTTPX_CHAT = """
import json
import os
import sys

import httpx


def usage(u):
    return {"input": u["prompt_tokens"], "output": u["completion_tokens"],
            "cache_read": (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
            "cache_creation": 0,
            "reasoning": (u.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)}


def call(client, url, model, stream, number):
    body = {"model": model, "messages": [{"role": "user", "content": f"Say something, number {number}."}]}
    line = {"sdk": "httpx", "call": number, "ok": True, "finishReasons": [], "usage": None}
    if not stream:
        response = client.post(url, json=body)
        response.raise_for_status()
        data = response.json()
        line.update(id=data["id"], responseModel=data["model"], usage=usage(data["usage"]),
                    finishReasons=[c["finish_reason"] for c in data["choices"]])
        return line
    body.update(stream=True, stream_options={"include_usage": True})
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for text in response.iter_lines():
            text = text.strip()  # httpx 0.23 keeps the line ends
            if not text.startswith("data: ") or text == "data: [DONE]":
                continue
            chunk = json.loads(text[len("data: "):])
            line.update(id=chunk["id"], responseModel=chunk["model"])
            line["finishReasons"] += [c["finish_reason"] for c in chunk["choices"] if c["finish_reason"]]
            if chunk.get("usage"):
                line["usage"] = usage(chunk["usage"])
    return line


def main():
    base, model, key, extra, *modes = sys.argv[1:]
    headers = {"Authorization": f"Bearer {key}", "x-fake-client": os.environ["OTEL_SERVICE_NAME"],
               **json.loads(extra)}
    # The test servers' certificates are self-signed.
    with httpx.Client(verify=False, headers=headers, timeout=30) as client:
        for number, mode in enumerate(modes, 1):
            line = call(client, f"{base}/v1/chat/completions", model, mode == "stream", number)
            print(json.dumps(line), flush=True)


main()
"""


def new_service(name):
    return f"{name}-genai-e2e-{uuid.uuid4().hex[:8]}"


def _unverified():
    # The fake server's certificate is self-signed.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class FakeLlmServer:
    """tests/peers/fake_llm_server.js on 127.0.0.1, over TLS when given a Certificate."""

    def __init__(self, certificate=None):
        if not os.path.isdir(os.path.join(PEERS, "node_modules")):
            fail("tests/peers/node_modules is missing: run 'npm ci' in tests/peers (scripts/test does)")
        self.scheme = "https" if certificate else "http"
        self.argv = [agent.require_program("node"), os.path.join(PEERS, "fake_llm_server.js"), "--port", "0"]
        if certificate:
            self.argv += ["--tls", certificate.cert, certificate.key]
        self.service = new_service("fake-llm")

    def __enter__(self):
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True,
                                        env=dict(os.environ, OTEL_SERVICE_NAME=self.service))
        line = self.process.stdout.readline()
        if not line:
            fail(f"the fake LLM server exited with {self.process.wait(10)} before listening")
        self.port = json.loads(line)["port"]
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)

    def calls(self, client=None):
        """The calls the server answered (for one client's service name), in order."""
        url = self.url + "/_calls" + (f"?client={client}" if client else "")
        with urllib.request.urlopen(url, timeout=10, context=_unverified()) as response:
            return json.loads(response.read())


def token_totals(calls):
    """{kind: sum} over the calls, as the server counted them (zero when not delivered)."""
    return {kind: sum(c["usage"][kind] for c in calls) for kind in TOKEN_KINDS}


class Run:
    """One client process against one fake server, and what the agent should report
    for it: every call a span `{operation} {model}` from provider."""

    def __init__(self, name, server, argv, count, operation, provider, model, response_model=None,
                 finish=None, stream=False, env=None, service=None):
        self.name = name
        self.server = server
        self.argv = argv
        self.count = count
        self.operation = operation
        self.provider = provider
        self.model = model
        self.response_model = response_model or model
        self.finish = finish  # finish reasons each span has; None: not checked
        self.stream = stream
        self.env = env or {}
        self.service = service or new_service(name)
        self.lines = []

    def run(self, allow_errors=False):
        env = dict(os.environ, OTEL_SERVICE_NAME=self.service, NODE_TLS_REJECT_UNAUTHORIZED="0",
                   NODE_NO_WARNINGS="1", **self.env)
        result = subprocess.run(self.argv, env=env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0 and not allow_errors:
            fail(f"the {self.name} client exited with {result.returncode}: {result.stderr[-2000:]}"
                 f"{result.stdout[-2000:]}")
        self.lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        if len(self.lines) != self.count:
            fail(f"the {self.name} client printed {len(self.lines)} results, not {self.count}: "
                 f"{result.stdout}{result.stderr[-2000:]}")
        return self.lines

    def calls(self):
        return self.server.calls(self.service)

    def check_server_agrees(self):
        """The fake server answered each call, with the usage the client reported."""
        calls = self.calls()
        got = [(c["usage"], c["id"]) for c in calls]
        wanted = [(line["usage"], line.get("id")) for line in self.lines]
        if len(calls) != self.count or got != wanted:
            fail(f"{self.name}: the fake server's calls (usage, id) {got} differ from the client's {wanted}")
        encodings = sorted({c["encoding"] for c in calls})
        print(f"{self.name}: {self.count} calls ok, server and client agree on usage "
              f"{token_totals(calls)}, Content-Encoding {', '.join(encodings)}")
        return calls


def sdk_run(name, server, sdk, model, count, *options, **expect):
    """A Run of tests/peers/llm_clients.js."""
    argv = [agent.require_program("node"), os.path.join(PEERS, "llm_clients.js"), sdk, server.url,
            model, str(count), *options]
    return Run(name, server, argv, count, model=model, stream="--stream" in options, **expect)


def httpx_run(name, server, model, key, modes, headers=None, **expect):
    argv = ["/usr/bin/python3", "-c", HTTPX_CHAT, server.url, model, key, json.dumps(headers or {}),
            *modes]
    return Run(name, server, argv, len(modes), operation="chat", provider="openai_compatible",
               model=model, stream="stream" in modes, **expect)


class CurlOllamaRun(Run):
    """curl POSTing to Ollama's /api/chat or /api/generate; streams (NDJSON) unless
    stream is False. --compressed: curl asks for and decodes gzip, deflate, br, zstd."""

    def __init__(self, name, server, path, model, stream, headers=()):
        body = {"model": model, "stream": stream}
        if path == "/api/chat":
            body["messages"] = [{"role": "user", "content": "Say something short."}]
        else:
            body["prompt"] = "Say something short."
        service = new_service(name)
        argv = [agent.require_program("curl"), "-sSk", "--compressed", "-X", "POST", server.url + path,
                "-H", "Content-Type: application/json", "-H", f"x-fake-client: {service}",
                "-d", json.dumps(body)]
        for header in headers:
            argv += ["-H", header]
        operation = "chat" if path == "/api/chat" else "text_completion"
        super().__init__(name, server, argv, 1, operation, "ollama", model, finish=["stop"],
                         stream=stream, service=service)

    def run(self, allow_errors=False):
        result = subprocess.run(self.argv, env=dict(os.environ, OTEL_SERVICE_NAME=self.service),
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0 and not allow_errors:
            fail(f"curl ({self.name}) exited with {result.returncode}: {result.stderr}")
        chunks = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        if not chunks or not chunks[-1].get("done"):
            fail(f"curl ({self.name}) got no final done:true line: {result.stdout[-500:]}")
        last = chunks[-1]
        usage = {"input": last["prompt_eval_count"], "output": last["eval_count"],
                 "cache_read": 0, "cache_creation": 0, "reasoning": 0}
        self.lines = [{"sdk": "curl", "call": 1, "ok": True, "id": None, "responseModel": last["model"],
                       "finishReasons": [last["done_reason"]], "usage": usage, "events": len(chunks)}]
        return self.lines


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


def match_calls(run, spans, calls):
    """[(span, call)]: by gen_ai.response.id where the API has ids, else in order."""
    by_id = {s["attributes"].get("gen_ai.response.id"): s for s in spans}
    pairs = []
    for i, call in enumerate(calls):
        span = by_id.get(call["id"]) if call["id"] else (spans[i] if i < len(spans) else None)
        pairs.append((span, call))
    return pairs


def wait_for_spans(spans_path, runs, timeout=20):
    """Waits until every run has at least its count of client spans; returns them per run."""
    def groups():
        spans = read_spans(spans_path)
        return [client_spans(spans, r.service, r.server.port) for r in runs]
    try:
        wait_until(lambda: all(len(g) >= r.count for g, r in zip(groups(), runs)), timeout,
                   "a span for every call")
    except SystemExit:
        pass  # the checks below say what is missing
    return groups()


def check_problems(problems):
    if problems:
        fail("the agent's GenAI telemetry differs from what was sent:\n  " + "\n  ".join(problems))
