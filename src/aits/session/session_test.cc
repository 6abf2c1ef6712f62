#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aits/persistence/codec.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/session/paper.h"
#include "aits/session/replay.h"
#include "aits/session/session_test_util.h"
#include "aits/session/session_venue.h"
#include "aits/testing/servers.h"

namespace aits::session {
namespace {

namespace fs = std::filesystem;
using persistence::Event;
using persistence::EventStore;
using persistence::EventType;

TEST(PaperTest, SessionTradesLogsEverythingAndReplaysExactly) {
  TempDir tmp;
  auto result = RunPaper(MaxSpeed(BusySpec(20'000), tmp.Sub("s")));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->feed_ended);
  EXPECT_EQ(result->ticks, 20'000u);
  ASSERT_GT(result->fills, 10u) << "the test session should trade";
  EXPECT_EQ(result->plain_ticks.count() + result->bar_ticks.count(), 20'000u);
  EXPECT_GT(result->bar_orders.count(), 0u);
  // Accepted inside the tick, so never later than the tick's whole processing.
  EXPECT_LE(result->bar_orders.Quantile(0.5), result->bar_ticks.max());

  auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(store.ok());
  auto log = RebuildFromLog(**store);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->ticks, 20'000u);
  EXPECT_EQ(log->fills, result->fills);
  EXPECT_EQ(log->orders.size(), result->orders);
  EXPECT_EQ(log->balance.raw(), result->account.balance.raw());
  EXPECT_EQ(log->position.raw(), result->position.raw());
  EXPECT_TRUE(log->duplicate_client_ids.empty());
  EXPECT_TRUE(log->clean_stop);
  EXPECT_GT(log->decisions, 0u);

  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
  EXPECT_EQ(replay->account.balance.raw(), result->account.balance.raw());
  EXPECT_EQ(replay->fills, result->fills);

  // The first order's explanation: its decision record and its fill.
  auto explanation = ExplainOrder(**store, 1);
  ASSERT_TRUE(explanation.ok()) << explanation.status().message();
  const auto record = nlohmann::json::parse(explanation->decision_json);
  EXPECT_EQ(record["order"]["id"], 1);
  EXPECT_EQ(record["order"]["client_order_id"], "test-1");
  EXPECT_TRUE(record["action"] == "BUY" || record["action"] == "SELL");
  EXPECT_GE(record["filters"].size(), 1u);
  EXPECT_FALSE(explanation->order_events.empty());
  EXPECT_EQ(ExplainOrder(**store, 999'999).status().code(), StatusCode::kNotFound);
}

// Runs the 12,000-tick session in three parts: stopped after 3,001 and 4,567 new ticks, then
// resumed to the end from what `dir` (and `events`, when given) hold. Returns the last part.
Result<PaperResult> RunInThreeParts(const std::string& dir, const std::string& events = "") {
  PaperOptions first = MaxSpeed(BusySpec(12'000), dir);
  first.events = events;
  for (uint64_t part : {3'001u, 4'567u}) {
    first.stop_after = part;
    auto run = RunPaper(first);
    if (!run.ok()) return run.status();
    EXPECT_FALSE(run->feed_ended);
  }
  PaperOptions resume = MaxSpeed(BusySpec(12'000), dir);
  resume.events = events;
  resume.spec_given = false;
  auto last = RunPaper(resume);
  if (last.ok()) {
    EXPECT_TRUE(last->resumed);
    EXPECT_EQ(last->resumed_ticks, 3'001u + 4'567u);
    EXPECT_TRUE(last->feed_ended);
  }
  return last;
}

TEST(PaperTest, StopAndResumeGivesTheSameLogAsOneRun) {
  TempDir tmp;
  ASSERT_TRUE(RunPaper(MaxSpeed(BusySpec(12'000), tmp.Sub("whole"))).ok());
  auto last = RunInThreeParts(tmp.Sub("parts"));
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_EQ(LogLines(tmp.Sub("parts")), LogLines(tmp.Sub("whole")));
}

// What a trade writer (aits paper --trades) receives: every call of a run continues the numbers
// of the one before, a run starts from trade 1, and a session stopped twice and resumed hands
// out, number for number, the trades of one uninterrupted run — each again after a resume, which
// is why the store keeps the first copy of each (session, number).
TEST(PaperTest, TradesAreHandedOutByNumberAndAResumeHandsOutTheSameOnes) {
  struct Collected {
    std::map<int64_t, portfolio::TradeRecord> trades;
    int handed_again = 0;  // trades a later run handed out again
  };
  const auto collect = [](Collected* into) {
    return [into, next = std::make_shared<int64_t>(1)](
               const SessionSpec& spec, int64_t first_number,
               std::span<const portfolio::TradeRecord> trades) -> Status {
      EXPECT_EQ(spec.session_id, "test");
      EXPECT_EQ(first_number, *next);  // no gap, no repeat within a run
      EXPECT_FALSE(trades.empty());
      for (size_t idx = 0; idx < trades.size(); ++idx) {
        const int64_t number = first_number + static_cast<int64_t>(idx);
        const auto [at, fresh] = into->trades.emplace(number, trades[idx]);
        if (!fresh) {
          ++into->handed_again;
          EXPECT_EQ(at->second.exit_time, trades[idx].exit_time) << number;
          EXPECT_EQ(at->second.net_pnl, trades[idx].net_pnl) << number;
        }
      }
      *next = first_number + static_cast<int64_t>(trades.size());
      return Status::Ok();
    };
  };
  TempDir tmp;
  Collected whole;
  PaperOptions one = MaxSpeed(BusySpec(12'000), tmp.Sub("whole"));
  one.on_trades = collect(&whole);
  ASSERT_TRUE(RunPaper(one).ok());
  ASSERT_GT(whole.trades.size(), 3u);
  EXPECT_EQ(whole.handed_again, 0);

  Collected parts;
  PaperOptions part = MaxSpeed(BusySpec(12'000), tmp.Sub("parts"));
  for (uint64_t stop_after : {3'001u, 4'567u, 0u}) {
    part.stop_after = stop_after;
    part.on_trades = collect(&parts);  // a run of its own: numbers from 1 again
    ASSERT_TRUE(RunPaper(part).ok());
  }
  EXPECT_GT(parts.handed_again, 0);
  ASSERT_EQ(parts.trades.size(), whole.trades.size());
  for (const auto& [number, trade] : whole.trades) {
    const portfolio::TradeRecord& resumed = parts.trades[number];
    EXPECT_EQ(resumed.exit_time, trade.exit_time) << number;
    EXPECT_EQ(resumed.exit_price, trade.exit_price) << number;
    EXPECT_EQ(resumed.net_pnl, trade.net_pnl) << number;
  }

  // A writer that fails stops the session with its error; the log keeps what it committed.
  PaperOptions failing = MaxSpeed(BusySpec(12'000), tmp.Sub("failing"));
  failing.on_trades = [](const SessionSpec&, int64_t, std::span<const portfolio::TradeRecord>) {
    return Unavailable("trade store down");
  };
  auto failed = RunPaper(failing);
  ASSERT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message(), "trade store down");
}

// The same session with its log on a real PostgreSQL server (the services' event store): stopped
// twice, resumed from the server, it logs what one run with a SQLite file logs, and replays.
TEST(PaperTest, ALogOnPostgresqlResumesAndReplaysAsTheFileLogDoes) {
  auto server = test_servers::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string location =
      "postgresql://aits@127.0.0.1:" + std::to_string((*server)->port()) + "/postgres#paper-1";
  TempDir tmp;
  ASSERT_TRUE(RunPaper(MaxSpeed(BusySpec(12'000), tmp.Sub("file"))).ok());
  auto last = RunInThreeParts(tmp.Sub("pg"), location);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("pg") + "/events.db"));
  const std::vector<std::string> lines = LogLines(location);
  EXPECT_GT(lines.size(), 12'000u);
  EXPECT_EQ(lines, LogLines(tmp.Sub("file")));

  auto store = persistence::OpenEventStoreAtReadOnly(location);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
  EXPECT_EQ(replay->account.balance.raw(), last->account.balance.raw());
}

// Counts the logged orders and fills that name a position (payload version 2).
std::pair<int, int> PositionPayloads(const std::string& dir) {
  auto store = EventStore::OpenReadOnly(dir + "/events.db");
  EXPECT_TRUE(store.ok());
  int orders = 0;
  int fills = 0;
  EXPECT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           const bool v2 = !event.payload.empty() && event.payload[0] == 2;
                           if (event.type == EventType::kFill && v2) ++fills;
                           if (event.type == EventType::kOrderSubmitted && v2) ++orders;
                           return Status::Ok();
                         })
                  .ok());
  return {orders, fills};
}

TEST(PaperTest, HedgedSessionResumesAndReplaysIdentically) {
  TempDir tmp;
  SessionSpec spec = BusySpec(12'000);
  spec.account_mode = "hedging";
  auto whole = RunPaper(MaxSpeed(spec, tmp.Sub("whole")));
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  ASSERT_GT(whole->fills, 10u);
  // The strategy closes by ticket (SubmitNetted), so the log holds orders naming positions, and
  // every fill names its position.
  const auto [closing_orders, ticketed_fills] = PositionPayloads(tmp.Sub("whole"));
  EXPECT_GT(closing_orders, 0);
  EXPECT_EQ(static_cast<uint64_t>(ticketed_fills), whole->fills);

  PaperOptions first = MaxSpeed(spec, tmp.Sub("parts"));
  first.stop_after = 5'003;
  ASSERT_TRUE(RunPaper(first).ok());
  PaperOptions resume = MaxSpeed(spec, tmp.Sub("parts"));
  resume.spec_given = false;
  auto last = RunPaper(resume);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_TRUE(last->resumed);
  EXPECT_EQ(LogLines(tmp.Sub("parts")), LogLines(tmp.Sub("whole")));
  EXPECT_EQ(last->account.balance.raw(), whole->account.balance.raw());

  auto store = EventStore::OpenReadOnly(tmp.Sub("parts") + "/events.db");
  ASSERT_TRUE(store.ok());
  auto log = RebuildFromLog(**store);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->spec.account_mode, "hedging");
  EXPECT_EQ(log->balance.raw(), whole->account.balance.raw());
  EXPECT_EQ(log->position.raw(), whole->position.raw());
  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
  // A reversal closes by ticket and opens the rest: its record lists both orders, and the
  // closing one (not the record's last "order") explains the decision too.
  std::optional<nlohmann::json> reversal;
  ASSERT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           if (event.type != EventType::kDecision || reversal) return Status::Ok();
                           auto record = nlohmann::json::parse(event.payload);
                           if (record.contains("orders")) reversal = std::move(record);
                           return Status::Ok();
                         })
                  .ok());
  ASSERT_TRUE(reversal.has_value());
  const auto& orders = (*reversal)["orders"];
  ASSERT_GE(orders.size(), 2u);
  EXPECT_GT(orders[0]["position_ticket"].get<uint64_t>(), 0u);
  EXPECT_FALSE(orders.back().contains("position_ticket"));
  EXPECT_EQ((*reversal)["order"], orders.back());
  const uint64_t closing_id = orders[0]["id"].get<uint64_t>();
  auto explained = ExplainOrder(**store, closing_id);
  ASSERT_TRUE(explained.ok()) << explained.status().message();
  EXPECT_EQ(nlohmann::json::parse(explained->decision_json), *reversal);
  // Its update names the position it closes and the venue's ticket of the order.
  const std::string closing = "closing position " +
                              std::to_string(orders[0]["position_ticket"].get<uint64_t>()) +
                              " ticket ";
  EXPECT_TRUE(
      std::any_of(explained->order_events.begin(), explained->order_events.end(),
                  [&](const std::string& line) { return line.find(closing) != std::string::npos; }))
      << closing;

  // The same decisions on a netting account: the same net position and, fill for fill the same
  // cash flows, the same equity; the netting log has no position payloads.
  auto netting = RunPaper(MaxSpeed(BusySpec(12'000), tmp.Sub("netting")));
  ASSERT_TRUE(netting.ok()) << netting.status().message();
  EXPECT_EQ(netting->position.raw(), whole->position.raw());
  EXPECT_EQ(netting->account.equity.raw(), whole->account.equity.raw());
  EXPECT_GT(whole->orders, netting->orders);  // flips are a close and an open
  EXPECT_EQ(PositionPayloads(tmp.Sub("netting")), std::make_pair(0, 0));
}

// The venue's ticket of each order logged with its updates, by payload version (0: none).
std::map<uint64_t, uint64_t> VenueTicketsOfOrders(const std::string& dir, int* v3_updates) {
  auto store = EventStore::OpenReadOnly(dir + "/events.db");
  EXPECT_TRUE(store.ok());
  std::map<uint64_t, uint64_t> tickets;
  *v3_updates = 0;
  EXPECT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           if (event.type != EventType::kOrderUpdate) return Status::Ok();
                           if (event.payload[0] == 3) ++*v3_updates;
                           auto order = persistence::DecodeOrder(event.payload);
                           EXPECT_TRUE(order.ok());
                           if (order.ok()) tickets[order->id.value] = order->venue_order_id;
                           return Status::Ok();
                         })
                  .ok());
  return tickets;
}

TEST(PaperTest, OrderRecordsCarryTheVenuesTicketAndOldLogsGoOnWithout) {
  TempDir tmp;
  auto run = RunPaper(MaxSpeed(BusySpec(6'000), tmp.Sub("new")));
  ASSERT_TRUE(run.ok()) << run.status().message();
  int v3 = 0;
  const auto tickets = VenueTicketsOfOrders(tmp.Sub("new"), &v3);
  ASSERT_GT(tickets.size(), 3u);
  EXPECT_GT(v3, 0);
  // The simulated venue numbers the orders it receives 1, 2, 3, ...; an order the risk manager
  // refused never reached it and has none.
  uint64_t expected = 1;
  for (const auto& [id, ticket] : tickets) {
    if (ticket != 0) {
      EXPECT_EQ(ticket, expected++) << "order " << id;
    }
  }
  EXPECT_GT(expected, 4u);
  auto store = EventStore::OpenReadOnly(tmp.Sub("new") + "/events.db");
  ASSERT_TRUE(store.ok());
  auto log = RebuildFromLog(**store);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_TRUE(log->spec.order_tickets);
  EXPECT_EQ(log->orders.rbegin()->second.venue_order_id, tickets.rbegin()->second);

  // A session described as logs were before tickets (no order_tickets) logs its orders as it did
  // then, resumes identically and replays.
  SessionSpec old_spec = BusySpec(6'000);
  old_spec.order_tickets = false;
  EXPECT_EQ(old_spec.ToJson().find("order_tickets"), std::string::npos);
  PaperOptions first = MaxSpeed(old_spec, tmp.Sub("old"));
  first.stop_after = 2'501;
  ASSERT_TRUE(RunPaper(first).ok());
  PaperOptions resume = MaxSpeed(BusySpec(6'000), tmp.Sub("old"));  // today's spec: accepted
  auto last = RunPaper(resume);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_TRUE(last->resumed);
  const auto untagged = VenueTicketsOfOrders(tmp.Sub("old"), &v3);
  EXPECT_EQ(v3, 0);
  EXPECT_EQ(untagged.size(), tickets.size());
  for (const auto& [id, ticket] : untagged) EXPECT_EQ(ticket, 0u) << "order " << id;
  auto old_store = EventStore::OpenReadOnly(tmp.Sub("old") + "/events.db");
  ASSERT_TRUE(old_store.ok());
  auto replay = Replay(**old_store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
  EXPECT_EQ(last->account.balance.raw(), run->account.balance.raw());
}

TEST(PaperTest, AnotherSessionInTheSameDirectoryIsRefused) {
  TempDir tmp;
  PaperOptions options = MaxSpeed(BusySpec(1'000), tmp.Sub("s"));
  ASSERT_TRUE(RunPaper(options).ok());
  options.spec.seed = 8;
  auto other = RunPaper(options);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("seed"), std::string::npos) << other.status().message();
  PaperOptions nothing = MaxSpeed(BusySpec(1'000), tmp.Sub("empty"));
  nothing.spec_given = false;
  EXPECT_EQ(RunPaper(nothing).status().code(), StatusCode::kNotFound);
}

// A manual order and a cancel from the operator (the API's POST /orders and DELETE
// /orders/{id}): the order takes the strategy's path through the risk checks, both are logged
// where they were applied, and a malformed one is refused before anything is logged.
TEST(PaperTest, OperatorOrdersAndCancelsTakeTheStrategysPath) {
  TempDir tmp;
  PaperOptions options = MaxSpeed(BusySpec(8'000), tmp.Sub("s"));
  options.stop_after = 4'000;
  ASSERT_TRUE(RunPaper(options).ok());
  {
    auto store = EventStore::Open(tmp.Sub("s") + "/events.db");
    ASSERT_TRUE(store.ok());
    // A buy limit below the market, within the risk collar (it rests; cancelled below), a
    // market buy, and three that are refused: an unknown symbol, no price for a limit, no lots.
    ASSERT_TRUE((*store)
                    ->AddCommand(R"({"command":"order","symbol":"EURUSD","side":"buy",)"
                                 R"("type":"limit","lots":0.2,"price":1.08,"reason":"t"})")
                    .ok());
    ASSERT_TRUE((*store)
                    ->AddCommand(R"({"command":"order","symbol":"XAUUSD","side":"buy",)"
                                 R"("lots":1,"reason":"t"})")
                    .ok());
    ASSERT_TRUE((*store)
                    ->AddCommand(R"({"command":"order","symbol":"EURUSD","side":"buy",)"
                                 R"("type":"limit","lots":1,"reason":"t"})")
                    .ok());
    ASSERT_TRUE(
        (*store)->AddCommand(R"({"command":"order","symbol":"EURUSD","side":"sell"})").ok());
    ASSERT_TRUE((*store)
                    ->AddCommand(R"({"command":"order","symbol":"EURUSD","side":"buy",)"
                                 R"("lots":0.7,"reason":"t"})")
                    .ok());
  }
  options.spec_given = false;
  options.stop_after = 4'500;
  ASSERT_TRUE(RunPaper(options).ok());
  auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(store.ok());
  std::vector<std::string> commands;
  std::vector<Order> manual;
  ASSERT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           if (event.type == EventType::kCommand) {
                             commands.push_back(event.payload);
                           } else if (event.type == EventType::kOrderUpdate) {
                             auto order = persistence::DecodeOrder(event.payload);
                             if (order.ok() && order->request.tag == "manual") {
                               manual.push_back(*order);
                             }
                           }
                           return Status::Ok();
                         })
                  .ok());
  ASSERT_EQ(commands.size(), 2u);  // the three malformed ones are not logged
  ASSERT_FALSE(manual.empty());
  const uint64_t resting = manual.front().id.value;
  ASSERT_EQ(manual.front().status, OrderStatus::kAccepted)
      << ToString(manual.front().reject_reason) << ": " << manual.front().reject_detail;
  EXPECT_EQ(manual.front().request.type, OrderType::kLimit);
  EXPECT_EQ(manual.front().request.quantity.AsDouble(), 0.2);
  bool market_done = false;
  for (const Order& o : manual) {
    if (o.request.type == OrderType::kMarket &&
        (o.status == OrderStatus::kFilled || o.status == OrderStatus::kRejected)) {
      market_done = true;
    }
  }
  EXPECT_TRUE(market_done);
  // Now cancel the resting limit by its id.
  {
    auto writer = EventStore::Open(tmp.Sub("s") + "/events.db");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)
                    ->AddCommand(R"({"command":"cancel","order_id":)" + std::to_string(resting) +
                                 R"(,"reason":"t"})")
                    .ok());
  }
  options.stop_after = 5'000;
  const auto third = RunPaper(options);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  auto again = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(again.ok());
  auto log = RebuildFromLog(**again);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(log->orders.contains(resting));
  EXPECT_EQ(log->orders.at(resting).status, OrderStatus::kCanceled);
  EXPECT_TRUE((*again)->PendingCommands()->empty());
}

TEST(PaperTest, OperatorModifyCancelsAndReplacesAWorkingOrder) {
  TempDir tmp;
  PaperOptions options = MaxSpeed(BusySpec(8'000), tmp.Sub("s"));
  options.stop_after = 4'000;
  ASSERT_TRUE(RunPaper(options).ok());
  const auto add = [&](const std::string& command) {
    auto store = EventStore::Open(tmp.Sub("s") + "/events.db");
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AddCommand(command).ok());
  };
  // A buy limit far below the market: it rests.
  add(R"({"command":"order","symbol":"EURUSD","side":"buy","type":"limit","lots":0.2,)"
      R"("price":1.08,"client_order_id":"rest-1","reason":"t"})");
  options.spec_given = false;
  options.stop_after = 4'200;
  ASSERT_TRUE(RunPaper(options).ok());
  uint64_t resting = 0;
  {
    auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
    ASSERT_TRUE(store.ok());
    auto log = RebuildFromLog(**store);
    ASSERT_TRUE(log.ok());
    for (const auto& [id, order] : log->orders) {
      if (order.request.client_order_id == "rest-1") resting = id;
    }
    ASSERT_NE(resting, 0u);
    ASSERT_EQ(log->orders.at(resting).status, OrderStatus::kAccepted);
  }
  // Its price, stop loss and lots changed; then bad ones: nothing to change, an unknown order,
  // a market order's field, and the same order again once it is gone.
  const std::string id = std::to_string(resting);
  add(R"({"command":"modify","order_id":)" + id +
      R"(,"price":1.081,"stop_loss":1.07,"lots":0.3,"client_order_id":"rest-1b","reason":"t"})");
  add(R"({"command":"modify","order_id":)" + id + R"(,"reason":"nothing"})");
  add(R"({"command":"modify","order_id":999999,"price":1.08,"reason":"t"})");
  add(R"({"command":"modify","order_id":)" + id + R"(,"price":-1,"reason":"t"})");
  options.stop_after = 4'400;
  ASSERT_TRUE(RunPaper(options).ok());
  auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(store.ok());
  auto log = RebuildFromLog(**store);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->orders.at(resting).status, OrderStatus::kCanceled);
  const Order* replacement = nullptr;
  for (const auto& [oid, order] : log->orders) {
    if (order.request.client_order_id == "rest-1b") replacement = &order;
  }
  ASSERT_NE(replacement, nullptr) << "no replacement";
  EXPECT_GT(replacement->id.value, resting);
  EXPECT_EQ(replacement->status, OrderStatus::kAccepted)
      << ToString(replacement->reject_reason) << ": " << replacement->reject_detail;
  EXPECT_EQ(replacement->request.type, OrderType::kLimit);
  EXPECT_EQ(replacement->request.side, Side::kBuy);
  EXPECT_DOUBLE_EQ(replacement->request.price->AsDouble(), 1.081);
  EXPECT_DOUBLE_EQ(replacement->request.stop_loss->AsDouble(), 1.07);
  EXPECT_DOUBLE_EQ(replacement->request.quantity.AsDouble(), 0.3);
  EXPECT_EQ(replacement->request.tag, "manual");
  EXPECT_TRUE((*store)->PendingCommands()->empty());  // the refused ones are marked applied too
  // The replacement replays: the log is what the kernel does again.
  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
}

TEST(PaperTest, OperatorHaltIsAppliedAuditedAndReplayed) {
  TempDir tmp;
  PaperOptions options = MaxSpeed(BusySpec(8'000), tmp.Sub("s"));
  options.stop_after = 4'000;
  auto first = RunPaper(options);
  ASSERT_TRUE(first.ok()) << first.status().message();
  // The session stops holding a position, so that the halt has something to flatten.
  const Quantity held = first->position;
  ASSERT_FALSE(held.IsZero());
  {
    auto store = EventStore::Open(tmp.Sub("s") + "/events.db");
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(
        (*store)->AddCommand(R"({"command":"breaker","state":"halted","reason":"test"})").ok());
  }
  options.spec_given = false;
  options.stop_after = 0;
  auto run = RunPaper(options);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->breaker, "halted");
  EXPECT_TRUE(run->position.IsZero());
  auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(store.ok());
  auto log = RebuildFromLog(**store);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->breaker, "halted");
  EXPECT_TRUE((*store)->PendingCommands()->empty());
  // Orders after the halt were refused with the halted reason.
  bool refused = false;
  for (const auto& [id, order] : log->orders) {
    if (order.reject_reason == RejectReason::kRiskHalted) refused = true;
  }
  EXPECT_TRUE(refused);
  // The halt's closing order (the first order update after the command: the submission is
  // logged before the order has an id) and its fill, for the whole position, come before any
  // other fill.
  uint64_t command_seq = 0;
  std::optional<Order> halt_order;
  std::optional<Fill> first_fill;
  ASSERT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           if (event.type == EventType::kCommand && command_seq == 0) {
                             command_seq = event.seq;
                           } else if (command_seq != 0 && !halt_order &&
                                      event.type == EventType::kOrderUpdate) {
                             auto order = persistence::DecodeOrder(event.payload);
                             EXPECT_TRUE(order.ok());
                             if (order.ok()) halt_order = *order;
                           } else if (command_seq != 0 && !first_fill &&
                                      event.type == EventType::kFill) {
                             auto fill = persistence::DecodeFill(event.payload);
                             EXPECT_TRUE(fill.ok());
                             if (fill.ok()) first_fill = *fill;
                           }
                           return Status::Ok();
                         })
                  .ok());
  ASSERT_NE(command_seq, 0u);
  ASSERT_TRUE(halt_order.has_value());
  EXPECT_EQ(halt_order->request.tag, "halt");
  EXPECT_EQ(halt_order->request.side, held.IsPositive() ? Side::kSell : Side::kBuy);
  EXPECT_EQ(halt_order->request.quantity, held.Abs());
  ASSERT_TRUE(first_fill.has_value());
  EXPECT_EQ(first_fill->order_id, halt_order->id);
  EXPECT_EQ(first_fill->quantity, held.Abs());
  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->equal) << replay->divergence.logged << " vs " << replay->divergence.produced;
}

// Copies the event log at `source` to a new store at `dest`, moving the price of its `nth` fill
// by 10 points: a valid log of a history this build would not have traded. Returns the forged
// event's sequence number.
Result<uint64_t> CopyLogForgingFill(const std::string& source, const std::string& dest, int nth) {
  AITS_ASSIGN_OR_RETURN(auto from, EventStore::OpenReadOnly(source));
  AITS_ASSIGN_OR_RETURN(auto copy, EventStore::Open(dest));
  int fills = 0;
  uint64_t forged_seq = 0;
  AITS_RETURN_IF_ERROR(from->Scan(1, [&](const Event& event) -> Status {
    std::string payload = event.payload;
    if (event.type == EventType::kFill && ++fills == nth) {
      AITS_ASSIGN_OR_RETURN(Fill fill, persistence::DecodeFill(payload));
      fill.price = fill.price + Price::FromRaw(10'000, 5);
      payload.clear();
      persistence::EncodeFill(fill, &payload);
      forged_seq = event.seq;
    }
    return copy->Append(event.type, event.ts, payload).status();
  }));
  AITS_RETURN_IF_ERROR(copy->Close());
  if (forged_seq == 0) return NotFound("the log has fewer than " + std::to_string(nth) + " fills");
  return forged_seq;
}

TEST(PaperTest, ReplayReportsTheFirstDivergingEvent) {
  TempDir tmp;
  ASSERT_TRUE(RunPaper(MaxSpeed(BusySpec(6'000), tmp.Sub("s"))).ok());
  // Copy the log, changing the price of the third fill: a valid log of a different history.
  auto forged_seq = CopyLogForgingFill(tmp.Sub("s") + "/events.db", tmp.Sub("forged.db"), 3);
  ASSERT_TRUE(forged_seq.ok()) << forged_seq.status().message();
  auto forged = EventStore::OpenReadOnly(tmp.Sub("forged.db"));
  ASSERT_TRUE(forged.ok());
  auto replay = Replay(**forged, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_FALSE(replay->equal);
  EXPECT_EQ(replay->divergence.seq, *forged_seq);
  EXPECT_NE(replay->divergence.logged.find("fill"), std::string::npos);
}

// A log of a valid session that this build would have traded differently (a fill at another
// price) is refused on resume, naming the first diverging event, and nothing is appended.
TEST(PaperTest, ResumeRefusesALogThisBuildTradesDifferently) {
  TempDir tmp;
  PaperOptions options = MaxSpeed(BusySpec(6'000), tmp.Sub("s"));
  options.stop_after = 3'000;
  ASSERT_TRUE(RunPaper(options).ok());
  fs::create_directories(tmp.Sub("forged"));
  auto forged_seq =
      CopyLogForgingFill(tmp.Sub("s") + "/events.db", tmp.Sub("forged") + "/events.db", 2);
  ASSERT_TRUE(forged_seq.ok()) << forged_seq.status().message();
  auto source = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(source.ok());
  const uint64_t last_seq = (*source)->last_seq();
  PaperOptions resume = MaxSpeed(BusySpec(6'000), tmp.Sub("forged"));
  resume.spec_given = false;
  auto resumed = RunPaper(resume);
  ASSERT_FALSE(resumed.ok());
  EXPECT_EQ(resumed.status().code(), StatusCode::kInternal);
  EXPECT_NE(resumed.status().message().find("this build does not reproduce the logged session "
                                            "at event " +
                                            std::to_string(*forged_seq) + ": logged fill"),
            std::string::npos)
      << resumed.status().message();
  auto after = EventStore::OpenReadOnly(tmp.Sub("forged") + "/events.db");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->last_seq(), last_seq);
}

// Resuming replays the feed file up to the last logged tick: a file that lost ticks, or whose
// ticks changed, is refused before anything is appended.
TEST(PaperTest, ResumeRefusesAFeedFileThatChanged) {
  TempDir tmp;
  std::vector<std::string> rows;
  {
    std::ifstream in(std::string(AITS_SHARED_DATA_DIR) + "/eurusd-ticks-2020-01-01.csv");
    for (std::string line; rows.size() < 3'000 && std::getline(in, line);) rows.push_back(line);
  }
  ASSERT_EQ(rows.size(), 3'000u);
  const std::string feed = tmp.Sub("feed.csv");
  // Writes the first `count` rows, every bid and ask `shift` higher.
  const auto write_feed = [&](size_t count, double shift) {
    std::ofstream out(feed, std::ios::trunc);
    for (size_t row = 0; row < count; ++row) {
      // "20200101 170000065,1.121200,1.121720,0"
      const std::string& line = rows[row];
      const size_t bid_at = line.find(',') + 1;
      const size_t ask_at = line.find(',', bid_at) + 1;
      const size_t ask_end = line.find(',', ask_at);
      char prices[64];
      std::snprintf(prices, sizeof(prices), "%.6f,%.6f",
                    std::stod(line.substr(bid_at, ask_at - 1 - bid_at)) + shift,
                    std::stod(line.substr(ask_at, ask_end - ask_at)) + shift);
      out << line.substr(0, bid_at) << prices << line.substr(ask_end) << "\n";
    }
  };
  write_feed(rows.size(), 0);
  SessionSpec spec = BusySpec(0);
  spec.feed = feed;
  PaperOptions options = MaxSpeed(spec, tmp.Sub("s"));
  options.stop_after = 2'000;
  auto first = RunPaper(options);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->ticks, 2'000u);
  const auto log_size = [&] {
    auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
    EXPECT_TRUE(store.ok());
    return store.ok() ? (*store)->last_seq() : 0;
  };
  const uint64_t logged = log_size();
  PaperOptions resume = options;
  resume.spec_given = false;
  resume.stop_after = 0;

  write_feed(1'500, 0);
  auto shorter = RunPaper(resume);
  ASSERT_FALSE(shorter.ok());
  EXPECT_EQ(shorter.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(shorter.status().message().find("has 1500 ticks but the log consumed 2000; was the "
                                            "file changed?"),
            std::string::npos)
      << shorter.status().message();
  EXPECT_EQ(log_size(), logged);

  write_feed(rows.size(), 0.0001);
  auto moved = RunPaper(resume);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(moved.status().message().find("differs from the logged ticks at tick 2000; was the "
                                          "file changed?"),
            std::string::npos)
      << moved.status().message();
  EXPECT_EQ(log_size(), logged);

  // The file as it was resumes.
  write_feed(rows.size(), 0);
  auto same = RunPaper(resume);
  ASSERT_TRUE(same.ok()) << same.status().message();
  EXPECT_TRUE(same->resumed);
  EXPECT_EQ(same->resumed_ticks, 2'000u);
  EXPECT_TRUE(same->feed_ended);
}

TEST(PaperTest, DamagedLogIsAClearErrorAndIsNotWritten) {
  TempDir tmp;
  PaperOptions options = MaxSpeed(BusySpec(3'000), tmp.Sub("s"));
  ASSERT_TRUE(RunPaper(options).ok());
  const std::string path = tmp.Sub("s") + "/events.db";
  // Truncate the database file to half its size.
  const auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
  const auto damaged_size = fs::file_size(path);
  options.spec_given = false;
  auto resumed = RunPaper(options);
  ASSERT_FALSE(resumed.ok());
  EXPECT_NE(resumed.status().message().find("events.db"), std::string::npos)
      << resumed.status().message();
  EXPECT_EQ(fs::file_size(path), damaged_size);
}

TEST(PaperTest, BadSettingsAreClearErrors) {
  TempDir tmp;
  SessionSpec spec = BusySpec(100);
  spec.decision.emplace_back("buy_treshold", "0.5");
  auto run = RunPaper(MaxSpeed(spec, tmp.Sub("a")));
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("buy_treshold"), std::string::npos);
  spec = BusySpec(100);
  spec.risk = {{"base", "defaults"}, {"max_drawdown", "-0.1"}};
  run = RunPaper(MaxSpeed(spec, tmp.Sub("b")));
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("max_drawdown"), std::string::npos);
  spec = BusySpec(100);
  spec.risk = {{"max_order_lots", "5"}};  // the other limits are missing
  run = RunPaper(MaxSpeed(spec, tmp.Sub("d")));
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("missing"), std::string::npos) << run.status().message();
  spec.risk.emplace_back("base", "defaults");
  EXPECT_TRUE(RunPaper(MaxSpeed(spec, tmp.Sub("e"))).ok());
  spec = BusySpec(100);
  spec.feed = tmp.Sub("missing.csv");
  EXPECT_FALSE(RunPaper(MaxSpeed(spec, tmp.Sub("c"))).ok());
}

// Paced by the wall clock (the feed's thread sleeping until each tick is due) or as fast as
// possible, the event loop hands the kernel the same ticks: the same log, event for event.
TEST(PaperTest, PacedRunLogsWhatAMaxSpeedRunLogs) {
  TempDir tmp;
  const SessionSpec spec = BusySpec(1'500);
  ASSERT_TRUE(RunPaper(MaxSpeed(spec, tmp.Sub("max"))).ok());
  PaperOptions paced = MaxSpeed(spec, tmp.Sub("paced"));
  paced.speed = 3'000;  // ~0.5 s of feed time per tick: about a quarter of a second in all
  auto run = RunPaper(paced);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_TRUE(run->feed_ended);
  EXPECT_EQ(run->hand_off.count(), 1'500u);
  EXPECT_EQ(LogLines(tmp.Sub("paced")), LogLines(tmp.Sub("max")));
}

// Commands queued in the commands table while the session is down reach the kernel thread through
// the inbox before the first tick; a bad one is refused, counted, reported and marked (it does
// not come back), and the good one after it is applied.
// Runs 1,000 ticks of a busy session in `dir`, queues `commands` as another process would, and
// resumes it to the end of its feed, its notices in *notices.
Result<PaperResult> ResumeWithCommands(const std::string& dir,
                                       std::initializer_list<const char*> commands,
                                       std::vector<std::string>* notices) {
  PaperOptions options = MaxSpeed(BusySpec(3'000), dir);
  options.stop_after = 1'000;
  AITS_RETURN_IF_ERROR(RunPaper(options).status());
  {
    AITS_ASSIGN_OR_RETURN(auto store, EventStore::Open(dir + "/events.db"));
    for (const char* command : commands) AITS_RETURN_IF_ERROR(store->AddCommand(command));
  }
  options.spec_given = false;
  options.stop_after = 0;
  options.notice = [notices](const std::string& text) { notices->push_back(text); };
  return RunPaper(options);
}

TEST(PaperTest, BadOperatorCommandsAreCountedReportedAndNotLost) {
  TempDir tmp;
  std::vector<std::string> notices;
  auto run = ResumeWithCommands(tmp.Sub("s"),
                                {"not json", R"({"command":"flatten_everything"})",
                                 R"({"command":"breaker","state":"reduce_only","reason":"t"})"},
                                &notices);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->commands_refused, 2u);
  EXPECT_EQ(run->commands_applied, 1u);
  EXPECT_EQ(run->breaker, "reduce_only");
  int ignored = 0;
  for (const std::string& notice : notices) {
    if (notice.rfind("ignored operator command", 0) == 0) ++ignored;
  }
  EXPECT_EQ(ignored, 2);
  auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->PendingCommands()->empty());
  // Only the applied command is in the log, right after the last tick of the first run.
  const std::vector<std::string> lines = LogLines(tmp.Sub("s"));
  int logged = 0;
  for (size_t idx = 0; idx < lines.size(); ++idx) {
    if (lines[idx].rfind("command ", 0) != 0) continue;
    ++logged;
    int ticks_before = 0;
    for (size_t before = 0; before < idx; ++before)
      ticks_before += lines[before].rfind("tick ", 0) == 0;
    EXPECT_EQ(ticks_before, 1'000);
  }
  EXPECT_EQ(logged, 1);
}

// The model loop's commands (docs/ml.md, "The loop") are checked as every command is: a trial
// the session cannot start (a rule signal serves no model) and malformed ones are refused and
// reported with nothing logged; a retrain's failure is logged where it came back.
TEST(PaperTest, ModelLoopCommandsAreCheckedAndOnlyWhatTookEffectIsLogged) {
  TempDir tmp;
  std::vector<std::string> notices;
  auto run = ResumeWithCommands(
      tmp.Sub("s"),
      {R"({"command":"model_shadow_start","candidate":"eur@2","min_calls":10})",
       R"({"command":"model_shadow_start","candidate":"eur@2"})",
       R"({"command":"model_shadow_start","candidate":"eur@2","min_calls":0})",
       R"({"command":"model_retrain","model":"eur@1"})",
       R"({"command":"model_retrain","model":"eur@1","error":"too little data to retrain"})",
       // The loop's own: refused, and the refusal logged as a model_retrain with its reason.
       R"({"command":"model_shadow_start","candidate":"eur@3","min_calls":10,)"
       R"("production":"eur@1","by":"retrain"})"},
      &notices);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->commands_refused, 5u);
  EXPECT_EQ(run->commands_applied, 1u);
  std::string said;
  for (const std::string& notice : notices) said += notice + "\n";
  EXPECT_NE(said.find("the session serves no model to try eur@2 beside"), std::string::npos)
      << said;
  EXPECT_NE(said.find("without a \"candidate\" name and a positive \"min_calls\""),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("model_retrain command without a \"model\" and an \"error\""),
            std::string::npos)
      << said;
  const std::vector<std::string> lines = LogLines(tmp.Sub("s"));
  std::vector<std::string> logged;
  for (const std::string& line : lines) {
    if (line.rfind("command ", 0) == 0) logged.push_back(line);
  }
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_NE(logged[0].find("too little data to retrain"), std::string::npos) << logged[0];
  EXPECT_NE(logged[1].find("candidate eur@3 refused: model_shadow_start: the session serves no "
                           "model eur@1 to try eur@3 beside"),
            std::string::npos)
      << logged[1];
}

// Timers fired between ticks (the event loop's clock) are inputs of the log, like ticks: a replay
// moves the clock at the same points and reproduces every checkpoint after them, and a build
// whose kernel has no timer due there diverges at that event.
TEST(SessionTest, TimersBetweenTicksAreLoggedAndReplayExactly) {
  TempDir tmp;
  const SessionSpec spec = BusySpec(2'000);
  std::vector<Tick> ticks(2'000);
  {
    auto feed = OpenFeed(spec);
    ASSERT_TRUE(feed.ok());
    ASSERT_EQ(*(*feed)->Read(ticks), 2'000u);
  }
  // Half-way between ticks k and k + 1.
  std::map<size_t, Timestamp> between;
  for (size_t k : {100u, 777u, 1'500u}) {
    between[k] = ticks[k].ts + Duration::Nanos((ticks[k + 1].ts - ticks[k].ts).ns / 2);
  }
  const auto set_timers = [&](Session& session) {
    uint64_t id = 0;
    for (const auto& [k, at] : between) session.kernel().SetTimer(at, ++id);
  };
  const std::string path = tmp.Sub("events.db");
  {
    auto store = EventStore::Open(path);
    ASSERT_TRUE(store.ok());
    auto session = Session::Create(spec);
    ASSERT_TRUE(session.ok());
    set_timers(**session);
    ASSERT_TRUE((*store)->Append(EventType::kSessionStart, Timestamp{}, spec.ToJson()).ok());
    (*session)->StartAppending(store->get());
    for (size_t k = 0; k < ticks.size(); ++k) {
      // Not due yet: nothing happens, nothing is logged.
      EXPECT_EQ((*session)->AdvanceTo(ticks[k].ts), 0u);
      (*session)->Feed(ticks[k]);
      if (between.count(k) != 0) {
        EXPECT_EQ((*session)->AdvanceTo(between[k]), 1u);
        (*session)->WriteCheckpoint();  // its time is the timer's: a replay must get there too
      }
    }
    EXPECT_EQ((*session)->clock_advances(), 3u);
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto store = EventStore::OpenReadOnly(path);
  ASSERT_TRUE(store.ok());
  int clocks = 0;
  ASSERT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           if (event.type == EventType::kClock) {
                             EXPECT_EQ(event.ts,
                                       between.at(std::vector<size_t>{
                                           100, 777, 1'500}[static_cast<size_t>(clocks)]));
                             ++clocks;
                           }
                           return Status::Ok();
                         })
                  .ok());
  EXPECT_EQ(clocks, 3);

  auto replay = Session::Create(spec);
  ASSERT_TRUE(replay.ok());
  set_timers(**replay);
  uint64_t events = 0;
  auto followed = FollowLog(**store, **replay, &events);
  ASSERT_TRUE(followed.ok()) << followed.status().message();
  EXPECT_TRUE(*followed) << (*replay)->divergence().seq << ": " << (*replay)->divergence().logged
                         << " vs " << (*replay)->divergence().produced;
  EXPECT_EQ((*replay)->clock_advances(), 3u);

  // Without the timers the first clock event has nothing to fire: a divergence naming it.
  auto other = Session::Create(spec);
  ASSERT_TRUE(other.ok());
  events = 0;
  followed = FollowLog(**store, **other, &events);
  ASSERT_TRUE(followed.ok());
  EXPECT_FALSE(*followed);
  EXPECT_NE((*other)->divergence().logged.find("clock"), std::string::npos);
  EXPECT_NE((*other)->divergence().produced.find("no timer due"), std::string::npos);
}

// The log's view of a stopped session, for building a broker account that differs from it.
LogState StateOf(const std::string& dir) {
  auto store = EventStore::OpenReadOnly(dir + "/events.db");
  EXPECT_TRUE(store.ok()) << store.status().message();
  auto log = RebuildFromLog(**store);
  EXPECT_TRUE(log.ok()) << log.status().message();
  return *log;
}

uint64_t EventsOf(const std::string& dir) { return StateOf(dir).events; }

// The broker's account while the session was down: the logged position plus 0.5 lots bought by
// hand (a fill the log missed), and a sell limit placed by hand far above the market.
execution::AccountState BrokerAccount(const LogState& log) {
  const Instrument instrument = InstrumentOf(log.spec);
  execution::AccountState broker;
  const Quantity extra = *Quantity::Parse("0.5", instrument.LotPrecision());
  broker.positions.push_back(execution::HeldPosition{
      .ticket = 9'001,
      .instrument = instrument.id,
      .quantity = log.position + extra,
      .open_price = log.position.IsZero() ? *Price::Parse("1.10000", 5) : log.avg_price});
  broker.orders.push_back(execution::WorkingOrder{.client_order_id = "by-hand",
                                                  .ticket = 9'002,
                                                  .instrument = instrument.id,
                                                  .side = Side::kSell,
                                                  .quantity = extra,
                                                  .filled = Quantity(),
                                                  .type = OrderType::kLimit,
                                                  .price = *Price::Parse("2.00000", 5)});
  return broker;
}

// After a start that reconciled once (`run`): what the log says equals what the kernel did, a
// replay re-applies it exactly, and the next start finds the venue as the log left it (nothing
// to report) and resumes to the end of the feed.
void ExpectReconciledRunReplaysAndResumes(const SessionSpec& spec, const std::string& dir,
                                          const PaperResult& run) {
  const LogState log = StateOf(dir);
  EXPECT_EQ(log.reconciliations, 1u);
  EXPECT_EQ(log.position.raw(), run.position.raw());
  EXPECT_EQ(log.balance.raw(), run.account.balance.raw());
  auto store = EventStore::OpenReadOnly(dir + "/events.db");
  ASSERT_TRUE(store.ok());
  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
  EXPECT_EQ(replay->account.balance.raw(), run.account.balance.raw());

  PaperOptions next = MaxSpeed(spec, dir);
  next.spec_given = false;
  auto resumed = RunPaper(next);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_TRUE(resumed->reconciliation.empty());
  EXPECT_TRUE(resumed->feed_ended);
}

// A paper session resumes against a venue whose account moved while it was down: refuse (the
// default) starts nothing and lists every difference; adopt and flatten record the report and
// their actions in the log, which a later resume and a replay re-apply exactly.
TEST(PaperTest, ResumeReconcilesTheVenuesAccountByPolicy) {
  TempDir tmp;
  const SessionSpec spec = BusySpec(9'000);
  for (const char* dir : {"adopt", "flatten"}) {
    PaperOptions first = MaxSpeed(spec, tmp.Sub(dir));
    first.stop_after = 3'000;
    ASSERT_TRUE(RunPaper(first).ok());
  }
  const LogState before = StateOf(tmp.Sub("adopt"));
  const execution::AccountState broker = BrokerAccount(before);
  const bool was_flat = before.position.IsZero();

  PaperOptions refuse = MaxSpeed(spec, tmp.Sub("adopt"));
  refuse.spec_given = false;
  refuse.stop_after = 1'000;
  refuse.venue_account = broker;
  auto refused = RunPaper(refuse);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find("2 item(s) and the reconciliation policy is refuse"), std::string::npos)
      << message;
  EXPECT_NE(message.find(was_flat ? "unknown position: EURUSD" : "position quantity differs"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("unknown order: EURUSD order \"by-hand\" ticket 9002"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--reconcile adopt"), std::string::npos) << message;
  EXPECT_EQ(EventsOf(tmp.Sub("adopt")), before.events) << "a refused start writes nothing";

  for (const auto policy :
       {execution::ReconcilePolicy::kAdopt, execution::ReconcilePolicy::kFlatten}) {
    const std::string dir = tmp.Sub(std::string(execution::ToString(policy)));
    PaperOptions start = refuse;
    start.state_dir = dir;
    start.reconcile = policy;
    auto run = RunPaper(start);
    ASSERT_TRUE(run.ok()) << run.status().message();
    ASSERT_EQ(run->reconciliation.size(), 2u);
    EXPECT_EQ(run->reconciliation[1],
              "unknown order: EURUSD order \"by-hand\" ticket 9002: working at the venue (filled "
              "0.00 lots), not in the log");
    EXPECT_EQ(run->reconciliation_actions,
              policy == execution::ReconcilePolicy::kAdopt ? 2u : (was_flat ? 2u : 3u));

    // The log holds the reconciliation right after the resumed events, then its orders.
    auto store = EventStore::OpenReadOnly(dir + "/events.db");
    ASSERT_TRUE(store.ok());
    std::vector<std::string> after;
    ASSERT_TRUE((*store)
                    ->Scan(before.events + 1,
                           [&](const Event& event) {
                             if (after.size() < 3) {
                               after.push_back(DescribeEvent(event.type, event.payload));
                             }
                             return Status::Ok();
                           })
                    .ok());
    ASSERT_GE(after.size(), 3u);
    EXPECT_EQ(after[0].rfind("reconciliation " + std::string(execution::ToString(policy)) +
                                 ": 2 "
                                 "difference(s)",
                             0),
              0u)
        << after[0];
    if (policy == execution::ReconcilePolicy::kAdopt) {
      // The hand-placed order is the node's now: its update is logged, and the position is the
      // venue's.
      EXPECT_NE(after[1].find("'by-hand' sell 0.50 limit accepted"), std::string::npos) << after[1];
    } else {
      // Flatten: the hand-placed order is cancelled and the position closed at market.
      EXPECT_NE(after[0].find("cancel order EURUSD order 'by-hand' ticket 9002"), std::string::npos)
          << after[0];
      EXPECT_NE(after[0].find("close position EURUSD ticket 9001"), std::string::npos) << after[0];
    }
    ExpectReconciledRunReplaysAndResumes(spec, dir, *run);
  }
}

// A hedged paper session resumes against a venue whose account holds a short opened by hand
// instead of the log's positions: positions compare by ticket, adopt takes the short by its ticket
// (and lets any of the log's go), and a replay and the next resume re-apply it exactly.
TEST(PaperTest, HedgedResumeReconcilesPositionsByTicket) {
  TempDir tmp;
  SessionSpec spec = BusySpec(9'000);
  spec.account_mode = "hedging";
  const std::string dir = tmp.Sub("hedged");
  PaperOptions first = MaxSpeed(spec, dir);
  first.stop_after = 3'000;
  ASSERT_TRUE(RunPaper(first).ok());
  const LogState before = StateOf(dir);
  const Instrument instrument = InstrumentOf(before.spec);
  execution::AccountState broker;
  broker.positions.push_back(
      execution::HeldPosition{.ticket = 9'001,
                              .instrument = instrument.id,
                              .quantity = *Quantity::Parse("-0.3", instrument.LotPrecision()),
                              .open_price = *Price::Parse("1.10000", 5)});

  PaperOptions start = MaxSpeed(spec, dir);
  start.spec_given = false;
  start.stop_after = 1'000;
  start.venue_account = broker;
  start.reconcile = execution::ReconcilePolicy::kAdopt;
  auto run = RunPaper(start);
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_FALSE(run->reconciliation.empty());
  EXPECT_NE(std::find(run->reconciliation.begin(), run->reconciliation.end(),
                      "unknown position: EURUSD ticket 9001: log none, venue -0.30 lots"),
            run->reconciliation.end());
  ExpectReconciledRunReplaysAndResumes(spec, dir, *run);
}

// A paper session on the asynchronous venue (the simulated venue on its own thread, each report
// travelling 2 ms of wall time): the kernel hears of its fills ticks later, every report it
// consumes is logged as an input where it consumed it, and a replay feeds those reports instead
// of running a venue, reproducing every order, fill, decision and the P&L exactly. A resume
// rebuilds the kernel from the log, starts a fresh venue holding what the log says the account
// holds, finds nothing to reconcile, and trades on; the whole log then replays too.
TEST(PaperTest, ThreadedVenueSessionLogsReportsReplaysAndResumes) {
  TempDir tmp;
  SessionSpec spec = BusySpec(20'000);
  spec.venue = "threaded";
  spec.report_latency_us = 2'000;
  PaperOptions first = MaxSpeed(spec, tmp.Sub("s"));
  first.stop_after = 10'000;
  auto run = RunPaper(first);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_FALSE(run->feed_ended);
  ASSERT_GT(run->fills, 5u) << "the test session should trade";
  EXPECT_GE(run->execution_reports, run->fills);
  EXPECT_EQ(run->reports_not_applied, 0u);
  EXPECT_EQ(run->lost_reports, 0u);  // the loop stops the venue before it closes the inbox

  // The reports are in the log, as inputs between ticks, and some arrived ticks after the order
  // they answer was submitted (the kernel read on meanwhile).
  auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(store.ok());
  uint64_t logged_reports = 0;
  uint64_t ticks_since_submit = 0;
  bool late_fill = false;
  ASSERT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           if (event.type == EventType::kOrderSubmitted) ticks_since_submit = 0;
                           if (event.type == EventType::kTick) ++ticks_since_submit;
                           if (event.type == EventType::kExecutionReport) {
                             ++logged_reports;
                             auto report = persistence::DecodeExecutionReport(event.payload);
                             EXPECT_TRUE(report.ok()) << report.status().message();
                             if (report.ok() && report->kind == ExecKind::kFilled &&
                                 ticks_since_submit > 0) {
                               late_fill = true;
                             }
                           }
                           return Status::Ok();
                         })
                  .ok());
  EXPECT_EQ(logged_reports, run->execution_reports);
  EXPECT_TRUE(late_fill);
  auto spec_read = ReadSessionSpec(**store);
  ASSERT_TRUE(spec_read.ok());
  EXPECT_EQ(spec_read->venue, "threaded");
  EXPECT_EQ(spec_read->report_latency_us, 2'000);

  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
  EXPECT_EQ(replay->orders, run->orders);
  EXPECT_EQ(replay->fills, run->fills);
  EXPECT_EQ(replay->account.balance.raw(), run->account.balance.raw());
  EXPECT_EQ(replay->account.equity.raw(), run->account.equity.raw());
  const LogState log = StateOf(tmp.Sub("s"));
  EXPECT_EQ(log.balance.raw(), run->account.balance.raw());
  EXPECT_EQ(log.fills, run->fills);
  store->reset();

  PaperOptions resume = MaxSpeed(spec, tmp.Sub("s"));
  resume.spec_given = false;
  auto resumed = RunPaper(resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_TRUE(resumed->resumed);
  EXPECT_EQ(resumed->resumed_ticks, 10'000u);
  EXPECT_TRUE(resumed->reconciliation.empty())
      << resumed->reconciliation.front() << " (the fresh venue holds what the log implies)";
  EXPECT_TRUE(resumed->feed_ended);
  EXPECT_GT(resumed->fills, run->fills) << "the resumed session trades on";
  auto whole = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(whole.ok());
  auto again = Replay(**whole, MakeRuleSignalFor);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->equal) << again->divergence.seq << ": " << again->divergence.logged << " vs "
                            << again->divergence.produced;
  EXPECT_EQ(again->fills, resumed->fills);
  EXPECT_EQ(again->account.balance.raw(), resumed->account.balance.raw());
}

// A replay checks the logged reports against what it sends: a report of an order the run never
// sent (here, a log whose first submitted order's report names another id) is a divergence.
TEST(PaperTest, ThreadedReplayRefusesAReportOfAnOrderItDidNotSend) {
  TempDir tmp;
  SessionSpec spec = BusySpec(3'000);
  spec.venue = "threaded";
  ASSERT_TRUE(RunPaper(MaxSpeed(spec, tmp.Sub("s"))).ok());
  auto source = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(source.ok());
  auto copy = EventStore::Open(tmp.Sub("forged.db"));
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  bool forged = false;
  ASSERT_TRUE((*source)
                  ->Scan(1,
                         [&](const Event& event) {
                           std::string payload = event.payload;
                           if (!forged && event.type == EventType::kExecutionReport) {
                             auto report = persistence::DecodeExecutionReport(payload);
                             EXPECT_TRUE(report.ok());
                             report->order_id = OrderId{report->order_id.value + 1'000};
                             payload.clear();
                             persistence::EncodeExecutionReport(*report, &payload);
                             forged = true;
                           }
                           return (*copy)->Append(event.type, event.ts, payload).status();
                         })
                  .ok());
  ASSERT_TRUE(forged);
  ASSERT_TRUE((*copy)->Close().ok());
  auto store = EventStore::OpenReadOnly(tmp.Sub("forged.db"));
  ASSERT_TRUE(store.ok());
  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_FALSE(replay->equal);
  EXPECT_NE(replay->divergence.logged.find("execution_report"), std::string::npos)
      << replay->divergence.logged;
  EXPECT_NE(replay->divergence.produced.find("was sent to the venue"), std::string::npos)
      << replay->divergence.produced;
}

TEST(SessionSpecTest, VenueIsRecordedForTheThreadedVenueOnlyAndChecked) {
  SessionSpec spec;
  EXPECT_EQ(spec.ToJson().find("venue"), std::string::npos);  // reads as before
  ASSERT_TRUE(SetExecution(&spec, "threaded", "5ms", "--venue", "--report-latency").ok());
  EXPECT_EQ(spec.report_latency_us, 5'000);
  auto back = SessionSpec::FromJson(spec.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->venue, "threaded");
  EXPECT_EQ(back->report_latency_us, 5'000);
  EXPECT_EQ(spec.FirstDifference(SessionSpec{}), "venue: \"threaded\" vs null");

  const Status bad = SetExecution(&spec, "foo", "", "--venue", "--report-latency");
  EXPECT_EQ(bad.message(), "--venue: venue 'foo' is not one of simulated, threaded");
  EXPECT_EQ(SetExecution(&spec, "", "5 parsecs", "--venue", "--report-latency").message(),
            "--report-latency: report latency '5 parsecs' has no unit of ns, us, ms or s");
  EXPECT_FALSE(SetExecution(&spec, "", "2min", "--venue", "--report-latency").ok());
  EXPECT_FALSE(SetExecution(&spec, "", "-1ms", "--venue", "--report-latency").ok());
  SessionSpec simulated;
  EXPECT_NE(SetExecution(&simulated, "", "1ms", "--venue", "--report-latency")
                .message()
                .find("add --venue threaded"),
            std::string::npos);
  for (const auto& [text, micros] : std::vector<std::pair<std::string, int64_t>>{
           {"0", 0}, {"250us", 250}, {"1.5ms", 1'500}, {"1s", 1'000'000}, {"2000ns", 2}}) {
    auto parsed = ParseReportLatency(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
    EXPECT_EQ(*parsed, micros) << text;
  }
  auto unknown = SessionSpec::FromJson(
      R"({"feed":"synthetic","format":"auto","spread_points":0,"symbol":"EURUSD","seed":1,)"
      R"("synthetic_start_ns":0,"start_price":1.1,"volatility":1,"max_ticks":10,)"
      R"("signal":"sma_cross","signal_params":"","registry":"","model":"","model_checksum":"",)"
      R"("decision":[],"risk":[],"account_currency":"USD","balance":100000,"leverage":100,)"
      R"("latency_us":0,"commission":"none","slippage_points":0,"bar_seconds":60,)"
      R"("session_id":"paper","reconcile":"refuse","venue":"foo","report_latency_us":0})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("field 'venue'"), std::string::npos)
      << unknown.status().message();
}

TEST(SessionSpecTest, AccountModeIsRecordedForHedgingOnlyAndChecked) {
  SessionSpec spec = BusySpec(10);
  EXPECT_EQ(spec.ToJson().find("account_mode"), std::string::npos);  // netting: as before
  spec.account_mode = "hedging";
  auto back = SessionSpec::FromJson(spec.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->account_mode, "hedging");
  EXPECT_EQ(BusySpec(10).FirstDifference(spec), "account_mode: null vs \"hedging\"");
  std::string bad = spec.ToJson();
  bad.replace(bad.find("\"hedging\""), 9, "\"hedged\"");
  auto refused = SessionSpec::FromJson(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("account_mode"), std::string::npos);
  EXPECT_NE(refused.status().message().find("hedged"), std::string::npos);
}

TEST(SessionSpecTest, JsonRoundTripAndDifferences) {
  SessionSpec spec = BusySpec(5);
  auto back = SessionSpec::FromJson(spec.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ToJson(), spec.ToJson());
  EXPECT_EQ(spec.FirstDifference(*back), "");
  back->leverage = 30;
  EXPECT_NE(spec.FirstDifference(*back).find("leverage"), std::string::npos);
  EXPECT_FALSE(SessionSpec::FromJson("{\"feed\": 3}").ok());
  // The reconciliation policy: refuse by default, read back, and a bad one named.
  EXPECT_EQ(spec.reconcile, "refuse");
  std::string adopt = spec.ToJson();
  adopt.replace(adopt.find("\"refuse\""), 8, "\"adopt\"");
  EXPECT_EQ(SessionSpec::FromJson(adopt)->reconcile, "adopt");
  std::string bad = spec.ToJson();
  bad.replace(bad.find("\"refuse\""), 8, "\"ignore\"");
  const Status refused = SessionSpec::FromJson(bad).status();
  EXPECT_NE(refused.message().find("field 'reconcile'"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("\"ignore\""), std::string::npos) << refused.message();
  EXPECT_FALSE(SessionSpec::FromJson("not json").ok());
}

// A session records the instrument it resolved (docs/instruments.md); a log written before that
// has none and is rebuilt from its symbol as it was run.
TEST(SessionSpecTest, RecordsItsInstrumentAndReadsOldLogs) {
  SessionSpec spec = BusySpec(5);
  spec.symbol = "XAUUSD";
  Instrument gold = Instrument::Infer("XAUUSD");
  gold.digits = 2;
  gold.tick_size = Price::FromRaw(10'000'000, 2);
  gold.pip_size = gold.tick_size;
  gold.contract_size = 100;
  gold.max_lots = Quantity::FromRaw(50 * kFixedScale, 2);
  gold.margin_rate = 2.5;
  spec.instrument = gold;
  auto back = SessionSpec::FromJson(spec.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->instrument.has_value());
  const Instrument read = InstrumentOf(*back);
  EXPECT_EQ(read.symbol, "XAUUSD");
  EXPECT_EQ(read.digits, 2);
  EXPECT_EQ(read.tick_size, gold.tick_size);
  EXPECT_EQ(read.contract_size, 100);
  EXPECT_EQ(read.max_lots.ToString(), "50.00");
  EXPECT_EQ(read.margin_rate, 2.5);
  EXPECT_EQ(back->ToJson(), spec.ToJson());

  SessionSpec old = spec;
  old.instrument.reset();
  EXPECT_EQ(InstrumentOf(old).digits, Instrument::Infer("XAUUSD").digits);
  EXPECT_NE(old.FirstDifference(spec).find("instrument"), std::string::npos);
  EXPECT_NE(spec.FirstDifference(old).find("instrument"), std::string::npos);
  std::string bad = spec.ToJson();
  const std::string size_field = "\"contract_size\":100";
  bad.replace(bad.find(size_field), size_field.size(), "\"contract_size\":-100");
  auto refused = SessionSpec::FromJson(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("field 'instrument'"), std::string::npos)
      << refused.status().message();
}

// --- Live sessions (aits live): what the session needs from the MetaTrader gateway, and how its
// venue goes live on a broker.

TEST(LiveSession, AnMt5FeedOrVenueWithoutTheGatewayIsRefusedBeforeAnythingIsWritten) {
  TempDir tmp;
  SessionSpec spec = BusySpec(100);
  spec.feed = std::string(kLiveFeed);
  auto run = RunPaper(MaxSpeed(spec, tmp.Sub("feed")));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().message(),
            "the feed mt5 is the MetaTrader gateway's live data, which aits live connects");
  EXPECT_FALSE(fs::exists(tmp.Sub("feed") + "/events.db"));

  spec = BusySpec(100);
  spec.venue = "mt5";
  run = RunPaper(MaxSpeed(spec, tmp.Sub("venue")));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().message(),
            "the venue mt5 is a live MetaTrader account, which aits live connects");
  EXPECT_FALSE(fs::exists(tmp.Sub("venue") + "/events.db"));

  // aits paper's --venue refuses it by name.
  const Status status = SetExecution(&spec, "mt5", "", "--venue", "--report-latency");
  EXPECT_NE(status.message().find("--venue: mt5 is a live MetaTrader account"), std::string::npos)
      << status.message();
}

TEST(LiveSession, ABrokersVenueForwardsOnceLiveAndIsNotSeeded) {
  node::ThreadedVenueConfig config;
  node::ThreadedVenue* made = nullptr;
  SessionVenue venue([&]() -> std::unique_ptr<execution::ExecutionClient> {
    auto client = std::make_unique<node::ThreadedVenue>(config);
    made = client.get();
    return client;
  });
  EXPECT_FALSE(venue.seeds());
  venue.AddInstrument(Instrument::Infer("EURUSD"));
  // Following the log: nothing reaches a broker.
  Order order;
  order.id = OrderId{1};
  order.request.quantity = *Quantity::FromDouble(0.1, 2);
  EXPECT_EQ(venue.Submit(order), 0u);
  EXPECT_TRUE(venue.Sent(OrderId{1}));
  EXPECT_EQ(made, nullptr);
  // Live: the broker's client, given the instruments; the log's account is not put into it.
  execution::AccountState implied;
  implied.positions.push_back(execution::HeldPosition{});
  ASSERT_TRUE(venue.GoLive(implied, Timestamp{}).ok());
  ASSERT_NE(made, nullptr);
  EXPECT_TRUE(venue.live());
  auto snapshot = venue.Snapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().message();
  EXPECT_TRUE(snapshot->positions.empty());
  EXPECT_EQ(venue.Seed(implied, Timestamp{}).message(), "a broker's account cannot be seeded");
  EXPECT_EQ(venue.GoLive(implied, Timestamp{}).message(), "the session's venue is already live");

  SessionVenue unconnected{BrokerFactory{}};
  EXPECT_NE(unconnected.GoLive(implied, Timestamp{}).message().find("aits live does"),
            std::string::npos);
}

}  // namespace
}  // namespace aits::session
