#include "aits/backtest/backtest.h"

#include <sys/resource.h>

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aits/data/bar_aggregator.h"
#include "aits/data/tick_store.h"

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

data::ReadOptions MakeReadOptions(const BacktestConfig& config) {
  data::ReadOptions options;
  options.format = config.format;
  options.strict = config.strict;
  options.price_precision = config.instrument.digits;
  options.instrument = config.instrument.id;
  options.ask_path = config.ask_path;
  options.spread_points = config.spread_points;
  options.bar_period = config.data_bar_period;
  return options;
}

}  // namespace

Result<BacktestResult> RunBacktest(const BacktestConfig& config, const ProgressFn& progress) {
  const auto wall_start = std::chrono::steady_clock::now();
  AITS_RETURN_IF_ERROR(config.kernel.Validate());
  AITS_RETURN_IF_ERROR(config.instrument.Validate());

  BacktestResult result;
  result.config = config;
  data::DataFormat format = config.format;
  if (format == data::DataFormat::kAuto) {
    AITS_ASSIGN_OR_RETURN(format, data::DetectFormat(config.data_path));
  }
  result.format = format;
  result.bar_data = data::IsBarFormat(format);
  if (config.fill_mode != "auto" && config.fill_mode != "touch" &&
      config.fill_mode != "next_bar_open") {
    return InvalidArgument("fill mode '" + config.fill_mode +
                           "' is not one of: auto, touch, next_bar_open");
  }
  if (result.bar_data && config.fill_mode == "touch") {
    return InvalidArgument("fill mode 'touch' needs tick data; '" + config.data_path +
                           "' holds bars, which fill at the next bar's open (next_bar_open)");
  }
  if (!result.bar_data && config.fill_mode == "next_bar_open") {
    return InvalidArgument("fill mode 'next_bar_open' is for bar data; '" + config.data_path +
                           "' holds ticks, which fill at the touch of the first quote an order "
                           "meets (a bar strategy's orders meet the next bar's first tick)");
  }
  if (!result.bar_data && !config.ask_path.empty()) {
    return InvalidArgument("an ask file ('" + config.ask_path + "') joins bar files only; '" +
                           config.data_path + "' holds " + std::string(data::ToString(format)) +
                           ", which already carry bid and ask");
  }
  if (format == data::DataFormat::kPrice && config.spread_points == 0) {
    result.warnings.push_back(
        "single-price data without a spread: bid = ask, so no trade pays a spread "
        "(set --spread POINTS)");
  }
  if ((format == data::DataFormat::kCsvBars || format == data::DataFormat::kYahoo) &&
      config.ask_path.empty() && config.spread_points == 0) {
    result.warnings.push_back(
        "bid-only bars without an ask file or a spread: ask = bid, so no trade pays a spread "
        "(give --ask-data FILE or --spread POINTS)");
  }

  // The composition root: every component of the trading core, wired once, here.
  SimulatedClock clock;
  kernel::KernelConfig kernel_config = config.kernel;
  kernel_config.venue.fill_mode =
      result.bar_data ? execution::FillMode::kNextBarOpen : execution::FillMode::kTouch;
  kernel::Kernel kernel(kernel_config, clock);
  AITS_RETURN_IF_ERROR(kernel.AddInstrument(config.instrument));
  AITS_ASSIGN_OR_RETURN(auto strategy, config.strategy_factory
                                           ? config.strategy_factory(config.instrument)
                                           : strategy::MakeStrategy(config.strategy, config.params,
                                                                    config.instrument));
  kernel.SetStrategy(std::move(strategy));

  BoundedSeries prices(20'000);
  kernel.bus().Subscribe<Bar>(
      [&prices](const Bar& bar) { prices.Add(bar.CloseTime(), bar.mid.close.AsDouble()); });

  data::ReadOptions options = MakeReadOptions(config);
  options.format = format;
  kernel.Start();
  bool have_first = false;
  if (result.bar_data) {
    AITS_ASSIGN_OR_RETURN(auto source, data::OpenBars(config.data_path, options));
    std::optional<data::BarResampler> resampler;
    const Duration wanted = config.kernel.bar_period;
    if (config.resample_bars && wanted != source->period()) {
      if (wanted < source->period() || wanted.ns % source->period().ns != 0) {
        return InvalidArgument("bar period of " + std::to_string(wanted.ns / kNanosPerSecond) +
                               " s is not a multiple of the " +
                               std::to_string(source->period().ns / kNanosPerSecond) +
                               " s bars in '" + config.data_path + "'");
      }
      resampler.emplace(wanted);
    }
    std::vector<Bar> batch(1024);
    uint64_t next_report = 0;
    Bar resampled;
    bool past_end = false;
    while (!past_end) {
      AITS_ASSIGN_OR_RETURN(size_t count, source->Read(batch));
      if (count == 0) break;
      for (size_t idx = 0; idx < count; ++idx) {
        const Bar* bar = &batch[idx];
        if (config.start && bar->open_time < *config.start) continue;
        if (config.end && bar->open_time >= *config.end) {
          past_end = true;
          break;
        }
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
        clock.AdvanceTo(bar->CloseTime());
        kernel.OnBar(*bar);
      }
      if (progress && kernel.bars_processed() >= next_report) {
        progress(source->Progress(), kernel.bars_processed());
        next_report = kernel.bars_processed() + 16 * 1024;
      }
    }
    result.read_stats = source->stats();
  } else {
    AITS_ASSIGN_OR_RETURN(auto source, data::OpenTicks(config.data_path, options));
    std::vector<Tick> batch(4096);
    uint64_t next_report = 0;
    bool past_end = false;
    while (!past_end) {
      AITS_ASSIGN_OR_RETURN(size_t count, source->Read(batch));
      if (count == 0) break;
      for (size_t idx = 0; idx < count; ++idx) {
        if (config.start && batch[idx].ts < *config.start) continue;
        if (config.end && batch[idx].ts >= *config.end) {
          past_end = true;
          break;
        }
        if (!have_first) {
          result.first = batch[idx].ts;
          have_first = true;
        }
        clock.AdvanceTo(batch[idx].ts);
        kernel.OnTick(batch[idx]);
      }
      if (progress && kernel.ticks_processed() >= next_report) {
        progress(source->Progress(), kernel.ticks_processed());
        next_report = kernel.ticks_processed() + 256 * 1024;
      }
    }
    result.read_stats = source->stats();
  }
  kernel.Stop();
  if (progress) progress(1.0, result.bar_data ? kernel.bars_processed() : kernel.ticks_processed());
  if (!have_first) {
    return InvalidArgument("no valid market data in '" + config.data_path + "'" +
                           (config.start || config.end ? " within the time window" : "") + "\n" +
                           result.read_stats.Summary());
  }

  result.last = clock.Now();
  result.ticks = kernel.ticks_processed();
  result.bars = kernel.bars_processed();
  result.stop_outs = kernel.stop_outs();
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

std::string Fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << value;
  return out.str();
}

}  // namespace

