#include "aits/portfolio/portfolio.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aits::portfolio {
namespace {

// Scenario tests: a table of quotes and fills in, the account, the position and the trade
// records out. USD account of 10,000, leverage 100.

constexpr InstrumentId kEurUsd{0};
constexpr InstrumentId kUsdJpy{1};
constexpr InstrumentId kGbpUsd{2};  // conversion only
constexpr InstrumentId kEurGbp{3};
constexpr Timestamp kBase = FromCivil(2024, 1, 2, 10, 0, 0);

Instrument Make(const char* symbol, InstrumentId id) {
  Instrument inst = Instrument::Infer(symbol);
  inst.id = id;
  return inst;
}
int DigitsOf(InstrumentId id) { return id == kUsdJpy ? 3 : 5; }
Price P(const char* text, InstrumentId id) { return *Price::Parse(text, DigitsOf(id)); }
Money M(const char* text) { return *Money::Parse(text); }
Timestamp At(int64_t seconds) { return kBase + Duration::Seconds(seconds); }

Portfolio MakePortfolio() {
  Portfolio portfolio(Currency::Of("USD"), M("10000"), 100.0);
  EXPECT_TRUE(portfolio.AddInstrument(Make("EURUSD", kEurUsd)).ok());
  EXPECT_TRUE(portfolio.AddInstrument(Make("USDJPY", kUsdJpy)).ok());
  EXPECT_TRUE(portfolio.AddConversion(Make("GBPUSD", kGbpUsd)).ok());
  EXPECT_TRUE(portfolio.AddInstrument(Make("EURGBP", kEurGbp)).ok());
  return portfolio;
}

struct Step {
  bool is_fill = false;
  int64_t sec = 0;
  InstrumentId instrument;
  const char* bid = nullptr;  // quote
  const char* ask = nullptr;
  Side side = Side::kBuy;  // fill
  const char* lots = nullptr;
  const char* price = nullptr;
  const char* commission = "0";
  const char* reason = "market";
};
Step Quote(int64_t sec, InstrumentId id, const char* bid, const char* ask) {
  Step step;
  step.sec = sec;
  step.instrument = id;
  step.bid = bid;
  step.ask = ask;
  return step;
}
Step FillOf(int64_t sec, InstrumentId id, Side side, const char* lots, const char* price,
            const char* commission = "0", const char* reason = "market") {
  Step step;
  step.is_fill = true;
  step.sec = sec;
  step.instrument = id;
  step.side = side;
  step.lots = lots;
  step.price = price;
  step.commission = commission;
  step.reason = reason;
  return step;
}

struct ExpectTrade {
  Side side;
  const char* lots;
  const char* entry;
  const char* exit;
  const char* gross;
  const char* commission;
  const char* net;
  const char* reason = "market";
};

struct Case {
  const char* name;
  std::vector<Step> steps;
  std::vector<ExpectTrade> trades;
  const char* balance;
  const char* equity;
  InstrumentId instrument;  // whose position is checked
  const char* position_lots = "0.00";
  const char* avg_price = nullptr;  // checked when set
};

constexpr Side kB = Side::kBuy;
constexpr Side kS = Side::kSell;

void RunCase(const Case& test) {
  SCOPED_TRACE(test.name);
  Portfolio portfolio = MakePortfolio();
  for (const Step& step : test.steps) {
    if (step.is_fill) {
      Fill fill;
      fill.instrument = step.instrument;
      fill.side = step.side;
      fill.quantity = *Quantity::Parse(step.lots, 2);
      fill.price = P(step.price, step.instrument);
      fill.commission = M(step.commission);
      fill.ts = At(step.sec);
      fill.reason = *ParseFillReason(step.reason);
      portfolio.OnFill(fill);
    } else {
      portfolio.OnTick(Tick{At(step.sec), P(step.bid, step.instrument),
                            P(step.ask, step.instrument), 0, 0, step.instrument});
    }
  }
  const auto& trades = portfolio.trades();
  ASSERT_EQ(trades.size(), test.trades.size());
  for (size_t idx = 0; idx < trades.size(); ++idx) {
    SCOPED_TRACE("trade " + std::to_string(idx));
    const ExpectTrade& want = test.trades[idx];
    EXPECT_EQ(trades[idx].side, want.side);
    EXPECT_EQ(trades[idx].quantity.ToString(), want.lots);
    EXPECT_EQ(trades[idx].entry_price.ToString(), want.entry);
    EXPECT_EQ(trades[idx].exit_price.ToString(), want.exit);
    EXPECT_EQ(trades[idx].gross_pnl.ToString(), want.gross);
    EXPECT_EQ(trades[idx].commission.ToString(), want.commission);
    EXPECT_EQ(trades[idx].net_pnl.ToString(), want.net);
    EXPECT_EQ(trades[idx].exit_reason, want.reason);
  }
  const Account account = portfolio.account();
  EXPECT_EQ(account.balance.ToString(), test.balance);
  EXPECT_EQ(account.equity.ToString(), test.equity);
  EXPECT_EQ(portfolio.Equity(), account.equity);
  const Position& position = portfolio.position(test.instrument);
  EXPECT_EQ(position.quantity.ToString(), test.position_lots);
  if (test.avg_price != nullptr) {
    EXPECT_EQ(position.avg_price.ToString(), test.avg_price);
  }
}

TEST(PortfolioTest, Scenarios) {
  const std::vector<Case> cases = {
      {"EURUSD long round trip: 10 pips on 1 lot = 100 USD, commission on both sides",
       {Quote(0, kEurUsd, "1.10000", "1.10010"), FillOf(0, kEurUsd, kB, "1.00", "1.10010", "7"),
        Quote(60, kEurUsd, "1.10110", "1.10120"),
        FillOf(60, kEurUsd, kS, "1.00", "1.10110", "7", "take_profit")},
       {{kB, "1.00", "1.10010", "1.10110", "100.00", "14.00", "86.00", "take_profit"}},
       "10086.00",
       "10086.00",
       kEurUsd},
      {"USDJPY on a USD account: 1,000,000 JPY / 101 = 9,900.99 USD",
       {Quote(0, kUsdJpy, "100.000", "100.000"), FillOf(0, kUsdJpy, kB, "10.00", "100.000"),
        Quote(60, kUsdJpy, "101.000", "101.000"), FillOf(60, kUsdJpy, kS, "10.00", "101.000")},
       {{kB, "10.00", "100.000", "101.000", "9900.99", "0.00", "9900.99"}},
       "19900.99",
       "19900.99",
       kUsdJpy},
      {"EURGBP via GBPUSD: 100 GBP at 1.25 = 125 USD",
       {Quote(0, kGbpUsd, "1.25000", "1.25000"), Quote(0, kEurGbp, "0.85000", "0.85000"),
        FillOf(0, kEurGbp, kB, "1.00", "0.85000"), Quote(60, kEurGbp, "0.85100", "0.85110"),
        FillOf(60, kEurGbp, kS, "1.00", "0.85100")},
       {{kB, "1.00", "0.85000", "0.85100", "125.00", "0.00", "125.00"}},
       "10125.00",
       "10125.00",
       kEurGbp},
      {"a long is marked at the bid",
       {Quote(0, kEurUsd, "1.10000", "1.10010"), FillOf(0, kEurUsd, kB, "1.00", "1.10010"),
        Quote(60, kEurUsd, "1.10100", "1.10110")},
       {},
       "10000.00",
       "10090.00",
       kEurUsd,
       "1.00",
       "1.10010"},
      {"a short is marked at the ask",
       {Quote(0, kEurUsd, "1.10000", "1.10010"), FillOf(0, kEurUsd, kS, "1.00", "1.10000", "3"),
        Quote(60, kEurUsd, "1.09900", "1.09910")},
       {},
       "9997.00",
       "10087.00",
       kEurUsd,
       "-1.00",
       "1.10000"},
      {"adding averages the entry by quantity",
       {Quote(0, kEurUsd, "1.10000", "1.10010"), FillOf(0, kEurUsd, kB, "1.00", "1.10000"),
        FillOf(1, kEurUsd, kB, "2.00", "1.10030"), Quote(2, kEurUsd, "1.10120", "1.10130"),
        FillOf(2, kEurUsd, kS, "3.00", "1.10120")},
       {{kB, "3.00", "1.10020", "1.10120", "300.00", "0.00", "300.00"}},
       "10300.00",
       "10300.00",
       kEurUsd},
      {"a partial close takes its share of the entry commission",
       {Quote(0, kEurUsd, "1.10000", "1.10010"), FillOf(0, kEurUsd, kB, "2.00", "1.10000", "14"),
        FillOf(1, kEurUsd, kS, "0.50", "1.10100", "3.5"), Quote(1, kEurUsd, "1.10100", "1.10110")},
       {{kB, "0.50", "1.10000", "1.10100", "50.00", "7.00", "43.00"}},
       "10032.50",  // 10000 - 14 - 3.5 + 50
       "10182.50",  // + 1.5 lots * 10 pips
       kEurUsd,
       "1.50",
       "1.10000"},
      {"selling 2 against a long 1 closes it and opens a short 1 at the fill price",
       {Quote(0, kEurUsd, "1.10000", "1.10010"), FillOf(0, kEurUsd, kB, "1.00", "1.10000", "7"),
        FillOf(1, kEurUsd, kS, "2.00", "1.10100", "14"), Quote(1, kEurUsd, "1.10100", "1.10100")},
       {{kB, "1.00", "1.10000", "1.10100", "100.00", "14.00", "86.00"}},
       "10079.00",
       "10079.00",
       kEurUsd,
       "-1.00",
       "1.10100"},
      {"a losing short",
       {Quote(0, kEurUsd, "1.10000", "1.10010"), FillOf(0, kEurUsd, kS, "0.10", "1.10000"),
        FillOf(5, kEurUsd, kB, "0.10", "1.10250", "0", "stop_loss")},
       {{kS, "0.10", "1.10000", "1.10250", "-25.00", "0.00", "-25.00", "stop_loss"}},
       "9975.00",
       "9975.00",
       kEurUsd},
  };
  for (const Case& test : cases) RunCase(test);
}

TEST(PortfolioTest, RefusesAnInstrumentWhosePnlCannotBeConverted) {
  Portfolio portfolio(Currency::Of("USD"), M("10000"), 100.0);
  Status status = portfolio.AddInstrument(Make("EURGBP", kEurGbp));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("EURGBP"), std::string::npos);
  EXPECT_NE(status.message().find("GBPUSD"), std::string::npos);
  ASSERT_TRUE(portfolio.AddConversion(Make("GBPUSD", kGbpUsd)).ok());
  EXPECT_TRUE(portfolio.AddInstrument(Make("EURGBP", kEurGbp)).ok());
  // EURJPY converts through a registered USDJPY (divide).
  EXPECT_FALSE(portfolio.AddInstrument(Make("EURJPY", InstrumentId{4})).ok());
  ASSERT_TRUE(portfolio.AddInstrument(Make("USDJPY", kUsdJpy)).ok());
  ASSERT_TRUE(portfolio.AddInstrument(Make("EURJPY", InstrumentId{4})).ok());
  portfolio.OnTick(Tick{At(0), P("150.000", kUsdJpy), P("150.000", kUsdJpy), 0, 0, kUsdJpy});
  EXPECT_EQ(portfolio.ToAccount(InstrumentId{4}, M("15000")).ToString(), "100.00");
}

