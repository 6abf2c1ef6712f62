#include "aits/data/source.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aits/data/test_util.h"

namespace aits::data {
namespace {

using testing::Raw;
using testing::ReadAllBars;
using testing::ReadAllTicks;
using testing::Rejected;
using testing::SharedData;
using testing::TempDir;

ReadOptions Digits(int digits) {
  ReadOptions options;
  options.price_precision = digits;
  return options;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- Format names and detection -------------------------------------------------------------

TEST(DataFormatTest, NamesRoundTrip) {
  for (DataFormat format : {DataFormat::kAuto, DataFormat::kMt5Ticks, DataFormat::kMt5Bars,
                            DataFormat::kCsvTicks, DataFormat::kHistDataTicks, DataFormat::kCsvBars,
                            DataFormat::kYahoo, DataFormat::kPrice, DataFormat::kBinary}) {
    auto parsed = ParseDataFormat(ToString(format));
    ASSERT_TRUE(parsed.ok()) << ToString(format);
    EXPECT_EQ(*parsed, format);
  }
  EXPECT_FALSE(ParseDataFormat("excel").ok());
  EXPECT_TRUE(IsBarFormat(DataFormat::kYahoo));
  EXPECT_FALSE(IsBarFormat(DataFormat::kPrice));
  EXPECT_EQ(ToString(RowRejectReason::kNonPositivePrice), "non_positive_price");
  EXPECT_EQ(ToString(RowRejectReason::kUnmatched), "unmatched");
}

TEST(DetectFormatTest, EveryRealFile) {
  const std::vector<std::pair<std::string, DataFormat>> expected = {
      {"usdjpy-ticks.csv", DataFormat::kCsvTicks},
      {"eurusd-ticks-2020-01-01.csv", DataFormat::kHistDataTicks},
      {"gbpusd-m1-bid-2012.csv", DataFormat::kCsvBars},
      {"gbpusd-m1-ask-2012.csv", DataFormat::kCsvBars},
      {"usdjpy-m1-bid-2013.csv", DataFormat::kCsvBars},
      {"usdjpy-m1-ask-2013.csv", DataFormat::kCsvBars},
      {"usdchf-30min-1996-2001.csv", DataFormat::kPrice},
      {"usdthb-ticks-1997-06.csv", DataFormat::kCsvTicks},
      {"stoxx50-day-2006.txt", DataFormat::kYahoo},
      {"orcl-day-1995-2014.txt", DataFormat::kYahoo},
  };
  for (const auto& [file, format] : expected) {
    auto detected = DetectFormat(SharedData(file));
    ASSERT_TRUE(detected.ok()) << file << ": " << detected.status().ToString();
    EXPECT_EQ(*detected, format) << file << " detected as " << ToString(*detected);
  }
}

TEST(DetectFormatTest, Mt5ExportsAndHeaderlessVariants) {
  TempDir dir;
  EXPECT_EQ(*DetectFormat(dir.Write("t.csv",
                                    "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<"
                                    "FLAGS>\n2020.01.02\t00:00:00.123\t1.1\t1.2\t\t\t6\n")),
            DataFormat::kMt5Ticks);
  EXPECT_EQ(*DetectFormat(dir.Write("b.csv",
                                    "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<"
                                    "TICKVOL>\t<VOL>\t<SPREAD>\n")),
            DataFormat::kMt5Bars);
  EXPECT_EQ(*DetectFormat(dir.Write("e.csv", "1577934245123,1.1,1.2\n")), DataFormat::kCsvTicks);
  // Five headerless columns could be OHLC or bid,ask + two volumes: refused unless forced.
  const std::string five = dir.Write("v.csv", "2020-01-02T00:00:00Z,1.1,1.2,1,2\n");
  auto ambiguous = DetectFormat(five);
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_TRUE(Contains(ambiguous.status().message(), "ambiguous"));
  ReadOptions forced = Digits(5);
  forced.format = DataFormat::kCsvTicks;
  auto five_ticks = ReadAllTicks(five, forced);
  ASSERT_TRUE(five_ticks.status.ok()) << five_ticks.status.ToString();
  ASSERT_EQ(five_ticks.ticks.size(), 1u);
  EXPECT_EQ(five_ticks.ticks[0].ask_volume, 2.0f);
  EXPECT_EQ(*DetectFormat(dir.Write("p.csv", "2020-01-02 00:00:00,1.1\n")), DataFormat::kPrice);
  EXPECT_EQ(*DetectFormat(dir.Write("y.csv",
                                    "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,1,"
                                    "2,100\n")),
            DataFormat::kYahoo);
  EXPECT_EQ(*DetectFormat(dir.Write("c.csv",
                                    "timestamp,open,high,low,close,volume\n2020-01-02 "
                                    "00:01:00,1,2,1,2,100\n")),
            DataFormat::kCsvBars);
}

TEST(DetectFormatTest, ErrorsNameTheFile) {
  TempDir dir;
  auto missing = DetectFormat(dir.Path("nope.csv"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status().message(), "nope.csv"));

  auto empty = DetectFormat(dir.Write("empty.csv", ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(empty.status().message(), "empty.csv"));
  EXPECT_TRUE(Contains(empty.status().message(), "empty"));

  auto blank = DetectFormat(dir.Write("blank.csv", "\n\r\n  \n"));
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.status().code(), StatusCode::kInvalidArgument);

  auto prose = DetectFormat(dir.Write("notes.txt", "Dear diary, today the market went up.\n"));
  ASSERT_FALSE(prose.ok());
  EXPECT_EQ(prose.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(prose.status().message(), "notes.txt"));
  EXPECT_TRUE(Contains(prose.status().message(), "Dear diary"));

  auto binary = DetectFormat(dir.Write("img.png", std::string("\x89PNG\r\n\x1a\n\0\0\0", 11)));
  ASSERT_FALSE(binary.ok());
  EXPECT_EQ(binary.status().code(), StatusCode::kInvalidArgument);

  auto json = DetectFormat(dir.Write("x.json", "{\"a\": 1}\n"));
  EXPECT_FALSE(json.ok());
}

// --- Real files --------------------------------------------------------------------------------

TEST(RealDataTest, UsdJpyTicks) {
  auto read = ReadAllTicks(SharedData("usdjpy-ticks.csv"), Digits(3));
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.stats.rows, 1000u);
  EXPECT_EQ(read.stats.accepted, 1000u);
  EXPECT_EQ(read.stats.TotalRejected(), 0u);
  ASSERT_EQ(read.ticks.size(), 1000u);
  EXPECT_EQ(read.ticks.front().ts, FromCivil(2013, 1, 1, 22, 0, 0, 295'000'000));
  EXPECT_EQ(read.ticks.front().bid.raw(), Raw("86.655"));
  EXPECT_EQ(read.ticks.front().ask.raw(), Raw("86.728"));
  EXPECT_EQ(read.ticks.front().bid.precision(), 3);
  EXPECT_EQ(read.ticks.back().ts, FromCivil(2013, 1, 1, 22, 35, 13, 494'000'000));
  EXPECT_EQ(read.ticks.back().bid.raw(), Raw("86.836"));
  EXPECT_EQ(read.ticks.back().ask.raw(), Raw("86.854"));
}

TEST(RealDataTest, EurUsdHistDataTicks) {
  ReadOptions options = Digits(5);
  options.instrument = InstrumentId{7};
  auto read = ReadAllTicks(SharedData("eurusd-ticks-2020-01-01.csv"), options);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.stats.rows, 9500u);
  EXPECT_EQ(read.stats.accepted, 9500u);
  ASSERT_EQ(read.ticks.size(), 9500u);
  EXPECT_EQ(read.ticks.front().ts, FromCivil(2020, 1, 1, 17, 0, 0, 65'000'000));
  EXPECT_EQ(read.ticks.front().bid.raw(), Raw("1.12120"));
  EXPECT_EQ(read.ticks.front().ask.raw(), Raw("1.12172"));
  EXPECT_EQ(read.ticks.front().instrument, InstrumentId{7});
  EXPECT_EQ(read.ticks.back().ts, FromCivil(2020, 1, 1, 23, 0, 52, 125'000'000));
  EXPECT_EQ(read.ticks.back().bid.raw(), Raw("1.12130"));
  EXPECT_EQ(read.ticks.back().ask.raw(), Raw("1.12132"));
}

TEST(RealDataTest, GbpUsdBidAskJoin) {
  ReadOptions options = Digits(5);
  options.ask_path = SharedData("gbpusd-m1-ask-2012.csv");
  options.bar_period = Duration{};  // infer
  auto read = ReadAllBars(SharedData("gbpusd-m1-bid-2012.csv"), options);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.period, Duration::Minutes(1));
  EXPECT_EQ(read.stats.accepted, 30117u);
  EXPECT_EQ(read.stats.rows, 30117u);
  EXPECT_EQ(read.stats.TotalRejected(), 0u);
  // The bid and ask files are sampled independently: 1,203 bars have some ask price below the
  // bid price; the join lifts them to zero spread (counted) instead of dropping the bars.
  EXPECT_EQ(read.stats.repaired, 1203u);
  ASSERT_EQ(read.bars.size(), 30117u);
  for (const Bar& bar : read.bars) {
    ASSERT_GE(bar.ask.open, bar.bid.open);
    ASSERT_GE(bar.ask.high, bar.bid.high);
    ASSERT_GE(bar.ask.low, bar.bid.low);
    ASSERT_GE(bar.ask.close, bar.bid.close);
    ASSERT_LE(bar.ask.low, bar.ask.open);
    ASSERT_GE(bar.ask.high, bar.ask.close);
    ASSERT_EQ(bar.period, Duration::Minutes(1));
  }
  const Bar& first = read.bars.front();
  EXPECT_EQ(first.open_time, FromCivil(2012, 2, 1));
  EXPECT_EQ(first.bid.open.raw(), Raw("1.57597"));
  EXPECT_EQ(first.bid.high.raw(), Raw("1.57606"));
  EXPECT_EQ(first.bid.low.raw(), Raw("1.57576"));
  EXPECT_EQ(first.bid.close.raw(), Raw("1.57576"));
  EXPECT_EQ(first.ask.open.raw(), Raw("1.57608"));
  EXPECT_EQ(first.ask.close.raw(), Raw("1.57585"));
  EXPECT_EQ(first.mid.open.raw(), (Raw("1.57597") + Raw("1.57608")) / 2);
  const Bar& last = read.bars.back();
  EXPECT_EQ(last.open_time, FromCivil(2012, 3, 1));
  EXPECT_EQ(last.bid.close.raw(), Raw("1.59208"));
  EXPECT_EQ(last.ask.close.raw(), Raw("1.59216"));
}

