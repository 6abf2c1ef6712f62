// Producers and data clients: whatever feeds the kernel thread's inbox from outside it.
//
// A Producer pushes NodeEvents (node_event.h) into the event loop's inbox from a thread of its
// own: the operator-command feed, a data client. A DataClient is a producer of market data, and
// also tells the loop how far its data has got (Watermark) and when (on the steady clock) its data
// time will reach a given time (WallTimeOf), so that the loop can fire timers between ticks
// without ever moving the kernel past a tick that is still to come (event_loop.h).
//
// Two ways to run a data client:
//   - threaded (paper, live): Start() launches the client's thread, which pushes MarketData and
//     reports its state (connected, end of data, error) through the inbox; the kernel thread
//     drains. The client owns its pacing (a replay waits until each tick is due) and its I/O.
//   - pulled (backtest-style, single-threaded, deterministic): the loop calls Pull() on its own
//     thread for the next ticks as fast as it can take them; no thread, no hand-off, no wall
//     clock. Only clients whose data is already there can be pulled (pullable()).
//
// The MetaTrader 5 gateway (next issue) implements DataClient, threaded only:
//   - Start() opens its TCP server and returns once it listens (an error names the address); its
//     thread accepts the Expert Advisor's connection, reports kConnected, and pushes one
//     MarketData per tick received, stamped with the arrival time on the node's clock (ADR 0003:
//     a live feed's event time is its arrival time), so its ticks are in time order.
//   - Watermark() is that clock's now (any tick still to come will be stamped later), and
//     WallTimeOf(t) maps the node's UTC time to the steady clock (t - now + steady now), so timers
//     fire on the wall clock between ticks.
//   - A lost connection is reported as kError with the peer and the reason. The execution
//     reports it also receives (orders' fates from the terminal) go into the same inbox as
//     ExecutionReportEvents (node_event.h), as an asynchronous execution client's
//     (execution_client.h; node::ThreadedVenue is one).
//   - Stop() closes the socket and joins the thread; it must be idempotent and must not wait for
//     the peer.
//
// Threads: Start() and Stop() are called by the loop, from the kernel thread; Watermark(),
// WallTimeOf() and Progress-like observers from any thread; Pull() from the kernel thread only, and
// never on a started client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/data/source.h"
#include "aits/data/synthetic.h"
#include "aits/node/inbox.h"
#include "aits/node/node_event.h"

namespace aits::node {

using SteadyTime = std::chrono::steady_clock::time_point;

// A watermark past every time: the client has nothing more to deliver.
inline constexpr Timestamp kEndOfTime{std::numeric_limits<int64_t>::max()};

// Flow control between a data client and a loop that merges several clients in time order
// (event_loop.h): the ticks the client has pushed and those the loop has handed to its target.
// The loop owns it; the client's link counts `sent` and waits while it is `window` ahead of
// `released`, so that a client whose data lies far ahead of another's cannot fill the loop's
// memory while the merge waits for the other.
struct ClientFlow {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> released{0};
  uint64_t window = 0;  // 0: no flow control and nothing counted (a loop with one client)
};

// A producer's end of the inbox: its id and the pushes it may make. Copyable; valid while the
// loop that handed it out exists.
class ProducerLink {
 public:
  ProducerLink(Inbox<NodeEvent>* inbox, ProducerId id, ClientFlow* flow = nullptr)
      : inbox_(inbox), id_(id), flow_(flow) {}
  ProducerId id() const { return id_; }

  // Pushes one event, waiting while the inbox is full (never drops) unless `abandon` becomes
  // true meanwhile. Returns false if the event was not accepted: the inbox is closed (the loop is
  // shutting down; the producer should stop) or the producer was asked to stop.
  bool Send(NodeEvent&& event, const std::atomic<bool>& abandon);
  // A tick, stamped with the steady clock just before the push (MarketData::pushed_ns). Under flow
  // control, first waits (giving up like Send) until the loop has released enough of the client's
  // earlier ticks; the tick is counted as sent once it is in the inbox.
  // `source_msc`: the feed's own time of the tick (MarketData::source_msc), 0 if it has none.
  bool SendTick(const Tick& tick, const std::atomic<bool>& abandon, int64_t source_msc = 0);
  // The producer's state (ProducerStatus), after everything it sent before.
  bool Report(ProducerState state, Status error, const std::atomic<bool>& abandon);
  // One attempt, never waiting: kFull leaves `event` untouched for the caller to retry. For a
  // producer that must not block on the kernel thread while the kernel may be waiting for it (an
  // execution client, whose own queue the kernel fills: execution_client.h).
  PushResult TrySend(NodeEvent&& event) { return inbox_->TryPush(std::move(event)); }

 private:
  Inbox<NodeEvent>* inbox_;
  ProducerId id_;
  ClientFlow* flow_;
};

// Pushes events into the loop from its own thread.
class Producer {
 public:
  virtual ~Producer() = default;
  // For messages and logs ("feed", "commands").
  virtual std::string_view name() const = 0;
  // Starts pushing through `link`. Called once, by the loop, on the kernel thread, before the
  // loop drains anything; producers are started in the order they were added. May push before
  // it returns: those events come before anything a later producer pushes. An error here stops
  // the loop before it runs (the producers started before are stopped).
  virtual Status Start(ProducerLink link) = 0;
  // Stops pushing and joins the producer's thread; nothing is pushed after it returns. Must not
  // wait for room in the inbox (the loop may be the one that would make it). Idempotent; a
  // producer never started may be stopped.
  virtual void Stop() = 0;
};

// A producer of market data.
class DataClient : public Producer {
 public:
  // Any thread. No tick with an earlier time will be pushed after this call returns (ticks
  // already pushed may be earlier): the loop may fire a timer due before it once it has handled
  // what is in the inbox. kEndOfTime after the end of the data.
  virtual Timestamp Watermark() const = 0;
  // Any thread. When, on the steady clock, this client's data time reaches `time`: the loop
  // sleeps until then for a timer due at `time`. nullopt while unknown (a replay before its first
  // tick) or never (a replay at maximum speed: its timers fire with the ticks only).
  virtual std::optional<SteadyTime> WallTimeOf(Timestamp time) const = 0;

