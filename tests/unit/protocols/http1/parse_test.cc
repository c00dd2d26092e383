#include "agent/protocols/http1/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/protocols/http1/parse_fixture.h"

namespace infrared::protocols::http1 {
namespace {

using namespace ::infrared::protocols::http1::parse_test;  // NOLINT(build/namespaces): the shared
                                                           // helpers

// ---- Requests -------------------------------------------------------------

struct RequestCase {
  const char* name;
  std::string bytes;
  // method, target, body, body_size for each request expected, in order
  std::vector<std::vector<std::string>> expected;
  std::uint64_t garbage = 0;
};

class RequestFramingTest : public ::testing::TestWithParam<RequestCase> {};

TEST_P(RequestFramingTest, ParsesTheSameWhateverTheChunking) {
  const RequestCase& c = GetParam();
  const RequestRun run = RequestsAnySplit({Chunk{c.bytes}});
  ASSERT_EQ(run.requests.size(), c.expected.size());
  for (std::size_t i = 0; i < c.expected.size(); ++i) {
    SCOPED_TRACE(i);
    const Request& r = run.requests[i];
    EXPECT_EQ(r.method, c.expected[i][0]);
    EXPECT_EQ(r.target, c.expected[i][1]);
    EXPECT_EQ(r.body, c.expected[i][2]);
    EXPECT_EQ(r.body_size, std::stoull(c.expected[i][3]));
    EXPECT_FALSE(r.body_truncated);
    EXPECT_FALSE(r.incomplete);
    EXPECT_EQ(run.methods[i], c.expected[i][0]);
  }
  EXPECT_EQ(run.stats.garbage_bytes, c.garbage);
}

INSTANTIATE_TEST_SUITE_P(
    Framing, RequestFramingTest,
    ::testing::Values(
        RequestCase{"Get",
                    "GET /v1/models HTTP/1.1\r\nHost: api\r\n\r\n",
                    {{"GET", "/v1/models", "", "0"}}},
        RequestCase{"ContentLength",
                    "POST /v1/chat HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}",
                    {{"POST", "/v1/chat", "{\"a\":\"bcd\"}", "11"}}},
        RequestCase{"ContentLengthList",
                    "PUT /x HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
                    {{"PUT", "/x", "abc", "3"}}},
        RequestCase{"ChunkedWithExtensionsAndTrailers",
                    "POST /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                    "4;name=value\r\nWiki\r\n5 ; x=\"y\"\r\npedia\r\nA\r\n in chunks\r\n"
                    "0;last\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
                    {{"POST", "/up", "Wikipedia in chunks", "19"}}},
        RequestCase{"ChunkedNoTrailers",
                    "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                    {{"POST", "/a", "abc", "3"}}},
        RequestCase{"TransferEncodingWinsOverLength",
                    "POST /a HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "1\r\nz\r\n0\r\n\r\n",
                    {{"POST", "/a", "z", "1"}}},
        RequestCase{"Http10", "GET / HTTP/1.0\r\n\r\n", {{"GET", "/", "", "0"}}},
        RequestCase{"BareLineFeeds",
                    "DELETE /item/7 HTTP/1.1\nHost: h\n\n",
                    {{"DELETE", "/item/7", "", "0"}}},
        RequestCase{"LeadingEmptyLinesIgnored",
                    "\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n",
                    {{"OPTIONS", "*", "", "0"}}},
        RequestCase{
            "Pipelined",
            "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
            "HEAD /3 HTTP/1.1\r\n\r\nPATCH /4 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "2\r\nok\r\n0\r\n\r\n",
            {{"GET", "/1", "", "0"},
             {"POST", "/2", "hi", "2"},
             {"HEAD", "/3", "", "0"},
             {"PATCH", "/4", "ok", "2"}}},
        RequestCase{"GarbageBefore",
                    std::string("\x16\x03\x01\x00\xa5", 5) + "junk GET\r\nGET /ok HTTP/1.1\r\n\r\n",
                    {{"GET", "/ok", "", "0"}},
                    15},
        RequestCase{"NoLengthMeansNoBody",
                    "POST /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
                    {{"POST", "/a", "", "0"}, {"GET", "/b", "", "0"}}},
        RequestCase{"ConnectHasNoBody",
                    "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: x\r\n\r\n",
                    {{"CONNECT", "api.openai.com:443", "", "0"}}},
        RequestCase{"AbsoluteFormAndCustomMethod",
                    "PROPFIND http://h/dav HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                    {{"PROPFIND", "http://h/dav", "", "0"}}}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(RequestParserTest, ParsesHeadersVersionAndConnection) {
  const RequestRun run = RequestsAnySplit(
      "GET /a HTTP/1.0\r\nHost:  example.com \r\ncontent-TYPE:text/plain\r\n"
      "X-Folded: one\r\n  two\r\nno colon here\r\n\r\n");
  ASSERT_EQ(run.requests.size(), 1u);
  const Request& r = run.requests[0];
  EXPECT_EQ(r.version_minor, 0);
  EXPECT_TRUE(r.connection_close);
  EXPECT_EQ(FindHeader(r.headers, "HOST"), "example.com");
  EXPECT_EQ(FindHeader(r.headers, "Content-Type"), "text/plain");
  EXPECT_EQ(FindHeader(r.headers, "x-folded"), "one two");
  EXPECT_EQ(FindHeader(r.headers, "missing"), "");
  EXPECT_EQ(r.headers.size(), 3u);
}

TEST(RequestParserTest, KeepAliveAndClose) {
  RequestRun run =
      RunRequests({Chunk{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / "
                         "HTTP/1.1\r\nConnection: close\r\n\r\n"}});
  ASSERT_EQ(run.requests.size(), 2u);
  EXPECT_FALSE(run.requests[0].connection_close);
  EXPECT_TRUE(run.requests[1].connection_close);
}

TEST(RequestParserTest, TimestampsAreThoseOfTheFirstAndLastByte) {
  RequestParser parser;
  parser.Feed("POST /a HTT", 0, 10);
  parser.Feed("P/1.1\r\nContent-Length: 4\r\n\r\n", 0, 20);
  parser.Feed("ab", 0, 30);
  parser.Feed("cdGET /b HTTP/1.1\r\n", 0, 40);
  parser.Feed("\r\n", 0, 50);
  const std::vector<Request> requests = parser.TakeRequests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].start_ns, 10u);
  EXPECT_EQ(requests[0].end_ns, 40u);
  EXPECT_EQ(requests[1].start_ns, 40u);
  EXPECT_EQ(requests[1].end_ns, 50u);
}

TEST(RequestParserTest, GapInsideABodyAdvancesIt) {
  const RequestRun run = RequestsAnySplit({
      Chunk{"POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789", 90, 5},
      Chunk{"GET /b HTTP/1.1\r\n\r\n", 0, 6},
  });
  ASSERT_EQ(run.requests.size(), 2u);
  EXPECT_EQ(run.requests[0].body_size, 100u);
  EXPECT_EQ(run.requests[0].body, "0123456789");
  EXPECT_TRUE(run.requests[0].body_truncated);
  EXPECT_FALSE(run.requests[0].incomplete);
  EXPECT_EQ(run.requests[0].end_ns, 5u);
  EXPECT_EQ(run.requests[1].target, "/b");
  EXPECT_EQ(run.stats.gap_bytes, 90u);
  EXPECT_EQ(run.stats.resyncs, 0u);
}

TEST(RequestParserTest, GapPastTheEndOfABodyThenTheNextMessage) {
  const RequestRun run = RequestsAnySplit({
      Chunk{"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234", 500, 1},
      Chunk{"ody of something we lost\r\nGET /b HTTP/1.1\r\n\r\n", 0, 2},
  });
  ASSERT_EQ(run.requests.size(), 2u);
  EXPECT_EQ(run.requests[0].body_size, 10u);
  EXPECT_EQ(run.requests[0].body, "01234");
  EXPECT_EQ(run.requests[1].target, "/b");
  EXPECT_EQ(run.stats.garbage_bytes, 26u);
  EXPECT_EQ(run.stats.resyncs, 1u);
}

TEST(RequestParserTest, GapInsideAHeadResynchronises) {
  const std::string after_gap = "er: value\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  const RequestRun run = RequestsAnySplit({
      Chunk{"GET /a HTTP/1.1\r\nHost: h\r\nX-Head", 40, 1},
      Chunk{after_gap, 0, 2},
  });
  ASSERT_EQ(run.requests.size(), 1u);
  EXPECT_EQ(run.requests[0].target, "/b");
  EXPECT_EQ(run.requests[0].start_ns, 2u);
  EXPECT_EQ(run.stats.resyncs, 1u);
  EXPECT_EQ(run.stats.gap_bytes, 40u);
  // The partial head and the bytes after the gap up to the next request line.
  EXPECT_EQ(run.stats.garbage_bytes, 32u + 13u);
}

TEST(RequestParserTest, ChunkedGapWithinAChunkKeepsFraming) {
  const RequestRun run = RequestsAnySplit({
      Chunk{"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab", 6, 1},
      Chunk{"\r\n2\r\nyz\r\n0\r\n\r\n", 0, 2},
  });
  ASSERT_EQ(run.requests.size(), 1u);
  EXPECT_EQ(run.requests[0].body_size, 10u);
  EXPECT_EQ(run.requests[0].body, "ab");  // capture stops at the gap: body stays a true prefix
  EXPECT_TRUE(run.requests[0].body_truncated);
  EXPECT_FALSE(run.requests[0].incomplete);
  EXPECT_EQ(run.stats.resyncs, 0u);
}

TEST(RequestParserTest, ChunkedGapAcrossASizeLineLosesFraming) {
  const RequestRun run = RequestsAnySplit({
      Chunk{"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3", 100, 1},
      Chunk{"x\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0, 2},
  });
  ASSERT_EQ(run.requests.size(), 2u);
  EXPECT_TRUE(run.requests[0].incomplete);
  EXPECT_EQ(run.requests[0].body_size, 4u);
  EXPECT_EQ(run.requests[0].body, "abcd");
  EXPECT_EQ(run.requests[1].target, "/b");
  EXPECT_EQ(run.stats.incomplete_messages, 1u);
  EXPECT_EQ(run.stats.resyncs, 1u);
}

TEST(RequestParserTest, InvalidChunkSizeLosesFramingAndResynchronises) {
  const RequestRun run = RequestsAnySplit(
      "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /b HTTP/1.1\r\n\r\n");
  ASSERT_EQ(run.requests.size(), 2u);
  EXPECT_TRUE(run.requests[0].incomplete);
  EXPECT_EQ(run.requests[1].target, "/b");
  EXPECT_EQ(run.stats.garbage_bytes, 4u);
}

TEST(RequestParserTest, CloseCutsABodyShort) {
  RequestParser parser;
  parser.Feed("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 0, 1);
  parser.Close(2);
  const std::vector<Request> requests = parser.TakeRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].incomplete);
  EXPECT_EQ(requests[0].body_size, 3u);
  EXPECT_EQ(requests[0].end_ns, 1u);
}

TEST(RequestParserTest, RedactsCredentialsAsTheyAreParsed) {
  const std::string secret = "sk-SECRETSECRET";
  const RequestRun run =
      RequestsAnySplit("POST /v1?alt=sse&key=" + secret + "&Access_Token=" + secret +
                       " HTTP/1.1\r\nAuthorization: Bearer " + secret +
                       "\r\nproxy-authorization: " + secret + "\r\nCookie: a=" + secret +
                       "\r\nX-API-KEY: " + secret + "\r\napi-key: " + secret +
                       "\r\nAuthorization: x\r\n  " + secret + "\r\nx-goog-api-key: " + secret +
                       "\r\nX-Other: visible\r\n\r\n");
  ASSERT_EQ(run.requests.size(), 1u);
  const Request& r = run.requests[0];
  ASSERT_EQ(r.headers.size(), 8u);
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(r.headers[i].value, kRedacted) << r.headers[i].name;
  EXPECT_EQ(r.target, "/v1?alt=sse&key=[REDACTED]&Access_Token=[REDACTED]");
  EXPECT_EQ(FindHeader(r.headers, "x-other"), "visible");
  std::string everything = r.method + r.target + r.body;
  for (const Header& h : r.headers) everything += h.name + h.value;
  EXPECT_EQ(everything.find("SECRET"), std::string::npos);
}

TEST(RequestParserTest, OversizedHeadIsGarbage) {
  ParserLimits limits;
  limits.max_head_bytes = 1024;
  const std::string huge = "GET /a HTTP/1.1\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n";
  const std::string next = "GET /b HTTP/1.1\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{100}, std::size_t{8000}}) {
    std::vector<Chunk> chunks;
    const std::string all = huge + next;
    for (std::size_t at = 0; at < all.size(); at += piece)
      chunks.push_back(Chunk{all.substr(at, piece)});
    const RequestRun run = RunRequests(chunks, limits);
    ASSERT_EQ(run.requests.size(), 1u) << piece;
    EXPECT_EQ(run.requests[0].target, "/b");
    EXPECT_EQ(run.stats.oversized_heads, 1u);
    EXPECT_EQ(run.stats.garbage_bytes, huge.size());
  }
}

