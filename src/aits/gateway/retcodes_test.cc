#include "aits/gateway/retcodes.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace aits::gateway {
namespace {

// The test's own reading of the MQL5 reference, written apart from retcodes.cc: what the node
// does with each TRADE_RETCODE_*.
const std::map<uint32_t, RetcodeHandling>& Expected() {
  using A = RetcodeAction;
  using R = RejectReason;
  static const std::map<uint32_t, RetcodeHandling> table = {
      {10004, {A::kRequote, R::kNone}},
      {10006, {A::kReject, R::kVenueRefused}},
      {10007, {A::kReject, R::kVenueRefused}},
      {10008, {A::kDone, R::kNone}},
      {10009, {A::kDone, R::kNone}},
      {10010, {A::kPartial, R::kNone}},
      {10011, {A::kReject, R::kVenueRefused}},
      {10012, {A::kResolve, R::kNone}},
      {10013, {A::kReject, R::kVenueRefused}},
      {10014, {A::kReject, R::kInvalidQuantity}},
      {10015, {A::kReject, R::kInvalidPrice}},
      {10016, {A::kReject, R::kInvalidPrice}},
      {10017, {A::kReject, R::kVenueRefused}},
      {10018, {A::kReject, R::kNoMarket}},
      {10019, {A::kReject, R::kInsufficientMargin}},
      {10020, {A::kRequote, R::kNone}},
      {10021, {A::kReject, R::kNoMarket}},
      {10022, {A::kReject, R::kInvalidPrice}},
      {10023, {A::kReject, R::kVenueRefused}},
      {10024, {A::kBackOff, R::kNone}},
      {10025, {A::kReject, R::kVenueRefused}},
      {10026, {A::kRejectAlert, R::kVenueRefused}},
      {10027, {A::kRejectAlert, R::kVenueRefused}},
      {10028, {A::kReject, R::kVenueRefused}},
      {10029, {A::kReject, R::kVenueRefused}},
      {10030, {A::kReject, R::kVenueRefused}},
      {10031, {A::kReject, R::kVenueRefused}},
      {10032, {A::kReject, R::kVenueRefused}},
      {10033, {A::kReject, R::kVenueRefused}},
      {10034, {A::kReject, R::kInvalidQuantity}},
      {10035, {A::kReject, R::kVenueRefused}},
      {10036, {A::kReject, R::kInvalidPosition}},
      {10038, {A::kReject, R::kInvalidQuantity}},
      {10039, {A::kReject, R::kInvalidPosition}},
      {10040, {A::kReject, R::kVenueRefused}},
      {10041, {A::kReject, R::kVenueRefused}},
      {10042, {A::kReject, R::kVenueRefused}},
      {10043, {A::kReject, R::kVenueRefused}},
      {10044, {A::kReject, R::kVenueRefused}},
      {10045, {A::kReject, R::kVenueRefused}},
      {10046, {A::kReject, R::kVenueRefused}},
  };
  return table;
}

TEST(RetcodesTest, EveryRetcodeOfMt5HasItsHandling) {
  std::set<uint32_t> seen;
  for (uint32_t retcode : mt5::kAllRetcodes) {
    SCOPED_TRACE(retcode);
    seen.insert(retcode);
    const auto expected = Expected().find(retcode);
    ASSERT_NE(expected, Expected().end()) << "the test's table lacks " << retcode;
    const RetcodeHandling handling = HandlingOf(retcode);
    EXPECT_EQ(ToString(handling.action), ToString(expected->second.action));
    EXPECT_EQ(ToString(handling.reject_reason), ToString(expected->second.reject_reason));
    const bool rejects =
        handling.action == RetcodeAction::kReject || handling.action == RetcodeAction::kRejectAlert;
    EXPECT_EQ(rejects, handling.reject_reason != RejectReason::kNone);
    // The report's text names the retcode.
    EXPECT_NE(RetcodeText(retcode).find(std::string(mt5::RetcodeName(retcode))), std::string::npos);
  }
  EXPECT_EQ(seen.size(), Expected().size());
}

TEST(RetcodesTest, AnUnknownNumberIsRejectedNamingIt) {
  const RetcodeHandling handling = HandlingOf(10999);
  EXPECT_EQ(handling.action, RetcodeAction::kReject);
  EXPECT_EQ(handling.reject_reason, RejectReason::kVenueRefused);
  EXPECT_EQ(RetcodeText(10999, "odd"), "unknown retcode (10999) - odd");
  EXPECT_EQ(RetcodeText(10019),
            "TRADE_RETCODE_NO_MONEY (10019): " + std::string(mt5::RetcodeText(10019)));
}

mt5::SymbolSpec Spec(uint32_t flags, mt5::Execution execution) {
  mt5::SymbolSpec spec;
  spec.name = "EURUSD";
  spec.filling_mode = flags;
  spec.execution_mode = static_cast<uint32_t>(execution);
  return spec;
}

TEST(RetcodesTest, FillingComesFromTheSymbolsAllowedModes) {
  using mt5::Execution;
  using mt5::Filling;
  constexpr uint32_t kFok = mt5::kSymbolFillingFok;
  constexpr uint32_t kIoc = mt5::kSymbolFillingIoc;
  struct Case {
    uint32_t flags;
    Execution execution;
    bool pending;
    std::optional<Filling> filling;  // nullopt: refused
  };
  const Case cases[] = {
      {kFok | kIoc, Execution::kMarket, false, Filling::kFok},
      {kIoc, Execution::kMarket, false, Filling::kIoc},
      {kFok, Execution::kInstant, false, Filling::kFok},
      {0, Execution::kInstant, false, Filling::kReturn},
      {0, Execution::kRequest, false, Filling::kReturn},
      {0, Execution::kExchange, false, Filling::kReturn},
      {kIoc, Execution::kExchange, false, Filling::kIoc},
      {kFok | kIoc, Execution::kExchange, true, Filling::kReturn},  // a resting limit
      {kIoc, Execution::kMarket, true, Filling::kIoc},
      {0, Execution::kMarket, false, std::nullopt},
      {mt5::kSymbolFillingBoc, Execution::kMarket, true, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "flags " << c.flags << " execution "
                                    << static_cast<int>(c.execution) << " pending " << c.pending);
    auto filling = FillingFor(Spec(c.flags, c.execution), c.pending);
    if (c.filling) {
      ASSERT_TRUE(filling.ok()) << filling.status().message();
      EXPECT_EQ(*filling, *c.filling);
    } else {
      ASSERT_FALSE(filling.ok());
      EXPECT_NE(filling.status().message().find("EURUSD"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace aits::gateway
