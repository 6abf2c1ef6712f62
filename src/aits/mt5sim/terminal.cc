#include "aits/mt5sim/terminal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "aits/core/hash.h"

namespace aits::mt5sim {
namespace {

using mt5::ErrorCode;
using mt5::MessageType;
namespace rc = mt5::retcode;

// MQL5's order comment holds 31 characters.
constexpr size_t kMaxComment = 31;
constexpr int64_t kSecondsPerDay = 86'400;
constexpr uint32_t kMonthPeriod = 2'592'000;
constexpr uint32_t kWeekPeriod = 604'800;

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : (a - b + 1) / b; }

// The first day of the month holding `days` (days since 1970-01-01), Howard Hinnant's civil
// algorithm run backwards.
int64_t MonthStartDay(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  return days - (day - 1);
}

}  // namespace

uint64_t ClientOrderMagic(std::string_view client_order_id) {
  return Fnv1a64(client_order_id) & 0x7FFF'FFFF'FFFF'FFFFULL;
}

mt5::MessageType TypeOf(const EaMessage& message) {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, message);
}

bool BarOpen(int64_t time_sec, uint32_t period_sec, int64_t& open_sec) {
  if (period_sec == 0) return false;
  const int64_t day = FloorDiv(time_sec, kSecondsPerDay);
  if (period_sec == kMonthPeriod) {
    open_sec = MonthStartDay(day) * kSecondsPerDay;
    return true;
  }
  if (period_sec == kWeekPeriod) {
    // 1970-01-01 was a Thursday: day 0 is weekday 4, and weeks open on Sunday.
    const int64_t weekday = ((day % 7) + 7 + 4) % 7;
    open_sec = (day - weekday) * kSecondsPerDay;
    return true;
  }
  if (kSecondsPerDay % period_sec != 0) return false;
  open_sec = FloorDiv(time_sec, period_sec) * period_sec;
  return true;
}

std::vector<mt5::BarData> AggregateBars(const std::vector<mt5::TickData>& ticks, size_t count,
                                        uint32_t period_sec, double point) {
  std::vector<mt5::BarData> bars;
  for (size_t i = 0; i < count && i < ticks.size(); ++i) {
    const mt5::TickData& tick = ticks[i];
    int64_t open = 0;
    if (!BarOpen(FloorDiv(tick.time_msc, 1000), period_sec, open)) return {};
    const int32_t spread = static_cast<int32_t>(std::llround((tick.ask - tick.bid) / point));
    if (bars.empty() || bars.back().time != open) {
      mt5::BarData bar;
      bar.time = open;
      bar.open = bar.high = bar.low = bar.close = tick.bid;
      bar.spread = spread;
      bars.push_back(bar);
    }
    mt5::BarData& bar = bars.back();
    bar.high = std::max(bar.high, tick.bid);
    bar.low = std::min(bar.low, tick.bid);
    bar.close = tick.bid;
    bar.spread = std::min(bar.spread, spread);
    bar.tick_volume += 1;
    bar.real_volume += static_cast<int64_t>(std::llround(tick.volume));
  }
  return bars;
}

Result<std::vector<mt5::TickData>> ReadTickFile(const std::string& path, int digits,
                                                data::ReadStats* stats) {
  data::ReadOptions options;
  options.price_precision = digits;
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<data::TickSource> source, data::OpenTicks(path, options));
  std::vector<mt5::TickData> out;
  std::vector<Tick> batch(4096);
  for (;;) {
    AITS_ASSIGN_OR_RETURN(size_t n, source->Read(batch));
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      mt5::TickData tick;
      tick.time_msc = FloorDiv(batch[i].ts.ns, 1'000'000);
      tick.bid = batch[i].bid.AsDouble();
      tick.ask = batch[i].ask.AsDouble();
      tick.volume = static_cast<double>(batch[i].bid_volume);
      tick.flags = mt5::kTickFlagBid | mt5::kTickFlagAsk;
      out.push_back(tick);
    }
  }
  if (stats != nullptr) *stats = source->stats();
  return out;
}

