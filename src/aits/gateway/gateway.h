// Gateway: the node's data client and execution client for MetaTrader 5, on the Expert Advisor's
// link (docs/metatrader.md, "Gateway"; the protocol: proto/mt5/protocol.schema).
//
// The EA connects out to the gateway (MQL5 sockets are client-only), so the gateway is the
// server. One thread of its own listens, accepts the EA, runs the handshake and the link, and
// talks to the node only through its inbox: ticks as MarketData (as data_client.h describes:
// stamped on arrival with the node's clock), the orders' fates as ExecutionReportEvents, the
// account as AccountReportEvents, the link's state as ProducerStatus (kConnected when an EA's hello
// is accepted, kDisconnected with the peer and the reason when its link is lost).
//
// The session (server side of the link):
//   - the EA must send `hello` within hello_timeout; its protocol version (kBadVersion) and its
//     token (compared in constant time; kBadToken) are checked, and so is the direction of every
//     message (kUnexpectedMessage); the gateway answers `welcome` (heartbeat_ms, dead_after_ms).
//   - a malformed, truncated, oversized or unknown frame, a sequence gap, a wrong version or a
//     wrong secret: an `error` frame with its ErrorCode and words, a log line naming the peer,
//     a counted rejection (rejections(code)), and the connection closed. Never a crash.
//   - heartbeats when idle; a link that has received nothing for dead_after_ms is dead (closed
//     with kHeartbeatLost). One EA at a time: a second hello while one lives is refused (kBusy).
//     After a drop the next hello is accepted: the symbols are asked again (get_symbol), each is
//     resubscribed from the time of the last tick received (no gap; ticks at or before it are
//     dropped as stale), and the orders whose fate is unknown are resolved (below).
//   - every request has an id, a deadline and exactly one reply; a reply that never comes is
//     counted per kind: a symbol, subscribe or account request is sent again (three times, then
//     the link is closed as broken); a trade request's order is resolved; a snapshot fails.
//
// Orders (execution::ExecutionClient, asynchronous, like node::ThreadedVenue: the kernel's calls
// are queued for the gateway's thread and return at once):
//   - Submit: place_order (market: TRADE_ACTION_DEAL; limit/stop: TRADE_ACTION_PENDING), or
//     close_position for an order naming a position ticket. The client order id travels as the
//     comment (ids over 31 characters as their first 18 and a 12-hex-digit FNV-1a of the whole),
//     the magic is FNV-1a 64 of the id & 0x7FFF'FFFF'FFFF'FFFF, the volume must be on the
//     symbol's step and within its minimum and maximum (else rejected kInvalidQuantity before
//     anything is sent: an order off the step could never fill completely), the filling type
//     comes from the symbol (retcodes.h: FillingFor).
//   - Every TRADE_RETCODE_* is handled as retcodes.h says: placed is reported kAccepted; fills
//     come from the deal transactions (exec_id = deal ticket, venue_order_id = order ticket,
//     position_ticket = position id); requotes retried with the quoted price up to max_requotes
//     times, then rejected; 10024 backed off (backoff_initial doubling up to backoff_max, at most
//     max_backoffs times); 10010 partial: an IOC/FOK order's rest is reported cancelled once its
//     deals are in, a RETURN order's rest works on (kAccepted); 10026/10027 rejected and alerted
//     (an error log line and alerts()); every other refusal rejected with its RejectReason and
//     the retcode's name and text.
//   - Resolution: a 10012 timeout, a trade request without reply, a lost link with orders in
//     flight, or the EA answering "duplicate client order id" to a resend: the terminal is asked
//     for its open orders and its history (get_orders, get_history: from a minute before the
//     order went out by the terminal's clock, its symbol's last tick, up to the terminal's now)
//     and each such order is matched by its ticket (by comment or magic while the ticket is
//     unknown) BEFORE anything is sent again. What the terminal has is reported from what it says
//     (fills from its deals, working, cancelled, rejected); an order it has not is sent again
//     once (same client order id: the EA's duplicate check guards that too); a second time it is
//     rejected. Deals are booked in the terminal's order (deal tickets), those of the history and
//     the transactions held while it was asked. After a lost link the history also catches up
//     the deals the gateway never saw (an SL/TP close whose transaction went with the link).
//   - Deals of orders the node did not send (an SL/TP close, a stop-out, a manual trade) on the
//     node's symbols are announced as kNew orders (text: "sl", "tp", "stop_out" or "manual") and
//     then filled. A server's close carries the position's magic: it is never matched by it.
//   - Cancel: cancel_order (an order not yet at the terminal is cancelled at once); SetProtection
//     and SetPositionProtection: modify_position (netting: the position's ticket, which a reversal
//     makes the reversing order's), reported kModified once done or when the terminal answers
//     10025 (no changes: it holds that already). A cancel or SL/TP change the terminal refuses is
//     counted (refused_cancels, refused_protections) and logged.
//   - A cancel whose reply went with the link, or asked while the link was down, is kept: once the
//     reconnect's resolution has told the order's state it is sent again only if the order still
//     works at the terminal (retried_cancels); an order that filled or went meanwhile is reported
//     from the history, and an order the terminal never had is reported cancelled, not resent. A
//     resent cancel refused (10013: no working order) asks the terminal again: a refusal only if
//     the order still works. An SL/TP change whose reply went with the link, or asked while no EA
//     is connected (or before the reconnect's resolution has ended), is kept per position ticket
//     (the latest asked wins) and sent once that resolution has ended (retried_protections; by
//     instrument: to the position's ticket then); 10036 to it (the position closed meanwhile)
//     drops it (dropped_protections).
//   - Snapshot: a round trip (get_positions, get_orders, get_account) into an AccountState,
//     waiting up to answer_timeout (for the EA to connect, too).
//   - `account` pushes (and the account asked at connect) become AccountReports; an account that
//     says AutoTrading is off raises the alert.
//
// Threads: the ExecutionClient methods are the kernel thread's; Start/Stop the loop's (the kernel
// thread); Listen and Snapshot any one thread; the counters any thread's. Nothing but the
// gateway's thread touches the link or the order book.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/execution/execution_client.h"
#include "aits/model/instrument.h"
#include "aits/mt5/frame.h"
#include "aits/mt5/messages.h"
#include "aits/mt5/mql.h"
#include "aits/node/data_client.h"

