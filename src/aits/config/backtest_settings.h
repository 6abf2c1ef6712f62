// Builds a BacktestConfig from the values a front end was given (the flags of `aits backtest`;
// services and the API next), a YAML settings file and the defaults, in that order of precedence.
// Every value is validated; errors name the flag, or the file, line, key and value.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aits/backtest/backtest.h"
#include "aits/core/status.h"
#include "aits/data/instrument_resolver.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace aits::config {

// One market data feed of a run over several instruments, as given: `--data SYM=BID[,ASK]`,
// `--convert-data SYM=FILE[,ASK]`, or an entry of the YAML `data:` list.
struct FeedFlag {
  std::string symbol;
  std::vector<std::string> files;  // data file, then the optional ask-side bar file
  std::string role = "trade";      // trade | convert
  std::string where;               // for errors: "--data GBPUSD=a.csv" or "run.yaml:7"
};

// Raw option values as the user gave them (named after the flags of `aits backtest`, which the
// errors quote); unset optionals fall back to the YAML file, then to the defaults.
struct BacktestFlags {
  std::string config_path;
  std::optional<std::string> data;
  std::optional<std::string> ask_data;
  std::optional<std::string> format;
  std::optional<bool> strict;
  std::optional<std::string> symbol;
  std::optional<std::string> instruments;  // catalogue file on top of the built-in one
  std::optional<int> digits;
  std::optional<double> contract_size;
  std::optional<double> lot_step;
  std::optional<double> min_lots;
  std::optional<double> max_lots;
  std::optional<std::string> base;
  std::optional<std::string> quote;
  std::optional<double> margin_rate;
  std::optional<std::string> strategy;
  std::vector<std::string> params;  // "key=value" items or "a=1,b=2" lists
  // The decision stack (signal -> decision engine -> risk manager), as `aits paper --signal`:
  // sma_cross, rsi or ml_ensemble (which --strategy ml_ensemble also means).
  std::optional<std::string> signal;
  node::Settings decision;              // the `decision:` section of the config file
  node::Settings risk;                  // the `risk:` section of the config file
  std::optional<std::string> model;     // ml_ensemble: registry reference ("latest", "NAME", ...)
  std::optional<std::string> registry;  // ml_ensemble: registry directory (default "models")
  std::optional<double> cash;
  std::optional<std::string> currency;
  std::optional<double> leverage;
  std::optional<double> stop_out;
  std::optional<std::string> account_mode;  // netting | hedging
  std::optional<std::string> commission;
  std::optional<int64_t> slippage_points;
  std::optional<int64_t> latency_us;
  std::optional<int64_t> spread_points;
  std::optional<std::string> bar;
  std::optional<std::string> fill_mode;
  std::optional<std::string> out;
  std::optional<std::string> from;  // only data at or after this UTC time
  std::optional<std::string> to;    // only data before this UTC time
  // Every --data value, in order: one plain FILE is the single-feed form (`data`); SYM=FILE[,ASK]
  // items are feeds. --convert-data items are feeds with role convert.
  std::vector<std::string> data_items;
  std::vector<std::string> convert_items;
  std::vector<FeedFlag> feeds;  // parsed from the above, or the YAML `data:` list
};

struct ResolvedBacktest {
  backtest::BacktestConfig config;
  std::string out_dir;            // empty: no files
  std::string instrument_origin;  // where the instrument's values came from (ResolvedInstrument)
};

Result<ResolvedBacktest> ResolveBacktest(const BacktestFlags& flags);

// The feeds of a run over several instruments, shared by `aits backtest` and `aits paper`.
// --data and --convert-data items (SYMBOL=FILE[,ASK_FILE]) in order; with `single`, one plain
// --data FILE is the one-feed form and goes there instead. Errors quote the flag and item.
Status ParseFeedItems(const std::vector<std::string>& data_items,
                      const std::vector<std::string>& convert_items,
                      std::optional<std::string>* single, std::vector<FeedFlag>* feeds);
// The YAML `data:` list of the config file `path` (entries of symbol, files and role; file names
// relative to the file's directory). Errors name the file and line.
Status ParseYamlFeeds(const std::string& path, const YAML::Node& list,
                      std::vector<FeedFlag>* feeds);
// Each feed's instrument from the built-in catalogue with `instruments_file` on top, with ids in
// feed order; `origin` (optional) gets where each one's values came from. Errors name the feed's
// flag or file and line: an unknown role, a symbol given twice, a missing file, a symbol that
// cannot be resolved.
Result<std::vector<backtest::FeedConfig>> ResolveFeeds(const std::vector<FeedFlag>& feeds,
                                                       const std::string& instruments_file,
                                                       const std::optional<std::string>& format,
                                                       std::string* origin);
// The order in which the feeds' instruments get kernel ids (backtest::FeedRegistrationOrder);
// an instrument whose P&L nothing converts is an error naming its flag or file and line.
Result<std::vector<size_t>> FeedOrder(const std::vector<FeedFlag>& flags,
                                      const std::vector<backtest::FeedConfig>& feeds,
                                      Currency account_currency);

// "M1", "M5", "M15", "M30", "H1", "H4", "D1", or a number with a unit: "90s", "7m", "2h", "1d".
Result<Duration> ParseBarPeriod(std::string_view text);

// "2012-02-24", "2012-02-24T13:30", "2012-02-24 13:30:15" (UTC; a trailing Z is allowed).
// Errors quote the text and name `what` (the flag).
Result<Timestamp> ParseDateTime(std::string_view what, std::string_view text);

// The instrument of `data_path`: `symbol` ("" = from the file) looked up in the built-in
// catalogue with `instruments_file` on top (data::ResolveInstrument; docs/instruments.md).
Result<data::ResolvedInstrument> InstrumentFor(const std::string& symbol,
                                               const std::string& data_path,
                                               const std::string& instruments_file,
                                               const data::ReadOptions& read = {},
                                               std::optional<int> digits = std::nullopt);

}  // namespace aits::config
