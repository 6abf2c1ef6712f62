// A trading session: the kernel with its instrument, DecisionStrategy and risk manager built from
// a SessionSpec, plus the recorder that turns everything the kernel says into event-log entries.
//
// The same Session runs a live paper session (RecordMode::kAppend: every tick consumed and every
// output go to the EventStore), a resume after a crash and `aits replay` (RecordMode::kVerify:
// ticks and commands come from the log, and every output the kernel produces is compared, byte
// for byte, with the one the log holds next). Kernel time is the feed's event time — a live feed
// stamps ticks as they arrive — so a log replays into the same orders, fills and P&L
// (docs/adr/0003-paper-time-and-event-log.md).
//
// On the asynchronous venue (SessionSpec::venue "threaded", session_venue.h) the venue's execution
// and account reports are inputs too: logged where the kernel consumed them (OnExecutionReport,
// OnAccountReport), and in verify mode fed from the log instead of a running venue.
//
// Outputs, in the order the kernel produces them for one tick: order_submitted (a strategy's
// command), fill, order_update, breaker_change, decision (the record, after its order's fate is
// known). Account checkpoints (kAccount) are written by the driver between ticks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/data/source.h"
#include "aits/kernel/kernel.h"
#include "aits/node/builder.h"
#include "aits/node/threaded_venue.h"
#include "aits/persistence/event_store.h"
#include "aits/session/session_spec.h"
#include "aits/session/session_venue.h"
#include "aits/trading/decision_strategy.h"
#include "aits/trading/signal_source.h"

namespace aits::session {

class SessionMetrics;

// Builds the signal source a spec names. The default knows the rule signals; the app adds
// ml_ensemble (it needs the model registry).
using SignalFactory = std::function<Result<std::unique_ptr<trading::SignalSource>>(
    const SessionSpec& spec, const Instrument& instrument, Duration bar_period)>;
Result<std::unique_ptr<trading::SignalSource>> MakeRuleSignalFor(const SessionSpec& spec,
                                                                 const Instrument& instrument,
                                                                 Duration bar_period);

// Kernel configuration (account, venue, bar period, risk limits: node::RiskLimitsFor) from a
// spec; errors name the setting.
Result<kernel::KernelConfig> KernelConfigFor(const SessionSpec& spec);
// node::DecisionConfigFor(spec.decision).
Result<decision::DecisionConfig> DecisionConfigFor(const SessionSpec& spec);
// What the session's decision engine runs with: DecisionConfigFor with BuildNode's cap on
// max_lots from the risk limits (node::DecisionConfigOf). The decision role builds its engine
// with it, so that it decides as the owner's own engine would.
Result<decision::DecisionConfig> EngineConfigFor(const SessionSpec& spec);
// The node a spec describes: its instrument, KernelConfigFor, and the decision stack over the
// signal `signals` builds, with client order ids "<session_id>-<n>" and `sink` receiving the
// decision records. Session::Create builds through it; so can anything that must trade exactly
// as a paper session of this spec would (a backtest of the same ticks, a test). With `deciders`
// the decisions are made in another process (the decision role) and `signals` is not used.
Result<node::NodeConfig> NodeConfigFor(const SessionSpec& spec, const SignalFactory& signals,
                                       trading::DecisionSink sink = {},
                                       node::DeciderFactory deciders = {});

// Opens the spec's feed: the synthetic market, or a tick file. Bar files are refused (paper
// trading consumes ticks).
Result<std::unique_ptr<data::TickSource>> OpenFeed(const SessionSpec& spec);
// Every feed of the spec in feed order (FeedsOf), each stamping its instrument's kernel id on its
// ticks; errors name the file (and the feed's symbol when there are several).
Result<std::vector<std::unique_ptr<data::TickSource>>> OpenFeeds(const SessionSpec& spec);

// The settings of the session's asynchronous venue (node::ThreadedVenue) from a spec whose venue
// is "threaded"; errors name the setting.
Result<node::ThreadedVenueConfig> ThreadedVenueConfigFor(const SessionSpec& spec);

enum class RecordMode : uint8_t { kAppend, kVerify };

struct Divergence {
  uint64_t seq = 0;      // the log's event where the two part (0: after the last one)
  std::string logged;    // what the log holds there ("(nothing)" if the log ended)
  std::string produced;  // what this run produced ("(nothing)" if it produced nothing)
};

class Session {
 public:
  // `broker` makes the execution client a session on a broker (venue "mt5") trades through once
  // live (SessionVenue); without one such a session can follow its log but not go live.
  // `deciders`: as NodeConfigFor's.
  static Result<std::unique_ptr<Session>> Create(const SessionSpec& spec,
                                                 const SignalFactory& signals = MakeRuleSignalFor,
                                                 BrokerFactory broker = {},
                                                 node::DeciderFactory deciders = {});
  ~Session();

