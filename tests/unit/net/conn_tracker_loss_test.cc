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

// Whole calls lost to a full ring buffer, in every combination over four
// keep-alive exchanges, on both ends: the exchanges seen are reported with
// their own responses, and each lost one is counted exactly once, whichever
// side was lost and whenever the agent learnt of it (the next call in that
// direction, or the close).
TEST_F(ConnTrackerTest, LostMessagesKeepTheirPlaceAndAreCountedOnce) {
  constexpr int kExchanges = 4;
  for (Role role : {Role::kClient, Role::kServer}) {
    const Direction request_direction = role == Role::kClient ? Direction::kEgress : Direction::kIngress;
    const Direction response_direction =
        role == Role::kClient ? Direction::kIngress : Direction::kEgress;
    for (int pattern = 0; pattern < (1 << (2 * kExchanges)); ++pattern) {
      Reset(TrackerLimits{});
      sink_.exchanges.clear();
      drops_.clear();
      Open(kConn, role);
      StreamLoss lost_requests, lost_responses;
      std::vector<std::string> expected;
      int lost = 0;
      std::uint64_t ts = 10;
      for (int i = 0; i < kExchanges; ++i) {
        const bool request_lost = (pattern >> (2 * i)) & 1;
        const bool response_lost = (pattern >> (2 * i + 1)) & 1;
        const std::string target = "/" + std::to_string(i);
        // One response spans several events.
        const std::string body = i == 1 ? Body(40000) : target;
        const std::string request = Get(target);
        const std::string response = Ok(body);
        if (request_lost) {
          lost_requests.bytes += request.size();
          ++lost_requests.starts;
        } else {
          Call(kConn, request_direction, request, ts++, lost_requests);
        }
        if (response_lost) {
          lost_responses.bytes += response.size();
          ++lost_responses.starts;
        } else {
          Call(kConn, response_direction, response, ts++, lost_responses);
        }
        if (request_lost || response_lost) {
          ++lost;
        } else {
          expected.push_back(target);
        }
      }
      std::array<StreamLoss, 2> at_close;
      at_close[request_direction == Direction::kEgress ? 0 : 1] = lost_requests;
      at_close[response_direction == Direction::kEgress ? 0 : 1] = lost_responses;
      Close(kConn, ts, at_close);

      const std::string where = "pattern " + std::to_string(pattern) + (role == Role::kClient ? " client" : " server");
      EXPECT_EQ(Targets(), expected) << where;
      for (const Recorded& recorded : sink_.exchanges) {
        const std::string& target = recorded.exchange.request.target;
        EXPECT_EQ(recorded.exchange.response.status_code, 200) << where;
        if (target == "/1") {
          EXPECT_EQ(recorded.exchange.response.body_size, 40000u) << where;
        } else {
          EXPECT_EQ(recorded.exchange.response.body, target) << where;
        }
      }
      EXPECT_EQ(Dropped("request_lost") + Dropped("response_lost") + Dropped("exchange_lost"),
                static_cast<std::uint64_t>(lost))
          << where;
      EXPECT_EQ(Dropped("pending_overflow") + Dropped("connection_expired"), 0u) << where;
    }
  }
}

// The kernel stopped copying a call midway (the ring buffer filled): the gap
// is the rest of the call, of known size, so the body keeps its framing.
TEST_F(ConnTrackerTest, CallCutByTheKernelKeepsFraming) {
  Open(kConn, Role::kServer);
  Call(kConn, Direction::kIngress, Get("/a"), 10);
  const std::string response = Ok(Body(40000));
  Event(kConn, Direction::kEgress, std::string_view(response).substr(0, kChunk), 0,
        response.size(), false, 11);
  Call(kConn, Direction::kIngress, Get("/b"), 12);
  Call(kConn, Direction::kEgress, Ok("b"), 13, StreamLoss{response.size() - kChunk, 0});
  EXPECT_THAT(Targets(), ElementsAre("/a", "/b"));
  EXPECT_EQ(sink_.exchanges[1].exchange.response.body, "b");
  EXPECT_EQ(Dropped("stream_gap"), 1u);
  EXPECT_EQ(Dropped("response_lost") + Dropped("request_lost") + Dropped("exchange_lost"), 0u);
}

// More exchanges lost in a row than a connection's queue holds (the agent was
// stopped while a keep-alive connection went on): the ones after still pair
// rightly and each lost one is counted once.
TEST_F(ConnTrackerTest, LostRunLongerThanTheQueue) {
  for (Role role : {Role::kClient, Role::kServer}) {
    Reset(TrackerLimits{});
    sink_.exchanges.clear();
    drops_.clear();
    const Direction requests = role == Role::kClient ? Direction::kEgress : Direction::kIngress;
    const Direction responses = role == Role::kClient ? Direction::kIngress : Direction::kEgress;
    Open(kConn, role);
    Call(kConn, requests, Get("/first"), 1);
    Call(kConn, responses, Ok("/first"), 2);
    StreamLoss lost_requests, lost_responses;
    constexpr int kLost = 300;
    for (int i = 0; i < kLost; ++i) {
      lost_requests.bytes += Get("/lost").size();
      ++lost_requests.starts;
      lost_responses.bytes += Ok("lost").size();
      ++lost_responses.starts;
    }
    for (int i = 0; i < 3; ++i) {
      const std::string target = "/after" + std::to_string(i);
      Call(kConn, requests, Get(target), 10 + i, lost_requests);
      Call(kConn, responses, Ok(target), 20 + i, lost_responses);
    }
    std::array<StreamLoss, 2> at_close;
    at_close[requests == Direction::kEgress ? 0 : 1] = lost_requests;
    at_close[responses == Direction::kEgress ? 0 : 1] = lost_responses;
    Close(kConn, 30, at_close);
    EXPECT_THAT(Targets(), ElementsAre("/first", "/after0", "/after1", "/after2"));
    for (const Recorded& recorded : sink_.exchanges) {
      EXPECT_EQ(recorded.exchange.response.body, recorded.exchange.request.target);
    }
    EXPECT_EQ(Dropped("request_lost") + Dropped("response_lost") + Dropped("exchange_lost") +
                  Dropped("pending_overflow"),
              static_cast<std::uint64_t>(kLost));
  }
}

// The kernel lost a connection's first call (its request head) and delivers
// the next, the body: not taken for "not HTTP"; the next request decides.
TEST_F(ConnTrackerTest, FirstCallsLostDoNotMakeAConnectionNotHttp) {
  Open(kConn, Role::kServer);
  const std::string head = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n";
  Call(kConn, Direction::kIngress, std::string(20, '\x01'), 10, StreamLoss{head.size(), 1});
  EXPECT_THAT(decisions_.skipped, IsEmpty());
  Call(kConn, Direction::kEgress, Ok("a"), 11);  // the lost request's response
  Call(kConn, Direction::kIngress, Get("/b"), 12, StreamLoss{head.size(), 1});
  Call(kConn, Direction::kEgress, Ok("b"), 13);
  EXPECT_THAT(Targets(), ElementsAre("/b"));
  EXPECT_EQ(sink_.exchanges[0].exchange.response.body, "b");
  EXPECT_EQ(Dropped("request_lost"), 1u);
  // Without a loss before it, the same bytes end the connection's capture.
  Open(ConnId{100, 6, 2000}, Role::kServer);
  Call(ConnId{100, 6, 2000}, Direction::kIngress, std::string(20, '\x01'), 13);
  EXPECT_EQ(decisions_.skipped.size(), 1u);
}

}  // namespace
}  // namespace infrared::net
