#include "aits/services/decision_stages.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <span>
#include <thread>

#include "aits/bus/consumer_metrics.h"
#include "aits/core/clock.h"
#include "aits/core/hash.h"
#include "aits/data/bar_aggregator.h"
#include "aits/ml/watch_metrics.h"
#include "aits/proto/messages.h"
#include "aits/services/market_stream.h"
#include "aits/trading/json_writer.h"

namespace aits::services {
namespace {

constexpr int kFetchMax = 64;
constexpr Duration kFetchSlice = Duration::Millis(100);  // how often a wait looks at `stop`
constexpr size_t kPublishEvery = 64;                     // outputs per PublishBatch at most

std::string BarId(std::string_view feed, const Instrument& instrument, Timestamp open) {
  return std::string(feed) + "." + instrument.symbol + "." + std::to_string(open.ns);
}

std::string EndId(std::string_view feed, const Instrument& instrument) {
  return std::string(feed) + "." + instrument.symbol + ".end";
}

int64_t NowNanos() { return WallClock().Now().ns; }

// Whether the stage stops here, marking its stats: checked after each read of input (which gives
// up early when the stop comes while it waits). A stop ends the run with its stats
// (StageStats::stopped), not an error.
bool Stopping(const StageOptions& options, StageStats* stats) {
  stats->stopped = options.stop != nullptr && options.stop->load();
  return stats->stopped;
}

// `reader` ("prediction", "decision", "owner") names the consumer on the role's /metrics.
Result<std::unique_ptr<bus::Consumer>> ReadFromFirst(bus::MessageBus& bus, std::string_view stream,
                                                     const std::string& subject,
                                                     const StageOptions& options,
                                                     std::string_view reader) {
  bus::ConsumerConfig config;
  config.stream = std::string(stream);
  config.filter_subject = subject;
  config.start = bus::StartAt::kFirst;
  config.ack_all = true;
  config.max_ack_pending = 4096;
  config.push = options.push;
  return bus::ConsumeMetered(bus, config, options.metrics, reader);
}

// Up to kFetchMax messages, waiting for the first as long as the idle timeout allows.
// `waiting_for` names what should have come ("features from the features role").
// `between`, when given, runs between the waits (at least every kFetchSlice); its error ends it.
Result<std::vector<bus::Delivery>> FetchWaiting(bus::Consumer& consumer, const std::string& subject,
                                                const StageOptions& options,
                                                std::string_view waiting_for,
                                                const std::function<Status()>* between = nullptr) {
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      return FailedPrecondition("stopped while waiting for " + std::string(waiting_for) + " on " +
                                subject);
    }
    if (between != nullptr) AITS_RETURN_IF_ERROR((*between)());
    AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> got, consumer.Fetch(kFetchMax, kFetchSlice));
    if (!got.empty()) return got;
    const int64_t waited = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count();
    if (options.idle_timeout.ns > 0 && waited >= options.idle_timeout.ns) {
      return DeadlineExceeded("nothing on " + subject + " for " +
                              std::to_string(options.idle_timeout.ns / 1'000'000'000) +
                              " s while waiting for " + std::string(waiting_for) +
                              ": is that role running, on this --market?");
    }
  }
}

// The options of a reader whose input comes once a bar (feature rows, predictions, the owner's
// questions): at a real-time pace a bar lasts its period, so the idle timeout counts from the
// bar's end, not from the last message.
// A stage's span for the message it makes of one bar, under the traceparent of the message it
// made it from; a span that records nothing without a tracer.
trace::Span StageSpan(const StageOptions& options, std::string_view name, std::string_view parent,
                      const Instrument& instrument, Timestamp bar_open) {
  if (options.tracer == nullptr) return {};
  trace::Span span = options.tracer->Start(name, trace::SpanKind::kConsumer, parent);
  if (span.recording()) {
    span.SetAttribute("aits.symbol", instrument.symbol);
    span.SetAttribute("aits.bar_open", FormatIso8601(bar_open));
  }
  return span;
}

// Ends the span; its traceparent is what the message it made carries (empty without a tracer).
std::string EndSpan(const StageOptions& options, trace::Span& span) {
  if (options.tracer == nullptr) return {};
  options.tracer->End(span);
  return span.traceparent();
}

StageOptions PerBar(StageOptions options) {
  if (options.idle_timeout.ns > 0) options.idle_timeout.ns += options.bar_period.ns;
  return options;
}

