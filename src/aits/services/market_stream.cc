#include "aits/services/market_stream.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <utility>

#include "aits/bus/consumer_metrics.h"
#include "aits/data/merge.h"

namespace aits::services {
namespace {

constexpr size_t kMaxTicksPerMessage = 65'536;

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view View(const std::vector<uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

Result<std::string> SymbolSubject(std::string_view kind, std::string_view feed,
                                  std::string_view symbol) {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market feed name", feed));
  AITS_RETURN_IF_ERROR(bus::ValidateName("market symbol", symbol));
  return std::string(kind) + "." + std::string(feed) + "." + std::string(symbol);
}

Status DeadLetter(bus::MessageBus& bus, const std::string& subject, const bus::Delivery& delivery,
                  const Status& why) {
  const std::string id = subject + "." + std::to_string(delivery.sequence);
  // With the traceparent it came with: the dead copy stays in its trace.
  const std::string dead = "dead." + subject;
  Result<bus::PublishAck> stored =
      bus.Publish(bus::OutgoingMessage{dead, id, delivery.payload, delivery.traceparent});
  if (!stored.ok()) {
    return stored.status().WithContext(subject + " message " + std::to_string(delivery.sequence) +
                                       " (" + why.message() + ") could not be dead-lettered");
  }
  return Status::Ok();
}

Status EnsureDeadLetterStream(bus::MessageBus& bus, int replicas) {
  bus::StreamConfig config;
  config.name = std::string(kDeadLetterStream);
  config.subjects = {"dead.>"};
  config.replicas = replicas;
  return bus.AddStream(config);
}

Status EnsureMarketStream(bus::MessageBus& bus, int replicas) {
  bus::StreamConfig config;
  config.name = std::string(kMarketStream);
  config.subjects = {"md.>"};
  config.replicas = replicas;
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  return EnsureDeadLetterStream(bus, replicas);
}

Status MarketPublisherOptions::Validate() const {
  if (ticks_per_message < 1 || ticks_per_message > kMaxTicksPerMessage) {
    return InvalidArgument(
        "market publisher: ticks_per_message = " + std::to_string(ticks_per_message) +
        " must be 1.." + std::to_string(kMaxTicksPerMessage));
  }
  if (messages_per_publish < 1) {
    return InvalidArgument("market publisher: messages_per_publish must be at least 1");
  }
  return bus::ValidateName("market feed name", feed);
}

namespace {}  // namespace

MarketPublisher::MarketPublisher(bus::MessageBus& bus, std::string subject,
                                 const Instrument& instrument,
                                 const MarketPublisherOptions& options)
    : bus_(bus),
      subject_(std::move(subject)),
      breaker_("nats: " + subject_, {}, SystemWallClock()),
      id_prefix_(options.feed + "." + instrument.symbol + "."),
      instrument_(instrument.id),
      options_(options) {
  batch_.symbols = {feed::BatchSymbol{instrument.symbol, instrument.digits}};
  batch_.ticks.reserve(options.ticks_per_message);
}

Result<std::unique_ptr<MarketPublisher>> MarketPublisher::Create(
    bus::MessageBus& bus, const Instrument& instrument, const MarketPublisherOptions& options) {
  AITS_RETURN_IF_ERROR(options.Validate());
  AITS_ASSIGN_OR_RETURN(std::string subject, MarketSubject(options.feed, instrument.symbol));
  return std::unique_ptr<MarketPublisher>(
      new MarketPublisher(bus, std::move(subject), instrument, options));
}

Status MarketPublisher::CheckSubjectHoldsThisFeed(const Tick& first) {
  bus::ConsumerConfig config;
  config.stream = std::string(kMarketStream);
  config.filter_subject = subject_;
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer, bus_.Consume(config));
  AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> stored,
                        consumer->Fetch(1, Duration::Millis(100)));
  if (stored.empty()) return Status::Ok();
  const std::string& payload = stored[0].payload;
  feed::TickBatch batch;
  Status decoded =
      payload == kEndOfFeed
          ? DataLoss("an empty feed")
          : codec_.Decode({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()},
                          batch);
  if (decoded.ok() && !batch.ticks.empty() && batch.ticks[0].sequence == 1) {
    const Tick& theirs = batch.ticks[0].tick;
    if (theirs.ts == first.ts && theirs.bid.raw() == first.bid.raw() &&
        theirs.ask.raw() == first.ask.raw()) {
      return Status::Ok();  // the same feed again: the ids store each batch once
    }
  }
  return FailedPrecondition(subject_ +
                            " already holds another feed (its first message is not this feed's "
                            "first tick); publish this one under another feed name (--market)");
}

Status MarketPublisher::Add(const Tick& tick, int64_t source_msc) {
  if (!checked_) {
    AITS_RETURN_IF_ERROR(CheckSubjectHoldsThisFeed(tick));
    checked_ = true;
  }
  feed::SequencedTick& added = batch_.ticks.emplace_back();
  added.tick = tick;
  added.tick.instrument = InstrumentId{0};  // the index of the batch's one symbol
  added.sequence = next_sequence_ + batch_.ticks.size() - 1;
  added.source_msc = source_msc;
  if (batch_.ticks.size() < options_.ticks_per_message) return Status::Ok();
  if (Status cut = CutBatch(); !cut.ok()) {
    batch_.ticks.pop_back();  // the caller may fix or skip this tick; the batch stays as it was
    return cut;
  }
  if (cut_.size() < options_.messages_per_publish) return Status::Ok();
  return Flush();
}

Status MarketPublisher::CutBatch() {
  if (batch_.ticks.empty()) return Status::Ok();
  std::vector<uint8_t> encoded;
  AITS_RETURN_IF_ERROR(
      codec_.Encode(batch_, feed::Compression::kLz4, encoded).WithContext(subject_));
  const uint64_t last = next_sequence_ + batch_.ticks.size() - 1;
  Cut& cut = cut_.emplace_back();
  cut.id = id_prefix_ + std::to_string(next_sequence_) + "-" + std::to_string(last);
  cut.payload = std::string(View(encoded));
  if (options_.tracer != nullptr) {
    cut.span = options_.tracer->StartRoot("md.publish", trace::SpanKind::kProducer);
    cut.span.SetAttribute("messaging.destination.name", subject_);
    cut.span.SetAttribute("aits.ticks", static_cast<int64_t>(batch_.ticks.size()));
    cut.span.SetAttribute("aits.first_sequence", static_cast<int64_t>(next_sequence_));
    cut.traceparent = cut.span.traceparent();
  }
  next_sequence_ += batch_.ticks.size();
  batch_.ticks.clear();
  return Status::Ok();
}

Status MarketPublisher::Flush() {
  if (cut_.empty()) return Status::Ok();
  std::vector<bus::OutgoingMessage> messages;
  messages.reserve(cut_.size());
  for (const Cut& cut : cut_) {
    messages.push_back({subject_, cut.id, cut.payload, cut.traceparent});
  }
  // In order, each stored before the next goes (no hole a reader would take for lost ticks),
  // retried through a leader election. On an error nothing is dropped: the same messages (same
  // ids) go again with the next call.
  AITS_ASSIGN_OR_RETURN(std::vector<bus::PublishAck> acks,
                        bus::PublishInOrder(bus_, messages, breaker_));
  for (size_t idx = 0; idx < cut_.size(); ++idx) {
    if (acks[idx].duplicate) ++stats_.duplicates;
    stats_.bytes += cut_[idx].payload.size();
    if (options_.tracer != nullptr) options_.tracer->End(cut_[idx].span);
  }
  stats_.messages += cut_.size();
  stats_.ticks = next_sequence_ - 1 - stats_.resumed_after;  // this run's
  cut_.clear();
  return Status::Ok();
}

Status MarketPublisher::Publish() {
  AITS_RETURN_IF_ERROR(CutBatch());
  return Flush();
}

Status MarketPublisher::Finish() {
  AITS_RETURN_IF_ERROR(Publish());
  const std::string id = id_prefix_ + "end";
  const bus::OutgoingMessage end[] = {{subject_, id, kEndOfFeed}};
  AITS_ASSIGN_OR_RETURN(std::vector<bus::PublishAck> acks,
                        bus::PublishInOrder(bus_, end, breaker_));
  if (acks[0].duplicate) ++stats_.duplicates;
  return Status::Ok();
}

Status MarketPublisher::Stop() {
  batch_.ticks.clear();
  return Flush();
}

namespace {

// `held` first, then the rest of `inner`.
class PrefixedSource final : public data::TickSource {
 public:
  PrefixedSource(std::unique_ptr<data::TickSource> inner, std::vector<Tick> held)
      : inner_(std::move(inner)), held_(std::move(held)) {}
  Result<size_t> Read(std::span<Tick> out) override {
    if (next_ < held_.size()) {
      const size_t n = std::min(out.size(), held_.size() - next_);
      std::copy_n(held_.begin() + static_cast<std::ptrdiff_t>(next_), n, out.begin());
      next_ += n;
      return n;
    }
    return inner_->Read(out);
  }
  const data::ReadStats& stats() const override { return inner_->stats(); }
  double Progress() const override { return inner_->Progress(); }

