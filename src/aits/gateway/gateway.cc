#include "aits/gateway/gateway.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <type_traits>
#include <unordered_map>
#include <variant>

#include "aits/core/hash.h"
#include "aits/gateway/retcodes.h"
#include "aits/log/log.h"
#include "aits/mt5/link.h"
#include "aits/net/socket.h"

namespace aits::gateway {
namespace {

using Steady = std::chrono::steady_clock;
constexpr std::string_view kLog = "gateway";

// The longest the thread sleeps in poll when no deadline is nearer: it bounds how late a stop
// that lost its wake-up is seen (Stop signals the eventfd, so it never is in practice).
constexpr std::chrono::milliseconds kMaxPollWait{50};
// Connections waiting for their hello at once; more are closed at once (a flood costs nothing).
constexpr size_t kMaxPendingLinks = 8;
// Attempts of a data request (symbol, subscribe, account) before the link is closed as broken.
constexpr int kDataAttempts = 3;
// The history window asked around orders whose fate is unknown.
constexpr int64_t kHistoryMarginMs = 60'000;
constexpr size_t kCommentMax = 31;
// Finished orders kept for matching late transactions (a late deal of a forgotten order would be
// announced as an order the node did not send), and deal tickets kept against repeats.
constexpr size_t kKeepDone = 4096;
constexpr size_t kKeepDeals = 65536;

int64_t Pow10i(int digits) { return Pow10(std::clamp(digits, 0, 9)); }

// A terminal's price as the node's fixed point at `digits`; *off_grid when it was not on the grid.
Price PriceOf(double value, int digits, bool* off_grid) {
  const double scaled = value * static_cast<double>(Pow10i(digits));
  const double rounded = std::round(scaled);
  if (off_grid != nullptr) *off_grid = std::fabs(scaled - rounded) > 1e-3;
  return Price::FromRaw(static_cast<int64_t>(rounded) * Pow10i(kFixedDigits - digits), digits);
}

Quantity LotsOf(double volume, int precision) {
  const auto raw =
      static_cast<int64_t>(std::llround(volume * static_cast<double>(Pow10i(precision))));
  return Quantity::FromRaw(raw * Pow10i(kFixedDigits - precision), precision);
}

// The terminal's money (finite: the wire refuses NaN); beyond what Money holds (9.2e12) is not an
// account balance, and reads as 0 rather than as a wrapped number.
Money MoneyOf(double value) {
  auto money = Money::FromDouble(value);
  return money.ok() ? *money : Money();
}

std::string Hex12(uint64_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%012llx",
                static_cast<unsigned long long>(value & 0xFFFF'FFFF'FFFFULL));
  return text;
}

// An order's magic number and comment at the terminal, from its client order id: the same for
// an order sent now and for the log's order asked about after a restart.
uint64_t MagicOf(const std::string& client_order_id) {
  return Fnv1a64(client_order_id) & 0x7FFF'FFFF'FFFF'FFFFULL;
}
std::string CommentOf(const std::string& client_order_id) {
  return client_order_id.size() <= kCommentMax
             ? client_order_id
             : client_order_id.substr(0, 18) + "#" + Hex12(Fnv1a64(client_order_id));
}

// Constant-time comparison of the hello's secret: the time taken does not say how much of it
// matched.
bool SameSecret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  const size_t n = std::max(given.size(), expected.size());
  for (size_t idx = 0; idx < n; ++idx) {
    const auto a = static_cast<unsigned char>(idx < given.size() ? given[idx] : 0);
    const auto b = static_cast<unsigned char>(idx < expected.size() ? expected[idx] : 0);
    diff = static_cast<unsigned char>(diff | (a ^ b));
  }
  return diff == 0;
}

std::string_view DealReasonText(uint32_t reason) {
  switch (static_cast<mt5::DealReason>(reason)) {
    case mt5::DealReason::kSl:
      return "sl";
    case mt5::DealReason::kTp:
      return "tp";
    case mt5::DealReason::kSo:
      return "stop_out";
    default:
      return "manual";
  }
}

}  // namespace

std::string_view ToString(Counter counter) {
  static constexpr std::string_view kNames[] = {"connections",
                                                "handshakes",
                                                "links_lost",
                                                "heartbeats_sent",
                                                "ticks",
                                                "refused_ticks",
                                                "stale_ticks",
                                                "off_grid_prices",
                                                "resumes",
                                                "requests_sent",
                                                "unmatched_replies",
                                                "data_timeouts",
                                                "trade_timeouts",
                                                "orders_sent",
                                                "requotes",
                                                "back_offs",
                                                "resolutions",
                                                "resends",
                                                "alerts",
                                                "reports",
                                                "account_reports",
                                                "refused_cancels",
                                                "refused_protections",
                                                "foreign_deals",
                                                "lost_in_flight",
                                                "caught_up_deals",
                                                "history_requests",
                                                "history_failures",
                                                "snapshot_covered",
                                                "recovered_orders",
                                                "retried_cancels",
                                                "retried_protections",
                                                "dropped_protections"};
  static_assert(std::size(kNames) == static_cast<size_t>(Counter::kCount_));
  return kNames[static_cast<size_t>(counter)];
}

Status GatewayConfig::Validate() const {
  if (token.empty()) return InvalidArgument("gateway: the token (shared secret) is empty");
  if (heartbeat_ms == 0 || dead_after_ms <= heartbeat_ms) {
    return InvalidArgument("gateway: heartbeat " + std::to_string(heartbeat_ms) +
                           " ms must be positive and below dead_after " +
                           std::to_string(dead_after_ms) + " ms");
  }
  if (hello_timeout.count() <= 0 || request_timeout.count() <= 0 || trade_timeout.count() <= 0 ||
      answer_timeout.count() <= 0 || backoff_initial.count() <= 0 ||
      backoff_max < backoff_initial) {
    return InvalidArgument("gateway: timeouts must be positive and backoff_max >= backoff_initial");
  }
  if (max_requotes < 0 || max_backoffs < 0) {
    return InvalidArgument("gateway: max_requotes and max_backoffs must not be negative");
  }
  if (max_frame < mt5::kEnvelopeBytes + 64 || max_frame > mt5::kMaxFrameCap) {
    return InvalidArgument("gateway: max_frame " + std::to_string(max_frame) + " is outside " +
                           std::to_string(mt5::kEnvelopeBytes + 64) + ".." +
                           std::to_string(mt5::kMaxFrameCap));
  }
  if (instruments.empty()) return InvalidArgument("gateway: no instruments");
  for (size_t a = 0; a < instruments.size(); ++a) {
    AITS_RETURN_IF_ERROR(
        instruments[a].Validate().WithContext("gateway: " + instruments[a].symbol));
    for (size_t b = a + 1; b < instruments.size(); ++b) {
      if (instruments[a].id == instruments[b].id ||
          instruments[a].symbol == instruments[b].symbol) {
        return InvalidArgument("gateway: instruments " + instruments[a].symbol + " and " +
                               instruments[b].symbol + " share an id or a symbol");
      }
    }
  }
  return Status::Ok();
}

// --- the gateway thread's state -----------------------------------------------------------

class Gateway::Desk {
 public:
  struct SubmitCall {
    std::unique_ptr<Order> order;
  };
  struct CancelCall {
    OrderId id;
    uint64_t ticket = 0;
  };
  struct ProtectionCall {
    InstrumentId instrument;
    bool by_ticket = false;
    uint64_t ticket = 0;
    std::optional<Price> stop_loss;
    std::optional<Price> take_profit;
  };
  struct SnapshotCall {
    std::shared_ptr<std::promise<Result<execution::AccountState>>> answer;
    Steady::time_point deadline;
    bool cut = false;  // the reconciliation's (ExecutionClient::Snapshot): the start's cut
  };
  struct AttachCall {
    node::ProducerLink link;
  };
  struct RecoverCall {
    std::vector<Order> orders;
    int64_t from_msc = 0;
    std::vector<uint64_t> known_exec_ids;
    std::shared_ptr<std::promise<Result<std::vector<ExecutionReport>>>> answer;
    Steady::time_point deadline;
  };
  struct ResumeCall {
    Tick last;
    int64_t source_msc = 0;
  };
  // History: one request for the terminal and the answer's frames gathered until the final one.
  struct HistoryAnswer {
    std::vector<mt5::TickData> ticks;
    std::vector<mt5::BarData> bars;
    mt5::SymbolSpec spec;
  };
  struct HistoryCall {
    std::variant<mt5::GetTicks, mt5::GetBars, mt5::GetSymbol> request;
    std::shared_ptr<std::promise<Result<HistoryAnswer>>> answer;
    Steady::time_point deadline;
  };
  using Call = std::variant<SubmitCall, CancelCall, ProtectionCall, SnapshotCall, AttachCall,
                            ResumeCall, HistoryCall, RecoverCall>;

  Desk(Gateway& gateway) : gw_(gateway), config_(gateway.config_) {
    for (const Instrument& instrument : config_.instruments) {
      SymbolState state;
      state.instrument = instrument;
      state.mt5_name = instrument.symbol;
      for (const auto& [node_name, mt5_name] : config_.mt5_names) {
        if (node_name == instrument.symbol) state.mt5_name = mt5_name;
      }
      symbols_.push_back(std::move(state));
    }
  }

  Status Open() {
    if (wake_.fd() < 0) return IoError("gateway: no eventfd for its thread's wake-ups");
    if (!config_.transcript.empty()) {
      AITS_ASSIGN_OR_RETURN(transcript_, mt5::TranscriptWriter::Open(config_.transcript));
      recording_ = true;
    }
    AITS_ASSIGN_OR_RETURN(listener_,
                          net::Listener::Listen(net::Endpoint{config_.host, config_.port}));
    gw_.port_.store(listener_.port(), std::memory_order_release);
    return Status::Ok();
  }

