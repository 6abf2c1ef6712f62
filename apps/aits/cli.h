// What every `aits` command shares: one way to report an error and one set of exit codes.
//   0  success
//   1  the command could not complete (I/O, missing data, a refused session, ...)
//   2  bad input the user must fix: a flag, a settings or data file (InvalidArgument), or a
//      name that does not exist (NotFound: a model, a session, an order id)
// Errors are printed to stderr as "aits: error: MESSAGE", MESSAGE naming file, line, field and
// value where the failing layer knows them.
#pragma once

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

// j[key] with `digits` decimals, or "n/a" when it is missing or not a number.
std::string FormatNumber(const nlohmann::json& j, const char* key, int digits = 4);

}  // namespace aits::app
