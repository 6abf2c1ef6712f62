// Strict parsing of configuration values: the whole text must be the value (surrounding spaces
// and a leading '+' allowed), and a number must be finite. Used by every settings parser so that
// "1.5x", "nan" or "" are errors everywhere, never a silent 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aits {

std::string_view Trim(std::string_view text);
// A finite decimal number ("0.7", "-1e-3", " +2 "); nullopt for junk, trailing characters,
// NaN, infinity or overflow.
std::optional<double> ParseFiniteDouble(std::string_view text);
// A base-10 integer with an optional sign; nullopt for junk or overflow.
std::optional<int64_t> ParseInt(std::string_view text);

// `value` with exactly `decimals` decimals ("1.50"); "n/a" when it is not finite.
std::string FormatFixed(double value, int decimals);

}  // namespace aits
