#include "aits/trading/decision_strategy.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "aits/ml/shadow.h"

namespace aits::trading {
namespace {

void WritePrice(JsonWriter& out, std::string_view key, const std::optional<Price>& price) {
  if (price) {
    out.Member(key, price->AsDouble());
  } else {
    out.Key(key);
    out.Null();
  }
}

// The order's part of a decision record: what was sent and what became of it so far.
void WriteOrder(JsonWriter& out, const Order& order) {
  out.BeginObject();
  out.Member("id", order.id.value);
  out.Member("client_order_id", order.request.client_order_id);
  out.Member("side", ToString(order.request.side));
  out.Member("lots", order.request.quantity.AsDouble());
  // Hedging accounts only: the position this order closes (a netting record reads as before).
  if (order.request.position_ticket != 0) {
    out.Member("position_ticket", order.request.position_ticket);
  }
  out.Member("status", ToString(order.status));
  out.Key("risk");
  out.BeginObject();
  const bool risk_rejected = IsRiskReject(order.reject_reason);
  out.Member("passed", !risk_rejected);
  if (risk_rejected) {
    out.Member("reason", ToString(order.reject_reason));
    out.Member("detail", order.reject_detail);
  }
  out.EndObject();
  if (order.status == OrderStatus::kRejected && !risk_rejected) {
    out.Member("venue_reject", ToString(order.reject_reason));
  }
  if (order.status == OrderStatus::kFilled)
    out.Member("fill_price", order.avg_fill_price.AsDouble());
  out.EndObject();
}

}  // namespace

void WriteDecisionMembers(JsonWriter& out, uint64_t number, const Instrument& instrument,
                          const decision::Signal& signal, std::string_view source_name,
                          const std::function<void(JsonWriter&, bool explain)>& describe,
                          const decision::MarketState& market, const decision::Decision& d,
                          decision::SizingMode sizing) {
  out.Member("decision", number);
  out.Member("time", FormatIso8601(signal.ts));
  out.Member("symbol", instrument.symbol);
  out.Member("action", decision::ToString(d.action));
  out.Member("reason", d.reason);
  out.Key("signal");
  out.BeginObject();
  out.Member("source", source_name);
  out.Member("strength", signal.strength);
  out.Member("confidence", signal.confidence);
  out.Member("anomaly", signal.anomaly);
  out.Member("regime", signal.regime);
  describe(out, /*explain=*/Trades(d));
  out.EndObject();
  out.Key("market");
  out.BeginObject();
  out.Member("bid", market.quote.bid.AsDouble());
  out.Member("ask", market.quote.ask.AsDouble());
  out.Member(
      "spread_points",
      static_cast<double>(market.quote.Spread().raw()) /
          static_cast<double>(instrument.tick_size.raw() > 0 ? instrument.tick_size.raw() : 1));
  out.Member("atr", market.atr);
  out.Member("position", market.position.AsDouble());
  out.Member("pending", market.pending.AsDouble());
  out.Member("equity", market.equity.AsDouble());
  out.EndObject();
  out.Key("filters");
  out.BeginArray();
  for (size_t idx = 0; idx < d.filter_count; ++idx) {
    const decision::FilterOutcome& f = d.filters[idx];
    out.BeginObject();
    out.Member("name", f.name);
    out.Member("passed", f.passed);
    out.Member("value", f.value);
    out.Member("limit", f.limit);
    out.EndObject();
  }
  out.EndArray();
  if (d.blackout != nullptr) {
    out.Key("blackout");
    out.BeginObject();
    out.Member("title", d.blackout->title);
    out.Member("currency", d.blackout->currency);
    out.Member("at", FormatIso8601(d.blackout->at));
    out.EndObject();
  }
  out.Key("sizing");
  out.BeginObject();
  out.Member("mode", decision::ToString(sizing));
  out.Member("raw_lots", d.raw_lots);
  out.Member("scaled_lots", d.scaled_lots);
  out.Member("lots", d.lots.AsDouble());
  WritePrice(out, "stop_loss", d.stop_loss);
  WritePrice(out, "take_profit", d.take_profit);
  out.EndObject();
}

DecisionStrategy::DecisionStrategy(const Instrument& instrument,
                                   std::unique_ptr<SignalSource> source,
                                   decision::DecisionEngine engine, DecisionStrategyOptions options,
                                   DecisionSink sink)
    : DecisionStrategy(instrument, std::move(source), nullptr, std::move(engine),
                       std::move(options), std::move(sink)) {}

DecisionStrategy::DecisionStrategy(const Instrument& instrument,
                                   std::unique_ptr<RemoteDecider> remote,
                                   decision::DecisionEngine engine, DecisionStrategyOptions options,
                                   DecisionSink sink)
    : DecisionStrategy(instrument, nullptr, std::move(remote), std::move(engine),
                       std::move(options), std::move(sink)) {}

DecisionStrategy::DecisionStrategy(const Instrument& instrument,
                                   std::unique_ptr<SignalSource> source,
                                   std::unique_ptr<RemoteDecider> remote,
                                   decision::DecisionEngine engine, DecisionStrategyOptions options,
                                   DecisionSink sink)
    : instrument_(instrument),
      source_(std::move(source)),
      remote_(std::move(remote)),
      engine_(std::move(engine)),
      options_(std::move(options)),
      sink_(std::move(sink)),
      name_(source_ != nullptr ? "decision:" + std::string(source_->name()) : "decision:remote"),
      atr_(engine_.config().atr_period) {
  record_.reserve(4096);
  client_id_.reserve(32);
}

bool DecisionStrategy::Measure(decision::MarketState* market) {
  const std::optional<Tick> quote = context().LastQuote(instrument_.id);
  if (!quote) return false;
  market->quote = *quote;
  market->atr = atr_.Value();
  market->position = context().position(instrument_.id).quantity;
  market->pending = context().PendingLots(instrument_.id);
  market->equity = context().account().equity;
  market->value_per_price_unit =
      context()
          .ToAccount(instrument_.id, Money::FromRaw(instrument_.contract_size * kMoneyScale))
          .AsDouble();
  return true;
}

void DecisionStrategy::OnBar(const Bar& bar) {
  if (bar.instrument != instrument_.id) return;
  atr_.Update(bar.mid.high.AsDouble(), bar.mid.low.AsDouble(), bar.mid.close.AsDouble());
  if (remote_ != nullptr) {
    DecideRemotely(bar);
    return;
  }
  decision::Signal signal;
  if (!source_->OnBar(bar, &signal)) return;
  if (watch_sink_ && source_->watch() != nullptr) ObserveWatch(signal.ts, *source_->watch());
  if (shadow_sink_ && !shadow_reported_) ReportShadow(signal.ts);
  decision::MarketState market;
  if (!Measure(&market)) return;
  last_ = engine_.Decide(signal, instrument_, market);
  last_signal_ = signal;
  has_signal_ = true;
  ++decisions_;
  ++by_action_[static_cast<size_t>(last_.action)];
  Send();
  if (sink_ && (options_.record_holds || !orders_.empty())) {
    Record(signal.ts, [&](JsonWriter& out) {
      WriteDecisionMembers(
          out, decisions_, instrument_, signal, source_->name(),
          [this](JsonWriter& to, bool explain) { source_->Describe(to, explain); }, market, last_,
          engine_.config().sizing);
    });
  }
}

void DecisionStrategy::SetWatchSink(DecisionSink sink, ml::WatchPolicyConfig config) {
  watch_sink_ = std::move(sink);
  policy_ = ml::WatchPolicy(config);
}

void DecisionStrategy::ObserveWatch(Timestamp ts, const ml::ModelWatch& watch) {
  const ml::WatchVerdict previous = policy_.verdict();
  const std::optional<ml::WatchAssessment> change = policy_.Observe(watch);
  if (!change) return;
  std::string json;
  JsonWriter out(&json);
  out.BeginObject();
  out.Member("symbol", instrument_.symbol);
  out.Member("verdict", ml::ToString(change->verdict));
  out.Member("previous", ml::ToString(previous));
  out.Member("reason", change->reason);
  out.Member("drifted_inputs", static_cast<uint64_t>(change->drifted_inputs));
  out.Member("inputs", static_cast<uint64_t>(change->inputs));
  out.Member("score_psi", change->score_psi);
  out.Member("live_accuracy", change->live_accuracy);
  out.Member("validation_accuracy", watch.reference().validation_accuracy);
  out.Member("calls", static_cast<uint64_t>(change->calls));
  out.Member("bars", watch.bars());
  out.EndObject();
  watch_sink_(ts, json);
}

bool DecisionStrategy::SettleShadow(std::string_view candidate, bool promoted) {
  if (source_ == nullptr || !source_->SettleShadow(candidate, promoted)) return false;
  if (promoted) policy_ = ml::WatchPolicy(policy_.config());
  return true;
}

Status DecisionStrategy::StartShadow(std::string_view candidate, std::string_view checksum,
                                     uint64_t min_calls) {
  if (source_ == nullptr) {
    return Status(StatusCode::kFailedPrecondition,
                  "cannot try " + std::string(candidate) +
                      ": this session's decisions are made by the decision role");
  }
  AITS_RETURN_IF_ERROR(source_->StartShadow(candidate, checksum, min_calls));
  shadow_reported_ = false;
  return Status::Ok();
}

std::string DecisionStrategy::ShadowJson() const {
  const ml::ShadowTrial* trial = source_ != nullptr ? source_->shadow() : nullptr;
  if (trial == nullptr) return {};
  std::string json;
  JsonWriter out(&json);
  out.BeginObject();
  out.Member("symbol", instrument_.symbol);
  out.Member("candidate", source_->shadow_candidate());
  out.Member("production", source_->shadow_production());
  out.Member("min_calls", static_cast<uint64_t>(trial->config().min_calls));
  out.EndObject();
  // The record as the registry keeps it (metrics.shadow), spliced in whole.
  json.pop_back();
  json += ",\"record\":" + ml::ToJson(trial->Record()).dump() + "}";
  return json;
}

void DecisionStrategy::ReportShadow(Timestamp ts) {
  const ml::ShadowTrial* trial = source_->shadow();
  if (trial == nullptr || trial->running()) return;
  shadow_reported_ = true;
  shadow_sink_(ts, ShadowJson());
}

void DecisionStrategy::DecideRemotely(const Bar& bar) {
  decision::MarketState market;
  const bool measured = Measure(&market);
  if (!remote_->Decide(bar, measured ? &market : nullptr, &remote_decision_)) return;
  if (!remote_decision_.decided) return;
  last_ = remote_decision_.decision;
  ++decisions_;
  ++by_action_[static_cast<size_t>(last_.action)];
  Send();
  if (sink_ && (options_.record_holds || !orders_.empty())) {
    Record(bar.CloseTime(), [this](JsonWriter& out) { out.RawMembers(remote_decision_.record); });
  }
}

void DecisionStrategy::Send() {
  orders_.clear();
  if (!Trades(last_)) return;
  OrderRequest request;
  request.instrument = instrument_.id;
  request.side = last_.side;
  request.type = OrderType::kMarket;
  request.quantity = last_.lots;
  if (last_.action != decision::Action::kClose) {
    request.stop_loss = last_.stop_loss;
    request.take_profit = last_.take_profit;
  }
  request.tag = std::string(decision::ToString(last_.action));
  // One order per decision, except on a hedging account where closing positions by ticket
  // may take several (strategy::SubmitNetted): each gets the next client id, and the record
  // names them all.
  auto next_client_id = [this] {
    client_id_ = options_.client_id_prefix;
    client_id_ += '-';
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), ++orders_sent_).ptr;
    client_id_.append(digits, end);
    return client_id_;
  };
  sent_.clear();
  seen_.clear();
  awaiting_ = true;
  strategy::SubmitNetted(context(), request, next_client_id, &sent_);
  awaiting_ = false;
  for (strategy::SentOrder& sent : sent_) {
    auto seen = std::find_if(seen_.begin(), seen_.end(),
                             [&sent](const Order& order) { return order.id == sent.id; });
    if (seen != seen_.end()) {
      orders_.push_back(std::move(*seen));
      continue;
    }
    // Still travelling to the venue (latency): record it as submitted.
    Order& order = orders_.emplace_back();
    order.id = sent.id;
    order.request = std::move(sent.request);
    order.status = OrderStatus::kPendingNew;
    order.created = context().Now();
  }
}

void DecisionStrategy::OnOrderUpdate(const Order& order) {
  if (!awaiting_ || order.request.client_order_id != client_id_) return;
  if (!seen_.empty() && seen_.back().id == order.id) {
    seen_.back() = order;
  } else {
    seen_.push_back(order);
  }
}

template <typename Members>
void DecisionStrategy::Record(Timestamp ts, const Members& members) {
  record_.clear();
  JsonWriter out(&record_);
  out.BeginObject();
  members(out);
  if (!orders_.empty()) {
    out.Key("order");
    WriteOrder(out, orders_.back());
    if (orders_.size() > 1) {
      out.Key("orders");
      out.BeginArray();
      for (const Order& order : orders_) WriteOrder(out, order);
      out.EndArray();
    }
  }
  out.EndObject();
  sink_(ts, record_);
}

}  // namespace aits::trading