// A stage's outputs, published in batches with their ids.
class Outbox {
 public:
  Outbox(bus::MessageBus& bus, std::string subject)
      : bus_(bus), subject_(std::move(subject)), breaker_("nats: " + subject_, {}, clock_) {}
  void Add(std::string id, std::string payload, std::string traceparent = {}) {
    ids_.push_back(std::move(id));
    payloads_.push_back(std::move(payload));
    traceparents_.push_back(std::move(traceparent));
  }
  size_t size() const { return ids_.size(); }
  // Publishes what is held, pipelined (PublishBatch), the whole batch again with the same ids
  // after a failure (bus::Retried): what was stored is stored once, and a message that a
  // failure lost while a later one landed comes after it, which the reader puts back in order
  // by its number (BarReader). A batch that outlasts the retries is kept.
  Status Flush(StageStats* stats) {
    if (ids_.empty()) return Status::Ok();
    messages_.clear();
    for (size_t idx = 0; idx < ids_.size(); ++idx) {
      messages_.push_back(
          bus::OutgoingMessage{subject_, ids_[idx], payloads_[idx], traceparents_[idx]});
    }
    std::vector<bus::PublishAck> acks;
    AITS_RETURN_IF_ERROR(bus::Retried(breaker_, [&] {
      Result<std::vector<bus::PublishAck>> sent = bus_.PublishBatch(messages_);
      if (sent.ok()) acks = std::move(sent).value();
      return sent.status();
    }));
    for (const bus::PublishAck& ack : acks) stats->stored += ack.duplicate ? 0 : 1;
    stats->outputs += ids_.size();
    ids_.clear();
    payloads_.clear();
    traceparents_.clear();
    return Status::Ok();
  }
  Status End(std::string id) {
    const bus::OutgoingMessage end[] = {{subject_, id, kEndOfFeed}};
    return bus::PublishInOrder(bus_, end, breaker_).status();
  }

 private:
  WallClock clock_;
  bus::MessageBus& bus_;
  std::string subject_;
  CircuitBreaker breaker_;
  std::vector<std::string> ids_;
  std::vector<std::string> payloads_;
  std::vector<std::string> traceparents_;
  std::vector<bus::OutgoingMessage> messages_;
};

// A lockstep's messages, one at a time, each sent without waiting for its ack (PublishLater:
// the other side reads it as soon as the stream stored it) and confirmed before the next goes,
// or when asked. One lost or refused on the way is sent again through PublishInOrder (its
// retries; the same id, so stored once).
class OneAtATime {
 public:
  OneAtATime(bus::MessageBus& bus, std::string subject)
      : bus_(bus), subject_(std::move(subject)), breaker_("nats: " + subject_, {}, clock_) {}
  ~OneAtATime() { (void)Confirm(nullptr); }

  Status Send(std::string id, std::string payload, StageStats* stats,
              std::string traceparent = {}) {
    AITS_RETURN_IF_ERROR(Confirm(stats));
    id_ = std::move(id);
    payload_ = std::move(payload);
    traceparent_ = std::move(traceparent);
    AITS_ASSIGN_OR_RETURN(
        pending_, bus_.PublishLater(bus::OutgoingMessage{subject_, id_, payload_, traceparent_}));
    return Status::Ok();
  }

  // Confirms the message in flight: waiting for its answer, or (`only_if_answered`) only when
  // the answer has already come. Counted into `stats` when given.
  Status Confirm(StageStats* stats, bool only_if_answered = false) {
    if (pending_ == nullptr || (only_if_answered && !pending_->answered())) return Status::Ok();
    Result<bus::PublishAck> ack = pending_->Wait();
    pending_.reset();
    if (!ack.ok()) {
      const bus::OutgoingMessage message[] = {{subject_, id_, payload_, traceparent_}};
      AITS_ASSIGN_OR_RETURN(const std::vector<bus::PublishAck> acks,
                            bus::PublishInOrder(bus_, message, breaker_));
      ack = acks.front();
    }
    if (stats != nullptr) {
      ++stats->outputs;
      stats->stored += ack->duplicate ? 0 : 1;
    }
    return Status::Ok();
  }

 private:
  WallClock clock_;
  bus::MessageBus& bus_;
  std::string subject_;
  CircuitBreaker breaker_;
  std::string id_;
  std::string payload_;
  std::string traceparent_;
  std::unique_ptr<bus::PendingPublish> pending_;
};

// What a stage message is about: its instrument and bar, and (FEATURES and PREDICTIONS) its
// number among the instrument's bars; 0 for the lockstep's messages, which are never pipelined.
InstrumentId InstrumentOf(const FeatureRow& message) { return message.bar.instrument; }
InstrumentId InstrumentOf(const Prediction& message) { return message.instrument; }
InstrumentId InstrumentOf(const AccountAtBar& message) { return message.instrument; }
InstrumentId InstrumentOf(const BarDecision& message) { return message.instrument; }
Timestamp BarOpenOf(const FeatureRow& message) { return message.bar.open_time; }
template <typename T>
Timestamp BarOpenOf(const T& message) {
  return message.bar_open;
}
uint64_t IndexOf(const FeatureRow& message) { return message.index; }
uint64_t IndexOf(const Prediction& message) { return message.index; }
uint64_t IndexOf(const AccountAtBar& /*message*/) { return 0; }
uint64_t IndexOf(const BarDecision& /*message*/) { return 0; }

// Messages a reader holds while one before them is missing (a retried publish stores it later).
constexpr size_t kMaxHeldBack = 65'536;

// Reads one instrument's messages of type T from one subject, in bar order: a repeat — at or
// before the last bar read, a restarted role's — is dropped; one that does not decode, names
// another instrument or fails `check` is copied to DEAD, counted and skipped. Numbered messages
// (IndexOf) are handed out by number: one stored after a later one (a pipelined batch retried
// after a failure) is waited for, the later ones held back. Each fetch is acknowledged at once:
// the readers start from the first message whenever they start.
template <typename T>
class BarReader {
 public:
  using Check = std::function<Status(const T&)>;

