#include "aits/data/instrument_resolver.h"

#include <gtest/gtest.h>

#include "aits/data/test_util.h"
#include "aits/data/tick_store.h"

namespace aits::data {
namespace {

using testing::SharedData;
using testing::TempDir;

InstrumentCatalogue Catalogue() {
  auto catalogue = InstrumentCatalogue::BuiltIn();
  EXPECT_TRUE(catalogue.ok()) << catalogue.status().ToString();
  return *catalogue;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SymbolsFromFileNameTest, MostSpecificFirst) {
  EXPECT_EQ(SymbolsFromFileName("/x/stoxx50-day-2006.txt"),
            (std::vector<std::string>{"STOXX50", "STOXX"}));
  EXPECT_EQ(SymbolsFromFileName("gbpusd-m1-bid-2012.csv"), (std::vector<std::string>{"GBPUSD"}));
  EXPECT_EQ(SymbolsFromFileName("mydata.csv"), (std::vector<std::string>{"MYDATA"}));
  EXPECT_TRUE(SymbolsFromFileName("/x/2012.csv").empty());
}

TEST(ResolveInstrumentTest, KnownSymbolFromTheFileNameOrGiven) {
  const InstrumentCatalogue catalogue = Catalogue();
  InstrumentQuery query;
  query.data_path = SharedData("gbpusd-m1-bid-2012.csv");
  auto resolved = ResolveInstrument(catalogue, query);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_TRUE(resolved->from_catalogue);
  EXPECT_EQ(resolved->instrument.symbol, "GBPUSD");
  EXPECT_TRUE(Contains(resolved->origin, "built-in config/instruments.csv:"));

  query.data_path = SharedData("stoxx50-day-2006.txt");
  resolved = ResolveInstrument(catalogue, query);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->instrument.symbol, "STOXX50");
  EXPECT_EQ(resolved->instrument.quote.view(), "EUR");

  query.symbol = "usd/jpy";
  query.data_path = SharedData("usdjpy-ticks.csv");
  resolved = ResolveInstrument(catalogue, query);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->instrument.symbol, "USDJPY");
  EXPECT_EQ(resolved->instrument.digits, 3);
}

// Regression: "mydata.csv" of GBP/USD bars became an FX pair MYD/ATA and failed later with
// "no rate converts its P&L in ATA". The file name is not a symbol the catalogue knows, so the
// error asks for --symbol and names the catalogue.
TEST(ResolveInstrumentTest, MydataCsvNeedsTheSymbol) {
  TempDir dir;
  const std::string path =
      dir.Write("mydata.csv",
                "timestamp,open,high,low,close\n2012-02-01 00:00:00+00:00,1.5733,1.5735,1.5732,"
                "1.57345\n");
  InstrumentQuery query;
  query.data_path = path;
  auto resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_FALSE(resolved.ok());
  const std::string& message = resolved.status().message();
  EXPECT_TRUE(Contains(message, "mydata.csv")) << message;
  EXPECT_TRUE(Contains(message, "'MYDATA'")) << message;
  EXPECT_TRUE(Contains(message, "--symbol")) << message;
  EXPECT_TRUE(Contains(message, "built-in config/instruments.csv")) << message;
  EXPECT_FALSE(Contains(message, "ATA ")) << message;

  query.symbol = "GBPUSD";
  resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->instrument.quote.view(), "USD");
}

TEST(ResolveInstrumentTest, UnknownCurrencyPairIsAnError) {
  TempDir dir;
  const std::string path = dir.Write("x.csv", "timestamp,bid,ask\n2020-01-01 00:00:00,1.1,1.2\n");
  InstrumentQuery query;
  query.data_path = path;
  query.symbol = "MYDATA";
  auto resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_FALSE(resolved.ok());
  EXPECT_TRUE(Contains(resolved.status().message(), "unknown currency pair 'MYDATA' (--symbol)"))
      << resolved.status().message();
  EXPECT_TRUE(Contains(resolved.status().message(), "built-in config/instruments.csv"));
  EXPECT_TRUE(Contains(resolved.status().message(), "--instruments"));
}

