// MarketMonitor: live statistics per symbol and alerts on the quotes themselves, fed every tick of
// every symbol (docs/feed.md, "Market monitor").
//
// Statistics per symbol: ticks, ticks/s over a sliding window, spread mean, min, max and
// percentiles (p50/p90/p99, exact: a histogram of spreads in whole price points since the start),
// the rolling median spread the spike rule compares against, the one-minute ATR, and the age of
// the last tick against the clock.
//
// Alerts (aits/model/market_alert.h), each raised and cleared at the exact tick (or clock time)
// where its rule says so:
//   spread_spike   spread > spread_spike_ratio x rolling median and at least
//                  spread_min_excess_pips above it, for spread_spike_ticks consecutive ticks
//                  spanning spread_spike_hold; clears when the spread is back to <=
//                  spread_clear_ratio x median (or less than half the excess above it) for
//                  spread_clear_ticks consecutive ticks spanning spread_clear_hold (the
//                  hysteresis), at the first of those ticks. The median is over the last
//                  spread_baseline_ticks calm spreads: spreads of a pending or raised spike do not
//                  enter it, so a long spike does not become its own baseline.
//   price_gap      a one-off: the mid moved by more than gap_atr_multiple x ATR(gap_atr_period) of
//                  one-minute mid bars, and by at least gap_min_pips, between two consecutive
//                  ticks (also across a pause or a weekend).
//   stale_feed     no tick for longer than stale_after while the symbol's session is open (the
//                  catalogue's windows; none = always open); the silence counts from the last
//                  tick, the session's opening, or the symbol's registration, whichever is last.
//                  Seen by Poll(); clears at the next tick.
//   crossed_quote  bid > ask; clears at the first tick with bid <= ask.
//   frozen_quote   the same bid and ask for frozen_ticks consecutive ticks, or for frozen_after
//                  over at least frozen_min_ticks ticks; clears at the first tick that changes
//                  either.
//
// At the first Poll() after a symbol's session closes, its raised alerts clear ("session closed").
//
// Time comes from the ticks and from the Clock given at construction (Poll and the statistics'
// ages); the monitor never reads the system clock, so a test replays it exactly.
//
// Cost: OnTick is O(1) and allocates nothing unless it raises an alert (bench/monitor_bench.cc,
// docs/performance.md). Poll is O(symbols); call it on a timer (a live node) or before each tick
// (a replay).
//
// Single-threaded: call everything from one thread (the kernel's).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/instrument_catalogue.h"
#include "aits/model/market.h"
#include "aits/model/market_alert.h"

namespace aits::feed {

// Thresholds; the defaults are for liquid FX pairs quoted in fractional pips (docs/feed.md says
// why each is what it is, measured on the real files of ../shared/data).
struct MonitorConfig {
  // Ticks/s: the ticks of the current whole second and the rate_window - 1 before it, divided by
  // rate_window. Whole seconds, 1..3600.
  Duration rate_window = Duration::Seconds(60);

  // Spread spike.
  int spread_baseline_ticks = 1000;     // the rolling median's window, 10..1,000,000 ticks
  int spread_baseline_min_ticks = 100;  // no spike alert before the window holds this many
  double spread_spike_ratio = 3.0;      // raise: spread > ratio x median ...
  double spread_min_excess_pips = 1.0;  // ... and spread - median >= this
  double spread_clear_ratio = 2.0;      // clear: spread <= ratio x median; 1 <= this < spike ratio
  int spread_spike_ticks = 3;           // the condition holds over this many ticks in a row ...
  Duration spread_spike_hold = Duration::Seconds(1);   // ... and this long from the first of them
  int spread_clear_ticks = 3;                          // clear: calm over this many ticks ...
  Duration spread_clear_hold = Duration::Seconds(10);  // ... and this long

  // Price gap.
  double gap_atr_multiple = 6.0;  // raise: |mid - previous mid| > multiple x ATR ...
  double gap_min_pips = 5.0;      // ... and >= this (a quiet night's ATR is a fraction of a pip)
  int gap_atr_period = 14;  // ATR period in one-minute bars; gaps are checked once it is ready

  // Stale feed.
  Duration stale_after = Duration::Seconds(120);

  // Frozen quote.
  int frozen_ticks = 50;                           // ticks with the same bid and ask, >= 2
  Duration frozen_after = Duration::Seconds(300);  // or this long ...
  int frozen_min_ticks = 3;                        // ... over at least this many ticks, >= 2

