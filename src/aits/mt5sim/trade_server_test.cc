#include "aits/mt5sim/trade_server.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aits::mt5sim {
namespace {

using mt5::DealEntry;
using mt5::DealReason;
using mt5::Execution;
using mt5::Filling;
using mt5::OrderState;
using mt5::OrderType;
using mt5::TransactionType;
namespace rc = mt5::retcode;

// Monday 2020-01-06 10:00:00 UTC, server time.
constexpr int64_t kMonday10 = 1578304800000;
constexpr int64_t kHour = 3'600'000;

mt5::SymbolSpec Eurusd(Execution execution = Execution::kMarket) {
  mt5::SymbolSpec spec;
  spec.name = "EURUSD";
  spec.digits = 5;
  spec.point = 0.00001;
  spec.tick_size = 0.00001;
  spec.tick_value = 1;
  spec.contract_size = 100000;
  spec.volume_min = 0.01;
  spec.volume_max = 100;
  spec.volume_step = 0.01;
  spec.stops_level = 10;
  spec.freeze_level = 5;
  spec.filling_mode = mt5::kSymbolFillingFok | mt5::kSymbolFillingIoc;
  spec.execution_mode = static_cast<uint32_t>(execution);
  spec.trade_mode = static_cast<uint32_t>(mt5::SymbolTradeMode::kFull);
  spec.calc_mode = 0;
  spec.currency_base = "EUR";
  spec.currency_profit = "USD";
  spec.currency_margin = "EUR";
  spec.swap_long = -5;
  spec.swap_short = 2;
  return spec;
}

mt5::TickData Tick(int64_t time_msc, double bid, double ask, double volume = 0) {
  mt5::TickData tick;
  tick.time_msc = time_msc;
  tick.bid = bid;
  tick.ask = ask;
  tick.volume = volume;
  tick.flags = mt5::kTickFlagBid | mt5::kTickFlagAsk;
  return tick;
}

mt5::PlaceOrder Market(std::string cid, OrderType type, double volume,
                       Filling filling = Filling::kFok) {
  mt5::PlaceOrder order;
  order.client_order_id = std::move(cid);
  order.magic = 42;
  order.symbol = "EURUSD";
  order.action = static_cast<uint32_t>(mt5::TradeAction::kDeal);
  order.type = static_cast<uint32_t>(type);
  order.volume = volume;
  order.type_filling = static_cast<uint32_t>(filling);
  return order;
}

mt5::PlaceOrder Pending(std::string cid, OrderType type, double volume, double price) {
  mt5::PlaceOrder order = Market(std::move(cid), type, volume, Filling::kReturn);
  order.action = static_cast<uint32_t>(mt5::TradeAction::kPending);
  order.price = price;
  return order;
}

std::vector<TransactionType> Types(const std::vector<mt5::Transaction>& transactions) {
  std::vector<TransactionType> types;
  for (const mt5::Transaction& tx : transactions) {
    types.push_back(static_cast<TransactionType>(tx.type));
  }
  return types;
}

class TradeServerTest : public ::testing::Test {
 protected:
  void Make(ServerConfig config = {}, mt5::SymbolSpec spec = Eurusd()) {
    server_ = std::make_unique<TradeServer>(std::move(config));
    ASSERT_TRUE(server_->AddSymbol(spec).ok());
    ASSERT_TRUE(server_->OnTick("EURUSD", Tick(kMonday10, 1.10000, 1.10010)).ok());
  }
  void Feed(int64_t offset_ms, double bid, double ask, double volume = 0) {
    ASSERT_TRUE(server_->OnTick("EURUSD", Tick(kMonday10 + offset_ms, bid, ask, volume)).ok());
  }
  static ServerConfig Hedging() {
    ServerConfig config;
    config.account.margin_mode = mt5::MarginMode::kRetailHedging;
    return config;
  }

  std::unique_ptr<TradeServer> server_;
};

// --- executions and transaction sequences --------------------------------------------------

TEST_F(TradeServerTest, MarketBuyFillsAtTheAskWithMt5sTransactionSequence) {
  Make();
  mt5::TradeResult result = server_->PlaceOrder(Market("cid-1", OrderType::kBuy, 0.5));
  EXPECT_EQ(result.retcode, rc::kDone);
  EXPECT_EQ(result.client_order_id, "cid-1");
  EXPECT_EQ(result.order, 10000001u);
  EXPECT_EQ(result.deal, 20000001u);
  EXPECT_DOUBLE_EQ(result.price, 1.10010);
  EXPECT_DOUBLE_EQ(result.volume, 0.5);
  EXPECT_EQ(result.mt5_request_id, 1u);
  std::vector<mt5::Transaction> txs = server_->TakeTransactions();
  EXPECT_EQ(Types(txs), (std::vector<TransactionType>{
                            TransactionType::kOrderAdd, TransactionType::kDealAdd,
                            TransactionType::kOrderDelete, TransactionType::kHistoryAdd,
                            TransactionType::kRequest}));
  EXPECT_EQ(txs[0].order_state, static_cast<uint32_t>(OrderState::kStarted));
  EXPECT_EQ(txs[1].deal, 20000001u);
  EXPECT_EQ(txs[1].deal_entry, static_cast<uint32_t>(DealEntry::kIn));
  EXPECT_EQ(txs[1].magic, 42u);
  EXPECT_EQ(txs[1].comment, "cid-1");
  EXPECT_EQ(txs[1].position, 10000001u);
  EXPECT_EQ(txs[2].order_state, static_cast<uint32_t>(OrderState::kFilled));
  EXPECT_EQ(txs[4].retcode, rc::kDone);
  EXPECT_EQ(txs[4].mt5_request_id, 1u);
  ASSERT_EQ(server_->Positions().size(), 1u);
  EXPECT_EQ(server_->Positions()[0].ticket, 10000001u);
  // Margin: 0.5 lot * 100000 / 100 * 1.10010 EURUSD.
  EXPECT_NEAR(server_->Margin(), 550.05, 1e-9);
  EXPECT_TRUE(server_->InUse("cid-1"));
  EXPECT_TRUE(server_->InUse("", 42));
  EXPECT_FALSE(server_->InUse("cid-2", 43));
}

TEST_F(TradeServerTest, NettingSellReducesThenReversesTheLong) {
  Make();
  ASSERT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 1.0)).retcode, rc::kDone);
  Feed(1000, 1.10100, 1.10110);
  mt5::TradeResult reduce = server_->PlaceOrder(Market("b", OrderType::kSell, 0.4));
  ASSERT_EQ(reduce.retcode, rc::kDone);
  ASSERT_EQ(server_->Positions().size(), 1u);
  EXPECT_DOUBLE_EQ(server_->Positions()[0].volume, 0.6);
  std::vector<mt5::DealInfo> deals = server_->HistoryDeals(0, kMonday10 + kHour);
  ASSERT_EQ(deals.size(), 2u);
  EXPECT_EQ(deals[1].entry, static_cast<uint32_t>(DealEntry::kOut));
  // 0.4 lot closed 90 points up: 0.00090 * 100000 * 0.4 = 36.
  EXPECT_NEAR(deals[1].profit, 36.0, 1e-6);
  EXPECT_NEAR(server_->balance(), 10036.0, 1e-6);

  mt5::TradeResult reverse = server_->PlaceOrder(Market("c", OrderType::kSell, 1.0));
  ASSERT_EQ(reverse.retcode, rc::kDone);
  ASSERT_EQ(server_->Positions().size(), 1u);
  const mt5::PositionInfo position = server_->Positions()[0];
  EXPECT_EQ(position.type, 1u);
  EXPECT_DOUBLE_EQ(position.volume, 0.4);
  // The reversing order's ticket becomes the position's; the deal keeps the identifier.
  EXPECT_EQ(position.ticket, reverse.order);
  deals = server_->HistoryDeals(0, kMonday10 + kHour);
  EXPECT_EQ(deals[2].entry, static_cast<uint32_t>(DealEntry::kInOut));
  EXPECT_EQ(deals[2].position_id, 10000001u);
}

