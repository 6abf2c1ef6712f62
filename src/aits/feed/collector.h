// The data collector: the client side that sits beside the MT5 terminal, takes every quote,
// and ships it to the server without losing any while the server is away (docs/feed.md).
//
// Accept() validates and normalises a quote: symbol, time, bid, ask and volume must be present;
// the symbol (trimmed, upper-cased) must be one of CollectorOptions::symbols; numbers finite,
// bid > 0, ask > 0, ask >= bid (judged on the values as given, before rounding), volume >= 0, time
// after 1970 and never earlier than the symbol's previous accepted quote. Prices are rounded to
// the symbol's digits (a positive price that rounds to zero is refused as non-positive). Every
// rejection is counted under its reason (CollectorStats::rejected) and the last one is kept with
// the symbol, field and value: never silent. An accepted quote gets the next sequence number of
// its symbol (1, 2, ...; they restart at 1 with a new Collector, the receiver's key includes the
// time) and goes into the ring (10,000 entries by default).
//
// Poll() ships: the oldest spilled batch first, then the batch in flight, then a new LZ4 batch of
// up to max_batch_ticks from the ring, each through Uplink::Send, while sends succeed. A failed
// send is retried max_retries (3) times after 1, 2 and 4 s (first_backoff doubled); when those
// fail too the batch is appended to the spill file and the uplink is taken as down: from then on
// the oldest spilled batch is tried every reconnect_interval, and when one goes through the spill
// is resent in order, then the ring. A ring that fills up (whatever the uplink's state) moves its
// oldest spill_batch_ticks (5,000) ticks to the spill as one batch, after the batch in flight, so
// the order on the wire is the order of acceptance and nothing is dropped. Shutdown() spills what
// is still in memory.
//
// Time comes from the injected Clock and waiting from the injected Sleeper (Drain), so tests run
// hours of outage in microseconds. Poll never blocks on a back-off: quotes keep flowing into the
// ring while the uplink waits. Single-threaded: Accept, Poll and Drain on one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/feed/spill.h"
#include "aits/feed/tick_batch.h"

namespace aits::feed {

// Where batches go: the server, over whatever transport (TCP in production, a fake in tests).
// Send returns OK once the server has the batch; any error means "not known to be delivered" and
// the batch is sent again later (so the server may see it twice: dedup.h).
class Uplink {
 public:
  virtual ~Uplink() = default;
  virtual Status Send(std::span<const uint8_t> batch) = 0;
};

// What Drain waits with. WallSleeper sleeps; tests advance a SimulatedClock instead.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepUntil(Timestamp until) = 0;
};

class WallSleeper final : public Sleeper {
 public:
  void SleepUntil(Timestamp until) override;
};

// Sleeping is moving a SimulatedClock forward (tests, benchmarks, replays).
class SimulatedSleeper final : public Sleeper {
 public:
  explicit SimulatedSleeper(SimulatedClock& clock) : clock_(clock) {}
  void SleepUntil(Timestamp until) override { clock_.AdvanceTo(until); }

 private:
  SimulatedClock& clock_;
};

// One quote as the terminal reports it; an empty optional is a field that was missing.
struct Quote {
  std::string_view symbol;
  std::optional<Timestamp> time;
  std::optional<double> bid;
  std::optional<double> ask;
  // MT5 reports one volume per tick; it is stored as both the bid and the ask volume.
  std::optional<double> volume;
};

enum class QuoteReject : uint8_t {
  kMissingSymbol,
  kMissingTime,
  kMissingBid,
  kMissingAsk,
  kMissingVolume,
  kUnknownSymbol,
  kNonFinite,
  kNonPositivePrice,
  kCrossed,
  kNegativeVolume,
  kBadTime,        // before 1970
  kTimeBackwards,  // earlier than the symbol's previous accepted quote
  kSpillFailed,    // the ring was full and the spill file could not take its oldest ticks
  kCount,
};
std::string_view ToString(QuoteReject reason);  // "missing_symbol", ...

struct CollectorSymbol {
  std::string name;  // as the terminal names it, compared upper-cased
  int digits = 5;
};

struct CollectorOptions {
  std::vector<CollectorSymbol> symbols;
  size_t ring_capacity = 10'000;
  size_t max_batch_ticks = 1'000;  // ticks per live batch
  // Ticks moved to the spill at once when the ring is full: half the ring, so that a sustained
  // outage costs one record (and one fdatasync) per 5,000 ticks.
  size_t spill_batch_ticks = 5'000;
  int max_retries = 3;                            // after the first failed send
  Duration first_backoff = Duration::Seconds(1);  // doubled after each retry: 1, 2, 4 s
  Duration reconnect_interval = Duration::Seconds(5);
  std::string spill_path;
  SpillOptions spill;

