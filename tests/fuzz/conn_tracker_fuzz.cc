// Feeds a ConnTracker a sequence of socket ring-buffer records: half of the
// time arbitrary bytes for DecodeSockEvent, otherwise well-formed open, data
// and close records for a handful of connections, with offsets, call sizes,
// `last` flags, directions and payloads (HTTP fragments or input bytes) drawn
// from the input. Checks, beyond not crashing:
//  - Size() never exceeds max_connections and equals the number of connections
//    a model of the table holds (opened or seen, not yet closed or expired);
//  - an exchange belongs to the connection of the event being handled, has a
//    role, and never comes from a connection the tracker decided is not HTTP;
//  - a connection is decided not HTTP at most once;
//  - a TLS socket notice forgets a connection not yet decided, and only such;
//  - only a connection refused a place (table_full) is counted only; one the
//    tracker remembers (at most max_connections) stays refused until it
//    closes, is found to carry TLS or goes idle, and is not told again;
//    requests are counted as untracked only from the data of a refused
//    connection, or from the losses a remembered one's close tells;
//  - a connection forgotten idle is remembered (Dormant()) unless it was
//    decided not HTTP, until it comes back, closes, is found to carry TLS
//    while undecided, is refused a place or has been idle
//    kDormantIdleFactor times the idle time; one that comes back keeps its
//    decision (it is not decided HTTP twice);
//  - captured bodies stay within the capture limit and their declared size.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "agent/net/conn_tracker.h"
#include "agent/net/sock_events.h"
#include "infrared/abi/sockdata.h"

