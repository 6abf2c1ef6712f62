#include "aits/mt5sim/trade_server.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace aits::mt5sim {
namespace {

using mt5::DealEntry;
using mt5::DealReason;
using mt5::Execution;
using mt5::Filling;
using mt5::OrderState;
using mt5::OrderTime;
using mt5::OrderType;
using mt5::TransactionType;
namespace rc = mt5::retcode;

// ENUM_SYMBOL_CALC_MODE: the margin formulas the simulator computes (docs/metatrader.md,
// "Terminal simulator").
constexpr uint32_t kCalcForex = 0;
constexpr uint32_t kCalcCfd = 2;
constexpr uint32_t kCalcCfdLeverage = 4;
constexpr uint32_t kCalcForexNoLeverage = 5;

constexpr int64_t kMsPerDay = 86'400'000;

int64_t DayOf(int64_t msc) {
  return msc >= 0 ? msc / kMsPerDay : (msc - kMsPerDay + 1) / kMsPerDay;
}
// 1970-01-01 was a Thursday (ENUM_DAY_OF_WEEK 4).
int WeekdayOf(int64_t day) { return static_cast<int>(((day % 7) + 7 + 4) % 7); }

bool IsPendingType(OrderType type) {
  return type >= OrderType::kBuyLimit && type <= OrderType::kSellStopLimit;
}
bool IsLimitType(OrderType type) {
  return type == OrderType::kBuyLimit || type == OrderType::kSellLimit ||
         type == OrderType::kBuyStopLimit || type == OrderType::kSellStopLimit;
}

std::string FormatPrice(double price, uint32_t digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", static_cast<int>(digits), price);
  return buffer;
}

double Normalize(double price, uint32_t digits) {
  const double scale = std::pow(10.0, static_cast<double>(digits));
  return std::round(price * scale) / scale;
}

// Money in the account currency, rounded to cents as MT5 books deals (and never -0).
double RoundMoney(double value) { return std::round(value * 100.0) / 100.0 + 0.0; }

// Distances in points, rounded: prices are doubles on a grid of `point`.
int64_t Points(double distance, double point) {
  return static_cast<int64_t>(std::llround(distance / point));
}

// The tickets of a symbol's orders or positions, taken before a loop that may erase some.
template <typename Map>
std::vector<uint64_t> TicketsOf(const Map& map, std::string_view symbol) {
  std::vector<uint64_t> tickets;
  for (const auto& [ticket, item] : map) {
    if (item.info.symbol == symbol) tickets.push_back(ticket);
  }
  return tickets;
}

}  // namespace

int64_t LotUnits(double lots) { return std::llround(lots * 1e8); }
double FromLotUnits(int64_t units) { return static_cast<double>(units) / 1e8; }

TradeServer::TradeServer(ServerConfig config)
    : config_(std::move(config)),
      rng_(config_.seed),
      balance_(config_.account.balance),
      next_order_(config_.first_order_ticket),
      next_deal_(config_.first_deal_ticket) {
  assert(config_.account.leverage > 0);
  assert(config_.requote_probability >= 0 && config_.requote_probability <= 1);
}

Status TradeServer::AddSymbol(const mt5::SymbolSpec& spec) {
  const std::string where = "symbol '" + spec.name + "': ";
  if (spec.name.empty()) return InvalidArgument("symbol: empty name");
  if (symbols_.count(spec.name) != 0) return InvalidArgument(where + "already added");
  if (spec.digits > 10) return InvalidArgument(where + "digits " + std::to_string(spec.digits));
  if (!(spec.point > 0)) return InvalidArgument(where + "point must be positive");
  if (!(spec.tick_size > 0)) return InvalidArgument(where + "tick_size must be positive");
  if (!(spec.contract_size > 0)) return InvalidArgument(where + "contract_size must be positive");
  if (!(spec.volume_min > 0) || !(spec.volume_step > 0) || spec.volume_max < spec.volume_min) {
    return InvalidArgument(where + "volume_min/step/max must be positive and min <= max");
  }
  if (spec.stops_level < 0 || spec.freeze_level < 0) {
    return InvalidArgument(where + "stops_level and freeze_level must be >= 0");
  }
  if (spec.execution_mode > static_cast<uint32_t>(Execution::kExchange)) {
    return InvalidArgument(where + "execution_mode " + std::to_string(spec.execution_mode));
  }
  if (spec.trade_mode > static_cast<uint32_t>(mt5::SymbolTradeMode::kFull)) {
    return InvalidArgument(where + "trade_mode " + std::to_string(spec.trade_mode));
  }
  if (spec.calc_mode != kCalcForex && spec.calc_mode != kCalcCfd &&
      spec.calc_mode != kCalcCfdLeverage && spec.calc_mode != kCalcForexNoLeverage) {
    return InvalidArgument(where + "calc_mode " + std::to_string(spec.calc_mode) +
                           " is not simulated (forex 0, CFD 2, CFD leverage 4, forex without "
                           "leverage 5)");
  }
  for (const mt5::TradeSession& session : spec.sessions) {
    if (session.day > 6 || session.from_sec > session.to_sec || session.to_sec > 86400) {
      return InvalidArgument(where + "session day " + std::to_string(session.day) + " " +
                             std::to_string(session.from_sec) + ".." +
                             std::to_string(session.to_sec));
    }
  }
  symbols_.emplace(spec.name, spec);
  return Status::Ok();
}

const mt5::SymbolSpec* TradeServer::FindSymbol(std::string_view name) const {
  auto it = symbols_.find(name);
  return it == symbols_.end() ? nullptr : &it->second;
}

std::vector<std::string> TradeServer::SymbolNames() const {
  std::vector<std::string> names;
  for (const auto& [name, spec] : symbols_) names.push_back(name);
  return names;
}

const mt5::TickData* TradeServer::LastTick(std::string_view symbol) const {
  auto it = ticks_.find(symbol);
  return it == ticks_.end() ? nullptr : &it->second;
}

// --- ticks ---------------------------------------------------------------------------------

Status TradeServer::OnTick(std::string_view symbol, const mt5::TickData& tick) {
  auto spec_it = symbols_.find(symbol);
  if (spec_it == symbols_.end()) {
    return InvalidArgument("tick for unknown symbol '" + std::string(symbol) + "'");
  }
  if (!(tick.bid > 0) || !(tick.ask > 0) || tick.ask < tick.bid) {
    return InvalidArgument("tick of " + std::string(symbol) + " at " +
                           std::to_string(tick.time_msc) + ": bid " + std::to_string(tick.bid) +
                           " ask " + std::to_string(tick.ask) + " is not a quote");
  }
  auto tick_it = ticks_.find(symbol);
  if (tick_it != ticks_.end() && tick.time_msc < tick_it->second.time_msc) {
    return InvalidArgument("tick of " + std::string(symbol) + " at " +
                           std::to_string(tick.time_msc) + " is before the previous one at " +
                           std::to_string(tick_it->second.time_msc));
  }
  const int64_t before = now_msc_;
  if (tick_it == ticks_.end()) {
    ticks_.emplace(std::string(symbol), tick);
  } else {
    tick_it->second = tick;
  }
  if (tick.time_msc > now_msc_) now_msc_ = tick.time_msc;
  if (before != 0 && DayOf(now_msc_) > DayOf(before)) Rollover(DayOf(before), DayOf(now_msc_));
  Recalculate();
  WorkTick(spec_it->second, tick);
  Recalculate();
  StopOut();
  return Status::Ok();
}

