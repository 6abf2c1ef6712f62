#include "aits/features/feature_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "aits/data/bar_aggregator.h"
#include "aits/data/synthetic.h"
#include "aits/data/test_util.h"

// Counts heap allocations while g_count_allocations is set: the engine must not allocate per tick
// or per bar. The replacement pair uses malloc/free on both sides, which GCC cannot see through
// once the operators are inlined.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
bool g_count_allocations = false;
size_t g_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  if (g_count_allocations) ++g_allocations;
  void* ptr = std::malloc(size == 0 ? 1 : size);
  if (!ptr) throw std::bad_alloc();
  return ptr;
}
void operator delete(void* ptr) noexcept { std::free(ptr); }
void operator delete(void* ptr, std::size_t) noexcept { std::free(ptr); }

namespace aits::features {
namespace {

using data::testing::SharedData;

constexpr int kDigits = 5;
constexpr int64_t kPoint = 10'000;  // one point of a 5-digit price in 1e-9 units
constexpr Duration kM1 = Duration::Minutes(1);
constexpr Duration kM5 = Duration::Minutes(5);
constexpr Duration kH1 = Duration::Hours(1);
const Timestamp kStart = FromCivil(2020, 1, 6);

Price Points(int64_t points) { return Price::FromRaw(points * kPoint, kDigits); }

// A bar with mid close `close` (points), mid high/low close+2/close-3, bid/ask = mid -/+ half of
// `spread` (points, even), tick count `ticks`.
Bar MakeBar(Timestamp open, Duration period, int64_t close, int64_t spread, uint32_t ticks) {
  Bar bar;
  bar.period = period;
  bar.open_time = open;
  bar.mid = {Points(close), Points(close + 2), Points(close - 3), Points(close)};
  bar.bid = {Points(close - spread / 2), Points(close + 2 - spread / 2),
             Points(close - 3 - spread / 2), Points(close - spread / 2)};
  bar.ask = {Points(close + spread / 2), Points(close + 2 + spread / 2),
             Points(close - 3 + spread / 2), Points(close + spread / 2)};
  bar.tick_count = ticks;
  return bar;
}

FeatureEngine MakeEngine(std::vector<Duration> timeframes) {
  FeatureEngineConfig config;
  config.timeframes = std::move(timeframes);
  auto engine = FeatureEngine::Create(config);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return std::move(engine).value();
}

size_t Column(const FeatureEngine& engine, const std::string& name) {
  for (size_t idx = 0; idx < engine.Names().size(); ++idx) {
    if (engine.Names()[idx] == name) return idx;
  }
  ADD_FAILURE() << "no column " << name;
  return 0;
}

double PopStdDev(const std::vector<double>& xs, size_t begin, size_t end) {
  double mean = 0;
  for (size_t idx = begin; idx < end; ++idx) mean += xs[idx];
  mean /= static_cast<double>(end - begin);
  double var = 0;
  for (size_t idx = begin; idx < end; ++idx) var += (xs[idx] - mean) * (xs[idx] - mean);
  return std::sqrt(var / static_cast<double>(end - begin));
}

double Mean(const std::vector<double>& xs, size_t begin, size_t end) {
  double sum = 0;
  for (size_t idx = begin; idx < end; ++idx) sum += xs[idx];
  return sum / static_cast<double>(end - begin);
}

// One recorded row of an engine run.
struct Row {
  Timestamp time;
  double close = 0;
  double spread = 0;
  std::vector<double> values;
};

bool BitEqual(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

Row Snapshot(const FeatureEngine& engine) {
  return Row{engine.RowTime(), engine.RowClose(), engine.RowSpread(),
             std::vector<double>(engine.Values().begin(), engine.Values().end())};
}

std::vector<Row> RunBars(FeatureEngine& engine, const std::vector<Bar>& bars) {
  std::vector<Row> rows;
  for (const Bar& bar : bars) {
    if (engine.OnBar(bar)) rows.push_back(Snapshot(engine));
  }
  return rows;
}

std::vector<Row> RunTicks(FeatureEngine& engine, const std::vector<Tick>& ticks) {
  std::vector<Row> rows;
  for (const Tick& tick : ticks) {
    if (engine.OnTick(tick)) rows.push_back(Snapshot(engine));
  }
  return rows;
}

// ------------------------------------------------------------------ configuration and names

TEST(FeatureEngineTest, NamesAndSizeFollowTheTimeframes) {
  FeatureEngine engine = MakeEngine(FeatureEngineConfig{}.timeframes);
  ASSERT_EQ(engine.size(), 68u);
  EXPECT_EQ(engine.Names().front(), "price_change_M1");
  EXPECT_EQ(engine.Names()[16], "macd_M1");
  EXPECT_EQ(engine.Names()[17], "price_change_M5");
  EXPECT_EQ(engine.Names()[17 * 2 + 7], "bollinger_position_M15");
  EXPECT_EQ(engine.Names().back(), "macd_H1");
  EXPECT_EQ(engine.Values().size(), 68u);
  for (double value : engine.Values()) EXPECT_TRUE(std::isnan(value));
  EXPECT_FALSE(engine.Ready());
  EXPECT_EQ(engine.WarmUpBars(), 34);
}

TEST(FeatureEngineTest, TimeframeNames) {
  EXPECT_EQ(TimeframeName(Duration::Minutes(1)), "M1");
  EXPECT_EQ(TimeframeName(Duration::Minutes(15)), "M15");
  EXPECT_EQ(TimeframeName(Duration::Minutes(30)), "M30");
  EXPECT_EQ(TimeframeName(Duration::Hours(4)), "H4");
  EXPECT_EQ(TimeframeName(Duration::Days(1)), "D1");
  EXPECT_EQ(TimeframeName(Duration::Seconds(30)), "S30");
  EXPECT_EQ(TimeframeName(Duration::Minutes(90)), "M90");
}

TEST(FeatureEngineTest, ParsesTimeframeLists) {
  auto parsed = ParseTimeframes("m1, H4 ,90s,D1");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 4u);
  EXPECT_EQ((*parsed)[0], Duration::Minutes(1));
  EXPECT_EQ((*parsed)[1], Duration::Hours(4));
  EXPECT_EQ((*parsed)[2], Duration::Seconds(90));
  EXPECT_EQ((*parsed)[3], Duration::Days(1));
}

TEST(FeatureEngineTest, BadTimeframeTextIsAnErrorNamingIt) {
  for (const char* text : {"M1,X5", "M1,,M5", "M0", "M", "", "M1,5", "Mx", "H1e"}) {
    auto parsed = ParseTimeframes(text);
    EXPECT_FALSE(parsed.ok()) << text;
  }
  auto bad = ParseTimeframes("M1,X5,H1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'X5'"), std::string::npos) << bad.status().message();
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(FeatureEngineTest, CreateRejectsBadTimeframesNamingThem) {
  struct Case {
    std::vector<Duration> timeframes;
    const char* named;
  };
  const std::vector<Case> cases = {
      {{}, "no timeframes"},
      {{kM5, kM1}, "M1"},
      {{kM5, Duration::Minutes(7)}, "M7"},
      {{kM1, kM1}, "M1"},
      {{Duration::Millis(1500)}, "1500000000ns"},
      {{Duration::Days(400)}, "D400"},
  };
  for (const Case& c : cases) {
    FeatureEngineConfig config;
    config.timeframes = c.timeframes;
    auto engine = FeatureEngine::Create(config);
    ASSERT_FALSE(engine.ok()) << c.named;
    EXPECT_NE(engine.status().message().find(c.named), std::string::npos)
        << engine.status().message();
  }
}

TEST(FeatureEngineTest, HashIsStableAndFollowsTheTimeframes) {
  const FeatureEngine a = MakeEngine({kM1, kM5, Duration::Minutes(15), kH1});
  const FeatureEngine b = MakeEngine(FeatureEngineConfig{}.timeframes);
  const FeatureEngine c = MakeEngine({kM1, kM5, Duration::Minutes(15), Duration::Hours(4)});
  const FeatureEngine d = MakeEngine({Duration::Minutes(30), kH1, Duration::Hours(4)});
  ASSERT_EQ(a.Hash().size(), 16u);
  for (char ch : a.Hash()) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(ch))) << a.Hash();
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_NE(a.Hash(), c.Hash());
  EXPECT_NE(a.Hash(), d.Hash());
  EXPECT_NE(c.Hash(), d.Hash());
  // Feeding data does not change the identity of the definitions.
  FeatureEngine e = MakeEngine(FeatureEngineConfig{}.timeframes);
  e.OnBar(MakeBar(kStart, kM1, 100000, 10, 1));
  EXPECT_EQ(e.Hash(), a.Hash());
  EXPECT_EQ(FeatureEngine::kVersion, "1");
}

