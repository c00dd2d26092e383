#include "agent/protocols/http1/stitcher.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace infrared::protocols::http1 {
namespace {

// A piece of traffic: which direction, the bytes, the bytes not copied.
struct Step {
  bool request;
  std::string bytes;
  std::uint64_t missing = 0;
  std::uint64_t ts = 1;
};

std::vector<Exchange> Drive(Stitcher& stitcher, const std::vector<Step>& steps,
                            bool close = false) {
  std::vector<Exchange> out;
  for (const Step& step : steps) {
    if (step.request) {
      stitcher.OnRequestBytes(step.bytes, step.missing, step.ts);
    } else {
      stitcher.OnResponseBytes(step.bytes, step.missing, step.ts);
    }
    for (Exchange& e : stitcher.TakeExchanges()) out.push_back(std::move(e));
  }
  if (close) {
    stitcher.OnClose(1000);
    for (Exchange& e : stitcher.TakeExchanges()) out.push_back(std::move(e));
  }
  return out;
}

std::vector<Exchange> Drive(const std::vector<Step>& steps, bool close = false) {
  Stitcher stitcher;
  return Drive(stitcher, steps, close);
}

// Every step cut in two at every byte boundary, and every step byte by byte,
// must give the same exchanges as the steps whole.
void ExpectChunkingIrrelevant(const std::vector<Step>& steps, bool close) {
  const std::vector<Exchange> whole = Drive(steps, close);
  for (std::size_t s = 0; s < steps.size(); ++s) {
    for (std::size_t cut = 1; cut < steps[s].bytes.size(); ++cut) {
      std::vector<Step> split;
      for (std::size_t i = 0; i < steps.size(); ++i) {
        if (i != s) {
          split.push_back(steps[i]);
          continue;
        }
        split.push_back(Step{steps[i].request, steps[i].bytes.substr(0, cut), 0, steps[i].ts});
        split.push_back(
            Step{steps[i].request, steps[i].bytes.substr(cut), steps[i].missing, steps[i].ts});
      }
      EXPECT_EQ(Drive(split, close), whole) << "step " << s << " cut at " << cut;
    }
  }
  std::vector<Step> bytewise;
  for (const Step& step : steps) {
    for (char c : step.bytes) bytewise.push_back(Step{step.request, std::string(1, c), 0, step.ts});
    if (step.missing > 0) bytewise.push_back(Step{step.request, "", step.missing, step.ts});
  }
  EXPECT_EQ(Drive(bytewise, close), whole) << "byte by byte";
}

TEST(StitcherTest, MatchesARequestToItsResponse) {
  const std::vector<Step> steps = {
      {true, "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 0, 10},
      {false, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{\"a\"", 0, 20},
      {false, "}", 0, 30},
  };
  const std::vector<Exchange> exchanges = Drive(steps);
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].request.target, "/v1/chat/completions");
  EXPECT_EQ(exchanges[0].request.body, "{}");
  EXPECT_EQ(exchanges[0].response.status_code, 200);
  EXPECT_EQ(exchanges[0].response.body, "{\"a\"}");
  EXPECT_EQ(exchanges[0].request.start_ns, 10u);
  EXPECT_EQ(exchanges[0].response.start_ns, 20u);
  EXPECT_EQ(exchanges[0].response.end_ns, 30u);
  ExpectChunkingIrrelevant(steps, false);
}

TEST(StitcherTest, PipelinedRequestsMatchInOrderIncludingHead) {
  const std::vector<Step> steps = {
      {true,
       "GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: "
       "1\r\n\r\nx"},
      {false,
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
       "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"
       "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nC\r\n0\r\n\r\n"},
  };
  const std::vector<Exchange> exchanges = Drive(steps);
  ASSERT_EQ(exchanges.size(), 3u);
  EXPECT_EQ(exchanges[0].request.target, "/a");
  EXPECT_EQ(exchanges[0].response.body, "A");
  EXPECT_EQ(exchanges[1].request.method, "HEAD");
  EXPECT_EQ(exchanges[1].response.body_size, 0u);
  EXPECT_EQ(exchanges[2].request.body, "x");
  EXPECT_EQ(exchanges[2].response.status_code, 201);
  EXPECT_EQ(exchanges[2].response.body, "C");
  ExpectChunkingIrrelevant(steps, false);
}

TEST(StitcherTest, ContinueIsSkipped) {
  const std::vector<Step> steps = {
      {true, "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"},
      {false, "HTTP/1.1 100 Continue\r\n\r\n"},
      {true, "abc"},
      {false, "HTTP/1.1 204 No Content\r\n\r\n"},
  };
  Stitcher stitcher;
  const std::vector<Exchange> exchanges = Drive(stitcher, steps);
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].request.body, "abc");
  EXPECT_EQ(exchanges[0].response.status_code, 204);
  EXPECT_EQ(stitcher.stats().interim_responses, 1u);
  ExpectChunkingIrrelevant(steps, false);
}