std::string MetricsJson(const BacktestResult& result) {
  const auto& s = result.stats;
  const BacktestConfig& config = result.config;
  json rejected = json::object();
  for (size_t idx = 0; idx < result.read_stats.rejected.size(); ++idx) {
    rejected[std::string(data::ToString(static_cast<data::RowRejectReason>(idx)))] =
        result.read_stats.rejected[idx];
  }
  json samples = json::array();
  for (const auto& sample : result.read_stats.samples) samples.push_back(sample.ToString());
  json params = json::object();
  for (const auto& [key, value] : config.params.values()) params[key] = value;

  json doc;
  doc["strategy"] = {{"name", config.strategy}, {"params", params}};
  doc["data"] = {{"path", config.data_path},
                 {"ask_path", config.ask_path},
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
  doc["instrument"] = {{"symbol", config.instrument.symbol},
                       {"digits", config.instrument.digits},
                       {"contract_size", config.instrument.contract_size},
                       {"base", std::string(config.instrument.base.view())},
                       {"quote", std::string(config.instrument.quote.view())}};
  doc["account"] = {{"currency", std::string(config.kernel.account_currency.view())},
                    {"initial_balance", s.initial_equity},
                    {"final_balance", result.final_account.balance.AsDouble()},
                    {"final_equity", s.final_equity},
                    {"leverage", config.kernel.leverage},
                    {"stop_out_level", config.kernel.venue.stop_out_level},
                    {"stop_outs", result.stop_outs}};
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

  AITS_RETURN_IF_ERROR(WriteFile(root / "metrics.json", MetricsJson(result)));

  std::string trades =
      "entry_time,exit_time,symbol,side,quantity,entry_price,exit_price,gross_pnl,commission,"
      "net_pnl,exit_reason\n";
  for (const auto& trade : result.trades) {
    trades += FormatIso8601(trade.entry_time) + ',' + FormatIso8601(trade.exit_time) + ',' +
              CsvEscape(symbol) + ',' + std::string(ToString(trade.side)) + ',' +
              trade.quantity.ToString() + ',' + trade.entry_price.ToString() + ',' +
              trade.exit_price.ToString() + ',' + trade.gross_pnl.ToString() + ',' +
              trade.commission.ToString() + ',' + trade.net_pnl.ToString() + ',' +
              CsvEscape(trade.exit_reason) + '\n';
  }
  AITS_RETURN_IF_ERROR(WriteFile(root / "trades.csv", trades));

  std::string orders =
      "id,client_order_id,created,updated,symbol,side,type,tif,quantity,price,stop_loss,"
      "take_profit,status,reject_reason,filled,avg_fill_price,tag\n";
  for (const auto& order : result.orders) {
    const OrderRequest& req = order.request;
    orders += std::to_string(order.id.value) + ',' + CsvEscape(req.client_order_id) + ',' +
              FormatIso8601(order.created) + ',' + FormatIso8601(order.updated) + ',' +
              CsvEscape(symbol) + ',' + std::string(ToString(req.side)) + ',' +
              std::string(ToString(req.type)) + ',' + std::string(ToString(req.tif)) + ',' +
              req.quantity.ToString() + ',' + OptionalPrice(req.price) + ',' +
              OptionalPrice(req.stop_loss) + ',' + OptionalPrice(req.take_profit) + ',' +
              std::string(ToString(order.status)) + ',' +
              std::string(ToString(order.reject_reason)) + ',' + order.filled.ToString() + ',' +
              (order.filled.IsZero() ? "" : order.avg_fill_price.ToString()) + ',' +
              CsvEscape(req.tag) + '\n';
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
  data.title = result.config.strategy + " on " + symbol;
  data.subtitle = result.config.data_path + " · " + FormatDateTime(result.first) + " to " +
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
  for (const auto& trade : result.trades) {
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
  return report::WriteHtmlReport(data, (root / "report.html").string());
}

}  // namespace aits::backtest
