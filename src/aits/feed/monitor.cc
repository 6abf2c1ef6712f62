#include "aits/feed/monitor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

#include "aits/features/indicators.h"

namespace aits::feed {
namespace {

// Spreads are counted in whole price points (ticks of the instrument) in histograms of this many
// buckets; wider spreads land in the last one, so a percentile there reads ">= 4095 points"
// (409 pips of a 5-digit pair: far past any alert).
constexpr int kSpreadBuckets = 4096;
constexpr int64_t kNanosPerMinute = 60 * kNanosPerSecond;
constexpr int64_t kNanosPerWeek = 7 * kNanosPerDay;
constexpr size_t kKinds = 5;
constexpr uint32_t kMaxInstrumentId = 65'535;

size_t Index(AlertKind kind) { return static_cast<size_t>(kind); }

int Bucket(int64_t points) {
  return static_cast<int>(std::clamp<int64_t>(points, 0, kSpreadBuckets - 1));
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string Format(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char buf[192];
  std::snprintf(buf, sizeof(buf), format, a, b, c, d);
  return buf;
}

// The median of the last `window` values (bucket numbers), kept in O(1) amortised per value: a
// histogram of the window, the median's bucket and how many values lie below it. The median is
// the lower one (rank ceil(n / 2)), as Percentile(0.5) below.
class RollingMedian {
 public:
  explicit RollingMedian(int window) : ring_(static_cast<size_t>(window)) {}

  void Push(int bucket) {
    if (size_ == ring_.size()) {
      const int old = ring_[head_];
      --counts_[static_cast<size_t>(old)];
      if (old < median_) --below_;
    } else {
      ++size_;
    }
    ring_[head_] = bucket;
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    ++counts_[static_cast<size_t>(bucket)];
    if (bucket < median_) ++below_;
    const uint64_t rank = (size_ + 1) / 2;
    while (below_ + counts_[static_cast<size_t>(median_)] < rank) {
      below_ += counts_[static_cast<size_t>(median_)];
      ++median_;
    }
    while (below_ >= rank) {
      --median_;
      below_ -= counts_[static_cast<size_t>(median_)];
    }
  }
  int Median() const { return median_; }
  size_t size() const { return size_; }

 private:
  std::vector<int> ring_;
  std::array<uint32_t, kSpreadBuckets> counts_{};
  size_t head_ = 0;
  size_t size_ = 0;
  int median_ = 0;
  uint64_t below_ = 0;  // values in buckets below median_
};

// The smallest bucket whose cumulative count reaches rank ceil(p x n) (nearest rank).
int Percentile(const std::array<uint64_t, kSpreadBuckets>& counts, uint64_t n, double p) {
  if (n == 0) return 0;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p * static_cast<double>(n))));
  uint64_t seen = 0;
  for (int bucket = 0; bucket < kSpreadBuckets; ++bucket) {
    seen += counts[static_cast<size_t>(bucket)];
    if (seen >= rank) return bucket;
  }
  return kSpreadBuckets - 1;
}

}  // namespace