  // Before Start, on a resumed session: the last tick the event log holds of an instrument, with
  // its source time (MarketData::source_msc). A live client continues right after it (the
  // MetaTrader gateway asks the terminal for the ticks from that time on, so nothing the node
  // missed while it was down is skipped and nothing it logged comes twice). A replay client is
  // positioned by ReplayClient::Skip instead: the default ignores it.
  virtual void ResumeAfter(const Tick& last, int64_t source_msc) {
    (void)last;
    (void)source_msc;
  }

  // Pulled mode: whether Pull() works.
  virtual bool pullable() const { return false; }
  // Pulled mode (kernel thread, never after Start()): the next ticks into `out`, in time order;
  // 0 at the end of the data. Errors: the source's (naming file, line, field).
  virtual Result<size_t> Pull(std::span<Tick> out);
};

struct ReplayOptions {
  // Multiple of the data's own pace (1: as recorded; 60: a minute per second); 0: as fast as the
  // loop takes them. Negative or non-finite: refused by ReplayClient::Create.
  double speed = 1.0;
  // Ticks to deliver at most (after Skip), then end of data; 0: all of them.
  uint64_t limit = 0;
};

// Replays a TickSource (a tick file, the synthetic market), paced by the steady clock or at
// maximum speed, threaded or pulled. The first tick is delivered at once and anchors the pacing:
// tick t is due at anchor + (t - first tick's time) / speed.
class ReplayClient final : public DataClient {
 public:
  // InvalidArgument for a bad speed. `name` is for messages.
  static Result<std::unique_ptr<ReplayClient>> Create(std::string name,
                                                      std::unique_ptr<data::TickSource> source,
                                                      const ReplayOptions& options);
  ~ReplayClient() override;  // Stop()

  // Before Start() or Pull(): skips up to `count` ticks (a resumed session continues after the
  // ticks its log consumed); returns how many it skipped (fewer: the source ended) and stores
  // the last one skipped in *last. Errors: the source's.
  Result<uint64_t> Skip(uint64_t count, std::optional<Tick>* last);
  // Before Start() or Pull(): the time of the next tick without consuming it (nullopt at the end).
  // Several paced clients share one pacing anchor (SetPacingAnchor) taken from the earliest.
  Result<std::optional<Timestamp>> PeekTime();
  // Before Start(): paces from `time` instead of this client's own first tick, with the wall anchor
  // taken when Start() is called. Clients of one loop given the same time keep one pace: tick t of
  // any of them is due at (start + (t - time) / speed), so their ticks meet the merge in time.
  void SetPacingAnchor(Timestamp time);

  std::string_view name() const override { return name_; }
  Status Start(ProducerLink link) override;
  void Stop() override;
  Timestamp Watermark() const override;
  std::optional<SteadyTime> WallTimeOf(Timestamp time) const override;
  bool pullable() const override { return true; }
  Result<size_t> Pull(std::span<Tick> out) override;

  // Any thread: the fraction of the source read (TickSource::Progress), and ticks delivered.
  double Progress() const { return progress_.load(std::memory_order_relaxed); }
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }

 private:
  ReplayClient(std::string name, std::unique_ptr<data::TickSource> source,
               const ReplayOptions& options);
  // The next tick of the source, nullptr at the end (or at the limit).
  Result<const Tick*> Next();
  void Run(ProducerLink link);
  // Sleeps until `due` or until Stop(); false if stopped.
  bool WaitUntil(SteadyTime due);
  void RaiseWatermark(Timestamp time);

  std::string name_;
  std::unique_ptr<data::TickSource> source_;
  ReplayOptions options_;
  std::vector<Tick> batch_;
  size_t batch_size_ = 0;
  size_t batch_next_ = 0;
  bool source_done_ = false;
  uint64_t taken_ = 0;  // ticks returned by Next() after Skip, for the limit

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;  // with wake_: the paced wait, so that Stop() interrupts it
  std::condition_variable wake_;
  std::atomic<int64_t> watermark_ns_;
  // The pacing anchor, written once by the client's thread before anchored_ is released.
  std::atomic<bool> anchored_{false};
  bool shared_anchor_ = false;  // SetPacingAnchor: anchored when started, not at the first tick
  Timestamp anchor_time_;
  SteadyTime anchor_wall_;
  std::atomic<double> progress_{0};
  std::atomic<uint64_t> delivered_{0};
};

// A replay of a tick file (any tick format, data::OpenTicks). Errors name the file.
Result<std::unique_ptr<ReplayClient>> OpenFileReplay(const std::string& path,
                                                     const data::ReadOptions& read,
                                                     const ReplayOptions& replay);
// The synthetic market (data::SyntheticTickSource), paced like a replay.
Result<std::unique_ptr<ReplayClient>> OpenSyntheticMarket(const data::SyntheticOptions& market,
                                                          const ReplayOptions& replay);

}  // namespace aits::node
