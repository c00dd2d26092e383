#include "exporters/console/span_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace infrared::console {
namespace {

using telemetry::Attribute;
using telemetry::Resource;
using telemetry::Span;
using telemetry::SpanKind;
using telemetry::StatusCode;

std::string ReadAll(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  return text;
}

std::string ReadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return "<missing>";
  std::string text = ReadAll(file);
  std::fclose(file);
  return text;
}

Span FixedSpan() {
  Span span;
  span.trace_id = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                   0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
  span.span_id = {0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8};
  span.parent_span_id = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
  span.trace_state = "congo=t61rcWkgMzE";
  span.name = "GET /users/{id}";
  span.kind = SpanKind::kServer;
  span.start_unix_ns = 1700000000000000000u;
  span.end_unix_ns = 1700000000250000000u;
  span.attributes = {{"http.request.method", std::string("GET")},
                     {"http.response.status_code", std::int64_t{200}},
                     {"http.route", std::string("/users/{id}")},
                     {"sample.ratio", 0.25},
                     {"retry", true}};
  span.status = StatusCode::kError;
  span.status_message = "boom";
  span.resource = std::make_shared<Resource>(
      Resource{{{"service.name", std::string("api")}, {"process.pid", std::int64_t{42}}}});
  return span;
}

constexpr const char* kFixedLine =
    R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"53995c3f42cd8ad8",)"
    R"("parentSpanId":"00f067aa0ba902b7","traceState":"congo=t61rcWkgMzE","flags":1,)"
    R"("name":"GET /users/{id}","kind":"SPAN_KIND_SERVER",)"
    R"("startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000",)"
    R"("attributes":{"http.request.method":"GET","http.response.status_code":200,)"
    R"("http.route":"/users/{id}","sample.ratio":0.25,"retry":true},)"
    R"("status":{"code":"STATUS_CODE_ERROR","message":"boom"},)"
    R"("resource":{"service.name":"api","process.pid":42}})";

TEST(SpanWriterTest, ExactLineForFixedSpan) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    SpanWriter writer(file);
    EXPECT_TRUE(writer.Write(FixedSpan()));
  }
  EXPECT_EQ(ReadAll(file), std::string(kFixedLine) + "\n");
  std::fclose(file);
}

TEST(SpanWriterTest, RootSpanWithDefaults) {
  EXPECT_EQ(SpanWriter::FormatJson(Span{}),
            R"({"traceId":"00000000000000000000000000000000","spanId":"0000000000000000",)"
            R"("parentSpanId":"","traceState":"","flags":1,"name":"",)"
            R"("kind":"SPAN_KIND_INTERNAL","startTimeUnixNano":"0","endTimeUnixNano":"0",)"
            R"("attributes":{},"status":{"code":"STATUS_CODE_UNSET","message":""},)"
            R"("resource":{}})");
}

TEST(SpanWriterTest, KindAndStatusNames) {
  const std::vector<std::pair<SpanKind, std::string>> kinds = {
      {SpanKind::kInternal, "SPAN_KIND_INTERNAL"},
      {SpanKind::kServer, "SPAN_KIND_SERVER"},
      {SpanKind::kClient, "SPAN_KIND_CLIENT"},
      {SpanKind::kProducer, "SPAN_KIND_PRODUCER"},
      {SpanKind::kConsumer, "SPAN_KIND_CONSUMER"}};
  for (const auto& [kind, name] : kinds) {
    Span span;
    span.kind = kind;
    EXPECT_NE(SpanWriter::FormatJson(span).find("\"kind\":\"" + name + "\""), std::string::npos);
  }
  Span ok;
  ok.status = StatusCode::kOk;
  EXPECT_NE(SpanWriter::FormatJson(ok).find(R"("status":{"code":"STATUS_CODE_OK","message":""})"),
            std::string::npos);
}

// The part of a span's JSON between "attributes": and ,"status".
std::string AttributesJson(std::vector<Attribute> attributes) {
  Span span;
  span.attributes = std::move(attributes);
  const std::string json = SpanWriter::FormatJson(span);
  const std::size_t start = json.find("\"attributes\":") + 13;
  return json.substr(start, json.find(",\"status\":") - start);
}