Status MonitorConfig::Validate() const {
  auto bad = [](const std::string& field, const std::string& value, const std::string& why) {
    return InvalidArgument("monitor setting " + field + " = " + value + ": " + why);
  };
  auto seconds = [](Duration d) { return Format("%g s", d.SecondsF()); };
  if (rate_window < Duration::Seconds(1) || rate_window > Duration::Seconds(3600) ||
      rate_window.ns % kNanosPerSecond != 0) {
    return bad("rate_window", seconds(rate_window), "must be whole seconds, 1..3600");
  }
  if (spread_baseline_ticks < 10 || spread_baseline_ticks > 1'000'000) {
    return bad("spread_baseline_ticks", std::to_string(spread_baseline_ticks),
               "must be 10..1000000");
  }
  if (spread_baseline_min_ticks < 1 || spread_baseline_min_ticks > spread_baseline_ticks) {
    return bad("spread_baseline_min_ticks", std::to_string(spread_baseline_min_ticks),
               "must be 1..spread_baseline_ticks (" + std::to_string(spread_baseline_ticks) + ")");
  }
  if (!(spread_spike_ratio > 1.0) || !std::isfinite(spread_spike_ratio)) {
    return bad("spread_spike_ratio", Format("%g", spread_spike_ratio), "must be above 1");
  }
  if (!(spread_clear_ratio >= 1.0) || !(spread_clear_ratio < spread_spike_ratio)) {
    return bad("spread_clear_ratio", Format("%g", spread_clear_ratio),
               "must be at least 1 and below spread_spike_ratio (" +
                   Format("%g", spread_spike_ratio) + ")");
  }
  if (!(spread_min_excess_pips >= 0.0) || !std::isfinite(spread_min_excess_pips)) {
    return bad("spread_min_excess_pips", Format("%g", spread_min_excess_pips),
               "must be a number >= 0");
  }
  if (spread_spike_ticks < 1) {
    return bad("spread_spike_ticks", std::to_string(spread_spike_ticks), "must be >= 1");
  }
  if (spread_spike_hold < Duration{}) {
    return bad("spread_spike_hold", seconds(spread_spike_hold), "must be >= 0");
  }
  if (spread_clear_ticks < 1) {
    return bad("spread_clear_ticks", std::to_string(spread_clear_ticks), "must be >= 1");
  }
  if (spread_clear_hold < Duration{}) {
    return bad("spread_clear_hold", seconds(spread_clear_hold), "must be >= 0");
  }
  if (!(gap_atr_multiple > 0.0) || !std::isfinite(gap_atr_multiple)) {
    return bad("gap_atr_multiple", Format("%g", gap_atr_multiple), "must be above 0");
  }
  if (!(gap_min_pips >= 0.0) || !std::isfinite(gap_min_pips)) {
    return bad("gap_min_pips", Format("%g", gap_min_pips), "must be a number >= 0");
  }
  if (Status atr = features::Atr::Validate(gap_atr_period); !atr.ok()) {
    return bad("gap_atr_period", std::to_string(gap_atr_period), atr.message());
  }
  if (stale_after <= Duration{}) {
    return bad("stale_after", seconds(stale_after), "must be above 0");
  }
  if (frozen_ticks < 2) {
    return bad("frozen_ticks", std::to_string(frozen_ticks), "must be >= 2");
  }
  if (frozen_after <= Duration{}) {
    return bad("frozen_after", seconds(frozen_after), "must be above 0");
  }
  if (frozen_min_ticks < 2) {
    return bad("frozen_min_ticks", std::to_string(frozen_min_ticks), "must be >= 2");
  }
  return Status::Ok();
}

std::optional<Timestamp> SessionOpenSince(const std::vector<TradingWindow>& windows, Timestamp t) {
  if (windows.empty()) return Timestamp{std::numeric_limits<int64_t>::min()};
  // 1970-01-01 was a Thursday: day 0 is three days after a Monday.
  const int64_t day = FloorDiv(t.ns, kNanosPerDay);
  const int64_t into_week = ((day + 3) % 7 + 7) % 7 * kNanosPerDay + (t.ns - day * kNanosPerDay);
  std::optional<int64_t> longest;  // how long the window holding t has been open
  for (const TradingWindow& window : windows) {
    const int64_t start = window.start_minute * kNanosPerMinute;
    const int64_t end = window.end_minute * kNanosPerMinute;
    const bool inside = start < end ? (into_week >= start && into_week < end)
                                    : (into_week >= start || into_week < end);
    if (!inside) continue;
    const int64_t open_for = ((into_week - start) % kNanosPerWeek + kNanosPerWeek) % kNanosPerWeek;
    if (!longest || open_for > *longest) longest = open_for;
  }
  if (!longest) return std::nullopt;
  return Timestamp{t.ns - *longest};
}

struct MarketMonitor::Symbol {
  Symbol(const Instrument& inst, std::vector<TradingWindow> windows, const MonitorConfig& config,
         Timestamp now)
      : instrument(inst),
        sessions(std::move(windows)),
        watch_since(now),
        tick_raw(inst.tick_size.raw()),
        pip_raw(inst.pip_size.raw()),
        points_per_pip(static_cast<double>(inst.pip_size.raw()) /
                       static_cast<double>(inst.tick_size.raw())),
        rate(static_cast<size_t>(config.rate_window.ns / kNanosPerSecond)),
        baseline(config.spread_baseline_ticks),
        atr(config.gap_atr_period) {}

