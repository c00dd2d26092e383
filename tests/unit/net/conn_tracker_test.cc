#include "agent/net/conn_tracker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "infrared/abi/sockdata.h"
#include "tests/unit/net/conn_tracker_fixture.h"

namespace infrared::net {
namespace {

using namespace ::infrared::net::tracker_test;  // NOLINT(build/namespaces): the shared fixture

TEST_F(ConnTrackerTest, ClientRequestAndResponse) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/a"), 10);
  EXPECT_THAT(sink_.exchanges, IsEmpty());
  Call(kConn, Direction::kIngress, Ok("hi"), 20);

  ASSERT_EQ(sink_.exchanges.size(), 1u);
  const Recorded& r = sink_.exchanges[0];
  EXPECT_EQ(r.connection.id, kConn);
  EXPECT_EQ(r.connection.role, Role::kClient);
  EXPECT_EQ(r.connection.local.port, 8080);
  EXPECT_EQ(r.connection.remote.port, 40000);
  EXPECT_EQ(r.connection.remote.address[3], 2);
  EXPECT_EQ(r.exchange.request.method, "GET");
  EXPECT_EQ(r.exchange.request.target, "/a");
  EXPECT_EQ(r.exchange.request.start_ns, 10u);
  EXPECT_EQ(r.exchange.response.status_code, 200);
  EXPECT_EQ(r.exchange.response.body, "hi");
  EXPECT_EQ(r.exchange.response.end_ns, 20u);
  EXPECT_THAT(decisions_.skipped, IsEmpty());
  EXPECT_THAT(drops_, IsEmpty());
  EXPECT_EQ(tracker_->Size(), 1u);
}

TEST_F(ConnTrackerTest, ServerRequestAndResponse) {
  Open(kConn, Role::kServer);
  Call(kConn, Direction::kIngress, "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 10);
  Call(kConn, Direction::kEgress, Ok("done"), 20);

  ASSERT_EQ(sink_.exchanges.size(), 1u);
  const Recorded& r = sink_.exchanges[0];
  EXPECT_EQ(r.connection.role, Role::kServer);
  EXPECT_EQ(r.exchange.request.method, "POST");
  EXPECT_EQ(r.exchange.request.body, "abc");
  EXPECT_EQ(r.exchange.response.body, "done");
  EXPECT_THAT(decisions_.skipped, IsEmpty());
}

// A TLS stream's socket may be guessed (node): its open brings the endpoints,
// but the role comes from the plaintext alone.
TEST_F(ConnTrackerTest, TlsStreamRoleComesFromItsTrafficNotItsSocket) {
  const ConnId stream{100, INFRARED_TLS_FD, 2000};
  Open(stream, Role::kServer);
  Call(stream, Direction::kEgress, Get("/tls"), 10);
  Call(stream, Direction::kIngress, Ok("secret"), 20);

  ASSERT_EQ(sink_.exchanges.size(), 1u);
  const Recorded& r = sink_.exchanges[0];
  EXPECT_TRUE(r.connection.id.tls());
  EXPECT_EQ(r.connection.role, Role::kClient);
  EXPECT_EQ(r.connection.remote.port, 40000);
  EXPECT_EQ(r.exchange.response.body, "secret");
  EXPECT_THAT(decisions_.skipped, IsEmpty());
}

struct RoleCase {
  const char* name;
  Direction first_direction;
  bool first_is_request;
  Role role;
};

class ConnTrackerRoleTest : public ConnTrackerTest,
                            public ::testing::WithParamInterface<RoleCase> {};

// A connection that predates the agent: whichever side speaks first, the
// bytes say who this process is, and later exchanges are stitched that way.
TEST_P(ConnTrackerRoleTest, DecidedFromFirstBytes) {
  const RoleCase& c = GetParam();
  const Direction requests = c.role == Role::kClient ? Direction::kEgress : Direction::kIngress;
  const Direction responses = c.role == Role::kClient ? Direction::kIngress : Direction::kEgress;
  Open(kConn, Role::kUnknown);
  Call(kConn, c.first_direction, c.first_is_request ? Get("/first") : Ok("orphan"), 10);
  if (!c.first_is_request) Call(kConn, requests, Get("/second"), 20);
  Call(kConn, responses, Ok("x"), 30);
  if (!c.first_is_request) Call(kConn, responses, Ok("y"), 40);

  ASSERT_EQ(sink_.exchanges.size(), 1u);
  EXPECT_EQ(sink_.exchanges[0].connection.role, c.role);
  EXPECT_EQ(sink_.exchanges[0].exchange.request.target, c.first_is_request ? "/first" : "/second");
  EXPECT_THAT(decisions_.skipped, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConnTrackerRoleTest,
    ::testing::Values(RoleCase{"EgressRequest", Direction::kEgress, true, Role::kClient},
                      RoleCase{"IngressRequest", Direction::kIngress, true, Role::kServer},
                      RoleCase{"EgressResponse", Direction::kEgress, false, Role::kServer},
                      RoleCase{"IngressResponse", Direction::kIngress, false, Role::kClient}),
    [](const ::testing::TestParamInfo<RoleCase>& param_info) { return param_info.param.name; });

TEST_F(ConnTrackerTest, NotHttpOnKnownRoleIsSkippedOnce) {
  Open(kConn, Role::kClient);
  const std::string tls_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  Call(kConn, Direction::kEgress, tls_hello, 10);
  EXPECT_THAT(decisions_.skipped, ElementsAre(kConn));
  // Whatever comes later is ignored, HTTP-looking or not.
  Call(kConn, Direction::kIngress, Ok("x"), 20);
  Call(kConn, Direction::kEgress, Get("/a"), 30);
  Call(kConn, Direction::kIngress, Ok("y"), 40);
  Call(kConn, Direction::kEgress, tls_hello, 50);
  Close(kConn, 60);
  EXPECT_THAT(decisions_.skipped, ElementsAre(kConn));
  EXPECT_THAT(sink_.exchanges, IsEmpty());
  EXPECT_EQ(tracker_->Size(), 0u);
  EXPECT_EQ(tracker_->counts().not_http_connections, 1u);
  EXPECT_EQ(tracker_->counts().http_connections, 0u);
}

// The kernel hears once that a connection carries closely followed (LLM)
// requests, as soon as the first such head is parsed.
TEST_F(ConnTrackerTest, ClosenessIsToldOncePerConnection) {
  TrackerLimits limits;
  limits.parser.follows_closely = [](std::string_view, std::string_view target) {
    return target == "/v1/chat/completions";
  };
  Reset(limits);
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/a"), 10);
  Call(kConn, Direction::kIngress, Ok("x"), 20);
  EXPECT_THAT(decisions_.followed, IsEmpty());
  Call(kConn, Direction::kEgress, Get("/v1/chat/completions"), 30);
  EXPECT_THAT(decisions_.followed, ElementsAre(kConn));
  Call(kConn, Direction::kIngress, Ok("y"), 40);
  Call(kConn, Direction::kEgress, Get("/v1/chat/completions"), 50);
  EXPECT_THAT(decisions_.followed, ElementsAre(kConn));
}

// Bytes before a message start are skipped by the parser and counted once
// the connection ends.
TEST_F(ConnTrackerTest, CountsDecisionsAndSkippedBytes) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/a"), 10);
  Call(kConn, Direction::kIngress, "junk!" + Ok("x"), 20);
  EXPECT_EQ(tracker_->counts().http_connections, 1u);
  EXPECT_EQ(tracker_->counts().garbage_bytes, 0u);  // not before the connection ends
  Close(kConn, 30);
  EXPECT_EQ(tracker_->counts().garbage_bytes, 5u);
  EXPECT_EQ(tracker_->counts().not_http_connections, 0u);
}

TEST_F(ConnTrackerTest, KnownRoleWithRequestTheWrongWayIsSkipped) {
  Open(kConn, Role::kServer);
  Call(kConn, Direction::kEgress, Get("/a"), 10);  // a server does not send requests
  EXPECT_THAT(decisions_.skipped, ElementsAre(kConn));
  EXPECT_THAT(sink_.exchanges, IsEmpty());
}

TEST_F(ConnTrackerTest, CallTooShortToTellIsPassedOver) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, "GE", 10);
  EXPECT_THAT(decisions_.skipped, IsEmpty());
  Call(kConn, Direction::kEgress, Get("/a"), 20);
  Call(kConn, Direction::kIngress, Ok(""), 30);
  EXPECT_THAT(Targets(), ElementsAre("/a"));
}

