// EventLoop: the kernel thread. It drains one Inbox<NodeEvent> (inbox.h) fed by producers on their
// own threads (data clients, an asynchronous execution client's reports, the operator-command
// feed, anyone calling SubmitCommand) and hands each event to its LoopTarget, the object that
// owns the kernel (a paper session). Only the thread that calls Run() touches the target, so the
// kernel stays single-threaded.
//
// Order: events are handled in the order the inbox accepted them (one producer's events in the
// order it pushed them; a data client's end of data or error after all of its ticks). Producers
// are started in the order they were added, and what one pushes while starting comes before what
// a later one pushes: the command feed, started first, gets commands queued while the node was
// down applied before the first tick.
//
// Timers between ticks (threaded mode). The kernel's timers live in the kernel's time, which is
// the feed's event time (docs/adr/0003-paper-time-and-event-log.md). When the inbox is empty the
// loop asks the target for its next timer, asks the data clients when their data time reaches it
// (DataClient::WallTimeOf) and waits in the inbox until then. When that moment has come it fires
// the timer through LoopTarget::AdvanceTo only if no tick with an earlier time can still arrive:
// it reads every client's watermark, then checks that the inbox is empty, so every tick pushed
// before the watermark was read has been handled, and fires when the timer is earlier than the
// smallest watermark. A tick at or after the timer's time fires it through the kernel's own tick
// path instead. So the kernel's time never goes backwards and a timer never jumps a tick before
// it; the target records each such advance as an input so that a replay reproduces it.
//
// Several data clients (a session over several symbols, one client per feed): their ticks reach
// the target merged in time order, equal times in the order the clients were added (as the
// backtest's data::MergedTickSource orders feeds), whatever the threads' timing. The loop holds
// each client's ticks until no earlier tick can come from another: another client has a tick held
// at or after it, has ended, or has every tick it pushed in the loop's hands and a watermark past
// it (at it, for a client added later). A client's end of data is handed on after its last held
// tick. Each client may run at most LoopOptions::merge_window ticks ahead of what the loop has
// handed on (ClientFlow), so memory stays bounded when one feed's data lies far ahead of
// another's. With one client nothing is held or counted: its ticks go on as they come.
//
// Pulled mode (RunPulled): the pullable data clients are read on the loop's own thread (several:
// merged in time order as above), as fast as the target takes the ticks, with inbox events
// (commands) handled between ticks. No wall clock, no hand-off: timers fire with the ticks only,
// and a run without other producers is as deterministic as a backtest.
//
// Shutdown. Run() returns when the target says it is done, a stop is requested (RequestStop, the
// options' stop flag), every data client has reported end of data or an error, or a handler
// fails. It then stops every producer (joining their threads; an execution client pushes the
// reports it still holds), closes the inbox (later pushes are refused) and empties it: ticks not
// handled are counted as discarded (a paper session's feed delivers them again on resume);
// commands and execution clients' reports are still handed to the target (a command accepted is
// never dropped, and a fill the venue made is the account's) unless the loop stopped on an error;
// and producer reports are counted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/latency_histogram.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/node/data_client.h"
#include "aits/node/inbox.h"
#include "aits/node/node_event.h"

