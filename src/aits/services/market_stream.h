// Market data over the message bus: the MARKET stream between the ingestion role and the roles
// that consume ticks (docs/services.md, "Market data over the bus"; ADR 0007, decision 1).
//
// The stream holds one subject per market and symbol, md.<FEED>.<SYMBOL>: FEED names the market
// data (a replayed file, a synthetic market, the live terminal's), so that another dataset of
// the same symbol is another subject, and the ingestion role refuses to publish over a subject
// that holds other ticks. A message is a tick batch of one symbol
// (aits/feed/tick_batch.h: varint deltas, LZ4, checked on decode) whose per-symbol sequences
// number the feed's ticks 1, 2, 3, ...; a feed that ends publishes the end marker after its last
// batch. At maximum speed batches are cut every `ticks_per_message` ticks, so a publisher that
// restarts and publishes the same feed again cuts the same batches, and their ids —
// "<FEED>.<SYMBOL>.<first>-<last sequence>" — make the stream store each once. Paced, what is
// buffered goes out whenever the next tick is not due yet, so that no tick waits for others; a
// batch cut differently by a restart is stored again, and its consumer drops the ticks it has.
//
// A consumer (BusTickSource) reads one symbol in stream order and hands its ticks out as a
// data::TickSource, so a paper session takes them exactly as it takes a file's or the synthetic
// market's: the same merge, the same resume (skip what the log consumed), the same results. It
// applies by sequence, never by arrival: a batch delivered again (a redelivery, a republished
// duplicate) is dropped up to the last tick handed out, and a gap is DataLoss naming the ticks
// missing. (It acknowledges every fetch at once, so a redelivery after newer batches, which would
// read as a gap, needs an ack lost for the whole ack_wait.) A message that is not a batch of this
// symbol is counted, copied to the DEAD stream (dead.md.<FEED>.<SYMBOL>, its id naming the stream
// sequence) and skipped: never a crash, never silently gone; if it held ticks of the feed, the
// next batch shows the gap.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/core/latency_histogram.h"
#include "aits/core/metrics.h"
#include "aits/core/resilience.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/data/source.h"
#include "aits/feed/tick_batch.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/trace/tick_traces.h"
#include "aits/trace/tracer.h"

namespace aits::services {

inline constexpr std::string_view kMarketStream = "MARKET";
// The payload that ends a symbol's feed (a tick batch starts with "AITB").
inline constexpr std::string_view kEndOfFeed = "AITS-END-OF-FEED";

// "<kind>.<feed>.<symbol>": the subject of one symbol's messages of one kind (md, feat, pred).
// InvalidArgument when feed or symbol is not one subject token ([A-Za-z0-9_-]+).
Result<std::string> SymbolSubject(std::string_view kind, std::string_view feed,
                                  std::string_view symbol);
// "md.<feed>.<symbol>", "md.default.EURUSD".
inline Result<std::string> MarketSubject(std::string_view feed, std::string_view symbol) {
  return SymbolSubject("md", feed, symbol);
}
inline constexpr std::string_view kDeadLetterStream = "DEAD";
// Copies a message its reader cannot apply to the DEAD stream, as dead.<subject> with the id
// "<subject>.<stream sequence>" (so a redelivery is stored once); the error names the message
// and why it was dead-lettered when the copy fails.
Status DeadLetter(bus::MessageBus& bus, const std::string& subject, const bus::Delivery& delivery,
                  const Status& why);

// Creates the DEAD stream (dead.>), or checks the existing one.
Status EnsureDeadLetterStream(bus::MessageBus& bus, int replicas = 1);
// Creates the MARKET stream (md.>) and the DEAD stream (dead.>), or checks the existing ones.
Status EnsureMarketStream(bus::MessageBus& bus, int replicas = 1);

struct MarketPublisherOptions {
  std::string feed = "default";      // the market's name: md.<feed>.<SYMBOL>
  size_t ticks_per_message = 512;    // 1..65,536: below the bus's 1 MiB even uncompressed
  size_t messages_per_publish = 16;  // messages sent as one PublishBatch
  // Not owned; none: no traceparent. Each message is the root of a trace ("md.publish", sampled
  // by the tracer's ratio), its traceparent on the message: the features role's spans hang
  // under it.
  trace::Tracer* tracer = nullptr;
  Status Validate() const;
};

struct PublishStats {
  uint64_t ticks = 0;  // published by this publisher (a restarted one: after resumed_after)
  uint64_t messages = 0;
  uint64_t duplicates = 0;  // messages the stream had already stored (a republished feed)
  uint64_t bytes = 0;       // payload bytes published
  // A restarted publisher: the feed's ticks the stream already held, skipped (not in `ticks`),
  // and whether it held the whole feed (its end marker).
  uint64_t resumed_after = 0;
  bool already_ended = false;
};

// Publishes one symbol's ticks, in order. Not thread-safe.
class MarketPublisher {
 public:
  // The last tick a subject holds (ContinueLive): tick.instrument is the publisher's instrument.
  struct HeldTick {
    Tick tick;
    int64_t source_msc = 0;  // the trade server's time of the tick, 0 if it had none
    uint64_t sequence = 0;   // its number in the feed
  };

