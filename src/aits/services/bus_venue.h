// The account's venue over the message bus (docs/services.md, "The venue over the bus"): the
// account's owner (risk, execution) trades through a venue that lives in another process, the
// gateway role, which holds the MetaTrader link (gateway/gateway.h) — or, in tests, a
// node::ThreadedVenue.
//
//   EXEC  exec.<market>.commands  owner -> gateway  VenueCommand: submit, cancel, protection
//                                                   (SL/TP), and the snapshot and recover requests
//   EXEC  exec.<market>.reports   gateway -> owner  VenueReport: every execution and account
//                                                   report the venue makes, in its order
//   EXEC  exec.<market>.answers   gateway -> owner  VenueReport: the answer to a snapshot or
//                                                   recover request, naming the request's id
//   DEAD  dead.exec.<market>.…    what either side could not decode (id "<subject>.<seq>")
//
// Ids. A command's publish id is its identity, so that a publish retried after a timeout is
// stored once and the bridge applies it once. JetStream de-duplicates per stream, across its
// subjects, so every id starts with the market, and the owner's ids with its session's scope
// (BusVenueOptions::scope: an OrderId restarts at 1 in a new session's log, ADR 0006):
//   submit      "<market>:<scope>:submit:<order id>:<client order id>"
//   cancel      "<market>:<scope>:cancel:<order id>:<n>"  n: this BusVenue's cancels of that
//               order, from 1. An owner restarted within the duplicate window that cancels the
//               same order again repeats an id: the copy is dropped, and the first cancel has
//               the same effect.
//   protection  "<market>:<scope>:sltp:<instrument>:<position ticket>:<incarnation>:<n>"  n
//               counts this BusVenue's SL/TP changes; the incarnation (random, per BusVenue)
//               keeps a restarted owner's changes, which may set other values, from being taken
//               for an earlier one's.
//   snapshot, recover  "<market>:<scope>:snapshot:<incarnation>:<n>" (recover alike): fresh
//               requests; the answer's id is "answer:<request id>".
// A report's id is "<market>:report:<bridge incarnation>:<n>": a retried publish is stored once;
// a restarted bridge numbers afresh, and the owner applies by stream sequence anyway.
//
// Restarts.
//   - The owner reads reports with the durable consumer "exec-<market>-owner" (created at the
//     first BusVenue::Create, from then on: older reports belong to no order of this account's
//     owner). It acknowledges a fetch once every report of it is in the node's inbox, and drops
//     a report at or before the last stream sequence it pushed (a redelivery). A restarted owner
//     resumes after what it acknowledged; a report it pushed but never logged (a kill between
//     the two) is lost to its log, and its restart's Recover and reconciliation find it at the
//     venue, as after any restart of `aits live`.
//   - The bridge reads commands with the durable consumer "exec-<market>-bridge" (created from
//     the stream's first message: a command the owner sent while no gateway ran is applied when
//     one starts), applies each, then acknowledges it, and remembers the ids it applied (the
//     last VenueBridgeOptions::remember_ids of them) so that a command stored twice — published
//     again after the duplicate window, or redelivered — is applied once. A bridge stopped by its
//     stop flag acknowledged everything it applied; one killed between applying a command and
//     acknowledging it applies that one command again when it restarts: a submit goes again as
//     the same order, whose id the EA refuses as one it has sent before (its list, the working
//     orders and positions, 90 days of history: docs/metatrader.md) and the MetaTrader gateway
//     then resolves from the terminal, so the terminal holds the order once; a cancel or an
//     SL/TP change applied twice sets what it set. Reports the venue pushed into
//     the bridge's inbox and the bridge did not publish before it stopped stay in that inbox
//     (published by the next run on it) or, killed, die with the process; the venue's terminal
//     has them, and the owner's Recover at its next start asks for them.
//
// Threads: see each class.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/execution/execution_client.h"
#include "aits/model/venue_messages.h"
#include "aits/node/data_client.h"
#include "aits/node/inbox.h"
#include "aits/node/node_event.h"
#include "aits/trace/tracer.h"