TEST_F(TradeServerTest, NettingDealNamingItsPositionReducesIt) {
  Make();
  mt5::TradeResult buy = server_->PlaceOrder(Market("a", OrderType::kBuy, 0.3));
  mt5::PlaceOrder sell = Market("b", OrderType::kSell, 0.1);
  sell.position = buy.order;
  ASSERT_EQ(server_->PlaceOrder(sell).retcode, rc::kDone);
  ASSERT_EQ(server_->Positions().size(), 1u);
  EXPECT_DOUBLE_EQ(server_->Positions()[0].volume, 0.2);
  sell.client_order_id = "c";
  sell.position = 777;
  EXPECT_EQ(server_->PlaceOrder(sell).retcode, rc::kPositionClosed);
}

TEST_F(TradeServerTest, HedgingSellOpensASecondPositionAndClosesByTicket) {
  Make(Hedging());
  mt5::TradeResult buy = server_->PlaceOrder(Market("a", OrderType::kBuy, 1.0));
  mt5::TradeResult sell = server_->PlaceOrder(Market("b", OrderType::kSell, 1.0));
  ASSERT_EQ(buy.retcode, rc::kDone);
  ASSERT_EQ(sell.retcode, rc::kDone);
  ASSERT_EQ(server_->Positions().size(), 2u);
  server_->TakeTransactions();

  mt5::ClosePosition close;
  close.client_order_id = "c";
  close.ticket = buy.order;
  close.volume = 0.3;
  close.type_filling = static_cast<uint32_t>(Filling::kFok);
  mt5::TradeResult closed = server_->ClosePosition(close);
  ASSERT_EQ(closed.retcode, rc::kDone);
  EXPECT_DOUBLE_EQ(closed.price, 1.10000);  // a long closes at the bid
  std::vector<mt5::Transaction> txs = server_->TakeTransactions();
  ASSERT_EQ(txs.size(), 5u);
  EXPECT_EQ(txs[1].deal_entry, static_cast<uint32_t>(DealEntry::kOut));
  EXPECT_EQ(txs[1].position, buy.order);
  ASSERT_EQ(server_->Positions().size(), 2u);
  EXPECT_DOUBLE_EQ(server_->Positions()[0].volume, 0.7);

  close.volume = 0;  // the rest
  close.client_order_id = "d";
  ASSERT_EQ(server_->ClosePosition(close).retcode, rc::kDone);
  ASSERT_EQ(server_->Positions().size(), 1u);
  EXPECT_EQ(server_->Positions()[0].ticket, sell.order);
}

TEST_F(TradeServerTest, CloseByClosesBothAtTheGapBetweenTheOpens) {
  Make(Hedging());
  mt5::TradeResult buy = server_->PlaceOrder(Market("a", OrderType::kBuy, 1.0));  // 1.10010
  Feed(1000, 1.10200, 1.10210);
  mt5::TradeResult sell = server_->PlaceOrder(Market("b", OrderType::kSell, 0.5));  // 1.10200
  server_->TakeTransactions();
  mt5::CloseBy by;
  by.client_order_id = "c";
  by.ticket = buy.order;
  by.ticket_by = sell.order;
  mt5::TradeResult result = server_->CloseBy(by);
  ASSERT_EQ(result.retcode, rc::kDone);
  EXPECT_EQ(
      Types(server_->TakeTransactions()),
      (std::vector<TransactionType>{TransactionType::kOrderAdd, TransactionType::kDealAdd,
                                    TransactionType::kDealAdd, TransactionType::kOrderDelete,
                                    TransactionType::kHistoryAdd, TransactionType::kRequest}));
  ASSERT_EQ(server_->Positions().size(), 1u);
  EXPECT_DOUBLE_EQ(server_->Positions()[0].volume, 0.5);
  // 0.5 lot between 1.10010 and 1.10200: 190 points * 0.5 = 95.
  EXPECT_NEAR(server_->balance(), 10095.0, 1e-6);
  std::vector<mt5::DealInfo> deals = server_->HistoryDeals(0, kMonday10 + kHour);
  EXPECT_EQ(deals.back().entry, static_cast<uint32_t>(DealEntry::kOutBy));
  // Close by on a netting account is not a thing.
  Make();
  EXPECT_EQ(server_->CloseBy(by).retcode, rc::kInvalid);
}

