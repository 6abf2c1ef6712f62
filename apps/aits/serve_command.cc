#include "serve_command.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/bus/message_bus.h"
#include "aits/bus/nats_bus.h"
#include "aits/cache/cache.h"
#include "aits/config/model_choice.h"
#include "aits/config/paper_settings.h"
#include "aits/core/clock.h"
#include "aits/core/redact.h"
#include "aits/core/resilience.h"
#include "aits/ml/registry.h"
#include "aits/net/socket.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/services/bus_venue.h"
#include "aits/services/decision_stages.h"
#include "aits/services/health.h"
#include "aits/services/log_relay.h"
#include "aits/services/market_stream.h"
#include "aits/services/ml_jobs.h"
#include "aits/session/paper.h"
#include "aits/trace/tracer.h"
#include "api_command.h"
#include "cli.h"
#include "gateway_role.h"
#include "ml_commands.h"
#include "mt5_flags.h"
#include "notify_role.h"
#include "paper_commands.h"
#include "trace_flags.h"

namespace aits::app {
namespace {

// SPEC §1's services, by the names docs/services.md gives them.
constexpr std::array<std::string_view, 11> kRoles = {
    "ingestion", "features",   "prediction",    "decision", "risk",   "execution",
    "ml",        "monitoring", "notifications", "api",      "gateway"};
// The account's owner: the risk check and the order, on one thread in one process (a second
// intent's check sees the first one's fill). The decision runs with it, or apart in the lockstep
// of ADR 0007 (decision 4); features and prediction in other processes, or in this one.
constexpr std::array<std::string_view, 2> kOwner = {"risk", "execution"};

struct ServeFlags {
  std::string roles;
  std::string bus = "in-process";
  std::string health = "127.0.0.1:0";
  double idle_timeout_s = 30;
  size_t ticks_per_message = 512;
  int replicas = 1;
  std::string market = "default";
  // Features, prediction, decision: only these traded symbols (replicas sharing the work by
  // symbol); empty: every traded symbol.
  std::string symbols;
  std::string consumers = "push";  // how roles read the bus: push or pull consumers
  std::string redis = "off";       // HOST:PORT for the features and prediction roles' caches
  // The features role's bar and offline feature stores (a file or postgresql://...); empty: none.
  std::string bars;
  std::string offline_features;
  // The ml role: seconds without an in-progress ack before a job goes to another runner.
  double ack_wait_s = 60;
  // --venue bus (taken out of the session's --venue, whose values are the paper venues): the
  // owner trades the account the gateway role holds, across the bus.
  bool bus_venue = false;
  // The gateway role: where it listens for the EA, the EA's secret, the terminal's symbol names,
  // and the transcript of the link. --wait: how long the gateway's requests wait for the EA and
  // the terminal, and (a few seconds more) the owner's for the gateway role.
  std::string listen = "127.0.0.1:5757";
  std::string token_file;
  std::vector<std::string> mt5_names;
  std::string transcript;
  int wait_seconds = 30;
  // The api role: its server (auth store, --api-listen, TLS, limits); the session's log and the
  // registry are the session flags'.
  ApiServerFlags api;
  // The notifications role: where Alertmanager posts, and the alerts file.
  NotifyFlags notify;
  config::PaperFlags session;
  // Traces (docs/monitoring.md, "Traces"): where spans go, and the share of the traces this
  // process starts that are kept. No file and no endpoint: no tracer, nothing traced.
  TraceFlags trace;
  // Where the loop's retrains run (docs/ml.md, "The loop"): a child aits-train, or a job of the
  // ml role on the bus.
  std::string retrain_runner = "child";
  // Opened from those before the roles start, closed (its spans written) after they end.
  trace::Tracer* tracer = nullptr;
};

struct Roles {
  bool ingestion = false;
  bool features = false;
  bool prediction = false;
  bool decision = false;
  bool owner = false;          // risk and execution
  bool ml = false;             // training and evaluation jobs, in a process of its own
  bool gateway = false;        // the MetaTrader link, in a process of its own
  bool api = false;            // the REST API and its streams, in a process of its own
  bool notifications = false;  // Alertmanager's webhook in, alerts out; a process of its own
  std::string text;            // as given, for messages and the health answers
  // The owner computes signals itself: the whole decision stack in this process.
  bool Embedded() const { return owner && decision && features && prediction; }
  // Features, prediction and decision run as stages on the bus (their own threads), not inside
  // the owner's decision stack.
  bool FeaturesStage() const { return features && !Embedded(); }
  bool PredictionStage() const { return prediction && !Embedded(); }
  bool DecisionStage() const { return decision && !owner; }
  bool AnyStage() const { return FeaturesStage() || PredictionStage() || DecisionStage(); }
  // The owner decides on predictions from the bus.
  bool RemotePredictions() const { return owner && decision && !Embedded(); }
  // The owner asks the decision role at each bar close.
  bool RemoteDecisions() const { return owner && !decision; }
};

Result<Roles> ParseRoles(const std::string& text) {
  Roles roles;
  roles.text = text;
  std::set<std::string> named;
  std::stringstream in(text);
  for (std::string role; std::getline(in, role, ',');) {
    if (role == "all") {
      named.insert("ingestion");
      named.insert("features");
      named.insert("prediction");
      named.insert("decision");
      named.insert(kOwner.begin(), kOwner.end());
      continue;
    }
    if (std::find(kRoles.begin(), kRoles.end(), role) == kRoles.end()) {
      return InvalidArgument("--role: unknown role \"" + role +
                             "\" (roles: ingestion, features, prediction, decision, risk, "
                             "execution, ml, monitoring, notifications, api, gateway, or all)");
    }
    named.insert(role);
  }
  if (named.empty()) return InvalidArgument("--role: name at least one role");
  if (named.contains("monitoring")) {
    return FailedPrecondition(
        "--role monitoring: not built as a role: Prometheus scrapes every role's /metrics and "
        "evaluates deploy/prometheus/rules.yml (docs/monitoring.md)");
  }
  if (named.contains("notifications") && named.size() > 1) {
    // Alerts must get out when the trading roles are in trouble: never in their process.
    return FailedPrecondition("--role " + text +
                              ": the notifications role runs in a process of its own "
                              "(docs/monitoring.md); start it as --role notifications");
  }
  if (named.contains("ml") && named.size() > 1) {
    // Training takes the cores for minutes: never in a process on the trading path.
    return FailedPrecondition("--role " + text +
                              ": the ml role runs in a process of its own (training stays off "
                              "the trading path: docs/services.md); start it as --role ml");
  }
  if (named.contains("api") && named.size() > 1) {
    // The API reads the session's log and queues commands there: it needs no bus, and a
    // supervisor restarts it alone (browsers and bots reconnect and resume).
    return FailedPrecondition("--role " + text +
                              ": the api role runs in a process of its own, over the session's "
                              "log (--events postgresql://...#SESSION or --state DIR: "
                              "docs/api.md); start it as --role api");
  }
  if (named.contains("gateway") && named.size() > 1) {
    // The terminal's link and its account's commands: one process that a supervisor restarts
    // alone, and that the owner reaches over the bus (--venue bus).
    return FailedPrecondition("--role " + text +
                              ": the gateway role runs in a process of its own (the owner "
                              "trades through it with --venue bus: docs/services.md); start it "
                              "as --role gateway");
  }
  size_t owner = 0;
  for (std::string_view role : kOwner) owner += named.contains(std::string(role)) ? 1 : 0;
  if (owner != 0 && owner != kOwner.size()) {
    return FailedPrecondition(
        "--role " + text +
        ": risk and execution run together (the account's owner: each order's risk check sees "
        "every fill before it, in one process: docs/services.md); name both or neither");
  }
  roles.ingestion = named.contains("ingestion");
  roles.features = named.contains("features");
  roles.prediction = named.contains("prediction");
  roles.decision = named.contains("decision");
  roles.owner = owner != 0;
  roles.ml = named.contains("ml");
  roles.gateway = named.contains("gateway");
  roles.api = named.contains("api");
  roles.notifications = named.contains("notifications");
  return roles;
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// What /readyz answers: not ready until the role's work has started, and after it ended.
class Readiness {
 public:
  void Set(Status status) {
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = std::move(status);
  }
  Status Get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_;
  }

 private:
  mutable std::mutex mutex_;
  Status status_ = Unavailable("starting");
};

nlohmann::ordered_json IngestJson(const services::IngestResult& result,
                                  const std::vector<Instrument>& instruments,
                                  const std::string& market, double seconds) {
  nlohmann::ordered_json feeds = nlohmann::ordered_json::array();
  uint64_t ticks = 0;
  for (size_t idx = 0; idx < result.feeds.size(); ++idx) {
    const services::PublishStats& stats = result.feeds[idx];
    ticks += stats.ticks;
    feeds.push_back({{"symbol", instruments[idx].symbol},
                     {"subject", "md." + market + "." + instruments[idx].symbol},
                     {"ticks", stats.ticks},
                     {"messages", stats.messages},
                     {"duplicates", stats.duplicates},
                     {"bytes", stats.bytes},
                     {"resumed_after", stats.resumed_after},
                     {"already_ended", stats.already_ended}});
  }
  return {{"role", "ingestion"},
          {"stopped", result.stopped},
          {"ticks", ticks},
          {"seconds", seconds},
          {"ticks_per_second", seconds > 0 ? static_cast<double>(ticks) / seconds : 0.0},
          {"feeds", feeds}};
}

Result<services::IngestResult> RunIngestion(bus::MessageBus& bus, const ServeFlags& flags,
                                            const std::atomic<bool>* stop,
                                            std::vector<Instrument>* instruments) {
  // The feeds are the session's, as `aits paper` would open them: the same flags give the same
  // ticks (for the synthetic market, give --start to both roles: its default is the wall clock).
  AITS_ASSIGN_OR_RETURN(session::PaperOptions options,
                        config::ResolvePaperOptions(flags.session, /*spec_given=*/true));
  AITS_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<data::TickSource>> sources,
                        session::OpenFeeds(options.spec));
  for (const session::FeedSpec& feed : session::FeedsOf(options.spec)) {
    instruments->push_back(feed.instrument);
  }
  services::IngestOptions ingest;
  ingest.publish.feed = flags.market;
  ingest.publish.ticks_per_message = flags.ticks_per_message;
  ingest.speed = options.speed;
  ingest.stop = stop;
  ingest.publish.tracer = flags.tracer;
  const bool quiet = flags.session.quiet;
  const bool tty = isatty(STDERR_FILENO) != 0 && !flags.session.no_progress;
  ingest.progress = [quiet, tty](uint64_t ticks) {
    if (!quiet && tty) {
      std::fprintf(stderr, "\r  published %llu ticks   ", static_cast<unsigned long long>(ticks));
    }
  };
  return services::IngestFeeds(bus, std::move(sources), *instruments, ingest);
}

// The model in the prediction cache's keys and the offline feature set's name: a registry
// model's NAME@VERSION, or a rule signal with the parameters given (its defaults are fixed in
// the code).
std::string ModelKeyOf(const session::SessionSpec& spec) {
  if (spec.signal == "ml_ensemble") return spec.model;
  return spec.signal_params.empty() ? spec.signal : spec.signal + "(" + spec.signal_params + ")";
}

services::StageOptions StageOptionsFor(const ServeFlags& flags, const session::SessionSpec& spec,
                                       const std::atomic<bool>* stop) {
  services::StageOptions options;
  options.feed = flags.market;
  options.bar_period = Duration::Seconds(spec.bar_seconds);
  options.idle_timeout = Duration::Nanos(static_cast<int64_t>(flags.idle_timeout_s * 1e9));
  options.stop = stop;
  options.push = flags.consumers == "push";
  options.records.bars = flags.bars;
  options.records.offline_features = flags.offline_features;
  options.records.feature_set = ModelKeyOf(spec);
  options.tracer = flags.tracer;
  return options;
}

// --redis into the stages' cache options (none for "off").
Result<std::optional<services::StageCacheOptions>> CacheOptionsFor(const ServeFlags& flags) {
  if (flags.redis == "off") return std::optional<services::StageCacheOptions>();
  AITS_ASSIGN_OR_RETURN(const net::Endpoint at, net::ParseEndpoint(flags.redis));
  services::StageCacheOptions options;
  options.cache.redis.host = at.host;
  options.cache.redis.port = at.port;
  // A role writes; other processes read. Its own L1 serves only its look-ups before a write.
  options.cache.l1_capacity = 4096;
  return std::optional<services::StageCacheOptions>(std::move(options));
}

struct StageRun {
  std::string role;  // "features", "prediction" or "decision"
  std::string symbol;
  bool cached = false;  // writes to Redis (--redis)
  Result<services::StageStats> stats = services::StageStats{};
};

// The features, prediction and decision stages this process runs on the bus: one thread per
// stage and traded symbol, each with its own signal source (or the decision engine) built as the
// session builds it.
class Stages {
 public:
  Status Start(bus::MessageBus& bus, const ServeFlags& flags, const Roles& roles,
               std::atomic<bool>* stop, Registry* metrics) {
    AITS_ASSIGN_OR_RETURN(const session::PaperOptions options,
                          config::ResolvePaperOptions(flags.session, /*spec_given=*/true));
    const session::SessionSpec& spec = options.spec;
    const session::SignalFactory signals = config::SignalsWithModels();
    services::StageOptions stage = StageOptionsFor(flags, spec, stop);
    stage.metrics = metrics;
    AITS_ASSIGN_OR_RETURN(stage.cache, CacheOptionsFor(flags));  // checked by RunServe
    if (stage.cache) stage.cache->model = ModelKeyOf(spec);
    instruments_ = session::InstrumentsOf(spec);
    if (roles.DecisionStage()) {
      AITS_ASSIGN_OR_RETURN(const decision::DecisionConfig engine, session::EngineConfigFor(spec));
      engine_.emplace(engine);
    }
    struct Job {
      std::string_view role;
      const Instrument* instrument;
    };
    std::vector<Job> jobs;
    const std::vector<std::string> only = Split(flags.symbols);
    for (const std::string& symbol : only) {
      const std::vector<InstrumentId> traded = session::TradedOf(spec);
      if (std::none_of(traded.begin(), traded.end(),
                       [&](InstrumentId id) { return instruments_[id.value].symbol == symbol; })) {
        return InvalidArgument("--symbols: " + symbol + " is not a traded symbol of the session");
      }
    }
    for (const InstrumentId id : session::TradedOf(spec)) {
      if (!only.empty() &&
          std::find(only.begin(), only.end(), instruments_[id.value].symbol) == only.end()) {
        continue;
      }
      if (roles.FeaturesStage()) jobs.push_back({"features", &instruments_[id.value]});
      if (roles.PredictionStage()) jobs.push_back({"prediction", &instruments_[id.value]});
      if (roles.DecisionStage()) jobs.push_back({"decision", &instruments_[id.value]});
    }
    for (const Job& job : jobs) {
      std::unique_ptr<trading::SignalSource> source;
      if (job.role != "decision") {
        AITS_ASSIGN_OR_RETURN(source, signals(spec, *job.instrument, stage.bar_period));
      }
      sources_.push_back(std::move(source));
      runs_.push_back({std::string(job.role), job.instrument->symbol, stage.cache.has_value()});
    }
    for (size_t idx = 0; idx < jobs.size(); ++idx) {
      threads_.emplace_back([this, idx, job = jobs[idx], &bus, stage, stop] {
        StageRun& run = runs_[idx];
        if (job.role == "features") {
          run.stats = services::RunFeatures(bus, *job.instrument, *sources_[idx], stage);
        } else if (job.role == "prediction") {
          run.stats = services::RunPrediction(bus, *job.instrument, *sources_[idx], stage);
        } else {
          run.stats = services::RunDecision(bus, *job.instrument, *engine_, stage);
        }
        if (!run.stats.ok()) stop->store(true);  // the session cannot go on without it
      });
    }
    return Status::Ok();
  }
  void Join() {
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }
  ~Stages() { Join(); }
  const std::vector<StageRun>& runs() const { return runs_; }
  Status FirstError() const {
    for (const StageRun& run : runs_) {
      if (!run.stats.ok()) return run.stats.status().WithContext(run.role + " " + run.symbol);
    }
    return Status::Ok();
  }