 private:
  std::unique_ptr<data::TickSource> inner_;
  std::vector<Tick> held_;
  size_t next_ = 0;
};

// A source with no ticks: the stream holds the whole feed.
class EndedSource final : public data::TickSource {
 public:
  Result<size_t> Read(std::span<Tick> /*out*/) override { return size_t{0}; }
  const data::ReadStats& stats() const override { return stats_; }
  double Progress() const override { return 1.0; }

 private:
  data::ReadStats stats_;
};

bool SameQuote(const Tick& a, const Tick& b) {
  return a.ts == b.ts && a.bid.raw() == b.bid.raw() && a.ask.raw() == b.ask.raw();
}

}  // namespace

Result<std::optional<MarketPublisher::LastMessage>> MarketPublisher::ReadLastMessage() {
  std::optional<bus::Delivery> last;
  // Retried through a leader election, as the publishes are.
  AITS_RETURN_IF_ERROR(bus::Retried(breaker_, [&] {
    Result<std::optional<bus::Delivery>> got = bus_.LastMessage(kMarketStream, subject_);
    if (got.ok()) last = std::move(got).value();
    return got.status();
  }));
  if (!last) return std::optional<LastMessage>();
  LastMessage message;
  if (last->payload == kEndOfFeed) {
    message.ended = true;
    return std::optional<LastMessage>(message);
  }
  feed::TickBatch batch;
  const std::string& payload = last->payload;
  AITS_RETURN_IF_ERROR(
      codec_.Decode({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, batch)
          .WithContext(subject_ + " message " + std::to_string(last->sequence) +
                       ", the last the stream holds"));
  if (batch.ticks.empty()) return DataLoss(subject_ + ": the last message holds no tick");
  message.last = batch.ticks.back();
  return std::optional<LastMessage>(message);
}

Result<std::optional<MarketPublisher::HeldTick>> MarketPublisher::ContinueLive() {
  if (checked_ || next_sequence_ != 1 || !batch_.ticks.empty()) {
    return FailedPrecondition(subject_ +
                              ": ContinueLive on a publisher that has begun (Add or Resume)");
  }
  AITS_ASSIGN_OR_RETURN(const std::optional<LastMessage> last, ReadLastMessage());
  if (last && last->ended) {
    return FailedPrecondition(subject_ +
                              " holds a feed that ended (its end marker), and a live feed never "
                              "ends: another dataset under this --market?");
  }
  // What the subject holds is this publisher's own feed, or nothing: the first Add need not
  // compare first ticks (a live feed's first tick is never seen again).
  checked_ = true;
  if (!last) return std::optional<HeldTick>();
  HeldTick held;
  held.tick = last->last.tick;
  held.tick.instrument = instrument_;  // the batch numbers its one symbol 0
  held.source_msc = last->last.source_msc;
  held.sequence = last->last.sequence;
  stats_.resumed_after = held.sequence;
  next_sequence_ = held.sequence + 1;
  return std::optional<HeldTick>(held);
}

Result<std::unique_ptr<data::TickSource>> MarketPublisher::Resume(
    std::unique_ptr<data::TickSource> source) {
  AITS_ASSIGN_OR_RETURN(const std::optional<LastMessage> last, ReadLastMessage());
  if (!last) return source;
  const bool ended = last->ended;
  const uint64_t held = ended ? 0 : last->last.sequence;
  const Tick held_last = last->last.tick;
  // Read through what the stream holds, checking the first tick and the last one held.
  std::vector<Tick> chunk(4096);
  uint64_t read = 0;
  bool first = true;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(const size_t n, source->Read(chunk));
    if (n == 0) {
      if (ended && !first) break;
      return FailedPrecondition(subject_ + " holds " + std::to_string(held) +
                                " ticks of this feed but the feed has only " +
                                std::to_string(read) + "; another dataset under this --market?");
    }
    if (first) {
      AITS_RETURN_IF_ERROR(CheckSubjectHoldsThisFeed(chunk[0]));
      checked_ = true;
      first = false;
      if (ended) break;
    }
    if (read + n < held) {
      read += n;
      continue;
    }
    const size_t at = static_cast<size_t>(held - read - 1);  // the last tick held, in this chunk
    if (!SameQuote(chunk[at], held_last)) {
      return FailedPrecondition(subject_ + ": its tick " + std::to_string(held) +
                                " is not this feed's tick " + std::to_string(held) +
                                "; another dataset under this --market?");
    }
    stats_.resumed_after = held;
    next_sequence_ = held + 1;
    return std::unique_ptr<data::TickSource>(std::make_unique<PrefixedSource>(
        std::move(source), std::vector<Tick>(chunk.begin() + static_cast<std::ptrdiff_t>(at) + 1,
                                             chunk.begin() + static_cast<std::ptrdiff_t>(n))));
  }
  stats_.already_ended = true;
  return std::unique_ptr<data::TickSource>(std::make_unique<EndedSource>());
}

Result<IngestResult> IngestFeeds(bus::MessageBus& bus,
                                 std::vector<std::unique_ptr<data::TickSource>> sources,
                                 const std::vector<Instrument>& instruments,
                                 const IngestOptions& options) {
  if (sources.empty() || sources.size() != instruments.size()) {
    return InvalidArgument("ingest: " + std::to_string(sources.size()) + " feeds for " +
                           std::to_string(instruments.size()) + " instruments");
  }
  if (!(options.speed >= 0)) return InvalidArgument("ingest: speed must be >= 0");
  std::vector<std::unique_ptr<MarketPublisher>> publishers;
  std::vector<size_t> feed_of;  // instrument id -> feed index
  for (size_t idx = 0; idx < instruments.size(); ++idx) {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<MarketPublisher> publisher,
                          MarketPublisher::Create(bus, instruments[idx], options.publish));
    AITS_ASSIGN_OR_RETURN(sources[idx], publisher->Resume(std::move(sources[idx])));
    publishers.push_back(std::move(publisher));
    const size_t id = instruments[idx].id.value;
    if (feed_of.size() <= id) feed_of.resize(id + 1, SIZE_MAX);
    feed_of[id] = idx;
  }
  data::MergedTickSource merged(std::move(sources));
  std::vector<Tick> ticks(4096);
  uint64_t total = 0;
  uint64_t next_progress = 100'000;
  std::optional<Timestamp> first;
  const auto wall_anchor = std::chrono::steady_clock::now();
  IngestResult result;
  const auto stopping = [&] { return options.stop != nullptr && options.stop->load(); };
  while (!result.stopped) {
    AITS_ASSIGN_OR_RETURN(size_t count, merged.Read(ticks));
    if (count == 0) break;
    for (size_t idx = 0; idx < count && !result.stopped; ++idx) {
      const Tick& tick = ticks[idx];
      const size_t id = tick.instrument.value;
      if (id >= feed_of.size() || feed_of[id] == SIZE_MAX) {
        return InvalidArgument("ingest: a tick of instrument id " + std::to_string(id) +
                               ", which no feed is");
      }
      if (options.speed > 0) {
        if (!first) first = tick.ts;
        const auto due =
            wall_anchor + std::chrono::nanoseconds(static_cast<int64_t>(
                              static_cast<double>(tick.ts.ns - first->ns) / options.speed));
        if (std::chrono::steady_clock::now() < due) {
          // Ahead of the feed: what waits goes out now rather than with later ticks.
          for (std::unique_ptr<MarketPublisher>& publisher : publishers) {
            AITS_RETURN_IF_ERROR(publisher->Publish());
          }
        }
        // In slices, so that a stop is seen within 100 ms even between sparse ticks.
        while (std::chrono::steady_clock::now() < due && !stopping()) {
          std::this_thread::sleep_until(
              std::min(due, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
        }
      }
      if (stopping()) {
        result.stopped = true;
        break;
      }
      AITS_RETURN_IF_ERROR(publishers[feed_of[id]]->Add(tick));
      ++total;
    }
    if (options.progress && total >= next_progress) {
      options.progress(total);
      next_progress = total + 100'000;
    }
    result.stopped = result.stopped || stopping();
  }
  for (std::unique_ptr<MarketPublisher>& publisher : publishers) {
    AITS_RETURN_IF_ERROR(result.stopped ? publisher->Stop() : publisher->Finish());
    result.feeds.push_back(publisher->stats());
  }
  return result;
}

Result<std::unique_ptr<BusTickSource>> BusTickSource::Open(bus::MessageBus& bus,
                                                           const Instrument& instrument,
                                                           const BusSourceOptions& options) {
  if (options.fetch_max < 1) return InvalidArgument("bus tick source: fetch_max must be >= 1");
  AITS_ASSIGN_OR_RETURN(std::string subject, MarketSubject(options.feed, instrument.symbol));
  bus::ConsumerConfig config;
  config.stream = std::string(kMarketStream);
  config.filter_subject = subject;
  config.start = bus::StartAt::kFirst;
  config.ack_all = true;  // one ack per fetch: what drains a fast stream fastest
  config.max_ack_pending = std::max(options.fetch_max * 4, 256);
  config.push = options.push;
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer,
                        bus::ConsumeMetered(bus, config, options.metrics, options.reader));
  return std::unique_ptr<BusTickSource>(
      new BusTickSource(bus, std::move(consumer), std::move(subject), instrument, options));
}

Status BusTickSource::Refill() {
  buffered_.clear();
  traceparents_.clear();
  next_ = 0;
  auto idle_since = std::chrono::steady_clock::now();
  while (buffered_.empty() && !ended_ && failed_.ok()) {
    AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> deliveries,
                          consumer_->Fetch(options_.fetch_max, Duration::Millis(200)));
    if (!deliveries.empty()) idle_since = std::chrono::steady_clock::now();
    if (deliveries.empty() && options_.stop != nullptr && options_.stop->load()) {
      return FailedPrecondition(subject_ + ": stopped while waiting for market data after tick " +
                                std::to_string(last_sequence_));
    }
    if (deliveries.empty()) {
      const auto idle = std::chrono::steady_clock::now() - idle_since;
      if (options_.idle_timeout.ns > 0 &&
          idle >= std::chrono::nanoseconds(options_.idle_timeout.ns)) {
        return DeadlineExceeded(subject_ + ": no market data for " +
                                std::to_string(options_.idle_timeout.ns / 1'000'000'000) +
                                " s after tick " + std::to_string(last_sequence_) +
                                " (is the ingestion role running?)");
      }
      continue;
    }
    // Applied by sequence: the stream's order is the feed's, but a redelivered batch comes
    // after newer ones (docs/services.md), so each tick is checked against the last.
    uint64_t highest_stream_sequence = 0;
    const int64_t received = WallNowNs();
    for (const bus::Delivery& delivery : deliveries) {
      if (!failed_.ok()) break;
      ++messages_;
      if (options_.delay != nullptr) {
        options_.delay->delay.Record(std::max<int64_t>(0, received - delivery.stored.ns));
        options_.delay->max_pending = std::max(options_.delay->max_pending, delivery.pending);
        ++options_.delay->messages;
      }
      highest_stream_sequence = std::max(highest_stream_sequence, delivery.sequence);
      if (delivery.payload == kEndOfFeed) {
        ended_ = true;
        continue;
      }
      const auto* bytes = reinterpret_cast<const uint8_t*>(delivery.payload.data());
      Status decoded = codec_.Decode({bytes, delivery.payload.size()}, batch_);
      if (decoded.ok() &&
          (batch_.symbols.size() != 1 || batch_.symbols[0].name != instrument_.symbol ||
           batch_.symbols[0].digits != instrument_.digits)) {
        decoded = DataLoss("a batch of another symbol or precision");
      }
      if (!decoded.ok()) {
        ++dead_lettered_;
        AITS_RETURN_IF_ERROR(DeadLetter(bus_, subject_, delivery, decoded));
        continue;
      }
      // Once one message carried a traceparent, every later one is entered (an empty one too),
      // so that its ticks are not taken for the traced message's.
      if (!delivery.traceparent.empty() || !traceparents_.empty()) {
        traceparents_.emplace_back(buffered_.size(), delivery.traceparent);
      }
      const size_t first_new = buffered_.size();
      for (const feed::SequencedTick& sequenced : batch_.ticks) {
        if (sequenced.sequence <= last_sequence_) {
          ++duplicates_;
          continue;
        }
        if (sequenced.sequence != last_sequence_ + 1) {
          // The ticks before the gap are handed out first; the next Read after them fails.
          failed_ = DataLoss(subject_ + ": ticks " + std::to_string(last_sequence_ + 1) + ".." +
                             std::to_string(sequenced.sequence - 1) + " missing (message " +
                             std::to_string(delivery.sequence) + ")");
          break;
        }
        Tick tick = sequenced.tick;
        tick.instrument = instrument_.id;
        buffered_.push_back(tick);
        last_sequence_ = sequenced.sequence;
      }
      if (options_.traces != nullptr && buffered_.size() > first_new) {
        options_.traces->Add(static_cast<uint32_t>(instrument_.id.value), buffered_[first_new].ts,
                             delivery.traceparent);
      }
    }
    AITS_RETURN_IF_ERROR(consumer_->Ack(highest_stream_sequence));
  }
  stats_.rows += buffered_.size();
  stats_.accepted += buffered_.size();
  return Status::Ok();
}

Result<size_t> BusTickSource::Read(std::span<Tick> out) {
  if (next_ == buffered_.size()) {
    if (!failed_.ok()) return failed_;
    if (ended_) return size_t{0};
    AITS_RETURN_IF_ERROR(Refill());
    if (buffered_.empty() && !failed_.ok()) return failed_;
  }
  const size_t count = std::min(out.size(), buffered_.size() - next_);
  std::copy_n(buffered_.begin() + static_cast<std::ptrdiff_t>(next_), count, out.begin());
  last_read_ = next_;
  next_ += count;
  return count;
}

std::string_view BusTickSource::TraceparentOf(size_t offset) const {
  const size_t index = last_read_ + offset;
  // The last message that started at or before the tick (a message whose ticks were all
  // repeats starts where the next one does, and is passed over).
  std::string_view found;
  for (const auto& [start, traceparent] : traceparents_) {
    if (start > index) break;
    found = traceparent;
  }
  return found;
}

}  // namespace aits::services