  BarReader(bus::MessageBus& bus, const Instrument& instrument, std::string subject,
            std::unique_ptr<bus::Consumer> consumer, std::string waiting_for, Check check)
      : bus_(bus),
        instrument_(instrument),
        subject_(std::move(subject)),
        consumer_(std::move(consumer)),
        waiting_for_(std::move(waiting_for)),
        check_(std::move(check)) {}

  static Result<BarReader> Open(bus::MessageBus& bus, const Instrument& instrument,
                                const StageOptions& options, std::string_view reader,
                                std::string_view stream, std::string subject,
                                std::string waiting_for, Check check = {}) {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer,
                          ReadFromFirst(bus, stream, subject, options, reader));
    return BarReader(bus, instrument, std::move(subject), std::move(consumer),
                     std::move(waiting_for), std::move(check));
  }

  // The next message after the last one read; *ended at the subject's end marker (then `out`
  // is untouched). `between`: FetchWaiting's.
  Status Next(const StageOptions& options, T* out, bool* ended,
              const std::function<Status()>* between = nullptr) {
    *ended = false;
    for (;;) {
      if (TakeHeldBack(out)) return Status::Ok();
      while (next_ < buffered_.size()) {
        const bus::Delivery& delivery = buffered_[next_++];
        if (delivery.payload == kEndOfFeed) {
          if (!held_back_.empty()) {
            return DataLoss(subject_ + " ended without message " + std::to_string(last_index_ + 1) +
                            " (" + std::to_string(held_back_.size()) + " later ones came)");
          }
          *ended = true;
          return Status::Ok();
        }
        Result<T> message = proto::Decode<T>(delivery.payload);
        Status bad = message.status();
        if (message.ok() && InstrumentOf(*message) != instrument_.id) {
          bad = DataLoss("a message of instrument " + std::to_string(InstrumentOf(*message).value) +
                         ", not " + instrument_.symbol + "'s (" +
                         std::to_string(instrument_.id.value) + ")");
        } else if (message.ok() && check_) {
          bad = check_(*message);
        }
        if (!bad.ok()) {
          ++dead_lettered_;
          AITS_RETURN_IF_ERROR(DeadLetter(bus_, subject_, delivery, bad));
          continue;
        }
        const uint64_t index = IndexOf(*message);
        if (index != 0 && index > last_index_ + 1) {
          if (held_back_.size() >= kMaxHeldBack) {
            return DataLoss(subject_ + ": message " + std::to_string(last_index_ + 1) +
                            " has not come while " + std::to_string(held_back_.size()) +
                            " later ones did");
          }
          held_back_.emplace(
              index, Held{std::move(message).value(), delivery.stored, delivery.traceparent});
          continue;
        }
        if ((index != 0 && index <= last_index_) || (last_ && BarOpenOf(*message) <= *last_)) {
          ++duplicates_;
          continue;
        }
        Take(std::move(message).value(), delivery.stored, delivery.traceparent, out);
        return Status::Ok();
      }
      buffered_.clear();
      next_ = 0;
      AITS_ASSIGN_OR_RETURN(buffered_,
                            FetchWaiting(*consumer_, subject_, options, waiting_for_, between));
      AITS_RETURN_IF_ERROR(consumer_->Ack(buffered_.back().sequence));
    }
  }

  // Whether Next has a message without fetching (a stage flushes its outputs before it waits).
  bool buffered() const { return next_ < buffered_.size() || held_back_.contains(last_index_ + 1); }
  const std::string& subject() const { return subject_; }
  Timestamp stored() const { return stored_; }                     // of the last message read
  const std::string& traceparent() const { return traceparent_; }  // of the last message read
  uint64_t dead_lettered() const { return dead_lettered_; }
  uint64_t duplicates() const { return duplicates_; }

 private:
  struct Held {
    T message;
    Timestamp stored;
    std::string traceparent;
  };

  bool TakeHeldBack(T* out) {
    const auto it = held_back_.find(last_index_ + 1);
    if (it == held_back_.end()) return false;
    Held held = std::move(it->second);
    held_back_.erase(it);
    Take(std::move(held.message), held.stored, held.traceparent, out);
    return true;
  }

  void Take(T message, Timestamp stored, const std::string& traceparent, T* out) {
    if (IndexOf(message) != 0) last_index_ = IndexOf(message);
    last_ = BarOpenOf(message);
    stored_ = stored;
    traceparent_ = traceparent;
    *out = std::move(message);
  }

  bus::MessageBus& bus_;
  const Instrument& instrument_;
  std::string subject_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::string waiting_for_;
  Check check_;
  std::vector<bus::Delivery> buffered_;
  size_t next_ = 0;
  std::optional<Timestamp> last_;
  uint64_t last_index_ = 0;
  std::map<uint64_t, Held> held_back_;
  Timestamp stored_;
  std::string traceparent_;
  uint64_t dead_lettered_ = 0;
  uint64_t duplicates_ = 0;
};

// "the roles build different bars": a message of another bar than the one expected.
Status OtherBar(std::string_view whose, Timestamp got, Timestamp expected) {
  return FailedPrecondition(std::string(whose) + " next bar opens at " + FormatIso8601(got) +
                            ", not at " + FormatIso8601(expected) +
                            ": the roles build different bars (the same --bar-seconds and feeds "
                            "for every role?)");
}

