#include "aits/model/instrument_catalogue.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace aits {
namespace {

constexpr const char* kHeader =
    "symbol,digits,contract_size,base,quote,margin_rate,min_lot,max_lot,lot_step,sessions,"
    "description\n";

Status ParseError(const std::string& rows) {
  auto parsed = InstrumentCatalogue::Parse(std::string(kHeader) + rows, "my.csv");
  return parsed.ok() ? Status::Ok() : parsed.status();
}

// The message must point at file:line and name the field and the value.
void ExpectError(const std::string& rows, const std::string& where, const std::string& field,
                 const std::string& value) {
  const Status status = ParseError(rows);
  ASSERT_FALSE(status.ok()) << "accepted: " << rows;
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(where), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("field '" + field + "'"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("value '" + value + "'"), std::string::npos) << status.message();
}

TEST(InstrumentCatalogueTest, BuiltInParsesAndHasTheRequiredSymbols) {
  auto catalogue = InstrumentCatalogue::BuiltIn();
  ASSERT_TRUE(catalogue.ok()) << catalogue.status().ToString();
  for (const char* symbol : {"EURUSD", "GBPUSD",  "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD",
                             "EURGBP", "EURJPY",  "GBPJPY", "EURCHF", "AUDJPY", "USDTHB", "XAUUSD",
                             "XAGUSD", "STOXX50", "EU50",   "US500",  "GER40",  "ORCL",   "AAPL"}) {
    const CatalogueEntry* entry = catalogue->Find(symbol);
    ASSERT_NE(entry, nullptr) << symbol;
    EXPECT_TRUE(entry->instrument.Validate().ok()) << symbol;
  }
  EXPECT_EQ(catalogue->name(), "built-in config/instruments.csv");
  EXPECT_EQ(catalogue->Find("xauusd")->instrument.contract_size, 100);
  EXPECT_EQ(catalogue->Find("GER40")->instrument.quote.view(), "EUR");
  EXPECT_TRUE(catalogue->Find("GER40")->instrument.base.empty());
  EXPECT_EQ(catalogue->Find("usd/jpy")->instrument.symbol, "USDJPY");
}

// Results computed before the catalogue existed came from Instrument::Infer; the catalogue rows of
// the symbols in the shared data must equal it field by field so those results stay the same.
TEST(InstrumentCatalogueTest, BuiltInKeepsThePreviousValuesOfTheDataSymbols) {
  auto catalogue = InstrumentCatalogue::BuiltIn();
  ASSERT_TRUE(catalogue.ok());
  for (const char* symbol : {"EURUSD", "GBPUSD", "USDJPY", "USDCHF", "USDTHB", "ORCL"}) {
    const Instrument& cat = catalogue->Find(symbol)->instrument;
    const Instrument old = Instrument::Infer(symbol);
    EXPECT_EQ(cat.digits, old.digits) << symbol;
    EXPECT_EQ(cat.tick_size, old.tick_size) << symbol;
    EXPECT_EQ(cat.pip_size, old.pip_size) << symbol;
    EXPECT_EQ(cat.contract_size, old.contract_size) << symbol;
    EXPECT_EQ(cat.lot_step, old.lot_step) << symbol;
    EXPECT_EQ(cat.lot_step.precision(), old.lot_step.precision()) << symbol;
    EXPECT_EQ(cat.min_lots, old.min_lots) << symbol;
    EXPECT_EQ(cat.max_lots, old.max_lots) << symbol;
    EXPECT_EQ(cat.quote, old.quote) << symbol;
    EXPECT_EQ(cat.margin_rate, old.margin_rate) << symbol;
    if (cat.contract_size == 100'000) {
      EXPECT_EQ(cat.base, old.base) << symbol;
    }
  }
}

TEST(InstrumentCatalogueTest, ParsesAGoodFileInAnyColumnOrder) {
  auto catalogue = InstrumentCatalogue::Parse(
      "# my broker\n\n"
      "quote,symbol,digits,contract_size,lot_step,min_lot,max_lot\n"
      "USD,btc-x,2,1,0.001,0.001,5.5\n"
      "  # indented comment\n"
      "JPY,JP225,1,10,0.1,0.1,50\r\n",
      "my.csv");
  ASSERT_TRUE(catalogue.ok()) << catalogue.status().ToString();
  ASSERT_EQ(catalogue->entries().size(), 2u);
  const CatalogueEntry& btc = *catalogue->Find("BTC-X");
  EXPECT_EQ(btc.defined_at, "my.csv:4");
  EXPECT_EQ(btc.instrument.lot_step.ToString(), "0.001");
  EXPECT_EQ(btc.instrument.max_lots.ToString(), "5.500");
  EXPECT_EQ(btc.instrument.margin_rate, 1.0);  // optional column: MetaTrader's default
  EXPECT_TRUE(btc.windows.empty());
  const CatalogueEntry& jp = *catalogue->Find("jp225");
  EXPECT_EQ(jp.defined_at, "my.csv:6");
  EXPECT_EQ(jp.instrument.tick_size.ToString(), "0.1");
  EXPECT_EQ(jp.instrument.pip_size.ToString(), "0.1");  // not a currency pair: pip = tick
}

TEST(InstrumentCatalogueTest, EachMalformedRowNamesFileLineFieldAndValue) {
  const std::string good = "EURUSD,5,100000,EUR,USD,1,0.01,100,0.01,,\n";
  ExpectError(good + "GBPUSD,five,100000,GBP,USD,1,0.01,100,0.01,,\n", "my.csv:3", "digits",
              "five");
  ExpectError("GBPUSD,12,100000,GBP,USD,1,0.01,100,0.01,,\n", "my.csv:2", "digits", "12");
  ExpectError("GBPUSD,-1,100000,GBP,USD,1,0.01,100,0.01,,\n", "my.csv:2", "digits", "-1");
  ExpectError("GBPUSD,5,1e5x,GBP,USD,1,0.01,100,0.01,,\n", "my.csv:2", "contract_size", "1e5x");
  ExpectError("GBPUSD,5,0,GBP,USD,1,0.01,100,0.01,,\n", "my.csv:2", "contract_size", "0");
  ExpectError("GBPUSD,5,100000,GBP,USD,1,-0.01,100,0.01,,\n", "my.csv:2", "min_lot", "-0.01");
  ExpectError("GBPUSD,5,100000,GBP,USD,1,0.01,100,-1,,\n", "my.csv:2", "lot_step", "-1");
  ExpectError("GBPUSD,5,100000,GBP,USD,1,0.01,abc,0.01,,\n", "my.csv:2", "max_lot", "abc");
  ExpectError("GBPUSD,5,100000,GBP,USD,1,10,1,0.01,,\n", "my.csv:2", "max_lot", "1");
  ExpectError("GBPUSD,5,100000,GBP,USD,1,0.015,100,0.01,,\n", "my.csv:2", "min_lot", "0.015");
  ExpectError("GBPUSD,5,100000,USD,USD,1,0.01,100,0.01,,\n", "my.csv:2", "base", "USD");
  ExpectError("GBPUSD,5,100000,GBP,XYZ,1,0.01,100,0.01,,\n", "my.csv:2", "quote", "XYZ");
  ExpectError("GBPUSD,5,100000,GBP,,1,0.01,100,0.01,,\n", "my.csv:2", "quote", "");
  ExpectError("GBPUSD,5,100000,GBP,USD,0,0.01,100,0.01,,\n", "my.csv:2", "margin_rate", "0");
  ExpectError("GBPUSD,5,100000,GBP,USD,nan,0.01,100,0.01,,\n", "my.csv:2", "margin_rate", "nan");
  ExpectError("GBPUSD,5,100000,GBP,USD,1,0.01,100,0.01,Mon-Fry 07:00-21:00,\n", "my.csv:2",
              "sessions", "Mon-Fry 07:00-21:00");
  ExpectError("GBPUSD,5,100000,GBP,USD,1,0.01,100,0.01,Mon-Fri 21:00-07:00,\n", "my.csv:2",
              "sessions", "Mon-Fri 21:00-07:00");
  ExpectError("GBP USD,5,100000,GBP,USD,1,0.01,100,0.01,,\n", "my.csv:2", "symbol", "GBP USD");
  ExpectError(",5,100000,GBP,USD,1,0.01,100,0.01,,\n", "my.csv:2", "symbol", "");
  ExpectError(good + "# again\neurusd,5,100000,EUR,USD,1,0.01,100,0.01,,\n", "my.csv:4", "symbol",
              "eurusd");
  EXPECT_NE(ParseError(good + good).message().find("first at my.csv:2"), std::string::npos);
}

TEST(InstrumentCatalogueTest, HedgedMarginColumnsAreOptionalAndChecked) {
  const std::string header =
      "symbol,digits,contract_size,base,quote,min_lot,max_lot,lot_step,margin_hedged,"
      "margin_hedged_use_leg\n";
  auto parsed = InstrumentCatalogue::Parse(header +
                                               "EURUSD,5,100000,EUR,USD,0.01,100,0.01,50000,\n"
                                               "GBPUSD,5,100000,GBP,USD,0.01,100,0.01,,\n"
                                               "USDJPY,3,100000,USD,JPY,0.01,100,0.01,,TRUE\n"
                                               "XAUUSD,2,100,XAU,USD,0.01,100,0.01,0,false\n",
                                           "hedged.csv");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const Instrument& eurusd = parsed->Find("EURUSD")->instrument;
  EXPECT_FALSE(eurusd.margin_hedged_use_leg);  // a hedged margin given: it is used
  EXPECT_EQ(eurusd.margin_hedged, 50'000.0);
  EXPECT_TRUE(parsed->Find("GBPUSD")->instrument.margin_hedged_use_leg);  // MT5's larger leg
  EXPECT_TRUE(parsed->Find("USDJPY")->instrument.margin_hedged_use_leg);
  EXPECT_FALSE(parsed->Find("XAUUSD")->instrument.margin_hedged_use_leg);
  EXPECT_EQ(parsed->Find("XAUUSD")->instrument.margin_hedged, 0.0);
  // Without the columns every instrument uses the larger leg, as before.
  auto old = InstrumentCatalogue::Parse(
      std::string(kHeader) + "EURUSD,5,100000,EUR,USD,1,0.01,100,0.01,,\n", "old.csv");
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->Find("EURUSD")->instrument.margin_hedged_use_leg);

  const auto expect_error = [&](const std::string& row, const std::string& field,
                                const std::string& value) {
    auto bad = InstrumentCatalogue::Parse(header + row, "hedged.csv");
    ASSERT_FALSE(bad.ok()) << "accepted: " << row;
    const std::string& message = bad.status().message();
    EXPECT_NE(message.find("hedged.csv:2"), std::string::npos) << message;
    EXPECT_NE(message.find("field '" + field + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("value '" + value + "'"), std::string::npos) << message;
  };
  expect_error("EURUSD,5,100000,EUR,USD,0.01,100,0.01,half,\n", "margin_hedged", "half");
  expect_error("EURUSD,5,100000,EUR,USD,0.01,100,0.01,-1,\n", "margin_hedged", "-1");
  expect_error("EURUSD,5,100000,EUR,USD,0.01,100,0.01,200000,\n", "margin_hedged", "200000");
  expect_error("EURUSD,5,100000,EUR,USD,0.01,100,0.01,nan,\n", "margin_hedged", "nan");
  expect_error("EURUSD,5,100000,EUR,USD,0.01,100,0.01,,yes\n", "margin_hedged_use_leg", "yes");
  expect_error("EURUSD,5,100000,EUR,USD,0.01,100,0.01,,false\n", "margin_hedged_use_leg", "false");
  expect_error("EURUSD,5,100000,EUR,USD,0.01,100,0.01,50000,true\n", "margin_hedged_use_leg",
               "true");
}

TEST(InstrumentCatalogueTest, HeaderAndShapeErrorsNameTheLine) {
  auto unknown = InstrumentCatalogue::Parse("symbol,digits,contrct_size\n", "x.csv");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("x.csv:1: unknown column 'contrct_size'"),
            std::string::npos)
      << unknown.status().message();
  auto missing = InstrumentCatalogue::Parse("# c\nsymbol,digits,quote\n", "x.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("x.csv:2: the header has no column 'contract_size'"),
            std::string::npos)
      << missing.status().message();
  const Status short_row = ParseError("EURUSD,5,100000\n");
  EXPECT_NE(short_row.message().find("my.csv:2: 3 fields, the header has 11"), std::string::npos)
      << short_row.message();
  auto empty = InstrumentCatalogue::Parse("# nothing\n", "x.csv");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("x.csv: no header"), std::string::npos);
  auto absent = InstrumentCatalogue::LoadFile("/nonexistent/instruments.csv");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_NE(absent.status().message().find("/nonexistent/instruments.csv"), std::string::npos);
}

