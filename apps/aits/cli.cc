#include "cli.h"

#include <csignal>
#include <cstdio>

namespace aits::app {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }
}  // namespace

StopSignals::StopSignals() {
  g_stop.store(false);
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

const std::atomic<bool>* StopSignals::flag() { return &g_stop; }

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

int ParseFailure(CLI::App& app, const CLI::ParseError& error) {
  const int code = app.exit(error);
  // CLI11's own codes (100 and up, one per kind of parse error) say nothing a script can use
  // beyond "bad input".
  if (code == 0 || dynamic_cast<const CLI::RuntimeError*>(&error) != nullptr) return code;
  return 2;
}

std::string FormatNumber(const nlohmann::json& j, const char* key, int digits) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, j[key].get<double>());
  return buf;
}

}  // namespace aits::app
