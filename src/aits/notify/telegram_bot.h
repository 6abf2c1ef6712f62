// The notifications role's Telegram bot (issue 13, item 4; docs/monitoring.md, "Telegram"):
// commands from several authorised users, each with a role as in the API (viewer, trader,
// admin), answered from the session's log (api::SessionView), its closed trades
// (persistence::TradeStore) and the model registry; every command audited; alerts sent to the
// alert chats, paced per chat and retried after Telegram's retry_after.
//
//   viewer  /help /status /balance /positions /orders /profit /daily /performance /breaker
//           (its state) /explain ID /models
//   trader  and admin: also /pause /resume /flatten (after a confirmation button) and
//           /breaker STATE [REASON]
//
// Operator commands go to the session as `aits breaker` and the API send them (the log's
// commands table, "by": "telegram:USER"), so the session's log records who sent each.
//
// Threads: Start runs the long poll and the alert sender on threads of their own until Stop.
// Handle (one update) is also callable directly (tests); calls must not overlap with the poll.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aits/api/model_routes.h"
#include "aits/api/session_view.h"
#include "aits/core/metrics.h"
#include "aits/notify/notifier.h"
#include "aits/notify/telegram.h"
#include "aits/persistence/trade_store.h"

namespace aits::notify {

struct TelegramBotUser {
  int64_t id = 0;    // Telegram's user id
  std::string name;  // for the audit and the session's log ("by")
  std::string role;  // viewer, trader, admin
};

struct TelegramBotOptions {
  std::vector<TelegramBotUser> users;
  std::vector<int64_t> alert_chats;
  int poll_wait_s = 25;  // a long poll's wait
  std::chrono::seconds confirm_within{60};
  // Alerts to one chat at most one per this interval (Telegram allows about one a second).
  std::chrono::milliseconds chat_interval{1000};
  size_t outbox_limit = 1000;  // alerts waiting; more are dropped and counted
  int send_attempts = 5;       // per message, 429s and unreachable servers included
  std::string audit_file;      // JSON lines, one per command; empty: none
  Status Validate() const;     // roles known, ids non-zero and unique, positive waits
};

// The users, roles and chats of a bot from YAML:
//   users: [{id: 123, name: alice, role: admin}, ...]
//   alert_chats: [123]
// InvalidArgument naming the file, the entry and the field.
Result<TelegramBotOptions> LoadTelegramBotConfig(const std::string& path);

// The session the bot answers about, asked at each command: the view, or why there is none yet
// (a role started before its session finds it once it starts). Called on the poll thread.
using SessionSource = std::function<Result<api::SessionView*>()>;

class TelegramBot {
 public:
  // `trades` and `models` may be null (their commands then say what to start the role with).
  // What `view` hands out must outlive the bot. IoError naming the audit file when it cannot
  // be opened.
  static Result<std::unique_ptr<TelegramBot>> Create(TelegramClient client,
                                                     TelegramBotOptions options, SessionSource view,
                                                     persistence::TradeStore* trades,
                                                     api::ModelCatalog* models,
                                                     Registry* metrics = nullptr);
  ~TelegramBot();  // Stop()

  void Start();
  void Stop();

  // One update: a command, or a button pressed.
  void Handle(const TelegramUpdate& update);
  // Queues an alert for every alert chat (a Notifier channel).
  void QueueAlert(const Delivered& delivered);

  struct Stats {
    uint64_t commands = 0;
    uint64_t unauthorised = 0;
    uint64_t sent = 0;
    uint64_t retries = 0;        // sends tried again after a 429 or an unreachable server
    uint64_t send_failures = 0;  // messages given up on
    uint64_t alerts_dropped = 0;
  };
  Stats stats() const;

 private:
  TelegramBot(TelegramClient client, TelegramBotOptions options)
      : client_(std::move(client)), options_(std::move(options)) {
    client_.SetCancel(&stop_);
  }
  struct Reply {
    std::string text;
    InlineKeyboard keyboard;
  };
  const TelegramBotUser* Find(int64_t user_id) const;
  Reply Command(const TelegramBotUser& user, int64_t chat_id, const std::string& name,
                const std::vector<std::string>& args, std::string* result);
  void OnCallback(const TelegramCallback& callback);
  // /models: every model, newest first, as many as fit one message (the rest counted).
  // /models REF: one model, with the newest of its audited events that fit. NotFound or
  // InvalidArgument from the registry's Find.
  Result<std::string> ListModels();
  Result<std::string> DescribeModel(const std::string& ref);
  // Sends with retries (429: after retry_after; unreachable: a back-off); false when it gave up.
  bool Send(int64_t chat_id, const std::string& text, const InlineKeyboard& keyboard = {});
  void Audit(const TelegramUser& from, const std::string& role, int64_t chat_id,
             const std::string& command, const std::string& result);
  void Count(const std::string& command, const std::string& result);
  void PollLoop();
  void SendLoop();
  // Waits up to `wait`, or until Stop.
  void Sleep(std::chrono::milliseconds wait);

  TelegramClient client_;
  TelegramBotOptions options_;
  SessionSource view_;
  persistence::TradeStore* trades_ = nullptr;
  api::ModelCatalog* models_ = nullptr;
  std::FILE* audit_ = nullptr;

  struct Pending {
    int64_t user_id = 0;
    int64_t chat_id = 0;
    std::string command;  // "flatten"
    std::chrono::steady_clock::time_point asked;
  };
  std::map<std::string, Pending> pending_;  // by nonce
  uint64_t next_nonce_ = 1;
  int64_t offset_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> outbox_;
  std::map<int64_t, std::chrono::steady_clock::time_point> last_sent_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
  std::thread sender_;
  Stats stats_;

  Family<Counter>* commands_ = nullptr;  // {command, result}
  Counter* sent_ = nullptr;
  Counter* retries_ = nullptr;
  Counter* failures_ = nullptr;
  Counter* dropped_ = nullptr;
  Counter* unauthorised_ = nullptr;
};

}  // namespace aits::notify