TEST_F(ConnTrackerTest, JoinedMidStreamGetsEightCallsToStartAMessage) {
  Open(kConn, Role::kUnknown);
  for (int call = 0; call < 7; ++call) {
    // Middle of a body, and a call whose start was lost (not counted).
    Call(kConn, call % 2 ? Direction::kEgress : Direction::kIngress, "tail of some body", 10);
    Event(kConn, Direction::kIngress, "xyz", 100, 200, true, 10);
  }
  EXPECT_THAT(decisions_.skipped, IsEmpty());
  Call(kConn, Direction::kIngress, Get("/late"), 20);
  Call(kConn, Direction::kEgress, Ok("z"), 30);
  ASSERT_EQ(sink_.exchanges.size(), 1u);
  EXPECT_EQ(sink_.exchanges[0].connection.role, Role::kServer);
  EXPECT_EQ(sink_.exchanges[0].exchange.request.target, "/late");
  EXPECT_THAT(decisions_.skipped, IsEmpty());
}

TEST_F(ConnTrackerTest, JoinedMidStreamSkippedAfterEightCalls) {
  Open(kConn, Role::kUnknown);
  for (int call = 0; call < 7; ++call) Call(kConn, Direction::kIngress, "\x01\x02 binary", 10);
  EXPECT_THAT(decisions_.skipped, IsEmpty());
  Call(kConn, Direction::kIngress, "\x01\x02 binary", 10);
  EXPECT_THAT(decisions_.skipped, ElementsAre(kConn));
  Call(kConn, Direction::kIngress, Get("/late"), 20);
  Call(kConn, Direction::kEgress, Ok("z"), 30);
  EXPECT_THAT(sink_.exchanges, IsEmpty());
  EXPECT_THAT(decisions_.skipped, ElementsAre(kConn));
}

