// The logging flags of every `aits` command (docs/architecture.md, "Logging"):
//   --log-level LEVEL   trace, debug, info, warn (default: today's output, unchanged), error, off
//   --log-file PATH     append the lines to PATH instead of stderr
//   --log-json          one JSON object per line instead of text
// They belong to the root command and are accepted before the subcommand or after it.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aits::app {

struct LogFlags {
  std::string level = "warn";
  std::string file;
  bool json = false;
};

// Adds the flags to the root `app` and configures logging once the command line is parsed,
// before any command's callback runs. Subcommands added after this call pass the flags up to
// the root (CLI11's fallthrough); a subcommand that forwards its arguments elsewhere must turn
// that off. A bad level or an unopenable file ends parsing with Fail's message and exit code.
// `flags` must outlive parsing; `role` names the process in JSON lines ("aits", "aits-train").
void AddLogFlags(CLI::App& app, LogFlags& flags, std::string role);

// The logging flags given on `root`'s command line, as arguments for another AITS process
// (aits-train) that takes the same flags, so that it logs where and how this one does.
std::vector<std::string> ForwardedLogArgs(const CLI::App& root);

}  // namespace aits::app