  // InvalidArgument naming the first bad field.
  Status Validate() const;
};

struct CollectorStats {
  uint64_t accepted = 0;
  std::array<uint64_t, static_cast<size_t>(QuoteReject::kCount)> rejected{};
  std::string last_rejection;  // "quote EURUSD field 'ask' value '1.1': crossed"

  uint64_t batches_sent = 0;  // live batches delivered (from the ring)
  uint64_t ticks_sent = 0;
  uint64_t failed_sends = 0;  // every failed Uplink::Send
  uint64_t outages = 0;       // times the retries ran out and the uplink was taken as down
  std::string last_send_error;

  uint64_t ring_overflows = 0;   // times the full ring moved ticks to the spill
  uint64_t batches_spilled = 0;  // records appended to the spill file
  uint64_t ticks_spilled = 0;
  uint64_t batches_resent = 0;      // spilled records delivered
  uint64_t spill_records_lost = 0;  // records that changed on disk and could not be resent
  SpillRecovery recovery;           // what opening the spill file found

  uint64_t TotalRejected() const;
};

class Collector {
 public:
  // Opens (and recovers) the spill file. The uplink, clock and sleeper must outlive the
  // collector. InvalidArgument for bad options; the spill file's errors (spill.h).
  static Result<std::unique_ptr<Collector>> Open(CollectorOptions options, Uplink& uplink,
                                                 const Clock& clock);
  ~Collector();

  // Validates, normalises, sequences and queues one quote. OK if accepted; InvalidArgument (the
  // rejection, also counted) if not; the spill file's error if the ring was full and the spill
  // failed (the quote is refused and counted as kSpillFailed; the ring keeps what it had).
  Status Accept(const Quote& quote);

  // Sends what is due (see the header comment); returns at the first failed send or when nothing
  // is left. Errors are local ones only (the spill file); uplink failures are counted in stats().
  Status Poll();

  // Polls and sleeps until everything accepted is delivered (OK), or the next attempt would fall
  // after `deadline` (FailedPrecondition naming what is still queued and the last send error).
  Status Drain(Sleeper& sleeper, Timestamp deadline);

  // Moves the batch in flight and the ring to the spill file, so a clean stop loses nothing.
  Status Shutdown();

  bool uplink_down() const { return down_; }
  // When Poll will next try to send (now, if nothing is being waited for).
  Timestamp next_attempt() const { return next_attempt_; }
  size_t ring_size() const { return ring_count_; }
  size_t spilled_records() const { return spill_->records(); }
  // Nothing in the ring, in flight or in the spill.
  bool idle() const { return ring_count_ == 0 && !pending_ && spill_->empty(); }
  const CollectorStats& stats() const { return stats_; }

 private:
  struct SymbolState {
    std::string name;
    int digits = 5;
    uint64_t sequence = 0;
    Timestamp last_time{};
    bool seen = false;
  };
  struct Pending {
    std::vector<uint8_t> bytes;
    size_t ticks = 0;
  };

  Collector(CollectorOptions options, Uplink& uplink, const Clock& clock,
            std::unique_ptr<SpillFile> spill);
  void CountRejection(QuoteReject reason, std::string_view symbol, const char* field,
                      const std::string& value);
  // Counts the rejection and returns it as an InvalidArgument.
  Status Reject(QuoteReject reason, std::string_view symbol, const char* field,
                const std::string& value);
  // Encodes the oldest `count` ring entries into `out` (they stay in the ring).
  Status EncodeRing(size_t count, Pending& out);
  void DropFromRing(size_t count);
  Status SpillPending();
  // Moves the oldest spill_batch_ticks ring entries to the spill as one record.
  Status SpillFromRing();
  Status SpillRingOverflow();
  // Counts the failure and schedules the next attempt; spills the batch in flight when the
  // retries have run out.
  Status OnSendFailed(const Status& status, Timestamp now, bool from_spill);

  CollectorOptions options_;
  Uplink& uplink_;
  const Clock& clock_;
  std::unique_ptr<SpillFile> spill_;
  TickBatchCodec codec_;
  std::vector<SymbolState> symbols_;
  std::vector<SequencedTick> ring_;  // tick.instrument = index in symbols_
  size_t ring_head_ = 0;
  size_t ring_count_ = 0;
  std::optional<Pending> pending_;
  std::vector<uint8_t> resend_;
  TickBatch scratch_batch_;
  std::vector<int> batch_index_;  // symbols_ index -> index in scratch_batch_ (-1: absent)
  int failures_ = 0;              // consecutive failed sends of the current head
  bool down_ = false;
  Timestamp next_attempt_{};
  CollectorStats stats_;
};

}  // namespace aits::feed
