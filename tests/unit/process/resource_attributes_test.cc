#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "agent/process/proc_reader.h"

namespace infrared::process {
namespace {

using namespace std::string_view_literals;

TEST(ResourceAttributesTest, ParsesPairsAndPercentDecodes) {
  ResourceAttributes parsed =
      ParseResourceAttributes(" service.name = api ,deployment.environment=prod%2Ceu,bad,=x,k=");
  ResourceAttributes expected = {
      {"service.name", "api"}, {"deployment.environment", "prod,eu"}, {"k", ""}};
  EXPECT_EQ(parsed, expected);
}

TEST(ResourceAttributesTest, BoundsCountAndSize) {
  std::string many;
  for (int i = 0; i < 100; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_EQ(ParseResourceAttributes(many).size(), 32u);
  EXPECT_TRUE(ParseResourceAttributes("k=" + std::string(300, 'x')).empty());
  EXPECT_EQ(ParseResourceAttributes("k=%zz%4").at(0).second, "%zz%4");  // not escapes: kept
}

TEST(ResourceAttributesTest, ServiceNameFromEnvironPrefersOtelServiceName) {
  struct Case {
    std::string_view environ;
    std::optional<std::string> service;
    std::size_t attributes;
  };
  const Case cases[] = {
      {"OTEL_SERVICE_NAME=a\0OTEL_RESOURCE_ATTRIBUTES=service.name=b,team=x\0"sv, "a", 2},
      {"OTEL_RESOURCE_ATTRIBUTES=service.name=b,team=x\0"sv, "b", 2},
      {"OTEL_SERVICE_NAME=\0OTEL_RESOURCE_ATTRIBUTES=team=x\0"sv, std::nullopt, 1},
      {"PATH=/bin\0"sv, std::nullopt, 0},
  };
  for (const Case& c : cases) {
    ProcIdentity identity = IdentityFromEnviron(c.environ);
    EXPECT_EQ(identity.service_name, c.service);
    EXPECT_EQ(identity.resource_attributes.size(), c.attributes);
  }
}

}  // namespace
}  // namespace infrared::process

namespace infrared::process {
namespace {

TEST(RedactCommandLineTest, HidesWhatLooksLikeASecret) {
  struct Case {
    std::vector<std::string_view> arguments;
    std::string expected;
  };
  const Case cases[] = {
      {{"curl", "-H", "Authorization: Bearer sk-123", "http://x"},
       "curl -H Authorization:[REDACTED] http://x"},
      {{"app", "--api-key=abc", "--port=80"}, "app --api-key=[REDACTED] --port=80"},
      {{"app", "--token", "abc", "serve"}, "app --token [REDACTED] serve"},
      {{"psql", "PASSWORD=hunter2"}, "psql PASSWORD=[REDACTED]"},
      {{"app", "mysecretvalue"}, "app [REDACTED]"},
      {{"nginx", "-g", "daemon off;"}, "nginx -g daemon off;"},
      {{}, ""},
  };
  for (const Case& c : cases) EXPECT_EQ(RedactCommandLine(c.arguments), c.expected);
}

}  // namespace
}  // namespace infrared::process
