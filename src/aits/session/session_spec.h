// What a paper session is: its feed (or feeds), signal, decision and risk settings and the
// account. Stored as the first event of the session's log (kSessionStart), so that a restart
// resumes the same session and `aits replay` rebuilds it from the log alone (plus the model file
// it names).
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

// One market data feed of a session over several instruments (docs/paper.md, "Several
// instruments"): a tick file or the synthetic market, its instrument as resolved when the session
// started (with the kernel id it was given: registration order, so that each instrument's P&L
// converts through the rate instruments before it), and whether it is traded (one strategy
// instance) or only supplies conversion rates.
struct FeedSpec {
  std::string feed;  // a tick file, or "synthetic"
  Instrument instrument;
  bool traded = true;
  // Synthetic market: this feed's seed and first price (the other settings are the spec's).
  uint64_t seed = 1;
  double start_price = 1.10000;
};

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
  // A candidate tried in shadow beside `model` (docs/ml.md, "Shadow trial"): "NAME@VERSION" as
  // resolved at start, its checksum, and the long and short calls that end the trial. Empty: none
  // (and absent from the log, so that a session without one reads as before).
  std::string shadow_model;
  std::string shadow_checksum;
  uint64_t shadow_min_calls = 200;
  // How the model's members are weighed (docs/ml.md, "Member weights"): empty, alike as trained;
  // "adaptive", by their recent record (ml::MemberWeightsConfig's defaults). Absent from the log
  // when empty.
  std::string member_weights;
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
  // Client order ids are "<session_id>-<n>" ("<session_id>-<SYMBOL>-<n>" with several traded).
  std::string session_id = "paper";
  // Several feeds, merged in time order (equal times in this order, as a backtest merges them).
  // Empty: the one feed above (feed, symbol, instrument, seed, start_price). When set, those
  // fields describe the first traded feed, for logs and labels; format, spread_points,
  // synthetic_start, volatility and max_ticks (ticks of all feeds together) apply to every feed.
  std::vector<FeedSpec> feeds;
  // What a start does when the venue's account differs from the state rebuilt from the log:
  // "adopt", "flatten" or "refuse" (docs/execution.md, "Reconciliation"). Refuse by default: a
  // node never trades on from a picture of the account it cannot account for unless told how.
  // A resume may choose another for that start (PaperOptions::reconcile); the policy a start
  // used is in its reconciliation event. Logs from before this field read as "refuse".
  std::string reconcile = "refuse";
  // Whether the log's order records carry the venue's ticket (Order::venue_order_id, codec v3).
  // New sessions do; logs written before read as false and go on without them, so that their
  // resume and replay reproduce the logged bytes.
  bool order_tickets = true;
  // The execution venue (docs/paper.md, "Asynchronous venue"): "simulated", the synchronous
  // SimulatedVenue (fills are functions of the logged inputs, and a replay re-runs it), or
  // "threaded", node::ThreadedVenue on its own thread answering through the inbox after
  // `report_latency_us` of wall time (its reports are logged as inputs, and a replay feeds them).
  // Written to the log only for "threaded", so that other sessions read as they did.
  std::string venue = "simulated";
  int64_t report_latency_us = 0;

  std::string ToJson() const;
  // InvalidArgument naming the field on a malformed document.
  static Result<SessionSpec> FromJson(std::string_view json);
  // Field by field; the first difference as "field: 'a' vs 'b'", empty if equal.
  std::string FirstDifference(const SessionSpec& other) const;
};

// The feed name of the MetaTrader gateway's live data (FeedSpec::feed; aits live).
inline constexpr std::string_view kLiveFeed = "mt5";

// kMt5: a live MetaTrader 5 account through the gateway (aits live; docs/metatrader.md).
enum class VenueKind : uint8_t { kSimulated, kThreaded, kMt5 };
// "simulated", "threaded" or "mt5"; InvalidArgument naming the text otherwise.
Result<VenueKind> ParseVenueKind(std::string_view text);
// A report latency as written ("5ms", "250us", "0", "1s", "2000ns": a number and a unit; 0 may go
// without one) in whole microseconds; InvalidArgument naming the text when it is not one, is
// negative, or is over a minute.
Result<int64_t> ParseReportLatency(std::string_view text);

// Sets the spec's venue and report latency from settings as written (aits paper's --venue and
// --report-latency, the settings file's execution: section); empty text leaves a field as it is.
// InvalidArgument prefixed with `venue_name` or `latency_name` (the flag or file:line:key) and
// naming the value; a report latency for the simulated venue, which has no link, is an error.
Status SetExecution(SessionSpec* spec, std::string_view venue, std::string_view report_latency,
                    std::string_view venue_name, std::string_view latency_name);

// spec.instrument (with id 0), or for a log that predates it Instrument::Infer(spec.symbol).
Instrument InstrumentOf(const SessionSpec& spec);
// Every instrument of the session, by kernel id (one feed: {InstrumentOf(spec)}).
std::vector<Instrument> InstrumentsOf(const SessionSpec& spec);
// The kernel ids of the traded instruments, in feed order (one feed: {0}).
std::vector<InstrumentId> TradedOf(const SessionSpec& spec);
// The feeds of the session in feed order (one feed: the single-feed fields as a FeedSpec).
std::vector<FeedSpec> FeedsOf(const SessionSpec& spec);
// InvalidArgument naming the feed ("feeds[1] (USDJPY)") when the feeds are not one each of
// instruments with ids 0..n-1, or none is traded.
Status ValidateFeeds(const SessionSpec& spec);

}  // namespace aits::session
