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
#include "aits/strategy/strategy.h"

namespace aits::backtest {

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
};

// Errors: the data cannot be opened or (strict) has a bad row; the configuration is invalid.
Result<BacktestResult> RunBacktest(const BacktestConfig& config, const ProgressFn& progress = {});

// Writes metrics.json, trades.csv, orders.csv, equity.csv and report.html into `dir` (created if
// missing). IoError naming the file that could not be written.
Status WriteBacktestOutputs(const BacktestResult& result, const std::string& dir);

// The metrics.json document (for tests and `--json`).
std::string MetricsJson(const BacktestResult& result);

}  // namespace aits::backtest
