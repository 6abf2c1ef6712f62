#include "aits/proto/messages.h"

#include <string>

#include "aits/v1/messages.pb.h"

namespace aits::proto {
namespace {

// Accumulates the first decoding error, naming the message and field.
class Checker {
 public:
  explicit Checker(std::string_view what) : what_(what) {}
  void Fail(std::string_view field, const std::string& why) {
    if (status_.ok()) {
      status_ = DataLoss(what_ + ": field " + std::string(field) + ": " + why);
    }
  }
  template <typename E>
  E Enum(std::string_view field, uint64_t value, E last) {
    if (value > static_cast<uint64_t>(last)) {
      Fail(field, "value " + std::to_string(value) + " is out of range");
      return E{};
    }
    return static_cast<E>(value);
  }
  template <typename F>
  F Fixed(std::string_view field, const v1::Fixed& fixed) {
    if (fixed.precision() > static_cast<uint32_t>(kFixedDigits)) {
      Fail(field, "precision " + std::to_string(fixed.precision()) + " is above " +
                      std::to_string(kFixedDigits));
      return F{};
    }
    return F::FromRaw(fixed.raw(), static_cast<int>(fixed.precision()));
  }
  // The parsed value, or E{} with the parse's error named by the field.
  template <typename E>
  E Parsed(std::string_view field, const Result<E>& parsed) {
    if (parsed.ok()) return *parsed;
    Fail(field, parsed.status().message());
    return E{};
  }
  Status status() const { return status_; }