 private:
  std::vector<Instrument> instruments_;                          // the sources keep references
  std::vector<std::unique_ptr<trading::SignalSource>> sources_;  // null for a decision stage
  std::optional<decision::DecisionEngine> engine_;
  std::vector<StageRun> runs_;
  std::vector<std::thread> threads_;
};

// An owner's feed from other roles: answers, the lockstep's wait, what was dead-lettered.
nlohmann::ordered_json FeedJson(const services::FeedHealth& feed) {
  const LatencyHistogram& wait = feed.wait();
  return {{"bars", feed.answers()},
          {"wait_p50_us", static_cast<double>(wait.Quantile(0.5)) / 1000.0},
          {"wait_p99_us", static_cast<double>(wait.Quantile(0.99)) / 1000.0},
          {"wait_max_us", static_cast<double>(wait.max()) / 1000.0},
          {"dead_lettered", feed.dead_lettered()}};
}

nlohmann::ordered_json StagesJson(const std::vector<StageRun>& runs) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const StageRun& run : runs) {
    const services::StageStats& stats = *run.stats;
    nlohmann::ordered_json one = {{"role", run.role},
                                  {"symbol", run.symbol},
                                  {"ended", stats.ended},
                                  {"stopped", stats.stopped},
                                  {"inputs", stats.inputs},
                                  {"outputs", stats.outputs},
                                  {"stored", stats.stored},
                                  {"duplicates", stats.duplicates},
                                  {"dead_lettered", stats.dead_lettered}};
    if (run.role == "prediction") one["verdict_changes"] = stats.verdict_changes;
    if (run.cached) {
      const services::CacheCounters& cache = stats.cache;
      one["cache"] = {{"puts", cache.puts},
                      {"hits", cache.hits},
                      {"misses", cache.misses},
                      {"errors", cache.errors},
                      {"skipped", cache.skipped},
                      {"breaker_opened", cache.breaker_opened},
                      {"last_error", cache.last_error}};
    }
    if (stats.records) {
      const services::RecordCounters& records = *stats.records;
      one["records"] = {
          {"bars", records.bars},
          {"bars_new", records.bars_new},
          {"rows", records.rows},
          {"rows_new", records.rows_new},
          {"writes", records.writes},
          {"write_p50_us", static_cast<double>(records.write.Quantile(0.5)) / 1000.0},
          {"write_p99_us", static_cast<double>(records.write.Quantile(0.99)) / 1000.0},
          {"write_total_ms", static_cast<double>(records.write_total_ns) / 1e6}};
    }
    if (stats.delay.count() > 0) {
      one["delay_p50_us"] = static_cast<double>(stats.delay.Quantile(0.5)) / 1000.0;
      one["delay_p99_us"] = static_cast<double>(stats.delay.Quantile(0.99)) / 1000.0;
    }
    out.push_back(std::move(one));
  }
  return out;
}

