// The simulated MetaTrader 5 trade server: one account (netting or hedging), its symbols, their
// quotes, orders, positions, deals and history, driven only by ticks (OnTick) and trade requests
// (the protocol's place_order ... close_by). It answers each request as MT5's OrderSend does, with
// a MqlTradeResult (the protocol's TradeResult), and records what MT5 would hand to
// OnTradeTransaction (the protocol's Transaction pushes) in the order MT5 emits them
// (docs/metatrader.md, "Terminal simulator", lists the sequences and where they are approximated).
//
// Deterministic: the server's clock is the latest tick's time (nothing reads the wall clock), and
// the only randomness (requotes, slippage) comes from a generator seeded by ServerConfig::seed, so
// a run is repeatable tick for tick and ticket for ticket.
//
// Retcodes it produces (each has a test in trade_server_test.cc):
//   10004 requote (instant execution: price beyond the deviation, or the configured probability)
//   10006 rejected (FOK that the exchange depth cannot fill; no rate to convert margin)
//   10008 placed (pending order)   10009 done   10010 done partially (exchange execution)
//   10013 invalid request (unknown action/type, zero ticket ...)
//   10014 invalid volume   10015 invalid price   10016 invalid stops (stops level)
//   10017 trade disabled   10018 market closed (sessions)   10019 no money
//   10021 no quotes yet   10035 an order type that does not fit the action
//   10020 prices changed (request execution: price beyond the deviation, or the probability)
//   10022 invalid expiration   10024 too many requests (the configured rate)
//   10025 no changes   10026 autotrading disabled by the server
//   10027 autotrading disabled by the client   10029 frozen (freeze level)
//   10030 unsupported filling mode   10036 position already closed
//   10038 invalid close volume   10042 long only   10043 short only   10044 close only
//   10045 FIFO close (configured)   10046 hedging prohibited (configured)
//
// Thread-compatible: one thread drives a TradeServer (the terminal's).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/mt5/messages.h"
#include "aits/mt5/mql.h"

namespace aits::mt5sim {

struct AccountConfig {
  int64_t login = 5000001;
  std::string server = "AITS-Sim";
  std::string company = "AITS terminal simulator";
  std::string currency = "USD";
  uint32_t leverage = 100;
  mt5::MarginMode margin_mode = mt5::MarginMode::kRetailNetting;
  double balance = 10000;
  double margin_call_level = 100;  // %, ACCOUNT_MARGIN_SO_CALL
  double stop_out_level = 50;      // %, ACCOUNT_MARGIN_SO_SO: positions are closed below it
  double commission_per_lot = 0;   // account currency, charged on every deal (in and out)
  bool hedge_prohibited = false;   // hedging account that refuses an opposite position (10046)
  bool fifo_close = false;         // hedging account that closes the oldest position first (10045)
};

// Fault knobs and the trade server's behaviour that a real server leaves to the broker.
struct ServerConfig {
  AccountConfig account;
  uint64_t seed = 1;
  // Instant and request execution: the chance that a request is requoted (10004 / 10020) although
  // its price is within the deviation.
  double requote_probability = 0;
  // Market execution: the most points a fill slips against the trader (bounded by the request's
  // deviation); drawn uniformly from the seeded generator.
  uint32_t max_slippage_points = 0;
  // Trade requests allowed per second of server time (0: no limit); more answer 10024.
  uint32_t max_requests_per_second = 0;
  bool server_trade_allowed = true;  // false: every trade request answers 10026
  bool client_trade_allowed = true;  // false (the terminal's AutoTrading button): 10027
  // Exchange execution: lots available at the touch on each tick when the tick carries no volume
  // (0: unlimited). A tick's own volume, when positive, is the depth instead.
  double exchange_depth_lots = 0;
  // Rollover: the weekday (0 Sunday) whose rollover charges three days of swaps.
  int triple_swap_day = 3;
  uint64_t first_order_ticket = 10000001;
  uint64_t first_deal_ticket = 20000001;
};

// What a trade request caused: the result, and the OnTradeTransaction calls it produced are
// appended to the server's transaction queue (TakeTransactions).
class TradeServer {
 public:
  // Precondition: config.account.leverage > 0, 0 <= requote_probability <= 1.
  explicit TradeServer(ServerConfig config);