namespace aits::gateway {

struct GatewayConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: a free port (Gateway::port() after Listen)
  std::string token;  // the shared secret the EA's hello must carry; not empty
  std::string node_id = "aits";
  uint32_t heartbeat_ms = 1000;
  uint32_t dead_after_ms = 3000;
  std::chrono::milliseconds hello_timeout{5000};
  // A data request (symbol, subscribe, account, positions, orders, history) without its reply.
  std::chrono::milliseconds request_timeout{5000};
  // A trade request without its trade_result: its order is resolved.
  std::chrono::milliseconds trade_timeout{10000};
  uint32_t max_frame = mt5::kDefaultMaxFrame;
  int max_requotes = 3;
  int max_backoffs = 5;
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{2000};
  uint32_t deviation_points = 10;
  // The node's instruments, with the kernel's ids; `symbol` is looked up at the terminal under
  // the name mt5_names gives it (EURUSD -> EURUSD.m), else under its own.
  std::vector<Instrument> instruments;
  std::vector<std::pair<std::string, std::string>> mt5_names;
  // The node's clock, for the ticks' arrival stamps and the watermark; null: the wall clock.
  const Clock* clock = nullptr;
  // How long Snapshot waits (for the EA to connect and the terminal to answer).
  std::chrono::milliseconds answer_timeout{5000};
  // When set, every frame of every EA connection, both directions, is appended to this file as
  // a transcript (aits/mt5/transcript.h: JSON lines, the golden-transcript format).
  std::string transcript;