TEST(RealDataTest, UsdJpyBarsBothSides) {
  ReadOptions options = Digits(3);
  auto bid_only = ReadAllBars(SharedData("usdjpy-m1-bid-2013.csv"), options);
  ASSERT_TRUE(bid_only.status.ok()) << bid_only.status.ToString();
  EXPECT_EQ(bid_only.stats.accepted, 28761u);
  EXPECT_EQ(bid_only.bars.front().bid.open.raw(), Raw("91.715"));
  EXPECT_EQ(bid_only.bars.front().ask.open.raw(), Raw("91.715"));  // spread_points 0
  EXPECT_EQ(bid_only.bars.back().open_time, FromCivil(2013, 3, 1));
  EXPECT_EQ(bid_only.bars.back().bid.close.raw(), Raw("92.539"));

  options.spread_points = 3;
  auto spread = ReadAllBars(SharedData("usdjpy-m1-bid-2013.csv"), options);
  ASSERT_TRUE(spread.status.ok());
  EXPECT_EQ(spread.bars.front().ask.open.raw(), Raw("91.718"));

  options.ask_path = SharedData("usdjpy-m1-ask-2013.csv");
  auto joined = ReadAllBars(SharedData("usdjpy-m1-bid-2013.csv"), options);
  ASSERT_TRUE(joined.status.ok()) << joined.status.ToString();
  EXPECT_EQ(joined.stats.accepted, 28761u);
  EXPECT_EQ(joined.stats.TotalRejected(), 0u);
  EXPECT_EQ(joined.stats.repaired, 2144u);
  EXPECT_EQ(joined.bars.front().ask.open.raw(), Raw("91.717"));
  EXPECT_EQ(joined.bars.back().ask.close.raw(), Raw("92.540"));
}

