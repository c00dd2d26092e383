"""GenAI acceptance 2: the timing of a stream.

The fake LLM server (model word "slow") sends a stream's headers at once, its first
chunk 300 ms after the request, then the rest of 20 chunks 50 ms apart: the last at
0.300 + 19 x 0.050 = 1.250 s. Each chunk is one write; the first carries the events
before the first text (role, message_start, ...), the last the events after the last
text (finish, usage, [DONE] / message_stop). Two clients, each one call: the openai
SDK (Chat Completions, TLS) and @anthropic-ai/sdk (Messages, plain HTTP).

For each, the span has gen_ai.response.time_to_first_chunk within 30 ms of 0.300 and
lasts within 50 ms of 1.250 s; for its service, gen_ai_client_operation_time_to_first_chunk
_seconds counts 1 and gen_ai_client_operation_time_per_output_chunk_seconds counts 19,
summing to within 50 ms of 0.950 s: the semantic conventions record time per output
chunk "for each chunk received after the first one", and 20 chunks have 19 after the
first, 50 ms apart.
"""
from agent import fail
from genai_expect import llm_setup, metric_sum, run_and_expect
from http_peers import span_seconds
from llm_peers import sdk_run

FIRST, GAP, CHUNKS = 0.300, 0.050, 20
LAST = FIRST + (CHUNKS - 1) * GAP


def check_timing(run, span, samples):
    call = run.calls[0]
    print(f"{run.name}: the fake server sent {call['chunks']} chunks, the first at "
          f"{call['firstChunkMs']:.1f} ms, the last at {call['lastChunkMs']:.1f} ms")
    problems = []
    first = span["attributes"].get("gen_ai.response.time_to_first_chunk")
    if not isinstance(first, (int, float)) or abs(first - FIRST) > 0.030:
        problems.append(f"gen_ai.response.time_to_first_chunk is {first!r}, wanted {FIRST} +- 0.030")
    if abs(span_seconds(span) - LAST) > 0.050:
        problems.append(f"the span lasts {span_seconds(span):.4f} s, wanted {LAST} +- 0.050")
    ttfc = metric_sum(samples, "gen_ai_client_operation_time_to_first_chunk_seconds_count",
                      service_name=run.service)
    if ttfc != 1:
        problems.append(f"gen_ai_client_operation_time_to_first_chunk_seconds_count is {ttfc:g}, wanted 1")
    name = "gen_ai_client_operation_time_per_output_chunk_seconds"
    count = metric_sum(samples, name + "_count", service_name=run.service)
    total = metric_sum(samples, name + "_sum", service_name=run.service)
    if count != CHUNKS - 1 or abs(total - (LAST - FIRST)) > 0.050:
        problems.append(f"{name} counts {count:g} summing to {total:.4f} s, wanted {CHUNKS - 1} "
                        f"(one per chunk after the first) summing to {LAST - FIRST:.3f} +- 0.050 s")
    if problems:
        fail(f"{run.name} ({run.service}): " + "; ".join(problems))
    print(f"{run.name}: time to first chunk {first:.4f} s, span {span_seconds(span):.4f} s, "
          f"{count:g} times per output chunk summing to {total:.4f} s")


def main():
    with llm_setup() as setup:
        runs = [
            sdk_run("openai-chat-slow", setup.tls, "openai-chat", "gpt-4o-mini-slow", 1, "--stream",
                    operation="chat", provider="openai_compatible", finish=["stop"]),
            sdk_run("anthropic-slow", setup.plain, "anthropic", "claude-haiku-4-5-slow", 1, "--stream",
                    operation="chat", provider="anthropic", finish=["end_turn"]),
        ]
        found = run_and_expect(setup, runs)
        samples = setup.running.samples()
        for run, spans in zip(runs, found):
            check_timing(run, spans[0], samples)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
