// The connection table's bound: connections refused a place, remembered as
// such, and counted; TLS sockets giving their place up to their streams.
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

TEST_F(ConnTrackerTest, TableFullDropsAndCountsOnlyNewConnections) {
  TrackerLimits limits;
  limits.max_connections = 2;
  Reset(limits);
  const ConnId a{1, 3, 1};
  const ConnId b{1, 4, 1};
  const ConnId c{1, 5, 1};
  Open(a, Role::kClient);
  Open(b, Role::kClient);
  Open(c, Role::kClient);
  EXPECT_EQ(tracker_->Size(), 2u);
  EXPECT_THAT(drops_, ElementsAre(Pair("table_full", 1u)));
  EXPECT_THAT(decisions_.counted_only, ElementsAre(c));
  EXPECT_THAT(decisions_.skipped, IsEmpty());

  // Known connections carry on; the refused one stays untracked.
  Call(a, Direction::kEgress, Get("/a"), 10);
  Call(a, Direction::kIngress, Ok("a"), 20);
  EXPECT_THAT(Targets(), ElementsAre("/a"));
  EXPECT_EQ(tracker_->Size(), 2u);
  EXPECT_THAT(decisions_.counted_only, ::testing::Each(c));

  // Room again after a close, but not for the connection refused: the kernel,
  // told, counts its requests to its end.
  Close(b, 30);
  Call(c, Direction::kEgress, Get("/c"), 40);
  Call(c, Direction::kIngress, Ok("c"), 50);
  EXPECT_THAT(decisions_.counted_only, ElementsAre(c));  // told once
  EXPECT_EQ(tracker_->counts().refused_connections, 1u);
  const ConnId d{1, 6, 1};
  Open(d, Role::kClient, 60);
  Call(d, Direction::kEgress, Get("/d"), 60);
  Call(d, Direction::kIngress, Ok("d"), 70);
  EXPECT_THAT(Targets(), ElementsAre("/a", "/d"));
  EXPECT_EQ(Dropped("table_full"), 3u);  // its open, request and response
  EXPECT_EQ(Dropped("request_untracked"), 1u);
}

// A refused connection is remembered until it closes, is found to carry TLS or
// goes idle, and at most max_connections of them: one past those may find a
// place later, as before.
TEST_F(ConnTrackerTest, RefusedConnectionsAreRememberedBoundedly) {
  TrackerLimits limits;
  limits.max_connections = 2;
  limits.idle_ns = 100;
  Reset(limits);
  const ConnId a{1, 3, 1};
  const ConnId b{1, 4, 1};
  const ConnId closes{1, 5, 1};
  const ConnId tls{1, 6, 1};
  const ConnId idle{1, 7, 1};
  Open(a, Role::kClient, 1);
  Open(b, Role::kClient, 1);
  Open(closes, Role::kClient, 2);
  Open(tls, Role::kClient, 3);
  Open(idle, Role::kClient, 4);  // past the bound: not remembered
  EXPECT_EQ(tracker_->Refused(), 2u);
  EXPECT_THAT(decisions_.counted_only, ElementsAre(closes, tls, idle));
  Close(closes, 5);
  EXPECT_EQ(tracker_->Refused(), 1u);
  tracker_->OnTlsSocket(TlsSocketEvent{tls, 6});
  EXPECT_EQ(tracker_->Refused(), 0u);
  Open(idle, Role::kClient, 7);  // refused again, remembered now
  EXPECT_EQ(tracker_->Refused(), 1u);
  EXPECT_THAT(decisions_.counted_only, ElementsAre(closes, tls, idle, idle));
  Call(idle, Direction::kEgress, Get("/i"), 50);
  tracker_->Expire(150);  // 100 after its last record: still remembered
  EXPECT_EQ(tracker_->Refused(), 1u);
  EXPECT_EQ(tracker_->Size(), 0u);  // a and b went idle
  tracker_->Expire(151);
  EXPECT_EQ(tracker_->Refused(), 0u);
}

// A connection the kernel found to carry TLS records gives its place up (to
// its TLS stream); one already decided HTTP keeps it.
TEST_F(ConnTrackerTest, TlsSocketsGiveTheirPlaceUp) {
  TrackerLimits limits;
  limits.max_connections = 2;
  Reset(limits);
  const ConnId tls_socket{1, 3, 1};
  const ConnId http{1, 4, 1};
  const ConnId stream{1, INFRARED_TLS_FD, 7};
  Open(tls_socket, Role::kServer);
  Open(http, Role::kServer);
  Call(http, Direction::kIngress, Get("/h"), 10);
  EXPECT_EQ(tracker_->Size(), 2u);
  tracker_->OnTlsSocket(TlsSocketEvent{tls_socket, 20});
  tracker_->OnTlsSocket(TlsSocketEvent{http, 20});
  EXPECT_EQ(tracker_->Size(), 1u);
  Open(stream, Role::kServer, 30);
  Call(stream, Direction::kIngress, Get("/s"), 31);
  Call(stream, Direction::kEgress, Ok("s"), 32);
  Call(http, Direction::kEgress, Ok("h"), 33);
  EXPECT_THAT(Targets(), ElementsAre("/s", "/h"));
  EXPECT_THAT(drops_, IsEmpty());
  // Its close, later, finds nothing to do.
  Close(tls_socket, 40);
  EXPECT_EQ(tracker_->Size(), 2u);
}

