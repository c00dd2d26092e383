"""GenAI acceptance 3: failed LLM calls carry the right error.type.

The fake LLM server fails calls as their model's words ask; each client, its own
process, makes one call and sees it fail (the SDKs do not retry):
  openai SDK, TLS       "...-ratelimit"  429 {"error": {"type": "rate_limit_exceeded"}}
  openai SDK stream     "...-quota"      429 {"error": {"type": "insufficient_quota"}}
  openai SDK, plain     "...-http429"    429 with a text body, no type: error.type "429"
  anthropic SDK, TLS    "...-overloaded" 529 {"type": "error", "error": {"type": "overloaded_error"}}
  anthropic SDK stream  "...-http529"    529 with a text body: "529"
  openai SDK stream, anthropic SDK stream (TLS), @google/genai stream (plain):
                        "...-cut"        200, then the connection is destroyed after 3
                                         of 5 chunks: "stream_incomplete"
For each: exactly one client span, "{operation} {model}", status STATUS_CODE_ERROR,
error.type as above, http.response.status_code as sent; and one sample of
gen_ai_client_operation_duration_seconds for the client's service with that
error_type label.
"""
from genai_expect import llm_setup, run_and_expect
from llm_peers import sdk_run

OPENAI = {"sdk": "openai-chat", "operation": "chat", "provider": "openai_compatible"}
ANTHROPIC = {"sdk": "anthropic", "operation": "chat", "provider": "anthropic"}
GEMINI = {"sdk": "gemini", "operation": "generate_content", "provider": "gcp.gemini"}


def failing(name, server, model, error, api, *options):
    api = dict(api)
    return sdk_run(name, server, api.pop("sdk"), model, 1, "--allow-errors", *options, error=error, **api)


def main():
    with llm_setup() as setup:
        tls, plain = setup.tls, setup.plain
        run_and_expect(setup, [
            failing("openai-429", tls, "gpt-4o-mini-ratelimit", "rate_limit_exceeded", OPENAI),
            failing("openai-quota", tls, "gpt-4o-mini-quota", "insufficient_quota", OPENAI, "--stream"),
            failing("openai-bare-429", plain, "gpt-4o-mini-http429", "429", OPENAI),
            failing("anthropic-529", tls, "claude-sonnet-4-5-overloaded", "overloaded_error", ANTHROPIC),
            failing("anthropic-bare-529", tls, "claude-sonnet-4-5-http529", "529", ANTHROPIC, "--stream"),
            failing("openai-cut", tls, "gpt-4o-mini-cut", "stream_incomplete", OPENAI, "--stream"),
            failing("anthropic-cut", tls, "claude-haiku-4-5-cut", "stream_incomplete", ANTHROPIC, "--stream"),
            failing("gemini-cut", plain, "gemini-2.5-flash-cut", "stream_incomplete", GEMINI, "--stream"),
        ])
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
