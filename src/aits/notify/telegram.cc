#include "aits/notify/telegram.h"

#include <curl/curl.h>

#include <mutex>
#include <nlohmann/json.hpp>

namespace aits::notify {
namespace {

using Json = nlohmann::json;

// curl asks about twice a second (and at every chunk): a non-zero answer aborts the transfer.
int Cancelled(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
}

size_t Append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

TelegramUser UserOf(const Json& from) {
  TelegramUser user;
  user.id = from.value("id", int64_t{0});
  user.username = from.value("username", std::string());
  user.first_name = from.value("first_name", std::string());
  return user;
}

}  // namespace

// Cut at a character boundary (UTF-8) so that Telegram accepts it.
std::string ShortenText(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max - 3;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "\xE2\x80\xA6";
}

Result<TelegramClient> TelegramClient::Create(TelegramOptions options) {
  if (options.token.empty()) return InvalidArgument("telegram: no bot token");
  if (options.base_url.empty()) return InvalidArgument("telegram: no API address");
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return TelegramClient(std::move(options));
}

Result<std::string> TelegramClient::Call(std::string_view method, const std::string& body,
                                         Duration timeout, TelegramRefusal* refusal,
                                         bool cancellable) const {
  const std::string what = "telegram " + std::string(method);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Internal(what + ": cannot make a curl handle");
  const std::string url = options_.base_url + "/bot" + options_.token + "/" + std::string(method);
  std::string answer;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.ns / 1'000'000));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (cancellable && options_.cancel != nullptr) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Cancelled);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(options_.cancel));
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  const CURLcode code = curl_easy_perform(curl);
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code == CURLE_ABORTED_BY_CALLBACK) return Unavailable(what + ": cancelled");
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return DeadlineExceeded(what + ": no answer in time");
  }
  if (code != CURLE_OK) {
    // curl's words name the host, not the URL, so the token stays out of the message.
    return Unavailable(what + ": " + curl_easy_strerror(code));
  }
  Json reply = Json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object() || !reply.contains("ok")) {
    if (http >= 500) return Unavailable(what + ": HTTP " + std::to_string(http));
    return Unavailable(what + ": HTTP " + std::to_string(http) +
                       ", an answer that is not the "
                       "Bot API's JSON");
  }
  if (reply.value("ok", false)) {
    return reply.contains("result") ? reply["result"].dump() : std::string("null");
  }
  TelegramRefusal said;
  said.error_code = reply.value("error_code", static_cast<int>(http));
  said.description = reply.value("description", std::string("(no description)"));
  if (reply.contains("parameters") && reply["parameters"].is_object()) {
    said.retry_after_s = reply["parameters"].value("retry_after", 0);
  }
  if (refusal != nullptr) *refusal = said;
  const std::string message =
      what + ": " + std::to_string(said.error_code) + " " + said.description;
  if (said.error_code == 429 || said.error_code >= 500) return Unavailable(message);
  if (said.error_code == 401 || said.error_code == 403) return FailedPrecondition(message);
  return InvalidArgument(message);
}

Result<std::vector<TelegramUpdate>> TelegramClient::GetUpdates(int64_t offset, int wait_s,
                                                               TelegramRefusal* refusal) const {
  const Json body = {
      {"offset", offset}, {"timeout", wait_s}, {"allowed_updates", {"message", "callback_query"}}};
  AITS_ASSIGN_OR_RETURN(
      const std::string result,
      Call("getUpdates", body.dump(), options_.request_timeout + Duration::Seconds(wait_s), refusal,
           /*cancellable=*/true));
  const Json updates = Json::parse(result, nullptr, false);
  if (!updates.is_array()) return Unavailable("telegram getUpdates: the result is not a list");
  std::vector<TelegramUpdate> out;
  for (const Json& item : updates) {
    if (!item.is_object() || !item.contains("update_id") || !item["update_id"].is_number()) {
      continue;  // nothing to move the offset past
    }
    TelegramUpdate update;
    update.update_id = item["update_id"].get<int64_t>();
    if (const auto m = item.find("message"); m != item.end() && m->is_object()) {
      TelegramMessage message;
      message.message_id = m->value("message_id", int64_t{0});
      if (m->contains("chat") && (*m)["chat"].is_object()) {
        message.chat_id = (*m)["chat"].value("id", int64_t{0});
      }
      if (m->contains("from") && (*m)["from"].is_object()) message.from = UserOf((*m)["from"]);
      if (m->contains("text") && (*m)["text"].is_string()) message.text = (*m)["text"];
      update.message = std::move(message);
    } else if (const auto c = item.find("callback_query"); c != item.end() && c->is_object()) {
      TelegramCallback callback;
      callback.id = c->value("id", std::string());
      if (c->contains("from") && (*c)["from"].is_object()) callback.from = UserOf((*c)["from"]);
      callback.data = c->value("data", std::string());
      if (c->contains("message") && (*c)["message"].is_object()) {
        const Json& carried = (*c)["message"];
        callback.message_id = carried.value("message_id", int64_t{0});
        if (carried.contains("chat") && carried["chat"].is_object()) {
          callback.chat_id = carried["chat"].value("id", int64_t{0});
        }
      }
      update.callback = std::move(callback);
    }
    out.push_back(std::move(update));
  }
  return out;
}

Result<int64_t> TelegramClient::SendMessage(int64_t chat_id, std::string_view text,
                                            const InlineKeyboard& keyboard,
                                            TelegramRefusal* refusal) const {
  Json body = {{"chat_id", chat_id}, {"text", ShortenText(text)}};
  if (!keyboard.empty()) {
    Json rows = Json::array();
    for (const auto& row : keyboard) {
      Json buttons = Json::array();
      for (const InlineButton& button : row) {
        buttons.push_back({{"text", button.text}, {"callback_data", button.callback_data}});
      }
      rows.push_back(std::move(buttons));
    }
    body["reply_markup"] = {{"inline_keyboard", std::move(rows)}};
  }
  AITS_ASSIGN_OR_RETURN(
      const std::string result,
      Call("sendMessage", body.dump(-1, ' ', false, Json::error_handler_t::replace),
           options_.request_timeout, refusal));
  const Json message = Json::parse(result, nullptr, false);
  if (!message.is_object() || !message.contains("message_id")) {
    return Unavailable("telegram sendMessage: the result is not a message");
  }
  return message["message_id"].get<int64_t>();
}

Status TelegramClient::AnswerCallbackQuery(std::string_view callback_id, std::string_view text,
                                           TelegramRefusal* refusal) const {
  const Json body = {{"callback_query_id", callback_id}, {"text", text}};
  return Call("answerCallbackQuery", body.dump(-1, ' ', false, Json::error_handler_t::replace),
              options_.request_timeout, refusal)
      .status();
}

Status TelegramClient::EditMessageText(int64_t chat_id, int64_t message_id, std::string_view text,
                                       TelegramRefusal* refusal) const {
  const Json body = {{"chat_id", chat_id}, {"message_id", message_id}, {"text", ShortenText(text)}};
  return Call("editMessageText", body.dump(-1, ' ', false, Json::error_handler_t::replace),
              options_.request_timeout, refusal)
      .status();
}

}  // namespace aits::notify
