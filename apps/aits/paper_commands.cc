#include "paper_commands.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "aits/config/model_choice.h"
#include "aits/config/paper_settings.h"
#include "aits/core/redact.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/persistence/trade_store.h"
#include "aits/session/live_compare.h"
#include "aits/session/paper.h"
#include "aits/session/replay.h"
#include "cli.h"
#include "ml_commands.h"
#include "trace_flags.h"

namespace aits::app {
Result<std::unique_ptr<services::HealthServer>> StartHealthServer(const std::string& at,
                                                                  const std::string& role,
                                                                  const Registry* metrics,
                                                                  bool quiet, std::string_view who,
                                                                  std::function<Status()> ready) {
  if (at == "off") return std::unique_ptr<services::HealthServer>();
  Result<net::Endpoint> endpoint = net::ParseEndpoint(at);
  if (!endpoint.ok()) return endpoint.status().WithContext("--health");
  auto started = services::HealthServer::Start(*endpoint, role, std::move(ready), metrics);
  if (!started.ok()) return started.status().WithContext("--health");
  if (!quiet) {
    std::fprintf(stderr, "%.*s: /healthz, /readyz and /metrics on %s:%u\n",
                 static_cast<int>(who.size()), who.data(), endpoint->host.c_str(),
                 static_cast<unsigned>((*started)->port()));
  }
  return started;
}

void AddHealthFlag(CLI::App& cmd, std::string& health) {
  cmd.add_option("--health", health,
                 "HOST:PORT for /healthz, /readyz and /metrics (Prometheus; docs/monitoring.md), "
                 "or off; port 0 picks a free one")
      ->capture_default_str();
}

Status SetModelLoop(const config::PaperFlags& flags, session::PaperOptions* options,
                    const std::function<config::RetrainRunner(config::RetrainSettings)>& runner) {
  const bool any = !flags.retrain_config.empty();
  if (!any) return Status::Ok();
  if (options->spec.signal != "ml_ensemble") {
    return InvalidArgument(
        "--retrain-config is for --signal ml_ensemble (the session's signal is " +
        options->spec.signal + ")");
  }
  if (!std::filesystem::is_regular_file(flags.retrain_config)) {
    return NotFound("--retrain-config '" + flags.retrain_config + "': no such file");
  }
  if (flags.retrain_mode != "auto" && flags.retrain_mode != "update" &&
      flags.retrain_mode != "full") {
    return InvalidArgument("--retrain-mode '" + flags.retrain_mode +
                           "': expected auto, update or full");
  }
  if (flags.retrain_rows < 1000) {
    return InvalidArgument("--retrain-rows " + std::to_string(flags.retrain_rows) +
                           ": at least 1000 (the holdout the gate reads must be large enough)");
  }
  if (flags.retrain_wait != "auto" && flags.retrain_wait != "yes" && flags.retrain_wait != "no") {
    return InvalidArgument("--retrain-wait '" + flags.retrain_wait + "': expected auto, yes or no");
  }
  if (!(flags.retrain_timeout >= 1 && flags.retrain_timeout <= 86'400)) {
    std::ostringstream given;
    given << flags.retrain_timeout;
    return InvalidArgument("--retrain-timeout " + given.str() + ": expected 1 to 86400 seconds");
  }
  if (flags.shadow_calls < 2) {
    return InvalidArgument("--shadow-calls " + std::to_string(flags.shadow_calls) +
                           " must be >= 2");
  }
  config::RetrainSettings settings{
      .config = std::filesystem::absolute(flags.retrain_config).string(),
      .rows = flags.retrain_rows,
      .mode = flags.retrain_mode,
      .min_calls = flags.shadow_calls,
      .timeout = Duration::Seconds(static_cast<int64_t>(std::ceil(flags.retrain_timeout)))};
  if (runner) {
    options->retrain = runner(std::move(settings));
  } else {
    AITS_ASSIGN_OR_RETURN(settings.trainer, FindTrainer("--retrain-config"));
    options->retrain = config::RetrainOnVerdict(std::move(settings));
  }
  options->retrain_cooldown_bars = flags.retrain_cooldown;
  options->wait_for_models =
      flags.retrain_wait == "yes" || (flags.retrain_wait == "auto" && options->speed == 0);
  return Status::Ok();
}

void AddModelLoopFlags(CLI::App& cmd, config::PaperFlags& flags) {
  cmd.add_option("--member-weights", flags.member_weights,
                 "ml_ensemble: alike (as trained) or adaptive (each member by its recent record, "
                 "within 0.5..2x; docs/ml.md)")
      ->capture_default_str();
  cmd.add_option("--retrain-config", flags.retrain_config,
                 "ml_ensemble: the ml.yaml (data, settings) to retrain the served model with when "
                 "its watch calls for it (update, retrain); the candidate is then tried in shadow "
                 "and promoted only through the registry's gate (docs/ml.md, \"The loop\")");
  cmd.add_option("--retrain-rows", flags.retrain_rows,
                 "labelled rows a retrain learns from, the last known at the verdict's time")
      ->capture_default_str();
  cmd.add_option("--retrain-mode", flags.retrain_mode,
                 "auto (update on an update verdict, full on retrain), update or full")
      ->capture_default_str();
  cmd.add_option("--retrain-cooldown", flags.retrain_cooldown,
                 "bars after a trial or a failed retrain before the next retrain (then one "
                 "follows if the verdict still calls for it)")
      ->capture_default_str();
  cmd.add_option("--retrain-timeout", flags.retrain_timeout,
                 "seconds a retrain may run; one still running then is ended and counts as "
                 "failed (the cooldown follows)")
      ->capture_default_str();
  cmd.add_option("--retrain-wait", flags.retrain_wait,
                 "whether the feed waits for a retrain and the gate: auto (at --speed max, so "
                 "that the run is the same on any machine), yes, no")
      ->capture_default_str();
}

int RunPaperCommand(const config::PaperFlags& flags, bool spec_given, Registry* metrics,
                    trace::Tracer* tracer) {
  auto resolved = config::ResolvePaperOptions(flags, spec_given);
  if (!resolved.ok()) return Fail(resolved.status());
  session::PaperOptions options = std::move(*resolved);
  Registry own_metrics;
  std::unique_ptr<services::HealthServer> health;
  if (metrics == nullptr && flags.health != "off") {
    auto started =
        StartHealthServer(flags.health, "paper", &own_metrics, flags.quiet, "aits paper");
    if (!started.ok()) return Fail(started.status());
    health = std::move(started).value();
    metrics = &own_metrics;
  }
  options.metrics = metrics;
  options.tracer = tracer;
  options.stop = StopSignals::flag();
  options.signals = config::SignalsWithModels();
  options.promote = config::PromoteOnShadow;
  if (Status loop = SetModelLoop(flags, &options); !loop.ok()) return Fail(loop);
  const bool quiet = flags.quiet;
  options.notice = [quiet](const std::string& text) {
    if (!quiet) std::fprintf(stderr, "aits paper: %s\n", text.c_str());
  };
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (!quiet && tty && !flags.no_progress) {
    options.progress = PrintProgressLine;
  }
  if (!flags.trades.empty()) {
    Result<TradeWriter> trades = OpenTradeWriter(flags.trades);
    if (!trades.ok()) return Fail(trades.status().WithContext("--trades"));
    options.on_trades = trades->on_trades;
  }
  if (!quiet) {
    std::fprintf(stderr, "aits paper: state in %s (Ctrl-C stops cleanly; run again to resume)\n",
                 flags.state.c_str());
  }
  auto result = [&] {
    const StopSignals signals;
    return session::RunPaper(options);
  }();
  if (!quiet && tty) std::fprintf(stderr, "\n");
  if (!result.ok()) return Fail(result.status());
  PrintSessionSummary("paper", flags.state, *result, flags.json, flags.events);
  if (!flags.latency_out.empty()) {
    std::FILE* file = std::fopen(flags.latency_out.c_str(), "w");
    if (file == nullptr) return Fail(IoError("cannot write " + flags.latency_out));
    const std::string json = result->LatencyJson();
    std::fwrite(json.data(), 1, json.size(), file);
    std::fclose(file);
  }
  return 0;
}

Result<TradeWriter> OpenTradeWriter(const std::string& location) {
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<persistence::TradeStore> opened,
                        persistence::OpenTradeStore(location));
  std::shared_ptr<persistence::TradeStore> store = std::move(opened);
  TradeWriter writer;
  writer.on_trades = [store, written = writer.written, new_trades = writer.new_trades](
                         const session::SessionSpec& spec, int64_t first_number,
                         std::span<const portfolio::TradeRecord> trades) -> Status {
    const std::vector<Instrument> instruments = session::InstrumentsOf(spec);
    std::vector<persistence::StoredTrade> rows;
    rows.reserve(trades.size());
    for (size_t idx = 0; idx < trades.size(); ++idx) {
      persistence::StoredTrade& row = rows.emplace_back();
      row.session = spec.session_id;
      row.number = first_number + static_cast<int64_t>(idx);
      const uint32_t instrument = trades[idx].instrument.value;
      row.symbol = instrument < instruments.size() ? instruments[instrument].symbol : "";
      row.trade = trades[idx];
    }
    AITS_ASSIGN_OR_RETURN(const size_t stored, store->Write(rows));
    *written += rows.size();
    *new_trades += stored;
    return Status::Ok();
  };
  return writer;
}

std::string EventsPath(const std::string& path) {
  if (std::filesystem::is_directory(path))
    return (std::filesystem::path(path) / "events.db").string();
  return path;
}

void PrintProgressLine(const session::PaperProgress& p) {
  std::fprintf(stderr,
               "\r  ticks %llu  orders %llu  fills %llu  position %s  equity %s  breaker %s   ",
               static_cast<unsigned long long>(p.ticks), static_cast<unsigned long long>(p.orders),
               static_cast<unsigned long long>(p.fills), p.position.ToString().c_str(),
               p.equity.ToString().c_str(), p.breaker.c_str());
}

nlohmann::ordered_json SessionSummaryJson(const std::string& state, const session::PaperResult& r) {
  nlohmann::ordered_json out = {
      {"state", state},
      {"stopped", r.interrupted ? "signal" : (r.feed_ended ? "feed_ended" : "stop_after")},
      {"resumed", r.resumed},
      {"reconciliation", r.reconciliation},
      {"recovered_reports", r.recovered_reports},
      {"ticks", r.ticks},
      {"orders", r.orders},
      {"fills", r.fills},
      {"decisions", r.decisions},
      {"position", r.position.ToString()},
      {"balance", r.account.balance.ToString()},
      {"equity", r.account.equity.ToString()},
      {"breaker", r.breaker},
      {"execution_reports", r.execution_reports},
      {"account_reports", r.account_reports},
      {"reports_not_applied", r.reports_not_applied},
      {"lost_reports", r.lost_reports},
      {"commands_applied", r.commands_applied},
      {"commands_refused", r.commands_refused},
      {"events", r.last_seq},
      {"wall_seconds", r.wall_seconds}};
  nlohmann::ordered_json symbols = nlohmann::ordered_json::array();
  for (const session::PaperSymbolResult& symbol : r.symbols) {
    symbols.push_back({{"symbol", symbol.symbol},
                       {"traded", symbol.traded},
                       {"ticks", symbol.ticks},
                       {"orders", symbol.orders},
                       {"fills", symbol.fills},
                       {"position", symbol.position.ToString()},
                       {"commission", symbol.commission.ToString()},
                       {"net_pnl", symbol.net_pnl.ToString()}});
  }
  out["symbols"] = std::move(symbols);
  out["latency"] = nlohmann::ordered_json::parse(r.LatencyJson());
  return out;
}

void PrintSessionSummary(std::string_view kind, const std::string& state,
                         const session::PaperResult& r, bool json, const std::string& events) {
  if (json) {
    std::printf("%s\n", SessionSummaryJson(state, r).dump(2).c_str());
    return;
  }
  std::printf("%.*s session %s: %s after %llu new ticks (%.1f s)\n", static_cast<int>(kind.size()),
              kind.data(), state.c_str(),
              r.interrupted ? "stopped by signal" : (r.feed_ended ? "feed ended" : "stopped"),
              static_cast<unsigned long long>(r.ticks), r.wall_seconds);
  std::printf(
      "  orders %llu  fills %llu  decisions %llu  position %s  balance %s  equity %s  "
      "breaker %s\n",
      static_cast<unsigned long long>(r.orders), static_cast<unsigned long long>(r.fills),
      static_cast<unsigned long long>(r.decisions), r.position.ToString().c_str(),
      r.account.balance.ToString().c_str(), r.account.equity.ToString().c_str(), r.breaker.c_str());
  if (r.symbols.size() > 1) {
    for (const session::PaperSymbolResult& symbol : r.symbols) {
      std::printf(
          "  %-8s %s  ticks %llu  orders %llu  fills %llu  position %s  commission %s  "
          "net P&L %s\n",
          symbol.symbol.c_str(), symbol.traded ? "traded " : "rates  ",
          static_cast<unsigned long long>(symbol.ticks),
          static_cast<unsigned long long>(symbol.orders),
          static_cast<unsigned long long>(symbol.fills), symbol.position.ToString().c_str(),
          symbol.commission.ToString().c_str(), symbol.net_pnl.ToString().c_str());
    }
  }
  if (r.execution_reports + r.account_reports > 0) {
    std::printf("  venue reports %llu (account %llu, not applied %llu, lost at stop %llu)\n",
                static_cast<unsigned long long>(r.execution_reports),
                static_cast<unsigned long long>(r.account_reports),
                static_cast<unsigned long long>(r.reports_not_applied),
                static_cast<unsigned long long>(r.lost_reports));
  }
  std::printf("  tick processing, no bar close:   %s\n", r.plain_ticks.Summary().c_str());
  std::printf("  tick processing, bar close:      %s\n", r.bar_ticks.Summary().c_str());
  std::printf("  tick-to-order, no bar close:     %s\n", r.plain_orders.Summary().c_str());
  std::printf("  tick-to-order, bar close:        %s\n", r.bar_orders.Summary().c_str());
  std::printf("  event log: %s, %llu events\n",
              WithoutPassword(events.empty() ? state + "/events.db" : events).c_str(),
              static_cast<unsigned long long>(r.last_seq));
}

namespace {

int RunReplayCommand(const std::string& events) {
  auto store = persistence::OpenEventStoreAtReadOnly(EventsPath(events));
  if (!store.ok()) return Fail(store.status());
  auto result = session::Replay(**store, config::SignalsWithModels());
  if (!result.ok()) return Fail(result.status());
  const session::ReplayResult& r = *result;
  if (!r.equal) {
    std::printf(
        "replay of %s DIVERGES\n  first diverging event: %s\n  logged:   %s\n  replayed: %s\n",
        WithoutPassword(EventsPath(events)).c_str(),
        r.divergence.seq == 0 ? "after the last one" : std::to_string(r.divergence.seq).c_str(),
        r.divergence.logged.c_str(), r.divergence.produced.c_str());
    return 1;
  }
  std::printf("replay of %s: identical\n", WithoutPassword(EventsPath(events)).c_str());
  std::printf(
      "  %llu events, %llu ticks, %llu orders, %llu fills: every order, fill, decision "
      "and risk event equal\n",
      static_cast<unsigned long long>(r.events), static_cast<unsigned long long>(r.ticks),
      static_cast<unsigned long long>(r.orders), static_cast<unsigned long long>(r.fills));
  if (r.logged.reconciliations > 0) {
    std::printf("  %llu reconciliation(s) at start re-applied against the recorded venue account\n",
                static_cast<unsigned long long>(r.logged.reconciliations));
  }
  std::printf("  balance %s (log %s)  equity %s (log %s)  realised P&L %s\n",
              r.account.balance.ToString().c_str(), r.logged.balance.ToString().c_str(),
              r.account.equity.ToString().c_str(), r.logged.equity.ToString().c_str(),
              (r.account.balance - *Money::FromDouble(r.logged.spec.balance)).ToString().c_str());
  if (r.account.balance.raw() != r.logged.balance.raw()) {
    std::printf("  balance differs from the log's own\n");
    return 1;
  }
  return 0;
}

struct CompareFlags {
  std::string events = "paper-session";
  std::optional<int64_t> slippage_points;
  std::optional<int64_t> latency_ms;
  std::optional<std::string> commission;
  std::string csv;
  bool json = false;
  bool quiet = false;
};

int RunCompareCommand(const CompareFlags& flags) {
  auto store = persistence::OpenEventStoreAtReadOnly(EventsPath(flags.events));
  if (!store.ok()) return Fail(store.status());
  session::CompareOptions options;
  options.slippage_points = flags.slippage_points;
  if (flags.latency_ms) options.latency_us = *flags.latency_ms * 1000;
  options.commission = flags.commission;
  auto result = session::CompareWithBacktest(**store, config::SignalsWithModels(), options);
  if (!result.ok()) return Fail(result.status());
  const session::LiveComparison& c = *result;
  if (!flags.csv.empty()) {
    std::ofstream out(flags.csv);
    out << session::ToCsv(c);
    if (!out) return Fail(IoError("cannot write '" + flags.csv + "'"));
  }
  if (flags.json) {
    std::printf("%s\n", session::ToJson(c).c_str());
    return 0;
  }
  std::printf("session %s (venue %s) against its backtest on the same %llu ticks:\n",
              c.session_id.c_str(), c.venue.c_str(), static_cast<unsigned long long>(c.ticks));
  if (!flags.quiet) {
    std::printf("  %-24s %-13s %-7s %-4s %-8s %-12s %-12s %9s %9s %10s\n", "created", "kind",
                "symbol", "side", "origin", "live price", "backtest", "slip pts", "delay ms",
                "effect");
    for (const session::OrderComparison& o : c.orders) {
      const auto price = [](const std::optional<session::RunOrder>& r) {
        if (!r) return std::string("-");
        return r->price ? r->price->ToString() : r->status;
      };
      const bool both =
          o.kind == session::CompareKind::kPaired && o.live->price && o.backtest->price;
      std::printf(
          "  %-24s %-13s %-7s %-4s %-8s %-12s %-12s %9s %9s %10s\n",
          FormatIso8601(o.created).substr(0, 23).c_str(),
          std::string(session::ToString(o.kind)).c_str(), o.symbol.c_str(),
          std::string(ToString(o.side)).c_str(), o.origin.c_str(), price(o.live).c_str(),
          price(o.backtest).c_str(),
          both ? std::to_string(o.slippage_points).substr(0, 6).c_str() : "",
          both ? std::to_string(static_cast<double>(o.delay.ns) / 1e6).substr(0, 7).c_str() : "",
          both ? o.fill_effect.ToString().c_str() : "");
    }
  }
  std::printf("  orders: %llu paired (%llu filled in both), %llu live only, %llu backtest only\n",
              static_cast<unsigned long long>(c.paired),
              static_cast<unsigned long long>(c.paired_filled),
              static_cast<unsigned long long>(c.live_only),
              static_cast<unsigned long long>(c.backtest_only));
  std::printf("  strategy fills: slippage mean %.2f points (max %.2f), delay mean %.3f ms\n",
              c.mean_slippage_points, c.max_abs_slippage_points,
              static_cast<double>(c.mean_delay.ns) / 1e6);
  std::printf("  equity: live %s, backtest %s, gap %s %s\n", c.live_equity.ToString().c_str(),
              c.backtest_equity.ToString().c_str(), c.gap.ToString().c_str(), c.currency.c_str());
  std::printf(
      "    fill prices of paired orders %s, their commissions %s, the rest %s (trades\n"
      "    one run made alone and what they changed after)\n",
      c.fill_effects.ToString().c_str(), c.commission_effect.ToString().c_str(),
      c.rest.ToString().c_str());
  if (c.reconciliations > 0) {
    std::printf("  %llu start(s) adopted a different account (reconciliation): in the rest\n",
                static_cast<unsigned long long>(c.reconciliations));
  }
  return 0;
}

int RunExplainCommand(const std::string& events, uint64_t order_id, bool raw) {
  auto store = persistence::OpenEventStoreAtReadOnly(EventsPath(events));
  if (!store.ok()) return Fail(store.status());
  auto explanation = session::ExplainOrder(**store, order_id);
  if (!explanation.ok()) return Fail(explanation.status());
  const auto json = nlohmann::ordered_json::parse(explanation->decision_json, nullptr, false);
  if (raw || json.is_discarded()) {
    std::printf("%s\n", explanation->decision_json.c_str());
    return 0;
  }
  std::printf("order %llu: %s %s, decision %s at %s\n", static_cast<unsigned long long>(order_id),
              json["action"].get<std::string>().c_str(), json["symbol"].get<std::string>().c_str(),
              std::to_string(json["decision"].get<uint64_t>()).c_str(),
              json["time"].get<std::string>().c_str());
  std::printf("  why: %s\n", json["reason"].get<std::string>().c_str());
  std::printf("signal:\n%s\n", json["signal"].dump(2).c_str());
  std::printf("market:\n%s\n", json["market"].dump(2).c_str());
  std::printf("filters:\n");
  for (const auto& f : json["filters"]) {
    std::printf("  %-10s %s  value %s  limit %s\n", f["name"].get<std::string>().c_str(),
                f["passed"].get<bool>() ? "passed" : "FAILED", f["value"].dump().c_str(),
                f["limit"].dump().c_str());
  }
  std::printf("sizing:\n%s\n", json["sizing"].dump(2).c_str());
  if (json.contains("orders")) {
    // A decision on a hedging account that closed positions by ticket and opened the rest.
    std::printf("orders and risk checks (this decision sent %zu):\n%s\n", json["orders"].size(),
                json["orders"].dump(2).c_str());
  } else {
    std::printf("order and risk checks:\n%s\n", json["order"].dump(2).c_str());
  }
  std::printf("what happened to the order:\n");
  for (const auto& line : explanation->order_events) std::printf("  %s\n", line.c_str());
  return 0;
}

// Queues an operator command for the session in `dir` (docs/paper.md, "Operator commands").
int QueueCommand(const std::string& dir, const nlohmann::json& command) {
  const std::string path = EventsPath(dir);
  if (!persistence::IsPostgresLocation(path) && !std::filesystem::exists(path)) {
    return Fail(NotFound(dir + " holds no session"));
  }
  // Read-only: the running session is the log's only writer; commands go to their own table.
  auto store = persistence::OpenEventStoreAtReadOnly(path);
  if (!store.ok()) return Fail(store.status());
  if (Status added = (*store)->AddCommand(command.dump()); !added.ok()) return Fail(added);
  std::printf("%s command queued for %s: %s\n", command["command"].get<std::string>().c_str(),
              dir.c_str(), command.dump().c_str());
  return 0;
}

}  // namespace

void AddSessionFlags(CLI::App& cmd, config::PaperFlags& flags) {
  cmd.add_option("--feed", flags.feed, "'synthetic' or a tick data file")->capture_default_str();
  cmd.add_option("--data", flags.data_items,
                 "Several instruments: SYMBOL=TICK_FILE, repeated (each traded by its own "
                 "strategy instance, one account; docs/paper.md)");
  cmd.add_option("--convert-data", flags.convert_items,
                 "SYMBOL=TICK_FILE read only for the rates that convert other symbols' P&L");
  cmd.add_option("--synthetic", flags.synthetic,
                 "Several synthetic markets, one per symbol (EURUSD,USDJPY), seeded per "
                 "symbol from --seed")
      ->delimiter(',');
  cmd.add_option("--symbol", flags.symbol,
                 "Instrument (default EURUSD, or a catalogue symbol the file name starts with)");
  cmd.add_option("--instruments", flags.instruments,
                 "Instrument catalogue CSV on top of the built-in one (docs/instruments.md)");
  cmd.add_option("--format", flags.format, "Data format of the file")->capture_default_str();
  cmd.add_option("--spread-points", flags.spread_points, "Spread for single-price data");
  cmd.add_option("--seed", flags.seed, "Synthetic market seed")->capture_default_str();
  cmd.add_option("--ticks", flags.ticks,
                 "Ticks in the whole session (0 = the whole file / no end)");
  cmd.add_option("--start-price", flags.start_price, "Synthetic start price");
  cmd.add_option("--volatility", flags.volatility, "Synthetic volatility multiplier")
      ->capture_default_str();
  cmd.add_option("--speed", flags.speed, "1, N (times real time) or max")->capture_default_str();
  cmd.add_option("--signal", flags.signal, "sma_cross, rsi or ml_ensemble")->capture_default_str();
  cmd.add_option("--params", flags.params, "Signal parameters, e.g. fast=10,slow=30");
  cmd.add_option("--model", flags.model, "ml_ensemble: registry model (latest, NAME, NAME@V)")
      ->capture_default_str();
  cmd.add_option("--registry", flags.registry,
                 "ml_ensemble: model registry, a directory or postgresql://user@host:port/db")
      ->capture_default_str();
  cmd.add_option("--shadow", flags.shadow,
                 "ml_ensemble: a candidate (NAME@V, #ID) to try in shadow beside --model; when "
                 "its trial ends the registry's gate promotes or rejects it (docs/ml.md)");
  cmd.add_option("--shadow-calls", flags.shadow_calls,
                 "long and short calls of the candidate that end its shadow trial (--shadow, "
                 "and the candidates of --retrain-config)")
      ->capture_default_str();
  AddModelLoopFlags(cmd, flags);
  cmd.add_option("--config", flags.config, "YAML file with decision: and risk: sections");
  cmd.add_option("--balance", flags.balance, "Starting balance")->capture_default_str();
  cmd.add_option("--leverage", flags.leverage, "Account leverage")->capture_default_str();
  cmd.add_option("--commission", flags.commission, "none, per_lot:7, per_million:35, percent:X")
      ->capture_default_str();
  cmd.add_option("--account-mode", flags.account_mode,
                 "netting (default: one net position per symbol) or hedging (a position per "
                 "opening fill, with its own ticket); or account.account_mode in --config");
  cmd.add_option("--latency-ms", flags.latency_ms, "Simulated order latency")
      ->capture_default_str();
  cmd.add_option("--venue", flags.venue,
                 "simulated (default: the synchronous venue) or threaded (the venue on its own "
                 "thread, answering through the inbox; its reports are logged); or "
                 "execution.venue in --config");
  cmd.add_option("--report-latency", flags.report_latency,
                 "threaded venue: wall time each report travels (5ms, 250us); or "
                 "execution.report_latency in --config");
  cmd.add_option("--slippage", flags.slippage_points, "Adverse slippage in points");
  cmd.add_option("--bar", flags.bar, "Bar period of the signal (M1, M5, ...)")
      ->capture_default_str();
  cmd.add_option("--state", flags.state, "State directory (the event log)")->capture_default_str();
  cmd.add_option("--events", flags.events,
                 "Event log elsewhere: a file, or a session on PostgreSQL "
                 "(postgresql://user@host:port/db#session; default STATE/events.db)");
  cmd.add_option("--trades", flags.trades,
                 "Keep the session's closed trades in a trade store for the API and reports: a "
                 "file (SQLite) or postgresql://user@host:port/db, written as the log commits; "
                 "a resumed session's trades are stored once (docs/services.md, \"Stores\")");
  cmd.add_flag("--standby", flags.standby,
               "When another process owns the session, wait and take over (resuming from the "
               "log) when it dies or stops, instead of refusing to start");
  cmd.add_option("--stop-after", flags.stop_after, "Stop after N new ticks in this run");
  cmd.add_option("--checkpoint-every", flags.checkpoint_every,
                 "Ticks between account checkpoints in the log (what the API shows as the "
                 "account moves at this pace)")
      ->capture_default_str();
  cmd.add_option("--latency-out", flags.latency_out, "Write the latency histograms as JSON");
  cmd.add_option("--sync", flags.sync, "Event log durability: full (power-safe) or normal")
      ->capture_default_str();
  cmd.add_option("--start", flags.start,
                 "Synthetic market: time of the first tick (default: now), e.g. 2024-01-08");
  cmd.add_option("--session-id", flags.session_id,
                 "Prefix of client order ids (default: from the start time)");
  cmd.add_option("--reconcile", flags.reconcile,
                 "At start, when the venue's account differs from the event log: refuse "
                 "(default: start nothing, list every difference), adopt (take the venue's) "
                 "or flatten (close and cancel what the log cannot account for); also "
                 "`reconcile:` in --config");
  cmd.add_flag("--quiet", flags.quiet, "Only the summary");
  cmd.add_flag("--json", flags.json, "Print the summary as JSON");
  cmd.add_flag("--no-progress", flags.no_progress, "No progress line");
}

bool SessionSpecGiven(const CLI::App& cmd) {
  for (const char* name : {"--feed",          "--symbol",         "--instruments", "--format",
                           "--spread-points", "--seed",           "--ticks",       "--start-price",
                           "--volatility",    "--signal",         "--params",      "--model",
                           "--registry",      "--config",         "--balance",     "--leverage",
                           "--commission",    "--latency-ms",     "--slippage",    "--bar",
                           "--data",          "--convert-data",   "--synthetic",   "--account-mode",
                           "--venue",         "--report-latency", "--shadow",      "--shadow-calls",
                           "--member-weights"}) {
    if (cmd.count(name) > 0) return true;
  }
  return false;
}

bool HasLog(const config::PaperFlags& flags) {
  const std::string path = flags.events.empty() ? EventsPath(flags.state) : flags.events;
  if (!persistence::IsPostgresLocation(path)) return std::filesystem::exists(path);
  auto store = persistence::OpenEventStoreAtReadOnly(path);
  return store.ok() && (*store)->last_seq() > 0;
}

Result<std::optional<session::SessionSpec>> LoggedSessionSpec(const std::string& path) {
  if (!persistence::IsPostgresLocation(path) && !std::filesystem::exists(path)) {
    return std::optional<session::SessionSpec>();
  }
  Result<std::unique_ptr<persistence::EventStore>> store =
      persistence::OpenEventStoreAtReadOnly(path);
  if (!store.ok() && store.status().code() == StatusCode::kNotFound) {
    return std::optional<session::SessionSpec>();
  }
  AITS_RETURN_IF_ERROR(store.status());
  if ((*store)->last_seq() == 0) return std::optional<session::SessionSpec>();
  AITS_ASSIGN_OR_RETURN(session::SessionSpec spec, session::ReadSessionSpec(**store));
  return std::optional<session::SessionSpec>(std::move(spec));
}

void AddPaperCommands(CLI::App& app) {
  auto flags = std::make_shared<config::PaperFlags>();
  CLI::App* paper = app.add_subcommand(
      "paper",
      "Paper trading: the backtest's kernel, decision engine and risk manager against a live\n"
      "clock, on the built-in synthetic market or a tick file replayed at 1x, Nx or max speed,\n"
      "with every event in the log --state DIR/events.db. Ctrl-C stops cleanly; running again\n"
      "with the same --state resumes (also after kill -9).\n"
      "Examples: aits paper --speed 60 --ticks 100000\n"
      "          aits paper --feed ../shared/data/eurusd-ticks-2020-01-01.csv --speed max --state "
      "s1\n"
      "          aits paper --state s1            (resume)");
  AddSessionFlags(*paper, *flags);
  AddHealthFlag(*paper, flags->health);
  auto trace_flags = std::make_shared<TraceFlags>();
  AddTraceFlags(*paper, *trace_flags, "one per tick that makes a decision or an order");
  paper->callback([paper, flags, trace_flags] {
    Result<std::unique_ptr<trace::Tracer>> opened = OpenTracer(*trace_flags, *paper, "aits-paper");
    if (!opened.ok()) ExitOnFailure(Fail(opened.status()));
    const std::unique_ptr<trace::Tracer> tracer = std::move(opened).value();
    // Only run flags given: resume what --state holds.
    const bool spec_given = SessionSpecGiven(*paper);
    const int code = RunPaperCommand(*flags, spec_given || !HasLog(*flags), nullptr, tracer.get());
    CloseTracer(tracer.get(), "aits paper");
    ExitOnFailure(code);
  });

  auto events = std::make_shared<std::string>();
  CLI::App* replay = app.add_subcommand(
      "replay",
      "Re-run a recorded paper session through a fresh kernel and check that it reproduces the\n"
      "same orders, fills, decisions and P&L exactly; a difference is reported with the first\n"
      "diverging event. Example: aits replay --events paper-session/events.db");
  replay->add_option("--events", *events, "Event log (events.db or its state directory)")
      ->required();
  replay->callback([events] {
    const int code = RunReplayCommand(*events);
    ExitOnFailure(code);
  });

  auto explain_events = std::make_shared<std::string>("paper-session");
  auto order_id = std::make_shared<uint64_t>(0);
  auto raw = std::make_shared<bool>(false);
  CLI::App* explain = app.add_subcommand(
      "explain",
      "Print the decision record behind an order: signal, model scores, regime, confidence, top\n"
      "feature contributions, filters, sizing and risk checks, then what happened to the order.\n"
      "Example: aits explain 12 --state paper-session");
  explain->add_option("ORDER_ID", *order_id, "Order id (as in the paper summary and logs)")
      ->required();
  explain->add_option("--state,--events", *explain_events, "State directory or events.db")
      ->capture_default_str();
  explain->add_flag("--json", *raw, "Print the record as stored (JSON)");
  explain->callback([explain_events, order_id, raw] {
    const int code = RunExplainCommand(*explain_events, *order_id, *raw);
    ExitOnFailure(code);
  });

  auto compare = std::make_shared<CompareFlags>();
  CLI::App* compare_cmd = app.add_subcommand(
      "compare",
      "Re-run a live, shadow or paper session as a backtest on the ticks it recorded and compare\n"
      "them order by order: the live fill against the simulated one (price, time, slippage),\n"
      "trades only one of them made, and the P&L gap each part explains.\n"
      "Example: aits compare --state live-session --slippage 0 --csv fills.csv");
  compare_cmd->add_option("--state,--events", compare->events, "State directory or events.db")
      ->capture_default_str();
  compare_cmd->add_option("--slippage", compare->slippage_points,
                          "The backtest's slippage in points (default: the session's)");
  compare_cmd->add_option("--latency-ms", compare->latency_ms,
                          "The backtest's order latency (default: the session's)");
  compare_cmd->add_option("--commission", compare->commission,
                          "The backtest's commission (default: the session's)");
  compare_cmd->add_option("--csv", compare->csv, "Also write one row per order to this file");
  compare_cmd->add_flag("--json", compare->json, "Print the comparison as JSON");
  compare_cmd->add_flag("--quiet", compare->quiet, "Only the summary");
  compare_cmd->callback([compare] { ExitOnFailure(RunCompareCommand(*compare)); });

  auto breaker_state = std::make_shared<std::string>();
  auto breaker_dir = std::make_shared<std::string>("paper-session");
  auto breaker_reason = std::make_shared<std::string>("operator");
  CLI::App* breaker = app.add_subcommand(
      "breaker",
      "Move the circuit breaker of a paper or live session by hand: normal, reduce_only or\n"
      "halted (halting flattens every position). A running session applies it within a second;\n"
      "otherwise at its next start. Example: aits breaker halted --reason 'news' --state s1");
  breaker->add_option("STATE", *breaker_state, "normal, reduce_only or halted")->required();
  breaker->add_option("--state", *breaker_dir, "State directory")->capture_default_str();
  breaker->add_option("--reason", *breaker_reason, "Why (recorded in the audit event)")
      ->capture_default_str();
  breaker->callback([breaker_state, breaker_dir, breaker_reason] {
    auto state = risk::ParseBreakerState(*breaker_state);
    if (!state.ok()) ExitOnFailure(Fail(state.status()));
    ExitOnFailure(QueueCommand(*breaker_dir, {{"command", "breaker"},
                                              {"state", std::string(risk::ToString(*state))},
                                              {"reason", *breaker_reason}}));
  });

  struct Operator {
    const char* name;
    const char* help;
  };
  for (const Operator& op :
       {Operator{"pause",
                 "Pause a paper or live session: no new exposure (the breaker's\n"
                 "reduce_only); open positions are still managed. aits resume undoes it."},
        Operator{"resume", "Resume a paused session (the breaker back to normal)."},
        Operator{"flatten",
                 "Cancel every working order and close every position of a paper or\n"
                 "live session at market; the breaker stays as it is (pause first to\n"
                 "keep the strategy from opening again)."}}) {
    auto dir = std::make_shared<std::string>("paper-session");
    auto reason = std::make_shared<std::string>("operator");
    CLI::App* cmd = app.add_subcommand(
        op.name, std::string(op.help) +
                     "\nA running session applies it within a second; otherwise at its next "
                     "start.\nExample: aits " +
                     op.name + " --state live1 --reason 'news'");
    cmd->add_option("--state", *dir, "State directory")->capture_default_str();
    cmd->add_option("--reason", *reason, "Why (recorded in the audit event)")
        ->capture_default_str();
    const std::string name = op.name;
    cmd->callback([name, dir, reason] {
      ExitOnFailure(QueueCommand(*dir, {{"command", name}, {"reason", *reason}}));
    });
  }
}

}  // namespace aits::app