TEST(StitcherTest, EarlyResponseWaitsForTheRequestBody) {
  Stitcher stitcher;
  stitcher.OnRequestBytes("POST /up HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc", 0, 1);
  // The server refuses before the body has arrived; HEAD-like framing must not
  // apply, so its body is read.
  stitcher.OnResponseBytes("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig", 0, 2);
  EXPECT_TRUE(stitcher.TakeExchanges().empty());
  stitcher.OnRequestBytes("def", 0, 3);
  const std::vector<Exchange> exchanges = stitcher.TakeExchanges();
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].request.body, "abcdef");
  EXPECT_EQ(exchanges[0].response.status_code, 413);
  EXPECT_EQ(exchanges[0].response.body, "big");
}

TEST(StitcherTest, ResponseFramingUsesTheRequestMethod) {
  // Were the HEAD unknown, the 200's Content-Length would swallow the 404.
  const std::vector<Exchange> exchanges = Drive({
      {true, "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"},
      {false,
       "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: "
       "0\r\n\r\n"},
  });
  ASSERT_EQ(exchanges.size(), 2u);
  EXPECT_EQ(exchanges[1].response.status_code, 404);
}

TEST(StitcherTest, ResponseWithoutRequestIsCountedAndDropped) {
  Stitcher stitcher;
  const std::vector<Exchange> exchanges =
      Drive(stitcher, {
                          {false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
                          {true, "GET / HTTP/1.1\r\n\r\n"},
                          {false, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"},
                      });
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].response.status_code, 202);
  EXPECT_EQ(stitcher.stats().unmatched_responses, 1u);
}

TEST(StitcherTest, CloseEmitsWaitingRequestsWithStatusZero) {
  const std::vector<Step> steps = {
      {true,
       "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: "
       "9\r\n\r\nxy"},
      {false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
  };
  const std::vector<Exchange> exchanges = Drive(steps, true);
  ASSERT_EQ(exchanges.size(), 3u);
  EXPECT_EQ(exchanges[0].response.status_code, 200);
  EXPECT_EQ(exchanges[1].request.target, "/b");
  EXPECT_EQ(exchanges[1].response.status_code, 0);
  EXPECT_EQ(exchanges[2].response.status_code, 0);
  EXPECT_TRUE(exchanges[2].request.incomplete);
  EXPECT_EQ(exchanges[2].request.body, "xy");
  ExpectChunkingIrrelevant(steps, true);
}

TEST(StitcherTest, CloseDelimitedResponseCompletesAtClose) {
  const std::vector<Step> steps = {
      {true, "GET /stream HTTP/1.0\r\n\r\n"},
      {false, "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n"},
      {false, "data: 2\n\n", 100},
  };
  const std::vector<Exchange> exchanges = Drive(steps, true);
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].response.status_code, 200);
  EXPECT_TRUE(exchanges[0].response.close_delimited);
  EXPECT_EQ(exchanges[0].response.body, "data: 1\n\ndata: 2\n\n");
  EXPECT_EQ(exchanges[0].response.body_size, 118u);
  ExpectChunkingIrrelevant(steps, true);
}