  // A token, instruments with distinct ids and symbols, heartbeat < dead_after, positive
  // timeouts and counts, max_frame within the protocol's caps.
  Status Validate() const;
};

// What the gateway counts (Gateway::count).
enum class Counter : uint8_t {
  kConnections,  // TCP connections accepted
  kHandshakes,   // hellos accepted
  kLinksLost,    // accepted links that ended (drop, bye, dead, error)
  kHeartbeatsSent,
  kTicks,          // forwarded to the node
  kRefusedTicks,   // crossed or non-positive quotes, dropped
  kStaleTicks,     // at or before the symbol's last tick (a resubscription's overlap), dropped
  kOffGridPrices,  // prices not on the symbol's digits, forwarded rounded
  kResumes,        // resubscriptions from the last tick time after a drop
  kRequestsSent,
  kUnmatchedReplies,  // replies naming no request in flight
  kDataTimeouts,      // data requests without reply
  kTradeTimeouts,     // trade requests without reply (resolved)
  kOrdersSent,        // place_order and close_position frames, resends included
  kRequotes,
  kBackOffs,
  kResolutions,  // orders whose fate was asked of the terminal
  kResends,      // orders the terminal did not have, sent again
  kAlerts,       // AutoTrading off (10026, 10027, or the account says so)
  kReports,      // execution reports pushed
  kAccountReports,
  // Cancels the terminal refused or left unanswered for trade_timeout, and cancels of orders
  // already finished or unknown; SL/TP changes refused, unanswered or with no position known.
  // Not those whose reply went with a lost link: they are kept, and sent again (below).
  kRefusedCancels,
  kRefusedProtections,
  kForeignDeals,     // deals on other symbols or of no trade, ignored
  kLostInFlight,     // links lost while an order's trade request awaited its trade_result
  kCaughtUpDeals,    // deals first heard of in the history after a lost link (applied then)
  kHistoryRequests,  // history requests sent (RequestTicks, RequestBars, RequestSymbol)
  kHistoryFailures,  // history requests answered with an error, a timeout or a lost link
  kSnapshotCovered,  // deals of the start's snapshot, not reported again (Snapshot)
  kRecoveredOrders,  // the log's unfinished orders asked about at a restart (Recover)
  // Cancels sent after a resolution found the order still working at the terminal: their reply
  // went with a link, or they were asked while the link was down or the order's fate unknown.
  kRetriedCancels,
  // SL/TP changes kept while no EA could take them (their reply went with a link, or asked while
  // the link was down) and sent once the reconnect's resolution had ended.
  kRetriedProtections,
  // Of those, the ones whose position had gone meanwhile: answered 10036, or (by instrument) no
  // position known for it any more. Not sent again, and not refusals.
  kDroppedProtections,

  kCount_,
};
std::string_view ToString(Counter counter);

class Gateway final : public node::DataClient {
 public:
  static Result<std::unique_ptr<Gateway>> Create(const GatewayConfig& config);
  ~Gateway() override;  // Stop()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds the listening socket and starts the gateway's thread (so that the EA can connect and a
  // Snapshot can be answered before the loop starts). Errors name the address. Start calls it if
  // nobody has.
  Status Listen();
  // After Listen: the port listened on.
  uint16_t port() const { return port_.load(std::memory_order_acquire); }

  // The execution client the kernel owns (its ExecutionClientFactory returns it). Its calls are
  // queued for this gateway, which must outlive it. One per gateway.
  std::unique_ptr<execution::ExecutionClient> MakeExecutionClient();

  // node::DataClient. Start attaches the loop's inbox (ticks and reports go there from then on)
  // and listens if not yet; Stop closes the link (a `bye`, not waiting for the peer) and joins.
  std::string_view name() const override { return "mt5"; }
  Status Start(node::ProducerLink link) override;
  void Stop() override;
  Timestamp Watermark() const override;
  std::optional<node::SteadyTime> WallTimeOf(Timestamp time) const override;
  // A resumed session's last logged tick of an instrument and its server time: the subscription
  // asks the terminal for the ticks from that time on (subscribe.from_msc), and drops those at
  // or before the logged one, as after a dropped link. Before Start.
  void ResumeAfter(const Tick& last, int64_t source_msc) override;

