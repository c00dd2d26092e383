#include "agent/net/conn_tracker.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "agent/protocols/http1/parse.h"

namespace infrared::net {
namespace {

using protocols::http1::StreamKind;

// A connection whose role the kernel did not see (it existed before the agent)
// may be joined mid-message; it is given this many calls to start one.
constexpr int kUndecidedCallsAllowed = 8;

int Index(Direction direction) { return direction == Direction::kEgress ? 0 : 1; }

// The direction of a connection's requests: out of a client, into a server
// (taken as a server's while the role is unknown).
Direction RequestDirection(Role role) {
  return role == Role::kClient ? Direction::kEgress : Direction::kIngress;
}

// Whether what was last active at `last_ns` has been idle more than `span_ns`
// at `now_ns` (never when `last_ns` is later: an event reordered between threads).
bool IdleLongerThan(std::uint64_t now_ns, std::uint64_t last_ns, std::uint64_t span_ns) {
  return now_ns > last_ns && now_ns - last_ns > span_ns;
}

}  // namespace

struct ConnTracker::Connection {
  enum class State { kDeciding, kHttp, kSkipped };

  // Where the stream stands within the syscall whose bytes are arriving.
  struct Cursor {
    bool in_call = false;
    std::uint64_t call_bytes = 0;
    std::uint64_t next_offset = 0;
    std::uint64_t lost_bytes = 0;   // the kernel's count (infrared_stream_loss) last seen
    std::uint32_t lost_starts = 0;
  };
  // What the stitcher and parsers had lost at the last report.
  struct Reported {
    protocols::http1::Stitcher::Losses losses;
    std::uint64_t resyncs = 0;
  };

  explicit Connection(const protocols::http1::ParserLimits& limits) : stitcher(limits) {}