// --- one test (at least) per retcode -------------------------------------------------------

TEST_F(TradeServerTest, InvalidVolume10014) {
  Make();
  for (double volume : {0.0, 0.005, 0.015, 100.01, -1.0}) {
    EXPECT_EQ(server_->PlaceOrder(Market("v", OrderType::kBuy, volume)).retcode, rc::kInvalidVolume)
        << volume;
  }
  std::vector<mt5::Transaction> txs = server_->TakeTransactions();
  ASSERT_EQ(txs.size(), 5u);  // one REQUEST each, nothing else
  EXPECT_EQ(txs[0].type, static_cast<uint32_t>(TransactionType::kRequest));
  EXPECT_EQ(txs[0].retcode, rc::kInvalidVolume);
  EXPECT_TRUE(server_->Positions().empty());
  EXPECT_EQ(server_->PlaceOrder(Market("v", OrderType::kBuy, 100)).retcode, rc::kNoMoney);
}

TEST_F(TradeServerTest, InvalidFill10030FollowsTheSymbolsFillingFlags) {
  mt5::SymbolSpec fok_only = Eurusd();
  fok_only.filling_mode = mt5::kSymbolFillingFok;
  Make({}, fok_only);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1, Filling::kIoc)).retcode,
            rc::kInvalidFill);
  // Market execution refuses RETURN for a market order ...
  EXPECT_EQ(server_->PlaceOrder(Market("b", OrderType::kBuy, 0.1, Filling::kReturn)).retcode,
            rc::kInvalidFill);
  EXPECT_EQ(server_->PlaceOrder(Market("c", OrderType::kBuy, 0.1, Filling::kBoc)).retcode,
            rc::kInvalidFill);
  EXPECT_EQ(server_->PlaceOrder(Market("d", OrderType::kBuy, 0.1, Filling::kFok)).retcode,
            rc::kDone);
  // ... closes included.
  mt5::ClosePosition close;
  close.ticket = server_->Positions()[0].ticket;
  close.type_filling = static_cast<uint32_t>(Filling::kIoc);
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kInvalidFill);
  // ... and a pending order may return, but may ask for BOC only when the symbol allows it.
  EXPECT_EQ(server_->PlaceOrder(Pending("e", OrderType::kBuyLimit, 0.1, 1.09000)).retcode,
            rc::kPlaced);
  mt5::PlaceOrder boc = Pending("f", OrderType::kBuyLimit, 0.1, 1.09000);
  boc.type_filling = static_cast<uint32_t>(Filling::kBoc);
  EXPECT_EQ(server_->PlaceOrder(boc).retcode, rc::kInvalidFill);

  // Instant execution takes RETURN for market orders; IOC only with its flag.
  mt5::SymbolSpec instant = Eurusd(Execution::kInstant);
  instant.filling_mode = mt5::kSymbolFillingFok;
  Make({}, instant);
  EXPECT_EQ(server_->PlaceOrder(Market("g", OrderType::kBuy, 0.1, Filling::kReturn)).retcode,
            rc::kDone);
  EXPECT_EQ(server_->PlaceOrder(Market("h", OrderType::kBuy, 0.1, Filling::kIoc)).retcode,
            rc::kInvalidFill);
  mt5::SymbolSpec boc_allowed = Eurusd();
  boc_allowed.filling_mode = mt5::kSymbolFillingBoc | mt5::kSymbolFillingFok;
  Make({}, boc_allowed);
  EXPECT_EQ(server_->PlaceOrder(boc).retcode, rc::kPlaced);
  boc.type = static_cast<uint32_t>(OrderType::kBuyStop);
  boc.price = 1.11000;
  EXPECT_EQ(server_->PlaceOrder(boc).retcode, rc::kInvalidFill);
}

TEST_F(TradeServerTest, InvalidPrice10015ForPendingOrders) {
  Make();  // bid 1.10000 ask 1.10010, stops level 10 points
  // A buy limit above the ask, a sell limit below the bid, a buy stop below the ask.
  EXPECT_EQ(server_->PlaceOrder(Pending("a", OrderType::kBuyLimit, 0.1, 1.10020)).retcode,
            rc::kInvalidPrice);
  EXPECT_EQ(server_->PlaceOrder(Pending("b", OrderType::kSellLimit, 0.1, 1.09990)).retcode,
            rc::kInvalidPrice);
  EXPECT_EQ(server_->PlaceOrder(Pending("c", OrderType::kBuyStop, 0.1, 1.10000)).retcode,
            rc::kInvalidPrice);
  // Within the stops level (9 points from the ask), or off the tick grid.
  EXPECT_EQ(server_->PlaceOrder(Pending("d", OrderType::kBuyLimit, 0.1, 1.10001)).retcode,
            rc::kInvalidPrice);
  EXPECT_EQ(server_->PlaceOrder(Pending("e", OrderType::kBuyLimit, 0.1, 1.099995)).retcode,
            rc::kInvalidPrice);
  // Exactly the stops level away is allowed.
  EXPECT_EQ(server_->PlaceOrder(Pending("f", OrderType::kBuyLimit, 0.1, 1.10000)).retcode,
            rc::kPlaced);
  EXPECT_EQ(server_->PlaceOrder(Pending("g", OrderType::kSellStop, 0.1, 1.09990)).retcode,
            rc::kPlaced);
}

