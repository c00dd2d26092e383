#include "agent/core/logging.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace infrared::core {
namespace {

using namespace std::chrono_literals;

// 2026-11-25T15:30:00.123Z
std::chrono::system_clock::time_point FixedTime() {
  return std::chrono::sys_days{std::chrono::year{2026} / 11 / 25} + 15h + 30min + 123ms;
}

WallClock FixedClock() {
  return [] { return FixedTime(); };
}

constexpr const char* kPrefix = R"({"ts":"2026-11-25T15:30:00.123Z",)";

// Everything written to a std::tmpfile sink so far.
std::string ReadAll(std::FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0;)
    text.append(buffer, n);
  return text;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

TEST(LoggingTest, ParsesLevelsAndFormats) {
  LogLevel level = LogLevel::kError;
  EXPECT_TRUE(ParseLogLevel("debug", level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("info", level));
  EXPECT_EQ(level, LogLevel::kInfo);
  EXPECT_TRUE(ParseLogLevel("warn", level));
  EXPECT_EQ(level, LogLevel::kWarn);
  EXPECT_TRUE(ParseLogLevel("error", level));
  EXPECT_EQ(level, LogLevel::kError);
  for (const char* bad : {"", "INFO", "warning", "trace"})
    EXPECT_FALSE(ParseLogLevel(bad, level)) << bad;

  LogFormat format = LogFormat::kJson;
  EXPECT_TRUE(ParseLogFormat("text", format));
  EXPECT_EQ(format, LogFormat::kText);
  EXPECT_TRUE(ParseLogFormat("json", format));
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("yaml", format));
}

TEST(LoggingTest, JsonLineHasTheDocumentedShape) {
  Logger logger(LogFormat::kJson, LogLevel::kDebug, nullptr, FixedClock());
  EXPECT_EQ(logger.Format(LogLevel::kInfo, "loader", "attached", {{"probe", "sched_switch"}}),
            R"({"ts":"2026-11-25T15:30:00.123Z","level":"info","component":"loader",)"
            R"("msg":"attached","probe":"sched_switch"})");
  EXPECT_EQ(logger.Format(LogLevel::kDebug, "", "", {}),
            R"({"ts":"2026-11-25T15:30:00.123Z","level":"debug","component":"","msg":""})");
  EXPECT_EQ(logger.Format(LogLevel::kWarn, "c", "m", {}),
            std::string(kPrefix) + R"("level":"warn","component":"c","msg":"m"})");
  EXPECT_EQ(logger.Format(LogLevel::kError, "c", "m", {}),
            std::string(kPrefix) + R"("level":"error","component":"c","msg":"m"})");
}

struct ValueRow {
  LogField field;
  std::string json;
  std::string text;
};

TEST(LoggingTest, ValuesInBothFormats) {
  const double kNan = std::numeric_limits<double>::quiet_NaN();
  const double kInf = std::numeric_limits<double>::infinity();
  const std::vector<ValueRow> rows = {
      {{"v", -5}, "-5", "-5"},
      {{"v", std::int64_t{-9223372036854775807 - 1}},
       "-9223372036854775808",
       "-9223372036854775808"},
      {{"v", std::uint64_t{18446744073709551615u}}, "18446744073709551615", "18446744073709551615"},
      {{"v", 7u}, "7", "7"},
      {{"v", 0.1}, "0.1", "0.1"},
      {{"v", 2.5}, "2.5", "2.5"},
      {{"v", 1e300}, "1e+300", "1e+300"},
      {{"v", kNan}, R"("NaN")", "NaN"},
      {{"v", kInf}, R"("+Inf")", "+Inf"},
      {{"v", -kInf}, R"("-Inf")", "-Inf"},
      {{"v", true}, "true", "true"},
      {{"v", false}, "false", "false"},
      {{"v", "plain"}, R"("plain")", "plain"},
      {{"v", ""}, R"("")", R"("")"},
      {{"v", "two words"}, R"("two words")", R"("two words")"},
      {{"v", "a=b"}, R"("a=b")", R"("a=b")"},
      {{"v", "say \"hi\""}, R"("say \"hi\"")", R"("say \"hi\"")"},
      {{"v", "C:\\dir"}, R"("C:\\dir")", R"(C:\dir)"},
      {{"v", "a\nb"}, R"("a\nb")", R"("a\nb")"},
  };
  Logger json(LogFormat::kJson, LogLevel::kDebug, nullptr, FixedClock());
  Logger text(LogFormat::kText, LogLevel::kDebug, nullptr, FixedClock());
  for (const ValueRow& row : rows) {
    EXPECT_EQ(
        json.Format(LogLevel::kInfo, "c", "m", {row.field}),
        std::string(kPrefix) + R"("level":"info","component":"c","msg":"m","v":)" + row.json + "}");
    EXPECT_EQ(text.Format(LogLevel::kInfo, "c", "m", {row.field}),
              "2026-11-25T15:30:00.123Z INFO  c: m v=" + row.text);
  }
}

struct EscapeRow {
  std::string raw;
  std::string escaped;
};

TEST(LoggingTest, JsonStringsAreEscapedAndUtf8IsRepaired) {
  const std::string kFffd = "\xEF\xBF\xBD";
  const std::vector<EscapeRow> rows = {
      {"say \"hi\"", R"(say \"hi\")"},
      {"back\\slash", R"(back\\slash)"},
      {"line1\nline2", R"(line1\nline2)"},
      {"tab\there\r", R"(tab\there\r)"},
      {std::string("nul\0end", 7), R"(nul\u0000end)"},
      {"\x01\x1f", R"(\u0001\u001f)"},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"bad\xFF"
       "end",
       "bad" + kFffd + "end"},
      {"cut\xE2\x82", "cut" + kFffd},                       // truncated sequence: one replacement
      {"\xC0\x80", kFffd + kFffd},                          // overlong NUL
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},              // surrogate half
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {"\x80", kFffd},                                      // stray continuation byte
  };
  Logger logger(LogFormat::kJson, LogLevel::kDebug, nullptr, FixedClock());
  for (const EscapeRow& row : rows) {
    EXPECT_EQ(logger.Format(LogLevel::kInfo, row.raw, row.raw, {{row.raw, row.raw}}),
              std::string(kPrefix) + R"("level":"info","component":")" + row.escaped +
                  R"(","msg":")" + row.escaped + R"(",")" + row.escaped + R"(":")" + row.escaped +
                  R"("})")
        << row.raw;
  }
}