  // Any thread.
  void Queue(Call&& call) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      calls_.push_back(std::move(call));
    }
    wake_.Notify();
  }
  void Wake() { wake_.Notify(); }

  void Run();

 private:
  struct SymbolState {
    Instrument instrument;
    std::string mt5_name;
    std::optional<mt5::SymbolSpec> spec;
    int64_t last_tick_msc = 0;  // the server time of the last tick forwarded (0: none yet)
    Price last_bid;
    Price last_ask;
    bool subscribed = false;
    uint64_t position_ticket = 0;  // netting: the instrument's position, from its fills
    int64_t net_raw = 0;           // netting: its signed lots (raw), from the deals seen
    std::string refused;           // the terminal's answer when it has no such symbol
  };

  enum class Phase : uint8_t {
    kQueued,      // not sent yet (no link, or the symbol is not known yet)
    kBackingOff,  // 10024: sent again at retry_at
    kSent,        // a trade request in flight
    kLive,        // at the terminal: working, or filling from its deals
    kUnresolved,  // its fate is unknown: to be asked of the terminal
    kDone,        // final report sent
  };

  struct Entry {
    Order order;
    size_t sym = 0;
    std::string comment;
    uint64_t magic = 0;
    uint64_t ticket = 0;
    Quantity filled;
    Phase phase = Phase::kQueued;
    int requotes = 0;
    int backoffs = 0;
    int resends = 0;
    double quoted = 0;  // a requote's price, for the next attempt
    Steady::time_point retry_at;
    int64_t sent_msc = 0;  // the server's time when first sent, for the history window
    bool accepted_reported = false;
    // The node asked a cancel that has not reached the terminal yet, or whose reply went with the
    // link: sent once the terminal has named the order and, after a resolution, only if it still
    // works there.
    bool cancel_wanted = false;
    // A resent cancel was refused: the next resolution tells whether the order had gone (its fate
    // then comes from the history, and the refusal was no error) or the terminal said no.
    bool cancel_recheck = false;
    bool rest_cancels = false;  // 10010 on IOC/FOK: the rest is cancelled once the deals are in
    double partial_volume = 0;  // 10010: the volume done
    bool venue_opened = false;
    bool recovered = false;  // an order of the log at a restart (RecoverCall): never resent
  };

  enum class Kind : uint8_t {
    kSymbol,
    kSubscribe,
    kAccount,
    kTrade,
    kCancel,
    kModify,
    kSnapPositions,
    kSnapOrders,
    kSnapAccount,
    kResolveOrders,
    kResolveHistory,
    kHistory,  // RequestTicks, RequestBars, RequestSymbol: key = the history call
  };
  struct Request {
    Kind kind = Kind::kSymbol;
    Steady::time_point deadline;
    uint64_t key = 0;                // the entry, the symbol index, or the snapshot
    int attempts = 1;                // kCancel, kModify: above 1 when sent again after a lost reply
    std::optional<Price> stop_loss;  // kModify: what was asked
    std::optional<Price> take_profit;
    InstrumentId instrument;
    bool by_ticket = false;  // kModify: asked for this ticket, not for the instrument's position
    uint64_t seq = 0;        // kModify: the order of the node's SL/TP calls
  };

  // An SL/TP change no EA could take yet (its reply went with the link, or asked while none was
  // connected or kept ones waited), kept by position ticket: the latest asked wins.
  struct WantedProtection {
    InstrumentId instrument;
    bool by_ticket = false;  // else the instrument's position, whose ticket is looked up when sent
    std::optional<Price> stop_loss;
    std::optional<Price> take_profit;
    uint64_t seq = 0;
  };

  // One connection: the framed, sequenced link (mt5/link.h) and where its session stands.
  struct Link {
    mt5::Link link;
    std::string peer;
    bool live = false;          // its hello was accepted: the active link
    bool closed = false;        // to be dropped at the end of this pass
    bool loss_handled = false;  // the active link whose loss a new EA's hello handled first
    std::string close_reason;
    Steady::time_point hello_deadline;
    Link(net::Socket socket, uint32_t max_frame)
        : link(std::move(socket), mt5::LinkConfig{.max_frame = max_frame}), peer(link.peer()) {}
  };

  struct Snapshot {
    std::shared_ptr<std::promise<Result<execution::AccountState>>> answer;
    Steady::time_point deadline;
    execution::AccountState state;
    uint64_t last_deal = 0;  // the positions' answer: the newest deal they include
    bool cut = false;
    int outstanding = 0;
    bool asked = false;
  };

  struct Resolution {
    std::vector<uint64_t> keys;
    // The replies awaited: the open orders' final frame, and the history's two (its orders' and
    // its deals' finals, in whichever order the EA sends them).
    bool open_done = false;
    bool history_orders_done = false;
    bool deals_done = false;
    bool complete() const { return open_done && history_orders_done && deals_done; }
    std::vector<mt5::OrderInfo> open;
    std::vector<mt5::OrderInfo> history;
    std::vector<mt5::DealInfo> deals;
    // After a lost link: deals on the node's symbols from this server time on that the gateway
    // has not seen are applied too (an SL/TP close whose transaction was lost with the link);
    // -1: none asked. And the terminal's time (its last tick) when the history was asked.
    int64_t catch_up_from = -1;
    int64_t asked_at = 0;
  };

  // --- plumbing ---
  void Count(Counter counter, uint64_t n = 1) {
    gw_.counters_[static_cast<size_t>(counter)].fetch_add(n, std::memory_order_relaxed);
  }
  Timestamp NodeNow() const { return gw_.clock_->Now(); }

  template <typename M>
  void Send(Link& link, const M& message, uint64_t request_id) {
    if (link.closed && !link.link.open()) return;
    const Status sent = link.link.Send(message, request_id);
    if (sent.ok()) return;
    if (sent.code() == StatusCode::kOutOfRange) {
      AITS_LOG_ERROR(kLog, "not sent: " + sent.message(), {{"peer", link.peer}});
      return;
    }
    link.closed = true;
    if (link.close_reason.empty()) link.close_reason = sent.message();
  }
  template <typename M>
  uint64_t Ask(const M& message, Kind kind, uint64_t key, std::chrono::milliseconds timeout) {
    const uint64_t id = next_request_++;
    requests_[id] = Request{.kind = kind, .deadline = Steady::now() + timeout, .key = key};
    Count(Counter::kRequestsSent);
    Send(*active_, message, id);
    return id;
  }
  void Flush(Link& link);
  void CloseLink(Link& link, mt5::ErrorCode code, const std::string& why);

  void TakeCalls();
  void Apply(Call& call);
  void AcceptAll();
  void ReadLink(Link& link);
  void OnFrame(Link& link, const mt5::Frame& frame);
  void OnHello(Link& link, const mt5::Frame& frame);
  void OnLinkUp();
  void OnLinkLost(const std::string& why);
  void Timers();
  std::optional<Steady::time_point> NextDeadline() const;

  template <typename M>
  bool Decode(Link& link, const mt5::Frame& frame, M& message) {
    const Status decoded = mt5::DecodeFrame(frame, message);
    if (decoded.ok()) return true;
    CloseLink(link, mt5::ErrorCode::kMalformedFrame, decoded.message());
    return false;
  }

  // Market data.
  void AskSymbols();
  void OnResume(const ResumeCall& call);
  void SubscribeReady();
  void OnTicks(const mt5::Ticks& ticks);
  std::optional<size_t> SymbolIndex(std::string_view mt5_name) const;
  std::optional<size_t> SymbolOf(InstrumentId id) const;

  // Events to the node.
  void Push(node::NodeEvent&& event);
  void Report(ExecutionReport&& report);
  void AccountOf(const mt5::Account& account);

  // Orders.
  void OnSubmit(std::unique_ptr<Order> order);
  // An info line about an operator's order (one with a chain id), with the ids that tie it to
  // the request that caused it; nothing for a strategy's.
  void LogChain(const Entry& entry, std::string_view what) const;
  void SendOrder(Entry& entry);
  void SendQueued();
  void Finish(Entry& entry, ExecKind kind, RejectReason reason, std::string text);
  // Marks the entry finished; the oldest finished ones beyond kKeepDone are forgotten (TrimDone).
  void Done(Entry& entry);
  void TrimDone();
  ExecutionReport ReportOf(const Entry& entry, ExecKind kind) const;
  void OnTradeResult(Request& request, const mt5::TradeResult& result);
  void OnCancelResult(Request& request, const mt5::TradeResult& result);
  void OnModifyResult(Request& request, const mt5::TradeResult& result);
  void OnTransaction(const mt5::Transaction& transaction);
  // A deal from either source: a live TRADE_TRANSACTION_DEAL_ADD or the history a resolution asks.
  void OnDeal(const mt5::DealInfo& deal);
  Entry* FindEntry(uint64_t ticket, std::string_view comment, uint64_t magic);
  void OnOrderGone(Entry& entry, mt5::OrderState state);
  void OnCancel(const CancelCall& call);
  void SendCancel(Entry& entry, bool again);
  void OnProtection(const ProtectionCall& call);
  void SendProtection(uint64_t ticket, const WantedProtection& wanted, bool again);
  // Keeps a change for later; one kept for the same ticket stays if it was asked after this one.
  void Want(uint64_t ticket, const WantedProtection& wanted);
  // The changes kept, once an EA is there and no resolution runs: the deals a resolution after a
  // lost link catches up may have moved a netting position's ticket (a reversal).
  void SendWantedProtections();
  void Resolve(Entry& entry);
  void StartResolution();
  void FinishResolution();
  void Alert(const std::string& why);

  // A restart's orders (RecoverCall).
  void OnRecover(RecoverCall& call);
  void AnswerRecovery(Result<std::vector<ExecutionReport>> result);
  // Snapshots.
  void AskSnapshot(Snapshot& snapshot, uint64_t id);
  void AnswerSnapshot(uint64_t id, Result<execution::AccountState> result);

  // History requests (RequestTicks, RequestBars, RequestSymbol).
  struct History {
    HistoryCall call;
    uint64_t request_id = 0;  // 0: not sent yet (no EA)
    HistoryAnswer gathered;
  };
  void AskHistory(uint64_t key);
  // A reply frame (ticks, bars or symbol) to the history request `key`.
  void OnHistoryFrame(Link& link, const mt5::Frame& frame, uint64_t key);
  void AnswerHistory(uint64_t key, Result<HistoryAnswer> result);
  void HistoryTimers(Steady::time_point now);

  Gateway& gw_;
  const GatewayConfig& config_;
  net::Listener listener_;
  net::Waker wake_;
  mt5::TranscriptWriter transcript_;
  bool recording_ = false;
  std::mutex mutex_;
  std::vector<Call> calls_;  // guarded by mutex_

  std::vector<std::unique_ptr<Link>> links_;
  Link* active_ = nullptr;
  std::optional<node::ProducerLink> link_;
  std::deque<node::NodeEvent> held_;  // reports made before the loop attached its inbox
  std::vector<SymbolState> symbols_;
  bool hedging_ = false;
  bool ever_connected_ = false;
  Timestamp last_stamp_;

  uint64_t next_request_ = 1;
  std::unordered_map<uint64_t, Request> requests_;
  std::map<uint64_t, Entry> entries_;  // by the kernel's order id (venue-opened: 2^63 | ticket)
  std::unordered_map<uint64_t, uint64_t> by_ticket_;
  std::unordered_map<std::string, uint64_t> by_comment_;
  std::unordered_map<uint64_t, uint64_t> by_magic_;
  std::set<uint64_t> seen_deals_;  // deal tickets rise: the smallest are the oldest
  // The start's cut (AnswerSnapshot): deals up to this ticket are in the snapshot the node was
  // reconciled with; their transactions, pushed after it, are not applied again.
  uint64_t snapshot_deal_ = 0;
  std::deque<uint64_t> done_;
  std::map<uint64_t, Snapshot> snapshots_;
  uint64_t next_snapshot_ = 1;
  std::optional<Resolution> resolution_;
  // A restart's RecoverCall: its orders' keys and the reports gathered for its answer (Report
  // appends there meanwhile instead of pushing).
  struct Recovery {
    std::vector<uint64_t> keys;
    std::vector<ExecutionReport> reports;
    std::shared_ptr<std::promise<Result<std::vector<ExecutionReport>>>> answer;
    Steady::time_point deadline;
  };
  std::optional<Recovery> recovery_;
  // Every deal up to this server time has been seen (0: no tick yet); set when a resolution
  // after a lost link has completed, and at the first tick. A link lost sets catch_up_.
  int64_t caught_up_msc_ = 0;
  bool catch_up_ = false;
  std::vector<mt5::DealInfo> held_deals_;        // pushed while a resolution runs or before attach
  std::map<uint64_t, WantedProtection> wanted_;  // by position ticket
  uint64_t next_protection_ = 1;
  std::map<uint64_t, History> history_;
  uint64_t next_history_ = 1;
};

// --- link -----------------------------------------------------------------------------------

void Gateway::Desk::Flush(Link& link) {
  const Status flushed = link.link.Flush();
  if (!flushed.ok() && !link.closed) {
    link.closed = true;
    link.close_reason = flushed.message();
  }
}

void Gateway::Desk::CloseLink(Link& link, mt5::ErrorCode code, const std::string& why) {
  if (link.closed) return;
  if (code != mt5::ErrorCode::kNone) {
    mt5::Error error;
    error.code = static_cast<uint32_t>(code);
    error.message = why;
    Send(link, error, 0);
    gw_.rejections_[static_cast<size_t>(code)].fetch_add(1, std::memory_order_relaxed);
    AITS_LOG_WARN(kLog, "closing the link: " + why,
                  {{"peer", link.peer}, {"error", mt5::ToString(code)}});
  }
  link.closed = true;
  link.close_reason =
      code == mt5::ErrorCode::kNone ? why : std::string(mt5::ToString(code)) + ": " + why;
}

void Gateway::Desk::AcceptAll() {
  for (;;) {
    auto accepted = listener_.Accept();
    if (!accepted.ok()) {
      AITS_LOG_ERROR(kLog, accepted.status().message());
      return;
    }
    if (!accepted->valid()) return;
    Count(Counter::kConnections);
    size_t pending = 0;
    for (const auto& link : links_) pending += link->live ? 0 : 1;
    if (pending >= kMaxPendingLinks) {
      AITS_LOG_WARN(kLog, "too many connections awaiting their hello: closed",
                    {{"peer", accepted->peer()}});
      continue;  // the socket closes
    }
    auto link = std::make_unique<Link>(std::move(*accepted), config_.max_frame);
    link->hello_deadline = Steady::now() + config_.hello_timeout;
    if (recording_) link->link.Record(&transcript_);
    AITS_LOG_INFO(kLog, "connection", {{"peer", link->peer}});
    links_.push_back(std::move(link));
  }
}

void Gateway::Desk::ReadLink(Link& link) {
  const Status read = link.link.ReadAvailable([&](const mt5::Frame& frame) {
    OnFrame(link, frame);
    // Stops the reading once the session has closed the link; the code is never looked at.
    return link.closed ? Status(StatusCode::kFailedPrecondition, "closed") : Status::Ok();
  });
  if (read.ok() || link.closed) return;
  switch (read.code()) {
    case StatusCode::kIoError:  // the peer closed, or the socket failed
      link.closed = true;
      link.close_reason = read.message();
      return;
    case StatusCode::kOutOfRange:
      CloseLink(link, mt5::ErrorCode::kFrameTooLarge, read.message());
      return;
    default:  // broken framing, a sequence gap or repeat
      CloseLink(link, mt5::ErrorCode::kMalformedFrame, read.message());
      return;
  }
}

