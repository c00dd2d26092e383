#include "agent/protocols/sse/parse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace infrared::protocols::sse {

void PrintTo(const Event& e, std::ostream* os) {
  *os << "Event{type=\"" << e.type << "\" data=\"" << e.data << "\" id=\"" << e.id
      << "\" end_ns=" << e.end_ns << " truncated=" << e.data_truncated << "}";
}

namespace {

constexpr std::uint64_t kTs = 7;

struct Outcome {
  std::vector<Event> events;
  Stats stats;
};

// Feeds the pieces in order, all stamped kTs, then finishes if asked.
Outcome Parse(const std::vector<std::string_view>& pieces, Limits limits, bool finish) {
  Parser parser(limits);
  Outcome run;
  for (std::string_view piece : pieces) {
    parser.Feed(piece, kTs);
    EXPECT_LE(parser.BufferedBytes(), limits.max_event_bytes + 3 * limits.max_line_bytes);
    for (Event& e : parser.TakeEvents()) run.events.push_back(std::move(e));
  }
  if (finish) parser.Finish(kTs + 1);
  for (Event& e : parser.TakeEvents()) run.events.push_back(std::move(e));
  run.stats = parser.stats();
  return run;
}

// The stream cut in every way that must not matter: whole, in two at every
// byte, byte by byte, and in random chunks (seeded, so runs are exact).
std::vector<std::vector<std::string_view>> Cuts(std::string_view stream) {
  std::vector<std::vector<std::string_view>> cuts = {{stream}};
  for (std::size_t at = 1; at < stream.size(); ++at) {
    cuts.push_back({stream.substr(0, at), stream.substr(at)});
  }
  std::vector<std::string_view> bytewise;
  for (std::size_t at = 0; at < stream.size(); ++at) bytewise.push_back(stream.substr(at, 1));
  cuts.push_back(bytewise);
  for (std::uint32_t seed = 1; seed <= 8; ++seed) {
    std::mt19937 random(seed);
    std::vector<std::string_view> chunks;
    for (std::size_t at = 0; at < stream.size();) {
      const std::size_t size = std::uniform_int_distribution<std::size_t>(0, 9)(random);
      chunks.push_back(stream.substr(at, size));
      at += size;
    }
    cuts.push_back(chunks);
  }
  return cuts;
}

Event Ev(std::string type, std::string data, std::string id = "", bool truncated = false) {
  return Event{std::move(type), std::move(data), std::move(id), kTs, truncated};
}

struct Case {
  const char* name;
  std::string stream;
  std::vector<Event> events;
  Stats stats = {};  // events is filled in from `events`
  Limits limits = {};
  bool finish = false;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class SseParseTest : public ::testing::TestWithParam<Case> {};

TEST_P(SseParseTest, ParsesTheSameWhateverTheCuts) {
  const Case& c = GetParam();
  Stats expected_stats = c.stats;
  expected_stats.events = c.events.size();
  for (const std::vector<std::string_view>& pieces : Cuts(c.stream)) {
    SCOPED_TRACE(::testing::Message() << "cut into " << pieces.size() << " pieces");
    const Outcome run = Parse(pieces, c.limits, c.finish);
    EXPECT_EQ(run.events, c.events);
    EXPECT_EQ(run.stats, expected_stats);
    if (HasFailure()) break;  // one cut's report is enough
  }
}

// Real response shapes, abridged: each provider's payloads, then its stream.
const std::vector<std::string> kOpenAiData = {
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
    "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}",
    "{\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}"
    "}",
    "[DONE]"};
const std::string kOpenAi = "data: " + kOpenAiData[0] + "\n\ndata: " + kOpenAiData[1] +
                            "\n\ndata: " + kOpenAiData[2] + "\n\ndata: " + kOpenAiData[3] + "\n\n";

const std::vector<std::string> kAnthropicData = {
    "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":"
    "{\"input_tokens\":25,\"output_tokens\":1}}}",
    "{\"type\": \"ping\"}",
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}",
    "{\"type\":\"message_stop\"}"};
const std::string kAnthropic = "event: message_start\ndata: " + kAnthropicData[0] +
                               "\n\nevent: ping\ndata: " + kAnthropicData[1] +
                               "\n\nevent: content_block_delta\ndata: " + kAnthropicData[2] +
                               "\n\nevent: message_stop\ndata: " + kAnthropicData[3] + "\n\n";

// Gemini's streamGenerateContent?alt=sse ends its lines in CRLF.
const std::vector<std::string> kGeminiData = {
    "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}],\"role\": \"model\"}}],"
    "\"modelVersion\": \"gemini-2.0-flash\"}",
    "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"lo\"}]},\"finishReason\": "
    "\"STOP\"}],\"usageMetadata\": {\"promptTokenCount\": 4,\"totalTokenCount\": 6}}"};
const std::string kGemini =
    "data: " + kGeminiData[0] + "\r\n\r\ndata: " + kGeminiData[1] + "\r\n\r\n";

INSTANTIATE_TEST_SUITE_P(
    Streams, SseParseTest,
    ::testing::Values(
        Case{"OpenAiChat",
             kOpenAi,
             {Ev("", kOpenAiData[0]), Ev("", kOpenAiData[1]), Ev("", kOpenAiData[2]),
              Ev("", "[DONE]")}},
        Case{"Anthropic",
             kAnthropic,
             {Ev("message_start", kAnthropicData[0]), Ev("ping", kAnthropicData[1]),
              Ev("content_block_delta", kAnthropicData[2]), Ev("message_stop", kAnthropicData[3])}},
        Case{"GeminiCrlf", kGemini, {Ev("", kGeminiData[0]), Ev("", kGeminiData[1])}},
        Case{"CarriageReturnsOnly",
             "data: a\rdata: b\r\rdata: c\r\r",
             {Ev("", "a\nb"), Ev("", "c")}},
        Case{"CrLfMultiLine", "data: a\r\ndata: b\r\n\r\n", {Ev("", "a\nb")}},
        Case{"MixedLineEnds", "data: a\rdata: b\ndata: c\r\n\n", {Ev("", "a\nb\nc")}},
        Case{"MultiLineData",
             "data: line1\ndata: line2\ndata:\ndata:  indented\n\n",
             {Ev("", "line1\nline2\n\n indented")}},
        Case{"CommentsAreCountedNotDispatched",
             ": ping\n\n:keep-alive\ndata: x\n: mid-event\n\n",
             {Ev("", "x")},
             Stats{.comments = 3}},
        // The spec's own example: a bare "data" is a data field with an empty
        // value; the last event has no blank line and is discarded at the end.
        Case{"SpecExampleBareFieldNames",
             "data\n\ndata\ndata\n\ndata:",
             {Ev("", ""), Ev("", "\n")},
             Stats{.discarded_events = 1},
             {},
             true},
        Case{"OneSpaceAfterColonRemoved",
             "data:test\n\ndata: test\n\ndata:  test\n\n",
             {Ev("", "test"), Ev("", "test"), Ev("", " test")}},
        Case{"ColonsInValueKept", "data: a: b:c\n\n", {Ev("", "a: b:c")}},
        Case{"IdPersistsAcrossEvents",
             "event: add\nid: 7\ndata: 1\n\ndata: 2\n\nid\ndata: 3\n\n",
             {Ev("add", "1", "7"), Ev("", "2", "7"), Ev("", "3", "")}},
        Case{"IdWithNulIgnored",
             std::string("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n", 32),
             {Ev("", "a", "1"), Ev("", "b", "1")}},
        Case{"RetryAndUnknownFieldsIgnored",
             "retry: 1000\nfoo: bar\nData: no\ndata: x\n\n",
             {Ev("", "x")}},
        Case{"EventWithoutDataNotDispatchedAndTypeForgotten",
             "event: ping\n\ndata: x\n\n",
             {Ev("", "x")}},
        Case{"LeadingBlankLinesDispatchNothing", "\n\r\n\r\ndata: x\n\n", {Ev("", "x")}},
        Case{"BomSkippedOnce",
             "\xEF\xBB\xBF"
             "data: x\n\n",
             {Ev("", "x")},
             Stats{.boms = 1}},
        Case{"SecondBomIsContent",
             "\xEF\xBB\xBF\xEF\xBB\xBF"
             "data: x\n\ndata: y\n\n",
             {Ev("", "y")},
             Stats{.boms = 1}},
        Case{"PartialBomIsContent", "\xEF\xBB:comment\ndata: x\n\n", {Ev("", "x")}},
        Case{"BomNotAtStartIsContent",
             "data: x\n\n\xEF\xBB\xBF"
             "data: y\n\n",
             {Ev("", "x")}},
        Case{"EndedAfterDataLine",
             "data: x\n\ndata: y\n",
             {Ev("", "x")},
             Stats{.discarded_events = 1},
             {},
             true},
        Case{"EndedMidLine",
             "data: x\n\ndata: {\"par",
             {Ev("", "x")},
             Stats{.discarded_events = 1},
             {},
             true},
        Case{"EndedCleanly", "data: x\n\n", {Ev("", "x")}, {}, {}, true},
        Case{"EventDataCut",
             "data: abc\ndata: defg\n\ndata: ok\n\n",
             {Ev("", "abc\nd", "", true), Ev("", "ok")},
             Stats{.truncated_events = 1, .truncated_bytes = 3},
             Limits{.max_event_bytes = 5}},
        Case{"EventDataCutAtSeparator",
             "data: abc\ndata: d\n\n",
             {Ev("", "abc", "", true)},
             Stats{.truncated_events = 1, .truncated_bytes = 2},
             Limits{.max_event_bytes = 3}},
        Case{"EventDataAtLimitKept",
             "data: abc\ndata: d\n\n",
             {Ev("", "abc\nd")},
             {},
             Limits{.max_event_bytes = 5}},
        Case{"NoDataRoomStillDispatches",
             "data: x\n\n",
             {Ev("", "", "", true)},
             Stats{.truncated_events = 1, .truncated_bytes = 1},
             Limits{.max_event_bytes = 0}},
        Case{"LineAtLimitKept", "data: ab\n\n", {Ev("", "ab")}, {}, Limits{.max_line_bytes = 8}},
        Case{"OversizedDataLineKeepsWhatCameBefore",
             "data: a\ndata: 0123456789\ndata: b\n\ndata: ok\n\n",
             {Ev("", "a", "", true), Ev("", "ok")},
             Stats{.truncated_events = 1, .truncated_bytes = 2, .oversized_lines = 1},
             Limits{.max_line_bytes = 10}},
        Case{"OversizedDataLineAlone",
             "data: 0123456789\r\n\r\ndata: ok\r\n\r\n",
             {Ev("", "", "", true), Ev("", "ok")},
             Stats{.truncated_events = 1, .oversized_lines = 1},
             Limits{.max_line_bytes = 10}},
        Case{"OversizedOtherLinesIgnored",
             "event: much_too_long\n: a long comment\ndata: x\n\n",
             {Ev("", "x")},
             Stats{.comments = 1, .oversized_lines = 2},
             Limits{.max_line_bytes = 10}},
        Case{"OversizedLineAtEnd",
             "data: 0123456789",
             {},
             Stats{.discarded_events = 1, .oversized_lines = 1},
             Limits{.max_line_bytes = 10},
             true}),
    [](const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.name; });

// ---- Feed boundaries and timestamps ---------------------------------------

struct Piece {
  std::string bytes;
  std::uint64_t ts;
};

std::vector<Event> FeedPieces(const std::vector<Piece>& pieces) {
  Parser parser;
  for (const Piece& piece : pieces) parser.Feed(piece.bytes, piece.ts);
  return parser.TakeEvents();
}

struct TimedCase {
  const char* name;
  std::vector<Piece> pieces;
  std::vector<std::string> data;
  std::vector<std::uint64_t> end_ns;
};

void PrintTo(const TimedCase& c, std::ostream* os) { *os << c.name; }

class SseTimingTest : public ::testing::TestWithParam<TimedCase> {};

TEST_P(SseTimingTest, EventEndsAtTheFeedHoldingItsBlankLine) {
  const TimedCase& c = GetParam();
  const std::vector<Event> events = FeedPieces(c.pieces);
  ASSERT_EQ(events.size(), c.data.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data, c.data[i]) << i;
    EXPECT_EQ(events[i].end_ns, c.end_ns[i]) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Feeds, SseTimingTest,
    ::testing::Values(
        TimedCase{"BlankLineInLaterFeed",
                  {{"data: a\n", 10}, {"\ndata: b\n", 20}, {"\n", 30}},
                  {"a", "b"},
                  {20, 30}},
        TimedCase{"SeveralEventsInOneFeed", {{"data: a\n\ndata: b\n\n", 5}}, {"a", "b"}, {5, 5}},
        // A CR ending one Feed and a LF beginning the next are one line end: the
        // LF must not be taken for a blank line that would dispatch "a" alone.
        TimedCase{"CrLfSplitAcrossFeeds",
                  {{"data: a\r", 1}, {"\ndata: b\r", 2}, {"\n\r", 3}, {"\n", 4}},
                  {"a\nb"},
                  {3}},
        TimedCase{"CrThenBlankLine", {{"data: a\r", 1}, {"\r", 2}}, {"a"}, {2}},
        TimedCase{"EmptyFeedsChangeNothing",
                  {{"", 1}, {"data: a", 2}, {"", 3}, {"\n\n", 4}, {"", 5}},
                  {"a"},
                  {4}}),
    [](const ::testing::TestParamInfo<TimedCase>& param_info) { return param_info.param.name; });

TEST(SseParser, FinishKeepsUntakenEventsAndStartsAfresh) {
  Parser parser;
  parser.Feed("data: a\n\ndata: lost\n", 1);
  parser.Finish(2);
  parser.Feed(
      "\xEF\xBB\xBF"
      "data: b\n\n",
      3);  // a new stream may begin with a BOM
  const std::vector<Event> events = parser.TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[1].data, "b");
  EXPECT_EQ(parser.stats().discarded_events, 1u);
  EXPECT_EQ(parser.stats().boms, 1u);
  EXPECT_TRUE(parser.TakeEvents().empty());
}

TEST(SseParser, IdDoesNotLeakIntoTheNextStream) {
  Parser parser;
  parser.Feed("id: 9\ndata: a\n\n", 1);
  parser.Finish(2);
  parser.Feed("data: b\n\n", 3);
  const std::vector<Event> events = parser.TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "");
}

TEST(SseParser, MemoryStaysBoundedOnAnEndlessLine) {
  const Limits limits{.max_event_bytes = 64, .max_line_bytes = 32};
  Parser parser(limits);
  parser.Feed("data: ", 1);
  for (int i = 0; i < 1000; ++i) {
    parser.Feed(std::string(100, 'x'), 1);
    ASSERT_LE(parser.BufferedBytes(), limits.max_event_bytes + 3 * limits.max_line_bytes);
  }
  parser.Feed("\n\n", 2);
  const std::vector<Event> events = parser.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].data_truncated);
  EXPECT_EQ(parser.stats().oversized_lines, 1u);
}

}  // namespace
}  // namespace infrared::protocols::sse
