// The messages between the roles that turn market data into a decision when they run apart
// (docs/services.md, "The roles between the tick and the order"; ADR 0007, decision 2): the
// features role sends one FeatureRow per closed bar of a traded instrument, the prediction role
// answers each with one Prediction. Both name their bar (instrument and open time), which is
// the key every consumer applies them by: one per bar, in bar order, a repeat dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aits/model/market.h"
#include "aits/model/message_type.h"

namespace aits {

// A closed bar and the model's inputs computed from the bars up to it.
struct FeatureRow {
  static constexpr MessageType kMessageType = MessageType::kFeatureRow;

  Bar bar;
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

}  // namespace aits
