// Small text helpers shared by the session, calendar and config parsers and the scenario runner.
// Internal to aits::decision: not part of the module's contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aits/core/text.h"
#include "aits/core/time.h"

namespace aits::decision::internal {

// The strict number parsers are the project's (core/text.h).
using aits::ParseFiniteDouble;
using aits::ParseInt;
using aits::Trim;

std::string Lower(std::string_view text);

using aits::ParseUtcTime;

}  // namespace aits::decision::internal
