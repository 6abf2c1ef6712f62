#include "aits/data/instrument_resolver.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "aits/data/tick_store.h"

namespace aits::data {
namespace {

// Decimals needed to write a price exactly: 1.234500000 -> 4.
int DecimalsOf(Price price) {
  int64_t raw = price.raw();
  int decimals = kFixedDigits;
  while (decimals > 0 && raw % 10 == 0) {
    raw /= 10;
    --decimals;
  }
  return decimals;
}

int DecimalsOf(const Ohlc& ohlc) {
  return std::max(
      {DecimalsOf(ohlc.open), DecimalsOf(ohlc.high), DecimalsOf(ohlc.low), DecimalsOf(ohlc.close)});
}

std::string CatalogueHint(const InstrumentCatalogue& catalogue) {
  return "the instrument catalogue (" + catalogue.name() + "; `aits instruments` lists it)";
}

std::string AddRowHint(const InstrumentQuery& query) {
  return "add a row for it to a catalogue file given with " + query.catalogue_option +
         " FILE (docs/instruments.md)";
}

// An instrument for a symbol the catalogue does not know, with `digits` measured or given.
Instrument Uncatalogued(const std::string& symbol, Currency base, Currency quote, int digits) {
  Instrument inst;
  inst.symbol = symbol;
  inst.digits = digits;
  inst.base = base;
  inst.quote = quote;
  const bool pair = !base.empty();
  // The same lot rules Instrument::Infer has always used: FX lots of 100,000 in 0.01 steps, and
  // anything else as CFD units in whole lots.
  inst.contract_size = pair ? 100'000 : 1;
  const int lot_precision = pair ? 2 : 0;
  inst.lot_step = Quantity::FromRaw(pair ? kFixedScale / 100 : kFixedScale, lot_precision);
  inst.min_lots = inst.lot_step;
  inst.max_lots = Quantity::FromRaw((pair ? 100 : 1'000'000) * kFixedScale, lot_precision);
  inst.tick_size = Price::FromRaw(Pow10(kFixedDigits - digits), digits);
  inst.pip_size = PipSizeFor(digits, pair);
  return inst;
}

// Prices of a binary store are already rounded to its digits: those win over the catalogue's.
void UseStoreDigits(int digits, Instrument* inst) {
  if (digits == inst->digits) return;
  inst->digits = digits;
  inst->tick_size = Price::FromRaw(Pow10(kFixedDigits - digits), digits);
  if (inst->contract_size == 100'000 && digits >= 1) {
    inst->pip_size = Price::FromRaw(Pow10(kFixedDigits - digits + 1), digits);
  } else {
    inst->pip_size = inst->tick_size;
  }
}

}  // namespace

Result<int> DetectPriceDigits(const std::string& path, const ReadOptions& given) {
  ReadOptions options = given;
  if (options.format == DataFormat::kAuto) {
    AITS_ASSIGN_OR_RETURN(options.format, DetectFormat(path));
  }
  if (options.format == DataFormat::kBinary) {
    AITS_ASSIGN_OR_RETURN(TickStoreInfo info, ReadTickStoreInfo(path));
    return info.digits;
  }
  options.price_precision = kFixedDigits;
  options.strict = false;     // rejections are the real read's business, not this one's
  options.spread_points = 0;  // a synthesised ask would show the spread's digits, not the data's
  options.max_samples = 0;
  int digits = 0;
  if (IsBarFormat(options.format)) {
    const bool real_ask = !options.ask_path.empty();
    AITS_ASSIGN_OR_RETURN(auto bars, OpenBars(path, options));
    std::vector<Bar> batch(1024);
    while (digits < kFixedDigits) {
      AITS_ASSIGN_OR_RETURN(size_t count, bars->Read(batch));
      if (count == 0) break;
      for (size_t idx = 0; idx < count; ++idx) {
        digits = std::max(digits, DecimalsOf(batch[idx].bid));
        if (real_ask) digits = std::max(digits, DecimalsOf(batch[idx].ask));
      }
    }
    return digits;
  }
  AITS_ASSIGN_OR_RETURN(auto ticks, OpenTicks(path, options));
  std::vector<Tick> batch(4096);
  while (digits < kFixedDigits) {
    AITS_ASSIGN_OR_RETURN(size_t count, ticks->Read(batch));
    if (count == 0) break;
    for (size_t idx = 0; idx < count; ++idx) {
      digits = std::max({digits, DecimalsOf(batch[idx].bid), DecimalsOf(batch[idx].ask)});
    }
  }
  return digits;
}

std::vector<std::string> SymbolsFromFileName(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  std::string alnum;
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) break;
    alnum += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  std::string letters;
  for (char ch : alnum) {
    if (!std::isalpha(static_cast<unsigned char>(ch))) break;
    letters += ch;
  }
  std::vector<std::string> candidates;
  if (!letters.empty() && alnum != letters) candidates.push_back(alnum);
  if (!letters.empty()) candidates.push_back(letters);
  return candidates;
}

