#include "aits/data/bar_aggregator.h"

#include <cassert>

namespace aits::data {
namespace {

// Start of the period that holds t, aligned to the Unix epoch (floor, also before 1970).
int64_t PeriodStart(int64_t ts, int64_t period) {
  int64_t start = ts - ts % period;
  if (ts < 0 && ts % period != 0) start -= period;
  return start;
}

void Open(Ohlc* ohlc, Price price) { ohlc->open = ohlc->high = ohlc->low = ohlc->close = price; }

// Without branches on whether the tick makes a new high or low: on every tick, for three series,
// those branches go either way often enough to be a good part of the aggregator's cost when
// mispredicted. Selecting with masks keeps compilers from turning a ?: back into branches.
Price Pick(bool take, Price price, Price kept) {
  const int64_t mask = -static_cast<int64_t>(take);  // all ones when taking `price`
  const int64_t raw = (price.raw() & mask) | (kept.raw() & ~mask);
  const auto precision = static_cast<int>((price.precision() & mask) | (kept.precision() & ~mask));
  return Price::FromRaw(raw, precision);
}

void Extend(Ohlc* ohlc, Price price) {
  ohlc->high = Pick(price > ohlc->high, price, ohlc->high);
  ohlc->low = Pick(price < ohlc->low, price, ohlc->low);
  ohlc->close = price;
}

}  // namespace

BarAggregator::BarAggregator(Duration period) : period_(period) {
  assert(period.ns > 0 && "BarAggregator needs a positive period");
  if (period_.ns <= 0) period_ = Duration::Minutes(1);
}

bool BarAggregator::Update(const Tick& tick, Bar* completed) {
  const int64_t ts = tick.ts.ns;
  const Price mid = tick.Mid();
  const double volume = static_cast<double>(tick.bid_volume) + tick.ask_volume;
  // Most ticks fall in the current bar's period. Testing that against the bar's own bounds
  // spares the 64-bit division of PeriodStart() (tens of cycles) on every tick: for an aligned
  // open, PeriodStart(ts) <= open exactly when ts < open + period, written without the sum so it
  // cannot overflow. A tick from an earlier period (a precondition breach) folds into the current
  // bar too, rather than reopening a finished one.
  const int64_t open = current_.open_time.ns;
  if (has_bar_ && (ts < open || static_cast<uint64_t>(ts) - static_cast<uint64_t>(open) <
                                    static_cast<uint64_t>(period_.ns))) {
    Extend(&current_.bid, tick.bid);
    Extend(&current_.ask, tick.ask);
    Extend(&current_.mid, mid);
    ++current_.tick_count;
    current_.volume += volume;
    return false;
  }
  const int64_t start = PeriodStart(ts, period_.ns);
  const bool emitted = has_bar_;
  if (emitted) *completed = current_;
  current_.instrument = tick.instrument;
  current_.period = period_;
  current_.open_time = Timestamp{start};
  Open(&current_.bid, tick.bid);
  Open(&current_.ask, tick.ask);
  Open(&current_.mid, mid);
  current_.tick_count = 1;
  current_.volume = volume;
  has_bar_ = true;
  return emitted;
}

std::optional<Bar> BarAggregator::Flush() {
  if (!has_bar_) return std::nullopt;
  has_bar_ = false;
  return current_;
}

namespace {

void Merge(Ohlc& into, const Ohlc& from) {
  if (from.high > into.high) into.high = from.high;
  if (from.low < into.low) into.low = from.low;
  into.close = from.close;
}

}  // namespace

BarResampler::BarResampler(Duration period) : period_(period) {
  assert(period.ns > 0 && "BarResampler needs a positive period");
  if (period_.ns <= 0) period_ = Duration::Minutes(1);
}

bool BarResampler::Update(const Bar& bar, Bar* completed) {
  const Timestamp open{PeriodStart(bar.open_time.ns, period_.ns)};
  if (has_bar_ && open == current_.open_time) {
    Merge(current_.bid, bar.bid);
    Merge(current_.ask, bar.ask);
    Merge(current_.mid, bar.mid);
    current_.tick_count += bar.tick_count;
    current_.volume += bar.volume;
    return false;
  }
  const bool emitted = has_bar_;
  if (emitted) *completed = current_;
  current_ = bar;
  current_.open_time = open;
  current_.period = period_;
  has_bar_ = true;
  return emitted;
}

std::optional<Bar> BarResampler::Flush() {
  if (!has_bar_) return std::nullopt;
  has_bar_ = false;
  return current_;
}

}  // namespace aits::data
