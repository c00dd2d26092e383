// Connections forgotten idle (ConnTracker::Expire) and what they leave behind:
// one that resumes keeps its role, endpoints and the kernel's loss counts, so
// that it neither counts its earlier losses again nor loses its peer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

#include "agent/net/conn_tracker.h"
#include "tests/unit/net/conn_tracker_fixture.h"

namespace infrared::net {
namespace {

using namespace ::infrared::net::tracker_test;  // NOLINT(build/namespaces): the shared fixture

constexpr std::uint64_t kIdle = 1000;

class ConnTrackerIdleTest : public ConnTrackerTest {
 protected:
  ConnTrackerIdleTest() { Reset(Limits()); }

  static TrackerLimits Limits() {
    TrackerLimits limits;
    limits.idle_ns = kIdle;
    return limits;
  }

  // A client's exchange whose request and response the kernel lost (a full
  // ring buffer), told by the next exchange's calls, which it returns: the
  // losses as the kernel counts them then.
  std::array<StreamLoss, 2> LoseOneExchange(const ConnId& conn, std::uint64_t ts) {
    const StreamLoss requests{Get("/lost").size(), 1};
    const StreamLoss responses{Ok("lost").size(), 1};
    Call(conn, Direction::kEgress, Get("/2"), ts, requests);
    Call(conn, Direction::kIngress, Ok("2"), ts + 1, responses);
    return {requests, responses};
  }

