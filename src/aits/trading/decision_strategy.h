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

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aits/features/indicators.h"
#include "aits/trading/decision_engine.h"
#include "aits/trading/signal_source.h"
#include "aits/trading/strategy.h"

namespace aits::trading {

struct DecisionStrategyOptions {
  std::string client_id_prefix = "d";
  bool record_holds = true;  // false: only decisions that trade are recorded
};

// Receives one decision record (JSON) at the decision's kernel time.
using DecisionSink = std::function<void(Timestamp ts, std::string_view json)>;

class DecisionStrategy final : public strategy::Strategy {
 public:
  DecisionStrategy(const Instrument& instrument, std::unique_ptr<SignalSource> source,
                   decision::DecisionEngine engine, DecisionStrategyOptions options,
                   DecisionSink sink = {});
  std::string_view name() const override { return name_; }
  void OnBar(const Bar& bar) override;
  bool WantsTicks() const override { return false; }  // decides on bar closes only
  void OnOrderUpdate(const Order& order) override;

  uint64_t decisions() const { return decisions_; }
  uint64_t orders_sent() const { return orders_sent_; }
  const decision::Decision& last_decision() const { return last_; }

 private:
  // `orders`: what the decision sent, in sending order (empty: it sent none).
  void Record(const decision::Signal& signal, const decision::MarketState& market,
              const decision::Decision& decision, const std::vector<Order>& orders);

  const Instrument& instrument_;
  std::unique_ptr<SignalSource> source_;
  decision::DecisionEngine engine_;
  DecisionStrategyOptions options_;
  DecisionSink sink_;
  std::string name_;
  features::Atr atr_;
  decision::Decision last_;
  uint64_t decisions_ = 0;
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