// A response of 3 events in one call, then one whose body spans four calls.
TEST_F(ConnTrackerTest, BodySplitOverEventsAndCalls) {
  Open(kConn, Role::kClient);
  const std::string body = Body(40000);
  Call(kConn, Direction::kEgress, Get("/one") + Get("/two"), 10);
  const std::string one = Ok(body);
  ASSERT_EQ((one.size() + kChunk - 1) / kChunk, 3u);
  Call(kConn, Direction::kIngress, one, 20);
  ASSERT_EQ(sink_.exchanges.size(), 1u);

  Call(kConn, Direction::kIngress, OkHead(body.size()), 30);
  Call(kConn, Direction::kIngress, body.substr(0, 20000), 31);
  Call(kConn, Direction::kIngress, body.substr(20000, 1), 32);
  EXPECT_EQ(sink_.exchanges.size(), 1u);
  Call(kConn, Direction::kIngress, body.substr(20001), 33);

  ASSERT_EQ(sink_.exchanges.size(), 2u);
  for (const Recorded& r : sink_.exchanges) {
    const protocols::http1::Response& response = r.exchange.response;
    EXPECT_EQ(response.body_size, body.size());
    EXPECT_EQ(response.body, body.substr(0, 4096));
    EXPECT_FALSE(response.incomplete);
  }
  EXPECT_EQ(sink_.exchanges[0].exchange.response.end_ns, 20u);
  EXPECT_EQ(sink_.exchanges[1].exchange.response.start_ns, 30u);
  EXPECT_EQ(sink_.exchanges[1].exchange.response.end_ns, 33u);
  EXPECT_THAT(Targets(), ElementsAre("/one", "/two"));
}

// The kernel copied the first 16384 bytes of a read and reported the rest as
// not copied: the Content-Length body still ends where it should, and the
// next exchange parses.
TEST_F(ConnTrackerTest, UncopiedTailCountsTowardsTheBody) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/big") + Get("/next"), 10);
  const std::string response = Ok(Body(100000));
  Event(kConn, Direction::kIngress, std::string_view(response).substr(0, kChunk), 0,
        response.size(), false, 20);
  Event(kConn, Direction::kIngress, {}, kChunk, response.size(), true, 21);
  ASSERT_EQ(sink_.exchanges.size(), 1u);
  const protocols::http1::Response& big = sink_.exchanges[0].exchange.response;
  EXPECT_EQ(big.status_code, 200);
  EXPECT_EQ(big.body_size, 100000u);
  EXPECT_TRUE(big.body_truncated);
  EXPECT_FALSE(big.incomplete);
  EXPECT_EQ(big.end_ns, 21u);

  Call(kConn, Direction::kIngress, Ok("small"), 30);
  ASSERT_EQ(sink_.exchanges.size(), 2u);
  EXPECT_EQ(sink_.exchanges[1].exchange.request.target, "/next");
  EXPECT_EQ(sink_.exchanges[1].exchange.response.body, "small");
}