// The next message of `reader`, which must be the answer for `bar` from `role`; what the
// reader dead-letters on the way is added to *dead_lettered.
template <typename T>
Status NextAnswer(BarReader<T>& reader, const StageOptions& options, const Bar& bar,
                  std::string_view role, uint64_t* dead_lettered, T* out,
                  const std::function<Status()>* between = nullptr) {
  bool ended = false;
  const uint64_t dead = reader.dead_lettered();
  const Status read = reader.Next(options, out, &ended, between);
  *dead_lettered += reader.dead_lettered() - dead;
  AITS_RETURN_IF_ERROR(read);
  if (ended) {
    return FailedPrecondition(std::string(role) + " ended its feed on " + reader.subject() +
                              " before this bar");
  }
  if (out->bar_open != bar.open_time) {
    return OtherBar(std::string(role) + "'s", out->bar_open, bar.open_time);
  }
  return Status::Ok();
}

// A stage's counters in the role's registry (StageOptions::metrics), brought up to its StageStats
// after each publish: what /metrics shows of it, and the prediction role's autoscaler reads.
class StageMetrics {
 public:
  static Result<StageMetrics> Open(Registry* registry, std::string_view stage,
                                   std::string_view symbol) {
    StageMetrics metrics;
    if (registry == nullptr) return metrics;
    const Label labels[] = {{"stage", stage}, {"symbol", symbol}};
    AITS_ASSIGN_OR_RETURN(
        Family<Counter> * inputs,
        registry->AddCounter("aits_stage_inputs_total",
                             "Messages a stage applied: ticks (features), feature rows "
                             "(prediction), the owner's questions (decision)",
                             {"stage", "symbol"}));
    AITS_ASSIGN_OR_RETURN(metrics.inputs_, inputs->With(labels));
    AITS_ASSIGN_OR_RETURN(
        Family<Counter> * outputs,
        registry->AddCounter("aits_stage_outputs_total",
                             "Messages a stage published: feature rows, predictions, decisions",
                             {"stage", "symbol"}));
    AITS_ASSIGN_OR_RETURN(metrics.outputs_, outputs->With(labels));
    if (stage == "prediction") {
      AITS_ASSIGN_OR_RETURN(
          Family<Counter> * predictions,
          registry->AddCounter("aits_predictions_total",
                               "Predictions the prediction role published", {"symbol"}));
      AITS_ASSIGN_OR_RETURN(metrics.predictions_, predictions->With({{"symbol", symbol}}));
    }
    return metrics;
  }

  void Sync(const StageStats& stats) {
    if (inputs_ == nullptr) return;
    inputs_->Increment(stats.inputs - inputs_seen_);
    outputs_->Increment(stats.outputs - outputs_seen_);
    if (predictions_ != nullptr) predictions_->Increment(stats.outputs - outputs_seen_);
    inputs_seen_ = stats.inputs;
    outputs_seen_ = stats.outputs;
  }

 private:
  Counter* inputs_ = nullptr;
  Counter* outputs_ = nullptr;
  Counter* predictions_ = nullptr;
  uint64_t inputs_seen_ = 0;
  uint64_t outputs_seen_ = 0;
};

}  // namespace

template <typename Ask>
bool FeedHealth::Answered(const Instrument& instrument, const Bar& bar, const Ask& ask) {
  if (!status().ok()) return false;
  const auto started = std::chrono::steady_clock::now();
  const Status got = ask();
  if (!got.ok()) {
    Fail(got.WithContext(instrument.symbol + " bar " + FormatIso8601(bar.open_time)));
    return false;
  }
  wait_.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  ++answers_;
  return true;
}

Status EnsureStageStreams(bus::MessageBus& bus, int replicas) {
  bus::StreamConfig config;
  config.name = std::string(kFeaturesStream);
  config.subjects = {"feat.>"};
  config.replicas = replicas;
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  config.name = std::string(kPredictionsStream);
  config.subjects = {"pred.>"};
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  config.name = std::string(kAccountsStream);
  config.subjects = {"acct.>"};
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  config.name = std::string(kDecisionsStream);
  config.subjects = {"dec.>"};
  return bus.AddStream(config);
}

