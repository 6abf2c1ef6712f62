#include "aits/features/indicators.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "aits/features/features_test_util.h"

namespace aits::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kRelTol = 1e-9;

// Runs a single-input indicator over xs; NaN where it is not Ready().
template <typename Indicator>
std::vector<double> RunSeries(
    Indicator indicator, const std::vector<double>& xs,
    const std::function<double(const Indicator&)>& get = [](const Indicator& ind) {
      return ind.Value();
    }) {
  std::vector<double> out;
  out.reserve(xs.size());
  for (double x : xs) {
    indicator.Update(x);
    out.push_back(indicator.Ready() ? get(indicator) : kNaN);
  }
  return out;
}

size_t FirstReady(const std::vector<double>& values) {
  for (size_t idx = 0; idx < values.size(); ++idx) {
    if (!std::isnan(values[idx])) return idx;
  }
  return values.size();
}

// Relative tolerance; `abs_floor` only where an output crosses zero while its rounding error is
// absolute (documented at the call).
void ExpectClose(const std::vector<double>& actual, const std::vector<double>& expected,
                 const char* what, double abs_floor = 0.0) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int failures = 0;
  for (size_t idx = 0; idx < actual.size() && failures < 5; ++idx) {
    const double a = actual[idx];
    const double e = expected[idx];
    if (std::isnan(e) || std::isnan(a)) {
      if (std::isnan(e) != std::isnan(a)) {
        ADD_FAILURE() << what << " at " << idx << ": " << a << " vs reference " << e;
        ++failures;
      }
      continue;
    }
    const double tol = kRelTol * std::max(std::fabs(a), std::fabs(e)) + abs_floor;
    if (!(std::fabs(a - e) <= tol)) {
      ADD_FAILURE() << what << " at " << idx << ": " << a << " vs reference " << e << " (diff "
                    << a - e << ")";
      ++failures;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Non-streaming references: every value recomputed from the full window (windowed indicators) or
// from the whole input array with TA-Lib's batch loops (recursive ones). NaN during warm-up.

std::vector<double> RefSma(const std::vector<double>& xs, int n) {
  std::vector<double> out(xs.size(), kNaN);
  for (size_t t = n - 1; t < xs.size(); ++t) {
    double sum = 0;
    for (size_t j = t + 1 - n; j <= t; ++j) sum += xs[j];
    out[t] = sum / n;
  }
  return out;
}

std::vector<double> RefStdDev(const std::vector<double>& xs, int n) {
  std::vector<double> out(xs.size(), kNaN);
  for (size_t t = n - 1; t < xs.size(); ++t) {
    double sum = 0;
    for (size_t j = t + 1 - n; j <= t; ++j) sum += xs[j];
    const double mean = sum / n;
    double sq = 0;
    for (size_t j = t + 1 - n; j <= t; ++j) sq += (xs[j] - mean) * (xs[j] - mean);
    out[t] = std::sqrt(sq / n);
  }
  return out;
}

// EMA seeded at index `start` with the mean of xs[start-n+1 .. start] (TA_INT_EMA).
std::vector<double> RefEmaFrom(const std::vector<double>& xs, int n, size_t start) {
  std::vector<double> out(xs.size(), kNaN);
  if (xs.size() <= start) return out;
  double seed = 0;
  for (size_t j = start + 1 - n; j <= start; ++j) seed += xs[j];
  double ema = seed / n;
  out[start] = ema;
  const double k = 2.0 / (n + 1.0);
  for (size_t t = start + 1; t < xs.size(); ++t) {
    ema = ema + k * (xs[t] - ema);
    out[t] = ema;
  }
  return out;
}

std::vector<double> RefRsi(const std::vector<double>& xs, int n) {
  std::vector<double> out(xs.size(), kNaN);
  double gain = 0, loss = 0;
  for (size_t t = 1; t < xs.size(); ++t) {
    const double d = xs[t] - xs[t - 1];
    const double up = d > 0 ? d : 0;
    const double down = d < 0 ? -d : 0;
    if (t <= static_cast<size_t>(n)) {
      gain += up;
      loss += down;
      if (t < static_cast<size_t>(n)) continue;
      gain /= n;
      loss /= n;
    } else {
      gain = (gain * (n - 1) + up) / n;
      loss = (loss * (n - 1) + down) / n;
    }
    out[t] = gain + loss == 0 ? 0 : 100 * gain / (gain + loss);
  }
  return out;
}

struct MacdRef {
  std::vector<double> macd, signal, hist;
};
MacdRef RefMacd(const std::vector<double>& xs, int fast, int slow, int signal) {
  const size_t first = slow - 1;
  const std::vector<double> f = RefEmaFrom(xs, fast, first);
  const std::vector<double> s = RefEmaFrom(xs, slow, first);
  std::vector<double> line;  // MACD values from index slow-1 on
  for (size_t t = first; t < xs.size(); ++t) line.push_back(f[t] - s[t]);
  const std::vector<double> sig = RefEmaFrom(line, signal, signal - 1);
  MacdRef ref{std::vector<double>(xs.size(), kNaN), std::vector<double>(xs.size(), kNaN),
              std::vector<double>(xs.size(), kNaN)};
  for (size_t j = signal - 1; j < line.size(); ++j) {
    ref.macd[first + j] = line[j];
    ref.signal[first + j] = sig[j];
    ref.hist[first + j] = line[j] - sig[j];
  }
  return ref;
}

std::vector<double> RefAtr(const std::vector<testing::CsvBar>& bars, int n) {
  std::vector<double> out(bars.size(), kNaN);
  std::vector<double> tr(bars.size(), 0);
  for (size_t t = 1; t < bars.size(); ++t) {
    const double pc = bars[t - 1].c;
    tr[t] = std::max(bars[t].h, pc) - std::min(bars[t].l, pc);
  }
  if (bars.size() <= static_cast<size_t>(n)) return out;
  double atr = 0;
  for (int t = 1; t <= n; ++t) atr += tr[t];
  atr /= n;
  out[n] = atr;
  for (size_t t = n + 1; t < bars.size(); ++t) {
    atr = (atr * (n - 1) + tr[t]) / n;
    out[t] = atr;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hand-computed sequences (arithmetic in the comments).

TEST(SmaTest, HandComputed) {
  // SMA(3) of 1,2,3,4,10: (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+10)/3 = 17/3.
  const auto out = RunSeries(Sma(3), {1, 2, 3, 4, 10});
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_TRUE(std::isnan(out[1]));
  EXPECT_DOUBLE_EQ(out[2], 2.0);
  EXPECT_DOUBLE_EQ(out[3], 3.0);
  EXPECT_DOUBLE_EQ(out[4], 17.0 / 3.0);
}

TEST(EmaTest, HandComputedTaLibSeed) {
  // EMA(3): k = 2/4 = 0.5. Seed at index 2 = mean(2,4,6) = 4 (not the first input).
  // idx 3: 4 + 0.5*(8-4) = 6; idx 4: 6 + 0.5*(3-6) = 4.5.
  const auto out = RunSeries(Ema(3), {2, 4, 6, 8, 3});
  EXPECT_EQ(FirstReady(out), 2u);
  EXPECT_DOUBLE_EQ(out[2], 4.0);
  EXPECT_DOUBLE_EQ(out[3], 6.0);
  EXPECT_DOUBLE_EQ(out[4], 4.5);
}

TEST(RsiTest, HandComputedWilder) {
  // RSI(3) of 10, 11, 10.5, 11.5, 11, 12: changes +1, -0.5, +1, -0.5, +1.
  // idx 3: gain = (1+1)/3 = 2/3, loss = 0.5/3 = 1/6 -> 100 * (2/3) / (5/6) = 80.
  // idx 4 (-0.5): gain = (2/3*2 + 0)/3 = 4/9, loss = (1/6*2 + 0.5)/3 = 5/18 -> 100*8/13.
  // idx 5 (+1): gain = (4/9*2 + 1)/3 = 17/27, loss = (5/18*2)/3 = 5/27 -> 100*17/22.
  const auto out = RunSeries(Rsi(3), {10, 11, 10.5, 11.5, 11, 12});
  EXPECT_EQ(FirstReady(out), 3u);
  EXPECT_NEAR(out[3], 80.0, 1e-12);
  EXPECT_NEAR(out[4], 800.0 / 13.0, 1e-12);
  EXPECT_NEAR(out[5], 1700.0 / 22.0, 1e-12);
}

TEST(RsiTest, FlatInputIsZeroAsTaLibAndAllGainsIsHundred) {
  const auto flat = RunSeries(Rsi(2), {5, 5, 5, 5});
  EXPECT_EQ(flat[2], 0.0);
  EXPECT_EQ(flat[3], 0.0);
  const auto rising = RunSeries(Rsi(2), {1, 2, 3, 4});
  EXPECT_EQ(rising[2], 100.0);
  EXPECT_EQ(rising[3], 100.0);
}

TEST(MacdTest, HandComputedTaLibSeeding) {
  // MACD(2,3,2) of 1,2,4,8,16. k_fast = 2/3, k_slow = 1/2, k_signal = 2/3.
  // idx 2 (= slow-1): fast seed = mean(x1,x2) = 3 (the window ENDING at slow-1, not mean(x0,x1));
  //   slow seed = mean(1,2,4) = 7/3; macd = 2/3.
  // idx 3: fast = 3 + 2/3*(8-3) = 19/3; slow = 7/3 + 1/2*(8-7/3) = 31/6; macd = 7/6.
  //   signal seed = mean(2/3, 7/6) = 11/12; hist = 7/6 - 11/12 = 1/4. First output: idx 3.
  // idx 4: fast = 19/3 + 2/3*(16-19/3) = 115/9; slow = 31/6 + 1/2*(16-31/6) = 127/12;
  //   macd = 115/9 - 127/12 = 79/36; signal = 11/12 + 2/3*(79/36 - 11/12) = 191/108;
  //   hist = 79/36 - 191/108 = 23/54.
  Macd macd(2, 3, 2);
  EXPECT_EQ(macd.WarmUp(), 4);
  const std::vector<double> xs = {1, 2, 4, 8, 16};
  for (size_t idx = 0; idx < xs.size(); ++idx) {
    macd.Update(xs[idx]);
    EXPECT_EQ(macd.LineReady(), idx >= 2) << idx;
    EXPECT_EQ(macd.Ready(), idx >= 3) << idx;
    if (idx == 3) {
      EXPECT_NEAR(macd.Value(), 7.0 / 6.0, 1e-12);
      EXPECT_NEAR(macd.Signal(), 11.0 / 12.0, 1e-12);
      EXPECT_NEAR(macd.Histogram(), 0.25, 1e-12);
    }
  }
  EXPECT_NEAR(macd.Value(), 79.0 / 36.0, 1e-12);
  EXPECT_NEAR(macd.Signal(), 191.0 / 108.0, 1e-12);
  EXPECT_NEAR(macd.Histogram(), 23.0 / 54.0, 1e-12);
}

TEST(BollingerTest, HandComputed) {
  // BBANDS(3, 2) of 1,2,3,4,10.
  // idx 2: mean 2, variance (1+0+1)/3 = 2/3 (population), sd = sqrt(2/3);
  //   %b = (3 - (2 - 2sd)) / (4sd) = (1 + 2sd) / (4sd).
  // idx 4: window 3,4,10: mean 17/3; deviations -8/3, -5/3, 13/3 -> variance (64+25+169)/27.
  Bollinger bb(3, 2.0);
  const std::vector<double> xs = {1, 2, 3, 4, 10};
  for (size_t idx = 0; idx < 3; ++idx) bb.Update(xs[idx]);
  ASSERT_TRUE(bb.Ready());
  const double sd2 = std::sqrt(2.0 / 3.0);
  EXPECT_NEAR(bb.Middle(), 2.0, 1e-12);
  EXPECT_NEAR(bb.Upper(), 2.0 + 2 * sd2, 1e-12);
  EXPECT_NEAR(bb.Lower(), 2.0 - 2 * sd2, 1e-12);
  EXPECT_NEAR(bb.PercentB(), (1 + 2 * sd2) / (4 * sd2), 1e-12);
  bb.Update(xs[3]);
  bb.Update(xs[4]);
  const double sd4 = std::sqrt(258.0 / 27.0);
  EXPECT_NEAR(bb.Value(), 17.0 / 3.0, 1e-12);
  EXPECT_NEAR(bb.Upper(), 17.0 / 3.0 + 2 * sd4, 1e-12);
  EXPECT_NEAR(bb.Lower(), 17.0 / 3.0 - 2 * sd4, 1e-12);
  EXPECT_NEAR(bb.PercentB(), (10 - (17.0 / 3.0 - 2 * sd4)) / (4 * sd4), 1e-12);
}

TEST(BollingerTest, FlatWindowHasZeroWidthAndMidPercentB) {
  Bollinger bb(3, 2.0);
  for (double x : {1.57576, 1.57576, 1.57576}) bb.Update(x);
  EXPECT_EQ(bb.StdDev(), 0.0);
  EXPECT_EQ(bb.Upper(), 1.57576);
  EXPECT_EQ(bb.Lower(), 1.57576);
  EXPECT_EQ(bb.PercentB(), 0.5);
}

TEST(AtrTest, HandComputed) {
  // ATR(3), bars (h, l, c): (10,8,9) (11,10,10.5) (12,11.5,12) (11.5,10.5,11) (13,11,12.5).
  // TR1 = max(11,9) - min(10,9) = 2 (gap from the previous close 9);
  // TR2 = max(12,10.5) - min(11.5,10.5) = 1.5; TR3 = max(11.5,12) - min(10.5,12) = 1.5;
  // ATR at idx 3 = (2+1.5+1.5)/3 = 5/3. TR4 = max(13,11) - min(11,11) = 2;
  // ATR at idx 4 = (5/3*2 + 2)/3 = 16/9.
  Atr atr(3);
  EXPECT_EQ(atr.WarmUp(), 4);
  const double bars[][3] = {
      {10, 8, 9}, {11, 10, 10.5}, {12, 11.5, 12}, {11.5, 10.5, 11}, {13, 11, 12.5}};
  for (int idx = 0; idx < 5; ++idx) {
    atr.Update(bars[idx][0], bars[idx][1], bars[idx][2]);
    EXPECT_EQ(atr.Ready(), idx >= 3) << idx;
    if (idx == 3) {
      EXPECT_NEAR(atr.Value(), 5.0 / 3.0, 1e-12);
    }
  }
  EXPECT_NEAR(atr.Value(), 16.0 / 9.0, 1e-12);
}

TEST(StdDevTest, HandComputed) {
  // STDDEV(2) of 1,3,3,7: (1,3) mean 2 sd 1; (3,3) sd 0; (3,7) mean 5 sd 2.
  const auto out = RunSeries(StdDev(2), {1, 3, 3, 7});
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_DOUBLE_EQ(out[1], 1.0);
  EXPECT_EQ(out[2], 0.0);
  EXPECT_DOUBLE_EQ(out[3], 2.0);
}

TEST(MomentumRocTest, HandComputed) {
  // MOM(2) of 1,4,9,16: 9-1 = 8, 16-4 = 12. ROC(2): (9/1-1)*100 = 800, (16/4-1)*100 = 300.
  const auto mom = RunSeries(Momentum(2), {1, 4, 9, 16});
  EXPECT_EQ(FirstReady(mom), 2u);
  EXPECT_EQ(mom[2], 8.0);
  EXPECT_EQ(mom[3], 12.0);
  const auto roc = RunSeries(Roc(2), {1, 4, 9, 16});
  EXPECT_EQ(FirstReady(roc), 2u);
  EXPECT_DOUBLE_EQ(roc[2], 800.0);
  EXPECT_DOUBLE_EQ(roc[3], 300.0);
  // TA-Lib reports 0 when the base value is 0.
  EXPECT_EQ(RunSeries(Roc(2), {0, 1, 2})[2], 0.0);
}

TEST(VwapTest, WeightsByVolumeAndResetsAtUtcMidnight) {
  Vwap vwap;
  EXPECT_FALSE(vwap.Ready());
  const Timestamp day1 = FromCivil(2012, 2, 1);
  vwap.Update(day1 + Duration::Hours(10), 10.0, 1.0);
  EXPECT_TRUE(vwap.Ready());
  EXPECT_DOUBLE_EQ(vwap.Value(), 10.0);
  // (10*1 + 12*3) / 4 = 11.5
  vwap.Update(day1 + Duration::Hours(23) + Duration::Minutes(59), 12.0, 3.0);
  EXPECT_DOUBLE_EQ(vwap.Value(), 11.5);
  // The next UTC day starts a new session.
  vwap.Update(day1 + Duration::Days(1), 20.0, 2.0);
  EXPECT_DOUBLE_EQ(vwap.Value(), 20.0);
  // Bars without volume do not move a volume-weighted session.
  vwap.Update(day1 + Duration::Days(1) + Duration::Minutes(1), 99.0, 0.0);
  EXPECT_DOUBLE_EQ(vwap.Value(), 20.0);
}

TEST(VwapTest, ZeroVolumeEverywhereWeighsBarsEqually) {
  Vwap vwap;
  const Timestamp day = FromCivil(2012, 2, 1);
  vwap.Update(day, 10.0, 0.0);
  vwap.Update(day + Duration::Minutes(1), 14.0, 0.0);
  vwap.Update(day + Duration::Minutes(2), 15.0, -3.0);  // negative counts as zero
  EXPECT_DOUBLE_EQ(vwap.Value(), 13.0);                 // (10 + 14 + 15) / 3
  vwap.Reset();
  EXPECT_FALSE(vwap.Ready());
}

TEST(CrossoverTest, HandComputed) {
  // a - b: -1, 0, +1, 0, -1, 0, +1 -> (no output), 0, +1 (from below through a touch), 0,
  // -1, 0, +1.
  Crossover cross;
  const double a[] = {1, 2, 3, 3, 2, 2, 3};
  const double b[] = {2, 2, 2, 3, 3, 2, 2};
  const double expected[] = {kNaN, 0, 1, 0, -1, 0, 1};
  for (int idx = 0; idx < 7; ++idx) {
    cross.Update(a[idx], b[idx]);
    if (idx == 0) {
      EXPECT_FALSE(cross.Ready());
      EXPECT_TRUE(std::isnan(cross.Value()));
    } else {
      EXPECT_EQ(cross.Value(), expected[idx]) << idx;
    }
  }
  // Touching and returning to the same side is not a cross.
  Crossover touch;
  touch.Update(3, 2);
  touch.Update(2, 2);
  touch.Update(3, 2);
  EXPECT_EQ(touch.Value(), 0.0);
  // Differences at rounding level are ties, not crosses.
  Crossover noise;
  noise.Update(1.0, 2.0);
  noise.Update(1.5 + 1e-15, 1.5);
  EXPECT_EQ(noise.Value(), 0.0);
  noise.Update(1.6, 1.5);
  EXPECT_EQ(noise.Value(), 1.0);
}

// ---------------------------------------------------------------------------------------------
// Real data: GBP/USD one-minute bid closes, February 2012.

class RealDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    closes_ = testing::GbpUsdCloses();
    ASSERT_GT(closes_.size(), 30000u) << "missing " AITS_SHARED_DATA_DIR "/gbpusd-m1-bid-2012.csv";
  }
  std::vector<double> closes_;
};

TEST_F(RealDataTest, SmaMatchesFullWindowReference) {
  for (int n : {2, 30, 200}) {
    const auto out = RunSeries(Sma(n), closes_);
    EXPECT_EQ(FirstReady(out), static_cast<size_t>(n - 1));
    ExpectClose(out, RefSma(closes_, n), "sma");
  }
}

TEST_F(RealDataTest, EmaMatchesReference) {
  const auto out = RunSeries(Ema(30), closes_);
  EXPECT_EQ(FirstReady(out), 29u);
  ExpectClose(out, RefEmaFrom(closes_, 30, 29), "ema");
}

TEST_F(RealDataTest, RsiMatchesReference) {
  const auto out = RunSeries(Rsi(14), closes_);
  EXPECT_EQ(FirstReady(out), 14u);
  ExpectClose(out, RefRsi(closes_, 14), "rsi");
}

TEST_F(RealDataTest, MacdMatchesReference) {
  Macd macd(12, 26, 9);
  EXPECT_EQ(macd.WarmUp(), 34);
  const auto line = RunSeries<Macd>(macd, closes_);
  const auto signal = RunSeries<Macd>(macd, closes_, [](const Macd& m) { return m.Signal(); });
  const auto hist = RunSeries<Macd>(macd, closes_, [](const Macd& m) { return m.Histogram(); });
  EXPECT_EQ(FirstReady(line), 33u);
  const MacdRef ref = RefMacd(closes_, 12, 26, 9);
  ExpectClose(line, ref.macd, "macd");
  ExpectClose(signal, ref.signal, "macd signal");
  ExpectClose(hist, ref.hist, "macd hist");
}

TEST_F(RealDataTest, BollingerMatchesFullWindowReference) {
  Bollinger bb(20, 2.0);
  EXPECT_EQ(bb.WarmUp(), 20);
  const auto upper =
      RunSeries<Bollinger>(bb, closes_, [](const Bollinger& b) { return b.Upper(); });
  const auto middle =
      RunSeries<Bollinger>(bb, closes_, [](const Bollinger& b) { return b.Middle(); });
  const auto lower =
      RunSeries<Bollinger>(bb, closes_, [](const Bollinger& b) { return b.Lower(); });
  const auto pctb =
      RunSeries<Bollinger>(bb, closes_, [](const Bollinger& b) { return b.PercentB(); });
  EXPECT_EQ(FirstReady(middle), 19u);
  const auto sma = RefSma(closes_, 20);
  const auto sd = RefStdDev(closes_, 20);
  std::vector<double> ref_upper(closes_.size()), ref_lower(closes_.size()),
      ref_pctb(closes_.size());
  for (size_t t = 0; t < closes_.size(); ++t) {
    ref_upper[t] = sma[t] + 2 * sd[t];
    ref_lower[t] = sma[t] - 2 * sd[t];
    const double width = ref_upper[t] - ref_lower[t];
    ref_pctb[t] = std::isnan(width) ? kNaN : width == 0 ? 0.5 : (closes_[t] - ref_lower[t]) / width;
  }
  ExpectClose(upper, ref_upper, "bb upper");
  ExpectClose(middle, sma, "bb middle");
  ExpectClose(lower, ref_lower, "bb lower");
  // %b is a ratio that crosses 0 whenever the close touches the lower band; its error is absolute
  // (a ~1e-16 error in the bands over a width of ~1e-4 moves it by ~1e-12), hence the floor.
  ExpectClose(pctb, ref_pctb, "bb %b", 1e-10);
}

TEST_F(RealDataTest, StdDevMatchesFullWindowReference) {
  for (int n : {2, 20, 100}) {
    const auto out = RunSeries(StdDev(n), closes_);
    EXPECT_EQ(FirstReady(out), static_cast<size_t>(n - 1));
    ExpectClose(out, RefStdDev(closes_, n), "stddev");
  }
}

TEST_F(RealDataTest, MomentumAndRocMatchReference) {
  const auto mom = RunSeries(Momentum(10), closes_);
  const auto roc = RunSeries(Roc(10), closes_);
  EXPECT_EQ(FirstReady(mom), 10u);
  EXPECT_EQ(FirstReady(roc), 10u);
  std::vector<double> ref_mom(closes_.size(), kNaN), ref_roc(closes_.size(), kNaN);
  for (size_t t = 10; t < closes_.size(); ++t) {
    ref_mom[t] = closes_[t] - closes_[t - 10];
    ref_roc[t] = (closes_[t] / closes_[t - 10] - 1) * 100;
  }
  ExpectClose(mom, ref_mom, "mom");
  ExpectClose(roc, ref_roc, "roc");
}

TEST_F(RealDataTest, AtrMatchesReference) {
  const auto& bars = testing::GbpUsdBid();
  Atr atr(14);
  std::vector<double> out;
  for (const auto& bar : bars) {
    atr.Update(bar.h, bar.l, bar.c);
    out.push_back(atr.Ready() ? atr.Value() : kNaN);
  }
  EXPECT_EQ(FirstReady(out), 14u);
  ExpectClose(out, RefAtr(bars, 14), "atr");
}

// The value at bar t depends only on bars 0..t: a run over a prefix gives bit-identical values to
// the same prefix of a full run, and Reset() restores the initial state.
TEST_F(RealDataTest, NoLookaheadAndReset) {
  const size_t prefix = 5'000;
  const std::vector<double> head(closes_.begin(), closes_.begin() + prefix);
  auto check = [&](auto indicator, const char* what) {
    const auto full = RunSeries(indicator, closes_);
    const auto part = RunSeries(indicator, head);
    for (size_t t = 0; t < prefix; ++t) {
      if (std::isnan(full[t]) && std::isnan(part[t])) continue;
      ASSERT_EQ(full[t], part[t]) << what << " at " << t;
    }
    for (double x : closes_) indicator.Update(x);
    indicator.Reset();
    EXPECT_FALSE(indicator.Ready()) << what;
    const auto again = RunSeries(indicator, head);
    for (size_t t = 0; t < prefix; ++t) {
      if (std::isnan(again[t]) && std::isnan(part[t])) continue;
      ASSERT_EQ(again[t], part[t]) << what << " after Reset at " << t;
    }
  };
  check(Sma(30), "sma");
  check(Ema(30), "ema");
  check(Rsi(14), "rsi");
  check(Macd(12, 26, 9), "macd");
  check(Bollinger(20, 2.0), "bbands");
  check(StdDev(20), "stddev");
  check(Momentum(10), "mom");
  check(Roc(10), "roc");
}

TEST(WarmUpTest, MatchesTaLibLookbackPlusOne) {
  EXPECT_EQ(Sma(30).WarmUp(), 30);
  EXPECT_EQ(Sma(30).Lookback(), 29);
  EXPECT_EQ(Ema(30).WarmUp(), 30);
  EXPECT_EQ(Rsi(14).WarmUp(), 15);
  EXPECT_EQ(Macd().WarmUp(), 34);
  EXPECT_EQ(Macd().Lookback(), 33);
  EXPECT_EQ(Bollinger().WarmUp(), 20);
  EXPECT_EQ(Atr(14).WarmUp(), 15);
  EXPECT_EQ(StdDev(20).WarmUp(), 20);
  EXPECT_EQ(Momentum(10).WarmUp(), 11);
  EXPECT_EQ(Roc(10).WarmUp(), 11);
  EXPECT_EQ(Vwap().WarmUp(), 1);
  EXPECT_EQ(Crossover().WarmUp(), 2);
}

// ---------------------------------------------------------------------------------------------
// Numerical robustness.

TEST(DriftTest, RunningSumsDoNotDriftOverMillionsOfUpdates) {
  // Prices near 1e4 with wiggles of 1e-3: E[x^2] - E[x]^2 would lose every digit here, and an
  // unrefreshed running sum would wander after millions of add/subtract pairs.
  const int n = 50;
  Sma sma(n);
  StdDev sd(n);
  std::vector<double> xs;
  const int count = 2'000'000;
  xs.reserve(count);
  for (int idx = 0; idx < count; ++idx) {
    const double x = 1e4 + 1e-3 * std::sin(idx * 0.37) + 1e-4 * std::cos(idx * 1.91);
    xs.push_back(x);
    sma.Update(x);
    sd.Update(x);
  }
  const std::vector<double> tail(xs.end() - n, xs.end());
  const double ref_sma = RefSma(tail, n)[n - 1];
  const double ref_sd = RefStdDev(tail, n)[n - 1];
  EXPECT_NEAR(sma.Value(), ref_sma, 1e-12 * ref_sma);
  EXPECT_NEAR(sd.Value(), ref_sd, 1e-6 * ref_sd);  // sd ~7e-4 of values ~1e4
}

TEST(RobustnessTest, NanInputPassesAndWindowedIndicatorsRecover) {
  Sma sma(5);
  sma.Update(1);
  sma.Update(std::numeric_limits<double>::quiet_NaN());
  for (int idx = 0; idx < 5; ++idx) sma.Update(2);
  EXPECT_TRUE(std::isnan(sma.Value()) || sma.Value() == 2.0);
  for (int idx = 0; idx < 10; ++idx) sma.Update(3);
  EXPECT_EQ(sma.Value(), 3.0);
  Rsi rsi(3);
  for (int idx = 0; idx < 10; ++idx) rsi.Update(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(rsi.Ready());  // no crash, defined readiness
}

// ---------------------------------------------------------------------------------------------
// Validation.

TEST(ValidationTest, InvalidPeriodsGiveClearErrors) {
  const auto sma = Sma::Create(1);
  ASSERT_FALSE(sma.ok());
  EXPECT_EQ(sma.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sma.status().message(), "SMA period 1 is outside 2..100000");
  EXPECT_FALSE(Sma::Create(0).ok());
  EXPECT_FALSE(Sma::Create(-5).ok());
  EXPECT_FALSE(Sma::Create(100'001).ok());
  EXPECT_TRUE(Sma::Create(100'000).ok());
  EXPECT_EQ(Ema::Create(0).status().message(), "EMA period 0 is outside 2..100000");
  EXPECT_EQ(Rsi::Create(1).status().message(), "RSI period 1 is outside 2..100000");
  EXPECT_EQ(Atr::Create(0).status().message(), "ATR period 0 is outside 1..100000");
  EXPECT_TRUE(Atr::Create(1).ok());
  EXPECT_EQ(StdDev::Create(-1).status().message(), "STDDEV period -1 is outside 2..100000");
  EXPECT_EQ(Momentum::Create(0).status().message(), "MOM period 0 is outside 1..100000");
  EXPECT_EQ(Roc::Create(0).status().message(), "ROC period 0 is outside 1..100000");
  EXPECT_EQ(Macd::Create(26, 12, 9).status().message(),
            "MACD fast period 26 must be less than slow period 12");
  EXPECT_EQ(Macd::Create(12, 26, 0).status().message(),
            "MACD signal period 0 is outside 1..100000");
  EXPECT_EQ(Macd::Create(1, 26, 9).status().message(), "MACD fast period 1 is outside 2..100000");
  EXPECT_TRUE(Macd::Create().ok());
  EXPECT_FALSE(Bollinger::Create(20, 0.0).ok());
  EXPECT_FALSE(Bollinger::Create(20, std::numeric_limits<double>::quiet_NaN()).ok());
  EXPECT_EQ(Bollinger::Create(1, 2.0).status().message(), "BBANDS period 1 is outside 2..100000");
  EXPECT_TRUE(Bollinger::Create(20, 2.5).ok());
}

TEST(ValidationTest, AtrPeriodOneIsTrueRange) {
  Atr atr(1);
  atr.Update(10, 8, 9);
  EXPECT_FALSE(atr.Ready());
  atr.Update(11, 10, 10.5);  // TR = 11 - 9 = 2
  EXPECT_EQ(atr.Value(), 2.0);
  atr.Update(12, 11.5, 12);  // TR = 12 - 10.5 = 1.5
  EXPECT_EQ(atr.Value(), 1.5);
}

}  // namespace
}  // namespace aits::features
