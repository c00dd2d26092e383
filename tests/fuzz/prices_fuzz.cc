// Feeds arbitrary bytes to PriceTable::Parse: an operator's prices file is user input,
// so any bytes must end in a table or an error sentence, never a crash or an escaping
// exception; and whatever parses must price calls with finite, non-negative costs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "agent/genai/prices.h"

namespace {

using infrared::genai::Price;
using infrared::genai::PriceTable;
using infrared::genai::Usage;

constexpr std::uint64_t kMost = std::numeric_limits<std::uint64_t>::max();

void CheckCosts(const Price& price) {
  // The largest counts a provider could report, and the clamp of cache over input.
  const Usage usages[] = {{kMost, kMost, kMost, kMost, kMost}, {10, 5, 8, 8, 2}, {}};
  for (const Usage& usage : usages) {
    double cost = infrared::genai::CostUsd(price, usage);
    if (!std::isfinite(cost) || cost < 0) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  std::optional<PriceTable> table = PriceTable::Parse(text, error);
  // Every failure must explain itself.
  if (!table) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  const std::string_view names[][2] = {{"openai", "gpt-4o-mini-2024-07-18"},
                                       {"anthropic", "claude-sonnet-4-5"},
                                       {"ollama", ""},
                                       {"*", "*"},
                                       {"a", "m"}};
  for (const auto& name : names) {
    if (std::optional<Price> price = table->Find(name[0], name[1])) CheckCosts(*price);
  }
  // Merging a table into itself replaces every entry with itself.
  std::size_t entries = table->size();
  table->Merge(*table);
  if (table->size() != entries) __builtin_trap();
  return 0;
}