namespace aits::node {

// The kernel thread's side: whoever owns the kernel. Every call comes from the thread running the
// loop. A returned error stops the loop, which returns it.
class LoopTarget {
 public:
  virtual ~LoopTarget() = default;
  virtual Status OnMarketData(const MarketData& data) = 0;
  // Stores the command's own outcome in *outcome: a refused command (malformed, unknown) is
  // counted and the loop goes on; the target reports refusals to whoever gave the command. The
  // returned status is a failure of the node itself (the event store): the loop stops.
  virtual Status OnCommand(const OperatorCommand& command, Status* outcome) = 0;
  // A producer's report; `name` is the producer's. A data client's kEndOfData or kError also
  // counts towards the loop's end (every data client finished).
  virtual Status OnProducerStatus(const ProducerStatus& status, std::string_view name) = 0;
  // The kernel's earliest timer, if any.
  virtual std::optional<Timestamp> NextTimer() const = 0;
  // Moves the kernel's time to `time` between ticks and fires the timers due by then.
  virtual Status AdvanceTo(Timestamp time) = 0;
  // Called at least every LoopOptions::idle_interval while no event arrives (commits, progress).
  virtual Status OnIdle() = 0;
  // An OperatorCommand with `flush`: commit what is pending now. The default has nothing to
  // commit.
  virtual Status OnFlush();
  // An asynchronous execution client's report (ExecutionReportEvent::report is not null). A
  // report the kernel cannot apply (an unknown order, a repeat) is the target's to count and log;
  // the returned status is a failure of the node itself, which stops the loop. The default is for
  // targets whose node runs no asynchronous client: a report then is a wiring error.
  virtual Status OnExecutionReport(const ExecutionReportEvent& event);
  virtual Status OnAccountReport(const AccountReportEvent& event);
  // True once the target wants no more events (a tick limit): checked before each event.
  virtual bool done() const = 0;
};

struct LoopOptions {
  size_t inbox_capacity = 4096;
  uint32_t spin_iterations = Inbox<NodeEvent>::kDefaultSpinIterations;
  // The longest the loop sleeps without an event: OnIdle and the stop flag are looked at this
  // often.
  std::chrono::nanoseconds idle_interval = std::chrono::milliseconds(50);
  // How soon the loop looks again at a due timer, or a held tick, that a client's watermark still
  // holds back.
  std::chrono::nanoseconds timer_retry = std::chrono::microseconds(200);
  // Several data clients: how many ticks each may push ahead of what the loop has handed on.
  uint64_t merge_window = 1024;
  // Set by anyone (a signal handler): the loop stops at its next look (between events, and at
  // least every idle_interval).
  const std::atomic<bool>* stop = nullptr;
};

enum class LoopExit : uint8_t {
  kDone,       // the target said so
  kEndOfData,  // every data client reported end of data (or an error the target accepted)
  kStopped,    // RequestStop() or the stop flag
};
std::string_view ToString(LoopExit exit);

struct LoopStats {
  uint64_t market_data = 0;         // ticks handed to the target
  uint64_t commands_applied = 0;    // commands the target accepted
  uint64_t commands_refused = 0;    // commands the target refused (bad commands)
  uint64_t producer_reports = 0;    // ProducerStatus events handed to the target
  uint64_t clock_advances = 0;      // AdvanceTo calls: timers fired between ticks
  uint64_t idle_calls = 0;          // OnIdle calls
  uint64_t discarded_ticks = 0;     // in the inbox (or held by the merge) at shutdown, not handled
  uint64_t discarded_commands = 0;  // in the inbox when the loop stopped on an error
  uint64_t discarded_reports = 0;   // producer reports that arrived after the loop's end
  // Threaded mode: MarketData::pushed_ns -> the kernel thread popped it, per tick.
  LatencyHistogram hand_off;
  // Asynchronous execution clients' reports (ExecutionReportEvent, AccountReportEvent): those
  // handed to the target, those left in the inbox when the loop stopped on an error, and their
  // hand-off (pushed_ns -> popped).
  uint64_t execution_reports = 0;
  uint64_t account_reports = 0;
  uint64_t discarded_execution = 0;
  LatencyHistogram report_hand_off;
};

class EventLoop {
 public:
  // `target` must outlive the loop.
  explicit EventLoop(LoopTarget& target, const LoopOptions& options = {});
  ~EventLoop();  // stops the producers if Run() did not
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Before Run(): registers a producer (not owned; must outlive the loop) and returns its id.
  ProducerId AddProducer(Producer& producer);
  // The same for a data client, whose watermark and pacing the timers follow and whose end of
  // data counts towards the loop's end.
  ProducerId AddClient(DataClient& client);

  // Any thread: a command given in-process, handled on the kernel thread in inbox order.
  // FailedPrecondition if the loop has stopped (the inbox is closed): the command was not taken.
  // Waits while the inbox is full.
  Status SubmitCommand(OperatorCommand command);
  // Any thread: asks Run() to stop at its next look, and closes the inbox.
  void RequestStop();

  // Runs the loop on the calling thread, which becomes the kernel thread, with every producer on
  // its own thread. Returns why it stopped, or the first error of a handler or a producer's Start.
  // Call once.
  Result<LoopExit> Run();
  // The same with the data clients pulled on this thread, merged in time order (FailedPrecondition
  // if there is none, or one is not pullable); other producers are threaded as in Run().
  Result<LoopExit> RunPulled();

  // After Run(); or from the kernel thread (the target) while it runs.
  const LoopStats& stats() const { return stats_; }
  Inbox<NodeEvent>& inbox() { return inbox_; }

 private:
  struct Entry {
    Producer* producer = nullptr;
    DataClient* client = nullptr;  // null for a plain producer
    bool finished = false;
    // Merging several clients (threaded): the client's ticks taken from the inbox and not yet
    // handed on, how many were taken, and its end of data, handed on once `held` is empty.
    std::unique_ptr<ClientFlow> flow;
    std::deque<MarketData> held;
    uint64_t received = 0;
    std::optional<ProducerStatus> ended;
  };
  enum class TimerCheck : uint8_t { kFired, kBusy, kNotYet, kNone };

  Status StartProducers();
  std::optional<LoopExit> ShouldExit() const;
  Status Dispatch(NodeEvent&& event);
  // Dispatch, except that a merged client's ticks and end of data are held (see the header).
  Status Take(NodeEvent&& event);
  // Hands on the next held tick (or a drained client's end of data) if nothing earlier can come;
  // false if nothing can go yet (`*blocked`: because a client's watermark holds it back).
  Result<bool> ReleaseOne(bool* blocked);
  // Fires the next timer if it is due on the clients' clocks and no earlier tick can come;
  // `wake` gets the steady time to look again otherwise.
  Result<TimerCheck> CheckTimers(SteadyTime* wake);
  Result<LoopExit> LoopThreaded();
  Result<LoopExit> LoopPulled();
  // Closes the inbox, stops the producers, empties the inbox (see the header comment).
  Status Finish(bool clean);

  LoopTarget& target_;
  LoopOptions options_;
  Inbox<NodeEvent> inbox_;
  std::vector<Entry> entries_;
  size_t clients_ = 0;
  size_t clients_finished_ = 0;
  bool merging_ = false;  // several clients, threaded
  std::atomic<bool> stop_requested_{false};
  bool ran_ = false;
  bool finished_ = false;
  LoopStats stats_;
};

}  // namespace aits::node
