"""GenAI acceptance 6: the cost of each call, from an operator's price file.

The agent runs with --genai.prices-file pricing two models the shipped table does not
know (USD per million tokens):
  openai_compatible fake-priced          input 2.0  output 8.0   cache_read 1.0  cache_write 2.5
  anthropic         fake-priced-claude   input 3.0  output 15.0  cache_read 0.3  cache_write 3.75
Clients, each its own service: the openai SDK (2 calls, and 1 stream) and
@anthropic-ai/sdk (2 streams, which read and write the prompt cache) on those
models, and the openai SDK on fake-unpriced-model.
For each priced call, the span's gen_ai.usage.cost is, within 1e-9,
  ((input - cache_read - cache_creation) x input price + cache_read x cache_read price
   + cache_creation x cache_write price + output x output price) / 1e6
with the token counts the fake server reported for that call; per service,
gen_ai_client_cost_usd_total equals the sum of its calls' costs within 1e-9 and
gen_ai_client_unpriced_operations_total is 0. The unpriced call's span has no
gen_ai.usage.cost, its service's gen_ai_client_unpriced_operations_total is 1 and
its gen_ai_client_cost_usd_total is 0 or absent.
"""
import os
import tempfile

from agent import fail
from genai_expect import llm_setup, match_calls, metric_sum, run_and_expect
from llm_peers import sdk_run

PRICES = {
    ("openai_compatible", "fake-priced"): {"input": 2.0, "output": 8.0, "cache_read": 1.0, "cache_write": 2.5},
    ("anthropic", "fake-priced-claude"): {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75},
}


def write_prices(path):
    with open(path, "w") as f:
        f.write("prices:\n")
        for (provider, model), price in PRICES.items():
            f.write(f"  - provider: {provider}\n    model: {model}\n")
            f.write("".join(f"    {kind}: {value}\n" for kind, value in price.items()))


def expected_cost(price, usage):
    uncached = usage["input"] - usage["cache_read"] - usage["cache_creation"]
    return (uncached * price["input"] + usage["cache_read"] * price["cache_read"]
            + usage["cache_creation"] * price["cache_write"] + usage["output"] * price["output"]) / 1e6


def cost_problems(run, spans, samples):
    what = f"{run.name} ({run.service})"
    price = PRICES.get((run.provider, run.model))
    problems = []
    total = 0.0
    for span, call in match_calls(spans, run.calls):
        cost = span["attributes"].get("gen_ai.usage.cost")
        if price is None:
            if cost is not None:
                problems.append(f"{what}: an unpriced model's span has gen_ai.usage.cost {cost!r}")
            continue
        want = expected_cost(price, call["usage"])
        total += want
        if not isinstance(cost, (int, float)) or abs(cost - want) > 1e-9:
            problems.append(f"{what}, call {call['seq']} with usage {call['usage']}: gen_ai.usage.cost "
                            f"is {cost!r}, wanted {want!r}")
    counted = metric_sum(samples, "gen_ai_client_cost_usd_total", service_name=run.service)
    unpriced = metric_sum(samples, "gen_ai_client_unpriced_operations_total", service_name=run.service)
    wanted_unpriced = 0 if price else run.count
    if abs(counted - total) > 1e-9 or unpriced != wanted_unpriced:
        problems.append(f"{what}: gen_ai_client_cost_usd_total {counted!r} and "
                        f"gen_ai_client_unpriced_operations_total {unpriced:g}, wanted {total!r} and "
                        f"{wanted_unpriced}")
    if not problems:
        print(f"{what}: " + (f"cost {total:.9f} USD on the spans and the counter" if price
                             else f"unpriced: no cost, {unpriced:g} unpriced operation(s)"))
    return problems


def main():
    with tempfile.TemporaryDirectory() as directory:
        prices_path = os.path.join(directory, "prices.yaml")
        write_prices(prices_path)
        openai = {"operation": "chat", "provider": "openai_compatible"}
        with llm_setup("--genai.prices-file", prices_path) as setup:
            runs = [
                sdk_run("openai-priced", setup.tls, "openai-chat", "fake-priced", 2, **openai),
                sdk_run("openai-priced-stream", setup.plain, "openai-chat", "fake-priced", 1, "--stream", **openai),
                sdk_run("anthropic-priced", setup.tls, "anthropic", "fake-priced-claude", 2, "--stream",
                        operation="chat", provider="anthropic"),
                sdk_run("openai-unpriced", setup.tls, "openai-chat", "fake-unpriced-model", 1, **openai),
            ]
            found = run_and_expect(setup, runs)
            samples = setup.running.samples()
            problems = [p for run, spans in zip(runs, found) for p in cost_problems(run, spans, samples)]
    if problems:
        fail("the agent's costs differ from the price file's:\n  " + "\n  ".join(problems))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
