// ThreadedVenue: the simulated venue behind a queue on a thread of its own, answering through the
// node's inbox as a remote venue does. It is the asynchronous execution client
// (execution_client.h) that the node's event loop, the order manager's handling of late, repeated
// and reordered reports, and the MetaTrader gateway's shape are tested with, without a network.
//
// How it works. Every call from the kernel (Submit, Cancel, SetProtection, SetPositionProtection,
// OnTick, OnBar, OnBarClosed) is queued, in call order, into the venue's own Inbox and returns at
// once: Submit returns 0 (the ticket comes with the order's first report), Cancel and SetProtection
// return OK once queued. The venue's thread applies them in that order to a SimulatedVenue and to
// the venue's own account (a Portfolio booked with the venue's fills and marked with the quotes it
// is given), and holds each report it makes for `report_latency` of wall time before it pushes it
// into the node's inbox (ExecutionReportEvent, AccountReportEvent), so the kernel goes on with
// later ticks before it hears of a fill. Its market view is the kernel's data, forwarded by the
// kernel's OnTick/OnBar: the venue sees the orders and the ticks in the order the kernel did.
//
// Where it differs from the synchronous SimulatedVenue (docs/execution.md, "Asynchronous
// execution"):
//   - Fills, acceptances and rejections reach the kernel later: the portfolio, the risk manager
//     and the strategy hear of a fill after the ticks the kernel handled meanwhile; an order is
//     pending_new until its first report; a halt that a fill triggers is served at the next tick.
//   - The venue's margin checks and stop-out use its own account, with the used margin of its
//     latest fill or quote (the kernel's is refreshed at fills and bar closes only), so a
//     stop-out may come at a slightly different tick.
//   - A cancel or SL/TP change the venue refuses (the order has filled, there is no position)
//     leaves no report: it is counted (refused_cancels, refused_protections). A remote venue
//     answers such a cancel with a cancel-reject, which the order manager has no state for.
//   - Reports still held (latency) or refused by a closed inbox when the loop stops are counted
//     as lost_reports: the venue's account has them; reconciliation at the next start does.
// For orders placed at fixed points in the data, the fills (prices, times, lots) are the
// synchronous venue's.
//
// Threads: the ExecutionClient methods (and Seed) are the kernel thread's (one thread); Start and
// Stop the loop's (the kernel thread); the counters any thread's. Snapshot and Seed are round
// trips: queued behind the calls before them, answered by the venue's thread while the caller
// waits (answer_timeout); before Start, when no thread runs yet, the caller applies what is queued
// and answers itself, so a node can reconcile before its loop starts the venue. The venue's thread
// owns the SimulatedVenue and the account; nothing else touches them. The venue never waits on the
// kernel: a full node inbox holds its reports back (it retries) while it goes on draining its own
// queue, so a kernel waiting for room in that queue always gets it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "aits/core/status.h"
#include "aits/execution/execution_client.h"
#include "aits/execution/simulated_venue.h"
#include "aits/model/instrument.h"
#include "aits/node/data_client.h"
#include "aits/node/inbox.h"

namespace aits::node {

struct ThreadedVenueConfig {
  execution::VenueConfig venue;
  // The venue's own account (the kernel's KernelConfig has the same three).
  Currency account_currency = Currency::Of("USD");
  Money initial_balance = Money::FromRaw(100'000 * kMoneyScale);
  double leverage = 100;
  // Wall time each report is held before it is pushed to the node's inbox: the link's delay.
  std::chrono::nanoseconds report_latency{0};
  // The venue's own queue of calls from the kernel (rounded up to a power of two).
  size_t queue_capacity = 8192;
  // Wall time the venue's thread takes over each call it applies: a slow venue (0: none).
  std::chrono::nanoseconds processing_delay{0};
  // How long Snapshot and Seed wait for the venue's thread to answer.
  std::chrono::nanoseconds answer_timeout = std::chrono::seconds(5);
  // venue.Validate(), a positive balance and leverage, latency >= 0, capacity >= 2.
  Status Validate() const;
};

class ThreadedVenue final : public execution::ExecutionClient, public Producer {
 public:
  // Precondition: config.Validate().ok().
  explicit ThreadedVenue(const ThreadedVenueConfig& config);
  ~ThreadedVenue() override;  // Stop()
  ThreadedVenue(const ThreadedVenue&) = delete;
  ThreadedVenue& operator=(const ThreadedVenue&) = delete;

