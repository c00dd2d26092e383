#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

namespace infrared::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kJson, kText };

// Parses "debug", "info", "warn", "error" / "json", "text".
bool ParseLogLevel(std::string_view text, LogLevel& out);
bool ParseLogFormat(std::string_view text, LogFormat& out);

struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, std::int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, unsigned v) : key(k), value(static_cast<std::uint64_t>(v)) {}
  LogField(std::string_view k, long unsigned v) : key(k), value(static_cast<std::uint64_t>(v)) {}
  LogField(std::string_view k, long long unsigned v)
      : key(k), value(static_cast<std::uint64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}

  std::string_view key;
  std::variant<std::string, std::int64_t, std::uint64_t, double, bool> value;
};

using WallClock = std::function<std::chrono::system_clock::time_point()>;

// Structured log lines on one sink, safe from any thread.
// JSON: {"ts":"2026-11-25T15:30:00.123Z","level":"info","component":"loader",
//        "msg":"attached","probe":"sched_switch"}  (one object per line; strings
// JSON-escaped, invalid UTF-8 replaced with U+FFFD; numbers and bools bare).
// Text: 2026-11-25T15:30:00.123Z INFO  loader: attached probe=sched_switch
// (values with spaces, quotes or control characters are quoted and escaped).
class Logger {
 public:
  Logger(LogFormat format, LogLevel level, std::FILE* sink = stderr, WallClock clock = nullptr);

  bool Enabled(LogLevel level) const { return level >= level_; }
  void Log(LogLevel level, std::string_view component, std::string_view message,
           std::initializer_list<LogField> fields = {});

  void Debug(std::string_view component, std::string_view message,
             std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kDebug, component, message, fields);
  }
  void Info(std::string_view component, std::string_view message,
            std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kInfo, component, message, fields);
  }
  void Warn(std::string_view component, std::string_view message,
            std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kWarn, component, message, fields);
  }
  void Error(std::string_view component, std::string_view message,
             std::initializer_list<LogField> fields = {}) {
    Log(LogLevel::kError, component, message, fields);
  }

  // Formats one line without the trailing newline (exposed for tests).
  std::string Format(LogLevel level, std::string_view component, std::string_view message,
                     std::initializer_list<LogField> fields) const;

 private:
  LogFormat format_;
  LogLevel level_;
  std::FILE* sink_;
  WallClock clock_;
  std::mutex mutex_;
};

}  // namespace infrared::core
