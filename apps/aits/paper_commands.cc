#include "paper_commands.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "aits/core/hash.h"
#include "aits/features/feature_engine.h"
#include "aits/ml/selection.h"
#include "aits/node/signals.h"
#include "aits/session/paper.h"
#include "aits/session/replay.h"
#include "backtest_config.h"
#include "cli.h"
#include "ml_commands.h"
#include "yaml_reader.h"

namespace aits::app {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) { g_stop.store(true); }

struct PaperFlags {
  std::string feed = "synthetic";
  std::string symbol;
  std::string instruments;
  std::string format = "auto";
  int64_t spread_points = 0;
  uint64_t seed = 1;
  uint64_t ticks = 0;
  double start_price = 0;
  double volatility = 1.0;
  std::string speed = "1";
  std::string signal = "sma_cross";
  std::string params;
  std::string model = "latest";
  std::string registry = "models";
  std::string config;
  double balance = 100'000;
  double leverage = 100;
  std::string commission = "none";
  std::string account_mode;  // empty: the config file's, else netting
  double latency_ms = 0;
  int64_t slippage_points = 0;
  std::string bar = "M1";
  std::string state = "paper-session";
  uint64_t stop_after = 0;
  std::string latency_out;
  std::string sync = "full";
  std::string start;
  std::string session_id;
  std::string reconcile;       // empty: not given
  std::string venue;           // empty: not given (the file's, else simulated)
  std::string report_latency;  // empty: not given
  bool quiet = false;
  // Several instruments (docs/paper.md): --data SYM=FILE and --convert-data SYM=FILE items, as
  // `aits backtest` takes them, or the config file's `data:` list; and synthetic symbols.
  std::vector<std::string> data_items;
  std::vector<std::string> convert_items;
  std::vector<std::string> synthetic;
};

// The YAML settings file: `decision:` and `risk:` maps, the `data:` list of feeds and the
// `reconcile:` policy, nothing else. `reconcile_given` is set when the file names a policy.
Status LoadPaperConfig(const std::string& path, session::SessionSpec* spec,
                       std::vector<FeedFlag>* feeds, bool* reconcile_given) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return NotFound("cannot read config file " + path);
  } catch (const YAML::Exception& error) {
    return InvalidArgument(path + ": " + error.what());
  }
  if (root.IsNull()) return Status::Ok();  // an empty file sets nothing
  if (!root.IsMap()) return InvalidArgument(path + ": the top level must be a map of sections");
  for (const auto& section : root) {
    const std::string name = section.first.Scalar();
    const std::string where = path + ":" + std::to_string(section.first.Mark().line + 1);
    if (name == "data" && section.second.IsSequence()) {
      try {
        AITS_RETURN_IF_ERROR(ParseYamlFeeds(path, section.second, feeds));
      } catch (const YAML::Exception& error) {
        return InvalidArgument(path + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg);
      }
      continue;
    }
    if (name == "reconcile") {
      const std::string value = section.second.IsScalar() ? section.second.Scalar() : "";
      auto policy = execution::ParseReconcilePolicy(value);
      if (!section.second.IsScalar() || !policy.ok()) {
        return InvalidArgument(where + ": reconcile: '" + value +
                               "' is not a reconciliation policy (adopt, flatten, refuse)");
      }
      spec->reconcile = value;
      *reconcile_given = true;
      continue;
    }
    if (name == "execution") {
      // The venue: `execution: {venue: threaded, report_latency: 5ms}`.
      if (!section.second.IsMap()) return InvalidArgument(where + ": execution must be a map");
      std::string venue, latency, venue_at = where, latency_at = where;
      for (const auto& item : section.second) {
        const std::string key = item.first.Scalar();
        const std::string at = path + ":" + std::to_string(item.first.Mark().line + 1);
        if (key != "venue" && key != "report_latency") {
          return InvalidArgument(at + ": unknown key execution." + key +
                                 " (known: venue, report_latency)");
        }
        (key == "venue" ? venue : latency) = item.second.IsScalar() ? item.second.Scalar() : "?";
        (key == "venue" ? venue_at : latency_at) = at;
      }
      AITS_RETURN_IF_ERROR(session::SetExecution(spec, venue, latency,
                                                 venue_at + ": execution.venue",
                                                 latency_at + ": execution.report_latency"));
      continue;
    }
    if (name == "account") {
      // Only the account's mode: cash, leverage and costs are flags of `aits paper`.
      if (!section.second.IsMap()) return InvalidArgument(where + ": account must be a map");
      for (const auto& item : section.second) {
        const std::string key = item.first.Scalar();
        const std::string at = path + ":" + std::to_string(item.first.Mark().line + 1);
        if (key != "account_mode") {
          return InvalidArgument(at + ": unknown key account." + key + " (known: account_mode)");
        }
        const std::string value = item.second.IsScalar() ? item.second.Scalar() : "";
        if (auto mode = ParseAccountMode(value); !mode.ok()) {
          return mode.status().WithContext(at + ": account.account_mode");
        }
        spec->account_mode = value;
      }
      continue;
    }
    if (name != "decision" && name != "risk") {
      return InvalidArgument(
          where + ": unknown section '" + name +
          "' (known: decision, risk, account, execution, reconcile, and data as a list of " +
          "feeds)");
    }
  }
  return ReadDecisionAndRisk(path, root, &spec->decision, &spec->risk);
}

