"""LLM peers for end-to-end tests: tests/peers/fake_llm_server.js (a fake OpenAI,
Anthropic, Gemini and Ollama with known token counts, which lists every call it
answered at GET /_calls) and unmodified clients of it: the official node SDKs
(tests/peers/llm_clients.js), Python httpx and curl. Each client runs as its own
process under a service name of its own, which the fake server records too (header
x-fake-client), so a test can match the agent's spans and metrics to the server's
numbers call by call (genai_expect.py)."""
import json
import os
import ssl
import subprocess
import urllib.request
import uuid

import agent
from agent import fail

PEERS = os.path.join(agent.REPO, "tests", "peers")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_creation", "reasoning")

# An OpenAI Chat Completions client on httpx alone:
#   python3 -c HTTPX_CHAT BASE_URL MODEL HEADERS_JSON MODE...
# one call per MODE (json or stream), each printing a line like llm_clients.js. The key
# is $OPENAI_API_KEY (Authorization: Bearer); $AZURE_OPENAI_API_KEY, when set, is also
# sent as api-key, as Azure OpenAI clients do.
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
    base, model, extra, *modes = sys.argv[1:]
    headers = {"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'sk-test-dummy-0000')}",
               "x-fake-client": os.environ["OTEL_SERVICE_NAME"], **json.loads(extra)}
    if os.environ.get("AZURE_OPENAI_API_KEY"):
        headers["api-key"] = os.environ["AZURE_OPENAI_API_KEY"]
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
    for it: every call a span `{operation} {model}` from provider, with the
    attributes given; error: the error.type every call should end with."""

    def __init__(self, name, server, argv, count, operation, provider, model, response_model=None,
                 finish=None, error=None, attributes=None, env=None, service=None, stdin=None):
        self.name = name
        self.server = server
        self.argv = argv
        self.count = count
        self.operation = operation
        self.provider = provider
        self.model = model
        self.response_model = response_model or model
        self.finish = finish  # the finish reasons of each span; None: not checked
        self.error = error
        self.attributes = attributes or {}
        self.env = env or {}  # the place for API keys: a command line is reported
        self.stdin = stdin
        self.service = service or new_service(name)
        self.lines = []
        self.calls = []

    def run(self):
        """Runs the client; every call must have succeeded (failed, with error set) and
        the fake server must have answered it, with the usage the client reported."""
        env = dict(os.environ, OTEL_SERVICE_NAME=self.service, NODE_TLS_REJECT_UNAUTHORIZED="0",
                   NODE_NO_WARNINGS="1", **self.env)
        result = subprocess.run(self.argv, env=env, input=self.stdin, capture_output=True, text=True,
                                timeout=60)
        self.lines = self.parse(result)
        oks = [line["ok"] for line in self.lines]
        if len(self.lines) != self.count or oks != [self.error is None] * self.count:
            fail(f"the {self.name} client exited with {result.returncode} and printed {result.stdout}"
                 f"{result.stderr[-2000:]}; wanted {self.count} calls that "
                 + ("succeed" if self.error is None else "fail"))
        self.calls = self.server.calls(self.service)
        if len(self.calls) != self.count:
            fail(f"{self.name}: the fake server saw {len(self.calls)} calls, not {self.count}")
        got = [(c["usage"], c["id"]) for c in self.calls]
        wanted = [(line.get("usage"), line.get("id")) for line in self.lines]
        if self.error is None and got != wanted:
            fail(f"{self.name}: the fake server's calls (usage, id) {got} differ from the client's {wanted}")
        outcome = (f"usage {token_totals(self.calls)}" if self.error is None
                   else f"failed as planned: {[line.get('error') for line in self.lines]}")
        print(f"{self.name}: {self.count} calls, {outcome}, Content-Encoding "
              f"{', '.join(sorted({c['encoding'] for c in self.calls}))}")
        return self.lines

    def parse(self, result):
        return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def sdk_run(name, server, sdk, model, count, *options, **expect):
    """A Run of tests/peers/llm_clients.js."""
    argv = [agent.require_program("node"), os.path.join(PEERS, "llm_clients.js"), sdk, server.url,
            model, str(count), *options]
    return Run(name, server, argv, count, model=model, **expect)


def httpx_run(name, server, model, modes, headers=None, **expect):
    argv = ["/usr/bin/python3", "-c", HTTPX_CHAT, server.url, model, json.dumps(headers or {}), *modes]
    return Run(name, server, argv, len(modes), operation="chat", provider="openai_compatible",
               model=model, **expect)


def _usage(input_tokens, output, cache_read=0, reasoning=0):
    return {"input": input_tokens, "output": output, "cache_read": cache_read, "cache_creation": 0,
            "reasoning": reasoning}


def ollama_result(stdout):
    """What an Ollama answer (NDJSON, or one JSON) says, as llm_clients.js prints it."""
    chunks = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    if not chunks or not chunks[-1].get("done"):
        return None
    last = chunks[-1]
    return {"id": None, "responseModel": last["model"], "finishReasons": [last["done_reason"]],
            "usage": _usage(last["prompt_eval_count"], last["eval_count"])}


def gemini_result(stdout):
    """What a Gemini generateContent answer says."""
    answer = json.loads(stdout)
    u = answer["usageMetadata"]
    thoughts = u.get("thoughtsTokenCount", 0)
    return {"id": answer["responseId"], "responseModel": answer["modelVersion"],
            "finishReasons": [c["finishReason"] for c in answer["candidates"]],
            "usage": _usage(u["promptTokenCount"], u["candidatesTokenCount"] + thoughts,
                            u.get("cachedContentTokenCount", 0), thoughts)}


class CurlRun(Run):
    """curl POSTing one JSON body. The URL and headers reach curl as a config on its
    stdin, so none of them (an API key) is on its command line. --compressed: curl
    asks for gzip, deflate, br and zstd and decodes them. result(stdout) reads the answer."""

    def __init__(self, name, server, path, body, result, headers=(), **expect):
        service = new_service(name)
        config = [f"url = {json.dumps(server.url + path)}", "request = POST",
                  'header = "Content-Type: application/json"', f'header = "x-fake-client: {service}"',
                  *[f"header = {json.dumps(h)}" for h in headers], f"data = {json.dumps(json.dumps(body))}"]
        argv = [agent.require_program("curl"), "-sSk", "--compressed", "-K", "-"]
        super().__init__(name, server, argv, 1, service=service, stdin="\n".join(config) + "\n", **expect)
        self.result = result

    def parse(self, result):
        found = self.result(result.stdout) if result.returncode == 0 else None
        if not found:
            fail(f"curl ({self.name}) exited with {result.returncode}: {result.stdout[-500:]}{result.stderr}")
        return [{"sdk": "curl", "call": 1, "ok": True, **found}]


def curl_ollama_run(name, server, path, model, stream, headers=()):
    """curl POSTing to Ollama's /api/chat or /api/generate: NDJSON unless stream is False."""
    body = {"model": model, "stream": stream}
    if path == "/api/chat":
        body["messages"] = [{"role": "user", "content": "Say something short."}]
    else:
        body["prompt"] = "Say something short."
    operation = "chat" if path == "/api/chat" else "text_completion"
    return CurlRun(name, server, path, body, ollama_result, headers, operation=operation, provider="ollama",
                   model=model, finish=["stop"])
