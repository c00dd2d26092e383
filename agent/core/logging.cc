#include "agent/core/logging.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <type_traits>
#include <utility>

#include "agent/core/utf8.h"

namespace infrared::core {
namespace {

std::string_view JsonLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

// Padded to five so that messages line up in a terminal.
std::string_view TextLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO ";
    case LogLevel::kWarn:
      return "WARN ";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?????";
}

// Appends `text` with control characters escaped and invalid UTF-8 replaced;
// quotes and backslashes are escaped too when the result sits inside quotes.
void AppendEscaped(std::string& out, std::string_view raw, bool inside_quotes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : SanitizeUtf8(raw)) {
    auto byte = static_cast<unsigned char>(c);
    if (inside_quotes && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
}

void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  AppendEscaped(out, text, true);
  out += '"';
}

// Text values stay bare unless a reader could misjudge where they end.
void AppendTextValue(std::string& out, std::string_view text) {
  bool needs_quotes = text.empty();
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F || c == '"' || c == '=') needs_quotes = true;
  }
  if (needs_quotes) out += '"';
  AppendEscaped(out, text, needs_quotes);
  if (needs_quotes) out += '"';
}

std::string FormatDouble(double value, bool json) {
  if (std::isnan(value)) return json ? "\"NaN\"" : "NaN";
  if (std::isinf(value)) {
    if (value > 0) return json ? "\"+Inf\"" : "+Inf";
    return json ? "\"-Inf\"" : "-Inf";
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return ec == std::errc() ? std::string(buffer, end) : "0";
}

void AppendValue(std::string& out, const LogField& field, bool json) {
  std::visit(
      [&](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::string>) {
          json ? AppendJsonString(out, value) : AppendTextValue(out, value);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += value ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          out += FormatDouble(value, json);
        } else {
          out += std::to_string(value);
        }
      },
      field.value);
}

// RFC 3339 in UTC with milliseconds, e.g. 2026-11-25T15:30:00.123Z.
std::string FormatTimestamp(std::chrono::system_clock::time_point when) {
  auto seconds = std::chrono::floor<std::chrono::seconds>(when);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(when - seconds).count();
  std::time_t time = std::chrono::system_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&time, &utc);
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return buffer;
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel& out) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == JsonLevelName(level)) {
      out = level;
      return true;
    }
  }
  return false;
}

bool ParseLogFormat(std::string_view text, LogFormat& out) {
  if (text == "json") {
    out = LogFormat::kJson;
  } else if (text == "text") {
    out = LogFormat::kText;
  } else {
    return false;
  }
  return true;
}

Logger::Logger(LogFormat format, LogLevel level, std::FILE* sink, WallClock clock)
    : format_(format), level_(level), sink_(sink), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

void Logger::Log(LogLevel level, std::string_view component, std::string_view message,
                 std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;
  std::string line = Format(level, component, message, fields);
  line += '\n';
  // One write per line so that lines from different threads never interleave.
  std::lock_guard<std::mutex> lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), sink_);
  std::fflush(sink_);
}

std::string Logger::Format(LogLevel level, std::string_view component, std::string_view message,
                           std::initializer_list<LogField> fields) const {
  std::string out;
  std::string timestamp = FormatTimestamp(clock_());
  if (format_ == LogFormat::kJson) {
    out += "{\"ts\":\"" + timestamp + "\",\"level\":\"" + std::string(JsonLevelName(level)) +
           "\",\"component\":";
    AppendJsonString(out, component);
    out += ",\"msg\":";
    AppendJsonString(out, message);
    for (const LogField& field : fields) {
      out += ',';
      AppendJsonString(out, field.key);
      out += ':';
      AppendValue(out, field, true);
    }
    out += '}';
    return out;
  }
  out += timestamp + " " + std::string(TextLevelName(level)) + " ";
  if (!component.empty()) {
    AppendEscaped(out, component, false);
    out += ": ";
  }
  AppendEscaped(out, message, false);
  for (const LogField& field : fields) {
    out += ' ';
    AppendEscaped(out, field.key, false);
    out += '=';
    AppendValue(out, field, false);
  }
  return out;
}

}  // namespace infrared::core