// ------------------------------------------------------------------ hand-checked values

TEST(FeatureEngineTest, HandCheckedValuesOnASmallSeries) {
  FeatureEngine engine = MakeEngine({kM1, kM5});
  std::vector<double> closes, ticks;
  const int64_t spread = 10;  // points
  const size_t n = 30;
  for (size_t idx = 0; idx < n; ++idx) {
    const int64_t close = 100000 + 100 * static_cast<int64_t>(idx) +
                          50 * static_cast<int64_t>((idx * 7) % 5) -
                          (idx % 4 == 3 ? 400 : 0);  // some falls, for RSI
    const uint32_t tick_count = 10 + static_cast<uint32_t>(idx % 3);
    closes.push_back(static_cast<double>(close) / 1e5);
    ticks.push_back(tick_count);
    ASSERT_TRUE(engine.OnBar(MakeBar(kStart + Duration::Minutes(static_cast<int64_t>(idx)), kM1,
                                     close, spread, tick_count)));
    EXPECT_EQ(engine.RowTime(), kStart + Duration::Minutes(static_cast<int64_t>(idx) + 1));
  }
  const size_t last = n - 1;
  const double c = closes[last];
  auto value = [&](const char* name) { return engine.Values()[Column(engine, name)]; };

  EXPECT_DOUBLE_EQ(engine.RowClose(), c);
  EXPECT_NEAR(engine.RowSpread(), 10e-5, 1e-15);
  EXPECT_DOUBLE_EQ(value("price_change_M1"), c / closes[last - 1] - 1);
  EXPECT_DOUBLE_EQ(value("price_momentum_M1"), c / closes[last - 10] - 1);
  EXPECT_NEAR(value("sma_20_M1"), Mean(closes, n - 20, n) / c - 1, 1e-13);
  EXPECT_NEAR(value("price_volatility_M1"), PopStdDev(closes, n - 20, n) / Mean(closes, n - 20, n),
              1e-12);
  EXPECT_NEAR(value("bid_ask_spread_M1"), 10e-5 / c, 1e-15);
  // A constant 10-point spread, relative to a moving close.
  std::vector<double> rel_spread;
  for (double close : closes) rel_spread.push_back(10e-5 / close);
  EXPECT_NEAR(value("spread_volatility_M1"), PopStdDev(rel_spread, n - 10, n), 1e-15);
  EXPECT_DOUBLE_EQ(value("volume_change_M1"), ticks[last] / ticks[last - 1] - 1);
  EXPECT_NEAR(value("volume_avg_ratio_M1"), ticks[last] / Mean(ticks, n - 20, n), 1e-13);
  // %b from the same window: (c - (mean - 2 sd)) / (4 sd).
  const double mean20 = Mean(closes, n - 20, n);
  const double sd20 = PopStdDev(closes, n - 20, n);
  EXPECT_NEAR(value("bollinger_position_M1"), (c - (mean20 - 2 * sd20)) / (4 * sd20), 1e-9);
  // Log-return volatility over the last 20 returns.
  std::vector<double> returns;
  for (size_t idx = 1; idx < n; ++idx) returns.push_back(std::log(closes[idx] / closes[idx - 1]));
  EXPECT_NEAR(value("volatility_20_M1"), PopStdDev(returns, returns.size() - 20, returns.size()),
              1e-12);
  // EMA(12): seeded with the SMA of the first 12 closes.
  double ema = Mean(closes, 0, 12);
  for (size_t idx = 12; idx < n; ++idx) ema += (closes[idx] - ema) * (2.0 / 13.0);
  EXPECT_NEAR(value("ema_12_M1"), ema / c - 1, 1e-13);
  // ATR(14): high/low are close+2/close-3 points; TR uses the previous close.
  std::vector<double> tr;
  for (size_t idx = 1; idx < n; ++idx) {
    const double high = closes[idx] + 2e-5, low = closes[idx] - 3e-5, prev = closes[idx - 1];
    tr.push_back(std::max(high, prev) - std::min(low, prev));
  }
  double atr = Mean(tr, 0, 14);
  for (size_t idx = 14; idx < tr.size(); ++idx) atr = (atr * 13 + tr[idx]) / 14;
  EXPECT_NEAR(value("atr_14_M1"), atr / c, 1e-12);
  // RSI(7), Wilder: plain means of the first 7 changes, then smoothed.
  double gain = 0, loss = 0;
  for (size_t idx = 1; idx <= 7; ++idx) {
    const double change = closes[idx] - closes[idx - 1];
    (change > 0 ? gain : loss) += std::fabs(change);
  }
  gain /= 7;
  loss /= 7;
  for (size_t idx = 8; idx < n; ++idx) {
    const double change = closes[idx] - closes[idx - 1];
    gain = (gain * 6 + (change > 0 ? change : 0)) / 7;
    loss = (loss * 6 + (change < 0 ? -change : 0)) / 7;
  }
  EXPECT_NEAR(value("rsi_M1"), gain / (gain + loss), 1e-12);
  // Not warmed up yet: MACD needs 34 bars, EMA(26) 26 (it has 30), RSI(14) 15.
  EXPECT_TRUE(std::isnan(value("macd_M1")));
  EXPECT_TRUE(std::isnan(value("macd_signal_M1")));
  EXPECT_FALSE(std::isnan(value("ema_26_M1")));
  EXPECT_FALSE(engine.Ready());

  // M5: closes of bars 4, 9, ..., 29 (each closes on its boundary); six M5 bars.
  EXPECT_DOUBLE_EQ(value("price_change_M5"), c / closes[24] - 1);
  EXPECT_NEAR(value("bid_ask_spread_M5"), 10e-5 / c, 1e-15);
  // M5 tick count is the sum over its five M1 bars.
  const double v5 = ticks[25] + ticks[26] + ticks[27] + ticks[28] + ticks[29];
  const double v5_prev = ticks[20] + ticks[21] + ticks[22] + ticks[23] + ticks[24];
  EXPECT_DOUBLE_EQ(value("volume_change_M5"), v5 / v5_prev - 1);
  EXPECT_TRUE(std::isnan(value("price_momentum_M5")));  // needs 11 M5 bars
}