void Gateway::Desk::OnFrame(Link& link, const mt5::Frame& frame) {
  const mt5::Envelope& envelope = frame.envelope;
  if (envelope.version != mt5::kProtocolVersion) {
    CloseLink(link, mt5::ErrorCode::kBadVersion,
              "protocol version " + std::to_string(envelope.version) + ", the gateway speaks " +
                  std::to_string(mt5::kProtocolVersion));
    return;
  }
  if (!mt5::IsKnownMessage(envelope.type)) {
    CloseLink(link, mt5::ErrorCode::kUnknownMessage,
              "unknown message type " + std::to_string(envelope.type));
    return;
  }
  const auto type = static_cast<mt5::MessageType>(envelope.type);
  const std::string name(mt5::MessageName(envelope.type));
  if (mt5::DirectionOf(type) == mt5::Direction::kFromGateway) {
    CloseLink(link, mt5::ErrorCode::kUnexpectedMessage,
              "'" + name + "' is the gateway's to send, not the EA's");
    return;
  }
  if (!link.live) {
    if (type != mt5::MessageType::kHello) {
      CloseLink(link, mt5::ErrorCode::kUnexpectedMessage, "'" + name + "' before the hello");
      return;
    }
    OnHello(link, frame);
    return;
  }
  if (type == mt5::MessageType::kHello) {
    CloseLink(link, mt5::ErrorCode::kUnexpectedMessage, "a second hello on a live link");
    return;
  }
  // A live link is the active one: only one lives at a time.
  switch (type) {
    case mt5::MessageType::kHeartbeat: {
      mt5::Heartbeat heartbeat;
      (void)Decode(link, frame, heartbeat);
      return;
    }
    case mt5::MessageType::kBye: {
      mt5::Bye bye;
      if (!Decode(link, frame, bye)) return;
      CloseLink(link, mt5::ErrorCode::kNone, "the EA said bye: " + bye.reason);
      return;
    }
    case mt5::MessageType::kError: {
      mt5::Error error;
      if (!Decode(link, frame, error)) return;
      const auto code = static_cast<mt5::ErrorCode>(error.code);
      AITS_LOG_WARN(kLog, "the EA reports an error: " + error.message,
                    {{"peer", link.peer},
                     {"error", mt5::ToString(code)},
                     {"request", std::to_string(envelope.request_id)}});
      auto found = requests_.find(envelope.request_id);
      if (found != requests_.end() && found->second.kind == Kind::kHistory) {
        // Asking again mends a busy or slow terminal, not a request it cannot answer.
        const uint64_t key = found->second.key;
        requests_.erase(found);
        const std::string why = "the terminal answered " + std::string(mt5::ToString(code)) +
                                (error.message.empty() ? "" : ": " + error.message);
        const bool final =
            code == mt5::ErrorCode::kBadRequest || code == mt5::ErrorCode::kUnknownSymbol;
        AnswerHistory(key,
                      Status(final ? StatusCode::kInvalidArgument : StatusCode::kIoError, why));
      } else if (found != requests_.end() && found->second.kind == Kind::kSymbol &&
                 found->second.key < symbols_.size()) {
        // No such symbol at the terminal: asking again will not make one; its orders are
        // rejected until a later link knows it.
        SymbolState& sym = symbols_[found->second.key];
        sym.refused = error.message.empty() ? std::string(mt5::ToString(code)) : error.message;
        AITS_LOG_ERROR(kLog, "the terminal has no symbol " + sym.mt5_name + ": " + sym.refused);
        requests_.erase(found);
        SendQueued();
      } else if (found != requests_.end()) {
        // The request failed: its deadline is now, and its timeout handling decides.
        found->second.deadline = Steady::now();
      }
      if (mt5::IsFatal(code)) CloseLink(link, mt5::ErrorCode::kNone, "the EA's fatal error");
      return;
    }
    case mt5::MessageType::kTicks: {
      mt5::Ticks ticks;
      if (!Decode(link, frame, ticks)) return;
      if (envelope.request_id == 0) {
        OnTicks(ticks);
        return;
      }
      auto found = requests_.find(envelope.request_id);
      if (found == requests_.end()) {
        Count(Counter::kUnmatchedReplies);
      } else if (found->second.kind == Kind::kHistory) {
        OnHistoryFrame(link, frame, found->second.key);
      } else {
        requests_.erase(found);
      }
      return;
    }
    case mt5::MessageType::kTransaction: {
      mt5::Transaction transaction;
      if (!Decode(link, frame, transaction)) return;
      OnTransaction(transaction);
      return;
    }
    case mt5::MessageType::kAccount: {
      mt5::Account account;
      if (!Decode(link, frame, account)) return;
      auto found = requests_.find(envelope.request_id);
      if (envelope.request_id != 0 && found == requests_.end()) {
        Count(Counter::kUnmatchedReplies);
        return;
      }
      if (found != requests_.end()) {
        const Request request = found->second;
        requests_.erase(found);
        if (request.kind == Kind::kSnapAccount) {
          auto snap = snapshots_.find(request.key);
          if (snap != snapshots_.end()) {
            snap->second.state.balance = MoneyOf(account.balance);
            if (--snap->second.outstanding == 0) {
              AnswerSnapshot(request.key, std::move(snap->second.state));
            }
          }
        }
      }
      AccountOf(account);
      return;
    }
    default:
      break;
  }
  // Replies.
  auto found = requests_.find(envelope.request_id);
  if (envelope.request_id == 0 || found == requests_.end()) {
    Count(Counter::kUnmatchedReplies);
    AITS_LOG_WARN(kLog, "a '" + name + "' answering no request in flight",
                  {{"peer", link.peer}, {"request", std::to_string(envelope.request_id)}});
    return;
  }
  Request& request = found->second;
  const uint64_t request_id = envelope.request_id;
  if (request.kind == Kind::kHistory) {
    OnHistoryFrame(link, frame, request.key);
    return;
  }
  switch (type) {
    case mt5::MessageType::kAck: {
      mt5::Ack ack;
      if (!Decode(link, frame, ack)) return;
      if (ack.code != 0) {
        AITS_LOG_ERROR(kLog, "subscription refused: " + ack.message, {{"peer", link.peer}});
      } else if (request.kind == Kind::kSubscribe && request.key < symbols_.size()) {
        symbols_[request.key].subscribed = true;
      }
      requests_.erase(request_id);
      return;
    }
    case mt5::MessageType::kSymbol: {
      mt5::Symbol symbol;
      if (!Decode(link, frame, symbol)) return;
      const uint64_t index = request.key;
      requests_.erase(request_id);
      if (index < symbols_.size()) {
        if (symbol.spec.digits > 9 || !(symbol.spec.volume_step > 0)) {
          AITS_LOG_ERROR(kLog, "symbol " + symbol.spec.name + ": digits " +
                                   std::to_string(symbol.spec.digits) + ", volume step " +
                                   std::to_string(symbol.spec.volume_step) + " unusable");
          return;
        }
        if (static_cast<int>(symbol.spec.digits) != symbols_[index].instrument.digits) {
          AITS_LOG_WARN(kLog, "symbol " + symbol.spec.name + " has " +
                                  std::to_string(symbol.spec.digits) +
                                  " digits; the node's instrument " +
                                  std::to_string(symbols_[index].instrument.digits) +
                                  ": prices are made with the node's");
        }
        symbols_[index].spec = std::move(symbol.spec);
        SubscribeReady();
        SendQueued();
      }
      return;
    }
    case mt5::MessageType::kTradeResult: {
      mt5::TradeResult result;
      if (!Decode(link, frame, result)) return;
      Request taken = request;
      requests_.erase(request_id);
      if (taken.kind == Kind::kTrade) OnTradeResult(taken, result);
      if (taken.kind == Kind::kCancel) OnCancelResult(taken, result);
      if (taken.kind == Kind::kModify) OnModifyResult(taken, result);
      return;
    }
    case mt5::MessageType::kPositions: {
      mt5::Positions positions;
      if (!Decode(link, frame, positions)) return;
      const uint64_t key = request.key;
      requests_.erase(request_id);
      auto snap = snapshots_.find(key);
      if (snap == snapshots_.end()) return;
      for (const mt5::PositionInfo& info : positions.positions) {
        const auto index = SymbolIndex(info.symbol);
        if (!index) continue;  // not the node's symbol
        const SymbolState& sym = symbols_[*index];
        execution::HeldPosition held;
        held.ticket = info.ticket;
        held.instrument = sym.instrument.id;
        const Quantity lots = LotsOf(info.volume, sym.instrument.LotPrecision());
        held.quantity = info.type == static_cast<uint32_t>(mt5::PositionType::kSell) ? -lots : lots;
        held.open_price = PriceOf(info.price_open, sym.instrument.digits, nullptr);
        snap->second.state.positions.push_back(held);
      }
      snap->second.last_deal = positions.last_deal;
      if (--snap->second.outstanding == 0) AnswerSnapshot(key, std::move(snap->second.state));
      return;
    }
    case mt5::MessageType::kOrders: {
      mt5::Orders orders;
      if (!Decode(link, frame, orders)) return;
      if (request.kind == Kind::kSnapOrders) {
        auto snap = snapshots_.find(request.key);
        if (snap != snapshots_.end()) {
          for (const mt5::OrderInfo& info : orders.orders) {
            const auto index = SymbolIndex(info.symbol);
            if (!index) continue;
            const SymbolState& sym = symbols_[*index];
            execution::WorkingOrder working;
            working.client_order_id = info.comment;
            if (const Entry* entry = FindEntry(info.ticket, info.comment, info.magic)) {
              working.client_order_id = entry->order.request.client_order_id;
            }
            working.ticket = info.ticket;
            working.instrument = sym.instrument.id;
            working.side =
                mt5::IsBuy(static_cast<mt5::OrderType>(info.type)) ? Side::kBuy : Side::kSell;
            const int precision = sym.instrument.LotPrecision();
            working.quantity = LotsOf(info.volume_initial, precision);
            working.filled = LotsOf(info.volume_initial - info.volume_current, precision);
            const auto mt5_type = static_cast<mt5::OrderType>(info.type);
            working.type =
                (mt5_type == mt5::OrderType::kBuyStop || mt5_type == mt5::OrderType::kSellStop)
                    ? OrderType::kStop
                : (mt5_type == mt5::OrderType::kBuy || mt5_type == mt5::OrderType::kSell)
                    ? OrderType::kMarket
                    : OrderType::kLimit;
            if (info.price_open > 0) {
              working.price = PriceOf(info.price_open, sym.instrument.digits, nullptr);
            }
            working.tif = info.type_time == static_cast<uint32_t>(mt5::OrderTime::kDay)
                              ? TimeInForce::kDay
                              : TimeInForce::kGtc;
            snap->second.state.orders.push_back(std::move(working));
          }
          if (orders.final) {
            const uint64_t key = request.key;
            requests_.erase(request_id);
            if (--snap->second.outstanding == 0) AnswerSnapshot(key, std::move(snap->second.state));
          }
        } else if (orders.final) {
          requests_.erase(request_id);
        }
        return;
      }
      if (resolution_ &&
          (request.kind == Kind::kResolveOrders || request.kind == Kind::kResolveHistory)) {
        const bool history = request.kind == Kind::kResolveHistory;
        auto& into = history ? resolution_->history : resolution_->open;
        into.insert(into.end(), orders.orders.begin(), orders.orders.end());
        if (orders.final) {
          (history ? resolution_->history_orders_done : resolution_->open_done) = true;
          if (!history || resolution_->deals_done) requests_.erase(request_id);
          if (resolution_->complete()) FinishResolution();
        }
        return;
      }
      if (orders.final) requests_.erase(request_id);
      return;
    }
    case mt5::MessageType::kDeals: {
      mt5::Deals deals;
      if (!Decode(link, frame, deals)) return;
      if (resolution_ && request.kind == Kind::kResolveHistory) {
        resolution_->deals.insert(resolution_->deals.end(), deals.deals.begin(), deals.deals.end());
        if (deals.final) {
          resolution_->deals_done = true;
          if (resolution_->history_orders_done) requests_.erase(request_id);
          if (resolution_->complete()) FinishResolution();
        }
        return;
      }
      if (deals.final) requests_.erase(request_id);
      return;
    }
    default: {
      // A known EA message that answers nothing the gateway asks (bars).
      requests_.erase(request_id);
      return;
    }
  }
}

void Gateway::Desk::OnHello(Link& link, const mt5::Frame& frame) {
  mt5::Hello hello;
  if (!Decode(link, frame, hello)) return;
  if (hello.protocol_version != mt5::kProtocolVersion) {
    CloseLink(link, mt5::ErrorCode::kBadVersion,
              "hello of protocol version " + std::to_string(hello.protocol_version) +
                  ", the gateway speaks " + std::to_string(mt5::kProtocolVersion));
    return;
  }
  if (!SameSecret(hello.token, config_.token)) {
    CloseLink(link, mt5::ErrorCode::kBadToken,
              "the hello's token is wrong (login " + std::to_string(hello.login) + ")");
    return;
  }
  if (active_ != nullptr && !active_->closed) {
    CloseLink(link, mt5::ErrorCode::kBusy,
              "another EA is connected (" + active_->peer + "); one EA per gateway");
    return;
  }
  if (active_ != nullptr) {
    // The active link closed in this same pass, and the pass's end has not handled its loss yet.
    // Handled now, before this link's resolution: else that resolution would not catch up the
    // deals whose transactions went with the old link, and would book them late, after newer
    // ones (a netting position's trades depend on the order).
    Link& old = *active_;
    active_ = nullptr;
    old.loss_handled = true;
    OnLinkLost(old.close_reason + " (" + old.peer + ")");
  }
  link.live = true;
  active_ = &link;
  {
    std::lock_guard<std::mutex> lock(gw_.terminal_mutex_);
    gw_.terminal_ = hello;
    gw_.terminal_->token.clear();
  }
  hedging_ = hello.margin_mode == static_cast<uint32_t>(mt5::MarginMode::kRetailHedging);
  mt5::Welcome welcome;
  welcome.protocol_version = mt5::kProtocolVersion;
  welcome.heartbeat_ms = config_.heartbeat_ms;
  welcome.dead_after_ms = config_.dead_after_ms;
  welcome.node_id = config_.node_id;
  Send(link, welcome, frame.envelope.request_id);
  Count(Counter::kHandshakes);
  AITS_LOG_INFO(kLog, "EA connected",
                {{"peer", link.peer},
                 {"login", std::to_string(hello.login)},
                 {"server", hello.server},
                 {"build", std::to_string(hello.terminal_build)},
                 {"margin_mode", hedging_ ? "hedging" : "netting"}});
  if (!hello.trade_allowed) Alert("the terminal does not allow trading (hello: trade_allowed off)");
  OnLinkUp();
}

void Gateway::Desk::OnLinkUp() {
  gw_.connected_.store(true, std::memory_order_release);
  if (link_) link_->Report(node::ProducerState::kConnected, Status::Ok(), gw_.stop_);
  for (SymbolState& sym : symbols_) {
    sym.subscribed = false;
    sym.refused.clear();
  }
  AskSymbols();
  mt5::GetAccount account;
  Ask(account, Kind::kAccount, 0, config_.request_timeout);
  // Orders in flight when the link dropped: their fate is asked before anything is resent.
  for (auto& [key, entry] : entries_) {
    if (entry.phase == Phase::kSent || entry.phase == Phase::kLive)
      entry.phase = Phase::kUnresolved;
  }
  StartResolution();
  for (auto& [id, snapshot] : snapshots_) {
    if (!snapshot.asked) AskSnapshot(snapshot, id);
  }
  for (auto& [key, history] : history_) {
    if (history.request_id == 0) AskHistory(key);
  }
  ever_connected_ = true;
}