namespace aits::services {

inline constexpr std::string_view kExecStream = "EXEC";

// "exec.<market>.commands", "exec.<market>.reports", "exec.<market>.answers"; InvalidArgument
// when the market is not one subject token.
Result<std::string> ExecCommandsSubject(std::string_view market);
Result<std::string> ExecReportsSubject(std::string_view market);
Result<std::string> ExecAnswersSubject(std::string_view market);

// Creates EXEC (exec.>) and the DEAD stream, or checks the existing ones.
Status EnsureExecStream(bus::MessageBus& bus, int replicas = 1);

struct BusVenueOptions {
  std::string market = "default";  // one subject token
  // The account session's scope in every command id (the owner's session name): not empty, no
  // ':'. The same across restarts of one session, another for another session of the market.
  std::string scope;
  // How long Snapshot and Recover wait for the bridge's answer.
  Duration answer_timeout = Duration::Seconds(10);
  bool push = false;  // the reports' consumer: push or pull (bus::ConsumerConfig::push)
  // The role's metrics registry (not owned), or none: the reports' consumer's lag and
  // redeliveries (bus/consumer_metrics.h).
  Registry* metrics = nullptr;
  // Spans (docs/monitoring.md, "Traces"), or none (not owned). Every command is published under
  // a span "exec.command" of its own, child of the span the calling thread is working for
  // (trace::Current(): the decision whose order this is) or a new root; every report that
  // arrives with a traceparent gets a span "exec.report" under it, handed to the loop with the
  // report (node::ExecutionReportEvent::trace).
  trace::Tracer* tracer = nullptr;
  Status Validate() const;
};

// The owner's asynchronous execution client (execution_client.h) for a venue across the bus.
//
// Submit, Cancel, SetProtection and SetPositionProtection queue a command for the client's
// sender thread and return at once (Submit returns 0: the ticket comes with the order's first
// report; the others OK). The sender publishes the commands in call order, each acknowledged by
// the stream before the next (bus::PublishInOrder, retried with the same id while the bus is
// away for up to about 10 s). A command that outlasts the retries is counted (failed_commands)
// and the sender goes on: its order stays pending_new, which reconciliation at the next start
// settles, as for an order a link lost.
//
// Reports come back on a thread of the client's own, started by Start: it reads
// exec.<market>.reports and pushes each ExecutionReport and AccountReport into the node's inbox
// (ExecutionReportEvent, AccountReportEvent) in the stream's order, once. A report that does not
// decode, or is no execution or account report, is copied to DEAD and counted (dead_lettered).
// A reports consumer that fails (its stream deleted, the bus away for good) stops the thread and
// is reported to the loop as the producer's kError.
//
// Snapshot and Recover are round trips: the request goes behind the commands queued before it,
// and the caller waits for the bridge's answer on exec.<market>.answers, up to answer_timeout
// (DeadlineExceeded naming the request and the subject: no bridge is running). They work before
// Start too (a node reconciles before its loop starts the venue). The market-data calls do
// nothing: the venue has its own feed. AddInstrument does nothing either: the gateway role is
// configured with the instruments it trades (its venue needs them before any order).
//
// One BusVenue per market at a time (the account has one owner): a push durable takes one
// reader, and two pull readers would split the reports between them.
//
// Threads: the ExecutionClient methods are the kernel thread's; Start and Stop the loop's (the
// kernel thread); the counters any thread's.
class BusVenue final : public execution::ExecutionClient, public node::Producer {
 public:
  // Opens the reports' durable consumer (so that no report of a command sent from now on is
  // missed) and starts the sender thread. Errors: the options' (InvalidArgument), the bus's.
  // `bus` must outlive the client.
  static Result<std::unique_ptr<BusVenue>> Create(bus::MessageBus& bus,
                                                  const BusVenueOptions& options);
  // Stop(), then sends what is still queued (within the bus's retries) and joins the sender.
  ~BusVenue() override;
  BusVenue(const BusVenue&) = delete;
  BusVenue& operator=(const BusVenue&) = delete;