session::SignalFactory SignalsWithModels() {
  return [](const session::SessionSpec& spec, const Instrument& instrument,
            Duration bar_period) -> Result<std::unique_ptr<trading::SignalSource>> {
    if (spec.signal != "ml_ensemble")
      return session::MakeRuleSignalFor(spec, instrument, bar_period);
    AITS_ASSIGN_OR_RETURN(ml::RegistryEnsemble loaded,
                          ml::LoadRegistryEnsemble(spec.registry, spec.model));
    if (!spec.model_checksum.empty() && loaded.record.sha256_or_fnv != spec.model_checksum) {
      return FailedPrecondition("model " + spec.model + " in " + spec.registry +
                                " is not the one this session was recorded with (checksum " +
                                loaded.record.sha256_or_fnv + ", recorded " + spec.model_checksum +
                                ")");
    }
    return node::MlSignalFactory(loaded)(instrument, bar_period);
  };
}

// Several feeds: each one's instrument from the catalogue, kernel ids in registration order (as a
// backtest gives them), synthetic markets seeded per symbol. Errors name the flag or file/line.
Status AddFeeds(const PaperFlags& flags, const std::vector<FeedFlag>& file_feeds,
                session::SessionSpec* spec) {
  for (const auto& [name, given] :
       std::vector<std::pair<const char*, bool>>{{"--feed", flags.feed != "synthetic"},
                                                 {"--symbol", !flags.symbol.empty()},
                                                 {"--start-price", flags.start_price > 0}}) {
    if (given) {
      return InvalidArgument(std::string(name) +
                             " is for a session of one instrument; with several feeds each "
                             "names its symbol (--data SYMBOL=FILE, --synthetic SYMBOL,SYMBOL)");
    }
  }
  for (const FeedFlag& feed : file_feeds) {
    if (feed.files.size() > 1) {
      return InvalidArgument(feed.where +
                             ": paper trading reads tick files, which carry bid and ask: give one "
                             "file per symbol (bid/ask bar files are for aits backtest)");
    }
  }
  const std::optional<std::string> format =
      flags.format == "auto" ? std::nullopt : std::optional<std::string>(flags.format);
  AITS_ASSIGN_OR_RETURN(std::vector<backtest::FeedConfig> feeds,
                        ResolveFeeds(file_feeds, flags.instruments, format, nullptr));
  std::vector<FeedFlag> all = file_feeds;
  for (const std::string& symbol_text : flags.synthetic) {
    FeedFlag flag;
    flag.symbol = symbol_text;
    std::transform(flag.symbol.begin(), flag.symbol.end(), flag.symbol.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    flag.files = {"synthetic"};
    flag.where = "--synthetic " + symbol_text;
    for (const FeedFlag& other : all) {
      if (other.symbol == flag.symbol) {
        return InvalidArgument(flag.where + ": symbol " + flag.symbol + " is given twice (also " +
                               other.where + ")");
      }
    }
    auto found = InstrumentFor(flag.symbol, "", flags.instruments, {},
                               Instrument::Infer(flag.symbol).digits);
    if (!found.ok()) return InvalidArgument(flag.where + ": " + found.status().message());
    backtest::FeedConfig feed;
    feed.instrument = found->instrument;
    feed.data_path = "synthetic";
    feeds.push_back(std::move(feed));
    all.push_back(std::move(flag));
  }
  AITS_ASSIGN_OR_RETURN(const std::vector<size_t> order,
                        FeedOrder(all, feeds, Currency::Of(spec->account_currency)));
  for (size_t rank = 0; rank < order.size(); ++rank) {
    feeds[order[rank]].instrument.id = InstrumentId{static_cast<uint32_t>(rank)};
  }
  for (const backtest::FeedConfig& feed : feeds) {
    session::FeedSpec one;
    one.feed = feed.data_path;
    one.instrument = feed.instrument;
    one.traded = feed.role == backtest::FeedRole::kTrade;
    // Each symbol its own market, the same one for the same --seed.
    one.seed = Mix64(flags.seed ^ Fnv1a64(feed.instrument.symbol));
    one.start_price = feed.instrument.digits == 3 ? 110.0 : 1.10000;
    spec->feeds.push_back(std::move(one));
  }
  AITS_RETURN_IF_ERROR(session::ValidateFeeds(*spec));
  // The one-feed fields label the session: its first traded feed.
  for (const session::FeedSpec& feed : spec->feeds) {
    if (!feed.traded) continue;
    spec->feed = feed.feed;
    spec->symbol = feed.instrument.symbol;
    spec->instrument = feed.instrument;
    spec->seed = feed.seed;
    spec->start_price = feed.start_price;
    break;
  }
  return Status::Ok();
}

// `reconcile_given`: the flag or the settings file chose the reconciliation policy.
Result<session::SessionSpec> SpecFromFlags(const PaperFlags& flags, bool* reconcile_given) {
  session::SessionSpec spec;
  std::vector<FeedFlag> file_feeds;
  AITS_RETURN_IF_ERROR(ParseFeedItems(flags.data_items, flags.convert_items, nullptr, &file_feeds));
  if (!flags.config.empty()) {
    std::vector<FeedFlag> from_file;
    AITS_RETURN_IF_ERROR(LoadPaperConfig(flags.config, &spec, &from_file, reconcile_given));
    // Feeds on the command line replace the file's, as in aits backtest.
    if (file_feeds.empty() && flags.synthetic.empty()) file_feeds = std::move(from_file);
  }
  const bool several = !file_feeds.empty() || !flags.synthetic.empty();
  spec.feed = flags.feed;
  spec.format = flags.format;
  spec.spread_points = flags.spread_points;
  if (several) {
    AITS_RETURN_IF_ERROR(AddFeeds(flags, file_feeds, &spec));
  } else if (flags.feed == "synthetic") {
    // A synthetic market makes its prices at the instrument's digits, so nothing is rounded: for
    // a symbol the catalogue lacks, the digits its name always implied (5, 3 for JPY quotes, 2).
    const std::string symbol = flags.symbol.empty() ? "EURUSD" : flags.symbol;
    AITS_ASSIGN_OR_RETURN(
        data::ResolvedInstrument found,
        InstrumentFor(symbol, "", flags.instruments, {}, Instrument::Infer(symbol).digits));
    spec.symbol = found.instrument.symbol;
    spec.instrument = found.instrument;
  } else {
    if (!std::filesystem::exists(flags.feed))
      return NotFound("feed file " + flags.feed + " does not exist");
    // The same rules as a backtest (docs/instruments.md): "mydata.csv" needs --symbol.
    data::ReadOptions probe;
    if (flags.format != "auto") {
      AITS_ASSIGN_OR_RETURN(probe.format, data::ParseDataFormat(flags.format));
    }
    AITS_ASSIGN_OR_RETURN(data::ResolvedInstrument found,
                          InstrumentFor(flags.symbol, flags.feed, flags.instruments, probe));
    spec.symbol = found.instrument.symbol;
    spec.instrument = found.instrument;
  }
  const Instrument instrument = session::InstrumentOf(spec);
  if (!several) {
    spec.seed = flags.seed;
    spec.start_price =
        flags.start_price > 0 ? flags.start_price : (instrument.digits == 3 ? 110.0 : 1.10000);
  }
  spec.max_ticks = flags.ticks;
  spec.volatility = flags.volatility;
  spec.synthetic_start = WallClock().Now();
  if (!flags.start.empty()) {
    if (flags.feed != "synthetic" || (several && std::any_of(spec.feeds.begin(), spec.feeds.end(),
                                                             [](const session::FeedSpec& feed) {
                                                               return feed.feed != "synthetic";
                                                             }))) {
      return InvalidArgument("--start is for the synthetic feed");
    }
    AITS_ASSIGN_OR_RETURN(spec.synthetic_start, ParseDateTime("--start", flags.start));
  }
  spec.signal = flags.signal;
  spec.signal_params = flags.params;
  spec.balance = flags.balance;
  spec.leverage = flags.leverage;
  spec.commission = flags.commission;
  if (!(flags.latency_ms >= 0)) return InvalidArgument("--latency-ms must be >= 0");
  spec.latency_us = static_cast<int64_t>(flags.latency_ms * 1000.0 + 0.5);
  spec.slippage_points = flags.slippage_points;
  AITS_ASSIGN_OR_RETURN(std::vector<Duration> bar, features::ParseTimeframes(flags.bar));
  if (bar.size() != 1) return InvalidArgument("--bar takes one timeframe, e.g. M1");
  spec.bar_seconds = bar.front().ns / Duration::Seconds(1).ns;
  if (!flags.reconcile.empty()) {  // the flag wins over the file
    spec.reconcile = flags.reconcile;
    *reconcile_given = true;
  }
  // The flags win over the file.
  AITS_RETURN_IF_ERROR(session::SetExecution(&spec, flags.venue, flags.report_latency, "--venue",
                                             "--report-latency"));
  if (!flags.account_mode.empty()) {  // the flag wins over the file
    if (auto mode = ParseAccountMode(flags.account_mode); !mode.ok()) {
      return mode.status().WithContext("--account-mode");
    }
    spec.account_mode = flags.account_mode;
  }
  if (flags.signal == "ml_ensemble") {
    spec.registry = flags.registry;
    AITS_ASSIGN_OR_RETURN(ml::RegistryEnsemble loaded,
                          ml::LoadRegistryEnsemble(flags.registry, flags.model));
    LogModelChoice(flags.registry, flags.model, loaded);
    spec.model = loaded.record.name + "@" + std::to_string(loaded.record.version);
    spec.model_checksum = loaded.record.sha256_or_fnv;
    spec.bar_seconds = loaded.timeframes.front().ns / Duration::Seconds(1).ns;
    if (!flags.params.empty()) {
      return InvalidArgument(
          "--params is for rule signals; ml_ensemble takes its settings from "
          "the model and the decision section of --config");
    }
  }
  // Client order ids unique to this session: its start time, unless named.
  spec.session_id = flags.session_id.empty()
                        ? "p" + std::to_string(WallClock().Now().ns / 1'000'000 % 100'000'000)
                        : flags.session_id;
  if (spec.session_id.size() > 32 ||
      spec.session_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_.") != std::string::npos) {
    return InvalidArgument("--session-id '" + spec.session_id +
                           "' must be 1..32 letters, digits, '_' or '.'");
  }
  return spec;
}

int RunPaperCommand(const PaperFlags& flags, bool spec_given) {
  session::PaperOptions options;
  options.spec_given = spec_given;
  if (!flags.reconcile.empty()) {
    auto policy = execution::ParseReconcilePolicy(flags.reconcile);
    if (!policy.ok()) return Fail(policy.status().WithContext("--reconcile"));
  }
  bool reconcile_given = !flags.reconcile.empty();
  if (spec_given) {
    auto spec = SpecFromFlags(flags, &reconcile_given);
    if (!spec.ok()) return Fail(spec.status());
    options.spec = std::move(*spec);
  }
  // The policy of this start: a resume takes it from the flag (or the file) without becoming
  // another session; otherwise the session's own.
  if (reconcile_given) {
    options.reconcile =
        *execution::ParseReconcilePolicy(spec_given ? options.spec.reconcile : flags.reconcile);
  }
  options.state_dir = flags.state;
  if (flags.speed == "max") {
    options.speed = 0;
  } else {
    std::string text = flags.speed;
    if (!text.empty() && (text.back() == 'x' || text.back() == 'X')) text.pop_back();
    char* end = nullptr;
    options.speed = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(options.speed > 0) ||
        options.speed > 1e9) {
      return Fail(InvalidArgument("--speed '" + flags.speed +
                                  "' is not a positive multiple of real time (1, 10, 60x) or max"));
    }
  }
  if (flags.sync == "full") {
    options.store.sync = persistence::Sync::kFull;
  } else if (flags.sync == "normal") {
    options.store.sync = persistence::Sync::kNormal;
  } else {
    return Fail(InvalidArgument("--sync '" + flags.sync + "' is not full or normal"));
  }
  options.stop_after = flags.stop_after;
  options.stop = &g_stop;
  options.signals = SignalsWithModels();
  const bool quiet = flags.quiet;
  options.notice = [quiet](const std::string& text) {
    if (!quiet) std::fprintf(stderr, "aits paper: %s\n", text.c_str());
  };
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (!quiet && tty) {
    options.progress = [](const session::PaperProgress& p) {
      std::fprintf(
          stderr, "\r  ticks %llu  orders %llu  fills %llu  position %s  equity %s  breaker %s   ",
          static_cast<unsigned long long>(p.ticks), static_cast<unsigned long long>(p.orders),
          static_cast<unsigned long long>(p.fills), p.position.ToString().c_str(),
          p.equity.ToString().c_str(), p.breaker.c_str());
    };
  }
  g_stop.store(false);
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  if (!quiet) {
    std::fprintf(stderr, "aits paper: state in %s (Ctrl-C stops cleanly; run again to resume)\n",
                 flags.state.c_str());
  }
  auto result = session::RunPaper(options);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!quiet && tty) std::fprintf(stderr, "\n");
  if (!result.ok()) return Fail(result.status());
  const session::PaperResult& r = *result;
  std::printf("paper session %s: %s after %llu new ticks (%.1f s)\n", flags.state.c_str(),
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
  std::printf("  event log: %s/events.db, %llu events\n", flags.state.c_str(),
              static_cast<unsigned long long>(r.last_seq));
  if (!flags.latency_out.empty()) {
    std::FILE* file = std::fopen(flags.latency_out.c_str(), "w");
    if (file == nullptr) return Fail(IoError("cannot write " + flags.latency_out));
    const std::string json = r.LatencyJson();
    std::fwrite(json.data(), 1, json.size(), file);
    std::fclose(file);
  }
  return 0;
}