void Gateway::Desk::OnLinkLost(const std::string& why) {
  gw_.connected_.store(false, std::memory_order_release);
  Count(Counter::kLinksLost);
  AITS_LOG_WARN(kLog, "EA link lost: " + why);
  // Replies that will never come: trade requests leave their orders unresolved; the rest goes.
  bool in_flight = false;
  for (auto& [id, request] : requests_) {
    if (request.kind == Kind::kTrade) {
      in_flight = true;
      auto entry = entries_.find(request.key);
      if (entry != entries_.end() && entry->second.phase == Phase::kSent) {
        entry->second.phase = Phase::kUnresolved;
      }
    }
    // A cancel or SL/TP change may or may not have reached the terminal: kept, and after the
    // reconnect's resolution sent again (a cancel only to an order still working there).
    if (request.kind == Kind::kCancel) {
      auto entry = entries_.find(request.key);
      if (entry != entries_.end() && entry->second.phase != Phase::kDone) {
        entry->second.cancel_wanted = true;
      }
    }
    if (request.kind == Kind::kModify) {
      Want(request.key, WantedProtection{request.instrument, request.by_ticket, request.stop_loss,
                                         request.take_profit, request.seq});
    }
  }
  if (in_flight) Count(Counter::kLostInFlight);
  catch_up_ = true;  // transactions may have been lost with the link
  requests_.clear();
  resolution_.reset();
  // A history answer cut by the drop is failed now: its caller asks again on the next link.
  std::vector<uint64_t> cut;
  for (const auto& [key, history] : history_) {
    if (history.request_id != 0) cut.push_back(key);
  }
  for (uint64_t key : cut) {
    AnswerHistory(key, Status(StatusCode::kIoError,
                              "the EA link was lost before the answer's end (" + why + ")"));
  }
  for (auto& [id, snapshot] : snapshots_) {
    snapshot.asked = false;
    snapshot.outstanding = 0;
    snapshot.state = execution::AccountState{};
  }
  for (SymbolState& sym : symbols_) sym.subscribed = false;
  if (link_) {
    link_->Report(node::ProducerState::kDisconnected, Status(StatusCode::kIoError, why), gw_.stop_);
  }
}

// --- market data ----------------------------------------------------------------------------

std::optional<size_t> Gateway::Desk::SymbolIndex(std::string_view mt5_name) const {
  for (size_t idx = 0; idx < symbols_.size(); ++idx) {
    if (symbols_[idx].mt5_name == mt5_name) return idx;
  }
  return std::nullopt;
}

std::optional<size_t> Gateway::Desk::SymbolOf(InstrumentId id) const {
  for (size_t idx = 0; idx < symbols_.size(); ++idx) {
    if (symbols_[idx].instrument.id == id) return idx;
  }
  return std::nullopt;
}

void Gateway::Desk::AskSymbols() {
  for (size_t idx = 0; idx < symbols_.size(); ++idx) {
    mt5::GetSymbol get;
    get.symbol = symbols_[idx].mt5_name;
    Ask(get, Kind::kSymbol, idx, config_.request_timeout);
  }
}

void Gateway::Desk::OnResume(const ResumeCall& call) {
  const auto index = SymbolOf(call.last.instrument);
  if (!index) return;
  SymbolState& sym = symbols_[*index];
  // The subscription asks from this time, and the stale filter drops the logged tick itself.
  // A log without source times (a session recorded before they were logged) resumes from now.
  if (call.source_msc <= sym.last_tick_msc) return;
  sym.last_tick_msc = call.source_msc;
  sym.last_bid = call.last.bid;
  sym.last_ask = call.last.ask;
}

void Gateway::Desk::SubscribeReady() {
  if (active_ == nullptr || !link_) return;  // ticks go nowhere until the loop attaches
  for (size_t idx = 0; idx < symbols_.size(); ++idx) {
    SymbolState& sym = symbols_[idx];
    if (sym.subscribed || !sym.spec) continue;
    bool asked = false;
    for (const auto& [id, request] : requests_) {
      asked = asked || (request.kind == Kind::kSubscribe && request.key == idx);
    }
    if (asked) continue;
    mt5::Subscribe subscribe;
    subscribe.symbols.push_back(sym.mt5_name);
    subscribe.from_msc = sym.last_tick_msc;  // 0: from now; else resume without a gap
    if (sym.last_tick_msc != 0) Count(Counter::kResumes);
    Ask(subscribe, Kind::kSubscribe, idx, config_.request_timeout);
  }
}

void Gateway::Desk::OnTicks(const mt5::Ticks& ticks) {
  const auto index = SymbolIndex(ticks.symbol);
  if (!index || !link_) {
    Count(Counter::kRefusedTicks, ticks.ticks.size());
    return;
  }
  SymbolState& sym = symbols_[*index];
  const int digits = sym.instrument.digits;
  Timestamp stamp = NodeNow();
  if (stamp < last_stamp_) stamp = last_stamp_;  // arrival order is time order
  last_stamp_ = stamp;
  for (const mt5::TickData& data : ticks.ticks) {
    if (data.time_msc < sym.last_tick_msc ||
        (data.time_msc == sym.last_tick_msc && sym.last_tick_msc != 0 &&
         PriceOf(data.bid, digits, nullptr) == sym.last_bid &&
         PriceOf(data.ask, digits, nullptr) == sym.last_ask)) {
      Count(Counter::kStaleTicks);
      continue;
    }
    // NaN and infinities never get here: the frame's decoder refuses them (wire.h).
    if (!(data.bid > 0) || !(data.ask >= data.bid)) {
      Count(Counter::kRefusedTicks);
      AITS_LOG_DEBUG(kLog, "tick refused: bid " + std::to_string(data.bid) + " ask " +
                               std::to_string(data.ask) + " of " + ticks.symbol);
      continue;
    }
    bool off_bid = false;
    bool off_ask = false;
    Tick tick;
    tick.ts = stamp;
    tick.instrument = sym.instrument.id;
    tick.bid = PriceOf(data.bid, digits, &off_bid);
    tick.ask = PriceOf(data.ask, digits, &off_ask);
    tick.bid_volume = static_cast<float>(data.volume);
    if (off_bid || off_ask) Count(Counter::kOffGridPrices);
    sym.last_tick_msc = data.time_msc;
    // Deals before the first tick are not this gateway's to report (reconciliation's at start).
    if (caught_up_msc_ == 0) caught_up_msc_ = data.time_msc;
    sym.last_bid = tick.bid;
    sym.last_ask = tick.ask;
    if (!link_->SendTick(tick, gw_.stop_, data.time_msc)) return;
    Count(Counter::kTicks);
  }
}

// --- events to the node -----------------------------------------------------------------------

void Gateway::Desk::Push(node::NodeEvent&& event) {
  if (!link_) {
    held_.push_back(std::move(event));
    return;
  }
  std::visit(
      [&](auto& item) {
        if constexpr (requires { item.pushed_ns; }) item.pushed_ns = node::SteadyNowNs();
        if constexpr (requires { item.client; }) item.client = link_->id();
      },
      event);
  (void)link_->Send(std::move(event), gw_.stop_);
}

void Gateway::Desk::Report(ExecutionReport&& report) {
  Count(Counter::kReports);
  if (recovery_) {
    recovery_->reports.push_back(std::move(report));
    return;
  }
  Push(node::ExecutionReportEvent{0, std::make_unique<ExecutionReport>(std::move(report)), 0});
}

void Gateway::Desk::AccountOf(const mt5::Account& account) {
  AccountReport report;
  report.balance = MoneyOf(account.balance);
  report.equity = MoneyOf(account.equity);
  report.margin = MoneyOf(account.margin);
  report.free_margin = MoneyOf(account.margin_free);
  report.margin_level = account.margin_level;
  // The node's time of it, as every live event's (docs/adr/0003): the terminal's clock is another
  // clock, offset and (for a simulator replaying at speed) not even running at the same rate.
  report.ts = NodeNow();
  if (account.margin > 0 && account.margin_so_so > 0 && account.margin_level > 0) {
    if (account.margin_level <= account.margin_so_so) {
      report.reason = AccountReportReason::kStopOut;
    } else if (account.margin_level <= account.margin_so_call) {
      report.reason = AccountReportReason::kMarginCall;
    }
  }
  if (!account.expert_allowed || !account.trade_allowed) {
    Alert("the account does not allow expert trading (AutoTrading off or trading disabled)");
  }
  Count(Counter::kAccountReports);
  Push(node::AccountReportEvent{0, std::make_unique<AccountReport>(report), 0});
}

void Gateway::Desk::Alert(const std::string& why) {
  Count(Counter::kAlerts);
  AITS_LOG_ERROR(kLog, "ALERT: " + why);
}

// --- orders ---------------------------------------------------------------------------------

ExecutionReport Gateway::Desk::ReportOf(const Entry& entry, ExecKind kind) const {
  ExecutionReport report;
  report.kind = kind;
  report.order_id = entry.venue_opened ? OrderId{} : entry.order.id;
  report.client_order_id = entry.order.request.client_order_id;
  report.venue_order_id = entry.ticket;
  report.instrument = entry.order.request.instrument;
  report.side = entry.order.request.side;
  report.type = entry.order.request.type;
  report.tif = entry.order.request.tif;
  report.ts = NodeNow();
  return report;
}

void Gateway::Desk::Done(Entry& entry) {
  entry.phase = Phase::kDone;
  done_.push_back(entry.venue_opened ? (uint64_t{1} << 63) | entry.ticket : entry.order.id.value);
}

void Gateway::Desk::TrimDone() {
  while (done_.size() > kKeepDone) {
    const uint64_t key = done_.front();
    done_.pop_front();
    auto found = entries_.find(key);
    if (found == entries_.end() || found->second.phase != Phase::kDone) continue;
    const Entry& entry = found->second;
    const auto drop = [key](auto& index, const auto& at) {
      auto it = index.find(at);
      if (it != index.end() && it->second == key) index.erase(it);
    };
    drop(by_ticket_, entry.ticket);
    drop(by_comment_, entry.comment);
    drop(by_magic_, entry.magic);
    entries_.erase(found);
  }
  while (seen_deals_.size() > kKeepDeals) seen_deals_.erase(seen_deals_.begin());
}

void Gateway::Desk::Finish(Entry& entry, ExecKind kind, RejectReason reason, std::string text) {
  if (entry.phase == Phase::kDone) return;
  LogChain(entry, "operator's order " + std::string(ToString(kind)) + ": " + text);
  Done(entry);
  ExecutionReport report = ReportOf(entry, kind);
  report.reject_reason = reason;
  report.text = std::move(text);
  Report(std::move(report));
}

void Gateway::Desk::OnSubmit(std::unique_ptr<Order> order) {
  const uint64_t key = order->id.value;
  Entry entry;
  entry.order = std::move(*order);
  std::string& id = entry.order.request.client_order_id;
  if (id.empty()) id = "aits-" + std::to_string(key);
  entry.magic = MagicOf(id);
  entry.comment = CommentOf(id);
  const auto sym = SymbolOf(entry.order.request.instrument);
  auto [it, inserted] = entries_.emplace(key, std::move(entry));
  Entry& stored = it->second;
  if (!inserted) {
    AITS_LOG_ERROR(kLog, "order id " + std::to_string(key) + " submitted twice: ignored");
    return;
  }
  if (!sym) {
    Finish(stored, ExecKind::kRejected, RejectReason::kUnknownInstrument,
           "the gateway does not trade instrument #" +
               std::to_string(stored.order.request.instrument.value));
    return;
  }
  stored.sym = *sym;
  by_comment_[stored.comment] = key;
  by_magic_[stored.magic] = key;
  LogChain(stored, "operator's order received");
  if (stored.cancel_wanted) return;
  SendOrder(stored);
}

void Gateway::Desk::LogChain(const Entry& entry, std::string_view what) const {
  const OrderRequest& request = entry.order.request;
  if (request.chain_id.empty()) return;  // a strategy's order
  AITS_LOG_INFO(kLog, what,
                {{"order", std::to_string(entry.order.id.value)},
                 {"client_order_id", request.client_order_id},
                 {"ticket", std::to_string(entry.ticket)},
                 {"filled", entry.filled.ToString()},
                 {"chain_id", request.chain_id}});
}

void Gateway::Desk::SendOrder(Entry& entry) {
  SymbolState& sym = symbols_[entry.sym];
  if (!sym.refused.empty()) {
    Finish(entry, ExecKind::kRejected, RejectReason::kUnknownInstrument,
           "the terminal has no symbol " + sym.mt5_name + ": " + sym.refused);
    return;
  }
  if (active_ == nullptr || !sym.spec || resolution_) {
    entry.phase = Phase::kQueued;  // SendQueued sends it once the link and the symbol are there
    return;
  }
  const mt5::SymbolSpec& spec = *sym.spec;
  const OrderRequest& request = entry.order.request;
  const double step = spec.volume_step;
  const double asked = request.quantity.AsDouble();
  // An order off the symbol's step could never fill completely: refused, not silently moved.
  const double steps = std::round(asked / step);
  const double volume = steps * step;
  if (std::fabs(asked / step - steps) > 1e-6) {
    Finish(entry, ExecKind::kRejected, RejectReason::kInvalidQuantity,
           "volume " + request.quantity.ToString() + " lots is not on the volume step " +
               std::to_string(step) + " of " + spec.name);
    return;
  }
  if (volume + 1e-12 < spec.volume_min || volume > spec.volume_max + 1e-12 || !(volume > 0)) {
    Finish(entry, ExecKind::kRejected, RejectReason::kInvalidQuantity,
           "volume " + request.quantity.ToString() + " lots is outside " +
               std::to_string(spec.volume_min) + " .. " + std::to_string(spec.volume_max) + " of " +
               spec.name);
    return;
  }
  const bool pending = request.type != OrderType::kMarket;
  auto filling = FillingFor(spec, pending);
  if (!filling.ok()) {
    Finish(entry, ExecKind::kRejected, RejectReason::kVenueRefused, filling.status().message());
    return;
  }
  // The terminal's own clock (its last tick), never the node's estimate of it: a terminal whose
  // clock runs apart from the wall's (a replay) would otherwise be asked for a history window that
  // misses the order, or one that ends before it begins.
  if (entry.sent_msc == 0) entry.sent_msc = sym.last_tick_msc;
  const uint64_t key = entry.order.id.value;
  const auto price = [&](const std::optional<Price>& p) { return p ? p->AsDouble() : 0.0; };
  if (request.position_ticket != 0) {
    mt5::ClosePosition close;
    close.client_order_id = entry.comment;
    close.magic = entry.magic;
    close.ticket = request.position_ticket;
    close.volume = volume;
    close.deviation = config_.deviation_points;
    close.type_filling = static_cast<uint32_t>(*filling);
    Ask(close, Kind::kTrade, key, config_.trade_timeout);
  } else {
    mt5::PlaceOrder place;
    place.client_order_id = entry.comment;
    place.magic = entry.magic;
    place.symbol = sym.mt5_name;
    const bool buy = request.side == Side::kBuy;
    if (!pending) {
      place.action = static_cast<uint32_t>(mt5::TradeAction::kDeal);
      place.type = static_cast<uint32_t>(buy ? mt5::OrderType::kBuy : mt5::OrderType::kSell);
      place.price = entry.quoted;  // 0: the EA takes the current price
    } else {
      place.action = static_cast<uint32_t>(mt5::TradeAction::kPending);
      const bool limit = request.type == OrderType::kLimit;
      place.type = static_cast<uint32_t>(
          limit ? (buy ? mt5::OrderType::kBuyLimit : mt5::OrderType::kSellLimit)
                : (buy ? mt5::OrderType::kBuyStop : mt5::OrderType::kSellStop));
      place.price = price(request.price);
    }
    place.volume = volume;
    place.sl = price(request.stop_loss);
    place.tp = price(request.take_profit);
    place.deviation = config_.deviation_points;
    place.type_filling = static_cast<uint32_t>(*filling);
    place.type_time = static_cast<uint32_t>(
        request.tif == TimeInForce::kDay ? mt5::OrderTime::kDay : mt5::OrderTime::kGtc);
    Ask(place, Kind::kTrade, key, config_.trade_timeout);
  }
  entry.phase = Phase::kSent;
  Count(Counter::kOrdersSent);
}

