#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/genai/types.h"

namespace infrared::genai {

// What one token costs, in USD per token (files say USD per million tokens).
struct Price {
  double input = 0;        // an input token not read from a cache
  double output = 0;       // an output token, reasoning included
  double cache_read = 0;   // an input token read from the prompt cache
  double cache_write = 0;  // an input token written to the prompt cache
};

// One entry of a prices file.
struct PriceEntry {
  std::string provider;  // gen_ai.provider.name, or "*" for any provider
  std::string model;     // an exact name, or a prefix ending in '*'
  Price price;
};

// The prices of models, from the shipped table and an operator's overrides.
// See deploy/genai/prices.yaml for the file format.
class PriceTable {
 public:
  // Reads a prices file. On failure returns nothing and sets `error` to a sentence
  // naming the entry and the field ("prices entry 3 (gpt-4o): input must be ...").
  static std::optional<PriceTable> Parse(std::string_view yaml, std::string& error);

  // Adds the entries of `overrides`; one with the same provider and model as an
  // entry here replaces it.
  void Merge(const PriceTable& overrides);

  // The price of `model` called through `provider`: the exact name for the provider,
  // else the exact name for "*", else the longest matching prefix for the provider,
  // else the longest for "*". Names are compared case-sensitively.
  std::optional<Price> Find(std::string_view provider, std::string_view model) const;

  // How many entries the table holds.
  std::size_t size() const { return entries_.size(); }

 private:
  // Replaces the entry with the same provider and model, or appends.
  void Put(PriceEntry entry);
  // Rebuilds prefixes_ after entries_ changed.
  void SortPrefixes();

  std::vector<PriceEntry> entries_;
  // Key(provider, model as written) -> index in entries_.
  std::unordered_map<std::string, std::size_t> index_;
  // Indices of the prefix entries, longest prefix first.
  std::vector<std::size_t> prefixes_;
};

// The USD cost of a call with `usage` at `price`. Missing counts are 0; cached tokens
// are taken out of the input count, which never goes below 0.
double CostUsd(const Price& price, const Usage& usage);

// The table shipped with infrared, with the operator's file (if a path is
// given) over it; nullopt with a sentence naming the file when it cannot be
// read or parsed.
std::optional<PriceTable> LoadPrices(const std::string& operator_file, std::string& error);

}  // namespace infrared::genai
