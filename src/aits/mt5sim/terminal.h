// The simulated terminal: the EA's side of the MT5 protocol (proto/mt5/protocol.schema), over the
// trade server (trade_server.h) and a replay of real ticks. This is the part of the EA that does
// not touch a socket: it takes the gateway's frames one at a time and answers each as the EA does
// (exactly one reply per request, with the request's id), streams the ticks of subscribed symbols
// without gaps, and pushes the trade server's transactions. terminal_link.h runs it over a TCP
// link (connect, hello, heartbeats, reconnects, faults).
//
// Single-threaded: one thread (the runner's, or a test's) drives a Terminal.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aits/core/status.h"
#include "aits/data/source.h"
#include "aits/mt5/frame.h"
#include "aits/mt5/messages.h"
#include "aits/mt5sim/trade_server.h"

namespace aits::mt5sim {

// What the terminal sends: a message and the request id it answers (0 on pushes).
using EaMessage = std::variant<mt5::Hello, mt5::Heartbeat, mt5::Error, mt5::Bye, mt5::Ack,
                               mt5::Ticks, mt5::Bars, mt5::Account, mt5::Positions, mt5::Orders,
                               mt5::Deals, mt5::Symbol, mt5::TradeResult, mt5::Transaction>;
struct Outgoing {
  uint64_t request_id = 0;
  EaMessage message;
};
// The schema's type of an outgoing message.
mt5::MessageType TypeOf(const EaMessage& message);

struct TerminalConfig {
  std::string token;  // the gateway's shared secret, sent in the hello
  uint32_t terminal_build = 4755;
  std::string ea_version = "aits-mt5sim 1";
  // Ticks per `ticks` frame (pushes and replies); far below the frame cap (kDefaultMaxFrame).
  uint32_t ticks_per_frame = 4096;
  uint32_t bars_per_frame = 4096;
  uint32_t orders_per_frame = 1024;
};

class Terminal {
 public:
  // `server` outlives the terminal: it keeps the account across the terminal's restarts.
  Terminal(TerminalConfig config, TradeServer& server);

  // Ticks to replay for a symbol the server knows, in time order (appended to those loaded).
  // InvalidArgument naming the symbol and the tick for an unknown symbol, a tick that is not a
  // quote, or time going backwards.
  Status AddTicks(std::string_view symbol, const std::vector<mt5::TickData>& ticks);
  // Replays the next tick over all symbols (the earliest; ties by symbol name) into the trade
  // server. False when every feed is exhausted.
  bool Step();
  // Replays every tick up to and including `time_msc`; returns how many.
  size_t ReplayUntil(int64_t time_msc);
  // The time of the next tick to replay; INT64_MAX when none is left.
  int64_t NextTickTime() const;
  size_t replayed() const { return replayed_total_; }
  size_t total_ticks() const { return total_ticks_; }

  // A new link: the session state (handshake, subscriptions) starts afresh and the hello is
  // queued. The trade server, the replay position and the sent client order ids stay.
  void OnConnected(int64_t wall_ms);
  // The EA restarted (removed from the chart and attached again): its memory of sent client
  // order ids is gone; the trade server (the real account) keeps everything.
  void Restart();
  bool handshaken() const { return handshaken_; }
  bool has_subscriptions() const { return !subscriptions_.empty(); }
  const mt5::Welcome& welcome() const { return welcome_; }
  // Whether the session must be closed (a fatal error was sent or received, or a bye).
  bool closing() const { return closing_; }
  const std::string& close_reason() const { return close_reason_; }

  // Handles one frame from the gateway; replies go to the outbox.
  void Handle(const mt5::Frame& frame);
  // Queues the pushes that are due: ticks of subscribed symbols not sent yet, then the trade
  // server's transactions (only after the handshake; transactions wait in the server meanwhile).
  void Pump();
  // Takes what is queued to send, oldest first.
  std::vector<Outgoing> TakeOutbox();

  TradeServer& server() { return server_; }
  const TerminalConfig& config() const { return config_; }
  // Frames handled, by outcome, for the runner's log.
  uint64_t requests_answered() const { return requests_answered_; }
  uint64_t ticks_pushed() const { return ticks_pushed_; }

 private:
  struct Feed {
    std::vector<mt5::TickData> ticks;
    size_t replayed = 0;  // ticks[0, replayed) have reached the trade server
  };
  struct Subscription {
    size_t next = 0;  // the next tick of the feed to push
  };

