// What the config refuses: values out of range or of the wrong form, unknown
// flags and keys, files that cannot be read, YAML that is not a config; each
// refusal one sentence naming the problem.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "agent/core/config.h"
#include "tests/unit/core/config_test_support.h"

namespace infrared::core {
namespace {

using namespace ::infrared::core::config_test;  // NOLINT(build/namespaces): the shared helpers

struct ValueRow {
  std::string flag;
  std::string value;
  bool valid;
};

TEST(ConfigTest, ValuesAreValidated) {
  const std::vector<ValueRow> rows = {
      {"--web.listen-address", ":9464", true},
      {"--web.listen-address", ":0", true},
      {"--web.listen-address", "0.0.0.0:65535", true},
      {"--web.listen-address", "localhost:80", true},
      {"--web.listen-address", "metrics-1.example.com:9464", true},
      {"--web.listen-address", "[::1]:9464", true},
      {"--web.listen-address", "[::]:9464", true},
      {"--web.listen-address", "[fe80::1%eth0]:9464", true},
      {"--web.listen-address", "", false},
      {"--web.listen-address", "9464", false},
      {"--web.listen-address", ":", false},
      {"--web.listen-address", ":65536", false},
      {"--web.listen-address", ":-1", false},
      {"--web.listen-address", ":80x", false},
      {"--web.listen-address", "::1:9464", false},
      {"--web.listen-address", "[::1]9464", false},
      {"--web.listen-address", "[zz]:9464", false},
      {"--web.listen-address", "999.1.1.1:80", false},
      {"--web.listen-address", "-bad.example:80", false},
      {"--web.listen-address", "two words:80", false},
      {"--log.format", "text", true},
      {"--log.format", "JSON", false},
      {"--log.level", "error", true},
      {"--log.level", "warning", false},
      {"--process.max-processes", "64", true},
      {"--process.max-processes", "4194304", true},
      {"--process.max-processes", "63", false},
      {"--process.max-processes", "4194305", false},
      {"--process.max-processes", "-64", false},
      {"--process.max-processes", "+64", false},
      {"--process.max-processes", "100k", false},
      {"--process.max-processes", "0x100", false},
      {"--process.max-processes", " 100", false},
      {"--process.max-processes", "99999999999999999999999999", false},
      {"--process.events-buffer-bytes", "4096", true},
      {"--process.events-buffer-bytes", "1073741824", true},
      {"--process.events-buffer-bytes", "2048", false},
      {"--process.events-buffer-bytes", "6000", false},
      {"--process.events-buffer-bytes", "2147483648", false},
      {"--process.rescan-interval-seconds", "1", true},
      {"--process.rescan-interval-seconds", "86400", true},
      {"--process.rescan-interval-seconds", "0", false},
      {"--process.rescan-interval-seconds", "86401", false},
      {"--http.enabled", "true", true},
      {"--http.enabled", "false", true},
      {"--http.enabled", "", false},
      {"--http.enabled", "yes", false},
      {"--http.enabled", "1", false},
      {"--http.enabled", "0", false},
      {"--http.enabled", "True", false},
      {"--http.enabled", "FALSE", false},
      {"--http.max-connections", "64", true},
      {"--http.max-connections", "1048576", true},
      {"--http.max-connections", "63", false},
      {"--http.max-connections", "1048577", false},
      {"--http.max-connections", "", false},
      {"--http.connection-idle-seconds", "1", true},
      {"--http.connection-idle-seconds", "86400", true},
      {"--http.connection-idle-seconds", "0", false},
      {"--http.connection-idle-seconds", "86401", false},
      {"--http.route-patterns", "/", true},
      {"--http.route-patterns", "/users/{id}", true},
      {"--http.route-patterns", "/api/*,/users/{id}/orders", true},
      {"--http.route-patterns", "", true},  // an empty list
      {"--http.route-patterns", "users/{id}", false},
      {"--http.route-patterns", "*", false},
      {"--http.route-patterns", " /users", false},
      {"--capture.executables", "nginx", true},
      {"--capture.executables", "python3.12,node,my app", true},
      {"--capture.executables", "", true},  // an empty list: every process
      {"--capture.executables", "/usr/bin/nginx", false},
      {"--capture.executables", "bin/nginx", false},
      {"--capture.bytes-per-call", "0", true},
      {"--capture.bytes-per-call", "131072", true},
      {"--capture.bytes-per-call", "131073", false},
      {"--capture.bytes-per-call", "-1", false},
      {"--capture.events-buffer-bytes", "4096", true},
      {"--capture.events-buffer-bytes", "1073741824", true},
      {"--capture.events-buffer-bytes", "2048", false},
      {"--capture.events-buffer-bytes", "16777215", false},
      {"--capture.events-buffer-bytes", "2147483648", false},
      {"--spans.output", "", true},
      {"--spans.output", "stdout", true},
      {"--spans.output", "/var/log/infrared/spans.jsonl", true},
      {"--spans.output", "relative dir/spans.jsonl", true},
      {"--spans.queue-size", "16", true},
      {"--spans.queue-size", "1048576", true},
      {"--spans.queue-size", "15", false},
      {"--spans.queue-size", "1048577", false},
      {"--otlp.endpoint", "", true},
      {"--otlp.endpoint", "http://tempo:4318", true},
      {"--otlp.endpoint", "HTTPS://10.0.0.1", true},
      {"--otlp.endpoint", "http://[::1]:4318/prefix", true},
      {"--otlp.endpoint", "tempo:4318", false},
      {"--otlp.endpoint", "http://", false},
      {"--otlp.endpoint", "http:///v1", false},
      {"--otlp.endpoint", "http://:4318", false},
      {"--otlp.endpoint", "http://tempo :4318", false},
      {"--otlp.traces-endpoint", "https://collector/v1/traces", true},
      {"--otlp.traces-endpoint", "ftp://collector/v1/traces", false},
      {"--otlp.traces-endpoint", "https://?x", false},
      {"--k8s.api", "http://127.0.0.1:8001", true},
      {"--k8s.api", "https://#", false},
      {"--select.command-lines", "python3 .*agent[.]py", true},
      {"--select.command-lines", "a{12345}", true},
      {"--select.command-lines", "(a)\\1", true},
      {"--select.command-lines", "\\{1234567890}", true},  // an escaped brace is itself
      {"--select.command-lines", "[{123456}]", true},      // so is one in a class
      {"--select.command-lines", "a{2", false},
      {"--select.command-lines", "(", false},
      // Counts and back-references too long for the library to read safely.
      {"--select.command-lines", "a{123456}", false},
      {"--select.command-lines", "a{4444444444444444444444}", false},
      {"--exclude.command-lines", "(a)\\44444444444444444444", false},
  };
  for (const ValueRow& row : rows) {
    ParseResult result = Parse({row.flag + "=" + row.value});
    EXPECT_EQ(result.line.has_value(), row.valid)
        << row.flag << "=" << row.value << ": " << result.error;
    if (!row.valid) {
      EXPECT_NE(result.error.find("\"" + row.value + "\""), std::string::npos) << result.error;
      EXPECT_NE(result.error.find(row.flag), std::string::npos) << result.error;
      EXPECT_NE(result.error.find("expected"), std::string::npos) << result.error;
    }
  }
}

// In YAML, as list flags split at commas.
TEST(ConfigTest, RegexCountsTooLongToReadSafelyAreRefused) {
  Config config;
  std::string error;
  EXPECT_TRUE(
      ApplyYaml("select:\n  command_lines: ['a{2,5}', 'a{1,12345}']\n", "test.yaml", config, error))
      << error;
  EXPECT_FALSE(ApplyYaml("select:\n  command_lines: ['a{1,4444444444444444444444}']\n", "test.yaml",
                         config, error));
  EXPECT_NE(error.find("\"a{1,4444444444444444444444}\""), std::string::npos) << error;
  EXPECT_NE(error.find("select.command_lines"), std::string::npos) << error;
}

struct ErrorRow {
  std::vector<std::string> args;
  std::vector<std::string> mentions;
};

void ExpectCommandLineErrors(const std::vector<ErrorRow>& rows) {
  for (const ErrorRow& row : rows) {
    ParseResult result = Parse(row.args);
    std::string shown = row.args.empty() ? "" : row.args[0];
    EXPECT_FALSE(result.line) << shown;
    ASSERT_FALSE(result.error.empty()) << shown;
    EXPECT_EQ(result.error.back(), '.') << result.error;  // one finished sentence
    EXPECT_EQ(result.error.find('\n'), std::string::npos) << result.error;
    for (const std::string& mention : row.mentions) {
      EXPECT_NE(result.error.find(mention), std::string::npos)
          << shown << ": \"" << result.error << "\" should mention " << mention;
    }
  }
}

TEST(ConfigTest, CommandLineErrorsAreSentencesNamingTheProblem) {
  ExpectCommandLineErrors({
      {{"--nope"}, {"Unknown flag --nope", "--help"}},
      {{"--listen-address=:1"}, {"--listen-address", "did you mean --web.listen-address"}},
      {{"--log.levle=info"}, {"--log.levle", "did you mean --log.level"}},
      {{"-x"}, {"Unknown flag -x"}},
      {{"--log.level"}, {"--log.level", "needs a value"}},
      {{"--log.level", "--log.format=json"}, {"--log.level", "needs a value"}},
      {{"--config"}, {"--config", "needs a value"}},
      {{"--config="}, {"--config", "file path"}},
      {{"--help=yes"}, {"--help", "does not take a value"}},
      {{"extra"}, {"\"extra\"", "only flags"}},
      {{"--log.level=info", "more"}, {"\"more\""}},
      {{"--config=/nonexistent/infrared.yaml"},
       {"/nonexistent/infrared.yaml", "No such file or directory"}},
      {{"--config=a.yaml", "--config=b.yaml"}, {"--config", "twice"}},
      {{"--http.enabled"}, {"--http.enabled", "needs a value", "--http.enabled=false"}},
      {{"--http.route-patterns"},
       {"--http.route-patterns", "needs a value", "--http.route-patterns=/users/{id},/api/*"}},
      {{"--capture.executables", "--http.enabled=true"},
       {"--capture.executables", "needs a value", "--capture.executables=nginx,python3"}},
      {{"--spans.output"}, {"--spans.output", "needs a value", "--spans.output=stdout"}},
      {{"--spans.queue-size"}, {"--spans.queue-size", "needs a value", "=8192"}},
      {{"--capture.executable=nginx"}, {"did you mean --capture.executables"}},
      {{"--http.route-pattern=/a"}, {"did you mean --http.route-patterns"}},
      {{"--queue-size=16"}, {"did you mean --spans.queue-size"}},
  });
}

TEST(ConfigTest, ListErrorsQuoteTheBadElement) {
  ExpectCommandLineErrors({
      {{"--http.route-patterns=/users/{id},api/*"},
       {"\"api/*\"", "--http.route-patterns", "expected", "starting with '/'"}},
      {{"--http.route-patterns=/a,,/b"}, {"\"\"", "--http.route-patterns"}},
      {{"--http.route-patterns", "/a,"}, {"\"\"", "--http.route-patterns"}},
      {{"--capture.executables=nginx", "--capture.executables=/usr/bin/python3"},
       {"\"/usr/bin/python3\"", "--capture.executables", "without '/'"}},
      {{"--capture.executables=,nginx"}, {"\"\"", "--capture.executables", "non-empty"}},
  });
}

TEST(ConfigTest, DirectoryAsConfigFileIsReported) {
  char name[] = "/tmp/infrared_config_dir_XXXXXX";
  ASSERT_NE(mkdtemp(name), nullptr);
  ParseResult result = Parse({"--config", name});
  rmdir(name);
  EXPECT_FALSE(result.line);
  EXPECT_NE(result.error.find(name), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("Is a directory"), std::string::npos) << result.error;
}

// Read up to a bound, not until memory runs out.
TEST(ConfigTest, EndlessConfigFileIsReported) {
  ParseResult result = Parse({"--config", "/dev/zero"});
  EXPECT_FALSE(result.line);
  EXPECT_EQ(result.error,
            "Cannot read config file /dev/zero: larger than 4 MiB; check the --config path.");
}

TEST(ConfigTest, BadConfigFileFailsTheCommandLine) {
  TempFile file("log:\n  level: loud\n");
  ParseResult result = Parse({"--config", file.path()});
  EXPECT_FALSE(result.line);
  EXPECT_NE(result.error.find(file.path()), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("\"loud\""), std::string::npos) << result.error;
}

// What the operator typed is echoed as typed, but a line break or a byte that
// is not UTF-8 must not split or garble the one-line message, and a long value
// is quoted only in part.
TEST(ConfigTest, OperatorTextInErrorsStaysOnOnePrintableLine) {
  struct Row {
    std::vector<std::string> args;
    std::string mention;
  };
  const std::vector<Row> rows = {
      {{"--log.level=loud\nquiet"}, "Invalid value \"loud?quiet\" for --log.level"},
      {{"--no\nsuch-flag"}, "Unknown flag --no?such-flag;"},
      {{"stray\targument"}, "Unexpected argument \"stray?argument\""},
      {{"--config", "/tmp/no\nsuch\rfile"}, "config file /tmp/no?such?file: No such file"},
      {{"--log.level=\xff\xfe"}, "Invalid value \"\xEF\xBF\xBD\xEF\xBF\xBD\""},
      {{"--log.level=" + std::string(118, 'x') + "\xC3\xA9" + std::string(500, 'y')},
       "Invalid value \"" + std::string(118, 'x') + "\xC3\xA9...\" for --log.level"},
      // Cut before the two-byte character rather than inside it.
      {{"--log.level=" + std::string(119, 'x') + "\xC3\xA9" + std::string(500, 'y')},
       "Invalid value \"" + std::string(119, 'x') + "...\" for --log.level"},
  };
  for (const Row& row : rows) {
    ParseResult result = Parse(row.args);
    EXPECT_FALSE(result.line) << row.args[0];
    EXPECT_NE(result.error.find(row.mention), std::string::npos)
        << "error \"" << result.error << "\" should mention " << row.mention;
    for (char c : result.error) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_FALSE(byte < 0x20 || byte == 0x7f) << result.error;
    }
    EXPECT_LT(result.error.size(), 300u) << result.error;
  }
}

struct YamlErrorRow {
  std::string yaml;
  std::vector<std::string> mentions;
};

TEST(ConfigTest, YamlErrorsAreSentencesNamingTheProblem) {
  const std::vector<YamlErrorRow> rows = {
      {"web: [\n", {"test.yaml", "not valid YAML", "line"}},
      {"log:\n  level: debug\n   format: [json\n", {"test.yaml", "not valid YAML", "line 3"}},
      {"nope: 1\n", {"Unknown key \"nope\"", "test.yaml", "line 1"}},
      {"web:\n  listen_adress: ':1'\n",
       {"\"web.listen_adress\"", "did you mean web.listen_address"}},
      {"\"web.nope\": 1\n", {"\"web.nope\"", "test.yaml"}},
      {"web: ':9464'\n", {"web", "test.yaml", "must be a map"}},
      {"log:\n  level: {a: 1}\n", {"log.level", "line 2", "a map", "expected debug, info"}},
      {"log:\n  level: [debug]\n", {"log.level", "a list"}},
      {"log:\n  level:\n", {"log.level", "has no value"}},
      {"- a\n- b\n", {"test.yaml", "a list"}},
      {"just a string\n", {"test.yaml", "a single value"}},
      {"process:\n  max_processes: 12\n",
       {"\"12\"", "process.max_processes", "line 2", "64 to 4194304"}},
      {"? [a]\n: 1\n", {"test.yaml", "plain names"}},
      {"http:\n  enabled: yes\n", {"\"yes\"", "http.enabled", "line 2", "true or false"}},
      {"http:\n  enabled: 1\n", {"\"1\"", "http.enabled", "true or false"}},
      {"http:\n  enabled:\n", {"http.enabled", "has no value"}},
      {"http:\n  max_connections: 63\n", {"\"63\"", "http.max_connections", "64 to 1048576"}},
      {"http:\n  route_patterns:\n    - /a\n    - users\n",
       {"\"users\"", "http.route_patterns", "line 4", "starting with '/'"}},
      {"http:\n  route_patterns: users\n", {"\"users\"", "http.route_patterns", "line 2"}},
      {"http:\n  route_patterns: [/a, \"\"]\n", {"\"\"", "http.route_patterns"}},
      {"http:\n  route_patterns:\n    - /a\n    - [/b]\n",
       {"Element 2", "http.route_patterns", "line 4", "a list", "expected"}},
      {"http:\n  route_patterns: [{a: 1}]\n", {"Element 1", "a map"}},
      {"http:\n  route_patterns: {a: 1}\n",
       {"http.route_patterns", "line 2", "must be a list or a single value", "a map"}},
      {"http:\n  route_patterns:\n", {"http.route_patterns", "has no value"}},
      {"http:\n  route_pattern: [/a]\n", {"did you mean http.route_patterns"}},
      {"capture:\n  executables: [nginx, /usr/bin/curl]\n",
       {"\"/usr/bin/curl\"", "capture.executables", "line 2", "without '/'"}},
      {"capture:\n  bytes_per_call: 200000\n", {"\"200000\"", "capture.bytes_per_call"}},
      {"capture:\n  events_buffer_bytes: 5000\n", {"\"5000\"", "a power of two"}},
      {"spans:\n  output: [stdout]\n", {"spans.output", "a list"}},
      {"spans:\n  queue_size: 8\n", {"\"8\"", "spans.queue_size", "16 to 1048576"}},
      {"spans: stdout\n", {"spans", "must be a map"}},
      // Far longer than any key (YAML allows 1024 characters): no suggestion,
      // nor a quadratic search for one.
      {"web:\n  " + std::string(1000, 'l') + ": 1\n",
       {"Unknown key", "line 2", "run infrared --help"}},
      {"web:\n  listen_address_: 1\n", {"did you mean web.listen_address"}},
  };
  for (const YamlErrorRow& row : rows) {
    Config config;
    std::string error;
    EXPECT_FALSE(ApplyYaml(row.yaml, "test.yaml", config, error)) << row.yaml;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    for (const std::string& mention : row.mentions) {
      EXPECT_NE(error.find(mention), std::string::npos)
          << row.yaml << "\nerror \"" << error << "\" should mention " << mention;
    }
  }
}

TEST(ConfigTest, YamlWithAnErrorChangesNothing) {
  Config config;
  std::string error;
  EXPECT_FALSE(ApplyYaml("log:\n  level: debug\n  format: xml\n", "test.yaml", config, error));
  EXPECT_EQ(config.log_level, "info");
  EXPECT_FALSE(
      ApplyYaml("http:\n  route_patterns: [/a]\n  enabled: no\n", "test.yaml", config, error));
  EXPECT_TRUE(config.http_route_patterns.empty());
  EXPECT_TRUE(config.http_enabled);
}

}  // namespace
}  // namespace infrared::core
