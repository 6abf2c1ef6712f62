// DecisionStrategy: the strategy that trades through the decision engine. At every bar close it
// asks its SignalSource for a signal, measures the market (last quote, ATR of its bars, position,
// pending orders, equity, the account value of a price move), lets the DecisionEngine decide, and
// sends the market order with its stop-loss and take-profit. The kernel's risk manager checks the
// order on the way out; a rejection comes back synchronously and is part of the record.
//
// Every decision — HOLD included — is written as one JSON record to the DecisionSink with all of
// its inputs: signal, model scores, regime, confidence, (for trading decisions) the top feature
// contributions, the market, each filter's outcome, the sizing steps, and the order with its
// risk verdict. On a hedging account one decision may send several orders (closes by ticket, then
// an open: strategy::SubmitNetted); `order` is then the last and `orders` lists them all.
// `aits explain ORDER_ID` prints it from the event log, for any of its orders.
//
// Client order ids are "<prefix>-<n>", n counting this strategy's orders from 1: the same
// inputs give the same ids, so a session resumed from its event log re-creates (and a broker
// de-duplicates) exactly the orders it had sent.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aits/features/indicators.h"
#include "aits/ml/model_watch.h"
#include "aits/trading/decision_engine.h"
#include "aits/trading/json_writer.h"
#include "aits/trading/signal_source.h"
#include "aits/trading/strategy.h"

namespace aits::trading {

struct DecisionStrategyOptions {
  std::string client_id_prefix = "d";
  bool record_holds = true;  // false: only decisions that trade are recorded
};

// Receives one decision record (JSON) at the decision's kernel time.
using DecisionSink = std::function<void(Timestamp ts, std::string_view json)>;

// A bar's decision made in another process: the decision role's answer (ADR 0007, decision 4;
// services::DecisionFeed).
struct RemoteDecision {
  bool decided = false;  // false: no signal for the bar, or no quote: no decision, no record
  // action, side, lots, stop_loss and take_profit; the rest is in `record`.
  decision::Decision decision;
  std::string record;  // the record's members up to its orders (WriteDecisionMembers)
};

// Decides the bars of one instrument elsewhere. DecisionStrategy asks it at every bar close, in
// place of its signal source and engine, and sends what it answers.
class RemoteDecider {
 public:
  virtual ~RemoteDecider() = default;
  // Blocks until the decision of `bar` is in hand. `market`: the account and the market as of
  // this bar's close, measured as DecisionStrategy measures them; nullptr when no quote has come
  // yet. false: no decision could be had (the decider keeps the error for the session to stop
  // on; the bar is then not decided).
  virtual bool Decide(const Bar& bar, const decision::MarketState* market, RemoteDecision* out) = 0;
};

// The members of decision record number `number` (1, 2, ... per instrument) up to its orders,
// as DecisionStrategy writes them: `describe` writes the signal source's description (explain:
// the decision trades). Shared with the decision role so that a record decided in another
// process is the same text.
void WriteDecisionMembers(JsonWriter& out, uint64_t number, const Instrument& instrument,
                          const decision::Signal& signal, std::string_view source_name,
                          const std::function<void(JsonWriter&, bool explain)>& describe,
                          const decision::MarketState& market, const decision::Decision& d,
                          decision::SizingMode sizing);

// Whether decision `d` sends an order (one, or on a hedging account possibly several).
inline bool Trades(const decision::Decision& d) {
  return d.action != decision::Action::kHold && d.lots.IsPositive();
}

class DecisionStrategy final : public strategy::Strategy {
 public:
  DecisionStrategy(const Instrument& instrument, std::unique_ptr<SignalSource> source,
                   decision::DecisionEngine engine, DecisionStrategyOptions options,
                   DecisionSink sink = {});
  // Decisions made elsewhere (the decision role): this strategy measures the market, asks
  // `remote`, sends the orders and completes the record with them. `engine` gives the sizing
  // mode only.
  DecisionStrategy(const Instrument& instrument, std::unique_ptr<RemoteDecider> remote,
                   decision::DecisionEngine engine, DecisionStrategyOptions options,
                   DecisionSink sink = {});
  std::string_view name() const override { return name_; }
  void OnBar(const Bar& bar) override;
  bool WantsTicks() const override { return false; }  // decides on bar closes only
  void OnOrderUpdate(const Order& order) override;