double TradeServer::Depth(const mt5::TickData& tick) const {
  if (tick.volume > 0) return tick.volume;
  if (config_.exchange_depth_lots > 0) return config_.exchange_depth_lots;
  return std::numeric_limits<double>::infinity();
}

void TradeServer::WorkTick(const mt5::SymbolSpec& spec, const mt5::TickData& tick) {
  const bool open = CheckSession(spec) == 0;
  // Working orders, in ticket order (the order they were placed).
  for (uint64_t ticket : TicketsOf(orders_, spec.name)) {
    auto it = orders_.find(ticket);
    if (it == orders_.end()) continue;
    Order& order = it->second;
    const auto type = static_cast<OrderType>(order.info.type);
    const auto time_type = static_cast<OrderTime>(order.info.type_time);
    const bool expired =
        (time_type == OrderTime::kSpecified && order.info.time_expiration > 0 &&
         now_msc_ >= order.info.time_expiration * 1000) ||
        (time_type == OrderTime::kSpecifiedDay && order.info.time_expiration > 0 &&
         DayOf(now_msc_) > DayOf(order.info.time_expiration * 1000)) ||
        (time_type == OrderTime::kDay && DayOf(now_msc_) > DayOf(order.info.time_setup_msc));
    if (expired) {
      FinishOrder(order, OrderState::kExpired);
      continue;
    }
    if (!open) continue;
    const bool buy = mt5::IsBuy(type);
    const double market = buy ? tick.ask : tick.bid;
    if (order.market) {
      // A RETURN remainder of an exchange order: fills as depth comes.
      const double lots = std::min(order.info.volume_current, Depth(tick));
      ExecuteDeal(order, lots, market, order.reason);
      if (LotUnits(order.info.volume_current) == 0) {
        FinishOrder(order, OrderState::kFilled);
      } else {
        order.info.state = static_cast<uint32_t>(OrderState::kPartial);
        transactions_.push_back(OrderTx(TransactionType::kOrderUpdate, order.info));
      }
      continue;
    }
    bool triggered = false;
    switch (type) {
      case OrderType::kBuyLimit:
        triggered = tick.ask <= order.info.price_open;
        break;
      case OrderType::kSellLimit:
        triggered = tick.bid >= order.info.price_open;
        break;
      case OrderType::kBuyStop:
      case OrderType::kBuyStopLimit:
        triggered = tick.ask >= order.info.price_open;
        break;
      case OrderType::kSellStop:
      case OrderType::kSellStopLimit:
        triggered = tick.bid <= order.info.price_open;
        break;
      default:
        break;
    }
    if (!triggered) continue;
    if (type == OrderType::kBuyStopLimit || type == OrderType::kSellStopLimit) {
      // The stop part fired: the order goes on as a limit at its stop-limit price (MT5 makes a
      // limit order with RETURN filling).
      order.info.type = static_cast<uint32_t>(
          type == OrderType::kBuyStopLimit ? OrderType::kBuyLimit : OrderType::kSellLimit);
      order.info.price_open = order.info.price_stoplimit;
      order.info.price_stoplimit = 0;
      order.info.type_filling = static_cast<uint32_t>(Filling::kReturn);
      transactions_.push_back(OrderTx(TransactionType::kOrderUpdate, order.info));
      continue;
    }
    // Margin is taken when the order becomes a position, not when it is placed.
    const double opening = OpeningVolume(spec, buy, order.info.volume_current, 0);
    if (opening > 0) {
      std::optional<double> extra = MarginFor(spec, buy, opening, market);
      if (!extra || Equity() - Margin() - *extra < 0) {
        FinishOrder(order, OrderState::kRejected);
        continue;
      }
    }
    double price = market;
    if (type == OrderType::kBuyLimit) price = std::min(market, order.info.price_open);
    if (type == OrderType::kSellLimit) price = std::max(market, order.info.price_open);
    double lots = order.info.volume_current;
    if (static_cast<Execution>(spec.execution_mode) == Execution::kExchange) {
      lots = std::min(lots, Depth(tick));
      if (static_cast<Filling>(order.info.type_filling) == Filling::kFok &&
          LotUnits(lots) < LotUnits(order.info.volume_current)) {
        continue;  // FOK waits for the whole volume
      }
    }
    ExecuteDeal(order, lots, price, order.reason);
    if (LotUnits(order.info.volume_current) == 0) {
      FinishOrder(order, OrderState::kFilled);
    } else if (static_cast<Filling>(order.info.type_filling) == Filling::kIoc) {
      FinishOrder(order, OrderState::kCanceled);
    } else {
      order.info.state = static_cast<uint32_t>(OrderState::kPartial);
      transactions_.push_back(OrderTx(TransactionType::kOrderUpdate, order.info));
    }
  }
  if (!open) return;
  // SL/TP: longs close at the bid, shorts at the ask.
  for (uint64_t ticket : TicketsOf(positions_, spec.name)) {
    auto it = positions_.find(ticket);
    if (it == positions_.end()) continue;
    Position& position = it->second;
    const bool long_position = position.info.type == 0;
    const double close = long_position ? tick.bid : tick.ask;
    const double sl = position.info.sl;
    const double tp = position.info.tp;
    if (sl > 0 && (long_position ? close <= sl : close >= sl)) {
      CloseOut(position, position.info.volume, close, DealReason::kSl,
               "[sl " + FormatPrice(sl, spec.digits) + "]");
    } else if (tp > 0 && (long_position ? close >= tp : close <= tp)) {
      CloseOut(position, position.info.volume, close, DealReason::kTp,
               "[tp " + FormatPrice(tp, spec.digits) + "]");
    }
  }
}

void TradeServer::Rollover(int64_t day_before, int64_t day_after) {
  for (int64_t day = day_before; day < day_after; ++day) {
    const double multiplier = WeekdayOf(day) == config_.triple_swap_day ? 3.0 : 1.0;
    for (auto& [ticket, position] : positions_) {
      const mt5::SymbolSpec& spec = symbols_.at(position.info.symbol);
      const bool buy = position.info.type == 0;
      const double points = buy ? spec.swap_long : spec.swap_short;
      const double reference =
          position.info.price_current > 0 ? position.info.price_current : position.info.price_open;
      // A swap in points is a price move of that many points on the position's volume.
      const double swap =
          ProfitFor(spec, true, position.info.volume, reference, reference + points * spec.point);
      position.info.swap = RoundMoney(position.info.swap + swap * multiplier);
    }
  }
}

void TradeServer::StopOut() {
  for (int guard = 0; guard < 1000 && !positions_.empty(); ++guard) {
    const double margin = Margin();
    if (margin <= 0) return;
    const double level = Equity() / margin * 100.0;
    if (level > config_.account.stop_out_level) return;
    // The position losing most goes first.
    auto worst = positions_.begin();
    for (auto it = positions_.begin(); it != positions_.end(); ++it) {
      if (it->second.info.profit < worst->second.info.profit) worst = it;
    }
    char comment[32];
    std::snprintf(comment, sizeof comment, "[so %.2f%%]", level);
    CloseOut(worst->second, worst->second.info.volume, worst->second.info.price_current,
             DealReason::kSo, comment);
    Recalculate();
  }
}

// --- money ---------------------------------------------------------------------------------

