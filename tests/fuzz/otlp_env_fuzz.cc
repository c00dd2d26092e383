// Feeds arbitrary OTEL_EXPORTER_OTLP_* environments to the OTLP settings
// reader. The input is lines; a line's first byte picks one of the variables
// (modulo their number) and the rest is its value (a later line for the same
// variable replaces it; bytes after a NUL are lost, as in a real environment).
// Whatever they hold: a refusal leaves the settings alone and says, in one
// sentence, which variable is wrong; an acceptance yields settings that hold
// their documented invariants, reads the same when applied again, and gives a
// traces URL that is empty only when no endpoint was given.
#include <array>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "exporters/otlp/env_config.h"

namespace {

using infrared::otlp::ApplyOtelEnvironment;
using infrared::otlp::kMaxOtlpTimeout;
using infrared::otlp::OtlpSettings;
using infrared::otlp::TracesUrl;

constexpr std::array<const char*, 12> kVariables = {
    "OTEL_EXPORTER_OTLP_ENDPOINT",    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",     "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",     "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_PROTOCOL",    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
};

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool Same(const OtlpSettings& a, const OtlpSettings& b) {
  return a.endpoint == b.endpoint && a.traces_endpoint == b.traces_endpoint &&
         a.headers == b.headers && a.timeout == b.timeout && a.compression == b.compression &&
         a.protocol == b.protocol && a.ca_file == b.ca_file;
}

// http:// or https:// (any case), then a host: not a '/', '?', '#' or ':'.
bool IsUrl(std::string_view url) {
  std::string lower;
  for (char c : url.substr(0, 8)) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const std::size_t scheme = lower.starts_with("http://")    ? 7
                             : lower.starts_with("https://") ? 8
                                                             : 0;
  return scheme > 0 && url.size() > scheme &&
         std::string_view("/?#:").find(url[scheme]) == std::string_view::npos;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> environment;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    const std::size_t newline = input.find('\n');
    const std::string_view line = input.substr(0, newline);
    input = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
    if (line.empty()) continue;
    const std::string value(line.substr(1));
    environment[kVariables[static_cast<unsigned char>(line[0]) % kVariables.size()]] =
        value.c_str();
  }
  const auto getenv = [&environment](const char* name) -> const char* {
    const auto found = environment.find(name);
    return found == environment.end() ? nullptr : found->second.c_str();
  };

  OtlpSettings settings;
  const OtlpSettings defaults;
  std::string error;
  if (!ApplyOtelEnvironment(getenv, settings, error)) {
    Check(Same(settings, defaults));
    Check(error.starts_with("OTEL_EXPORTER_OTLP_"));
    Check(error.ends_with("."));
    return 0;
  }
  Check(error.empty());
  Check(settings.endpoint.empty() || IsUrl(settings.endpoint));
  Check(settings.traces_endpoint.empty() || IsUrl(settings.traces_endpoint));
  Check(settings.timeout.count() >= 1 && settings.timeout <= kMaxOtlpTimeout);
  Check(settings.compression.empty() || settings.compression == "gzip" ||
        settings.compression == "none");
  Check(settings.protocol == "http/protobuf");
  for (const auto& [key, value] : settings.headers) {
    Check(!key.empty());
    for (char c : key) Check(IsTokenChar(c));
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      Check(u == '\t' || (u >= 0x20 && u != 0x7f));
    }
  }
  const std::string url = TracesUrl(settings);
  Check(url.empty() == (settings.endpoint.empty() && settings.traces_endpoint.empty()));
  if (!settings.traces_endpoint.empty()) {
    Check(url == settings.traces_endpoint);
  } else if (!url.empty()) {
    Check(url.ends_with("/v1/traces") && !url.ends_with("//v1/traces") && IsUrl(url) &&
          settings.endpoint.starts_with(url.substr(0, url.size() - 10)));
  }
  OtlpSettings again = settings;
  Check(ApplyOtelEnvironment(getenv, again, error));
  Check(Same(again, settings));
  return 0;
}
