#include "live_command.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/config/model_choice.h"
#include "aits/config/paper_settings.h"
#include "aits/feed/monitor.h"
#include "aits/gateway/gateway.h"
#include "aits/log/log.h"
#include "aits/model/instrument_catalogue.h"
#include "aits/mt5/mql.h"
#include "aits/net/socket.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/session/paper.h"
#include "aits/session/replay.h"
#include "cli.h"
#include "mt5_flags.h"
#include "paper_commands.h"
#include "trace_flags.h"

namespace aits::app {
namespace {

struct LiveFlags {
  config::PaperFlags session;  // the strategy's, the risk's and the log's flags, as aits paper's
  std::vector<std::string> symbols;
  std::string listen = "127.0.0.1:5757";
  std::string token_file;
  std::vector<std::string> mt5_names;
  bool dry_run = false;
  int wait_seconds = 300;
  std::string transcript;
  TraceFlags trace;
};

// The session a live start describes: the flags' strategy, risk and log settings, the gateway's
// live feed for every symbol, and the terminal's account (its balance, leverage, currency and
// margin mode; a dry run may give its own balance).
Result<session::SessionSpec> LiveSpec(const LiveFlags& flags,
                                      const std::vector<std::string>& symbols,
                                      const mt5::Hello& terminal, Money terminal_balance,
                                      bool balance_given, bool* reconcile_given) {
  config::PaperFlags paper = flags.session;
  paper.feed = "synthetic";
  paper.data_items.clear();
  paper.convert_items.clear();
  if (symbols.size() == 1) {
    paper.symbol = symbols.front();
    paper.synthetic.clear();
  } else {
    paper.symbol.clear();
    paper.synthetic = symbols;
  }
  const bool hedging =
      terminal.margin_mode == static_cast<uint32_t>(mt5::MarginMode::kRetailHedging);
  const std::string terminal_mode = hedging ? "hedging" : "netting";
  if (!flags.dry_run && !paper.account_mode.empty() && paper.account_mode != terminal_mode) {
    return InvalidArgument("--account-mode " + paper.account_mode + ": the terminal's account " +
                           std::to_string(terminal.login) + " is " + terminal_mode);
  }
  if (paper.account_mode.empty()) paper.account_mode = terminal_mode;
  if (!flags.dry_run || !balance_given) paper.balance = terminal_balance.AsDouble();
  if (!flags.dry_run) paper.leverage = terminal.leverage;
  paper.venue = flags.dry_run ? "threaded" : "";
  AITS_ASSIGN_OR_RETURN(session::SessionSpec spec, config::SpecFromFlags(paper, reconcile_given));
  spec.account_currency = terminal.currency;
  spec.feed = std::string(session::kLiveFeed);
  for (session::FeedSpec& feed : spec.feeds) feed.feed = std::string(session::kLiveFeed);
  if (!flags.dry_run) spec.venue = "mt5";
  return spec;
}

// Waits for the EA's hello (or a stop signal, or the deadline).
Result<mt5::Hello> WaitForTerminal(const gateway::Gateway& gw, const std::string& address,
                                   int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!StopSignals::stopped()) {
    if (auto hello = gw.terminal()) return *hello;
    if (std::chrono::steady_clock::now() >= deadline) {
      return IoError("no EA connected to " + address + " within " + std::to_string(seconds) +
                     " s (--wait): is the AitsBridge EA running with this address and secret, "
                     "and is the address in the terminal's allowed URL list?");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return FailedPrecondition("stopped while waiting for the EA");
}

// The session a state directory holds, if any: its instruments are the gateway's, and its venue
// says whether it is a dry run.
Result<std::optional<session::SessionSpec>> LoggedSpec(const std::string& state) {
  AITS_ASSIGN_OR_RETURN(std::optional<session::SessionSpec> spec,
                        LoggedSessionSpec(EventsPath(state)));
  if (spec && spec->feed != session::kLiveFeed) {
    return InvalidArgument(state + " holds a paper session (feed " + spec->feed +
                           "), not a live one: resume it with aits paper");
  }
  return spec;
}

// A market monitor on the wall clock for the session's instruments, with their trading sessions
// from the catalogue (a stale feed is only one while the market is open).
Result<std::unique_ptr<feed::MarketMonitor>> LiveMonitor(const session::SessionSpec& spec,
                                                         const std::string& instruments) {
  AITS_ASSIGN_OR_RETURN(InstrumentCatalogue catalogue,
                        InstrumentCatalogue::BuiltInWith(instruments));
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<feed::MarketMonitor> monitor,
                        feed::MarketMonitor::Create(feed::MonitorConfig{}, SystemWallClock()));
  for (const session::FeedSpec& feed : session::FeedsOf(spec)) {
    std::vector<TradingWindow> windows;
    if (const CatalogueEntry* entry = catalogue.Find(feed.instrument.symbol)) {
      windows = entry->windows;
    }
    AITS_RETURN_IF_ERROR(monitor->AddSymbol(feed.instrument, std::move(windows)));
  }
  return monitor;
}

int RunLive(LiveFlags& flags, bool spec_given, trace::Tracer* tracer) {
  const bool quiet = flags.session.quiet || flags.session.json;
  auto symbols = SymbolList(flags.symbols);
  if (!symbols.ok()) return Fail(symbols.status());
  auto token = ReadToken(flags.token_file);
  if (!token.ok()) return Fail(token.status());
  auto endpoint = net::ParseEndpoint(flags.listen);
  if (!endpoint.ok()) return Fail(endpoint.status().WithContext("--listen"));
  auto names = ParseNames(flags.mt5_names);
  if (!names.ok()) return Fail(names.status());
  if (flags.wait_seconds <= 0)
    return Fail(InvalidArgument("--wait must be a positive number of seconds"));

  auto logged = LoggedSpec(flags.session.state);
  if (!logged.ok()) return Fail(logged.status());
  if (*logged) {
    const bool logged_dry = (*logged)->venue != "mt5";
    if (spec_given && flags.dry_run != logged_dry) {
      return Fail(InvalidArgument(flags.session.state + " holds a " +
                                  (logged_dry ? "dry-run" : "live") + " session; resume it with" +
                                  (logged_dry ? "" : "out") +
                                  " --dry-run, or start this one in a new directory"));
    }
    flags.dry_run = logged_dry;
  }
  // The instruments as the session numbers them: the log's, else a provisional spec resolved
  // from the flags (its errors are the flags' own, before anything listens).
  mt5::Hello provisional;
  provisional.currency = "USD";
  provisional.leverage = 100;
  bool reconcile_given = false;
  auto probe = *logged ? Result<session::SessionSpec>(**logged)
                       : LiveSpec(flags, *symbols, provisional, Money{}, true, &reconcile_given);
  if (!probe.ok()) return Fail(probe.status());

  gateway::GatewayConfig config;
  config.host = endpoint->host;
  config.port = endpoint->port;
  config.token = *token;
  config.instruments.clear();
  for (const session::FeedSpec& feed : session::FeedsOf(*probe)) {
    config.instruments.push_back(feed.instrument);
  }
  config.mt5_names = *names;
  config.transcript = flags.transcript;
  config.answer_timeout = std::chrono::seconds(flags.wait_seconds);
  auto created = gateway::Gateway::Create(config);
  if (!created.ok()) return Fail(created.status());
  std::unique_ptr<gateway::Gateway> gw = std::move(*created);
  if (Status listening = gw->Listen(); !listening.ok()) return Fail(listening);

  std::optional<StopSignals> signals(std::in_place);
  if (!quiet) {
    std::fprintf(stderr,
                 "aits live: listening on %s:%u for the AitsBridge EA%s; state in %s "
                 "(Ctrl-C stops cleanly; run again to resume)\n",
                 config.host.c_str(), gw->port(),
                 flags.dry_run ? " (dry run: orders go to the simulated venue)" : "",
                 flags.session.state.c_str());
  }
  auto terminal =
      WaitForTerminal(*gw, config.host + ":" + std::to_string(gw->port()), flags.wait_seconds);
  if (!terminal.ok()) {
    return Fail(terminal.status());
  }
  auto account = gw->Snapshot();
  if (!account.ok()) {
    return Fail(account.status().WithContext("the terminal's account"));
  }
  if (!quiet) {
    std::fprintf(stderr,
                 "aits live: terminal connected: login %lld on %s (%s), %s %s, 1:%u, %s, "
                 "build %u%s\n",
                 static_cast<long long>(terminal->login), terminal->server.c_str(),
                 terminal->company.c_str(), terminal->currency.c_str(),
                 account->balance ? account->balance->ToString().c_str() : "?", terminal->leverage,
                 terminal->margin_mode == static_cast<uint32_t>(mt5::MarginMode::kRetailHedging)
                     ? "hedging"
                     : "netting",
                 terminal->terminal_build, terminal->trade_allowed ? "" : ", AUTOTRADING OFF");
  }
  const bool balance_given = flags.session.balance != config::PaperFlags{}.balance;
  reconcile_given = false;
  auto spec = spec_given ? LiveSpec(flags, *symbols, *terminal, account->balance.value_or(Money{}),
                                    balance_given, &reconcile_given)
                         : probe;
  if (!spec.ok()) {
    return Fail(spec.status());
  }

  session::PaperOptions options;
  auto resolved = config::ResolvePaperOptions(flags.session, /*spec_given=*/false);
  if (!resolved.ok()) {
    return Fail(resolved.status());
  }
  options = std::move(*resolved);
  options.spec = std::move(*spec);
  options.spec_given = spec_given;
  if (reconcile_given && spec_given) {
    options.reconcile = *execution::ParseReconcilePolicy(options.spec.reconcile);
  }
  options.speed = 1;  // a live feed has its own pace; the wall clock drives the timers
  options.stop = StopSignals::flag();
  options.signals = config::SignalsWithModels();
  options.promote = config::PromoteOnShadow;
  if (flags.session.retrain_wait == "yes") {
    return Fail(InvalidArgument(
        "--retrain-wait yes: a live session never waits for a retrain (the market does not)"));
  }
  if (Status loop = SetModelLoop(flags.session, &options); !loop.ok()) return Fail(loop);
  options.live_data = gw.get();
  if (!flags.dry_run) {
    gateway::Gateway* raw = gw.get();
    options.broker = [raw] { return raw->MakeExecutionClient(); };
  }
  options.notice = [quiet](const std::string& text) {
    if (!quiet) std::fprintf(stderr, "aits live: %s\n", text.c_str());
  };
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (!quiet && tty && !flags.session.no_progress) {
    options.progress = PrintProgressLine;
  }
  // The market monitor watches the live feed (docs/feed.md, "Market monitor"): its alerts are
  // warnings in the log and on stderr, counted in the summary.
  auto monitor = LiveMonitor(options.spec, flags.session.instruments);
  if (!monitor.ok()) {
    return Fail(monitor.status());
  }
  std::array<uint64_t, 5> alerts{};
  (*monitor)->SetSink([&alerts, quiet](const MarketAlert& alert) {
    if (alert.state != AlertState::kCleared) ++alerts[static_cast<size_t>(alert.kind)];
    const std::string line = alert.symbol + " " + std::string(ToString(alert.kind)) + " " +
                             std::string(ToString(alert.state)) + ": " + alert.detail;
    AITS_LOG_WARN("monitor", "market alert " + line);
    if (!quiet) std::fprintf(stderr, "\naits live: market alert: %s\n", line.c_str());
  });
  feed::MarketMonitor* watcher = monitor->get();
  if (!flags.session.trades.empty()) {
    Result<TradeWriter> trades = OpenTradeWriter(flags.session.trades);
    if (!trades.ok()) return Fail(trades.status().WithContext("--trades"));
    options.on_trades = trades->on_trades;
  }
  options.on_tick = [watcher](const Tick& tick) { watcher->OnTick(tick); };
  options.on_idle = [watcher] { watcher->Poll(); };
  Registry metrics;
  auto health = StartHealthServer(flags.session.health, "live", &metrics, quiet, "aits live");
  if (!health.ok()) return Fail(health.status());
  options.metrics = &metrics;
  options.tracer = tracer;
  auto result = session::RunPaper(options);
  signals.reset();
  gw->Stop();
  if (!quiet && tty && !flags.session.no_progress) std::fprintf(stderr, "\n");
  if (!result.ok()) return Fail(result.status());
  using gateway::Counter;
  const Counter shown[] = {Counter::kTicks,           Counter::kLinksLost,
                           Counter::kResumes,         Counter::kOrdersSent,
                           Counter::kRequotes,        Counter::kBackOffs,
                           Counter::kResolutions,     Counter::kResends,
                           Counter::kRetriedCancels,  Counter::kRetriedProtections,
                           Counter::kRefusedCancels,  Counter::kRefusedProtections,
                           Counter::kAlerts,          Counter::kStaleTicks,
                           Counter::kRefusedTicks,    Counter::kSnapshotCovered,
                           Counter::kRecoveredOrders, Counter::kCaughtUpDeals};
  if (flags.session.json) {
    nlohmann::ordered_json out = SessionSummaryJson(flags.session.state, *result);
    out["dry_run"] = flags.dry_run;
    out["terminal"] = {{"login", terminal->login},
                       {"server", terminal->server},
                       {"currency", terminal->currency},
                       {"leverage", terminal->leverage},
                       {"margin_mode", terminal->margin_mode},
                       {"build", terminal->terminal_build}};
    nlohmann::ordered_json counters;
    for (Counter counter : shown) counters[std::string(ToString(counter))] = gw->count(counter);
    out["gateway"] = std::move(counters);
    nlohmann::ordered_json raised;
    for (size_t kind = 0; kind < alerts.size(); ++kind) {
      raised[std::string(ToString(static_cast<AlertKind>(kind)))] = alerts[kind];
    }
    out["market_alerts"] = std::move(raised);
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  PrintSessionSummary(flags.dry_run ? "live (dry run)" : "live", flags.session.state, *result,
                      false);
  if (!flags.session.quiet) {
    std::string line = "  gateway:";
    for (Counter counter : shown) {
      line += " " + std::string(ToString(counter)) + " " + std::to_string(gw->count(counter));
    }
    std::printf("%s\n", line.c_str());
    line = "  market alerts:";
    for (size_t kind = 0; kind < alerts.size(); ++kind) {
      line += " " + std::string(ToString(static_cast<AlertKind>(kind))) + " " +
              std::to_string(alerts[kind]);
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

void AddLiveCommand(CLI::App& app) {
  auto flags = std::make_shared<LiveFlags>();
  flags->session.state = "live-session";
  CLI::App* cmd = app.add_subcommand(
      "live",
      "Trade a MetaTrader 5 account: the node with the gateway as its data and execution client\n"
      "(the AitsBridge EA connects to --listen), the same kernel, decision engine and risk\n"
      "manager as aits paper, and every event in the log --state DIR/events.db. At each start the\n"
      "terminal's positions and orders are reconciled with the log (--reconcile). Ctrl-C stops\n"
      "cleanly; running again with the same --state resumes (also after kill -9), continuing the\n"
      "feed right after its last logged tick. --dry-run trades the live prices on the simulated\n"
      "venue instead (shadow trading). Operator commands: aits breaker, pause, resume, flatten.\n"
      "Example: AITS_MT5_TOKEN=... aits live --symbol EURUSD --signal sma_cross --state live1");
  config::PaperFlags& s = flags->session;
  cmd->add_option("--symbol", flags->symbols,
                  "Symbols to trade (repeat or comma-separate; default EURUSD), catalogue names")
      ->delimiter(',');
  cmd->add_option("--mt5-name", flags->mt5_names,
                  "SYMBOL=TERMINAL_NAME when the broker names it otherwise (EURUSD=EURUSD.m)");
  cmd->add_option("--instruments", s.instruments,
                  "Instrument catalogue CSV on top of the built-in one (docs/instruments.md)");
  cmd->add_option("--listen", flags->listen,
                  "Where the gateway listens for the EA, HOST:PORT (0.0.0.0 for a terminal on "
                  "another machine)")
      ->capture_default_str();
  cmd->add_option("--token-file", flags->token_file,
                  "File whose first line is the EA's shared secret (else AITS_MT5_TOKEN)");
  cmd->add_option("--wait", flags->wait_seconds,
                  "Seconds to wait for the EA to connect and the terminal to answer")
      ->capture_default_str();
  cmd->add_flag("--dry-run", flags->dry_run,
                "Shadow trading: live prices, orders to the simulated venue (the account stays "
                "untouched)");
  cmd->add_option("--signal", s.signal, "sma_cross, rsi or ml_ensemble")->capture_default_str();
  cmd->add_option("--params", s.params, "Signal parameters, e.g. fast=10,slow=30");
  cmd->add_option("--model", s.model, "ml_ensemble: registry model (latest, NAME, NAME@V)")
      ->capture_default_str();
  cmd->add_option("--registry", s.registry,
                  "ml_ensemble: model registry, a directory or postgresql://user@host:port/db")
      ->capture_default_str();
  AddModelLoopFlags(*cmd, s);
  cmd->add_option("--config", s.config, "YAML file with decision: and risk: sections");
  cmd->add_option("--bar", s.bar, "Bar period of the signal (M1, M5, ...)")->capture_default_str();
  cmd->add_option("--balance", s.balance,
                  "--dry-run: the simulated account's balance (default: the terminal's)");
  cmd->add_option("--account-mode", s.account_mode,
                  "--dry-run: netting or hedging (default and live: the terminal's margin mode)");
  cmd->add_option("--commission", s.commission,
                  "--dry-run: the simulated venue's commission (none, per_lot:7, ...)")
      ->capture_default_str();
  cmd->add_option("--state", s.state, "State directory (the event log)")->capture_default_str();
  cmd->add_option("--trades", s.trades,
                  "Keep the session's closed trades in a trade store: a file (SQLite) or "
                  "postgresql://user@host:port/db, written as the log commits them");
  cmd->add_option("--stop-after", s.stop_after, "Stop after N new ticks in this run");
  cmd->add_option("--sync", s.sync, "Event log durability: full (power-safe) or normal")
      ->capture_default_str();
  cmd->add_option("--session-id", s.session_id,
                  "Prefix of client order ids (default: from the start time)");
  cmd->add_option("--reconcile", s.reconcile,
                  "At start, when the terminal's account differs from the event log: refuse "
                  "(default), adopt or flatten");
  cmd->add_option("--transcript", flags->transcript,
                  "Append every frame exchanged with the EA to this file (JSON lines)");
  cmd->add_option("--latency-out", s.latency_out, "Write the latency histograms as JSON");
  AddHealthFlag(*cmd, s.health);
  AddTraceFlags(*cmd, flags->trace, "one per tick that makes a decision or an order");
  cmd->add_flag("--quiet", s.quiet, "Only the summary");
  cmd->add_flag("--json", s.json, "Print the summary as JSON");
  cmd->add_flag("--no-progress", s.no_progress, "No progress line");
  cmd->callback([cmd, flags] {
    bool spec_given = false;
    for (const char* name : {"--symbol", "--mt5-name", "--instruments", "--signal", "--params",
                             "--model", "--registry", "--config", "--bar", "--balance",
                             "--account-mode", "--commission", "--dry-run"}) {
      if (cmd->count(name) > 0) spec_given = true;
    }
    const bool has_log = std::filesystem::exists(EventsPath(flags->session.state));
    Result<std::unique_ptr<trace::Tracer>> opened = OpenTracer(flags->trace, *cmd, "aits-live");
    if (!opened.ok()) ExitOnFailure(Fail(opened.status()));
    const std::unique_ptr<trace::Tracer> tracer = std::move(opened).value();
    const int code = RunLive(*flags, spec_given || !has_log, tracer.get());
    CloseTracer(tracer.get(), "aits live");
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