TEST_F(TradeServerTest, InvalidStops10016AgainstTheStopsLevel) {
  Make();  // bid 1.10000: a buy's SL must be <= 1.09990, TP >= 1.10010
  mt5::PlaceOrder buy = Market("a", OrderType::kBuy, 0.1);
  buy.sl = 1.09995;
  EXPECT_EQ(server_->PlaceOrder(buy).retcode, rc::kInvalidStops);
  buy.sl = 1.10050;  // above the price
  EXPECT_EQ(server_->PlaceOrder(buy).retcode, rc::kInvalidStops);
  buy.sl = 1.09990;
  buy.tp = 1.10005;
  EXPECT_EQ(server_->PlaceOrder(buy).retcode, rc::kInvalidStops);
  buy.tp = 1.10010;
  EXPECT_EQ(server_->PlaceOrder(buy).retcode, rc::kDone);
  // A sell's SL above the ask (1.10010) by 10 points.
  mt5::PlaceOrder sell = Market("b", OrderType::kSell, 0.1);
  sell.sl = 1.10015;
  EXPECT_EQ(server_->PlaceOrder(sell).retcode, rc::kInvalidStops);
  // Modifying a position checks the same.
  mt5::ModifyPosition modify;
  modify.ticket = server_->Positions()[0].ticket;
  modify.sl = 1.09999;
  modify.tp = 1.10010;
  EXPECT_EQ(server_->ModifyPosition(modify).retcode, rc::kInvalidStops);
  // A pending order's stops are measured from its own price.
  mt5::PlaceOrder limit = Pending("c", OrderType::kBuyLimit, 0.1, 1.09000);
  limit.sl = 1.08995;
  EXPECT_EQ(server_->PlaceOrder(limit).retcode, rc::kInvalidStops);
  limit.sl = 1.08990;
  EXPECT_EQ(server_->PlaceOrder(limit).retcode, rc::kPlaced);
}

TEST_F(TradeServerTest, Frozen10029WithinTheFreezeLevel) {
  Make();  // freeze level 5 points
  mt5::TradeResult limit = server_->PlaceOrder(Pending("a", OrderType::kBuyLimit, 0.1, 1.09900));
  ASSERT_EQ(limit.retcode, rc::kPlaced);
  Feed(1000, 1.09893, 1.09903);  // the ask 3 points above the limit: frozen
  mt5::CancelOrder cancel;
  cancel.ticket = limit.order;
  EXPECT_EQ(server_->CancelOrder(cancel).retcode, rc::kFrozen);
  mt5::ModifyOrder move;
  move.ticket = limit.order;
  move.price = 1.09800;
  EXPECT_EQ(server_->ModifyOrder(move).retcode, rc::kFrozen);
  Feed(2000, 1.10000, 1.10010);
  EXPECT_EQ(server_->ModifyOrder(move).retcode, rc::kDone);
  EXPECT_EQ(server_->CancelOrder(cancel).retcode, rc::kDone);
  EXPECT_EQ(server_->HistoryOrders(0, kMonday10 + kHour).back().state,
            static_cast<uint32_t>(OrderState::kCanceled));

  // A position whose SL is within the freeze level of the bid cannot be modified.
  mt5::PlaceOrder buy = Market("b", OrderType::kBuy, 0.1);
  buy.sl = 1.09980;
  mt5::TradeResult opened = server_->PlaceOrder(buy);
  ASSERT_EQ(opened.retcode, rc::kDone);
  Feed(3000, 1.09983, 1.09993);
  mt5::ModifyPosition modify;
  modify.ticket = opened.order;
  modify.sl = 1.09900;
  EXPECT_EQ(server_->ModifyPosition(modify).retcode, rc::kFrozen);
}

TEST_F(TradeServerTest, MarketClosed10018OutsideTheSessions) {
  mt5::SymbolSpec spec = Eurusd();
  spec.sessions.push_back({1, 0, 12 * 3600});  // Monday until noon
  Make({}, spec);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kDone);
  Feed(3 * kHour, 1.10000, 1.10010);  // 13:00
  EXPECT_EQ(server_->PlaceOrder(Market("b", OrderType::kBuy, 0.1)).retcode, rc::kMarketClosed);
  EXPECT_EQ(server_->PlaceOrder(Pending("c", OrderType::kBuyLimit, 0.1, 1.09)).retcode,
            rc::kMarketClosed);
}

TEST_F(TradeServerTest, NoMoney10019) {
  ServerConfig config;
  config.account.balance = 1000;
  Make(config);
  // 0.9 lot needs 0.9 * 100000 / 100 * 1.1001 = 990.09 of 1000.
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.9)).retcode, rc::kDone);
  EXPECT_EQ(server_->PlaceOrder(Market("b", OrderType::kBuy, 0.01)).retcode, rc::kNoMoney);
  // Reducing needs no margin.
  EXPECT_EQ(server_->PlaceOrder(Market("c", OrderType::kSell, 0.5)).retcode, rc::kDone);
}

TEST_F(TradeServerTest, Requote10004AndPriceChanged10020BeyondTheDeviation) {
  Make({}, Eurusd(Execution::kInstant));
  mt5::PlaceOrder buy = Market("a", OrderType::kBuy, 0.1);
  buy.price = 1.09990;  // the ask is 20 points higher
  buy.deviation = 10;
  mt5::TradeResult requote = server_->PlaceOrder(buy);
  EXPECT_EQ(requote.retcode, rc::kRequote);
  EXPECT_DOUBLE_EQ(requote.bid, 1.10000);
  EXPECT_DOUBLE_EQ(requote.ask, 1.10010);
  EXPECT_EQ(requote.comment, "Requote");
  buy.deviation = 20;
  EXPECT_EQ(server_->PlaceOrder(buy).retcode, rc::kDone);

  Make({}, Eurusd(Execution::kRequest));
  buy.deviation = 10;
  EXPECT_EQ(server_->PlaceOrder(buy).retcode, rc::kPriceChanged);

  // The fault knob requotes although the price holds.
  ServerConfig always;
  always.requote_probability = 1;
  Make(always, Eurusd(Execution::kInstant));
  buy.price = 0;
  EXPECT_EQ(server_->PlaceOrder(buy).retcode, rc::kRequote);
}