TEST(SpanWriterTest, EscapesStrings) {
  EXPECT_EQ(AttributesJson({{"k\"ey\\", std::string("a\"b\\c\nd\re\tf\x01g\x1fh\x7f/é")}}),
            R"({"k\"ey\\":"a\"b\\c\nd\re\tf\u0001g\u001fh)"
            "\x7f"
            R"(/é"})");
  Span span;
  span.name = "line\nbreak";
  span.status_message = "say \"no\"";
  span.trace_state = "a=\\";
  const std::string json = SpanWriter::FormatJson(span);
  EXPECT_NE(json.find(R"("name":"line\nbreak")"), std::string::npos);
  EXPECT_NE(json.find(R"("message":"say \"no\"")"), std::string::npos);
  EXPECT_NE(json.find(R"("traceState":"a=\\")"), std::string::npos);
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

TEST(SpanWriterTest, SanitizesInvalidUtf8) {
  EXPECT_EQ(AttributesJson({{"bad\xff", std::string("x\xc3(\xe2\x82")}}),
            "{\"bad\xef\xbf\xbd\":\"x\xef\xbf\xbd(\xef\xbf\xbd\"}");
  Span span;
  span.name = "\xc0\xaf";  // overlong '/'
  EXPECT_NE(SpanWriter::FormatJson(span).find("\"name\":\"\xef\xbf\xbd\xef\xbf\xbd\""),
            std::string::npos);
}

TEST(SpanWriterTest, StringArrays) {
  EXPECT_EQ(AttributesJson({{"gen_ai.response.finish_reasons",
                             telemetry::StringArray{"stop", "length \"x\""}},
                            {"empty", telemetry::StringArray{}}}),
            R"({"gen_ai.response.finish_reasons":["stop","length \"x\""],"empty":[]})");
}

TEST(SpanWriterTest, NumbersAndBooleans) {
  EXPECT_EQ(AttributesJson({{"neg", std::int64_t{-9223372036854775807 - 1}},
                            {"max", std::numeric_limits<std::int64_t>::max()},
                            {"half", 0.5},
                            {"big", 1e300},
                            {"tiny", 5e-324},
                            {"whole", 3.0},
                            {"zero", 0.0},
                            {"minus_zero", -0.0},
                            {"huge_whole", 1e21},
                            {"f", false}}),
            R"({"neg":-9223372036854775808,"max":9223372036854775807,"half":0.5,)"
            R"("big":1e+300,"tiny":5e-324,"whole":3.0,"zero":0.0,"minus_zero":-0.0,)"
            R"("huge_whole":1e+21,"f":false})");
  EXPECT_EQ(AttributesJson({{"nan", std::numeric_limits<double>::quiet_NaN()},
                            {"inf", std::numeric_limits<double>::infinity()},
                            {"-inf", -std::numeric_limits<double>::infinity()}}),
            R"({"nan":"NaN","inf":"Infinity","-inf":"-Infinity"})");
}

TEST(SpanWriterTest, WriteBatchWritesOneLinePerSpan) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  SpanWriter writer(file);
  EXPECT_TRUE(writer.WriteBatch({}));
  EXPECT_TRUE(writer.WriteBatch({FixedSpan(), FixedSpan()}));
  const std::string line = std::string(kFixedLine) + "\n";
  EXPECT_EQ(ReadAll(file), line + line);
  std::fclose(file);
}

TEST(SpanWriterTest, ConcurrentWritesKeepLinesWhole) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  SpanWriter writer(file);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) writer.Write(FixedSpan());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::string expected;
  for (int i = 0; i < kThreads * kPerThread; ++i) expected += std::string(kFixedLine) + "\n";
  EXPECT_EQ(ReadAll(file), expected);
  std::fclose(file);
}

TEST(SpanWriterTest, WriteReportsSinkErrors) {
  std::FILE* file = std::fopen("/dev/null", "r");
  ASSERT_NE(file, nullptr);
  SpanWriter writer(file);
  EXPECT_FALSE(writer.Write(FixedSpan()));
  std::fclose(file);
}

TEST(SpanWriterTest, OpenStdoutDoesNotCloseIt) {
  ASSERT_NE(fcntl(STDOUT_FILENO, F_GETFD), -1);
  std::string error;
  std::unique_ptr<SpanWriter> writer = SpanWriter::Open("stdout", error);
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(error, "");
  writer.reset();
  EXPECT_NE(fcntl(STDOUT_FILENO, F_GETFD), -1);
}

TEST(SpanWriterTest, OpenFileAppends) {
  std::string dir_template = ::testing::TempDir() + "span_writer_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  const std::string path = dir_template + "/spans.jsonl";
  for (int round = 0; round < 2; ++round) {
    std::string error;
    std::unique_ptr<SpanWriter> writer = SpanWriter::Open(path, error);
    ASSERT_NE(writer, nullptr) << error;
    EXPECT_TRUE(writer->Write(FixedSpan()));
  }
  const std::string line = std::string(kFixedLine) + "\n";
  EXPECT_EQ(ReadFile(path), line + line);
  std::remove(path.c_str());
  rmdir(dir_template.c_str());
}

TEST(SpanWriterTest, OpenBadPathExplains) {
  std::string error;
  EXPECT_EQ(SpanWriter::Open("/nonexistent-infrared-dir/spans.jsonl", error), nullptr);
  EXPECT_EQ(error,
            "cannot open span output file \"/nonexistent-infrared-dir/spans.jsonl\" for "
            "appending: No such file or directory; check that its directory exists and is "
            "writable, or use \"stdout\".");
}

}  // namespace
}  // namespace infrared::console
