// Backtest runner: opens the data, builds the kernel through the node builder (node::BuildNode,
// the composition root paper sessions share), replays the history as fast as it can be read,
// and collects everything a report needs.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/data/source.h"
#include "aits/kernel/kernel.h"
#include "aits/node/builder.h"
#include "aits/portfolio/statistics.h"
#include "aits/report/html_report.h"
#include "aits/trading/strategy.h"

namespace aits::backtest {

// What a feed of a run over several instruments is for: traded by its own strategy instance, or
// only read for the rates that convert other instruments' P&L to the account currency (GBP/USD
// for EUR/GBP on a USD account).
enum class FeedRole : uint8_t { kTrade, kConvert };
std::string_view ToString(FeedRole role);  // "trade", "convert"

// One instrument's market data in a run over several (BacktestConfig::feeds).
struct FeedConfig {
  Instrument instrument;  // its id is assigned by the run (FeedRegistrationOrder)
  std::string data_path;
  std::string ask_path;  // bid/ask bar files joined on time, as BacktestConfig::ask_path
  FeedRole role = FeedRole::kTrade;
};

struct BacktestConfig {
  std::string data_path;
  std::string ask_path;  // bid/ask bar files joined on time
  data::DataFormat format = data::DataFormat::kAuto;
  bool strict = false;         // stop at the first bad row
  int64_t spread_points = 0;   // for single-price data or bid-only bars
  Duration data_bar_period{};  // of bar files; zero: inferred
  // Bar data: resample the file's bars to KernelConfig::bar_period before the strategy sees
  // them (a multiple of the file's period). Tick data always use KernelConfig::bar_period.
  bool resample_bars = false;
  // Only data in [start, end) reaches the kernel (bars by open time, ticks by time); rows outside
  // are read (and validated) but skipped. Unset: no bound.
  std::optional<Timestamp> start;
  std::optional<Timestamp> end;
  // "auto" (the default: touch for ticks, next_bar_open for bars), "touch" or "next_bar_open".
  // Ticks fill at the touch and bars at the next bar's open; naming the other is an error rather
  // than a silent switch (bars have no touch; ticks already reach the next bar's first quote).
  std::string fill_mode = "auto";
  Instrument instrument;  // id 0
  std::string strategy = "sma_cross";
  strategy::StrategyParams params;
  // When set, builds the strategy instead of the built-in named by `strategy` (which then only
  // labels the run). Strategies from modules above the kernel (the ML ensemble) come in here.
  std::function<Result<std::unique_ptr<strategy::Strategy>>(const Instrument&)> strategy_factory;
  // When set, the strategy stack is the node's decision stack instead (signal -> DecisionStrategy
  // -> the risk manager of kernel.risk), as a paper session trades; `strategy` then labels the
  // run. The stack's sink, if any, receives every decision record.
  std::optional<node::DecisionStack> decision;
  kernel::KernelConfig kernel;

  // Several instruments in one run (docs/backtest.md, "Several instruments"). When set, these
  // replace data_path, ask_path and instrument; the other settings apply to every feed. The data
  // are merged in time order (equal times in feed order, data/merge.h), each traded feed gets its
  // own instance of the strategy, and one account holds every position. Empty: the one feed of
  // data_path, ask_path and instrument.
  std::vector<FeedConfig> feeds;
};

// The feeds of a run: config.feeds, or the single feed the data_path/ask_path/instrument fields
// describe (role trade).
std::vector<FeedConfig> FeedsOf(const BacktestConfig& config);

// Indices into `feeds` in the order their instruments get kernel ids 0, 1, ...: feed order, except
// that an instrument whose P&L converts through another feed's rate comes after that feed (the
// portfolio resolves a conversion when the instrument is added). InvalidArgument naming the
// symbol, its quote currency and the pair(s) that would convert it when no feed does, or naming a
// symbol given twice.
Result<std::vector<size_t>> FeedRegistrationOrder(const std::vector<FeedConfig>& feeds,
                                                  Currency account_currency);

// One feed's part of a run.
struct FeedResult {
  std::string symbol;
  InstrumentId instrument;  // the kernel's id
  FeedRole role = FeedRole::kTrade;
  std::string data_path;
  std::string ask_path;
  data::DataFormat format = data::DataFormat::kAuto;
  data::ReadStats read_stats;
  uint64_t events = 0;  // ticks (or bars) of this feed that reached the kernel
};

// Called now and then with the fraction of input consumed and the ticks (or bars) so far.
using ProgressFn = std::function<void(double fraction, uint64_t events)>;

struct BacktestResult {
  BacktestConfig config;
  data::DataFormat format = data::DataFormat::kAuto;
  bool bar_data = false;
  data::ReadStats read_stats;
  uint64_t ticks = 0;
  uint64_t bars = 0;
  uint64_t stop_outs = 0;
  uint64_t decisions = 0;  // decision stack: decisions made (HOLD included)
  std::vector<Order> orders;
  std::vector<Fill> fills;
  std::vector<portfolio::TradeRecord> trades;
  std::vector<portfolio::EquityPoint> equity;  // thinned to at most 20,000 points
  uint64_t equity_samples = 0;                 // samples the statistics used
  std::vector<report::SeriesPoint> prices;     // bar mid closes, bounded like the equity curve
  portfolio::PerformanceStats stats;
  Account final_account;
  // Things the user should know about the run that are not errors (zero spread, ...).
  std::vector<std::string> warnings;
  Timestamp first;
  Timestamp last;
  double wall_seconds = 0;
  int64_t peak_rss_kb = 0;
  // Per feed, in the order of FeedsOf(config) (one entry for a single-feed run); read_stats above
  // is their sum.
  std::vector<FeedResult> feeds;
  std::vector<std::string> symbols;  // by kernel instrument id
};

// One instrument's share of a run (for runs over several; the account-level figures are
// BacktestResult::stats). gross_pnl is the closed trades' P&L and commission every fill's on the
// instrument, both in the account currency, so the net_pnl of all symbols sums to the final
// balance minus the initial one.
struct SymbolSummary {
  std::string symbol;
  FeedRole role = FeedRole::kTrade;
  uint64_t events = 0;  // ticks or bars
  uint64_t orders = 0;
  uint64_t fills = 0;
  int64_t trades = 0;
  int64_t winning_trades = 0;
  int64_t losing_trades = 0;
  double win_rate = 0;  // NaN without trades
  Money gross_pnl;
  Money commission;
  Money net_pnl;  // gross_pnl - commission
};
// In feed order.
std::vector<SymbolSummary> SummarizeBySymbol(const BacktestResult& result);

// Errors: the data cannot be opened or (strict) has a bad row; the configuration is invalid.
Result<BacktestResult> RunBacktest(const BacktestConfig& config, const ProgressFn& progress = {});

// Writes metrics.json, trades.csv, orders.csv, equity.csv and report.html into `dir` (created if
// missing). IoError naming the file that could not be written.
Status WriteBacktestOutputs(const BacktestResult& result, const std::string& dir);

// The metrics.json document (for tests and `--json`).
std::string MetricsJson(const BacktestResult& result);

}  // namespace aits::backtest