  static Result<std::unique_ptr<MarketPublisher>> Create(bus::MessageBus& bus,
                                                         const Instrument& instrument,
                                                         const MarketPublisherOptions& options);
  // Buffers the tick; publishes when `messages_per_publish` batches are full. Errors: the
  // codec's (a tick that breaks the batch format, naming the field: the tick is not taken) or
  // the bus's (the tick is taken, its batch waits: retry with Publish(), whose ids make the retry
  // safe — not with Add, which would take the tick twice). The first Add checks the subject
  // (CheckSubjectHoldsThisFeed). `source_msc`: the trade server's time of a live tick (MetaTrader's
  // time_msc), carried in the batch so that ContinueLive can read it back; 0 for none.
  Status Add(const Tick& tick, int64_t source_msc = 0);
  // Publishes what is buffered now (a partial batch too).
  Status Publish();
  // Publishes what is buffered, then the end marker.
  Status Finish();
  // Stopping before the end: publishes the whole batches cut so far and drops the ticks of the
  // unfinished one, so that a restarted publisher cuts (and the stream de-duplicates) the same
  // batches. No end marker: the feed goes on when the publisher comes back.
  Status Stop();
  // Before the first Add, for a publisher that restarts: reads how much of the feed `source`
  // the stream already holds (its last message on the subject), checks that it is this feed
  // (its first tick, and the last tick held against the source's tick of that sequence; another
  // dataset is FailedPrecondition naming the tick), and returns the source positioned after it —
  // empty when the stream holds the whole feed — with the publisher's numbering continuing from
  // there (stats().resumed_after). A subject that holds nothing returns the source as it is.
  Result<std::unique_ptr<data::TickSource>> Resume(std::unique_ptr<data::TickSource> source);
  // Before the first Add, for a live feed's publisher that restarts (the gateway role: it has no
  // source to re-read, it asks its terminal for the ticks after the last one's source time): the
  // last tick the subject holds (its sequence and source time), with the publisher's numbering
  // continuing after it (stats().resumed_after); nullopt when the subject holds nothing. A
  // subject whose feed ended (its end marker) is FailedPrecondition naming it: a live feed is
  // never finished, so that is another dataset. Called after an Add: FailedPrecondition.
  Result<std::optional<HeldTick>> ContinueLive();
  const PublishStats& stats() const { return stats_; }

 private:
  MarketPublisher(bus::MessageBus& bus, std::string subject, const Instrument& instrument,
                  const MarketPublisherOptions& options);
  // Before the first tick: the subject is empty, or holds this feed (a republish). Another
  // dataset there is FailedPrecondition: its readers would take the old ticks for these.
  Status CheckSubjectHoldsThisFeed(const Tick& first);
  // The subject's last message, for Resume and ContinueLive: nullopt when it holds nothing, else
  // the end marker or the last tick of its batch (decoded and checked).
  struct LastMessage {
    bool ended = false;
    feed::SequencedTick last;  // when not ended; last.tick.instrument is the batch's index (0)
  };
  Result<std::optional<LastMessage>> ReadLastMessage();
  Status CutBatch();  // the ticks buffered since the last cut become one encoded message
  Status Flush();     // publishes the cut messages