  Instrument instrument;
  std::vector<TradingWindow> sessions;
  Timestamp watch_since;
  int64_t tick_raw;
  int64_t pip_raw;
  double points_per_pip;  // divided by, not multiplied by its inverse: 3 points are 0.3 pips

  uint64_t ticks = 0;
  uint64_t crossed = 0;
  uint64_t rejected = 0;
  uint64_t bars = 0;
  Timestamp first_tick;
  Timestamp last_tick;
  Duration longest_silence;

  // Ticks per whole second, a ring indexed by second modulo its size.
  struct Second {
    int64_t second = std::numeric_limits<int64_t>::min();
    uint32_t count = 0;
  };
  std::vector<Second> rate;

  // Spreads in points.
  std::array<uint64_t, kSpreadBuckets> spread_counts{};
  uint64_t spread_n = 0;
  int64_t spread_sum = 0;
  int64_t spread_min = std::numeric_limits<int64_t>::max();
  int64_t spread_max = std::numeric_limits<int64_t>::min();
  RollingMedian baseline;
  int spike_pending = 0;  // consecutive offending ticks
  Timestamp spike_since;
  int spike_median = 0;   // the baseline the raised spike is measured against
  int clear_pending = 0;  // consecutive calm ticks while a spike is raised
  Timestamp clear_since;

  // One-minute mid bars for the ATR (unless bars come through OnBar).
  features::Atr atr;
  bool bars_given = false;
  Timestamp last_bar_open{std::numeric_limits<int64_t>::min()};
  int64_t minute = std::numeric_limits<int64_t>::min();
  double bar_high = 0;
  double bar_low = 0;
  double bar_close = 0;
  bool have_mid = false;
  int64_t last_mid = 0;
  Timestamp last_mid_ts;

  // The current run of unchanged quotes.
  bool have_quote = false;
  int64_t last_bid = 0;
  int64_t last_ask = 0;
  int run_ticks = 0;
  Timestamp run_since;

  std::array<uint64_t, kKinds> raised{};
  std::array<uint64_t, kKinds> active_id{};  // 0: not raised
  std::array<Timestamp, kKinds> active_start{};
  std::array<AlertSeverity, kKinds> active_severity{};

  double Pips(int64_t points) const { return static_cast<double>(points) / points_per_pip; }
  double PipsOfRaw(int64_t raw) const {
    return static_cast<double>(raw) / static_cast<double>(pip_raw);
  }
};

MarketMonitor::MarketMonitor(const MonitorConfig& config, const Clock& clock)
    : config_(config), clock_(clock) {}

MarketMonitor::~MarketMonitor() = default;

Result<std::unique_ptr<MarketMonitor>> MarketMonitor::Create(const MonitorConfig& config,
                                                             const Clock& clock) {
  AITS_RETURN_IF_ERROR(config.Validate());
  return std::unique_ptr<MarketMonitor>(new MarketMonitor(config, clock));
}

Status MarketMonitor::AddSymbol(const Instrument& instrument, std::vector<TradingWindow> sessions) {
  const uint32_t id = instrument.id.value;
  if (id < by_id_.size() && by_id_[id] != nullptr) {
    return InvalidArgument("market monitor: instrument id " + std::to_string(id) + " (" +
                           instrument.symbol + ") is already watched as " +
                           by_id_[id]->instrument.symbol);
  }
  // Ids index a table: the kernel's are dense from 0, and a wild one must not allocate gigabytes.
  if (id > kMaxInstrumentId) {
    return InvalidArgument("market monitor: instrument id " + std::to_string(id) + " (" +
                           instrument.symbol + ") is above " + std::to_string(kMaxInstrumentId));
  }
  if (!instrument.tick_size.IsPositive() || !instrument.pip_size.IsPositive()) {
    return InvalidArgument("market monitor: " + instrument.symbol + " has tick size " +
                           instrument.tick_size.ToString() + " and pip size " +
                           instrument.pip_size.ToString() + "; both must be positive");
  }
  if (id >= by_id_.size()) by_id_.resize(id + 1, nullptr);
  symbols_.push_back(
      std::make_unique<Symbol>(instrument, std::move(sessions), config_, clock_.Now()));
  by_id_[id] = symbols_.back().get();
  return Status::Ok();
}