  // Adds a symbol. InvalidArgument naming the field when the spec is unusable (digits, point,
  // volume limits, contract size, a calc mode the simulator does not compute) or the name exists.
  Status AddSymbol(const mt5::SymbolSpec& spec);
  const mt5::SymbolSpec* FindSymbol(std::string_view name) const;
  std::vector<std::string> SymbolNames() const;
  // The symbol's latest tick; nullptr before its first.
  const mt5::TickData* LastTick(std::string_view symbol) const;

  // A price change: advances the server clock, then works pending orders, SL/TP, expirations,
  // rollover swaps and stop-out against it. InvalidArgument (and nothing changes) for an unknown
  // symbol, a non-positive or crossed quote, or a time before the symbol's previous tick.
  Status OnTick(std::string_view symbol, const mt5::TickData& tick);

  // The trade requests. Each answers as OrderSend; a request MT5 refuses changes nothing but the
  // request counter and queues one TRADE_TRANSACTION_REQUEST carrying its retcode.
  mt5::TradeResult PlaceOrder(const mt5::PlaceOrder& request);
  mt5::TradeResult ClosePosition(const mt5::ClosePosition& request);
  mt5::TradeResult ModifyPosition(const mt5::ModifyPosition& request);
  mt5::TradeResult ModifyOrder(const mt5::ModifyOrder& request);
  mt5::TradeResult CancelOrder(const mt5::CancelOrder& request);
  mt5::TradeResult CloseBy(const mt5::CloseBy& request);

  // The transactions queued since the last call, oldest first.
  std::vector<mt5::Transaction> TakeTransactions();

  mt5::Account AccountInfo() const;
  std::vector<mt5::PositionInfo> Positions() const;
  // The newest deal's ticket (0 before the first): the `positions` answer's last_deal.
  uint64_t LastDealTicket() const;
  std::vector<mt5::OrderInfo> Orders() const;
  // History orders and deals whose time (done / deal) lies in [from_msc, to_msc].
  std::vector<mt5::OrderInfo> HistoryOrders(int64_t from_msc, int64_t to_msc) const;
  std::vector<mt5::DealInfo> HistoryDeals(int64_t from_msc, int64_t to_msc) const;
  // Whether an open order, an open position or the history carries this comment, or this magic
  // number when it is not 0 (the EA's duplicate-client-order-id check).
  bool InUse(std::string_view comment, uint64_t magic = 0) const;

  void SetServerTradeAllowed(bool allowed) { config_.server_trade_allowed = allowed; }
  void SetClientTradeAllowed(bool allowed) { config_.client_trade_allowed = allowed; }
  bool ServerTradeAllowed() const { return config_.server_trade_allowed; }
  bool ClientTradeAllowed() const { return config_.client_trade_allowed; }

  int64_t now_msc() const { return now_msc_; }
  const ServerConfig& config() const { return config_; }
  double balance() const { return balance_; }
  double Equity() const;
  double Margin() const;

