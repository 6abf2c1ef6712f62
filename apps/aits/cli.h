// What every `aits` and `aits-train` command shares: one way to report an error and one set of
// exit codes (README, "Exit codes").
//   0  success (also --help and --version)
//   1  the command could not complete (I/O, missing data, a refused session, a replay that
//      diverges from its log, ...)
//   2  bad input the user must fix: a flag, a settings or data file (InvalidArgument), a name
//      that does not exist (NotFound: a model, a session, an order id), or a command line that
//      does not parse (an unknown flag, a missing or malformed value)
// Errors are printed to stderr as "aits: error: MESSAGE", MESSAGE naming file, line, field and
// value where the failing layer knows them; command lines that do not parse as CLI11 prints them.
// Every failure goes through Fail (a Status) or ParseFailure (a parse error): no command picks an
// exit code or prints an error its own way.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "aits/core/status.h"

namespace aits::app {

// The exit code for a failed status (never 0).
int ExitCode(const Status& status);

// Prints "aits: error: MESSAGE" to stderr and returns ExitCode(status).
int Fail(const Status& status);

// A command run from a CLI11 callback: a non-zero code ends parsing with that exit code.
void ExitOnFailure(int code);

// The exit code of app.parse's `error`: 0 for --help and --version (printed), the code of a
// command that failed in its callback (ExitOnFailure; already reported), and 2 for a command line
// that does not parse (printed by CLI11 with a pointer to --help).
int ParseFailure(CLI::App& app, const CLI::ParseError& error);

// Ctrl-C and SIGTERM stop a long-running command cleanly: while a StopSignals lives they set its
// flag (the command's loop, or the options.stop it hands on, looks at it), and when it goes the
// default handlers are back, so a signal after that ends the process as usual. One at a time
// (the flag is the process's: a handler can reach nothing else).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  static const std::atomic<bool>* flag();
  static bool stopped() { return flag()->load(); }
};

// j[key] with `digits` decimals, or "n/a" when it is missing or not a number.
std::string FormatNumber(const nlohmann::json& j, const char* key, int digits = 4);

}  // namespace aits::app
