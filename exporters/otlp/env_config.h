#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace infrared::otlp {

// Where and how to send traces, as the OpenTelemetry exporter conventions
// describe it (OTEL_EXPORTER_OTLP_*).
struct OtlpSettings {
  std::string endpoint;                                      // base, e.g. http://localhost:4318
  std::string traces_endpoint;                               // full URL if given
  std::vector<std::pair<std::string, std::string>> headers;  // decoded, in the order given
  std::chrono::milliseconds timeout{10000};
  std::string compression;  // "" (unset), "gzip" or "none"
  std::string protocol = "http/protobuf";
  std::string ca_file;  // PEM file of trusted CAs; empty: system default
};

// The longest accepted OTEL_EXPORTER_OTLP_TIMEOUT.
inline constexpr std::chrono::milliseconds kMaxOtlpTimeout{3600000};

// Overlays the OTEL_EXPORTER_OTLP_* environment on `settings`. `getenv` returns
// a variable's value or null. A variable that is unset or empty (after trimming
// blanks) leaves its field alone; a set one replaces it. The signal-specific
// variable (OTEL_EXPORTER_OTLP_TRACES_*) wins over the generic one, and a
// TRACES_HEADERS list replaces the generic list rather than merging with it.
//
// Read: ENDPOINT, TRACES_ENDPOINT (http:// or https:// URLs); HEADERS,
// TRACES_HEADERS (key=value,... with percent-encoded keys and values; a '+'
// stays a '+'); TIMEOUT, TRACES_TIMEOUT (milliseconds, 1..kMaxOtlpTimeout);
// COMPRESSION, TRACES_COMPRESSION (gzip or none); PROTOCOL, TRACES_PROTOCOL
// (http/protobuf only); CERTIFICATE, TRACES_CERTIFICATE (a CA file path).
//
// On an invalid value returns false, leaves `settings` untouched and sets
// `error` to one sentence naming the variable and what it accepts. Header
// values never appear in errors, since they usually carry credentials.
bool ApplyOtelEnvironment(const std::function<const char*(const char*)>& getenv,
                          OtlpSettings& settings, std::string& error);

// The URL to POST traces to: traces_endpoint as-is when set, else endpoint
// with "/v1/traces" appended (one slash between them), else empty.
std::string TracesUrl(const OtlpSettings& settings);

}  // namespace infrared::otlp
