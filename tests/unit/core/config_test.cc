#include "agent/core/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/core/config_test_support.h"

namespace infrared::core {
namespace {

using namespace ::infrared::core::config_test;  // NOLINT(build/namespaces): the shared helpers

// A list field as one string, elements joined by ',' ("" when empty).
std::string Joined(const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ",") + item;
  return joined;
}

// Reads a field by its config key, written independently of config.cc's table.
std::string FieldOf(const Config& config, const std::string& key) {
  if (key == "web.listen_address") return config.web_listen_address;
  if (key == "metrics.series_idle_seconds") return std::to_string(config.metrics_series_idle_seconds);
  if (key == "log.format") return config.log_format;
  if (key == "log.level") return config.log_level;
  if (key == "process.max_processes") return std::to_string(config.process_max_processes);
  if (key == "process.events_buffer_bytes")
    return std::to_string(config.process_events_buffer_bytes);
  if (key == "process.rescan_interval_seconds") {
    return std::to_string(config.process_rescan_interval_seconds);
  }
  if (key == "k8s.pod_logs_dir") return config.k8s_pod_logs_dir;
  if (key == "k8s.container_logs_dir") return config.k8s_container_logs_dir;
  if (key == "k8s.api") return config.k8s_api;
  if (key == "k8s.token_file") return config.k8s_token_file;
  if (key == "k8s.ca_file") return config.k8s_ca_file;
  if (key == "k8s.node_name") return config.k8s_node_name;
  if (key == "select.executables") return Joined(config.select_executables);
  if (key == "select.command_lines") return Joined(config.select_command_lines);
  if (key == "select.containers") return Joined(config.select_containers);
  if (key == "select.k8s_namespaces") return Joined(config.select_k8s_namespaces);
  if (key == "select.k8s_pod_labels") return Joined(config.select_k8s_pod_labels);
  if (key == "select.llm_only") return config.select_llm_only ? "true" : "false";
  if (key == "exclude.executables") return Joined(config.exclude_executables);
  if (key == "exclude.command_lines") return Joined(config.exclude_command_lines);
  if (key == "exclude.containers") return Joined(config.exclude_containers);
  if (key == "exclude.k8s_namespaces") return Joined(config.exclude_k8s_namespaces);
  if (key == "exclude.k8s_pod_labels") return Joined(config.exclude_k8s_pod_labels);
  if (key == "tcp.enabled") return config.tcp_enabled ? "true" : "false";
  if (key == "http.enabled") return config.http_enabled ? "true" : "false";
  if (key == "http.tls") return config.http_tls ? "true" : "false";
  if (key == "http.max_connections") return std::to_string(config.http_max_connections);
  if (key == "http.connection_idle_seconds") {
    return std::to_string(config.http_connection_idle_seconds);
  }
  if (key == "http.route_patterns") return Joined(config.http_route_patterns);
  if (key == "capture.executables") return Joined(config.capture_executables);
  if (key == "capture.bytes_per_call") return std::to_string(config.capture_bytes_per_call);
  if (key == "capture.events_buffer_bytes") {
    return std::to_string(config.capture_events_buffer_bytes);
  }
  if (key == "capture.content") return config.capture_content ? "true" : "false";
  if (key == "capture.content_max_bytes") return std::to_string(config.capture_content_max_bytes);
  if (key == "genai.enabled") return config.genai_enabled ? "true" : "false";
  if (key == "genai.max_body_bytes") return std::to_string(config.genai_max_body_bytes);
  if (key == "genai.prices_file") return config.genai_prices_file;
  if (key == "genai.bytes_per_call") return std::to_string(config.genai_bytes_per_call);
  if (key == "genai.gateways") return Joined(config.genai_gateways);
  if (key == "spans.output") return config.spans_output;
  if (key == "spans.queue_size") return std::to_string(config.spans_queue_size);
  if (key == "otlp.endpoint") return config.otlp_endpoint;
  if (key == "otlp.traces_endpoint") return config.otlp_traces_endpoint;
  if (key == "otlp.headers") return Joined(config.otlp_headers);
  if (key == "otlp.timeout_ms") return std::to_string(config.otlp_timeout_ms);
  if (key == "otlp.compression") return config.otlp_compression;
  if (key == "otlp.ca_file") return config.otlp_ca_file;
  if (key == "otlp.queue_size") return std::to_string(config.otlp_queue_size);
  if (key == "otlp.max_batch") return std::to_string(config.otlp_max_batch);
  if (key == "otlp.max_delay_ms") return std::to_string(config.otlp_max_delay_ms);
  ADD_FAILURE() << "test does not know key " << key;
  return "";
}

struct KeyRow {
  std::string key;
  std::string dashed_flag;
  std::string underscored_flag;
  std::string default_value;  // as FieldOf reads it; --help shows "" as "none"
  std::string sample_value;   // valid and different from the default
};

const std::vector<KeyRow> kKeyRows = {
    {"web.listen_address", "--web.listen-address", "--web.listen_address", ":9464",
     "127.0.0.1:9100"},
    {"metrics.series_idle_seconds", "--metrics.series-idle-seconds",
     "--metrics.series_idle_seconds", "3600", "0"},
    {"log.format", "--log.format", "--log.format", "json", "text"},
    {"log.level", "--log.level", "--log.level", "info", "debug"},
    {"process.max_processes", "--process.max-processes", "--process.max_processes", "32768",
     "1024"},
    {"process.events_buffer_bytes", "--process.events-buffer-bytes",
     "--process.events_buffer_bytes", "4194304", "65536"},
    {"process.rescan_interval_seconds", "--process.rescan-interval-seconds",
     "--process.rescan_interval_seconds", "30", "5"},
    {"k8s.pod_logs_dir", "--k8s.pod-logs-dir", "--k8s.pod_logs_dir", "/var/log/pods",
     "/host/var/log/pods"},
    {"k8s.container_logs_dir", "--k8s.container-logs-dir", "--k8s.container_logs_dir",
     "/var/log/containers", "/host/var/log/containers"},
    {"k8s.api", "--k8s.api", "--k8s.api", "auto", "https://10.96.0.1:443"},
    {"k8s.token_file", "--k8s.token-file", "--k8s.token_file",
     "/var/run/secrets/kubernetes.io/serviceaccount/token", "/etc/token"},
    {"k8s.ca_file", "--k8s.ca-file", "--k8s.ca_file",
     "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "/etc/ca.crt"},
    {"k8s.node_name", "--k8s.node-name", "--k8s.node_name", "", "node-1"},
    {"select.executables", "--select.executables", "--select.executables", "", "python*,node"},
    {"select.command_lines", "--select.command-lines", "--select.command_lines", "",
     "agent\\.py"},
    {"select.containers", "--select.containers", "--select.containers", "", "worker"},
    {"select.k8s_namespaces", "--select.k8s-namespaces", "--select.k8s_namespaces", "", "agents"},
    {"select.k8s_pod_labels", "--select.k8s-pod-labels", "--select.k8s_pod_labels", "",
     "app=chatbot"},
    {"select.llm_only", "--select.llm-only", "--select.llm_only", "false", "true"},
    {"exclude.executables", "--exclude.executables", "--exclude.executables", "", "sshd"},
    {"exclude.command_lines", "--exclude.command-lines", "--exclude.command_lines", "",
     "healthcheck$"},
    {"exclude.containers", "--exclude.containers", "--exclude.containers", "", "istio-proxy"},
    {"exclude.k8s_namespaces", "--exclude.k8s-namespaces", "--exclude.k8s_namespaces", "",
     "kube-system"},
    {"exclude.k8s_pod_labels", "--exclude.k8s-pod-labels", "--exclude.k8s_pod_labels", "",
     "infrared.io/ignore=true"},
    {"tcp.enabled", "--tcp.enabled", "--tcp.enabled", "true", "false"},
    {"http.enabled", "--http.enabled", "--http.enabled", "true", "false"},
    {"http.tls", "--http.tls", "--http.tls", "true", "false"},
    {"http.max_connections", "--http.max-connections", "--http.max_connections", "16384", "128"},
    {"http.connection_idle_seconds", "--http.connection-idle-seconds",
     "--http.connection_idle_seconds", "300", "60"},
    {"http.route_patterns", "--http.route-patterns", "--http.route_patterns", "",
     "/users/{id},/api/*"},
    {"capture.executables", "--capture.executables", "--capture.executables", "", "nginx,python3"},
    {"capture.bytes_per_call", "--capture.bytes-per-call", "--capture.bytes_per_call", "16384",
     "0"},
    {"capture.events_buffer_bytes", "--capture.events-buffer-bytes",
     "--capture.events_buffer_bytes", "8388608", "65536"},
    {"capture.content", "--capture.content", "--capture.content", "false", "true"},
    {"capture.content_max_bytes", "--capture.content-max-bytes", "--capture.content_max_bytes",
     "8192", "100"},
    {"genai.enabled", "--genai.enabled", "--genai.enabled", "true", "false"},
    {"genai.max_body_bytes", "--genai.max-body-bytes", "--genai.max_body_bytes", "1048576",
     "65536"},
    {"genai.bytes_per_call", "--genai.bytes-per-call", "--genai.bytes_per_call", "131072",
     "4096"},
    {"genai.prices_file", "--genai.prices-file", "--genai.prices_file", "", "/etc/prices.yaml"},
    {"genai.gateways", "--genai.gateways", "--genai.gateways", "", "llm.internal=litellm"},
    {"spans.output", "--spans.output", "--spans.output", "", "stdout"},
    {"spans.queue_size", "--spans.queue-size", "--spans.queue_size", "8192", "16"},
    {"otlp.endpoint", "--otlp.endpoint", "--otlp.endpoint", "", "http://localhost:4318"},
    {"otlp.traces_endpoint", "--otlp.traces-endpoint", "--otlp.traces_endpoint", "",
     "http://localhost:4318/v1/traces"},
    {"otlp.headers", "--otlp.headers", "--otlp.headers", "", "a=1,b=2"},
    {"otlp.timeout_ms", "--otlp.timeout-ms", "--otlp.timeout_ms", "0", "2500"},
    {"otlp.compression", "--otlp.compression", "--otlp.compression", "", "gzip"},
    {"otlp.ca_file", "--otlp.ca-file", "--otlp.ca_file", "", "/etc/ssl/ca.pem"},
    {"otlp.queue_size", "--otlp.queue-size", "--otlp.queue_size", "16384", "32"},
    {"otlp.max_batch", "--otlp.max-batch", "--otlp.max_batch", "512", "64"},
    {"otlp.max_delay_ms", "--otlp.max-delay-ms", "--otlp.max_delay_ms", "5000", "100"},
};

TEST(ConfigTest, NoArgumentsGivesDefaults) {
  ParseResult result = Parse({});
  ASSERT_TRUE(result.line) << result.error;
  EXPECT_FALSE(result.line->show_help);
  EXPECT_FALSE(result.line->show_version);
  EXPECT_EQ(result.line->config_path, "");
  for (const KeyRow& row : kKeyRows) {
    EXPECT_EQ(FieldOf(result.line->config, row.key), row.default_value) << row.key;
  }
}

TEST(ConfigTest, EveryFlagInBothSpellingsAndBothForms) {
  for (const KeyRow& row : kKeyRows) {
    for (const std::string& flag : {row.dashed_flag, row.underscored_flag}) {
      std::vector<std::vector<std::string>> forms = {{flag + "=" + row.sample_value},
                                                     {flag, row.sample_value}};
      for (const auto& args : forms) {
        ParseResult result = Parse(args);
        ASSERT_TRUE(result.line) << flag << ": " << result.error;
        EXPECT_EQ(FieldOf(result.line->config, row.key), row.sample_value) << flag;
      }
    }
  }
}

TEST(ConfigTest, HelpAndVersionFlags) {
  EXPECT_TRUE(Parse({"--help"}).line->show_help);
  EXPECT_TRUE(Parse({"-h"}).line->show_help);
  EXPECT_TRUE(Parse({"--version"}).line->show_version);
  EXPECT_FALSE(Parse({"--version"}).line->show_help);
}

TEST(ConfigTest, HelpDoesNotNeedAReadableConfigFile) {
  ParseResult result = Parse({"--config=/nonexistent/infrared.yaml", "--help"});
  ASSERT_TRUE(result.line) << result.error;
  EXPECT_TRUE(result.line->show_help);
}

TEST(ConfigTest, FlagsOverrideFileWhateverTheOrder) {
  TempFile file("log:\n  level: debug\n  format: text\nprocess:\n  max_processes: 1024\n");
  std::vector<std::vector<std::string>> orders = {
      {"--log.level=warn", "--config", file.path()},
      {"--config", file.path(), "--log.level", "warn"},
      {"--config=" + file.path(), "--log.level=warn"},
  };
  for (const auto& args : orders) {
    ParseResult result = Parse(args);
    ASSERT_TRUE(result.line) << result.error;
    EXPECT_EQ(result.line->config_path, file.path());
    EXPECT_EQ(result.line->config.log_level, "warn");
    EXPECT_EQ(result.line->config.log_format, "text");
    EXPECT_EQ(result.line->config.process_max_processes, 1024u);
    EXPECT_EQ(result.line->config.web_listen_address, ":9464");
  }
}

TEST(ConfigTest, YamlAcceptsNestedAndDottedKeys) {
  Config config;
  std::string error;
  ASSERT_TRUE(
      ApplyYaml("web: {listen_address: \":9100\"}\n"
                "\"log.level\": warn\n"
                "process.rescan_interval_seconds: 60\n"
                "process:\n  events_buffer_bytes: 8192\n",
                "test.yaml", config, error))
      << error;
  EXPECT_EQ(config.web_listen_address, ":9100");
  EXPECT_EQ(config.log_level, "warn");
  EXPECT_EQ(config.process_rescan_interval_seconds, 60u);
  EXPECT_EQ(config.process_events_buffer_bytes, 8192u);
  EXPECT_EQ(config.log_format, "json");  // untouched
}

TEST(ConfigTest, EmptyYamlChangesNothing) {
  for (const char* text : {"", "\n", "# only a comment\n# and another\n", "---\n", "log:\n"}) {
    Config config;
    std::string error;
    EXPECT_TRUE(ApplyYaml(text, "test.yaml", config, error)) << text << ": " << error;
    EXPECT_EQ(config.log_level, "info");
  }
}

TEST(ConfigTest, BoolFlagsAndYaml) {
  EXPECT_FALSE(Parse({"--http.enabled=false"}).line->config.http_enabled);
  EXPECT_FALSE(Parse({"--http.enabled", "false"}).line->config.http_enabled);
  EXPECT_TRUE(Parse({"--http.enabled=false", "--http.enabled=true"}).line->config.http_enabled);
  TempFile file("http:\n  enabled: false\n");
  EXPECT_FALSE(Parse({"--config", file.path()}).line->config.http_enabled);
  EXPECT_TRUE(Parse({"--config", file.path(), "--http.enabled=true"}).line->config.http_enabled);

  for (const char* text :
       {"http: {enabled: false}\n", "http.enabled: false\n", "http:\n  enabled: \"false\"\n"}) {
    Config config;
    std::string error;
    ASSERT_TRUE(ApplyYaml(text, "test.yaml", config, error)) << text << ": " << error;
    EXPECT_FALSE(config.http_enabled) << text;
    ASSERT_TRUE(ApplyYaml("http: {enabled: true}", "test.yaml", config, error)) << error;
    EXPECT_TRUE(config.http_enabled);
  }
}

TEST(ConfigTest, ListFlagsSplitAtCommasAndAccumulate) {
  using List = std::vector<std::string>;
  ParseResult one = Parse({"--http.route-patterns=/users/{id},/api/*"});
  ASSERT_TRUE(one.line) << one.error;
  EXPECT_EQ(one.line->config.http_route_patterns, (List{"/users/{id}", "/api/*"}));

  ParseResult repeated =
      Parse({"--capture.executables=nginx", "--log.level=warn", "--capture.executables",
             "python3,node", "--capture.executables=envoy"});
  ASSERT_TRUE(repeated.line) << repeated.error;
  EXPECT_EQ(repeated.line->config.capture_executables, (List{"nginx", "python3", "node", "envoy"}));

  ParseResult spellings = Parse({"--http.route-patterns", "/a", "--http.route_patterns=/b"});
  ASSERT_TRUE(spellings.line) << spellings.error;
  EXPECT_EQ(spellings.line->config.http_route_patterns, (List{"/a", "/b"}));

  // An empty value adds nothing, so it can clear a list from the file.
  ParseResult empty = Parse({"--capture.executables="});
  ASSERT_TRUE(empty.line) << empty.error;
  EXPECT_TRUE(empty.line->config.capture_executables.empty());
}

TEST(ConfigTest, ListFlagReplacesTheFilesList) {
  using List = std::vector<std::string>;
  TempFile file(
      "capture:\n  executables: [nginx, envoy]\n"
      "http:\n  route_patterns:\n    - /users/{id}\n");
  ParseResult file_only = Parse({"--config", file.path()});
  ASSERT_TRUE(file_only.line) << file_only.error;
  EXPECT_EQ(file_only.line->config.capture_executables, (List{"nginx", "envoy"}));
  EXPECT_EQ(file_only.line->config.http_route_patterns, (List{"/users/{id}"}));

  std::vector<std::vector<std::string>> orders = {
      {"--capture.executables=curl", "--config", file.path(), "--capture.executables", "wget"},
      {"--config", file.path(), "--capture.executables=curl,wget"},
  };
  for (const auto& args : orders) {
    ParseResult result = Parse(args);
    ASSERT_TRUE(result.line) << result.error;
    EXPECT_EQ(result.line->config.capture_executables, (List{"curl", "wget"}));
    EXPECT_EQ(result.line->config.http_route_patterns, (List{"/users/{id}"}));  // untouched
  }

  ParseResult cleared = Parse({"--config", file.path(), "--capture.executables="});
  ASSERT_TRUE(cleared.line) << cleared.error;
  EXPECT_TRUE(cleared.line->config.capture_executables.empty());
}

TEST(ConfigTest, YamlListsAreSequencesOrOneString) {
  using List = std::vector<std::string>;
  struct Row {
    std::string yaml;
    List patterns;
  };
  const std::vector<Row> rows = {
      {"http:\n  route_patterns:\n    - /users/{id}\n    - \"/api/*\"\n",
       {"/users/{id}", "/api/*"}},
      {"http: {route_patterns: [/a, \"/b/{id}\"]}\n", {"/a", "/b/{id}"}},
      {"http.route_patterns: [/a]\n", {"/a"}},
      {"http:\n  route_patterns: /users/{id}\n", {"/users/{id}"}},
      {"http:\n  route_patterns: /a,/b\n", {"/a,/b"}},  // one string is one element
      {"http:\n  route_patterns: []\n", {}},
  };
  for (const Row& row : rows) {
    Config config;
    config.http_route_patterns = {"/before"};
    std::string error;
    ASSERT_TRUE(ApplyYaml(row.yaml, "test.yaml", config, error)) << row.yaml << ": " << error;
    EXPECT_EQ(config.http_route_patterns, row.patterns) << row.yaml;
  }
  Config config;
  std::string error;
  ASSERT_TRUE(ApplyYaml("capture:\n  executables: nginx\n", "test.yaml", config, error)) << error;
  EXPECT_EQ(config.capture_executables, (List{"nginx"}));
  ASSERT_TRUE(ApplyYaml("capture:\n  executables: [python3, node]\n", "test.yaml", config, error))
      << error;
  EXPECT_EQ(config.capture_executables, (List{"python3", "node"}));  // replaced, not added
}

TEST(ConfigTest, NewSectionsFromYaml) {
  Config config;
  std::string error;
  ASSERT_TRUE(
      ApplyYaml("http:\n  max_connections: 1024\n  connection_idle_seconds: 60\n"
                "capture:\n  bytes_per_call: 0\n  events_buffer_bytes: 65536\n"
                "spans:\n  output: /var/log/spans.jsonl\n  queue_size: 100\n",
                "test.yaml", config, error))
      << error;
  EXPECT_EQ(config.http_max_connections, 1024u);
  EXPECT_EQ(config.http_connection_idle_seconds, 60u);
  EXPECT_EQ(config.capture_bytes_per_call, 0u);
  EXPECT_EQ(config.capture_events_buffer_bytes, 65536u);
  EXPECT_EQ(config.spans_output, "/var/log/spans.jsonl");
  EXPECT_EQ(config.spans_queue_size, 100u);
  ASSERT_TRUE(ApplyYaml("spans: {output: \"\"}\n", "test.yaml", config, error)) << error;
  EXPECT_EQ(config.spans_output, "");
}

TEST(ConfigTest, ConfigKeysMatchTheTable) {
  std::vector<KeyInfo> keys = ConfigKeys();
  ASSERT_EQ(keys.size(), kKeyRows.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(keys[i].key, kKeyRows[i].key);
    EXPECT_EQ(keys[i].flag, kKeyRows[i].dashed_flag);
    std::string shown = kKeyRows[i].default_value.empty() ? "none" : kKeyRows[i].default_value;
    EXPECT_EQ(keys[i].default_value, shown);
    EXPECT_FALSE(keys[i].description.empty());
  }
  EXPECT_EQ(keys[0].description, "Address the /metrics, /healthz and /readyz endpoint listens on.");
}

// Help wraps lines, so compare with runs of whitespace folded to one space.
std::string FoldWhitespace(const std::string& text) {
  std::istringstream words(text);
  std::string word;
  std::string folded;
  while (words >> word) folded += (folded.empty() ? "" : " ") + word;
  return folded;
}

TEST(ConfigTest, HelpListsEveryFlagKeyAndDefault) {
  std::string help = HelpText();
  EXPECT_EQ(help.rfind("Usage: infrared [flags]\n", 0), 0u);
  EXPECT_NE(
      help.find("infrared watches every process on this host through eBPF and serves Prometheus "
                "metrics."),
      std::string::npos);
  for (const char* flag : {"--config FILE", "--help", "--version"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  std::string folded = FoldWhitespace(help);
  for (const KeyInfo& key : ConfigKeys()) {
    EXPECT_NE(help.find("  " + key.flag + " "), std::string::npos) << key.flag;
    EXPECT_NE(help.find("(config key: " + key.key + ", default: " + key.default_value + ")"),
              std::string::npos)
        << key.key;
    EXPECT_NE(folded.find(key.description), std::string::npos) << key.description;
  }
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
}

TEST(ConfigTest, HelpShowsListsBoolsAndEmptyDefaults) {
  std::string help = HelpText();
  std::string folded = FoldWhitespace(help);
  EXPECT_NE(help.find("  --http.enabled BOOL\n"), std::string::npos);
  EXPECT_NE(help.find("(config key: http.enabled, default: true)"), std::string::npos);
  for (const char* key : {"http.route_patterns", "capture.executables"}) {
    std::string flag = "--" + std::string(key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    std::size_t at = help.find("  " + flag + " LIST\n");
    ASSERT_NE(at, std::string::npos) << flag;
    std::size_t end = help.find("(config key: " + std::string(key) + ", default: none)", at);
    ASSERT_NE(end, std::string::npos) << key;
    std::string entry = FoldWhitespace(help.substr(at, end - at));
    EXPECT_NE(entry.find("comma-separated; repeat the flag to add more"), std::string::npos)
        << entry;
    EXPECT_NE(entry.find("YAML list"), std::string::npos) << entry;
  }
  EXPECT_NE(help.find("(config key: spans.output, default: none)"), std::string::npos);
  EXPECT_NE(folded.find("Accepts route templates, each starting with '/'"), std::string::npos);
  // Only list flags mention repeating.
  std::size_t mentions = 0;
  for (std::size_t at = folded.find("repeat the flag"); at != std::string::npos;
       at = folded.find("repeat the flag", at + 1)) {
    ++mentions;
  }
  // http.route_patterns, capture.executables, genai.gateways, otlp.headers, and the five
  // select.* and five exclude.* lists
  EXPECT_EQ(mentions, 14u);
}

}  // namespace
}  // namespace infrared::core