  // kAppend: outputs are appended to `store` (which must outlive the session).
  void StartAppending(persistence::EventStore* store);
  // Hands every output to `sink` as it is produced instead of appending or comparing it: a
  // session re-run on another venue (aits compare, live_compare.h) reads what it does this way.
  using OutputSink = std::function<void(persistence::EventType, Timestamp, std::string_view)>;
  void CaptureOutputs(OutputSink sink) { capture_ = std::move(sink); }
  // Called with a model_shadow record (a candidate's shadow trial ended) after it is logged,
  // when appending only: a replay re-makes the record but acts on nothing. On the kernel thread;
  // the hook must not block it (the paper session hands the record to its promoter's thread).
  using ShadowHook = std::function<void(Timestamp, std::string_view)>;
  void OnShadowEnded(ShadowHook hook) { shadow_hook_ = std::move(hook); }
  // Called the same way with a model_verdict record (a watched model's verdict changed), after
  // it is logged: what starts a retrain (docs/ml.md, "The loop").
  void OnVerdict(ShadowHook hook) { verdict_hook_ = std::move(hook); }
  bool appending() const { return mode_ == RecordMode::kAppend; }

  // Feeds one tick: moves the clock to its time, logs it when appending (with a live feed's
  // source time, MarketData::source_msc, when it has one), runs the kernel.
  void Feed(const Tick& tick, int64_t source_msc = 0);
  // Between ticks (the event loop, when a timer is due on the feed's clock): moves the clock to
  // `time` and fires the kernel's timers due by then. Nothing due: nothing happens (nothing is
  // logged) and 0 is returned. Otherwise logs a clock event first when appending, as an input
  // like a tick, so that replay and resume move the clock at the same point; returns the number
  // of timers fired. `time` before the clock's time fires what is due by then without moving it.
  size_t AdvanceTo(Timestamp time);
  uint64_t clock_advances() const { return clock_advances_; }
  // Applies an operator command (JSON {"command":"breaker","state":"halted","reason":"..."},
  // or pause, resume, flatten, order, cancel: docs/paper.md); logs it first when appending.
  // InvalidArgument for a malformed or unknown command, before anything is logged.
  Status ApplyCommand(std::string_view json);
  // Reconciliation at start (docs/execution.md, "Reconciliation"): the kernel's holdings (as the
  // log rebuilt them) against the venue's snapshot, planned under `policy`. Changes nothing;
  // under refuse, a difference is a FailedPrecondition listing every one.
  Result<kernel::Reconciliation> PlanReconciliation(execution::ReconcilePolicy policy) const;
  // Applies a plan. One that found differences is logged first (a `reconciliation` event, when
  // appending), then the kernel applies it: the orders and fills it causes follow in the log. A
  // clean one changes nothing and writes nothing, so a resumed log equals an uninterrupted one.
  Status ApplyReconciliation(const kernel::Reconciliation& reconciliation);
  // Puts the venue where a broker's account is (SimulatedVenue::Seed; on the asynchronous venue
  // SessionVenue::Seed): for a test of a start against a differing account, and for replaying a
  // logged reconciliation. FailedPrecondition if the kernel's execution client is neither.
  Status SeedVenue(const execution::AccountState& account);

