#include "agent/semantics/http_route.h"

#include <algorithm>

namespace infrared::semantics {
namespace {

constexpr std::size_t kMinIdTokenLength = 16;
constexpr std::size_t kUuidLength = 36;
constexpr std::string_view kIdRoute = "{id}";
constexpr std::string_view kRestRoute = "/{rest}";
// Marks a "{name}" segment in a parsed pattern; literals never hold braces.
constexpr std::string_view kParamMarker = "{}";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool IsUuid(std::string_view segment) {
  if (segment.size() != kUuidLength) return false;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? segment[i] != '-' : !IsHex(segment[i])) return false;
  }
  return true;
}

// Ids in all their usual spellings: numbers, UUIDs, hashes, opaque tokens.
bool IsIdSegment(std::string_view segment) {
  if (segment.empty()) return false;
  if (segment.size() > kMaxRouteSegmentBytes) return true;  // no route names a segment that long
  if (std::all_of(segment.begin(), segment.end(), IsDigit)) return true;
  if (IsUuid(segment)) return true;
  if (segment.size() < kMinIdTokenLength) return false;
  if (std::all_of(segment.begin(), segment.end(), IsHex)) return true;
  const bool token_chars = std::all_of(segment.begin(), segment.end(),
                                       [](char c) { return IsAlnum(c) || c == '-' || c == '_'; });
  return token_chars && std::any_of(segment.begin(), segment.end(), IsDigit);
}

// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), RFC 3986 section 3.1.
bool IsScheme(std::string_view text) {
  if (text.empty() || !IsAlpha(text.front())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return IsAlnum(c) || c == '+' || c == '-' || c == '.'; });
}

// The path of a request target: no query or fragment, absolute-form reduced.
// Empty when the target has no path of its own.
std::string_view PathOf(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (!target.empty() && target.front() == '/') return target;
  const std::size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos || !IsScheme(target.substr(0, scheme_end))) return {};
  const std::size_t path_start = target.find('/', scheme_end + 3);
  if (path_start == std::string_view::npos) return {};
  return target.substr(path_start);
}

// Segments of a path that starts with '/', one trailing slash ignored: "/" has
// none, "/a/b/" has "a" and "b", "/a//b" has "a", "" and "b".
std::vector<std::string_view> SplitSegments(std::string_view path) {
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string_view> segments;
  if (path.empty()) return segments;
  while (true) {
    const std::size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool IsParamNameChar(char c) { return IsAlnum(c) || c == '_' || c == '.' || c == '-'; }

// Checks one pattern segment; returns an empty string or what is wrong.
std::string CheckPatternSegment(std::string_view segment, bool last) {
  if (segment.empty()) return "has an empty segment (\"//\")";
  if (segment == "*") return last ? "" : "has '*' before its last segment";
  if (segment.find('*') != std::string_view::npos) return "uses '*' inside a segment";
  if (segment.front() == '{') {
    const std::string_view name = segment.substr(1, segment.size() - 2);
    if (segment.size() < 3 || segment.back() != '}' ||
        !std::all_of(name.begin(), name.end(), IsParamNameChar)) {
      return "has a malformed parameter \"" + std::string(segment) +
             "\" (write {name}, name of letters, digits, '_', '.', '-')";
    }
    return "";
  }
  if (segment.find_first_of("{}") != std::string_view::npos) {
    return "mixes braces with text in segment \"" + std::string(segment) + "\"";
  }
  return "";
}

}  // namespace

std::string RouteFromTarget(std::string_view request_target) {
  std::string_view path = PathOf(request_target);
  if (path.empty()) return "/";
  std::string route;
  route.reserve(path.size() + kRestRoute.size());
  path.remove_prefix(1);  // each iteration below emits "/" + one segment
  for (std::size_t count = 0;; ++count) {
    if (count == kMaxRouteSegments) {
      route += kRestRoute;
      break;
    }
    const std::size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    route += '/';
    route += IsIdSegment(segment) ? kIdRoute : segment;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return route;
}

const std::string& RouteBudget::Admit(std::string_view service, std::string_view executable,
                                      const std::string& route, std::uint64_t now_ns,
                                      bool& folded) {
  static const std::string other = kOther;
  folded = false;
  auto known = last_used_.find(ServiceView(service, executable));
  if (known == last_used_.end()) {
    known = last_used_.emplace(Service(service, executable), decltype(known->second)()).first;
  }
  std::unordered_map<std::string, std::uint64_t>& routes = known->second;
  if (auto it = routes.find(route); it != routes.end()) {
    it->second = std::max(it->second, now_ns);
    return route;
  }
  if (routes.size() >= max_routes_) {
    std::erase_if(routes, [&](const auto& entry) {
      return now_ns > entry.second && now_ns - entry.second > idle_ns_;
    });
  }
  if (routes.size() >= max_routes_) {
    folded = true;
    return other;
  }
  routes.emplace(route, now_ns);
  return route;
}

std::optional<RouteMatcher> RouteMatcher::Create(const std::vector<std::string>& patterns,
                                                 std::string& error) {
  std::vector<Pattern> parsed;
  parsed.reserve(patterns.size());
  for (const std::string& text : patterns) {
    const std::string prefix = "route pattern \"" + text + "\" ";
    if (text.empty() || text.front() != '/') {
      error = prefix + "must start with '/', for example \"/users/{id}\".";
      return std::nullopt;
    }
    if (text.find_first_of("?#") != std::string::npos) {
      error = prefix + "contains '?' or '#'; patterns match the path only.";
      return std::nullopt;
    }
    if (text.find("//") != std::string::npos) {
      error = prefix + "has an empty segment (\"//\").";
      return std::nullopt;
    }
    Pattern pattern{text, {}, false};
    const std::vector<std::string_view> segments = SplitSegments(text);
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const std::string problem = CheckPatternSegment(segments[i], i + 1 == segments.size());
      if (!problem.empty()) {
        error = prefix + problem + ".";
        return std::nullopt;
      }
      if (segments[i] == "*") {
        pattern.rest = true;
      } else {
        pattern.segments.emplace_back(segments[i].front() == '{' ? kParamMarker : segments[i]);
      }
    }
    parsed.push_back(std::move(pattern));
  }
  return RouteMatcher(std::move(parsed));
}

std::optional<std::string> RouteMatcher::Match(std::string_view path) const {
  const std::string_view clean = PathOf(path);
  if (clean.empty()) return std::nullopt;
  const std::vector<std::string_view> segments = SplitSegments(clean);
  for (const Pattern& pattern : patterns_) {
    if (Matches(pattern, segments)) return pattern.text;
  }
  return std::nullopt;
}

bool RouteMatcher::Matches(const Pattern& pattern, const std::vector<std::string_view>& segments) {
  if (pattern.rest ? segments.size() < pattern.segments.size()
                   : segments.size() != pattern.segments.size()) {
    return false;
  }
  for (std::size_t i = 0; i < pattern.segments.size(); ++i) {
    const std::string& expected = pattern.segments[i];
    const bool ok = expected == kParamMarker ? !segments[i].empty() : expected == segments[i];
    if (!ok) return false;
  }
  return true;
}

}  // namespace infrared::semantics