TEST(StitcherTest, UpgradeEndsHttpInBothDirections) {
  Stitcher stitcher;
  const std::vector<Step> steps = {
      {true, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
      {false,
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x03"
       "abc"},
      {true, "\x81\x83mask GET /x HTTP/1.1\r\n\r\n"},
      {false, "HTTP/1.1 200 OK\r\n\r\n"},
  };
  const std::vector<Exchange> exchanges = Drive(stitcher, steps, true);
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].response.status_code, 101);
  EXPECT_TRUE(exchanges[0].response.tunnel);
  EXPECT_TRUE(stitcher.stats().requests.ignored_bytes > 0);
  EXPECT_EQ(stitcher.stats().requests.garbage_bytes, 0u);
  EXPECT_EQ(stitcher.stats().unmatched_responses, 0u);
}

TEST(StitcherTest, UpgradeBeforeTheRequestBodyEndedKeepsTheRequest) {
  Stitcher stitcher;
  stitcher.OnRequestBytes("POST /h2c HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 10\r\n\r\nabc", 0,
                          1);
  stitcher.OnResponseBytes("HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, 2);
  const std::vector<Exchange> exchanges = stitcher.TakeExchanges();
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_TRUE(exchanges[0].request.incomplete);
  EXPECT_EQ(exchanges[0].request.body, "abc");
  EXPECT_EQ(exchanges[0].response.status_code, 101);
}

TEST(StitcherTest, ConnectTunnel) {
  Stitcher stitcher;
  const std::vector<Exchange> exchanges =
      Drive(stitcher, {
                          {true, "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: x\r\n\r\n"},
                          {false, "HTTP/1.1 200 Connection Established\r\n\r\n"},
                          {true, "\x16\x03\x01\x02\x00\x01"},
                          {false, "\x16\x03\x03\x00\x7a"},
                      });
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].request.method, "CONNECT");
  EXPECT_TRUE(stitcher.tunneled());
  EXPECT_EQ(stitcher.stats().requests.garbage_bytes, 0u);
  EXPECT_EQ(stitcher.stats().responses.garbage_bytes, 0u);
}