mt5::SymbolSpec ForexSymbol(const std::string& name) {
  mt5::SymbolSpec spec;
  spec.name = name;
  const bool yen = name.size() >= 6 && name.substr(3, 3) == "JPY";
  spec.digits = yen ? 3 : 5;
  spec.point = yen ? 0.001 : 0.00001;
  spec.tick_size = spec.point;
  spec.contract_size = 100000;
  spec.tick_value = spec.tick_size * spec.contract_size;
  spec.volume_min = 0.01;
  spec.volume_max = 100;
  spec.volume_step = 0.01;
  spec.filling_mode = mt5::kSymbolFillingFok | mt5::kSymbolFillingIoc;
  spec.execution_mode = static_cast<uint32_t>(mt5::Execution::kMarket);
  spec.trade_mode = static_cast<uint32_t>(mt5::SymbolTradeMode::kFull);
  spec.order_mode = 127;  // SYMBOL_ORDER_MARKET | LIMIT | STOP | STOP_LIMIT | SL | TP | CLOSEBY
  spec.calc_mode = 0;     // SYMBOL_CALC_MODE_FOREX
  if (name.size() >= 6) {
    spec.currency_base = name.substr(0, 3);
    spec.currency_margin = spec.currency_base;
    spec.currency_profit = name.substr(3, 3);
  }
  spec.margin_hedged = spec.contract_size / 2;
  return spec;
}

Terminal::Terminal(TerminalConfig config, TradeServer& server)
    : config_(std::move(config)), server_(server) {}

// --- replay --------------------------------------------------------------------------------

Status Terminal::AddTicks(std::string_view symbol, const std::vector<mt5::TickData>& ticks) {
  if (server_.FindSymbol(symbol) == nullptr) {
    return InvalidArgument("ticks for symbol '" + std::string(symbol) +
                           "', which the trade server does not have");
  }
  Feed& feed = feeds_[std::string(symbol)];
  int64_t previous =
      feed.ticks.empty() ? std::numeric_limits<int64_t>::min() : feed.ticks.back().time_msc;
  for (size_t i = 0; i < ticks.size(); ++i) {
    const mt5::TickData& tick = ticks[i];
    if (!(tick.bid > 0) || !(tick.ask >= tick.bid) || tick.time_msc < previous) {
      return InvalidArgument("ticks of " + std::string(symbol) + ", tick " + std::to_string(i) +
                             " at " + std::to_string(tick.time_msc) + " (bid " +
                             std::to_string(tick.bid) + ", ask " + std::to_string(tick.ask) +
                             "): not a quote, or earlier than the tick before");
    }
    previous = tick.time_msc;
  }
  feed.ticks.insert(feed.ticks.end(), ticks.begin(), ticks.end());
  total_ticks_ += ticks.size();
  return Status::Ok();
}

int64_t Terminal::NextTickTime() const {
  int64_t next = std::numeric_limits<int64_t>::max();
  for (const auto& [name, feed] : feeds_) {
    if (feed.replayed < feed.ticks.size())
      next = std::min(next, feed.ticks[feed.replayed].time_msc);
  }
  return next;
}

bool Terminal::Step() {
  Feed* earliest = nullptr;
  std::string_view name;
  for (auto& [symbol, feed] : feeds_) {
    if (feed.replayed >= feed.ticks.size()) continue;
    if (earliest == nullptr ||
        feed.ticks[feed.replayed].time_msc < earliest->ticks[earliest->replayed].time_msc) {
      earliest = &feed;
      name = symbol;
    }
  }
  if (earliest == nullptr) return false;
  // AddTicks checked the feed, and a feed's time never goes backwards: the server takes it.
  const Status status = server_.OnTick(name, earliest->ticks[earliest->replayed]);
  (void)status;
  ++earliest->replayed;
  ++replayed_total_;
  return true;
}

size_t Terminal::ReplayUntil(int64_t time_msc) {
  size_t count = 0;
  while (NextTickTime() <= time_msc && Step()) ++count;
  return count;
}

// --- session -------------------------------------------------------------------------------