  // The asynchronous venue: ends following the log and starts a fresh venue (SessionVenue::
  // GoLive) seeded with the account the kernel rebuilt (Kernel::Holdings). Call once the kernel
  // is where the log left it, before the reconciliation; nothing on the synchronous venue.
  Status GoLive();
  // After GoLive at a restart, before the reconciliation, while appending: asks the venue what
  // it did while the node was down (ExecutionClient::Recover: the fate of the orders the log
  // holds unfinished, the deals the log lacks) and applies its reports as any
  // (OnExecutionReport: logged, then applied). Per instrument, the log's last tick and its server
  // time (0: unknown) map the node's time to the venue's clock; `known_exec_ids`: the log's
  // fills. Returns the number of reports applied; the venue's error as it is.
  Result<size_t> RecoverOrders(std::span<const std::optional<Tick>> last_ticks,
                               std::span<const int64_t> last_source_msc,
                               std::span<const uint64_t> known_exec_ids);
  // The asynchronous venue's producer for the event loop once live; nullptr otherwise.
  node::Producer* venue_producer();
  bool asynchronous() const { return async_venue_ != nullptr; }
  // A report of the asynchronous venue, on the kernel thread: logged when appending (an input,
  // as a tick is), then applied (Kernel::OnExecutionReport). Returns what became of it.
  execution::ReportOutcome OnExecutionReport(const ExecutionReport& report);
  void OnAccountReport(const AccountReport& report);
  uint64_t reconciliations() const { return reconciliations_; }

  // A checkpoint of the account (balance, equity, positions, counts); logged when appending.
  std::string AccountCheckpoint() const;
  void WriteCheckpoint();

  // Verify mode: one logged event. Ticks, clock events and commands drive the kernel; outputs and
  // checkpoints are compared with what the kernel produced. Returns false at the first divergence.
  bool FollowLogged(const persistence::Event& event);
  // Verify mode, end of the log: anything produced but not logged is a divergence.
  bool FinishFollowing();
  const Divergence& divergence() const { return divergence_; }

  // Counts what this process does (rejections, breaker moves) while appending; null: nothing.
  // Must outlive the session or be unset first.
  void SetMetrics(SessionMetrics* metrics) { metrics_ = metrics; }

  // First error of the event store while appending (the driver stops on it).
  const Status& store_status() const { return store_status_; }

  kernel::Kernel& kernel() { return *kernel_; }
  const kernel::Kernel& kernel() const { return *kernel_; }
  // The first traded instrument (the only one of a one-feed session).
  const Instrument& instrument() const { return instruments_[traded_.front().value]; }
  // Every instrument, by kernel id, and the traded ones' ids in feed order.
  const std::vector<Instrument>& instruments() const { return instruments_; }
  const std::vector<InstrumentId>& traded() const { return traded_; }
  const SessionSpec& spec() const { return spec_; }
  // The first traded instrument's DecisionStrategy; decisions() sums every instance's.
  const trading::DecisionStrategy& strategy() const { return *strategies_.front(); }
  // Every traded instrument's DecisionStrategy, in feed order (traded()).
  const std::vector<trading::DecisionStrategy*>& strategies() const { return strategies_; }
  uint64_t decisions() const;
  uint64_t ticks() const { return ticks_; }
  // Ticks fed per instrument (by kernel id), resumed ones included.
  const std::vector<uint64_t>& ticks_by_instrument() const { return ticks_by_instrument_; }
  // Per instrument (by kernel id) since the session's start, resumed ones included: orders (every
  // one the kernel numbered: the strategy's, refused ones, the venue's own), fills and their
  // commissions.
  // net_pnl is the balance's change at the instrument's fills (realised P&L after commission, in
  // the account currency), so the instruments' sum is the balance minus the initial one.
  struct InstrumentCounts {
    uint64_t orders = 0;
    uint64_t fills = 0;
    Money commission;
    Money net_pnl;
  };
  const std::vector<InstrumentCounts>& counts() const { return counts_; }
  // Outputs produced so far (all types), e.g. to tell which ticks made an order.
  uint64_t orders_accepted() const { return orders_accepted_; }
  // Steady-clock nanoseconds when the venue first accepted (or filled) an order since
  // ResetAcceptClock(); 0 if none. The paper driver's tick-to-order latency ends here.
  void ResetAcceptClock() { accepted_at_ns_ = 0; }
  // The ids of the last command ApplyCommand took (whoever sent it: docs/api.md, "Tracing and
  // audit") and the client id of the order it made (an order or a modify), for its log line.
  struct CommandTrace {
    std::string by;
    std::string request_id;
    std::string chain_id;
    std::string client_order_id;
  };
  const CommandTrace& last_command() const { return last_command_; }
  int64_t accepted_at_ns() const { return accepted_at_ns_; }
  uint64_t outputs() const { return outputs_; }

