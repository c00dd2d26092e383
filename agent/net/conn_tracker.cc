#include "agent/net/conn_tracker.h"

#include <utility>

namespace infrared::net {
namespace {

using protocols::http1::StreamKind;

// A connection whose role the kernel did not see (it existed before the agent)
// may be joined mid-message; it is given this many calls to start one.
constexpr int kUndecidedCallsAllowed = 8;

int Index(Direction direction) { return direction == Direction::kEgress ? 0 : 1; }

}  // namespace

struct ConnTracker::Connection {
  enum class State { kDeciding, kHttp, kSkipped };

  // Where the stream stands within the syscall whose bytes are arriving.
  struct Cursor {
    bool in_call = false;
    std::uint64_t call_bytes = 0;
    std::uint64_t next_offset = 0;
  };

  explicit Connection(const protocols::http1::ParserLimits& limits) : stitcher(limits) {}

  ConnectionInfo info;
  State state = State::kDeciding;
  bool followed_closely = false;  // the kernel was told
  int undecided_calls = 0;
  std::array<Cursor, 2> cursors;
  std::uint64_t last_activity_ns = 0;
  protocols::http1::Stitcher stitcher;
};

ConnTracker::ConnTracker(TrackerLimits limits, ExchangeSink& sink, ConnDecisions& decisions,
                         DropFn on_drop)
    : limits_(std::move(limits)), sink_(sink), decisions_(decisions), on_drop_(std::move(on_drop)) {}

ConnTracker::~ConnTracker() = default;

ConnTracker::Connection* ConnTracker::Find(const ConnId& id, std::uint64_t timestamp_ns,
                                           bool create) {
  auto it = connections_.find(id);
  if (it != connections_.end()) {
    it->second->last_activity_ns = timestamp_ns;
    return it->second.get();
  }
  if (!create) return nullptr;
  if (connections_.size() >= limits_.max_connections) {
    on_drop_("table_full", 1);
    decisions_.Skip(id);  // nobody would parse its bytes: do not copy them
    return nullptr;
  }
  auto connection = std::make_unique<Connection>(limits_.parser);
  connection->info.id = id;
  connection->last_activity_ns = timestamp_ns;
  return connections_.emplace(id, std::move(connection)).first->second.get();
}

void ConnTracker::OnOpen(const OpenEvent& event) {
  Connection* connection = Find(event.conn, event.timestamp_ns, true);
  if (!connection) return;
  // A role already decided from the traffic stands. A TLS stream's role comes
  // from its traffic alone: its socket may have been guessed (see tls.bpf.c).
  if (connection->state == Connection::State::kDeciding && !event.conn.tls()) {
    connection->info.role = event.role;
  }
  connection->info.ipv6 = event.ipv6;
  connection->info.local = event.local;
  connection->info.remote = event.remote;
}

// Classifies the first bytes of a call: decides HTTP or not, and the role when
// the kernel did not see connect() or accept(). True once it is HTTP.
bool ConnTracker::Decide(Connection& connection, const DataEvent& event) {
  if (event.offset != 0) return false;  // only a call's start can start a message
  // A call too short to tell (a few bytes) is passed over; the next one decides.
  const StreamKind kind = protocols::http1::Classify(event.data);
  if (kind == StreamKind::kUnknown) return false;
  const bool egress = event.direction == Direction::kEgress;
  Role role = Role::kUnknown;
  if (kind == StreamKind::kRequest) role = egress ? Role::kClient : Role::kServer;
  if (kind == StreamKind::kResponse) role = egress ? Role::kServer : Role::kClient;
  const bool consistent = connection.info.role == Role::kUnknown || connection.info.role == role;
  if (kind == StreamKind::kNotHttp || !consistent) {
    // A connection the kernel saw open must start with HTTP; one that predates
    // the agent may have been joined mid-message, so it gets a few calls.
    if (connection.info.role != Role::kUnknown ||
        ++connection.undecided_calls >= kUndecidedCallsAllowed) {
      connection.state = Connection::State::kSkipped;
      ++counts_.not_http_connections;
      decisions_.Skip(connection.info.id);
    }
    return false;
  }
  connection.info.role = role;
  connection.state = Connection::State::kHttp;
  ++counts_.http_connections;
  return true;
}

void ConnTracker::OnData(const DataEvent& event) {
  Connection* connection = Find(event.conn, event.timestamp_ns, true);
  if (!connection || connection->state == Connection::State::kSkipped) return;
  if (connection->state == Connection::State::kDeciding && !Decide(*connection, event)) return;
  Feed(*connection, event);
  if (!connection->followed_closely && connection->stitcher.closely_followed()) {
    connection->followed_closely = true;
    decisions_.FollowClosely(connection->info.id);
  }
  Flush(*connection);
}

// Turns the event into bytes and gaps of the direction's stream: a gap before
// it (bytes of the call that were not sent), its bytes, and after the call's
// last event the bytes the kernel did not copy.
void ConnTracker::Feed(Connection& connection, const DataEvent& event) {
  Connection::Cursor& cursor = connection.cursors[Index(event.direction)];
  std::uint64_t gap = 0;
  if (!cursor.in_call) {
    gap = event.offset;  // the call's first events were lost
  } else if (event.offset == 0) {
    gap = cursor.call_bytes - cursor.next_offset;  // the previous call's end was lost
  } else if (event.offset > cursor.next_offset) {
    gap = event.offset - cursor.next_offset;
  }
  cursor.in_call = !event.last;
  cursor.call_bytes = event.call_bytes;
  cursor.next_offset = event.offset + event.data.size();
  const std::uint64_t missing = event.last ? event.call_bytes - cursor.next_offset : 0;

  const bool requests = (event.direction == Direction::kEgress) ==
                        (connection.info.role == Role::kClient);
  auto feed = [&](std::string_view bytes, std::uint64_t after) {
    if (requests) {
      connection.stitcher.OnRequestBytes(bytes, after, event.timestamp_ns);
    } else {
      connection.stitcher.OnResponseBytes(bytes, after, event.timestamp_ns);
    }
  };
  if (gap > 0) feed({}, gap);
  if (!event.data.empty() || missing > 0) feed(event.data, missing);
}

void ConnTracker::Flush(Connection& connection) {
  for (protocols::http1::Exchange& exchange : connection.stitcher.TakeExchanges()) {
    sink_.OnExchange(connection.info, std::move(exchange));
  }
}

void ConnTracker::OnClose(const CloseEvent& event) {
  Connection* connection = Find(event.conn, event.timestamp_ns, false);
  if (!connection) return;
  if (connection->state == Connection::State::kHttp) {
    connection->stitcher.OnClose(event.timestamp_ns);
    Flush(*connection);
  }
  Forget(event.conn);
}

void ConnTracker::Expire(std::uint64_t now_ns) {
  std::vector<ConnId> idle;
  for (const auto& [id, connection] : connections_) {
    if (now_ns > connection->last_activity_ns + limits_.idle_ns) idle.push_back(id);
  }
  for (const ConnId& id : idle) {
    Connection& connection = *connections_.at(id);
    if (std::size_t pending = connection.stitcher.PendingRequests(); pending > 0) {
      on_drop_("connection_expired", pending);
    }
    Forget(id);
  }
}

void ConnTracker::Forget(const ConnId& id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  const protocols::http1::Stitcher::Stats stats = it->second->stitcher.stats();
  counts_.garbage_bytes += stats.requests.garbage_bytes + stats.responses.garbage_bytes;
  connections_.erase(it);
}

}  // namespace infrared::net
