#include "aits/backtest/backtest.h"

#include "aits/core/text.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aits/data/bar_aggregator.h"
#include "aits/data/merge.h"
#include "aits/data/tick_store.h"
#include "aits/trading/per_instrument.h"

namespace aits::backtest {
namespace {

// Keeps at most `max_points` of a long series by doubling the sampling stride when full, so
// memory stays bounded however long the history.
class BoundedSeries {
 public:
  explicit BoundedSeries(size_t max_points) : max_points_(max_points) {}
  void Add(Timestamp ts, double value) {
    if (count_++ % stride_ != 0) return;
    points_.push_back({ts, value});
    if (points_.size() >= max_points_) {
      size_t kept = 0;
      for (size_t idx = 0; idx < points_.size(); idx += 2) points_[kept++] = points_[idx];
      points_.resize(kept);
      stride_ *= 2;
    }
  }
  std::vector<report::SeriesPoint> Take() { return std::move(points_); }

 private:
  size_t max_points_;
  size_t stride_ = 1;
  size_t count_ = 0;
  std::vector<report::SeriesPoint> points_;
};

int64_t PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

data::ReadOptions MakeReadOptions(const BacktestConfig& config, const FeedConfig& feed) {
  data::ReadOptions options;
  options.format = config.format;
  options.strict = config.strict;
  options.price_precision = feed.instrument.digits;
  options.instrument = feed.instrument.id;
  options.ask_path = feed.ask_path;
  options.spread_points = config.spread_points;
  options.bar_period = config.data_bar_period;
  return options;
}

// Whether the portfolio can convert `inst`'s P&L with the instruments in `added`
// (portfolio.h: quote or base is the account currency, or a rate instrument QUOTE/ACCOUNT or
// ACCOUNT/QUOTE is registered).
bool Convertible(const Instrument& inst, Currency account,
                 const std::vector<const Instrument*>& added) {
  if (inst.quote == account || inst.base == account) return true;
  for (const Instrument* rate : added) {
    if ((rate->base == inst.quote && rate->quote == account) ||
        (rate->base == account && rate->quote == inst.quote)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view ToString(FeedRole role) {
  return role == FeedRole::kConvert ? "convert" : "trade";
}

std::vector<FeedConfig> FeedsOf(const BacktestConfig& config) {
  if (!config.feeds.empty()) return config.feeds;
  FeedConfig feed;
  feed.instrument = config.instrument;
  feed.data_path = config.data_path;
  feed.ask_path = config.ask_path;
  return {feed};
}

Result<std::vector<size_t>> FeedRegistrationOrder(const std::vector<FeedConfig>& feeds,
                                                  Currency account_currency) {
  for (size_t idx = 0; idx < feeds.size(); ++idx) {
    for (size_t other = 0; other < idx; ++other) {
      if (feeds[other].instrument.symbol == feeds[idx].instrument.symbol) {
        return InvalidArgument("symbol " + feeds[idx].instrument.symbol + " has two feeds ('" +
                               feeds[other].data_path + "' and '" + feeds[idx].data_path +
                               "'); give each instrument once");
      }
    }
  }
  std::vector<size_t> order;
  std::vector<const Instrument*> added;
  std::vector<bool> placed(feeds.size(), false);
  // Few feeds: repeated passes in feed order are simple and keep feed order where it works.
  bool progress = true;
  while (order.size() < feeds.size() && progress) {
    progress = false;
    for (size_t idx = 0; idx < feeds.size(); ++idx) {
      if (placed[idx] || !Convertible(feeds[idx].instrument, account_currency, added)) continue;
      placed[idx] = true;
      order.push_back(idx);
      added.push_back(&feeds[idx].instrument);
      progress = true;
    }
  }
  for (size_t idx = 0; idx < feeds.size(); ++idx) {
    if (placed[idx]) continue;
    const Instrument& inst = feeds[idx].instrument;
    const std::string quote(inst.quote.view());
    const std::string account(account_currency.view());
    return InvalidArgument(inst.symbol + " is quoted in " + quote + " and the account is in " +
                           account + ": no feed converts its P&L; add a feed for " + quote +
                           account + " (or " + account + quote +
                           "), as a conversion-only feed if it is not to be traded "
                           "(--convert-data, or role: convert)");
  }
  return order;
}

Result<BacktestResult> RunBacktest(const BacktestConfig& config, const ProgressFn& progress) {
  const auto wall_start = std::chrono::steady_clock::now();
  AITS_RETURN_IF_ERROR(config.kernel.Validate());
  std::vector<FeedConfig> feeds = FeedsOf(config);
  for (const FeedConfig& feed : feeds) AITS_RETURN_IF_ERROR(feed.instrument.Validate());
  const bool several = feeds.size() > 1;
  std::vector<size_t> order = {0};
  if (several) {
    AITS_ASSIGN_OR_RETURN(order, FeedRegistrationOrder(feeds, config.kernel.account_currency));
    if (std::none_of(feeds.begin(), feeds.end(),
                     [](const FeedConfig& feed) { return feed.role == FeedRole::kTrade; })) {
      return InvalidArgument("every feed has role convert: nothing is traded");
    }
  }
  for (size_t rank = 0; rank < order.size(); ++rank) {
    feeds[order[rank]].instrument.id = InstrumentId{static_cast<uint32_t>(rank)};
  }

  BacktestResult result;
  result.config = config;
  if (several) result.config.feeds = feeds;  // with the ids the run gave them
  result.symbols.resize(feeds.size());
  for (const FeedConfig& feed : feeds) {
    result.symbols[feed.instrument.id.value] = feed.instrument.symbol;
    FeedResult feed_result;
    feed_result.symbol = feed.instrument.symbol;
    feed_result.instrument = feed.instrument.id;
    feed_result.role = feed.role;
    feed_result.data_path = feed.data_path;
    feed_result.ask_path = feed.ask_path;
    feed_result.format = config.format;
    if (feed_result.format == data::DataFormat::kAuto) {
      AITS_ASSIGN_OR_RETURN(feed_result.format, data::DetectFormat(feed.data_path));
    }
    result.feeds.push_back(std::move(feed_result));
  }
  const data::DataFormat format = result.feeds[0].format;
  result.format = format;
  result.bar_data = data::IsBarFormat(format);
  for (const FeedResult& feed : result.feeds) {
    if (data::IsBarFormat(feed.format) != result.bar_data) {
      return InvalidArgument(
          "'" + feed.data_path + "' holds " + std::string(data::ToString(feed.format)) + " but '" +
          result.feeds[0].data_path + "' holds " + std::string(data::ToString(format)) +
          ": the feeds of one run must all be ticks or all be bars");
    }
  }
  if (config.fill_mode != "auto" && config.fill_mode != "touch" &&
      config.fill_mode != "next_bar_open") {
    return InvalidArgument("fill mode '" + config.fill_mode +
                           "' is not one of: auto, touch, next_bar_open");
  }
  for (const FeedResult& feed : result.feeds) {
    if (result.bar_data && config.fill_mode == "touch") {
      return InvalidArgument("fill mode 'touch' needs tick data; '" + feed.data_path +
                             "' holds bars, which fill at the next bar's open (next_bar_open)");
    }
    if (!result.bar_data && config.fill_mode == "next_bar_open") {
      return InvalidArgument("fill mode 'next_bar_open' is for bar data; '" + feed.data_path +
                             "' holds ticks, which fill at the touch of the first quote an order "
                             "meets (a bar strategy's orders meet the next bar's first tick)");
    }
    if (!result.bar_data && !feed.ask_path.empty()) {
      return InvalidArgument("an ask file ('" + feed.ask_path + "') joins bar files only; '" +
                             feed.data_path + "' holds " +
                             std::string(data::ToString(feed.format)) +
                             ", which already carry bid and ask");
    }
    const std::string which = several ? " in '" + feed.data_path + "'" : "";
    if (feed.format == data::DataFormat::kPrice && config.spread_points == 0) {
      result.warnings.push_back("single-price data" + which +
                                " without a spread: bid = ask, so no trade pays a spread "
                                "(set --spread POINTS)");
    }
    if ((feed.format == data::DataFormat::kCsvBars || feed.format == data::DataFormat::kYahoo) &&
        feed.ask_path.empty() && config.spread_points == 0) {
      result.warnings.push_back(
          "bid-only bars" + which +
          " without an ask file or a spread: ask = bid, so no trade pays a spread "
          "(give --ask-data FILE or --spread POINTS)");
    }
  }

  // The node builder is the composition root; the backtest adds the clock, the data and the
  // price chart's Bar subscriber.
  SimulatedClock clock;
  node::NodeConfig node_config;
  node_config.kernel = config.kernel;
  node_config.kernel.venue.fill_mode =
      result.bar_data ? execution::FillMode::kNextBarOpen : execution::FillMode::kTouch;
  node_config.decision = config.decision;
  node_config.strategy_factory = config.strategy_factory;
  node_config.strategy = config.strategy;
  node_config.params = config.params;
  // Every feed is an instrument of the kernel (in registration order, so that each one's P&L
  // converts through those before it); the strategy stack trades the feeds with role trade, one
  // instance each.
  for (size_t feed_idx : order) node_config.instruments.push_back(feeds[feed_idx].instrument);
  for (const Instrument& instrument : node_config.instruments) {
    if (feeds[order[instrument.id.value]].role == FeedRole::kTrade) {
      node_config.traded.push_back(instrument.id);
    }
  }
  AITS_ASSIGN_OR_RETURN(node::Node node, node::BuildNode(node_config, clock));
  kernel::Kernel& kernel = *node.kernel;
  // The first traded feed's bars are the report's price chart (prices of other instruments are
  // on other scales).
  const InstrumentId chart_instrument = node_config.traded.front();

  BoundedSeries prices(20'000);
  kernel.bus().Subscribe<Bar>([&prices, chart_instrument](const Bar& bar) {
    if (bar.instrument == chart_instrument) prices.Add(bar.CloseTime(), bar.mid.close.AsDouble());
  });

  // Ticks (or bars) per instrument that reached the kernel.
  std::vector<uint64_t> events(feeds.size(), 0);
  kernel.Start();
  bool have_first = false;
  if (result.bar_data) {
    std::vector<std::unique_ptr<data::BarSource>> sources;
    for (size_t idx = 0; idx < feeds.size(); ++idx) {
      data::ReadOptions options = MakeReadOptions(config, feeds[idx]);
      options.format = result.feeds[idx].format;
      AITS_ASSIGN_OR_RETURN(auto source, data::OpenBars(feeds[idx].data_path, options));
      if (!sources.empty() && source->period() != sources[0]->period()) {
        return InvalidArgument(
            "'" + feeds[idx].data_path + "' holds bars of " +
            std::to_string(source->period().ns / kNanosPerSecond) + " s but '" +
            feeds[0].data_path + "' bars of " +
            std::to_string(sources[0]->period().ns / kNanosPerSecond) +
            " s: the bar feeds of one run must have one period (use --bar to resample both)");
      }
      sources.push_back(std::move(source));
    }
    data::MergedBarSource source(std::move(sources));
    std::vector<std::optional<data::BarResampler>> resamplers(feeds.size());
    const Duration wanted = config.kernel.bar_period;
    if (config.resample_bars && wanted != source.period()) {
      if (wanted < source.period() || wanted.ns % source.period().ns != 0) {
        return InvalidArgument("bar period of " + std::to_string(wanted.ns / kNanosPerSecond) +
                               " s is not a multiple of the " +
                               std::to_string(source.period().ns / kNanosPerSecond) +
                               " s bars in '" + feeds[0].data_path + "'");
      }
      for (auto& resampler : resamplers) resampler.emplace(wanted);
    }
    std::vector<Bar> batch(1024);
    uint64_t next_report = 0;
    Bar resampled;
    bool past_end = false;
    while (!past_end) {
      AITS_ASSIGN_OR_RETURN(size_t count, source.Read(batch));
      if (count == 0) break;
      for (size_t idx = 0; idx < count; ++idx) {
        const Bar* bar = &batch[idx];
        if (config.start && bar->open_time < *config.start) continue;
        if (config.end && bar->open_time >= *config.end) {
          past_end = true;
          break;
        }
        auto& resampler = resamplers[bar->instrument.value];
        if (resampler) {
          // The last resampled bar may be incomplete; like the kernel's last tick-built bar,
          // it is never traded on.
          if (!resampler->Update(*bar, &resampled)) continue;
          bar = &resampled;
        }
        if (!have_first) {
          result.first = bar->open_time;
          have_first = true;
        }
        ++events[bar->instrument.value];
        clock.AdvanceTo(bar->CloseTime());
        kernel.OnBar(*bar);
      }
      if (progress && kernel.bars_processed() >= next_report) {
        progress(source.Progress(), kernel.bars_processed());
        next_report = kernel.bars_processed() + 16 * 1024;
      }
    }
    result.read_stats = source.stats();
    for (size_t idx = 0; idx < feeds.size(); ++idx) {
      result.feeds[idx].read_stats = source.feed_stats(idx);
    }
  } else {
    std::vector<std::unique_ptr<data::TickSource>> sources;
    for (size_t idx = 0; idx < feeds.size(); ++idx) {
      data::ReadOptions options = MakeReadOptions(config, feeds[idx]);
      options.format = result.feeds[idx].format;
      AITS_ASSIGN_OR_RETURN(auto source, data::OpenTicks(feeds[idx].data_path, options));
      sources.push_back(std::move(source));
    }
    data::MergedTickSource source(std::move(sources));
    // 1024 ticks (56 KB) per read: few enough that the batch written by the source is still in
    // the CPU's caches when the kernel reads it back, enough that the read call is amortised.
    std::vector<Tick> batch(1024);
    // The window as plain times, read once: config is behind a reference the compiler must
    // otherwise reload around every OnTick call.
    const int64_t window_start =
        config.start ? config.start->ns : std::numeric_limits<int64_t>::min();
    const int64_t window_end = config.end ? config.end->ns : std::numeric_limits<int64_t>::max();
    const bool has_end = config.end.has_value();
    uint64_t next_report = 0;
    bool past_end = false;
    while (!past_end) {
      AITS_ASSIGN_OR_RETURN(size_t count, source.Read(batch));
      if (count == 0) break;
      for (size_t idx = 0; idx < count; ++idx) {
        const Tick& tick = batch[idx];
        if (tick.ts.ns < window_start) continue;
        if (has_end && tick.ts.ns >= window_end) {
          past_end = true;
          break;
        }
        if (!have_first) {
          result.first = tick.ts;
          have_first = true;
        }
        ++events[tick.instrument.value];
        clock.AdvanceTo(tick.ts);
        kernel.OnTick(tick);
      }
      if (progress && kernel.ticks_processed() >= next_report) {
        progress(source.Progress(), kernel.ticks_processed());
        next_report = kernel.ticks_processed() + 256 * 1024;
      }
    }
    result.read_stats = source.stats();
    for (size_t idx = 0; idx < feeds.size(); ++idx) {
      result.feeds[idx].read_stats = source.feed_stats(idx);
    }
  }
  kernel.Stop();
  for (size_t idx = 0; idx < feeds.size(); ++idx) {
    result.feeds[idx].events = events[feeds[idx].instrument.id.value];
  }
  if (progress) progress(1.0, result.bar_data ? kernel.bars_processed() : kernel.ticks_processed());
  if (!have_first) {
    std::string paths;
    for (const FeedConfig& feed : feeds) {
      paths += (paths.empty() ? "'" : ", '") + feed.data_path + "'";
    }
    return InvalidArgument("no valid market data in " + paths +
                           (config.start || config.end ? " within the time window" : "") + "\n" +
                           result.read_stats.Summary());
  }
  if (several) {
    for (const FeedResult& feed : result.feeds) {
      if (feed.events == 0) {
        result.warnings.push_back(feed.symbol + ": no data from '" + feed.data_path + "'" +
                                  (config.start || config.end ? " within the time window" : "") +
                                  " reached the run");
      }
    }
  }

  result.last = clock.Now();
  result.ticks = kernel.ticks_processed();
  result.bars = kernel.bars_processed();
  result.stop_outs = kernel.stop_outs();
  for (const trading::DecisionStrategy* strategy : node.decision_strategies) {
    result.decisions += strategy->decisions();
  }
  result.orders.assign(kernel.orders().begin(), kernel.orders().end());
  result.fills.assign(kernel.fills().begin(), kernel.fills().end());
  const portfolio::Portfolio& book = kernel.portfolio();
  result.trades = book.trades();
  result.equity = book.equity_curve().points();
  result.equity_samples = book.equity_curve().SampleCount();
  result.prices = prices.Take();
  result.stats = portfolio::ComputeStatistics(book.equity_curve(), book.trades(),
                                              book.TimeInMarket(), book.TotalCommission());
  result.final_account = book.account();
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  result.peak_rss_kb = PeakRssKb();
  return result;
}

namespace {

using nlohmann::json;

json Number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

std::string OptionalPrice(const std::optional<Price>& price) {
  return price ? price->ToString() : "";
}

std::string CsvEscape(std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return IoError("cannot open '" + path.string() + "' for writing");
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return IoError("cannot write '" + path.string() + "'");
  return Status::Ok();
}

std::string Percent(double fraction) {
  if (!std::isfinite(fraction)) return "n/a";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  out << fraction * 100 << " %";
  return out.str();
}

std::string Fixed(double value, int decimals) { return FormatFixed(value, decimals); }

}  // namespace

std::vector<SymbolSummary> SummarizeBySymbol(const BacktestResult& result) {
  std::vector<SymbolSummary> by_id(result.symbols.size());
  for (const FeedResult& feed : result.feeds) {
    if (feed.instrument.value >= by_id.size()) continue;
    SymbolSummary& summary = by_id[feed.instrument.value];
    summary.symbol = feed.symbol;
    summary.role = feed.role;
    summary.events = feed.events;
  }
  auto at = [&by_id](InstrumentId id) -> SymbolSummary* {
    return id.value < by_id.size() ? &by_id[id.value] : nullptr;
  };
  for (const Order& order : result.orders) {
    if (SymbolSummary* summary = at(order.request.instrument)) ++summary->orders;
  }
  for (const Fill& fill : result.fills) {
    if (SymbolSummary* summary = at(fill.instrument)) {
      ++summary->fills;
      summary->commission += fill.commission;
    }
  }
  for (const portfolio::TradeRecord& trade : result.trades) {
    SymbolSummary* summary = at(trade.instrument);
    if (!summary) continue;
    ++summary->trades;
    if (trade.net_pnl.raw() > 0) ++summary->winning_trades;
    if (trade.net_pnl.raw() < 0) ++summary->losing_trades;
    summary->gross_pnl += trade.gross_pnl;
  }
  std::vector<SymbolSummary> out;
  for (const FeedResult& feed : result.feeds) {
    if (feed.instrument.value >= by_id.size()) continue;
    SymbolSummary summary = by_id[feed.instrument.value];
    summary.net_pnl = summary.gross_pnl - summary.commission;
    summary.win_rate = summary.trades > 0 ? static_cast<double>(summary.winning_trades) /
                                                static_cast<double>(summary.trades)
                                          : NAN;
    out.push_back(std::move(summary));
  }
  return out;
}

namespace {

// The instrument of the report's price chart: the first traded feed's (RunBacktest charts it).
InstrumentId ChartInstrument(const BacktestResult& result) {
  for (const FeedResult& feed : result.feeds) {
    if (feed.role == FeedRole::kTrade) return feed.instrument;
  }
  return InstrumentId{};
}

json RejectedJson(const data::ReadStats& stats) {
  json rejected = json::object();
  for (size_t idx = 0; idx < stats.rejected.size(); ++idx) {
    rejected[std::string(data::ToString(static_cast<data::RowRejectReason>(idx)))] =
        stats.rejected[idx];
  }
  return rejected;
}

json SamplesJson(const data::ReadStats& stats) {
  json samples = json::array();
  for (const auto& sample : stats.samples) samples.push_back(sample.ToString());
  return samples;
}

json InstrumentJson(const Instrument& inst) {
  return {{"symbol", inst.symbol},
          {"digits", inst.digits},
          {"contract_size", inst.contract_size},
          {"base", std::string(inst.base.view())},
          {"quote", std::string(inst.quote.view())}};
}

// Runs over several instruments: one entry per feed, in feed order.
json SymbolsJson(const BacktestResult& result) {
  json symbols = json::array();
  const std::vector<SymbolSummary> summaries = SummarizeBySymbol(result);
  for (size_t idx = 0; idx < result.feeds.size() && idx < summaries.size(); ++idx) {
    const FeedResult& feed = result.feeds[idx];
    const SymbolSummary& summary = summaries[idx];
    json entry = {{"symbol", feed.symbol},
                  {"role", std::string(ToString(feed.role))},
                  {"instrument_id", feed.instrument.value},
                  {"path", feed.data_path},
                  {"ask_path", feed.ask_path},
                  {"format", std::string(data::ToString(feed.format))},
                  {"events", feed.events},
                  {"rows", feed.read_stats.rows},
                  {"accepted", feed.read_stats.accepted},
                  {"rejected_total", feed.read_stats.TotalRejected()},
                  {"repaired", feed.read_stats.repaired},
                  {"rounded", feed.read_stats.rounded},
                  {"rejected", RejectedJson(feed.read_stats)},
                  {"rejected_samples", SamplesJson(feed.read_stats)},
                  {"orders", summary.orders},
                  {"fills", summary.fills},
                  {"trades", summary.trades},
                  {"winning_trades", summary.winning_trades},
                  {"losing_trades", summary.losing_trades},
                  {"win_rate", Number(summary.win_rate)},
                  {"gross_pnl", summary.gross_pnl.AsDouble()},
                  {"commission", summary.commission.AsDouble()},
                  {"net_pnl", summary.net_pnl.AsDouble()}};
    if (idx < result.config.feeds.size()) {
      entry["instrument"] = InstrumentJson(result.config.feeds[idx].instrument);
    }
    symbols.push_back(std::move(entry));
  }
  return symbols;
}

}  // namespace

std::string MetricsJson(const BacktestResult& result) {
  const auto& s = result.stats;
  const BacktestConfig& config = result.config;
  const json rejected = RejectedJson(result.read_stats);
  const json samples = SamplesJson(result.read_stats);
  const bool several = result.feeds.size() > 1;
  std::string paths = config.data_path;
  std::string ask_paths = config.ask_path;
  if (several) {
    // Every feed's file, in feed order; per-feed details are under "symbols".
    paths.clear();
    ask_paths.clear();
    for (const FeedResult& feed : result.feeds) {
      paths += (paths.empty() ? "" : ", ") + feed.data_path;
      if (!feed.ask_path.empty()) ask_paths += (ask_paths.empty() ? "" : ", ") + feed.ask_path;
    }
  }
  json params = json::object();
  for (const auto& [key, value] : config.params.values()) params[key] = value;

  json doc;
  doc["strategy"] = {{"name", config.strategy}, {"params", params}};
  if (config.decision) {
    // Traded through the decision engine and the risk manager (docs/backtest.md).
    doc["strategy"]["stack"] = "decision";
    doc["strategy"]["decisions"] = result.decisions;
    doc["strategy"]["risk_manager"] = config.kernel.risk.has_value();
  }
  doc["data"] = {{"path", paths},
                 {"ask_path", ask_paths},
                 {"format", std::string(data::ToString(result.format))},
                 {"fill_mode", result.bar_data ? "next_bar_open" : "touch"},
                 {"bar_data", result.bar_data},
                 {"first", FormatIso8601(result.first)},
                 {"last", FormatIso8601(result.last)},
                 {"rows", result.read_stats.rows},
                 {"accepted", result.read_stats.accepted},
                 {"rejected_total", result.read_stats.TotalRejected()},
                 // Bid/ask bar pairs whose ask was below the bid, kept with the ask lifted to
                 // the bid (docs/data-formats.md).
                 {"repaired", result.read_stats.repaired},
                 // Accepted ticks whose prices had more decimals than the instrument's digits.
                 {"rounded", result.read_stats.rounded},
                 {"rejected", rejected},
                 {"rejected_samples", samples}};
  doc["warnings"] = result.warnings;
  // Several instruments: each one's settings are in its "symbols" entry.
  if (!several) doc["instrument"] = InstrumentJson(config.instrument);
  doc["account"] = {{"currency", std::string(config.kernel.account_currency.view())},
                    {"initial_balance", s.initial_equity},
                    {"final_balance", result.final_account.balance.AsDouble()},
                    {"final_equity", s.final_equity},
                    {"leverage", config.kernel.leverage},
                    {"stop_out_level", config.kernel.venue.stop_out_level},
                    {"stop_outs", result.stop_outs}};
  // Named only when not the default, so that netting reports read as before accounts had modes.
  if (config.kernel.venue.account_mode != AccountMode::kNetting) {
    doc["account"]["mode"] = std::string(ToString(config.kernel.venue.account_mode));
  }
  doc["metrics"] = {{"total_return", Number(s.total_return)},
                    {"cagr", Number(s.cagr)},
                    {"volatility", Number(s.volatility)},
                    {"sharpe", Number(s.sharpe)},
                    {"sortino", Number(s.sortino)},
                    {"max_drawdown", Number(s.max_drawdown)},
                    {"max_drawdown_amount", Number(s.max_drawdown_amount)},
                    {"max_drawdown_duration_days", Number(s.max_drawdown_duration_days)},
                    {"calmar", Number(s.calmar)},
                    {"net_profit", Number(s.net_profit)},
                    {"total_commission", Number(s.total_commission)},
                    {"trades", s.trades},
                    {"winning_trades", s.winning_trades},
                    {"losing_trades", s.losing_trades},
                    {"win_rate", Number(s.win_rate)},
                    {"avg_win", Number(s.avg_win)},
                    {"avg_loss", Number(s.avg_loss)},
                    {"profit_factor", Number(s.profit_factor)},
                    {"expectancy", Number(s.expectancy)},
                    {"time_in_market", Number(s.time_in_market)},
                    {"span_days", Number(s.span_days)},
                    {"daily_returns", s.daily_returns}};
  const uint64_t events = result.bar_data ? result.bars : result.ticks;
  doc["run"] = {
      {"ticks_processed", result.ticks},
      {"bars_processed", result.bars},
      {"orders", result.orders.size()},
      {"fills", result.fills.size()},
      {"wall_seconds", result.wall_seconds},
      {"events_per_second",
       Number(result.wall_seconds > 0 ? static_cast<double>(events) / result.wall_seconds : NAN)},
      {"peak_rss_kb", result.peak_rss_kb}};
  if (several) doc["symbols"] = SymbolsJson(result);
  // File names, symbols and rejected-row samples come from the user's bytes: replace what is not
  // UTF-8 rather than fail to write the report.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Status WriteBacktestOutputs(const BacktestResult& result, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return IoError("cannot create output directory '" + dir + "': " + error.message());
  const fs::path root(dir);
  const std::string& symbol = result.config.instrument.symbol;
  auto symbol_of = [&result, &symbol](InstrumentId id) -> const std::string& {
    return id.value < result.symbols.size() ? result.symbols[id.value] : symbol;
  };

  AITS_RETURN_IF_ERROR(WriteFile(root / "metrics.json", MetricsJson(result)));

  std::string trades =
      "entry_time,exit_time,symbol,side,quantity,entry_price,exit_price,gross_pnl,commission,"
      "net_pnl,exit_reason\n";
  for (const auto& trade : result.trades) {
    trades += FormatIso8601(trade.entry_time) + ',' + FormatIso8601(trade.exit_time) + ',' +
              CsvEscape(symbol_of(trade.instrument)) + ',' + std::string(ToString(trade.side)) +
              ',' + trade.quantity.ToString() + ',' + trade.entry_price.ToString() + ',' +
              trade.exit_price.ToString() + ',' + trade.gross_pnl.ToString() + ',' +
              trade.commission.ToString() + ',' + trade.net_pnl.ToString() + ',' +
              CsvEscape(trade.exit_reason) + '\n';
  }
  AITS_RETURN_IF_ERROR(WriteFile(root / "trades.csv", trades));

  std::string orders =
      "id,client_order_id,created,updated,symbol,side,type,tif,quantity,price,stop_loss,"
      "take_profit,status,reject_reason,filled,avg_fill_price,tag,venue_order_id\n";
  for (const auto& order : result.orders) {
    const OrderRequest& req = order.request;
    orders += std::to_string(order.id.value) + ',' + CsvEscape(req.client_order_id) + ',' +
              FormatIso8601(order.created) + ',' + FormatIso8601(order.updated) + ',' +
              CsvEscape(symbol_of(req.instrument)) + ',' + std::string(ToString(req.side)) + ',' +
              std::string(ToString(req.type)) + ',' + std::string(ToString(req.tif)) + ',' +
              req.quantity.ToString() + ',' + OptionalPrice(req.price) + ',' +
              OptionalPrice(req.stop_loss) + ',' + OptionalPrice(req.take_profit) + ',' +
              std::string(ToString(order.status)) + ',' +
              std::string(ToString(order.reject_reason)) + ',' + order.filled.ToString() + ',' +
              (order.filled.IsZero() ? "" : order.avg_fill_price.ToString()) + ',' +
              CsvEscape(req.tag) + ',' +
              (order.venue_order_id == 0 ? "" : std::to_string(order.venue_order_id)) + '\n';
  }
  AITS_RETURN_IF_ERROR(WriteFile(root / "orders.csv", orders));

  std::string equity = "timestamp,equity,drawdown\n";
  for (const auto& point : result.equity) {
    equity += FormatIso8601(point.ts) + ',' + point.equity.ToString() + ',' +
              Fixed(point.drawdown, 6) + '\n';
  }
  AITS_RETURN_IF_ERROR(WriteFile(root / "equity.csv", equity));

  report::ReportData data;
  const auto& s = result.stats;
  const bool several = result.feeds.size() > 1;
  std::string on = symbol;
  std::string paths = result.config.data_path;
  if (several) {
    on.clear();
    paths.clear();
    for (const FeedResult& feed : result.feeds) {
      if (feed.role == FeedRole::kTrade) on += (on.empty() ? "" : ", ") + feed.symbol;
      paths += (paths.empty() ? "" : ", ") + feed.data_path;
    }
  }
  data.title = result.config.strategy + " on " + on;
  data.subtitle = paths + " · " + FormatDateTime(result.first) + " to " +
                  FormatDateTime(result.last) + " · " + std::string(data::ToString(result.format));
  for (const auto& point : result.equity) {
    data.equity.push_back({point.ts, point.equity.AsDouble()});
    data.drawdown.push_back({point.ts, point.drawdown});
  }
  data.price = result.prices;
  data.equity_samples_total = result.equity_samples;
  data.price_bars_total = result.bars;
  data.notes = result.warnings;
  if (result.read_stats.TotalRejected() > 0) {
    data.notes.push_back(std::to_string(result.read_stats.TotalRejected()) + " of " +
                         std::to_string(result.read_stats.rows) +
                         " data rows were rejected (per reason and with samples in metrics.json).");
  }
  if (result.read_stats.repaired > 0) {
    data.notes.push_back(std::to_string(result.read_stats.repaired) +
                         " bars had an ask below the bid in the ask file; their ask was lifted to "
                         "the bid (zero spread) rather than dropping the bar.");
  }
  if (result.read_stats.rounded > 0) {
    data.notes.push_back(std::to_string(result.read_stats.rounded) +
                         " rows had prices with more decimals than the instrument's " +
                         std::to_string(result.config.instrument.digits) +
                         " digits and were rounded to them.");
  }
  if (result.stop_outs > 0) {
    data.notes.push_back("The account was stopped out " + std::to_string(result.stop_outs) +
                         " time(s): margin level fell below " +
                         Fixed(result.config.kernel.venue.stop_out_level, 0) + " %.");
  }
  if (s.span_days < 365) {
    data.notes.push_back("The run spans " + Fixed(s.span_days, 1) +
                         " days: CAGR, volatility, Sharpe, Sortino and Calmar are annualised "
                         "from it and say little about a year.");
  }
  if (several && !result.prices.empty()) {
    data.notes.push_back("The price chart and its trade markers show " +
                         symbol_of(ChartInstrument(result)) +
                         ", the first traded symbol; every symbol's results are in its own table.");
  }
  for (const auto& trade : result.trades) {
    if (several && trade.instrument != ChartInstrument(result)) continue;
    data.trades.push_back({trade.entry_time, trade.entry_price.AsDouble(), trade.exit_time,
                           trade.exit_price.AsDouble(), trade.side == Side::kBuy,
                           trade.net_pnl.AsDouble()});
  }
  const std::string ccy(result.config.kernel.account_currency.view());
  data.tables = {
      {"Returns",
       {{"Initial equity", Fixed(s.initial_equity, 2) + " " + ccy},
        {"Final equity", Fixed(s.final_equity, 2) + " " + ccy},
        {"Net profit", Fixed(s.net_profit, 2) + " " + ccy},
        {"Total return", Percent(s.total_return)},
        {"CAGR", Percent(s.cagr)},
        {"Commission paid", Fixed(s.total_commission, 2) + " " + ccy}}},
      {"Risk",
       {{"Annualised volatility", Percent(s.volatility)},
        {"Sharpe (" + std::to_string(s.daily_returns) + " daily returns)", Fixed(s.sharpe, 2)},
        {"Sortino", Fixed(s.sortino, 2)},
        {"Max drawdown", Percent(s.max_drawdown)},
        {"Max drawdown duration", Fixed(s.max_drawdown_duration_days, 1) + " days"},
        {"Calmar", Fixed(s.calmar, 2)}}},
      {"Trades",
       {{"Trades", std::to_string(s.trades)},
        {"Win rate", Percent(s.win_rate)},
        {"Average win", Fixed(s.avg_win, 2)},
        {"Average loss", Fixed(s.avg_loss, 2)},
        {"Profit factor", Fixed(s.profit_factor, 2)},
        {"Expectancy", Fixed(s.expectancy, 2)},
        {"Time in market", Percent(s.time_in_market)}}},
      {"Run",
       {{"Ticks", std::to_string(result.ticks)},
        {"Bars", std::to_string(result.bars)},
        {"Rows rejected", std::to_string(result.read_stats.TotalRejected())},
        {"Orders", std::to_string(result.orders.size())},
        {"Wall time", Fixed(result.wall_seconds, 3) + " s"}}},
  };
  if (several) {
    // One table per symbol, after the account-level ones.
    const std::vector<SymbolSummary> summaries = SummarizeBySymbol(result);
    for (size_t idx = 0; idx < summaries.size() && idx < result.feeds.size(); ++idx) {
      const SymbolSummary& sym = summaries[idx];
      const FeedResult& feed = result.feeds[idx];
      std::vector<std::pair<std::string, std::string>> rows = {
          {"Role", feed.role == FeedRole::kTrade ? "traded" : "conversion rates only"},
          {result.bar_data ? "Bars" : "Ticks", std::to_string(sym.events)},
          {"Rows rejected", std::to_string(feed.read_stats.TotalRejected())}};
      if (feed.role == FeedRole::kTrade) {
        rows.push_back({"Orders", std::to_string(sym.orders)});
        rows.push_back({"Trades", std::to_string(sym.trades)});
        rows.push_back({"Win rate", Percent(sym.win_rate)});
        rows.push_back({"Gross P&L (closed)", Fixed(sym.gross_pnl.AsDouble(), 2) + " " + ccy});
        rows.push_back({"Commission", Fixed(sym.commission.AsDouble(), 2) + " " + ccy});
        rows.push_back({"Net P&L", Fixed(sym.net_pnl.AsDouble(), 2) + " " + ccy});
      }
      data.tables.push_back({sym.symbol, std::move(rows)});
    }
  }
  return report::WriteHtmlReport(data, (root / "report.html").string());
}

}  // namespace aits::backtest