TEST_F(TradeServerTest, MarketExecutionSlipsWithinTheDeviation) {
  ServerConfig config;
  config.max_slippage_points = 50;
  Make(config);
  mt5::PlaceOrder buy = Market("a", OrderType::kBuy, 0.01);
  buy.deviation = 3;
  bool slipped = false;
  for (int i = 0; i < 40; ++i) {
    buy.client_order_id = "s" + std::to_string(i);
    mt5::TradeResult result = server_->PlaceOrder(buy);
    ASSERT_EQ(result.retcode, rc::kDone);
    EXPECT_GE(result.price, 1.10010 - 1e-12);
    EXPECT_LE(result.price, 1.10013 + 1e-12);
    slipped |= result.price > 1.10010 + 1e-9;
  }
  EXPECT_TRUE(slipped);
  buy.deviation = 0;
  EXPECT_DOUBLE_EQ(server_->PlaceOrder(buy).price, 1.10010);
}

TEST_F(TradeServerTest, PartialFills10010PerFillingModeOnExchangeExecution) {
  mt5::SymbolSpec spec = Eurusd(Execution::kExchange);
  spec.filling_mode = mt5::kSymbolFillingFok | mt5::kSymbolFillingIoc;
  ServerConfig config;
  config.exchange_depth_lots = 0.5;
  Make(config, spec);
  // FOK: all or nothing.
  EXPECT_EQ(server_->PlaceOrder(Market("fok", OrderType::kBuy, 1.0, Filling::kFok)).retcode,
            rc::kReject);
  EXPECT_TRUE(server_->Positions().empty());
  server_->TakeTransactions();
  // IOC: fills what is there, the rest is cancelled.
  mt5::TradeResult ioc = server_->PlaceOrder(Market("ioc", OrderType::kBuy, 1.0, Filling::kIoc));
  EXPECT_EQ(ioc.retcode, rc::kDonePartial);
  EXPECT_DOUBLE_EQ(ioc.volume, 0.5);
  EXPECT_EQ(
      Types(server_->TakeTransactions()),
      (std::vector<TransactionType>{TransactionType::kOrderAdd, TransactionType::kDealAdd,
                                    TransactionType::kOrderDelete, TransactionType::kHistoryAdd,
                                    TransactionType::kRequest}));
  EXPECT_EQ(server_->HistoryOrders(0, kMonday10 + kHour).back().state,
            static_cast<uint32_t>(OrderState::kCanceled));
  EXPECT_TRUE(server_->Orders().empty());
  // RETURN: the rest keeps working and fills on the next tick's depth.
  mt5::TradeResult ret = server_->PlaceOrder(Market("ret", OrderType::kBuy, 1.0, Filling::kReturn));
  EXPECT_EQ(ret.retcode, rc::kDonePartial);
  EXPECT_DOUBLE_EQ(ret.volume, 0.5);
  EXPECT_EQ(
      Types(server_->TakeTransactions()),
      (std::vector<TransactionType>{TransactionType::kOrderAdd, TransactionType::kDealAdd,
                                    TransactionType::kOrderUpdate, TransactionType::kRequest}));
  ASSERT_EQ(server_->Orders().size(), 1u);
  EXPECT_EQ(server_->Orders()[0].state, static_cast<uint32_t>(OrderState::kPartial));
  EXPECT_DOUBLE_EQ(server_->Orders()[0].volume_current, 0.5);
  Feed(1000, 1.10000, 1.10020, 0.3);  // the tick's own volume is the depth
  EXPECT_DOUBLE_EQ(server_->Orders()[0].volume_current, 0.2);
  Feed(2000, 1.10000, 1.10020);
  EXPECT_TRUE(server_->Orders().empty());
  EXPECT_EQ(server_->HistoryOrders(0, kMonday10 + kHour).back().state,
            static_cast<uint32_t>(OrderState::kFilled));
  ASSERT_EQ(server_->Positions().size(), 1u);
  EXPECT_DOUBLE_EQ(server_->Positions()[0].volume, 1.5);
}

TEST_F(TradeServerTest, TooManyRequests10024PerSecondOfServerTime) {
  ServerConfig config;
  config.max_requests_per_second = 2;
  Make(config);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kDone);
  EXPECT_EQ(server_->PlaceOrder(Market("b", OrderType::kBuy, 0.1)).retcode, rc::kDone);
  EXPECT_EQ(server_->PlaceOrder(Market("c", OrderType::kBuy, 0.1)).retcode, rc::kTooManyRequests);
  Feed(1000, 1.10000, 1.10010);
  EXPECT_EQ(server_->PlaceOrder(Market("c", OrderType::kBuy, 0.1)).retcode, rc::kDone);
}

TEST_F(TradeServerTest, AutoTradingOff10026And10027) {
  Make();
  server_->SetClientTradeAllowed(false);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kClientDisablesAt);
  EXPECT_FALSE(server_->AccountInfo().expert_allowed);
  server_->SetClientTradeAllowed(true);
  server_->SetServerTradeAllowed(false);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kServerDisablesAt);
  mt5::CancelOrder cancel;
  cancel.ticket = 1;
  EXPECT_EQ(server_->CancelOrder(cancel).retcode, rc::kServerDisablesAt);
  server_->SetServerTradeAllowed(true);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kDone);
}

TEST_F(TradeServerTest, PositionClosed10036AndInvalidCloseVolume10038) {
  Make(Hedging());
  mt5::ClosePosition close;
  close.ticket = 999;
  close.type_filling = static_cast<uint32_t>(Filling::kFok);
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kPositionClosed);
  mt5::TradeResult buy = server_->PlaceOrder(Market("a", OrderType::kBuy, 0.5));
  close.ticket = buy.order;
  close.volume = 0.6;
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kInvalidCloseVolume);
  close.volume = 0;
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kDone);
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kPositionClosed);
  mt5::ModifyPosition modify;
  modify.ticket = buy.order;
  EXPECT_EQ(server_->ModifyPosition(modify).retcode, rc::kPositionClosed);
  // A deal that names a position that is gone.
  mt5::PlaceOrder sell = Market("b", OrderType::kSell, 0.5);
  sell.position = buy.order;
  EXPECT_EQ(server_->PlaceOrder(sell).retcode, rc::kPositionClosed);
}