TEST(RealDataTest, YahooDailyBars) {
  ReadOptions options = Digits(6);
  options.bar_period = Duration{};
  auto orcl = ReadAllBars(SharedData("orcl-day-1995-2014.txt"), options);
  ASSERT_TRUE(orcl.status.ok()) << orcl.status.ToString();
  EXPECT_EQ(orcl.period, Duration::Days(1));
  EXPECT_EQ(orcl.stats.accepted, 5036u);
  EXPECT_EQ(orcl.stats.TotalRejected(), 0u);
  EXPECT_EQ(orcl.bars.front().open_time, FromCivil(1995, 1, 3));
  EXPECT_EQ(orcl.bars.front().bid.open.raw(), Raw("2.179012"));
  EXPECT_EQ(orcl.bars.front().bid.low.raw(), Raw("2.117284"));
  EXPECT_EQ(orcl.bars.front().volume, 36301200.0);
  EXPECT_EQ(orcl.bars.back().open_time, FromCivil(2014, 12, 31));
  EXPECT_EQ(orcl.bars.back().bid.close.raw(), Raw("44.970001"));
  EXPECT_EQ(orcl.bars.back().volume, 13269200.0);

  auto stoxx = ReadAllBars(SharedData("stoxx50-day-2006.txt"), Digits(2));
  ASSERT_TRUE(stoxx.status.ok()) << stoxx.status.ToString();
  EXPECT_EQ(stoxx.stats.accepted, 255u);
  EXPECT_EQ(stoxx.bars.front().bid.open.raw(), Raw("3578.73"));
  EXPECT_EQ(stoxx.bars.back().open_time, FromCivil(2006, 12, 29));
  EXPECT_EQ(stoxx.bars.back().bid.close.raw(), Raw("4119.94"));
}