// A TLS socket notice is not traffic: a connection it leaves in place still
// goes idle from its last bytes.
TEST_F(ConnTrackerTest, TlsSocketNoticeKeepsIdleTime) {
  TrackerLimits limits;
  limits.idle_ns = 100;
  Reset(limits);
  const ConnId http{1, 4, 1};
  Open(http, Role::kServer, 5);
  Call(http, Direction::kIngress, Get("/h"), 10);
  tracker_->OnTlsSocket(TlsSocketEvent{http, 105});
  EXPECT_EQ(tracker_->Size(), 1u);
  tracker_->Expire(115);
  EXPECT_EQ(tracker_->Size(), 0u);
}

// The requests of a connection refused a place that the kernel copied before
// it heard are counted (the kernel counts the rest).
TEST_F(ConnTrackerTest, RequestsOfRefusedConnectionsAreCounted) {
  TrackerLimits limits;
  limits.max_connections = 1;
  Reset(limits);
  const ConnId a{1, 3, 1};
  const ConnId refused{1, 4, 1};
  Open(a, Role::kServer);
  Open(refused, Role::kServer);
  // Copied before the kernel heard: a request, its response, and a request's
  // second event (not a call's start).
  const std::string request = Get("/r");
  Call(refused, Direction::kIngress, request, 10);
  Call(refused, Direction::kEgress, Ok("r"), 11);
  Event(refused, Direction::kIngress, request.substr(4), 4, request.size(), true, 12);
  EXPECT_EQ(Dropped("request_untracked"), 1u);
  EXPECT_EQ(Dropped("table_full"), 4u);  // the open and each event
  EXPECT_EQ(tracker_->counts().refused_connections, 1u);
  // The kernel is told once, at the first.
  EXPECT_THAT(decisions_.counted_only, ElementsAre(refused));
  Close(refused, 20);
  EXPECT_THAT(sink_.exchanges, IsEmpty());
  // The tracked connection carries on.
  Call(a, Direction::kIngress, Get("/a"), 30);
  Call(a, Direction::kEgress, Ok("a"), 31);
  EXPECT_THAT(Targets(), ElementsAre("/a"));
  EXPECT_EQ(Dropped("request_untracked"), 1u);
}

// Calls of a refused connection that the kernel lost (a full ring buffer)
// before it heard are counted from the loss counts its events and close carry:
// those of the direction that carries requests, each once.
TEST_F(ConnTrackerTest, LostRequestsOfRefusedConnectionsAreCounted) {
  TrackerLimits limits;
  limits.max_connections = 1;
  Reset(limits);
  const ConnId a{1, 3, 1};
  const ConnId server{1, 4, 1};
  Open(a, Role::kServer);
  Open(server, Role::kServer, 2);  // refused: requests come in
  Call(server, Direction::kIngress, Get("/r"), 10, StreamLoss{300, 3});
  EXPECT_EQ(Dropped("request_untracked"), 4u);  // 3 lost before it, and itself
  Call(server, Direction::kEgress, Ok("r"), 11, StreamLoss{200, 2});     // responses: not counted
  Call(server, Direction::kIngress, Get("/r"), 12, StreamLoss{250, 2});  // reordered: no more
  EXPECT_EQ(Dropped("request_untracked"), 5u);
  Close(server, 20, {StreamLoss{400, 4}, StreamLoss{500, 5}});
  EXPECT_EQ(Dropped("request_untracked"), 7u);  // the 4th and 5th lost requests
  EXPECT_EQ(tracker_->Refused(), 0u);

  // Its role unknown (no open seen) until a call shows which way requests go:
  // the losses seen before count then.
  const ConnId client{1, 5, 1};
  Event(client, Direction::kEgress, "", 0, 100, true, 30, StreamLoss{100, 2});
  EXPECT_EQ(Dropped("request_untracked"), 7u);
  Call(client, Direction::kIngress, Ok("c"), 31, StreamLoss{100, 1});
  EXPECT_EQ(Dropped("request_untracked"), 9u);  // its 2 lost egress calls: requests
  Close(client, 40, {StreamLoss{100, 3}, StreamLoss{100, 1}});
  EXPECT_EQ(Dropped("request_untracked"), 10u);
  EXPECT_THAT(Targets(), IsEmpty());
}

}  // namespace
}  // namespace infrared::net