MarketMonitor::Symbol* MarketMonitor::Find(InstrumentId instrument) {
  return instrument.value < by_id_.size() ? by_id_[instrument.value] : nullptr;
}

void MarketMonitor::Emit(MarketAlert alert) {
  if (sink_) {
    sink_(alert);
  } else {
    alerts_.push_back(std::move(alert));
  }
}

uint64_t MarketMonitor::Raise(Symbol& symbol, AlertKind kind, AlertSeverity severity,
                              Timestamp start, Timestamp now, double value, double threshold,
                              std::string detail) {
  MarketAlert alert;
  alert.id = next_alert_id_++;
  alert.kind = kind;
  alert.severity = severity;
  alert.state = kind == AlertKind::kPriceGap ? AlertState::kOneOff : AlertState::kRaised;
  alert.instrument = symbol.instrument.id;
  alert.symbol = symbol.instrument.symbol;
  alert.start = start;
  alert.end = alert.state == AlertState::kOneOff ? start : Timestamp{};
  alert.ts = now;
  alert.value = value;
  alert.threshold = threshold;
  alert.detail = std::move(detail);
  const size_t k = Index(kind);
  ++symbol.raised[k];
  if (alert.state == AlertState::kRaised) {
    symbol.active_id[k] = alert.id;
    symbol.active_start[k] = start;
    symbol.active_severity[k] = severity;
  }
  const uint64_t id = alert.id;
  Emit(std::move(alert));
  return id;
}

void MarketMonitor::Clear(Symbol& symbol, AlertKind kind, Timestamp end, Timestamp now,
                          std::string detail) {
  const size_t k = Index(kind);
  MarketAlert alert;
  alert.id = symbol.active_id[k];
  alert.kind = kind;
  alert.severity = symbol.active_severity[k];
  alert.state = AlertState::kCleared;
  alert.instrument = symbol.instrument.id;
  alert.symbol = symbol.instrument.symbol;
  alert.start = symbol.active_start[k];
  alert.end = end;
  alert.ts = now;
  alert.detail = std::move(detail);
  symbol.active_id[k] = 0;
  Emit(std::move(alert));
}

void MarketMonitor::OnTick(const Tick& tick) {
  Symbol* found = Find(tick.instrument);
  if (found == nullptr) {
    ++unknown_ticks_;
    return;
  }
  Symbol& symbol = *found;
  if (symbol.ticks > 0 && tick.ts < symbol.last_tick) {
    ++symbol.rejected;
    return;
  }
  // Statistics every tick counts for.
  if (symbol.ticks == 0) {
    symbol.first_tick = tick.ts;
  } else {
    symbol.longest_silence = std::max(symbol.longest_silence, tick.ts - symbol.last_tick);
  }
  ++symbol.ticks;
  symbol.last_tick = tick.ts;
  const int64_t second = FloorDiv(tick.ts.ns, kNanosPerSecond);
  const auto slots = static_cast<int64_t>(symbol.rate.size());
  auto& slot = symbol.rate[static_cast<size_t>((second % slots + slots) % slots)];
  if (slot.second != second) {
    slot.second = second;
    slot.count = 0;
  }
  ++slot.count;

  if (symbol.active_id[Index(AlertKind::kStaleFeed)] != 0) {
    Clear(symbol, AlertKind::kStaleFeed, tick.ts, tick.ts, "ticks again");
  }
  CheckFrozen(symbol, tick);

  const int64_t bid = tick.bid.raw();
  const int64_t ask = tick.ask.raw();
  const size_t crossed_kind = Index(AlertKind::kCrossedQuote);
  if (bid > ask) {
    ++symbol.crossed;
    if (symbol.active_id[crossed_kind] == 0) {
      Raise(symbol, AlertKind::kCrossedQuote, AlertSeverity::kCritical, tick.ts, tick.ts,
            symbol.PipsOfRaw(bid - ask), 0,
            "bid " + tick.bid.ToString() + " > ask " + tick.ask.ToString() +
                Format(" (crossed by %.1f pips)", symbol.PipsOfRaw(bid - ask)));
    }
    return;  // a crossed quote's spread and mid are not figures to learn from
  }
  if (symbol.active_id[crossed_kind] != 0) {
    Clear(symbol, AlertKind::kCrossedQuote, tick.ts, tick.ts,
          "bid " + tick.bid.ToString() + " <= ask " + tick.ask.ToString());
  }

  const int64_t points = (ask - bid) / symbol.tick_raw;
  ++symbol.spread_counts[static_cast<size_t>(Bucket(points))];
  ++symbol.spread_n;
  symbol.spread_sum += points;
  symbol.spread_min = std::min(symbol.spread_min, points);
  symbol.spread_max = std::max(symbol.spread_max, points);
  CheckSpread(symbol, tick, points);
  CheckGap(symbol, tick, bid + (ask - bid) / 2);
}