// --venue bus: the account is the one the gateway role holds (docs/services.md, "The venue over
// the bus"). The session trades it as aits live trades its terminal's ("mt5": at each resume the
// orders in flight are asked about, then the account is reconciled), its commands scoped by the
// session's id; a new session starts from the balance the venue answers.
Result<std::unique_ptr<services::BusVenue>> OpenBusVenue(bus::MessageBus& bus,
                                                         const ServeFlags& flags,
                                                         session::PaperOptions* options,
                                                         Registry* metrics) {
  // The session the owner's log holds, if any: its id scopes the venue's commands.
  AITS_ASSIGN_OR_RETURN(
      const std::optional<session::SessionSpec> logged,
      LoggedSessionSpec(options->events.empty() ? options->state_dir + "/events.db"
                                                : options->events));
  if (logged && logged->venue != "mt5") {
    return InvalidArgument(options->state_dir + " holds a session on the " + logged->venue +
                           " venue, not the gateway role's account: resume it without --venue "
                           "bus, or start this one in a new directory");
  }
  services::BusVenueOptions venue_options;
  venue_options.market = flags.market;
  venue_options.scope = logged ? logged->session_id : options->spec.session_id;
  venue_options.push = flags.consumers == "push";
  venue_options.metrics = metrics;
  venue_options.tracer = flags.tracer;
  // The gateway's own requests to the terminal wait --wait; its answer needs a moment more.
  venue_options.answer_timeout = Duration::Seconds(flags.wait_seconds + 5);
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<services::BusVenue> venue,
                        services::BusVenue::Create(bus, venue_options));
  options->spec.venue = "mt5";
  // Asked at every start: a gateway role that does not answer is an error here, naming the
  // market, rather than the reconciliation's later.
  Result<execution::AccountState> account = venue->Snapshot();
  if (!account.ok()) {
    return account.status().WithContext(
        "--venue bus: the account of the gateway role of --market " + flags.market);
  }
  if (const std::optional<VenueTerms>& terms = venue->terms()) {
    // The session is opened with the terminal's terms, as aits live opens it.
    const std::string mode = terms->hedging ? "hedging" : "netting";
    const std::string& wanted = logged ? logged->account_mode : flags.session.account_mode;
    if (!wanted.empty() && wanted != mode) {
      return InvalidArgument((logged ? options->state_dir + " holds a " + wanted + " session"
                                     : "--account-mode " + wanted) +
                             ": the account of the gateway role of --market " + flags.market +
                             " is " + mode);
    }
    // A resumed session is compared with these: another currency is another account.
    options->spec.account_mode = mode;
    options->spec.leverage = terms->leverage;
    options->spec.account_currency = terms->currency;
  }
  if (!logged && account->balance) options->spec.balance = account->balance->AsDouble();
  services::BusVenue* raw = venue.get();
  // The session owns its broker's client; this command owns the venue, which is also the
  // loop's producer of its reports.
  options->broker = [raw] { return std::make_unique<execution::ForwardingClient>(*raw); };
  options->broker_producer = raw;
  return venue;
}

