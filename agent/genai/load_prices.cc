#include <string>

#include "agent/core/operator_file.h"
#include "agent/genai/default_prices.h"
#include "agent/genai/prices.h"

namespace infrared::genai {

std::optional<PriceTable> LoadPrices(const std::string& operator_file, std::string& error) {
  std::optional<PriceTable> table = PriceTable::Parse(DefaultPricesYaml(), error);
  if (!table) {
    error = "the built-in price table is invalid: " + error;
    return std::nullopt;
  }
  if (operator_file.empty()) return table;
  std::string text;
  std::string reason;
  if (!core::ReadOperatorFile(operator_file, text, reason)) {
    error = "genai.prices_file " + operator_file + " cannot be read: " + reason;
    return std::nullopt;
  }
  std::optional<PriceTable> overrides = PriceTable::Parse(text, error);
  if (!overrides) {
    error = "genai.prices_file " + operator_file + ": " + error;
    return std::nullopt;
  }
  table->Merge(*overrides);
  return table;
}

}  // namespace infrared::genai