TEST(InstrumentCatalogueTest, MergeOverridesAndAdds) {
  auto catalogue = InstrumentCatalogue::BuiltIn();
  ASSERT_TRUE(catalogue.ok());
  auto mine = InstrumentCatalogue::Parse(std::string(kHeader) +
                                             "EURUSD,4,100000,EUR,USD,2,0.1,50,0.1,,my broker\n"
                                             "TSLA,2,1,,USD,5,1,1000,1,Mon-Fri 14:30-21:00,\n",
                                         "mine.csv");
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  const size_t before = catalogue->entries().size();
  catalogue->Merge(*mine);
  EXPECT_EQ(catalogue->entries().size(), before + 1);
  EXPECT_EQ(catalogue->Find("EURUSD")->instrument.digits, 4);
  EXPECT_EQ(catalogue->Find("EURUSD")->instrument.margin_rate, 2.0);
  EXPECT_EQ(catalogue->Find("EURUSD")->defined_at, "mine.csv:2");
  EXPECT_EQ(catalogue->Find("TSLA")->instrument.quote.view(), "USD");
  EXPECT_EQ(catalogue->name(), "built-in config/instruments.csv + mine.csv");
}

TEST(TradingSessionsTest, DailyWindowsAndWeekSpans) {
  auto daily = ParseTradingSessions("Mon-Wed 07:00-21:00");
  ASSERT_TRUE(daily.ok()) << daily.status().ToString();
  ASSERT_EQ(daily->size(), 3u);
  EXPECT_EQ((*daily)[0], (TradingWindow{420, 1260}));
  EXPECT_EQ((*daily)[2], (TradingWindow{2 * 1440 + 420, 2 * 1440 + 1260}));
  auto week = ParseTradingSessions("Sun 22:00-Fri 22:00; Sat 10:00-12:00");
  ASSERT_TRUE(week.ok()) << week.status().ToString();
  ASSERT_EQ(week->size(), 2u);
  EXPECT_EQ((*week)[0], (TradingWindow{6 * 1440 + 1320, 4 * 1440 + 1320}));  // wraps the week
  EXPECT_EQ((*week)[1], (TradingWindow{5 * 1440 + 600, 5 * 1440 + 720}));
  EXPECT_TRUE(ParseTradingSessions("")->empty());
  for (const char* bad : {"Mon", "Mon-Fri", "Mon-Fri 25:00-26:00", "Xyz 07:00-08:00",
                          "Mon 07:00-Fri", "Mon-Fri 07:00", "Sun 22:00-Sun 22:00"}) {
    EXPECT_FALSE(ParseTradingSessions(bad).ok()) << bad;
  }
}

TEST(InstrumentCatalogueTest, IsoCurrencies) {
  EXPECT_TRUE(IsIsoCurrency("USD"));
  EXPECT_TRUE(IsIsoCurrency("THB"));
  EXPECT_TRUE(IsIsoCurrency("XAU"));
  EXPECT_FALSE(IsIsoCurrency("ATA"));
  EXPECT_FALSE(IsIsoCurrency("MYD"));
  EXPECT_FALSE(IsIsoCurrency(""));
  EXPECT_FALSE(IsIsoCurrency("usd"));  // callers upper-case first
}

}  // namespace
}  // namespace aits