  std::uint64_t Losses() const {
    return Dropped("request_lost") + Dropped("response_lost") + Dropped("exchange_lost") +
           Dropped("stream_gap");
  }
};

TEST_F(ConnTrackerIdleTest, ResumedConnectionKeepsItsRoleEndpointsAndLossCounts) {
  Open(kConn, Role::kClient, 10);
  Call(kConn, Direction::kEgress, Get("/1"), 10);
  Call(kConn, Direction::kIngress, Ok("1"), 11);
  const std::array<StreamLoss, 2> lost = LoseOneExchange(kConn, 20);
  const std::uint64_t losses = Losses();
  ASSERT_GT(losses, 0u);

  tracker_->Expire(22 + kIdle);
  EXPECT_EQ(tracker_->Size(), 0u);
  EXPECT_EQ(tracker_->Dormant(), 1u);

  // Back after the idle time, the kernel's counts as they were.
  Call(kConn, Direction::kEgress, Get("/3"), 5000, lost[0]);
  Call(kConn, Direction::kIngress, Ok("3"), 5001, lost[1]);
  EXPECT_EQ(tracker_->Size(), 1u);
  EXPECT_EQ(tracker_->Dormant(), 0u);
  EXPECT_EQ(Losses(), losses);  // not counted again
  EXPECT_EQ(Dropped("connection_expired"), 0u);
  EXPECT_THAT(Targets(), ElementsAre("/1", "/2", "/3"));
  const ConnectionInfo& resumed = sink_.exchanges.back().connection;
  EXPECT_EQ(resumed.role, Role::kClient);
  EXPECT_EQ(resumed.local.port, 8080);
  EXPECT_EQ(resumed.remote.port, 40000);
  EXPECT_EQ(resumed.remote.address, sink_.exchanges.front().connection.remote.address);
  EXPECT_EQ(decisions_.followed.size(), 0u);
  EXPECT_EQ(tracker_->counts().http_connections, 1u);  // one connection, decided once
}

TEST_F(ConnTrackerIdleTest, CloseOfForgottenConnectionCountsOnlyNewLosses) {
  Open(kConn, Role::kClient, 10);
  std::array<StreamLoss, 2> lost = LoseOneExchange(kConn, 10);
  const std::uint64_t losses = Losses();
  tracker_->Expire(12 + kIdle);
  ASSERT_EQ(tracker_->Dormant(), 1u);

  // One more request lost while it slept, then the close.
  lost[0].bytes += Get("/4").size();
  ++lost[0].starts;
  Close(kConn, 5000, lost);
  // Counted once: the lost request, and the gap the close tells.
  EXPECT_EQ(Dropped("request_lost"), 1u);
  EXPECT_EQ(Losses(), losses + 2);
  EXPECT_EQ(tracker_->Size(), 0u);
  EXPECT_EQ(tracker_->Dormant(), 0u);

  // A close telling nothing new counts nothing.
  const ConnId other{100, 6, 1000};
  Open(other, Role::kServer, 10);
  Call(other, Direction::kIngress, Get("/5"), 10, StreamLoss{100, 1});
  const std::uint64_t before = Losses();
  tracker_->Expire(5000);
  Close(other, 6000, {StreamLoss{}, StreamLoss{100, 1}});
  EXPECT_EQ(Losses(), before);
  // /5 and the request lost before it, unanswered when it went idle, and nothing else.
  EXPECT_EQ(Dropped("connection_expired"), 2u);
  EXPECT_EQ(Dropped("request_lost"), 1u);
}

TEST_F(ConnTrackerIdleTest, UndecidedConnectionResumesWithItsRole) {
  Open(kConn, Role::kServer, 10);
  tracker_->Expire(11 + kIdle);
  EXPECT_EQ(tracker_->Dormant(), 1u);
  // A response first: against the role the open told, so not HTTP.
  Call(kConn, Direction::kIngress, Ok("x"), 5000);
  EXPECT_THAT(decisions_.skipped, ElementsAre(kConn));
  // Skipped connections are not remembered: the kernel copies nothing more.
  tracker_->Expire(5001 + kIdle);
  EXPECT_EQ(tracker_->Size(), 0u);
  EXPECT_EQ(tracker_->Dormant(), 0u);
}

TEST_F(ConnTrackerIdleTest, RememberedBoundedlyAndForAWhile) {
  TrackerLimits limits = Limits();
  limits.max_dormant = 2;
  Reset(limits);
  for (std::int32_t fd = 3; fd < 6; ++fd) Open(ConnId{100, fd, 1}, Role::kClient, 10);
  tracker_->Expire(11 + kIdle);
  EXPECT_EQ(tracker_->Size(), 0u);
  EXPECT_EQ(tracker_->Dormant(), 2u);
  EXPECT_EQ(Dropped("idle_over_cap"), 1u);
  tracker_->Expire(10 + ConnTracker::kDormantIdleFactor * kIdle);  // idle exactly that long
  EXPECT_EQ(tracker_->Dormant(), 2u);
  tracker_->Expire(11 + ConnTracker::kDormantIdleFactor * kIdle);
  EXPECT_EQ(tracker_->Dormant(), 0u);
}

TEST_F(ConnTrackerIdleTest, TlsNoticeForgetsOnlyUndecidedOnes) {
  const ConnId http{100, 6, 1000};
  Open(kConn, Role::kClient, 10);
  Open(http, Role::kClient, 10);
  Call(http, Direction::kEgress, Get("/1"), 10);
  Call(http, Direction::kIngress, Ok("1"), 10);
  tracker_->Expire(11 + kIdle);
  ASSERT_EQ(tracker_->Dormant(), 2u);
  tracker_->OnTlsSocket(TlsSocketEvent{kConn, 5000});
  tracker_->OnTlsSocket(TlsSocketEvent{http, 5000});
  EXPECT_EQ(tracker_->Dormant(), 1u);
  Call(http, Direction::kEgress, Get("/2"), 5001);
  Call(http, Direction::kIngress, Ok("2"), 5002);
  EXPECT_THAT(Targets(), ElementsAre("/1", "/2"));
}

TEST_F(ConnTrackerIdleTest, RefusedOnResumingCountsOnlyNewLosses) {
  TrackerLimits limits = Limits();
  limits.max_connections = 1;
  Reset(limits);
  Open(kConn, Role::kClient, 10);
  std::array<StreamLoss, 2> lost = LoseOneExchange(kConn, 10);
  tracker_->Expire(12 + kIdle);
  Open(ConnId{100, 6, 1000}, Role::kClient, 5000);  // takes the only place

  // Its request is counted untracked once; the loss it had before, not again.
  Call(kConn, Direction::kEgress, Get("/3"), 5001, lost[0]);
  EXPECT_THAT(decisions_.counted_only, ElementsAre(kConn));
  EXPECT_EQ(Dropped("request_untracked"), 1u);
  EXPECT_EQ(tracker_->Refused(), 1u);
  EXPECT_EQ(tracker_->Dormant(), 0u);
  lost[0].bytes += Get("/4").size();
  ++lost[0].starts;
  Close(kConn, 5002, lost);
  EXPECT_EQ(Dropped("request_untracked"), 2u);
  EXPECT_EQ(tracker_->Refused(), 0u);
}

}  // namespace
}  // namespace infrared::net
