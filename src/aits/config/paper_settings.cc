#include "aits/config/paper_settings.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "aits/config/model_choice.h"
#include "aits/config/yaml_reader.h"
#include "aits/core/hash.h"
#include "aits/features/feature_engine.h"
#include "aits/ml/selection.h"

namespace aits::config {

// The YAML settings file: `decision:` and `risk:` maps, the `data:` list of feeds and the
// `reconcile:` policy, nothing else. `reconcile_given` is set when the file names a policy.
Status LoadPaperConfig(const std::string& path, session::SessionSpec* spec,
                       std::vector<FeedFlag>* feeds, bool* reconcile_given) {
  // An empty file sets nothing.
  AITS_ASSIGN_OR_RETURN(const YAML::Node root, LoadYamlFile(path, EmptyFile::kNoSettings));
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

namespace {

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

}  // namespace

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
  if (flags.member_weights != "alike" && flags.signal != "ml_ensemble") {
    return InvalidArgument("--member-weights is for --signal ml_ensemble: this session trades '" +
                           flags.signal + "'");
  }
  if (!flags.shadow.empty() && flags.signal != "ml_ensemble") {
    return InvalidArgument("--shadow is for --signal ml_ensemble: this session trades '" +
                           flags.signal + "'");
  }
  if (flags.signal == "ml_ensemble") {
    spec.registry = flags.registry;
    AITS_ASSIGN_OR_RETURN(ml::RegistryEnsemble loaded,
                          ml::LoadRegistryEnsemble(flags.registry, flags.model));
    LogModelChoice(flags.registry, flags.model, loaded);
    spec.model = loaded.record.name + "@" + std::to_string(loaded.record.version);
    spec.model_checksum = loaded.record.sha256_or_fnv;
    spec.bar_seconds = loaded.timeframes.front().ns / Duration::Seconds(1).ns;
    if (!flags.shadow.empty()) {
      AITS_ASSIGN_OR_RETURN(ml::RegistryEnsemble candidate,
                            ml::LoadRegistryEnsemble(flags.registry, flags.shadow));
      const std::string name =
          candidate.record.name + "@" + std::to_string(candidate.record.version);
      if (candidate.record.id == loaded.record.id) {
        return InvalidArgument("--shadow " + flags.shadow + " is " + name +
                               ", the model the session serves: a trial needs another model");
      }
      if (candidate.record.feature_set_hash != loaded.record.feature_set_hash) {
        return FailedPrecondition(
            "--shadow " + name + " computes feature set " + candidate.record.feature_set_version +
            " (hash " + candidate.record.feature_set_hash + "), --model " + spec.model + " " +
            loaded.record.feature_set_version + " (hash " + loaded.record.feature_set_hash + ")");
      }
      if (flags.shadow_calls < 2) {
        return InvalidArgument("--shadow-calls " + std::to_string(flags.shadow_calls) +
                               " must be >= 2");
      }
      spec.shadow_model = name;
      spec.shadow_checksum = candidate.record.sha256_or_fnv;
      spec.shadow_min_calls = flags.shadow_calls;
    }
    if (flags.member_weights == "adaptive") {
      spec.member_weights = "adaptive";
    } else if (flags.member_weights != "alike") {
      return InvalidArgument("--member-weights '" + flags.member_weights +
                             "': expected alike or adaptive");
    }
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

Result<session::PaperOptions> ResolvePaperOptions(const PaperFlags& flags, bool spec_given) {
  session::PaperOptions options;
  options.spec_given = spec_given;
  if (!flags.reconcile.empty()) {
    auto policy = execution::ParseReconcilePolicy(flags.reconcile);
    if (!policy.ok()) return policy.status().WithContext("--reconcile");
  }
  bool reconcile_given = !flags.reconcile.empty();
  if (spec_given) {
    AITS_ASSIGN_OR_RETURN(options.spec, SpecFromFlags(flags, &reconcile_given));
  }
  // The policy of this start: a resume takes it from the flag (or the file) without becoming
  // another session; otherwise the session's own.
  if (reconcile_given) {
    options.reconcile =
        *execution::ParseReconcilePolicy(spec_given ? options.spec.reconcile : flags.reconcile);
  }
  options.state_dir = flags.state;
  options.events = flags.events;
  options.standby = flags.standby;
  if (flags.speed == "max") {
    options.speed = 0;
  } else {
    std::string text = flags.speed;
    if (!text.empty() && (text.back() == 'x' || text.back() == 'X')) text.pop_back();
    char* end = nullptr;
    options.speed = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(options.speed > 0) ||
        options.speed > 1e9) {
      return InvalidArgument("--speed '" + flags.speed +
                             "' is not a positive multiple of real time (1, 10, 60x) or max");
    }
  }
  if (flags.sync == "full") {
    options.store.sync = persistence::Sync::kFull;
  } else if (flags.sync == "normal") {
    options.store.sync = persistence::Sync::kNormal;
  } else {
    return InvalidArgument("--sync '" + flags.sync + "' is not full or normal");
  }
  options.stop_after = flags.stop_after;
  if (flags.checkpoint_every == 0) {
    return InvalidArgument("--checkpoint-every 0: an account checkpoint needs at least 1 tick");
  }
  options.checkpoint_every = flags.checkpoint_every;
  return options;
}

}  // namespace aits::config