std::optional<double> TradeServer::Rate(std::string_view currency) const {
  const std::string& account = config_.account.currency;
  if (currency == account) return 1.0;
  for (const auto& [name, spec] : symbols_) {
    const mt5::TickData* tick = LastTick(name);
    if (tick == nullptr) continue;
    if (spec.currency_base == currency && spec.currency_profit == account) return tick->bid;
    if (spec.currency_base == account && spec.currency_profit == currency) return 1.0 / tick->ask;
  }
  return std::nullopt;
}

std::optional<double> TradeServer::MarginFor(const mt5::SymbolSpec& spec, bool buy, double lots,
                                             double price) const {
  (void)buy;
  const double contract = spec.margin_initial > 0 ? spec.margin_initial : spec.contract_size;
  const double leverage = config_.account.leverage;
  std::optional<double> rate;
  if (spec.currency_margin == spec.currency_base &&
      spec.currency_profit == config_.account.currency) {
    rate = price;  // EURUSD on a USD account: a lot of EUR costs `price` dollars
  } else {
    rate = Rate(spec.currency_margin);
  }
  switch (spec.calc_mode) {
    case kCalcForex:
      if (!rate) return std::nullopt;
      return lots * contract / leverage * *rate;
    case kCalcForexNoLeverage:
      if (!rate) return std::nullopt;
      return lots * contract * *rate;
    case kCalcCfd:
    case kCalcCfdLeverage: {
      std::optional<double> profit_rate = Rate(spec.currency_profit);
      if (!profit_rate) return std::nullopt;
      const double value = lots * spec.contract_size * price * *profit_rate;
      return spec.calc_mode == kCalcCfd ? value : value / leverage;
    }
    default:
      return std::nullopt;
  }
}

double TradeServer::ProfitFor(const mt5::SymbolSpec& spec, bool buy, double lots, double open,
                              double close) const {
  const double diff = buy ? close - open : open - close;
  const double in_profit_currency = diff * spec.contract_size * lots;
  if (spec.currency_profit == config_.account.currency) return in_profit_currency;
  if (spec.currency_base == config_.account.currency && close > 0) {
    return in_profit_currency / close;
  }
  if (std::optional<double> rate = Rate(spec.currency_profit)) return in_profit_currency * *rate;
  return diff / spec.tick_size * spec.tick_value * lots;
}

void TradeServer::Recalculate() {
  for (auto& [ticket, position] : positions_) {
    const mt5::TickData* tick = LastTick(position.info.symbol);
    if (tick == nullptr) continue;
    const bool buy = position.info.type == 0;
    position.info.price_current = buy ? tick->bid : tick->ask;
    position.info.profit =
        RoundMoney(ProfitFor(symbols_.at(position.info.symbol), buy, position.info.volume,
                             position.info.price_open, position.info.price_current));
  }
}

double TradeServer::Equity() const {
  double equity = balance_;
  for (const auto& [ticket, position] : positions_) {
    equity += position.info.profit + position.info.swap;
  }
  return equity;
}

double TradeServer::Margin() const {
  // Per symbol: netting holds one position; hedging charges the larger leg in full and the
  // overlapped volume at the symbol's hedged rate (margin_hedged, 0 = free).
  struct Legs {
    double buy_lots = 0, buy_value = 0, sell_lots = 0, sell_value = 0;
  };
  std::map<std::string, Legs, std::less<>> legs;
  for (const auto& [ticket, position] : positions_) {
    Legs& leg = legs[position.info.symbol];
    if (position.info.type == 0) {
      leg.buy_lots += position.info.volume;
      leg.buy_value += position.info.volume * position.info.price_open;
    } else {
      leg.sell_lots += position.info.volume;
      leg.sell_value += position.info.volume * position.info.price_open;
    }
  }
  double margin = 0;
  for (const auto& [name, leg] : legs) {
    const mt5::SymbolSpec& spec = symbols_.at(name);
    const double hedged = std::min(leg.buy_lots, leg.sell_lots);
    const bool buy_larger = leg.buy_lots >= leg.sell_lots;
    const double larger = buy_larger ? leg.buy_lots : leg.sell_lots;
    const double value = buy_larger ? leg.buy_value : leg.sell_value;
    const double average = larger > 0 ? value / larger : 0;
    if (larger - hedged > 0) {
      margin += MarginFor(spec, buy_larger, larger - hedged, average).value_or(0);
    }
    if (hedged > 0 && spec.margin_hedged > 0 && spec.contract_size > 0) {
      const double full = MarginFor(spec, buy_larger, hedged, average).value_or(0);
      margin += full * spec.margin_hedged / spec.contract_size;
    }
  }
  return margin;
}

// --- request checks ------------------------------------------------------------------------

uint32_t TradeServer::GateRequest() {
  // The terminal refuses before anything leaves it when its AutoTrading is off.
  if (!config_.client_trade_allowed) return rc::kClientDisablesAt;
  if (!config_.server_trade_allowed) return rc::kServerDisablesAt;
  if (config_.max_requests_per_second > 0) {
    const int64_t second = now_msc_ / 1000;
    if (second != rate_window_sec_) {
      rate_window_sec_ = second;
      rate_count_ = 0;
    }
    if (++rate_count_ > config_.max_requests_per_second) return rc::kTooManyRequests;
  }
  return 0;
}

uint32_t TradeServer::CheckSession(const mt5::SymbolSpec& spec) const {
  if (spec.sessions.empty()) return 0;
  const int64_t day = DayOf(now_msc_);
  const int weekday = WeekdayOf(day);
  const int64_t second = (now_msc_ - day * kMsPerDay) / 1000;
  for (const mt5::TradeSession& session : spec.sessions) {
    if (session.day == weekday && second >= session.from_sec && second < session.to_sec) return 0;
  }
  return rc::kMarketClosed;
}

uint32_t TradeServer::CheckVolume(const mt5::SymbolSpec& spec, double volume) const {
  const int64_t units = LotUnits(volume);
  if (!(volume > 0) || units < LotUnits(spec.volume_min) || units > LotUnits(spec.volume_max)) {
    return rc::kInvalidVolume;
  }
  const int64_t step = LotUnits(spec.volume_step);
  if (step > 0 && units % step != 0) return rc::kInvalidVolume;
  return 0;
}

bool TradeServer::OnGrid(const mt5::SymbolSpec& spec, double price) const {
  const double ticks = price / spec.tick_size;
  return std::fabs(ticks - std::round(ticks)) < 1e-6;
}

uint32_t TradeServer::CheckFilling(const mt5::SymbolSpec& spec, OrderType type, uint32_t filling,
                                   bool pending) const {
  const auto execution = static_cast<Execution>(spec.execution_mode);
  switch (static_cast<Filling>(filling)) {
    case Filling::kFok:
      return (spec.filling_mode & mt5::kSymbolFillingFok) != 0 ? 0 : rc::kInvalidFill;
    case Filling::kIoc:
      return (spec.filling_mode & mt5::kSymbolFillingIoc) != 0 ? 0 : rc::kInvalidFill;
    case Filling::kBoc:
      // Book or cancel: only a limit order may ask for it.
      return pending && IsLimitType(type) && (spec.filling_mode & mt5::kSymbolFillingBoc) != 0
                 ? 0
                 : rc::kInvalidFill;
    case Filling::kReturn:
      // Pending orders may always return; a market order may not under market execution.
      if (pending) return 0;
      return execution == Execution::kMarket ? rc::kInvalidFill : 0;
  }
  return rc::kInvalidFill;
}

