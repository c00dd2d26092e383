#include "exporters/prometheus/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace infrared::prometheus {
namespace {

using telemetry::HistogramSample;
using telemetry::Labels;
using telemetry::MetricFamily;
using telemetry::MetricType;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFffd[] = "\xEF\xBF\xBD";

MetricFamily Scalar(std::string name, MetricType type, std::vector<telemetry::Sample> samples,
                    std::string help = "", std::string unit = "") {
  MetricFamily family;
  family.name = std::move(name);
  family.type = type;
  family.samples = std::move(samples);
  family.help = std::move(help);
  family.unit = std::move(unit);
  return family;
}

MetricFamily LatencyHistogram(Labels labels = {{"op", "read"}}) {
  MetricFamily family;
  family.name = "latency_seconds";
  family.help = "Operation latency.";
  family.unit = "seconds";
  family.type = MetricType::kHistogram;
  family.bucket_bounds = {0.005, 1, 2.5};
  family.histograms.push_back(HistogramSample{std::move(labels), {1, 2, 0, 3}, 12.25, 6});
  return family;
}

std::size_t CountOf(const std::string& haystack, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

struct EscapeCase {
  std::string input;
  std::string expected;
};

TEST(EscapeLabelValueTest, EscapesAndRepairs) {
  const std::vector<EscapeCase> cases = {
      {"plain", "plain"},
      {"back\\slash", "back\\\\slash"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"two\nlines", "two\\nlines"},
      {"tab\tstays", "tab\tstays"},
      {"caf\xC3\xA9", "caf\xC3\xA9"},
      {"bad\xFF\"", std::string("bad") + kFffd + "\\\""},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(EscapeLabelValue(c.input), c.expected) << c.input;
}

TEST(SanitizeUtf8Test, ReplacesEachMaximalInvalidSubpartOnce) {
  const std::string r = kFffd;
  const std::vector<EscapeCase> cases = {
      {"ascii", "ascii"},
      {"\xE2\x82\xAC \xF0\x9F\x98\x80", "\xE2\x82\xAC \xF0\x9F\x98\x80"},  // euro, emoji
      {"\x80", r},                                                         // stray continuation
      {"a\xE2\x82", "a" + r},                                              // truncated at end
      {"\xE2\x82z", r + "z"},                                              // truncated mid-string
      {"\xF0\x9F\x98", r},                                                 // truncated 4-byte
      {"\xC0\xAF", r + r},                                                 // overlong lead
      {"\xED\xA0\x80", r + r + r},                                         // surrogate
      {"\xF4\x90\x80\x80", r + r + r + r},                                 // above U+10FFFF
      {"\xFF\xFE", r + r},
      {std::string("nul\0ok", 6), std::string("nul\0ok", 6)},
  };
  for (const auto& c : cases) EXPECT_EQ(SanitizeUtf8(c.input), c.expected) << c.input;
}

TEST(RenderTest, CounterInText004CarriesTotalInMetadata) {
  const std::vector<MetricFamily> families = {Scalar(
      "drops", MetricType::kCounter, {{{{"reason", "full"}}, 3}, {{}, 1}}, "Dropped events.")};
  EXPECT_EQ(Render(families, ExpositionFormat::kText004),
            "# HELP drops_total Dropped events.\n"
            "# TYPE drops_total counter\n"
            "drops_total{reason=\"full\"} 3\n"
            "drops_total 1\n");
}

TEST(RenderTest, CounterInOpenMetricsNamesFamilyWithoutTotal) {
  const std::vector<MetricFamily> families = {Scalar(
      "cpu_seconds", MetricType::kCounter, {{{{"mode", "user"}}, 1.5}}, "CPU time.", "seconds")};
  EXPECT_EQ(Render(families, ExpositionFormat::kOpenMetrics100),
            "# TYPE cpu_seconds counter\n"
            "# UNIT cpu_seconds seconds\n"
            "# HELP cpu_seconds CPU time.\n"
            "cpu_seconds_total{mode=\"user\"} 1.5\n"
            "# EOF\n");
}

TEST(RenderTest, UnitOmittedWhenNameLacksUnitSuffix) {
  const std::vector<MetricFamily> families = {
      Scalar("queue_depth", MetricType::kGauge, {{{}, 4}}, "", "bytes")};
  EXPECT_EQ(Render(families, ExpositionFormat::kOpenMetrics100),
            "# TYPE queue_depth gauge\nqueue_depth 4\n# EOF\n");
  EXPECT_EQ(Render(families, ExpositionFormat::kText004),
            "# TYPE queue_depth gauge\nqueue_depth 4\n");
}

TEST(RenderTest, HistogramBucketsAreCumulativeWithInf) {
  const std::string expected_samples =
      "latency_seconds_bucket{op=\"read\",le=\"0.005\"} 1\n"
      "latency_seconds_bucket{op=\"read\",le=\"1.0\"} 3\n"
      "latency_seconds_bucket{op=\"read\",le=\"2.5\"} 3\n"
      "latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 6\n"
      "latency_seconds_sum{op=\"read\"} 12.25\n"
      "latency_seconds_count{op=\"read\"} 6\n";
  EXPECT_EQ(Render({LatencyHistogram()}, ExpositionFormat::kText004),
            "# HELP latency_seconds Operation latency.\n"
            "# TYPE latency_seconds histogram\n" +
                expected_samples);
  EXPECT_EQ(Render({LatencyHistogram()}, ExpositionFormat::kOpenMetrics100),
            "# TYPE latency_seconds histogram\n"
            "# UNIT latency_seconds seconds\n"
            "# HELP latency_seconds Operation latency.\n" +
                expected_samples + "# EOF\n");
}

TEST(RenderTest, HistogramDropsUserLeLabelAndMismatchedBuckets) {
  MetricFamily family = LatencyHistogram({{"le", "evil"}, {"op", "w"}});
  family.histograms.push_back(HistogramSample{{{"op", "short"}}, {1, 2}, 1, 3});
  const std::string text = Render({family}, ExpositionFormat::kText004);
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{op=\"w\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("evil")));
  EXPECT_THAT(text, Not(HasSubstr("short")));
}

TEST(RenderTest, SameNamedFamiliesMergeWithOneHelpAndType) {
  const std::vector<MetricFamily> families = {
      Scalar("up", MetricType::kGauge, {{{{"probe", "a"}}, 1}}, "First help."),
      Scalar("other", MetricType::kGauge, {{{}, 2}}),
      Scalar("up", MetricType::kGauge, {{{{"probe", "b"}}, 0}}, "Second help."),
      Scalar("up", MetricType::kCounter, {{{{"probe", "c"}}, 9}}),  // type clash: dropped
  };
  for (auto format : {ExpositionFormat::kText004, ExpositionFormat::kOpenMetrics100}) {
    const std::string out = Render(families, format);
    EXPECT_EQ(CountOf(out, "# HELP up "), 1u);
    EXPECT_EQ(CountOf(out, "# TYPE up "), 1u);
    EXPECT_THAT(out, HasSubstr("# HELP up First help.\n"));
    EXPECT_THAT(out, HasSubstr("up{probe=\"a\"} 1\nup{probe=\"b\"} 0\n# TYPE other gauge\n"));
    EXPECT_THAT(out, Not(HasSubstr("probe=\"c\"")));
  }
}

TEST(RenderTest, FamiliesWithoutSeriesAreSkipped) {
  MetricFamily histogram = LatencyHistogram();
  histogram.histograms.clear();
  const std::vector<MetricFamily> families = {Scalar("empty", MetricType::kCounter, {}, "Help."),
                                              histogram};
  EXPECT_EQ(Render(families, ExpositionFormat::kText004), "");
  EXPECT_EQ(Render(families, ExpositionFormat::kOpenMetrics100), "# EOF\n");
}

TEST(RenderTest, InvalidNamesAreSkipped) {
  const std::vector<MetricFamily> families = {
      Scalar("0bad", MetricType::kGauge, {{{}, 1}}),
      Scalar("bad-name", MetricType::kGauge, {{{}, 1}}),
      Scalar("", MetricType::kGauge, {{{}, 1}}),
      Scalar("ns:good", MetricType::kGauge,
             {{{{"ok", "1"}, {"bad-label", "x"}, {"0x", "y"}, {"a:b", "z"}, {"ok", "dup"}}, 1}}),
  };
  EXPECT_EQ(Render(families, ExpositionFormat::kText004),
            "# TYPE ns:good gauge\nns:good{ok=\"1\"} 1\n");
}

TEST(RenderTest, HelpEscapingDiffersByFormat) {
  const std::vector<MetricFamily> families = {
      Scalar("g", MetricType::kGauge, {{{}, 1}}, "a \\ b\n\"q\" \xFF")};
  EXPECT_THAT(Render(families, ExpositionFormat::kText004),
              HasSubstr(std::string("# HELP g a \\\\ b\\n\"q\" ") + kFffd + "\n"));
  EXPECT_THAT(Render(families, ExpositionFormat::kOpenMetrics100),
              HasSubstr(std::string("# HELP g a \\\\ b\\n\\\"q\\\" ") + kFffd + "\n"));
}

struct ValueCase {
  double value;
  std::string expected;
};

TEST(RenderTest, ValuesUseShortestForm) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<ValueCase> cases = {
      {42, "42"},
      {0, "0"},
      {-3, "-3"},
      {1.5, "1.5"},
      {0.1, "0.1"},
      {200000, "200000"},
      {1e21, "1e+21"},
      {1e-7, "1e-07"},
      {inf, "+Inf"},
      {-inf, "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {123456789.25, "123456789.25"},
  };
  for (const auto& c : cases) {
    const std::string out =
        Render({Scalar("v", MetricType::kGauge, {{{}, c.value}})}, ExpositionFormat::kText004);
    EXPECT_EQ(out, "# TYPE v gauge\nv " + c.expected + "\n") << c.expected;
  }
}

TEST(RenderTest, BucketBoundsAreCanonicalFloats) {
  MetricFamily family = LatencyHistogram();
  family.bucket_bounds = {0.25, 10, 100000, 1e21};
  family.histograms[0].bucket_counts = {0, 0, 0, 0, 0};
  const std::string out = Render({family}, ExpositionFormat::kOpenMetrics100);
  for (const char* le : {"le=\"0.25\"", "le=\"10.0\"", "le=\"100000.0\"", "le=\"1e+21\""}) {
    EXPECT_THAT(out, HasSubstr(le));
  }
}

struct AcceptCase {
  std::string header;
  ExpositionFormat expected;
};

TEST(NegotiateFormatTest, HonoursQValuesAndVersions) {
  constexpr auto kText = ExpositionFormat::kText004;
  constexpr auto kOm = ExpositionFormat::kOpenMetrics100;
  const std::vector<AcceptCase> cases = {
      {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
       "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
       kOm},           // Prometheus 2.42
      {"*/*", kText},  // curl
      {"", kText},
      {"text/plain", kText},
      {"application/openmetrics-text", kOm},
      {"Application/OpenMetrics-Text; Version=\"1.0.0\"", kOm},
      {"application/openmetrics-text;version=0.0.1", kText},
      {"application/openmetrics-text;version=2.0.0,text/plain", kText},
      {"application/openmetrics-text;q=0", kText},
      {"application/openmetrics-text;q=0.5,text/plain;q=0.9", kText},
      {"text/plain;q=0.5 , application/openmetrics-text;q=0.5", kOm},
      {"application/openmetrics-text;q=0.3,*/*", kText},
      {"application/openmetrics-text;q=0.3,text/*;q=0.2,*/*", kOm},
      {"application/openmetrics-text;q=bogus", kText},
      {"text/html,application/xhtml+xml", kText},
      {",,;;=", kText},
  };
  for (const auto& c : cases) EXPECT_EQ(NegotiateFormat(c.header), c.expected) << c.header;
}

TEST(ContentTypeTest, NamesVersionAndCharset) {
  EXPECT_EQ(ContentType(ExpositionFormat::kText004), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(ContentType(ExpositionFormat::kOpenMetrics100),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

// A representative scrape, as the agent would expose it.
std::vector<MetricFamily> RepresentativeFamilies() {
  return {
      Scalar("infrared_decode_errors", MetricType::kCounter,
             {{{{"protocol", "http"}, {"reason", "say \"hi\"\\ \nbye"}}, 3},
              {{{"protocol", "dns"}, {"reason", "caf\xC3\xA9 \xFF"}}, 0}},
             "Frames that could not be decoded."),
      Scalar("infrared_tracked_connections", MetricType::kGauge, {{{}, 17}},
             "Connections currently tracked."),
      LatencyHistogram({{"op", "read"}}),
  };
}

// Runs `command`, returning its exit status and combined output.
int RunCommand(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(PromtoolTest, Text004PassesCheckMetrics) {
  const std::filesystem::path promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool)) GTEST_SKIP() << "promtool not installed";
  const std::filesystem::path file =
      std::filesystem::path(::testing::TempDir()) / "infrared_exposition_test.prom";
  {
    std::ofstream out(file, std::ios::binary);
    out << Render(RepresentativeFamilies(), ExpositionFormat::kText004);
  }
  std::string output;
  const int status = RunCommand(promtool.string() + " check metrics < " + file.string(), output);
  std::filesystem::remove(file);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace infrared::prometheus