  bus::MessageBus& bus_;
  std::string subject_;
  CircuitBreaker breaker_;  // of the bus, for this subject's publishes
  std::string id_prefix_;   // "<feed>.<SYMBOL>."
  InstrumentId instrument_;
  MarketPublisherOptions options_;
  feed::TickBatchCodec codec_;
  feed::TickBatch batch_;
  uint64_t next_sequence_ = 1;
  bool checked_ = false;
  struct Cut {
    std::string id;
    std::string payload;
    trace::Span span;  // from its cut to its publish; when there is a tracer
    std::string traceparent;
  };
  std::vector<Cut> cut_;
  PublishStats stats_;
};

struct IngestOptions {
  MarketPublisherOptions publish;
  double speed = 0;                         // times the ticks' own pace; 0: as fast as possible
  const std::atomic<bool>* stop = nullptr;  // set by a signal handler: Stop() every publisher
  std::function<void(uint64_t ticks)> progress;  // about every 100,000 ticks
};

struct IngestResult {
  std::vector<PublishStats> feeds;  // in the order of the sources
  bool stopped = false;             // by `stop`, before the feeds' end
};

// The ingestion role: publishes several feeds (`sources[i]` is `instruments[i]`'s, its ticks
// stamped with instruments[i].id) merged in time order, equal times in feed order — the order in
// which the embedded node takes them — each to its own subject, paced at `speed`; then ends each.
// Each feed continues after what the stream already holds of it (MarketPublisher::Resume): a
// restarted ingestion neither repeats nor skips a tick, and paces from where it resumed.
Result<IngestResult> IngestFeeds(bus::MessageBus& bus,
                                 std::vector<std::unique_ptr<data::TickSource>> sources,
                                 const std::vector<Instrument>& instruments,
                                 const IngestOptions& options);

// How late market data reaches its reader, per message: from the moment the stream stored it
// (the bus's clock; nats-server's on the same machine) to the moment the reader decoded it; and
// the reader's lag, the messages stored after the one it was handed. The reader's owner keeps it
// (it outlives the sources a session closes).
struct MarketDelay {
  LatencyHistogram delay;
  uint64_t max_pending = 0;
  uint64_t messages = 0;
};

struct BusSourceOptions {
  std::string feed = "default";  // as published (MarketPublisherOptions::feed)
  // A feed with nothing new for this long is an error (DeadlineExceeded naming the subject):
  // the ingestion role is down or was never started. 0: wait for ever.
  Duration idle_timeout = Duration::Seconds(30);
  int fetch_max = 64;            // messages per Fetch
  bool push = false;             // a push consumer (bus::ConsumerConfig::push), or pull
  MarketDelay* delay = nullptr;  // not owned; measured when given
  // The role's metrics registry (not owned), or none: the reader's lag and redeliveries
  // (bus/consumer_metrics.h), its consumer named "<reader>:<subject>".
  Registry* metrics = nullptr;
  std::string reader;  // "owner", "features": who reads, apart in one process
  // Set by a signal handler or another thread: a Read waiting for market data gives up
  // (FailedPrecondition "stopped while waiting …"; the session's log keeps what it took).
  const std::atomic<bool>* stop = nullptr;
  // Not owned; none: not noted. Each message's traceparent, by the time of its first new tick,
  // for the session that takes the ticks (the owner's decisions: trace/tick_traces.h).
  trace::TickTraces* traces = nullptr;
};

// One symbol's feed from the MARKET stream, from its first tick. Read blocks until ticks come,
// the end marker, or the idle timeout.
class BusTickSource final : public data::TickSource {
 public:
  static Result<std::unique_ptr<BusTickSource>> Open(bus::MessageBus& bus,
                                                     const Instrument& instrument,
                                                     const BusSourceOptions& options = {});
  Result<size_t> Read(std::span<Tick> out) override;
  const data::ReadStats& stats() const override { return stats_; }
  // Unknown until the end marker: the feed's length is the publisher's.
  double Progress() const override { return ended_ ? 1.0 : 0.0; }

  uint64_t duplicates() const { return duplicates_; }  // ticks dropped as already handed out
  uint64_t messages() const { return messages_; }
  uint64_t dead_lettered() const { return dead_lettered_; }  // messages that were no batch of it
  // The traceparent of the message that carried the tick at `offset` of the last Read's output
  // (empty: it carried none). Valid until the next Read.
  std::string_view TraceparentOf(size_t offset) const;

 private:
  BusTickSource(bus::MessageBus& bus, std::unique_ptr<bus::Consumer> consumer, std::string subject,
                const Instrument& instrument, const BusSourceOptions& options)
      : bus_(bus),
        consumer_(std::move(consumer)),
        subject_(std::move(subject)),
        instrument_(instrument),
        options_(options) {}
  Status Refill();  // fetches until ticks are buffered or the feed ended

  bus::MessageBus& bus_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::string subject_;
  Instrument instrument_;
  BusSourceOptions options_;
  feed::TickBatchCodec codec_;
  feed::TickBatch batch_;
  std::vector<Tick> buffered_;
  // Where in buffered_ each message's ticks start, with its traceparent: only messages that
  // carried one, so a feed without traces keeps this empty.
  std::vector<std::pair<size_t, std::string>> traceparents_;
  size_t last_read_ = 0;  // buffered_ index of the last Read's first tick
  size_t next_ = 0;
  uint64_t last_sequence_ = 0;  // of the last tick buffered
  bool ended_ = false;
  Status failed_;  // a gap: returned once the ticks before it are handed out
  data::ReadStats stats_;
  uint64_t duplicates_ = 0;
  uint64_t messages_ = 0;
  uint64_t dead_lettered_ = 0;
};

}  // namespace aits::services
