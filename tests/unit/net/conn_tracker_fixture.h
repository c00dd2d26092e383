#pragma once

// The connection tracker wired to fakes, for conn_tracker_test.cc and
// conn_tracker_loss_test.cc.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/net/conn_tracker.h"
#include "infrared/abi/sockdata.h"

namespace infrared::net::tracker_test {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr std::uint64_t kChunk = INFRARED_SOCK_CHUNK;

struct Recorded {
  ConnectionInfo connection;
  protocols::http1::Exchange exchange;
};

class FakeSink : public ExchangeSink {
 public:
  void OnExchange(const ConnectionInfo& connection, protocols::http1::Exchange exchange) override {
    exchanges.push_back({connection, std::move(exchange)});
  }
  std::vector<Recorded> exchanges;
};

class FakeDecisions : public ConnDecisions {
 public:
  void Skip(const ConnId& conn) override { skipped.push_back(conn); }
  void CountOnly(const ConnId& conn) override { counted_only.push_back(conn); }
  void FollowClosely(const ConnId& conn) override { followed.push_back(conn); }
  std::vector<ConnId> skipped;
  std::vector<ConnId> counted_only;
  std::vector<ConnId> followed;
};

inline const ConnId kConn{100, 5, 1000};

// A tracker wired to fakes, with helpers that play syscalls the way the
// kernel reports them: each call cut into INFRARED_SOCK_CHUNK-byte events.
class ConnTrackerTest : public ::testing::Test {
 protected:
  ConnTrackerTest() { Reset(TrackerLimits{}); }

  void Reset(TrackerLimits limits) {
    tracker_ = std::make_unique<ConnTracker>(
        limits, sink_, decisions_,
        [this](const char* reason, std::uint64_t count) { drops_.emplace_back(reason, count); });
  }

  void Open(const ConnId& conn, Role role, std::uint64_t ts = 1) {
    OpenEvent event;
    event.conn = conn;
    event.timestamp_ns = ts;
    event.role = role;
    event.local = Endpoint{{10, 0, 0, 1}, 8080};
    event.remote = Endpoint{{10, 0, 0, 2}, 40000};
    tracker_->OnOpen(event);
  }

  // One event of a call.
  void Event(const ConnId& conn, Direction direction, std::string_view data, std::uint64_t offset,
             std::uint64_t call_bytes, bool last, std::uint64_t ts, StreamLoss lost = {}) {
    DataEvent event;
    event.lost_bytes = lost.bytes;
    event.lost_starts = lost.starts;
    event.conn = conn;
    event.timestamp_ns = ts;
    event.direction = direction;
    event.last = last;
    event.call_bytes = call_bytes;
    event.offset = offset;
    event.data = data;
    tracker_->OnData(event);
  }

  // A whole call, every byte copied.
  // `lost`: what the kernel had lost in this direction before the call.
  void Call(const ConnId& conn, Direction direction, const std::string& bytes, std::uint64_t ts,
            StreamLoss lost = {}) {
    if (bytes.empty()) {
      Event(conn, direction, {}, 0, 0, true, ts, lost);
      return;
    }
    for (std::uint64_t offset = 0; offset < bytes.size(); offset += kChunk) {
      const std::string_view data = std::string_view(bytes).substr(offset, kChunk);
      Event(conn, direction, data, offset, bytes.size(), offset + data.size() == bytes.size(), ts,
            lost);
    }
  }

  void Close(const ConnId& conn, std::uint64_t ts, std::array<StreamLoss, 2> lost = {}) {
    tracker_->OnClose(CloseEvent{conn, ts, lost});
  }

  std::uint64_t Dropped(const std::string& reason) const {
    std::uint64_t total = 0;
    for (const auto& [name, count] : drops_) total += name == reason ? count : 0;
    return total;
  }

  std::vector<std::string> Targets() const {
    std::vector<std::string> targets;
    for (const Recorded& r : sink_.exchanges) targets.push_back(r.exchange.request.target);
    return targets;
  }

  FakeSink sink_;
  FakeDecisions decisions_;
  std::vector<std::pair<std::string, std::uint64_t>> drops_;
  std::unique_ptr<ConnTracker> tracker_;
};

inline std::string Get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: example.com\r\n\r\n";
}

inline std::string Ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

inline std::string OkHead(std::uint64_t content_length) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

inline std::string Body(std::size_t size) {
  std::string body(size, '\0');
  for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + i % 26);
  return body;
}

}  // namespace infrared::net::tracker_test