TEST_F(TradeServerTest, TradeModes10017And10042To10044) {
  mt5::SymbolSpec spec = Eurusd();
  spec.trade_mode = static_cast<uint32_t>(mt5::SymbolTradeMode::kLongOnly);
  Make({}, spec);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kSell, 0.1)).retcode, rc::kLongOnly);
  EXPECT_EQ(server_->PlaceOrder(Market("b", OrderType::kBuy, 0.2)).retcode, rc::kDone);
  EXPECT_EQ(server_->PlaceOrder(Market("c", OrderType::kSell, 0.1)).retcode, rc::kDone);
  EXPECT_EQ(server_->PlaceOrder(Market("d", OrderType::kSell, 0.2)).retcode, rc::kLongOnly);

  spec.trade_mode = static_cast<uint32_t>(mt5::SymbolTradeMode::kShortOnly);
  Make({}, spec);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kShortOnly);
  spec.trade_mode = static_cast<uint32_t>(mt5::SymbolTradeMode::kCloseOnly);
  Make({}, spec);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kCloseOnly);
  spec.trade_mode = static_cast<uint32_t>(mt5::SymbolTradeMode::kDisabled);
  Make({}, spec);
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kTradeDisabled);
}

TEST_F(TradeServerTest, HedgeProhibited10046AndFifoClose10045) {
  ServerConfig config = Hedging();
  config.account.hedge_prohibited = true;
  Make(config);
  ASSERT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kDone);
  EXPECT_EQ(server_->PlaceOrder(Market("b", OrderType::kSell, 0.1)).retcode, rc::kHedgeProhibited);

  config = Hedging();
  config.account.fifo_close = true;
  Make(config);
  mt5::TradeResult first = server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1));
  mt5::TradeResult second = server_->PlaceOrder(Market("b", OrderType::kBuy, 0.1));
  mt5::ClosePosition close;
  close.ticket = second.order;
  close.type_filling = static_cast<uint32_t>(Filling::kFok);
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kFifoClose);
  close.ticket = first.order;
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kDone);
  close.ticket = second.order;
  EXPECT_EQ(server_->ClosePosition(close).retcode, rc::kDone);
}

TEST_F(TradeServerTest, RequestsMt5RefusesForTheirShape) {
  TradeServer fresh{ServerConfig{}};
  ASSERT_TRUE(fresh.AddSymbol(Eurusd()).ok());
  // No quote yet: 10021.
  EXPECT_EQ(fresh.PlaceOrder(Market("a", OrderType::kBuy, 0.1)).retcode, rc::kPriceOff);
  Make();
  mt5::PlaceOrder unknown = Market("a", OrderType::kBuy, 0.1);
  unknown.symbol = "XAUUSD";
  EXPECT_EQ(server_->PlaceOrder(unknown).retcode, rc::kInvalid);
  mt5::PlaceOrder bad_action = Market("a", OrderType::kBuy, 0.1);
  bad_action.action = 6;
  EXPECT_EQ(server_->PlaceOrder(bad_action).retcode, rc::kInvalid);
  // A limit type sent as a deal, a market type sent as pending: 10035.
  EXPECT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuyLimit, 0.1)).retcode, rc::kInvalidOrder);
  EXPECT_EQ(server_->PlaceOrder(Pending("a", OrderType::kBuy, 0.1, 1.09)).retcode,
            rc::kInvalidOrder);
  // Expiration in the past: 10022.
  mt5::PlaceOrder expiring = Pending("a", OrderType::kBuyLimit, 0.1, 1.09);
  expiring.type_time = static_cast<uint32_t>(mt5::OrderTime::kSpecified);
  expiring.expiration = kMonday10 / 1000 - 1;
  EXPECT_EQ(server_->PlaceOrder(expiring).retcode, rc::kInvalidExpiration);
  // Modifying to the same values: 10025; an unknown order: 10013.
  mt5::TradeResult placed = server_->PlaceOrder(Pending("b", OrderType::kBuyLimit, 0.1, 1.09));
  mt5::ModifyOrder same;
  same.ticket = placed.order;
  same.price = 1.09;
  EXPECT_EQ(server_->ModifyOrder(same).retcode, rc::kNoChanges);
  same.ticket = 12345;
  EXPECT_EQ(server_->ModifyOrder(same).retcode, rc::kInvalid);
  mt5::TradeResult opened = server_->PlaceOrder(Market("c", OrderType::kBuy, 0.1));
  mt5::ModifyPosition nothing;
  nothing.ticket = opened.order;
  EXPECT_EQ(server_->ModifyPosition(nothing).retcode, rc::kNoChanges);
}

// --- triggers ------------------------------------------------------------------------------

TEST_F(TradeServerTest, PendingOrdersTriggerOnTheRightSide) {
  Make(Hedging());
  mt5::TradeResult limit = server_->PlaceOrder(Pending("bl", OrderType::kBuyLimit, 0.1, 1.09900));
  mt5::TradeResult stop = server_->PlaceOrder(Pending("ss", OrderType::kSellStop, 0.2, 1.09800));
  mt5::PlaceOrder stoplimit = Pending("bsl", OrderType::kBuyStopLimit, 0.3, 1.10100);
  stoplimit.stoplimit = 1.10050;
  mt5::TradeResult sl_order = server_->PlaceOrder(stoplimit);
  ASSERT_EQ(limit.retcode, rc::kPlaced);
  ASSERT_EQ(stop.retcode, rc::kPlaced);
  ASSERT_EQ(sl_order.retcode, rc::kPlaced);
  std::vector<mt5::Transaction> placed = server_->TakeTransactions();
  ASSERT_EQ(placed.size(), 9u);
  EXPECT_EQ(Types({placed.begin(), placed.begin() + 3}),
            (std::vector<TransactionType>{TransactionType::kOrderAdd, TransactionType::kOrderUpdate,
                                          TransactionType::kRequest}));
  EXPECT_EQ(placed[1].order_state, static_cast<uint32_t>(OrderState::kPlaced));

  // The bid touching the buy limit does not fill it: the ask must.
  Feed(1000, 1.09900, 1.09910);
  EXPECT_EQ(server_->Orders().size(), 3u);
  Feed(2000, 1.09890, 1.09900);
  ASSERT_EQ(server_->Orders().size(), 2u);
  EXPECT_EQ(Types(server_->TakeTransactions()),
            (std::vector<TransactionType>{TransactionType::kDealAdd, TransactionType::kOrderDelete,
                                          TransactionType::kHistoryAdd}));
  EXPECT_DOUBLE_EQ(server_->Positions()[0].price_open, 1.09900);
  // The sell stop fires when the bid reaches it, at the bid (a gap fills worse).
  Feed(3000, 1.09780, 1.09790);
  ASSERT_EQ(server_->Positions().size(), 2u);
  EXPECT_DOUBLE_EQ(server_->Positions()[1].price_open, 1.09780);
  // The stop limit becomes a buy limit at 1.10050 when the ask reaches 1.10100 ...
  Feed(4000, 1.10100, 1.10110);
  ASSERT_EQ(server_->Orders().size(), 1u);
  EXPECT_EQ(server_->Orders()[0].type, static_cast<uint32_t>(OrderType::kBuyLimit));
  EXPECT_DOUBLE_EQ(server_->Orders()[0].price_open, 1.10050);
  EXPECT_EQ(server_->Positions().size(), 2u);
  // ... which fills when the ask comes back down.
  Feed(5000, 1.10040, 1.10050);
  EXPECT_TRUE(server_->Orders().empty());
  EXPECT_EQ(server_->Positions().size(), 3u);
}

