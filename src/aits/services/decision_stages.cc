#include "aits/services/decision_stages.h"

#include <chrono>
#include <span>
#include <thread>

#include "aits/core/clock.h"
#include "aits/data/bar_aggregator.h"
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

Result<std::unique_ptr<bus::Consumer>> ReadFromFirst(bus::MessageBus& bus, std::string_view stream,
                                                     const std::string& subject) {
  bus::ConsumerConfig config;
  config.stream = std::string(stream);
  config.filter_subject = subject;
  config.start = bus::StartAt::kFirst;
  config.ack_all = true;
  config.max_ack_pending = 4096;
  return bus.Consume(config);
}

// Up to kFetchMax messages, waiting for the first as long as the idle timeout allows.
// `waiting_for` names what should have come ("features from the features role").
Result<std::vector<bus::Delivery>> FetchWaiting(bus::Consumer& consumer, const std::string& subject,
                                                const StageOptions& options,
                                                std::string_view waiting_for) {
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      return FailedPrecondition("stopped while waiting for " + std::string(waiting_for) + " on " +
                                subject);
    }
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

// A stage's outputs, published in batches with their ids.
class Outbox {
 public:
  Outbox(bus::MessageBus& bus, std::string subject)
      : bus_(bus), subject_(std::move(subject)), breaker_("nats: " + subject_, {}, clock_) {}
  void Add(std::string id, std::string payload) {
    ids_.push_back(std::move(id));
    payloads_.push_back(std::move(payload));
  }
  size_t size() const { return ids_.size(); }
  // Publishes what is held, in order (bus::PublishInOrder: no hole a reader would take for a
  // missing bar); a failed batch keeps it (retry with the same ids is safe).
  Status Flush(StageStats* stats) {
    if (ids_.empty()) return Status::Ok();
    messages_.clear();
    for (size_t idx = 0; idx < ids_.size(); ++idx) {
      messages_.push_back(bus::OutgoingMessage{subject_, ids_[idx], payloads_[idx]});
    }
    AITS_ASSIGN_OR_RETURN(const std::vector<bus::PublishAck> acks,
                          bus::PublishInOrder(bus_, messages_, breaker_));
    for (const bus::PublishAck& ack : acks) stats->stored += ack.duplicate ? 0 : 1;
    stats->outputs += ids_.size();
    ids_.clear();
    payloads_.clear();
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
  std::vector<bus::OutgoingMessage> messages_;
};

}  // namespace

Status EnsureStageStreams(bus::MessageBus& bus, int replicas) {
  bus::StreamConfig config;
  config.name = std::string(kFeaturesStream);
  config.subjects = {"feat.>"};
  config.replicas = replicas;
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  config.name = std::string(kPredictionsStream);
  config.subjects = {"pred.>"};
  return bus.AddStream(config);
}

Result<StageStats> RunFeatures(bus::MessageBus& bus, const Instrument& instrument,
                               trading::SignalSource& source, const StageOptions& options) {
  AITS_ASSIGN_OR_RETURN(const std::string subject,
                        FeaturesSubject(options.feed, instrument.symbol));
  if (options.bar_period.ns <= 0) return InvalidArgument("features role: bar period not positive");
  BusSourceOptions read;
  read.feed = options.feed;
  read.idle_timeout = options.idle_timeout;
  read.stop = options.stop;
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<BusTickSource> ticks,
                        BusTickSource::Open(bus, instrument, read));
  StageStats stats;
  Outbox out(bus, subject);
  data::BarAggregator aggregator(options.bar_period);
  std::vector<Tick> chunk(1024);
  FeatureRow row;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(const size_t n, ticks->Read(chunk));
    if (n == 0) break;
    for (size_t idx = 0; idx < n; ++idx) {
      ++stats.inputs;
      if (!aggregator.Update(chunk[idx], &row.bar)) continue;
      row.ready = source.Features(row.bar, &row.row);
      if (!row.ready) row.row.clear();
      out.Add(BarId(options.feed, instrument, row.bar.open_time), proto::Encode(row));
      if (out.size() >= kPublishEvery) AITS_RETURN_IF_ERROR(out.Flush(&stats));
    }
    // Before the next read waits for ticks: no bar waits for later ones.
    AITS_RETURN_IF_ERROR(out.Flush(&stats));
  }
  stats.duplicates = ticks->duplicates();
  stats.dead_lettered = ticks->dead_lettered();
  // The bar in progress is not closed: no tick of the next period came, so the kernel never
  // delivers it to the strategy either (Kernel::Stop flushes it without trading on it).
  AITS_RETURN_IF_ERROR(out.End(EndId(options.feed, instrument)));
  stats.ended = true;
  return stats;
}