TEST(RealDataTest, UsdChfSinglePriceWithSpread) {
  ReadOptions options = Digits(4);
  options.spread_points = 5;
  auto read = ReadAllTicks(SharedData("usdchf-30min-1996-2001.csv"), options);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.stats.accepted, 62496u);
  EXPECT_EQ(read.stats.TotalRejected(), 0u);
  EXPECT_EQ(read.ticks.front().ts, FromCivil(1996, 4, 1));
  EXPECT_EQ(read.ticks.front().bid.raw(), Raw("1.1930"));
  EXPECT_EQ(read.ticks.front().ask.raw(), Raw("1.1935"));
  EXPECT_EQ(read.ticks.back().ts, FromCivil(2001, 3, 30, 23, 30));
  EXPECT_EQ(read.ticks.back().bid.raw(), Raw("1.7429"));
}

TEST(RealDataTest, UsdThbBankQuotesByColumnName) {
  auto read = ReadAllTicks(SharedData("usdthb-ticks-1997-06.csv"), Digits(3));
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.stats.rows, 2984u);
  EXPECT_EQ(read.stats.accepted, 2956u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kDuplicate), 26u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kTimeBackwards), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNonPositivePrice), 1u);
  EXPECT_EQ(read.stats.TotalRejected(), 28u);
  EXPECT_EQ(read.ticks.front().ts, FromCivil(1997, 6, 1, 19, 28));
  EXPECT_EQ(read.ticks.front().bid.raw(), Raw("24.8"));
  EXPECT_EQ(read.ticks.front().ask.raw(), Raw("25"));
  EXPECT_EQ(read.ticks.back().ts, FromCivil(1997, 6, 30, 23, 44));
  EXPECT_EQ(read.ticks.back().ask.raw(), Raw("24.8"));
  bool saw_backwards = false, saw_zero = false;
  for (const RejectSample& sample : read.stats.samples) {
    EXPECT_TRUE(Contains(sample.file, "usdthb-ticks-1997-06.csv"));
  }
  ReadOptions many = Digits(3);
  many.max_samples = 100;
  auto all = ReadAllTicks(SharedData("usdthb-ticks-1997-06.csv"), many);
  ASSERT_EQ(all.stats.samples.size(), 28u);
  for (const RejectSample& sample : all.stats.samples) {
    if (sample.reason == RowRejectReason::kTimeBackwards) {
      saw_backwards = true;
      EXPECT_EQ(sample.line, 2363u);
      EXPECT_EQ(sample.value, "199706200236");
    }
    if (sample.reason == RowRejectReason::kNonPositivePrice) {
      saw_zero = true;
      EXPECT_EQ(sample.line, 2788u);
      EXPECT_EQ(sample.field, "ask");
      EXPECT_EQ(sample.value, "0");
    }
  }
  EXPECT_TRUE(saw_backwards);
  EXPECT_TRUE(saw_zero);
}

// --- Bad input ---------------------------------------------------------------------------------

constexpr const char* kBadTicks =
    "timestamp,bid,ask,bid_volume,ask_volume\n"   // 1
    "2020-01-02 00:00:00,1.10000,1.10010,1,2\n"   // 2 ok
    "2020-01-02 00:00:01,abc,1.10010,1,2\n"       // 3 malformed bid
    "2020-01-02 00:00:02,1.10000,1.10010\n"       // 4 wrong field count
    "2020-01-02 00:00:03,NaN,1.10010,1,2\n"       // 5 non-finite
    "2020-01-02 00:00:04,1.10000,inf,1,2\n"       // 6 non-finite
    "2020-01-02 00:00:05,-1.10000,1.10010,1,2\n"  // 7 negative price
    "2020-01-02 00:00:06,1.10000,0,1,2\n"         // 8 zero price
    "2020-01-02 00:00:07,1.10020,1.10010,1,2\n"   // 9 crossed
    "2020-01-02 00:00:08,1.10000,1.10010,-1,2\n"  // 10 negative volume
    "2020-01-01 23:59:59,1.10000,1.10010,1,2\n"   // 11 backwards
    "\n"                                          // 12 blank: not a row
    "2020-01-02 00:00:00,1.10000,1.10010,1,2\n"   // 13 duplicate of line 2
    "2020-01-02 00:00:00,1.10001,1.10010,1,2\n"   // 14 same time, new quote: ok
    "2020-13-02 00:00:09,1.10000,1.10010,1,2\n"   // 15 bad timestamp
    "2020-01-02 00:00:10,1.10000,1.10010,1,2\n";  // 16 ok