uint32_t TradeServer::CheckStops(const mt5::SymbolSpec& spec, bool buy, double reference, double sl,
                                 double tp) const {
  // MT5's table "Requirements and Limitations in Making Trades": a buy's SL below and TP above its
  // reference by at least the stops level; a sell's the other way round.
  const int64_t level = spec.stops_level;
  if (sl > 0) {
    if (!OnGrid(spec, sl)) return rc::kInvalidStops;
    const int64_t distance = Points(buy ? reference - sl : sl - reference, spec.point);
    if (distance <= 0 || distance < level) return rc::kInvalidStops;
  }
  if (tp > 0) {
    if (!OnGrid(spec, tp)) return rc::kInvalidStops;
    const int64_t distance = Points(buy ? tp - reference : reference - tp, spec.point);
    if (distance <= 0 || distance < level) return rc::kInvalidStops;
  }
  if (sl < 0 || tp < 0) return rc::kInvalidStops;
  return 0;
}

uint32_t TradeServer::CheckPendingPrice(const mt5::SymbolSpec& spec, OrderType type, double price,
                                        double stoplimit, const mt5::TickData& tick) const {
  if (!(price > 0) || !OnGrid(spec, price)) return rc::kInvalidPrice;
  const int64_t level = spec.stops_level;
  int64_t distance = 0;
  switch (type) {
    case OrderType::kBuyLimit:
      distance = Points(tick.ask - price, spec.point);
      break;
    case OrderType::kSellLimit:
      distance = Points(price - tick.bid, spec.point);
      break;
    case OrderType::kBuyStop:
    case OrderType::kBuyStopLimit:
      distance = Points(price - tick.ask, spec.point);
      break;
    case OrderType::kSellStop:
    case OrderType::kSellStopLimit:
      distance = Points(tick.bid - price, spec.point);
      break;
    default:
      return rc::kInvalidPrice;
  }
  if (distance <= 0 || distance < level) return rc::kInvalidPrice;
  if (type == OrderType::kBuyStopLimit || type == OrderType::kSellStopLimit) {
    if (!(stoplimit > 0) || !OnGrid(spec, stoplimit)) return rc::kInvalidPrice;
    // The limit that the stop becomes sits below (buy) or above (sell) the stop price.
    const int64_t gap = Points(
        type == OrderType::kBuyStopLimit ? price - stoplimit : stoplimit - price, spec.point);
    if (gap < 0 || gap < level) return rc::kInvalidPrice;
  }
  return 0;
}

bool TradeServer::Frozen(const mt5::SymbolSpec& spec, double level_price, double market) const {
  if (spec.freeze_level <= 0 || level_price <= 0) return false;
  return std::llabs(Points(market - level_price, spec.point)) < spec.freeze_level;
}

double TradeServer::OpeningVolume(const mt5::SymbolSpec& spec, bool buy, double volume,
                                  uint64_t close_position) const {
  if (config_.account.margin_mode == mt5::MarginMode::kRetailHedging) {
    return close_position != 0 ? 0 : volume;
  }
  for (const auto& [ticket, position] : positions_) {
    if (position.info.symbol != spec.name) continue;
    if ((position.info.type == 0) == buy) return volume;
    return FromLotUnits(std::max<int64_t>(0, LotUnits(volume) - LotUnits(position.info.volume)));
  }
  return volume;
}

uint32_t TradeServer::CheckTradeMode(const mt5::SymbolSpec& spec, bool buy, double opening) const {
  switch (static_cast<mt5::SymbolTradeMode>(spec.trade_mode)) {
    case mt5::SymbolTradeMode::kDisabled:
      return rc::kTradeDisabled;
    case mt5::SymbolTradeMode::kLongOnly:
      return !buy && opening > 0 ? rc::kLongOnly : 0;
    case mt5::SymbolTradeMode::kShortOnly:
      return buy && opening > 0 ? rc::kShortOnly : 0;
    case mt5::SymbolTradeMode::kCloseOnly:
      return opening > 0 ? rc::kCloseOnly : 0;
    case mt5::SymbolTradeMode::kFull:
      return 0;
  }
  return rc::kTradeDisabled;
}

double TradeServer::MarketPrice(const mt5::SymbolSpec& spec, bool buy, uint32_t deviation) {
  const mt5::TickData& tick = ticks_.at(spec.name);
  double price = buy ? tick.ask : tick.bid;
  const uint32_t bound = std::min(config_.max_slippage_points, deviation);
  if (bound > 0) {
    std::uniform_int_distribution<uint32_t> points(0, bound);
    const double slip = points(rng_) * spec.point;
    price = buy ? price + slip : price - slip;
  }
  return Normalize(price, spec.digits);
}

// --- results and transactions ----------------------------------------------------------------

mt5::TradeResult TradeServer::Reject(uint32_t retcode, std::string_view client_order_id,
                                     std::string comment, const mt5::TickData* tick) {
  mt5::TradeResult result;
  result.client_order_id = std::string(client_order_id);
  result.retcode = retcode;
  if (tick != nullptr) {
    result.bid = tick->bid;
    result.ask = tick->ask;
  }
  result.comment = comment.empty() ? std::string(mt5::RetcodeText(retcode)) : std::move(comment);
  return Finish(std::move(result));
}

mt5::TradeResult TradeServer::Success(uint32_t retcode, std::string_view client_order_id,
                                      const mt5::TickData& tick) const {
  mt5::TradeResult result;
  result.client_order_id = std::string(client_order_id);
  result.retcode = retcode;
  result.bid = tick.bid;
  result.ask = tick.ask;
  result.comment = std::string(mt5::RetcodeText(retcode));
  return result;
}

uint32_t TradeServer::CheckPending(const mt5::SymbolSpec& spec, OrderType type, double price,
                                   double stoplimit, double sl, double tp, uint32_t type_time,
                                   int64_t expiration, const mt5::TickData& tick) const {
  if (uint32_t code = CheckPendingPrice(spec, type, price, stoplimit, tick)) return code;
  // A stop limit's stops are measured from the limit it becomes.
  const bool stop_limit = type == OrderType::kBuyStopLimit || type == OrderType::kSellStopLimit;
  if (uint32_t code = CheckStops(spec, mt5::IsBuy(type), stop_limit ? stoplimit : price, sl, tp)) {
    return code;
  }
  const auto time_type = static_cast<OrderTime>(type_time);
  if (type_time > static_cast<uint32_t>(OrderTime::kSpecifiedDay) ||
      ((time_type == OrderTime::kSpecified || time_type == OrderTime::kSpecifiedDay) &&
       expiration * 1000 <= now_msc_)) {
    return rc::kInvalidExpiration;
  }
  return 0;
}

mt5::TradeResult TradeServer::Finish(mt5::TradeResult result) {
  result.mt5_request_id = next_request_id_++;
  mt5::Transaction tx;
  tx.type = static_cast<uint32_t>(TransactionType::kRequest);
  tx.deal = result.deal;
  tx.order = result.order;
  tx.price = result.price;
  tx.volume = result.volume;
  tx.comment = result.comment;
  tx.time_msc = now_msc_;
  tx.retcode = result.retcode;
  tx.mt5_request_id = result.mt5_request_id;
  transactions_.push_back(std::move(tx));
  return result;
}