Result<StageStats> RunFeatures(bus::MessageBus& bus, const Instrument& instrument,
                               trading::SignalSource& source, const StageOptions& options) {
  AITS_ASSIGN_OR_RETURN(const std::string subject,
                        FeaturesSubject(options.feed, instrument.symbol));
  if (options.bar_period.ns <= 0) return InvalidArgument("features role: bar period not positive");
  BusSourceOptions market;
  market.feed = options.feed;
  market.idle_timeout = options.idle_timeout;
  market.stop = options.stop;
  market.push = options.push;
  market.metrics = options.metrics;
  market.reader = "features";
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<BusTickSource> ticks,
                        BusTickSource::Open(bus, instrument, market));
  StageStats stats;
  Outbox out(bus, subject);
  std::optional<StageCache> online;
  if (options.cache) online.emplace(*options.cache, cache::kFeatureTtl, /*look_first=*/false);
  std::unique_ptr<StageRecords> records;
  if (options.records.any()) {
    AITS_ASSIGN_OR_RETURN(records, StageRecords::Open(options.records, source));
  }
  // The bus first: Redis and the stores add nothing to the rows' way to the prediction role.
  AITS_ASSIGN_OR_RETURN(StageMetrics metrics,
                        StageMetrics::Open(options.metrics, "features", instrument.symbol));
  const auto flush = [&]() -> Status {
    AITS_RETURN_IF_ERROR(out.Flush(&stats));
    metrics.Sync(stats);
    if (online) online->Flush();
    if (records) AITS_RETURN_IF_ERROR(records->Flush());
    return Status::Ok();
  };
  data::BarAggregator aggregator(options.bar_period);
  std::vector<Tick> chunk(1024);
  FeatureRow row;
  for (;;) {
    Result<size_t> read = ticks->Read(chunk);
    if (Stopping(options, &stats)) break;
    AITS_ASSIGN_OR_RETURN(const size_t n, std::move(read));
    if (n == 0) break;
    for (size_t idx = 0; idx < n; ++idx) {
      ++stats.inputs;
      if (!aggregator.Update(chunk[idx], &row.bar)) continue;
      // Under the market message of the tick that closed the bar.
      trace::Span span =
          StageSpan(options, "features", ticks->TraceparentOf(idx), instrument, row.bar.open_time);
      ++row.index;
      row.ready = source.Features(row.bar, &row.row);
      if (!row.ready) row.row.clear();
      std::string encoded = proto::Encode(row);
      // Keyed by the bar's close: the moment its features exist.
      if (online) online->Add(cache::FeatureKey(instrument.symbol, row.bar.CloseTime()), encoded);
      if (records) records->Add(instrument.symbol, row.bar, row.ready, row.row);
      out.Add(BarId(options.feed, instrument, row.bar.open_time), std::move(encoded),
              EndSpan(options, span));
      if (out.size() >= kPublishEvery) AITS_RETURN_IF_ERROR(flush());
    }
    // Before the next read waits for ticks: no bar waits for later ones.
    AITS_RETURN_IF_ERROR(flush());
  }
  stats.duplicates = ticks->duplicates();
  stats.dead_lettered = ticks->dead_lettered();
  if (online) stats.cache = online->counters();
  if (records) {
    AITS_RETURN_IF_ERROR(records->Finish());
    stats.records = records->counters();
  }
  if (stats.stopped) return stats;
  // The bar in progress is not closed: no tick of the next period came, so the kernel never
  // delivers it to the strategy either (Kernel::Stop flushes it without trading on it).
  AITS_RETURN_IF_ERROR(out.End(EndId(options.feed, instrument)));
  stats.ended = true;
  return stats;
}

