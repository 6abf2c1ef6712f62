#include "aits/services/log_relay.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/resilience.h"
#include "aits/model/events.h"
#include "aits/persistence/codec.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/proto/messages.h"

namespace aits::services {
namespace {

// Messages per call of PublishInOrder: how much a failure sends again.
constexpr size_t kBatch = 512;

std::string RelayId(std::string_view market, uint64_t seq) {
  return std::string(market) + ":" + std::to_string(seq);
}

// The seq in a relayed message's id ("<market>:<seq>"); nullopt for an id this relay did not
// write.
std::optional<uint64_t> SeqOfId(std::string_view id, std::string_view market) {
  if (id.size() <= market.size() + 1 || !id.starts_with(market) || id[market.size()] != ':') {
    return std::nullopt;
  }
  const std::string_view digits = id.substr(market.size() + 1);
  uint64_t seq = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return seq;
}

// The proto envelope of an ORDERS event, its sequence the event's seq; and the order it is about
// (0: the venue's report of an order it does not know by id).
Result<std::pair<std::string, uint64_t>> OrdersMessage(const persistence::Event& event) {
  switch (event.type) {
    case persistence::EventType::kOrderSubmitted:
    case persistence::EventType::kOrderUpdate: {
      AITS_ASSIGN_OR_RETURN(Order order, persistence::DecodeOrder(event.payload));
      const uint64_t id = order.id.value;
      return std::pair{proto::Encode(OrderUpdate{std::move(order)}, event.seq), id};
    }
    case persistence::EventType::kFill: {
      AITS_ASSIGN_OR_RETURN(const Fill fill, persistence::DecodeFill(event.payload));
      return std::pair{proto::Encode(fill, event.seq), fill.order_id.value};
    }
    case persistence::EventType::kExecutionReport: {
      AITS_ASSIGN_OR_RETURN(const ExecutionReport report,
                            persistence::DecodeExecutionReport(event.payload));
      return std::pair{proto::Encode(report, event.seq), report.order_id.value};
    }
    default:
      return Internal("not an ORDERS event");
  }
}

// {"seq":…,"type":"…","ts":"…","event":<the payload as logged>}: the log's JSON events are
// objects written by AITS, carried as they are.
std::string AuditMessage(const persistence::Event& event) {
  std::string out = "{\"seq\":" + std::to_string(event.seq) + ",\"type\":\"";
  out += persistence::ToString(event.type);
  out += "\",\"ts\":\"" + FormatIso8601(event.ts) + "\",\"event\":";
  out += event.payload.empty() ? std::string("null") : event.payload;
  out += '}';
  return out;
}

}  // namespace

Status EnsureLogStreams(bus::MessageBus& bus, int replicas) {
  bus::StreamConfig config;
  config.name = std::string(kOrdersStream);
  config.subjects = {"orders.>"};
  config.replicas = replicas;
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  config.name = std::string(kAuditStream);
  config.subjects = {"audit.>"};
  return bus.AddStream(config);
}

RelayedTo RelayedToOf(persistence::EventType type) {
  using persistence::EventType;
  switch (type) {
    case EventType::kOrderSubmitted:
    case EventType::kOrderUpdate:
    case EventType::kFill:
    case EventType::kExecutionReport:
      return RelayedTo::kOrders;
    case EventType::kSessionStart:
    case EventType::kSessionStop:
    case EventType::kBreakerChange:
    case EventType::kCommand:
    case EventType::kReconciliation:
    case EventType::kDecision:
    case EventType::kModelVerdict:
    case EventType::kModelShadow:
      return RelayedTo::kAudit;
    case EventType::kTick:
    case EventType::kSignal:
    case EventType::kAccount:
    case EventType::kClock:
    case EventType::kAccountReport:
      return RelayedTo::kNowhere;
  }
  return RelayedTo::kNowhere;
}

LogRelay::LogRelay(bus::MessageBus& bus, std::string events, std::string market,
                   trace::Tracer* tracer, const trace::SpanIndex* orders)
    : bus_(bus),
      events_(std::move(events)),
      market_(std::move(market)),
      orders_subject_("orders." + market_),
      audit_subject_("audit." + market_),
      tracer_(tracer),
      orders_index_(orders) {}

Result<std::unique_ptr<LogRelay>> LogRelay::Create(bus::MessageBus& bus, std::string events,
                                                   std::string market, trace::Tracer* tracer,
                                                   const trace::SpanIndex* orders) {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market name", market));
  return std::unique_ptr<LogRelay>(
      new LogRelay(bus, std::move(events), std::move(market), tracer, orders));
}

std::string LogRelay::Traced(std::string_view name, const std::string& subject, uint64_t seq,
                             uint64_t order_id) {
  if (tracer_ == nullptr) return {};
  const trace::SpanContext order = order_id != 0 && orders_index_ != nullptr
                                       ? orders_index_->Get(order_id)
                                       : trace::SpanContext{};
  trace::Span span = tracer_->StartChild(name, trace::SpanKind::kProducer, order);
  if (span.recording()) {
    span.SetAttribute("messaging.destination.name", subject);
    span.SetAttribute("aits.seq", static_cast<int64_t>(seq));
    if (order_id != 0) span.SetAttribute("aits.order_id", static_cast<int64_t>(order_id));
  }
  tracer_->End(span);
  return span.traceparent();
}

Status LogRelay::Start() {
  Result<std::unique_ptr<persistence::EventStore>> log =
      persistence::OpenEventStoreAtReadOnly(events_);
  if (log.status().code() == StatusCode::kNotFound) return Status::Ok();  // not created yet
  AITS_RETURN_IF_ERROR(log.status());
  CircuitBreaker breaker("nats: the relay's last messages", {}, SystemWallClock());
  struct Held {
    std::string_view stream;
    const std::string* subject;
    uint64_t* last;
  };
  for (const Held& held_by : {Held{kOrdersStream, &orders_subject_, &orders_last_},
                              Held{kAuditStream, &audit_subject_, &audit_last_}}) {
    std::optional<bus::Delivery> held;
    AITS_RETURN_IF_ERROR(bus::Retried(breaker, [&] {
      Result<std::optional<bus::Delivery>> read =
          bus_.LastMessage(held_by.stream, *held_by.subject);
      if (read.ok()) held = std::move(read).value();
      return read.status();
    }));
    if (!held) continue;
    const std::optional<uint64_t> seq = SeqOfId(held->id, market_);
    if (!seq) {
      return FailedPrecondition(std::string(held_by.stream) + " " + *held_by.subject +
                                ": its last message (id \"" + held->id +
                                "\") was not relayed from a log of market " + market_);
    }
    *held_by.last = *seq;
  }
  next_ = std::min(orders_last_, audit_last_) + 1;
  stats_.last_seq = std::max(orders_last_, audit_last_);
  log_ = std::move(log).value();
  return Status::Ok();
}

Status LogRelay::Publish(std::string_view subject, std::vector<bus::OutgoingMessage>& batch) {
  CircuitBreaker breaker("nats: " + std::string(subject), {}, SystemWallClock());
  for (size_t at = 0; at < batch.size(); at += kBatch) {
    const std::span<const bus::OutgoingMessage> part(batch.data() + at,
                                                     std::min(kBatch, batch.size() - at));
    // One at a time, each acknowledged before the next: a pipelined batch may lose a message
    // while a later one lands (a cluster's leader change), and a relay restarted then would
    // start after the later one, leaving a hole. The relay is off the trading path; order
    // events come at most a few per bar.
    AITS_ASSIGN_OR_RETURN(const std::vector<bus::PublishAck> acks,
                          bus::PublishInOrder(bus_, part, breaker));
    for (const bus::PublishAck& ack : acks) stats_.stored += ack.duplicate ? 0 : 1;
    uint64_t& last = subject == orders_subject_ ? orders_last_ : audit_last_;
    last = *SeqOfId(part.back().id, market_);
    (subject == orders_subject_ ? stats_.orders : stats_.audit) += part.size();
  }
  return Status::Ok();
}

Status LogRelay::Relay() {
  if (log_ == nullptr) {
    AITS_RETURN_IF_ERROR(Start());
    if (log_ == nullptr) return Status::Ok();
  }
  // Payloads and ids first, the messages viewing them after: the views must not move.
  struct Out {
    std::vector<std::string> ids, payloads, traceparents;
  } orders, audit;
  uint64_t last_read = next_ - 1;
  AITS_RETURN_IF_ERROR(
      log_->Scan(next_,
                 [&](const persistence::Event& event) -> Status {
                   ++stats_.scanned;
                   last_read = event.seq;
                   const RelayedTo to = RelayedToOf(event.type);
                   if (to == RelayedTo::kOrders && event.seq > orders_last_) {
                     AITS_ASSIGN_OR_RETURN(auto message, OrdersMessage(event));
                     orders.ids.push_back(RelayId(market_, event.seq));
                     orders.payloads.push_back(std::move(message.first));
                     orders.traceparents.push_back(
                         Traced("orders.publish", orders_subject_, event.seq, message.second));
                   } else if (to == RelayedTo::kAudit && event.seq > audit_last_) {
                     audit.ids.push_back(RelayId(market_, event.seq));
                     audit.payloads.push_back(AuditMessage(event));
                     audit.traceparents.push_back(
                         Traced("audit.publish", audit_subject_, event.seq, 0));
                   }
                   return Status::Ok();
                 })
          .WithContext("relaying " + events_));
  for (const std::pair<Out*, const std::string*>& to :
       {std::pair<Out*, const std::string*>{&orders, &orders_subject_},
        {&audit, &audit_subject_}}) {
    std::vector<bus::OutgoingMessage> batch;
    batch.reserve(to.first->ids.size());
    for (size_t idx = 0; idx < to.first->ids.size(); ++idx) {
      batch.push_back(
          {*to.second, to.first->ids[idx], to.first->payloads[idx], to.first->traceparents[idx]});
    }
    AITS_RETURN_IF_ERROR(Publish(*to.second, batch));
  }
  next_ = last_read + 1;
  stats_.last_seq = std::max(stats_.last_seq, last_read);
  return Status::Ok();
}

}  // namespace aits::services