mt5::Transaction TradeServer::OrderTx(TransactionType type, const mt5::OrderInfo& info) const {
  mt5::Transaction tx;
  tx.type = static_cast<uint32_t>(type);
  tx.order = info.ticket;
  tx.position = info.position_id;
  tx.symbol = info.symbol;
  tx.order_type = info.type;
  tx.order_state = info.state;
  tx.time_type = info.type_time;
  tx.time_expiration = info.time_expiration;
  tx.price = info.price_open;
  tx.price_trigger = info.price_stoplimit;
  tx.price_sl = info.sl;
  tx.price_tp = info.tp;
  tx.volume = info.volume_current;
  tx.magic = info.magic;
  tx.comment = info.comment;
  tx.time_msc = info.time_done_msc != 0 ? info.time_done_msc : info.time_setup_msc;
  return tx;
}

mt5::Transaction TradeServer::DealTx(const mt5::DealInfo& deal) const {
  mt5::Transaction tx;
  tx.type = static_cast<uint32_t>(TransactionType::kDealAdd);
  tx.deal = deal.ticket;
  tx.order = deal.order;
  tx.position = deal.position_id;
  tx.symbol = deal.symbol;
  tx.deal_type = deal.type;
  tx.price = deal.price;
  tx.volume = deal.volume;
  tx.deal_entry = deal.entry;
  tx.deal_reason = deal.reason;
  tx.deal_commission = deal.commission;
  tx.deal_swap = deal.swap;
  tx.deal_profit = deal.profit;
  tx.magic = deal.magic;
  tx.comment = deal.comment;
  tx.time_msc = deal.time_msc;
  return tx;
}

mt5::Transaction TradeServer::PositionTx(const Position& position) const {
  mt5::Transaction tx;
  tx.type = static_cast<uint32_t>(TransactionType::kPosition);
  tx.position = position.info.ticket;
  tx.symbol = position.info.symbol;
  tx.deal_type = position.info.type;  // MqlTradeTransaction carries the position's side here
  tx.price = position.info.price_open;
  tx.price_sl = position.info.sl;
  tx.price_tp = position.info.tp;
  tx.volume = position.info.volume;
  tx.magic = position.info.magic;
  tx.comment = position.info.comment;
  tx.time_msc = now_msc_;
  return tx;
}

std::vector<mt5::Transaction> TradeServer::TakeTransactions() {
  return std::exchange(transactions_, {});
}

// --- execution -----------------------------------------------------------------------------

uint64_t TradeServer::ExecuteDeal(Order& order, double lots, double price, DealReason reason) {
  const mt5::SymbolSpec& spec = symbols_.at(order.info.symbol);
  const bool buy = mt5::IsBuy(static_cast<OrderType>(order.info.type));
  mt5::DealInfo deal;
  deal.ticket = next_deal_++;
  deal.order = order.info.ticket;
  deal.symbol = spec.name;
  deal.type = static_cast<uint32_t>(buy ? mt5::DealType::kBuy : mt5::DealType::kSell);
  deal.reason = static_cast<uint32_t>(reason);
  deal.volume = lots;
  deal.price = price;
  deal.commission = RoundMoney(-config_.account.commission_per_lot * lots);
  deal.magic = order.info.magic;
  deal.comment = order.info.comment;
  deal.time_msc = now_msc_;

  const int64_t units = LotUnits(lots);
  Position* target = nullptr;
  if (config_.account.margin_mode == mt5::MarginMode::kRetailHedging) {
    if (order.close_position != 0) {
      auto it = positions_.find(order.close_position);
      if (it != positions_.end()) target = &it->second;
    }
  } else {
    for (auto& [ticket, position] : positions_) {
      if (position.info.symbol == spec.name) target = &position;
    }
  }

  auto open_position = [&](int64_t open_units, uint64_t identifier) {
    Position position;
    position.info.ticket = order.info.ticket;
    position.info.symbol = spec.name;
    position.info.type = buy ? 0 : 1;
    position.info.volume = FromLotUnits(open_units);
    position.info.price_open = price;
    position.info.sl = order.info.sl;
    position.info.tp = order.info.tp;
    position.info.price_current = price;
    position.info.magic = order.info.magic;
    position.info.comment = order.info.comment;
    position.info.time_msc = now_msc_;
    position.info.time_update_msc = now_msc_;
    position.identifier = identifier;
    position.sequence = order.info.ticket;
    positions_[position.info.ticket] = std::move(position);
  };

  if (target == nullptr) {
    deal.entry = static_cast<uint32_t>(DealEntry::kIn);
    deal.position_id = order.info.ticket;
    open_position(units, order.info.ticket);
  } else if ((target->info.type == 0) == buy) {
    // Netting: adding to the position moves its price to the volume-weighted mean.
    deal.entry = static_cast<uint32_t>(DealEntry::kIn);
    deal.position_id = target->identifier;
    const int64_t total = LotUnits(target->info.volume) + units;
    const double mean =
        (target->info.price_open * target->info.volume + price * lots) / FromLotUnits(total);
    target->info.price_open = Normalize(mean, spec.digits + 3);
    target->info.volume = FromLotUnits(total);
    target->info.time_update_msc = now_msc_;
    if (order.info.sl > 0 || order.info.tp > 0) {
      target->info.sl = order.info.sl;
      target->info.tp = order.info.tp;
    }
  } else {
    deal.position_id = target->identifier;
    const int64_t held = LotUnits(target->info.volume);
    const int64_t closed = std::min(held, units);
    const double closed_lots = FromLotUnits(closed);
    const bool long_position = target->info.type == 0;
    deal.profit =
        RoundMoney(ProfitFor(spec, long_position, closed_lots, target->info.price_open, price));
    const double swap_share = RoundMoney(target->info.swap * closed_lots / target->info.volume);
    deal.swap = swap_share;
    target->info.swap -= swap_share;
    if (units < held) {
      deal.entry = static_cast<uint32_t>(DealEntry::kOut);
      target->info.volume = FromLotUnits(held - closed);
      target->info.time_update_msc = now_msc_;
    } else if (units == held) {
      deal.entry = static_cast<uint32_t>(DealEntry::kOut);
      positions_.erase(target->info.ticket);
    } else {
      // Netting reversal: the identifier stays, the ticket becomes the reversing order's.
      deal.entry = static_cast<uint32_t>(DealEntry::kInOut);
      const uint64_t identifier = target->identifier;
      positions_.erase(target->info.ticket);
      open_position(units - held, identifier);
    }
  }
  balance_ += deal.profit + deal.commission + deal.swap;
  order.info.volume_current = FromLotUnits(LotUnits(order.info.volume_current) - units);
  order.info.position_id = deal.position_id;
  deals_.push_back(deal);
  transactions_.push_back(DealTx(deal));
  Recalculate();
  return deal.ticket;
}

void TradeServer::FinishOrder(Order& order, OrderState state) {
  order.info.state = static_cast<uint32_t>(state);
  order.info.time_done_msc = now_msc_;
  transactions_.push_back(OrderTx(TransactionType::kOrderDelete, order.info));
  history_orders_.push_back(order.info);
  transactions_.push_back(OrderTx(TransactionType::kHistoryAdd, order.info));
  orders_.erase(order.info.ticket);
}