std::string EventsPath(const std::string& path) {
  if (std::filesystem::is_directory(path))
    return (std::filesystem::path(path) / "events.db").string();
  return path;
}

int RunReplayCommand(const std::string& events) {
  auto store = persistence::EventStore::OpenReadOnly(EventsPath(events));
  if (!store.ok()) return Fail(store.status());
  auto result = session::Replay(**store, SignalsWithModels());
  if (!result.ok()) return Fail(result.status());
  const session::ReplayResult& r = *result;
  if (!r.equal) {
    std::printf(
        "replay of %s DIVERGES\n  first diverging event: %s\n  logged:   %s\n  replayed: %s\n",
        EventsPath(events).c_str(),
        r.divergence.seq == 0 ? "after the last one" : std::to_string(r.divergence.seq).c_str(),
        r.divergence.logged.c_str(), r.divergence.produced.c_str());
    return 1;
  }
  std::printf("replay of %s: identical\n", EventsPath(events).c_str());
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

int RunExplainCommand(const std::string& events, uint64_t order_id, bool raw) {
  auto store = persistence::EventStore::OpenReadOnly(EventsPath(events));
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
  std::printf("order and risk checks:\n%s\n", json["order"].dump(2).c_str());
  std::printf("what happened to the order:\n");
  for (const auto& line : explanation->order_events) std::printf("  %s\n", line.c_str());
  return 0;
}

}  // namespace