void MarketMonitor::CheckSpread(Symbol& symbol, const Tick& tick, int64_t points) {
  const size_t k = Index(AlertKind::kSpreadSpike);
  if (symbol.active_id[k] != 0) {
    // Measured against the baseline the spike was raised on: spreads of the spike never enter it.
    const int median = symbol.spike_median;
    const bool calm = static_cast<double>(points) <= config_.spread_clear_ratio * median ||
                      symbol.Pips(points - median) < config_.spread_min_excess_pips / 2;
    if (!calm) {
      symbol.clear_pending = 0;
      return;
    }
    if (symbol.clear_pending++ == 0) symbol.clear_since = tick.ts;
    symbol.baseline.Push(Bucket(points));
    if (symbol.clear_pending >= config_.spread_clear_ticks &&
        tick.ts - symbol.clear_since >= config_.spread_clear_hold) {
      symbol.clear_pending = 0;
      Clear(symbol, AlertKind::kSpreadSpike, symbol.clear_since, tick.ts,
            Format("spread %.1f pips, median %.1f pips", symbol.Pips(points), symbol.Pips(median)));
    }
    return;
  }
  const int median = symbol.baseline.Median();
  const bool ready =
      symbol.baseline.size() >= static_cast<size_t>(config_.spread_baseline_min_ticks);
  const bool offending = ready &&
                         static_cast<double>(points) > config_.spread_spike_ratio * median &&
                         symbol.Pips(points - median) >= config_.spread_min_excess_pips;
  if (!offending) {
    symbol.spike_pending = 0;
    symbol.baseline.Push(Bucket(points));
    return;
  }
  if (symbol.spike_pending++ == 0) symbol.spike_since = tick.ts;
  if (symbol.spike_pending >= config_.spread_spike_ticks &&
      tick.ts - symbol.spike_since >= config_.spread_spike_hold) {
    symbol.spike_pending = 0;
    symbol.spike_median = median;
    const double threshold = std::max(config_.spread_spike_ratio * symbol.Pips(median),
                                      symbol.Pips(median) + config_.spread_min_excess_pips);
    Raise(symbol, AlertKind::kSpreadSpike, AlertSeverity::kWarning, symbol.spike_since, tick.ts,
          symbol.Pips(points), threshold,
          Format("spread %.1f pips > %.1f x median %.1f pips", symbol.Pips(points),
                 config_.spread_spike_ratio, symbol.Pips(median)));
  }
}

void MarketMonitor::CheckGap(Symbol& symbol, const Tick& tick, int64_t mid_raw) {
  const double mid = static_cast<double>(mid_raw) / static_cast<double>(kFixedScale);
  const int64_t minute = FloorDiv(tick.ts.ns, kNanosPerMinute);
  // The bar of an earlier minute holds only earlier ticks: it closes before this tick is judged.
  if (minute != symbol.minute) {
    if (symbol.minute != std::numeric_limits<int64_t>::min() && !symbol.bars_given) {
      symbol.atr.Update(symbol.bar_high, symbol.bar_low, symbol.bar_close);
    }
    symbol.minute = minute;
    symbol.bar_high = symbol.bar_low = mid;
  }
  if (symbol.have_mid && symbol.atr.Ready()) {
    const double jump = symbol.PipsOfRaw(std::abs(mid_raw - symbol.last_mid));
    const double atr =
        symbol.atr.Value() * static_cast<double>(kFixedScale) / static_cast<double>(symbol.pip_raw);
    if (jump > config_.gap_atr_multiple * atr && jump >= config_.gap_min_pips) {
      const Duration pause = tick.ts - symbol.last_mid_ts;
      Raise(symbol, AlertKind::kPriceGap, AlertSeverity::kWarning, tick.ts, tick.ts, jump,
            std::max(config_.gap_atr_multiple * atr, config_.gap_min_pips),
            Format("mid moved %.1f pips > %.1f x ATR %.2f pips (M1) after %.1f s", jump,
                   config_.gap_atr_multiple, atr, pause.SecondsF()));
    }
  }
  symbol.bar_high = std::max(symbol.bar_high, mid);
  symbol.bar_low = std::min(symbol.bar_low, mid);
  symbol.bar_close = mid;
  symbol.have_mid = true;
  symbol.last_mid = mid_raw;
  symbol.last_mid_ts = tick.ts;
}

