#include "agent/core/listen_address.h"

#include <gtest/gtest.h>

namespace infrared::core {
namespace {

struct Case {
  const char* text;
  bool valid;
  const char* host;
  int port;
};

TEST(ListenAddressTest, ParsesTheFormsTheAgentAccepts) {
  const Case cases[] = {
      {":9464", true, "", 9464},
      {"127.0.0.1:0", true, "127.0.0.1", 0},
      {"localhost:80", true, "localhost", 80},
      {"[::1]:9464", true, "::1", 9464},
      {"[fe80::1%eth0]:1", true, "fe80::1%eth0", 1},
      {"0.0.0.0:65535", true, "0.0.0.0", 65535},
      {"9464", false, "", 0},
      {"::1:9464", false, "", 0},
      {":65536", false, "", 0},
      {":-1", false, "", 0},
      {":", false, "", 0},
      {"host:80x", false, "", 0},
      {"256.1.1.1:80", false, "", 0},
      {"[::1]9464", false, "", 0},
      {"-bad-.example:80", false, "", 0},
      {"", false, "", 0},
  };
  for (const Case& c : cases) {
    std::optional<ListenAddress> parsed = ParseListenAddress(c.text);
    ASSERT_EQ(parsed.has_value(), c.valid) << c.text;
    if (!c.valid) continue;
    EXPECT_EQ(parsed->host, c.host) << c.text;
    EXPECT_EQ(parsed->port, c.port) << c.text;
  }
}

}  // namespace
}  // namespace infrared::core