  void AddInstrument(const Instrument& instrument) override;
  uint64_t Submit(const Order& order) override;
  Status Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) override;
  Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                       std::optional<Price> take_profit) override;
  Status SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                               std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) override;
  // The venue's account as the bridge's venue answers it (its Snapshot), or the venue's error as
  // it answered it, or DeadlineExceeded.
  Result<execution::AccountState> Snapshot() const override;
  // Before Start (a restart): first the execution reports the stream holds that no run of this
  // owner pushed — what the venue did while the owner was down, in stream order — then, unless
  // nothing is unfinished and venue_from_msc is 0, the venue's Recover asked through the bridge,
  // its reports in the venue's order; then, for each unfinished order still pending_new (sent,
  // unanswered: perhaps still at the venue, whose gateway reports it when the venue answers), the
  // reports stored meanwhile, until each such order has one or answer_timeout passed. They come
  // in the answer, not through the inbox (the reader drops the drained ones). After Start, only
  // the bridge's answer. Errors as Snapshot's, and the bus's.
  Result<std::vector<ExecutionReport>> Recover(std::span<const Order> unfinished,
                                               int64_t venue_from_msc,
                                               std::span<const uint64_t> known_exec_ids) override;

  // node::Producer. Start launches the reports' thread, which pushes through `link`; Stop asks
  // it to stop (a push waiting for room gives up; what it fetched and did not push is not
  // acknowledged, so it comes again to the next reader) and joins it.
  std::string_view name() const override { return "venue"; }
  Status Start(node::ProducerLink link) override;
  void Stop() override;

  // The account's terms as the last snapshot answer stated them (nullopt: no snapshot yet, or a
  // venue that does not say). The caller of Snapshot's thread.
  const std::optional<VenueTerms>& terms() const { return terms_; }

  // Any thread.
  uint64_t commands_sent() const { return commands_sent_.load(std::memory_order_relaxed); }
  uint64_t failed_commands() const { return failed_commands_.load(std::memory_order_relaxed); }
  uint64_t reports_pushed() const { return reports_pushed_.load(std::memory_order_relaxed); }
  // Reports at or before the last sequence pushed (a redelivery), dropped.
  uint64_t duplicate_reports() const { return duplicates_.load(std::memory_order_relaxed); }
  // Execution reports a Recover before Start returned from the stream (stored while no owner
  // read them), ahead of the bridge's answer.
  uint64_t drained_reports() const { return drained_.load(std::memory_order_relaxed); }
  uint64_t dead_lettered() const { return dead_lettered_.load(std::memory_order_relaxed); }
  // The reports' thread's error, if it stopped on one.
  Status reader_status() const;

 private:
  BusVenue(bus::MessageBus& bus, const BusVenueOptions& options, std::string commands,
           std::string reports, std::string answers, std::unique_ptr<bus::Consumer> consumer);
  // "<market>:<scope>:<command>": a command's id (above, "Ids").
  std::string IdOf(const std::string& command) const;
  // A command as queued: with its span's traceparent (empty: no tracer).
  struct Queued {
    VenueCommand command;
    std::string traceparent;
  };
  // Queues one command for the sender thread (the kernel thread's calls, and the requests),
  // under its span when tracing.
  void Send(VenueCommand command) const;
  void RunSender();
  void RunReader(node::ProducerLink link);
  // Publishes a request and waits for its answer, which must be of the kind `answered_by`; the
  // venue's error when it answered with one.
  Result<VenueReport> Ask(VenueCommand request, std::string_view what,
                          VenueReport::Kind answered_by) const;
  // A report as delivered: decoded, or nullopt when it was no execution or account report (then
  // copied to DEAD and counted); the dead-lettering's error.
  Result<std::optional<VenueReport>> Take(const bus::Delivery& delivery);
  // Before Start: the execution reports stored after the last one pushed, in stream order, up to
  // the stream's end; not acknowledged (the reader drops them as pushed, and its next ack, which
  // covers everything before it, takes them).
  Result<std::vector<ExecutionReport>> DrainStored();
  // The venue's Recover through the bridge; its reports appended to `reports`.
  Status AskRecover(std::span<const Order> unfinished, int64_t venue_from_msc,
                    std::span<const uint64_t> known_exec_ids,
                    std::vector<ExecutionReport>* reports);

  bus::MessageBus& bus_;
  const BusVenueOptions options_;
  const std::string commands_subject_;
  const std::string reports_subject_;
  const std::string answers_subject_;
  const std::string incarnation_;
  std::unique_ptr<bus::Consumer> reports_;

  mutable std::mutex queue_mutex_;
  mutable std::condition_variable queue_ready_;
  mutable std::deque<Queued> queue_;  // guarded by queue_mutex_
  bool closing_ = false;              // guarded by queue_mutex_
  std::thread sender_;

  // The kernel thread's.
  std::unordered_map<uint64_t, uint64_t> cancels_;  // order id -> cancels sent
  uint64_t protections_ = 0;
  mutable uint64_t requests_ = 0;
  mutable std::optional<VenueTerms> terms_;

  std::thread reader_;
  // The stream sequence of the last report pushed, drained or dead-lettered: the kernel
  // thread's before Start (DrainStored), the reader's after.
  uint64_t last_pushed_ = 0;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  mutable std::mutex status_mutex_;
  Status reader_status_;  // guarded by status_mutex_

  mutable std::atomic<uint64_t> commands_sent_{0};
  mutable std::atomic<uint64_t> failed_commands_{0};
  std::atomic<uint64_t> reports_pushed_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> drained_{0};
  mutable std::atomic<uint64_t> dead_lettered_{0};
};