void Gateway::Desk::SendQueued() {
  if (active_ == nullptr || resolution_) return;
  for (auto& [key, entry] : entries_) {
    if (entry.phase == Phase::kQueued &&
        (symbols_[entry.sym].spec || !symbols_[entry.sym].refused.empty())) {
      SendOrder(entry);
    }
  }
}

Gateway::Desk::Entry* Gateway::Desk::FindEntry(uint64_t ticket, std::string_view comment,
                                               uint64_t magic) {
  if (ticket != 0) {
    auto found = by_ticket_.find(ticket);
    if (found != by_ticket_.end()) return &entries_.at(found->second);
  }
  // By comment or magic only an order whose ticket is not known yet, or is this one: a deal of
  // another ticket is another order even when it carries this one's magic (an SL/TP close
  // carries the magic of its position's last order).
  const auto same_order = [&](uint64_t key) -> Entry* {
    Entry& entry = entries_.at(key);
    return ticket != 0 && entry.ticket != 0 && entry.ticket != ticket ? nullptr : &entry;
  };
  if (!comment.empty()) {
    auto found = by_comment_.find(std::string(comment));
    if (found != by_comment_.end()) return same_order(found->second);
  }
  if (magic != 0) {
    auto found = by_magic_.find(magic);
    if (found != by_magic_.end()) return same_order(found->second);
  }
  return nullptr;
}

void Gateway::Desk::OnTradeResult(Request& request, const mt5::TradeResult& result) {
  auto found = entries_.find(request.key);
  if (found == entries_.end()) return;
  Entry& entry = found->second;
  if (entry.phase == Phase::kDone) return;
  if (result.order != 0) {
    entry.ticket = result.order;
    by_ticket_[result.order] = request.key;
  }
  const RetcodeHandling handling = HandlingOf(result.retcode);
  const std::string text = RetcodeText(result.retcode, result.comment);
  if (result.retcode == mt5::retcode::kInvalidOrder &&
      result.comment.find("duplicate") != std::string::npos) {
    // The EA has sent this id before: the order exists at the terminal. Ask, never guess.
    Resolve(entry);
    return;
  }
  switch (handling.action) {
    case RetcodeAction::kDone: {
      entry.phase = Phase::kLive;
      if (result.retcode == mt5::retcode::kPlaced && !entry.accepted_reported) {
        entry.accepted_reported = true;
        Report(ReportOf(entry, ExecKind::kAccepted));
      }
      if (entry.cancel_wanted && entry.order.request.type != OrderType::kMarket) {
        OnCancel(CancelCall{entry.order.id, entry.ticket});
      }
      return;
    }
    case RetcodeAction::kPartial: {
      entry.phase = Phase::kLive;
      const auto filling = symbols_[entry.sym].spec
                               ? FillingFor(*symbols_[entry.sym].spec,
                                            entry.order.request.type != OrderType::kMarket)
                               : Result<mt5::Filling>(mt5::Filling::kIoc);
      if (filling.ok() && *filling == mt5::Filling::kReturn) {
        if (!entry.accepted_reported) {
          entry.accepted_reported = true;
          Report(ReportOf(entry, ExecKind::kAccepted));
        }
        return;
      }
      entry.rest_cancels = true;
      entry.partial_volume = result.volume;
      const int precision = symbols_[entry.sym].instrument.LotPrecision();
      if (entry.filled >= LotsOf(result.volume, precision)) {
        Finish(entry, ExecKind::kCanceled, RejectReason::kNone,
               "the rest of a partial fill was cancelled (" + text + ")");
      }
      return;
    }
    case RetcodeAction::kRequote: {
      if (entry.requotes >= config_.max_requotes) {
        Finish(entry, ExecKind::kRejected, RejectReason::kInvalidPrice,
               text + " after " + std::to_string(entry.requotes) + " retries");
        return;
      }
      ++entry.requotes;
      Count(Counter::kRequotes);
      if (entry.order.request.type == OrderType::kMarket) {
        const bool buy = entry.order.request.side == Side::kBuy;
        entry.quoted = buy ? result.ask : result.bid;
      }
      SendOrder(entry);
      return;
    }
    case RetcodeAction::kBackOff: {
      if (entry.backoffs >= config_.max_backoffs) {
        Finish(entry, ExecKind::kRejected, RejectReason::kVenueRefused,
               text + " after " + std::to_string(entry.backoffs) + " back-offs");
        return;
      }
      auto delay = config_.backoff_initial * (int64_t{1} << std::min(entry.backoffs, 20));
      if (delay > config_.backoff_max) delay = config_.backoff_max;
      ++entry.backoffs;
      Count(Counter::kBackOffs);
      entry.phase = Phase::kBackingOff;
      entry.retry_at = Steady::now() + delay;
      return;
    }
    case RetcodeAction::kResolve:
      Resolve(entry);
      return;
    case RetcodeAction::kRejectAlert:
      Alert("AutoTrading is off: " + text);
      [[fallthrough]];
    case RetcodeAction::kReject: {
      RejectReason reason = handling.reject_reason;
      Finish(entry, ExecKind::kRejected, reason, text);
      return;
    }
  }
}

void Gateway::Desk::OnCancelResult(Request& request, const mt5::TradeResult& result) {
  auto found = entries_.find(request.key);
  if (!mt5::IsSuccess(result.retcode)) {
    if (request.attempts > 1 && found != entries_.end()) {
      // Sent again after a lost reply: the order may have filled or gone since the resolution found
      // it working (10013, no working order). Its fate is asked; a refusal only if it still works.
      Entry& entry = found->second;
      if (entry.phase == Phase::kDone) return;
      AITS_LOG_INFO(kLog,
                    "a cancel sent again was refused (" +
                        RetcodeText(result.retcode, result.comment) + "): asking the terminal",
                    {{"order", std::to_string(request.key)}});
      entry.cancel_recheck = true;
      Resolve(entry);
      return;
    }
    Count(Counter::kRefusedCancels);
    AITS_LOG_WARN(kLog, "cancel refused: " + RetcodeText(result.retcode, result.comment),
                  {{"order", std::to_string(request.key)}});
    return;
  }
  if (found == entries_.end()) return;
  Finish(found->second, ExecKind::kCanceled, RejectReason::kNone, "");
}

void Gateway::Desk::OnModifyResult(Request& request, const mt5::TradeResult& result) {
  // 10025 "no changes": the position already has the SL/TP asked (an earlier change that a lost
  // link kept from being confirmed, or asked twice): done, as far as the node is concerned.
  if (!mt5::IsSuccess(result.retcode) && result.retcode != mt5::retcode::kNoChanges) {
    if (request.attempts > 1 && result.retcode == mt5::retcode::kPositionClosed) {
      // Kept while the link was down, and the position closed meanwhile (its SL or TP, a stop-out):
      // nothing is left to change, and the terminal refused nothing the node still wants.
      Count(Counter::kDroppedProtections);
      AITS_LOG_INFO(kLog, "SL/TP change kept over a lost link dropped: the position has gone",
                    {{"position", std::to_string(request.key)}});
      return;
    }
    Count(Counter::kRefusedProtections);
    AITS_LOG_WARN(kLog, "SL/TP change refused: " + RetcodeText(result.retcode, result.comment),
                  {{"position", std::to_string(request.key)}});
    return;
  }
  ExecutionReport report;
  report.kind = ExecKind::kModified;
  report.position_ticket = request.key;
  report.instrument = request.instrument;
  report.stop_loss = request.stop_loss;
  report.take_profit = request.take_profit;
  report.ts = NodeNow();
  Report(std::move(report));
}

void Gateway::Desk::OnTransaction(const mt5::Transaction& t) {
  const auto type = static_cast<mt5::TransactionType>(t.type);
  if (type == mt5::TransactionType::kDealAdd) {
    // While a resolution runs its history may hold deals older than this one: held, and booked
    // with them in the terminal's order.
    mt5::DealInfo deal{.ticket = t.deal,
                       .order = t.order,
                       .position_id = t.position,
                       .symbol = t.symbol,
                       .type = t.deal_type,
                       .entry = t.deal_entry,
                       .reason = t.deal_reason,
                       .volume = t.volume,
                       .price = t.price,
                       .commission = t.deal_commission,
                       .swap = t.deal_swap,
                       .profit = t.deal_profit,
                       .magic = t.magic,
                       .comment = t.comment,
                       .time_msc = t.time_msc};
    // Before the node attaches, held too: a restart's recovery books them with the history's
    // (Recover), or the start's snapshot covers them (AnswerSnapshot).
    if (resolution_ || !link_) {
      held_deals_.push_back(std::move(deal));
    } else {
      OnDeal(deal);
    }
    return;
  }
  if (type == mt5::TransactionType::kHistoryAdd || type == mt5::TransactionType::kOrderDelete) {
    Entry* entry = FindEntry(t.order, t.comment, t.magic);
    if (entry != nullptr && entry->phase != Phase::kDone &&
        (entry->ticket == 0 || entry->ticket == t.order)) {
      OnOrderGone(*entry, static_cast<mt5::OrderState>(t.order_state));
    }
  }
}

void Gateway::Desk::OnOrderGone(Entry& entry, mt5::OrderState state) {
  switch (state) {
    case mt5::OrderState::kCanceled:
      // An IOC/FOK market order's unfilled rest is cancelled by the server too.
      Finish(entry, ExecKind::kCanceled, RejectReason::kNone, "cancelled at the terminal");
      return;
    case mt5::OrderState::kExpired:
      Finish(entry, ExecKind::kExpired, RejectReason::kNone, "expired at the terminal");
      return;
    case mt5::OrderState::kRejected:
      Finish(entry, ExecKind::kRejected, RejectReason::kVenueRefused, "rejected by the server");
      return;
    default:
      return;  // filled: its deals say so
  }
}

void Gateway::Desk::OnDeal(const mt5::DealInfo& deal) {
  if (deal.ticket != 0 && !seen_deals_.insert(deal.ticket).second) return;  // already applied
  AITS_LOG_DEBUG(kLog, "deal " + std::to_string(deal.ticket) + " at " +
                           std::to_string(deal.time_msc) + " of order " +
                           std::to_string(deal.order) + " " + deal.comment);
  if (deal.ticket != 0 && deal.ticket <= snapshot_deal_) {
    Count(Counter::kSnapshotCovered);  // in the start's snapshot (AnswerSnapshot)
    return;
  }
  const auto index = SymbolIndex(deal.symbol);
  if (!index || deal.type > static_cast<uint32_t>(mt5::DealType::kSell)) {
    Count(Counter::kForeignDeals);
    return;
  }
  SymbolState& sym = symbols_[*index];
  const int precision = sym.instrument.LotPrecision();
  // A server's close (SL, TP, stop-out) is never an order the node sent, whatever magic it carries.
  const auto reason = static_cast<mt5::DealReason>(deal.reason);
  const bool server_close = reason == mt5::DealReason::kSl || reason == mt5::DealReason::kTp ||
                            reason == mt5::DealReason::kSo;
  Entry* entry =
      server_close ? FindEntry(deal.order, {}, 0) : FindEntry(deal.order, deal.comment, deal.magic);
  if (entry == nullptr) {
    // An order the node did not send: an SL/TP close, a stop-out, a manual trade.
    const uint64_t key = (uint64_t{1} << 63) | deal.order;
    Entry opened;
    opened.venue_opened = true;
    opened.sym = *index;
    opened.ticket = deal.order;
    opened.order.request.instrument = sym.instrument.id;
    opened.order.request.side =
        deal.type == static_cast<uint32_t>(mt5::DealType::kBuy) ? Side::kBuy : Side::kSell;
    opened.order.request.type = OrderType::kMarket;
    opened.order.request.quantity = LotsOf(deal.volume, precision);
    opened.phase = Phase::kLive;
    auto [it, inserted] = entries_.emplace(key, std::move(opened));
    by_ticket_[deal.order] = key;
    entry = &it->second;
    ExecutionReport announced = ReportOf(*entry, ExecKind::kNew);
    announced.quantity = entry->order.request.quantity;
    announced.text = std::string(DealReasonText(deal.reason));
    Report(std::move(announced));
  }
  if (entry->ticket == 0 && deal.order != 0) {
    entry->ticket = deal.order;
    by_ticket_[deal.order] = entry->order.id.value;
  }
  const Quantity lots = LotsOf(deal.volume, precision);
  entry->filled += lots;
  if (!hedging_) {
    // MT5 netting: a position's ticket is its opening order's, and its identifier (the deal's
    // position id) too, until a deal reverses it: then the ticket becomes the reversing order's
    // while the identifier stays. Modifying SL/TP names the ticket.
    const int64_t before = sym.net_raw;
    const int64_t after =
        before +
        (deal.type == static_cast<uint32_t>(mt5::DealType::kBuy) ? lots.raw() : -lots.raw());
    if (before == 0 || sym.position_ticket == 0) {
      sym.position_ticket = deal.position_id;  // opened (or the first deal this gateway sees)
    } else if (after != 0 && (before > 0) != (after > 0)) {
      sym.position_ticket = deal.order;  // reversed
    }
    sym.net_raw = after;
  }
  const bool complete = entry->filled >= entry->order.request.quantity;
  ExecutionReport fill =
      ReportOf(*entry, complete ? ExecKind::kFilled : ExecKind::kPartiallyFilled);
  fill.side = deal.type == static_cast<uint32_t>(mt5::DealType::kBuy) ? Side::kBuy : Side::kSell;
  fill.quantity = lots;
  bool off_grid = false;
  fill.price = PriceOf(deal.price, sym.instrument.digits, &off_grid);
  if (off_grid) Count(Counter::kOffGridPrices);
  fill.commission = MoneyOf(-deal.commission);
  fill.position_ticket = deal.position_id;
  fill.exec_id = deal.ticket;
  fill.venue_order_id = deal.order;
  fill.ts = NodeNow();  // as the account's: the node's time, not the server's (AccountOf)
  switch (static_cast<mt5::DealReason>(deal.reason)) {
    case mt5::DealReason::kSl:
      fill.fill_reason = FillReason::kStopLoss;
      break;
    case mt5::DealReason::kTp:
      fill.fill_reason = FillReason::kTakeProfit;
      break;
    default:
      fill.fill_reason = FillReasonOf(entry->order.request.type);
  }
  LogChain(*entry, complete ? "operator's order filled" : "operator's order partly filled");
  if (complete) Done(*entry);
  Report(std::move(fill));
  if (!complete && entry->rest_cancels &&
      entry->filled >= LotsOf(entry->partial_volume, precision)) {
    Finish(*entry, ExecKind::kCanceled, RejectReason::kNone,
           "the rest of a partial fill was cancelled (IOC)");
  }
}

