#include "agent/genai/prices.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <utility>

#include "agent/core/utf8.h"

namespace infrared::genai {
namespace {

// Bounds on an operator's file, so a mistaken one cannot eat the agent's memory.
constexpr std::size_t kMaxYamlBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxEntries = 10000;
constexpr std::size_t kMaxNameBytes = 256;
// Files say USD per million tokens; above this a rate is surely in another unit.
constexpr double kMaxRatePerMillion = 1000000;
constexpr double kTokensPerMillion = 1000000;
constexpr std::string_view kAnyProvider = "*";
// How much of a bad value an error sentence quotes.
constexpr std::size_t kMaxQuotedBytes = 40;

enum Field { kProvider, kModel, kInput, kOutput, kCacheRead, kCacheWrite, kFieldCount };
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "provider", "model", "input", "output", "cache_read", "cache_write"};
using Fields = std::array<std::optional<YAML::Node>, kFieldCount>;

bool IsPrefix(std::string_view model) { return !model.empty() && model.back() == '*'; }

// A name joined to its provider; names hold no control characters, so '\n' cannot be
// mistaken for part of either.
std::string Key(std::string_view provider, std::string_view model) {
  std::string key;
  key.reserve(provider.size() + 1 + model.size());
  key.append(provider).append(1, '\n').append(model);
  return key;
}

bool IsName(std::string_view text) {
  return !text.empty() && text.size() <= kMaxNameBytes &&
         std::none_of(text.begin(), text.end(), [](char c) {
           auto byte = static_cast<unsigned char>(c);
           return byte < 0x20 || byte == 0x7f;
         });
}

std::string Quoted(std::string_view text) { return core::QuotedExcerpt(text, kMaxQuotedBytes); }

// Sorts an entry's keys into `fields`, refusing unknown and repeated ones.
bool CollectFields(const YAML::Node& entry, const std::string& name, Fields& fields,
                   std::string& error) {
  for (const auto& pair : entry) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    auto found = std::find(kFieldNames.begin(), kFieldNames.end(), key);
    if (found == kFieldNames.end()) {
      error = name + ": unknown field " + Quoted(key) +
              "; the fields are provider, model, input, output, cache_read and cache_write.";
      return false;
    }
    std::optional<YAML::Node>& slot = fields[found - kFieldNames.begin()];
    if (slot) {
      error = name + ": " + key + " is given twice.";
      return false;
    }
    slot = pair.second;
  }
  return true;
}

// A USD-per-million rate, stored per token.
bool ParseRate(const std::optional<YAML::Node>& node, Field field, const std::string& name,
               double& per_token, std::string& error) {
  std::string_view field_name = kFieldNames[field];
  if (!node) {
    error = name + ": " + std::string(field_name) + " is missing (USD per million tokens).";
    return false;
  }
  const std::string text = node->IsScalar() ? node->Scalar() : std::string();
  double value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < 0) {
    error = name + ": " + std::string(field_name) +
            " must be a non-negative number (USD per million tokens), not " +
            (node->IsScalar() ? Quoted(text) : std::string("a list or map")) + ".";
    return false;
  }
  if (value > kMaxRatePerMillion) {
    error = name + ": " + std::string(field_name) +
            " is over 1000000; rates are in USD per million tokens.";
    return false;
  }
  per_token = (value == 0 ? 0.0 : value) / kTokensPerMillion;
  return true;
}

// A provider or model name; `wanted` says what one looks like when it is not.
bool ParseName(const std::optional<YAML::Node>& node, const std::string& name,
               std::string_view wanted, std::string& out, std::string& error) {
  if (!node || !node->IsScalar() || !IsName(node->Scalar())) {
    error = name + ": " + std::string(wanted) + ".";
    return false;
  }
  out = node->Scalar();
  return true;
}

// "prices entry 3 (gpt-4o)": how error sentences name an entry.
std::string EntryName(std::size_t number, const Fields& fields) {
  std::string name = "prices entry " + std::to_string(number);
  const std::optional<YAML::Node>& model = fields[kModel];
  if (model && model->IsScalar() && IsName(model->Scalar())) name += " (" + model->Scalar() + ")";
  return name;
}

std::optional<PriceEntry> ParseEntry(std::size_t number, const YAML::Node& node,
                                     std::string& error) {
  if (!node.IsMap()) {
    error = "prices entry " + std::to_string(number) +
            " must be a map of provider, model, input and output (cache_read and cache_write "
            "are optional).";
    return std::nullopt;
  }
  Fields fields;
  std::string name = "prices entry " + std::to_string(number);
  if (!CollectFields(node, name, fields, error)) return std::nullopt;
  name = EntryName(number, fields);
  PriceEntry entry;
  Price& price = entry.price;
  if (!ParseName(fields[kProvider], name,
                 "provider must be a name such as openai or anthropic, or \"*\" for any",
                 entry.provider, error) ||
      !ParseName(fields[kModel], name,
                 "model must be a model name such as gpt-4o, or a prefix ending in \"*\"",
                 entry.model, error)) {
    return std::nullopt;
  }
  if (entry.model.find('*') < entry.model.size() - 1) {
    error = name + ": model may hold \"*\" only at its end, to match names by prefix.";
    return std::nullopt;
  }
  if (!ParseRate(fields[kInput], kInput, name, price.input, error) ||
      !ParseRate(fields[kOutput], kOutput, name, price.output, error)) {
    return std::nullopt;
  }
  price.cache_read = price.input;
  price.cache_write = price.input;
  if ((fields[kCacheRead] &&
       !ParseRate(fields[kCacheRead], kCacheRead, name, price.cache_read, error)) ||
      (fields[kCacheWrite] &&
       !ParseRate(fields[kCacheWrite], kCacheWrite, name, price.cache_write, error))) {
    return std::nullopt;
  }
  return entry;
}

