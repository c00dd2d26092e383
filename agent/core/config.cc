#include "agent/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <string_view>

#include "agent/core/config_keys.h"
#include "agent/core/config_values.h"
#include "agent/core/operator_file.h"
#include "agent/core/utf8.h"

namespace infrared::core {
namespace {

// How much of an operator's value, key or argument an error sentence quotes.
constexpr std::size_t kMaxQuotedBytes = 120;

std::string FlagName(const KeySpec& spec) {
  std::string flag = "--" + std::string(spec.key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

const KeySpec* FindKey(std::string_view key) {
  for (const KeySpec& spec : KeySpecs()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

// Flags may be spelled with '-' or '_' between words; both map to the key.
const KeySpec* FindFlag(std::string_view name_without_dashes) {
  std::string key(name_without_dashes);
  std::replace(key.begin(), key.end(), '-', '_');
  return FindKey(key);
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest key to a misspelling, or nullptr when nothing is close.
const KeySpec* ClosestKey(std::string_view attempt) {
  std::string normalized(attempt);
  std::replace(normalized.begin(), normalized.end(), '-', '_');
  const KeySpec* best = nullptr;
  std::size_t best_distance = 4;
  for (const KeySpec& spec : KeySpecs()) {
    std::string_view short_name = spec.key.substr(spec.key.find('.') + 1);
    // The distance is at least the difference in length: a long attempt (a
    // 1 KiB key in a hostile file, a longer flag) is not compared at quadratic cost.
    std::size_t length_gap = normalized.size() > spec.key.size()
                                 ? normalized.size() - spec.key.size()
                                 : spec.key.size() - normalized.size();
    if (short_name != normalized && length_gap >= best_distance) continue;
    std::size_t distance = short_name == normalized ? 0 : EditDistance(normalized, spec.key);
    if (distance < best_distance) {
      best = &spec;
      best_distance = distance;
    }
  }
  return best;
}

std::string Quoted(std::string_view text) { return QuotedExcerpt(text, kMaxQuotedBytes); }

std::string LineSuffix(const YAML::Mark& mark) {
  return mark.line >= 0 ? " (line " + std::to_string(mark.line + 1) + ")" : "";
}

std::string NodeKind(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "empty";
  return "a single value";
}

bool InvalidValue(const KeySpec& spec, std::string_view text, const std::string& where,
                  std::string& error) {
  error = "Invalid value " + Quoted(text) + " for " + where + ": expected " +
          std::string(spec.accepted) + ".";
  return false;
}

// A flag's value, or a YAML scalar of a key that is not a list. A list value is
// split at commas and added to the list: the caller clears it first.
bool ApplyValue(const KeySpec& spec, std::string_view text, const std::string& where,
                Config& config, std::string& error) {
  std::string rejected;
  return SetValue(spec, text, config, rejected) || InvalidValue(spec, rejected, where, error);
}

// A YAML list value: a sequence of single values, or one single value taken
// whole (not split at commas). It replaces the list.
bool ApplyYamlList(const KeySpec& spec, const YAML::Node& value, const std::string& source,
                   Config& config, std::string& error) {
  std::vector<YAML::Node> nodes;
  if (value.IsScalar()) {
    nodes.push_back(value);
  } else {
    for (const YAML::Node& node : value) nodes.push_back(node);
  }
  std::vector<std::string> items;
  for (const YAML::Node& node : nodes) {
    std::string where = std::string(spec.key) + " in " + source + LineSuffix(node.Mark());
    if (!node.IsScalar()) {
      error = "Element " + std::to_string(items.size() + 1) + " of " + where +
              " must be a single value but is " + NodeKind(node) + "; expected " +
              std::string(spec.accepted) + ".";
      return false;
    }
    if (!spec.element_ok(node.Scalar())) return InvalidValue(spec, node.Scalar(), where, error);
    items.push_back(node.Scalar());
  }
  config.*spec.list = std::move(items);
  return true;
}

bool UnknownYamlKey(const std::string& key, const YAML::Mark& mark, const std::string& source,
                    std::string& error) {
  error = "Unknown key " + Quoted(key) + " in " + source + LineSuffix(mark) + ";";
  const KeySpec* closest = ClosestKey(key);
  error += closest ? " did you mean " + std::string(closest->key) + "?"
                   : " run infrared --help to see the settings.";
  return false;
}

bool ApplyYamlValue(const std::string& key, const YAML::Node& key_node, const YAML::Node& value,
                    const std::string& source, Config& config, std::string& error) {
  const KeySpec* spec = FindKey(key);
  if (spec == nullptr) return UnknownYamlKey(key, key_node.Mark(), source, error);
  std::string where = std::string(spec->key) + " in " + source + LineSuffix(key_node.Mark());
  bool list = spec->kind == ValueKind::kList;
  if (list && (value.IsSequence() || value.IsScalar())) {
    return ApplyYamlList(*spec, value, source, config, error);
  }
  if (!value.IsScalar()) {
    std::string shape = (list ? " must be a list or a single value" : " must be a single value") +
                        std::string(" but is ") + NodeKind(value);
    error = "Setting " + where + (value.IsNull() ? " has no value" : shape) + "; expected " +
            std::string(spec->accepted) + ".";
    return false;
  }
  return ApplyValue(*spec, value.Scalar(), where, config, error);
}

bool IsSection(std::string_view name) {
  return std::ranges::any_of(KeySpecs(), [name](const KeySpec& spec) {
    return spec.key.substr(0, spec.key.find('.')) == name;
  });
}

bool ApplyYamlSection(const std::string& section, const YAML::Node& key_node,
                      const YAML::Node& body, const std::string& source, Config& config,
                      std::string& error) {
  if (!IsSection(section)) return UnknownYamlKey(section, key_node.Mark(), source, error);
  if (body.IsNull()) return true;  // "web:" with nothing under it changes nothing
  if (!body.IsMap()) {
    error = "Section " + section + " in " + source + LineSuffix(key_node.Mark()) +
            " must be a map of settings (e.g. " + section + ": {name: value}) but is " +
            NodeKind(body) + ".";
    return false;
  }
  for (const auto& entry : body) {
    if (!entry.first.IsScalar()) {
      error = "Keys under " + section + " in " + source + LineSuffix(entry.first.Mark()) +
              " must be plain names.";
      return false;
    }
    std::string key = section + "." + entry.first.Scalar();
    if (!ApplyYamlValue(key, entry.first, entry.second, source, config, error)) return false;
  }
  return true;
}

bool ApplyYamlRoot(const YAML::Node& root, const std::string& source, Config& config,
                   std::string& error) {
  if (root.IsNull()) return true;  // empty or only comments
  if (!root.IsMap()) {
    error = "Config file " + source +
            " must hold a map of settings (e.g. web: {listen_address: \":9464\"}) but holds " +
            NodeKind(root) + ".";
    return false;
  }
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) {
      error =
          "Top-level keys in " + source + LineSuffix(entry.first.Mark()) + " must be plain names.";
      return false;
    }
    const std::string& name = entry.first.Scalar();
    bool ok = name.find('.') != std::string::npos
                  ? ApplyYamlValue(name, entry.first, entry.second, source, config, error)
                  : ApplyYamlSection(name, entry.first, entry.second, source, config, error);
    if (!ok) return false;
  }
  return true;
}

bool LoadConfigFile(const std::string& path, Config& config, std::string& error) {
  std::string text;
  std::string reason;
  if (!ReadOperatorFile(path, text, reason)) {
    error = "Cannot read config file " + path + ": " + reason + "; check the --config path.";
    return false;
  }
  return ApplyYaml(text, path, config, error);
}

constexpr std::string_view kExampleConfigPath = "/etc/infrared/config.yaml";

struct FlagValue {
  const KeySpec* spec;
  std::string flag;  // as the user spelled it, for error messages
  std::string value;
};

// Reads the value of argv[i] from "--flag=value" or the next argument.
bool TakeValue(int argc, const char* const argv[], int& i, std::string_view name,
               std::string_view example, std::string& value, std::string& error) {
  std::string_view arg = argv[i];
  std::size_t equals = arg.find('=');
  if (equals != std::string_view::npos) {
    value = std::string(arg.substr(equals + 1));
    return true;
  }
  if (i + 1 < argc && std::string_view(argv[i + 1]).substr(0, 2) != "--") {
    value = argv[++i];
    return true;
  }
  error = "Flag " + std::string(name) + " needs a value, e.g. " + std::string(name) + "=" +
          std::string(example) + ".";
  return false;
}

bool ScanArgument(int argc, const char* const argv[], int& i, CommandLine& result,
                  std::vector<FlagValue>& flags, std::string& error) {
  std::string_view arg = argv[i];
  std::string_view name = arg.substr(0, arg.find('='));
  bool has_value = name.size() != arg.size();
  if (name == "-h" || name == "--help" || name == "--version" || name == "--print-host-paths") {
    if (has_value) {
      error = "Flag " + std::string(name) + " does not take a value.";
      return false;
    }
    (name == "--version"            ? result.show_version
     : name == "--print-host-paths" ? result.print_host_paths
                                    : result.show_help) = true;
    return true;
  }
  if (name == "--config") {
    if (!result.config_path.empty()) {
      error = "Flag --config was given twice; pass a single config file.";
      return false;
    }
    if (!TakeValue(argc, argv, i, name, kExampleConfigPath, result.config_path, error)) {
      return false;
    }
    if (result.config_path.empty()) {
      error =
          "Flag --config needs a file path, e.g. --config=" + std::string(kExampleConfigPath) + ".";
      return false;
    }
    return true;
  }
  if (arg.size() < 2 || arg[0] != '-') {
    error = "Unexpected argument " + Quoted(arg) +
            ": infrared takes only flags; run infrared --help to see them.";
    return false;
  }
  const KeySpec* spec = name.substr(0, 2) == "--" ? FindFlag(name.substr(2)) : nullptr;
  if (spec == nullptr) {
    const KeySpec* closest =
        ClosestKey(name.substr(std::min(name.find_first_not_of('-'), name.size())));
    error =
        "Unknown flag " + std::string(name) + ";" +
        (closest ? " did you mean " + FlagName(*closest) + "? Run infrared --help to see all flags."
                 : " run infrared --help to see the flags.");
    return false;
  }
  FlagValue flag{spec, std::string(name), {}};
  std::string example =
      spec->example.empty() ? ShownValue(*spec, Config{}) : std::string(spec->example);
  if (!TakeValue(argc, argv, i, name, example, flag.value, error)) return false;
  flags.push_back(std::move(flag));
  return true;
}

void AppendWrapped(std::string& out, std::string_view text, std::size_t indent, std::size_t width) {
  std::size_t column = 0;
  while (!text.empty()) {
    std::size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (column > indent && column + 1 + word.size() > width) {
      out += '\n';
      column = 0;
    }
    if (column == 0) {
      out.append(indent, ' ');
      column = indent;
    } else {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
  }
  out += '\n';
}

}  // namespace

bool ApplyYaml(const std::string& yaml_text, const std::string& source_name, Config& config,
               std::string& error) {
  // Work on a copy so that a file with an error changes nothing.
  Config updated = config;
  try {
    if (!ApplyYamlRoot(YAML::Load(yaml_text), source_name, updated, error)) return false;
  } catch (const YAML::Exception& e) {
    error = "Config file " + source_name + " is not valid YAML" + LineSuffix(e.mark) + ": " +
            e.msg + "; fix the syntax there.";
    return false;
  } catch (const std::exception& e) {
    error = "Config file " + source_name + " could not be read as YAML: " + e.what() + ".";
    return false;
  }
  config = updated;
  return true;
}

namespace {

std::optional<CommandLine> ParseArguments(int argc, const char* const argv[], std::string& error) {
  CommandLine result;
  std::vector<FlagValue> flags;
  for (int i = 1; i < argc; ++i) {
    if (!ScanArgument(argc, argv, i, result, flags, error)) return std::nullopt;
  }
  // --help and --version answer without reading the file, so a broken file cannot hide them.
  bool wants_file = !result.config_path.empty() && !result.show_help && !result.show_version;
  if (wants_file && !LoadConfigFile(result.config_path, result.config, error)) return std::nullopt;
  // A list flag replaces the file's list; given again, it adds to it.
  for (const FlagValue& flag : flags) {
    if (flag.spec->kind == ValueKind::kList) (result.config.*flag.spec->list).clear();
  }
  for (const FlagValue& flag : flags) {
    if (!ApplyValue(*flag.spec, flag.value, flag.flag, result.config, error)) return std::nullopt;
  }
  return result;
}

}  // namespace

std::optional<CommandLine> ParseCommandLine(int argc, const char* const argv[],
                                            std::string& error) {
  std::optional<CommandLine> result = ParseArguments(argc, argv, error);
  // The sentence may name a path or flag as the operator typed it: a line break
  // or a byte that is not UTF-8 in it must not split or garble the message.
  if (!result) error = PrintableLine(error);
  return result;
}

std::string HelpText() {
  constexpr std::size_t kWidth = 100;
  constexpr std::size_t kIndent = 6;
  std::string out =
      "Usage: infrared [flags]\n\n"
      "infrared watches every process on this host through eBPF and serves Prometheus metrics.\n\n"
      "Flags:\n";
  auto add = [&](std::string_view heading, std::initializer_list<std::string_view> paragraphs) {
    out += "  " + std::string(heading) + "\n";
    for (std::string_view paragraph : paragraphs) AppendWrapped(out, paragraph, kIndent, kWidth);
  };
  add("--config FILE",
      {"YAML file with settings, nested by section (web: {listen_address: \":9464\"}). "
       "Flags on the command line override it."});
  add("-h, --help", {"Show this help and exit."});
  add("--version", {"Print the version and exit."});
  add("--print-host-paths",
      {"Print the host paths the agent reads with these settings (path, how a container gets "
       "it, access, why; tab-separated) and exit."});
  Config defaults;
  for (const KeySpec& spec : KeySpecs()) {
    std::string accepted = "Accepts " + std::string(spec.accepted);
    accepted += spec.kind != ValueKind::kList
                    ? "."
                    : "; comma-separated; repeat the flag to add more. In the config file: a "
                      "YAML list, or one string.";
    std::string origin =
        "(config key: " + std::string(spec.key) + ", default: " + ShownValue(spec, defaults) + ")";
    add(FlagName(spec) + " " + std::string(spec.placeholder), {spec.description, accepted, origin});
  }
  return out;
}

std::vector<KeyInfo> ConfigKeys() {
  Config defaults;
  std::vector<KeyInfo> keys;
  for (const KeySpec& spec : KeySpecs()) {
    keys.push_back({std::string(spec.key), FlagName(spec), ShownValue(spec, defaults),
                    std::string(spec.description)});
  }
  return keys;
}

}  // namespace infrared::core
