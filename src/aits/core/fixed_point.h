// Fixed-point Price, Quantity and Money: never `double` in the ledger.
//
// Price and Quantity keep their value as an int64 count of 1e-9 units (`raw`) plus the number of
// decimal digits that are meaningful for the instrument (`precision`, 0..9). One fixed scale makes
// comparison and addition plain integer operations; the precision only governs rounding of outside
// input and formatting. Money (account-currency amounts) is an int64 count of 1e-6 units so that a
// JPY account can hold 9.2e12.
//
// Construction: FromRaw() is unchecked (hot path; the caller guarantees the invariants); Parse()
// and FromDouble() are checked and return an error for non-finite, out-of-range or malformed input.
// Price and Quantity are distinct types so that one can never be passed for the other.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits {

inline constexpr int kFixedDigits = 9;
inline constexpr int64_t kFixedScale = 1'000'000'000;
inline constexpr int kMoneyDigits = 6;
inline constexpr int64_t kMoneyScale = 1'000'000;

// 10^digits for digits in 0..18.
constexpr int64_t Pow10(int digits) {
  int64_t value = 1;
  for (int idx = 0; idx < digits; ++idx) value *= 10;
  return value;
}

namespace fixed_internal {
// "nan", "inf", "infinity" (any case, optional sign) and the MSVC spellings "1.#INF", "1.#QNAN".
bool LooksNonFinite(std::string_view text);
// Parses a decimal number ("-12.345", "1e-3", "7") into a count of 10^-digits units, rounding
// half away from zero. Errors name the text; "nan"/"inf" are reported as non-finite.
Result<int64_t> ParseScaled(std::string_view text, int digits);
// Rounds `value` (a double) to a count of 10^-digits units; error if not finite or out of range.
Result<int64_t> DoubleToScaled(double value, int digits);
// Formats raw (10^-digits units) with exactly `shown` decimals (shown <= digits).
std::string FormatScaled(int64_t raw, int digits, int shown);
// Rounds raw at kFixedDigits to `precision` decimals, half away from zero.
int64_t RoundToPrecision(int64_t raw, int precision);
}  // namespace fixed_internal

// CRTP base shared by Price and Quantity; not used directly.
template <typename Derived>
class FixedValue {
 public:
  constexpr FixedValue() = default;

  // Unchecked: raw is a count of 1e-9 units, precision in 0..9.
  static constexpr Derived FromRaw(int64_t raw, int precision) {
    Derived value;
    value.raw_ = raw;
    value.precision_ = static_cast<uint8_t>(precision);
    return value;
  }
  // Checked: parses decimal text and rounds it to `precision` decimals.
  static Result<Derived> Parse(std::string_view text, int precision) {
    if (precision < 0 || precision > kFixedDigits) {
      return InvalidArgument("precision " + std::to_string(precision) + " is outside 0..9");
    }
    auto raw = fixed_internal::ParseScaled(text, kFixedDigits);
    if (!raw.ok()) return raw.status();
    return FromRaw(fixed_internal::RoundToPrecision(*raw, precision), precision);
  }
  // Checked: rejects NaN, infinities and values beyond +-9.2e9.
  static Result<Derived> FromDouble(double value, int precision) {
    if (precision < 0 || precision > kFixedDigits) {
      return InvalidArgument("precision " + std::to_string(precision) + " is outside 0..9");
    }
    auto raw = fixed_internal::DoubleToScaled(value, kFixedDigits);
    if (!raw.ok()) return raw.status();
    return FromRaw(fixed_internal::RoundToPrecision(*raw, precision), precision);
  }

  constexpr int64_t raw() const { return raw_; }
  constexpr int precision() const { return precision_; }
  constexpr bool IsZero() const { return raw_ == 0; }
  constexpr bool IsPositive() const { return raw_ > 0; }
  constexpr bool IsNegative() const { return raw_ < 0; }
  double AsDouble() const { return static_cast<double>(raw_) / static_cast<double>(kFixedScale); }
  // Exactly precision() decimals, e.g. "1.12345".
  std::string ToString() const {
    return fixed_internal::FormatScaled(raw_, kFixedDigits, precision_);
  }

  friend constexpr bool operator==(const Derived& a, const Derived& b) { return a.raw_ == b.raw_; }
  friend constexpr auto operator<=>(const Derived& a, const Derived& b) {
    return a.raw_ <=> b.raw_;
  }
  friend constexpr Derived operator+(const Derived& a, const Derived& b) {
    return FromRaw(a.raw_ + b.raw_, a.precision_ > b.precision_ ? a.precision_ : b.precision_);
  }
  friend constexpr Derived operator-(const Derived& a, const Derived& b) {
    return FromRaw(a.raw_ - b.raw_, a.precision_ > b.precision_ ? a.precision_ : b.precision_);
  }
  constexpr Derived operator-() const { return FromRaw(-raw_, precision_); }
  // Through Derived: the friends above take Derived operands, which the base alone is not.
  Derived& operator+=(const Derived& other) {
    Derived& self = static_cast<Derived&>(*this);
    return self = self + other;
  }
  Derived& operator-=(const Derived& other) {
    Derived& self = static_cast<Derived&>(*this);
    return self = self - other;
  }

 private:
  int64_t raw_ = 0;
  uint8_t precision_ = 0;
};

class Price : public FixedValue<Price> {};
class Quantity : public FixedValue<Quantity> {
 public:
  constexpr Quantity Abs() const { return raw() < 0 ? -*this : *this; }
};

// An amount in the account currency (or in a named currency where the code says so).
class Money {
 public:
  constexpr Money() = default;
  static constexpr Money FromRaw(int64_t raw) {
    Money money;
    money.raw_ = raw;
    return money;
  }
  static Result<Money> Parse(std::string_view text) {
    auto raw = fixed_internal::ParseScaled(text, kMoneyDigits);
    if (!raw.ok()) return raw.status();
    return FromRaw(*raw);
  }
  static Result<Money> FromDouble(double value) {
    auto raw = fixed_internal::DoubleToScaled(value, kMoneyDigits);
    if (!raw.ok()) return raw.status();
    return FromRaw(*raw);
  }
  constexpr int64_t raw() const { return raw_; }
  double AsDouble() const { return static_cast<double>(raw_) / static_cast<double>(kMoneyScale); }
  std::string ToString(int shown = 2) const {
    return fixed_internal::FormatScaled(raw_, kMoneyDigits, shown);
  }

  friend constexpr bool operator==(Money a, Money b) { return a.raw_ == b.raw_; }
  friend constexpr auto operator<=>(Money a, Money b) { return a.raw_ <=> b.raw_; }
  friend constexpr Money operator+(Money a, Money b) { return FromRaw(a.raw_ + b.raw_); }
  friend constexpr Money operator-(Money a, Money b) { return FromRaw(a.raw_ - b.raw_); }
  constexpr Money operator-() const { return FromRaw(-raw_); }
  Money& operator+=(Money other) {
    raw_ += other.raw_;
    return *this;
  }
  Money& operator-=(Money other) {
    raw_ -= other.raw_;
    return *this;
  }

 private:
  int64_t raw_ = 0;
};

// (price * quantity * multiplier) as Money, computed in 128-bit integers and rounded half away
// from zero: the notional of `quantity` lots of `multiplier` units at `price`.
Money Notional(Price price, Quantity quantity, int64_t multiplier);

// Converts an amount by a rate: amount * rate, or amount / rate when `divide` (e.g. JPY -> USD at
// USD/JPY). 128-bit intermediate; rate must be positive when dividing.
Money ConvertMoney(Money amount, Price rate, bool divide);

}  // namespace aits