TEST(BadInputTest, EveryRejectionCountedWithLineAndField) {
  TempDir dir;
  const std::string path = dir.Write("bad.csv", kBadTicks);
  ReadOptions options = Digits(5);
  options.max_samples = 100;
  auto read = ReadAllTicks(path, options);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.stats.rows, 14u);
  EXPECT_EQ(read.stats.accepted, 3u);
  ASSERT_EQ(read.ticks.size(), 3u);
  EXPECT_EQ(read.ticks[1].bid.raw(), Raw("1.10001"));
  EXPECT_EQ(read.ticks[2].ts, FromCivil(2020, 1, 2, 0, 0, 10));
  EXPECT_EQ(read.ticks[0].bid_volume, 1.0f);
  EXPECT_EQ(read.ticks[0].ask_volume, 2.0f);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kMalformed), 3u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNonFinite), 2u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNonPositivePrice), 2u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kCrossed), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNegativeVolume), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kTimeBackwards), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kDuplicate), 1u);
  EXPECT_EQ(read.stats.rows, read.stats.accepted + read.stats.TotalRejected());

  struct Expect {
    uint64_t line;
    const char* field;
    const char* value;
    RowRejectReason reason;
  };
  const Expect expected[] = {
      {3, "bid", "abc", RowRejectReason::kMalformed},
      {4, "field_count", "3 (expected 5)", RowRejectReason::kMalformed},
      {5, "bid", "NaN", RowRejectReason::kNonFinite},
      {6, "ask", "inf", RowRejectReason::kNonFinite},
      {7, "bid", "-1.10000", RowRejectReason::kNonPositivePrice},
      {8, "ask", "0", RowRejectReason::kNonPositivePrice},
      {9, "ask", "1.10010", RowRejectReason::kCrossed},
      {10, "bid_volume", "-1", RowRejectReason::kNegativeVolume},
      {11, "timestamp", "2020-01-01 23:59:59", RowRejectReason::kTimeBackwards},
      {13, "timestamp", "2020-01-02 00:00:00", RowRejectReason::kDuplicate},
      {15, "timestamp", "2020-13-02 00:00:09", RowRejectReason::kMalformed},
  };
  ASSERT_EQ(read.stats.samples.size(), std::size(expected));
  for (size_t idx = 0; idx < std::size(expected); ++idx) {
    const RejectSample& sample = read.stats.samples[idx];
    EXPECT_EQ(sample.file, path);
    EXPECT_EQ(sample.line, expected[idx].line);
    EXPECT_EQ(sample.field, expected[idx].field) << "line " << expected[idx].line;
    EXPECT_EQ(sample.value, expected[idx].value) << "line " << expected[idx].line;
    EXPECT_EQ(sample.reason, expected[idx].reason) << "line " << expected[idx].line;
  }
  EXPECT_EQ(read.stats.samples[4].ToString(),
            path + ":7: field 'bid' value '-1.10000': non_positive_price");
  const std::string summary = read.stats.Summary();
  EXPECT_TRUE(Contains(summary, "accepted 3"));
  EXPECT_TRUE(Contains(summary, "crossed: 1"));
}

TEST(BadInputTest, SamplesAreCapped) {
  TempDir dir;
  ReadOptions options = Digits(5);
  options.max_samples = 2;
  auto read = ReadAllTicks(dir.Write("bad.csv", kBadTicks), options);
  EXPECT_EQ(read.stats.samples.size(), 2u);
  EXPECT_EQ(read.stats.TotalRejected(), 11u);
}

TEST(BadInputTest, StrictStopsAtTheFirstRejection) {
  TempDir dir;
  const std::string path = dir.Write("bad.csv", kBadTicks);
  ReadOptions options = Digits(5);
  options.strict = true;
  auto read = ReadAllTicks(path, options);
  ASSERT_FALSE(read.status.ok());
  EXPECT_EQ(read.status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(read.status.message(), path + ":3: field 'bid' value 'abc': malformed"))
      << read.status.message();
  // The tick accepted before the rejection is delivered, not lost.
  ASSERT_EQ(read.ticks.size(), 1u);
  EXPECT_EQ(read.stats.rows, 2u);
  EXPECT_EQ(read.stats.TotalRejected(), 1u);
}

TEST(BadInputTest, MissingEmptyAndWrongKindOfFile) {
  TempDir dir;
  auto missing = ReadAllTicks(dir.Path("missing.csv"), Digits(5));
  EXPECT_EQ(missing.status.code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status.message(), "missing.csv"));

  auto empty = ReadAllTicks(dir.Write("empty.csv", ""), Digits(5));
  EXPECT_EQ(empty.status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(empty.status.message(), "empty.csv"));

  auto header_only = ReadAllTicks(dir.Write("h.csv", "timestamp,bid,ask\n"), Digits(5));
  EXPECT_TRUE(header_only.status.ok());
  EXPECT_EQ(header_only.stats.rows, 0u);

  auto bars_as_ticks = OpenTicks(SharedData("gbpusd-m1-bid-2012.csv"), Digits(5));
  ASSERT_FALSE(bars_as_ticks.ok());
  EXPECT_TRUE(Contains(bars_as_ticks.status().message(), "bars, not ticks"));

  auto ticks_as_bars = OpenBars(SharedData("usdjpy-ticks.csv"), Digits(3));
  ASSERT_FALSE(ticks_as_bars.ok());
  EXPECT_TRUE(Contains(ticks_as_bars.status().message(), "OpenTicks"));

  ReadOptions forced = Digits(5);
  forced.format = DataFormat::kCsvTicks;
  auto wrong_forced = OpenTicks(SharedData("usdchf-30min-1996-2001.csv"), forced);
  ASSERT_FALSE(wrong_forced.ok());
  EXPECT_TRUE(Contains(wrong_forced.status().message(), "bid and ask"));

  auto prose = OpenTicks(dir.Write("prose.txt", "hello world\nsecond line\n"), Digits(5));
  EXPECT_EQ(prose.status().code(), StatusCode::kInvalidArgument);

  ReadOptions bad_digits = Digits(12);
  EXPECT_FALSE(OpenTicks(SharedData("usdjpy-ticks.csv"), bad_digits).ok());
}

