// What a paper session is: its feed, signal, decision and risk settings and the account. Stored
// as the first event of the session's log (kSessionStart), so that a restart resumes the same
// session and `aits replay` rebuilds it from the log alone (plus the model file it names).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/order.h"

namespace aits::session {

struct SessionSpec {
  // Feed: "synthetic" or a tick/bar data file (data::OpenSource formats).
  std::string feed = "synthetic";
  std::string format = "auto";
  int64_t spread_points = 0;  // for single-price data
  std::string symbol = "EURUSD";
  // The instrument as resolved when the session started (docs/instruments.md), so that a resume or
  // a replay trades the same contract whatever the catalogue says by then. Empty in logs written
  // before sessions recorded it: InstrumentOf() rebuilds those from the symbol, as they were.
  std::optional<Instrument> instrument;
  // Synthetic market (data::SyntheticOptions).
  uint64_t seed = 1;
  Timestamp synthetic_start;  // first synthetic tick; set to the wall clock when a session starts
  double start_price = 1.10000;
  double volatility = 1.0;
  // Ticks to consume in all (0 = the whole file; the synthetic market needs a count).
  uint64_t max_ticks = 0;
  // Signal: a rule signal (sma_cross, rsi) or ml_ensemble with a registry model.
  std::string signal = "sma_cross";
  std::string signal_params;  // "fast=10,slow=30"
  std::string registry;
  std::string model;           // as resolved at start: "NAME@VERSION"
  std::string model_checksum;  // of the model bytes, checked again on resume and replay
  // Decision and risk settings as key/value pairs (DecisionConfig::Set, RiskLimits::Set), in the
  // order given; risk defaults fill what is not given.
  std::vector<std::pair<std::string, std::string>> decision;
  std::vector<std::pair<std::string, std::string>> risk;
  // Account and venue.
  std::string account_currency = "USD";
  double balance = 100'000;
  double leverage = 100;
  int64_t latency_us = 0;
  std::string commission = "none";
  int64_t slippage_points = 0;
  // "netting" or "hedging" (ParseAccountMode). Written to the log only for hedging, so that a
  // netting session's description reads as it did before accounts had a mode.
  std::string account_mode = "netting";
  int64_t bar_seconds = 60;
  // Client order ids are "<session_id>-<n>".
  std::string session_id = "paper";

  std::string ToJson() const;
  // InvalidArgument naming the field on a malformed document.
  static Result<SessionSpec> FromJson(std::string_view json);
  // Field by field; the first difference as "field: 'a' vs 'b'", empty if equal.
  std::string FirstDifference(const SessionSpec& other) const;
};

// spec.instrument (with id 0), or for a log that predates it Instrument::Infer(spec.symbol).
Instrument InstrumentOf(const SessionSpec& spec);

}  // namespace aits::session