TEST(RequestParserTest, LongTargetWithoutVersionIsGarbage) {
  ParserLimits limits;
  limits.max_head_bytes = 256;
  const RequestRun run = RunRequests(
      {Chunk{"GET /" + std::string(1000, 'x') + " HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"}},
      limits);
  ASSERT_EQ(run.requests.size(), 1u);
  EXPECT_EQ(run.requests[0].target, "/ok");
}

TEST(RequestParserTest, ChunkLinesStayWithinTheBufferLimit) {
  ParserLimits limits;
  limits.max_head_bytes = 64;
  const std::string body = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                           std::string(2000, 'e') + "\r\nx\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{50}, body.size()}) {
    std::vector<Chunk> chunks;
    for (std::size_t at = 0; at < body.size(); at += piece) {
      chunks.push_back(Chunk{body.substr(at, piece)});
    }
    const RequestRun run = RunRequests(chunks, limits);  // checks BufferedBytes after each chunk
    ASSERT_EQ(run.requests.size(), 2u) << piece;
    EXPECT_TRUE(run.requests[0].incomplete);
    EXPECT_EQ(run.requests[1].target, "/b");
  }
}

TEST(RequestParserTest, TooManyHeadersAreCappedButFramingIsKept) {
  std::string head = "POST /a HTTP/1.1\r\n";
  for (int i = 0; i < 150; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  head += "Content-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n";
  const RequestRun run = RunRequests({Chunk{head}});
  ASSERT_EQ(run.requests.size(), 2u);
  EXPECT_EQ(run.requests[0].headers.size(), 100u);
  EXPECT_TRUE(run.requests[0].headers_truncated);
  EXPECT_EQ(run.requests[0].body, "abc");
  EXPECT_EQ(run.stats.dropped_headers, 51u);
}

TEST(RequestParserTest, HugeBodyIsCountedButCaptureIsCapped) {
  const std::string body(1'000'000, 'b');
  std::vector<Chunk> chunks = {Chunk{"PUT /big HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n"}};
  for (std::size_t at = 0; at < body.size(); at += 16384)
    chunks.push_back(Chunk{body.substr(at, 16384)});
  const RequestRun run = RunRequests(chunks);
  ASSERT_EQ(run.requests.size(), 1u);
  EXPECT_EQ(run.requests[0].body_size, 1'000'000u);
  EXPECT_EQ(run.requests[0].body.size(), 4096u);
  EXPECT_TRUE(run.requests[0].body_truncated);
  EXPECT_FALSE(run.requests[0].incomplete);
}

TEST(RequestParserTest, StopIgnoresEverythingAfter) {
  RequestParser parser;
  parser.Feed("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 0, 1);
  parser.Stop();
  const std::string frames = "\x81\x05hello GET / HTTP/1.1\r\n\r\n";
  parser.Feed(frames, 7, 2);
  EXPECT_EQ(parser.TakeRequests().size(), 1u);
  EXPECT_EQ(parser.stats().ignored_bytes, frames.size() + 7);
  EXPECT_EQ(parser.stats().garbage_bytes, 0u);
}

// ---- Classify -------------------------------------------------------------

TEST(ClassifyTest, FirstBytesOfADirection) {
  const std::vector<std::pair<std::string, StreamKind>> cases = {
      {"GET / HTTP/1.1\r\n", StreamKind::kRequest},
      {"POST ", StreamKind::kRequest},
      {"OPTIONS *", StreamKind::kRequest},
      {"CONNECT h:443 HTTP/1.1", StreamKind::kRequest},
      {"HTTP/1.1 200 OK", StreamKind::kResponse},
      {"HTTP/1.0", StreamKind::kResponse},
      {"", StreamKind::kUnknown},
      {"G", StreamKind::kUnknown},
      {"DELET", StreamKind::kUnknown},
      {"OPTIONS", StreamKind::kUnknown},
      {"HTTP/1", StreamKind::kUnknown},
      {"H", StreamKind::kUnknown},
      {"HTTP/2.0 200", StreamKind::kNotHttp},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", StreamKind::kNotHttp},
      {std::string("\x16\x03\x01\x02\x00\x01\x00\x01", 8), StreamKind::kNotHttp},
      {std::string("\x16\x03", 2), StreamKind::kNotHttp},
      {"get / HTTP/1.1", StreamKind::kNotHttp},
      {"GETS / HTTP/1.1", StreamKind::kNotHttp},
      {"{\"jsonrpc\":", StreamKind::kNotHttp},
  };
  for (const auto& [bytes, kind] : cases) EXPECT_EQ(Classify(bytes), kind) << bytes;
}

}  // namespace
}  // namespace infrared::protocols::http1