TEST(TextFormsTest, QuotedCrlfOffsetsAndEpochs) {
  TempDir dir;
  auto quoted = ReadAllTicks(dir.Write("q.csv",
                                       "\"timestamp\",\"bid\",\"ask\"\r\n"
                                       "\"2020-01-02 02:00:00+02:00\",\"1.10000\",\"1.10010\"\r\n"
                                       "\r\n"
                                       "\"2020-01-02T00:00:01.5Z\",\"1.10001\",\"1.10011\"\r\n"),
                             Digits(5));
  ASSERT_TRUE(quoted.status.ok()) << quoted.status.ToString();
  ASSERT_EQ(quoted.ticks.size(), 2u);
  EXPECT_EQ(quoted.ticks[0].ts, FromCivil(2020, 1, 2));
  EXPECT_EQ(quoted.ticks[1].ts, FromCivil(2020, 1, 2, 0, 0, 1, 500'000'000));
  EXPECT_EQ(quoted.ticks[1].ask.raw(), Raw("1.10011"));

  const Timestamp t = FromCivil(2020, 1, 2, 3, 4, 5);
  auto epochs = ReadAllTicks(dir.Write("e.csv",
                                       "1577934245,1.1,1.2\n"
                                       "1577934245500,1.1,1.2\n"
                                       "1577934245600000,1.1,1.2\n"
                                       "1577934245700000001,1.1,1.2\n"),
                             Digits(5));
  ASSERT_TRUE(epochs.status.ok());
  ASSERT_EQ(epochs.ticks.size(), 4u);
  EXPECT_EQ(epochs.ticks[0].ts, t);
  EXPECT_EQ(epochs.ticks[1].ts, t + Duration::Millis(500));
  EXPECT_EQ(epochs.ticks[2].ts, t + Duration::Millis(600));
  EXPECT_EQ(epochs.ticks[3].ts, t + Duration::Nanos(700'000'001));

  auto no_trailing_newline = ReadAllTicks(dir.Write("n.csv",
                                                    "timestamp,bid,ask\n"
                                                    "2020-01-02,1.1,1.2"),
                                          Digits(5));
  EXPECT_EQ(no_trailing_newline.ticks.size(), 1u);
}

// --- MT5 exports -------------------------------------------------------------------------------

TEST(Mt5Test, TicksCarryEmptyBidAskForward) {
  TempDir dir;
  const std::string path = dir.Write("EURUSD_ticks.csv",
                                     "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\r\n"
                                     "2020.01.02\t00:00:00.123\t1.12120\t1.12130\t\t\t6\r\n"
                                     "2020.01.02\t00:00:00.456\t1.12121\t\t\t\t2\r\n"
                                     "2020.01.02\t00:00:01.000\t\t1.12140\t\t\t4\r\n"
                                     "2020.01.02\t00:00:02.000\t1.12150\t1.12160\t\t\t6\r\n");
  EXPECT_EQ(*DetectFormat(path), DataFormat::kMt5Ticks);
  auto read = ReadAllTicks(path, Digits(5));
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ASSERT_EQ(read.ticks.size(), 4u);
  EXPECT_EQ(read.ticks[0].ts, FromCivil(2020, 1, 2, 0, 0, 0, 123'000'000));
  EXPECT_EQ(read.ticks[1].bid.raw(), Raw("1.12121"));
  EXPECT_EQ(read.ticks[1].ask.raw(), Raw("1.12130"));  // carried
  EXPECT_EQ(read.ticks[2].bid.raw(), Raw("1.12121"));  // carried
  EXPECT_EQ(read.ticks[2].ask.raw(), Raw("1.12140"));
  EXPECT_EQ(read.ticks[3].ts, FromCivil(2020, 1, 2, 0, 0, 2));

  auto first_empty = ReadAllTicks(dir.Write("t2.csv",
                                            "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<"
                                            "FLAGS>\n2020.01.02\t00:00:00.123\t\t1.1\t\t\t4\n"),
                                  Digits(5));
  EXPECT_EQ(Rejected(first_empty.stats, RowRejectReason::kMalformed), 1u);
  ASSERT_EQ(first_empty.stats.samples.size(), 1u);
  EXPECT_EQ(first_empty.stats.samples[0].field, "bid");
}