TEST(StitcherTest, PendingQueueIsBounded) {
  Stitcher stitcher;
  std::string many;
  for (std::size_t i = 0; i < Stitcher::kMaxPendingRequests + 3; ++i) {
    many += "GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  }
  stitcher.OnRequestBytes(many, 0, 1);
  EXPECT_EQ(stitcher.PendingRequests(), Stitcher::kMaxPendingRequests);
  EXPECT_EQ(stitcher.stats().dropped_requests, 3u);
  stitcher.OnClose(2);
  const std::vector<Exchange> exchanges = stitcher.TakeExchanges();
  ASSERT_EQ(exchanges.size(), Stitcher::kMaxPendingRequests);
  EXPECT_EQ(exchanges.front().request.target, "/3");
  EXPECT_EQ(exchanges.front().response.status_code, 0);
}

// The responses of requests let go from the full queue still come: they are
// not paired with the requests after them.
TEST(StitcherTest, ResponsesOfEvictedRequestsAreNotPaired) {
  Stitcher stitcher;
  std::string requests, responses;
  const std::size_t total = Stitcher::kMaxPendingRequests + 3;
  for (std::size_t i = 0; i < total; ++i) {
    requests += "GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
    const std::string body = std::to_string(i);
    responses += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\n\r\n" + body;
  }
  stitcher.OnRequestBytes(requests, 0, 1);
  stitcher.OnResponseBytes(responses, 0, 2);
  const std::vector<Exchange> exchanges = stitcher.TakeExchanges();
  ASSERT_EQ(exchanges.size(), Stitcher::kMaxPendingRequests);
  for (const Exchange& exchange : exchanges) {
    EXPECT_EQ(exchange.request.target, "/" + exchange.response.body);
  }
  EXPECT_EQ(stitcher.losses().overflowed, 3u);
  EXPECT_EQ(stitcher.stats().unmatched_responses, 0u);
}

TEST(StitcherTest, GapsAndGarbageAreCounted) {
  Stitcher stitcher;
  const std::vector<Exchange> exchanges =
      Drive(stitcher, {
                          {true, "xxGET /a HTTP/1.1\r\n\r\n"},
                          {false, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12", 8},
                          {true, "GET /b HTTP/1.1\r\nHo", 10},
                          {true, "GET /c HTTP/1.1\r\n\r\n"},
                          {false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
                      });
  ASSERT_EQ(exchanges.size(), 2u);
  EXPECT_EQ(exchanges[0].response.body_size, 10u);
  EXPECT_EQ(exchanges[1].request.target, "/c");
  const Stitcher::Stats stats = stitcher.stats();
  EXPECT_EQ(stats.requests.garbage_bytes, 2u + 19u);
  EXPECT_EQ(stats.requests.resyncs, 2u);
  EXPECT_EQ(stats.requests.gap_bytes, 10u);
  EXPECT_EQ(stats.responses.gap_bytes, 8u);
}

TEST(StitcherTest, SecretsNeverReachAnExchange) {
  const std::string secret = "sk-ant-api03-TOPSECRET";
  const std::vector<Exchange> exchanges = Drive({
      {true, "POST /v1/messages HTTP/1.1\r\nx-api-key: " + secret + "\r\nAuthorization: Bearer " +
                 secret + "\r\nContent-Length: 0\r\n\r\n"},
      {false, "HTTP/1.1 200 OK\r\nSet-Cookie: s=" + secret + "\r\nContent-Length: 0\r\n\r\n"},
  });
  ASSERT_EQ(exchanges.size(), 1u);
  std::string everything;
  for (const auto* headers : {&exchanges[0].request.headers, &exchanges[0].response.headers}) {
    for (const Header& h : *headers) everything += h.name + ":" + h.value + "\n";
  }
  everything += exchanges[0].request.target + exchanges[0].request.body +
                exchanges[0].response.body + exchanges[0].response.reason;
  EXPECT_EQ(everything.find("TOPSECRET"), std::string::npos) << everything;
  EXPECT_EQ(FindHeader(exchanges[0].request.headers, "X-Api-Key"), kRedacted);
}

}  // namespace
}  // namespace infrared::protocols::http1

namespace infrared::protocols::http1 {
namespace {

// Requests the limits follow closely (LLM calls) keep a larger body on both
// sides, and their responses say when each body chunk arrived.
TEST(StitcherTest, CloselyFollowedExchangesKeepBodiesAndArrivals) {
  ParserLimits limits;
  limits.body_capture_bytes = 8;
  limits.full_body_capture_bytes = 64;
  limits.follows_closely = [](std::string_view method, std::string_view target) {
    return method == "POST" && target == "/v1/chat/completions";
  };
  Stitcher stitcher(limits);
  const std::string request_body(40, 'q');
  const std::vector<Exchange> exchanges = Drive(
      stitcher,
      {{true, "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + request_body, 0,
        10},
       {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 20},
       {false, "5\r\nfirst\r\n", 0, 30},
       {false, "6\r\nsecond\r\n", 0, 40},
       {false, "0\r\n\r\n", 0, 50},
       {true, "POST /other HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + request_body, 0, 60},
       {false, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij", 0, 70}});
  ASSERT_EQ(exchanges.size(), 2u);
  EXPECT_EQ(exchanges[0].request.body, request_body);
  EXPECT_EQ(exchanges[0].response.body, "firstsecond");
  EXPECT_EQ(exchanges[0].response.first_body_ns, 30u);
  EXPECT_EQ(exchanges[0].response.arrivals,
            (std::vector<BodyArrival>{{0, 30}, {5, 40}}));
  // The other exchange keeps the ordinary 8 bytes, and no arrivals.
  EXPECT_EQ(exchanges[1].request.body, std::string(8, 'q'));
  EXPECT_EQ(exchanges[1].response.body, "01234567");
  EXPECT_EQ(exchanges[1].response.first_body_ns, 70u);
  EXPECT_TRUE(exchanges[1].response.arrivals.empty());
}

}  // namespace
}  // namespace infrared::protocols::http1
