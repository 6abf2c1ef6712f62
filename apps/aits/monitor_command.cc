#include "monitor_command.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/feed/monitor_replay.h"
#include "cli.h"
#include "progress.h"

namespace aits::app {
namespace {

struct MonitorFlags {
  std::vector<std::string> data;
  std::string instruments;
  double stale_after_s = 0;     // 0: the default
  double spike_ratio = 0;       // 0: the default
  double gap_atr_multiple = 0;  // 0: the default
  bool json = false;
  bool quiet = false;
  bool no_progress = false;
};

constexpr AlertKind kKinds[] = {AlertKind::kSpreadSpike, AlertKind::kPriceGap,
                                AlertKind::kStaleFeed, AlertKind::kCrossedQuote,
                                AlertKind::kFrozenQuote};

// JSON has no NaN: a figure not yet known is null.
nlohmann::ordered_json Number(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

unsigned long long Count(uint64_t value) { return static_cast<unsigned long long>(value); }

nlohmann::ordered_json AlertJson(const MarketAlert& alert) {
  nlohmann::ordered_json out = {{"id", alert.id},
                                {"kind", ToString(alert.kind)},
                                {"severity", ToString(alert.severity)},
                                {"state", ToString(alert.state)},
                                {"symbol", alert.symbol},
                                {"start", FormatIso8601(alert.start)}};
  out["end"] = alert.state == AlertState::kRaised
                   ? nlohmann::ordered_json(nullptr)
                   : nlohmann::ordered_json(FormatIso8601(alert.end));
  out["ts"] = FormatIso8601(alert.ts);
  if (alert.state != AlertState::kCleared) {
    out["value"] = alert.value;
    out["threshold"] = alert.threshold;
  }
  out["detail"] = alert.detail;
  return out;
}

nlohmann::ordered_json ResultJson(const feed::MonitorFileResult& result) {
  const feed::SymbolStats& s = result.stats;
  nlohmann::ordered_json alerts_by_kind = nlohmann::ordered_json::object();
  for (AlertKind kind : kKinds) {
    alerts_by_kind[std::string(ToString(kind))] = s.alerts[static_cast<size_t>(kind)];
  }
  nlohmann::ordered_json alerts = nlohmann::ordered_json::array();
  for (const MarketAlert& alert : result.alerts) alerts.push_back(AlertJson(alert));
  return {{"data", result.input.path},
          {"ask_data", result.input.ask_path},
          {"symbol", result.instrument.symbol},
          {"instrument", result.origin},
          {"sessions", result.sessions},
          {"format", data::ToString(result.format)},
          {"read",
           {{"rows", result.read.rows},
            {"accepted", result.read.accepted},
            {"rejected", result.read.TotalRejected()}}},
          {"statistics",
           {{"ticks", s.ticks},
            {"bars", s.bars},
            {"crossed_ticks", s.crossed_ticks},
            {"out_of_order_ticks", s.rejected_ticks},
            {"first_tick", s.ticks > 0 ? FormatIso8601(s.first_tick) : ""},
            {"last_tick", s.ticks > 0 ? FormatIso8601(s.last_tick) : ""},
            {"longest_silence_s", s.longest_silence.SecondsF()},
            {"ticks_per_second", s.ticks_per_second},
            {"spread_pips",
             {{"count", s.spread_count},
              {"mean", s.spread_mean},
              {"min", s.spread_min},
              {"p50", s.spread_p50},
              {"p90", s.spread_p90},
              {"p99", s.spread_p99},
              {"max", s.spread_max},
              {"rolling_median", s.spread_median_rolling},
              {"rolling_ticks", s.spread_baseline_ticks}}},
            {"atr_m1_pips", Number(s.atr)}}},
          {"alerts_raised", alerts_by_kind},
          {"alerts", alerts}};
}

void PrintResult(const feed::MonitorFileResult& result, const feed::MonitorConfig& config,
                 bool quiet) {
  const feed::SymbolStats& s = result.stats;
  std::string data = result.input.path;
  if (!result.input.ask_path.empty()) data += " + " + result.input.ask_path;
  std::printf("%s  %s (%s; %s; sessions %s)\n", result.instrument.symbol.c_str(), data.c_str(),
              std::string(data::ToString(result.format)).c_str(), result.origin.c_str(),
              result.sessions.empty() ? "always open" : result.sessions.c_str());
  std::printf("  quotes        %llu", Count(s.ticks));
  if (s.bars > 0) std::printf(" (bar closes of %llu bars)", Count(s.bars));
  std::printf(", %llu crossed, %llu out of order, %llu rows rejected by the reader\n",
              Count(s.crossed_ticks), Count(s.rejected_ticks), Count(result.read.TotalRejected()));
  if (s.ticks > 0) {
    std::printf("  span          %s .. %s\n", FormatIso8601(s.first_tick).c_str(),
                FormatIso8601(s.last_tick).c_str());
  }
  std::printf(
      "  spread pips   mean %.2f  min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  (rolling "
      "median %.1f over %d quotes)\n",
      s.spread_mean, s.spread_min, s.spread_p50, s.spread_p90, s.spread_p99, s.spread_max,
      s.spread_median_rolling, s.spread_baseline_ticks);
  std::printf("  activity      %.2f quotes/s over the last %.0f s, longest silence %.1f s, ",
              s.ticks_per_second, config.rate_window.SecondsF(), s.longest_silence.SecondsF());
  if (std::isfinite(s.atr)) {
    std::printf("ATR(M1, %d) %.2f pips\n", config.gap_atr_period, s.atr);
  } else {
    std::printf("ATR(M1, %d) not ready\n", config.gap_atr_period);
  }
  uint64_t total = 0;
  std::string by_kind;
  for (AlertKind kind : kKinds) {
    const uint64_t n = s.alerts[static_cast<size_t>(kind)];
    total += n;
    by_kind +=
        (by_kind.empty() ? "" : ", ") + std::string(ToString(kind)) + " " + std::to_string(n);
  }
  std::printf("  alerts        %llu raised (%s)\n", Count(total), by_kind.c_str());
  if (!quiet) {
    for (const MarketAlert& alert : result.alerts) std::printf("    %s\n", Describe(alert).c_str());
  }
  if (result.read.TotalRejected() > 0) std::printf("%s", result.read.Summary().c_str());
}

int RunMonitor(const MonitorFlags& flags) {
  feed::MonitorConfig config;
  if (flags.stale_after_s != 0) {
    config.stale_after = Duration{static_cast<int64_t>(std::llround(flags.stale_after_s * 1e9))};
  }
  if (flags.spike_ratio != 0) config.spread_spike_ratio = flags.spike_ratio;
  if (flags.gap_atr_multiple != 0) config.gap_atr_multiple = flags.gap_atr_multiple;
  if (Status valid = config.Validate(); !valid.ok()) return Fail(valid);
  auto catalogue = InstrumentCatalogue::BuiltInWith(flags.instruments);
  if (!catalogue.ok()) return Fail(catalogue.status());
  std::vector<feed::MonitorInput> inputs;
  for (const std::string& item : flags.data) {
    auto input = feed::ParseMonitorInput(item);
    if (!input.ok()) return Fail(input.status());
    inputs.push_back(*input);
  }
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    ProgressBar bar("monitor", "", !flags.no_progress && !flags.json && !flags.quiet);
    auto result = feed::MonitorFile(inputs[i], config, *catalogue,
                                    [&bar](double fraction) { bar.Update(fraction, 0); });
    bar.Finish();
    if (!result.ok()) return Fail(result.status());
    if (flags.json) {
      files.push_back(ResultJson(*result));
    } else {
      if (i > 0) std::printf("\n");
      PrintResult(*result, config, flags.quiet);
    }
  }
  if (flags.json) {
    const nlohmann::ordered_json out = {{"files", files}};
    std::printf("%s\n", out.dump(2).c_str());
  }
  return 0;
}

}  // namespace

void AddMonitorCommand(CLI::App& app) {
  auto flags = std::make_shared<MonitorFlags>();
  CLI::App* cmd = app.add_subcommand(
      "monitor",
      "Run the market monitor over recorded quotes: per symbol the tick rate, spread mean and\n"
      "percentiles, silences and ATR, and every alert it raises and clears (spread spikes,\n"
      "price gaps, stale feed in trading hours, crossed and frozen quotes; docs/feed.md).\n"
      "Each file is one symbol, replayed on its own clock.\n"
      "Example: aits monitor --data eurusd-ticks.csv --data gbpusd-m1-bid-2012.csv,"
      "gbpusd-m1-ask-2012.csv");
  cmd->add_option("--data", flags->data,
                  "[SYMBOL=]FILE[,ASK_FILE]: a tick or bar file (and its ask-side bar file); "
                  "repeatable")
      ->required();
  cmd->add_option("--instruments", flags->instruments,
                  "Catalogue CSV on top of the built-in one (digits, pips, sessions)");
  cmd->add_option("--stale-after", flags->stale_after_s,
                  "Seconds without a tick in trading hours before a stale-feed alert (default "
                  "120)");
  cmd->add_option("--spike-ratio", flags->spike_ratio,
                  "Spread spike: spread above this multiple of the rolling median (default 3)");
  cmd->add_option("--gap-atr", flags->gap_atr_multiple,
                  "Price gap: a mid jump above this multiple of the one-minute ATR (default 6)");
  cmd->add_flag("--json", flags->json, "Print statistics and alerts as JSON");
  cmd->add_flag("--quiet", flags->quiet, "Statistics and alert counts only, no alert list");
  cmd->add_flag("--no-progress", flags->no_progress, "Do not draw a progress bar");
  cmd->callback([flags] {
    const int code = RunMonitor(*flags);
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