TEST(FeatureEngineTest, ConstantAndRisingSeries) {
  FeatureEngine flat = MakeEngine({kM1});
  FeatureEngine rising = MakeEngine({kM1});
  for (int idx = 0; idx < 40; ++idx) {
    const Timestamp open = kStart + Duration::Minutes(idx);
    flat.OnBar(MakeBar(open, kM1, 150000, 20, 0));
    rising.OnBar(MakeBar(open, kM1, 150000 + 10 * idx, 20, 0));
  }
  ASSERT_TRUE(flat.Ready());
  ASSERT_TRUE(rising.Ready());
  auto at = [](const FeatureEngine& e, const char* name) { return e.Values()[Column(e, name)]; };
  EXPECT_EQ(at(flat, "price_change_M1"), 0.0);
  EXPECT_EQ(at(flat, "price_volatility_M1"), 0.0);
  EXPECT_EQ(at(flat, "bollinger_position_M1"), 0.5);
  EXPECT_EQ(at(flat, "volatility_20_M1"), 0.0);
  EXPECT_EQ(at(flat, "spread_volatility_M1"), 0.0);
  EXPECT_EQ(at(flat, "macd_M1"), 0.0);
  EXPECT_EQ(at(flat, "rsi_M1"), 0.0);  // TA-Lib: no gains and no losses is 0
  // No volume and no ticks: volume features are constant (0 change, ratio 1).
  EXPECT_EQ(at(flat, "volume_change_M1"), 0.0);
  EXPECT_EQ(at(flat, "volume_avg_ratio_M1"), 1.0);
  EXPECT_NEAR(at(flat, "atr_14_M1"), 5e-5 / 1.5, 1e-15);
  EXPECT_EQ(at(rising, "rsi_M1"), 1.0);
  EXPECT_EQ(at(rising, "rsi_14_M1"), 1.0);
  EXPECT_GT(at(rising, "macd_M1"), 0.0);
  EXPECT_LT(at(rising, "sma_20_M1"), 0.0);  // the average lags below a rising close
  EXPECT_GT(at(rising, "bollinger_position_M1"), 0.5);
}