Result<StageStats> RunPrediction(bus::MessageBus& bus, const Instrument& instrument,
                                 trading::SignalSource& source, const StageOptions& options) {
  AITS_ASSIGN_OR_RETURN(const std::string input, FeaturesSubject(options.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(const std::string subject,
                        PredictionsSubject(options.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer,
                        ReadFromFirst(bus, kFeaturesStream, input));
  StageStats stats;
  Outbox out(bus, subject);
  std::optional<Timestamp> last;
  Prediction prediction;
  prediction.instrument = instrument.id;
  std::vector<int64_t> stored_at;  // of each output's input, for the delay
  while (!stats.ended) {
    AITS_ASSIGN_OR_RETURN(
        std::vector<bus::Delivery> got,
        FetchWaiting(*consumer, input, options, "features from the features role"));
    for (const bus::Delivery& delivery : got) {
      if (delivery.payload == kEndOfFeed) {
        stats.ended = true;
        break;
      }
      Result<FeatureRow> row = proto::Decode<FeatureRow>(delivery.payload);
      Status bad = row.status();
      if (row.ok() && row->bar.instrument != instrument.id) {
        bad =
            DataLoss("a bar of instrument " + std::to_string(row->bar.instrument.value) + ", not " +
                     instrument.symbol + "'s (" + std::to_string(instrument.id.value) + ")");
      } else if (row.ok() && row->ready && row->row.size() != source.row_size()) {
        bad = DataLoss("a row of " + std::to_string(row->row.size()) +
                       " features; the model takes " + std::to_string(source.row_size()));
      }
      if (!bad.ok()) {
        ++stats.dead_lettered;
        AITS_RETURN_IF_ERROR(DeadLetter(bus, input, delivery, bad));
        continue;
      }
      if (last && row->bar.open_time <= *last) {
        ++stats.duplicates;
        continue;
      }
      last = row->bar.open_time;
      ++stats.inputs;
      prediction.bar_open = row->bar.open_time;
      prediction.source = std::string(source.name());
      prediction.described.clear();
      prediction.explained.clear();
      decision::Signal signal;
      prediction.ready = row->ready && source.Predict(row->bar, row->row, &signal);
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
      out.Add(BarId(options.feed, instrument, prediction.bar_open), proto::Encode(prediction));
      stored_at.push_back(delivery.stored.ns);
    }
    AITS_RETURN_IF_ERROR(out.Flush(&stats));
    const int64_t now = NowNanos();
    for (const int64_t at : stored_at) stats.delay.Record(now - at);
    stored_at.clear();
    AITS_RETURN_IF_ERROR(consumer->Ack(got.back().sequence));
  }
  AITS_RETURN_IF_ERROR(out.End(EndId(options.feed, instrument)));
  return stats;
}

// The owner's signal source of one instrument: the prediction of each bar, from the bus.
class BusSignalSource final : public trading::SignalSource {
 public:
  BusSignalSource(PredictionFeed& feed, const Instrument& instrument, std::string signal,
                  std::string subject, std::unique_ptr<bus::Consumer> consumer)
      : feed_(feed),
        instrument_(instrument),
        signal_(std::move(signal)),
        subject_(std::move(subject)),
        consumer_(std::move(consumer)) {}

  std::string_view name() const override { return signal_; }

  bool OnBar(const Bar& bar, decision::Signal* signal) override {
    if (bar.instrument != instrument_.id || !feed_.status().ok()) return false;
    const auto started = std::chrono::steady_clock::now();
    const Status got = Await(bar);
    if (!got.ok()) {
      feed_.Fail(got.WithContext(instrument_.symbol + " bar " + FormatIso8601(bar.open_time)));
      return false;
    }
    feed_.wait_.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count());
    ++feed_.predictions_;
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
    for (;;) {
      while (next_ < buffered_.size()) {
        const bus::Delivery& delivery = buffered_[next_++];
        if (delivery.payload == kEndOfFeed) {
          return FailedPrecondition("the prediction role ended its feed on " + subject_ +
                                    " before this bar");
        }
        Result<Prediction> prediction = proto::Decode<Prediction>(delivery.payload);
        if (!prediction.ok() || prediction->instrument != instrument_.id) {
          // Counted and kept aside by whoever reads DEAD; the next good one decides.
          ++feed_.dead_lettered_;
          AITS_RETURN_IF_ERROR(DeadLetter(
              feed_.bus_, subject_, delivery,
              prediction.ok() ? DataLoss("another instrument's prediction") : prediction.status()));
          continue;
        }
        if (last_ && prediction->bar_open <= *last_) continue;  // a restarted role's repeat
        last_ = prediction->bar_open;
        if (prediction->bar_open != bar.open_time) {
          return FailedPrecondition(
              "the prediction role's next bar opens at " + FormatIso8601(prediction->bar_open) +
              ", not at this bar's open: the roles build different bars (the same --bar-seconds "
              "and feeds for every role?)");
        }
        if (prediction->ready && prediction->source != signal_) {
          return FailedPrecondition("the prediction role runs the signal " + prediction->source +
                                    ", this session " + signal_);
        }
        current_ = std::move(prediction).value();
        return Status::Ok();
      }
      buffered_.clear();
      next_ = 0;
      AITS_ASSIGN_OR_RETURN(buffered_, FetchWaiting(*consumer_, subject_, feed_.options_,
                                                    "predictions from the prediction role"));
      AITS_RETURN_IF_ERROR(consumer_->Ack(buffered_.back().sequence));
    }
  }

  PredictionFeed& feed_;
  const Instrument& instrument_;
  std::string signal_;
  std::string subject_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::vector<bus::Delivery> buffered_;
  size_t next_ = 0;
  std::optional<Timestamp> last_;
  Prediction current_;
};

Result<std::unique_ptr<trading::SignalSource>> PredictionFeed::Source(const Instrument& instrument,
                                                                      std::string_view signal) {
  AITS_ASSIGN_OR_RETURN(const std::string subject,
                        PredictionsSubject(options_.feed, instrument.symbol));
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer,
                        ReadFromFirst(bus_, kPredictionsStream, subject));
  return std::unique_ptr<trading::SignalSource>(std::make_unique<BusSignalSource>(
      *this, instrument, std::string(signal), subject, std::move(consumer)));
}

Status PredictionFeed::status() const {
  if (!failed_.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

void PredictionFeed::Fail(const Status& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_.ok()) status_ = status;
  failed_.store(true, std::memory_order_release);
}

}  // namespace aits::services