  ConnectionInfo info;
  State state = State::kDeciding;
  bool followed_closely = false;  // the kernel was told
  int undecided_calls = 0;
  std::array<Cursor, 2> cursors;
  std::uint64_t last_activity_ns = 0;
  protocols::http1::Stitcher stitcher;
  Reported reported;
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
  if (auto refused = refused_.find(id); refused != refused_.end()) {
    // Records copied before the kernel heard. The kernel is told once: it
    // keeps its own flags in a word of their own, so it cannot overwrite the
    // agent's mark.
    refused->second.last_activity_ns = timestamp_ns;
    on_drop_("table_full", 1);
    return nullptr;
  }
  if (connections_.size() >= limits_.max_connections) {
    on_drop_("table_full", 1);
    ++counts_.refused_connections;
    decisions_.CountOnly(id);  // nobody would parse its bytes: do not copy them
    if (refused_.size() < limits_.max_connections) {
      RefusedConnection refused{.last_activity_ns = timestamp_ns};
      if (auto dormant = dormant_.find(id); dormant != dormant_.end()) {
        // Back from idle: the losses it had were counted then.
        const DormantConnection& was = dormant->second;
        refused.role = was.info.role;
        refused.lost_starts = {was.lost[0].starts, was.lost[1].starts};
        if (was.http)
          refused.counted_starts = was.lost[Index(RequestDirection(was.info.role))].starts;
      }
      refused_.emplace(id, refused);
    }
    dormant_.erase(id);
    return nullptr;
  }
  if (Connection* woken = Wake(id, timestamp_ns)) return woken;
  auto connection = std::make_unique<Connection>(limits_.parser);
  connection->info.id = id;
  connection->last_activity_ns = timestamp_ns;
  return connections_.emplace(id, std::move(connection)).first->second.get();
}

void ConnTracker::OnOpen(const OpenEvent& event) {
  Connection* connection = Find(event.conn, event.timestamp_ns, true);
  if (!connection) {
    // A TLS stream's role is not known from its open (see below).
    RefusedConnection* refused = FindRefused(event.conn);
    if (refused && refused->role == Role::kUnknown && !event.conn.tls()) {
      LearnRefusedRole(*refused, event.role);
    }
    return;
  }
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
    // the agent, or whose first calls the kernel lost (a full ring buffer),
    // may be joined mid-message, so it gets a few calls.
    const bool joined_late = connection.info.role == Role::kUnknown || event.lost_bytes > 0;
    if (!joined_late || ++connection.undecided_calls >= kUndecidedCallsAllowed) {
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
  if (!connection) {
    // No room: the bytes copied before the kernel heard so are counted as the
    // kernel counts those it no longer copies.
    const StreamKind kind =
        event.offset == 0 ? protocols::http1::Classify(event.data) : StreamKind::kUnknown;
    if (kind == StreamKind::kRequest) on_drop_("request_untracked", 1);
    if (RefusedConnection* refused = FindRefused(event.conn)) {
      if (refused->role == Role::kUnknown &&
          (kind == StreamKind::kRequest || kind == StreamKind::kResponse)) {
        const bool egress = event.direction == Direction::kEgress;
        LearnRefusedRole(*refused,
                         (kind == StreamKind::kRequest) == egress ? Role::kClient : Role::kServer);
      }
      CountRefusedLosses(*refused, event.direction, event.lost_starts);
    }
    return;
  }
  if (connection->state == Connection::State::kSkipped) return;
  if (connection->state == Connection::State::kDeciding && !Decide(*connection, event)) return;
  Feed(*connection, event);
  if (!connection->followed_closely && connection->stitcher.closely_followed()) {
    connection->followed_closely = true;
    decisions_.FollowClosely(connection->info.id);
  }
  Flush(*connection);
  ReportLosses(*connection);
}

// Counts what the connection's parsers lost since the last report.
void ConnTracker::ReportLosses(Connection& connection) {
  const protocols::http1::Stitcher& stitcher = connection.stitcher;
  const protocols::http1::Stitcher::Losses& now = stitcher.losses();
  const protocols::http1::ParseStats& requests = stitcher.request_stats();
  const protocols::http1::ParseStats& responses = stitcher.response_stats();
  Connection::Reported current{now, requests.resyncs + responses.resyncs};
  Connection::Reported& last = connection.reported;
  auto report = [this](const char* reason, std::uint64_t now_count, std::uint64_t last_count) {
    if (now_count > last_count) on_drop_(reason, now_count - last_count);
  };
  report("request_lost", current.losses.requests, last.losses.requests);
  report("response_lost", current.losses.responses, last.losses.responses);
  report("exchange_lost", current.losses.exchanges, last.losses.exchanges);
  report("pending_overflow", current.losses.overflowed, last.losses.overflowed);
  report("parser_resync", current.resyncs, last.resyncs);
  last = current;
}

// Turns the event into bytes and gaps of the direction's stream: a gap before
// it (bytes of the call that were not sent), its bytes, and after the call's
// last event the bytes the kernel did not copy.
void ConnTracker::Feed(Connection& connection, const DataEvent& event) {
  Connection::Cursor& cursor = connection.cursors[Index(event.direction)];
  std::uint64_t unreadable = 0;  // bytes of this call the kernel skipped
  if (!cursor.in_call || event.offset == 0) {
    unreadable = event.offset;
  } else if (event.offset > cursor.next_offset) {
    unreadable = event.offset - cursor.next_offset;
  }
  CatchUp(connection, event.direction, StreamLoss{event.lost_bytes, event.lost_starts},
          unreadable, event.timestamp_ns);
  cursor.in_call = !event.last;
  cursor.call_bytes = event.call_bytes;
  cursor.next_offset = event.offset + event.data.size();
  const std::uint64_t missing = event.last ? event.call_bytes - cursor.next_offset : 0;
  if (!event.data.empty() || missing > 0) {
    FeedBytes(connection, event.direction, event.data, missing, event.timestamp_ns);
  }
}

bool ConnTracker::CarriesRequests(const Connection& connection, Direction direction) {
  return direction == RequestDirection(connection.info.role);
}

void ConnTracker::FeedBytes(Connection& connection, Direction direction, std::string_view bytes,
                            std::uint64_t missing, std::uint64_t timestamp_ns) {
  if (CarriesRequests(connection, direction)) {
    connection.stitcher.OnRequestBytes(bytes, missing, timestamp_ns);
  } else {
    connection.stitcher.OnResponseBytes(bytes, missing, timestamp_ns);
  }
}

// Feeds what the kernel could not deliver in `direction` since the last event
// (`lost`, its cumulative count: the size of the calls, or ends of calls, not
// sent, and the messages they began), plus `unreadable` bytes, as one gap.
void ConnTracker::CatchUp(Connection& connection, Direction direction, const StreamLoss& lost,
                          std::uint64_t unreadable, std::uint64_t timestamp_ns) {
  Connection::Cursor& cursor = connection.cursors[Index(direction)];
  // The counts only grow: a smaller one is an event reordered between threads.
  const std::uint64_t gap =
      unreadable + (lost.bytes > cursor.lost_bytes ? lost.bytes - cursor.lost_bytes : 0);
  const std::uint32_t starts = lost.starts > cursor.lost_starts ? lost.starts - cursor.lost_starts : 0;
  cursor.lost_bytes = std::max(cursor.lost_bytes, lost.bytes);
  cursor.lost_starts = std::max(cursor.lost_starts, lost.starts);
  if (gap > 0) {
    on_drop_("stream_gap", 1);
    FeedBytes(connection, direction, {}, gap, timestamp_ns);
  }
  if (starts == 0) return;
  // The gap has ended whatever message it cut; the lost ones keep their place.
  if (CarriesRequests(connection, direction)) {
    connection.stitcher.OnLostRequests(starts);
  } else {
    connection.stitcher.OnLostResponses(starts);
  }
}

void ConnTracker::Flush(Connection& connection) {
  for (protocols::http1::Exchange& exchange : connection.stitcher.TakeExchanges()) {
    sink_.OnExchange(connection.info, std::move(exchange));
  }
}

void ConnTracker::OnClose(const CloseEvent& event) {
  Connection* connection = Find(event.conn, event.timestamp_ns, false);
  // One forgotten idle wakes for the losses its close tells (and leaves at once).
  if (!connection) connection = Wake(event.conn, event.timestamp_ns);
  if (!connection) {
    if (RefusedConnection* refused = FindRefused(event.conn)) {
      for (Direction direction : {Direction::kEgress, Direction::kIngress}) {
        CountRefusedLosses(*refused, direction, event.lost[Index(direction)].starts);
      }
      refused_.erase(event.conn);
    }
    return;
  }
  // A connection whose every call was lost is still told by its close (the
  // kernel saw it open, so its role is known).
  const bool undecided_known = connection->state == Connection::State::kDeciding &&
                               connection->info.role != Role::kUnknown;
  if (connection->state == Connection::State::kHttp || undecided_known) {
    // The last calls' losses, told by the close alone.
    for (Direction direction : {Direction::kEgress, Direction::kIngress}) {
      CatchUp(*connection, direction, event.lost[Index(direction)], 0, event.timestamp_ns);
    }
    connection->stitcher.OnClose(event.timestamp_ns);
    Flush(*connection);
    ReportLosses(*connection);
  }
  Forget(event.conn);
}

void ConnTracker::OnTlsSocket(const TlsSocketEvent& event) {
  // Not traffic: a connection kept stays as idle as it was.
  refused_.erase(event.conn);  // its records will not come
  if (auto dormant = dormant_.find(event.conn);
      dormant != dormant_.end() && !dormant->second.http) {
    dormant_.erase(dormant);
  }
  auto it = connections_.find(event.conn);
  if (it != connections_.end() && it->second->state == Connection::State::kDeciding) {
    Forget(event.conn);
  }
}

void ConnTracker::Expire(std::uint64_t now_ns) {
  std::vector<ConnId> idle;
  for (const auto& [id, connection] : connections_) {
    if (IdleLongerThan(now_ns, connection->last_activity_ns, limits_.idle_ns)) idle.push_back(id);
  }
  for (const ConnId& id : idle) {
    Connection& connection = *connections_.at(id);
    if (std::size_t pending = connection.stitcher.PendingRequests(); pending > 0) {
      on_drop_("connection_expired", pending);
    }
    if (connection.state != Connection::State::kSkipped) PutToSleep(connection);
    Forget(id);
  }
  std::erase_if(refused_, [&](const auto& entry) {
    return IdleLongerThan(now_ns, entry.second.last_activity_ns, limits_.idle_ns);
  });
  const std::uint64_t dormant_ns = limits_.idle_ns > UINT64_MAX / kDormantIdleFactor
                                       ? UINT64_MAX
                                       : limits_.idle_ns * kDormantIdleFactor;
  std::erase_if(dormant_, [&](const auto& entry) {
    return IdleLongerThan(now_ns, entry.second.last_activity_ns, dormant_ns);
  });
}

// Keeps what the connection, forgotten idle, needs to resume as it was.
void ConnTracker::PutToSleep(const Connection& connection) {
  if (dormant_.size() >= limits_.max_dormant) {
    // Not lost: if it resumes, its earlier losses may count again and its peer is unknown.
    on_drop_("idle_over_cap", 1);
    return;
  }
  DormantConnection dormant{.info = connection.info,
                            .http = connection.state == Connection::State::kHttp,
                            .followed_closely = connection.followed_closely,
                            .last_activity_ns = connection.last_activity_ns};
  for (std::size_t i = 0; i < dormant.lost.size(); ++i) {
    dormant.lost[i] =
        StreamLoss{connection.cursors[i].lost_bytes, connection.cursors[i].lost_starts};
  }
  dormant_.emplace(connection.info.id, dormant);
}

// Puts a connection forgotten idle back in the table, as it was then: new
// parsers (it went quiet between messages, or its unanswered requests were
// counted), its decision, role, endpoints and the loss counts it had seen.
ConnTracker::Connection* ConnTracker::Wake(const ConnId& id, std::uint64_t timestamp_ns) {
  auto it = dormant_.find(id);
  if (it == dormant_.end()) return nullptr;
  const DormantConnection& dormant = it->second;
  auto connection = std::make_unique<Connection>(limits_.parser);
  connection->info = dormant.info;
  connection->state = dormant.http ? Connection::State::kHttp : Connection::State::kDeciding;
  connection->followed_closely = dormant.followed_closely;  // the kernel keeps its mark
  for (std::size_t i = 0; i < dormant.lost.size(); ++i) {
    connection->cursors[i].lost_bytes = dormant.lost[i].bytes;
    connection->cursors[i].lost_starts = dormant.lost[i].starts;
  }
  connection->last_activity_ns = timestamp_ns;
  dormant_.erase(it);
  return connections_.emplace(id, std::move(connection)).first->second.get();
}

ConnTracker::RefusedConnection* ConnTracker::FindRefused(const ConnId& id) {
  auto it = refused_.find(id);
  return it == refused_.end() ? nullptr : &it->second;
}

// The losses seen before the role was known count now.
void ConnTracker::LearnRefusedRole(RefusedConnection& refused, Role role) {
  refused.role = role;
  for (Direction direction : {Direction::kEgress, Direction::kIngress}) {
    CountRefusedLosses(refused, direction, 0);
  }
}

// Takes the kernel's count of lost calls that began a message in `direction`
// (cumulative; a smaller one is an event reordered between threads), and
// counts those of the direction that carries requests, once it is known.
void ConnTracker::CountRefusedLosses(RefusedConnection& refused, Direction direction,
                                     std::uint32_t lost_starts) {
  std::uint32_t& seen = refused.lost_starts[Index(direction)];
  seen = std::max(seen, lost_starts);
  if (refused.role == Role::kUnknown) return;
  if (direction == RequestDirection(refused.role) && seen > refused.counted_starts) {
    on_drop_("request_untracked", seen - refused.counted_starts);
    refused.counted_starts = seen;
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
