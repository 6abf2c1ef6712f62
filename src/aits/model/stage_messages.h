// The messages between the roles that turn market data into a decision when they run apart
// (docs/services.md, "The roles between the tick and the order"; ADR 0007, decision 2): the
// features role sends one FeatureRow per closed bar of a traded instrument, the prediction role
// answers each with one Prediction. Both name their bar (instrument and open time), which is
// the key every consumer applies them by: one per bar, in bar order, a repeat dropped. When the
// decision runs apart from the account's owner (ADR 0007, decision 4), the owner sends an
// AccountAtBar at each bar close and waits for the decision role's BarDecision of that bar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aits/model/market.h"
#include "aits/model/message_type.h"
#include "aits/model/order.h"

namespace aits {

// A closed bar and the model's inputs computed from the bars up to it.
struct FeatureRow {
  static constexpr MessageType kMessageType = MessageType::kFeatureRow;

  Bar bar;
  // The bar's number among the instrument's closed bars of the feed, from 1: the same on every
  // recomputation, so that a reader puts messages that a retried publish stored out of order
  // back in order, and sees a missing one.
  uint64_t index = 0;
  // false while the features warm up: the bar still counts (the model's own state may need it).
  bool ready = false;
  // The model's input row (the ensemble's feature columns); empty for a signal that reads bars
  // only (the rule signals).
  std::vector<float> row;
};

// The signal for one bar, with what a decision record says about it.
struct Prediction {
  static constexpr MessageType kMessageType = MessageType::kPrediction;

  InstrumentId instrument;
  Timestamp bar_open;
  uint64_t index = 0;  // the feature row's
  bool ready = false;  // false: no signal for this bar (warming up)
  double strength = 0;
  double confidence = 1;
  double anomaly = 0;
  int32_t regime = -1;
  std::string source;  // the signal source's name ("sma_cross", "ml_ensemble")
  // The source's description as JSON object members (SignalSource::Describe): `described` for a
  // decision that holds, `explained` for one that trades (with the feature contributions); the
  // same text when the source explains nothing more.
  std::string described;
  std::string explained;
};

// The account and the market as the owner sees them when a bar of a traded instrument closes:
// what the decision role decides that bar on (decision::MarketState, flattened).
struct AccountAtBar {
  static constexpr MessageType kMessageType = MessageType::kAccountAtBar;

  InstrumentId instrument;
  Timestamp bar_open;
  Timestamp bar_close;     // the signal's time
  bool has_quote = false;  // false: no quote yet: nothing to decide on, the rest is unset
  Tick quote;
  double atr = 0;
  Quantity position;
  Quantity pending;
  Money equity;
  double value_per_price_unit = 0;
};

// The decision of one bar, for the owner to send and record.
struct BarDecision {
  static constexpr MessageType kMessageType = MessageType::kBarDecision;

  InstrumentId instrument;
  Timestamp bar_open;
  bool decided = false;  // false: no signal or no quote for this bar: no decision, no record
  uint8_t action = 0;    // decision::Action by its number
  Side side = Side::kBuy;
  Quantity lots;
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  // The decision record's members up to its orders (trading::WriteDecisionMembers); the owner
  // adds the orders it sent.
  std::string record;
};

}  // namespace aits
