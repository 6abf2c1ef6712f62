#include "aits/core/fixed_point.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace aits {
namespace fixed_internal {
namespace {

std::string Quote(std::string_view text) { return "'" + std::string(text) + "'"; }

bool EqualsLower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t idx = 0; idx < text.size(); ++idx) {
    char ch = text[idx];
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (ch != lower[idx]) return false;
  }
  return true;
}

}  // namespace

bool LooksNonFinite(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  return EqualsLower(text, "nan") || EqualsLower(text, "inf") || EqualsLower(text, "infinity") ||
         EqualsLower(text, "1.#inf") || EqualsLower(text, "1.#qnan");
}

Result<int64_t> ParseScaled(std::string_view text, int digits) {
  if (text.empty()) return InvalidArgument("empty number");
  if (LooksNonFinite(text)) return InvalidArgument("non-finite number " + Quote(text));
  size_t pos = 0;
  bool negative = false;
  if (text[pos] == '-' || text[pos] == '+') {
    negative = text[pos] == '-';
    ++pos;
  }
  const int64_t scale = Pow10(digits);
  const int64_t limit = std::numeric_limits<int64_t>::max() / 10;
  int64_t integer = 0;
  size_t int_digits = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (integer > limit / scale) return InvalidArgument("number out of range " + Quote(text));
    integer = integer * 10 + (text[pos] - '0');
    ++pos;
    ++int_digits;
  }
  int64_t fraction = 0;
  int frac_digits = 0;
  bool round_up = false;
  size_t frac_count = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (frac_digits < digits) {
        fraction = fraction * 10 + (text[pos] - '0');
        ++frac_digits;
      } else if (frac_digits == digits) {
        round_up = text[pos] >= '5';
        ++frac_digits;  // only the first dropped digit decides rounding
      }
      ++pos;
      ++frac_count;
    }
  }
  if (int_digits == 0 && frac_count == 0) return InvalidArgument("not a number " + Quote(text));
  if (pos < text.size()) {
    if (text[pos] == 'e' || text[pos] == 'E') {
      // Rare in market data: fall back to double for scientific notation.
      std::string copy(text);
      char* end = nullptr;
      double value = std::strtod(copy.c_str(), &end);
      if (end != copy.c_str() + copy.size()) return InvalidArgument("not a number " + Quote(text));
      return DoubleToScaled(value, digits);
    }
    return InvalidArgument("not a number " + Quote(text));
  }
  for (int idx = frac_digits < digits ? frac_digits : digits; idx < digits; ++idx) fraction *= 10;
  int64_t raw = integer * scale + fraction + (round_up ? 1 : 0);
  return negative ? -raw : raw;
}

Result<int64_t> DoubleToScaled(double value, int digits) {
  if (!std::isfinite(value)) return InvalidArgument("non-finite number " + std::to_string(value));
  const double scaled = value * static_cast<double>(Pow10(digits));
  if (std::fabs(scaled) >= 9.2e18) {
    return InvalidArgument("number out of range " + std::to_string(value));
  }
  return static_cast<int64_t>(std::llround(scaled));
}

std::string FormatScaled(int64_t raw, int digits, int shown) {
  if (shown > digits) shown = digits;
  if (shown < 0) shown = 0;
  const int64_t drop = Pow10(digits - shown);
  const bool negative = raw < 0;
  // Round half away from zero to `shown` decimals; unsigned avoids overflow at INT64_MIN.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(raw) : static_cast<uint64_t>(raw);
  magnitude = (magnitude + static_cast<uint64_t>(drop) / 2) / static_cast<uint64_t>(drop);
  const uint64_t unit = static_cast<uint64_t>(Pow10(shown));
  std::string out = negative && magnitude != 0 ? "-" : "";
  out += std::to_string(magnitude / unit);
  if (shown > 0) {
    std::string frac = std::to_string(magnitude % unit);
    out += '.';
    out.append(static_cast<size_t>(shown) - frac.size(), '0');
    out += frac;
  }
  return out;
}

int64_t RoundToPrecision(int64_t raw, int precision) {
  if (precision >= kFixedDigits) return raw;
  const int64_t unit = Pow10(kFixedDigits - precision);
  const int64_t half = unit / 2;
  if (raw >= 0) return (raw + half) / unit * unit;
  return -((-raw + half) / unit * unit);
}

}  // namespace fixed_internal

namespace {
__extension__ typedef __int128 Int128;  // GCC extension: exact 128-bit intermediates

int64_t DivRound(Int128 numerator, Int128 denominator) {
  const bool negative = (numerator < 0) != (denominator < 0);
  if (numerator < 0) numerator = -numerator;
  if (denominator < 0) denominator = -denominator;
  Int128 quotient = (numerator + denominator / 2) / denominator;
  // Saturate instead of wrapping: an amount beyond +-9.2e12 is absurd input, and a huge wrong
  // number is safer than one with the opposite sign.
  const Int128 limit = std::numeric_limits<int64_t>::max();
  if (quotient > limit) quotient = limit;
  return static_cast<int64_t>(negative ? -quotient : quotient);
}
}  // namespace

Money Notional(Price price, Quantity quantity, int64_t multiplier) {
  // price(1e-9) * qty(1e-9) * mult -> 1e-18 units; Money wants 1e-6.
  const Int128 product = static_cast<Int128>(price.raw()) * quantity.raw() * multiplier;
  return Money::FromRaw(
      DivRound(product, static_cast<Int128>(kFixedScale) * kFixedScale / kMoneyScale));
}

Money ConvertMoney(Money amount, Price rate, bool divide) {
  if (divide) {
    if (rate.raw() <= 0) return Money();
    return Money::FromRaw(DivRound(static_cast<Int128>(amount.raw()) * kFixedScale, rate.raw()));
  }
  return Money::FromRaw(DivRound(static_cast<Int128>(amount.raw()) * rate.raw(), kFixedScale));
}

}  // namespace aits