void Terminal::OnConnected(int64_t wall_ms) {
  handshaken_ = false;
  closing_ = false;
  close_reason_.clear();
  subscriptions_.clear();
  outbox_.clear();
  const mt5::Account account = server_.AccountInfo();
  mt5::Hello hello;
  hello.protocol_version = mt5::kProtocolVersion;
  hello.token = config_.token;
  hello.login = account.login;
  hello.server = account.server;
  hello.company = server_.config().account.company;
  hello.currency = account.currency;
  hello.leverage = account.leverage;
  hello.margin_mode = account.margin_mode;
  hello.terminal_build = config_.terminal_build;
  hello.ea_version = config_.ea_version;
  hello.trade_allowed = server_.ClientTradeAllowed();
  // TimeTradeServer(): the replay's clock once it runs, the wall clock before the first tick.
  hello.server_time_msc = server_.now_msc() != 0 ? server_.now_msc() : wall_ms;
  Reply(0, std::move(hello));
}

void Terminal::Restart() { sent_client_order_ids_.clear(); }

std::vector<Outgoing> Terminal::TakeOutbox() { return std::exchange(outbox_, {}); }

void Terminal::SendError(uint64_t request_id, ErrorCode code, std::string message) {
  mt5::Error error;
  error.code = static_cast<uint32_t>(code);
  error.message = std::move(message);
  if (mt5::IsFatal(code)) {
    closing_ = true;
    close_reason_ = error.message;
  }
  Reply(request_id, std::move(error));
}

template <typename M>
bool Terminal::DecodeOrFail(const mt5::Frame& frame, M& message) {
  Status status = mt5::DecodeFrame(frame, message);
  if (status.ok()) return true;
  SendError(frame.envelope.request_id, ErrorCode::kMalformedFrame, status.message());
  return false;
}

