#include "agent/genai/prices.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/genai/default_prices.h"

namespace infrared::genai {
namespace {

// Parses `yaml`, failing the test with the error if it does not parse.
PriceTable MustParse(const std::string& yaml) {
  std::string error;
  std::optional<PriceTable> table = PriceTable::Parse(yaml, error);
  EXPECT_TRUE(table) << error;
  return table ? *table : PriceTable();
}

// Input rate in USD per million tokens, the unit files use; -1 when there is no price.
double InputPerMillion(const PriceTable& table, const std::string& provider,
                       const std::string& model) {
  std::optional<Price> price = table.Find(provider, model);
  return price ? price->input * 1000000 : -1;
}

TEST(PricesTest, ShippedTableParses) {
  std::string error;
  std::optional<PriceTable> table = PriceTable::Parse(DefaultPricesYaml(), error);
  ASSERT_TRUE(table) << error;
  EXPECT_GT(table->size(), 20u);
}

TEST(PricesTest, ShippedTablePricesCommonNames) {
  struct Case {
    std::string provider, model;
    double input, output;  // USD per million tokens; input -1: no price
  };
  const std::vector<Case> cases = {
      {"openai", "gpt-4o", 2.50, 10.00},
      {"openai", "gpt-4o-2024-08-06", 2.50, 10.00},
      {"openai", "gpt-4o-2024-05-13", 5.00, 15.00},
      {"openai", "gpt-4o-mini-2024-07-18", 0.15, 0.60},
      {"azure.ai.openai", "gpt-4.1-nano-2025-04-14", 0.10, 0.40},
      {"openai", "gpt-5", 1.25, 10.00},
      {"openai", "gpt-5-2025-08-07", 1.25, 10.00},
      {"openai", "gpt-5-mini-2025-08-07", 0.25, 2.00},
      {"openai", "o3-mini-2025-01-31", 1.10, 4.40},
      {"openai", "o4-mini", 1.10, 4.40},
      {"openai", "text-embedding-3-small", 0.02, 0},
      {"anthropic", "claude-opus-4-20250514", 15.00, 75.00},
      {"anthropic", "claude-opus-4-5-20251101", 5.00, 25.00},
      {"anthropic", "claude-sonnet-4-5", 3.00, 15.00},
      {"anthropic", "claude-3-5-haiku-20241022", 0.80, 4.00},
      {"anthropic", "claude-haiku-4-5-20251001", 1.00, 5.00},
      {"gcp.gemini", "gemini-2.5-flash", 0.30, 2.50},
      {"gcp.gemini", "gemini-2.5-flash-lite", 0.10, 0.40},
      {"gcp.gemini", "gemini-2.5-pro-preview-06-05", 1.25, 10.00},
      {"ollama", "llama3.2:3b", -1, 0},
      {"openai", "GPT-4O", -1, 0},
  };
  PriceTable table = MustParse(std::string(DefaultPricesYaml()));
  for (const Case& c : cases) {
    std::optional<Price> price = table.Find(c.provider, c.model);
    if (c.input < 0) {
      EXPECT_FALSE(price) << c.model;
      continue;
    }
    ASSERT_TRUE(price) << c.model;
    EXPECT_DOUBLE_EQ(price->input * 1000000, c.input) << c.model;
    EXPECT_DOUBLE_EQ(price->output * 1000000, c.output) << c.model;
  }
}

TEST(PricesTest, ExactThenAnyExactThenLongestPrefix) {
  PriceTable table = MustParse(R"(prices:
  - {provider: "*", model: "m*", input: 1, output: 1}
  - {provider: "*", model: "model*", input: 2, output: 1}
  - {provider: "*", model: "model-x", input: 3, output: 1}
  - {provider: acme, model: "model*", input: 4, output: 1}
  - {provider: acme, model: "model-y", input: 5, output: 1}
  - {provider: "*", model: "model-z*", input: 6, output: 1}
  - {provider: other, model: "mod*", input: 7, output: 1}
)");
  struct Case {
    std::string provider, model;
    double input;  // -1: no price
  };
  const std::vector<Case> cases = {
      {"acme", "model-y", 5},     // exact for the provider
      {"acme", "model-x", 3},     // exact for "*" beats the provider's prefix
      {"acme", "model-z1", 4},    // the provider's prefix beats a longer "*" prefix
      {"other", "model-q", 7},    // ... even a shorter one of its own
      {"nobody", "model-q", 2},   // the longest "*" prefix
      {"nobody", "model-z1", 6},  // "*" prefixes, longest first
      {"nobody", "mx", 1},        // ... down to the shortest
      {"nobody", "model-x", 3},   // exact for "*"
      {"nobody", "model-y", 2},   // acme's exact entry is acme's alone
      {"nobody", "Model-x", -1},  // case-sensitive
      {"nobody", "x", -1},        // nothing matches
      {"acme", "", -1},           // an unknown model matches no prefix but "*"
  };
  for (const Case& c : cases) {
    EXPECT_DOUBLE_EQ(InputPerMillion(table, c.provider, c.model), c.input)
        << c.provider << " " << c.model;
  }
}

TEST(PricesTest, OverridesReplaceAndAdd) {
  PriceTable table = MustParse(R"(prices:
  - {provider: "*", model: "gpt-4o*", input: 2.5, output: 10}
  - {provider: "*", model: "gpt-4o-mini*", input: 0.15, output: 0.6}
)");
  table.Merge(MustParse(R"(prices:
  - {provider: "*", model: "gpt-4o*", input: 2, output: 8}
  - {provider: azure.ai.openai, model: "gpt-4o-mini", input: 0.1, output: 0.5}
  - {provider: ollama, model: "*", input: 0, output: 0}
)"));
  EXPECT_EQ(table.size(), 4u);  // one replaced, two added
  struct Case {
    std::string provider, model;
    double input;
  };
  const std::vector<Case> cases = {
      {"openai", "gpt-4o-2024-08-06", 2},  // the override replaced the shipped entry
      {"openai", "gpt-4o-mini", 0.15},     // untouched
      {"azure.ai.openai", "gpt-4o-mini", 0.1},
      {"ollama", "llama3.2:3b", 0},  // "*" alone prices every model of the provider
      {"ollama", "", 0},
      {"vllm", "llama3.2:3b", -1},
  };
  for (const Case& c : cases) {
    EXPECT_DOUBLE_EQ(InputPerMillion(table, c.provider, c.model), c.input) << c.model;
  }
}

TEST(PricesTest, CacheRatesDefaultToInput) {
  PriceTable table = MustParse(R"(prices:
  - {provider: "*", model: plain, input: 4, output: 8}
  - {provider: "*", model: cached, input: 4, output: 8, cache_read: 0.5, cache_write: 5}
)");
  std::optional<Price> plain = table.Find("openai", "plain");
  std::optional<Price> cached = table.Find("openai", "cached");
  ASSERT_TRUE(plain && cached);
  EXPECT_EQ(plain->cache_read, plain->input);
  EXPECT_EQ(plain->cache_write, plain->input);
  EXPECT_EQ(cached->cache_read, 0.5 / 1000000);
  EXPECT_EQ(cached->cache_write, 5.0 / 1000000);
}

TEST(PricesTest, CostArithmetic) {
  // Rates that are exact in binary per token (0.5, 1, 0.25, 0.125 USD), so sums are exact.
  PriceTable table = MustParse(R"(prices:
  - {provider: "*", model: m, input: 500000, output: 1000000, cache_read: 250000,
     cache_write: 125000}
)");
  std::optional<Price> price = table.Find("openai", "m");
  ASSERT_TRUE(price);
  struct Case {
    std::string name;
    Usage usage;  // input, output, cache_read, cache_creation, reasoning
    double usd;
  };
  const std::vector<Case> cases = {
      {"plain", {100, 10, {}, {}, {}}, 60},
      {"openai cached input", {100, 10, 40, {}, {}}, 30 + 10 + 10},
      {"anthropic cache read and creation", {100, 8, 40, 20, {}}, 20 + 10 + 2.5 + 8},
      {"reasoning is inside output", {4, 10, {}, {}, 6}, 2 + 10},
      {"nothing reported", {}, 0},
      {"output only", {{}, 3, {}, {}, {}}, 3},
      {"cache read without input", {{}, {}, 8, {}, {}}, 2},
      {"cache counts over input", {10, {}, 8, 8, {}}, 2 + 1},
  };
  for (const Case& c : cases) EXPECT_EQ(CostUsd(*price, c.usage), c.usd) << c.name;
}

TEST(PricesTest, CostWithShippedPrices) {
  PriceTable table = MustParse(std::string(DefaultPricesYaml()));
  struct Case {
    std::string provider, model;
    Usage usage;  // input, output, cache_read, cache_creation, reasoning
    double usd;
  };
  const std::vector<Case> cases = {
      // 600 x 2.50 + 400 x 1.25 + 200 x 10.00, per million
      {"openai", "gpt-4o-2024-11-20", {1000, 200, 400, {}, {}}, 0.004},
      // 2000 x 3 + 6000 x 0.30 + 2000 x 3.75 + 500 x 15, per million
      {"anthropic", "claude-sonnet-4-5-20250929", {10000, 500, 6000, 2000, {}}, 0.0228},
      // thinking tokens are billed as output: 1000 x 2.50, per million
      {"gcp.gemini", "gemini-2.5-flash", {{}, 1000, {}, {}, 800}, 0.0025},
  };
  for (const Case& c : cases) {
    std::optional<Price> price = table.Find(c.provider, c.model);
    ASSERT_TRUE(price) << c.model;
    EXPECT_DOUBLE_EQ(CostUsd(*price, c.usage), c.usd) << c.model;
  }
}

TEST(PricesTest, UnreadablePriceFilesSayWhy) {
  std::string error;
  EXPECT_FALSE(LoadPrices("/dev/zero", error));
  EXPECT_EQ(error, "genai.prices_file /dev/zero cannot be read: larger than 4 MiB");
  EXPECT_FALSE(LoadPrices("/nonexistent/prices.yaml", error));
  EXPECT_EQ(error,
            "genai.prices_file /nonexistent/prices.yaml cannot be read: No such file or directory");
  EXPECT_TRUE(LoadPrices("", error)) << error;  // the shipped table alone
}

TEST(PricesTest, BadFilesSayWhatIsWrong) {
  const std::string ok = "{provider: openai, model: gpt-4o, input: 1, output: 2}";
  struct Case {
    std::string yaml, error;
  };
  const std::vector<Case> cases = {
      {"prices: [{provider: openai, model: gpt-4o, input: -1, output: 1}]",
       "prices entry 1 (gpt-4o): input must be a non-negative number (USD per million "
       "tokens), not \"-1\"."},
      {"prices: [" + ok +
           ", {provider: x, model: y, input: 1, output: 1},"
           " {provider: openai, model: o3, input: 1, output: cheap}]",
       "prices entry 3 (o3): output must be a non-negative number (USD per million tokens), "
       "not \"cheap\"."},
      {"prices: [{provider: a, model: m, input: [1], output: 1}]",
       "prices entry 1 (m): input must be a non-negative number (USD per million tokens), "
       "not a list or map."},
      {"prices: [{provider: a, model: m, input: inf, output: 1}]",
       "prices entry 1 (m): input must be a non-negative number (USD per million tokens), "
       "not \"inf\"."},
      {"prices: [{provider: a, model: m, input: 1, output: 1, cache_read: nan}]",
       "prices entry 1 (m): cache_read must be a non-negative number (USD per million "
       "tokens), not \"nan\"."},
      {"prices: [{provider: a, model: m, input: 2000000, output: 1}]",
       "prices entry 1 (m): input is over 1000000; rates are in USD per million tokens."},
      {"prices: [{provider: a, model: m, input: 1}]",
       "prices entry 1 (m): output is missing (USD per million tokens)."},
      {"prices: [{provider: a, model: m, inptu: 1, output: 1}]",
       "prices entry 1: unknown field \"inptu\"; the fields are provider, model, input, "
       "output, cache_read and cache_write."},
      {"prices: [{provider: a, model: m, input: 1, input: 2, output: 1}]",
       "prices entry 1: input is given twice."},
      {"prices: [{model: m, input: 1, output: 1}]",
       "prices entry 1 (m): provider must be a name such as openai or anthropic, or \"*\" for "
       "any."},
      {"prices: [{provider: a, model: \"gpt*4o\", input: 1, output: 1}]",
       "prices entry 1 (gpt*4o): model may hold \"*\" only at its end, to match names by "
       "prefix."},
      {"prices: [{provider: a, model: \"\", input: 1, output: 1}]",
       "prices entry 1: model must be a model name such as gpt-4o, or a prefix ending in "
       "\"*\"."},
      {"prices: [gpt-4o]",
       "prices entry 1 must be a map of provider, model, input and output (cache_read and "
       "cache_write are optional)."},
      {"prices: [" + ok + ", " + ok + "]",
       "prices entry 2 (gpt-4o): the same provider and model as entry 1; keep one."},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(PriceTable::Parse(c.yaml, error)) << c.yaml;
    EXPECT_EQ(error, c.error) << c.yaml;
  }
}

TEST(PricesTest, BadShapesAndSizesSayWhatIsWrong) {
  const std::string shape =
      "A prices file must be a map with one key, prices, holding a list of entries (see "
      "deploy/genai/prices.yaml).";
  std::string many = "prices: [";
  for (int i = 0; i <= 10000; ++i) many += "0,";
  many += "]";
  struct Case {
    std::string yaml, error;
  };
  const std::vector<Case> cases = {
      {"", shape},
      {"- {provider: a, model: m, input: 1, output: 1}", shape},
      {"price: []", shape},
      {"prices: []\nversion: 1", shape},
      {"prices: {provider: a}", shape},
      {"prices: [",
       "The prices file is not valid YAML at line 1, column 1: end of sequence "
       "flow not found."},
      {many,
       "The prices file has 10001 entries, more than the 10000 allowed; keep the models "
       "you use."},
      {std::string(4 * 1024 * 1024 + 1, ' '),
       "The prices file is 4194305 bytes, over the 4 MiB allowed; keep the models you use."},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(PriceTable::Parse(c.yaml, error)) << c.yaml.substr(0, 40);
    EXPECT_EQ(error, c.error) << c.yaml.substr(0, 40);
  }
  std::string error;
  std::optional<PriceTable> empty = PriceTable::Parse("prices: []", error);
  ASSERT_TRUE(empty) << error;
  EXPECT_EQ(empty->size(), 0u);
}

}  // namespace
}  // namespace infrared::genai