// The capture cap: the call's only event is its last, yet carries fewer bytes
// than the call moved.
TEST_F(ConnTrackerTest, LastEventShortOfCallBytesIsAGap) {
  Open(kConn, Role::kServer);
  const std::string request = "PUT /upload HTTP/1.1\r\nContent-Length: 50000\r\n\r\n" + Body(50000);
  Event(kConn, Direction::kIngress, std::string_view(request).substr(0, 100), 0, request.size(),
        true, 10);
  Call(kConn, Direction::kEgress, Ok(""), 20);
  ASSERT_EQ(sink_.exchanges.size(), 1u);
  EXPECT_EQ(sink_.exchanges[0].exchange.request.body_size, 50000u);
  EXPECT_TRUE(sink_.exchanges[0].exchange.request.body_truncated);
  EXPECT_EQ(sink_.exchanges[0].exchange.response.status_code, 200);
}

// Events missing from the middle of a call are a gap of the right size.
TEST_F(ConnTrackerTest, LostMiddleEventIsAGap) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/a") + Get("/b"), 10);
  const std::string response = Ok(Body(40000));
  const std::string_view bytes(response);
  Event(kConn, Direction::kIngress, bytes.substr(0, kChunk), 0, bytes.size(), false, 20);
  Event(kConn, Direction::kIngress, bytes.substr(2 * kChunk), 2 * kChunk, bytes.size(), true, 21);
  Call(kConn, Direction::kIngress, Ok("b"), 30);
  ASSERT_EQ(sink_.exchanges.size(), 2u);
  EXPECT_EQ(sink_.exchanges[0].exchange.response.body_size, 40000u);
  EXPECT_EQ(sink_.exchanges[1].exchange.response.body, "b");
}

// The last events of a call were lost: the next call (offset 0) shows where
// the previous one must have ended, and the bytes in between are a gap.
TEST_F(ConnTrackerTest, LostLastEventIsAGap) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/a") + Get("/b"), 10);
  const std::string response = Ok(Body(40000));
  Event(kConn, Direction::kIngress, std::string_view(response).substr(0, kChunk), 0,
        response.size(), false, 20);
  EXPECT_THAT(sink_.exchanges, IsEmpty());
  // The kernel stopped sending that call and counted the rest of it as lost.
  Call(kConn, Direction::kIngress, Ok("b"), 30, StreamLoss{response.size() - kChunk, 0});

  ASSERT_EQ(sink_.exchanges.size(), 2u);
  EXPECT_EQ(sink_.exchanges[0].exchange.response.status_code, 200);
  EXPECT_EQ(sink_.exchanges[0].exchange.response.body_size, 40000u);
  EXPECT_FALSE(sink_.exchanges[0].exchange.response.incomplete);
  EXPECT_EQ(sink_.exchanges[1].exchange.response.status_code, 200);
  EXPECT_EQ(sink_.exchanges[1].exchange.response.body, "b");
}

// The first events of a call were lost: the first one seen starts mid-call.
TEST_F(ConnTrackerTest, LostFirstEventIsAGap) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/a"), 10);
  const std::string head = OkHead(30000);
  Call(kConn, Direction::kIngress, head, 20);
  const std::string body = Body(30000);
  Event(kConn, Direction::kIngress, std::string_view(body).substr(kChunk), kChunk, body.size(),
        true, 21);
  ASSERT_EQ(sink_.exchanges.size(), 1u);
  EXPECT_EQ(sink_.exchanges[0].exchange.response.body_size, 30000u);
  EXPECT_TRUE(sink_.exchanges[0].exchange.response.body.empty());
}

TEST_F(ConnTrackerTest, PipelinedRequestsInOneWrite) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/1") + Get("/2") + Get("/3"), 10);
  Call(kConn, Direction::kIngress, Ok("one") + Ok("two"), 20);
  Call(kConn, Direction::kIngress, Ok("three"), 30);
  EXPECT_THAT(Targets(), ElementsAre("/1", "/2", "/3"));
  ASSERT_EQ(sink_.exchanges.size(), 3u);
  EXPECT_EQ(sink_.exchanges[0].exchange.response.body, "one");
  EXPECT_EQ(sink_.exchanges[1].exchange.response.body, "two");
  EXPECT_EQ(sink_.exchanges[2].exchange.response.body, "three");
}

