// A stand-in for Telegram's Bot API servers, which cannot be reached from the machines that test
// AITS (docs/monitoring.md, "Telegram"). It speaks the same HTTP and JSON as
// https://api.telegram.org/bot<token>/<method> for the methods AITS uses — getUpdates (long
// polling, offsets confirming what was read), sendMessage (with inline keyboards),
// answerCallbackQuery, editMessageText — and refuses as Telegram does: 401 for another token,
// 404 for another method, 400 "chat not found", "message text is empty", "message is too long",
// "BUTTON_DATA_INVALID", and 429 with parameters.retry_after when a test asks for it.
// Where it differs from Telegram: it refuses with 429 only when told to (Telegram's own limits,
// about a message a second per chat and thirty a second in all, are not published exactly);
// a chat is known once a user has written in it; long polls hold one of its four server threads
// each.
//
// The test plays the users (SendText, PressButton) and reads what the bot sent (Sent).
// Thread-safety: every call from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "aits/api/http_server.h"
#include "aits/notify/telegram.h"

namespace aits::notify {

class TelegramStandIn {
 public:
  // Listens on 127.0.0.1, a free port. The server's errors (Unavailable).
  static Result<std::unique_ptr<TelegramStandIn>> Start(std::string token);
  ~TelegramStandIn();

  std::string base_url() const;  // "http://127.0.0.1:PORT", for TelegramOptions::base_url

  // A user writes `text` in `chat_id` (the chat becomes known); returns the update's id.
  int64_t SendText(const TelegramUser& from, int64_t chat_id, const std::string& text);
  // A user presses a button of message `message_id` carrying `data`.
  int64_t PressButton(const TelegramUser& from, int64_t chat_id, int64_t message_id,
                      const std::string& data);

  struct Sent {
    int64_t chat_id = 0;
    int64_t message_id = 0;
    std::string text;
    InlineKeyboard keyboard;
    bool edited = false;  // an editMessageText of an earlier message
  };
  std::vector<Sent> sent() const;
  // Waits until at least `count` messages were sent or edited; false on timeout.
  bool WaitForSent(size_t count, std::chrono::milliseconds timeout) const;
  std::vector<std::string> answered_callbacks() const;  // the texts, in order

  // The next `count` sendMessage calls are refused with 429 and retry_after `seconds`.
  void RefuseSends(int count, int seconds);
  uint64_t refused_sends() const;
  // getUpdates calls answered (long polls included).
  uint64_t polls() const;

 private:
  explicit TelegramStandIn(std::string token) : token_(std::move(token)) {}
  api::HttpResponse Handle(const api::HttpRequest& request);

  const std::string token_;
  std::unique_ptr<api::HttpServer> server_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  int64_t next_update_ = 1;
  int64_t next_message_ = 1;
  std::deque<std::string> updates_;  // JSON of each update kept, oldest first
  std::deque<int64_t> update_ids_;
  std::set<int64_t> chats_;
  std::vector<Sent> sent_;
  std::vector<std::string> answered_;
  int refuse_ = 0;
  int refuse_seconds_ = 0;
  uint64_t refused_ = 0;
  uint64_t polls_ = 0;
  bool stopping_ = false;
};

}  // namespace aits::notify