 private:
  Session() = default;
  // Appends to the store when appending (the first store error is kept and stops the rest).
  void Log(persistence::EventType type, Timestamp ts, std::string_view payload);
  // An output of the kernel: logged when appending, queued for comparison when verifying.
  void Emit(persistence::EventType type, Timestamp ts, std::string_view payload);
  bool Diverge(uint64_t seq, std::string logged, std::string produced);
  // Counts the orders the kernel numbered since the last call by their instrument, after
  // settling the replacements whose orders have ended.
  void CountNewOrders();
  // A "modify" command replaces a working order: its replacement is submitted once the venue
  // has cancelled it, never while it may still fill; if it filled or ended otherwise first, the
  // replacement is dropped and the log says so.
  void SettleReplacements();

  SessionSpec spec_;
  SimulatedClock clock_;
  std::vector<Instrument> instruments_;
  // The client ids of manual orders without one (ApplyCommand).
  Timestamp manual_time_{-1};
  uint64_t manual_index_ = 0;
  // Replacements of "modify" commands, by the kernel id of the order they replace, with what
  // that order had filled when the command came (fills after it come off the replacement). A
  // resume rebuilds them from the logged commands, as a replay does.
  struct Replacement {
    OrderRequest request;
    Quantity filled_then;
  };
  std::map<uint64_t, Replacement> replacements_;
  // Drops the replacements pending for `id` (0: every one), saying why.
  void DropReplacements(uint64_t id, const std::string& why);
  // Who caused an operator's order: the ids its command carried (the API's X-Request-ID and
  // X-Chain-ID, docs/api.md, "Tracing and audit"), by the order's client id, so that the log
  // lines of its updates and fills carry them too. Bounded: the oldest are forgotten first.
  struct Chain {
    std::string by;
    std::string request_id;
    std::string chain_id;
  };
  CommandTrace last_command_;
  std::unordered_map<std::string, Chain> chains_;
  std::deque<std::string> chain_order_;
  void RememberChain(const std::string& client_order_id, const Chain& chain);
  // The chain of an order's client id, or null; cheap when no command named one.
  const Chain* FindChain(const std::string& client_order_id) const;
  std::vector<InstrumentId> traded_;
  std::unique_ptr<kernel::Kernel> kernel_;
  SessionVenue* async_venue_ = nullptr;  // owned by the kernel; set when the venue is threaded
  std::vector<trading::DecisionStrategy*> strategies_;  // owned by the kernel
  std::vector<uint64_t> ticks_by_instrument_;
  std::vector<InstrumentCounts> counts_;
  Money balance_;  // the account's balance after the last fill
  uint64_t orders_counted_ = 0;
  RecordMode mode_ = RecordMode::kVerify;
  persistence::EventStore* store_ = nullptr;
  SessionMetrics* metrics_ = nullptr;
  Status store_status_;
  struct Produced {
    persistence::EventType type;
    Timestamp ts;
    std::string payload;
  };
  std::deque<Produced> produced_;
  OutputSink capture_;
  ShadowHook shadow_hook_;
  ShadowHook verdict_hook_;
  Divergence divergence_;
  bool diverged_ = false;
  std::string buffer_;
  uint64_t ticks_ = 0;
  uint64_t clock_advances_ = 0;
  uint64_t reconciliations_ = 0;
  uint64_t orders_accepted_ = 0;
  int64_t accepted_at_ns_ = 0;
  uint64_t outputs_ = 0;
};

// One event as a line of text ("fill order 3 BUY 0.50 @ 1.10012 commission 3.50 (market)").
std::string DescribeEvent(persistence::EventType type, std::string_view payload);

}  // namespace aits::session
