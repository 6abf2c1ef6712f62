// The execution client of a paper session on the asynchronous venue (SessionSpec::venue
// "threaded", docs/paper.md "Asynchronous venue"). The timing of a remote venue's reports
// relative to the ticks is not a function of the logged inputs, so the session logs every report
// the kernel consumes, where it consumed it, and a replay feeds those instead of running a venue.
// This client has the two phases that needs:
//   - Following the log (aits replay, and a resume's re-run of the log): no venue runs. Submits
//     are accepted as an asynchronous venue accepts them (0: the ticket comes with the first
//     report) and remembered, so that a logged report naming an order this run never sent is a
//     divergence (Sent); cancels and SL/TP changes are accepted; Snapshot answers the account
//     the last Seed set (a logged reconciliation's venue). Market data goes nowhere.
//   - Live (after GoLive): every call goes to a node::ThreadedVenue made then and seeded with the
//     account the log implies, which the session's event loop runs as a producer; or, on a
//     broker (SessionSpec::venue "mt5", aits live), to the broker's execution client, made then
//     and not seeded: the broker's account is the truth, and the reconciliation that follows
//     compares the log with it. A broker's reports reach the loop through its data client (the
//     MetaTrader gateway is both), so it has no producer here.
// Threads: the kernel thread's, as every ExecutionClient; the ThreadedVenue has its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "aits/core/status.h"
#include "aits/execution/execution_client.h"
#include "aits/node/threaded_venue.h"

namespace aits::session {

// Makes a broker's execution client when a session on it goes live.
using BrokerFactory = std::function<std::unique_ptr<execution::ExecutionClient>()>;

class SessionVenue final : public execution::ExecutionClient {
 public:
  // The threaded venue. Precondition: config.Validate().ok().
  explicit SessionVenue(const node::ThreadedVenueConfig& config);
  // A broker: `broker` makes its client at GoLive (an empty factory: the session can follow its
  // log, for replay, but not go live).
  explicit SessionVenue(BrokerFactory broker);
  ~SessionVenue() override;

  void AddInstrument(const Instrument& instrument) override;
  uint64_t Submit(const Order& order) override;
  Duration ExpectedLatency() const override;
  Status Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) override;
  Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                       std::optional<Price> take_profit) override;
  Status SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                               std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) override;
  // Following: the seeded account (FailedPrecondition if nothing was seeded); live: the venue's.
  Result<execution::AccountState> Snapshot() const override;
  // Live: the venue's (a broker's); following, or on the threaded venue: nothing to tell.
  Result<std::vector<ExecutionReport>> Recover(std::span<const Order> unfinished,
                                               int64_t venue_from_msc,
                                               std::span<const uint64_t> known_exec_ids) override;
  void OnTick(const Tick& tick) override;
  void OnBar(const Bar& bar) override;
  void OnBarClosed(const Bar& bar) override;

  // Following: the account Snapshot answers; live: ThreadedVenue::Seed.
  Status Seed(const execution::AccountState& account, Timestamp now);
  // Starts the live phase: a fresh ThreadedVenue with every instrument added so far, seeded
  // with `account` (the positions, the working orders with a ticket, the balance); or the
  // broker's client with the instruments, `account` unused. Errors: the seed's;
  // FailedPrecondition when already live, or on a broker without a factory.
  Status GoLive(const execution::AccountState& account, Timestamp now);
  bool live() const { return live_client() != nullptr; }
  // Whether going live puts the log's account into the venue (the threaded venue: yes; a broker
  // holds its own).
  bool seeds() const { return !broker_factory_; }
  // The live venue (the event loop's producer); nullptr while following.
  node::ThreadedVenue* venue() { return venue_.get(); }
  // Following: whether this run sent order `id` to the venue.
  bool Sent(OrderId id) const { return id.value < sent_.size() && sent_[id.value]; }

 private:
  execution::ExecutionClient* live_client() const;

  node::ThreadedVenueConfig config_;
  BrokerFactory broker_factory_;
  std::vector<Instrument> instruments_;
  std::unique_ptr<node::ThreadedVenue> venue_;
  std::unique_ptr<execution::ExecutionClient> broker_;
  std::optional<execution::AccountState> seeded_;
  std::vector<bool> sent_;  // by order id: one bit an order, however long the log
};

}  // namespace aits::session
