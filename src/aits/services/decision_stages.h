// The roles between the tick and the decision, run apart from the account's owner
// (docs/services.md, "The roles between the tick and the order"; ADR 0007, decisions 2 and 3):
//
//   MARKET md.<FEED>.<SYM> --features--> FEATURES feat.<FEED>.<SYM> --prediction-->
//   PREDICTIONS pred.<FEED>.<SYM> --> the owner's decision stack (PredictionFeed)
//
// or, with the decision role apart from the account's owner (ADR 0007, decision 4):
//
//   PREDICTIONS pred.<FEED>.<SYM> --decision--> DECISIONS dec.<FEED>.<SYM> --> the owner
//   the owner --> ACCOUNTS acct.<FEED>.<SYM> (the account at each bar close) --> decision
//
// - The features role reads one traded symbol's ticks (BusTickSource), builds its bars exactly as
//   the kernel does (data::BarAggregator over the same ticks in the same order: a bar closes at
//   the first tick of the next period, ADR 0002), and publishes one FeatureRow per closed bar:
//   the signal source's Features stage (the ensemble's feature columns; no row for a rule signal).
// - The prediction role reads those rows in order and publishes one Prediction per bar: the
//   source's Predict stage, with its description for a decision record that holds and for one
//   that trades.
// - The owner's decision stack takes, at each bar close, the prediction of that bar in place of
//   computing it: PredictionFeed makes signal sources that wait for it. The decision, the risk
//   check and the order stay on the owner's thread, so orders, fills and the log are those of the
//   embedded node (distributed_paper_test.cc).
// - Or the owner (risk and execution) publishes, at each bar close of a traded instrument, the
//   account and the market as of that tick (AccountAtBar) and waits for the decision of that bar
//   (BarDecision: an intent, "hold", or "no decision" when there was no signal or no quote). The
//   decision role decides each bar on the prediction and the account of that same bar, with the
//   engine the owner would have used, and writes the decision record up to its orders; the owner
//   sends the orders through its risk check and completes the record. The owner applies nothing
//   after the bar close until the answer is in, so an order meets the tick it meets embedded,
//   and a second intent's risk check sees the first one's fill.
//
// Every message is keyed by its bar (instrument, open time) and published with the id
// "<FEED>.<SYM>.<open ns>", so a stage that restarts — and recomputes from the first tick, as its
// state is the indicators' — publishes what it had published again, which the stream stores once
// within its duplicate window; every consumer applies by bar, dropping a bar at or before the
// last it applied. A message that does not decode, or names another symbol, is copied to the
// DEAD stream (dead.<subject>, id "<subject>.<stream seq>"), counted and skipped. Each stage ends
// after the end marker of its input and then publishes its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/core/latency_histogram.h"
#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/stage_messages.h"
#include "aits/services/market_stream.h"
#include "aits/services/stage_cache.h"
#include "aits/services/stage_records.h"
#include "aits/trace/tracer.h"
#include "aits/trading/decision_engine.h"
#include "aits/trading/decision_strategy.h"
#include "aits/trading/signal_source.h"

