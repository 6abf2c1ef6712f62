// The `aits` command line: backtest, import, indicators, info, strategies.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "aits/backtest/backtest.h"
#include "aits/config/backtest_settings.h"
#include "aits/config/model_choice.h"
#include "aits/data/bar_aggregator.h"
#include "aits/data/source.h"
#include "aits/data/synthetic.h"
#include "aits/data/tick_store.h"
#include "aits/features/indicator_set.h"
#include "aits/log/log.h"
#include "aits/trading/signal_source.h"
#include "api_command.h"
#include "bus_command.h"
#include "cli.h"
#include "collect_command.h"
#include "features_command.h"
#include "history_command.h"
#include "ingest_command.h"
#include "instruments_command.h"
#include "live_command.h"
#include "log_flags.h"
#include "ml_commands.h"
#include "monitor_command.h"
#include "mt5sim_command.h"
#include "paper_commands.h"
#include "progress.h"
#include "secret_command.h"
#include "serve_command.h"

namespace aits::app {
namespace {

constexpr const char* kVersion = "0.1.0";

std::string Human(uint64_t value) { return ProgressBar::Human(static_cast<double>(value)); }

// A statistic for the summary; "n/a" where it cannot be computed (NaN), never "nan".
std::string Shown(double value, const char* format) {
  if (!std::isfinite(value)) return "n/a";
  char buf[48];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

// ---------------------------------------------------------------- backtest

int RunBacktestCommand(const config::BacktestFlags& flags, bool quiet, bool json_only) {
  auto resolved = config::ResolveBacktest(flags);
  if (!resolved.ok()) return Fail(resolved.status());
  config::InstalledModel model;
  const Status chosen = config::ChooseBacktestModel(flags, &resolved->config, &model);
  if (!chosen.ok()) return Fail(chosen);
  AITS_LOG_INFO("backtest", "backtest started",
                {{"strategy", resolved->config.strategy},
                 {"symbol", resolved->config.instrument.symbol},
                 {"instrument", resolved->instrument_origin},
                 {"data", resolved->config.data_path}});
  ProgressBar bar("backtest", "events", !quiet && !json_only);
  auto result = backtest::RunBacktest(
      resolved->config, [&bar](double fraction, uint64_t count) { bar.Update(fraction, count); });
  bar.Finish();
  if (!result.ok()) return Fail(result.status());
  AITS_LOG_INFO("backtest", "backtest finished",
                {{"strategy", result->config.strategy},
                 {"symbol", result->config.instrument.symbol},
                 {"ticks", std::to_string(result->ticks)},
                 {"bars", std::to_string(result->bars)},
                 {"trades", std::to_string(result->stats.trades)},
                 {"final_equity", Shown(result->stats.final_equity, "%.2f")},
                 {"wall_seconds", Shown(result->wall_seconds, "%.3f")}});
  if (!model.description.empty() && result->first.ns <= model.train_end.ns &&
      result->last.ns >= model.train_begin.ns) {
    result->warnings.push_back(
        "this backtest covers rows the model was trained on (" + FormatIso8601(model.train_begin) +
        " .. " + FormatIso8601(model.train_end) +
        ", followed by its validation rows): in-sample results overstate what it can do; use "
        "--from after its training and validation span, or aits evaluate");
  }
  const backtest::BacktestResult& r = *result;
  if (!resolved->out_dir.empty()) {
    Status written = backtest::WriteBacktestOutputs(r, resolved->out_dir);
    if (!written.ok()) return Fail(written);
  }
  if (json_only) {
    std::fputs(backtest::MetricsJson(r).c_str(), stdout);
    return 0;
  }
  const auto& s = r.stats;
  const uint64_t events = r.bar_data ? r.bars : r.ticks;
  if (r.feeds.size() > 1) {
    std::printf("%s on %zu symbols (%s)\n", r.config.strategy.c_str(), r.feeds.size(),
                std::string(data::ToString(r.format)).c_str());
  } else {
    std::printf("%s on %s (%s, %s)\n", r.config.strategy.c_str(),
                r.config.instrument.symbol.c_str(), r.config.data_path.c_str(),
                std::string(data::ToString(r.format)).c_str());
  }
  if (!model.description.empty()) {
    std::printf("  model         %s\n", model.description.c_str());
  }
  if (r.feeds.size() > 1) {
    for (const backtest::SymbolSummary& sym : backtest::SummarizeBySymbol(r)) {
      std::printf("  %-13s %s %s, %llu orders, %lld trades, net %s %s\n", sym.symbol.c_str(),
                  Human(sym.events).c_str(), r.bar_data ? "bars" : "ticks",
                  static_cast<unsigned long long>(sym.orders), static_cast<long long>(sym.trades),
                  Shown(sym.net_pnl.AsDouble(), "%+.2f").c_str(),
                  std::string(r.config.kernel.account_currency.view()).c_str());
    }
  } else {
    std::printf("  instrument    %s (%s)\n", r.config.instrument.symbol.c_str(),
                resolved->instrument_origin.c_str());
  }
  std::printf("  period        %s .. %s\n", FormatDateTime(r.first).c_str(),
              FormatDateTime(r.last).c_str());
  std::printf("  data          %s rows, %s accepted, %s rejected\n",
              Human(r.read_stats.rows).c_str(), Human(r.read_stats.accepted).c_str(),
              Human(r.read_stats.TotalRejected()).c_str());
  for (const auto& warning : r.warnings) std::printf("  warning       %s\n", warning.c_str());
  if (r.read_stats.repaired > 0) {
    std::printf("  repaired      %s bars whose ask was below the bid (ask lifted to the bid)\n",
                Human(r.read_stats.repaired).c_str());
  }
  if (r.read_stats.TotalRejected() > 0) {
    std::printf("%s", r.read_stats.Summary().c_str());
  }
  std::printf("  processed     %llu ticks, %llu bars in %.3f s (%s events/s)\n",
              static_cast<unsigned long long>(r.ticks), static_cast<unsigned long long>(r.bars),
              r.wall_seconds,
              Human(static_cast<uint64_t>(
                        r.wall_seconds > 0 ? static_cast<double>(events) / r.wall_seconds : 0))
                  .c_str());
  if (r.config.decision) {
    uint64_t rejected = 0;
    for (const Order& order : r.orders) rejected += order.status == OrderStatus::kRejected;
    std::printf(
        "  decisions     %llu (signal -> decision engine -> risk manager): %llu orders, %llu "
        "rejected\n",
        static_cast<unsigned long long>(r.decisions),
        static_cast<unsigned long long>(r.orders.size()),
        static_cast<unsigned long long>(rejected));
  }
  std::printf("  equity        %.2f -> %.2f %s (%s)\n", s.initial_equity, s.final_equity,
              std::string(r.config.kernel.account_currency.view()).c_str(),
              Shown(s.total_return * 100, "%+.2f %%").c_str());
  std::printf("  trades        %lld (win rate %s, profit factor %s)\n",
              static_cast<long long>(s.trades), Shown(s.win_rate * 100, "%.1f %%").c_str(),
              Shown(s.profit_factor, "%.2f").c_str());
  std::printf("  max drawdown  %s   sharpe %s   sortino %s\n",
              Shown(s.max_drawdown * 100, "%.2f %%").c_str(), Shown(s.sharpe, "%.2f").c_str(),
              Shown(s.sortino, "%.2f").c_str());
  if (!resolved->out_dir.empty()) {
    std::printf(
        "  report        %s/report.html (and metrics.json, trades.csv, orders.csv, "
        "equity.csv)\n",
        resolved->out_dir.c_str());
  }
  return 0;
}

void AddBacktest(CLI::App& app, config::BacktestFlags& flags, bool& quiet, bool& json_only) {
  CLI::App* cmd = app.add_subcommand(
      "backtest",
      "Replay a history through a strategy on the simulated venue and report the result.\n"
      "Example: aits backtest --data gbpusd-m1-bid-2012.csv --ask-data gbpusd-m1-ask-2012.csv \\\n"
      "           --strategy sma_cross --param fast=10 --param slow=30 --out results/");
  cmd->add_option("--config", flags.config_path, "YAML file with any of the settings below")
      ->check(CLI::ExistingFile);
  cmd->add_option(
         "--data", flags.data_items,
         "Tick or bar file (any supported format, or an `aits import` store); or, "
         "repeatable, SYMBOL=FILE[,ASK_FILE] for a run over several instruments merged "
         "in time order (e.g. --data GBPUSD=bid.csv,ask.csv --data USDJPY=bid.csv,ask.csv)")
      ->take_all();
  cmd->add_option("--convert-data", flags.convert_items,
                  "SYMBOL=FILE[,ASK_FILE] (repeatable): a feed read only for the rates that "
                  "convert another symbol's P&L to the account currency, not traded (GBPUSD for "
                  "EURGBP on a USD account)")
      ->take_all();
  cmd->add_option("--ask-data", flags.ask_data, "Ask-side bar file joined on time with --data");
  cmd->add_option("--format", flags.format,
                  "auto|mt5-ticks|mt5-bars|csv-ticks|histdata-ticks|csv-bars|yahoo|price|binary");
  cmd->add_flag("--strict", flags.strict, "Stop at the first bad row instead of counting it");
  cmd->add_option("--symbol", flags.symbol,
                  "Instrument symbol from the catalogue (default: a binary store's own, or a "
                  "catalogue symbol the file name starts with; see `aits instruments`)");
  cmd->add_option("--instruments", flags.instruments,
                  "Instrument catalogue CSV whose rows add to or replace the built-in ones "
                  "(docs/instruments.md)");
  cmd->add_option("--digits", flags.digits,
                  "Price digits (default: the catalogue's; for a symbol it lacks, the most "
                  "decimals in the data; a binary store's own digits)");
  cmd->add_option("--contract-size", flags.contract_size, "Units in one lot (FX: 100000)");
  cmd->add_option("--lot-step", flags.lot_step, "Lot step (FX: 0.01)");
  cmd->add_option("--min-lots", flags.min_lots, "Minimum order size in lots");
  cmd->add_option("--max-lots", flags.max_lots, "Maximum order size in lots");
  cmd->add_option("--base", flags.base, "Base currency (default: from the symbol)");
  cmd->add_option("--quote", flags.quote, "Quote currency (default: from the symbol)");
  cmd->add_option("--margin-rate", flags.margin_rate, "Margin rate multiplier (default 1)");
  cmd->add_option("--strategy", flags.strategy,
                  "sma_cross (default), rsi_reversion, buy_and_hold, random_signal, or ml_ensemble "
                  "(= --signal ml_ensemble)");
  cmd->add_option("--signal", flags.signal,
                  "Trade through the decision engine and the risk manager, as aits paper does: "
                  "sma_cross, rsi or ml_ensemble (a trained model, see --model); settings in the "
                  "decision: and risk: sections of --config");
  cmd->add_option("--param", flags.params,
                  "Strategy or rule-signal parameter key=value (repeatable, or "
                  "a=1,b=2); see `aits strategies`");
  cmd->add_option("--model", flags.model,
                  "ml_ensemble: the model to trade, from the registry: latest (default), NAME "
                  "(its production model), NAME@VERSION or #ID");
  cmd->add_option("--registry", flags.registry,
                  "ml_ensemble: model registry, a directory (default models) or "
                  "postgresql://user@host:port/db");
  cmd->add_option("--from", flags.from,
                  "Trade only data at or after this UTC time (2012-02-24 or 2012-02-24T13:30)");
  cmd->add_option("--to", flags.to, "Trade only data before this UTC time");
  cmd->add_option("--cash", flags.cash, "Starting balance (default 100000)");
  cmd->add_option("--currency", flags.currency, "Account currency (default USD)");
  cmd->add_option("--leverage", flags.leverage, "Account leverage (default 100)");
  cmd->add_option("--stop-out", flags.stop_out,
                  "Margin level in percent below which all positions are closed (default 50; "
                  "0 disables)");
  cmd->add_option("--account-mode", flags.account_mode,
                  "netting (default: one net position per symbol) or hedging (a position per "
                  "opening fill, with its own ticket, as MetaTrader 5 hedging accounts)");
  cmd->add_option("--commission", flags.commission,
                  "none | per_lot:RATE | per_million:RATE | percent:RATE (account currency)");
  cmd->add_option("--slippage", flags.slippage_points, "Adverse slippage in points (default 0)");
  cmd->add_option("--latency-us", flags.latency_us,
                  "Order travel time to the venue in microseconds of simulated time");
  cmd->add_option("--spread", flags.spread_points,
                  "Spread in points for single-price data or bid-only bars");
  cmd->add_option("--bar", flags.bar,
                  "Bar period the strategy sees: built from ticks (default M1), or bar files "
                  "resampled to it (default: the file's period)");
  cmd->add_option("--fill-mode", flags.fill_mode,
                  "auto (default) | touch (tick data: buy at the ask, sell at the bid) | "
                  "next_bar_open (bar data: decide on a close, fill at the next open)");
  cmd->add_option("--out", flags.out,
                  "Directory for metrics.json, trades.csv, orders.csv, "
                  "equity.csv and report.html");
  cmd->add_flag("--no-progress", quiet, "Do not draw a progress bar");
  cmd->add_flag("--json", json_only, "Print metrics.json to stdout instead of a summary");
}

// ---------------------------------------------------------------- import

struct ImportFlags {
  std::string data;
  std::string out;
  std::string format = "auto";
  std::string symbol;
  std::string instruments;
  std::optional<int> digits;
  bool strict = false;
  int64_t spread_points = 0;
  bool quiet = false;
};

ProgressBar* g_import_bar = nullptr;
void ImportProgress(double fraction) {
  if (g_import_bar) g_import_bar->Update(fraction, 0);
}

bool SameFile(const std::string& a, const std::string& b) {
  std::error_code error;
  return std::filesystem::weakly_canonical(a, error) == std::filesystem::weakly_canonical(b, error);
}

int RunImport(const ImportFlags& flags) {
  if (SameFile(flags.data, flags.out)) {
    return Fail(InvalidArgument("--out '" + flags.out + "' is the input file itself"));
  }
  // Re-importing a store keeps its symbol and digits: its prices are already rounded to them.
  auto store = data::ReadTickStoreInfo(flags.data);
  auto format = data::ParseDataFormat(flags.format);
  if (!format.ok()) return Fail(format.status());
  data::ReadOptions probe;
  probe.format = *format;
  std::optional<int> given_digits;
  if (flags.digits && *flags.digits >= 0 && *flags.digits <= kFixedDigits) {
    given_digits = flags.digits;
  }
  auto found =
      config::InstrumentFor(flags.symbol, flags.data, flags.instruments, probe, given_digits);
  if (!found.ok()) return Fail(found.status());
  Instrument inst = found->instrument;
  const std::string symbol = inst.symbol;
  if (store.ok()) {
    if (flags.digits && *flags.digits != store->digits) {
      return Fail(InvalidArgument("'" + flags.data + "' holds " + std::to_string(store->digits) +
                                  "-digit prices; --digits " + std::to_string(*flags.digits) +
                                  " would mislabel them (import the original text file instead)"));
    }
    inst.digits = store->digits;
  }
  if (flags.digits) inst.digits = *flags.digits;
  if (inst.digits < 0 || inst.digits > kFixedDigits) {
    return Fail(InvalidArgument("--digits " + std::to_string(inst.digits) + " is outside 0..9"));
  }
  data::ReadOptions options;
  options.format = *format;
  options.strict = flags.strict;
  options.price_precision = inst.digits;
  options.spread_points = flags.spread_points;
  auto source = data::OpenTicks(flags.data, options);
  if (!source.ok()) return Fail(source.status());
  ProgressBar bar("import", "", !flags.quiet);
  g_import_bar = &bar;
  auto report = data::ImportTicks(**source, symbol, inst.digits, flags.out, &ImportProgress);
  g_import_bar = nullptr;
  bar.Finish();
  if (!report.ok()) return Fail(report.status());
  std::printf("imported %s ticks of %s (%d digits) into %s\n  %s .. %s\n",
              Human(report->info.count).c_str(), report->info.symbol.c_str(), report->info.digits,
              flags.out.c_str(), FormatIso8601(report->info.first).c_str(),
              FormatIso8601(report->info.last).c_str());
  std::printf("%s", report->stats.Summary().c_str());
  return 0;
}

// ---------------------------------------------------------------- indicators

struct IndicatorFlags {
  std::string data;
  std::string ask_data;
  std::string indicators = "sma:30,ema:30,rsi:14,atr:14,macd:12:26:9,bbands:20:2";
  std::string out;
  std::string format = "auto";
  std::string bar = "M1";
  bool bar_given = false;
  std::string symbol;
  int64_t spread_points = 0;
  bool strict = false;
};

std::string FormatValue(double value) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.12g", value);
  return buf;
}

int RunIndicators(const IndicatorFlags& flags) {
  auto set = features::IndicatorSet::Parse(flags.indicators);
  if (!set.ok()) return Fail(set.status().WithContext("--indicators"));
  // Indicators see the file's prices unrounded: a given symbol is only checked, none is needed.
  if (!flags.symbol.empty()) {
    auto inst = config::InstrumentFor(flags.symbol, flags.data, "", {}, kFixedDigits);
    if (!inst.ok()) return Fail(inst.status());
  }
  data::ReadOptions options;
  auto format = data::ParseDataFormat(flags.format);
  if (!format.ok()) return Fail(format.status());
  options.format = *format;
  if (options.format == data::DataFormat::kAuto) {
    auto detected = data::DetectFormat(flags.data);
    if (!detected.ok()) return Fail(detected.status());
    options.format = *detected;
  }
  options.strict = flags.strict;
  options.price_precision = kFixedDigits;  // indicators see the file's prices unrounded
  options.ask_path = flags.ask_data;
  options.spread_points = flags.spread_points;
  auto period = config::ParseBarPeriod(flags.bar);
  if (!period.ok()) return Fail(period.status());
  const bool bar_input = data::IsBarFormat(options.format);
  if (!bar_input && !flags.ask_data.empty()) {
    return Fail(InvalidArgument("--ask-data joins bar files only; '" + flags.data + "' holds " +
                                std::string(data::ToString(options.format))));
  }
  // Open the input before touching --out, so a bad input never truncates an existing file.
  std::unique_ptr<data::BarSource> bars;
  std::unique_ptr<data::TickSource> ticks;
  if (bar_input) {
    auto opened = data::OpenBars(flags.data, options);
    if (!opened.ok()) return Fail(opened.status());
    bars = std::move(*opened);
  } else {
    auto opened = data::OpenTicks(flags.data, options);
    if (!opened.ok()) return Fail(opened.status());
    ticks = std::move(*opened);
  }
  std::optional<data::BarResampler> resampler;
  if (bar_input && flags.bar_given && *period != bars->period()) {
    if (*period < bars->period() || period->ns % bars->period().ns != 0) {
      return Fail(InvalidArgument("--bar " + flags.bar + " is not a multiple of the bars in '" +
                                  flags.data + "'"));
    }
    resampler.emplace(*period);
  }

  const std::string temp_out = flags.out + ".tmp";
  std::ofstream out(temp_out, std::ios::trunc);
  if (!out) return Fail(IoError("cannot open '" + flags.out + "' for writing"));
  out << "timestamp,close";
  for (const auto& name : set->ColumnNames()) out << ',' << name;
  out << '\n';
  std::vector<std::optional<double>> values;
  uint64_t rows = 0;
  auto emit = [&](const Bar& bar) {
    set->Update(bar);
    set->Values(&values);
    out << FormatIso8601(bar.open_time) << ',' << FormatValue(bar.mid.close.AsDouble());
    for (const auto& value : values) {
      out << ',';
      if (value) out << FormatValue(*value);
    }
    out << '\n';
    ++rows;
  };
  const data::ReadStats* stats = nullptr;
  auto fail = [&temp_out](const Status& status) {
    std::error_code ignored;
    std::filesystem::remove(temp_out, ignored);
    return Fail(status);
  };
  if (bar_input) {
    std::vector<Bar> batch(1024);
    Bar resampled;
    while (true) {
      auto count = bars->Read(batch);
      if (!count.ok()) return fail(count.status());
      if (*count == 0) break;
      for (size_t idx = 0; idx < *count; ++idx) {
        if (!resampler) {
          emit(batch[idx]);
        } else if (resampler->Update(batch[idx], &resampled)) {
          emit(resampled);
        }
      }
    }
    if (resampler) {
      if (auto last = resampler->Flush()) emit(*last);
    }
    stats = &bars->stats();
  } else {
    data::BarAggregator aggregator(*period);
    std::vector<Tick> batch(4096);
    Bar finished;
    while (true) {
      auto count = ticks->Read(batch);
      if (!count.ok()) return fail(count.status());
      if (*count == 0) break;
      for (size_t idx = 0; idx < *count; ++idx) {
        if (aggregator.Update(batch[idx], &finished)) emit(finished);
      }
    }
    if (auto last = aggregator.Flush()) emit(*last);
    stats = &ticks->stats();
  }
  out.close();
  if (!out) return fail(IoError("cannot write '" + flags.out + "'"));
  if (rows == 0) {
    return fail(InvalidArgument("no valid bars in '" + flags.data + "'\n" + stats->Summary()));
  }
  std::error_code renamed;
  std::filesystem::rename(temp_out, flags.out, renamed);
  if (renamed) return fail(IoError("cannot write '" + flags.out + "': " + renamed.message()));
  std::printf("wrote %llu rows x %zu indicator columns to %s\n",
              static_cast<unsigned long long>(rows), set->ColumnNames().size(), flags.out.c_str());
  if (stats->TotalRejected() > 0) std::printf("%s", stats->Summary().c_str());
  return 0;
}

// ---------------------------------------------------------------- generate

struct GenerateFlags {
  uint64_t ticks = 10'000'000;
  std::string out;
  std::string symbol = "EURUSD";
  uint64_t seed = 1;
  std::optional<double> start_price;
  uint64_t switch_at = 0;
  double switch_volatility = 1.0;
  bool steady = false;
  bool quiet = false;
};

int RunGenerate(const GenerateFlags& flags) {
  if (flags.ticks == 0) return Fail(InvalidArgument("--ticks must be at least 1"));
  // The catalogue's digits where it knows the symbol; synthetic prices have no digits of their own.
  auto catalogue = InstrumentCatalogue::BuiltIn();
  if (!catalogue.ok()) return Fail(catalogue.status());
  const CatalogueEntry* entry = catalogue->Find(flags.symbol);
  const Instrument inst = entry != nullptr ? entry->instrument : Instrument::Infer(flags.symbol);
  data::SyntheticOptions options;
  options.seed = flags.seed;
  options.count = flags.ticks;
  options.digits = inst.digits;
  // A plausible level for the quote: about 110 for 3-digit (JPY-like) pairs, 1.1 otherwise.
  options.start_price = flags.start_price.value_or(inst.digits == 3 ? 110.0 : 1.1);
  if (flags.switch_at >= flags.ticks) {
    return Fail(InvalidArgument("--switch-at " + std::to_string(flags.switch_at) +
                                ": must be below --ticks " + std::to_string(flags.ticks)));
  }
  options.regime_switching = !flags.steady;
  options.switch_at = flags.switch_at;
  options.switch_volatility = flags.switch_volatility;
  auto source = data::SyntheticTickSource::Create(options);
  if (!source.ok()) return Fail(source.status());
  ProgressBar bar("generate", "", !flags.quiet);
  g_import_bar = &bar;
  auto report = data::ImportTicks(**source, flags.symbol, inst.digits, flags.out, &ImportProgress);
  g_import_bar = nullptr;
  bar.Finish();
  if (!report.ok()) return Fail(report.status());
  std::printf("wrote %s synthetic ticks of %s into %s (%s .. %s)\n",
              Human(report->info.count).c_str(), flags.symbol.c_str(), flags.out.c_str(),
              FormatIso8601(report->info.first).c_str(), FormatIso8601(report->info.last).c_str());
  return 0;
}

// ---------------------------------------------------------------- info

int RunInfo(const std::string& path, const std::string& format_name, bool strict) {
  auto format = data::ParseDataFormat(format_name);
  if (!format.ok()) return Fail(format.status());
  data::DataFormat fmt = *format;
  if (fmt == data::DataFormat::kAuto) {
    auto detected = data::DetectFormat(path);
    if (!detected.ok()) return Fail(detected.status());
    fmt = *detected;
  }
  data::ReadOptions options;
  options.format = fmt;
  options.strict = strict;
  options.price_precision = kFixedDigits;
  std::printf("%s\n  format    %s\n", path.c_str(), std::string(data::ToString(fmt)).c_str());
  if (fmt == data::DataFormat::kBinary) {
    auto info = data::ReadTickStoreInfo(path);
    if (!info.ok()) return Fail(info.status());
    std::printf("  symbol    %s (%d digits)\n", info->symbol.c_str(), info->digits);
  }
  Timestamp first{};
  Timestamp last{};
  uint64_t count = 0;
  const data::ReadStats* stats = nullptr;
  std::unique_ptr<data::BarSource> bars;
  std::unique_ptr<data::TickSource> ticks;
  if (data::IsBarFormat(fmt)) {
    auto opened = data::OpenBars(path, options);
    if (!opened.ok()) return Fail(opened.status());
    bars = std::move(*opened);
    std::vector<Bar> batch(1024);
    while (true) {
      auto n = bars->Read(batch);
      if (!n.ok()) return Fail(n.status());
      if (*n == 0) break;
      if (count == 0) first = batch[0].open_time;
      last = batch[*n - 1].open_time;
      count += *n;
    }
    stats = &bars->stats();
    std::printf("  bars      %llu of %lld s\n", static_cast<unsigned long long>(count),
                static_cast<long long>(bars->period().ns / kNanosPerSecond));
  } else {
    auto opened = data::OpenTicks(path, options);
    if (!opened.ok()) return Fail(opened.status());
    ticks = std::move(*opened);
    std::vector<Tick> batch(4096);
    while (true) {
      auto n = ticks->Read(batch);
      if (!n.ok()) return Fail(n.status());
      if (*n == 0) break;
      if (count == 0) first = batch[0].ts;
      last = batch[*n - 1].ts;
      count += *n;
    }
    stats = &ticks->stats();
    std::printf("  ticks     %llu\n", static_cast<unsigned long long>(count));
  }
  if (count > 0) {
    std::printf("  span      %s .. %s\n", FormatIso8601(first).c_str(),
                FormatIso8601(last).c_str());
  }
  std::printf("%s", stats->Summary().c_str());
  return 0;
}

}  // namespace
}  // namespace aits::app