// ------------------------------------------------------------------ higher-timeframe closes

// Bars every minute in [from, to) minutes after kStart, skipping `skip` (minutes), each with a
// distinct spread so that bid_ask_spread identifies the bar that closed a higher timeframe.
std::vector<Bar> MinuteBars(int from, int to, const std::vector<int>& skip = {}) {
  std::vector<Bar> bars;
  for (int minute = from; minute < to; ++minute) {
    if (std::find(skip.begin(), skip.end(), minute) != skip.end()) continue;
    bars.push_back(
        MakeBar(kStart + Duration::Minutes(minute), kM1, 120000 + minute, 2 * (minute + 1), 1));
  }
  return bars;
}

// bid_ask_spread of the M1 bar that opened `minute` minutes after kStart.
double SpreadOf(int minute) {
  return (2.0 * (minute + 1) * 1e-5) / (static_cast<double>(120000 + minute) / 1e5);
}

TEST(FeatureEngineTest, HourCompletesExactlyAtTheMinuteBarClosingOnTheHour) {
  FeatureEngine engine = MakeEngine({kM1, kH1});
  const size_t col = Column(engine, "bid_ask_spread_H1");
  const size_t col_m1 = Column(engine, "bid_ask_spread_M1");
  for (const Bar& bar : MinuteBars(0, 180)) {
    ASSERT_TRUE(engine.OnBar(bar));
    const int64_t minutes_closed = (engine.RowTime() - kStart).ns / kM1.ns;
    const double h1 = engine.Values()[col];
    EXPECT_NEAR(engine.Values()[col_m1], SpreadOf(static_cast<int>(minutes_closed) - 1), 1e-15);
    if (minutes_closed < 60) {
      EXPECT_TRUE(std::isnan(h1)) << minutes_closed;
    } else {
      // The last closed hour ended at the last full hour; its close is the bar of minute
      // 60k - 1.
      const int hour_end = static_cast<int>(minutes_closed / 60) * 60;
      EXPECT_NEAR(h1, SpreadOf(hour_end - 1), 1e-15) << minutes_closed;
    }
  }
}

