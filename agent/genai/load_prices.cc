#include <fstream>
#include <sstream>

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
  std::ifstream file(operator_file);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) {
    error = "genai.prices_file " + operator_file + " cannot be read";
    return std::nullopt;
  }
  std::optional<PriceTable> overrides = PriceTable::Parse(text.str(), error);
  if (!overrides) {
    error = "genai.prices_file " + operator_file + ": " + error;
    return std::nullopt;
  }
  table->Merge(*overrides);
  return table;
}

}  // namespace infrared::genai