void TradeServer::CloseOut(Position& position, double lots, double price, DealReason reason,
                           std::string comment) {
  // The server closes with a market order of its own: order add, deal, order delete, history.
  Order order;
  order.info.ticket = next_order_++;
  order.info.symbol = position.info.symbol;
  order.info.type =
      static_cast<uint32_t>(position.info.type == 0 ? OrderType::kSell : OrderType::kBuy);
  order.info.state = static_cast<uint32_t>(OrderState::kStarted);
  order.info.volume_initial = lots;
  order.info.volume_current = lots;
  order.info.price_open = price;
  order.info.type_filling = static_cast<uint32_t>(Filling::kFok);
  order.info.magic = position.info.magic;
  order.info.comment = std::move(comment);
  order.info.time_setup_msc = now_msc_;
  order.info.position_id = position.identifier;
  order.close_position = position.info.ticket;
  order.reason = reason;
  transactions_.push_back(OrderTx(TransactionType::kOrderAdd, order.info));
  ExecuteDeal(order, lots, price, reason);
  order.info.state = static_cast<uint32_t>(OrderState::kFilled);
  order.info.time_done_msc = now_msc_;
  transactions_.push_back(OrderTx(TransactionType::kOrderDelete, order.info));
  history_orders_.push_back(order.info);
  transactions_.push_back(OrderTx(TransactionType::kHistoryAdd, order.info));
}

mt5::TradeResult TradeServer::PlaceOrder(const mt5::PlaceOrder& request) {
  const std::string& cid = request.client_order_id;
  if (uint32_t gate = GateRequest()) return Reject(gate, cid, "");
  const mt5::SymbolSpec* spec = FindSymbol(request.symbol);
  if (spec == nullptr) return Reject(rc::kInvalid, cid, "unknown symbol '" + request.symbol + "'");
  const auto action = static_cast<mt5::TradeAction>(request.action);
  const auto type = static_cast<OrderType>(request.type);
  const bool pending = action == mt5::TradeAction::kPending;
  if (action != mt5::TradeAction::kDeal && !pending) {
    return Reject(rc::kInvalid, cid,
                  "action " + std::to_string(request.action) + " is not a deal or a pending order");
  }
  if (request.type > static_cast<uint32_t>(OrderType::kSellStopLimit) ||
      (pending != IsPendingType(type))) {
    return Reject(rc::kInvalidOrder, cid,
                  "order type " + std::to_string(request.type) + " does not fit the action");
  }
  const mt5::TickData* tick = LastTick(spec->name);
  if (tick == nullptr) return Reject(rc::kPriceOff, cid, "");
  const bool buy = mt5::IsBuy(type);
  if (spec->trade_mode == static_cast<uint32_t>(mt5::SymbolTradeMode::kDisabled)) {
    return Reject(rc::kTradeDisabled, cid, "", tick);
  }
  if (uint32_t code = CheckSession(*spec)) return Reject(code, cid, "", tick);
  if (uint32_t code = CheckVolume(*spec, request.volume)) return Reject(code, cid, "", tick);
  if (uint32_t code = CheckFilling(*spec, type, request.type_filling, pending)) {
    return Reject(code, cid, "", tick);
  }
  const bool hedging = config_.account.margin_mode == mt5::MarginMode::kRetailHedging;
  if (request.position != 0) {
    auto it = positions_.find(request.position);
    if (it == positions_.end()) return Reject(rc::kPositionClosed, cid, "", tick);
    if ((it->second.info.type == 0) == buy || it->second.info.symbol != spec->name) {
      return Reject(rc::kInvalid, cid,
                    "the order does not close position " + std::to_string(request.position), tick);
    }
    if (LotUnits(request.volume) > LotUnits(it->second.info.volume)) {
      return Reject(rc::kInvalidCloseVolume, cid, "", tick);
    }
  }
  const double opening = OpeningVolume(*spec, buy, request.volume, request.position);
  if (uint32_t code = CheckTradeMode(*spec, buy, opening)) return Reject(code, cid, "", tick);
  if (hedging && opening > 0 && config_.account.hedge_prohibited) {
    for (const auto& [ticket, position] : positions_) {
      if (position.info.symbol == spec->name && (position.info.type == 0) != buy) {
        return Reject(rc::kHedgeProhibited, cid, "", tick);
      }
    }
  }
  if (hedging && request.position != 0 && config_.account.fifo_close) {
    for (const auto& [ticket, position] : positions_) {
      if (position.info.symbol == spec->name &&
          position.sequence < positions_.at(request.position).sequence &&
          position.info.type == positions_.at(request.position).info.type) {
        return Reject(rc::kFifoClose, cid, "", tick);
      }
    }
  }

  Order order;
  order.info.symbol = spec->name;
  order.info.type = request.type;
  order.info.volume_initial = request.volume;
  order.info.volume_current = request.volume;
  order.info.sl = request.sl;
  order.info.tp = request.tp;
  order.info.type_filling = request.type_filling;
  order.info.magic = request.magic;
  order.info.comment = cid;
  order.deviation = request.deviation;
  order.close_position = request.position;

  if (pending) {
    if (uint32_t code = CheckPending(*spec, type, request.price, request.stoplimit, request.sl,
                                     request.tp, request.type_time, request.expiration, *tick)) {
      return Reject(code, cid, "", tick);
    }
    order.info.ticket = next_order_++;
    order.info.price_open = request.price;
    order.info.price_stoplimit = request.stoplimit;
    order.info.type_time = request.type_time;
    order.info.time_expiration = request.expiration;
    order.info.time_setup_msc = now_msc_;
    order.info.state = static_cast<uint32_t>(OrderState::kStarted);
    transactions_.push_back(OrderTx(TransactionType::kOrderAdd, order.info));
    order.info.state = static_cast<uint32_t>(OrderState::kPlaced);
    transactions_.push_back(OrderTx(TransactionType::kOrderUpdate, order.info));
    mt5::TradeResult result = Success(rc::kPlaced, cid, *tick);
    result.order = order.info.ticket;
    result.volume = request.volume;
    result.price = request.price;
    orders_.emplace(order.info.ticket, std::move(order));
    return Finish(std::move(result));
  }

  // A market order: SL/TP against the side it closes at (a buy's against the bid).
  const double close_side = buy ? tick->bid : tick->ask;
  if (uint32_t code = CheckStops(*spec, buy, close_side, request.sl, request.tp)) {
    return Reject(code, cid, "", tick);
  }
  const double market = buy ? tick->ask : tick->bid;
  const auto execution = static_cast<Execution>(spec->execution_mode);
  double price = market;
  if (execution == Execution::kInstant || execution == Execution::kRequest) {
    const uint32_t moved = execution == Execution::kInstant ? rc::kRequote : rc::kPriceChanged;
    if (request.price > 0) {
      if (!OnGrid(*spec, request.price)) return Reject(rc::kInvalidPrice, cid, "", tick);
      if (std::llabs(Points(market - request.price, spec->point)) >
          static_cast<int64_t>(request.deviation)) {
        return Reject(moved, cid, "", tick);
      }
    }
    if (config_.requote_probability > 0) {
      std::uniform_real_distribution<double> draw(0.0, 1.0);
      if (draw(rng_) < config_.requote_probability) return Reject(moved, cid, "", tick);
    }
  } else if (execution == Execution::kMarket) {
    price = MarketPrice(*spec, buy, request.deviation);
  }
  double lots = request.volume;
  if (execution == Execution::kExchange) {
    lots = std::min(lots, Depth(*tick));
    if (request.type_filling == static_cast<uint32_t>(Filling::kFok) &&
        LotUnits(lots) < LotUnits(request.volume)) {
      return Reject(rc::kReject, cid, "FOK: the book holds " + std::to_string(lots) + " lots",
                    tick);
    }
  }
  if (opening > 0) {
    std::optional<double> extra = MarginFor(*spec, buy, std::min(opening, lots), price);
    if (!extra) {
      return Reject(rc::kReject, cid,
                    "no rate converts " + spec->currency_margin + " to " + config_.account.currency,
                    tick);
    }
    if (Equity() - Margin() - *extra < 0) return Reject(rc::kNoMoney, cid, "", tick);
  }

  order.info.ticket = next_order_++;
  order.info.price_open = price;
  order.info.time_setup_msc = now_msc_;
  order.info.state = static_cast<uint32_t>(OrderState::kStarted);
  order.reason = DealReason::kExpert;
  transactions_.push_back(OrderTx(TransactionType::kOrderAdd, order.info));
  const uint64_t deal = ExecuteDeal(order, lots, price, DealReason::kExpert);
  mt5::TradeResult result = Success(rc::kDone, cid, *tick);
  result.deal = deal;
  result.order = order.info.ticket;
  result.volume = lots;
  result.price = price;
  if (LotUnits(order.info.volume_current) == 0) {
    result.retcode = rc::kDone;
    FinishOrder(order, OrderState::kFilled);
  } else if (request.type_filling == static_cast<uint32_t>(Filling::kIoc)) {
    result.retcode = rc::kDonePartial;
    FinishOrder(order, OrderState::kCanceled);
  } else {
    // RETURN: the rest keeps working and fills as the book refills.
    result.retcode = rc::kDonePartial;
    order.market = true;
    order.info.state = static_cast<uint32_t>(OrderState::kPartial);
    transactions_.push_back(OrderTx(TransactionType::kOrderUpdate, order.info));
    orders_.emplace(order.info.ticket, std::move(order));
  }
  result.comment = std::string(mt5::RetcodeText(result.retcode));
  return Finish(std::move(result));
}