TEST(FeatureEngineTest, HourCompletesAtTheFirstBarOfALaterHourAcrossAGap) {
  FeatureEngine engine = MakeEngine({kM1, kH1});
  const size_t col = Column(engine, "bid_ask_spread_H1");
  const size_t change_col = Column(engine, "price_change_H1");
  std::vector<int> skip;
  for (int minute = 110; minute < 131; ++minute) skip.push_back(minute);  // 01:50 .. 02:10
  skip.push_back(179);        // 02:59: the hour 02:00 must wait for 03:00
  std::vector<double> h1_at;  // H1 value per row
  std::vector<int64_t> row_minute;
  for (const Bar& bar : MinuteBars(0, 200, skip)) {
    ASSERT_TRUE(engine.OnBar(bar));
    row_minute.push_back((engine.RowTime() - kStart).ns / kM1.ns);
    h1_at.push_back(engine.Values()[col]);
    const int64_t minute = row_minute.back();
    const double h1 = h1_at.back();
    if (minute < 60) {
      EXPECT_TRUE(std::isnan(h1));
    } else if (minute < 132) {
      // Hour 1 (01:00-02:00) lacks its boundary bar (01:59): it stays open until the bar of
      // 02:11 arrives (row time 02:12).
      EXPECT_NEAR(h1, SpreadOf(59), 1e-15) << minute;
    } else if (minute < 181) {
      // Closed by the 02:11 bar: the hour's last bar is 01:49. Hour 2 lacks 02:59 and stays
      // open until the 03:00 bar (row time 03:01).
      EXPECT_NEAR(h1, SpreadOf(109), 1e-15) << minute;
      // The 02:11 bar itself must not leak into hour 1.
      EXPECT_NEAR(engine.Values()[change_col], (120000.0 + 109) / (120000.0 + 59) - 1, 1e-15)
          << minute;
    } else {
      EXPECT_NEAR(h1, SpreadOf(178), 1e-15) << minute;
    }
  }
  EXPECT_EQ(row_minute.back(), 200);
}

