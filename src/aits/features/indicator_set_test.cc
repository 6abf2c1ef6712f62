#include "aits/features/indicator_set.h"

#include <gtest/gtest.h>

#include <cmath>

#include "aits/features/features_test_util.h"

namespace aits::features {
namespace {

// A one-minute bar whose mid is the given bid bar (as `aits indicators` does without an ask file).
Bar MidBar(const testing::CsvBar& row) {
  Bar bar;
  bar.period = Duration::Minutes(1);
  bar.open_time = row.ts;
  bar.mid.open = Price::Parse(row.open, 5).value();
  bar.mid.high = Price::Parse(row.high, 5).value();
  bar.mid.low = Price::Parse(row.low, 5).value();
  bar.mid.close = Price::Parse(row.close, 5).value();
  bar.bid = bar.mid;
  bar.ask = bar.mid;
  return bar;
}

std::string ErrorOf(std::string_view spec) {
  const auto set = IndicatorSet::Parse(spec);
  EXPECT_FALSE(set.ok()) << spec;
  if (set.ok()) return "";
  EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
  return set.status().message();
}

TEST(IndicatorSetTest, ParsesFullSpecIntoColumns) {
  const auto set = IndicatorSet::Parse(
      "sma:30,ema:30,rsi:14,atr:14,macd:12:26:9,bbands:20:2,stddev:20,mom:10,roc:10,vwap,"
      "cross:10:30");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const std::vector<std::string> expected = {"sma_30",
                                             "ema_30",
                                             "rsi_14",
                                             "atr_14",
                                             "macd_12_26_9",
                                             "macd_signal_12_26_9",
                                             "macd_hist_12_26_9",
                                             "bb_upper_20_2",
                                             "bb_middle_20_2",
                                             "bb_lower_20_2",
                                             "bb_pctb_20_2",
                                             "stddev_20",
                                             "mom_10",
                                             "roc_10",
                                             "vwap",
                                             "cross_10_30"};
  EXPECT_EQ(set->ColumnNames(), expected);
  EXPECT_EQ(set->ColumnCount(), expected.size());
}

TEST(IndicatorSetTest, DefaultsSpacesAndFractionalK) {
  const auto set = IndicatorSet::Parse(" macd , bbands , bbands:10:2.5 ");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const std::vector<std::string> expected = {
      "macd_12_26_9",     "macd_signal_12_26_9", "macd_hist_12_26_9", "bb_upper_20_2",
      "bb_middle_20_2",   "bb_lower_20_2",       "bb_pctb_20_2",      "bb_upper_10_2.5",
      "bb_middle_10_2.5", "bb_lower_10_2.5",     "bb_pctb_10_2.5"};
  EXPECT_EQ(set->ColumnNames(), expected);
}

TEST(IndicatorSetTest, ErrorsNameTheItemAndTheValue) {
  EXPECT_NE(ErrorOf("").find("empty"), std::string::npos);
  EXPECT_EQ(ErrorOf("sma:30,rsi:x"),
            "indicator spec item 2 \"rsi:x\": period \"x\" is not an integer");
  EXPECT_EQ(ErrorOf("sma:0"), "indicator spec item 1 \"sma:0\": SMA period 0 is outside 2..100000");
  EXPECT_EQ(ErrorOf("sma"),
            "indicator spec item 1 \"sma\": expected sma:period, got 0 parameter(s)");
  EXPECT_EQ(ErrorOf("ema:3:4"),
            "indicator spec item 1 \"ema:3:4\": expected ema:period, got 2 parameter(s)");
  EXPECT_NE(ErrorOf("sma:30,foo:3").find("item 2 \"foo:3\": unknown indicator \"foo\""),
            std::string::npos);
  EXPECT_EQ(ErrorOf("macd:26:12:9"),
            "indicator spec item 1 \"macd:26:12:9\": MACD fast period 26 must be less than slow "
            "period 12");
  EXPECT_NE(ErrorOf("macd:12:26").find("expected macd or macd:fast:slow:signal"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("bbands:20:abc"),
            "indicator spec item 1 \"bbands:20:abc\": deviation multiplier \"abc\" is not a "
            "number");
  EXPECT_NE(ErrorOf("bbands:20:-1").find("BBANDS deviation multiplier"), std::string::npos);
  EXPECT_EQ(ErrorOf("sma:30,sma:30"),
            "indicator spec item 2 \"sma:30\": duplicate column \"sma_30\"");
  EXPECT_EQ(ErrorOf("cross:30:10"),
            "indicator spec item 1 \"cross:30:10\": fast period 30 must be less than slow period "
            "10");
  EXPECT_NE(ErrorOf("vwap:3").find("expected vwap without parameters"), std::string::npos);
  EXPECT_EQ(ErrorOf("sma:30,,ema:3"), "indicator spec item 2 \"\": empty item");
  EXPECT_NE(ErrorOf("sma:12abc").find("\"12abc\" is not an integer"), std::string::npos);
  EXPECT_NE(ErrorOf("rsi:99999999999").find("is not an integer"), std::string::npos);
}

TEST(IndicatorSetTest, MatchesIndividualIndicatorsOnRealBars) {
  const auto& rows = testing::GbpUsdBid();
  ASSERT_GT(rows.size(), 30000u);
  auto parsed = IndicatorSet::Parse(
      "sma:30,ema:30,rsi:14,atr:14,macd:12:26:9,bbands:20:2,stddev:20,mom:10,roc:10,vwap,"
      "cross:10:30");
  ASSERT_TRUE(parsed.ok());
  IndicatorSet& set = *parsed;
  Sma sma(30), fast(10), slow(30);
  Ema ema(30);
  Rsi rsi(14);
  Atr atr(14);
  Macd macd(12, 26, 9);
  Bollinger bb(20, 2.0);
  StdDev sd(20);
  Momentum mom(10);
  Roc roc(10);
  Vwap vwap;
  Crossover cross;

  std::vector<std::optional<double>> values;
  std::vector<size_t> first_value(set.ColumnCount(), rows.size());
  int crosses = 0;
  for (size_t t = 0; t < rows.size(); ++t) {
    const Bar bar = MidBar(rows[t]);
    set.Update(bar);
    set.Values(&values);
    ASSERT_EQ(values.size(), set.ColumnCount());
    for (size_t col = 0; col < values.size(); ++col) {
      if (values[col] && first_value[col] == rows.size()) first_value[col] = t;
    }
    const double h = bar.mid.high.AsDouble(), l = bar.mid.low.AsDouble();
    const double c = bar.mid.close.AsDouble();
    sma.Update(c);
    ema.Update(c);
    rsi.Update(c);
    atr.Update(h, l, c);
    macd.Update(c);
    bb.Update(c);
    sd.Update(c);
    mom.Update(c);
    roc.Update(c);
    vwap.Update(bar.open_time, (h + l + c) / 3, 0.0);
    fast.Update(c);
    slow.Update(c);
    if (slow.Ready()) cross.Update(fast.Value(), slow.Value());

    auto expect = [&](size_t col, bool ready, double value) {
      ASSERT_EQ(values[col].has_value(), ready) << set.ColumnNames()[col] << " at " << t;
      if (ready) {
        ASSERT_EQ(*values[col], value) << set.ColumnNames()[col] << " at " << t;
      }
    };
    expect(0, sma.Ready(), sma.Value());
    expect(1, ema.Ready(), ema.Value());
    expect(2, rsi.Ready(), rsi.Value());
    expect(3, atr.Ready(), atr.Value());
    expect(4, macd.Ready(), macd.Value());
    expect(5, macd.Ready(), macd.Signal());
    expect(6, macd.Ready(), macd.Histogram());
    expect(7, bb.Ready(), bb.Upper());
    expect(8, bb.Ready(), bb.Middle());
    expect(9, bb.Ready(), bb.Lower());
    expect(10, bb.Ready(), bb.PercentB());
    expect(11, sd.Ready(), sd.Value());
    expect(12, mom.Ready(), mom.Value());
    expect(13, roc.Ready(), roc.Value());
    expect(14, vwap.Ready(), vwap.Value());
    expect(15, cross.Ready(), cross.Value());
    if (cross.Ready() && cross.Value() != 0) ++crosses;
  }
  // First values: SMA(30) 29, EMA(30) 29, RSI(14) 14, ATR(14) 14, MACD 33 (all three),
  // BBANDS(20) 19, STDDEV(20) 19, MOM/ROC(10) 10, VWAP 0, cross one bar after SMA(30).
  const std::vector<size_t> expected_first = {29, 29, 14, 14, 33, 33, 33, 19,
                                              19, 19, 19, 19, 10, 10, 0,  30};
  EXPECT_EQ(first_value, expected_first);
  EXPECT_GT(crosses, 100);  // a month of M1 data crosses SMA(10)/SMA(30) many times
}

TEST(IndicatorSetTest, VwapResetsEachUtcDayOnRealBars) {
  const auto& rows = testing::GbpUsdBid();
  ASSERT_GT(rows.size(), 3000u);
  auto parsed = IndicatorSet::Parse("vwap");
  ASSERT_TRUE(parsed.ok());
  std::vector<std::optional<double>> values;
  double day_sum = 0;
  int day_count = 0;
  int64_t day = -1;
  for (size_t t = 0; t < 3000; ++t) {
    const Bar bar = MidBar(rows[t]);
    parsed->Update(bar);
    parsed->Values(&values);
    const int64_t bar_day = FloorToDay(bar.open_time).ns;
    if (bar_day != day) {
      day = bar_day;
      day_sum = 0;
      day_count = 0;
    }
    day_sum += (bar.mid.high.AsDouble() + bar.mid.low.AsDouble() + bar.mid.close.AsDouble()) / 3;
    ++day_count;
    ASSERT_TRUE(values[0].has_value());
    // No volume in these files: equal weights, the mean typical price of the day so far.
    ASSERT_NEAR(*values[0], day_sum / day_count, 1e-12) << t;
  }
}

TEST(IndicatorSetTest, PrefixRunEqualsFullRunPrefixAndResetRestarts) {
  const auto& rows = testing::GbpUsdBid();
  ASSERT_GT(rows.size(), 2000u);
  const char* spec =
      "sma:30,ema:30,rsi:14,atr:14,macd,bbands,stddev:20,mom:10,roc:10,vwap,"
      "cross:10:30";
  auto full = IndicatorSet::Parse(spec);
  auto part = IndicatorSet::Parse(spec);
  ASSERT_TRUE(full.ok() && part.ok());
  std::vector<std::vector<std::optional<double>>> full_rows, part_rows;
  std::vector<std::optional<double>> values;
  for (size_t t = 0; t < 2000; ++t) {
    full->Update(MidBar(rows[t]));
    full->Values(&values);
    full_rows.push_back(values);
  }
  for (int pass = 0; pass < 2; ++pass) {
    part_rows.clear();
    for (size_t t = 0; t < 700; ++t) {
      part->Update(MidBar(rows[t]));
      part->Values(&values);
      part_rows.push_back(values);
    }
    for (size_t t = 0; t < 700; ++t) ASSERT_EQ(part_rows[t], full_rows[t]) << t;
    part->Reset();
  }
}

}  // namespace
}  // namespace aits::features