mt5::TradeResult TradeServer::ClosePosition(const mt5::ClosePosition& request) {
  const std::string& cid = request.client_order_id;
  if (uint32_t gate = GateRequest()) return Reject(gate, cid, "");
  auto it = positions_.find(request.ticket);
  if (it == positions_.end()) return Reject(rc::kPositionClosed, cid, "");
  const Position& position = it->second;
  const double volume = request.volume == 0 ? position.info.volume : request.volume;
  if (LotUnits(volume) > LotUnits(position.info.volume)) {
    return Reject(rc::kInvalidCloseVolume, cid, "", LastTick(position.info.symbol));
  }
  // The close is a market order of the opposite side that names the position.
  mt5::PlaceOrder order;
  order.client_order_id = cid;
  order.magic = request.magic;
  order.symbol = position.info.symbol;
  order.action = static_cast<uint32_t>(mt5::TradeAction::kDeal);
  order.type = static_cast<uint32_t>(position.info.type == 0 ? OrderType::kSell : OrderType::kBuy);
  order.volume = volume;
  order.deviation = request.deviation;
  order.type_filling = request.type_filling;
  order.position =
      config_.account.margin_mode == mt5::MarginMode::kRetailHedging ? request.ticket : 0;
  // The gate was passed once for this request.
  rate_count_ = rate_count_ > 0 ? rate_count_ - 1 : 0;
  return PlaceOrder(order);
}

mt5::TradeResult TradeServer::ModifyPosition(const mt5::ModifyPosition& request) {
  if (uint32_t gate = GateRequest()) return Reject(gate, "", "");
  auto it = positions_.find(request.ticket);
  if (it == positions_.end()) return Reject(rc::kPositionClosed, "", "");
  Position& position = it->second;
  const mt5::SymbolSpec& spec = symbols_.at(position.info.symbol);
  const mt5::TickData* tick = LastTick(spec.name);
  if (uint32_t code = CheckSession(spec)) return Reject(code, "", "", tick);
  if (request.sl == position.info.sl && request.tp == position.info.tp) {
    return Reject(rc::kNoChanges, "", "", tick);
  }
  const bool buy = position.info.type == 0;
  const double close_side = buy ? tick->bid : tick->ask;
  if (Frozen(spec, position.info.sl, close_side) || Frozen(spec, position.info.tp, close_side)) {
    return Reject(rc::kFrozen, "", "", tick);
  }
  if (uint32_t code = CheckStops(spec, buy, close_side, request.sl, request.tp)) {
    return Reject(code, "", "", tick);
  }
  position.info.sl = request.sl;
  position.info.tp = request.tp;
  position.info.time_update_msc = now_msc_;
  transactions_.push_back(PositionTx(position));
  return Finish(Success(rc::kDone, "", *tick));
}

mt5::TradeResult TradeServer::ModifyOrder(const mt5::ModifyOrder& request) {
  if (uint32_t gate = GateRequest()) return Reject(gate, "", "");
  auto it = orders_.find(request.ticket);
  if (it == orders_.end() || it->second.market) {
    return Reject(rc::kInvalid, "", "no working order " + std::to_string(request.ticket));
  }
  Order& order = it->second;
  const mt5::SymbolSpec& spec = symbols_.at(order.info.symbol);
  const mt5::TickData* tick = LastTick(spec.name);
  if (uint32_t code = CheckSession(spec)) return Reject(code, "", "", tick);
  const auto type = static_cast<OrderType>(order.info.type);
  const bool buy = mt5::IsBuy(type);
  if (request.price == order.info.price_open && request.stoplimit == order.info.price_stoplimit &&
      request.sl == order.info.sl && request.tp == order.info.tp &&
      request.type_time == order.info.type_time &&
      request.expiration == order.info.time_expiration) {
    return Reject(rc::kNoChanges, "", "", tick);
  }
  if (Frozen(spec, order.info.price_open, buy ? tick->ask : tick->bid)) {
    return Reject(rc::kFrozen, "", "", tick);
  }
  if (uint32_t code = CheckPending(spec, type, request.price, request.stoplimit, request.sl,
                                   request.tp, request.type_time, request.expiration, *tick)) {
    return Reject(code, "", "", tick);
  }
  order.info.price_open = request.price;
  order.info.price_stoplimit = request.stoplimit;
  order.info.sl = request.sl;
  order.info.tp = request.tp;
  order.info.type_time = request.type_time;
  order.info.time_expiration = request.expiration;
  transactions_.push_back(OrderTx(TransactionType::kOrderUpdate, order.info));
  mt5::TradeResult result = Success(rc::kDone, "", *tick);
  result.order = order.info.ticket;
  result.price = request.price;
  result.volume = order.info.volume_current;
  return Finish(std::move(result));
}

mt5::TradeResult TradeServer::CancelOrder(const mt5::CancelOrder& request) {
  if (uint32_t gate = GateRequest()) return Reject(gate, "", "");
  auto it = orders_.find(request.ticket);
  if (it == orders_.end()) {
    return Reject(rc::kInvalid, "", "no working order " + std::to_string(request.ticket));
  }
  Order& order = it->second;
  const mt5::SymbolSpec& spec = symbols_.at(order.info.symbol);
  const mt5::TickData* tick = LastTick(spec.name);
  if (uint32_t code = CheckSession(spec)) return Reject(code, "", "", tick);
  const bool buy = mt5::IsBuy(static_cast<OrderType>(order.info.type));
  if (!order.market && Frozen(spec, order.info.price_open, buy ? tick->ask : tick->bid)) {
    return Reject(rc::kFrozen, "", "", tick);
  }
  mt5::TradeResult result = Success(rc::kDone, "", *tick);
  result.order = order.info.ticket;
  result.volume = order.info.volume_current;
  FinishOrder(order, OrderState::kCanceled);
  return Finish(std::move(result));
}