void MarketMonitor::CheckFrozen(Symbol& symbol, const Tick& tick) {
  const size_t k = Index(AlertKind::kFrozenQuote);
  const bool same =
      symbol.have_quote && tick.bid.raw() == symbol.last_bid && tick.ask.raw() == symbol.last_ask;
  if (!same) {
    if (symbol.active_id[k] != 0) {
      Clear(symbol, AlertKind::kFrozenQuote, tick.ts, tick.ts,
            "quote moved after " + std::to_string(symbol.run_ticks) + " ticks");
    }
    symbol.have_quote = true;
    symbol.last_bid = tick.bid.raw();
    symbol.last_ask = tick.ask.raw();
    symbol.run_ticks = 1;
    symbol.run_since = tick.ts;
    return;
  }
  ++symbol.run_ticks;
  if (symbol.active_id[k] != 0) return;
  const Duration held = tick.ts - symbol.run_since;
  const bool by_count = symbol.run_ticks >= config_.frozen_ticks;
  const bool by_time = symbol.run_ticks >= config_.frozen_min_ticks && held >= config_.frozen_after;
  if (by_count || by_time) {
    // The figures of the rule that fired: ticks, or seconds for the time rule.
    const double value = by_count ? symbol.run_ticks : held.SecondsF();
    const double threshold = by_count ? config_.frozen_ticks : config_.frozen_after.SecondsF();
    Raise(symbol, AlertKind::kFrozenQuote, AlertSeverity::kWarning, symbol.run_since, tick.ts,
          value, threshold,
          "bid " + tick.bid.ToString() + " ask " + tick.ask.ToString() + " unchanged for " +
              std::to_string(symbol.run_ticks) + Format(" ticks over %.1f s", held.SecondsF()));
  }
}

void MarketMonitor::OnBar(const Bar& bar) {
  Symbol* found = Find(bar.instrument);
  if (found == nullptr) {
    ++unknown_ticks_;
    return;
  }
  Symbol& symbol = *found;
  if (bar.open_time <= symbol.last_bar_open) {
    ++symbol.rejected;
    return;
  }
  symbol.last_bar_open = bar.open_time;
  symbol.bars_given = true;
  ++symbol.bars;
  symbol.atr.Update(bar.mid.high.AsDouble(), bar.mid.low.AsDouble(), bar.mid.close.AsDouble());
}

void MarketMonitor::Poll() {
  const Timestamp now = clock_.Now();
  const size_t k = Index(AlertKind::kStaleFeed);
  for (const auto& owned : symbols_) {
    Symbol& symbol = *owned;
    const std::optional<Timestamp> open_since = SessionOpenSince(symbol.sessions, now);
    if (!open_since) {
      // A closed market's quotes are no one's concern until it opens: every raised alert ends.
      for (AlertKind kind : {AlertKind::kSpreadSpike, AlertKind::kStaleFeed,
                             AlertKind::kCrossedQuote, AlertKind::kFrozenQuote}) {
        if (symbol.active_id[Index(kind)] != 0) Clear(symbol, kind, now, now, "session closed");
      }
      symbol.spike_pending = 0;
      symbol.clear_pending = 0;
      continue;
    }
    if (symbol.active_id[k] != 0) continue;
    Timestamp reference = symbol.ticks > 0 ? symbol.last_tick : symbol.watch_since;
    std::string since = symbol.ticks > 0 ? "the last tick" : "watching began";
    if (*open_since > reference) {
      reference = *open_since;
      since = "the session opened";
    }
    const Duration silence = now - reference;
    if (silence > config_.stale_after) {
      Raise(symbol, AlertKind::kStaleFeed, AlertSeverity::kCritical,
            reference + config_.stale_after, now, silence.SecondsF(),
            config_.stale_after.SecondsF(),
            Format("no tick for %.1f s (limit %.0f s) since ", silence.SecondsF(),
                   config_.stale_after.SecondsF()) +
                since + " at " + FormatIso8601(reference) + " while the session is open");
    }
  }
}