Result<session::PaperResult> RunOwner(bus::MessageBus& bus, const ServeFlags& flags,
                                      const CLI::App& cmd, const std::atomic<bool>* stop,
                                      Readiness* readiness, services::MarketDelay* delay,
                                      services::PredictionFeed* predictions,
                                      services::DecisionFeed* decisions,
                                      services::RelayStats* relayed, Registry* metrics) {
  const bool spec_given = SessionSpecGiven(cmd) || !HasLog(flags.session);
  AITS_ASSIGN_OR_RETURN(session::PaperOptions options,
                        config::ResolvePaperOptions(flags.session, spec_given));
  options.stop = stop;
  options.metrics = metrics;
  options.tracer = flags.tracer;
  // The MARKET messages' traceparents, for the decisions made here (paper.h, tick_traces).
  const std::unique_ptr<trace::TickTraces> tick_traces =
      flags.tracer != nullptr ? std::make_unique<trace::TickTraces>() : nullptr;
  options.tick_traces = tick_traces.get();
  // Each traced order's span, for the relay that publishes its events to ORDERS.
  const std::unique_ptr<trace::SpanIndex> order_traces =
      flags.tracer != nullptr ? std::make_unique<trace::SpanIndex>() : nullptr;
  options.order_traces = order_traces.get();
  options.signals = config::SignalsWithModels();
  if (predictions != nullptr) {
    // The decision stack's signal comes from the prediction role, bar by bar (ADR 0007).
    options.signals = [predictions](const session::SessionSpec& spec, const Instrument& instrument,
                                    Duration /*bar_period*/) {
      return predictions->Source(instrument, spec.signal);
    };
    options.check_tick = [predictions] { return predictions->status(); };
  }
  if (decisions != nullptr) {
    // The decision role decides each bar on the account this session sends it (ADR 0007).
    options.deciders = [decisions](const Instrument& instrument) {
      return decisions->Decider(instrument);
    };
    options.check_tick = [decisions] { return decisions->status(); };
  }
  // The pace is the ingestion role's: ticks are taken as they arrive.
  options.speed = 0;
  // The model's loop (docs/ml.md, "The loop") where the model is served here; in a prediction
  // role of its own it is not yet, and said so rather than ignored.
  const bool loop_asked = !flags.session.retrain_config.empty() || !flags.session.shadow.empty();
  if (loop_asked && (predictions != nullptr || decisions != nullptr)) {
    return InvalidArgument(
        "--retrain-config and --shadow need the model in the owner's process (--role all, or "
        "prediction and decision beside risk,execution); with the prediction or decision role "
        "apart they are not supported yet");
  }
  options.promote = config::PromoteOnShadow;
  if (flags.retrain_runner == "ml") {
    if (flags.session.retrain_config.empty()) {
      return InvalidArgument("--retrain-runner ml: give --retrain-config too");
    }
    AITS_RETURN_IF_ERROR(
        SetModelLoop(flags.session, &options, [&bus, &flags](config::RetrainSettings settings) {
          settings.tracer = flags.tracer;
          return config::RetrainThroughMlRole(std::move(settings), bus, flags.market);
        }));
  } else {
    AITS_RETURN_IF_ERROR(SetModelLoop(flags.session, &options));
  }
  // Ticks come at the market's pace from the bus: the feed never waits for a retrain here.
  if (flags.session.retrain_wait == "auto") options.wait_for_models = false;
  std::unique_ptr<services::BusVenue> venue;
  if (flags.bus_venue) {
    AITS_ASSIGN_OR_RETURN(venue, OpenBusVenue(bus, flags, &options, metrics));
  }
  if (!flags.session.trades.empty()) {
    // Checked by RunServe at start; opened again here for this run.
    AITS_ASSIGN_OR_RETURN(const TradeWriter trades, OpenTradeWriter(flags.session.trades));
    options.on_trades = trades.on_trades;
  }
  const bool quiet = flags.session.quiet;
  options.notice = [quiet, readiness](const std::string& text) {
    if (!quiet) std::fprintf(stderr, "aits serve: %s\n", text.c_str());
    // A standby is alive but not ready; the next notice is its takeover (the resume).
    readiness->Set(text.starts_with("standby: ") ? Unavailable(text) : Status::Ok());
  };
  services::BusSourceOptions source_options;
  source_options.feed = flags.market;
  source_options.delay = delay;
  source_options.stop = stop;
  source_options.push = flags.consumers == "push";
  source_options.metrics = metrics;
  source_options.reader = "owner";
  source_options.traces = tick_traces.get();
  source_options.idle_timeout = Duration::Nanos(static_cast<int64_t>(flags.idle_timeout_s * 1e9));
  options.open_feeds = [&bus, source_options](const session::SessionSpec& spec)
      -> Result<std::vector<std::unique_ptr<data::TickSource>>> {
    std::vector<std::unique_ptr<data::TickSource>> sources;
    for (const session::FeedSpec& feed : session::FeedsOf(spec)) {
      AITS_ASSIGN_OR_RETURN(std::unique_ptr<services::BusTickSource> source,
                            services::BusTickSource::Open(bus, feed.instrument, source_options));
      sources.push_back(std::move(source));
    }
    return sources;
  };
  // With --redis, the session's state as its owner last saw it (cache::SessionKey): about twice
  // a second while it runs, and once at its end. Beside the session, never in its way: a write
  // that fails is counted by the cache and the session goes on.
  AITS_ASSIGN_OR_RETURN(const std::optional<services::StageCacheOptions> cache,
                        CacheOptionsFor(flags));
  std::optional<services::StageCache> state;
  const std::string state_key = cache::SessionKey(flags.market);
  const auto write_state = [&](nlohmann::ordered_json value) {
    value["market"] = flags.market;
    value["updated"] = FormatIso8601(WallClock().Now());
    state->Add(state_key, value.dump());
    state->Flush();
  };
  if (cache) {
    state.emplace(*cache, cache::kSessionTtl, /*look_first=*/false);
    options.progress = [&write_state](const session::PaperProgress& progress) {
      write_state({{"status", "running"},
                   {"ticks", progress.ticks},
                   {"orders", progress.orders},
                   {"fills", progress.fills},
                   {"position", progress.position.ToString()},
                   {"equity", progress.equity.ToString()},
                   {"breaker", progress.breaker}});
    };
  }
  // Over a real bus, what the session commits goes to ORDERS and AUDIT as well (log_relay.h),
  // from a thread of its own reading the committed log: never in the session's way.
  std::unique_ptr<services::LogRelay> relay;
  if (flags.bus != "in-process") {
    AITS_ASSIGN_OR_RETURN(
        relay, services::LogRelay::Create(
                   bus, options.events.empty() ? options.state_dir + "/events.db" : options.events,
                   flags.market, flags.tracer, order_traces.get()));
  }
  std::atomic<bool> session_over{false};
  std::thread relaying([&] {
    if (relay == nullptr) return;
    Status failing = Status::Ok();
    while (!session_over.load()) {
      // A failure (the bus away for longer than its retries) is said once and tried again: the
      // next call publishes what this one could not.
      const Status relayed_now = relay->Relay();
      if (!relayed_now.ok() && failing.ok() && !flags.session.quiet) {
        std::fprintf(stderr, "aits serve: relaying the log to the bus: %s\n",
                     relayed_now.ToString().c_str());
      }
      failing = relayed_now;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  Result<session::PaperResult> run = session::RunPaper(options);
  session_over = true;
  relaying.join();
  if (relay != nullptr) {
    // Everything the session committed, before the role says it is done.
    AITS_RETURN_IF_ERROR(relay->Relay().WithContext("relaying the log to ORDERS and AUDIT"));
    *relayed = relay->stats();
  }
  if (state) {
    nlohmann::ordered_json last = {{"status", "failed"}, {"error", run.status().ToString()}};
    if (run.ok()) {
      last = {{"status", run->feed_ended ? "ended" : "stopped"}};
      last.update(SessionSummaryJson(flags.session.state, *run));
    }
    write_state(std::move(last));
  }
  AITS_ASSIGN_OR_RETURN(session::PaperResult result, std::move(run));
  // The session is over (not merely stopped, which a resume continues): so is the decision
  // role's work.
  if (decisions != nullptr && result.feed_ended) AITS_RETURN_IF_ERROR(decisions->End());
  return result;
}

// The NATS bus of --bus; errors name the flag.
Result<std::unique_ptr<bus::MessageBus>> ConnectServeBus(const ServeFlags& flags) {
  bus::NatsOptions nats;
  nats.servers = bus::NatsServers(flags.bus);
  Result<std::unique_ptr<bus::MessageBus>> connected = bus::ConnectNats(nats);
  if (!connected.ok()) return connected.status().WithContext("--bus");
  return connected;
}

// One line per event of a job, as the ml role sees it.
std::string MlEventLine(const nlohmann::json& event) {
  const std::string job = event.value("job", std::string("?"));
  const std::string kind = event.value("event", std::string("?"));
  if (kind == "accepted") {
    std::string args;
    for (const auto& arg : event.value("args", nlohmann::json::array())) {
      args += " " + arg.get<std::string>();
    }
    return "job " + job + " accepted (attempt " + std::to_string(event.value("attempt", 0)) +
           "): " + event.value("command", std::string()) + args;
  }
  if (kind == "progress") return "job " + job + ": " + event.value("stage", std::string());
  if (kind == "done") {
    std::string what;
    if (event.contains("model") && event["model"].is_object()) {
      const nlohmann::json& model = event["model"];
      what = " " + model.value("name", std::string()) + "@" +
             std::to_string(model.value("version", 0)) + " (" +
             model.value("status", std::string()) + ")";
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", event.value("wall_seconds", 0.0));
    return "job " + job + " done:" + what + " in " + seconds + " s";
  }
  if (kind == "failed") return "job " + job + " failed: " + event.value("error", std::string());
  return "job " + job + " " + kind;
}

// --role ml: training and evaluation jobs from the ML stream, each run as a child aits-train,
// until stopped (docs/services.md, "Training jobs: the ml role").
int RunMlRole(const ServeFlags& flags, Readiness& readiness, Registry* metrics) {
  Result<std::string> trainer = FindTrainer("--role ml");
  if (!trainer.ok()) return Fail(trainer.status());
  if (!(flags.ack_wait_s >= 1)) {
    return Fail(InvalidArgument("--ack-wait " + std::to_string(flags.ack_wait_s) +
                                ": must be at least 1 second"));
  }
  // Opened (and migrated) once here, so that a registry that cannot be opened is an error at
  // start naming it rather than every job's failure.
  if (Result<ml::ModelRegistry> registry = ml::ModelRegistry::Open(flags.session.registry);
      !registry.ok()) {
    return Fail(registry.status().WithContext("--registry"));
  }
  Result<std::unique_ptr<bus::MessageBus>> connected = ConnectServeBus(flags);
  if (!connected.ok()) return Fail(connected.status());
  std::unique_ptr<bus::MessageBus> bus = std::move(connected).value();
  const WallClock wall;
  CircuitBreaker jetstream("nats " + flags.bus, {}, wall);
  if (Status ensured =
          bus::Retried(jetstream, [&] { return services::EnsureMlStreams(*bus, flags.replicas); });
      !ensured.ok()) {
    return Fail(ensured.WithContext("--replicas " + std::to_string(flags.replicas)));
  }
  services::MlJobOptions options;
  options.market = flags.market;
  options.trainer = *trainer;
  options.registry = flags.session.registry;
  options.ack_wait = Duration::Nanos(static_cast<int64_t>(flags.ack_wait_s * 1e9));
  options.stop = StopSignals::flag();
  options.metrics = metrics;
  options.tracer = flags.tracer;
  const bool quiet = flags.session.quiet;
  options.on_event = [quiet](const nlohmann::json& event) {
    if (!quiet) std::fprintf(stderr, "aits serve: ml: %s\n", MlEventLine(event).c_str());
  };
  if (!quiet) {
    std::fprintf(stderr, "aits serve: ml: waiting for jobs on ml.%s.jobs (registry %s)\n",
                 flags.market.c_str(), WithoutPassword(flags.session.registry).c_str());
  }
  readiness.Set(Status::Ok());
  const Result<services::MlJobStats> ran = services::RunMlJobs(*bus, options);
  readiness.Set(Unavailable("finished"));
  if (!ran.ok()) return Fail(ran.status());
  const nlohmann::ordered_json summary = {{"role", "ml"},
                                          {"market", flags.market},
                                          {"done", ran->done},
                                          {"failed", ran->failed},
                                          {"already_done", ran->already_done},
                                          {"interrupted", ran->interrupted},
                                          {"dead_lettered", ran->dead_lettered}};
  if (flags.session.json) {
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    std::printf(
        "ml: %llu jobs done, %llu failed, %llu found done already, %llu interrupted (given "
        "back), %llu dead-lettered\n",
        static_cast<unsigned long long>(ran->done), static_cast<unsigned long long>(ran->failed),
        static_cast<unsigned long long>(ran->already_done),
        static_cast<unsigned long long>(ran->interrupted),
        static_cast<unsigned long long>(ran->dead_lettered));
  }
  return 0;
}

// --role gateway: the session's instruments (the same session flags as the owner's, so that
// both number them alike), the EA's address and secret (docs/services.md, "The gateway role").
int RunGateway(bus::MessageBus& bus, const ServeFlags& flags, Readiness& readiness,
               Registry* metrics) {
  Result<session::PaperOptions> resolved =
      config::ResolvePaperOptions(flags.session, /*spec_given=*/true);
  if (!resolved.ok()) return Fail(resolved.status());
  Result<std::string> token = ReadToken(flags.token_file);
  if (!token.ok()) return Fail(token.status());
  Result<net::Endpoint> at = net::ParseEndpoint(flags.listen);
  if (!at.ok()) return Fail(at.status().WithContext("--listen"));
  Result<std::vector<std::pair<std::string, std::string>>> names = ParseNames(flags.mt5_names);
  if (!names.ok()) return Fail(names.status());
  GatewayRoleOptions options;
  gateway::GatewayConfig& config = options.gateway;
  config.instruments.clear();
  for (const session::FeedSpec& feed : session::FeedsOf(resolved->spec)) {
    config.instruments.push_back(feed.instrument);
  }
  config.host = at->host;
  config.port = at->port;
  config.token = *token;
  config.mt5_names = *names;
  config.transcript = flags.transcript;
  config.answer_timeout = std::chrono::seconds(flags.wait_seconds);
  options.market = flags.market;
  options.push = flags.consumers == "push";
  options.quiet = flags.session.quiet;
  options.json = flags.session.json;
  options.ready = [&readiness](Status status) { readiness.Set(std::move(status)); };
  options.metrics = metrics;
  options.tracer = flags.tracer;
  return RunGatewayRole(bus, options);
}

int RunServe(const ServeFlags& flags, const CLI::App& cmd) {
  Result<Roles> roles = ParseRoles(flags.roles);
  if (!roles.ok()) return Fail(roles.status());
  if (!(flags.idle_timeout_s >= 0)) {
    return Fail(InvalidArgument("--idle-timeout must be >= 0 seconds"));
  }
  if (!flags.symbols.empty() && (roles->owner || roles->ingestion || roles->ml)) {
    return Fail(InvalidArgument(
        "--symbols shares the features, prediction and decision roles' work by symbol; the "
        "owner and ingestion take every symbol of the session, the ml role runs jobs"));
  }
  if (flags.bus_venue && !roles->owner) {
    return Fail(InvalidArgument(
        "--venue bus: the account's owner (risk,execution) trades through the gateway role; "
        "--role " +
        roles->text + " is not it"));
  }
  if (flags.bus_venue && roles->ingestion) {
    return Fail(InvalidArgument(
        "--venue bus: the gateway role publishes the terminal's ticks; drop the ingestion role"));
  }
  if (flags.bus_venue && flags.bus == "in-process") {
    return Fail(InvalidArgument(
        "--venue bus: the gateway role is another process; give --bus nats://HOST:PORT"));
  }
  for (const char* terms : {"--balance", "--leverage"}) {
    if (cmd.count(terms) > 0 && flags.bus_venue) {
      return Fail(InvalidArgument(std::string(terms) +
                                  ": with --venue bus the account's terms are the account's, as "
                                  "the gateway role's terminal tells them"));
    }
  }
  if (flags.wait_seconds <= 0) {
    return Fail(InvalidArgument("--wait must be a positive number of seconds"));
  }
  if (flags.redis != "off" && !roles->FeaturesStage() && !roles->PredictionStage() &&
      !roles->DecisionStage() && !roles->owner) {
    return Fail(InvalidArgument(
        "--redis: the features, prediction and decision roles and the owner write to Redis; "
        "--role " +
        roles->text + " has none of them"));
  }
  if (Result<std::optional<services::StageCacheOptions>> cache = CacheOptionsFor(flags);
      !cache.ok()) {
    return Fail(cache.status().WithContext("--redis"));
  }
  // The stores are opened (and migrated) once here, so that a location that cannot be opened is
  // an error at start naming it, before any role works.
  if ((!flags.bars.empty() || !flags.offline_features.empty()) && !roles->FeaturesStage()) {
    return Fail(InvalidArgument(
        "--bars and --offline-features: the features role, run apart from the owner, writes "
        "them; --role " +
        roles->text + " has no such role"));
  }
  if (!flags.bars.empty()) {
    if (Status checked = services::CheckStageRecords({.bars = flags.bars}); !checked.ok()) {
      return Fail(checked.WithContext("--bars"));
    }
  }
  if (!flags.offline_features.empty()) {
    if (Status checked = services::CheckStageRecords({.offline_features = flags.offline_features});
        !checked.ok()) {
      return Fail(checked.WithContext("--offline-features"));
    }
  }
  if (!flags.session.trades.empty()) {
    if (!roles->owner) {
      return Fail(
          InvalidArgument("--trades: the account's owner (risk,execution) writes the "
                          "trades; --role " +
                          roles->text + " is not it"));
    }
    if (Result<TradeWriter> trades = OpenTradeWriter(flags.session.trades); !trades.ok()) {
      return Fail(trades.status().WithContext("--trades"));
    }
  }
  const bool in_process = flags.bus == "in-process";
  if (flags.retrain_runner == "ml" && in_process) {
    return Fail(InvalidArgument(
        "--retrain-runner ml: the retrains are jobs of an ml role (aits serve --role ml) on the "
        "bus: give --bus nats://HOST:PORT"));
  }
  if (in_process && roles->gateway) {
    return Fail(InvalidArgument(
        "--role gateway serves an owner in another process: give --bus nats://HOST:PORT (aits "
        "live runs the gateway and the node in one process)"));
  }
  if (in_process && !roles->api && !roles->notifications &&
      !(roles->ingestion && roles->Embedded())) {
    return Fail(InvalidArgument(
        "--role " + roles->text +
        " over --bus in-process reaches no other process: give --bus nats://HOST:PORT (the "
        "in-process bus serves --role all)"));
  }
  Readiness readiness;
  // What /metrics answers: the stages' counters (docs/services.md, "Health and metrics").
  Registry metrics;
  // The tracer's counters too, while the registry lives (the tracer outlives this function).
  struct TraceMetrics {
    trace::Tracer* tracer;
    ~TraceMetrics() {
      if (tracer != nullptr) (void)tracer->ExportMetrics(nullptr);
    }
  } trace_metrics{flags.tracer};
  if (flags.tracer != nullptr) {
    if (Status exported = flags.tracer->ExportMetrics(&metrics); !exported.ok()) {
      return Fail(exported);
    }
  }
  auto health =
      StartHealthServer(flags.health, roles->text, &metrics, flags.session.quiet,
                        "aits serve: " + roles->text, [&readiness] { return readiness.Get(); });
  if (!health.ok()) return Fail(health.status());
  const StopSignals signals;
  if (roles->ml) return RunMlRole(flags, readiness, &metrics);
  if (roles->notifications) {
    NotifyFlags notify = flags.notify;
    notify.quiet = flags.session.quiet;
    notify.json = flags.session.json;
    notify.session = flags.session.events.empty() ? flags.session.state : flags.session.events;
    notify.trades = flags.session.trades;
    // The registry only when named: the session's default ("models") may not exist here.
    if (cmd.get_option("--registry")->count() > 0) notify.registry = flags.session.registry;
    return RunNotificationsRole(notify, &metrics,
                                [&readiness](Status status) { readiness.Set(std::move(status)); });
  }
  if (roles->api) {
    ApiServerFlags api = flags.api;
    api.state = flags.session.events.empty() ? flags.session.state : flags.session.events;
    // The registry only when named: the session's default ("models") may not exist here.
    if (cmd.get_option("--registry")->count() > 0) api.registry = flags.session.registry;
    return RunApiServer(api, flags.session.quiet, flags.session.json,
                        [&readiness](Status status) { readiness.Set(std::move(status)); });
  }

  if (in_process) {
    // Every role in this process over the in-process bus: that is `aits paper`.
    readiness.Set(Status::Ok());
    const int code = RunPaperCommand(flags.session, SessionSpecGiven(cmd) || !HasLog(flags.session),
                                     &metrics, flags.tracer);
    readiness.Set(Unavailable("finished"));
    return code;
  }

  Result<std::unique_ptr<bus::MessageBus>> connected = ConnectServeBus(flags);
  if (!connected.ok()) return Fail(connected.status());
  std::unique_ptr<bus::MessageBus> bus = std::move(connected).value();
  // In a cluster that is electing a leader, JetStream's API answers late for a few seconds:
  // retried in place (bus::PublishRetry's back-off) rather than failing the role's start.
  const WallClock wall;
  CircuitBreaker jetstream("nats " + flags.bus, {}, wall);
  const auto retried = [&](const std::function<Status()>& call) {
    return bus::Retried(jetstream, call);
  };
  if (Status ensured = retried([&] { return services::EnsureMarketStream(*bus, flags.replicas); });
      !ensured.ok()) {
    return Fail(ensured.WithContext("--replicas " + std::to_string(flags.replicas)));
  }
  const bool stages = roles->AnyStage();
  if (stages || roles->RemotePredictions() || roles->RemoteDecisions()) {
    if (Status ensured =
            retried([&] { return services::EnsureStageStreams(*bus, flags.replicas); });
        !ensured.ok()) {
      return Fail(ensured.WithContext("--replicas " + std::to_string(flags.replicas)));
    }
  }
  if (roles->gateway || flags.bus_venue) {
    if (Status ensured = retried([&] { return services::EnsureExecStream(*bus, flags.replicas); });
        !ensured.ok()) {
      return Fail(ensured.WithContext("--replicas " + std::to_string(flags.replicas)));
    }
  }
  if (roles->gateway) return RunGateway(*bus, flags, readiness, &metrics);
  if (roles->owner && !in_process) {
    if (Status ensured = retried([&] { return services::EnsureLogStreams(*bus, flags.replicas); });
        !ensured.ok()) {
      return Fail(ensured.WithContext("--replicas " + std::to_string(flags.replicas)));
    }
  }
  readiness.Set(Status::Ok());

  // One stop for both sides: a signal, or either side failing (so that the other does not wait
  // out a feed or an idle timeout for nothing).
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::thread signal_watch([&stop, &done] {
    while (!done.load()) {
      if (StopSignals::stopped()) stop.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto started = std::chrono::steady_clock::now();
  Result<services::IngestResult> ingested = services::IngestResult{};
  std::vector<Instrument> instruments;
  std::thread ingestion_thread;
  if (roles->ingestion) {
    // With the owner in this process too, ingestion publishes from its own thread and the owner
    // reads the stream back, as two processes would.
    auto publish = [&flags, &ingested, &instruments, &stop](bus::MessageBus& on) {
      ingested = RunIngestion(on, flags, &stop, &instruments);
      if (!ingested.ok()) stop.store(true);
    };
    if (roles->owner) {
      // `publish` by value: it goes out of scope with this block, long before the thread ends.
      ingestion_thread = std::thread([publish, &bus] { publish(*bus); });
    } else {
      publish(*bus);
    }
  }
  Stages stage_threads;
  Status stages_started = Status::Ok();
  if (stages) {
    stages_started = stage_threads.Start(*bus, flags, *roles, &stop, &metrics);
    if (!stages_started.ok()) stop.store(true);
  }
  Result<session::PaperResult> owned = session::PaperResult{};
  services::MarketDelay delay;
  services::RelayStats relayed;
  std::unique_ptr<services::PredictionFeed> predictions;
  std::unique_ptr<services::DecisionFeed> decisions;
  if (roles->owner && stages_started.ok()) {
    // The feeds' readers report their lag on /metrics; nothing else of them uses it.
    services::StageOptions feed = StageOptionsFor(flags, session::SessionSpec{}, &stop);
    feed.metrics = &metrics;
    if (roles->RemotePredictions()) {
      predictions = std::make_unique<services::PredictionFeed>(*bus, feed);
    }
    if (roles->RemoteDecisions()) {
      decisions = std::make_unique<services::DecisionFeed>(*bus, feed);
    }
    owned = RunOwner(*bus, flags, cmd, &stop, &readiness, &delay, predictions.get(),
                     decisions.get(), &relayed, &metrics);
    if (!owned.ok()) stop.store(true);
  }
  stage_threads.Join();
  if (ingestion_thread.joinable()) ingestion_thread.join();
  done.store(true);
  signal_watch.join();
  readiness.Set(Unavailable("finished"));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (roles->ingestion && !flags.session.quiet && isatty(STDERR_FILENO) != 0) {
    std::fprintf(stderr, "\n");
  }
  if (!stages_started.ok()) return Fail(stages_started);
  if (roles->ingestion && !ingested.ok()) return Fail(ingested.status());
  if (roles->owner && !owned.ok()) return Fail(owned.status());
  if (Status failed = stage_threads.FirstError(); !failed.ok()) return Fail(failed);
  if (!roles->owner && !roles->ingestion) {
    const nlohmann::ordered_json summary = {{"stages", StagesJson(stage_threads.runs())},
                                            {"seconds", seconds}};
    if (flags.session.json) {
      std::printf("%s\n", summary.dump(2).c_str());
      return 0;
    }
    for (const auto& run : summary["stages"]) {
      const std::string role = run["role"].get<std::string>();
      const char* in = role == "features"     ? "ticks"
                       : role == "prediction" ? "feature rows"
                                              : "questions";
      const char* out = role == "features"     ? "feature rows"
                        : role == "prediction" ? "predictions"
                                               : "decisions";
      std::printf(
          "%s %s: %llu %s in, %llu %s out (%llu newly stored), %llu repeats dropped, "
          "%llu dead-lettered%s\n",
          run["role"].get<std::string>().c_str(), run["symbol"].get<std::string>().c_str(),
          static_cast<unsigned long long>(run["inputs"].get<uint64_t>()), in,
          static_cast<unsigned long long>(run["outputs"].get<uint64_t>()), out,
          static_cast<unsigned long long>(run["stored"].get<uint64_t>()),
          static_cast<unsigned long long>(run["duplicates"].get<uint64_t>()),
          static_cast<unsigned long long>(run["dead_lettered"].get<uint64_t>()),
          run["ended"].get<bool>() ? "; its input ended" : "");
      if (run.contains("cache")) {
        const auto& cache = run["cache"];
        std::printf(
            "  redis: %llu written, %llu already held, %llu failed, %llu skipped while its "
            "breaker was open (opened %llu times)\n",
            static_cast<unsigned long long>(cache["puts"].get<uint64_t>()),
            static_cast<unsigned long long>(cache["hits"].get<uint64_t>()),
            static_cast<unsigned long long>(cache["errors"].get<uint64_t>()),
            static_cast<unsigned long long>(cache["skipped"].get<uint64_t>()),
            static_cast<unsigned long long>(cache["breaker_opened"].get<uint64_t>()));
      }
    }
    return 0;
  }
  if (roles->ingestion && !roles->owner) {
    const nlohmann::ordered_json summary =
        IngestJson(*ingested, instruments, flags.market, seconds);
    if (flags.session.json) {
      std::printf("%s\n", summary.dump(2).c_str());
    } else {
      std::printf("ingestion: %s %llu ticks in %.2f s (%.0f ticks/s) to the MARKET stream\n",
                  ingested->stopped ? "stopped after" : "published",
                  static_cast<unsigned long long>(summary["ticks"].get<uint64_t>()), seconds,
                  summary["ticks_per_second"].get<double>());
      for (const auto& feed : summary["feeds"]) {
        std::string note;
        if (feed["already_ended"].get<bool>()) {
          note = "; the stream held the whole feed";
        } else if (feed["resumed_after"].get<uint64_t>() > 0) {
          note = "; resumed after tick " + std::to_string(feed["resumed_after"].get<uint64_t>());
        }
        std::printf("  %s: %llu ticks, %llu messages (%llu already stored), %.1f KiB%s\n",
                    feed["subject"].get<std::string>().c_str(),
                    static_cast<unsigned long long>(feed["ticks"].get<uint64_t>()),
                    static_cast<unsigned long long>(feed["messages"].get<uint64_t>()),
                    static_cast<unsigned long long>(feed["duplicates"].get<uint64_t>()),
                    static_cast<double>(feed["bytes"].get<uint64_t>()) / 1024.0, note.c_str());
      }
    }
    return 0;
  }
  // How late the market reached the owner: the bus's part of tick-to-order.
  const nlohmann::ordered_json market = {
      {"messages", delay.messages},
      {"delay_p50_us", static_cast<double>(delay.delay.Quantile(0.5)) / 1000.0},
      {"delay_p99_us", static_cast<double>(delay.delay.Quantile(0.99)) / 1000.0},
      {"delay_max_us", static_cast<double>(delay.delay.max()) / 1000.0},
      {"max_lag_messages", delay.max_pending}};
  if (flags.session.json) {
    nlohmann::ordered_json summary = SessionSummaryJson(flags.session.state, *owned);
    summary["market"] = market;
    if (predictions) summary["predictions"] = FeedJson(*predictions);
    if (decisions) summary["decision_role"] = FeedJson(*decisions);
    if (stages) summary["stages"] = StagesJson(stage_threads.runs());
    if (!in_process) {
      summary["relay"] = {{"orders", relayed.orders},
                          {"audit", relayed.audit},
                          {"stored", relayed.stored},
                          {"last_seq", relayed.last_seq}};
    }
    std::printf("%s\n", summary.dump(2).c_str());
    return 0;
  }
  PrintSessionSummary("serve --role " + roles->text, flags.session.state, *owned, false,
                      flags.session.events);
  std::printf(
      "  market data from the bus: %llu messages, stored to read %s, lag at most %llu "
      "messages\n",
      static_cast<unsigned long long>(delay.messages), delay.delay.Summary().c_str(),
      static_cast<unsigned long long>(delay.max_pending));
  if (predictions) {
    std::printf("  predictions from the bus: %llu bars, bar close to prediction in hand %s\n",
                static_cast<unsigned long long>(predictions->predictions()),
                predictions->wait().Summary().c_str());
  }
  if (decisions) {
    std::printf("  decisions from the decision role: %llu bars, bar close to decision in hand %s\n",
                static_cast<unsigned long long>(decisions->decisions()),
                decisions->wait().Summary().c_str());
  }
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run roles of the system (docs/services.md). --role all over the in-process bus is the\n"
      "single process of `aits paper`; over NATS JetStream (--bus nats://HOST:PORT) each role\n"
      "can run in its own process: ingestion publishes the session's feeds to the MARKET stream;\n"
      "features publishes each closed bar's model inputs (FEATURES), prediction its signal\n"
      "(PREDICTIONS); risk,execution (the account's owner, together) trades the session on the\n"
      "stream's ticks, with its log as `aits paper` keeps it, deciding each bar itself (with\n"
      "decision) or asking the decision role, which answers each bar's account (ACCOUNTS) with\n"
      "its decision (DECISIONS). Give every role the same session flags. Each process answers\n"
      "GET /healthz and /readyz on --health. Records beside the bus, in a SQLite file or on\n"
      "PostgreSQL (postgresql://user@host:port/db): the owner's trades (--trades), the features\n"
      "role's bars and feature rows (--bars, --offline-features). The ml role, in a process of\n"
      "its own, runs the training and evaluation jobs that `aits ml submit` publishes to the ML\n"
      "stream, each as a child aits-train, and registers their models in --registry. The gateway\n"
      "role holds the MetaTrader link (the AitsBridge EA connects to --listen, as for aits live):\n"
      "it publishes the terminal's ticks to MARKET and applies the orders of the owner, which\n"
      "trades through it with --venue bus (EXEC stream). The api role, in a process of its\n"
      "own, serves the REST API and its streams (docs/api.md) on --api-listen over the owner's\n"
      "log (--events postgresql://...#SESSION, or --state DIR).\n"
      "Examples: aits serve --role ingestion --bus nats://127.0.0.1:4222 --ticks 100000 "
      "--start 2024-01-08 --speed max\n"
      "          aits serve --role features,prediction --bus nats://127.0.0.1:4222 --ticks "
      "100000 --start 2024-01-08\n"
      "          aits serve --role decision --bus nats://127.0.0.1:4222 --ticks 100000 "
      "--start 2024-01-08\n"
      "          aits serve --role risk,execution --bus nats://127.0.0.1:4222 --ticks "
      "100000 --start 2024-01-08 --state s1\n"
      "          aits serve --role gateway --bus nats://127.0.0.1:4222 --market live --symbol "
      "EURUSD --listen 0.0.0.0:5757\n"
      "          aits serve --role features,prediction,decision,risk,execution --venue bus "
      "--bus nats://127.0.0.1:4222 --market live --symbol EURUSD --state s2 --idle-timeout 0");
  serve->add_option("--role", flags->roles, "ROLE[,ROLE...] or all")->required();
  serve->add_option("--bus", flags->bus, "in-process, or nats://HOST:PORT[,nats://...]")
      ->capture_default_str();
  serve
      ->add_option("--notify-listen", flags->notify.listen,
                   "The notifications role: HOST:PORT where Alertmanager posts its webhook "
                   "(POST /alerts/alertmanager; GET /alerts lists the last delivered)")
      ->capture_default_str();
  serve->add_option("--telegram-config", flags->notify.telegram_config,
                    "The notifications role: the Telegram bot's users, roles and alert chats "
                    "(YAML; docs/monitoring.md); without it, no bot");
  serve->add_option("--telegram-token-file", flags->notify.telegram_token_file,
                    "The bot's token (plain or sealed with aits secret seal); else "
                    "$AITS_TELEGRAM_TOKEN");
  serve
      ->add_option("--telegram-api", flags->notify.telegram_api,
                   "Telegram's Bot API address (a stand-in's, in tests)")
      ->capture_default_str();
  serve
      ->add_option("--telegram-audit", flags->notify.telegram_audit,
                   "Every bot command appended here, one JSON line each")
      ->capture_default_str();
  serve->add_option("--alerts-file", flags->notify.alerts_file,
                    "The notifications role: append each delivered alert to this file, one JSON "
                    "line each");
  serve
      ->add_option("--health", flags->health,
                   "HOST:PORT for /healthz, /readyz and /metrics (Prometheus), or off")
      ->capture_default_str();
  serve
      ->add_option("--idle-timeout", flags->idle_timeout_s,
                   "Seconds a role waits for its input (ticks, feature rows, a bar's prediction "
                   "or decision) "
                   "before it fails (0: for ever)")
      ->capture_default_str();
  serve
      ->add_option("--market", flags->market,
                   "Name of the market data on the bus (subjects md.NAME.SYMBOL): the ingestion "
                   "role publishes under it, the owner reads it; another dataset, another name")
      ->capture_default_str();
  serve
      ->add_option("--symbols", flags->symbols,
                   "Features, prediction and decision: only these traded symbols (SYM[,SYM...]), "
                   "so that replicas share the work by symbol; default every traded symbol")
      ->capture_default_str();
  serve
      ->add_option("--replicas", flags->replicas,
                   "Copies of each stream this role creates, in a JetStream cluster (1-5; the "
                   "servers of --bus must be that many or more)")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  serve
      ->add_option("--redis", flags->redis,
                   "HOST:PORT of Redis, or off: the features role writes each bar's features "
                   "there (feature:SYMBOL:CLOSE_NS, 1 h), the prediction role each prediction "
                   "(prediction:MODEL:HASH, 30 s), the decision role each symbol's last decision "
                   "(decision:MARKET:SYMBOL, 1 h), the owner its session's state "
                   "(session:MARKET, 1 h), for other readers; trading never waits for it, and "
                   "goes on without it")
      ->capture_default_str();
  serve
      ->add_option("--bars", flags->bars,
                   "Features role: keep every closed bar in a bar store, a file (SQLite) or "
                   "postgresql://user@host:port/db; written in batches after the bus, stored "
                   "once however often the role restarts")
      ->capture_default_str();
  serve
      ->add_option("--offline-features", flags->offline_features,
                   "Features role: keep every ready feature row in an offline feature store, "
                   "a file (SQLite) or postgresql://user@host:port/db, for training")
      ->capture_default_str();
  serve
      ->add_option("--consumers", flags->consumers,
                   "How roles read their inputs from the bus: push (the server sends each "
                   "message as it is stored) or pull (a request per fetch: one round trip more "
                   "per hop; docs/services.md)")
      ->check(CLI::IsMember({"push", "pull"}))
      ->capture_default_str();
  serve
      ->add_option("--ack-wait", flags->ack_wait_s,
                   "The ml role: seconds a job stays with this process without word from it; "
                   "a running job says so every third of it, so a role that died gives its job "
                   "to the next one after this long (applies when the consumer is first created)")
      ->capture_default_str();
  serve
      ->add_option("--retrain-runner", flags->retrain_runner,
                   "The account's owner with --retrain-config: run each retrain as a child "
                   "aits-train (child), or as a job of the ml role on the bus (ml: an `aits serve "
                   "--role ml` with the session's --registry; docs/ml.md, \"The loop\")")
      ->check(CLI::IsMember({"child", "ml"}))
      ->capture_default_str();
  AddTraceFlags(*serve, flags->trace,
                "ingestion: one per MARKET message; the owner: one per tick that makes a decision "
                "or an order");
  serve
      ->add_option("--ticks-per-message", flags->ticks_per_message,
                   "Ingestion: ticks per MARKET message")
      ->capture_default_str();
  serve
      ->add_option("--listen", flags->listen,
                   "The gateway role: where it listens for the AitsBridge EA, HOST:PORT")
      ->capture_default_str();
  serve->add_option("--token-file", flags->token_file,
                    "The gateway role: file whose first line is the EA's shared secret (else "
                    "AITS_MT5_TOKEN)");
  serve->add_option("--mt5-name", flags->mt5_names,
                    "The gateway role: SYMBOL=TERMINAL_NAME when the broker names it otherwise");
  serve->add_option("--transcript", flags->transcript,
                    "The gateway role: append every frame exchanged with the EA to this file");
  serve
      ->add_option("--wait", flags->wait_seconds,
                   "The gateway role: seconds a request waits for the EA and the terminal; the "
                   "owner with --venue bus: for the gateway role's answer (5 s more)")
      ->capture_default_str();
  AddApiServerFlags(serve, &flags->api, /*in_serve=*/true);
  AddSessionFlags(*serve, flags->session);
  serve->callback([serve, flags] {
    // --venue bus is the serve command's: the owner's venue is the gateway role's account. The
    // session flags' --venue knows only the paper venues.
    if (flags->session.venue == "bus") {
      flags->bus_venue = true;
      flags->session.venue.clear();
    }
    // Outlives the roles, so that their last spans are written when it closes (also when
    // ExitOnFailure throws).
    Result<std::unique_ptr<trace::Tracer>> opened =
        OpenTracer(flags->trace, *serve, "aits-" + flags->roles);
    if (!opened.ok()) ExitOnFailure(Fail(opened.status()));
    const std::unique_ptr<trace::Tracer> tracer = std::move(opened).value();
    flags->tracer = tracer.get();
    const int code = RunServe(*flags, *serve);
    CloseTracer(tracer.get(), "aits serve");
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
