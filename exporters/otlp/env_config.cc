#include "exporters/otlp/env_config.h"

#include <cctype>
#include <cstdint>
#include <optional>
#include <string_view>

#include "agent/core/text.h"

namespace infrared::otlp {
namespace {

using core::PercentDecode;
using core::Trim;

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// A variable's trimmed value; nullopt when unset or blank (the OTel spec
// treats an empty value as unset).
std::optional<std::string_view> Lookup(const std::function<const char*(const char*)>& getenv,
                                       const std::string& name) {
  const char* raw = getenv(name.c_str());
  if (raw == nullptr) return std::nullopt;
  std::string_view value = Trim(raw);
  if (value.empty()) return std::nullopt;
  return value;
}

bool ParseEndpoint(const std::string& name, std::string_view value, std::string& out,
                   std::string& error) {
  if (core::IsHttpUrl(value)) {
    out = std::string(value);
    return true;
  }
  error = name + " is " + Quoted(value) +
          ", but it must be an http:// or https:// URL naming a host, such as "
          "http://localhost:4318.";
  return false;
}

// RFC 9110 token characters, which is what a header name may hold.
bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool HasControl(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return true;
  }
  return false;
}

bool ParseHeaders(const std::string& name, std::string_view value,
                  std::vector<std::pair<std::string, std::string>>& out, std::string& error) {
  const std::string accepted =
      ", but it must be a comma-separated list of key=value pairs such as "
      "api-key=secret,tenant=a, with keys and values URL-encoded.";
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t index = 0;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view entry = Trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    ++index;
    if (entry.empty()) continue;  // tolerate "a=1,,b=2" and a trailing comma
    const std::size_t equals = entry.find('=');
    if (equals == std::string_view::npos) {
      error = name + " entry " + std::to_string(index) + " has no '='" + accepted;
      return false;
    }
    const std::optional<std::string> key = PercentDecode(Trim(entry.substr(0, equals)));
    if (!key || !IsToken(*key)) {
      error = name + " entry " + std::to_string(index) + " has an invalid key" + accepted;
      return false;
    }
    const std::optional<std::string> decoded = PercentDecode(Trim(entry.substr(equals + 1)));
    if (!decoded || HasControl(*decoded)) {
      error = name + " has an invalid value for " + Quoted(*key) + accepted +
              " A literal % is written %25, and control characters are not allowed.";
      return false;
    }
    headers.emplace_back(*key, *decoded);
  }
  out = std::move(headers);
  return true;
}

bool ParseTimeout(const std::string& name, std::string_view value, std::chrono::milliseconds& out,
                  std::string& error) {
  std::int64_t millis = 0;
  bool valid = true;
  for (char c : value) {
    if (c < '0' || c > '9') valid = false;
    if (valid && millis <= kMaxOtlpTimeout.count()) millis = millis * 10 + (c - '0');
  }
  if (!valid || millis <= 0 || millis > kMaxOtlpTimeout.count()) {
    error = name + " is " + Quoted(value) +
            ", but it must be a whole number of milliseconds from 1 to " +
            std::to_string(kMaxOtlpTimeout.count()) + ".";
    return false;
  }
  out = std::chrono::milliseconds(millis);
  return true;
}

bool ParseCompression(const std::string& name, std::string_view value, std::string& out,
                      std::string& error) {
  const std::string lower = Lowercase(value);
  if (lower != "gzip" && lower != "none") {
    error = name + " is " + Quoted(value) + ", but only gzip and none are accepted.";
    return false;
  }
  out = lower;
  return true;
}

bool ParseProtocol(const std::string& name, std::string_view value, std::string& out,
                   std::string& error) {
  const std::string lower = Lowercase(value);
  if (lower != "http/protobuf") {
    error = name + " is " + Quoted(value) +
            ", but infrared only supports http/protobuf; set it to http/protobuf or leave it "
            "unset.";
    return false;
  }
  out = lower;
  return true;
}

// Parses one variable into `field` when it is set.
template <typename Field, typename Parser>
bool ApplyOne(const std::function<const char*(const char*)>& getenv, const std::string& name,
              Field& field, Parser parse, std::string& error) {
  const std::optional<std::string_view> value = Lookup(getenv, name);
  return !value || parse(name, *value, field, error);
}

// Applies the generic variable, then the signal-specific one, so that the
// latter wins.
template <typename Field, typename Parser>
bool ApplyPair(const std::function<const char*(const char*)>& getenv, const std::string& suffix,
               Field& field, Parser parse, std::string& error) {
  return ApplyOne(getenv, "OTEL_EXPORTER_OTLP_" + suffix, field, parse, error) &&
         ApplyOne(getenv, "OTEL_EXPORTER_OTLP_TRACES_" + suffix, field, parse, error);
}

bool CopyPath(const std::string&, std::string_view value, std::string& out, std::string&) {
  out = std::string(value);
  return true;
}

}  // namespace

bool ApplyOtelEnvironment(const std::function<const char*(const char*)>& getenv,
                          OtlpSettings& settings, std::string& error) {
  OtlpSettings next = settings;
  // The two endpoints fill different fields: a base URL and a full one.
  const bool ok =
      ApplyPair(getenv, "PROTOCOL", next.protocol, ParseProtocol, error) &&
      ApplyOne(getenv, "OTEL_EXPORTER_OTLP_ENDPOINT", next.endpoint, ParseEndpoint, error) &&
      ApplyOne(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", next.traces_endpoint, ParseEndpoint,
               error) &&
      ApplyPair(getenv, "HEADERS", next.headers, ParseHeaders, error) &&
      ApplyPair(getenv, "TIMEOUT", next.timeout, ParseTimeout, error) &&
      ApplyPair(getenv, "COMPRESSION", next.compression, ParseCompression, error) &&
      ApplyPair(getenv, "CERTIFICATE", next.ca_file, CopyPath, error);
  if (!ok) return false;
  settings = std::move(next);
  return true;
}

std::string TracesUrl(const OtlpSettings& settings) {
  if (!settings.traces_endpoint.empty()) return settings.traces_endpoint;
  if (settings.endpoint.empty()) return {};
  std::string_view base = settings.endpoint;
  while (base.ends_with('/')) base.remove_suffix(1);
  return std::string(base) + "/v1/traces";
}

}  // namespace infrared::otlp