namespace {

using infrared::net::CloseEvent;
using infrared::net::ConnectionInfo;
using infrared::net::ConnId;
using infrared::net::ConnTracker;
using infrared::net::DataEvent;
using infrared::net::LibraryEvent;
using infrared::net::OpenEvent;
using infrared::net::Role;
using infrared::net::SockDecodeError;
using infrared::net::SockEvent;
using infrared::net::TlsSocketEvent;
using infrared::net::TrackerLimits;

constexpr std::size_t kMaxConnections = 8;
constexpr std::uint64_t kIdleNs = 1000;
constexpr std::size_t kBodyCapture = 64;
constexpr int kMaxSteps = 512;

// Two pids, three fds, four generations: more ids than the table holds, and
// enough that the tracker's bound on refused connections (max_connections) is
// reached too.
constexpr int kIds = 24;
ConnId IdOf(int index) {
  return ConnId{static_cast<std::uint32_t>(100 + index % 2), 3 + (index / 2) % 3,
                static_cast<std::uint64_t>(1 + index / 6)};
}

constexpr std::array<std::string_view, 14> kFragments = {
    "GET /users/1 HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\nclose-delimited",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    std::string_view("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11),
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
    "GE",
    "CONNECT h:443 HTTP/1.1\r\n\r\n",
    "HEAD / HTTP/1.1\r\n\r\n",
    "PUT /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
};

// The tracker's idle rule: idle more than `span` at `now` (never when `last` is
// later, whatever the values).
bool IdleLongerThan(std::uint64_t now, std::uint64_t last, std::uint64_t span) {
  return now > last && now - last > span;
}

// Aborts naming the line of the invariant that failed.
void Check(bool condition, int line = __builtin_LINE()) {
  if (condition) return;
  std::fprintf(stderr, "conn_tracker_fuzz.cc:%d: invariant failed\n", line);
  std::abort();
}

// What the harness knows of each connection, mirrored from the events it
// dispatched and from the tracker's calls back.
struct Known {
  bool tracked = false;      // in the tracker's table
  bool not_http = false;     // the tracker decided it is not HTTP
  bool role_checked = true;  // false after a second open rewrote its role
  bool http = false;         // the tracker decided it carries HTTP
  bool refused = false;      // refused a place, and remembered so
  bool dormant = false;      // forgotten idle, and remembered so
  std::uint64_t last_seen = 0;
};

struct Model {
  std::unordered_map<ConnId, Known, infrared::net::ConnIdHash> known;
  bool table_full = false;  // a table-full drop is waiting for its CountOnly
  bool refused = false;     // the event being handled was refused a table slot
  ConnId current;           // the connection of the event being handled

  std::size_t Tracked() const {
    return static_cast<std::size_t>(std::count_if(
        known.begin(), known.end(), [](const auto& entry) { return entry.second.tracked; }));
  }
  std::size_t Refused() const {
    return static_cast<std::size_t>(std::count_if(
        known.begin(), known.end(), [](const auto& entry) { return entry.second.refused; }));
  }
  std::size_t Dormant() const {
    return static_cast<std::size_t>(std::count_if(
        known.begin(), known.end(), [](const auto& entry) { return entry.second.dormant; }));
  }
};

class Sink : public infrared::net::ExchangeSink {
 public:
  explicit Sink(Model& model) : model_(model) {}
  void OnExchange(const ConnectionInfo& connection,
                  infrared::protocols::http1::Exchange exchange) override {
    Check(connection.id == model_.current);
    const Known& known = model_.known[connection.id];
    Check(known.tracked && !known.not_http);
    Check(!known.role_checked || connection.role == Role::kClient ||
          connection.role == Role::kServer);
    for (const auto& [body, size] :
         {std::pair{&exchange.request.body, exchange.request.body_size},
          std::pair{&exchange.response.body, exchange.response.body_size}}) {
      Check(body->size() <= kBodyCapture && body->size() <= size);
    }
  }

 private:
  Model& model_;
};

class Decisions : public infrared::net::ConnDecisions {
 public:
  explicit Decisions(Model& model) : model_(model) {}
  // Only a connection refused a place is counted only, right after a drop
  // that expects it: its first (a remembered one is not told again).
  void CountOnly(const ConnId& conn) override {
    Check(conn == model_.current && model_.table_full);
    Known& known = model_.known[conn];
    if (!known.refused && model_.Refused() < kMaxConnections) {
      known.refused = true;  // remembered, within the tracker's bound
    }
    model_.table_full = false;
    model_.refused = true;
  }
  void Skip(const ConnId& conn) override {
    Check(conn == model_.current && !model_.table_full);
    Known& known = model_.known[conn];
    Check(!known.not_http);  // decided once
    known.not_http = true;
  }

 private:
  Model& model_;
};

std::vector<unsigned char> Header(std::uint32_t type, int index, std::uint64_t ts) {
  infrared_sock_header header{};
  header.type = type;
  header.conn.pid = IdOf(index).pid;
  header.conn.fd = IdOf(index).fd;
  header.conn.generation = IdOf(index).generation;
  header.timestamp_ns = ts;
  std::vector<unsigned char> bytes(sizeof(header));
  std::memcpy(bytes.data(), &header, sizeof(header));
  return bytes;
}

std::vector<unsigned char> OpenRecord(FuzzedDataProvider& input, int index, std::uint64_t ts) {
  infrared_sock_open_event raw{};
  const std::vector<unsigned char> header = Header(INFRARED_SOCK_OPEN, index, ts);
  std::memcpy(&raw.header, header.data(), header.size());
  raw.role = input.ConsumeIntegralInRange<std::uint32_t>(0, 3);
  raw.family = input.ConsumeBool() ? 10 : 2;
  raw.local_port = 8080;
  raw.remote_port = 40000;
  std::vector<unsigned char> bytes(sizeof(raw));
  std::memcpy(bytes.data(), &raw, sizeof(raw));
  return bytes;
}

std::vector<unsigned char> DataRecord(FuzzedDataProvider& input, int index, std::uint64_t ts) {
  const std::uint32_t direction = input.ConsumeBool() ? INFRARED_DIR_EGRESS : INFRARED_DIR_INGRESS;
  const bool last = input.ConsumeIntegralInRange<int>(0, 3) != 0;
  std::string payload;
  const std::size_t source = input.ConsumeIntegralInRange<std::size_t>(0, kFragments.size() + 1);
  if (source < kFragments.size()) {
    payload = kFragments[source];
  } else {
    payload = input.ConsumeBytesAsString(input.ConsumeIntegralInRange<std::size_t>(0, 512));
  }
  switch (input.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:  // a full chunk
      payload.resize(INFRARED_SOCK_CHUNK, 'x');
      break;
    case 1:  // nothing copied: the call's tail, or an empty call
      payload.clear();
      break;
    default:
      break;
  }
  const std::uint64_t offset =
      input.ConsumeBool() ? 0 : input.ConsumeIntegralInRange<std::uint64_t>(0, 70000);
  const std::uint64_t extra =
      input.ConsumeBool() ? 0 : input.ConsumeIntegralInRange<std::uint64_t>(0, 120000);

  infrared_sock_data_event head{};
  constexpr std::size_t kHead = offsetof(infrared_sock_data_event, data);
  const std::vector<unsigned char> header = Header(INFRARED_SOCK_DATA, index, ts);
  std::memcpy(&head.header, header.data(), header.size());
  head.direction = direction;
  head.flags = last ? INFRARED_SOCK_LAST : 0;
  head.offset = offset;
  head.captured = static_cast<std::uint32_t>(payload.size());
  head.call_bytes = offset + payload.size() + extra;
  // What the kernel lost before the call: usually nothing, else any count
  // (they only grow in the kernel; a smaller one is a reordered event).
  if (input.ConsumeIntegralInRange<int>(0, 3) == 0) {
    head.lost_bytes = input.ConsumeIntegralInRange<std::uint64_t>(0, 200000);
    head.lost_starts = input.ConsumeIntegral<std::uint32_t>();
  }
  std::vector<unsigned char> bytes(kHead + payload.size());
  std::memcpy(bytes.data(), &head, kHead);
  std::memcpy(bytes.data() + kHead, payload.data(), payload.size());
  return bytes;
}

struct Harness {
  Model model;
  Sink sink{model};
  Decisions decisions{model};
  ConnTracker tracker{Limits(), sink, decisions, [this](const char* reason, std::uint64_t count) {
                        Check(count > 0);
                        // A connection remembered as refused is refused again,
                        // untold; another awaits its CountOnly.
                        if (std::strcmp(reason, "table_full") == 0) {
                          if (model.known[model.current].refused) {
                            model.refused = true;
                          } else {
                            model.table_full = true;
                          }
                        }
                        // Requests are counted untracked from refused data, or
                        // from the losses a remembered refused connection's
                        // close tells.
                        if (std::strcmp(reason, "request_untracked") == 0) {
                          Check(model.refused || model.known[model.current].refused);
                        }
                      }};

  static TrackerLimits Limits() {
    TrackerLimits limits;
    limits.max_connections = kMaxConnections;
    limits.idle_ns = kIdleNs;
    limits.max_dormant = kIds;  // never reached: the model need not guess which are kept
    limits.parser.max_head_bytes = 256;
    limits.parser.max_headers = 4;
    limits.parser.body_capture_bytes = kBodyCapture;
    return limits;
  }

  void Dispatch(const SockEvent& event) {
    if (std::holds_alternative<SockDecodeError>(event) ||
        std::holds_alternative<LibraryEvent>(event)) {
      return;
    }
    model.current = std::visit(
        [](const auto& e) -> ConnId {
          using Event = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<Event, SockDecodeError> ||
                        std::is_same_v<Event, LibraryEvent>) {
            return {};
          } else {
            return e.conn;
          }
        },
        event);
    model.table_full = false;
    model.refused = false;
    Known& known = model.known[model.current];
    if (const auto* open = std::get_if<OpenEvent>(&event)) {
      // The kernel opens each generation once; a second open rewrites the role.
      if (known.tracked || known.dormant) known.role_checked = false;
      tracker.OnOpen(*open);
      Track(known, open->timestamp_ns);
    } else if (const auto* data = std::get_if<DataEvent>(&event)) {
      const std::uint64_t decided = tracker.counts().http_connections;
      tracker.OnData(*data);
      Track(known, data->timestamp_ns);
      if (tracker.counts().http_connections > decided) {
        Check(!known.http);  // one that comes back is not decided again
        known.http = true;
      }
    } else if (const auto* close = std::get_if<CloseEvent>(&event)) {
      // One remembered idle comes back for its close, and may finish exchanges.
      if (known.dormant) known.tracked = true;
      tracker.OnClose(*close);
      known = Known{};
    } else if (const auto* tls = std::get_if<TlsSocketEvent>(&event)) {
      // Forgotten unless decided, HTTP or not, remembered idle or not; a
      // refused one too.
      tracker.OnTlsSocket(*tls);
      if (!known.http && !known.not_http) known = Known{};
    }
    Check(!model.table_full);  // every drop that expects a CountOnly came with it
    Check(tracker.Size() <= kMaxConnections);
    Check(tracker.Size() == model.Tracked());
    Check(tracker.Refused() == model.Refused());
    Check(tracker.Dormant() == model.Dormant());
  }

  void Track(Known& known, std::uint64_t ts) {
    known.last_seen = ts;
    if (model.refused) {
      Check(!known.tracked);
      // What it was remembered as idle is let go: it is refused from now on.
      known.dormant = false;
      known.http = false;
      return;
    }
    known.dormant = false;  // back from idle, if it was
    Check(!known.refused);  // a refused connection never finds a place
    known.tracked = true;
  }

  void Expire(std::uint64_t now) {
    tracker.Expire(now);
    for (auto& [id, known] : model.known) {
      if ((known.tracked || known.refused) && IdleLongerThan(now, known.last_seen, kIdleNs)) {
        const bool dormant = known.tracked && !known.not_http;
        known = dormant ? Known{.role_checked = known.role_checked,
                                .http = known.http,
                                .dormant = true,
                                .last_seen = known.last_seen}
                        : Known{};
      }
      if (known.dormant &&
          IdleLongerThan(now, known.last_seen, ConnTracker::kDormantIdleFactor * kIdleNs)) {
        known = Known{};
      }
    }
    Check(tracker.Size() == model.Tracked());
    Check(tracker.Refused() == model.Refused());
    Check(tracker.Dormant() == model.Dormant());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  Harness harness;
  std::uint64_t now = 1;
  for (int step = 0; step < kMaxSteps && input.remaining_bytes() > 0; ++step) {
    now += input.ConsumeIntegralInRange<std::uint64_t>(0, 600);
    std::vector<unsigned char> record;
    const int index = input.ConsumeIntegralInRange<int>(0, kIds - 1);
    switch (input.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
        record = input.ConsumeBytes<unsigned char>(input.ConsumeIntegralInRange<std::size_t>(
            0, offsetof(infrared_sock_data_event, data) + 256));
        break;
      case 5:
        record = OpenRecord(input, index, now);
        break;
      case 6:
      case 7:
        record = DataRecord(input, index, now);
        break;
      case 8: {
        if (input.ConsumeIntegralInRange<int>(0, 3) == 0) {  // a TLS socket notice
          record = Header(INFRARED_SOCK_TLS_SOCKET, index, now);
          break;
        }
        infrared_sock_close_event close{};
        const std::vector<unsigned char> header = Header(INFRARED_SOCK_CLOSE, index, now);
        std::memcpy(&close.header, header.data(), header.size());
        for (infrared_stream_loss& loss : close.loss) {
          if (input.ConsumeBool()) continue;
          loss.bytes = input.ConsumeIntegralInRange<std::uint64_t>(0, 200000);
          loss.starts = input.ConsumeIntegral<std::uint32_t>();
        }
        record.resize(sizeof(close));
        std::memcpy(record.data(), &close, sizeof(close));
        break;
      }
      case 9:
        harness.Expire(now);
        continue;
    }
    harness.Dispatch(infrared::net::DecodeSockEvent(record.data(), record.size()));
  }
  std::vector<ConnId> ids;
  for (const auto& [id, known] : harness.model.known) {
    if (known.tracked || known.dormant) ids.push_back(id);
  }
  for (const ConnId& id : ids) harness.Dispatch(CloseEvent{id, now, {}});
  Check(harness.tracker.Size() == 0);
  Check(harness.tracker.Dormant() == 0);
  return 0;
}