  // ExecutionClient (the kernel thread). Each call is queued for the venue's thread; while the
  // queue is full the call waits (the venue drains it without waiting on anyone). Before Start
  // (the instruments are added then) a call that finds the queue full, and after Stop every call,
  // is refused: counted in refused_calls; an order then stays pending_new (the node is shutting
  // down; reconciliation finds it at the next start).
  void AddInstrument(const Instrument& instrument) override;
  uint64_t Submit(const Order& order) override;  // 0: the ticket comes with the first report
  Duration ExpectedLatency() const override { return config_.venue.latency; }
  Status Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) override;
  Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                       std::optional<Price> take_profit) override;
  // By ticket (a hedging account's positions); refused by the venue's thread, like SetProtection,
  // when the venue holds no such position (counted in refused_protections).
  Status SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                               std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) override;
  // The venue's positions, working orders and balance (its own account's) once every call queued
  // before it has been applied (SimulatedVenue::Snapshot). Internal naming the timeout if the
  // venue's thread does not answer in answer_timeout; FailedPrecondition after Stop.
  Result<execution::AccountState> Snapshot() const override;
  // Puts the venue where a broker's account is, after the calls queued before it: the
  // SimulatedVenue is seeded (SimulatedVenue::Seed: positions, working orders, the balance as
  // its ledger) and the venue's own account takes the positions and, when given, the balance. A
  // resumed node seeds a fresh venue with the state its log implies. Errors: the seed's
  // (InvalidArgument naming the item; the venue keeps its account), and Snapshot's.
  Status Seed(const execution::AccountState& state, Timestamp now);
  void OnTick(const Tick& tick) override;
  void OnBar(const Bar& bar) override;
  void OnBarClosed(const Bar& bar) override;

  // Producer (the loop). Start launches the venue's thread, which reports through `link`; Stop
  // closes the venue's queue, lets the thread finish what is queued, pushes the reports it holds
  // if the inbox takes them without waiting, and joins it.
  std::string_view name() const override { return "venue"; }
  Status Start(ProducerLink link) override;
  void Stop() override;

  // Any thread.
  uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }  // applied
  uint64_t reports_posted() const { return posted_.load(std::memory_order_relaxed); }
  uint64_t refused_calls() const { return refused_calls_.load(std::memory_order_relaxed); }
  uint64_t refused_cancels() const { return refused_cancels_.load(std::memory_order_relaxed); }
  uint64_t refused_protections() const {
    return refused_protections_.load(std::memory_order_relaxed);
  }
  uint64_t lost_reports() const { return lost_.load(std::memory_order_relaxed); }
  // Times the node's inbox was full when a report was due (it was retried).
  uint64_t inbox_full() const { return inbox_full_.load(std::memory_order_relaxed); }

 private:
  struct CancelCall {
    OrderId id;
    uint64_t ticket = 0;
    Timestamp now;
  };
  struct ProtectionCall {
    InstrumentId instrument;
    bool by_ticket = false;  // SetPositionProtection (position_ticket) or SetProtection
    uint64_t position_ticket = 0;
    std::optional<Price> stop_loss;
    std::optional<Price> take_profit;
  };
  struct BarClosed {
    Bar bar;
  };
  // A round trip: Snapshot (no seed) or Seed; the venue's thread answers through `answer`.
  struct Query {
    std::optional<execution::AccountState> seed;
    Timestamp now;
    std::promise<Result<execution::AccountState>> answer;
  };
  // Boxed where large, so that a tick's slot stays small (node_event.h says why).
  using Call =
      std::variant<Tick, Bar, BarClosed, CancelCall, ProtectionCall, std::unique_ptr<Order>,
                   std::unique_ptr<Instrument>, std::unique_ptr<Query>>;
  class Desk;  // the venue's thread's state: the SimulatedVenue, its account, held reports

  // Const: Snapshot (a const ExecutionClient method) queues its query too.
  void Queue(Call&& call) const;
  // Snapshot and Seed: queued and awaited, or before Start applied on the caller's thread.
  Result<execution::AccountState> Ask(std::optional<execution::AccountState> seed,
                                      Timestamp now) const;
  void Run(ProducerLink link);
  // Applies one call on the venue's thread (after processing_delay).
  void ApplyOnThread(Call& call);

  ThreadedVenueConfig config_;
  mutable Inbox<Call> calls_in_;
  std::unique_ptr<Desk> desk_;
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;  // the kernel thread's, as started_
  mutable std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> posted_{0};
  mutable std::atomic<uint64_t> refused_calls_{0};
  mutable std::atomic<uint64_t> refused_cancels_{0};
  mutable std::atomic<uint64_t> refused_protections_{0};
  std::atomic<uint64_t> lost_{0};
  std::atomic<uint64_t> inbox_full_{0};
};

}  // namespace aits::node