void Terminal::Handle(const mt5::Frame& frame) {
  const uint64_t id = frame.envelope.request_id;
  const uint16_t number = frame.envelope.type;
  if (frame.envelope.version != mt5::kProtocolVersion) {
    SendError(id, ErrorCode::kBadVersion,
              "protocol version " + std::to_string(frame.envelope.version) + ", the EA speaks " +
                  std::to_string(mt5::kProtocolVersion));
    return;
  }
  if (!mt5::IsKnownMessage(number)) {
    SendError(id, ErrorCode::kUnknownMessage,
              "message type " + std::to_string(number) + " is not in the EA's schema");
    return;
  }
  const auto type = static_cast<MessageType>(number);
  if (mt5::DirectionOf(type) == mt5::Direction::kFromEa) {
    SendError(id, ErrorCode::kUnexpectedMessage,
              std::string(mt5::MessageName(number)) + " is sent by the EA, not to it");
    return;
  }
  const bool session_message = type == MessageType::kWelcome || type == MessageType::kError ||
                               type == MessageType::kBye || type == MessageType::kHeartbeat;
  if (!handshaken_ && !session_message) {
    SendError(id, ErrorCode::kUnexpectedMessage,
              std::string(mt5::MessageName(number)) + " before the welcome");
    return;
  }
  switch (type) {
    case MessageType::kWelcome: {
      mt5::Welcome welcome;
      if (!DecodeOrFail(frame, welcome)) return;
      if (handshaken_) {
        SendError(id, ErrorCode::kUnexpectedMessage, "a second welcome");
        return;
      }
      welcome_ = std::move(welcome);
      handshaken_ = true;
      return;
    }
    case MessageType::kHeartbeat: {
      mt5::Heartbeat heartbeat;
      DecodeOrFail(frame, heartbeat);  // liveness is the link's bookkeeping
      return;
    }
    case MessageType::kError: {
      mt5::Error error;
      if (!DecodeOrFail(frame, error)) return;
      if (mt5::IsFatal(static_cast<ErrorCode>(error.code))) {
        closing_ = true;
        close_reason_ = "gateway error " + std::to_string(error.code) + ": " + error.message;
      }
      return;
    }
    case MessageType::kBye: {
      mt5::Bye bye;
      if (!DecodeOrFail(frame, bye)) return;
      closing_ = true;
      close_reason_ = "gateway said bye: " + bye.reason;
      return;
    }
    default:
      break;
  }
  ++requests_answered_;
  switch (type) {
    case MessageType::kSubscribe: {
      mt5::Subscribe request;
      if (DecodeOrFail(frame, request)) OnSubscribe(id, request);
      return;
    }
    case MessageType::kUnsubscribe: {
      mt5::Unsubscribe request;
      if (DecodeOrFail(frame, request)) OnUnsubscribe(id, request);
      return;
    }
    case MessageType::kGetTick: {
      mt5::GetTick request;
      if (DecodeOrFail(frame, request)) OnGetTick(id, request);
      return;
    }
    case MessageType::kGetBars: {
      mt5::GetBars request;
      if (DecodeOrFail(frame, request)) OnGetBars(id, request);
      return;
    }
    case MessageType::kGetTicks: {
      mt5::GetTicks request;
      if (DecodeOrFail(frame, request)) OnGetTicks(id, request);
      return;
    }
    case MessageType::kGetAccount: {
      mt5::GetAccount request;
      if (DecodeOrFail(frame, request)) Reply(id, server_.AccountInfo());
      return;
    }
    case MessageType::kGetPositions: {
      mt5::GetPositions request;
      if (DecodeOrFail(frame, request)) {
        // Pump pushes the queued transactions after this answer, as a terminal's
        // OnTradeTransaction queue does: last_deal tells which of them it already covers.
        Reply(id, mt5::Positions{server_.Positions(), server_.LastDealTicket()});
      }
      return;
    }
    case MessageType::kGetOrders: {
      mt5::GetOrders request;
      if (DecodeOrFail(frame, request)) SendOrders(id, false, server_.Orders());
      return;
    }
    case MessageType::kGetHistory: {
      mt5::GetHistory request;
      if (DecodeOrFail(frame, request)) OnGetHistory(id, request);
      return;
    }
    case MessageType::kGetSymbol: {
      mt5::GetSymbol request;
      if (!DecodeOrFail(frame, request)) return;
      if (const mt5::SymbolSpec* spec = server_.FindSymbol(request.symbol)) {
        Reply(id, mt5::Symbol{*spec});
      } else {
        SendError(id, ErrorCode::kUnknownSymbol, "unknown symbol '" + request.symbol + "'");
      }
      return;
    }
    case MessageType::kPlaceOrder: {
      mt5::PlaceOrder request;
      if (!DecodeOrFail(frame, request) || RefuseClientOrderId(id, request.client_order_id)) {
        return;
      }
      AnswerTrade(id, server_.PlaceOrder(request));
      return;
    }
    case MessageType::kClosePosition: {
      mt5::ClosePosition request;
      if (!DecodeOrFail(frame, request) || RefuseClientOrderId(id, request.client_order_id)) {
        return;
      }
      AnswerTrade(id, server_.ClosePosition(request));
      return;
    }
    case MessageType::kModifyPosition: {
      mt5::ModifyPosition request;
      if (DecodeOrFail(frame, request)) AnswerTrade(id, server_.ModifyPosition(request));
      return;
    }
    case MessageType::kModifyOrder: {
      mt5::ModifyOrder request;
      if (DecodeOrFail(frame, request)) AnswerTrade(id, server_.ModifyOrder(request));
      return;
    }
    case MessageType::kCancelOrder: {
      mt5::CancelOrder request;
      if (DecodeOrFail(frame, request)) AnswerTrade(id, server_.CancelOrder(request));
      return;
    }
    case MessageType::kCloseBy: {
      mt5::CloseBy request;
      if (!DecodeOrFail(frame, request) || RefuseClientOrderId(id, request.client_order_id)) {
        return;
      }
      AnswerTrade(id, server_.CloseBy(request));
      return;
    }
    default:
      // Every gateway type is handled above; a schema change that adds one lands here until the
      // EA learns it.
      SendError(id, ErrorCode::kUnknownMessage,
                std::string(mt5::MessageName(number)) + " is not handled by this EA");
      return;
  }
}