// Regression (review of issue 2): validation judges prices as written; rounding comes after and
// is counted.
TEST(ValidationTest, RoundingHappensAfterValidationAndIsCounted) {
  TempDir dir;
  const std::string path =
      dir.Write("r.csv",
                "timestamp,bid,ask\n"
                "2020-01-02 00:00:00,1.100004,1.100001\n"  // crossed as written
                "2020-01-02 00:00:01,1.100004,1.100006\n"  // rounds
                "2020-01-02 00:00:01,1.100003,1.100006\n"  // not a duplicate
                "2020-01-02 00:00:02,1.10001,1.10002\n");  // exact
  auto read = ReadAllTicks(path, Digits(5));
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kCrossed), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kDuplicate), 0u);
  ASSERT_EQ(read.ticks.size(), 3u);
  EXPECT_EQ(read.ticks[0].bid.raw(), Raw("1.10000"));
  EXPECT_EQ(read.ticks[0].ask.raw(), Raw("1.10001"));
  EXPECT_EQ(read.stats.rounded, 2u);
}

// Regression (review of issue 2): a rejected row's prices must not be carried into later rows.
TEST(Mt5Test, CarryForwardComesFromAcceptedTicksOnly) {
  TempDir dir;
  const std::string path = dir.Write("GBPUSD_ticks.csv",
                                     "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n"
                                     "2020.01.02\t00:00:00.000\t1.10000\t1.10010\t\t\t6\n"
                                     "2020.01.02\t00:00:01.000\t1.20000\t\t\t\t2\n"
                                     "2020.01.02\t00:00:02.000\t\t1.10020\t\t\t4\n"
                                     "2020.01.02\t00:00:03.000\t\t1.10030\t\t\t4\n");
  auto read = ReadAllTicks(path, Digits(5));
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kCrossed), 1u);  // only the 1.2 bid row
  ASSERT_EQ(read.ticks.size(), 3u);
  EXPECT_EQ(read.ticks[1].bid.raw(), Raw("1.10000"));
  EXPECT_EQ(read.ticks[1].ask.raw(), Raw("1.10020"));
  EXPECT_EQ(read.ticks[2].ask.raw(), Raw("1.10030"));
}

TEST(Mt5Test, BarsWithSpreadAndUtf16) {
  TempDir dir;
  const std::string text =
      "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n"
      "2020.01.02\t00:00:00\t1.12120\t1.12150\t1.12100\t1.12140\t57\t0\t12\r\n"
      "2020.01.02\t00:05:00\t1.12140\t1.12160\t1.12130\t1.12130\t31\t0\t8\r\n"
      "2020.01.02\t00:10:00\t1.12140\t1.12120\t1.12130\t1.12130\t31\t0\t8\r\n";
  const std::string path = dir.Write("EURUSD_M5.csv", text);
  EXPECT_EQ(*DetectFormat(path), DataFormat::kMt5Bars);
  ReadOptions options = Digits(5);
  options.bar_period = Duration{};
  auto read = ReadAllBars(path, options);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  EXPECT_EQ(read.period, Duration::Minutes(5));
  ASSERT_EQ(read.bars.size(), 2u);
  EXPECT_EQ(read.bars[0].ask.open.raw(), Raw("1.12132"));  // bid + 12 points
  EXPECT_EQ(read.bars[1].ask.close.raw(), Raw("1.12138"));
  EXPECT_EQ(read.bars[0].tick_count, 57u);
  EXPECT_EQ(read.bars[0].volume, 57.0);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kBadBar), 1u);
  EXPECT_EQ(read.stats.samples[0].line, 4u);

  // MetaTrader can write UTF-16LE with a byte-order mark.
  std::string utf16 = "\xFF\xFE";
  for (char ch : text) {
    utf16.push_back(ch);
    utf16.push_back('\0');
  }
  const std::string wide = dir.Write("EURUSD_M5_utf16.csv", utf16);
  EXPECT_EQ(*DetectFormat(wide), DataFormat::kMt5Bars);
  auto wide_read = ReadAllBars(wide, options);
  ASSERT_TRUE(wide_read.status.ok()) << wide_read.status.ToString();
  ASSERT_EQ(wide_read.bars.size(), 2u);
  EXPECT_EQ(wide_read.bars[1].bid.high.raw(), Raw("1.12160"));
}

// --- Bars: validation and the join -------------------------------------------------------------

