"""GenAI acceptance 4: API keys never leave the agent.

Clients send API keys every way providers take them, each key distinctive
("sk-test-SECRET-7f3a-<kind>-<16 random letters>"), each from the environment or
curl's stdin, never a command line (the agent reports command lines):
  Authorization: Bearer   openai SDK over TLS and over plain HTTP, httpx, curl (Ollama)
  x-api-key               @anthropic-ai/sdk over TLS
  x-goog-api-key          @google/genai over TLS (stream); curl over plain HTTP
  api-key                 httpx (as Azure OpenAI clients send it) over TLS
  ?key= in the URL        curl posting Gemini generateContent over plain HTTP
The agent runs with --log.level debug and --capture.content=true, writes spans to a
file and exports them over OTLP to a receiver. Once every client's GenAI span is in
both, with gen_ai.input.messages (content capture is on), nothing the agent put out
-- the spans file, the OTLP requests as decoded, /metrics, its log on stderr --
contains any key, nor the key's random part, nor the last 8 letters of it.
"""
import uuid

from agent import fail, wait_until
from genai_expect import client_spans, llm_setup, run_and_expect
from http_peers import read_spans
from llm_peers import CurlRun, gemini_result, httpx_run, ollama_result, sdk_run


class Keys:
    def __init__(self):
        self.keys = {}  # key -> (how it is sent, its random part)

    def new(self, how):
        # Letters g-v only: no hex id in the output can contain them by chance.
        tail = "".join(chr(ord("g") + int(c, 16)) for c in uuid.uuid4().hex[:16])
        key = f"sk-test-SECRET-7f3a-{len(self.keys)}-{tail}"
        self.keys[key] = (how, tail)
        return key

    def leaks(self, text):
        found = []
        for key, (how, tail) in self.keys.items():
            for piece in (key, tail, tail[-8:]):
                if piece in text:
                    found.append(f"{piece!r} (of the key sent as {how})")
                    break
        return found


def runs_with_keys(tls, plain, keys):
    chat = {"operation": "chat", "provider": "openai_compatible"}
    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "Say something short."}]}]}
    return [
        sdk_run("openai-tls", tls, "openai-chat", "gpt-4o-mini", 1, "--stream",
                env={"OPENAI_API_KEY": keys.new("Authorization: Bearer (openai SDK, TLS)")}, **chat),
        sdk_run("openai-plain", plain, "openai-chat", "gpt-4o-mini", 1,
                env={"OPENAI_API_KEY": keys.new("Authorization: Bearer (openai SDK, plain)")}, **chat),
        sdk_run("anthropic", tls, "anthropic", "claude-sonnet-4-5", 1,
                env={"ANTHROPIC_API_KEY": keys.new("x-api-key (anthropic SDK)")},
                operation="chat", provider="anthropic"),
        sdk_run("gemini", tls, "gemini", "gemini-2.5-flash", 1, "--stream",
                env={"GEMINI_API_KEY": keys.new("x-goog-api-key (genai SDK)")},
                operation="generate_content", provider="gcp.gemini"),
        httpx_run("httpx", tls, "gpt-4o-mini", ["json"],
                  env={"OPENAI_API_KEY": keys.new("Authorization: Bearer (httpx)"),
                       "AZURE_OPENAI_API_KEY": keys.new("api-key (httpx)")}),
        CurlRun("curl-gemini", plain,
                f"/v1beta/models/gemini-2.5-flash:generateContent?key={keys.new('?key= (curl)')}",
                gemini_body, gemini_result, [f"x-goog-api-key: {keys.new('x-goog-api-key (curl)')}"],
                operation="generate_content", provider="gcp.gemini", model="gemini-2.5-flash"),
        CurlRun("curl-ollama", plain, "/api/chat",
                {"model": "llama3.2", "messages": [{"role": "user", "content": "Say something short."}]},
                ollama_result, [f"Authorization: Bearer {keys.new('Authorization: Bearer (curl)')}"],
                operation="chat", provider="ollama", model="llama3.2"),
    ]


def exported_everywhere(runs, spans_path, receiver):
    """Every run's spans are in the spans file and the OTLP export, content included."""
    spans = read_spans(spans_path)
    exported = {r.get("service.name") for _, r, _ in receiver.spans()}
    return all(run.service in exported and client_spans(spans, run.service, run.server.port)
               and all("gen_ai.input.messages" in s["attributes"]
                       for s in client_spans(spans, run.service, run.server.port))
               for run in runs)


def read_text(path):
    with open(path) as f:
        return f.read()


def main():
    keys = Keys()
    with llm_setup("--capture.content", "true", executables="node,python3,curl", otlp=True,
                   log_level="debug") as setup:
        runs = runs_with_keys(setup.tls, setup.plain, keys)
        run_and_expect(setup, runs)
        wait_until(lambda: exported_everywhere(runs, setup.spans_path, setup.receiver), 20,
                   "every client's spans, with gen_ai.input.messages, in the spans file and over OTLP")
        print(f"{len(runs)} clients' spans in the file and over OTLP, with content")
        metrics = setup.running.scrape()
        setup.running.stop()
        outputs = {"the spans file": read_text(setup.spans_path),
                   "the OTLP export": read_text(setup.receiver.out_path),
                   "/metrics": metrics, "the agent's log": setup.running.log_text()}
    leaks = [f"{where}: {leak}" for where, text in outputs.items() for leak in keys.leaks(text)]
    if leaks:
        fail("API keys leaked:\n  " + "\n  ".join(leaks))
    print(f"none of {len(keys.keys)} API keys in " + ", ".join(
        f"{where} ({len(text)} bytes)" for where, text in outputs.items()))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