TEST(PortfolioTest, AverageEntryRoundsHalfAwayFromZero) {
  Portfolio portfolio = MakePortfolio();
  Fill fill;
  fill.instrument = kEurUsd;
  fill.quantity = *Quantity::Parse("1", 2);
  fill.price = P("1.10000", kEurUsd);
  portfolio.OnFill(fill);
  fill.quantity = *Quantity::Parse("2", 2);
  fill.price = P("1.10001", kEurUsd);
  portfolio.OnFill(fill);
  // (1.10000 + 2 * 1.10001) / 3 = 1.100006666... -> 1.100006667 at the 1e-9 scale
  EXPECT_EQ(portfolio.position(kEurUsd).avg_price.raw(), 1'100'006'667);
  EXPECT_EQ(portfolio.position(kEurUsd).quantity.ToString(), "3.00");
}

TEST(PortfolioTest, MarginAndFreeMargin) {
  Portfolio portfolio = MakePortfolio();
  const Instrument eurusd = portfolio.instrument(kEurUsd);
  const Instrument usdjpy = portfolio.instrument(kUsdJpy);
  portfolio.OnTick(Tick{At(0), P("1.10000", kEurUsd), P("1.10010", kEurUsd), 0, 0, kEurUsd});
  portfolio.OnTick(Tick{At(0), P("150.000", kUsdJpy), P("150.000", kUsdJpy), 0, 0, kUsdJpy});
  // 1 lot EURUSD at 1.1 = 110,000 USD notional, / 100 leverage.
  EXPECT_EQ(
      portfolio.MarginRequired(eurusd, *Quantity::Parse("1", 2), P("1.10000", kEurUsd)).ToString(),
      "1100.00");
  // 1 lot USDJPY = 100,000 USD whatever the price.
  EXPECT_EQ(portfolio.NotionalInAccount(usdjpy, *Quantity::Parse("1", 2), P("150.000", kUsdJpy))
                .ToString(),
            "100000.00");
  Fill fill;
  fill.instrument = kEurUsd;
  fill.quantity = *Quantity::Parse("2", 2);
  fill.price = P("1.10010", kEurUsd);
  portfolio.OnFill(fill);
  const Account account = portfolio.account();
  EXPECT_EQ(account.margin.ToString(), "2200.10");  // 2 lots at the mid 1.10005
  EXPECT_EQ(account.equity.ToString(), "9980.00");  // marked at the bid: -1 pip on 2 lots
  EXPECT_EQ(account.free_margin.ToString(), "7779.90");
  EXPECT_EQ(account.currency.view(), "USD");
}

TEST(PortfolioTest, TimeInMarketAndEquitySamples) {
  Portfolio portfolio = MakePortfolio();
  portfolio.OnTick(Tick{At(0), P("1.10000", kEurUsd), P("1.10000", kEurUsd), 0, 0, kEurUsd});
  portfolio.SampleEquity(At(0));
  Fill fill;
  fill.instrument = kEurUsd;
  fill.quantity = *Quantity::Parse("1", 2);
  fill.price = P("1.10000", kEurUsd);
  fill.ts = At(10);
  portfolio.OnFill(fill);
  portfolio.SampleEquity(At(60));
  fill.side = Side::kSell;
  fill.ts = At(100);
  portfolio.OnFill(fill);
  portfolio.SampleEquity(At(120));
  EXPECT_EQ(portfolio.TimeInMarket(), Duration::Seconds(90));
  EXPECT_EQ(portfolio.equity_curve().SampleCount(), 3u);
  EXPECT_EQ(portfolio.equity_curve().LastEquity().ToString(), "10000.00");
  EXPECT_EQ(portfolio.RealizedPnl().ToString(), "0.00");
}

TEST(PortfolioTest, UnknownIdsAreHarmless) {
  Portfolio portfolio = MakePortfolio();
  EXPECT_TRUE(portfolio.position(InstrumentId{42}).IsFlat());
  Fill fill;
  fill.instrument = InstrumentId{42};
  fill.quantity = *Quantity::Parse("1", 2);
  portfolio.OnFill(fill);
  portfolio.OnTick(Tick{At(0), P("1.1", kEurUsd), P("1.1", kEurUsd), 0, 0, InstrumentId{42}});
  EXPECT_EQ(portfolio.Equity().ToString(), "10000.00");
}

// Equity is kept as a running sum of each position's converted unrealized P&L; a quote of a rate
// instrument must move every position converted through it. Checked against a hand-computed
// figure after each kind of move.
TEST(PortfolioTest, UnrealizedFollowsOwnAndRateQuotes) {
  Portfolio portfolio = MakePortfolio();
  auto quote = [&](InstrumentId id, const char* bid, const char* ask) {
    Tick tick;
    tick.instrument = id;
    tick.bid = P(bid, id);
    tick.ask = P(ask, id);
    portfolio.OnTick(tick);
  };
  auto fill = [&](InstrumentId id, Side side, const char* price) {
    Fill f;
    f.instrument = id;
    f.side = side;
    f.quantity = *Quantity::Parse("1", 2);
    f.price = P(price, id);
    f.ts = At(0);
    portfolio.OnFill(f);
  };
  quote(kGbpUsd, "1.25000", "1.25000");
  quote(kEurGbp, "0.85000", "0.85000");
  quote(kUsdJpy, "100.000", "100.000");
  fill(kEurGbp, kB, "0.85000");
  fill(kUsdJpy, kS, "100.000");
  EXPECT_EQ(portfolio.UnrealizedPnl().ToString(), "0.00");
  quote(kEurGbp, "0.85100", "0.85100");  // +100 GBP at 1.25000
  EXPECT_EQ(portfolio.UnrealizedPnl().ToString(), "125.00");
  quote(kGbpUsd, "1.30000", "1.30000");  // the rate alone moves: 100 GBP = 130 USD
  EXPECT_EQ(portfolio.UnrealizedPnl().ToString(), "130.00");
  quote(kUsdJpy, "99.000", "99.000");  // short USDJPY: +1,000 JPY... x 100 = 100,000 JPY / 99
  EXPECT_EQ(portfolio.UnrealizedPnl().ToString(), "1140.10");
  fill(kEurGbp, kS, "0.85100");  // closed: only USDJPY's term is left
  EXPECT_EQ(portfolio.UnrealizedPnl().ToString(), "1010.10");
  EXPECT_EQ(portfolio.Equity(), portfolio.account().balance + portfolio.UnrealizedPnl());
}

// The per-tick mark works on raw values (a reduced fraction of the lots, 64-bit fast paths): it
// must equal the core's Notional and ConvertMoney for any size, whole lot steps or odd lots,
// products that need 128 bits or saturate, and again after a partial close changes the lots.
TEST(PortfolioTest, MarkEqualsTheCoreArithmetic) {
  const int64_t sizes[] = {1,
                           10'000'000,
                           370'000'000,
                           1'000'000'000,
                           1'234'567'891,
                           5'000'000'000'000,
                           9'000'000'000'000'000};
  const int64_t moves[] = {0, 1, -1, 499, 500'000, -123'456'789, 5'000'000'000, -70'000'000'000};
  for (const InstrumentId id : {kEurUsd, kUsdJpy}) {
    const int64_t entry = id == kEurUsd ? 1'100'000'000 : 100'000'000'000;
    for (const int64_t size : sizes) {
      for (const int64_t move : moves) {
        for (const Side side : {kB, kS}) {
          Portfolio portfolio = MakePortfolio();
          const Price entry_price = Price::FromRaw(entry, DigitsOf(id));
          const Price exit_price = Price::FromRaw(entry + move, DigitsOf(id));
          Fill fill;
          fill.instrument = id;
          fill.side = side;
          fill.quantity = Quantity::FromRaw(size, 2);
          fill.price = entry_price;
          fill.ts = At(0);
          portfolio.OnFill(fill);
          auto expected = [&](int64_t lots) {
            const Price gain = side == kB ? exit_price - entry_price : entry_price - exit_price;
            const Money pnl = Notional(gain, Quantity::FromRaw(lots, 2), 100'000);
            return id == kEurUsd ? pnl : ConvertMoney(pnl, exit_price, /*divide=*/true);
          };
          portfolio.OnTick(Tick{At(1), exit_price, exit_price, 0, 0, id});
          EXPECT_EQ(portfolio.UnrealizedPnl(), expected(size))
              << "id " << id.value << " size " << size << " move " << move;
          // The partial close books its P&L into the balance, which does not saturate: a mark
          // beyond 2^62 raw (4.6e12 of the currency) is for the mark's arithmetic alone.
          const int64_t mark = expected(size).raw();
          if (size < 3 || mark > (int64_t{1} << 62) || mark < -(int64_t{1} << 62)) continue;
          fill.side = Opposite(side);
          fill.quantity = Quantity::FromRaw(size / 3, 2);
          fill.price = exit_price;
          fill.ts = At(2);
          portfolio.OnFill(fill);
          portfolio.OnTick(Tick{At(3), exit_price, exit_price, 0, 0, id});
          EXPECT_EQ(portfolio.UnrealizedPnl(), expected(size - size / 3))
              << "id " << id.value << " size " << size << " move " << move << " after a close";
        }
      }
    }
  }
}

// Reconciliation at start: a position set as the venue holds it moves no cash, records no trade,
// is marked and margined like any other, and closes with its P&L from the set price.
TEST(PortfolioTest, SetPositionTakesTheVenuesPositionWithoutCash) {
  Portfolio portfolio = MakePortfolio();
  // Before any quote it is marked at its own price.
  ASSERT_TRUE(
      portfolio.SetPosition(kEurUsd, *Quantity::Parse("0.5", 2), P("1.10000", kEurUsd), At(0))
          .ok());
  EXPECT_EQ(portfolio.account().balance.ToString(), "10000.00");
  EXPECT_EQ(portfolio.Equity().ToString(), "10000.00");
  EXPECT_EQ(portfolio.account().margin.ToString(), "550.00");  // 50,000 x 1.1 / 100
  portfolio.OnTick(Tick{At(1), P("1.10100", kEurUsd), P("1.10110", kEurUsd), 0, 0, kEurUsd});
  EXPECT_EQ(portfolio.Equity().ToString(), "10050.00");
  EXPECT_TRUE(portfolio.trades().empty());
  Fill close;
  close.instrument = kEurUsd;
  close.side = Side::kSell;
  close.quantity = *Quantity::Parse("0.5", 2);
  close.price = P("1.10100", kEurUsd);
  close.ts = At(2);
  portfolio.OnFill(close);
  EXPECT_EQ(portfolio.account().balance.ToString(), "10050.00");
  ASSERT_EQ(portfolio.trades().size(), 1u);
  EXPECT_EQ(portfolio.trades()[0].entry_price.ToString(), "1.10000");
  // Set flat ("book it closed"): no cash either way.
  ASSERT_TRUE(
      portfolio.SetPosition(kUsdJpy, *Quantity::Parse("-1", 2), P("150.000", kUsdJpy), At(3)).ok());
  ASSERT_TRUE(portfolio.SetPosition(kUsdJpy, Quantity(), Price(), At(4)).ok());
  EXPECT_TRUE(portfolio.position(kUsdJpy).IsFlat());
  EXPECT_EQ(portfolio.account().balance.ToString(), "10050.00");
  EXPECT_EQ(portfolio.account().margin.ToString(), "0.00");
  // Not a traded instrument of this portfolio.
  EXPECT_EQ(
      portfolio.SetPosition(kGbpUsd, *Quantity::Parse("1", 2), P("1.2", kGbpUsd), At(5)).code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aits::portfolio
namespace aits::portfolio {
namespace {

Fill HedgedFill(int64_t sec, Side side, const char* lots, const char* price, uint64_t ticket,
                const char* commission = "0") {
  Fill fill;
  fill.instrument = kEurUsd;
  fill.side = side;
  fill.quantity = *Quantity::Parse(lots, 2);
  fill.price = P(price, kEurUsd);
  fill.commission = M(commission);
  fill.ts = At(sec);
  fill.position_ticket = ticket;
  return fill;
}

TEST(PortfolioHedgingTest, BooksEachPositionByItsTicket) {
  Portfolio book(Currency::Of("USD"), M("10000"), 100.0, AccountMode::kHedging);
  ASSERT_TRUE(book.AddInstrument(Make("EURUSD", kEurUsd)).ok());
  EXPECT_EQ(book.account_mode(), AccountMode::kHedging);
  book.OnTick(Tick{At(0), P("1.10000", kEurUsd), P("1.10010", kEurUsd), 0, 0, kEurUsd});
  book.OnFill(HedgedFill(0, Side::kBuy, "1.00", "1.10010", 1, "7"));
  book.OnFill(HedgedFill(1, Side::kBuy, "0.50", "1.10110", 2, "3.5"));
  book.OnFill(HedgedFill(2, Side::kSell, "0.80", "1.10000", 3));
  ASSERT_EQ(book.positions(kEurUsd).size(), 3u);
  // The net: 1.5 long - 0.8 short, at the average open price of the longs.
  const Position& net = book.position(kEurUsd);
  EXPECT_EQ(net.quantity.ToString(), "0.70");
  EXPECT_EQ(net.avg_price.ToString(), "1.10043");  // (1.10010 x 1 + 1.10110 x 0.5) / 1.5
  // Margin of the larger leg, 1.5 lots at mid 1.10005 (the net would be 0.7 lots).
  EXPECT_EQ(book.account().margin.ToString(3), "1650.075");
  // What an order adds to the larger leg (raw lots, 1e-9): a short up to the longs' size adds
  // nothing.
  EXPECT_EQ(book.AddedMarginLots(kEurUsd, Side::kSell, 700'000'000), 0);
  EXPECT_EQ(book.AddedMarginLots(kEurUsd, Side::kSell, 1'000'000'000), 300'000'000);
  EXPECT_EQ(book.AddedMarginLots(kEurUsd, Side::kBuy, 100'000'000), 100'000'000);
  // Each position marked on its own: longs at the bid, the short at the ask.
  EXPECT_EQ(book.UnrealizedPnl().ToString(2), "-73.00");  // -10 - 55 - 8
  // Closing the second long by its ticket books it at its own open price, not the average.
  book.OnTick(Tick{At(3), P("1.10200", kEurUsd), P("1.10210", kEurUsd), 0, 0, kEurUsd});
  book.OnFill(HedgedFill(3, Side::kSell, "0.50", "1.10200", 2, "3.5"));
  ASSERT_EQ(book.trades().size(), 1u);
  const TradeRecord& trade = book.trades().back();
  EXPECT_EQ(trade.entry_price.ToString(), "1.10110");
  EXPECT_EQ(trade.side, Side::kBuy);
  EXPECT_EQ(trade.gross_pnl.ToString(2), "45.00");
  EXPECT_EQ(trade.commission.ToString(2), "7.00");  // its entry commission and the exit's
  EXPECT_EQ(book.positions(kEurUsd).size(), 2u);
  // A partial close of the short; the rest stays open with its share of nothing.
  book.OnFill(HedgedFill(4, Side::kBuy, "0.30", "1.10210", 3));
  EXPECT_EQ(book.trades().back().gross_pnl.ToString(2), "-63.00");  // (1.10000 - 1.10210) x 30k
  EXPECT_EQ(book.positions(kEurUsd).size(), 2u);
  EXPECT_EQ(book.positions(kEurUsd)[1].quantity.ToString(), "0.50");
  EXPECT_EQ(book.position(kEurUsd).quantity.ToString(), "0.50");
  EXPECT_EQ(book.RealizedPnl().ToString(2), "-18.00");
  // Every position closed: flat, no margin, all P&L realised.
  book.OnFill(HedgedFill(5, Side::kSell, "1.00", "1.10200", 1));
  book.OnFill(HedgedFill(5, Side::kBuy, "0.50", "1.10210", 3));
  EXPECT_TRUE(book.positions(kEurUsd).empty());
  EXPECT_TRUE(book.position(kEurUsd).IsFlat());
  EXPECT_EQ(book.account().margin.raw(), 0);
  EXPECT_EQ(book.UnrealizedPnl().raw(), 0);
  EXPECT_EQ(book.trades().size(), 4u);
}

// Reconciliation on a hedging account: positions are set one by one by ticket, without cash; the
// others stay, the net and the larger leg's margin follow, and a set position closes by its ticket
// at its set price. Without a ticket (or through the netting call) it is refused.
TEST(PortfolioHedgingTest, SetPositionByTicket) {
  Portfolio book(Currency::Of("USD"), M("10000"), 100.0, AccountMode::kHedging);
  ASSERT_TRUE(book.AddInstrument(Make("EURUSD", kEurUsd)).ok());
  book.OnTick(Tick{At(0), P("1.10000", kEurUsd), P("1.10010", kEurUsd), 0, 0, kEurUsd});
  book.OnFill(HedgedFill(0, Side::kBuy, "1.00", "1.10010", 1));
  ASSERT_TRUE(
      book.SetPosition(kEurUsd, 7, *Quantity::Parse("-0.5", 2), P("1.10200", kEurUsd), At(1)).ok());
  ASSERT_EQ(book.positions(kEurUsd).size(), 2u);
  EXPECT_EQ(book.positions(kEurUsd)[1].ticket, 7u);
  EXPECT_EQ(book.positions(kEurUsd)[1].side, Side::kSell);
  EXPECT_EQ(book.positions(kEurUsd)[1].quantity.ToString(), "0.50");
  EXPECT_EQ(book.position(kEurUsd).quantity.ToString(), "0.50");
  EXPECT_EQ(book.account().balance.ToString(), "10000.00");
  EXPECT_EQ(book.account().margin.ToString(3), "1100.050");  // the long, 1 lot at mid 1.10005
  // Replaced in place: the long becomes 0.3 lots at the venue's price.
  ASSERT_TRUE(
      book.SetPosition(kEurUsd, 1, *Quantity::Parse("0.3", 2), P("1.10050", kEurUsd), At(2)).ok());
  ASSERT_EQ(book.positions(kEurUsd).size(), 2u);
  EXPECT_EQ(book.positions(kEurUsd)[0].ticket, 1u);
  EXPECT_EQ(book.positions(kEurUsd)[0].quantity.ToString(), "0.30");
  EXPECT_EQ(book.position(kEurUsd).quantity.ToString(), "-0.20");
  EXPECT_EQ(book.position(kEurUsd).avg_price.ToString(), "1.10200");
  // The set short closes by its ticket, booked at its set open price.
  book.OnFill(HedgedFill(3, Side::kBuy, "0.50", "1.10010", 7));
  ASSERT_EQ(book.trades().size(), 1u);
  EXPECT_EQ(book.trades()[0].entry_price.ToString(), "1.10200");
  EXPECT_EQ(book.trades()[0].gross_pnl.ToString(2), "95.00");
  // Set to zero ("book it closed"): gone, no cash; the account is flat.
  ASSERT_TRUE(book.SetPosition(kEurUsd, 1, Quantity(), Price(), At(4)).ok());
  EXPECT_TRUE(book.positions(kEurUsd).empty());
  EXPECT_TRUE(book.position(kEurUsd).IsFlat());
  EXPECT_EQ(book.account().margin.raw(), 0);
  EXPECT_EQ(book.account().balance.ToString(), "10095.00");
  EXPECT_EQ(book.SetPosition(kEurUsd, 0, *Quantity::Parse("1", 2), P("1.1", kEurUsd), At(5)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(book.SetPosition(kEurUsd, *Quantity::Parse("1", 2), P("1.1", kEurUsd), At(5)).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(book.positions(kEurUsd).empty());
}

}  // namespace
}  // namespace aits::portfolio
