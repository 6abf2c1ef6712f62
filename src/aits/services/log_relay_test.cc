// The owner's committed log on the bus (log_relay.h), over the in-process bus and a real
// nats-server: every order event, fill and audit event of a paper session once, in the log's
// order, with the log's seq; a relay that runs beside a session stopped and resumed, and one that
// restarts, neither skip nor repeat anything.
#include "aits/services/log_relay.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/persistence/pg_event_store.h"
#include "aits/proto/messages.h"
#include "aits/services/bus_session_test_util.h"
#include "aits/session/paper.h"

namespace aits::services {
namespace {

class LogRelayTest : public ::testing::TestWithParam<BusKind> {
 protected:
  void SetUp() override {
    const Status started = buses_.Start(GetParam());
    ASSERT_TRUE(started.ok()) << started.ToString();
    bus_ = buses_.Connect();
    ASSERT_NE(bus_, nullptr);
    ASSERT_TRUE(EnsureLogStreams(*bus_).ok());
  }

  // Every message of `stream` on `subject`, in stream order.
  std::vector<bus::Delivery> Held(std::string_view stream, const std::string& subject) {
    bus::ConsumerConfig config;
    config.stream = std::string(stream);
    config.filter_subject = subject;
    config.start = bus::StartAt::kFirst;
    auto consumer = bus_->Consume(config);
    EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
    std::vector<bus::Delivery> out;
    while (consumer.ok()) {
      auto got = (*consumer)->Fetch(256, Duration::Millis(300));
      if (!got.ok() || got->empty()) break;
      out.insert(out.end(), got->begin(), got->end());
    }
    return out;
  }

  // The log's events that the relay sends to ORDERS and to AUDIT, by seq.
  void ExpectTheLogOnTheBus(const std::string& log_location, const std::string& market) {
    auto log = persistence::OpenEventStoreAtReadOnly(log_location);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    std::vector<uint64_t> orders, audit;
    ASSERT_TRUE((*log)
                    ->Scan(1,
                           [&](const persistence::Event& event) {
                             const RelayedTo to = RelayedToOf(event.type);
                             if (to == RelayedTo::kOrders) orders.push_back(event.seq);
                             if (to == RelayedTo::kAudit) audit.push_back(event.seq);
                             return Status::Ok();
                           })
                    .ok());
    ASSERT_GT(orders.size(), 20u) << "the session should trade";
    std::vector<uint64_t> orders_held, audit_held;
    for (const bus::Delivery& message : Held(kOrdersStream, "orders." + market)) {
      auto header = proto::PeekHeader(message.payload);
      ASSERT_TRUE(header.ok()) << header.status().ToString();
      orders_held.push_back(header->sequence);
      EXPECT_EQ(message.id, market + ":" + std::to_string(header->sequence));
      if (header->type == MessageType::kFill) {
        EXPECT_TRUE(proto::Decode<Fill>(message.payload).ok());
      } else {
        EXPECT_EQ(header->type, MessageType::kOrderUpdate);
        EXPECT_TRUE(proto::Decode<OrderUpdate>(message.payload).ok());
      }
    }
    for (const bus::Delivery& message : Held(kAuditStream, "audit." + market)) {
      const nlohmann::json audit_event = nlohmann::json::parse(message.payload, nullptr, false);
      ASSERT_FALSE(audit_event.is_discarded()) << message.payload;
      audit_held.push_back(audit_event["seq"].get<uint64_t>());
      EXPECT_TRUE(audit_event["event"].is_object()) << message.payload;
    }
    EXPECT_EQ(orders_held, orders);
    EXPECT_EQ(audit_held, audit);
  }

