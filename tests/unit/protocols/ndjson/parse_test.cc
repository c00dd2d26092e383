#include "agent/protocols/ndjson/parse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace infrared::protocols::ndjson {

void PrintTo(const Line& l, std::ostream* os) {
  *os << "Line{\"" << l.text << "\" end_ns=" << l.end_ns << " truncated=" << l.truncated << "}";
}

namespace {

constexpr std::uint64_t kTs = 3;
constexpr std::uint64_t kFinishTs = 4;

struct Outcome {
  std::vector<Line> lines;
  Stats stats;
};

// Feeds a stream cut into pieces at `cuts` (ascending offsets), all stamped
// kTs, then finishes if asked.
Outcome Parse(std::string_view stream, const std::vector<std::size_t>& cuts, Limits limits,
              bool finish) {
  Parser parser(limits);
  Outcome run;
  std::size_t from = 0;
  for (std::size_t to : cuts) {
    parser.Feed(stream.substr(from, to - from), kTs);
    EXPECT_LE(parser.BufferedBytes(), limits.max_line_bytes);
    from = to;
  }
  parser.Feed(stream.substr(from), kTs);
  if (finish) parser.Finish(kFinishTs);
  run.lines = parser.TakeLines();
  run.stats = parser.stats();
  return run;
}

// Where to cut the stream in every way that must not matter: nowhere, at each
// byte, at every byte, and at random places (seeded, so runs are exact).
std::vector<std::vector<std::size_t>> CutPlans(std::size_t size) {
  std::vector<std::vector<std::size_t>> plans = {{}};
  std::vector<std::size_t> every;
  for (std::size_t at = 1; at < size; ++at) {
    plans.push_back({at});
    every.push_back(at);
  }
  plans.push_back(every);
  for (std::uint32_t seed = 1; seed <= 8; ++seed) {
    std::mt19937 random(seed);
    std::vector<std::size_t> plan;
    std::uniform_int_distribution<std::size_t> step(0, 11);
    for (std::size_t at = step(random); at < size; at += step(random)) plan.push_back(at);
    plans.push_back(plan);
  }
  return plans;
}

Line L(std::string text, bool truncated = false) { return Line{std::move(text), kTs, truncated}; }

struct Case {
  const char* name;
  std::string stream;
  std::vector<Line> lines;
  Stats stats = {};  // lines is filled in from `lines`
  Limits limits = {};
  bool finish = false;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class NdjsonParseTest : public ::testing::TestWithParam<Case> {};

TEST_P(NdjsonParseTest, SplitsTheSameWhateverTheCuts) {
  const Case& c = GetParam();
  Stats expected_stats = c.stats;
  expected_stats.lines = c.lines.size();
  for (const std::vector<std::size_t>& plan : CutPlans(c.stream.size())) {
    SCOPED_TRACE(::testing::Message() << "cut into " << plan.size() + 1 << " pieces");
    const Outcome run = Parse(c.stream, plan, c.limits, c.finish);
    EXPECT_EQ(run.lines, c.lines);
    EXPECT_EQ(run.stats, expected_stats);
    if (HasFailure()) break;  // one cut's report is enough
  }
}

// An Ollama /api/chat stream, abridged.
const std::vector<std::string> kOllama = {
    "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":"
    "{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}",
    "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:01Z\",\"message\":"
    "{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}",
    "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:02Z\",\"message\":"
    "{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,"
    "\"total_duration\":4883583458,\"prompt_eval_count\":26,\"eval_count\":2}"};

INSTANTIATE_TEST_SUITE_P(
    Streams, NdjsonParseTest,
    ::testing::Values(
        Case{"OllamaChat",
             kOllama[0] + "\n" + kOllama[1] + "\n" + kOllama[2] + "\n",
             {L(kOllama[0]), L(kOllama[1]), L(kOllama[2])},
             {},
             {},
             true},
        Case{"CrLfLineEnds", "{\"a\":1}\r\n{\"b\":2}\r\n", {L("{\"a\":1}"), L("{\"b\":2}")}},
        Case{"OnlyOneCrStripped", "{}\r\r\n", {L("{}\r")}},
        Case{"InnerCrKept", "{\"a\":\r1}\n", {L("{\"a\":\r1}")}},
        Case{"BlankLinesSkipped",
             "\n \t\n{\"a\":1}\n\r\n  \r\n",
             {L("{\"a\":1}")},
             Stats{.blank_lines = 4}},
        Case{"SurroundingSpacesKept", "  {} \n", {L("  {} ")}},
        Case{"LastLineWithoutLfEmittedAtFinish",
             "{\"a\":1}\n{\"done\":true}",
             {L("{\"a\":1}"), Line{"{\"done\":true}", kFinishTs, false}},
             Stats{.unterminated_lines = 1},
             {},
             true},
        Case{"LastLineCrStrippedAtFinish",
             "{}\r",
             {Line{"{}", kFinishTs, false}},
             Stats{.unterminated_lines = 1},
             {},
             true},
        Case{"BlankLastLineSkippedAtFinish",
             "{}\n \r",
             {L("{}")},
             Stats{.blank_lines = 1},
             {},
             true},
        Case{"LastLineWithoutLfHeldWithoutFinish", "{}\n{\"a\"", {L("{}")}},
        Case{"LongLineCut",
             "abcdefgh\nxy\n",
             {L("abcd", true), L("xy")},
             Stats{.truncated_lines = 1, .truncated_bytes = 4},
             Limits{.max_line_bytes = 4}},
        Case{"LineAtLimitKept", "abcd\nabcd\r\n", {L("abcd"), L("abcd")}, {}, Limits{4}},
        Case{"LineOverLimitByItsCrOnly",
             "abcde\r\n",
             {L("abcd", true)},
             Stats{.truncated_lines = 1, .truncated_bytes = 1},
             Limits{4}},
        Case{"LongBlankLineSkipped", "      \r\n", {}, Stats{.blank_lines = 1}, Limits{2}},
        Case{"LongLineBlankStartKept",
             "   x\n",
             {L("  ", true)},
             Stats{.truncated_lines = 1, .truncated_bytes = 2},
             Limits{2}},
        Case{"LongLastLineCutAtFinish",
             "abcdef",
             {Line{"abc", kFinishTs, true}},
             Stats{.truncated_lines = 1, .truncated_bytes = 3, .unterminated_lines = 1},
             Limits{3},
             true},
        Case{"NoRoomAtAll",
             "ab\n\n",
             {L("", true)},
             Stats{.blank_lines = 1, .truncated_lines = 1, .truncated_bytes = 2},
             Limits{0}}),
    [](const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.name; });

// ---- Timestamps -----------------------------------------------------------

TEST(NdjsonParser, LineEndsAtTheFeedHoldingItsLf) {
  Parser parser;
  parser.Feed("{\"a\"", 1);
  parser.Feed(":1}\n{", 2);
  parser.Feed("}\r", 3);
  parser.Feed("\n{\"b\":2}\n{\"c\"", 4);
  parser.Finish(5);
  const std::vector<Line> lines = parser.TakeLines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], (Line{"{\"a\":1}", 2, false}));
  EXPECT_EQ(lines[1], (Line{"{}", 4, false}));
  EXPECT_EQ(lines[2], (Line{"{\"b\":2}", 4, false}));
  EXPECT_EQ(lines[3], (Line{"{\"c\"", 5, false}));
}

TEST(NdjsonParser, FinishKeepsUntakenLinesAndStartsAfresh) {
  const Limits limits{.max_line_bytes = 4};
  Parser parser(limits);
  parser.Feed("{}\nabcdef", 1);
  parser.Finish(2);
  parser.Feed("gh\n", 3);  // not the rest of the cut line: a new stream
  const std::vector<Line> lines = parser.TakeLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], (Line{"abcd", 2, true}));
  EXPECT_EQ(lines[2], (Line{"gh", 3, false}));
  EXPECT_EQ(parser.BufferedBytes(), 0u);
}

TEST(NdjsonParser, MemoryStaysBoundedOnAnEndlessLine) {
  const Limits limits{.max_line_bytes = 32};
  Parser parser(limits);
  for (int i = 0; i < 1000; ++i) {
    parser.Feed(std::string(100, 'x'), 1);
    ASSERT_LE(parser.BufferedBytes(), limits.max_line_bytes);
  }
  parser.Feed("\n", 2);
  EXPECT_EQ(parser.stats().truncated_bytes, 100000u - 32u);
}

}  // namespace
}  // namespace infrared::protocols::ndjson
