#include "aits/model/instrument.h"

#include <cctype>

namespace aits {

Currency Currency::Of(std::string_view text) {
  Currency currency;
  for (size_t idx = 0; idx < 3 && idx < text.size(); ++idx) {
    currency.code[idx] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[idx])));
  }
  return currency;
}

Instrument Instrument::Infer(std::string_view symbol) {
  Instrument inst;
  inst.symbol = std::string(symbol);
  std::string letters;
  for (char ch : symbol) {
    if (std::isalpha(static_cast<unsigned char>(ch))) {
      letters += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
  }
  const bool fx = letters.size() == 6;
  if (fx) {
    inst.base = Currency::Of(letters.substr(0, 3));
    inst.quote = Currency::Of(letters.substr(3, 3));
    const bool jpy_like = inst.quote == Currency::Of("JPY") || inst.quote == Currency::Of("THB");
    inst.digits = jpy_like ? 3 : 5;
    inst.contract_size = 100'000;
    inst.lot_step = Quantity::FromRaw(kFixedScale / 100, 2);
    inst.min_lots = Quantity::FromRaw(kFixedScale / 100, 2);
    inst.max_lots = Quantity::FromRaw(100 * kFixedScale, 2);
    inst.pip_size = Price::FromRaw(Pow10(kFixedDigits - inst.digits + 1), inst.digits);
  } else {
    inst.base = Currency::Of(letters.empty() ? "XXX" : letters);
    inst.quote = Currency::Of("USD");
    inst.digits = 2;
    inst.contract_size = 1;
    inst.lot_step = Quantity::FromRaw(kFixedScale, 0);
    inst.min_lots = Quantity::FromRaw(kFixedScale, 0);
    inst.max_lots = Quantity::FromRaw(1'000'000 * kFixedScale, 0);
    inst.pip_size = Price::FromRaw(Pow10(kFixedDigits - inst.digits), inst.digits);
  }
  inst.tick_size = Price::FromRaw(Pow10(kFixedDigits - inst.digits), inst.digits);
  return inst;
}

Status Instrument::Validate() const {
  const std::string where = "instrument '" + symbol + "': ";
  if (symbol.empty()) return InvalidArgument("instrument: symbol is empty");
  if (digits < 0 || digits > kFixedDigits) {
    return InvalidArgument(where + "digits " + std::to_string(digits) + " is outside 0..9");
  }
  if (!tick_size.IsPositive()) return InvalidArgument(where + "tick_size must be positive");
  if (!pip_size.IsPositive()) return InvalidArgument(where + "pip_size must be positive");
  if (contract_size <= 0 || contract_size > 1'000'000'000) {
    return InvalidArgument(where + "contract_size " + std::to_string(contract_size) +
                           " is outside 1..1000000000");
  }
  if (!lot_step.IsPositive()) return InvalidArgument(where + "lot_step must be positive");
  if (!min_lots.IsPositive()) return InvalidArgument(where + "min_lots must be positive");
  if (max_lots < min_lots) {
    return InvalidArgument(where + "max_lots " + max_lots.ToString() + " is below min_lots " +
                           min_lots.ToString());
  }
  if (quote.empty()) return InvalidArgument(where + "quote currency is not set");
  if (!(margin_rate > 0) || margin_rate > 100) {
    return InvalidArgument(where + "margin_rate " + std::to_string(margin_rate) +
                           " is outside (0, 100]");
  }
  if (!(margin_hedged >= 0) || margin_hedged > static_cast<double>(contract_size)) {
    return InvalidArgument(where + "margin_hedged " + std::to_string(margin_hedged) +
                           " is outside 0..contract_size (" + std::to_string(contract_size) + ")");
  }
  return Status::Ok();
}

int Instrument::LotPrecision() const {
  int precision = 0;
  int64_t step = lot_step.raw();
  int64_t unit = kFixedScale;
  while (precision < kFixedDigits && step % unit != 0) {
    unit /= 10;
    ++precision;
  }
  return precision;
}

Quantity Instrument::RoundLots(Quantity lots) const {
  const int64_t step = lot_step.raw() > 0 ? lot_step.raw() : 1;
  return Quantity::FromRaw(lots.raw() / step * step, LotPrecision());
}

}  // namespace aits