  // Any thread.
  uint64_t count(Counter counter) const {
    return counters_[static_cast<size_t>(counter)].load(std::memory_order_relaxed);
  }
  // Connections closed by the gateway with this protocol error (bad token, malformed frame...).
  uint64_t rejections(mt5::ErrorCode code) const {
    return rejections_[static_cast<size_t>(code)].load(std::memory_order_relaxed);
  }
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  // The terminal's positions, working orders and balance (get_positions, get_orders,
  // get_account), waiting up to answer_timeout for the EA to connect and answer. Any thread but
  // the gateway's. `cut`: the execution client's Snapshot, which the start's reconciliation asks
  // (aits live reads the account once before, without it). Answered before Start, it is the
  // start's cut: the deals pushed until then are dropped, and so are those up to the newest the
  // positions include (the answer's last_deal) when their transactions come later, all counted
  // kSnapshotCovered, their effect being in it (docs/metatrader.md, "aits live").
  Result<execution::AccountState> Snapshot(bool cut = false) const;
  // A restart (execution::ExecutionClient::Recover): the log's unfinished orders are asked about
  // as after a lost link (the terminal's open orders and its history from venue_from_msc less a
  // margin), waiting up to answer_timeout as Snapshot; the answer is their reports (the fills
  // the log lacks, a cancellation or expiry, a rejection for an order the terminal never
  // received: never resent) and the deals from venue_from_msc on that the log lacks and no
  // order of the node made (announced kNew, then filled; counted caught_up_deals). Call before
  // Snapshot, before Start.
  Result<std::vector<ExecutionReport>> Recover(std::span<const Order> unfinished,
                                               int64_t venue_from_msc,
                                               std::span<const uint64_t> known_exec_ids);
  // The hello of the EA accepted last (its token blanked): the account's login, server,
  // currency, leverage and margin mode; nullopt until one connects. Any thread.
  std::optional<mt5::Hello> terminal() const;

  // History (docs/metatrader.md, "History"; gateway/history.h slices a range into these). Any
  // thread, while the gateway listens, as Snapshot: one request to the terminal, with its own
  // request id and a deadline `timeout` from now, waiting for the EA to connect if none is yet;
  // blocks until the answer's final frame, an error, or the deadline. Errors: IoError when asking
  // again may succeed (no answer or no EA within the deadline, the link lost meanwhile, the EA's
  // timeout, busy or internal error); InvalidArgument when it cannot (the EA's bad-request or
  // unknown-symbol error, with its words); FailedPrecondition when the gateway is not listening
  // or stops.
  Result<std::vector<mt5::TickData>> RequestTicks(const mt5::GetTicks& request,
                                                  std::chrono::milliseconds timeout);
  Result<std::vector<mt5::BarData>> RequestBars(const mt5::GetBars& request,
                                                std::chrono::milliseconds timeout);
  Result<mt5::SymbolSpec> RequestSymbol(const std::string& mt5_name,
                                        std::chrono::milliseconds timeout);

  class Desk;       // the gateway thread's state
  class Execution;  // the kernel's ExecutionClient

 private:
  explicit Gateway(const GatewayConfig& config);
  void Run();

  GatewayConfig config_;
  std::unique_ptr<Clock> own_clock_;
  const Clock* clock_;
  std::unique_ptr<Desk> desk_;
  std::thread thread_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> connected_{false};
  mutable std::mutex terminal_mutex_;
  std::optional<mt5::Hello> terminal_;
  std::atomic<bool> stop_{false};
  bool listening_ = false;
  bool started_ = false;
  bool execution_made_ = false;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Counter::kCount_)> counters_{};
  std::array<std::atomic<uint64_t>, 16> rejections_{};
  friend class Desk;
  friend class Execution;
};

}  // namespace aits::gateway