Result<StageStats> RunPrediction(bus::MessageBus& bus, const Instrument& instrument,
                                 trading::SignalSource& source, const StageOptions& options) {
  AITS_ASSIGN_OR_RETURN(std::string input, FeaturesSubject(options.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(const std::string subject,
                        PredictionsSubject(options.feed, instrument.symbol));
  const size_t row_size = source.row_size();
  AITS_ASSIGN_OR_RETURN(
      BarReader<FeatureRow> rows,
      BarReader<FeatureRow>::Open(
          bus, instrument, options, "prediction", kFeaturesStream, std::move(input),
          "features from the features role", [row_size](const FeatureRow& row) {
            if (!row.ready || row.row.size() == row_size) return Status::Ok();
            return DataLoss("a row of " + std::to_string(row.row.size()) +
                            " features; the model takes " + std::to_string(row_size));
          }));
  if (options.cache && options.cache->model.empty()) {
    return InvalidArgument("prediction role: the prediction cache needs the model's name");
  }
  const StageOptions per_bar = PerBar(options);
  StageStats stats;
  Outbox out(bus, subject);
  std::optional<StageCache> predictions;
  if (options.cache) {
    predictions.emplace(*options.cache, cache::kPredictionTtl, /*look_first=*/true);
  }
  AITS_ASSIGN_OR_RETURN(StageMetrics metrics,
                        StageMetrics::Open(options.metrics, "prediction", instrument.symbol));
  // The model is here in this role: so is its watch (docs/ml.md, "Watching a model live").
  const ml::ModelWatch* watch = source.watch();
  ml::WatchPolicy policy;
  std::optional<ml::WatchMetrics> watched;
  if (options.metrics != nullptr) {
    AITS_RETURN_IF_ERROR(ml::RegisterWatchFamilies(*options.metrics).status());
    if (watch != nullptr) {
      AITS_ASSIGN_OR_RETURN(watched,
                            ml::WatchMetrics::Create(*options.metrics, instrument.symbol, *watch));
    }
  }
  const auto sync = [&] {
    metrics.Sync(stats);
    if (watched) watched->Publish(*watch, policy.verdict(), /*count=*/true);
  };
  uint64_t rows_hash = kFnvOffset;  // of every row applied so far
  FeatureRow row;
  Prediction prediction;
  prediction.instrument = instrument.id;
  std::vector<int64_t> stored_at;  // of each output's input, for the delay
  for (;;) {
    bool ended = false;
    const Status next = rows.Next(per_bar, &row, &ended);
    if (Stopping(options, &stats)) break;
    AITS_RETURN_IF_ERROR(next);
    if (ended) break;
    ++stats.inputs;
    trace::Span span =
        StageSpan(options, "prediction", rows.traceparent(), instrument, row.bar.open_time);
    if (predictions) rows_hash = Fnv1a64(proto::Encode(row), rows_hash);
    prediction.bar_open = row.bar.open_time;
    prediction.index = row.index;
    prediction.source = std::string(source.name());
    prediction.described.clear();
    prediction.explained.clear();
    decision::Signal signal;
    prediction.ready = row.ready && source.Predict(row.bar, row.row, &signal);
    if (prediction.ready && watch != nullptr && policy.Observe(*watch)) ++stats.verdict_changes;
    if (prediction.ready) {
      prediction.strength = signal.strength;
      prediction.confidence = signal.confidence;
      prediction.anomaly = signal.anomaly;
      prediction.regime = signal.regime;
      trading::JsonWriter described(&prediction.described);
      source.Describe(described, /*explain=*/false);
      if (source.explains()) {
        trading::JsonWriter explained(&prediction.explained);
        source.Describe(explained, /*explain=*/true);
      }
    } else {
      prediction.strength = 0;
      prediction.confidence = 1;
      prediction.anomaly = 0;
      prediction.regime = -1;
    }
    std::string encoded = proto::Encode(prediction);
    if (predictions) {
      predictions->Add(cache::PredictionKey(options.cache->model, rows_hash), encoded);
    }
    span.SetAttribute("aits.ready", static_cast<int64_t>(prediction.ready));
    out.Add(BarId(options.feed, instrument, prediction.bar_open), std::move(encoded),
            EndSpan(options, span));
    stored_at.push_back(rows.stored().ns);
    // Before the reader waits for more rows: no prediction waits for later ones.
    if (rows.buffered() && out.size() < kPublishEvery) continue;
    AITS_RETURN_IF_ERROR(out.Flush(&stats));
    sync();
    // After the bus: Redis adds nothing to the predictions' way to the owner.
    if (predictions) predictions->Flush();
    const int64_t now = NowNanos();
    for (const int64_t at : stored_at) stats.delay.Record(now - at);
    stored_at.clear();
  }
  AITS_RETURN_IF_ERROR(out.Flush(&stats));
  sync();
  if (predictions) {
    predictions->Flush();
    stats.cache = predictions->counters();
  }
  stats.duplicates = rows.duplicates();
  stats.dead_lettered = rows.dead_lettered();
  if (stats.stopped) return stats;
  stats.ended = true;
  AITS_RETURN_IF_ERROR(out.End(EndId(options.feed, instrument)));
  return stats;
}

Result<StageStats> RunDecision(bus::MessageBus& bus, const Instrument& instrument,
                               const decision::DecisionEngine& engine,
                               const StageOptions& options) {
  AITS_ASSIGN_OR_RETURN(const std::string predictions_subject,
                        PredictionsSubject(options.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(const std::string accounts_subject,
                        AccountsSubject(options.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(const std::string subject,
                        DecisionsSubject(options.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(
      BarReader<Prediction> predictions,
      BarReader<Prediction>::Open(bus, instrument, options, "decision", kPredictionsStream,
                                  predictions_subject, "predictions from the prediction role"));
  AITS_ASSIGN_OR_RETURN(BarReader<AccountAtBar> accounts,
                        BarReader<AccountAtBar>::Open(
                            bus, instrument, options, "decision", kAccountsStream, accounts_subject,
                            "the account at a bar close from its owner (risk,execution)"));
  const StageOptions per_bar = PerBar(options);
  StageStats stats;
  OneAtATime out(bus, subject);
  std::optional<StageCache> state;
  if (options.cache) state.emplace(*options.cache, cache::kDecisionTtl, /*look_first=*/false);
  const std::string state_key = cache::DecisionKey(options.feed, instrument.symbol);
  Prediction prediction;
  AccountAtBar account;
  BarDecision reply;
  reply.instrument = instrument.id;
  uint64_t number = 0;  // decisions made: the record's "decision"
  AITS_ASSIGN_OR_RETURN(StageMetrics metrics,
                        StageMetrics::Open(options.metrics, "decision", instrument.symbol));
  const std::function<Status()> confirm = [&out, &stats] {
    return out.Confirm(&stats, /*only_if_answered=*/true);
  };
  for (;;) {
    // The owner's questions drive it; its end marker (the session ended) ends the role. While
    // it waits, the last answer is confirmed (sent again if it was lost: the owner waits too).
    bool ended = false;
    const Status next = accounts.Next(per_bar, &account, &ended, &confirm);
    if (Stopping(options, &stats)) break;
    AITS_RETURN_IF_ERROR(next);
    if (ended) break;
    AITS_RETURN_IF_ERROR(predictions.Next(per_bar, &prediction, &ended));
    if (ended) {
      return FailedPrecondition("the prediction role ended its feed on " + predictions_subject +
                                " before the bar " + FormatIso8601(account.bar_open));
    }
    if (prediction.bar_open != account.bar_open) {
      return OtherBar("the prediction role's", prediction.bar_open, account.bar_open);
    }
    ++stats.inputs;
    // Under the prediction (the tick's way here); the owner's question is named beside it.
    trace::Span span =
        StageSpan(options, "decision", predictions.traceparent(), instrument, account.bar_open);
    span.SetAttribute("aits.account_traceparent", accounts.traceparent());
    reply.bar_open = account.bar_open;
    reply.decided = prediction.ready && account.has_quote;
    reply.record.clear();
    if (reply.decided) {
      decision::Signal signal;
      signal.instrument = instrument.id;
      signal.ts = account.bar_close;
      signal.strength = prediction.strength;
      signal.confidence = prediction.confidence;
      signal.anomaly = prediction.anomaly;
      signal.regime = prediction.regime;
      decision::MarketState market;
      market.quote = account.quote;
      market.atr = account.atr;
      market.position = account.position;
      market.pending = account.pending;
      market.equity = account.equity;
      market.value_per_price_unit = account.value_per_price_unit;
      const decision::Decision d = engine.Decide(signal, instrument, market);
      reply.action = static_cast<uint8_t>(d.action);
      reply.side = d.side;
      reply.lots = d.lots;
      reply.stop_loss = d.stop_loss;
      reply.take_profit = d.take_profit;
      trading::JsonWriter members(&reply.record);
      trading::WriteDecisionMembers(
          members, ++number, instrument, signal, prediction.source,
          [&prediction](trading::JsonWriter& to, bool explain) {
            to.RawMembers(explain && !prediction.explained.empty() ? prediction.explained
                                                                   : prediction.described);
          },
          market, d, engine.config().sizing);
    }
    // The owner waits for it: sent at once, confirmed before the next (by when the owner,
    // which asks the next only once it has this one, has made it moot).
    span.SetAttribute("aits.action", static_cast<int64_t>(reply.decided ? reply.action : -1));
    AITS_RETURN_IF_ERROR(out.Send(BarId(options.feed, instrument, reply.bar_open),
                                  proto::Encode(reply), &stats, EndSpan(options, span)));
    stats.delay.Record(NowNanos() - accounts.stored().ns);
    metrics.Sync(stats);
    if (state) {
      state->Add(state_key, DecisionStateJson(options.feed, instrument, reply));
      state->Flush();
    }
  }
  if (state) stats.cache = state->counters();
  AITS_RETURN_IF_ERROR(out.Confirm(&stats));
  metrics.Sync(stats);
  stats.duplicates = predictions.duplicates() + accounts.duplicates();
  stats.dead_lettered = predictions.dead_lettered() + accounts.dead_lettered();
  if (stats.stopped) return stats;
  AITS_RETURN_IF_ERROR(Outbox(bus, subject).End(EndId(options.feed, instrument)));
  stats.ended = true;
  return stats;
}

std::string DecisionStateJson(std::string_view market, const Instrument& instrument,
                              const BarDecision& answer) {
  std::string out;
  trading::JsonWriter json(&out);
  json.BeginObject();
  json.Member("market", market);
  json.Member("symbol", instrument.symbol);
  json.Member("bar_open", FormatIso8601(answer.bar_open));
  json.Member("decided", answer.decided);
  if (answer.decided) {
    // Its own object: the record has a "market" of its own (the market state it decided on).
    json.Key("decision");
    json.BeginObject();
    json.RawMembers(answer.record);
    json.EndObject();
  }
  json.EndObject();
  return out;
}

// The owner's signal source of one instrument: the prediction of each bar, from the bus.
class BusSignalSource final : public trading::SignalSource {
 public:
  BusSignalSource(PredictionFeed& feed, const Instrument& instrument, std::string signal,
                  BarReader<Prediction> reader)
      : feed_(feed),
        instrument_(instrument),
        signal_(std::move(signal)),
        reader_(std::move(reader)) {}

  std::string_view name() const override { return signal_; }

  bool OnBar(const Bar& bar, decision::Signal* signal) override {
    if (bar.instrument != instrument_.id) return false;
    if (!feed_.Answered(instrument_, bar, [&] { return Await(bar); })) return false;
    if (!current_.ready) return false;
    signal->instrument = instrument_.id;
    signal->ts = bar.CloseTime();
    signal->strength = current_.strength;
    signal->confidence = current_.confidence;
    signal->anomaly = current_.anomaly;
    signal->regime = current_.regime;
    return true;
  }

  void Describe(trading::JsonWriter& out, bool explain) const override {
    out.RawMembers(explain && !current_.explained.empty() ? current_.explained
                                                          : current_.described);
  }

 private:
  // Reads until the prediction of `bar` is current_.
  Status Await(const Bar& bar) {
    AITS_RETURN_IF_ERROR(NextAnswer(reader_, feed_.options_, bar, "the prediction role",
                                    &feed_.dead_lettered_, &current_));
    if (current_.ready && current_.source != signal_) {
      return FailedPrecondition("the prediction role runs the signal " + current_.source +
                                ", this session " + signal_);
    }
    if (feed_.options_.tracer != nullptr) {
      // The owner decides on it now: the orders it causes hang under this span (the session
      // opens them under trace::Current() once the kernel took the tick).
      trace::Span span =
          StageSpan(feed_.options_, "decision", reader_.traceparent(), instrument_, bar.open_time);
      trace::SetCurrent(span.context);
      feed_.options_.tracer->End(span);
    }
    return Status::Ok();
  }

  PredictionFeed& feed_;
  const Instrument& instrument_;
  std::string signal_;
  BarReader<Prediction> reader_;
  Prediction current_;
};

// The owner's decider of one instrument: the account out at each bar close, the decision back.
class BusDecider final : public trading::RemoteDecider {
 public:
  BusDecider(DecisionFeed& feed, const Instrument& instrument, std::string subject,
             BarReader<BarDecision> reader)
      : feed_(feed),
        instrument_(instrument),
        reader_(std::move(reader)),
        question_(feed.bus_, std::move(subject)) {
    account_.instrument = instrument.id;
  }

  bool Decide(const Bar& bar, const decision::MarketState* market,
              trading::RemoteDecision* out) override {
    if (bar.instrument != instrument_.id) return false;
    return feed_.Answered(instrument_, bar, [&] { return Ask(bar, market, out); });
  }

 private:
  Status Ask(const Bar& bar, const decision::MarketState* market, trading::RemoteDecision* out) {
    account_.bar_open = bar.open_time;
    account_.bar_close = bar.CloseTime();
    account_.has_quote = market != nullptr;
    if (market != nullptr) {
      account_.quote = market->quote;
      account_.atr = market->atr;
      account_.position = market->position;
      account_.pending = market->pending;
      account_.equity = market->equity;
      account_.value_per_price_unit = market->value_per_price_unit;
    }
    // A resumed owner asks again for the bars its log holds: the same id, stored once (within
    // the duplicate window; after it, the decision role drops the repeat by its bar).
    // Under the span of the tick that closed the bar (the session's, trace::Current()): the
    // decision role names it on its decision span (aits.account_traceparent).
    const trace::SpanContext& tick =
        feed_.options_.tracer != nullptr ? trace::CurrentAsParent() : trace::Current();
    AITS_RETURN_IF_ERROR(question_.Send(
        BarId(feed_.options_.feed, instrument_, bar.open_time), proto::Encode(account_), nullptr,
        feed_.options_.tracer != nullptr && tick.valid() ? trace::FormatTraceparent(tick)
                                                         : std::string()));
    // While the answer is awaited: a question lost on the way is sent again.
    const std::function<Status()> confirm = [this] {
      return question_.Confirm(nullptr, /*only_if_answered=*/true);
    };
    AITS_RETURN_IF_ERROR(NextAnswer(reader_, feed_.options_, bar, "the decision role",
                                    &feed_.dead_lettered_, &answer_, &confirm));
    AITS_RETURN_IF_ERROR(question_.Confirm(nullptr));
    if (feed_.options_.tracer != nullptr) {
      // As above: the orders this decision causes hang under this span.
      trace::Span span = StageSpan(feed_.options_, "owner.decision", reader_.traceparent(),
                                   instrument_, bar.open_time);
      trace::SetCurrent(span.context);
      feed_.options_.tracer->End(span);
    }
    out->decided = answer_.decided;
    out->decision = decision::Decision{};
    out->decision.action = static_cast<decision::Action>(answer_.action);
    out->decision.side = answer_.side;
    out->decision.lots = answer_.lots;
    out->decision.stop_loss = answer_.stop_loss;
    out->decision.take_profit = answer_.take_profit;
    out->record = std::move(answer_.record);
    return Status::Ok();
  }

  DecisionFeed& feed_;
  const Instrument& instrument_;
  BarReader<BarDecision> reader_;
  OneAtATime question_;  // on ACCOUNTS
  AccountAtBar account_;
  BarDecision answer_;
};

Result<std::unique_ptr<trading::SignalSource>> PredictionFeed::Source(const Instrument& instrument,
                                                                      std::string_view signal) {
  AITS_ASSIGN_OR_RETURN(std::string subject, PredictionsSubject(options_.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(
      BarReader<Prediction> reader,
      BarReader<Prediction>::Open(bus_, instrument, options_, "owner", kPredictionsStream,
                                  std::move(subject), "predictions from the prediction role"));
  return std::unique_ptr<trading::SignalSource>(
      std::make_unique<BusSignalSource>(*this, instrument, std::string(signal), std::move(reader)));
}

Result<std::unique_ptr<trading::RemoteDecider>> DecisionFeed::Decider(
    const Instrument& instrument) {
  AITS_ASSIGN_OR_RETURN(std::string accounts, AccountsSubject(options_.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(std::string subject, DecisionsSubject(options_.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(
      BarReader<BarDecision> reader,
      BarReader<BarDecision>::Open(bus_, instrument, options_, "owner", kDecisionsStream,
                                   std::move(subject), "decisions from the decision role"));
  if (std::find(subjects_.begin(), subjects_.end(), accounts) == subjects_.end()) {
    subjects_.push_back(accounts);
  }
  return std::unique_ptr<trading::RemoteDecider>(
      std::make_unique<BusDecider>(*this, instrument, std::move(accounts), std::move(reader)));
}

Status DecisionFeed::End() {
  CircuitBreaker breaker("nats: " + std::string(kAccountsStream), {}, SystemWallClock());
  for (const std::string& subject : subjects_) {
    const std::string id = subject + ".end";
    const bus::OutgoingMessage end[] = {{subject, id, kEndOfFeed}};
    AITS_RETURN_IF_ERROR(bus::PublishInOrder(bus_, end, breaker).status());
  }
  return Status::Ok();
}

Status FeedHealth::status() const {
  if (!failed_.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

void FeedHealth::Fail(const Status& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_.ok()) status_ = status;
  failed_.store(true, std::memory_order_release);
}

}  // namespace aits::services