// The list under the file's one key, prices; nothing when the file has another shape.
// (Looking the key up with operator[] would hand back a node that throws when missing.)
std::optional<YAML::Node> EntryList(const YAML::Node& root) {
  if (!root.IsMap() || root.size() != 1) return std::nullopt;
  const auto only = root.begin();
  if (!only->first.IsScalar() || only->first.Scalar() != "prices" || !only->second.IsSequence()) {
    return std::nullopt;
  }
  return only->second;
}

// The entries of a parsed file, each checked, none repeated.
std::optional<std::vector<PriceEntry>> ParseRoot(const YAML::Node& root, std::string& error) {
  std::optional<YAML::Node> found = EntryList(root);
  if (!found) {
    error =
        "A prices file must be a map with one key, prices, holding a list of entries "
        "(see deploy/genai/prices.yaml).";
    return std::nullopt;
  }
  const YAML::Node& list = *found;
  if (list.size() > kMaxEntries) {
    error = "The prices file has " + std::to_string(list.size()) +
            " entries, more than the 10000 allowed; keep the models you use.";
    return std::nullopt;
  }
  std::vector<PriceEntry> entries;
  std::unordered_map<std::string, std::size_t> numbers;
  for (const YAML::Node& node : list) {
    std::size_t number = entries.size() + 1;
    std::optional<PriceEntry> entry = ParseEntry(number, node, error);
    if (!entry) return std::nullopt;
    auto [it, added] = numbers.emplace(Key(entry->provider, entry->model), number);
    if (!added) {
      error = "prices entry " + std::to_string(number) + " (" + entry->model +
              "): the same provider and model as entry " + std::to_string(it->second) +
              "; keep one.";
      return std::nullopt;
    }
    entries.push_back(std::move(*entry));
  }
  return entries;
}

std::string Where(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return " at line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1);
}

}  // namespace

std::optional<PriceTable> PriceTable::Parse(std::string_view yaml, std::string& error) {
  if (yaml.size() > kMaxYamlBytes) {
    error = "The prices file is " + std::to_string(yaml.size()) +
            " bytes, over the 4 MiB allowed; keep the models you use.";
    return std::nullopt;
  }
  std::optional<std::vector<PriceEntry>> entries;
  try {
    entries = ParseRoot(YAML::Load(std::string(yaml)), error);
  } catch (const YAML::Exception& e) {
    error = "The prices file is not valid YAML" + Where(e.mark) + ": " + e.msg + ".";
  } catch (const std::exception& e) {
    error = std::string("The prices file could not be read as YAML: ") + e.what() + ".";
  }
  if (!entries) return std::nullopt;
  PriceTable table;
  for (PriceEntry& entry : *entries) table.Put(std::move(entry));
  table.SortPrefixes();
  return table;
}

void PriceTable::Merge(const PriceTable& overrides) {
  for (const PriceEntry& entry : overrides.entries_) Put(entry);
  SortPrefixes();
}

std::optional<Price> PriceTable::Find(std::string_view provider, std::string_view model) const {
  for (std::string_view wanted : {provider, kAnyProvider}) {
    auto it = index_.find(Key(wanted, model));
    if (it != index_.end() && !IsPrefix(entries_[it->second].model)) {
      return entries_[it->second].price;
    }
  }
  for (std::string_view wanted : {provider, kAnyProvider}) {
    for (std::size_t i : prefixes_) {
      const PriceEntry& entry = entries_[i];
      std::string_view prefix(entry.model.data(), entry.model.size() - 1);
      if (entry.provider == wanted && model.substr(0, prefix.size()) == prefix) {
        return entry.price;
      }
    }
  }
  return std::nullopt;
}

void PriceTable::Put(PriceEntry entry) {
  auto [it, added] = index_.emplace(Key(entry.provider, entry.model), entries_.size());
  if (added) {
    entries_.push_back(std::move(entry));
  } else {
    entries_[it->second] = std::move(entry);
  }
}

void PriceTable::SortPrefixes() {
  prefixes_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (IsPrefix(entries_[i].model)) prefixes_.push_back(i);
  }
  std::stable_sort(prefixes_.begin(), prefixes_.end(), [this](std::size_t a, std::size_t b) {
    return entries_[a].model.size() > entries_[b].model.size();
  });
}

double CostUsd(const Price& price, const Usage& usage) {
  std::uint64_t cache_read = usage.cache_read_tokens.value_or(0);
  std::uint64_t cache_write = usage.cache_creation_tokens.value_or(0);
  // Cached tokens are part of the input count; a provider that reports more of them
  // than input leaves no uncached input rather than a negative count.
  std::uint64_t uncached = usage.input_tokens.value_or(0);
  uncached -= std::min(uncached, cache_read);
  uncached -= std::min(uncached, cache_write);
  return static_cast<double>(uncached) * price.input +
         static_cast<double>(cache_read) * price.cache_read +
         static_cast<double>(cache_write) * price.cache_write +
         static_cast<double>(usage.output_tokens.value_or(0)) * price.output;
}

}  // namespace infrared::genai