std::vector<MarketAlert> MarketMonitor::TakeAlerts() {
  std::vector<MarketAlert> out;
  out.swap(alerts_);
  return out;
}

void MarketMonitor::SetSink(std::function<void(const MarketAlert&)> sink) {
  sink_ = std::move(sink);
}

SymbolStats MarketMonitor::StatsOf(const Symbol& symbol, Timestamp now) const {
  SymbolStats stats;
  stats.instrument = symbol.instrument.id;
  stats.symbol = symbol.instrument.symbol;
  stats.ticks = symbol.ticks;
  stats.crossed_ticks = symbol.crossed;
  stats.rejected_ticks = symbol.rejected;
  stats.bars = symbol.bars;
  stats.first_tick = symbol.first_tick;
  stats.last_tick = symbol.last_tick;
  stats.last_tick_age = now - (symbol.ticks > 0 ? symbol.last_tick : symbol.watch_since);
  stats.longest_silence = symbol.longest_silence;
  stats.session_open = SessionOpenSince(symbol.sessions, now).has_value();
  const int64_t now_second = FloorDiv(now.ns, kNanosPerSecond);
  const auto window = static_cast<int64_t>(symbol.rate.size());
  uint64_t in_window = 0;
  for (const auto& slot : symbol.rate) {
    if (slot.second <= now_second && slot.second > now_second - window) in_window += slot.count;
  }
  stats.ticks_per_second = static_cast<double>(in_window) / static_cast<double>(window);
  stats.spread_count = symbol.spread_n;
  if (symbol.spread_n > 0) {
    stats.spread_mean = symbol.Pips(symbol.spread_sum) / static_cast<double>(symbol.spread_n);
    stats.spread_min = symbol.Pips(symbol.spread_min);
    stats.spread_max = symbol.Pips(symbol.spread_max);
    stats.spread_p50 = symbol.Pips(Percentile(symbol.spread_counts, symbol.spread_n, 0.50));
    stats.spread_p90 = symbol.Pips(Percentile(symbol.spread_counts, symbol.spread_n, 0.90));
    stats.spread_p99 = symbol.Pips(Percentile(symbol.spread_counts, symbol.spread_n, 0.99));
  }
  stats.spread_baseline_ticks = static_cast<int>(symbol.baseline.size());
  if (symbol.baseline.size() > 0) {
    stats.spread_median_rolling = symbol.Pips(symbol.baseline.Median());
  }
  stats.atr = symbol.atr.Ready() ? symbol.atr.Value() * static_cast<double>(kFixedScale) /
                                       static_cast<double>(symbol.pip_raw)
                                 : std::numeric_limits<double>::quiet_NaN();
  for (size_t k = 0; k < kKinds; ++k) {
    stats.alerts[k] = symbol.raised[k];
    stats.active[k] = symbol.active_id[k] != 0;
  }
  return stats;
}

Result<SymbolStats> MarketMonitor::Stats(InstrumentId instrument) const {
  if (instrument.value >= by_id_.size() || by_id_[instrument.value] == nullptr) {
    return NotFound("market monitor: instrument id " + std::to_string(instrument.value) +
                    " is not watched");
  }
  return StatsOf(*by_id_[instrument.value], clock_.Now());
}

std::vector<SymbolStats> MarketMonitor::AllStats() const {
  std::vector<SymbolStats> out;
  out.reserve(symbols_.size());
  const Timestamp now = clock_.Now();
  for (const auto& symbol : symbols_) out.push_back(StatsOf(*symbol, now));
  return out;
}

}  // namespace aits::feed