void Gateway::Desk::OnCancel(const CancelCall& call) {
  Entry* entry = nullptr;
  auto found = entries_.find(call.id.value);
  if (found != entries_.end()) entry = &found->second;
  if (entry == nullptr && call.ticket != 0) entry = FindEntry(call.ticket, {}, 0);
  if (entry == nullptr || entry->phase == Phase::kDone) {
    Count(Counter::kRefusedCancels);
    return;
  }
  switch (entry->phase) {
    case Phase::kQueued:
    case Phase::kBackingOff:
      // Nothing of it is at the terminal.
      Finish(*entry, ExecKind::kCanceled, RejectReason::kNone, "cancelled before it was sent");
      return;
    case Phase::kSent:
    case Phase::kUnresolved:
      entry->cancel_wanted = true;  // sent once the terminal has named it
      return;
    case Phase::kLive: {
      if (entry->ticket == 0 || active_ == nullptr) {
        entry->cancel_wanted = true;
        return;
      }
      SendCancel(*entry, false);
      return;
    }
    case Phase::kDone:
      return;
  }
}

void Gateway::Desk::SendCancel(Entry& entry, bool again) {
  entry.cancel_wanted = false;  // until its reply goes with a link
  // One cancel in flight per order: a second (the node asking again) would only meet an order the
  // first has removed, and count a refusal the terminal never meant.
  const uint64_t key = entry.order.id.value;
  for (const auto& [id, request] : requests_) {
    if (request.kind == Kind::kCancel && request.key == key) return;
  }
  if (again) Count(Counter::kRetriedCancels);
  mt5::CancelOrder cancel;
  cancel.ticket = entry.ticket;
  const uint64_t id = Ask(cancel, Kind::kCancel, key, config_.trade_timeout);
  requests_[id].attempts = again ? 2 : 1;
}

void Gateway::Desk::OnProtection(const ProtectionCall& call) {
  uint64_t ticket = call.ticket;
  const bool by_ticket = call.by_ticket && ticket != 0;
  if (!by_ticket) {
    const auto sym = SymbolOf(call.instrument);
    ticket = sym ? symbols_[*sym].position_ticket : 0;
  }
  if (ticket == 0) {
    Count(Counter::kRefusedProtections);
    AITS_LOG_WARN(kLog, "SL/TP change: no position known for instrument #" +
                            std::to_string(call.instrument.value));
    return;
  }
  const WantedProtection wanted{call.instrument, by_ticket, call.stop_loss, call.take_profit,
                                next_protection_++};
  if (active_ == nullptr || !wanted_.empty()) {
    // No EA to take it, or changes kept over a lost link wait for the reconnect's resolution: kept
    // with them, so that the latest asked for a position is the one it ends with.
    Want(ticket, wanted);
    SendWantedProtections();
    return;
  }
  SendProtection(ticket, wanted, false);
}

void Gateway::Desk::SendProtection(uint64_t ticket, const WantedProtection& wanted, bool again) {
  mt5::ModifyPosition modify;
  modify.ticket = ticket;
  modify.sl = wanted.stop_loss ? wanted.stop_loss->AsDouble() : 0;
  modify.tp = wanted.take_profit ? wanted.take_profit->AsDouble() : 0;
  const uint64_t id = Ask(modify, Kind::kModify, ticket, config_.trade_timeout);
  Request& request = requests_[id];
  request.stop_loss = wanted.stop_loss;
  request.take_profit = wanted.take_profit;
  request.instrument = wanted.instrument;
  request.by_ticket = wanted.by_ticket;
  request.seq = wanted.seq;
  request.attempts = again ? 2 : 1;
}

void Gateway::Desk::Want(uint64_t ticket, const WantedProtection& wanted) {
  auto [kept, inserted] = wanted_.try_emplace(ticket, wanted);
  if (!inserted && kept->second.seq < wanted.seq) kept->second = wanted;
}

void Gateway::Desk::SendWantedProtections() {
  if (wanted_.empty() || active_ == nullptr || resolution_) return;
  std::vector<std::pair<uint64_t, WantedProtection>> kept(wanted_.begin(), wanted_.end());
  wanted_.clear();
  // In the order the node asked them: two kept for one position (by its ticket and by its
  // instrument) reach it with the latest last.
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
  for (const auto& [ticket, wanted] : kept) {
    uint64_t to = ticket;
    if (!wanted.by_ticket) {
      const auto sym = SymbolOf(wanted.instrument);
      to = sym ? symbols_[*sym].position_ticket : 0;
    }
    if (to == 0) {
      Count(Counter::kDroppedProtections);
      AITS_LOG_INFO(kLog,
                    "SL/TP change kept over a lost link dropped: no position known for "
                    "instrument #" +
                        std::to_string(wanted.instrument.value));
      continue;
    }
    Count(Counter::kRetriedProtections);
    AITS_LOG_INFO(kLog, "SL/TP change kept over a lost link: sent",
                  {{"position", std::to_string(to)}});
    SendProtection(to, wanted, true);
  }
}

// --- resolution -----------------------------------------------------------------------------

void Gateway::Desk::Resolve(Entry& entry) {
  entry.phase = Phase::kUnresolved;
  StartResolution();
}

void Gateway::Desk::StartResolution() {
  if (resolution_ || active_ == nullptr) return;
  Resolution resolution;
  int64_t from = std::numeric_limits<int64_t>::max();
  for (auto& [key, entry] : entries_) {
    if (entry.phase != Phase::kUnresolved) continue;
    resolution.keys.push_back(key);
    from = std::min(from, entry.sent_msc == 0 ? symbols_[entry.sym].last_tick_msc : entry.sent_msc);
  }
  const bool catch_up = catch_up_ && caught_up_msc_ != 0;
  if (resolution.keys.empty() && !catch_up) {
    SendQueued();
    SendWantedProtections();
    return;
  }
  if (catch_up) {
    resolution.catch_up_from = caught_up_msc_;
    from = std::min(from, caught_up_msc_);
  }
  for (const SymbolState& sym : symbols_) {
    resolution.asked_at = std::max(resolution.asked_at, sym.last_tick_msc);
  }
  Count(Counter::kResolutions, resolution.keys.size());
  if (!resolution.keys.empty()) {
    AITS_LOG_WARN(kLog, std::to_string(resolution.keys.size()) +
                            " order(s) of unknown fate: asking the terminal before any resend");
  }
  AITS_LOG_DEBUG(kLog, "resolution: " + std::to_string(resolution.keys.size()) +
                           " order(s), catch up from " + std::to_string(resolution.catch_up_from) +
                           ", history from " + std::to_string(from) + ", asked at " +
                           std::to_string(resolution.asked_at));
  resolution_ = std::move(resolution);
  mt5::GetOrders orders;
  Ask(orders, Kind::kResolveOrders, 0, config_.request_timeout);
  mt5::GetHistory history;
  history.from_msc = std::max<int64_t>(0, from - kHistoryMarginMs);
  history.to_msc = 0;  // up to the terminal's now (the EA's and the schema's reading of 0)
  // Both `orders` (history) and `deals` answer it, each with its final frame.
  Ask(history, Kind::kResolveHistory, 0, config_.request_timeout);
}

void Gateway::Desk::FinishResolution() {
  Resolution resolution = std::move(*resolution_);
  resolution_.reset();
  // The orders asked about, each matched by its ticket once known, else by comment or magic.
  std::vector<Entry*> asked;
  for (uint64_t key : resolution.keys) {
    auto found = entries_.find(key);
    if (found == entries_.end() || found->second.phase != Phase::kUnresolved) continue;
    found->second.phase = Phase::kLive;
    asked.push_back(&found->second);
  }
  const auto ours = [](const Entry& entry, uint64_t ticket, const std::string& comment,
                       uint64_t magic) {
    if (entry.ticket != 0) return ticket == entry.ticket;  // (a server's close has its magic)
    return comment == entry.comment || magic == entry.magic;
  };
  std::set<const Entry*> known;
  // The deals, the history's and those that came meanwhile, in the terminal's order (deal tickets
  // rise with time) across every order: a netting position's trades depend on that order.
  std::vector<std::pair<mt5::DealInfo, bool>> deals;  // the deal, and whether it came live
  for (const mt5::DealInfo& deal : resolution.deals) deals.emplace_back(deal, false);
  for (mt5::DealInfo& deal : held_deals_) deals.emplace_back(std::move(deal), true);
  held_deals_.clear();
  std::stable_sort(deals.begin(), deals.end(),
                   [](const auto& a, const auto& b) { return a.first.ticket < b.first.ticket; });
  for (const auto& [deal, live] : deals) {
    const Entry* owner = nullptr;
    for (const Entry* entry : asked) {
      if (owner == nullptr && ours(*entry, deal.order, deal.comment, deal.magic)) owner = entry;
    }
    if (owner != nullptr) known.insert(owner);
    const bool unseen = deal.ticket == 0 || seen_deals_.count(deal.ticket) == 0;
    if (owner == nullptr && !live) {
      // Deals the gateway never heard of: their transactions went with the link.
      if (resolution.catch_up_from < 0 || deal.time_msc < resolution.catch_up_from || !unseen) {
        AITS_LOG_DEBUG(kLog, "resolution: deal " + std::to_string(deal.ticket) + " at " +
                                 std::to_string(deal.time_msc) + " not caught up (from " +
                                 std::to_string(resolution.catch_up_from) + ", seen " +
                                 std::to_string(!unseen) + ")");
        continue;
      }
      AITS_LOG_DEBUG(kLog, "resolution: deal " + std::to_string(deal.ticket) + " at " +
                               std::to_string(deal.time_msc) + " caught up (from " +
                               std::to_string(resolution.catch_up_from) + ")");
      Count(Counter::kCaughtUpDeals);
    }
    OnDeal(deal);
  }
  for (Entry* entry_ptr : asked) {
    Entry& entry = *entry_ptr;
    const uint64_t key = entry.order.id.value;
    bool working = false;  // at the terminal still
    for (const mt5::OrderInfo& order : resolution.open) {
      if (!ours(entry, order.ticket, order.comment, order.magic)) continue;
      known.insert(&entry);
      working = true;
      if (entry.ticket == 0) {
        entry.ticket = order.ticket;
        by_ticket_[order.ticket] = key;
      }
      if (entry.phase != Phase::kDone && !entry.accepted_reported) {
        entry.accepted_reported = true;
        Report(ReportOf(entry, ExecKind::kAccepted));
      }
    }
    for (const mt5::OrderInfo& order : resolution.history) {
      if (!ours(entry, order.ticket, order.comment, order.magic)) continue;
      known.insert(&entry);
      if (entry.ticket == 0) {
        entry.ticket = order.ticket;
        by_ticket_[order.ticket] = key;
      }
      if (entry.phase != Phase::kDone)
        OnOrderGone(entry, static_cast<mt5::OrderState>(order.state));
    }
    if (entry.phase == Phase::kDone) continue;
    if (known.count(&entry) != 0) {
      if (entry.cancel_recheck && working) {
        // The resent cancel's refusal was the terminal's word on a working order.
        Count(Counter::kRefusedCancels);
        AITS_LOG_WARN(kLog, "cancel refused: the order still works at the terminal",
                      {{"order", std::to_string(key)}});
      }
      entry.cancel_recheck = false;
      // A cancel whose reply went with the link, or asked while the order's fate was unknown:
      // sent (again) only to an order that still works; one filled or gone is reported so.
      if (entry.cancel_wanted && working && entry.ticket != 0) SendCancel(entry, true);
      continue;
    }
    if (entry.cancel_wanted) {
      // The terminal never had it and the node wants it cancelled: nothing to send.
      Finish(entry, ExecKind::kCanceled, RejectReason::kNone,
             "cancelled: the terminal never received the order");
      continue;
    }
    if (entry.recovered) {
      // An order of the log from before a restart: the node asks for a new one if it still
      // wants it; this one, at its old price and time, is not sent now.
      Finish(entry, ExecKind::kRejected, RejectReason::kVenueRefused,
             "the terminal never received the order (in flight when the node stopped)");
      continue;
    }
    if (entry.resends >= 1) {
      Finish(entry, ExecKind::kRejected, RejectReason::kVenueRefused,
             "the terminal never received the order (sent twice)");
      continue;
    }
    ++entry.resends;
    Count(Counter::kResends);
    AITS_LOG_WARN(kLog, "order " + entry.order.request.client_order_id +
                            " is unknown to the terminal: sent again");
    entry.phase = Phase::kQueued;
  }
  if (resolution.catch_up_from >= 0) {
    caught_up_msc_ = std::max(caught_up_msc_, resolution.asked_at);
    catch_up_ = false;
  }
  if (recovery_) {
    const bool open =
        std::any_of(recovery_->keys.begin(), recovery_->keys.end(), [&](uint64_t key) {
          auto found = entries_.find(key);
          return found != entries_.end() && found->second.phase == Phase::kUnresolved;
        });
    if (!open) AnswerRecovery(std::move(recovery_->reports));
  }
  StartResolution();  // orders that became unresolved meanwhile, then the queue
}