struct VenueBridgeOptions {
  std::string market = "default";  // one subject token
  // Set by a signal handler or a test: the bridge stops between two commands, having published
  // the reports its inbox held, and returns its stats.
  const std::atomic<bool>* stop = nullptr;
  bool push = false;  // the commands' consumer: push or pull
  // The role's metrics registry (not owned), or none: the commands' consumer's lag and
  // redeliveries (bus/consumer_metrics.h).
  Registry* metrics = nullptr;
  // How long a command handed to a bridge that died unacknowledged waits before the next bridge
  // gets it (the durable's ack_wait, set when it is first created).
  Duration ack_wait = Duration::Seconds(30);
  // Ids of applied commands remembered, against a command stored twice (oldest forgotten).
  size_t remember_ids = 65'536;
  // What else the venue pushes into the bridge's inbox: its market data (the MetaTrader gateway
  // is a data client too; the gateway role publishes it to MARKET) and its link's state, called
  // on the bridge's publishing thread in the order the venue pushed them. An error returned by
  // on_market_data ends the bridge with it. Unset: dropped (counted).
  std::function<Status(const node::MarketData&)> on_market_data;
  std::function<void(const node::ProducerStatus&)> on_status;
  // The account's terms, sent with each snapshot answer (the MetaTrader gateway: the terminal's
  // hello); unset or nullopt: not stated. Called on the bridge's thread.
  std::function<std::optional<VenueTerms>()> terms;
  // Ids of commands to take as applied already (counted as duplicates when they come): the
  // submits a restarted gateway role recovered from its venue (SentOrdersOfLastBridge).
  std::vector<std::string> applied;
  // Spans (docs/monitoring.md, "Traces"), or none (not owned). A command that carries a
  // traceparent is applied under a span "gateway.command" (its answer carries that span); each
  // execution report of the order it submitted is published under a "gateway.report" span, its
  // child, and every other report under a new root "gateway.report".
  trace::Tracer* tracer = nullptr;
  Status Validate() const;
};

// The orders the last bridge of a market may have handed to its venue that no report has
// finished, as the EXEC stream tells it: what a restarted gateway role, whose new venue knows
// nothing of them, asks its terminal about (ExecutionClient::Recover) before its bridge applies
// anything (docs/services.md, "The gateway role").
struct SentOrders {
  // The submits the bridge's durable consumer had handed out (ConsumerPosition::delivered)
  // without a filled, cancelled, rejected or expired report since: each as sent, with the
  // ticket and lots filled reported since. In the order sent.
  std::vector<Order> unfinished;
  std::vector<std::string> command_ids;  // their submit commands' ids
  std::vector<uint64_t> exec_ids;        // every fill the reports hold
  uint64_t delivered = 0;                // the bridge consumer's position (0: none yet)
};

// Reads exec.<market>.commands and .reports from the stream's first message to its last.
// Nothing when no bridge ever ran. Messages that do not decode are skipped (the bridge and the
// owner dead-letter them). Errors: the bus's.
Result<SentOrders> SentOrdersOfLastBridge(bus::MessageBus& bus, std::string_view market);

struct VenueBridgeStats {
  uint64_t commands = 0;       // commands read and decoded
  uint64_t applied = 0;        // of those, applied to the venue
  uint64_t duplicates = 0;     // of those, not applied: their id was applied already
  uint64_t refused = 0;        // cancels and SL/TP changes the venue refused at once
  uint64_t answers = 0;        // snapshot and recover requests answered
  uint64_t expired = 0;        // requests whose asker had stopped waiting: not applied
  uint64_t reports = 0;        // execution and account reports published
  uint64_t market_data = 0;    // ticks handed to on_market_data (or dropped without it)
  uint64_t dead_lettered = 0;  // commands that did not decode (copied to DEAD)
  bool stopped = false;        // by the stop flag
};

// The gateway role's half: applies the owner's commands from exec.<market>.commands to `venue`,
// once each and in the stream's order, answers the snapshot and recover requests on
// exec.<market>.answers (a request read after its asker's answer_timeout, by the wall clock, is
// dropped: nobody reads its answer, and a late Recover would ask about settled orders), and
// publishes every report the venue pushes into `inbox` to
// exec.<market>.reports, in the order it pushed them (each acknowledged by the stream before
// the next). `venue` is an asynchronous execution client whose producer the caller has started
// with a link into `inbox` (a node::ThreadedVenue, or the MetaTrader gateway's execution client
// with the gateway started on that link); the bridge is the only caller of its methods while it
// runs, and the inbox's only consumer. Runs on the calling thread (and one thread of its own that
// publishes the reports) until the stop flag; returns the stats, or the first error that
// outlasted the bus's retries (the caller restarts it: it resumes after what it acknowledged).
Result<VenueBridgeStats> RunVenueBridge(bus::MessageBus& bus, execution::ExecutionClient& venue,
                                        node::Inbox<node::NodeEvent>& inbox,
                                        const VenueBridgeOptions& options);

}  // namespace aits::services