TEST(BarsTest, ValidationReasons) {
  TempDir dir;
  const std::string path = dir.Write("bars.csv",
                                     "timestamp,open,high,low,close,volume\n"      // 1
                                     "2020-01-02 00:00:00,1.0,1.2,0.9,1.1,10\n"    // 2 ok
                                     "2020-01-02 00:01:00,1.0,0.8,0.9,1.1,10\n"    // 3 high<low
                                     "2020-01-02 00:02:00,1.3,1.2,0.9,1.1,10\n"    // 4 open
                                     "2020-01-02 00:03:00,1.0,1.2,0.9,1.25,10\n"   // 5 close
                                     "2020-01-02 00:04:00,1.0,1.2,0,1.1,10\n"      // 6 zero
                                     "2020-01-02 00:05:00,1.0,1.2,0.9,1.1,-5\n"    // 7 volume
                                     "2020-01-02 00:00:00,1.0,1.2,0.9,1.1,10\n"    // 8 dup
                                     "2020-01-01 00:00:00,1.0,1.2,0.9,1.1,10\n"    // 9 back
                                     "2020-01-02 00:06:00,1.0,1.2,0.9,nan,10\n"    // 10
                                     "2020-01-02 00:07:00,1.0,1.2,0.9,1.1\n"       // 11
                                     "2020-01-02 00:08:00,1.0,1.2,0.9,1.1,10\n");  // 12 ok
  ReadOptions options = Digits(5);
  options.max_samples = 20;
  auto read = ReadAllBars(path, options);
  ASSERT_TRUE(read.status.ok());
  EXPECT_EQ(read.stats.accepted, 2u);
  EXPECT_EQ(read.stats.rows, 11u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kBadBar), 3u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNonPositivePrice), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNegativeVolume), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kDuplicate), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kTimeBackwards), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNonFinite), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kMalformed), 1u);
  ASSERT_EQ(read.stats.samples.size(), 9u);
  EXPECT_EQ(read.stats.samples[0].line, 3u);
  EXPECT_EQ(read.stats.samples[0].field, "high");
  EXPECT_EQ(read.stats.samples[1].field, "open");
  EXPECT_EQ(read.stats.samples[2].field, "close");
  EXPECT_EQ(read.stats.samples[3].field, "low");

  options.strict = true;
  auto strict = ReadAllBars(path, options);
  ASSERT_FALSE(strict.status.ok());
  EXPECT_TRUE(Contains(strict.status.message(), path + ":3: field 'high' value '0.8': bad_bar"))
      << strict.status.message();
  EXPECT_EQ(strict.bars.size(), 1u);
}

TEST(BarsTest, JoinRejectsUnmatchedRowsAndGoesOn) {
  TempDir dir;
  const std::string bid = dir.Write("bid.csv",
                                    "timestamp,open,high,low,close\n"
                                    "2020-01-02 00:00:00,1.0,1.2,0.9,1.1\n"
                                    "2020-01-02 00:01:00,1.0,1.2,0.9,1.1\n"  // no ask
                                    "2020-01-02 00:02:00,1.0,1.2,0.9,1.1\n"
                                    "2020-01-02 00:04:00,1.0,1.2,0.9,1.1\n");
  const std::string ask = dir.Write("ask.csv",
                                    "timestamp,open,high,low,close\n"
                                    "2020-01-02 00:00:00,1.1,1.3,1.0,1.2\n"
                                    "2020-01-02 00:02:00,1.1,1.3,1.0,1.2\n"
                                    "2020-01-02 00:03:00,1.1,1.3,1.0,1.2\n"  // no bid
                                    "2020-01-02 00:04:00,1.1,1.3,1.0,1.2\n"
                                    "2020-01-02 00:05:00,1.1,1.3,1.0,1.2\n");  // no bid
  ReadOptions options = Digits(5);
  options.ask_path = ask;
  auto read = ReadAllBars(bid, options);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ASSERT_EQ(read.bars.size(), 3u);
  EXPECT_EQ(read.bars[2].open_time, FromCivil(2020, 1, 2, 0, 4));
  EXPECT_EQ(read.bars[2].ask.close.raw(), Raw("1.2"));
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kUnmatched), 3u);
  EXPECT_EQ(read.stats.rows, 6u);
  ASSERT_EQ(read.stats.samples.size(), 3u);
  EXPECT_EQ(read.stats.samples[0].file, bid);
  EXPECT_EQ(read.stats.samples[0].line, 3u);
  EXPECT_EQ(read.stats.samples[1].file, ask);
  EXPECT_EQ(read.stats.samples[1].line, 4u);
  EXPECT_EQ(read.stats.samples[2].file, ask);
  EXPECT_EQ(read.stats.samples[2].line, 6u);

  options.strict = true;
  auto strict = ReadAllBars(bid, options);
  ASSERT_FALSE(strict.status.ok());
  EXPECT_TRUE(Contains(strict.status.message(), "unmatched"));
  EXPECT_EQ(strict.bars.size(), 1u);
}

}  // namespace
}  // namespace aits::data
