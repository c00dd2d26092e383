#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace infrared::core {

// Every setting of the agent. Each field is a config key (YAML, nested by the
// part before the dot) and a flag (--section.key-name).
struct Config {
  std::string web_listen_address = ":9464";     // web.listen_address
  std::uint32_t metrics_series_idle_seconds = 3600;  // metrics.series_idle_seconds (0: never)
  std::string log_format = "json";              // log.format: json | text
  std::string log_level = "info";               // log.level: debug | info | warn | error
  std::uint32_t process_max_processes = 32768;  // process.max_processes (BPF map and table cap)
  std::uint32_t process_events_buffer_bytes = 4u << 20;  // process.events_buffer_bytes
  std::uint32_t process_rescan_interval_seconds = 30;    // process.rescan_interval_seconds

  // Kubernetes: pod, namespace and container names for the processes of pods.
  std::string k8s_pod_logs_dir = "/var/log/pods";              // k8s.pod_logs_dir ("": unread)
  std::string k8s_container_logs_dir = "/var/log/containers";  // k8s.container_logs_dir
  std::string k8s_api = "auto";                                 // k8s.api: auto | off | URL
  std::string k8s_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";  // k8s.token_file
  std::string k8s_ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";    // k8s.ca_file
  std::string k8s_node_name;  // k8s.node_name ("": $NODE_NAME, else the host name)

  // Which processes are reported: all of the select.* lists given must match
  // (any element of a list), and none of the exclude.* lists.
  std::vector<std::string> select_executables;     // select.executables (globs)
  std::vector<std::string> select_command_lines;   // select.command_lines (regexes)
  std::vector<std::string> select_containers;      // select.containers (names or id prefixes)
  std::vector<std::string> select_k8s_namespaces;  // select.k8s_namespaces
  std::vector<std::string> select_k8s_pod_labels;  // select.k8s_pod_labels ("key=value")
  bool select_llm_only = false;                    // select.llm_only
  std::vector<std::string> exclude_executables;     // exclude.executables
  std::vector<std::string> exclude_command_lines;   // exclude.command_lines
  std::vector<std::string> exclude_containers;      // exclude.containers
  std::vector<std::string> exclude_k8s_namespaces;  // exclude.k8s_namespaces
  std::vector<std::string> exclude_k8s_pod_labels;  // exclude.k8s_pod_labels

  bool tcp_enabled = true;                        // tcp.enabled
  bool http_enabled = true;                       // http.enabled
  bool http_tls = true;                           // http.tls
  std::uint32_t http_max_connections = 16384;     // http.max_connections
  std::uint32_t http_connection_idle_seconds = 300;  // http.connection_idle_seconds
  std::vector<std::string> http_route_patterns;   // http.route_patterns
  std::vector<std::string> capture_executables;   // capture.executables (empty: all)
  std::uint32_t capture_bytes_per_call = 16384;   // capture.bytes_per_call
  std::uint32_t capture_events_buffer_bytes = 8u << 20;  // capture.events_buffer_bytes
  bool capture_content = false;                   // capture.content
  std::uint32_t capture_content_max_bytes = 8192;  // capture.content_max_bytes
  bool genai_enabled = true;                      // genai.enabled
  std::uint32_t genai_max_body_bytes = 1u << 20;  // genai.max_body_bytes
  std::uint32_t genai_bytes_per_call = 131072;    // genai.bytes_per_call
  std::string genai_prices_file;                  // genai.prices_file
  std::vector<std::string> genai_gateways;        // genai.gateways, "host=provider"
  std::string spans_output;                       // spans.output: "", "stdout" or a path
  std::uint32_t spans_queue_size = 8192;          // spans.queue_size

  // OTLP export; empty values fall back to the OTEL_EXPORTER_OTLP_* environment.
  std::string otlp_endpoint;                 // otlp.endpoint
  std::string otlp_traces_endpoint;          // otlp.traces_endpoint
  std::vector<std::string> otlp_headers;     // otlp.headers, "key=value"
  std::uint32_t otlp_timeout_ms = 0;         // otlp.timeout_ms (0: environment, else 10000)
  std::string otlp_compression;              // otlp.compression: gzip | none
  std::string otlp_ca_file;                  // otlp.ca_file
  std::uint32_t otlp_queue_size = 16384;     // otlp.queue_size
  std::uint32_t otlp_max_batch = 512;        // otlp.max_batch
  std::uint32_t otlp_max_delay_ms = 5000;    // otlp.max_delay_ms
};

// What the command line asked for.
struct CommandLine {
  Config config;
  bool show_help = false;
  bool show_version = false;
  bool print_host_paths = false;  // --print-host-paths
  std::string config_path;  // empty when no --config was given
};

// Parses argv (argv[0] skipped): --config FILE, --help/-h, --version, and one
// flag per key, as "--key=value" or "--key value". Defaults, then the YAML file,
// then flags. On any problem returns std::nullopt and sets `error` to one
// sentence naming the bad flag, key, file or value and what is accepted, on one
// printable line (operator text in it as core::PrintableLine shows it).
std::optional<CommandLine> ParseCommandLine(int argc, const char* const argv[], std::string& error);

// Loads a YAML document over `config` (only the keys present change). Unknown
// keys, wrong types and out-of-range values are errors.
bool ApplyYaml(const std::string& yaml_text, const std::string& source_name, Config& config,
               std::string& error);

// The --help text: usage, every flag with its config key, default and meaning.
std::string HelpText();

// Every config key ("web.listen_address", ...) with its description and
// default, in the order --help shows them; used by the README check.
struct KeyInfo {
  std::string key;
  std::string flag;
  std::string default_value;
  std::string description;
};
std::vector<KeyInfo> ConfigKeys();

}  // namespace infrared::core