mt5::TradeResult TradeServer::CloseBy(const mt5::CloseBy& request) {
  const std::string& cid = request.client_order_id;
  if (uint32_t gate = GateRequest()) return Reject(gate, cid, "");
  if (config_.account.margin_mode != mt5::MarginMode::kRetailHedging) {
    return Reject(rc::kInvalid, cid, "close by needs a hedging account");
  }
  auto it = positions_.find(request.ticket);
  auto by_it = positions_.find(request.ticket_by);
  if (it == positions_.end() || by_it == positions_.end()) {
    return Reject(rc::kPositionClosed, cid, "");
  }
  Position& position = it->second;
  Position& by = by_it->second;
  const mt5::SymbolSpec& spec = symbols_.at(position.info.symbol);
  const mt5::TickData* tick = LastTick(spec.name);
  if (by.info.symbol != position.info.symbol || by.info.type == position.info.type) {
    return Reject(rc::kInvalid, cid, "close by needs opposite positions of one symbol", tick);
  }
  if (uint32_t code = CheckSession(spec)) return Reject(code, cid, "", tick);
  // Both close at the opposite position's open price: the profit is the gap between the opens.
  const int64_t units = std::min(LotUnits(position.info.volume), LotUnits(by.info.volume));
  const double lots = FromLotUnits(units);
  const double price = by.info.price_open;
  Order order;
  order.info.ticket = next_order_++;
  order.info.symbol = spec.name;
  order.info.type = static_cast<uint32_t>(OrderType::kCloseBy);
  order.info.state = static_cast<uint32_t>(OrderState::kStarted);
  order.info.volume_initial = lots;
  order.info.volume_current = lots;
  order.info.price_open = price;
  order.info.magic = position.info.magic;
  order.info.comment = cid;
  order.info.time_setup_msc = now_msc_;
  order.info.position_id = position.identifier;
  transactions_.push_back(OrderTx(TransactionType::kOrderAdd, order.info));
  uint64_t first_deal = 0;
  for (Position* side : {&position, &by}) {
    mt5::DealInfo deal;
    deal.ticket = next_deal_++;
    deal.order = order.info.ticket;
    deal.position_id = side->identifier;
    deal.symbol = spec.name;
    deal.type =
        static_cast<uint32_t>(side->info.type == 0 ? mt5::DealType::kSell : mt5::DealType::kBuy);
    deal.entry = static_cast<uint32_t>(DealEntry::kOutBy);
    deal.reason = static_cast<uint32_t>(DealReason::kExpert);
    deal.volume = lots;
    deal.price = price;
    deal.profit =
        RoundMoney(ProfitFor(spec, side->info.type == 0, lots, side->info.price_open, price));
    deal.swap = RoundMoney(side->info.swap * lots / side->info.volume);
    side->info.swap -= deal.swap;
    deal.magic = order.info.magic;
    deal.comment = cid;
    deal.time_msc = now_msc_;
    balance_ += deal.profit + deal.swap;
    side->info.volume = FromLotUnits(LotUnits(side->info.volume) - units);
    if (first_deal == 0) first_deal = deal.ticket;
    deals_.push_back(deal);
    transactions_.push_back(DealTx(deal));
  }
  const uint64_t ticket_a = position.info.ticket;
  const uint64_t ticket_b = by.info.ticket;
  for (uint64_t ticket : {ticket_a, ticket_b}) {
    if (LotUnits(positions_.at(ticket).info.volume) == 0) positions_.erase(ticket);
  }
  order.info.volume_current = 0;
  order.info.state = static_cast<uint32_t>(OrderState::kFilled);
  order.info.time_done_msc = now_msc_;
  transactions_.push_back(OrderTx(TransactionType::kOrderDelete, order.info));
  history_orders_.push_back(order.info);
  transactions_.push_back(OrderTx(TransactionType::kHistoryAdd, order.info));
  Recalculate();
  mt5::TradeResult result = Success(rc::kDone, cid, *tick);
  result.deal = first_deal;
  result.order = order.info.ticket;
  result.volume = lots;
  result.price = price;
  return Finish(std::move(result));
}

// --- state ---------------------------------------------------------------------------------

mt5::Account TradeServer::AccountInfo() const {
  mt5::Account account;
  account.login = config_.account.login;
  account.server = config_.account.server;
  account.currency = config_.account.currency;
  account.leverage = config_.account.leverage;
  account.margin_mode = static_cast<uint32_t>(config_.account.margin_mode);
  account.balance = balance_;
  account.equity = Equity();
  account.margin = Margin();
  account.margin_free = account.equity - account.margin;
  account.margin_level = account.margin > 0 ? account.equity / account.margin * 100.0 : 0;
  account.margin_so_call = config_.account.margin_call_level;
  account.margin_so_so = config_.account.stop_out_level;
  account.trade_allowed = true;
  account.expert_allowed = config_.client_trade_allowed && config_.server_trade_allowed;
  account.connected = true;
  account.server_time_msc = now_msc_;
  return account;
}

std::vector<mt5::PositionInfo> TradeServer::Positions() const {
  std::vector<mt5::PositionInfo> out;
  for (const auto& [ticket, position] : positions_) out.push_back(position.info);
  return out;
}

uint64_t TradeServer::LastDealTicket() const { return deals_.empty() ? 0 : deals_.back().ticket; }

std::vector<mt5::OrderInfo> TradeServer::Orders() const {
  std::vector<mt5::OrderInfo> out;
  for (const auto& [ticket, order] : orders_) out.push_back(order.info);
  return out;
}

std::vector<mt5::OrderInfo> TradeServer::HistoryOrders(int64_t from_msc, int64_t to_msc) const {
  std::vector<mt5::OrderInfo> out;
  for (const mt5::OrderInfo& order : history_orders_) {
    if (order.time_done_msc >= from_msc && order.time_done_msc <= to_msc) out.push_back(order);
  }
  return out;
}

std::vector<mt5::DealInfo> TradeServer::HistoryDeals(int64_t from_msc, int64_t to_msc) const {
  std::vector<mt5::DealInfo> out;
  for (const mt5::DealInfo& deal : deals_) {
    if (deal.time_msc >= from_msc && deal.time_msc <= to_msc) out.push_back(deal);
  }
  return out;
}

bool TradeServer::InUse(std::string_view comment, uint64_t magic) const {
  auto matches = [&](const std::string& their_comment, uint64_t their_magic) {
    return (!comment.empty() && their_comment == comment) || (magic != 0 && their_magic == magic);
  };
  for (const auto& [ticket, order] : orders_) {
    if (matches(order.info.comment, order.info.magic)) return true;
  }
  for (const auto& [ticket, position] : positions_) {
    if (matches(position.info.comment, position.info.magic)) return true;
  }
  for (const mt5::OrderInfo& order : history_orders_) {
    if (matches(order.comment, order.magic)) return true;
  }
  return false;
}

}  // namespace aits::mt5sim