Result<ResolvedInstrument> ResolveInstrument(const InstrumentCatalogue& catalogue,
                                             const InstrumentQuery& query) {
  ResolvedInstrument resolved;
  if (!query.data_path.empty() && !std::filesystem::exists(query.data_path)) {
    return NotFound("data file '" + query.data_path + "' does not exist");
  }
  std::string symbol = NormalizeSymbol(query.symbol);
  // A binary store declares its symbol and digits; a given symbol must agree with it.
  std::optional<TickStoreInfo> store;
  if (!query.data_path.empty()) {
    auto info = ReadTickStoreInfo(query.data_path);
    if (info.ok()) store = std::move(*info);
  }
  if (store && !store->symbol.empty()) {
    const std::string declared = NormalizeSymbol(store->symbol);
    if (!symbol.empty() && symbol != declared) {
      return InvalidArgument(query.symbol_option + " " + query.symbol + " disagrees with '" +
                             query.data_path + "', which holds " + store->symbol +
                             " prices (written by aits import): drop " + query.symbol_option +
                             ", or import the original file again as " + query.symbol);
    }
    symbol = declared;
  }

  if (symbol.empty()) {
    // Only a name the catalogue knows is taken from a file name: "mydata.csv" must not become an
    // instrument "MYDATA" with invented currencies.
    const std::vector<std::string> candidates = SymbolsFromFileName(query.data_path);
    for (const std::string& candidate : candidates) {
      if (const CatalogueEntry* entry = catalogue.Find(candidate)) {
        resolved.instrument = entry->instrument;
        resolved.origin = entry->defined_at + ", symbol from the file name";
        resolved.from_catalogue = true;
        return resolved;
      }
    }
    const std::string suggests = candidates.empty()
                                     ? "its name suggests no symbol"
                                     : "its name suggests '" + candidates.back() +
                                           "', which is not in " + CatalogueHint(catalogue);
    return InvalidArgument("cannot tell the instrument of '" + query.data_path + "': " + suggests +
                           "; give " + query.symbol_option + " (e.g. " + query.symbol_option +
                           " GBPUSD), or " + AddRowHint(query));
  }

  if (const CatalogueEntry* entry = catalogue.Find(symbol)) {
    resolved.instrument = entry->instrument;
    resolved.origin = entry->defined_at;
    resolved.from_catalogue = true;
    if (store) UseStoreDigits(store->digits, &resolved.instrument);
    return resolved;
  }

  // Not in the catalogue: a currency pair only when both halves are ISO currencies.
  Currency base;
  Currency quote = Currency::Of("USD");
  const bool six_letters =
      symbol.size() == 6 && std::all_of(symbol.begin(), symbol.end(), [](char ch) {
        return std::isalpha(static_cast<unsigned char>(ch)) != 0;
      });
  if (six_letters) {
    const std::string first = symbol.substr(0, 3);
    const std::string second = symbol.substr(3, 3);
    if (!IsIsoCurrency(first) || !IsIsoCurrency(second) || first == second) {
      return InvalidArgument("unknown currency pair '" + symbol + "' (" + query.symbol_option +
                             "): it is not in " + CatalogueHint(catalogue) + " and " + first + "/" +
                             second +
                             " are not two ISO 4217 currencies; give a symbol the catalogue "
                             "knows, or " +
                             AddRowHint(query));
    }
    base = Currency::Of(first);
    quote = Currency::Of(second);
  }
  int digits = 0;
  std::string digits_origin;
  if (query.digits) {
    digits = *query.digits;
    digits_origin = "digits as given";
  } else if (store) {
    digits = store->digits;
    digits_origin = "digits from the binary store";
  } else if (!query.data_path.empty()) {
    AITS_ASSIGN_OR_RETURN(digits, DetectPriceDigits(query.data_path, query.read));
    digits_origin = std::to_string(digits) + " digits measured in the data";
  } else {
    return InvalidArgument(query.symbol_option + " " + symbol + " is not in " +
                           CatalogueHint(catalogue) +
                           " and there is no data file to take its price digits from; give its "
                           "digits, or " +
                           AddRowHint(query));
  }
  if (digits < 0 || digits > kFixedDigits) {
    return InvalidArgument("digits " + std::to_string(digits) + " of " + symbol +
                           " is outside 0..9");
  }
  resolved.instrument = Uncatalogued(symbol, base, quote, digits);
  resolved.origin =
      "not in the catalogue: " +
      (six_letters ? "currency pair " + std::string(base.view()) + "/" + std::string(quote.view())
                   : std::string("CFD in USD")) +
      ", " + digits_origin;
  return resolved;
}

}  // namespace aits::data
