#include <gtest/gtest.h>

#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"

namespace aits {
namespace {

TEST(InstrumentTest, InfersFxDefaults) {
  Instrument eurusd = Instrument::Infer("EURUSD");
  EXPECT_EQ(eurusd.digits, 5);
  EXPECT_EQ(eurusd.base.view(), "EUR");
  EXPECT_EQ(eurusd.quote.view(), "USD");
  EXPECT_EQ(eurusd.pip_size.ToString(), "0.00010");
  EXPECT_EQ(eurusd.contract_size, 100'000);
  EXPECT_TRUE(eurusd.Validate().ok());

  Instrument usdjpy = Instrument::Infer("usd/jpy");
  EXPECT_EQ(usdjpy.digits, 3);
  EXPECT_EQ(usdjpy.pip_size.ToString(), "0.010");
  EXPECT_EQ(usdjpy.quote.view(), "JPY");

  Instrument orcl = Instrument::Infer("ORCL");
  EXPECT_EQ(orcl.contract_size, 1);
  EXPECT_EQ(orcl.LotPrecision(), 0);
}

TEST(InstrumentTest, ValidateNamesTheBadField) {
  Instrument inst = Instrument::Infer("EURUSD");
  inst.contract_size = -5;
  Status status = inst.Validate();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("contract_size -5"), std::string::npos);
  inst = Instrument::Infer("EURUSD");
  inst.max_lots = Quantity::FromRaw(0, 2);
  EXPECT_NE(inst.Validate().message().find("max_lots"), std::string::npos);
}

TEST(InstrumentTest, RoundsLotsDownToTheStep) {
  Instrument inst = Instrument::Infer("EURUSD");
  EXPECT_EQ(inst.RoundLots(*Quantity::Parse("1.239", 3)).ToString(), "1.23");
  EXPECT_EQ(inst.LotPrecision(), 2);
}

TEST(TickTest, MidAndSpread) {
  Tick tick{Timestamp{1}, *Price::Parse("1.10000", 5), *Price::Parse("1.10010", 5)};
  EXPECT_EQ(tick.Mid().ToString(), "1.10005");
  EXPECT_EQ(tick.Spread().ToString(), "0.00010");
}

TEST(OrderTest, NamesForReports) {
  EXPECT_EQ(ToString(Side::kSell), "sell");
  EXPECT_EQ(ToString(RejectReason::kInsufficientMargin), "insufficient_margin");
  EXPECT_EQ(Opposite(Side::kBuy), Side::kSell);
}

}  // namespace
}  // namespace aits