void Gateway::Desk::OnRecover(RecoverCall& call) {
  if (recovery_) {
    call.answer->set_value(FailedPrecondition("gateway: a recovery is already running"));
    return;
  }
  Recovery recovery;
  recovery.answer = call.answer;
  recovery.deadline = call.deadline;
  for (Order& order : call.orders) {
    const uint64_t key = order.id.value;
    if (entries_.count(key) != 0) continue;  // sent by this gateway: its own fate
    const auto sym = SymbolOf(order.request.instrument);
    if (!sym) continue;  // the reconciliation lists it
    Entry entry;
    entry.order = std::move(order);
    std::string& id = entry.order.request.client_order_id;
    if (id.empty()) id = "aits-" + std::to_string(key);
    entry.magic = MagicOf(id);
    entry.comment = CommentOf(id);
    entry.sym = *sym;
    entry.ticket = entry.order.venue_order_id;
    entry.filled = entry.order.filled;
    entry.recovered = true;
    entry.accepted_reported = entry.order.status != OrderStatus::kPendingNew;
    entry.sent_msc = call.from_msc;
    entry.phase = Phase::kUnresolved;
    if (entry.ticket != 0) by_ticket_[entry.ticket] = key;
    by_comment_[entry.comment] = key;
    by_magic_[entry.magic] = key;
    entries_.emplace(key, std::move(entry));
    recovery.keys.push_back(key);
  }
  // The log's fills are not reported again; the deals it lacks from call.from_msc on are caught
  // up as after a lost link (the venue's own closes, trades by hand).
  seen_deals_.insert(call.known_exec_ids.begin(), call.known_exec_ids.end());
  if (call.from_msc > 0) {
    catch_up_ = true;
    caught_up_msc_ = call.from_msc;
  }
  if (recovery.keys.empty() && call.from_msc <= 0) {
    recovery.answer->set_value(std::vector<ExecutionReport>{});
    return;
  }
  Count(Counter::kRecoveredOrders, recovery.keys.size());
  recovery_ = std::move(recovery);
  StartResolution();  // at once, or when the EA connects (OnLinkUp)
}

void Gateway::Desk::AnswerRecovery(Result<std::vector<ExecutionReport>> result) {
  if (!recovery_) return;
  auto answer = std::move(recovery_->answer);
  recovery_.reset();
  answer->set_value(std::move(result));
}

// --- snapshots ------------------------------------------------------------------------------

void Gateway::Desk::AskSnapshot(Snapshot& snapshot, uint64_t id) {
  snapshot.asked = true;
  snapshot.outstanding = 3;
  Ask(mt5::GetPositions{}, Kind::kSnapPositions, id, config_.request_timeout);
  Ask(mt5::GetOrders{}, Kind::kSnapOrders, id, config_.request_timeout);
  Ask(mt5::GetAccount{}, Kind::kSnapAccount, id, config_.request_timeout);
}

void Gateway::Desk::AnswerSnapshot(uint64_t id, Result<execution::AccountState> result) {
  auto found = snapshots_.find(id);
  if (found == snapshots_.end()) return;
  if (result.ok() && !link_ && found->second.cut) {
    // The cut between the start's reconciliation and the deal stream: before the node attaches,
    // the reports held are of deals the terminal made before it answered this snapshot (they came
    // first on the link), so their effect is in it, and the reconciliation takes it from there.
    // Applied as well, they would count twice (a restarted aits live, whose terminal pushes the
    // transactions of the orders that were in flight when it died). Deals after it are kept.
    // A transaction can also reach the EA's queue only after it read the positions, for a deal
    // they include: the answer names the newest deal they include, and OnDeal drops those up to
    // it. The netting bookkeeping (a position's ticket, for SL/TP by symbol) starts from them.
    const size_t before = held_.size();
    std::erase_if(held_, [](const node::NodeEvent& event) {
      return std::holds_alternative<node::ExecutionReportEvent>(event);
    });
    Count(Counter::kSnapshotCovered, before - held_.size());
    if (!resolution_) {
      for (const mt5::DealInfo& deal : held_deals_) {
        if (deal.ticket != 0) seen_deals_.insert(deal.ticket);
      }
      Count(Counter::kSnapshotCovered, held_deals_.size());
      held_deals_.clear();
    }
    snapshot_deal_ = std::max(snapshot_deal_, found->second.last_deal);
    if (!hedging_) {
      for (SymbolState& sym : symbols_) {
        sym.net_raw = 0;
        sym.position_ticket = 0;
      }
      for (const execution::HeldPosition& held : result->positions) {
        const auto index = SymbolOf(held.instrument);
        if (!index) continue;
        symbols_[*index].net_raw += held.quantity.raw();
        symbols_[*index].position_ticket = held.ticket;
      }
    }
  }
  found->second.answer->set_value(std::move(result));
  snapshots_.erase(found);
  std::erase_if(requests_, [&](const auto& item) {
    const Kind kind = item.second.kind;
    return item.second.key == id && (kind == Kind::kSnapPositions || kind == Kind::kSnapOrders ||
                                     kind == Kind::kSnapAccount);
  });
}

// --- history ----------------------------------------------------------------------------------

void Gateway::Desk::AskHistory(uint64_t key) {
  History& history = history_.at(key);
  const auto timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(history.call.deadline - Steady::now());
  history.request_id = std::visit(
      [&](const auto& message) {
        return Ask(message, Kind::kHistory, key, std::max(timeout, std::chrono::milliseconds(0)));
      },
      history.call.request);
  Count(Counter::kHistoryRequests);
}

void Gateway::Desk::OnHistoryFrame(Link& link, const mt5::Frame& frame, uint64_t key) {
  auto found = history_.find(key);
  if (found == history_.end()) {
    requests_.erase(frame.envelope.request_id);
    return;
  }
  History& history = found->second;
  bool final = true;
  switch (static_cast<mt5::MessageType>(frame.envelope.type)) {
    case mt5::MessageType::kTicks: {
      mt5::Ticks ticks;
      if (!Decode(link, frame, ticks)) return;
      auto& into = history.gathered.ticks;
      into.insert(into.end(), ticks.ticks.begin(), ticks.ticks.end());
      final = ticks.final;
      break;
    }
    case mt5::MessageType::kBars: {
      mt5::Bars bars;
      if (!Decode(link, frame, bars)) return;
      auto& into = history.gathered.bars;
      into.insert(into.end(), bars.bars.begin(), bars.bars.end());
      final = bars.final;
      break;
    }
    case mt5::MessageType::kSymbol: {
      mt5::Symbol symbol;
      if (!Decode(link, frame, symbol)) return;
      history.gathered.spec = std::move(symbol.spec);
      break;
    }
    default:
      requests_.erase(frame.envelope.request_id);
      AnswerHistory(key, Status(StatusCode::kIoError,
                                "the terminal answered a history request with '" +
                                    std::string(mt5::MessageName(frame.envelope.type)) + "'"));
      return;
  }
  if (!final) return;
  requests_.erase(frame.envelope.request_id);
  AnswerHistory(key, std::move(history.gathered));
}

void Gateway::Desk::AnswerHistory(uint64_t key, Result<HistoryAnswer> result) {
  auto found = history_.find(key);
  if (found == history_.end()) return;
  if (!result.ok()) Count(Counter::kHistoryFailures);
  found->second.call.answer->set_value(std::move(result));
  history_.erase(found);
}

void Gateway::Desk::HistoryTimers(Steady::time_point now) {
  std::vector<uint64_t> late;
  for (const auto& [key, history] : history_) {
    if (now >= history.call.deadline) late.push_back(key);
  }
  for (uint64_t key : late) {
    const History& history = history_.at(key);
    const uint64_t request_id = history.request_id;
    if (request_id != 0) {
      requests_.erase(request_id);
      Count(Counter::kDataTimeouts);
    }
    AnswerHistory(
        key, Status(StatusCode::kIoError,
                    request_id == 0 ? std::string("no EA connected before the deadline")
                                    : "the terminal did not answer request #" +
                                          std::to_string(request_id) + " before the deadline"));
  }
}

// --- the thread -----------------------------------------------------------------------------

void Gateway::Desk::TakeCalls() {
  std::vector<Call> calls;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    calls.swap(calls_);
  }
  for (Call& call : calls) Apply(call);
}

void Gateway::Desk::Apply(Call& call) {
  std::visit(
      [&](auto& item) {
        using T = std::decay_t<decltype(item)>;
        if constexpr (std::is_same_v<T, SubmitCall>) {
          OnSubmit(std::move(item.order));
        } else if constexpr (std::is_same_v<T, CancelCall>) {
          OnCancel(item);
        } else if constexpr (std::is_same_v<T, ProtectionCall>) {
          OnProtection(item);
        } else if constexpr (std::is_same_v<T, HistoryCall>) {
          const uint64_t key = next_history_++;
          history_[key].call = std::move(item);
          if (active_ != nullptr) AskHistory(key);
        } else if constexpr (std::is_same_v<T, SnapshotCall>) {
          const uint64_t id = next_snapshot_++;
          Snapshot& snapshot = snapshots_[id];
          snapshot.answer = item.answer;
          snapshot.deadline = item.deadline;
          snapshot.cut = item.cut;
          if (active_ != nullptr) AskSnapshot(snapshot, id);
        } else if constexpr (std::is_same_v<T, ResumeCall>) {
          OnResume(item);
        } else if constexpr (std::is_same_v<T, RecoverCall>) {
          OnRecover(item);
        } else {
          link_ = item.link;
          while (!held_.empty()) {
            node::NodeEvent event = std::move(held_.front());
            held_.pop_front();
            Push(std::move(event));
          }
          if (!resolution_) {
            // Deals that came after the start's snapshot (or with none asked), in ticket order.
            std::vector<mt5::DealInfo> deals = std::move(held_deals_);
            held_deals_.clear();
            std::stable_sort(deals.begin(), deals.end(),
                             [](const auto& a, const auto& b) { return a.ticket < b.ticket; });
            for (const mt5::DealInfo& deal : deals) OnDeal(deal);
          }
          if (active_ != nullptr) {
            link_->Report(node::ProducerState::kConnected, Status::Ok(), gw_.stop_);
            SubscribeReady();
          }
        }
      },
      call);
}

std::optional<Steady::time_point> Gateway::Desk::NextDeadline() const {
  std::optional<Steady::time_point> next;
  const auto consider = [&](Steady::time_point at) {
    if (!next || at < *next) next = at;
  };
  for (const auto& link : links_) {
    if (!link->live) consider(link->hello_deadline);
  }
  if (active_ != nullptr) {
    consider(active_->link.last_sent() + std::chrono::milliseconds(config_.heartbeat_ms));
    consider(active_->link.last_received() + std::chrono::milliseconds(config_.dead_after_ms));
  }
  for (const auto& [id, request] : requests_) consider(request.deadline);
  for (const auto& [key, entry] : entries_) {
    if (entry.phase == Phase::kBackingOff) consider(entry.retry_at);
  }
  for (const auto& [id, snapshot] : snapshots_) consider(snapshot.deadline);
  if (recovery_) consider(recovery_->deadline);
  for (const auto& [key, history] : history_) consider(history.call.deadline);
  return next;
}