TEST_F(TradeServerTest, StopLossAndTakeProfitTriggerOnTheClosingSide) {
  Make(Hedging());
  mt5::PlaceOrder buy = Market("long", OrderType::kBuy, 1.0);
  buy.sl = 1.09900;
  buy.tp = 1.10200;
  mt5::PlaceOrder sell = Market("short", OrderType::kSell, 1.0);
  sell.sl = 1.10300;
  sell.tp = 1.09950;
  ASSERT_EQ(server_->PlaceOrder(buy).retcode, rc::kDone);   // at 1.10010
  ASSERT_EQ(server_->PlaceOrder(sell).retcode, rc::kDone);  // at 1.10000
  server_->TakeTransactions();
  // The ask at the short's TP but not below: a short closes at the ask, so 1.09955 holds it.
  Feed(1000, 1.09945, 1.09955);
  EXPECT_EQ(server_->Positions().size(), 2u);
  Feed(2000, 1.09940, 1.09950);
  ASSERT_EQ(server_->Positions().size(), 1u);
  std::vector<mt5::Transaction> txs = server_->TakeTransactions();
  EXPECT_EQ(Types(txs), (std::vector<TransactionType>{
                            TransactionType::kOrderAdd, TransactionType::kDealAdd,
                            TransactionType::kOrderDelete, TransactionType::kHistoryAdd}));
  EXPECT_EQ(txs[1].deal_reason, static_cast<uint32_t>(DealReason::kTp));
  EXPECT_EQ(txs[1].comment, "[tp 1.09950]");
  EXPECT_DOUBLE_EQ(txs[1].price, 1.09950);
  EXPECT_NEAR(txs[1].deal_profit, 50.0, 1e-6);
  EXPECT_EQ(txs[1].magic, 42u);
  // The long's SL fires on the bid, at the bid.
  Feed(3000, 1.09895, 1.09905);
  EXPECT_TRUE(server_->Positions().empty());
  txs = server_->TakeTransactions();
  ASSERT_EQ(txs.size(), 4u);
  EXPECT_EQ(txs[1].deal_reason, static_cast<uint32_t>(DealReason::kSl));
  EXPECT_EQ(txs[1].comment, "[sl 1.09900]");
  EXPECT_DOUBLE_EQ(txs[1].price, 1.09895);
  EXPECT_NEAR(server_->balance(), 10000 + 50 - 115, 1e-6);
}

TEST_F(TradeServerTest, ModifiedPositionSendsAPositionTransaction) {
  Make();
  mt5::TradeResult opened = server_->PlaceOrder(Market("a", OrderType::kBuy, 0.1));
  server_->TakeTransactions();
  mt5::ModifyPosition modify;
  modify.ticket = opened.order;
  modify.sl = 1.09500;
  modify.tp = 1.10500;
  ASSERT_EQ(server_->ModifyPosition(modify).retcode, rc::kDone);
  std::vector<mt5::Transaction> txs = server_->TakeTransactions();
  EXPECT_EQ(Types(txs),
            (std::vector<TransactionType>{TransactionType::kPosition, TransactionType::kRequest}));
  EXPECT_DOUBLE_EQ(txs[0].price_sl, 1.09500);
  EXPECT_DOUBLE_EQ(server_->Positions()[0].tp, 1.10500);
}

TEST_F(TradeServerTest, PendingOrdersExpire) {
  Make();
  mt5::PlaceOrder day = Pending("day", OrderType::kBuyLimit, 0.1, 1.09);
  day.type_time = static_cast<uint32_t>(mt5::OrderTime::kDay);
  mt5::PlaceOrder until = Pending("until", OrderType::kBuyLimit, 0.1, 1.09);
  until.type_time = static_cast<uint32_t>(mt5::OrderTime::kSpecified);
  until.expiration = (kMonday10 + kHour) / 1000;
  ASSERT_EQ(server_->PlaceOrder(day).retcode, rc::kPlaced);
  ASSERT_EQ(server_->PlaceOrder(until).retcode, rc::kPlaced);
  server_->TakeTransactions();
  Feed(kHour, 1.1, 1.1001);
  ASSERT_EQ(server_->Orders().size(), 1u);
  EXPECT_EQ(
      Types(server_->TakeTransactions()),
      (std::vector<TransactionType>{TransactionType::kOrderDelete, TransactionType::kHistoryAdd}));
  EXPECT_EQ(server_->HistoryOrders(0, kMonday10 + kHour).back().state,
            static_cast<uint32_t>(OrderState::kExpired));
  Feed(14 * kHour, 1.1, 1.1001);  // Tuesday 00:00
  EXPECT_TRUE(server_->Orders().empty());
}

