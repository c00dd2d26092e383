#include "exporters/otlp/env_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace infrared::otlp {
namespace {

using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Applies `env` to default settings; returns the error, empty on success.
std::string Apply(const Env& env, OtlpSettings& settings) {
  std::string error;
  const bool ok = ApplyOtelEnvironment(
      [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      settings, error);
  EXPECT_EQ(ok, error.empty()) << error;
  return error;
}

TEST(EnvConfigTest, NothingSetLeavesTheDefaults) {
  OtlpSettings settings;
  EXPECT_EQ(Apply({}, settings), "");
  EXPECT_EQ(settings.endpoint, "");
  EXPECT_EQ(settings.traces_endpoint, "");
  EXPECT_TRUE(settings.headers.empty());
  EXPECT_EQ(settings.timeout, 10000ms);
  EXPECT_EQ(settings.compression, "");
  EXPECT_EQ(settings.protocol, "http/protobuf");
  EXPECT_EQ(settings.ca_file, "");
  EXPECT_EQ(TracesUrl(settings), "");
}

TEST(EnvConfigTest, EachVariableSetsItsField) {
  struct Case {
    Env env;
    std::function<void(const OtlpSettings&)> check;
  };
  const std::vector<Case> cases = {
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.endpoint, "http://collector:4318"); }},
      {{{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://tempo/otlp/v1/traces"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.traces_endpoint, "https://tempo/otlp/v1/traces"); }},
      {{{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc,tenant=t1"}},
       [](const OtlpSettings& s) {
         EXPECT_EQ(s.headers, (Headers{{"api-key", "abc"}, {"tenant", "t1"}}));
       }},
      {{{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x=1"}},
       [](const OtlpSettings& s) {
         EXPECT_EQ(s.headers, (Headers{{"x", "1"}}));
       }},
      {{{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.timeout, 2500ms); }},
      {{{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "750"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.timeout, 750ms); }},
      {{{"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.compression, "gzip"); }},
      {{{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "NONE"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.compression, "none"); }},
      {{{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.protocol, "http/protobuf"); }},
      {{{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "HTTP/Protobuf"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.protocol, "http/protobuf"); }},
      {{{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ssl/ca.pem"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.ca_file, "/etc/ssl/ca.pem"); }},
      {{{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/run/ca.pem"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.ca_file, "/run/ca.pem"); }},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "  http://padded:4318 \n"}},
       [](const OtlpSettings& s) { EXPECT_EQ(s.endpoint, "http://padded:4318"); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.env.begin()->first + "=" + c.env.begin()->second);
    OtlpSettings settings;
    ASSERT_EQ(Apply(c.env, settings), "");
    c.check(settings);
  }
}

TEST(EnvConfigTest, SignalSpecificWinsOverGeneric) {
  OtlpSettings settings;
  ASSERT_EQ(Apply({{"OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2"},
                   {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "c=3"},
                   {"OTEL_EXPORTER_OTLP_TIMEOUT", "1000"},
                   {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2000"},
                   {"OTEL_EXPORTER_OTLP_COMPRESSION", "none"},
                   {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"},
                   {"OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic.pem"},
                   {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/traces.pem"},
                   {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"},
                   {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom"}},
                  settings),
            "");
  EXPECT_EQ(settings.headers, (Headers{{"c", "3"}}));  // replaced, not merged
  EXPECT_EQ(settings.timeout, 2000ms);
  EXPECT_EQ(settings.compression, "gzip");
  EXPECT_EQ(settings.ca_file, "/traces.pem");
  EXPECT_EQ(TracesUrl(settings), "http://traces:9999/custom");
}

TEST(EnvConfigTest, EmptyValuesCountAsUnset) {
  OtlpSettings settings;
  settings.endpoint = "http://from-config:4318";
  settings.timeout = 1234ms;
  ASSERT_EQ(Apply({{"OTEL_EXPORTER_OTLP_ENDPOINT", ""},
                   {"OTEL_EXPORTER_OTLP_TIMEOUT", "  "},
                   {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", ""},
                   {"OTEL_EXPORTER_OTLP_PROTOCOL", ""}},
                  settings),
            "");
  EXPECT_EQ(settings.endpoint, "http://from-config:4318");
  EXPECT_EQ(settings.timeout, 1234ms);
  // An empty signal-specific value does not hide a set generic one.
  ASSERT_EQ(Apply({{"OTEL_EXPORTER_OTLP_TIMEOUT", "99"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", ""}},
                  settings),
            "");
  EXPECT_EQ(settings.timeout, 99ms);
}

TEST(EnvConfigTest, HeadersAreTrimmedAndPercentDecoded) {
  struct Case {
    std::string value;
    Headers expected;
  };
  const std::vector<Case> cases = {
      {"Authorization=Basic%20dXNlcjpwYXNz", {{"Authorization", "Basic dXNlcjpwYXNz"}}},
      {" a = 1 , b=2 ", {{"a", "1"}, {"b", "2"}}},
      {"a=1,,b=2,", {{"a", "1"}, {"b", "2"}}},
      {"token=abc+def/==", {{"token", "abc+def/=="}}},  // '+' stays, '=' after the first is data
      {"x-list=a%2Cb%3Dc%25", {{"x-list", "a,b=c%"}}},
      {"empty=", {{"empty", ""}}},
      {"my%2Dkey=v", {{"my-key", "v"}}},
      {"utf8=caf%C3%A9", {{"utf8", "caf\xC3\xA9"}}},
      {"dup=1,dup=2", {{"dup", "1"}, {"dup", "2"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    OtlpSettings settings;
    ASSERT_EQ(Apply({{"OTEL_EXPORTER_OTLP_HEADERS", c.value}}, settings), "");
    EXPECT_EQ(settings.headers, c.expected);
  }
}

TEST(EnvConfigTest, TracesUrlIsBuiltFromTheBaseEndpoint) {
  struct Case {
    std::string endpoint;
    std::string traces_endpoint;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"http://localhost:4318", "", "http://localhost:4318/v1/traces"},
      {"http://localhost:4318/", "", "http://localhost:4318/v1/traces"},
      {"https://otel.example.com/prefix", "", "https://otel.example.com/prefix/v1/traces"},
      {"https://otel.example.com/prefix//", "", "https://otel.example.com/prefix/v1/traces"},
      {"http://ignored:4318", "http://exact:4318/traces", "http://exact:4318/traces"},
      {"", "http://exact:4318/", "http://exact:4318/"},  // as-is, no path added
      {"", "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.endpoint + " | " + c.traces_endpoint);
    OtlpSettings settings;
    settings.endpoint = c.endpoint;
    settings.traces_endpoint = c.traces_endpoint;
    EXPECT_EQ(TracesUrl(settings), c.expected);
  }
}

TEST(EnvConfigTest, InvalidValuesAreOneSentenceNamingTheVariable) {
  struct Case {
    std::string name;
    std::string value;
    std::string expected_error;
  };
  const std::vector<Case> cases = {
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318",
       "OTEL_EXPORTER_OTLP_ENDPOINT is \"localhost:4318\", but it must be an http:// or https:// "
       "URL naming a host, such as http://localhost:4318."},
      {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://",
       "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is \"http://\", but it must be an http:// or https:// "
       "URL naming a host, such as http://localhost:4318."},
      // Found by otlp_env_fuzz: a base URL of slashes only made the traces URL http:/v1/traces.
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http:////",
       "OTEL_EXPORTER_OTLP_ENDPOINT is \"http:////\", but it must be an http:// or https:// "
       "URL naming a host, such as http://localhost:4318."},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "10s",
       "OTEL_EXPORTER_OTLP_TIMEOUT is \"10s\", but it must be a whole number of milliseconds "
       "from 1 to 3600000."},
      {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0",
       "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT is \"0\", but it must be a whole number of "
       "milliseconds from 1 to 3600000."},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999999999999999",
       "OTEL_EXPORTER_OTLP_TIMEOUT is \"99999999999999999999999\", but it must be a whole number "
       "of milliseconds from 1 to 3600000."},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "-5",
       "OTEL_EXPORTER_OTLP_TIMEOUT is \"-5\", but it must be a whole number of milliseconds "
       "from 1 to 3600000."},
      {"OTEL_EXPORTER_OTLP_COMPRESSION", "br",
       "OTEL_EXPORTER_OTLP_COMPRESSION is \"br\", but only gzip and none are accepted."},
      {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd",
       "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION is \"zstd\", but only gzip and none are accepted."},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
       "OTEL_EXPORTER_OTLP_PROTOCOL is \"grpc\", but infrared only supports http/protobuf; set it "
       "to http/protobuf or leave it unset."},
      {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json",
       "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL is \"http/json\", but infrared only supports "
       "http/protobuf; set it to http/protobuf or leave it unset."},
      {"OTEL_EXPORTER_OTLP_HEADERS", "a=1,Bearer secret-token",
       "OTEL_EXPORTER_OTLP_HEADERS entry 2 has no '=', but it must be a comma-separated list of "
       "key=value pairs such as api-key=secret,tenant=a, with keys and values URL-encoded."},
      {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=value",
       "OTEL_EXPORTER_OTLP_TRACES_HEADERS entry 1 has an invalid key, but it must be a "
       "comma-separated list of key=value pairs such as api-key=secret,tenant=a, with keys and "
       "values URL-encoded."},
      {"OTEL_EXPORTER_OTLP_HEADERS", "bad key=1",
       "OTEL_EXPORTER_OTLP_HEADERS entry 1 has an invalid key, but it must be a comma-separated "
       "list of key=value pairs such as api-key=secret,tenant=a, with keys and values "
       "URL-encoded."},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + "=" + c.value);
    OtlpSettings settings;
    EXPECT_EQ(Apply({{c.name, c.value}}, settings), c.expected_error);
  }
}

TEST(EnvConfigTest, BadHeaderValuesAreRejectedWithoutEchoingThem) {
  for (const std::string value :
       {"auth=100%", "auth=%zz", "auth=%4", "auth=line%0Abreak", "auth=nul%00"}) {
    SCOPED_TRACE(value);
    OtlpSettings settings;
    const std::string error = Apply({{"OTEL_EXPORTER_OTLP_HEADERS", value}}, settings);
    EXPECT_NE(error.find("OTEL_EXPORTER_OTLP_HEADERS has an invalid value for \"auth\""),
              std::string::npos)
        << error;
    EXPECT_EQ(error.find(value.substr(5)), std::string::npos) << error;
  }
}

TEST(EnvConfigTest, AnErrorLeavesTheSettingsUntouched) {
  OtlpSettings settings;
  settings.endpoint = "http://before:4318";
  const std::string error = Apply({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://after:4318"},
                                   {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}},
                                  settings);
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(settings.endpoint, "http://before:4318");
}

TEST(EnvConfigTest, SignalSpecificErrorIsReportedEvenWhenGenericIsValid) {
  OtlpSettings settings;
  const std::string error = Apply({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                                   {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"}},
                                  settings);
  EXPECT_EQ(error.rfind("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL is \"grpc\"", 0), 0u) << error;
}

}  // namespace
}  // namespace infrared::otlp
