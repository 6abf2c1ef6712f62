#include "aits/notify/telegram_stand_in.h"

#include <nlohmann/json.hpp>

namespace aits::notify {
namespace {

using Json = nlohmann::json;

api::HttpResponse Reply(int status, const Json& body) {
  api::HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return response;
}

api::HttpResponse Ok(const Json& result) { return Reply(200, {{"ok", true}, {"result", result}}); }

api::HttpResponse Refuse(int code, const std::string& description, int retry_after = 0) {
  Json body = {{"ok", false}, {"error_code", code}, {"description", description}};
  if (retry_after > 0) body["parameters"] = {{"retry_after", retry_after}};
  return Reply(code, body);
}

Json UserJson(const TelegramUser& user) {
  Json json = {{"id", user.id}, {"is_bot", false}, {"first_name", user.first_name}};
  if (!user.username.empty()) json["username"] = user.username;
  return json;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Telegram counts a message's length in UTF-16 code units; the texts here are BMP text, so
// code points.
size_t Characters(const std::string& text) {
  size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

}  // namespace

Result<std::unique_ptr<TelegramStandIn>> TelegramStandIn::Start(std::string token) {
  std::unique_ptr<TelegramStandIn> stand_in(new TelegramStandIn(std::move(token)));
  api::HttpServerOptions options;
  options.threads = 4;
  TelegramStandIn* raw = stand_in.get();
  AITS_ASSIGN_OR_RETURN(stand_in->server_,
                        api::HttpServer::Start(options, [raw](const api::HttpRequest& request) {
                          return raw->Handle(request);
                        }));
  return stand_in;
}

TelegramStandIn::~TelegramStandIn() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (server_) server_->Stop();
}

std::string TelegramStandIn::base_url() const {
  return "http://127.0.0.1:" + std::to_string(server_->port());
}

int64_t TelegramStandIn::SendText(const TelegramUser& from, int64_t chat_id,
                                  const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  chats_.insert(chat_id);
  const int64_t id = next_update_++;
  const Json update = {{"update_id", id},
                       {"message",
                        {{"message_id", next_message_++},
                         {"from", UserJson(from)},
                         {"chat", {{"id", chat_id}, {"type", "private"}}},
                         {"date", Now()},
                         {"text", text}}}};
  updates_.push_back(update.dump());
  update_ids_.push_back(id);
  changed_.notify_all();
  return id;
}

int64_t TelegramStandIn::PressButton(const TelegramUser& from, int64_t chat_id, int64_t message_id,
                                     const std::string& data) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t id = next_update_++;
  const Json update = {
      {"update_id", id},
      {"callback_query",
       {{"id", "cb" + std::to_string(id)},
        {"from", UserJson(from)},
        {"message", {{"message_id", message_id}, {"chat", {{"id", chat_id}, {"type", "private"}}}}},
        {"chat_instance", std::to_string(chat_id)},
        {"data", data}}}};
  updates_.push_back(update.dump());
  update_ids_.push_back(id);
  changed_.notify_all();
  return id;
}

std::vector<TelegramStandIn::Sent> TelegramStandIn::sent() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sent_;
}

bool TelegramStandIn::WaitForSent(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return sent_.size() >= count; });
}

std::vector<std::string> TelegramStandIn::answered_callbacks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return answered_;
}

void TelegramStandIn::RefuseSends(int count, int seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_ = count;
  refuse_seconds_ = seconds;
}

uint64_t TelegramStandIn::refused_sends() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return refused_;
}

uint64_t TelegramStandIn::polls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return polls_;
}

api::HttpResponse TelegramStandIn::Handle(const api::HttpRequest& request) {
  const std::string prefix = "/bot" + token_ + "/";
  if (!request.path.starts_with("/bot")) return Refuse(404, "Not Found");
  if (!request.path.starts_with(prefix)) return Refuse(401, "Unauthorized");
  const std::string method = request.path.substr(prefix.size());
  const Json body =
      request.body.empty() ? Json::object() : Json::parse(request.body, nullptr, false);
  if (!body.is_object()) return Refuse(400, "Bad Request: can't parse JSON object");

  if (method == "getUpdates") {
    const int64_t offset = body.value("offset", int64_t{0});
    const int wait_s = std::min(body.value("timeout", 0), 50);
    std::unique_lock<std::mutex> lock(mutex_);
    ++polls_;
    // An offset confirms every update before it: Telegram forgets them.
    while (!update_ids_.empty() && update_ids_.front() < offset) {
      update_ids_.pop_front();
      updates_.pop_front();
    }
    changed_.wait_for(lock, std::chrono::seconds(wait_s),
                      [&] { return stopping_ || !updates_.empty(); });
    Json result = Json::array();
    for (const std::string& update : updates_) result.push_back(Json::parse(update));
    return Ok(result);
  }
  if (method == "sendMessage") {
    const int64_t chat = body.value("chat_id", int64_t{0});
    const std::string text = body.value("text", std::string());
    std::lock_guard<std::mutex> lock(mutex_);
    if (refuse_ > 0) {
      --refuse_;
      ++refused_;
      return Refuse(429, "Too Many Requests: retry after " + std::to_string(refuse_seconds_),
                    refuse_seconds_);
    }
    if (!chats_.contains(chat)) return Refuse(400, "Bad Request: chat not found");
    if (text.empty()) return Refuse(400, "Bad Request: message text is empty");
    if (Characters(text) > kTelegramMaxText) {
      return Refuse(400, "Bad Request: message is too long");
    }
    Sent sent;
    sent.chat_id = chat;
    sent.message_id = next_message_++;
    sent.text = text;
    Json markup = Json::object();
    if (body.contains("reply_markup")) {
      markup = body["reply_markup"];
      for (const Json& row : markup.value("inline_keyboard", Json::array())) {
        std::vector<InlineButton> buttons;
        for (const Json& button : row) {
          const std::string data = button.value("callback_data", std::string());
          if (data.empty() || data.size() > 64) {
            return Refuse(400, "Bad Request: BUTTON_DATA_INVALID");
          }
          buttons.push_back({button.value("text", std::string()), data});
        }
        sent.keyboard.push_back(std::move(buttons));
      }
    }
    Json message = {{"message_id", sent.message_id},
                    {"from", {{"id", 1}, {"is_bot", true}, {"first_name", "AITS"}}},
                    {"chat", {{"id", chat}, {"type", "private"}}},
                    {"date", Now()},
                    {"text", text}};
    if (!markup.empty()) message["reply_markup"] = markup;
    sent_.push_back(std::move(sent));
    changed_.notify_all();
    return Ok(message);
  }
  if (method == "answerCallbackQuery") {
    std::lock_guard<std::mutex> lock(mutex_);
    answered_.push_back(body.value("text", std::string()));
    return Ok(true);
  }
  if (method == "editMessageText") {
    std::lock_guard<std::mutex> lock(mutex_);
    Sent sent;
    sent.chat_id = body.value("chat_id", int64_t{0});
    sent.message_id = body.value("message_id", int64_t{0});
    sent.text = body.value("text", std::string());
    sent.edited = true;
    if (sent.text.empty()) return Refuse(400, "Bad Request: message text is empty");
    sent_.push_back(std::move(sent));
    changed_.notify_all();
    return Ok(Json{{"message_id", sent_.back().message_id}});
  }
  return Refuse(404, "Not Found");
}

}  // namespace aits::notify