  // OK, or InvalidArgument naming the first field out of range and its value.
  Status Validate() const;
};

// The time `t` falls in an open window of `windows` since the window's start; nullopt when every
// window is closed at `t`. No windows: always open (returns Timestamp{INT64_MIN}).
std::optional<Timestamp> SessionOpenSince(const std::vector<TradingWindow>& windows, Timestamp t);

// Live figures of one symbol. Spreads and the ATR are in pips of the instrument (pip_size).
struct SymbolStats {
  InstrumentId instrument;
  std::string symbol;
  uint64_t ticks = 0;           // accepted ticks (crossed ones included)
  uint64_t crossed_ticks = 0;   // bid > ask: kept out of the spread figures
  uint64_t rejected_ticks = 0;  // earlier than the symbol's previous tick: not used
  uint64_t bars = 0;            // bars given to OnBar
  Timestamp first_tick;         // zero until the first tick
  Timestamp last_tick;
  Duration last_tick_age;    // clock - last tick (clock - registration before any tick)
  Duration longest_silence;  // the longest time between two consecutive ticks
  bool session_open = true;  // at the clock's time
  double ticks_per_second = 0;
  uint64_t spread_count = 0;  // spreads in the figures below (ticks - crossed)
  double spread_mean = 0;
  double spread_min = 0;
  double spread_max = 0;
  double spread_p50 = 0;
  double spread_p90 = 0;
  double spread_p99 = 0;
  double spread_median_rolling = 0;  // the spike rule's baseline (0 before any spread)
  int spread_baseline_ticks = 0;     // spreads in that baseline
  double atr = 0;                    // one-minute ATR; NaN until it is ready
  // Alerts by kind (AlertKind order): how many were raised (one-offs included), and which are
  // raised now.
  std::array<uint64_t, 5> alerts{};
  std::array<bool, 5> active{};
};

class MarketMonitor {
 public:
  // The clock must outlive the monitor. InvalidArgument if the config does not validate.
  static Result<std::unique_ptr<MarketMonitor>> Create(const MonitorConfig& config,
                                                       const Clock& clock);
  ~MarketMonitor();
  MarketMonitor(const MarketMonitor&) = delete;
  MarketMonitor& operator=(const MarketMonitor&) = delete;

  // Watches `instrument` (its id is what ticks carry) in the trading windows `sessions` (none:
  // always open). Its stale-feed clock starts now. InvalidArgument if the id is already watched
  // or above 65,535, or the tick or pip size is not positive.
  Status AddSymbol(const Instrument& instrument, std::vector<TradingWindow> sessions = {});

  // One tick. A tick of an instrument not watched is counted (unknown_ticks) and ignored; a tick
  // earlier than its symbol's previous one is counted (rejected_ticks) and ignored.
  void OnTick(const Tick& tick);
  // A bar of the symbol (one-minute bars from the feed): from the first one on, the symbol's ATR
  // is computed from the bars given instead of bars built from its ticks. A bar that does not
  // start after the previous one is counted (rejected_ticks) and ignored, a bar of an instrument
  // not watched likewise (unknown_ticks).
  void OnBar(const Bar& bar);
  // Checks every symbol for a stale feed at the clock's time; a symbol whose session is closed has
  // its raised alerts (spread spike, stale, crossed, frozen) cleared, "session closed".
  void Poll();

  // The alerts raised or cleared since the last call, in the order they happened. With a sink set
  // (SetSink) alerts go to the sink instead and this stays empty.
  std::vector<MarketAlert> TakeAlerts();
  // Every alert from now on is handed to `sink` as it happens (e.g. published on the bus).
  void SetSink(std::function<void(const MarketAlert&)> sink);

  // The figures of one symbol at the clock's time; NotFound for an instrument not watched.
  Result<SymbolStats> Stats(InstrumentId instrument) const;
  // Every watched symbol's figures, in the order they were added.
  std::vector<SymbolStats> AllStats() const;

  uint64_t unknown_ticks() const { return unknown_ticks_; }
  const MonitorConfig& config() const { return config_; }

 private:
  struct Symbol;
  MarketMonitor(const MonitorConfig& config, const Clock& clock);
  Symbol* Find(InstrumentId instrument);
  void Emit(MarketAlert alert);
  uint64_t Raise(Symbol& symbol, AlertKind kind, AlertSeverity severity, Timestamp start,
                 Timestamp now, double value, double threshold, std::string detail);
  void Clear(Symbol& symbol, AlertKind kind, Timestamp end, Timestamp now, std::string detail);
  void CheckSpread(Symbol& symbol, const Tick& tick, int64_t points);
  void CheckGap(Symbol& symbol, const Tick& tick, int64_t mid_raw);
  void CheckFrozen(Symbol& symbol, const Tick& tick);
  SymbolStats StatsOf(const Symbol& symbol, Timestamp now) const;

  MonitorConfig config_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Symbol>> symbols_;  // in the order added
  std::vector<Symbol*> by_id_;                    // indexed by InstrumentId::value
  std::vector<MarketAlert> alerts_;
  std::function<void(const MarketAlert&)> sink_;
  uint64_t next_alert_id_ = 1;
  uint64_t unknown_ticks_ = 0;
};

}  // namespace aits::feed