void AddPaperCommands(CLI::App& app) {
  auto flags = std::make_shared<PaperFlags>();
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
  paper->add_option("--feed", flags->feed, "'synthetic' or a tick data file")
      ->capture_default_str();
  paper->add_option("--data", flags->data_items,
                    "Several instruments: SYMBOL=TICK_FILE, repeated (each traded by its own "
                    "strategy instance, one account; docs/paper.md)");
  paper->add_option("--convert-data", flags->convert_items,
                    "SYMBOL=TICK_FILE read only for the rates that convert other symbols' P&L");
  paper
      ->add_option("--synthetic", flags->synthetic,
                   "Several synthetic markets, one per symbol (EURUSD,USDJPY), seeded per "
                   "symbol from --seed")
      ->delimiter(',');
  paper->add_option("--symbol", flags->symbol,
                    "Instrument (default EURUSD, or a catalogue symbol the file name starts with)");
  paper->add_option("--instruments", flags->instruments,
                    "Instrument catalogue CSV on top of the built-in one (docs/instruments.md)");
  paper->add_option("--format", flags->format, "Data format of the file")->capture_default_str();
  paper->add_option("--spread-points", flags->spread_points, "Spread for single-price data");
  paper->add_option("--seed", flags->seed, "Synthetic market seed")->capture_default_str();
  paper->add_option("--ticks", flags->ticks,
                    "Ticks in the whole session (0 = the whole file / no end)");
  paper->add_option("--start-price", flags->start_price, "Synthetic start price");
  paper->add_option("--volatility", flags->volatility, "Synthetic volatility multiplier")
      ->capture_default_str();
  paper->add_option("--speed", flags->speed, "1, N (times real time) or max")
      ->capture_default_str();
  paper->add_option("--signal", flags->signal, "sma_cross, rsi or ml_ensemble")
      ->capture_default_str();
  paper->add_option("--params", flags->params, "Signal parameters, e.g. fast=10,slow=30");
  paper->add_option("--model", flags->model, "ml_ensemble: registry model (latest, NAME, NAME@V)")
      ->capture_default_str();
  paper->add_option("--registry", flags->registry, "ml_ensemble: registry directory")
      ->capture_default_str();
  paper->add_option("--config", flags->config, "YAML file with decision: and risk: sections");
  paper->add_option("--balance", flags->balance, "Starting balance")->capture_default_str();
  paper->add_option("--leverage", flags->leverage, "Account leverage")->capture_default_str();
  paper->add_option("--commission", flags->commission, "none, per_lot:7, per_million:35, percent:X")
      ->capture_default_str();
  paper->add_option("--account-mode", flags->account_mode,
                    "netting (default: one net position per symbol) or hedging (a position per "
                    "opening fill, with its own ticket); or account.account_mode in --config");
  paper->add_option("--latency-ms", flags->latency_ms, "Simulated order latency")
      ->capture_default_str();
  paper->add_option("--venue", flags->venue,
                    "simulated (default: the synchronous venue) or threaded (the venue on its own "
                    "thread, answering through the inbox; its reports are logged); or "
                    "execution.venue in --config");
  paper->add_option("--report-latency", flags->report_latency,
                    "threaded venue: wall time each report travels (5ms, 250us); or "
                    "execution.report_latency in --config");
  paper->add_option("--slippage", flags->slippage_points, "Adverse slippage in points");
  paper->add_option("--bar", flags->bar, "Bar period of the signal (M1, M5, ...)")
      ->capture_default_str();
  paper->add_option("--state", flags->state, "State directory (the event log)")
      ->capture_default_str();
  paper->add_option("--stop-after", flags->stop_after, "Stop after N new ticks in this run");
  paper->add_option("--latency-out", flags->latency_out, "Write the latency histograms as JSON");
  paper->add_option("--sync", flags->sync, "Event log durability: full (power-safe) or normal")
      ->capture_default_str();
  paper->add_option("--start", flags->start,
                    "Synthetic market: time of the first tick (default: now), e.g. 2024-01-08");
  paper->add_option("--session-id", flags->session_id,
                    "Prefix of client order ids (default: from the start time)");
  paper->add_option("--reconcile", flags->reconcile,
                    "At start, when the venue's account differs from the event log: refuse "
                    "(default: start nothing, list every difference), adopt (take the venue's) "
                    "or flatten (close and cancel what the log cannot account for); also "
                    "`reconcile:` in --config");
  paper->add_flag("--quiet", flags->quiet, "Only the summary");
  paper->callback([paper, flags] {
    // Only run flags given: resume what --state holds.
    bool spec_given = false;
    for (const char* name :
         {"--feed",          "--symbol",       "--instruments", "--format",       "--spread-points",
          "--seed",          "--ticks",        "--start-price", "--volatility",   "--signal",
          "--params",        "--model",        "--registry",    "--config",       "--balance",
          "--leverage",      "--commission",   "--latency-ms",  "--slippage",     "--bar",
          "--data",          "--convert-data", "--synthetic",   "--account-mode", "--venue",
          "--report-latency"}) {
      if (paper->count(name) > 0) spec_given = true;
    }
    const bool has_log = std::filesystem::exists(EventsPath(flags->state));
    const int code = RunPaperCommand(*flags, spec_given || !has_log);
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

  auto breaker_state = std::make_shared<std::string>();
  auto breaker_dir = std::make_shared<std::string>("paper-session");
  auto breaker_reason = std::make_shared<std::string>("operator");
  CLI::App* breaker = app.add_subcommand(
      "breaker",
      "Move the circuit breaker of a paper session by hand: normal, reduce_only or halted\n"
      "(halting flattens every position). A running session applies it within a second;\n"
      "otherwise at its next start. Example: aits breaker halted --reason 'news' --state s1");
  breaker->add_option("STATE", *breaker_state, "normal, reduce_only or halted")->required();
  breaker->add_option("--state", *breaker_dir, "State directory")->capture_default_str();
  breaker->add_option("--reason", *breaker_reason, "Why (recorded in the audit event)")
      ->capture_default_str();
  breaker->callback([breaker_state, breaker_dir, breaker_reason] {
    auto state = risk::ParseBreakerState(*breaker_state);
    if (!state.ok()) throw CLI::RuntimeError(Fail(state.status()));
    const std::string path = EventsPath(*breaker_dir);
    if (!std::filesystem::exists(path)) {
      throw CLI::RuntimeError(Fail(NotFound(*breaker_dir + " holds no paper session")));
    }
    // Read-only: the running session is the log's only writer; commands go to their own table.
    auto store = persistence::EventStore::OpenReadOnly(path);
    if (!store.ok()) throw CLI::RuntimeError(Fail(store.status()));
    nlohmann::json command = {{"command", "breaker"},
                              {"state", std::string(risk::ToString(*state))},
                              {"reason", *breaker_reason}};
    const Status added = (*store)->AddCommand(command.dump());
    if (!added.ok()) throw CLI::RuntimeError(Fail(added));
    std::printf("breaker command queued for %s: %s\n", breaker_dir->c_str(),
                command.dump().c_str());
  });
}

}  // namespace aits::app