bool Terminal::RefuseClientOrderId(uint64_t id, const std::string& client_order_id) {
  if (client_order_id.empty()) return false;
  mt5::TradeResult result;
  result.client_order_id = client_order_id;
  if (client_order_id.size() > kMaxComment) {
    result.retcode = rc::kInvalid;
    result.comment = "client order id longer than 31 characters";
  } else if (sent_client_order_ids_.count(client_order_id) != 0 ||
             server_.InUse(client_order_id, ClientOrderMagic(client_order_id))) {
    result.retcode = rc::kInvalidOrder;
    result.comment = "duplicate client order id";
  } else {
    return false;
  }
  Reply(id, std::move(result));
  return true;
}

void Terminal::AnswerTrade(uint64_t id, const mt5::TradeResult& result) {
  // An id is spent once an order carrying it was accepted (in part); a refused request traded
  // nothing, so the gateway may retry it (a requote with a fresh price) under the same id.
  if (mt5::IsSuccess(result.retcode) && !result.client_order_id.empty()) {
    sent_client_order_ids_.insert(result.client_order_id);
  }
  Reply(id, result);
}

void Terminal::OnSubscribe(uint64_t id, const mt5::Subscribe& request) {
  if (request.symbols.empty()) {
    Reply(id, mt5::Ack{static_cast<uint32_t>(ErrorCode::kBadRequest), "no symbols"});
    return;
  }
  for (const std::string& symbol : request.symbols) {
    if (server_.FindSymbol(symbol) == nullptr) {
      Reply(id, mt5::Ack{static_cast<uint32_t>(ErrorCode::kUnknownSymbol),
                         "unknown symbol '" + symbol + "'"});
      return;
    }
  }
  for (const std::string& symbol : request.symbols) {
    Feed& feed = feeds_[symbol];
    size_t next = feed.replayed;  // from now
    if (request.from_msc != 0) {
      // Resume: every replayed tick from from_msc on (CopyTicks' from is inclusive).
      auto begin = feed.ticks.begin();
      auto end = begin + static_cast<std::ptrdiff_t>(feed.replayed);
      next = static_cast<size_t>(
          std::lower_bound(begin, end, request.from_msc,
                           [](const mt5::TickData& tick, int64_t t) { return tick.time_msc < t; }) -
          begin);
    }
    subscriptions_[symbol].next = next;
  }
  Reply(id, mt5::Ack{0, ""});
}

void Terminal::OnUnsubscribe(uint64_t id, const mt5::Unsubscribe& request) {
  for (const std::string& symbol : request.symbols) {
    auto it = subscriptions_.find(symbol);
    if (it != subscriptions_.end()) subscriptions_.erase(it);
  }
  Reply(id, mt5::Ack{0, ""});
}

void Terminal::OnGetTick(uint64_t id, const mt5::GetTick& request) {
  if (server_.FindSymbol(request.symbol) == nullptr) {
    SendError(id, ErrorCode::kUnknownSymbol, "unknown symbol '" + request.symbol + "'");
    return;
  }
  mt5::Ticks reply;
  reply.symbol = request.symbol;
  reply.final = true;
  if (const mt5::TickData* tick = server_.LastTick(request.symbol)) reply.ticks.push_back(*tick);
  Reply(id, std::move(reply));
}

void Terminal::OnGetTicks(uint64_t id, const mt5::GetTicks& request) {
  if (server_.FindSymbol(request.symbol) == nullptr) {
    SendError(id, ErrorCode::kUnknownSymbol, "unknown symbol '" + request.symbol + "'");
    return;
  }
  const int64_t to = request.to_msc == 0 ? std::numeric_limits<int64_t>::max() : request.to_msc;
  if (request.from_msc > to) {
    SendError(id, ErrorCode::kBadRequest,
              "from_msc " + std::to_string(request.from_msc) + " is after to_msc " +
                  std::to_string(request.to_msc));
    return;
  }
  // Only what the terminal has seen: the replayed part of the feed.
  const Feed& feed = feeds_[request.symbol];
  auto begin = feed.ticks.begin();
  auto end = begin + static_cast<std::ptrdiff_t>(feed.replayed);
  auto first = std::lower_bound(begin, end, request.from_msc,
                                [](const mt5::TickData& t, int64_t v) { return t.time_msc < v; });
  auto last = std::upper_bound(first, end, to,
                               [](int64_t v, const mt5::TickData& t) { return v < t.time_msc; });
  size_t from_index = static_cast<size_t>(first - begin);
  size_t to_index = static_cast<size_t>(last - begin);
  if (request.count != 0) to_index = std::min(to_index, from_index + request.count);
  SendTicks(id, request.symbol, feed.ticks, from_index, to_index);
}

