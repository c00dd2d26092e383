#include "agent/semantics/http_route.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace infrared::semantics {
namespace {

struct RouteCase {
  const char* target;
  const char* route;
};

class RouteFromTargetTest : public ::testing::TestWithParam<RouteCase> {};

TEST_P(RouteFromTargetTest, Route) {
  EXPECT_EQ(RouteFromTarget(GetParam().target), GetParam().route) << GetParam().target;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RouteFromTargetTest,
    ::testing::Values(
        RouteCase{"/", "/"}, RouteCase{"", "/"}, RouteCase{"/users", "/users"},
        RouteCase{"/users/123", "/users/{id}"},
        RouteCase{"/users/123/posts/7", "/users/{id}/posts/{id}"},
        RouteCase{"/users/123/", "/users/{id}/"}, RouteCase{"/a//b", "/a//b"},
        RouteCase{"/v1/chat/completions", "/v1/chat/completions"},
        RouteCase{"/orders/550e8400-e29b-41d4-a716-446655440000", "/orders/{id}"},
        RouteCase{"/orders/550E8400-E29B-41D4-A716-446655440000/items", "/orders/{id}/items"},
        RouteCase{"/orders/550e8400-e29b-41d4-a716-44665544000", "/orders/{id}"},  // token rule
        RouteCase{"/orders/550e8400xe29b-41d4-a716-446655440000", "/orders/{id}"},
        RouteCase{"/blob/da39a3ee5e6b4b0d3255bfef95601890afd80709", "/blob/{id}"},
        RouteCase{"/blob/DEADBEEFDEADBEEF", "/blob/{id}"},
        RouteCase{"/blob/deadbeefdeadbee", "/blob/deadbeefdeadbee"},  // 15 hex: a word
        RouteCase{"/s/a1b2c3d4e5f6g7h8", "/s/{id}"}, RouteCase{"/s/aB3-dE_fG7hIjKlMnOp", "/s/{id}"},
        RouteCase{"/docs/getting-started-guide", "/docs/getting-started-guide"},  // no digit
        RouteCase{"/v1/models", "/v1/models"}, RouteCase{"/api/v2", "/api/v2"},
        RouteCase{"/files/report%20final", "/files/report%20final"},
        RouteCase{"/files/%31%32%33", "/files/%31%32%33"},
        RouteCase{"/static/app.min.js", "/static/app.min.js"},
        // A segment of 64 bytes is kept; a longer one is no route's: an id.
        RouteCase{"/w/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "/w/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
        RouteCase{"/w/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/z", "/w/{id}/z"},
        RouteCase{"/search?q=123&page=2", "/search"},
        RouteCase{"/users/42?x=1#frag", "/users/{id}"}, RouteCase{"/page#section/9", "/page"},
        RouteCase{"/?q=1", "/"}, RouteCase{"?q=1", "/"},
        RouteCase{"http://example.com/users/9", "/users/{id}"},
        RouteCase{"https://example.com:8443/a/b?c=d", "/a/b"}, RouteCase{"http://example.com", "/"},
        RouteCase{"http://example.com?x=/y", "/"}, RouteCase{"*", "/"},
        RouteCase{"example.com:443", "/"}, RouteCase{"users/1", "/"}, RouteCase{"1http://x/y", "/"},
        RouteCase{"/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16",
                  "/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/"
                  "{id}"},
        RouteCase{"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s",
                  "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/{rest}"},
        RouteCase{"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/{rest}"}));

TEST(RouteFromTargetPropertyTest, IsIdempotent) {
  for (const char* target :
       {"/users/1", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s", "http://h/x/1", "", "/x//y/"}) {
    const std::string route = RouteFromTarget(target);
    EXPECT_EQ(RouteFromTarget(route), route) << target;
  }
}

TEST(RouteFromTargetPropertyTest, GrowthIsBounded) {
  std::string target;
  for (int i = 0; i < 1000; ++i) target += "/1";
  const std::string route = RouteFromTarget(target);
  EXPECT_LE(route.size(), target.size() + kMaxRouteGrowth);
  const std::string short_ids = RouteFromTarget("/1/2/3/4/5/6/7/8/9/0/1/2/3/4/5/6/");
  EXPECT_LE(short_ids.size(), 33 + kMaxRouteGrowth);
}

RouteMatcher MustCreate(const std::vector<std::string>& patterns) {
  std::string error;
  std::optional<RouteMatcher> matcher = RouteMatcher::Create(patterns, error);
  EXPECT_TRUE(matcher.has_value()) << error;
  EXPECT_EQ(error, "");
  return matcher.value_or(*RouteMatcher::Create({}, error));
}

TEST(RouteMatcherTest, ParametersMatchOneSegment) {
  const RouteMatcher matcher = MustCreate({"/users/{id}/posts"});
  EXPECT_EQ(matcher.Match("/users/alice/posts"), "/users/{id}/posts");
  EXPECT_EQ(matcher.Match("/users/alice/posts/"), "/users/{id}/posts");
  EXPECT_EQ(matcher.Match("/users/alice/posts?page=2"), "/users/{id}/posts");
  EXPECT_EQ(matcher.Match("http://h:1/users/alice/posts"), "/users/{id}/posts");
  EXPECT_EQ(matcher.Match("/users//posts"), std::nullopt);
  EXPECT_EQ(matcher.Match("/users/a/b/posts"), std::nullopt);
  EXPECT_EQ(matcher.Match("/users/alice"), std::nullopt);
  EXPECT_EQ(matcher.Match("/Users/alice/posts"), std::nullopt);
  EXPECT_EQ(matcher.Match(""), std::nullopt);
  EXPECT_EQ(matcher.Match("*"), std::nullopt);
}

TEST(RouteMatcherTest, TrailingStarMatchesTheRest) {
  const RouteMatcher matcher = MustCreate({"/api/v1/*"});
  EXPECT_EQ(matcher.Match("/api/v1/a/b/c"), "/api/v1/*");
  EXPECT_EQ(matcher.Match("/api/v1/a"), "/api/v1/*");
  EXPECT_EQ(matcher.Match("/api/v1/"), "/api/v1/*");
  EXPECT_EQ(matcher.Match("/api/v1"), "/api/v1/*");
  EXPECT_EQ(matcher.Match("/api/v2/a"), std::nullopt);
  EXPECT_EQ(matcher.Match("/api"), std::nullopt);
}

TEST(RouteMatcherTest, FirstMatchingPatternWins) {
  const RouteMatcher matcher = MustCreate({"/users/me", "/users/{id}", "/users/*", "/*"});
  EXPECT_EQ(matcher.PatternCount(), 4u);
  EXPECT_EQ(matcher.Match("/users/me"), "/users/me");
  EXPECT_EQ(matcher.Match("/users/42"), "/users/{id}");
  EXPECT_EQ(matcher.Match("/users/42/avatar"), "/users/*");
  EXPECT_EQ(matcher.Match("/health"), "/*");
  EXPECT_EQ(matcher.Match("/"), "/*");

  const RouteMatcher reversed = MustCreate({"/*", "/users/me"});
  EXPECT_EQ(reversed.Match("/users/me"), "/*");
}

TEST(RouteMatcherTest, RootPatternMatchesOnlyRoot) {
  const RouteMatcher matcher = MustCreate({"/"});
  EXPECT_EQ(matcher.Match("/"), "/");
  EXPECT_EQ(matcher.Match("/?x=1"), "/");
  EXPECT_EQ(matcher.Match("/a"), std::nullopt);
}

TEST(RouteMatcherTest, EmptyMatcherMatchesNothing) {
  const RouteMatcher matcher = MustCreate({});
  EXPECT_EQ(matcher.Match("/"), std::nullopt);
}

struct BadPattern {
  const char* pattern;
  const char* error;
};

class InvalidPatternTest : public ::testing::TestWithParam<BadPattern> {};

TEST_P(InvalidPatternTest, RejectedWithSentence) {
  std::string error;
  EXPECT_FALSE(RouteMatcher::Create({"/fine/{id}", GetParam().pattern}, error).has_value());
  EXPECT_EQ(error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidPatternTest,
    ::testing::Values(
        BadPattern{"", "route pattern \"\" must start with '/', for example \"/users/{id}\"."},
        BadPattern{
            "users/{id}",
            "route pattern \"users/{id}\" must start with '/', for example \"/users/{id}\"."},
        BadPattern{"/a?b",
                   "route pattern \"/a?b\" contains '?' or '#'; patterns match the path "
                   "only."},
        BadPattern{"/a//b", "route pattern \"/a//b\" has an empty segment (\"//\")."},
        BadPattern{"/a/*/b", "route pattern \"/a/*/b\" has '*' before its last segment."},
        BadPattern{"/a/v1*", "route pattern \"/a/v1*\" uses '*' inside a segment."},
        BadPattern{"/a/{}",
                   "route pattern \"/a/{}\" has a malformed parameter \"{}\" (write "
                   "{name}, name of letters, digits, '_', '.', '-')."},
        BadPattern{"/a/{id",
                   "route pattern \"/a/{id\" has a malformed parameter \"{id\" (write "
                   "{name}, name of letters, digits, '_', '.', '-')."},
        BadPattern{"/a/{i d}",
                   "route pattern \"/a/{i d}\" has a malformed parameter \"{i d}\" "
                   "(write {name}, name of letters, digits, '_', '.', '-')."},
        BadPattern{"/a/x{id}",
                   "route pattern \"/a/x{id}\" mixes braces with text in segment "
                   "\"x{id}\"."}));

}  // namespace
}  // namespace infrared::semantics