// ------------------------------------------------------------------ real data: no lookahead

std::vector<Bar> GbpUsdBars() {
  data::ReadOptions options;
  options.ask_path = SharedData("gbpusd-m1-ask-2012.csv");
  auto read = data::testing::ReadAllBars(SharedData("gbpusd-m1-bid-2012.csv"), options);
  EXPECT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.bars.size(), 30117u);
  return read.bars;
}

std::vector<Tick> EurUsdTicks() {
  auto read = data::testing::ReadAllTicks(SharedData("eurusd-ticks-2020-01-01.csv"), {});
  EXPECT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_GT(read.ticks.size(), 9000u);
  return read.ticks;
}

Price Garbage(std::mt19937_64& rng, int precision) {
  std::uniform_int_distribution<int64_t> dist(50'000'000, 5'000'000'000);  // 0.05 .. 5.0
  return Price::FromRaw(dist(rng), precision);
}

// Every row with time <= cut must be bit-identical; at least one later row must differ (so the
// garbage did reach the engine and the comparison can fail).
void ExpectSamePast(const std::vector<Row>& clean, const std::vector<Row>& dirty, Timestamp cut) {
  size_t compared = 0;
  bool later_differs = false;
  for (size_t idx = 0; idx < clean.size() && idx < dirty.size(); ++idx) {
    if (clean[idx].time > cut) {
      if (!BitEqual(clean[idx].values, dirty[idx].values)) later_differs = true;
      continue;
    }
    ASSERT_EQ(clean[idx].time, dirty[idx].time);
    ASSERT_TRUE(BitEqual(clean[idx].values, dirty[idx].values))
        << "row " << idx << " at " << FormatIso8601(clean[idx].time) << " (cut "
        << FormatIso8601(cut) << ") depends on later input";
    EXPECT_EQ(clean[idx].close, dirty[idx].close);
    EXPECT_EQ(clean[idx].spread, dirty[idx].spread);
    ++compared;
  }
  EXPECT_GT(compared, 0u);
  EXPECT_TRUE(later_differs) << "cut " << FormatIso8601(cut);
}

TEST(FeatureEngineNoLookaheadTest, BarsAfterTheCutNeverChangeEarlierRows) {
  const std::vector<Bar> bars = GbpUsdBars();
  ASSERT_FALSE(bars.empty());
  const std::vector<std::vector<Duration>> configs = {
      FeatureEngineConfig{}.timeframes,
      {kM1, Duration::Minutes(30), Duration::Hours(4), Duration::Days(1)}};
  std::mt19937_64 rng(42);
  for (const auto& timeframes : configs) {
    FeatureEngine engine = MakeEngine(timeframes);
    const std::vector<Row> clean = RunBars(engine, bars);
    ASSERT_EQ(clean.size(), bars.size());
    // Cuts mid-hour, on an hour, on a day, and late in the file.
    for (size_t cut_idx : {5000u, 12345u, 17999u, 20000u, 29000u}) {
      const Timestamp cut = bars[cut_idx].CloseTime();
      std::vector<Bar> dirty = bars;
      for (Bar& bar : dirty) {
        if (bar.CloseTime() <= cut) continue;
        const Price bid = Garbage(rng, kDigits);
        const Price ask = Price::FromRaw(bid.raw() + 1000 * kPoint, kDigits);
        bar.bid = {bid, ask, bid, bid};
        bar.ask = {ask, ask, ask, ask};
        const Price mid = Price::FromRaw((bid.raw() + ask.raw()) / 2, kDigits);
        bar.mid = {mid, ask, bid, mid};
        bar.volume = static_cast<double>(rng() % 1000);
        bar.tick_count = static_cast<uint32_t>(rng() % 100);
      }
      engine.Reset();
      const std::vector<Row> corrupted = RunBars(engine, dirty);
      ExpectSamePast(clean, corrupted, cut);
    }
  }
}

TEST(FeatureEngineNoLookaheadTest, TicksAtOrAfterTheCutNeverChangeEarlierRows) {
  const std::vector<Tick> ticks = EurUsdTicks();
  ASSERT_FALSE(ticks.empty());
  const std::vector<std::vector<Duration>> configs = {
      FeatureEngineConfig{}.timeframes, {Duration::Seconds(15), kM1, kM5, Duration::Minutes(15)}};
  std::mt19937_64 rng(7);
  for (const auto& timeframes : configs) {
    FeatureEngine engine = MakeEngine(timeframes);
    const std::vector<Row> clean = RunTicks(engine, ticks);
    ASSERT_GT(clean.size(), 100u);
    // Cuts on tick times (mid-bar) and on many bar boundaries, where the row at the cut is
    // produced by the first garbage tick (so a leak of even one tick shows).
    std::vector<Timestamp> cuts = {ticks[2000].ts, ticks[4567].ts, ticks[8000].ts};
    for (int minute = 17 * 60 + 30; minute < 23 * 60; minute += 10) {
      cuts.push_back(FromCivil(2020, 1, 1) + Duration::Minutes(minute));
    }
    for (const Timestamp cut : cuts) {
      std::vector<Tick> dirty = ticks;
      for (Tick& tick : dirty) {
        if (tick.ts < cut) continue;
        tick.bid = Garbage(rng, kDigits);
        tick.ask =
            Price::FromRaw(tick.bid.raw() + static_cast<int64_t>(rng() % 500) * kPoint, kDigits);
        tick.bid_volume = static_cast<float>(rng() % 10);
      }
      engine.Reset();
      const std::vector<Row> corrupted = RunTicks(engine, dirty);
      ExpectSamePast(clean, corrupted, cut);
    }
  }
}

// ------------------------------------------------------------------ ticks vs bars

void ExpectTickPathEqualsBarPath(const std::vector<Tick>& ticks,
                                 const std::vector<Duration>& timeframes) {
  FeatureEngine from_ticks = MakeEngine(timeframes);
  FeatureEngine from_bars = MakeEngine(timeframes);
  data::BarAggregator aggregator(timeframes.front());
  std::vector<Bar> bars;
  Bar bar;
  for (const Tick& tick : ticks) {
    if (aggregator.Update(tick, &bar)) bars.push_back(bar);
  }
  const std::vector<Row> tick_rows = RunTicks(from_ticks, ticks);
  const std::vector<Row> bar_rows = RunBars(from_bars, bars);
  ASSERT_EQ(tick_rows.size(), bars.size());
  ASSERT_EQ(bar_rows.size(), bars.size());
  for (size_t idx = 0; idx < bars.size(); ++idx) {
    ASSERT_EQ(tick_rows[idx].time, bars[idx].CloseTime());
    ASSERT_EQ(bar_rows[idx].time, tick_rows[idx].time);
    ASSERT_TRUE(BitEqual(tick_rows[idx].values, bar_rows[idx].values)) << "row " << idx;
    ASSERT_EQ(tick_rows[idx].close, bar_rows[idx].close);
    ASSERT_EQ(tick_rows[idx].spread, bar_rows[idx].spread);
    ASSERT_EQ(tick_rows[idx].close, bars[idx].mid.close.AsDouble());
  }
  EXPECT_EQ(from_ticks.Ready(), from_bars.Ready());
}

TEST(FeatureEngineTest, TickPathEqualsBarPathOnRealTicks) {
  const std::vector<Tick> ticks = EurUsdTicks();
  ExpectTickPathEqualsBarPath(ticks, FeatureEngineConfig{}.timeframes);
  ExpectTickPathEqualsBarPath(ticks, {Duration::Seconds(10), kM1, kM5});
}

std::vector<Tick> SyntheticTicks(uint64_t count) {
  data::SyntheticOptions options;
  options.count = count;
  auto source = data::SyntheticTickSource::Create(options);
  EXPECT_TRUE(source.ok());
  auto read = data::testing::ReadAll(**source);
  EXPECT_EQ(read.ticks.size(), count);
  return read.ticks;
}

TEST(FeatureEngineTest, TickPathEqualsBarPathOnSyntheticTicksAndWarmsUp) {
  // ~1 tick/s: 300k ticks are over three days, enough for 34 hours.
  const std::vector<Tick> ticks = SyntheticTicks(300'000);
  ExpectTickPathEqualsBarPath(ticks, FeatureEngineConfig{}.timeframes);
  FeatureEngine engine = MakeEngine(FeatureEngineConfig{}.timeframes);
  bool was_ready = false;
  for (const Tick& tick : ticks) {
    if (!engine.OnTick(tick)) continue;
    if (engine.Ready()) {
      for (double value : engine.Values()) ASSERT_TRUE(std::isfinite(value));
      was_ready = true;
    }
  }
  EXPECT_TRUE(was_ready);
}

TEST(FeatureEngineTest, ResetReplaysIdentically) {
  const std::vector<Tick> ticks = EurUsdTicks();
  FeatureEngine engine = MakeEngine(FeatureEngineConfig{}.timeframes);
  const std::vector<Row> first = RunTicks(engine, ticks);
  engine.Reset();
  EXPECT_EQ(engine.rows(), 0u);
  for (double value : engine.Values()) EXPECT_TRUE(std::isnan(value));
  const std::vector<Row> second = RunTicks(engine, ticks);
  ASSERT_EQ(first.size(), second.size());
  for (size_t idx = 0; idx < first.size(); ++idx) {
    ASSERT_TRUE(BitEqual(first[idx].values, second[idx].values)) << idx;
  }
  std::vector<float> narrowed(engine.size());
  engine.CopyTo(narrowed);
  for (size_t idx = 0; idx < narrowed.size(); ++idx) {
    const double value = engine.Values()[idx];
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(narrowed[idx]));
    } else {
      EXPECT_EQ(narrowed[idx], static_cast<float>(value));
    }
  }
}

TEST(FeatureEngineTest, OnBarIgnoresBarsOutOfOrder) {
  FeatureEngine engine = MakeEngine({kM1});
  EXPECT_TRUE(engine.OnBar(MakeBar(kStart + kM1, kM1, 100000, 10, 1)));
  EXPECT_FALSE(engine.OnBar(MakeBar(kStart, kM1, 100500, 10, 1)));
  EXPECT_EQ(engine.rows(), 1u);
  EXPECT_EQ(engine.RowTime(), kStart + kM1 + kM1);
}

TEST(FeatureEngineTest, NoAllocationPerTickOrBar) {
  const std::vector<Tick> ticks = SyntheticTicks(400'000);
  FeatureEngine engine = MakeEngine(FeatureEngineConfig{}.timeframes);
  uint64_t rows = 0;
  g_allocations = 0;
  g_count_allocations = true;
  for (const Tick& tick : ticks) rows += engine.OnTick(tick) ? 1 : 0;
  g_count_allocations = false;
  EXPECT_EQ(g_allocations, 0u);
  EXPECT_GT(rows, 1000u);
  EXPECT_TRUE(engine.Ready());
}

}  // namespace
}  // namespace aits::features
