#include "agent/protocols/http1/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace infrared::protocols::http1 {

void PrintTo(const Request& r, std::ostream* os) {
  *os << "Request{" << r.method << " " << r.target << " 1." << r.version_minor
      << " headers=" << r.headers.size() << " body_size=" << r.body_size << " body=\"" << r.body
      << "\" truncated=" << r.body_truncated << " incomplete=" << r.incomplete
      << " chunked=" << r.chunked << " ns=" << r.start_ns << ".." << r.end_ns << "}";
}

void PrintTo(const Response& r, std::ostream* os) {
  *os << "Response{" << r.status_code << " " << r.reason << " 1." << r.version_minor
      << " headers=" << r.headers.size() << " body_size=" << r.body_size << " body=\"" << r.body
      << "\" truncated=" << r.body_truncated << " incomplete=" << r.incomplete
      << " chunked=" << r.chunked << " close_delimited=" << r.close_delimited
      << " tunnel=" << r.tunnel << " ns=" << r.start_ns << ".." << r.end_ns << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// One chunk of a direction: captured bytes, then `missing` bytes not copied.
struct Chunk {
  std::string bytes;
  std::uint64_t missing = 0;
  std::uint64_t ts = 1;
};

// The same chunks cut in every way that must not matter: each chunk in two at
// every byte boundary (its gap stays after its last byte), and every chunk
// byte by byte. Timestamps stay those of the chunk cut.
std::vector<std::vector<Chunk>> Splits(const std::vector<Chunk>& chunks) {
  std::vector<std::vector<Chunk>> splits = {chunks};
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    for (std::size_t cut = 1; cut < chunks[i].bytes.size(); ++cut) {
      std::vector<Chunk> split(chunks.begin(), chunks.begin() + i);
      split.push_back(Chunk{chunks[i].bytes.substr(0, cut), 0, chunks[i].ts});
      split.push_back(Chunk{chunks[i].bytes.substr(cut), chunks[i].missing, chunks[i].ts});
      split.insert(split.end(), chunks.begin() + i + 1, chunks.end());
      splits.push_back(split);
    }
  }
  std::vector<Chunk> bytewise;
  for (const Chunk& chunk : chunks) {
    for (char c : chunk.bytes) bytewise.push_back(Chunk{std::string(1, c), 0, chunk.ts});
    if (chunk.missing > 0) bytewise.push_back(Chunk{"", chunk.missing, chunk.ts});
  }
  splits.push_back(bytewise);
  return splits;
}

struct RequestRun {
  std::vector<Request> requests;
  std::vector<std::string> methods;
  ParseStats stats;
};

RequestRun RunRequests(const std::vector<Chunk>& chunks, ParserLimits limits = {}) {
  RequestRun run;
  RequestParser parser(limits);
  for (const Chunk& chunk : chunks) {
    parser.Feed(chunk.bytes, chunk.missing, chunk.ts);
    EXPECT_LE(parser.BufferedBytes(), limits.max_head_bytes + RequestParser::kSlackBytes);
    for (Request& r : parser.TakeRequests()) run.requests.push_back(std::move(r));
    for (std::string& m : parser.TakeHeadMethods()) run.methods.push_back(std::move(m));
  }
  run.stats = parser.stats();
  return run;
}

struct ResponseRun {
  std::vector<Response> responses;
  ParseStats stats;
  bool stopped = false;
};

ResponseRun RunResponses(const std::vector<Chunk>& chunks, const std::vector<std::string>& methods,
                         bool close = false, ParserLimits limits = {}) {
  ResponseRun run;
  ResponseParser parser(limits);
  for (const std::string& method : methods) parser.PushRequestMethod(method);
  for (const Chunk& chunk : chunks) {
    parser.Feed(chunk.bytes, chunk.missing, chunk.ts);
    EXPECT_LE(parser.BufferedBytes(), limits.max_head_bytes + ResponseParser::kSlackBytes);
  }
  run.stopped = parser.stopped();
  if (close) parser.Close(99);
  run.responses = parser.TakeResponses();
  run.stats = parser.stats();
  return run;
}

void ExpectSameStats(const ParseStats& a, const ParseStats& b) {
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.garbage_bytes, b.garbage_bytes);
  EXPECT_EQ(a.resyncs, b.resyncs);
  EXPECT_EQ(a.incomplete_messages, b.incomplete_messages);
  EXPECT_EQ(a.ignored_bytes, b.ignored_bytes);
}

// Parses `bytes` cut every way and checks that every cut gives what the whole does.
RequestRun RequestsAnySplit(const std::vector<Chunk>& chunks) {
  const RequestRun whole = RunRequests(chunks);
  for (const std::vector<Chunk>& split : Splits(chunks)) {
    SCOPED_TRACE(::testing::Message() << "split into " << split.size() << " chunks");
    const RequestRun run = RunRequests(split);
    EXPECT_EQ(run.requests, whole.requests);
    EXPECT_EQ(run.methods, whole.methods);
    ExpectSameStats(run.stats, whole.stats);
  }
  return whole;
}

RequestRun RequestsAnySplit(const std::string& bytes) {
  return RequestsAnySplit(std::vector<Chunk>{Chunk{bytes}});
}

ResponseRun ResponsesAnySplit(const std::string& bytes, const std::vector<std::string>& methods,
                              bool close = false) {
  const ResponseRun whole = RunResponses({Chunk{bytes}}, methods, close);
  for (const std::vector<Chunk>& split : Splits({Chunk{bytes}})) {
    SCOPED_TRACE(::testing::Message() << "split into " << split.size() << " chunks");
    const ResponseRun run = RunResponses(split, methods, close);
    EXPECT_EQ(run.responses, whole.responses);
    EXPECT_EQ(run.stopped, whole.stopped);
    ExpectSameStats(run.stats, whole.stats);
  }
  return whole;
}

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
