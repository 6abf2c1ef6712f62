// Which instrument a data file holds: its symbol (given, declared by the file, or suggested by the
// file's name) looked up in the instrument catalogue, and for a symbol the catalogue does not know,
// price digits measured from the data. The rules and their order: docs/instruments.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/data/source.h"
#include "aits/model/instrument_catalogue.h"

namespace aits::data {

// The most decimals any accepted price of the file has (0..9): the file is read through the same
// readers as a backtest, without rounding (bid and ask of ticks; bid bars, and the ask file's bars
// where `options.ask_path` is set). A binary store answers from its header. Reads the whole file:
// only symbols the catalogue does not know pay for it. Errors are the readers' (they name the
// file).
Result<int> DetectPriceDigits(const std::string& path, const ReadOptions& options);

// Symbols a file's name suggests, most specific first: "stoxx50-day-2006.txt" -> {"STOXX50",
// "STOXX"}, "gbpusd-m1-bid-2012.csv" -> {"GBPUSD"}, "2012.csv" -> {}.
std::vector<std::string> SymbolsFromFileName(const std::string& path);

struct InstrumentQuery {
  std::string symbol;         // as the user gave it; "" = from the data file
  std::string data_path;      // the data file ("" for a synthetic feed)
  ReadOptions read;           // how the file is read (format, ask file), for DetectPriceDigits
  std::optional<int> digits;  // the user's digits: used instead of measuring an unknown symbol's
  std::string symbol_option = "--symbol";          // the setting's name, for messages
  std::string catalogue_option = "--instruments";  // likewise
};

struct ResolvedInstrument {
  Instrument instrument;  // id 0
  // Where its values came from, for summaries: "built-in config/instruments.csv:34",
  // "not in the catalogue: currency pair EUR/SEK, 5 digits measured in the data".
  std::string origin;
  bool from_catalogue = false;
};

// InvalidArgument, naming the symbol setting and the catalogue, for: a symbol a binary store
// contradicts; a file whose name suggests no symbol the catalogue knows (the symbol must then be
// given); a six-letter symbol that is not in the catalogue and is not two ISO 4217 codes.
Result<ResolvedInstrument> ResolveInstrument(const InstrumentCatalogue& catalogue,
                                             const InstrumentQuery& query);

}  // namespace aits::data
