#include "aits/config/yaml_reader.h"

#include <filesystem>

namespace aits::config {

Result<YAML::Node> LoadYamlFile(const std::string& path, EmptyFile empty) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return NotFound("config file '" + path + "' cannot be read");
  } catch (const YAML::ParserException& error) {
    return InvalidArgument(path + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg);
  } catch (const YAML::Exception& error) {
    return InvalidArgument(path + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg);
  }
  if (root.IsNull() && empty == EmptyFile::kNoSettings) return YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return InvalidArgument(path + ": the top level must be a map of settings (key: value)");
  }
  return root;
}

Status ReadDecisionAndRisk(const std::string& path, const YAML::Node& root,
                           node::Settings* decision, node::Settings* risk) {
  if (!root.IsMap()) return Status::Ok();
  for (const auto& section : root) {
    const std::string name = section.first.Scalar();
    if (name != "decision" && name != "risk") continue;
    const std::string line = ":" + std::to_string(section.first.Mark().line + 1);
    if (!section.second.IsMap()) {
      return InvalidArgument(path + line + ": section '" + name + "' must be a map of key: value");
    }
    node::Settings& settings = name == "decision" ? *decision : *risk;
    decision::DecisionConfig probe_decision;
    for (const auto& item : section.second) {
      const std::string key = item.first.Scalar();
      const std::string item_line = ":" + std::to_string(item.first.Mark().line + 1);
      // Correlation groups (docs/risk.md): one `group:` text, or a list of them.
      if (name == "risk" && key == "group" &&
          (item.second.IsSequence() || item.second.IsScalar())) {
        std::vector<YAML::Node> texts;
        if (item.second.IsScalar()) {
          texts.push_back(item.second);
        } else {
          for (const YAML::Node& text : item.second) texts.push_back(text);
        }
        for (const YAML::Node& text : texts) {
          const std::string text_line = ":" + std::to_string(text.Mark().line + 1);
          if (!text.IsScalar()) {
            return InvalidArgument(path + text_line +
                                   ": risk.group: each group is one text, "
                                   "NAME:SYM,SYM,-SYM:max_exposure=X:max_positions=N");
          }
          auto group = risk::CorrelationGroup::Parse(text.Scalar());
          if (!group.ok()) {
            return InvalidArgument(path + text_line + ": risk.group: " + group.status().message());
          }
          settings.emplace_back(key, text.Scalar());
        }
        continue;
      }
      if (!item.second.IsScalar()) {
        return InvalidArgument(path + item_line + ": " + name + "." + key +
                               " is not a single value");
      }
      std::string value = item.second.Scalar();
      if (name == "decision" && key == "calendar" && !value.empty()) {
        // Relative to the settings file, stored absolute so a resume from elsewhere finds it.
        std::filesystem::path file(value);
        if (file.is_relative()) file = std::filesystem::path(path).parent_path() / file;
        value = std::filesystem::absolute(file).lexically_normal().string();
      }
      risk::RiskLimits probe_risk;
      const Status status = name == "decision" ? probe_decision.Set(key, value)
                            : key == "base"    ? Status::Ok()
                                               : probe_risk.Set(key, value);
      if (!status.ok()) {
        return InvalidArgument(path + item_line + ": " + name + "." + key + ": " +
                               status.message());
      }
      settings.emplace_back(key, value);
    }
    if (name == "risk") {
      auto valid = node::RiskLimitsFor(settings);
      if (!valid.ok()) {
        const bool missing = valid.status().message().find("is missing") != std::string::npos;
        return InvalidArgument(path + line + ": risk: " + valid.status().message() +
                               (missing ? " (name every limit, or add 'base: defaults' to the "
                                          "risk section to start from the default profile)"
                                        : ""));
      }
    }
  }
  return Status::Ok();
}

}  // namespace aits::config