namespace aits::services {

inline constexpr std::string_view kFeaturesStream = "FEATURES";
inline constexpr std::string_view kPredictionsStream = "PREDICTIONS";
inline constexpr std::string_view kAccountsStream = "ACCOUNTS";
inline constexpr std::string_view kDecisionsStream = "DECISIONS";

// "feat.<feed>.<symbol>" and "pred.<feed>.<symbol>"; InvalidArgument naming a bad token.
inline Result<std::string> FeaturesSubject(std::string_view feed, std::string_view symbol) {
  return SymbolSubject("feat", feed, symbol);
}
inline Result<std::string> PredictionsSubject(std::string_view feed, std::string_view symbol) {
  return SymbolSubject("pred", feed, symbol);
}
// "acct.<feed>.<symbol>" and "dec.<feed>.<symbol>".
inline Result<std::string> AccountsSubject(std::string_view feed, std::string_view symbol) {
  return SymbolSubject("acct", feed, symbol);
}
inline Result<std::string> DecisionsSubject(std::string_view feed, std::string_view symbol) {
  return SymbolSubject("dec", feed, symbol);
}

// Creates FEATURES (feat.>), PREDICTIONS (pred.>), ACCOUNTS (acct.>) and DECISIONS (dec.>), or
// checks the existing ones; the DEAD stream is EnsureMarketStream's.
Status EnsureStageStreams(bus::MessageBus& bus, int replicas = 1);

struct StageOptions {
  std::string feed = "default";  // the market's name, as the ingestion role publishes it
  Duration bar_period = Duration::Minutes(1);
  // Nothing new on the input for this long is DeadlineExceeded naming the subject. 0: for ever.
  // An input that comes once a bar (the prediction and decision roles') waits a bar period
  // more: at a real-time pace bars are that far apart.
  Duration idle_timeout = Duration::Seconds(30);
  const std::atomic<bool>* stop = nullptr;  // a Run gives up, FailedPrecondition "stopped …"
  // The inputs' consumers: pull (a request per fetch) or push (the server sends each message as
  // it is stored). Push takes a round trip off each hop (docs/performance.md) but is not the
  // default yet: in one run of the kill test on a three-node cluster, a features role started
  // just before a node's kill never read again and never failed (docs/services.md, "Push or
  // pull").
  bool push = false;
  // The role's metrics registry (served at /metrics), or none: the features, prediction and
  // decision stages count their inputs and outputs there (aits_stage_inputs_total,
  // aits_stage_outputs_total by stage and symbol), the prediction stage its predictions
  // (aits_predictions_total by symbol, what the prediction role's autoscaler scales on). Every
  // reader of a stage, and of the owner's PredictionFeed and DecisionFeed, exports its
  // consumer's lag and redeliveries there (bus/consumer_metrics.h).
  Registry* metrics = nullptr;
  // Redis for the features role's online features and the prediction role's predictions
  // (stage_cache.h); none: no Redis. Nothing a role publishes depends on it.
  std::optional<StageCacheOptions> cache;
  // The features role's bars and feature rows, kept in the bar and offline feature stores
  // (stage_records.h); none by default.
  StageRecordOptions records;
  // Not owned; none: no spans and no traceparent on what the stages publish. With one, each
  // stage opens a span per message it makes ("features", "prediction", "decision"; the owner's
  // feeds "owner.decision" or "decision") under the traceparent of the message it made it
  // from, and publishes the span's traceparent with it (docs/monitoring.md, "Traces").
  trace::Tracer* tracer = nullptr;
};

struct StageStats {
  uint64_t inputs = 0;      // ticks (features) or rows (prediction) applied
  uint64_t outputs = 0;     // messages published, the end marker not counted
  uint64_t stored = 0;      // of those, stored (the rest: already there, a restart's repeats)
  uint64_t duplicates = 0;  // inputs dropped as at or before the last applied
  uint64_t dead_lettered = 0;
  bool ended = false;  // the input's end marker came (and this stage's was published)
  // StageOptions::stop was set (SIGINT, SIGTERM): the stage stopped where it was, what it had
  // made published, no end marker. A restart goes on from there (it recomputes from the first
  // input; the ids store nothing twice).
  bool stopped = false;
  // Per output: input stored by the bus -> output published (prediction role).
  LatencyHistogram delay;
  // Changes of the model's watch verdict (ml::WatchPolicy), prediction role with a watched model;
  // the verdict itself is on /metrics (aits_model_verdict).
  uint64_t verdict_changes = 0;
  CacheCounters cache;                    // with StageOptions::cache
  std::optional<RecordCounters> records;  // with StageOptions::records (features role)
};

// The features role for one traded instrument, until its feed ends (or stop, or an error).
// `source` is the session's signal source for `instrument`; only its Features stage is used.
// With a cache, each row published is also written as the online features of its bar,
// cache::FeatureKey(symbol, bar close) -> the FeatureRow's encoding (the FEATURES message).
// With records, each bar and ready row is kept in its store after it was published (in batches:
// stage_records.h); a failed write ends the run with the error.
Result<StageStats> RunFeatures(bus::MessageBus& bus, const Instrument& instrument,
                               trading::SignalSource& source, const StageOptions& options);

// The prediction role for one traded instrument: FEATURES -> PREDICTIONS, until the features'
// end marker (or stop, or an error). Only `source`'s Predict stage and Describe are used.
// With a cache, every prediction is also written to the prediction cache unless it holds it
// already: cache::PredictionKey(cache->model, feature hash) -> the Prediction's encoding (the
// PREDICTIONS message), where the feature hash is FNV-1a over every row applied so far, this one
// last. The source is asked on every row, hit or not: Predict advances its state (a rule
// signal's indicators, a sequence model's window), so a skipped row would change every later
// prediction; and a stateful source's prediction is a function of the rows before it too, which
// is why the hash covers them. InvalidArgument when the cache has no model.
Result<StageStats> RunPrediction(bus::MessageBus& bus, const Instrument& instrument,
                                 trading::SignalSource& source, const StageOptions& options);

// The decision role for one traded instrument: PREDICTIONS and ACCOUNTS -> DECISIONS, one
// decision per bar the owner asks about, until the owner's end marker (DecisionFeed::End; or
// stop, or an error). `engine` is the
// one the owner's decision stack would use (node::DecisionConfigOf). `delay` in the stats: the
// owner's AccountAtBar stored by the bus -> its decision published.
// With a cache, each answer is also written as the symbol's decision state,
// cache::DecisionKey(feed, symbol) -> DecisionStateJson (1 h), after it was sent: the last
// decision of every symbol, for a reader that wants it without the bus (the API, an operator).
Result<StageStats> RunDecision(bus::MessageBus& bus, const Instrument& instrument,
                               const decision::DecisionEngine& engine, const StageOptions& options);

// The decision state of a symbol after `answer`: {"market", "symbol", "bar_open" (ISO 8601),
// "decided", and when decided "decision": the decision record up to its orders
// (trading::WriteDecisionMembers, what the owner logs)}.
std::string DecisionStateJson(std::string_view market, const Instrument& instrument,
                              const BarDecision& answer);

// What the owner's feeds from other roles have in common: the first error, the waits, the count.
class FeedHealth {
 public:
  // The first error of any of its sources; Ok while they all got their answers.
  Status status() const;
  // Bar close -> the answer was in hand, in nanoseconds (the lockstep's wait).
  const LatencyHistogram& wait() const { return wait_; }
  uint64_t answers() const { return answers_; }
  // Messages on its subjects that were no answer for their instrument (copied to DEAD).
  uint64_t dead_lettered() const { return dead_lettered_; }