TEST_F(TradeServerTest, SwapsAtTheRolloverTripleOnWednesday) {
  Make(Hedging());
  ASSERT_EQ(server_->PlaceOrder(Market("l", OrderType::kBuy, 1.0)).retcode, rc::kDone);
  ASSERT_EQ(server_->PlaceOrder(Market("s", OrderType::kSell, 1.0)).retcode, rc::kDone);
  Feed(13 * kHour, 1.10000, 1.10010);  // Monday 23:00: no rollover yet
  EXPECT_DOUBLE_EQ(server_->Positions()[0].swap, 0);
  Feed(15 * kHour, 1.10000, 1.10010);  // Tuesday 01:00: one night
  // Long: -5 points * 1 lot = -5 USD; short: +2 points = +2 USD.
  EXPECT_NEAR(server_->Positions()[0].swap, -5.0, 1e-6);
  EXPECT_NEAR(server_->Positions()[1].swap, 2.0, 1e-6);
  Feed(15 * kHour + 48 * kHour, 1.10000, 1.10010);  // Thursday 01:00: Tuesday, Wednesday x3
  EXPECT_NEAR(server_->Positions()[0].swap, -25.0, 1e-6);
  // Closing books the swap into the balance.
  mt5::ClosePosition close;
  close.ticket = server_->Positions()[0].ticket;
  close.type_filling = static_cast<uint32_t>(Filling::kFok);
  ASSERT_EQ(server_->ClosePosition(close).retcode, rc::kDone);
  EXPECT_NEAR(server_->HistoryDeals(0, kMonday10 + 100 * kHour).back().swap, -25.0, 1e-6);
}

TEST_F(TradeServerTest, StopOutClosesTheWorstPosition) {
  ServerConfig config;
  config.account.balance = 1000;
  config.account.stop_out_level = 50;
  Make(config);
  // 0.8 lot: margin 880.08; equity falls below 440 after a 70-pip loss (-560).
  ASSERT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 0.8)).retcode, rc::kDone);
  Feed(1000, 1.09500, 1.09510);
  EXPECT_EQ(server_->Positions().size(), 1u);
  Feed(2000, 1.09300, 1.09310);
  EXPECT_TRUE(server_->Positions().empty());
  std::vector<mt5::DealInfo> deals = server_->HistoryDeals(0, kMonday10 + kHour);
  EXPECT_EQ(deals.back().reason, static_cast<uint32_t>(DealReason::kSo));
  EXPECT_EQ(deals.back().comment.rfind("[so ", 0), 0u);
}

TEST_F(TradeServerTest, AccountAndHistoryAnswerLikeAccountInfoAndHistorySelect) {
  ServerConfig config;
  config.account.commission_per_lot = 7;
  Make(config);
  ASSERT_EQ(server_->PlaceOrder(Market("a", OrderType::kBuy, 1.0)).retcode, rc::kDone);
  Feed(1000, 1.10110, 1.10120);
  mt5::Account account = server_->AccountInfo();
  EXPECT_NEAR(account.balance, 9993.0, 1e-9);
  EXPECT_NEAR(account.equity, 9993.0 + 100.0, 1e-6);
  EXPECT_NEAR(account.margin, 1100.10, 1e-6);
  EXPECT_NEAR(account.margin_free, account.equity - account.margin, 1e-9);
  EXPECT_NEAR(account.margin_level, account.equity / account.margin * 100, 1e-9);
  EXPECT_EQ(account.server_time_msc, kMonday10 + 1000);
  EXPECT_EQ(server_->HistoryDeals(kMonday10 + 1, kMonday10 + 2000).size(), 0u);
  ASSERT_EQ(server_->HistoryDeals(kMonday10, kMonday10).size(), 1u);
  EXPECT_DOUBLE_EQ(server_->HistoryDeals(kMonday10, kMonday10)[0].commission, -7.0);
  EXPECT_EQ(server_->HistoryOrders(kMonday10, kMonday10).size(), 1u);
}

TEST_F(TradeServerTest, SameSeedSameRun) {
  auto run = [] {
    ServerConfig config;
    config.requote_probability = 0.5;
    config.seed = 7;
    TradeServer server(config);
    EXPECT_TRUE(server.AddSymbol(Eurusd(Execution::kInstant)).ok());
    std::vector<uint32_t> codes;
    for (int i = 0; i < 64; ++i) {
      EXPECT_TRUE(server.OnTick("EURUSD", Tick(kMonday10 + i * 1000, 1.1, 1.1001)).ok());
      codes.push_back(server.PlaceOrder(Market("x", OrderType::kBuy, 0.01)).retcode);
    }
    return codes;
  };
  std::vector<uint32_t> first = run();
  EXPECT_EQ(first, run());
  EXPECT_NE(std::count(first.begin(), first.end(), rc::kRequote), 0);
  EXPECT_NE(std::count(first.begin(), first.end(), rc::kDone), 0);
}

TEST_F(TradeServerTest, BadTicksAndSpecsAreRefusedByName) {
  Make();
  Status status = server_->OnTick("GBPUSD", Tick(kMonday10, 1.2, 1.2001));
  EXPECT_NE(status.message().find("unknown symbol 'GBPUSD'"), std::string::npos);
  EXPECT_FALSE(server_->OnTick("EURUSD", Tick(kMonday10 + 1, 1.2, 1.1)).ok());
  EXPECT_FALSE(server_->OnTick("EURUSD", Tick(kMonday10 - 1, 1.1, 1.1001)).ok());
  EXPECT_FALSE(server_->OnTick("EURUSD", Tick(kMonday10 + 1, 0, 1.1001)).ok());
  EXPECT_DOUBLE_EQ(server_->LastTick("EURUSD")->bid, 1.10000);
  mt5::SymbolSpec bad = Eurusd();
  bad.name = "X";
  bad.volume_step = 0;
  EXPECT_FALSE(server_->AddSymbol(bad).ok());
  bad = Eurusd();
  bad.name = "Y";
  bad.calc_mode = 33;
  EXPECT_NE(server_->AddSymbol(bad).message().find("calc_mode 33"), std::string::npos);
  EXPECT_FALSE(server_->AddSymbol(Eurusd()).ok());  // already there
}

}  // namespace
}  // namespace aits::mt5sim