// An uncatalogued symbol keeps every decimal of its prices: no rounding to a guessed 2 digits.
TEST(ResolveInstrumentTest, UnknownSymbolTakesItsDigitsFromTheData) {
  TempDir dir;
  const std::string path = dir.Write("quotes.csv",
                                     "timestamp,bid,ask\n"
                                     "2020-01-01 00:00:00,1.1,1.2\n"
                                     "2020-01-01 00:00:01,1.12345,1.12351\n"
                                     "2020-01-01 00:00:02,1.123,1.124\n");
  InstrumentQuery query;
  query.data_path = path;
  query.symbol = "ACME";
  auto resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_FALSE(resolved->from_catalogue);
  EXPECT_EQ(resolved->instrument.digits, 5);
  EXPECT_EQ(resolved->instrument.tick_size.ToString(), "0.00001");
  EXPECT_EQ(resolved->instrument.contract_size, 1);
  EXPECT_TRUE(resolved->instrument.Validate().ok());
  EXPECT_TRUE(Contains(resolved->origin, "5 digits measured in the data")) << resolved->origin;

  // Read with those digits, the prices are exactly as written.
  ReadOptions options;
  options.price_precision = resolved->instrument.digits;
  auto source = OpenTicks(path, options);
  ASSERT_TRUE(source.ok());
  auto read = testing::ReadAll(**source);
  ASSERT_EQ(read.ticks.size(), 3u);
  EXPECT_EQ(read.ticks[1].bid.ToString(), "1.12345");
  EXPECT_EQ(read.ticks[1].ask.ToString(), "1.12351");
  EXPECT_EQ(read.stats.rounded, 0u);

  // A pair of two ISO currencies the catalogue lacks is a currency pair, digits from the data.
  query.symbol = "EURSEK";
  resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->instrument.base.view(), "EUR");
  EXPECT_EQ(resolved->instrument.quote.view(), "SEK");
  EXPECT_EQ(resolved->instrument.digits, 5);
  EXPECT_EQ(resolved->instrument.pip_size.ToString(), "0.00010");

  // Given digits win over measuring.
  query.digits = 6;
  resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->instrument.digits, 6);
}

TEST(DetectPriceDigitsTest, BarsAndRealFiles) {
  ReadOptions options;
  auto gbp = DetectPriceDigits(SharedData("gbpusd-m1-bid-2012.csv"), options);
  ASSERT_TRUE(gbp.ok()) << gbp.status().ToString();
  EXPECT_EQ(*gbp, 5);
  auto jpy = DetectPriceDigits(SharedData("usdjpy-ticks.csv"), options);
  ASSERT_TRUE(jpy.ok()) << jpy.status().ToString();
  EXPECT_EQ(*jpy, 3);
  auto stoxx = DetectPriceDigits(SharedData("stoxx50-day-2006.txt"), options);
  ASSERT_TRUE(stoxx.ok());
  EXPECT_EQ(*stoxx, 2);
  // A spread given for bid-only data must not add the spread's digits.
  options.spread_points = 7;
  auto chf = DetectPriceDigits(SharedData("usdchf-30min-1996-2001.csv"), options);
  ASSERT_TRUE(chf.ok()) << chf.status().ToString();
  EXPECT_LE(*chf, 5);
  auto missing = DetectPriceDigits("/nonexistent/x.csv", options);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "/nonexistent/x.csv"));
}

// A binary store declares its symbol: a different --symbol is a conflict, not a silent choice.
TEST(ResolveInstrumentTest, SymbolThatContradictsABinaryStoreIsAnError) {
  TempDir dir;
  const std::string csv = dir.Write("t.csv",
                                    "timestamp,bid,ask\n2020-01-01 00:00:00,1.10001,1.10002\n"
                                    "2020-01-01 00:00:01,1.10003,1.10005\n");
  ReadOptions options;
  auto source = OpenTicks(csv, options);
  ASSERT_TRUE(source.ok());
  const std::string store = dir.Path("eur.aitsbin");
  ASSERT_TRUE(ImportTicks(**source, "EURUSD", 5, store, nullptr).ok());
  InstrumentQuery query;
  query.data_path = store;
  auto resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->instrument.symbol, "EURUSD");
  query.symbol = "GBPUSD";
  resolved = ResolveInstrument(Catalogue(), query);
  ASSERT_FALSE(resolved.ok());
  EXPECT_TRUE(Contains(resolved.status().message(), "--symbol GBPUSD disagrees with"))
      << resolved.status().message();
  EXPECT_TRUE(Contains(resolved.status().message(), "eur.aitsbin"));
}

}  // namespace
}  // namespace aits::data
