#include "aits/proto/messages.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace aits::proto {
namespace {

Price P(int64_t raw, int precision = 5) { return Price::FromRaw(raw, precision); }
Quantity Q(int64_t raw) { return Quantity::FromRaw(raw, 2); }

Tick SampleTick() {
  return Tick{Timestamp{1'700'000'000'123'456'789},
              P(1'100'010'000),
              P(1'100'030'000),
              1.5f,
              2.25f,
              InstrumentId{3}};
}

Bar SampleBar() {
  Bar bar;
  bar.instrument = InstrumentId{2};
  bar.period = Duration::Minutes(5);
  bar.open_time = Timestamp{1'600'000'000'000'000'000};
  bar.bid = {P(109'120'000'000, 3), P(109'150'000'000, 3), P(109'100'000'000, 3),
             P(109'130'000'000, 3)};
  bar.ask = {P(109'125'000'000, 3), P(109'155'000'000, 3), P(109'105'000'000, 3),
             P(109'135'000'000, 3)};
  bar.mid = {P(109'122'500'000, 3), P(109'152'500'000, 3), P(109'102'500'000, 3),
             P(109'132'500'000, 3)};
  bar.tick_count = 4242;
  bar.volume = 12.5;
  return bar;
}

OrderRequest SampleRequest() {
  OrderRequest request;
  request.instrument = InstrumentId{7};
  request.side = Side::kSell;
  request.type = OrderType::kStop;
  request.tif = TimeInForce::kFok;
  request.quantity = Q(250'000'000);
  request.price = P(1'095'000'000);
  request.stop_loss = P(1'105'000'000);
  request.take_profit = std::nullopt;  // absent optionals must stay absent
  request.client_order_id = "node-1:42";
  request.tag = "entry";
  request.position_ticket = 7'000'000'123;
  request.chain_id = "api-chain-9";  // an operator's order: its chain crosses the bus
  return request;
}

Fill SampleFill() {
  Fill fill;
  fill.order_id = OrderId{99};
  fill.client_order_id = "node-1:99";
  fill.instrument = InstrumentId{1};
  fill.side = Side::kSell;
  fill.quantity = Q(10'000'000);
  fill.price = P(1'500'010'000);
  fill.commission = Money::FromRaw(-3'500'000);
  fill.ts = Timestamp{1'700'000'000'000'000'001};
  fill.reason = FillReason::kStopLoss;
  fill.position_ticket = 6'000'000'007;
  return fill;
}

OrderUpdate SampleUpdate() {
  Order order;
  order.id = OrderId{12};
  order.request = SampleRequest();
  order.status = OrderStatus::kRejected;
  order.reject_reason = RejectReason::kRiskHalted;
  order.reject_detail = "breaker halted: no orders until it is reset";
  order.created = Timestamp{10};
  order.arrives = Timestamp{20};
  order.updated = Timestamp{30};
  order.filled = Q(0);
  order.avg_fill_price = P(0);
  order.venue_order_id = 5'000'000'001;
  order.position_ticket = 5'000'000'000;
  return OrderUpdate{order};
}

ExecutionReport SampleReport() {
  ExecutionReport report;
  report.kind = ExecKind::kPartiallyFilled;
  report.order_id = OrderId{12};
  report.client_order_id = "node-1:12";
  report.venue_order_id = 987'654'321;
  report.position_ticket = 987'654'300;
  report.instrument = InstrumentId{4};
  report.side = Side::kSell;
  report.type = OrderType::kLimit;
  report.tif = TimeInForce::kDay;
  report.quantity = Q(40'000'000);
  report.price = P(1'095'010'000);
  report.commission = Money::FromRaw(2'800'000);
  report.fill_reason = FillReason::kLimit;
  report.reject_reason = RejectReason::kInsufficientMargin;
  report.stop_loss = P(1'105'000'000);
  report.take_profit = std::nullopt;
  report.text = "TRADE_RETCODE_DONE_REMAINDER";
  report.ts = Timestamp{1'700'000'000'000'000'777};
  return report;
}

AccountReport SampleAccount() {
  AccountReport report;
  report.reason = AccountReportReason::kStopOut;
  report.balance = Money::FromRaw(1'000'000'000);
  report.equity = Money::FromRaw(245'000'000);
  report.margin = Money::FromRaw(550'050'000);
  report.free_margin = Money::FromRaw(-305'050'000);
  report.margin_level = 44.541405;
  report.ts = Timestamp{88};
  return report;
}

MarketAlert SampleAlert() {
  MarketAlert alert;
  alert.id = 42;
  alert.kind = AlertKind::kSpreadSpike;
  alert.severity = AlertSeverity::kCritical;
  alert.state = AlertState::kCleared;
  alert.instrument = InstrumentId{5};
  alert.symbol = "EURUSD";
  alert.start = Timestamp{1'577'916'000'000'000'000};
  alert.end = Timestamp{1'577'916'300'250'000'000};
  alert.ts = Timestamp{1'577'916'300'250'000'001};
  alert.value = 4.1;
  alert.threshold = 3.6;
  alert.detail = "spread 4.1 pips > 3.0 x median 1.2 pips";
  return alert;
}

BreakerChange SampleBreaker() {
  return BreakerChange{Timestamp{77}, BreakerState::kReduceOnly, BreakerState::kHalted, true,
                       "manual",      "operator: news"};
}

template <typename F>
void ExpectSame(F a, F b) {
  EXPECT_EQ(a.raw(), b.raw());
  EXPECT_EQ(a.precision(), b.precision());
}
void ExpectSame(const std::optional<Price>& a, const std::optional<Price>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (a) ExpectSame(*a, *b);
}
void ExpectSame(const Ohlc& a, const Ohlc& b) {
  ExpectSame(a.open, b.open);
  ExpectSame(a.high, b.high);
  ExpectSame(a.low, b.low);
  ExpectSame(a.close, b.close);
}
void ExpectSame(const OrderRequest& a, const OrderRequest& b) {
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.side, b.side);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.tif, b.tif);
  ExpectSame(a.quantity, b.quantity);
  ExpectSame(a.price, b.price);
  ExpectSame(a.stop_loss, b.stop_loss);
  ExpectSame(a.take_profit, b.take_profit);
  EXPECT_EQ(a.client_order_id, b.client_order_id);
  EXPECT_EQ(a.tag, b.tag);
  EXPECT_EQ(a.position_ticket, b.position_ticket);
  EXPECT_EQ(a.chain_id, b.chain_id);
}
void ExpectSame(const Tick& a, const Tick& b) {
  EXPECT_EQ(a.ts, b.ts);
  ExpectSame(a.bid, b.bid);
  ExpectSame(a.ask, b.ask);
  EXPECT_EQ(a.bid_volume, b.bid_volume);
  EXPECT_EQ(a.ask_volume, b.ask_volume);
  EXPECT_EQ(a.instrument, b.instrument);
}
void ExpectSame(const Bar& a, const Bar& b) {
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.period.ns, b.period.ns);
  EXPECT_EQ(a.open_time, b.open_time);
  ExpectSame(a.bid, b.bid);
  ExpectSame(a.ask, b.ask);
  ExpectSame(a.mid, b.mid);
  EXPECT_EQ(a.tick_count, b.tick_count);
  EXPECT_EQ(a.volume, b.volume);
}
void ExpectSame(const Fill& a, const Fill& b) {
  EXPECT_EQ(a.order_id, b.order_id);
  EXPECT_EQ(a.client_order_id, b.client_order_id);
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.side, b.side);
  ExpectSame(a.quantity, b.quantity);
  ExpectSame(a.price, b.price);
  EXPECT_EQ(a.commission.raw(), b.commission.raw());
  EXPECT_EQ(a.ts, b.ts);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.position_ticket, b.position_ticket);
}
void ExpectSame(const OrderSubmitted& a, const OrderSubmitted& b) {
  ExpectSame(a.request, b.request);
  EXPECT_EQ(a.ts, b.ts);
}
void ExpectSame(const OrderUpdate& a, const OrderUpdate& b) {
  EXPECT_EQ(a.order.id, b.order.id);
  ExpectSame(a.order.request, b.order.request);
  EXPECT_EQ(a.order.status, b.order.status);
  EXPECT_EQ(a.order.reject_reason, b.order.reject_reason);
  EXPECT_EQ(a.order.reject_detail, b.order.reject_detail);
  EXPECT_EQ(a.order.created, b.order.created);
  EXPECT_EQ(a.order.arrives, b.order.arrives);
  EXPECT_EQ(a.order.updated, b.order.updated);
  ExpectSame(a.order.filled, b.order.filled);
  ExpectSame(a.order.avg_fill_price, b.order.avg_fill_price);
  EXPECT_EQ(a.order.venue_order_id, b.order.venue_order_id);
  EXPECT_EQ(a.order.position_ticket, b.order.position_ticket);
}

void ExpectSame(const ExecutionReport& a, const ExecutionReport& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.order_id, b.order_id);
  EXPECT_EQ(a.client_order_id, b.client_order_id);
  EXPECT_EQ(a.venue_order_id, b.venue_order_id);
  EXPECT_EQ(a.position_ticket, b.position_ticket);
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.side, b.side);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.tif, b.tif);
  ExpectSame(a.quantity, b.quantity);
  ExpectSame(a.price, b.price);
  EXPECT_EQ(a.commission.raw(), b.commission.raw());
  EXPECT_EQ(a.fill_reason, b.fill_reason);
  EXPECT_EQ(a.reject_reason, b.reject_reason);
  ExpectSame(a.stop_loss, b.stop_loss);
  ExpectSame(a.take_profit, b.take_profit);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.ts, b.ts);
  EXPECT_EQ(a.exec_id, b.exec_id);
}

void ExpectSame(const AccountReport& a, const AccountReport& b) {
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.balance.raw(), b.balance.raw());
  EXPECT_EQ(a.equity.raw(), b.equity.raw());
  EXPECT_EQ(a.margin.raw(), b.margin.raw());
  EXPECT_EQ(a.free_margin.raw(), b.free_margin.raw());
  EXPECT_EQ(a.margin_level, b.margin_level);
  EXPECT_EQ(a.ts, b.ts);
}
void ExpectSame(const MarketAlert& a, const MarketAlert& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.severity, b.severity);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.end, b.end);
  EXPECT_EQ(a.ts, b.ts);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.detail, b.detail);
}
void ExpectSame(const BreakerChange& a, const BreakerChange& b) {
  EXPECT_EQ(a.ts, b.ts);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.manual, b.manual);
  EXPECT_EQ(a.rule, b.rule);
  EXPECT_EQ(a.detail, b.detail);
}

void ExpectSame(const FeatureRow& a, const FeatureRow& b) {
  ExpectSame(a.bar, b.bar);
  EXPECT_EQ(a.ready, b.ready);
  EXPECT_EQ(a.row, b.row);
  EXPECT_EQ(a.index, b.index);
}
void ExpectSame(const Prediction& a, const Prediction& b) {
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.bar_open, b.bar_open);
  EXPECT_EQ(a.ready, b.ready);
  EXPECT_EQ(a.strength, b.strength);
  EXPECT_EQ(a.confidence, b.confidence);
  EXPECT_EQ(a.anomaly, b.anomaly);
  EXPECT_EQ(a.regime, b.regime);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.described, b.described);
  EXPECT_EQ(a.explained, b.explained);
  EXPECT_EQ(a.index, b.index);
}

void ExpectSame(const AccountAtBar& a, const AccountAtBar& b) {
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.bar_open, b.bar_open);
  EXPECT_EQ(a.bar_close, b.bar_close);
  EXPECT_EQ(a.has_quote, b.has_quote);
  ExpectSame(a.quote, b.quote);
  EXPECT_EQ(a.atr, b.atr);
  EXPECT_EQ(a.position, b.position);
  EXPECT_EQ(a.position.precision(), b.position.precision());
  EXPECT_EQ(a.pending, b.pending);
  EXPECT_EQ(a.equity, b.equity);
  EXPECT_EQ(a.value_per_price_unit, b.value_per_price_unit);
}
void ExpectSame(const BarDecision& a, const BarDecision& b) {
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.bar_open, b.bar_open);
  EXPECT_EQ(a.decided, b.decided);
  EXPECT_EQ(a.action, b.action);
  EXPECT_EQ(a.side, b.side);
  EXPECT_EQ(a.lots, b.lots);
  EXPECT_EQ(a.stop_loss, b.stop_loss);
  EXPECT_EQ(a.take_profit, b.take_profit);
  EXPECT_EQ(a.record, b.record);
}