TEST_F(ConnTrackerTest, CloseCompletesCloseDelimitedResponseAndUnansweredRequests) {
  Open(kConn, Role::kClient);
  Call(kConn, Direction::kEgress, Get("/1") + Get("/2"), 10);
  Call(kConn, Direction::kIngress, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil", 20);
  Call(kConn, Direction::kIngress, " close", 21);
  EXPECT_THAT(sink_.exchanges, IsEmpty());
  Close(kConn, 30);

  ASSERT_EQ(sink_.exchanges.size(), 2u);
  const protocols::http1::Response& first = sink_.exchanges[0].exchange.response;
  EXPECT_EQ(first.status_code, 200);
  EXPECT_TRUE(first.close_delimited);
  EXPECT_EQ(first.body, "until close");
  EXPECT_EQ(first.end_ns, 21u);
  EXPECT_EQ(sink_.exchanges[1].exchange.request.target, "/2");
  EXPECT_EQ(sink_.exchanges[1].exchange.response.status_code, 0);
  EXPECT_EQ(tracker_->Size(), 0u);
}

TEST_F(ConnTrackerTest, CloseOfUndecidedOrUnknownConnection) {
  Open(kConn, Role::kUnknown);
  Close(kConn, 10);
  Close(ConnId{1, 2, 3}, 10);
  EXPECT_THAT(sink_.exchanges, IsEmpty());
  EXPECT_EQ(tracker_->Size(), 0u);
}

TEST_F(ConnTrackerTest, DataWithoutOpenTracksTheConnection) {
  Call(kConn, Direction::kEgress, Get("/a"), 10);
  Call(kConn, Direction::kIngress, Ok(""), 20);
  ASSERT_EQ(sink_.exchanges.size(), 1u);
  EXPECT_EQ(sink_.exchanges[0].connection.role, Role::kClient);
  EXPECT_EQ(tracker_->Size(), 1u);
}

TEST_F(ConnTrackerTest, ExpireForgetsIdleConnectionsAndCountsPendingRequests) {
  TrackerLimits limits;
  limits.idle_ns = 1000;
  Reset(limits);
  const ConnId waiting{1, 3, 1};
  const ConnId quiet{1, 4, 1};
  const ConnId busy{1, 5, 1};
  Open(waiting, Role::kClient, 100);
  Call(waiting, Direction::kEgress, Get("/1") + Get("/2"), 100);
  Open(quiet, Role::kClient, 100);
  Open(busy, Role::kClient, 100);
  Call(busy, Direction::kEgress, Get("/3"), 600);

  tracker_->Expire(1100);  // idle exactly idle_ns: kept
  EXPECT_EQ(tracker_->Size(), 3u);
  tracker_->Expire(1101);
  EXPECT_EQ(tracker_->Size(), 1u);
  EXPECT_THAT(drops_, ElementsAre(Pair("connection_expired", 2u)));
  EXPECT_THAT(sink_.exchanges, IsEmpty());

  // The survivor still works; an expired one comes back as a new connection.
  Call(busy, Direction::kIngress, Ok("3"), 1200);
  EXPECT_THAT(Targets(), ElementsAre("/3"));
  Call(waiting, Direction::kIngress, Ok("late"), 1200);
  EXPECT_EQ(tracker_->Size(), 2u);
  EXPECT_EQ(sink_.exchanges.size(), 1u);
}

TEST_F(ConnTrackerTest, ReusedFdWithNewGenerationIsAnotherConnection) {
  const ConnId old_conn{100, 5, 1000};
  const ConnId new_conn{100, 5, 2000};
  Open(old_conn, Role::kClient, 1000);
  Call(old_conn, Direction::kEgress, Get("/old"), 1000);
  Open(new_conn, Role::kServer, 2000);
  Call(new_conn, Direction::kIngress, Get("/new"), 2000);
  Call(new_conn, Direction::kEgress, Ok("n"), 2001);
  EXPECT_EQ(tracker_->Size(), 2u);

  ASSERT_EQ(sink_.exchanges.size(), 1u);
  EXPECT_EQ(sink_.exchanges[0].connection.id, new_conn);
  EXPECT_EQ(sink_.exchanges[0].connection.role, Role::kServer);
  EXPECT_EQ(sink_.exchanges[0].exchange.request.target, "/new");

  Close(old_conn, 3000);
  ASSERT_EQ(sink_.exchanges.size(), 2u);
  EXPECT_EQ(sink_.exchanges[1].connection.id, old_conn);
  EXPECT_EQ(sink_.exchanges[1].exchange.request.target, "/old");
  EXPECT_EQ(sink_.exchanges[1].exchange.response.status_code, 0);
  EXPECT_EQ(tracker_->Size(), 1u);
}

}  // namespace
}  // namespace infrared::net
