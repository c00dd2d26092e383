#include "agent/core/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace infrared::core {
namespace {

struct ParseResult {
  std::optional<CommandLine> line;
  std::string error;
};

// Runs ParseCommandLine with "infrared" as argv[0].
ParseResult Parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"infrared"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  ParseResult result;
  result.line = ParseCommandLine(static_cast<int>(argv.size()), argv.data(), result.error);
  return result;
}

// A file under /tmp holding `contents`, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/infrared_config_test_XXXXXX";
    int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    path_ = name;
    EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Reads a field by its config key, written independently of config.cc's table.
std::string FieldOf(const Config& config, const std::string& key) {
  if (key == "web.listen_address") return config.web_listen_address;
  if (key == "log.format") return config.log_format;
  if (key == "log.level") return config.log_level;
  if (key == "process.max_processes") return std::to_string(config.process_max_processes);
  if (key == "process.events_buffer_bytes")
    return std::to_string(config.process_events_buffer_bytes);
  if (key == "process.rescan_interval_seconds") {
    return std::to_string(config.process_rescan_interval_seconds);
  }
  ADD_FAILURE() << "test does not know key " << key;
  return "";
}

struct KeyRow {
  std::string key;
  std::string dashed_flag;
  std::string underscored_flag;
  std::string default_value;
  std::string sample_value;  // valid and different from the default
};

const std::vector<KeyRow> kKeyRows = {
    {"web.listen_address", "--web.listen-address", "--web.listen_address", ":9464",
     "127.0.0.1:9100"},
    {"log.format", "--log.format", "--log.format", "json", "text"},
    {"log.level", "--log.level", "--log.level", "info", "debug"},
    {"process.max_processes", "--process.max-processes", "--process.max_processes", "32768",
     "1024"},
    {"process.events_buffer_bytes", "--process.events-buffer-bytes",
     "--process.events_buffer_bytes", "4194304", "65536"},
    {"process.rescan_interval_seconds", "--process.rescan-interval-seconds",
     "--process.rescan_interval_seconds", "30", "5"},
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

TEST(ConfigTest, BadConfigFileFailsTheCommandLine) {
  TempFile file("log:\n  level: loud\n");
  ParseResult result = Parse({"--config", file.path()});
  EXPECT_FALSE(result.line);
  EXPECT_NE(result.error.find(file.path()), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("\"loud\""), std::string::npos) << result.error;
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
}

TEST(ConfigTest, ConfigKeysMatchTheTable) {
  std::vector<KeyInfo> keys = ConfigKeys();
  ASSERT_EQ(keys.size(), kKeyRows.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(keys[i].key, kKeyRows[i].key);
    EXPECT_EQ(keys[i].flag, kKeyRows[i].dashed_flag);
    EXPECT_EQ(keys[i].default_value, kKeyRows[i].default_value);
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

}  // namespace
}  // namespace infrared::core
