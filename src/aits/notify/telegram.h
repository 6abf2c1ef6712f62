// A client of Telegram's Bot API (https://core.telegram.org/bots/api): long polling with
// getUpdates, sendMessage with an inline keyboard, answerCallbackQuery and editMessageText, as
// JSON over HTTPS (libcurl). Telegram's own servers cannot be reached from the machines that
// test AITS: tests run it against the stand-in in src/aits/testing/telegram_stand_in.h, which
// answers as the real API does (docs/monitoring.md, "Telegram").
//
// Thread-safety: every call from any thread; each call is one HTTP request of its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::notify {

struct TelegramUser {
  int64_t id = 0;
  std::string username;  // may be empty
  std::string first_name;
};

struct TelegramMessage {
  int64_t message_id = 0;
  int64_t chat_id = 0;
  TelegramUser from;
  std::string text;  // empty for a message without text (a photo, a sticker)
};

// A press of an inline keyboard's button.
struct TelegramCallback {
  std::string id;
  TelegramUser from;
  int64_t chat_id = 0;
  int64_t message_id = 0;  // of the message that carried the keyboard
  std::string data;
};

struct TelegramUpdate {
  int64_t update_id = 0;
  std::optional<TelegramMessage> message;    // a new message
  std::optional<TelegramCallback> callback;  // a button pressed
  // Neither: an update of a kind the bot does not handle (an edited message, a member joining).
};

struct InlineButton {
  std::string text;
  std::string callback_data;  // at most 64 bytes (Telegram's limit)
};
// Rows of buttons.
using InlineKeyboard = std::vector<std::vector<InlineButton>>;

// What Telegram said when it refused a call: its error_code (400, 401, 403, 429, ...), its
// description, and for 429 the seconds to wait (parameters.retry_after).
struct TelegramRefusal {
  int error_code = 0;
  std::string description;
  int retry_after_s = 0;
};

struct TelegramOptions {
  std::string base_url = "https://api.telegram.org";
  std::string token;  // the bot's, from @BotFather; never logged
  // A request's time on the wire beyond a long poll's own wait.
  Duration request_timeout = Duration::Seconds(10);
  // Set (by whoever owns the flag) to abandon a long poll (getUpdates) in flight within a
  // fraction of a second: a bot stopping on SIGTERM does not wait out its poll. Sends are never
  // abandoned: a message may already be in the chat. Not owned.
  const std::atomic<bool>* cancel = nullptr;
};

inline constexpr size_t kTelegramMaxText = 4096;  // characters of one message

// `text` when it has at most `max` bytes; else its first bytes, cut at a UTF-8 character
// boundary, and "…", `max` bytes at most in all (max >= 4). Bytes are never fewer than
// Telegram's characters, so the result fits a message of `max` characters.
std::string ShortenText(std::string_view text, size_t max = kTelegramMaxText);

class TelegramClient {
 public:
  // InvalidArgument for an empty token or base URL.
  static Result<TelegramClient> Create(TelegramOptions options);

  // The updates after `offset` (the last update_id seen + 1; 0: all kept), waiting up to
  // `wait_s` seconds for the first. Updates the bot does not parse are returned with neither
  // message nor callback, so that the offset moves past them.
  Result<std::vector<TelegramUpdate>> GetUpdates(int64_t offset, int wait_s,
                                                 TelegramRefusal* refusal = nullptr) const;
  // The new message's id. Text longer than kTelegramMaxText is cut there (with "…").
  Result<int64_t> SendMessage(int64_t chat_id, std::string_view text,
                              const InlineKeyboard& keyboard = {},
                              TelegramRefusal* refusal = nullptr) const;
  Status AnswerCallbackQuery(std::string_view callback_id, std::string_view text,
                             TelegramRefusal* refusal = nullptr) const;
  // Replaces a message's text and removes its keyboard (a confirmation answered).
  Status EditMessageText(int64_t chat_id, int64_t message_id, std::string_view text,
                         TelegramRefusal* refusal = nullptr) const;

  // TelegramOptions::cancel, for an owner that holds the flag (the bot: its stop).
  void SetCancel(const std::atomic<bool>* cancel) { options_.cancel = cancel; }

  // Errors of every call: Unavailable when Telegram cannot be reached or answers 5xx, when a
  // long poll was cancelled (TelegramOptions::cancel), or
  // answers 429 (then `refusal->retry_after_s` says how long to wait); DeadlineExceeded when it
  // does not answer in time; FailedPrecondition for 401 and 403 (a wrong token, a user who
  // blocked the bot); InvalidArgument for another refusal (400: a chat not found, bad markup).
  // The message names the method and Telegram's description, never the token.

 private:
  explicit TelegramClient(TelegramOptions options) : options_(std::move(options)) {}
  // POSTs `body` (JSON) to METHOD; the answer's "result" as JSON text. `cancellable`: abandoned
  // when options_.cancel is set (a long poll; never a send, whose fate would then be unknown).
  Result<std::string> Call(std::string_view method, const std::string& body, Duration timeout,
                           TelegramRefusal* refusal, bool cancellable = false) const;
  TelegramOptions options_;
};

}  // namespace aits::notify