void Gateway::Desk::Timers() {
  const Steady::time_point now = Steady::now();
  for (auto& link : links_) {
    if (!link->live && !link->closed && now >= link->hello_deadline) {
      CloseLink(*link, mt5::ErrorCode::kTimeout,
                "no hello within " + std::to_string(config_.hello_timeout.count()) + " ms");
    }
  }
  if (active_ != nullptr && !active_->closed) {
    if (now - active_->link.last_received() >= std::chrono::milliseconds(config_.dead_after_ms)) {
      CloseLink(*active_, mt5::ErrorCode::kHeartbeatLost,
                "nothing received for " + std::to_string(config_.dead_after_ms) + " ms");
    } else if (now - active_->link.last_sent() >= std::chrono::milliseconds(config_.heartbeat_ms)) {
      mt5::Heartbeat heartbeat;
      heartbeat.time_msc = NodeNow().ns / 1'000'000;
      Send(*active_, heartbeat, 0);
      Count(Counter::kHeartbeatsSent);
    }
  }
  // Requests past their deadline, handled by kind.
  std::vector<std::pair<uint64_t, Request>> expired;
  for (const auto& [id, request] : requests_) {
    if (now >= request.deadline) expired.emplace_back(id, request);
  }
  for (auto& [id, request] : expired) {
    requests_.erase(id);
    if (active_ == nullptr || active_->closed) break;
    switch (request.kind) {
      case Kind::kSymbol:
      case Kind::kSubscribe:
      case Kind::kAccount: {
        Count(Counter::kDataTimeouts);
        if (request.attempts >= kDataAttempts) {
          CloseLink(*active_, mt5::ErrorCode::kTimeout,
                    "a data request went unanswered " + std::to_string(kDataAttempts) + " times");
          break;
        }
        uint64_t again = 0;
        if (request.kind == Kind::kSymbol) {
          mt5::GetSymbol get;
          get.symbol = symbols_[request.key].mt5_name;
          again = Ask(get, Kind::kSymbol, request.key, config_.request_timeout);
        } else if (request.kind == Kind::kSubscribe) {
          SubscribeReady();
          break;
        } else {
          again = Ask(mt5::GetAccount{}, Kind::kAccount, 0, config_.request_timeout);
        }
        requests_[again].attempts = request.attempts + 1;
        break;
      }
      case Kind::kTrade: {
        Count(Counter::kTradeTimeouts);
        auto entry = entries_.find(request.key);
        if (entry != entries_.end() && entry->second.phase == Phase::kSent) Resolve(entry->second);
        break;
      }
      case Kind::kCancel:
        Count(Counter::kRefusedCancels);
        break;
      case Kind::kModify:
        Count(Counter::kRefusedProtections);
        break;
      case Kind::kSnapPositions:
      case Kind::kSnapOrders:
      case Kind::kSnapAccount:
        Count(Counter::kDataTimeouts);
        AnswerSnapshot(request.key,
                       Status(StatusCode::kIoError, "the terminal did not answer the snapshot"));
        break;
      case Kind::kHistory:
        break;  // answered by HistoryTimers, at the call's deadline (the request's)
      case Kind::kResolveOrders:
      case Kind::kResolveHistory:
        Count(Counter::kDataTimeouts);
        if (resolution_) {
          // Asked again: the orders stay unresolved, nothing is resent meanwhile.
          resolution_.reset();
          std::erase_if(requests_, [](const auto& item) {
            return item.second.kind == Kind::kResolveOrders ||
                   item.second.kind == Kind::kResolveHistory;
          });
          StartResolution();
        }
        break;
    }
  }
  for (auto& [key, entry] : entries_) {
    if (entry.phase == Phase::kBackingOff && now >= entry.retry_at) SendOrder(entry);
  }
  HistoryTimers(now);
  std::vector<uint64_t> late;
  for (const auto& [id, snapshot] : snapshots_) {
    if (now >= snapshot.deadline) late.push_back(id);
  }
  for (uint64_t id : late) {
    AnswerSnapshot(id, Status(StatusCode::kIoError,
                              active_ == nullptr ? "no EA connected within the answer timeout"
                                                 : "the terminal did not answer in time"));
  }
  if (recovery_ && now >= recovery_->deadline) {
    // The orders stay unresolved: their reports come as any once the terminal answers.
    for (ExecutionReport& report : recovery_->reports)
      held_.push_back(
          node::ExecutionReportEvent{0, std::make_unique<ExecutionReport>(std::move(report)), 0});
    AnswerRecovery(Status(StatusCode::kIoError,
                          active_ == nullptr
                              ? "no EA connected within the answer timeout"
                              : "the terminal did not tell the fate of the orders in time"));
  }
}

void Gateway::Desk::Run() {
  std::vector<net::WaitFor> waits;
  while (!gw_.stop_.load(std::memory_order_acquire)) {
    waits.clear();
    waits.push_back(net::WaitFor{.fd = wake_.fd()});
    waits.push_back(net::WaitFor{.fd = listener_.fd()});
    for (const auto& link : links_) {
      waits.push_back(net::WaitFor{.fd = link->link.fd(), .write = link->link.has_outbound()});
    }
    auto wait = kMaxPollWait;
    if (const auto next = NextDeadline()) {
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
          *next - Steady::now() + std::chrono::microseconds(999));
      wait = std::clamp(until, std::chrono::milliseconds(0), kMaxPollWait);
    }
    const auto waited = net::Wait(waits, wait);
    if (!waited.ok()) {
      AITS_LOG_ERROR(kLog, "wait failed; the gateway stops: " + waited.status().message());
      break;
    }
    if (waits[0].readable) wake_.Drain();
    TakeCalls();
    if (waits[1].readable) AcceptAll();
    const size_t polled = waits.size() - 2;
    for (size_t idx = 0; idx < polled && idx < links_.size(); ++idx) {
      Link& link = *links_[idx];
      if (waits[idx + 2].writable) Flush(link);
      if (waits[idx + 2].readable && !link.closed) ReadLink(link);
    }
    Timers();
    TrimDone();
    // Closed links go, the active one's loss handled once.
    for (auto it = links_.begin(); it != links_.end();) {
      Link& link = **it;
      if (!link.closed) {
        ++it;
        continue;
      }
      if (link.link.open()) {
        (void)link.link.Flush();  // the error frame, if the socket takes it
        link.link.Drop();
      }
      const bool was_active = &link == active_;
      if (was_active) active_ = nullptr;
      const std::string reason = link.close_reason + " (" + link.peer + ")";
      if (!was_active && !link.loss_handled) AITS_LOG_INFO(kLog, "connection closed: " + reason);
      it = links_.erase(it);
      if (was_active) OnLinkLost(reason);
    }
  }
  // Stopping: a bye to the EA, not waiting for it.
  if (active_ != nullptr) active_->link.Close("the node is stopping");
  links_.clear();
  active_ = nullptr;
  gw_.connected_.store(false, std::memory_order_release);
  for (auto& [id, snapshot] : snapshots_) {
    snapshot.answer->set_value(FailedPrecondition("the gateway has stopped"));
  }
  snapshots_.clear();
  AnswerRecovery(FailedPrecondition("the gateway has stopped"));
  for (auto& [key, history] : history_) {
    history.call.answer->set_value(FailedPrecondition("the gateway has stopped"));
  }
  history_.clear();
}

// --- the kernel's execution client ----------------------------------------------------------

class Gateway::Execution final : public execution::ExecutionClient {
 public:
  explicit Execution(Gateway& gateway) : gw_(gateway) {}

  void AddInstrument(const Instrument& instrument) override {
    bool known = false;
    for (const Instrument& own : gw_.config_.instruments) {
      known = known || (own.id == instrument.id && own.symbol == instrument.symbol);
    }
    if (!known) {
      AITS_LOG_ERROR(kLog, "instrument " + instrument.symbol +
                               " is not in the gateway's configuration: its orders are rejected");
    }
  }
  uint64_t Submit(const Order& order) override {
    gw_.desk_->Queue(Desk::SubmitCall{std::make_unique<Order>(order)});
    return 0;
  }
  Status Cancel(OrderId id, uint64_t venue_order_id, Timestamp /*now*/) override {
    gw_.desk_->Queue(Desk::CancelCall{id, venue_order_id});
    return Status::Ok();
  }
  Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                       std::optional<Price> take_profit) override {
    gw_.desk_->Queue(Desk::ProtectionCall{instrument, false, 0, stop_loss, take_profit});
    return Status::Ok();
  }
  Status SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                               std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) override {
    gw_.desk_->Queue(
        Desk::ProtectionCall{instrument, true, position_ticket, stop_loss, take_profit});
    return Status::Ok();
  }
  // The reconciliation's: the start's cut (Gateway::Snapshot).
  Result<execution::AccountState> Snapshot() const override { return gw_.Snapshot(true); }
  Result<std::vector<ExecutionReport>> Recover(std::span<const Order> unfinished,
                                               int64_t venue_from_msc,
                                               std::span<const uint64_t> known_exec_ids) override {
    return gw_.Recover(unfinished, venue_from_msc, known_exec_ids);
  }

 private:
  Gateway& gw_;
};

// --- Gateway --------------------------------------------------------------------------------

Result<std::unique_ptr<Gateway>> Gateway::Create(const GatewayConfig& config) {
  AITS_RETURN_IF_ERROR(config.Validate());
  return std::unique_ptr<Gateway>(new Gateway(config));
}

Gateway::Gateway(const GatewayConfig& config) : config_(config) {
  if (config_.clock == nullptr) own_clock_ = std::make_unique<WallClock>();
  clock_ = config_.clock != nullptr ? config_.clock : own_clock_.get();
  desk_ = std::make_unique<Desk>(*this);
}

Gateway::~Gateway() { Stop(); }

Status Gateway::Listen() {
  if (listening_) return Status::Ok();
  if (stop_.load()) return FailedPrecondition("gateway: stopped");
  AITS_RETURN_IF_ERROR(desk_->Open());
  listening_ = true;
  thread_ = std::thread([this] { desk_->Run(); });
  AITS_LOG_INFO(kLog, "listening", {{"address", config_.host + ":" + std::to_string(port())}});
  return Status::Ok();
}

std::unique_ptr<execution::ExecutionClient> Gateway::MakeExecutionClient() {
  execution_made_ = true;
  return std::make_unique<Execution>(*this);
}

Result<execution::AccountState> Gateway::Snapshot(bool cut) const {
  if (stop_.load(std::memory_order_acquire) || !listening_) {
    return FailedPrecondition("gateway: not listening; no terminal to ask");
  }
  auto answer = std::make_shared<std::promise<Result<execution::AccountState>>>();
  auto future = answer->get_future();
  desk_->Queue(Desk::SnapshotCall{answer, Steady::now() + config_.answer_timeout, cut});
  // The gateway's thread answers by the deadline (or at its stop); the margin covers a busy one.
  if (future.wait_for(config_.answer_timeout + std::chrono::seconds(1)) !=
      std::future_status::ready) {
    return Internal("gateway: its thread did not answer the snapshot");
  }
  return future.get();
}

Result<std::vector<ExecutionReport>> Gateway::Recover(std::span<const Order> unfinished,
                                                      int64_t venue_from_msc,
                                                      std::span<const uint64_t> known_exec_ids) {
  if (stop_.load(std::memory_order_acquire) || !listening_) {
    return FailedPrecondition("gateway: not listening; no terminal to ask");
  }
  auto answer = std::make_shared<std::promise<Result<std::vector<ExecutionReport>>>>();
  auto future = answer->get_future();
  desk_->Queue(
      Desk::RecoverCall{std::vector<Order>(unfinished.begin(), unfinished.end()), venue_from_msc,
                        std::vector<uint64_t>(known_exec_ids.begin(), known_exec_ids.end()), answer,
                        Steady::now() + config_.answer_timeout});
  if (future.wait_for(config_.answer_timeout + std::chrono::seconds(1)) !=
      std::future_status::ready) {
    return Internal("gateway: its thread did not answer the recovery");
  }
  return future.get();
}

std::optional<mt5::Hello> Gateway::terminal() const {
  std::lock_guard<std::mutex> lock(terminal_mutex_);
  return terminal_;
}

void Gateway::ResumeAfter(const Tick& last, int64_t source_msc) {
  desk_->Queue(Desk::ResumeCall{last, source_msc});
}

Status Gateway::Start(node::ProducerLink link) {
  if (started_) return FailedPrecondition("gateway: already started");
  AITS_RETURN_IF_ERROR(Listen());
  started_ = true;
  desk_->Queue(Desk::AttachCall{link});
  return Status::Ok();
}

void Gateway::Stop() {
  stop_.store(true, std::memory_order_release);
  if (listening_) desk_->Wake();
  if (thread_.joinable()) thread_.join();
}

namespace {

// Queues a history call and waits for the gateway thread's answer, which comes by the deadline
// or at its stop; the margin covers a busy thread.
template <typename Message>
Result<Gateway::Desk::HistoryAnswer> AskDesk(Gateway::Desk& desk, bool listening, bool stopped,
                                             Message message, std::chrono::milliseconds timeout) {
  if (stopped || !listening)
    return FailedPrecondition("gateway: not listening; no terminal to ask");
  if (timeout.count() <= 0) return InvalidArgument("gateway: a history timeout must be positive");
  auto answer = std::make_shared<std::promise<Result<Gateway::Desk::HistoryAnswer>>>();
  auto future = answer->get_future();
  desk.Queue(Gateway::Desk::HistoryCall{std::move(message), answer, Steady::now() + timeout});
  if (future.wait_for(timeout + std::chrono::seconds(1)) != std::future_status::ready) {
    return Internal("gateway: its thread did not answer the history request");
  }
  return future.get();
}

}  // namespace

Result<std::vector<mt5::TickData>> Gateway::RequestTicks(const mt5::GetTicks& request,
                                                         std::chrono::milliseconds timeout) {
  AITS_ASSIGN_OR_RETURN(Desk::HistoryAnswer answer,
                        AskDesk(*desk_, listening_, stop_.load(), request, timeout));
  return std::move(answer.ticks);
}

Result<std::vector<mt5::BarData>> Gateway::RequestBars(const mt5::GetBars& request,
                                                       std::chrono::milliseconds timeout) {
  AITS_ASSIGN_OR_RETURN(Desk::HistoryAnswer answer,
                        AskDesk(*desk_, listening_, stop_.load(), request, timeout));
  return std::move(answer.bars);
}

Result<mt5::SymbolSpec> Gateway::RequestSymbol(const std::string& mt5_name,
                                               std::chrono::milliseconds timeout) {
  mt5::GetSymbol request;
  request.symbol = mt5_name;
  AITS_ASSIGN_OR_RETURN(Desk::HistoryAnswer answer,
                        AskDesk(*desk_, listening_, stop_.load(), request, timeout));
  return std::move(answer.spec);
}

Timestamp Gateway::Watermark() const { return clock_->Now(); }

std::optional<node::SteadyTime> Gateway::WallTimeOf(Timestamp time) const {
  const Duration ahead = time - clock_->Now();
  return Steady::now() + std::chrono::nanoseconds(ahead.ns);
}

}  // namespace aits::gateway
