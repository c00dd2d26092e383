#pragma once

// HTTP routes: low-cardinality names for request paths, used in span names
// ("GET /users/{id}") and in the http.route attribute and metric label.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace infrared::semantics {

// Paths are cut after this many segments; the rest becomes one "{rest}".
inline constexpr std::size_t kMaxRouteSegments = 16;
// A longer segment is taken for an id.
inline constexpr std::size_t kMaxRouteSegmentBytes = 64;

// Upper bound on how much longer than its input RouteFromTarget's output gets
// (each short id segment growing to "{id}", plus "/{rest}" and a lone "/").
inline constexpr std::size_t kMaxRouteGrowth = 3 * kMaxRouteSegments + 8;

// Guesses a route from a request target when no configured pattern matches:
//  - the query ("?...") and fragment ("#...") are dropped;
//  - absolute-form ("http://host:80/a/b") keeps only its path ("/a/b");
//  - an empty path, asterisk-form ("*"), authority-form ("host:443") and any
//    other target not starting with '/' become "/";
//  - a segment that is all digits, a UUID (8-4-4-4-12 hex, any case), 16+ hex
//    digits, a 16+ character token of [A-Za-z0-9_-] with at least one digit,
//    or longer than kMaxRouteSegmentBytes becomes "{id}"; other segments (percent-encoded ones included) are kept
//    byte for byte, empty ones too ("/a//b/" stays "/a//b/");
//  - after kMaxRouteSegments segments the remainder becomes "/{rest}".
// The result always starts with '/', is at most
// target.size() + kMaxRouteGrowth bytes, and RouteFromTarget(result) == result.
std::string RouteFromTarget(std::string_view request_target);

// Operator-configured route patterns, tried in order; the first match wins.
// Pattern syntax: starts with '/', segments separated by '/':
//  - a literal segment matches itself exactly (case-sensitive);
//  - "{name}" (name of [A-Za-z0-9_.-]) matches exactly one non-empty segment;
//  - "*" as the last segment matches the rest of the path, zero or more
//    segments ("/api/*" matches "/api", "/api/" and "/api/v1/x").
// Match takes a path or any request target: the query and fragment are
// dropped and absolute-form is reduced to its path, as in RouteFromTarget. A
// trailing slash is ignored on both sides ("/a/1/" matches "/a/{id}"). Cost is
// linear in the number of patterns.
// Bounds the routes each service reports in metrics: beyond `max_routes`
// distinct routes used within `idle_ns`, a new one is reported as "_other"
// (a client scanning paths must not grow /metrics without end).
class RouteBudget {
 public:
  static constexpr const char* kOther = "_other";

  RouteBudget(std::size_t max_routes, std::uint64_t idle_ns)
      : max_routes_(max_routes), idle_ns_(idle_ns) {}

  // The route to report for `route` of the service (its name and executable)
  // at `now_ns` (a monotonic clock): `route` itself, or kOther (then `folded`
  // is set).
  const std::string& Admit(std::string_view service, std::string_view executable,
                           const std::string& route, std::uint64_t now_ns, bool& folded);

 private:
  using Service = std::pair<std::string, std::string>;  // name, executable
  using ServiceView = std::pair<std::string_view, std::string_view>;
  // Looks a service up by its two names without copying them.
  struct ServiceHash {
    using is_transparent = void;
    std::size_t operator()(ServiceView service) const {
      const std::size_t name = std::hash<std::string_view>()(service.first);
      return name ^ (std::hash<std::string_view>()(service.second) + 0x9e3779b97f4a7c15 +
                     (name << 6) + (name >> 2));
    }
    std::size_t operator()(const Service& service) const {
      return (*this)(ServiceView(service.first, service.second));
    }
  };
  struct ServiceEqual {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return a.first == b.first && a.second == b.second;
    }
  };

  std::size_t max_routes_;
  std::uint64_t idle_ns_;
  std::unordered_map<Service, std::unordered_map<std::string, std::uint64_t>, ServiceHash,
                     ServiceEqual>
      last_used_;
};

class RouteMatcher {
 public:
  // Validates every pattern. On failure returns nullopt and sets `error` to a
  // sentence naming the bad pattern and what is wrong with it.
  static std::optional<RouteMatcher> Create(const std::vector<std::string>& patterns,
                                            std::string& error);

  // The first pattern (verbatim, as configured) that matches `path`.
  std::optional<std::string> Match(std::string_view path) const;

  std::size_t PatternCount() const { return patterns_.size(); }

 private:
  struct Pattern {
    std::string text;
    std::vector<std::string> segments;  // "{...}" segments stored as "{}"
    bool rest = false;                  // ended in "*"
  };

  explicit RouteMatcher(std::vector<Pattern> patterns) : patterns_(std::move(patterns)) {}
  static bool Matches(const Pattern& pattern, const std::vector<std::string_view>& segments);

  std::vector<Pattern> patterns_;
};

}  // namespace infrared::semantics
