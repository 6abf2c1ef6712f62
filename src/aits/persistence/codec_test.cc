#include "aits/persistence/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

namespace aits::persistence {
namespace {

Tick MakeTick() {
  Tick tick;
  tick.ts = FromCivil(2012, 2, 1, 13, 45, 7, 123'456'789);
  tick.bid = Price::FromRaw(1'312'340'000, 5);
  tick.ask = Price::FromRaw(1'312'360'000, 5);
  tick.bid_volume = 1.25f;
  tick.ask_volume = 3.5e6f;
  tick.instrument = InstrumentId{7};
  return tick;
}

Order MakeOrder(bool with_optionals) {
  Order order;
  order.id = OrderId{0xfedcba9876543210ull};
  order.request.instrument = InstrumentId{3};
  order.request.side = Side::kSell;
  order.request.type = OrderType::kStop;
  order.request.tif = TimeInForce::kDay;
  order.request.quantity = Quantity::FromRaw(250'000'000, 2);
  if (with_optionals) {
    order.request.price = Price::FromRaw(109'123'000'000, 3);
    order.request.stop_loss = Price::FromRaw(-1, 9);  // negative and odd precision on purpose
    order.request.take_profit = Price::FromRaw(std::numeric_limits<int64_t>::max(), 0);
    order.request.client_order_id = std::string("c-42\0x", 6);  // embedded NUL survives
    order.request.tag = "entry";
  }
  order.status = OrderStatus::kRejected;
  order.reject_reason = RejectReason::kRiskHalted;
  order.reject_detail = "breaker halted by max_drawdown";
  order.created = Timestamp{-5};
  order.arrives = Timestamp{std::numeric_limits<int64_t>::min()};
  order.updated = Timestamp{1'328'054'400'000'000'001};
  order.filled = Quantity::FromRaw(100'000'000, 2);
  order.avg_fill_price = Price::FromRaw(109'125'000'000, 3);
  return order;
}

Fill MakeFill(FillReason reason) {
  Fill fill;
  fill.order_id = OrderId{99};
  fill.client_order_id = "client-99";
  fill.instrument = InstrumentId{2};
  fill.side = Side::kSell;
  fill.quantity = Quantity::FromRaw(10'000'000, 2);
  fill.price = Price::FromRaw(1'500'010'000, 5);
  fill.commission = Money::FromRaw(-3'500'000);
  fill.ts = Timestamp{1'700'000'000'123'456'789};
  fill.reason = reason;
  return fill;
}

void ExpectSameFixed(Price a, Price b) {
  EXPECT_EQ(a.raw(), b.raw());
  EXPECT_EQ(a.precision(), b.precision());
}
void ExpectSameFixed(Quantity a, Quantity b) {
  EXPECT_EQ(a.raw(), b.raw());
  EXPECT_EQ(a.precision(), b.precision());
}
void ExpectSameOptional(const std::optional<Price>& a, const std::optional<Price>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (a.has_value()) ExpectSameFixed(*a, *b);
}

void ExpectSameOrder(const Order& a, const Order& b) {
  EXPECT_EQ(a.id.value, b.id.value);
  EXPECT_EQ(a.request.instrument.value, b.request.instrument.value);
  EXPECT_EQ(a.request.side, b.request.side);
  EXPECT_EQ(a.request.type, b.request.type);
  EXPECT_EQ(a.request.tif, b.request.tif);
  ExpectSameFixed(a.request.quantity, b.request.quantity);
  ExpectSameOptional(a.request.price, b.request.price);
  ExpectSameOptional(a.request.stop_loss, b.request.stop_loss);
  ExpectSameOptional(a.request.take_profit, b.request.take_profit);
  EXPECT_EQ(a.request.client_order_id, b.request.client_order_id);
  EXPECT_EQ(a.request.tag, b.request.tag);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reject_reason, b.reject_reason);
  EXPECT_EQ(a.reject_detail, b.reject_detail);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.arrives, b.arrives);
  EXPECT_EQ(a.updated, b.updated);
  ExpectSameFixed(a.filled, b.filled);
  ExpectSameFixed(a.avg_fill_price, b.avg_fill_price);
  EXPECT_EQ(a.request.position_ticket, b.request.position_ticket);
  EXPECT_EQ(a.position_ticket, b.position_ticket);
  EXPECT_EQ(a.venue_order_id, b.venue_order_id);
}

TEST(CodecTest, TickRoundTripIsExact) {
  const Tick tick = MakeTick();
  std::string payload = "junk";  // encoders append: the caller clears
  payload.clear();
  EncodeTick(tick, &payload);
  EXPECT_EQ(payload.size(), 39u);
  EXPECT_EQ(static_cast<uint8_t>(payload[0]), 1);  // version byte
  auto decoded = DecodeTick(payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->ts, tick.ts);
  ExpectSameFixed(decoded->bid, tick.bid);
  ExpectSameFixed(decoded->ask, tick.ask);
  EXPECT_EQ(decoded->bid_volume, tick.bid_volume);
  EXPECT_EQ(decoded->ask_volume, tick.ask_volume);
  EXPECT_EQ(decoded->instrument.value, 7u);
}

// A live feed's tick carries the feed's own time (v2); a tick without one stays v1, byte for byte
// what older logs hold.
TEST(CodecTest, ALiveTickCarriesItsSourceTime) {
  std::string payload;
  EncodeTick(MakeTick(), &payload, 1'577'934'000'123);
  EXPECT_EQ(payload.size(), 47u);
  EXPECT_EQ(static_cast<uint8_t>(payload[0]), 2);
  int64_t source_msc = 0;
  auto decoded = DecodeTick(payload, &source_msc);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(source_msc, 1'577'934'000'123);
  EXPECT_EQ(decoded->ts, MakeTick().ts);
  std::string v1;
  EncodeTick(MakeTick(), &v1);
  EXPECT_EQ(payload.substr(1, 38), v1.substr(1));
  source_msc = 5;
  ASSERT_TRUE(DecodeTick(v1, &source_msc).ok());
  EXPECT_EQ(source_msc, 0);
  v1[0] = 3;
  EXPECT_EQ(DecodeTick(v1).status().code(), StatusCode::kDataLoss);
}

TEST(CodecTest, TickKeepsFloatBitsAndIsLittleEndian) {
  Tick tick = MakeTick();
  tick.bid_volume = -0.0f;
  tick.ask_volume = std::numeric_limits<float>::quiet_NaN();
  tick.ts = Timestamp{0x0102030405060708};
  std::string payload;
  EncodeTick(tick, &payload);
  EXPECT_EQ(static_cast<uint8_t>(payload[1]), 0x08);  // ts, least significant byte first
  EXPECT_EQ(static_cast<uint8_t>(payload[8]), 0x01);
  auto decoded = DecodeTick(payload);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(std::signbit(decoded->bid_volume));
  EXPECT_TRUE(std::isnan(decoded->ask_volume));
}

TEST(CodecTest, EncodersAppendToTheBuffer) {
  std::string payload;
  EncodeTick(MakeTick(), &payload);
  const std::string first = payload;
  EncodeTick(MakeTick(), &payload);
  EXPECT_EQ(payload, first + first);
  // Two payloads back to back are not one tick.
  EXPECT_EQ(DecodeTick(payload).status().code(), StatusCode::kDataLoss);
}

TEST(CodecTest, OrderRoundTripWithEveryOptionalSet) {
  const Order order = MakeOrder(true);
  std::string payload;
  EncodeOrder(order, &payload);
  auto decoded = DecodeOrder(payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameOrder(*decoded, order);
  EXPECT_EQ(decoded->request.client_order_id.size(), 6u);
}

TEST(CodecTest, OrderRoundTripWithEveryOptionalUnset) {
  const Order order = MakeOrder(false);
  std::string payload;
  EncodeOrder(order, &payload);
  auto decoded = DecodeOrder(payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameOrder(*decoded, order);
  EXPECT_FALSE(decoded->request.price.has_value());
  EXPECT_TRUE(decoded->request.tag.empty());
}

TEST(CodecTest, OrderRoundTripWithEachOptionalAlone) {
  for (int which = 0; which < 3; ++which) {
    Order order = MakeOrder(false);
    const Price value = Price::FromRaw(1'000 + which, which + 1);
    if (which == 0) order.request.price = value;
    if (which == 1) order.request.stop_loss = value;
    if (which == 2) order.request.take_profit = value;
    std::string payload;
    EncodeOrder(order, &payload);
    auto decoded = DecodeOrder(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ExpectSameOrder(*decoded, order);
  }
}

TEST(CodecTest, FillRoundTripForEveryReason) {
  for (FillReason reason : {FillReason::kMarket, FillReason::kLimit, FillReason::kStop,
                            FillReason::kStopLoss, FillReason::kTakeProfit}) {
    const Fill fill = MakeFill(reason);
    std::string payload;
    EncodeFill(fill, &payload);
    // Stored as its name, so reordering the enum can never change what an old log says.
    EXPECT_NE(payload.find(ToString(reason)), std::string::npos);
    auto decoded = DecodeFill(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->reason, reason);
    EXPECT_EQ(decoded->order_id.value, 99u);
    EXPECT_EQ(decoded->client_order_id, "client-99");
    EXPECT_EQ(decoded->instrument.value, 2u);
    EXPECT_EQ(decoded->side, Side::kSell);
    ExpectSameFixed(decoded->quantity, fill.quantity);
    ExpectSameFixed(decoded->price, fill.price);
    EXPECT_EQ(decoded->commission.raw(), -3'500'000);
    EXPECT_EQ(decoded->ts, fill.ts);
  }
}

TEST(CodecTest, OrderNamingAPositionIsVersion2AndKeepsBothTickets) {
  Order order = MakeOrder(true);
  std::string v1;
  EncodeOrder(order, &v1);
  EXPECT_EQ(static_cast<uint8_t>(v1[0]), 1);  // names no position: the v1 layout, unchanged
  order.request.position_ticket = 0x0102030405060708ull;
  order.position_ticket = 77;
  std::string v2;
  EncodeOrder(order, &v2);
  EXPECT_EQ(static_cast<uint8_t>(v2[0]), 2);
  EXPECT_EQ(v2.size(), v1.size() + 16);
  auto decoded = DecodeOrder(v2);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameOrder(*decoded, order);
  EXPECT_EQ(decoded->position_ticket, 77u);
  // A v2 payload whose request names no position is not what v2 writes.
  std::string zero = v2;
  std::memset(zero.data() + v1.size(), 0, 8);
  EXPECT_EQ(DecodeOrder(zero).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeOrder(v2.substr(0, v2.size() - 1)).status().code(), StatusCode::kDataLoss);
}

TEST(CodecTest, OrderWithVenueTicketIsVersion3AndOlderVersionsStillRead) {
  Order order = MakeOrder(true);
  std::string v1;
  EncodeOrder(order, &v1);
  order.venue_order_id = 0x1122334455667788ull;
  std::string v3;
  EncodeOrder(order, &v3);
  EXPECT_EQ(static_cast<uint8_t>(v3[0]), 3);
  // v1, both position tickets (here 0: a netting order) and the venue's ticket, little-endian.
  ASSERT_EQ(v3.size(), v1.size() + 24);
  EXPECT_EQ(v3.substr(1, v1.size() - 1), v1.substr(1));
  EXPECT_EQ(v3.substr(v1.size(), 16), std::string(16, '\0'));
  EXPECT_EQ(static_cast<uint8_t>(v3[v1.size() + 16]), 0x88);
  EXPECT_EQ(static_cast<uint8_t>(v3.back()), 0x11);
  auto decoded = DecodeOrder(v3);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameOrder(*decoded, order);
  EXPECT_EQ(decoded->venue_order_id, 0x1122334455667788ull);
  // With a position named too, both tickets sit where v2 has them.
  order.request.position_ticket = 5;
  order.position_ticket = 5;
  std::string both;
  EncodeOrder(order, &both);
  auto decoded_both = DecodeOrder(both);
  ASSERT_TRUE(decoded_both.ok()) << decoded_both.status().ToString();
  ExpectSameOrder(*decoded_both, order);
  // The older versions read as they always did: no venue ticket.
  auto old = DecodeOrder(v1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->venue_order_id, 0u);
  // A v3 payload without a venue ticket is not what v3 writes; a short one is damaged.
  std::string zero = v3;
  std::memset(zero.data() + v1.size() + 16, 0, 8);
  EXPECT_EQ(DecodeOrder(zero).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeOrder(v3.substr(0, v3.size() - 1)).status().code(), StatusCode::kDataLoss);
  std::string v4 = v3;
  v4[0] = 4;
  EXPECT_EQ(DecodeOrder(v4).status().code(), StatusCode::kDataLoss);
}

TEST(CodecTest, FillWithPositionTicketIsVersion2) {
  Fill fill = MakeFill(FillReason::kStopLoss);
  std::string v1;
  EncodeFill(fill, &v1);
  EXPECT_EQ(static_cast<uint8_t>(v1[0]), 1);
  fill.position_ticket = 123'456'789'012ull;
  std::string v2;
  EncodeFill(fill, &v2);
  EXPECT_EQ(static_cast<uint8_t>(v2[0]), 2);
  EXPECT_EQ(v2.size(), v1.size() + 8);
  auto decoded = DecodeFill(v2);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->position_ticket, 123'456'789'012ull);
  EXPECT_EQ(decoded->reason, FillReason::kStopLoss);
  auto old = DecodeFill(v1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->position_ticket, 0u);
  std::string v3 = v2;
  v3[0] = 3;
  EXPECT_EQ(DecodeFill(v3).status().code(), StatusCode::kDataLoss);
}

TEST(CodecTest, FillWithUnknownReasonIsRejected) {
  // The reason is the payload's last field; overwrite the text of "market" in place.
  for (std::string_view reason : {"Market", "margin", "\0\0\0\0\0\0"}) {
    std::string payload;
    EncodeFill(MakeFill(FillReason::kMarket), &payload);
    ASSERT_EQ(payload.substr(payload.size() - 6), "market");
    payload.replace(payload.size() - 6, 6, reason.data(), 6);
    auto decoded = DecodeFill(payload);
    ASSERT_FALSE(decoded.ok()) << reason;
    EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(decoded.status().message().find("field reason"), std::string::npos)
        << decoded.status().message();
  }
}

// Every strict prefix of a valid payload is an error, never a crash or a read past the end
// (ASan checks the latter).
template <typename Decode>
void ExpectEveryPrefixFails(const std::string& payload, Decode decode) {
  for (size_t length = 0; length < payload.size(); ++length) {
    // A heap copy of exactly `length` bytes, so that ASan sees any read beyond it.
    std::unique_ptr<char[]> copy(new char[length == 0 ? 1 : length]);
    std::memcpy(copy.get(), payload.data(), length);
    auto decoded = decode(std::string_view(copy.get(), length));
    ASSERT_FALSE(decoded.ok()) << "prefix of " << length << " bytes decoded";
    EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(decoded.status().message().find("truncated at field"), std::string::npos)
        << decoded.status().message();
  }
  EXPECT_TRUE(decode(payload).ok());
  EXPECT_FALSE(decode(payload + "z").ok()) << "trailing byte accepted";
}

TEST(CodecTest, TruncatedTickFailsAtEveryLength) {
  for (int64_t source_msc : {int64_t{0}, int64_t{1'577'934'000'123}}) {
    std::string payload;
    EncodeTick(MakeTick(), &payload, source_msc);
    ExpectEveryPrefixFails(payload, [](std::string_view p) { return DecodeTick(p); });
  }
}

TEST(CodecTest, TruncatedOrderFailsAtEveryLength) {
  for (bool with_optionals : {true, false}) {
    std::string payload;
    EncodeOrder(MakeOrder(with_optionals), &payload);
    ExpectEveryPrefixFails(payload, DecodeOrder);
  }
}

TEST(CodecTest, TruncatedFillFailsAtEveryLength) {
  std::string payload;
  EncodeFill(MakeFill(FillReason::kStopLoss), &payload);
  ExpectEveryPrefixFails(payload, DecodeFill);
}

ExecutionReport MakeExecutionReport(ExecKind kind) {
  ExecutionReport report;
  report.kind = kind;
  report.order_id = OrderId{77};
  report.client_order_id = std::string("s-7\0y", 5);  // embedded NUL survives
  report.venue_order_id = 0xfedcba9876543210ull;
  report.position_ticket = 12;
  report.instrument = InstrumentId{4};
  report.side = Side::kSell;
  report.type = OrderType::kLimit;
  report.tif = TimeInForce::kIoc;
  report.quantity = Quantity::FromRaw(30'000'000, 2);
  report.price = Price::FromRaw(1'100'120'000, 5);
  report.commission = Money::FromRaw(-2'500'000);
  report.fill_reason = FillReason::kTakeProfit;
  report.reject_reason = RejectReason::kRiskHalted;
  report.stop_loss = Price::FromRaw(1'090'000'000, 5);
  report.text = "tp";
  report.ts = Timestamp{1'700'000'000'123'456'789};
  report.exec_id = 991;
  return report;
}

TEST(CodecTest, ExecutionReportRoundTripForEveryKind) {
  for (ExecKind kind :
       {ExecKind::kNew, ExecKind::kAccepted, ExecKind::kRejected, ExecKind::kPartiallyFilled,
        ExecKind::kFilled, ExecKind::kCanceled, ExecKind::kModified, ExecKind::kExpired}) {
    const ExecutionReport report = MakeExecutionReport(kind);
    std::string payload;
    EncodeExecutionReport(report, &payload);
    auto decoded = DecodeExecutionReport(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(decoded->kind, kind);
    EXPECT_EQ(decoded->order_id.value, report.order_id.value);
    EXPECT_EQ(decoded->client_order_id, report.client_order_id);
    EXPECT_EQ(decoded->venue_order_id, report.venue_order_id);
    EXPECT_EQ(decoded->position_ticket, report.position_ticket);
    EXPECT_EQ(decoded->instrument.value, report.instrument.value);
    EXPECT_EQ(decoded->side, report.side);
    EXPECT_EQ(decoded->type, report.type);
    EXPECT_EQ(decoded->tif, report.tif);
    ExpectSameFixed(decoded->quantity, report.quantity);
    ExpectSameFixed(decoded->price, report.price);
    EXPECT_EQ(decoded->commission.raw(), report.commission.raw());
    EXPECT_EQ(decoded->fill_reason, report.fill_reason);
    EXPECT_EQ(decoded->reject_reason, report.reject_reason);
    ExpectSameOptional(decoded->stop_loss, report.stop_loss);
    ExpectSameOptional(decoded->take_profit, report.take_profit);
    EXPECT_EQ(decoded->text, report.text);
    EXPECT_EQ(decoded->ts, report.ts);
    EXPECT_EQ(decoded->exec_id, report.exec_id);
    // Encoding the decoded report again gives the same bytes (a replay compares payloads).
    std::string again;
    EncodeExecutionReport(*decoded, &again);
    EXPECT_EQ(again, payload);
  }
}

TEST(CodecTest, AccountReportRoundTripForEveryReason) {
  for (AccountReportReason reason : {AccountReportReason::kUpdate, AccountReportReason::kMarginCall,
                                     AccountReportReason::kStopOut}) {
    AccountReport report;
    report.reason = reason;
    report.balance = Money::FromRaw(100'000 * kMoneyScale + 7);
    report.equity = Money::FromRaw(-3);
    report.margin = Money::FromRaw(std::numeric_limits<int64_t>::max());
    report.free_margin = Money::FromRaw(std::numeric_limits<int64_t>::min());
    report.margin_level = 47.125;
    report.ts = Timestamp{-1};
    std::string payload;
    EncodeAccountReport(report, &payload);
    auto decoded = DecodeAccountReport(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(decoded->reason, reason);
    EXPECT_EQ(decoded->balance.raw(), report.balance.raw());
    EXPECT_EQ(decoded->equity.raw(), report.equity.raw());
    EXPECT_EQ(decoded->margin.raw(), report.margin.raw());
    EXPECT_EQ(decoded->free_margin.raw(), report.free_margin.raw());
    EXPECT_EQ(decoded->margin_level, report.margin_level);
    EXPECT_EQ(decoded->ts, report.ts);
  }
}

TEST(CodecTest, TruncatedReportsFailAtEveryLength) {
  std::string payload;
  EncodeExecutionReport(MakeExecutionReport(ExecKind::kFilled), &payload);
  ExpectEveryPrefixFails(payload, DecodeExecutionReport);
  payload.clear();
  EncodeAccountReport(AccountReport{}, &payload);
  ExpectEveryPrefixFails(payload, DecodeAccountReport);
}

TEST(CodecTest, ReportsWithBadValuesAreRejected) {
  std::string good;
  EncodeExecutionReport(MakeExecutionReport(ExecKind::kFilled), &good);
  std::string bad = good;
  bad[1] = 8;  // kind, after the version byte
  EXPECT_EQ(DecodeExecutionReport(bad).status().message(),
            "execution_report payload: field kind = 8 out of range");
  ExecutionReport unknown_reason = MakeExecutionReport(ExecKind::kFilled);
  std::string text;
  EncodeExecutionReport(unknown_reason, &text);
  const size_t at = text.find("take_profit");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 11, "take_prophet");
  text[at - 4] = 12;  // the string's length, little-endian
  auto decoded = DecodeExecutionReport(text);
  EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(decoded.status().message().find("field fill_reason"), std::string::npos)
      << decoded.status().message();
  std::string account;
  EncodeAccountReport(AccountReport{}, &account);
  account[1] = 3;
  EXPECT_EQ(DecodeAccountReport(account).status().message(),
            "account_report payload: field reason = 3 out of range");
}

TEST(CodecTest, TruncationMessageNamesTheField) {
  std::string payload;
  EncodeTick(MakeTick(), &payload);
  auto decoded = DecodeTick(std::string_view(payload).substr(0, 5));
  EXPECT_EQ(decoded.status().message(),
            "tick payload: truncated at field ts (needs 8 bytes at offset 1, 4 left)");
}

// Offsets inside an order payload without optionals: version 0, id 1..8, instrument 9..12,
// side 13, type 14, tif 15, quantity 16..24, price flag 25, stop_loss flag 26, take_profit 27.
TEST(CodecTest, OrderWithBadEnumsIsRejected) {
  std::string good;
  EncodeOrder(MakeOrder(false), &good);
  struct Case {
    size_t offset;
    uint8_t value;
    const char* message;
  };
  const Case cases[] = {
      {13, 2, "order payload: field side = 2 out of range"},
      {14, 3, "order payload: field type = 3 out of range"},
      {15, 9, "order payload: field tif = 9 out of range"},
      {24, 10, "order payload: field quantity.precision = 10 out of range"},
      {25, 2, "order payload: field price.present = 2 out of range"},
      {0, 4, "order payload: field version = 4 out of range"},  // 1, 2 and 3 are valid
  };
  for (const Case& c : cases) {
    std::string bad = good;
    bad[c.offset] = static_cast<char>(c.value);
    auto decoded = DecodeOrder(bad);
    ASSERT_FALSE(decoded.ok()) << c.message;
    EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(decoded.status().message(), c.message);
  }
  // status and reject_reason follow the two u32-prefixed empty strings (28..35).
  std::string bad = good;
  bad[36] = 6;
  EXPECT_EQ(DecodeOrder(bad).status().message(), "order payload: field status = 6 out of range");
  bad = good;
  bad[37] = static_cast<char>(200);
  EXPECT_EQ(DecodeOrder(bad).status().message(),
            "order payload: field reject_reason = 200 out of range");
}

TEST(CodecTest, HugeStringLengthIsRejectedNotAllocated) {
  std::string payload;
  EncodeFill(MakeFill(FillReason::kMarket), &payload);
  // client_order_id length sits at offset 9..12: claim 4 GB.
  for (size_t idx = 9; idx < 13; ++idx) payload[idx] = static_cast<char>(0xff);
  auto decoded = DecodeFill(payload);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("client_order_id"), std::string::npos);
}

TEST(CodecTest, FillWithBadSideAndTickWithBadPrecision) {
  std::string fill;
  EncodeFill(MakeFill(FillReason::kMarket), &fill);
  // side follows version (1), order_id (8), client_order_id (4 + 9) and instrument (4).
  fill[26] = 5;
  EXPECT_EQ(DecodeFill(fill).status().message(), "fill payload: field side = 5 out of range");

  std::string tick;
  EncodeTick(MakeTick(), &tick);
  tick[17] = 10;  // bid precision: after version (1), ts (8), bid raw (8)
  EXPECT_EQ(DecodeTick(tick).status().message(),
            "tick payload: field bid.precision = 10 out of range");
}

}  // namespace
}  // namespace aits::persistence
