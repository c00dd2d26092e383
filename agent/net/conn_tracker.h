#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/net/sock_events.h"
#include "agent/protocols/http1/stitcher.h"

namespace infrared::net {

// What the layers above know of a connection.
struct ConnectionInfo {
  ConnId id;
  Role role = Role::kUnknown;  // kClient: this process sent the requests
  bool ipv6 = false;
  Endpoint local;
  Endpoint remote;
};

// Receives each finished HTTP exchange, in order per connection.
class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  // `exchange.response.status_code` is 0 when the connection closed before a
  // response came.
  virtual void OnExchange(const ConnectionInfo& connection,
                          protocols::http1::Exchange exchange) = 0;
};

// Where the tracker's decisions about a connection go, for the kernel.
class ConnDecisions {
 public:
  virtual ~ConnDecisions() = default;
  // It is not HTTP: the kernel stops copying its payloads.
  virtual void Skip(const ConnId& conn) = 0;
  // The table has no room for it: the kernel stops copying its payloads, and
  // counts the requests its calls begin.
  virtual void CountOnly(const ConnId& conn) { Skip(conn); }
  // The connection carries requests the parsers follow closely (LLM calls):
  // the kernel may copy more of each of its calls.
  virtual void FollowClosely(const ConnId& /*conn*/) {}
};

struct TrackerLimits {
  std::size_t max_connections = 16384;
  std::uint64_t idle_ns = 300'000'000'000;
  // Connections forgotten idle, remembered (see ConnTracker) at most this many;
  // more are counted (idle_over_cap) and not remembered.
  std::size_t max_dormant = 16384;
  protocols::http1::ParserLimits parser;
};

// Follows every TCP connection the kernel reports: decides whether it carries
// HTTP/1.x and which side this process is, turns each syscall's captured bytes
// and known gaps into two ordered byte streams, and hands them to a stitcher.
// Bounded: at most max_connections, each bounded by the parser limits.
// One thread: not safe for concurrent use.
class ConnTracker {
 public:
  using DropFn = std::function<void(const char* reason, std::uint64_t count)>;

  ConnTracker(TrackerLimits limits, ExchangeSink& sink, ConnDecisions& decisions,
              DropFn on_drop);
  ~ConnTracker();

  void OnOpen(const OpenEvent& event);
  void OnData(const DataEvent& event);
  void OnClose(const CloseEvent& event);
  // Forgets a connection the kernel found to carry TLS records, unless it was
  // decided HTTP already: its place goes to its TLS stream.
  void OnTlsSocket(const TlsSocketEvent& event);
  // Forgets connections idle since before now_ns - idle_ns. What one that
  // was not decided "not HTTP" needs to resume as it was (its role, endpoints
  // and the kernel's loss counts last seen) is kept, up to max_dormant of
  // them, until it closes, is found to carry TLS while undecided, is refused
  // a place or has been idle kDormantIdleFactor times idle_ns: a connection
  // back from idle neither counts its earlier losses again nor loses its peer.
  void Expire(std::uint64_t now_ns);
  static constexpr std::uint64_t kDormantIdleFactor = 12;

  std::size_t Size() const { return connections_.size(); }
  // Connections refused a place and remembered as such until they close, are
  // found to carry TLS or go idle (at most max_connections of them).
  std::size_t Refused() const { return refused_.size(); }
  // Connections forgotten idle and remembered (see Expire).
  std::size_t Dormant() const { return dormant_.size(); }

  // What the tracker decided and what its parsers could not read.
  struct Counts {
    std::uint64_t http_connections = 0;      // decided to carry HTTP/1.x
    std::uint64_t not_http_connections = 0;  // decided not to (their bytes no longer copied)
    std::uint64_t refused_connections = 0;   // refused a place: the table was full
    // Bytes the parsers skipped as not HTTP, of connections already forgotten.
    std::uint64_t garbage_bytes = 0;
  };
  const Counts& counts() const { return counts_; }

 private:
  struct Connection;
  struct RefusedConnection;
  struct DormantConnection;
  Connection* Find(const ConnId& id, std::uint64_t timestamp_ns, bool create);
  bool Decide(Connection& connection, const DataEvent& event);
  void Feed(Connection& connection, const DataEvent& event);
  void Flush(Connection& connection);
  void ReportLosses(Connection& connection);
  static bool CarriesRequests(const Connection& connection, Direction direction);
  void FeedBytes(Connection& connection, Direction direction, std::string_view bytes,
                 std::uint64_t missing, std::uint64_t timestamp_ns);
  void CatchUp(Connection& connection, Direction direction, const StreamLoss& lost,
               std::uint64_t unreadable, std::uint64_t timestamp_ns);
  void Forget(const ConnId& id);
  void PutToSleep(const Connection& connection);
  Connection* Wake(const ConnId& id, std::uint64_t timestamp_ns);
  RefusedConnection* FindRefused(const ConnId& id);
  void LearnRefusedRole(RefusedConnection& refused, Role role);
  void CountRefusedLosses(RefusedConnection& refused, Direction direction,
                          std::uint32_t lost_starts);

  TrackerLimits limits_;
  ExchangeSink& sink_;
  ConnDecisions& decisions_;
  DropFn on_drop_;
  std::unordered_map<ConnId, std::unique_ptr<Connection>, ConnIdHash> connections_;
  // Refused connections: one refused stays refused, so that the kernel, told,
  // counts all of its requests, even when a place frees up while its earlier
  // records are still on their way. The kernel counts the requests of calls
  // it no longer copies; those of calls it lost before it heard (a full ring
  // buffer) are counted here, from the loss counts its events carry, once the
  // direction that carries requests is known.
  struct RefusedConnection {
    std::uint64_t last_activity_ns = 0;
    Role role = Role::kUnknown;
    std::array<std::uint32_t, 2> lost_starts{};  // per direction: the kernel's count last seen
    std::uint32_t counted_starts = 0;            // of those that carry requests
  };
  std::unordered_map<ConnId, RefusedConnection, ConnIdHash> refused_;
  // What a connection forgotten idle leaves behind (see Expire).
  struct DormantConnection {
    ConnectionInfo info;
    bool http = false;  // decided HTTP; else not decided yet
    bool followed_closely = false;
    std::array<StreamLoss, 2> lost{};  // per direction: the kernel's counts last seen
    std::uint64_t last_activity_ns = 0;
  };
  std::unordered_map<ConnId, DormantConnection, ConnIdHash> dormant_;
  Counts counts_;
};

}  // namespace infrared::net