  uint64_t decisions() const { return decisions_; }
  uint64_t orders_sent() const { return orders_sent_; }
  // Decided elsewhere: only what RemoteDecision::decision carries.
  const decision::Decision& last_decision() const { return last_; }
  // Decisions by action (HOLD, BUY, SELL, CLOSE), for the session's metrics.
  uint64_t decisions(decision::Action action) const {
    return by_action_[static_cast<size_t>(action)];
  }
  // The signal of the last decision made here; nullptr before the first, and while decisions
  // come from the decision role (whose signal stays there).
  const decision::Signal* last_signal() const { return has_signal_ ? &last_signal_ : nullptr; }
  // The signal source; nullptr while decisions come from the decision role.
  const SignalSource* source() const { return source_.get(); }

  // When the signal source watches its model (SignalSource::watch), `sink` receives a JSON
  // record each time the watch's verdict changes (ml::WatchPolicy: healthy, update, retrain,
  // with the figures behind it), at the bar's time; the session logs it as a model_verdict.
  void SetWatchSink(DecisionSink sink, ml::WatchPolicyConfig config = {});
  // The watch's verdict as taken so far (warming_up without a watch).
  ml::WatchVerdict watch_verdict() const { return policy_.verdict(); }
  // When the signal source tries a candidate beside its model (SignalSource::shadow), `sink`
  // receives one JSON record when the trial ends, at the bar that ends it: the two models' names
  // and records (ml::ToJson(ShadowRecord) under "record"); the session logs it as a model_shadow.
  void SetShadowSink(DecisionSink sink) { shadow_sink_ = std::move(sink); }
  // The registry's answer on the shadow trial of `candidate` (SignalSource::SettleShadow); a
  // promoted candidate's watch starts its verdict anew. False when the source has no such
  // candidate.
  bool SettleShadow(std::string_view candidate, bool promoted);
  // Starts the trial of a candidate in the middle of the session (SignalSource::StartShadow);
  // its end is reported through the shadow sink as a trial from the start is. FailedPrecondition
  // without a signal source (decisions from the decision role).
  Status StartShadow(std::string_view candidate, std::string_view checksum, uint64_t min_calls);
  // The trial's record as the shadow sink gets it (the two models' names, the calls that end it,
  // the record), or empty without a trial; for a trial that ended before a stop and was not
  // judged (the paper session's loop hands it to the gate after the resume).
  std::string ShadowJson() const;

 private:
  DecisionStrategy(const Instrument& instrument, std::unique_ptr<SignalSource> source,
                   std::unique_ptr<RemoteDecider> remote, decision::DecisionEngine engine,
                   DecisionStrategyOptions options, DecisionSink sink);
  // The market and the account now; false without a quote.
  bool Measure(decision::MarketState* market);
  // Sends last_'s orders (when it trades) into orders_.
  void Send();
  void DecideRemotely(const Bar& bar);
  // Writes record_: `members` (WriteDecisionMembers) and orders_.
  template <typename Members>
  void Record(Timestamp ts, const Members& members);

  void ObserveWatch(Timestamp ts, const ml::ModelWatch& watch);
  void ReportShadow(Timestamp ts);

  const Instrument& instrument_;
  std::unique_ptr<SignalSource> source_;
  std::unique_ptr<RemoteDecider> remote_;
  RemoteDecision remote_decision_;
  decision::DecisionEngine engine_;
  DecisionStrategyOptions options_;
  DecisionSink sink_;
  DecisionSink watch_sink_;
  ml::WatchPolicy policy_;
  DecisionSink shadow_sink_;
  bool shadow_reported_ = false;
  std::string name_;
  features::Atr atr_;
  decision::Decision last_;
  decision::Signal last_signal_;
  bool has_signal_ = false;
  uint64_t decisions_ = 0;
  std::array<uint64_t, 4> by_action_{};  // by decision::Action
  uint64_t orders_sent_ = 0;
  std::string client_id_;  // of the order being submitted; its synchronous updates land in seen_
  bool awaiting_ = false;
  // One decision's orders: as sent (SubmitNetted), their latest synchronous updates, and what
  // the record names (the update where one came, else the order as submitted). Reused.
  std::vector<strategy::SentOrder> sent_;
  std::vector<Order> seen_;
  std::vector<Order> orders_;
  std::string record_;
};

}  // namespace aits::trading