AccountAtBar SampleAccountAtBar() {
  AccountAtBar account;
  account.instrument = InstrumentId{1};
  account.bar_open = Timestamp{1'700'000'000'000'000'000};
  account.bar_close = Timestamp{1'700'000'060'000'000'000};
  account.has_quote = true;
  account.quote = SampleTick();
  account.atr = 0.00012345678901234;
  account.position = Quantity::FromRaw(-300'000'000, 2);
  account.pending = Quantity::FromRaw(100'000'000, 2);
  account.equity = Money::FromRaw(10'012'345'678);
  account.value_per_price_unit = 100'000.0;
  return account;
}

BarDecision SampleDecision() {
  BarDecision decision;
  decision.instrument = InstrumentId{1};
  decision.bar_open = Timestamp{1'700'000'000'000'000'000};
  decision.decided = true;
  decision.action = 2;  // kSell
  decision.side = Side::kSell;
  decision.lots = Quantity::FromRaw(300'000'000, 2);
  decision.stop_loss = Price::FromRaw(1'102'340'000, 5);
  decision.record = R"("decision":7,"action":"SELL")";
  return decision;
}

FeatureRow SampleRow() {
  FeatureRow row;
  row.bar = SampleBar();
  row.ready = true;
  row.index = 4'000'000'001;
  // Values a float holds exactly and not: the row must come back bit for bit.
  row.row = {0.5f, -1.25f, 0.1f, 3.4028235e38f, -0.0f, 1e-40f};
  return row;
}

Prediction SamplePrediction() {
  Prediction prediction;
  prediction.instrument = InstrumentId{2};
  prediction.bar_open = Timestamp{1'700'000'000'000'000'000};
  prediction.ready = true;
  prediction.index = 17;
  prediction.strength = -0.7300000000000001;
  prediction.confidence = 0.61;
  prediction.anomaly = 0.02;
  prediction.regime = 3;
  prediction.source = "ml_ensemble";
  prediction.described = R"("models":{"p_up":0.36},"regime_name":"calm")";
  prediction.explained = prediction.described + R"(,"top_features":[])";
  return prediction;
}

// A submit, a cancel, an SL/TP change by ticket and a recover request.
std::vector<VenueCommand> SampleCommands() {
  std::vector<VenueCommand> commands(4);
  commands[0].kind = VenueCommand::Kind::kSubmit;
  commands[0].id = "default:s1:submit:42:node-1:42";
  commands[0].order = SampleUpdate().order;
  commands[1].kind = VenueCommand::Kind::kCancel;
  commands[1].id = "default:s1:cancel:42:1";
  commands[1].order_id = OrderId{42};
  commands[1].venue_order_id = 9'000'000'001;
  commands[1].ts = Timestamp{1'700'000'000'000'000'000};
  commands[2].kind = VenueCommand::Kind::kProtection;
  commands[2].id = "default:s1:sltp:7:555:ab:1";
  commands[2].instrument = InstrumentId{7};
  commands[2].by_ticket = true;
  commands[2].position_ticket = 555;
  commands[2].stop_loss = P(1'095'000'000);
  commands[3].kind = VenueCommand::Kind::kRecover;
  commands[3].id = "default:s1:recover:ab:1";
  commands[3].unfinished = {SampleUpdate().order, SampleUpdate().order};
  commands[3].unfinished[1].id = OrderId{43};
  commands[3].venue_from_msc = 1'700'000'000'123;
  commands[3].known_exec_ids = {1, 2, 4'000'000'123};
  return commands;
}

// An execution report, an account report, a snapshot answer and a venue's refusal.
std::vector<VenueReport> SampleVenueReports() {
  std::vector<VenueReport> reports(4);
  reports[0].execution = SampleReport();
  reports[1].kind = VenueReport::Kind::kAccount;
  reports[1].account = SampleAccount();
  reports[2].kind = VenueReport::Kind::kSnapshot;
  reports[2].answers = "default:s1:snapshot:ab:1";
  reports[2].snapshot.positions = {HeldPosition{555, InstrumentId{7}, Q(-150'000'000), P(3)}};
  WorkingOrder working;
  working.client_order_id = "node-1:42";
  working.ticket = 9'000'000'001;
  working.instrument = InstrumentId{7};
  working.side = Side::kSell;
  working.quantity = Q(250'000'000);
  working.filled = Q(50'000'000);
  working.type = OrderType::kStop;
  working.price = P(1'095'000'000);
  working.tif = TimeInForce::kDay;
  reports[2].snapshot.orders = {working};
  reports[2].snapshot.balance = Money::FromRaw(-12'345'678);
  reports[2].terms = VenueTerms{"EUR", 30, true};
  reports[3].kind = VenueReport::Kind::kRecovered;
  reports[3].answers = "default:s1:recover:ab:1";
  reports[3].error = Unavailable("no EA connected");
  reports[3].recovered = {SampleReport(), SampleReport()};
  return reports;
}

void ExpectSame(const VenueCommand& a, const VenueCommand& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.id, b.id);
  ExpectSame(OrderUpdate{a.order}, OrderUpdate{b.order});
  EXPECT_EQ(a.order_id, b.order_id);
  EXPECT_EQ(a.venue_order_id, b.venue_order_id);
  EXPECT_EQ(a.ts, b.ts);
  EXPECT_EQ(a.instrument, b.instrument);
  EXPECT_EQ(a.by_ticket, b.by_ticket);
  EXPECT_EQ(a.position_ticket, b.position_ticket);
  ExpectSame(a.stop_loss, b.stop_loss);
  ExpectSame(a.take_profit, b.take_profit);
  ASSERT_EQ(a.unfinished.size(), b.unfinished.size());
  for (size_t idx = 0; idx < a.unfinished.size(); ++idx) {
    ExpectSame(OrderUpdate{a.unfinished[idx]}, OrderUpdate{b.unfinished[idx]});
  }
  EXPECT_EQ(a.venue_from_msc, b.venue_from_msc);
  EXPECT_EQ(a.known_exec_ids, b.known_exec_ids);
}

void ExpectSame(const VenueReport& a, const VenueReport& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.answers, b.answers);
  if (a.kind == VenueReport::Kind::kExecution) ExpectSame(a.execution, b.execution);
  if (a.kind == VenueReport::Kind::kAccount) ExpectSame(a.account, b.account);
  EXPECT_EQ(a.error.code(), b.error.code());
  EXPECT_EQ(a.error.message(), b.error.message());
  ASSERT_EQ(a.snapshot.positions.size(), b.snapshot.positions.size());
  for (size_t idx = 0; idx < a.snapshot.positions.size(); ++idx) {
    EXPECT_EQ(a.snapshot.positions[idx].ticket, b.snapshot.positions[idx].ticket);
    EXPECT_EQ(a.snapshot.positions[idx].instrument, b.snapshot.positions[idx].instrument);
    ExpectSame(a.snapshot.positions[idx].quantity, b.snapshot.positions[idx].quantity);
    ExpectSame(a.snapshot.positions[idx].open_price, b.snapshot.positions[idx].open_price);
  }
  ASSERT_EQ(a.snapshot.orders.size(), b.snapshot.orders.size());
  for (size_t idx = 0; idx < a.snapshot.orders.size(); ++idx) {
    const WorkingOrder& x = a.snapshot.orders[idx];
    const WorkingOrder& y = b.snapshot.orders[idx];
    EXPECT_EQ(x.client_order_id, y.client_order_id);
    EXPECT_EQ(x.ticket, y.ticket);
    EXPECT_EQ(x.instrument, y.instrument);
    EXPECT_EQ(x.side, y.side);
    ExpectSame(x.quantity, y.quantity);
    ExpectSame(x.filled, y.filled);
    EXPECT_EQ(x.type, y.type);
    ExpectSame(x.price, y.price);
    EXPECT_EQ(x.tif, y.tif);
  }
  EXPECT_EQ(a.snapshot.balance, b.snapshot.balance);
  EXPECT_EQ(a.terms, b.terms);
  ASSERT_EQ(a.recovered.size(), b.recovered.size());
  for (size_t idx = 0; idx < a.recovered.size(); ++idx) {
    ExpectSame(a.recovered[idx], b.recovered[idx]);
  }
}

template <typename T>
void RoundTrip(const T& message) {
  SCOPED_TRACE(static_cast<int>(T::kMessageType));
  const std::string bytes = Encode(message, /*sequence=*/123);
  auto header = PeekHeader(bytes);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->type, T::kMessageType);
  EXPECT_EQ(header->version, kSchemaVersion);
  EXPECT_EQ(header->sequence, 123u);
  auto decoded = Decode<T>(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSame(*decoded, message);
  // Deterministic: the same message gives the same bytes (publishes are de-duplicated by id, and
  // recorded sessions compare byte for byte).
  EXPECT_EQ(Encode(*decoded, 123), bytes);
}

// Every message type the kernel publishes, by its stable id; a new MessageType must be added here
// (the static_assert counts them).
using AllMessages = std::tuple<Tick, Bar, Fill, OrderUpdate, OrderSubmitted, BreakerChange,
                               ExecutionReport, AccountReport, MarketAlert, FeatureRow, Prediction,
                               AccountAtBar, BarDecision, VenueCommand, VenueReport>;
static_assert(std::tuple_size_v<AllMessages> == static_cast<size_t>(MessageType::kVenueReport),
              "every MessageType below kFirstTestMessage needs a round trip here");

TEST(MessagesTest, EveryMessageTypeRoundTrips) {
  RoundTrip(SampleTick());
  RoundTrip(SampleBar());
  RoundTrip(SampleFill());
  RoundTrip(SampleUpdate());
  RoundTrip(OrderSubmitted{SampleRequest(), Timestamp{5}});
  RoundTrip(SampleBreaker());
  RoundTrip(SampleReport());
  RoundTrip(SampleAccount());
  RoundTrip(SampleAlert());
  RoundTrip(SampleRow());
  RoundTrip(SamplePrediction());
  RoundTrip(SampleAccountAtBar());
  RoundTrip(SampleDecision());
  BarDecision none;
  none.bar_open = Timestamp{60'000'000'000};
  RoundTrip(none);
  RoundTrip(FeatureRow{SampleBar(), 0, false, {}});
  Prediction warming;
  warming.instrument = InstrumentId{1};
  warming.bar_open = Timestamp{60'000'000'000};
  RoundTrip(warming);
  for (const VenueCommand& command : SampleCommands()) RoundTrip(command);
  for (const VenueReport& report : SampleVenueReports()) RoundTrip(report);
}

TEST(MessagesTest, VenueMessagesRefuseWhatNoSideSends) {
  const auto refused = [](const auto& message, std::string_view what) {
    auto decoded = Decode<std::decay_t<decltype(message)>>(Encode(message));
    ASSERT_FALSE(decoded.ok()) << what;
    EXPECT_NE(decoded.status().message().find(std::string(what)), std::string::npos)
        << decoded.status().message();
  };
  VenueCommand nameless = SampleCommands()[0];
  nameless.id.clear();
  refused(nameless, "venue command: field id");
  VenueCommand unnumbered = SampleCommands()[0];
  unnumbered.order.id = OrderId{0};
  refused(unnumbered, "venue command: field order.id");
  VenueCommand unknown = SampleCommands()[0];
  unknown.kind = static_cast<VenueCommand::Kind>(7);
  refused(unknown, "venue command: field kind");
  VenueReport unasked = SampleVenueReports()[2];
  unasked.answers.clear();
  refused(unasked, "venue report: field answers");
  VenueReport no_leverage = SampleVenueReports()[2];
  no_leverage.terms->leverage = 0;
  refused(no_leverage, "venue report: field leverage");
  VenueReport no_currency = SampleVenueReports()[2];
  no_currency.terms->currency.clear();
  refused(no_currency, "venue report: field currency");
  EXPECT_FALSE(Decode<VenueReport>(Encode(SampleCommands()[0])).ok());
}

TEST(MessagesTest, StageMessagesRefuseWhatNoStageSends) {
  FeatureRow row = SampleRow();
  row.bar.period = Duration{0};
  auto bad_row = Decode<FeatureRow>(Encode(row));
  ASSERT_FALSE(bad_row.ok());
  EXPECT_NE(bad_row.status().message().find("feature row: field bar.period_ns: value 0"),
            std::string::npos)
      << bad_row.status().message();
  Prediction prediction = SamplePrediction();
  prediction.source.clear();
  auto bad_prediction = Decode<Prediction>(Encode(prediction));
  ASSERT_FALSE(bad_prediction.ok());
  EXPECT_NE(bad_prediction.status().message().find("prediction: field source"), std::string::npos)
      << bad_prediction.status().message();
  EXPECT_FALSE(Decode<Prediction>(Encode(SampleRow())).ok());

  AccountAtBar account = SampleAccountAtBar();
  account.bar_close = account.bar_open;
  auto bad_account = Decode<AccountAtBar>(Encode(account));
  ASSERT_FALSE(bad_account.ok());
  EXPECT_NE(bad_account.status().message().find("account at bar: field bar_close_ns"),
            std::string::npos)
      << bad_account.status().message();
  const auto refused = [](const BarDecision& decision, std::string_view field) {
    auto decoded = Decode<BarDecision>(Encode(decision));
    ASSERT_FALSE(decoded.ok()) << field;
    EXPECT_NE(decoded.status().message().find("bar decision: field " + std::string(field)),
              std::string::npos)
        << decoded.status().message();
  };
  BarDecision no_record = SampleDecision();
  no_record.record.clear();
  refused(no_record, "record");
  BarDecision no_action = SampleDecision();
  no_action.action = 4;
  refused(no_action, "action");
  BarDecision negative = SampleDecision();
  negative.lots = Quantity::FromRaw(-1, 2);
  refused(negative, "lots");
}

TEST(MessagesTest, ExecutionIdRoundTrips) {
  ExecutionReport report = SampleReport();
  report.exec_id = 4'000'000'123;  // a deal ticket: the order manager de-duplicates fills by it
  RoundTrip(report);
  EXPECT_EQ(Decode<ExecutionReport>(Encode(report))->exec_id, 4'000'000'123u);
}

TEST(MessagesTest, EveryEnumValueRoundTrips) {
  for (FillReason reason : {FillReason::kMarket, FillReason::kLimit, FillReason::kStop,
                            FillReason::kStopLoss, FillReason::kTakeProfit}) {
    Fill fill = SampleFill();
    fill.reason = reason;
    RoundTrip(fill);
  }
  for (int status = 0; status <= static_cast<int>(OrderStatus::kRejected); ++status) {
    for (int reason = 0; reason <= static_cast<int>(kLastRejectReason); ++reason) {
      OrderUpdate update = SampleUpdate();
      update.order.status = static_cast<OrderStatus>(status);
      update.order.reject_reason = static_cast<RejectReason>(reason);
      RoundTrip(update);
    }
  }
  OrderSubmitted bare{OrderRequest{}, Timestamp{}};  // every field at its default
  RoundTrip(bare);
  for (ExecKind kind :
       {ExecKind::kNew, ExecKind::kAccepted, ExecKind::kRejected, ExecKind::kPartiallyFilled,
        ExecKind::kFilled, ExecKind::kCanceled, ExecKind::kModified, ExecKind::kExpired}) {
    ExecutionReport report = SampleReport();
    report.kind = kind;
    RoundTrip(report);
  }
  RoundTrip(ExecutionReport{});
  for (AccountReportReason reason : {AccountReportReason::kUpdate, AccountReportReason::kMarginCall,
                                     AccountReportReason::kStopOut}) {
    AccountReport report = SampleAccount();
    report.reason = reason;
    RoundTrip(report);
  }
  for (AlertKind kind : {AlertKind::kSpreadSpike, AlertKind::kPriceGap, AlertKind::kStaleFeed,
                         AlertKind::kCrossedQuote, AlertKind::kFrozenQuote}) {
    for (AlertSeverity severity :
         {AlertSeverity::kInfo, AlertSeverity::kWarning, AlertSeverity::kCritical}) {
      for (AlertState state : {AlertState::kRaised, AlertState::kCleared, AlertState::kOneOff}) {
        MarketAlert alert = SampleAlert();
        alert.kind = kind;
        alert.severity = severity;
        alert.state = state;
        RoundTrip(alert);
        // The names are what travels: a renamed enumerator must fail this, not the wire.
        EXPECT_EQ(*ParseAlertKind(ToString(kind)), kind);
        EXPECT_EQ(*ParseAlertSeverity(ToString(severity)), severity);
        EXPECT_EQ(*ParseAlertState(ToString(state)), state);
      }
    }
  }
  RoundTrip(MarketAlert{});
}

TEST(MessagesTest, WrongTypeOrVersionIsRefused) {
  const std::string fill = Encode(SampleFill());
  auto as_tick = Decode<Tick>(fill);
  ASSERT_FALSE(as_tick.ok());
  EXPECT_EQ(as_tick.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(as_tick.status().message().find("message type 3, not 1"), std::string::npos)
      << as_tick.status().message();
  // The envelope's version field is field 2, a varint: the byte after its tag 0x10.
  std::string bumped = fill;
  const size_t at = bumped.find('\x10');
  ASSERT_NE(at, std::string::npos);
  bumped[at + 1] = 2;
  auto wrong_version = Decode<Fill>(bumped);
  ASSERT_FALSE(wrong_version.ok());
  EXPECT_NE(wrong_version.status().message().find("schema version 2"), std::string::npos)
      << wrong_version.status().message();
}

TEST(MessagesTest, GarbageIsAnErrorNotACrash) {
  const std::string bytes = Encode(SampleUpdate());
  EXPECT_FALSE(Decode<OrderUpdate>("\xff\xff\xff").ok());
  EXPECT_FALSE(PeekHeader("\xff\xff\xff").ok());
  // Every strict prefix either fails or, where protobuf accepts it, decodes to something else
  // without reading past the end (ASan checks that).
  for (size_t size = 0; size < bytes.size(); ++size) {
    (void)Decode<OrderUpdate>(std::string_view(bytes).substr(0, size));
  }
}

TEST(MessagesTest, OutOfRangeFieldsNameTheField) {
  // A fill reason no build knows.
  Fill fill = SampleFill();
  std::string bytes = Encode(fill);
  const size_t at = bytes.find("stop_loss");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 9, "stop_lost");
  auto decoded = Decode<Fill>(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("fill: field reason"), std::string::npos)
      << decoded.status().message();
  // A precision above the fixed-point scale.
  Tick tick = SampleTick();
  tick.bid = Price::FromRaw(1, 9);
  std::string tick_bytes = Encode(tick);
  // Fixed.precision is field 2 (tag 0x10) holding 9; make it 10.
  const size_t precision = tick_bytes.find(std::string("\x10\x09", 2));
  ASSERT_NE(precision, std::string::npos);
  tick_bytes[precision + 1] = 10;
  auto bad_tick = Decode<Tick>(tick_bytes);
  ASSERT_FALSE(bad_tick.ok());
  EXPECT_NE(bad_tick.status().message().find("tick: field bid: precision 10"), std::string::npos)
      << bad_tick.status().message();
  // A reject reason past the last one.
  OrderUpdate update = SampleUpdate();
  update.order.reject_reason = static_cast<RejectReason>(200);
  auto bad_update = Decode<OrderUpdate>(Encode(update));
  ASSERT_FALSE(bad_update.ok());
  EXPECT_NE(bad_update.status().message().find("field reject_reason: value 200"), std::string::npos)
      << bad_update.status().message();
  // A report kind no build knows.
  std::string report_bytes = Encode(SampleReport());
  const size_t kind_at = report_bytes.find("partially_filled");
  ASSERT_NE(kind_at, std::string::npos);
  report_bytes.replace(kind_at, 16, "partially_filler");
  auto bad_report = Decode<ExecutionReport>(report_bytes);
  ASSERT_FALSE(bad_report.ok());
  EXPECT_NE(bad_report.status().message().find("execution report: field kind"), std::string::npos)
      << bad_report.status().message();
  std::string account_bytes = Encode(SampleAccount());
  const size_t reason_at = account_bytes.find("stop_out");
  ASSERT_NE(reason_at, std::string::npos);
  account_bytes.replace(reason_at, 8, "stop_oot");
  auto bad_account = Decode<AccountReport>(account_bytes);
  ASSERT_FALSE(bad_account.ok());
  EXPECT_NE(bad_account.status().message().find("account report: field reason"), std::string::npos)
      << bad_account.status().message();
  std::string alert_bytes = Encode(SampleAlert());
  const size_t alert_kind_at = alert_bytes.find("spread_spike");
  ASSERT_NE(alert_kind_at, std::string::npos);
  alert_bytes.replace(alert_kind_at, 12, "spread_spiky");
  auto bad_alert = Decode<MarketAlert>(alert_bytes);
  ASSERT_FALSE(bad_alert.ok());
  EXPECT_NE(bad_alert.status().message().find("market alert: field kind: alert kind "
                                              "'spread_spiky' is not one of spread_spike"),
            std::string::npos)
      << bad_alert.status().message();
}

}  // namespace
}  // namespace aits::proto
