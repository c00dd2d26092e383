#pragma once

// Whether agent/genai/json_reader.h read a text as nlohmann::json does: the
// unit test and the genai_extract fuzz target hold the two to each other.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/genai/json_reader.h"

namespace infrared::genai::testing {

// "" when `ours` and `theirs` are the same value, else where they differ.
inline std::string JsonDifference(const JsonValue& ours, const nlohmann::json& theirs,
                                  const std::string& path = "$") {
  using Type = nlohmann::json::value_t;
  auto differs = [&path](const char* what) { return path + ": " + what; };
  switch (theirs.type()) {
    case Type::null:
      return ours.IsNull() ? "" : differs("not null");
    case Type::boolean:
      return ours.IsBoolean() && ours.Bool() == theirs.get<bool>() ? "" : differs("boolean");
    case Type::number_unsigned:
      return ours.IsUnsigned() && ours.Unsigned() == theirs.get<std::uint64_t>() &&
                     ours.Integer() == theirs.get<std::int64_t>()
                 ? ""
                 : differs("unsigned");
    case Type::number_integer:
      return ours.type() == JsonType::kInteger && ours.Integer() == theirs.get<std::int64_t>()
                 ? ""
                 : differs("integer");
    case Type::number_float:
      return ours.type() == JsonType::kFloat && ours.Number() == theirs.get<double>()
                 ? ""
                 : differs("float");
    case Type::string:
      return ours.IsString() && ours.Text() == theirs.get_ref<const std::string&>()
                 ? ""
                 : differs("string");
    case Type::array: {
      if (!ours.IsArray()) return differs("not an array");
      std::size_t i = 0;
      for (const JsonValue& element : ours) {
        if (i >= theirs.size()) return differs("longer array");
        std::string inner = JsonDifference(element, theirs[i], path + "[" + std::to_string(i) + "]");
        if (!inner.empty()) return inner;
        ++i;
      }
      return i == theirs.size() ? "" : differs("shorter array");
    }
    case Type::object: {
      if (!ours.IsObject()) return differs("not an object");
      if (ours.Empty() != theirs.empty()) return differs("emptiness");
      for (const JsonValue& member : ours) {
        if (!theirs.contains(member.key())) return differs("extra member");
      }
      for (const auto& [key, value] : theirs.items()) {
        const JsonValue* mine = ours.Find(key);
        if (mine == nullptr) return differs("missing member");
        std::string inner = JsonDifference(*mine, value, path + "." + key);
        if (!inner.empty()) return inner;
      }
      return "";
    }
    default:
      return differs("unexpected nlohmann type");
  }
}

// "" when a JsonDocument and nlohmann::json::parse agree on `text`: both
// refuse it, or both read the same value.
inline std::string ParseDifference(std::string_view text) {
  JsonDocument document;
  const bool parsed = document.Parse(text);
  const nlohmann::json theirs = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (theirs.is_discarded()) return parsed ? "accepted what nlohmann refuses" : "";
  if (!parsed) return "refused what nlohmann accepts";
  return JsonDifference(document.Root(), theirs);
}

}  // namespace infrared::genai::testing
