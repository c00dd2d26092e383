"""GenAI acceptance 1: every LLM call an unmodified client makes is one GenAI span,
and the token metrics add up to what the provider reported.

A fake LLM provider (tests/peers/fake_llm_server.js) answers over TLS and over plain
HTTP, with known token counts, and lists every call it answered. The clients, each
its own process and service name, started after the agent:
  over TLS: the openai SDK (Chat Completions with and without stream, Responses with
  and without stream, legacy Completions, Embeddings), @anthropic-ai/sdk (with and
  without stream), @google/genai (generateContent, generateContentStream), and
  Python httpx posting OpenAI Chat Completions (one plain answer, one stream);
  over plain HTTP: the openai SDK (stream), @anthropic-ai/sdk (stream),
  @google/genai (stream), and curl posting to Ollama's /api/chat (NDJSON stream)
  and /api/generate ("stream": false).
Answers come gzip, deflate, br, zstd or as the client's Accept-Encoding asks.
For each client, exactly one client span per call (no extra HTTP span), named
"{operation} {model}", with the operation, provider, request and response models,
finish reasons, response id, HTTP method/status/path/scheme/address/port, no
error.type, the token counts of that call as the server reported them (input,
output, cache read, cache creation; one the API does not report may be absent), the
request's max_tokens/temperature/top_p where sent (openai-chat), and a time to first
chunk within the span on streams only. For each client's service: one sample per
call in gen_ai_client_operation_duration_seconds (labelled with operation, provider,
request and response model), one per stream in
gen_ai_client_operation_time_to_first_chunk_seconds, and per token type (input,
output) the _sum of gen_ai_client_token_usage equal to the fake server's total,
exactly. Calls are matched to spans by gen_ai.response.id (Ollama has none: in order).
"""
from genai_expect import llm_setup, run_and_expect
from llm_peers import curl_ollama_run, httpx_run, sdk_run

OPENAI = {"provider": "openai_compatible"}


def encoded(encoding):
    return ("--header", f"x-fake-encoding:{encoding}")


def tls_runs(server):
    return [
        sdk_run("openai-chat", server, "openai-chat", "gpt-4o-mini", 2, *encoded("gzip"),
                "--header", "x-fake-response-model:gpt-4o-mini-2024-07-18",
                "--max-tokens", "100", "--temperature", "0.5", "--top-p", "0.9",
                operation="chat", response_model="gpt-4o-mini-2024-07-18", finish=["stop"],
                attributes={"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.5,
                            "gen_ai.request.top_p": 0.9}, **OPENAI),
        sdk_run("openai-chat-stream", server, "openai-chat", "gpt-4o-mini", 2, "--stream", *encoded("br"),
                operation="chat", finish=["stop"], **OPENAI),
        # The Responses API has no finish reason; its answer's status stands for one.
        sdk_run("openai-responses", server, "openai-responses", "gpt-4.1-mini", 1, *encoded("deflate"),
                operation="chat", finish=["completed"], **OPENAI),
        sdk_run("openai-responses-stream", server, "openai-responses", "gpt-4.1-mini", 1, "--stream",
                *encoded("accept"), operation="chat", finish=["completed"], **OPENAI),
        sdk_run("openai-completions", server, "openai-completions", "gpt-3.5-turbo-instruct", 1,
                *encoded("gzip"), operation="text_completion", finish=["stop"], **OPENAI),
        sdk_run("openai-embeddings", server, "openai-embeddings", "text-embedding-3-small", 1,
                *encoded("gzip"), operation="embeddings", finish=[], **OPENAI),
        sdk_run("anthropic", server, "anthropic", "claude-sonnet-4-5", 1, *encoded("br"),
                operation="chat", provider="anthropic", finish=["end_turn"]),
        sdk_run("anthropic-stream", server, "anthropic", "claude-haiku-4-5", 2, "--stream", *encoded("gzip"),
                operation="chat", provider="anthropic", finish=["end_turn"]),
        sdk_run("gemini", server, "gemini", "gemini-2.5-flash", 1, *encoded("deflate"),
                operation="generate_content", provider="gcp.gemini", finish=["STOP"]),
        sdk_run("gemini-stream", server, "gemini", "gemini-2.5-flash", 1, "--stream", *encoded("br"),
                operation="generate_content", provider="gcp.gemini", finish=["STOP"]),
        httpx_run("httpx", server, "gpt-4o-mini", ["json", "stream"],
                  headers={"x-fake-encoding": "accept"}, finish=["stop"]),
    ]


def plain_runs(server):
    return [
        sdk_run("openai-chat-plain", server, "openai-chat", "qwen2.5-coder", 1, "--stream",
                operation="chat", finish=["stop"], **OPENAI),
        sdk_run("anthropic-plain", server, "anthropic", "claude-sonnet-4-5", 1, "--stream",
                operation="chat", provider="anthropic", finish=["end_turn"]),
        sdk_run("gemini-plain", server, "gemini", "gemini-2.5-pro", 1, "--stream", *encoded("gzip"),
                operation="generate_content", provider="gcp.gemini", finish=["STOP"]),
        curl_ollama_run("ollama-chat", server, "/api/chat", "llama3.2", True, headers=["x-fake-encoding: zstd"]),
        curl_ollama_run("ollama-generate", server, "/api/generate", "llama3.2", False,
                      headers=["x-fake-encoding: br"]),
    ]


def main():
    with llm_setup(executables="node,python3,curl") as setup:
        run_and_expect(setup, tls_runs(setup.tls) + plain_runs(setup.plain))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