 protected:
  friend class BusSignalSource;
  friend class BusDecider;
  void Fail(const Status& status);
  // Runs `ask` (Status(): the wait for the answer of `bar`), timing it into wait() and counting
  // it; its error is kept, naming the symbol and bar. false: no answer (now or earlier).
  template <typename Ask>
  bool Answered(const Instrument& instrument, const Bar& bar, const Ask& ask);

  // status() runs after every tick of the owner (PaperOptions::check_tick): the flag answers
  // without the lock until something failed.
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  Status status_;
  LatencyHistogram wait_;
  uint64_t answers_ = 0;
  uint64_t dead_lettered_ = 0;
};

// The owner's side: signal sources (one per traded instrument, made by Source) whose OnBar waits
// for the prediction of that very bar from PREDICTIONS, read from the first message (a resumed
// session asks again for every bar its log holds). Thread-compatible: the sources run on the
// kernel thread. A source that cannot get its bar's prediction — none within the idle timeout,
// a stop, another bar than the one asked (the roles built different bars), another signal —
// answers "no signal" and records the error; the session must then stop without committing the
// tick (PaperOptions::check_tick = status()), so that a resume asks again.
class PredictionFeed : public FeedHealth {
 public:
  PredictionFeed(bus::MessageBus& bus, StageOptions options)
      : bus_(bus), options_(std::move(options)) {}
  // The source of `instrument` (which it keeps a reference to) for the session's signal
  // `signal` ("sma_cross", "ml_ensemble"): a prediction of another signal is an error.
  Result<std::unique_ptr<trading::SignalSource>> Source(const Instrument& instrument,
                                                        std::string_view signal);
  uint64_t predictions() const { return answers(); }

 private:
  friend class BusSignalSource;
  bus::MessageBus& bus_;
  StageOptions options_;
};

// The owner's side when the decision role runs apart: deciders (one per traded instrument, for
// trading::DecisionStrategy) that publish the account at each bar close and wait for that bar's
// decision from DECISIONS, read from the first message (a resumed session asks again for every
// bar its log holds, and gets the same answers). Errors as PredictionFeed's: the session must
// stop without committing the tick (PaperOptions::check_tick = status()).
class DecisionFeed : public FeedHealth {
 public:
  DecisionFeed(bus::MessageBus& bus, StageOptions options)
      : bus_(bus), options_(std::move(options)) {}
  // The decider of `instrument` (which it keeps a reference to).
  Result<std::unique_ptr<trading::RemoteDecider>> Decider(const Instrument& instrument);
  uint64_t decisions() const { return answers(); }
  // Tells the decision role the session has ended (its feed ended): an end marker on every
  // subject a decider asked on. Not after a stop that a resume will continue.
  Status End();

 private:
  friend class BusDecider;
  bus::MessageBus& bus_;
  StageOptions options_;
  std::vector<std::string> subjects_;  // ACCOUNTS subjects of the deciders made
};

}  // namespace aits::services