 private:
  std::string what_;
  Status status_;
};

template <typename F>
void PutFixed(F value, v1::Fixed* out) {
  out->set_raw(value.raw());
  out->set_precision(static_cast<uint32_t>(value.precision()));
}

void PutOhlc(const Ohlc& ohlc, v1::Ohlc* out) {
  PutFixed(ohlc.open, out->mutable_open());
  PutFixed(ohlc.high, out->mutable_high());
  PutFixed(ohlc.low, out->mutable_low());
  PutFixed(ohlc.close, out->mutable_close());
}

Ohlc GetOhlc(Checker& check, const v1::Ohlc& in) {
  Ohlc ohlc;
  ohlc.open = check.Fixed<Price>("open", in.open());
  ohlc.high = check.Fixed<Price>("high", in.high());
  ohlc.low = check.Fixed<Price>("low", in.low());
  ohlc.close = check.Fixed<Price>("close", in.close());
  return ohlc;
}

void PutTick(const Tick& tick, v1::Tick* out) {
  out->set_ts_ns(tick.ts.ns);
  PutFixed(tick.bid, out->mutable_bid());
  PutFixed(tick.ask, out->mutable_ask());
  out->set_bid_volume(tick.bid_volume);
  out->set_ask_volume(tick.ask_volume);
  out->set_instrument(tick.instrument.value);
}

Tick GetTick(Checker& check, const v1::Tick& in) {
  Tick tick;
  tick.ts = Timestamp{in.ts_ns()};
  tick.bid = check.Fixed<Price>("bid", in.bid());
  tick.ask = check.Fixed<Price>("ask", in.ask());
  tick.bid_volume = in.bid_volume();
  tick.ask_volume = in.ask_volume();
  tick.instrument.value = in.instrument();
  return tick;
}

void PutRequest(const OrderRequest& request, v1::OrderRequest* out) {
  out->set_instrument(request.instrument.value);
  out->set_side(static_cast<v1::Side>(request.side));
  out->set_type(static_cast<v1::OrderType>(request.type));
  out->set_tif(static_cast<v1::TimeInForce>(request.tif));
  PutFixed(request.quantity, out->mutable_quantity());
  if (request.price) PutFixed(*request.price, out->mutable_price());
  if (request.stop_loss) PutFixed(*request.stop_loss, out->mutable_stop_loss());
  if (request.take_profit) PutFixed(*request.take_profit, out->mutable_take_profit());
  out->set_client_order_id(request.client_order_id);
  out->set_tag(request.tag);
  out->set_position_ticket(request.position_ticket);
  out->set_chain_id(request.chain_id);
}

OrderRequest GetRequest(Checker& check, const v1::OrderRequest& in) {
  OrderRequest request;
  request.instrument.value = in.instrument();
  request.side = check.Enum("side", static_cast<uint64_t>(in.side()), Side::kSell);
  request.type = check.Enum("type", static_cast<uint64_t>(in.type()), OrderType::kStop);
  request.tif = check.Enum("tif", static_cast<uint64_t>(in.tif()), TimeInForce::kDay);
  request.quantity = check.Fixed<Quantity>("quantity", in.quantity());
  if (in.has_price()) request.price = check.Fixed<Price>("price", in.price());
  if (in.has_stop_loss()) request.stop_loss = check.Fixed<Price>("stop_loss", in.stop_loss());
  if (in.has_take_profit()) {
    request.take_profit = check.Fixed<Price>("take_profit", in.take_profit());
  }
  request.client_order_id = in.client_order_id();
  request.tag = in.tag();
  request.position_ticket = in.position_ticket();
  request.chain_id = in.chain_id();
  return request;
}

void PutOrder(const Order& order, v1::Order* out) {
  out->set_id(order.id.value);
  PutRequest(order.request, out->mutable_request());
  out->set_status(static_cast<uint32_t>(order.status));
  out->set_reject_reason(static_cast<uint32_t>(order.reject_reason));
  out->set_reject_detail(order.reject_detail);
  out->set_created_ns(order.created.ns);
  out->set_arrives_ns(order.arrives.ns);
  out->set_updated_ns(order.updated.ns);
  PutFixed(order.filled, out->mutable_filled());
  PutFixed(order.avg_fill_price, out->mutable_avg_fill_price());
  out->set_venue_order_id(order.venue_order_id);
  out->set_position_ticket(order.position_ticket);
}

Order GetOrder(Checker& check, const v1::Order& in) {
  Order order;
  order.id.value = in.id();
  order.request = GetRequest(check, in.request());
  order.status = check.Enum("status", in.status(), OrderStatus::kRejected);
  order.reject_reason = check.Enum("reject_reason", in.reject_reason(), kLastRejectReason);
  order.reject_detail = in.reject_detail();
  order.created = Timestamp{in.created_ns()};
  order.arrives = Timestamp{in.arrives_ns()};
  order.updated = Timestamp{in.updated_ns()};
  order.filled = check.Fixed<Quantity>("filled", in.filled());
  order.avg_fill_price = check.Fixed<Price>("avg_fill_price", in.avg_fill_price());
  order.venue_order_id = in.venue_order_id();
  order.position_ticket = in.position_ticket();
  return order;
}

void PutBar(const Bar& bar, v1::Bar* out) {
  out->set_instrument(bar.instrument.value);
  out->set_period_ns(bar.period.ns);
  out->set_open_time_ns(bar.open_time.ns);
  PutOhlc(bar.bid, out->mutable_bid());
  PutOhlc(bar.ask, out->mutable_ask());
  PutOhlc(bar.mid, out->mutable_mid());
  out->set_tick_count(bar.tick_count);
  out->set_volume(bar.volume);
}

Bar GetBar(Checker& check, const v1::Bar& in) {
  Bar bar;
  bar.instrument.value = in.instrument();
  bar.period = Duration{in.period_ns()};
  bar.open_time = Timestamp{in.open_time_ns()};
  bar.bid = GetOhlc(check, in.bid());
  bar.ask = GetOhlc(check, in.ask());
  bar.mid = GetOhlc(check, in.mid());
  bar.tick_count = in.tick_count();
  bar.volume = in.volume();
  return bar;
}

void PutExecutionReport(const ExecutionReport& message, v1::ExecutionReport* out) {
  out->set_kind(std::string(ToString(message.kind)));
  out->set_order_id(message.order_id.value);
  out->set_client_order_id(message.client_order_id);
  out->set_venue_order_id(message.venue_order_id);
  out->set_position_ticket(message.position_ticket);
  out->set_instrument(message.instrument.value);
  out->set_side(static_cast<v1::Side>(message.side));
  out->set_type(static_cast<v1::OrderType>(message.type));
  out->set_tif(static_cast<v1::TimeInForce>(message.tif));
  PutFixed(message.quantity, out->mutable_quantity());
  PutFixed(message.price, out->mutable_price());
  out->set_commission_raw(message.commission.raw());
  out->set_fill_reason(std::string(ToString(message.fill_reason)));
  out->set_reject_reason(static_cast<uint32_t>(message.reject_reason));
  if (message.stop_loss) PutFixed(*message.stop_loss, out->mutable_stop_loss());
  if (message.take_profit) PutFixed(*message.take_profit, out->mutable_take_profit());
  out->set_text(message.text);
  out->set_ts_ns(message.ts.ns);
  out->set_exec_id(message.exec_id);
}

void PutAccountReport(const AccountReport& message, v1::AccountReport* out) {
  out->set_reason(std::string(ToString(message.reason)));
  out->set_balance_raw(message.balance.raw());
  out->set_equity_raw(message.equity.raw());
  out->set_margin_raw(message.margin.raw());
  out->set_free_margin_raw(message.free_margin.raw());
  out->set_margin_level(message.margin_level);
  out->set_ts_ns(message.ts.ns);
}

ExecutionReport GetExecutionReport(Checker& check, const v1::ExecutionReport& in) {
  ExecutionReport report;
  report.kind = check.Parsed("kind", ParseExecKind(in.kind()));
  report.order_id.value = in.order_id();
  report.client_order_id = in.client_order_id();
  report.venue_order_id = in.venue_order_id();
  report.position_ticket = in.position_ticket();
  report.instrument.value = in.instrument();
  report.side = check.Enum("side", static_cast<uint64_t>(in.side()), Side::kSell);
  report.type = check.Enum("type", static_cast<uint64_t>(in.type()), OrderType::kStop);
  report.tif = check.Enum("tif", static_cast<uint64_t>(in.tif()), TimeInForce::kDay);
  report.quantity = check.Fixed<Quantity>("quantity", in.quantity());
  report.price = check.Fixed<Price>("price", in.price());
  report.commission = Money::FromRaw(in.commission_raw());
  report.fill_reason = check.Parsed("fill_reason", ParseFillReason(in.fill_reason()));
  report.reject_reason = check.Enum("reject_reason", in.reject_reason(), kLastRejectReason);
  if (in.has_stop_loss()) report.stop_loss = check.Fixed<Price>("stop_loss", in.stop_loss());
  if (in.has_take_profit()) {
    report.take_profit = check.Fixed<Price>("take_profit", in.take_profit());
  }
  report.text = in.text();
  report.ts = Timestamp{in.ts_ns()};
  report.exec_id = in.exec_id();
  return report;
}

AccountReport GetAccountReport(Checker& check, const v1::AccountReport& in) {
  AccountReport report;
  report.reason = check.Parsed("reason", ParseAccountReportReason(in.reason()));
  report.balance = Money::FromRaw(in.balance_raw());
  report.equity = Money::FromRaw(in.equity_raw());
  report.margin = Money::FromRaw(in.margin_raw());
  report.free_margin = Money::FromRaw(in.free_margin_raw());
  report.margin_level = in.margin_level();
  report.ts = Timestamp{in.ts_ns()};
  return report;
}

std::string Wrap(MessageType type, const google::protobuf::MessageLite& payload,
                 uint64_t sequence) {
  v1::Envelope envelope;
  envelope.set_type(static_cast<uint32_t>(type));
  envelope.set_version(kSchemaVersion);
  envelope.set_sequence(sequence);
  payload.SerializeToString(envelope.mutable_payload());
  return envelope.SerializeAsString();
}

// Parses the envelope and its payload as `Pb`, checking that it holds a T.
template <typename T, typename Pb>
Status Unwrap(std::string_view bytes, std::string_view what, Pb* payload) {
  v1::Envelope envelope;
  if (!envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return DataLoss(std::string(what) + ": not a message envelope (" +
                    std::to_string(bytes.size()) + " bytes)");
  }
  if (envelope.type() != static_cast<uint32_t>(T::kMessageType)) {
    return DataLoss(std::string(what) + ": the envelope holds message type " +
                    std::to_string(envelope.type()) + ", not " +
                    std::to_string(static_cast<uint32_t>(T::kMessageType)));
  }
  if (envelope.version() != kSchemaVersion) {
    return DataLoss(std::string(what) + ": schema version " + std::to_string(envelope.version()) +
                    " is not " + std::to_string(kSchemaVersion));
  }
  if (!payload->ParseFromString(envelope.payload())) {
    return DataLoss(std::string(what) + ": the payload does not parse");
  }
  return Status::Ok();
}

}  // namespace

std::string Encode(const Tick& message, uint64_t sequence) {
  v1::Tick out;
  PutTick(message, &out);
  return Wrap(Tick::kMessageType, out, sequence);
}

std::string Encode(const Bar& message, uint64_t sequence) {
  v1::Bar out;
  PutBar(message, &out);
  return Wrap(Bar::kMessageType, out, sequence);
}

std::string Encode(const Fill& message, uint64_t sequence) {
  v1::Fill out;
  out.set_order_id(message.order_id.value);
  out.set_client_order_id(message.client_order_id);
  out.set_instrument(message.instrument.value);
  out.set_side(static_cast<v1::Side>(message.side));
  PutFixed(message.quantity, out.mutable_quantity());
  PutFixed(message.price, out.mutable_price());
  out.set_commission_raw(message.commission.raw());
  out.set_ts_ns(message.ts.ns);
  out.set_reason(std::string(ToString(message.reason)));
  out.set_position_ticket(message.position_ticket);
  return Wrap(Fill::kMessageType, out, sequence);
}

std::string Encode(const OrderSubmitted& message, uint64_t sequence) {
  v1::OrderSubmitted out;
  PutRequest(message.request, out.mutable_request());
  out.set_ts_ns(message.ts.ns);
  return Wrap(OrderSubmitted::kMessageType, out, sequence);
}

std::string Encode(const OrderUpdate& message, uint64_t sequence) {
  v1::OrderUpdate out;
  PutOrder(message.order, out.mutable_order());
  return Wrap(OrderUpdate::kMessageType, out, sequence);
}

std::string Encode(const BreakerChange& message, uint64_t sequence) {
  v1::BreakerChange out;
  out.set_ts_ns(message.ts.ns);
  out.set_from(std::string(ToString(message.from)));
  out.set_to(std::string(ToString(message.to)));
  out.set_manual(message.manual);
  out.set_rule(message.rule);
  out.set_detail(message.detail);
  return Wrap(BreakerChange::kMessageType, out, sequence);
}

std::string Encode(const ExecutionReport& message, uint64_t sequence) {
  v1::ExecutionReport out;
  PutExecutionReport(message, &out);
  return Wrap(ExecutionReport::kMessageType, out, sequence);
}

std::string Encode(const AccountReport& message, uint64_t sequence) {
  v1::AccountReport out;
  PutAccountReport(message, &out);
  return Wrap(AccountReport::kMessageType, out, sequence);
}

std::string Encode(const MarketAlert& message, uint64_t sequence) {
  v1::MarketAlert out;
  out.set_id(message.id);
  out.set_kind(std::string(ToString(message.kind)));
  out.set_severity(std::string(ToString(message.severity)));
  out.set_state(std::string(ToString(message.state)));
  out.set_instrument(message.instrument.value);
  out.set_symbol(message.symbol);
  out.set_start_ns(message.start.ns);
  out.set_end_ns(message.end.ns);
  out.set_ts_ns(message.ts.ns);
  out.set_value(message.value);
  out.set_threshold(message.threshold);
  out.set_detail(message.detail);
  return Wrap(MarketAlert::kMessageType, out, sequence);
}

std::string Encode(const FeatureRow& message, uint64_t sequence) {
  v1::FeatureRow out;
  PutBar(message.bar, out.mutable_bar());
  out.set_ready(message.ready);
  out.mutable_row()->Add(message.row.begin(), message.row.end());
  out.set_index(message.index);
  return Wrap(FeatureRow::kMessageType, out, sequence);
}

std::string Encode(const Prediction& message, uint64_t sequence) {
  v1::Prediction out;
  out.set_instrument(message.instrument.value);
  out.set_bar_open_ns(message.bar_open.ns);
  out.set_ready(message.ready);
  out.set_strength(message.strength);
  out.set_confidence(message.confidence);
  out.set_anomaly(message.anomaly);
  out.set_regime(message.regime);
  out.set_source(message.source);
  out.set_described(message.described);
  out.set_explained(message.explained);
  out.set_index(message.index);
  return Wrap(Prediction::kMessageType, out, sequence);
}

std::string Encode(const AccountAtBar& message, uint64_t sequence) {
  v1::AccountAtBar out;
  out.set_instrument(message.instrument.value);
  out.set_bar_open_ns(message.bar_open.ns);
  out.set_bar_close_ns(message.bar_close.ns);
  out.set_quoted(message.has_quote);
  PutTick(message.quote, out.mutable_quote());
  out.set_atr(message.atr);
  PutFixed(message.position, out.mutable_position());
  PutFixed(message.pending, out.mutable_pending());
  out.set_equity_raw(message.equity.raw());
  out.set_value_per_price_unit(message.value_per_price_unit);
  return Wrap(AccountAtBar::kMessageType, out, sequence);
}

std::string Encode(const BarDecision& message, uint64_t sequence) {
  v1::BarDecision out;
  out.set_instrument(message.instrument.value);
  out.set_bar_open_ns(message.bar_open.ns);
  out.set_decided(message.decided);
  out.set_action(message.action);
  out.set_side(static_cast<v1::Side>(message.side));
  PutFixed(message.lots, out.mutable_lots());
  if (message.stop_loss) PutFixed(*message.stop_loss, out.mutable_stop_loss());
  if (message.take_profit) PutFixed(*message.take_profit, out.mutable_take_profit());
  out.set_record(message.record);
  return Wrap(BarDecision::kMessageType, out, sequence);
}

std::string Encode(const VenueCommand& message, uint64_t sequence) {
  v1::VenueCommand out;
  out.set_kind(std::string(ToString(message.kind)));
  out.set_id(message.id);
  PutOrder(message.order, out.mutable_order());
  out.set_order_id(message.order_id.value);
  out.set_venue_order_id(message.venue_order_id);
  out.set_ts_ns(message.ts.ns);
  out.set_instrument(message.instrument.value);
  out.set_by_ticket(message.by_ticket);
  out.set_position_ticket(message.position_ticket);
  if (message.stop_loss) PutFixed(*message.stop_loss, out.mutable_stop_loss());
  if (message.take_profit) PutFixed(*message.take_profit, out.mutable_take_profit());
  for (const Order& order : message.unfinished) PutOrder(order, out.add_unfinished());
  out.set_venue_from_msc(message.venue_from_msc);
  out.mutable_known_exec_ids()->Add(message.known_exec_ids.begin(), message.known_exec_ids.end());
  return Wrap(VenueCommand::kMessageType, out, sequence);
}

std::string Encode(const VenueReport& message, uint64_t sequence) {
  v1::VenueReport out;
  out.set_kind(std::string(ToString(message.kind)));
  out.set_answers(message.answers);
  if (message.kind == VenueReport::Kind::kExecution) {
    PutExecutionReport(message.execution, out.mutable_execution());
  }
  if (message.kind == VenueReport::Kind::kAccount) {
    PutAccountReport(message.account, out.mutable_account());
  }
  out.set_error_code(static_cast<uint32_t>(message.error.code()));
  out.set_error(message.error.message());
  for (const HeldPosition& position : message.snapshot.positions) {
    v1::HeldPosition* held = out.add_positions();
    held->set_ticket(position.ticket);
    held->set_instrument(position.instrument.value);
    PutFixed(position.quantity, held->mutable_quantity());
    PutFixed(position.open_price, held->mutable_open_price());
  }
  for (const WorkingOrder& order : message.snapshot.orders) {
    v1::WorkingOrder* working = out.add_orders();
    working->set_client_order_id(order.client_order_id);
    working->set_ticket(order.ticket);
    working->set_instrument(order.instrument.value);
    working->set_side(static_cast<v1::Side>(order.side));
    PutFixed(order.quantity, working->mutable_quantity());
    PutFixed(order.filled, working->mutable_filled());
    working->set_type(static_cast<v1::OrderType>(order.type));
    if (order.price) PutFixed(*order.price, working->mutable_price());
    working->set_tif(static_cast<v1::TimeInForce>(order.tif));
  }
  if (message.snapshot.balance) out.set_balance_raw(message.snapshot.balance->raw());
  if (message.terms) {
    out.set_currency(message.terms->currency);
    out.set_leverage(message.terms->leverage);
    out.set_hedging(message.terms->hedging);
  }
  for (const ExecutionReport& report : message.recovered) {
    PutExecutionReport(report, out.add_recovered());
  }
  return Wrap(VenueReport::kMessageType, out, sequence);
}

Result<EnvelopeHeader> PeekHeader(std::string_view bytes) {
  v1::Envelope envelope;
  if (!envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return DataLoss("not a message envelope (" + std::to_string(bytes.size()) + " bytes)");
  }
  EnvelopeHeader header;
  header.type = static_cast<MessageType>(envelope.type());
  header.version = envelope.version();
  header.sequence = envelope.sequence();
  return header;
}

template <>
Result<Tick> Decode<Tick>(std::string_view bytes) {
  v1::Tick in;
  AITS_RETURN_IF_ERROR(Unwrap<Tick>(bytes, "tick", &in));
  Checker check("tick");
  const Tick tick = GetTick(check, in);
  AITS_RETURN_IF_ERROR(check.status());
  return tick;
}

template <>
Result<Bar> Decode<Bar>(std::string_view bytes) {
  v1::Bar in;
  AITS_RETURN_IF_ERROR(Unwrap<Bar>(bytes, "bar", &in));
  Checker check("bar");
  Bar bar = GetBar(check, in);
  AITS_RETURN_IF_ERROR(check.status());
  return bar;
}

template <>
Result<Fill> Decode<Fill>(std::string_view bytes) {
  v1::Fill in;
  AITS_RETURN_IF_ERROR(Unwrap<Fill>(bytes, "fill", &in));
  Checker check("fill");
  Fill fill;
  fill.order_id.value = in.order_id();
  fill.client_order_id = in.client_order_id();
  fill.instrument.value = in.instrument();
  fill.side = check.Enum("side", static_cast<uint64_t>(in.side()), Side::kSell);
  fill.quantity = check.Fixed<Quantity>("quantity", in.quantity());
  fill.price = check.Fixed<Price>("price", in.price());
  fill.commission = Money::FromRaw(in.commission_raw());
  fill.ts = Timestamp{in.ts_ns()};
  fill.position_ticket = in.position_ticket();
  fill.reason = check.Parsed("reason", ParseFillReason(in.reason()));
  AITS_RETURN_IF_ERROR(check.status());
  return fill;
}

template <>
Result<OrderSubmitted> Decode<OrderSubmitted>(std::string_view bytes) {
  v1::OrderSubmitted in;
  AITS_RETURN_IF_ERROR(Unwrap<OrderSubmitted>(bytes, "order submitted", &in));
  Checker check("order submitted");
  OrderSubmitted submitted;
  submitted.request = GetRequest(check, in.request());
  submitted.ts = Timestamp{in.ts_ns()};
  AITS_RETURN_IF_ERROR(check.status());
  return submitted;
}

template <>
Result<OrderUpdate> Decode<OrderUpdate>(std::string_view bytes) {
  v1::OrderUpdate in;
  AITS_RETURN_IF_ERROR(Unwrap<OrderUpdate>(bytes, "order update", &in));
  Checker check("order update");
  OrderUpdate update{GetOrder(check, in.order())};
  AITS_RETURN_IF_ERROR(check.status());
  return update;
}

template <>
Result<BreakerChange> Decode<BreakerChange>(std::string_view bytes) {
  v1::BreakerChange in;
  AITS_RETURN_IF_ERROR(Unwrap<BreakerChange>(bytes, "breaker change", &in));
  Checker check("breaker change");
  BreakerChange change;
  change.ts = Timestamp{in.ts_ns()};
  change.from = check.Parsed("from", ParseBreakerState(in.from()));
  change.to = check.Parsed("to", ParseBreakerState(in.to()));
  change.manual = in.manual();
  change.rule = in.rule();
  change.detail = in.detail();
  AITS_RETURN_IF_ERROR(check.status());
  return change;
}

template <>
Result<ExecutionReport> Decode<ExecutionReport>(std::string_view bytes) {
  v1::ExecutionReport in;
  AITS_RETURN_IF_ERROR(Unwrap<ExecutionReport>(bytes, "execution report", &in));
  Checker check("execution report");
  ExecutionReport report = GetExecutionReport(check, in);
  AITS_RETURN_IF_ERROR(check.status());
  return report;
}

template <>
Result<AccountReport> Decode<AccountReport>(std::string_view bytes) {
  v1::AccountReport in;
  AITS_RETURN_IF_ERROR(Unwrap<AccountReport>(bytes, "account report", &in));
  Checker check("account report");
  AccountReport report = GetAccountReport(check, in);
  AITS_RETURN_IF_ERROR(check.status());
  return report;
}

template <>
Result<MarketAlert> Decode<MarketAlert>(std::string_view bytes) {
  v1::MarketAlert in;
  AITS_RETURN_IF_ERROR(Unwrap<MarketAlert>(bytes, "market alert", &in));
  Checker check("market alert");
  MarketAlert alert;
  alert.id = in.id();
  alert.kind = check.Parsed("kind", ParseAlertKind(in.kind()));
  alert.severity = check.Parsed("severity", ParseAlertSeverity(in.severity()));
  alert.state = check.Parsed("state", ParseAlertState(in.state()));
  alert.instrument.value = in.instrument();
  alert.symbol = in.symbol();
  alert.start = Timestamp{in.start_ns()};
  alert.end = Timestamp{in.end_ns()};
  alert.ts = Timestamp{in.ts_ns()};
  alert.value = in.value();
  alert.threshold = in.threshold();
  alert.detail = in.detail();
  AITS_RETURN_IF_ERROR(check.status());
  return alert;
}

template <>
Result<FeatureRow> Decode<FeatureRow>(std::string_view bytes) {
  v1::FeatureRow in;
  AITS_RETURN_IF_ERROR(Unwrap<FeatureRow>(bytes, "feature row", &in));
  Checker check("feature row");
  FeatureRow row;
  row.bar = GetBar(check, in.bar());
  row.ready = in.ready();
  row.row.assign(in.row().begin(), in.row().end());
  row.index = in.index();
  if (row.bar.period.ns <= 0) {
    check.Fail("bar.period_ns", "value " + std::to_string(row.bar.period.ns) + " is not positive");
  }
  AITS_RETURN_IF_ERROR(check.status());
  return row;
}

template <>
Result<Prediction> Decode<Prediction>(std::string_view bytes) {
  v1::Prediction in;
  AITS_RETURN_IF_ERROR(Unwrap<Prediction>(bytes, "prediction", &in));
  Checker check("prediction");
  Prediction prediction;
  prediction.instrument.value = in.instrument();
  prediction.bar_open = Timestamp{in.bar_open_ns()};
  prediction.ready = in.ready();
  prediction.strength = in.strength();
  prediction.confidence = in.confidence();
  prediction.anomaly = in.anomaly();
  prediction.regime = in.regime();
  prediction.source = in.source();
  prediction.described = in.described();
  prediction.explained = in.explained();
  prediction.index = in.index();
  if (prediction.ready && prediction.source.empty()) check.Fail("source", "empty");
  AITS_RETURN_IF_ERROR(check.status());
  return prediction;
}

template <>
Result<AccountAtBar> Decode<AccountAtBar>(std::string_view bytes) {
  v1::AccountAtBar in;
  AITS_RETURN_IF_ERROR(Unwrap<AccountAtBar>(bytes, "account at bar", &in));
  Checker check("account at bar");
  AccountAtBar account;
  account.instrument.value = in.instrument();
  account.bar_open = Timestamp{in.bar_open_ns()};
  account.bar_close = Timestamp{in.bar_close_ns()};
  account.has_quote = in.quoted();
  account.quote = GetTick(check, in.quote());
  account.atr = in.atr();
  account.position = check.Fixed<Quantity>("position", in.position());
  account.pending = check.Fixed<Quantity>("pending", in.pending());
  account.equity = Money::FromRaw(in.equity_raw());
  account.value_per_price_unit = in.value_per_price_unit();
  if (account.bar_close <= account.bar_open) {
    check.Fail("bar_close_ns", "value " + std::to_string(account.bar_close.ns) +
                                   " is not after the bar's open " +
                                   std::to_string(account.bar_open.ns));
  }
  AITS_RETURN_IF_ERROR(check.status());
  return account;
}

template <>
Result<BarDecision> Decode<BarDecision>(std::string_view bytes) {
  v1::BarDecision in;
  AITS_RETURN_IF_ERROR(Unwrap<BarDecision>(bytes, "bar decision", &in));
  Checker check("bar decision");
  BarDecision decision;
  decision.instrument.value = in.instrument();
  decision.bar_open = Timestamp{in.bar_open_ns()};
  decision.decided = in.decided();
  // Action: kHold, kBuy, kSell, kClose (aits/trading/decision_engine.h).
  if (in.action() > 3)
    check.Fail("action", "value " + std::to_string(in.action()) + " is out of range");
  decision.action = static_cast<uint8_t>(in.action());
  decision.side = check.Enum("side", static_cast<uint64_t>(in.side()), Side::kSell);
  decision.lots = check.Fixed<Quantity>("lots", in.lots());
  if (in.has_stop_loss()) decision.stop_loss = check.Fixed<Price>("stop_loss", in.stop_loss());
  if (in.has_take_profit()) {
    decision.take_profit = check.Fixed<Price>("take_profit", in.take_profit());
  }
  decision.record = in.record();
  if (decision.decided && decision.record.empty()) check.Fail("record", "empty");
  if (decision.lots.raw() < 0) check.Fail("lots", "negative");
  AITS_RETURN_IF_ERROR(check.status());
  return decision;
}

template <>
Result<VenueCommand> Decode<VenueCommand>(std::string_view bytes) {
  v1::VenueCommand in;
  AITS_RETURN_IF_ERROR(Unwrap<VenueCommand>(bytes, "venue command", &in));
  Checker check("venue command");
  VenueCommand command;
  command.kind = check.Parsed("kind", ParseVenueCommandKind(in.kind()));
  command.id = in.id();
  if (command.id.empty()) check.Fail("id", "empty");
  command.order = GetOrder(check, in.order());
  command.order_id.value = in.order_id();
  command.venue_order_id = in.venue_order_id();
  command.ts = Timestamp{in.ts_ns()};
  command.instrument.value = in.instrument();
  command.by_ticket = in.by_ticket();
  command.position_ticket = in.position_ticket();
  if (in.has_stop_loss()) command.stop_loss = check.Fixed<Price>("stop_loss", in.stop_loss());
  if (in.has_take_profit()) {
    command.take_profit = check.Fixed<Price>("take_profit", in.take_profit());
  }
  for (const v1::Order& order : in.unfinished()) {
    command.unfinished.push_back(GetOrder(check, order));
  }
  command.venue_from_msc = in.venue_from_msc();
  command.known_exec_ids.assign(in.known_exec_ids().begin(), in.known_exec_ids().end());
  if (command.kind == VenueCommand::Kind::kSubmit && command.order.id.value == 0) {
    check.Fail("order.id", "0: a submitted order has the kernel's id");
  }
  if (command.kind == VenueCommand::Kind::kCancel && command.order_id.value == 0) {
    check.Fail("order_id", "0: a cancel names the kernel's order");
  }
  AITS_RETURN_IF_ERROR(check.status());
  return command;
}

template <>
Result<VenueReport> Decode<VenueReport>(std::string_view bytes) {
  v1::VenueReport in;
  AITS_RETURN_IF_ERROR(Unwrap<VenueReport>(bytes, "venue report", &in));
  Checker check("venue report");
  VenueReport report;
  report.kind = check.Parsed("kind", ParseVenueReportKind(in.kind()));
  report.answers = in.answers();
  const bool answer =
      report.kind == VenueReport::Kind::kSnapshot || report.kind == VenueReport::Kind::kRecovered;
  if (answer && report.answers.empty()) check.Fail("answers", "empty in an answer");
  if (report.kind == VenueReport::Kind::kExecution) {
    if (!in.has_execution()) check.Fail("execution", "missing");
    report.execution = GetExecutionReport(check, in.execution());
  }
  if (report.kind == VenueReport::Kind::kAccount) {
    if (!in.has_account()) check.Fail("account", "missing");
    report.account = GetAccountReport(check, in.account());
  }
  const auto code = check.Enum("error_code", in.error_code(), StatusCode::kDeadlineExceeded);
  if (code != StatusCode::kOk) report.error = Status(code, in.error());
  for (const v1::HeldPosition& held : in.positions()) {
    HeldPosition position;
    position.ticket = held.ticket();
    position.instrument.value = held.instrument();
    position.quantity = check.Fixed<Quantity>("positions.quantity", held.quantity());
    position.open_price = check.Fixed<Price>("positions.open_price", held.open_price());
    report.snapshot.positions.push_back(position);
  }
  for (const v1::WorkingOrder& working : in.orders()) {
    WorkingOrder order;
    order.client_order_id = working.client_order_id();
    order.ticket = working.ticket();
    order.instrument.value = working.instrument();
    order.side = check.Enum("orders.side", static_cast<uint64_t>(working.side()), Side::kSell);
    order.quantity = check.Fixed<Quantity>("orders.quantity", working.quantity());
    order.filled = check.Fixed<Quantity>("orders.filled", working.filled());
    order.type = check.Enum("orders.type", static_cast<uint64_t>(working.type()), OrderType::kStop);
    if (working.has_price()) order.price = check.Fixed<Price>("orders.price", working.price());
    order.tif = check.Enum("orders.tif", static_cast<uint64_t>(working.tif()), TimeInForce::kDay);
    report.snapshot.orders.push_back(std::move(order));
  }
  if (in.has_balance_raw()) report.snapshot.balance = Money::FromRaw(in.balance_raw());
  if (in.has_currency()) {
    VenueTerms terms{in.currency(), in.leverage(), in.hedging()};
    if (terms.currency.empty()) check.Fail("currency", "empty");
    if (!(terms.leverage > 0))
      check.Fail("leverage", "not positive: " + std::to_string(terms.leverage));
    report.terms = std::move(terms);
  }
  for (const v1::ExecutionReport& recovered : in.recovered()) {
    report.recovered.push_back(GetExecutionReport(check, recovered));
  }
  AITS_RETURN_IF_ERROR(check.status());
  return report;
}

}  // namespace aits::proto