int main(int argc, char** argv) {
  using namespace aits::app;
  CLI::App app(
      "aits — AI trading system: backtest on real ticks, then paper and live trading "
      "with the same kernel.");
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  LogFlags log_flags;
  AddLogFlags(app, log_flags, "aits");  // before the subcommands, which inherit the fallthrough

  aits::config::BacktestFlags backtest_flags;
  bool backtest_quiet = false;
  bool backtest_json = false;
  AddBacktest(app, backtest_flags, backtest_quiet, backtest_json);

  ImportFlags import_flags;
  CLI::App* import_cmd = app.add_subcommand(
      "import",
      "Convert a tick history once into a compact binary store that runs memory-map.\n"
      "Example: aits import --data eurusd-ticks.csv --out eurusd.aitsbin");
  import_cmd->add_option("--data", import_flags.data, "Tick file to convert")->required();
  import_cmd->add_option("--out", import_flags.out, "Binary store to write")->required();
  import_cmd->add_option("--format", import_flags.format, "Input format (default: detect)");
  import_cmd->add_option("--symbol", import_flags.symbol,
                         "Symbol (default: a catalogue symbol the file name starts with)");
  import_cmd->add_option("--instruments", import_flags.instruments,
                         "Instrument catalogue CSV on top of the built-in one");
  import_cmd->add_option("--digits", import_flags.digits,
                         "Price digits (default: the catalogue's, or the data's for a symbol it "
                         "lacks)");
  import_cmd->add_option("--spread", import_flags.spread_points,
                         "Spread in points for single-price data");
  import_cmd->add_flag("--strict", import_flags.strict, "Stop at the first bad row");
  import_cmd->add_flag("--no-progress", import_flags.quiet, "Do not draw a progress bar");

  IndicatorFlags ind_flags;
  CLI::App* ind_cmd = app.add_subcommand(
      "indicators",
      "Compute streaming indicators per bar and write one CSV row per bar: the bar's open time, "
      "its mid close, one column per output (empty during warm-up).\nExample: aits indicators "
      "--data gbpusd-m1-bid-2012.csv "
      "--indicators sma:30,rsi:14,macd:12:26:9 --out ind.csv");
  ind_cmd->add_option("--data", ind_flags.data, "Tick or bar file")->required();
  ind_cmd->add_option("--ask-data", ind_flags.ask_data, "Ask-side bar file joined on time");
  ind_cmd
      ->add_option("--indicators", ind_flags.indicators,
                   "Comma list: sma:N ema:N rsi:N atr:N macd:F:S:G bbands:N:K stddev:N "
                   "mom:N roc:N vwap cross:F:S")
      ->capture_default_str();
  ind_cmd->add_option("--out", ind_flags.out, "CSV file to write")->required();
  ind_cmd->add_option("--format", ind_flags.format, "Input format (default: detect)");
  ind_cmd->add_option("--bar", ind_flags.bar,
                      "Bar period: bars built from ticks (default M1), or bar files resampled "
                      "to it (default: the file's period)");
  ind_cmd->add_option("--symbol", ind_flags.symbol, "Symbol (checked; prices are not rounded)");
  ind_cmd->add_option("--spread", ind_flags.spread_points, "Spread in points for bid-only data");
  ind_cmd->add_flag("--strict", ind_flags.strict, "Stop at the first bad row");

  std::string info_path;
  std::string info_format = "auto";
  bool info_strict = false;
  CLI::App* info_cmd = app.add_subcommand(
      "info", "Detect a data file's format, validate every row and summarise it.");
  info_cmd->add_option("file", info_path, "Data file")->required();
  info_cmd->add_option("--format", info_format, "Input format (default: detect)");
  info_cmd->add_flag("--strict", info_strict, "Stop at the first bad row");

  GenerateFlags gen_flags;
  CLI::App* gen_cmd = app.add_subcommand(
      "generate",
      "Write a synthetic tick history (regime-switching random walk, realistic spread,\n"
      "FX weekends) as a binary store, for benchmarks and paper trading.");
  gen_cmd->add_option("--ticks", gen_flags.ticks, "Number of ticks")->capture_default_str();
  gen_cmd->add_option("--out", gen_flags.out, "Binary store to write")->required();
  gen_cmd->add_option("--symbol", gen_flags.symbol, "Symbol")->capture_default_str();
  gen_cmd->add_option("--seed", gen_flags.seed, "Random seed")->capture_default_str();
  gen_cmd->add_option("--start-price", gen_flags.start_price,
                      "First mid price (default 110 for JPY pairs, 1.1 otherwise)");
  gen_cmd->add_flag("--steady", gen_flags.steady,
                    "One volatility regime throughout (no Markov switching): a steady market");
  gen_cmd
      ->add_option("--switch-at", gen_flags.switch_at,
                   "A change of market at this tick (0-based; 0: none): the ticks before it "
                   "are those of the same history without it")
      ->capture_default_str();
  gen_cmd
      ->add_option("--switch-volatility", gen_flags.switch_volatility,
                   "From --switch-at on, every step this many times as large")
      ->capture_default_str();
  gen_cmd->add_flag("--no-progress", gen_flags.quiet, "Do not draw a progress bar");

  AddFeaturesCommand(app);
  AddMlCommands(app);
  AddPaperCommands(app);
  AddInstrumentsCommand(app);
  AddMonitorCommand(app);
  AddMt5SimCommand(app);
  AddLiveCommand(app);
  AddHistoryCommand(app);
  AddCollectCommand(app);
  AddIngestCommand(app);
  AddServeCommand(app);
  AddBusCommand(app);
  AddApiCommand(app);
  AddSecretCommand(app);

  CLI::App* strategies_cmd =
      app.add_subcommand("strategies", "List the built-in strategies and their parameters.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return ParseFailure(app, error);
  }

  if (app.got_subcommand("backtest")) {
    return RunBacktestCommand(backtest_flags, backtest_quiet, backtest_json);
  }
  if (app.got_subcommand(import_cmd)) return RunImport(import_flags);
  if (app.got_subcommand(ind_cmd)) {
    ind_flags.bar_given = ind_cmd->count("--bar") > 0;
    return RunIndicators(ind_flags);
  }
  if (app.got_subcommand(gen_cmd)) return RunGenerate(gen_flags);
  if (app.got_subcommand(info_cmd)) return RunInfo(info_path, info_format, info_strict);
  if (app.got_subcommand(strategies_cmd)) {
    for (const auto& info : aits::strategy::BuiltInStrategies()) {
      std::printf("%s\n  %s\n%s\n", info.name.c_str(), info.description.c_str(),
                  info.parameters.c_str());
    }
    std::printf(
        "ml_ensemble\n  Trades a trained ensemble (aits train) from the registry through the "
        "decision engine and the risk manager, as aits paper --signal ml_ensemble does: its "
        "score is the signal; thresholds, filters, sizing and stops are the decision: section "
        "of --config, limits the risk: section (docs/decision.md, docs/risk.md). Needs --model "
        "(default latest) and --registry. No parameters.\n");
    std::printf("\nSignals for --signal (the decision stack, as aits paper):\n");
    for (const auto& info : aits::trading::RuleSignals()) {
      std::printf("%s\n  %s\n", info.name.c_str(), info.description.c_str());
      // One parameter a line, indented like the strategies' above.
      size_t begin = 0;
      while (begin < info.parameters.size()) {
        size_t end = info.parameters.find('\n', begin);
        if (end == std::string::npos) end = info.parameters.size();
        std::printf("  %.*s\n", static_cast<int>(end - begin), info.parameters.data() + begin);
        begin = end + 1;
      }
    }
    std::printf("ml_ensemble\n  A trained ensemble from the registry (--model, --registry).\n");
    return 0;
  }
  return 0;
}
