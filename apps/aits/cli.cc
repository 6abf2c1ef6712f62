#include "cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace aits::app {

int ExitCode(const Status& status) {
  const StatusCode code = status.code();
  return code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound ? 2 : 1;
}

int Fail(const Status& status) {
  std::fprintf(stderr, "aits: error: %s\n", status.message().c_str());
  return ExitCode(status);
}

void ExitOnFailure(int code) {
  if (code != 0) throw CLI::RuntimeError(code);
}

std::string FormatNumber(const nlohmann::json& j, const char* key, int digits) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, j[key].get<double>());
  return buf;
}

}  // namespace aits::app
