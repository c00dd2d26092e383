// The HTTP/1 response parser: framing whatever the chunking, status lines,
// close-delimited bodies, gaps, and the queue of request methods it answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/protocols/http1/parse.h"
#include "tests/unit/protocols/http1/parse_fixture.h"

namespace infrared::protocols::http1 {
namespace {

using namespace ::infrared::protocols::http1::parse_test;  // NOLINT(build/namespaces): the shared
                                                           // helpers

// ---- Responses ------------------------------------------------------------

struct ResponseCase {
  const char* name;
  std::string bytes;
  std::vector<std::string> methods;
  // status, body, body_size for each response expected, in order
  std::vector<std::vector<std::string>> expected;
  bool close = false;
  bool stopped = false;
};

class ResponseFramingTest : public ::testing::TestWithParam<ResponseCase> {};

TEST_P(ResponseFramingTest, ParsesTheSameWhateverTheChunking) {
  const ResponseCase& c = GetParam();
  const ResponseRun run = ResponsesAnySplit(c.bytes, c.methods, c.close);
  ASSERT_EQ(run.responses.size(), c.expected.size());
  for (std::size_t i = 0; i < c.expected.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(run.responses[i].status_code, std::stoi(c.expected[i][0]));
    EXPECT_EQ(run.responses[i].body, c.expected[i][1]);
    EXPECT_EQ(run.responses[i].body_size, std::stoull(c.expected[i][2]));
    EXPECT_FALSE(run.responses[i].incomplete);
  }
  EXPECT_EQ(run.stopped, c.stopped);
  EXPECT_EQ(run.stats.garbage_bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Framing, ResponseFramingTest,
    ::testing::Values(
        ResponseCase{"ContentLength",
                     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                     {"GET"},
                     {{"200", "hello", "5"}}},
        ResponseCase{"NoMethodKnownMeansGet",
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
                     {},
                     {{"200", "hi", "2"}}},
        ResponseCase{"HeadHasNoBody",
                     "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
                     {"HEAD", "GET"},
                     {{"200", "", "0"}, {"200", "abc", "3"}}},
        ResponseCase{"NoContentAndNotModified",
                     "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n"
                     "Content-Length: 99\r\nETag: \"x\"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
                     "1\r\n\r\n!",
                     {"DELETE", "GET", "GET"},
                     {{"204", "", "0"}, {"304", "", "0"}, {"200", "!", "1"}}},
        ResponseCase{"ChunkedWithExtensionsAndTrailers",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5;ext=1\r\ndata:\r\n7\r\n hello\n\r\n0\r\nX-Trailer: t\r\n\r\n",
                     {"POST"},
                     {{"200", "data: hello\n", "12"}}},
        ResponseCase{
            "ChunkedUpperHexAndLeadingZeros",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000A\r\n0123456789\r\n0\r\n\r\n",
            {"GET"},
            {{"200", "0123456789", "10"}}},
        ResponseCase{
            "ContinueThenFinal",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            {"POST", "HEAD"},  // an interim response does not consume a method
            {{"100", "", "0"}, {"201", "ok", "2"}}},
        ResponseCase{"CloseDelimited",
                     "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nuntil the end",
                     {"GET"},
                     {{"200", "until the end", "13"}},
                     true},
        ResponseCase{"Http10CloseDelimited",
                     "HTTP/1.0 200 OK\r\n\r\nold",
                     {"GET"},
                     {{"200", "old", "3"}},
                     true},
        ResponseCase{"UnknownCodingIsCloseDelimited",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nxyz",
                     {"GET"},
                     {{"200", "xyz", "3"}},
                     true},
        ResponseCase{"SwitchingProtocolsEndsHttp",
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi",
                     {"GET"},
                     {{"101", "", "0"}},
                     false,
                     true},
        ResponseCase{"ConnectTunnel",
                     "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01\x02\x00",
                     {"CONNECT"},
                     {{"200", "", "0"}},
                     false,
                     true},
        ResponseCase{"ConnectRefusedHasABody",
                     "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nnope",
                     {"CONNECT"},
                     {{"407", "nope", "4"}}},
        ResponseCase{
            "Pipelined",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
            "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nB\r\n0\r\n\r\n"
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
            {"GET", "GET", "POST"},
            {{"200", "A", "1"}, {"404", "B", "1"}, {"500", "", "0"}}}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ResponseParserTest, StatusLineFields) {
  const ResponseRun run = ResponsesAnySplit(
      "HTTP/1.0 418 I'm a teapot\r\nSet-Cookie: session=SECRETSECRET\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
      {"GET", "GET"});
  ASSERT_EQ(run.responses.size(), 2u);
  EXPECT_EQ(run.responses[0].version_minor, 0);
  EXPECT_EQ(run.responses[0].reason, "I'm a teapot");
  EXPECT_TRUE(run.responses[0].connection_close);
  EXPECT_EQ(FindHeader(run.responses[0].headers, "set-cookie"), kRedacted);
  EXPECT_EQ(run.responses[1].reason, "");
}

TEST(ResponseParserTest, CloseDelimitedEndsAtTheLastByteNotTheClose) {
  ResponseParser parser;
  parser.Feed("HTTP/1.1 200 OK\r\n\r\nab", 0, 10);
  parser.Feed("cd", 3, 20);
  EXPECT_THAT(parser.TakeResponses(), IsEmpty());
  parser.Close(30);
  const std::vector<Response> responses = parser.TakeResponses();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].close_delimited);
  EXPECT_EQ(responses[0].body_size, 7u);
  EXPECT_EQ(responses[0].body, "abcd");
  EXPECT_TRUE(responses[0].body_truncated);
  EXPECT_EQ(responses[0].start_ns, 10u);
  EXPECT_EQ(responses[0].end_ns, 20u);
}

TEST(ResponseParserTest, ChunkedGapLosesFramingAndFindsTheNextStatusLine) {
  ResponseParser parser;
  parser.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\ndata: {\"a\":1}\n\n\r\n",
              0, 1);
  parser.Feed("20\r\ndata: {\"b\":", 5000, 2);
  parser.Feed("\"tail\"}\n\n\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 0, 3);
  const std::vector<Response> responses = parser.TakeResponses();
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_TRUE(responses[0].incomplete);
  EXPECT_EQ(responses[0].body_size, 47u);
  EXPECT_EQ(responses[0].end_ns, 2u);
  EXPECT_EQ(responses[1].status_code, 204);
  EXPECT_EQ(parser.stats().resyncs, 1u);
  EXPECT_EQ(parser.stats().gap_bytes, 5000u);
}

TEST(ResponseParserTest, MethodQueueIsBounded) {
  ResponseParser parser;
  for (std::size_t i = 0; i < ResponseParser::kMaxPendingMethods + 5; ++i) {
    parser.PushRequestMethod("GET");
  }
  EXPECT_EQ(parser.PendingMethods(), ResponseParser::kMaxPendingMethods);
  EXPECT_EQ(parser.stats().dropped_methods, 5u);
}

TEST(ResponseParserTest, RequestBytesAreGarbageToAResponseParser) {
  const ResponseRun run = RunResponses(
      {Chunk{"GET / HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}}, {});
  ASSERT_EQ(run.responses.size(), 1u);
  EXPECT_EQ(run.stats.garbage_bytes, 18u);
  EXPECT_EQ(run.stats.resyncs, 1u);
}

}  // namespace
}  // namespace infrared::protocols::http1
