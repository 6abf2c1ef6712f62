#include "yaml_reader.h"

namespace aits::app {

Result<YAML::Node> LoadYamlFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return NotFound("config file '" + path + "' cannot be read");
  } catch (const YAML::ParserException& error) {
    return InvalidArgument(path + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg);
  }
  if (!root.IsMap()) {
    return InvalidArgument(path + ": the top level must be a map of settings (key: value)");
  }
  return root;
}

}  // namespace aits::app