  TestBuses buses_;
  std::shared_ptr<bus::MessageBus> bus_;
  session::TempDir tmp_;
};

TEST_P(LogRelayTest, EveryCommittedOrderFillAndAuditEventOnceInTheLogsOrder) {
  const std::string dir = tmp_.Sub("session");
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(session::BusySpec(8'000), dir)).ok());
  auto relay = LogRelay::Create(*bus_, dir + "/events.db", "m1");
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  ASSERT_TRUE((*relay)->Relay().ok());
  const RelayStats first = (*relay)->stats();
  EXPECT_EQ(first.stored, first.orders + first.audit);
  ExpectTheLogOnTheBus(dir + "/events.db", "m1");
  // Nothing new: nothing published.
  ASSERT_TRUE((*relay)->Relay().ok());
  EXPECT_EQ((*relay)->stats().orders + (*relay)->stats().audit, first.orders + first.audit);
  // A relay that restarts starts after what the streams hold.
  auto again = LogRelay::Create(*bus_, dir + "/events.db", "m1");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Relay().ok());
  EXPECT_EQ((*again)->stats().orders + (*again)->stats().audit, 0u);
  EXPECT_EQ((*again)->stats().last_seq, first.last_seq);
}

// The relay beside a session that stops and resumes: each call publishes what was committed
// since the one before, and in the end the streams hold the whole log once.
TEST_P(LogRelayTest, BesideASessionStoppedAndResumedEachEventOnce) {
  const std::string dir = tmp_.Sub("parts");
  const session::SessionSpec spec = session::BusySpec(9'000);
  auto relay = LogRelay::Create(*bus_, dir + "/events.db", "m2");
  ASSERT_TRUE(relay.ok());
  ASSERT_TRUE((*relay)->Relay().ok()) << "a log not created yet relays nothing";
  EXPECT_EQ((*relay)->stats().scanned, 0u);
  for (uint64_t part = 0; part < 3; ++part) {
    session::PaperOptions options = session::MaxSpeed(spec, dir);
    options.stop_after = 3'000;
    ASSERT_TRUE(session::RunPaper(options).ok());
    const uint64_t before = (*relay)->stats().orders + (*relay)->stats().audit;
    ASSERT_TRUE((*relay)->Relay().ok());
    EXPECT_GT((*relay)->stats().orders + (*relay)->stats().audit, before) << "part " << part;
  }
  ExpectTheLogOnTheBus(dir + "/events.db", "m2");
}

TEST_P(LogRelayTest, AMarketThatIsNoSubjectTokenAndAForeignStreamAreRefused) {
  EXPECT_EQ(LogRelay::Create(*bus_, "x.db", "bad market").status().code(),
            StatusCode::kInvalidArgument);
  const std::string dir = tmp_.Sub("foreign");
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(session::BusySpec(2'000), dir)).ok());
  ASSERT_TRUE(bus_->Publish("audit.m3", "someone-else-7", "{}").ok());
  auto relay = LogRelay::Create(*bus_, dir + "/events.db", "m3");
  ASSERT_TRUE(relay.ok());
  const Status refused = (*relay)->Relay();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("someone-else-7"), std::string::npos) << refused.ToString();
}

// Traced: a paper session's orders get spans (its kernel decides); the relay publishes each
// order's events under a span of its own, child of the order's, and every other message under a
// root: every message carries a traceparent.
TEST_P(LogRelayTest, TracedEveryMessageCarriesATraceparentAndAnOrdersEventsFollowItsSpan) {
  const std::string dir = tmp_.Sub("traced");
  std::filesystem::create_directories(dir);
  auto tracer = trace::Tracer::Open(
      {.service_name = "owner", .sample_ratio = 1, .file = dir + "/spans.jsonl"});
  ASSERT_TRUE(tracer.ok()) << tracer.status().ToString();
  trace::SpanIndex orders;
  session::PaperOptions options = session::MaxSpeed(session::BusySpec(8'000), dir);
  options.tracer = tracer->get();
  options.order_traces = &orders;
  ASSERT_TRUE(session::RunPaper(options).ok());
  auto relay = LogRelay::Create(*bus_, dir + "/events.db", "m4", tracer->get(), &orders);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  ASSERT_TRUE((*relay)->Relay().ok());
  (*tracer)->Flush();

  // The spans written: the order spans by order id, and every span's trace by its id.
  std::map<int64_t, std::string> order_trace;         // order id -> trace id
  std::map<std::string, std::string> publish_parent;  // orders.publish span id -> parent
  std::ifstream in(dir + "/spans.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json request = nlohmann::json::parse(line);
    for (const auto& span : request["resourceSpans"][0]["scopeSpans"][0]["spans"]) {
      if (span["name"] == "order") {
        for (const auto& attribute : span["attributes"]) {
          if (attribute["key"] == "aits.order_id") {
            order_trace[std::stoll(attribute["value"]["intValue"].get<std::string>())] =
                span["spanId"].get<std::string>();
          }
        }
      }
      if (span["name"] == "orders.publish") {
        publish_parent[span["spanId"].get<std::string>()] = span.value("parentSpanId", "");
      }
    }
  }
  ASSERT_FALSE(order_trace.empty()) << "the session's decisions should have made orders";
  size_t under_their_order = 0;
  for (const bus::Delivery& message : Held(kOrdersStream, "orders.m4")) {
    ASSERT_FALSE(message.traceparent.empty()) << message.id;
    auto context = trace::ParseTraceparent(message.traceparent);
    ASSERT_TRUE(context.ok()) << message.traceparent;
    const std::string span_id = trace::HexSpanId(context->span_id);
    ASSERT_TRUE(publish_parent.contains(span_id)) << "no orders.publish span " << span_id;
    uint64_t order_id = 0;
    if (auto update = proto::Decode<OrderUpdate>(message.payload); update.ok()) {
      order_id = update->order.id.value;
    } else if (auto fill = proto::Decode<Fill>(message.payload); fill.ok()) {
      order_id = fill->order_id.value;
    }
    const auto order = order_trace.find(static_cast<int64_t>(order_id));
    if (order == order_trace.end()) {
      EXPECT_EQ(publish_parent[span_id], "") << "an order no decision made: a root";
    } else {
      EXPECT_EQ(publish_parent[span_id], order->second) << "order " << order_id;
      ++under_their_order;
    }
  }
  EXPECT_GT(under_their_order, 0u);
  for (const bus::Delivery& message : Held(kAuditStream, "audit.m4")) {
    EXPECT_TRUE(trace::ParseTraceparent(message.traceparent).ok()) << message.id;
  }
}

INSTANTIATE_TEST_SUITE_P(Buses, LogRelayTest,
                         ::testing::Values(BusKind::kInProcess, BusKind::kNats), BusKindName);

}  // namespace
}  // namespace aits::services
