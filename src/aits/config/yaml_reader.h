// Strict typed access to a two-level YAML settings file (`section: {key: value}` or top-level
// `key: value`): every key read is remembered, and CheckUnknown() turns any key nobody read into
// an error naming the key and its line, so a typo is never a silently ignored setting.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/node/builder.h"

namespace aits::config {

class YamlReader {
 public:
  YamlReader(std::string path, YAML::Node root) : path_(std::move(path)), root_(std::move(root)) {}

  template <typename T>
  Status Get(std::string_view section, std::string_view key, std::optional<T>* out) {
    YAML::Node node = Lookup(section, key);
    if (!node) return Status::Ok();
    if (!node.IsScalar()) return Error(section, key, "is not a single value");
    try {
      *out = node.as<T>();
    } catch (const YAML::Exception&) {
      return Error(section, key, "value '" + node.Scalar() + "' has the wrong type");
    }
    return Status::Ok();
  }

  Status GetParams(std::vector<std::string>* params) {
    YAML::Node node = Lookup("strategy", "params");
    if (!node) return Status::Ok();
    if (!node.IsMap()) return Error("strategy", "params", "must be a map of name: value");
    for (const auto& item : node) {
      if (!item.second.IsScalar()) {
        return Error("strategy.params", item.first.Scalar(), "is not a single value");
      }
      params->insert(params->begin(), item.first.Scalar() + "=" + item.second.Scalar());
    }
    return Status::Ok();
  }

  // A section read as a whole elsewhere (ReadDecisionAndRisk): CheckUnknown leaves it alone.
  void SectionReadElsewhere(std::string name) { elsewhere_.insert(std::move(name)); }

  // The node of `section.key` (undefined if absent), marked as read: for values that are not a
  // single scalar (the `data:` list of feeds).
  YAML::Node Node(std::string_view section, std::string_view key) { return Lookup(section, key); }

  Status CheckUnknown() const {
    if (!root_.IsMap()) return InvalidArgument(path_ + ": the top level must be a map of settings");
    for (const auto& item : root_) {
      const std::string key = item.first.Scalar();
      if (elsewhere_.count(key)) continue;
      if (item.second.IsMap() && key != "strategy_params") {
        for (const auto& child : item.second) {
          const std::string full = key + "." + child.first.Scalar();
          if (!used_.count(full) && !(key == "strategy" && child.first.Scalar() == "params")) {
            return InvalidArgument(path_ + ": unknown setting '" + full + "'" + Line(child.first));
          }
        }
      } else if (!used_.count(key)) {
        return InvalidArgument(path_ + ": unknown setting '" + key + "'" + Line(item.first));
      }
    }
    return Status::Ok();
  }

 private:
  YAML::Node Lookup(std::string_view section, std::string_view key) {
    if (section.empty()) {
      used_.insert(std::string(key));
      return root_[std::string(key)];
    }
    used_.insert(std::string(section) + "." + std::string(key));
    YAML::Node parent = root_[std::string(section)];
    if (!parent || !parent.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    return parent[std::string(key)];
  }
  static std::string Line(const YAML::Node& node) {
    return " (line " + std::to_string(node.Mark().line + 1) + ")";
  }
  Status Error(std::string_view section, std::string_view key, const std::string& what) {
    std::string name =
        section.empty() ? std::string(key) : std::string(section) + "." + std::string(key);
    return InvalidArgument(path_ + ": setting '" + name + "' " + what);
  }

  std::string path_;
  YAML::Node root_;
  std::set<std::string> used_;
  std::set<std::string> elsewhere_;
};

// What an empty settings file means to its reader.
enum class EmptyFile {
  kError,       // "the top level must be a map of settings"
  kNoSettings,  // an empty map: every setting takes its default
};

// The one loader of settings files: loads `path` (errors: unreadable file (NotFound), YAML syntax
// with its file and line, a top level that is not a map (InvalidArgument)).
Result<YAML::Node> LoadYamlFile(const std::string& path, EmptyFile empty = EmptyFile::kError);

// The `decision:` and `risk:` sections of a settings file (`aits paper --config`,
// `aits backtest --config`), appended to `decision` and `risk` in file order. Each value is
// checked on its own (DecisionConfig::Set, RiskLimits::Set) and the risk section as a whole
// (node::RiskLimitsFor); errors name the file, the line and the setting. A relative
// decision.calendar is taken relative to the file and stored absolute. Other sections are left
// to the caller.
Status ReadDecisionAndRisk(const std::string& path, const YAML::Node& root,
                           node::Settings* decision, node::Settings* risk);

}  // namespace aits::config