TEST(LoggingTest, TextLineHasTheDocumentedShape) {
  Logger logger(LogFormat::kText, LogLevel::kDebug, nullptr, FixedClock());
  EXPECT_EQ(logger.Format(LogLevel::kInfo, "loader", "attached", {{"probe", "sched_switch"}}),
            "2026-11-25T15:30:00.123Z INFO  loader: attached probe=sched_switch");
  EXPECT_EQ(logger.Format(LogLevel::kDebug, "a", "b", {{"n", 1}, {"ok", true}}),
            "2026-11-25T15:30:00.123Z DEBUG a: b n=1 ok=true");
  EXPECT_EQ(logger.Format(LogLevel::kWarn, "a", "b", {}), "2026-11-25T15:30:00.123Z WARN  a: b");
  EXPECT_EQ(logger.Format(LogLevel::kError, "", "no component", {}),
            "2026-11-25T15:30:00.123Z ERROR no component");
  // A message must never break the one-line-per-entry promise.
  EXPECT_EQ(logger.Format(LogLevel::kInfo, "a", "two\nlines \xFF", {}),
            "2026-11-25T15:30:00.123Z INFO  a: two\\nlines \xEF\xBF\xBD");
}

TEST(LoggingTest, LinesBelowTheLevelAreDropped) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  Logger logger(LogFormat::kJson, LogLevel::kWarn, sink, FixedClock());
  EXPECT_FALSE(logger.Enabled(LogLevel::kDebug));
  EXPECT_FALSE(logger.Enabled(LogLevel::kInfo));
  EXPECT_TRUE(logger.Enabled(LogLevel::kWarn));
  EXPECT_TRUE(logger.Enabled(LogLevel::kError));
  logger.Debug("c", "debug line");
  logger.Info("c", "info line");
  logger.Warn("c", "warn line", {{"n", 1}});
  logger.Error("c", "error line");
  EXPECT_EQ(ReadAll(sink),
            std::string(kPrefix) + R"("level":"warn","component":"c","msg":"warn line","n":1})" +
                "\n" + kPrefix + R"("level":"error","component":"c","msg":"error line"})" + "\n");
  std::fclose(sink);
}

TEST(LoggingTest, ConcurrentLinesNeverInterleave) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  Logger logger(LogFormat::kJson, LogLevel::kInfo, sink, FixedClock());
  constexpr int kThreads = 4;
  constexpr int kLinesEach = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&logger, t] {
      for (int i = 0; i < kLinesEach; ++i) logger.Info("worker", "tick", {{"thread", t}, {"i", i}});
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<std::string> lines = Lines(ReadAll(sink));
  std::fclose(sink);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLinesEach));
  for (const std::string& line : lines) {
    EXPECT_EQ(line.rfind(std::string(kPrefix) +
                             R"("level":"info","component":"worker","msg":"tick","thread":)",
                         0),
              0u)
        << line;
    EXPECT_EQ(line.back(), '}') << line;
  }
}

TEST(LoggingTest, DefaultClockGivesAnRfc3339UtcTimestamp) {
  Logger logger(LogFormat::kText, LogLevel::kInfo, nullptr, nullptr);
  std::string line = logger.Format(LogLevel::kInfo, "c", "m", {});
  ASSERT_GE(line.size(), 24u);
  std::string ts = line.substr(0, 24);
  EXPECT_EQ(ts[4], '-');
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts[23], 'Z');
  EXPECT_GE(ts.substr(0, 4), "2024");
}

TEST(LoggingTest, TimestampsBeforeTheSecondRoundDown) {
  auto when = std::chrono::sys_days{std::chrono::year{1969} / 12 / 31} + 23h + 59min + 59s + 999ms;
  Logger logger(LogFormat::kText, LogLevel::kInfo, nullptr, [when] { return when; });
  EXPECT_EQ(logger.Format(LogLevel::kInfo, "c", "m", {}), "1969-12-31T23:59:59.999Z INFO  c: m");
}

}  // namespace
}  // namespace infrared::core