 private:
  struct Order {
    mt5::OrderInfo info;
    uint32_t deviation = 0;
    uint64_t close_position = 0;  // hedging: the position this order closes
    bool market = false;          // a market order's unfilled RETURN remainder
    mt5::DealReason reason = mt5::DealReason::kExpert;
  };
  struct Position {
    mt5::PositionInfo info;
    uint64_t identifier = 0;  // POSITION_IDENTIFIER: the opening order's ticket, never changes
    uint64_t sequence = 0;    // opening order, for FIFO
  };
  mt5::TradeResult Reject(uint32_t retcode, std::string_view client_order_id, std::string comment,
                          const mt5::TickData* tick = nullptr);
  // A result of `retcode` with the quote and the retcode's text; Finish numbers it and queues its
  // TRADE_TRANSACTION_REQUEST.
  mt5::TradeResult Success(uint32_t retcode, std::string_view client_order_id,
                           const mt5::TickData& tick) const;
  mt5::TradeResult Finish(mt5::TradeResult result);
  // A pending order's price (10015), stops (10016) and expiration (10022, for
  // ORDER_TIME_SPECIFIED(_DAY) not in the future or an unknown time type).
  uint32_t CheckPending(const mt5::SymbolSpec& spec, mt5::OrderType type, double price,
                        double stoplimit, double sl, double tp, uint32_t type_time,
                        int64_t expiration, const mt5::TickData& tick) const;
  // The checks every trade request passes first (rate, autotrading). 0 when it may go on.
  uint32_t GateRequest();
  uint32_t CheckSession(const mt5::SymbolSpec& spec) const;
  uint32_t CheckVolume(const mt5::SymbolSpec& spec, double volume) const;
  bool OnGrid(const mt5::SymbolSpec& spec, double price) const;
  uint32_t CheckFilling(const mt5::SymbolSpec& spec, mt5::OrderType type, uint32_t filling,
                        bool pending) const;
  uint32_t CheckStops(const mt5::SymbolSpec& spec, bool buy, double reference, double sl,
                      double tp) const;
  uint32_t CheckPendingPrice(const mt5::SymbolSpec& spec, mt5::OrderType type, double price,
                             double stoplimit, const mt5::TickData& tick) const;
  bool Frozen(const mt5::SymbolSpec& spec, double level_price, double market) const;
  // Whether a deal of this side and volume opens or adds exposure (for trade mode and margin).
  double OpeningVolume(const mt5::SymbolSpec& spec, bool buy, double volume,
                       uint64_t close_position) const;
  uint32_t CheckTradeMode(const mt5::SymbolSpec& spec, bool buy, double opening) const;
  // Margin of `lots` of a symbol on one side at `price`, in the account currency.
  std::optional<double> MarginFor(const mt5::SymbolSpec& spec, bool buy, double lots,
                                  double price) const;
  std::optional<double> Rate(std::string_view from_currency) const;
  double ProfitFor(const mt5::SymbolSpec& spec, bool buy, double lots, double open,
                   double close) const;

  // Executes `lots` of an order at `price`: the deal, the position change, the balance.
  // Returns the deal ticket.
  uint64_t ExecuteDeal(Order& order, double lots, double price, mt5::DealReason reason);
  void CloseOut(Position& position, double lots, double price, mt5::DealReason reason,
                std::string comment);
  void FinishOrder(Order& order, mt5::OrderState state);
  void WorkTick(const mt5::SymbolSpec& spec, const mt5::TickData& tick);
  void Rollover(int64_t day_before, int64_t day_after);
  void StopOut();
  double Depth(const mt5::TickData& tick) const;
  double MarketPrice(const mt5::SymbolSpec& spec, bool buy, uint32_t deviation);

  mt5::Transaction OrderTx(mt5::TransactionType type, const mt5::OrderInfo& info) const;
  mt5::Transaction DealTx(const mt5::DealInfo& deal) const;
  mt5::Transaction PositionTx(const Position& position) const;
  void Recalculate();

  ServerConfig config_;
  std::mt19937_64 rng_;
  std::map<std::string, mt5::SymbolSpec, std::less<>> symbols_;
  std::map<std::string, mt5::TickData, std::less<>> ticks_;
  std::map<uint64_t, Order> orders_;        // working orders by ticket
  std::map<uint64_t, Position> positions_;  // open positions by ticket
  std::vector<mt5::OrderInfo> history_orders_;
  std::vector<mt5::DealInfo> deals_;
  std::vector<mt5::Transaction> transactions_;
  double balance_ = 0;
  int64_t now_msc_ = 0;
  uint64_t next_order_ = 0;
  uint64_t next_deal_ = 0;
  uint32_t next_request_id_ = 1;
  int64_t rate_window_sec_ = -1;
  uint32_t rate_count_ = 0;
};

// Lots as a whole number of 1e-8 lots, so that volumes add and compare exactly.
int64_t LotUnits(double lots);
double FromLotUnits(int64_t units);

}  // namespace aits::mt5sim