void Terminal::OnGetBars(uint64_t id, const mt5::GetBars& request) {
  const mt5::SymbolSpec* spec = server_.FindSymbol(request.symbol);
  if (spec == nullptr) {
    SendError(id, ErrorCode::kUnknownSymbol, "unknown symbol '" + request.symbol + "'");
    return;
  }
  int64_t unused = 0;
  if (!BarOpen(0, request.period_sec, unused)) {
    SendError(id, ErrorCode::kBadRequest,
              "period_sec " + std::to_string(request.period_sec) + " is not an MT5 timeframe");
    return;
  }
  if (request.from == 0 && request.count == 0) {
    SendError(id, ErrorCode::kBadRequest, "get_bars needs a from time or a count");
    return;
  }
  const Feed& feed = feeds_[request.symbol];
  std::vector<mt5::BarData> bars =
      AggregateBars(feed.ticks, feed.replayed, request.period_sec, spec->point);
  const int64_t to = request.to == 0 ? std::numeric_limits<int64_t>::max() : request.to;
  std::vector<mt5::BarData> chosen;
  for (const mt5::BarData& bar : bars) {
    if (bar.time <= to && (request.from == 0 || bar.time >= request.from)) chosen.push_back(bar);
  }
  if (request.from == 0 && chosen.size() > request.count) {
    chosen.erase(chosen.begin(), chosen.end() - request.count);
  }
  mt5::Bars reply;
  reply.symbol = request.symbol;
  reply.period_sec = request.period_sec;
  SendInFrames(id, reply, reply.bars, chosen, 0, chosen.size(), config_.bars_per_frame);
}

void Terminal::OnGetHistory(uint64_t id, const mt5::GetHistory& request) {
  const int64_t to = request.to_msc == 0 ? std::numeric_limits<int64_t>::max() : request.to_msc;
  if (request.from_msc > to) {
    SendError(id, ErrorCode::kBadRequest, "from_msc is after to_msc");
    return;
  }
  SendOrders(id, true, server_.HistoryOrders(request.from_msc, to));
  const std::vector<mt5::DealInfo> deals = server_.HistoryDeals(request.from_msc, to);
  mt5::Deals reply;
  SendInFrames(id, reply, reply.deals, deals, 0, deals.size(), config_.orders_per_frame);
}

void Terminal::SendOrders(uint64_t request_id, bool history,
                          const std::vector<mt5::OrderInfo>& orders) {
  mt5::Orders reply;
  reply.history = history;
  SendInFrames(request_id, reply, reply.orders, orders, 0, orders.size(), config_.orders_per_frame);
}

void Terminal::SendTicks(uint64_t request_id, const std::string& symbol,
                         const std::vector<mt5::TickData>& ticks, size_t begin, size_t end) {
  mt5::Ticks reply;
  reply.symbol = symbol;
  SendInFrames(request_id, reply, reply.ticks, ticks, begin, end, config_.ticks_per_frame);
}

void Terminal::Pump() {
  if (!handshaken_ || closing_) return;
  for (auto& [symbol, subscription] : subscriptions_) {
    const Feed& feed = feeds_[symbol];
    if (subscription.next >= feed.replayed) continue;
    ticks_pushed_ += feed.replayed - subscription.next;
    SendTicks(0, symbol, feed.ticks, subscription.next, feed.replayed);
    subscription.next = feed.replayed;
  }
  for (mt5::Transaction& tx : server_.TakeTransactions()) Reply(0, std::move(tx));
}

}  // namespace aits::mt5sim