  template <typename M>
  void Reply(uint64_t request_id, M message) {
    outbox_.push_back(Outgoing{request_id, EaMessage(std::move(message))});
  }
  // Sends items[begin, end) as copies of `reply` holding at most `per_frame` of them in `slot`
  // (a member of `reply`), the last with final = true; one empty final frame when there are none.
  template <typename M, typename T>
  void SendInFrames(uint64_t request_id, M& reply, std::vector<T>& slot,
                    const std::vector<T>& items, size_t begin, size_t end, size_t per_frame) {
    size_t at = begin;
    do {
      const size_t n = std::min(std::max<size_t>(per_frame, 1), end - at);
      slot.assign(items.begin() + static_cast<std::ptrdiff_t>(at),
                  items.begin() + static_cast<std::ptrdiff_t>(at + n));
      at += n;
      reply.final = at == end;
      Reply(request_id, reply);
    } while (at < end);
  }
  void SendError(uint64_t request_id, mt5::ErrorCode code, std::string message);
  template <typename M>
  bool DecodeOrFail(const mt5::Frame& frame, M& message);

  void OnSubscribe(uint64_t id, const mt5::Subscribe& request);
  void OnUnsubscribe(uint64_t id, const mt5::Unsubscribe& request);
  void OnGetTick(uint64_t id, const mt5::GetTick& request);
  void OnGetTicks(uint64_t id, const mt5::GetTicks& request);
  void OnGetBars(uint64_t id, const mt5::GetBars& request);
  void OnGetHistory(uint64_t id, const mt5::GetHistory& request);
  // The EA's client-order-id guard in front of every order that carries one: 10035 "duplicate
  // client order id" for an id it has sent or the account knows (as a comment, or as the magic
  // ClientOrderMagic makes of it), 10013 for one longer than the
  // 31 characters of an order comment.
  bool RefuseClientOrderId(uint64_t id, const std::string& client_order_id);
  void AnswerTrade(uint64_t id, const mt5::TradeResult& result);
  void SendTicks(uint64_t request_id, const std::string& symbol,
                 const std::vector<mt5::TickData>& ticks, size_t begin, size_t end);
  void SendOrders(uint64_t request_id, bool history, const std::vector<mt5::OrderInfo>& orders);

  TerminalConfig config_;
  TradeServer& server_;
  std::map<std::string, Feed, std::less<>> feeds_;
  std::map<std::string, Subscription, std::less<>> subscriptions_;
  std::set<std::string, std::less<>> sent_client_order_ids_;
  std::vector<Outgoing> outbox_;
  mt5::Welcome welcome_;
  bool handshaken_ = false;
  bool closing_ = false;
  std::string close_reason_;
  size_t replayed_total_ = 0;
  size_t total_ticks_ = 0;
  uint64_t requests_answered_ = 0;
  uint64_t ticks_pushed_ = 0;
};

// The magic number an order of the node's carries: FNV-1a 64 of its client order id, top bit
// cleared (docs/metatrader.md). The EA recognises an order of its own by this or by the comment.
uint64_t ClientOrderMagic(std::string_view client_order_id);

// Reads a tick file in any format aits::data reads (csv, HistData, MT5 export, the binary store)
// as MT5 ticks, prices rounded to `digits`, bid/ask flags set. Errors name the file; rejected rows
// are counted in `stats` (when given), as every reader counts them.
Result<std::vector<mt5::TickData>> ReadTickFile(const std::string& path, int digits,
                                                data::ReadStats* stats = nullptr);

// A retail forex symbol as brokers commonly set one up: 5 digits (3 for a JPY quote), contract
// 100,000, lots 0.01..100 by 0.01, market execution, FOK and IOC, forex margin, currencies from
// a six-letter name (EURUSD: EUR base and margin, USD profit), no sessions (always open).
mt5::SymbolSpec ForexSymbol(const std::string& name);

// The start of the bar of `period_sec` that holds `time_sec` (server time): periods that divide
// a day, D1, W1 (weeks start on Sunday, as MT5's) and MN1 (2592000: calendar months). False for
// another period.
bool BarOpen(int64_t time_sec, uint32_t period_sec, int64_t& open_sec);

// Bars of `period_sec` aggregated from ticks (bid prices, as MT5's bars; tick volume, the
// smallest spread in points, the real volume), in time order.
std::vector<mt5::BarData> AggregateBars(const std::vector<mt5::TickData>& ticks, size_t count,
                                        uint32_t period_sec, double point);

}  // namespace aits::mt5sim
