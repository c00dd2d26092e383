// Feeds arbitrary bytes to the traceparent parser and the route functions:
// both see header values and request targets straight from captured traffic.
// Checks, beyond not crashing:
//  - a parsed traceparent formats to a header that parses to the same value;
//  - RouteFromTarget starts with '/', grows by at most kMaxRouteGrowth bytes
//    and is idempotent;
//  - RouteMatcher::Match only ever returns one of its patterns, and a pattern
//    taken from the input (first line) either is rejected with a reason or,
//    when it matches the rest of the input, is what Match returns.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/semantics/http_route.h"
#include "agent/telemetry/trace_context.h"

namespace {

using infrared::semantics::kMaxRouteGrowth;
using infrared::semantics::RouteFromTarget;
using infrared::semantics::RouteMatcher;
using infrared::telemetry::FormatTraceparent;
using infrared::telemetry::ParseTraceparent;

void Check(bool condition) {
  if (!condition) std::abort();
}

void FuzzTraceparent(std::string_view input) {
  const auto parsed = ParseTraceparent(input);
  if (!parsed) return;
  const std::string header = FormatTraceparent(parsed->trace_id, parsed->parent_id, parsed->flags);
  const auto reparsed = ParseTraceparent(header);
  Check(reparsed.has_value() && *reparsed == *parsed);
}

void FuzzRoute(std::string_view input) {
  const std::string route = RouteFromTarget(input);
  Check(!route.empty() && route.front() == '/');
  Check(route.size() <= input.size() + kMaxRouteGrowth);
  Check(RouteFromTarget(route) == route);
}

void FuzzMatcher(std::string_view input) {
  static const std::vector<std::string> kPatterns = {"/users/{id}/posts", "/api/v1/*", "/users/me",
                                                     "/{a}/{b}/{c}", "/"};
  std::string error;
  static const std::optional<RouteMatcher> fixed = RouteMatcher::Create(kPatterns, error);
  Check(fixed.has_value());
  if (const auto match = fixed->Match(input)) {
    bool known = false;
    for (const std::string& pattern : kPatterns) known = known || pattern == *match;
    Check(known);
  }

  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return;
  const std::string pattern(input.substr(0, newline));
  error.clear();
  const auto custom = RouteMatcher::Create({pattern}, error);
  Check(custom.has_value() == error.empty());
  if (!custom) return;
  const auto match = custom->Match(input.substr(newline + 1));
  Check(!match || *match == pattern);
  Check(custom->Match(pattern) == pattern);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzTraceparent(input);
  FuzzRoute(input);
  FuzzMatcher(input);
  return 0;
}
