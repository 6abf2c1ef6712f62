#include "aits/notify/telegram_bot.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "aits/core/clock.h"
#include "aits/core/time.h"
#include "aits/log/log.h"

namespace aits::notify {
namespace {

using Json = nlohmann::json;

int RoleRank(const std::string& role) {
  if (role == "viewer") return 0;
  if (role == "trader") return 1;
  if (role == "admin") return 2;
  return -1;
}

// The commands and the least role that may send each.
struct CommandInfo {
  const char* name;
  const char* role;
  const char* help;
};
constexpr CommandInfo kCommands[] = {
    {"help", "viewer", "this list"},
    {"status", "viewer", "the session: state, breaker, equity, open positions"},
    {"balance", "viewer", "balance, equity, margin"},
    {"positions", "viewer", "open positions with their marks"},
    {"orders", "viewer", "working orders"},
    {"profit", "viewer", "closed trades: count, win rate, net P&L"},
    {"daily", "viewer", "net P&L of the last 7 days"},
    {"performance", "viewer", "net P&L by symbol"},
    {"breaker", "viewer", "the breaker's state; trader: /breaker normal|reduce_only|halted REASON"},
    {"explain", "viewer", "/explain ORDER_ID: why the order was sent"},
    {"models", "viewer",
     "the registry's models, newest first; /models REF (NAME, NAME@VERSION, #ID): one, with its "
     "events"},
    {"pause", "trader", "no new exposure (the breaker to reduce_only)"},
    {"resume", "trader", "the breaker back to normal"},
    {"flatten", "trader", "close every position and cancel every order (asks to confirm)"},
};

const CommandInfo* FindCommand(const std::string& name) {
  for (const CommandInfo& info : kCommands) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

std::string Text(const Json& json, const char* key) {
  if (!json.contains(key)) return "-";
  const Json& value = json[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "-";
  return value.dump();
}

std::string Fixed(double value, int digits = 2) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

// metrics[key], or null: a stored record's metrics are read, never trusted to have a shape
// (nlohmann's value() throws on a non-object).
const Json& Section(const Json& metrics, const char* key) {
  static const Json kNone;
  if (!metrics.is_object()) return kNone;
  const auto it = metrics.find(key);
  return it != metrics.end() ? *it : kNone;
}

// "auc 0.531, log_loss 0.69": the numbers of a metrics object (metrics.validation, .baseline);
// "-" when it holds none.
std::string Figures(const Json& metrics) {
  std::string text;
  if (!metrics.is_object()) return "-";
  for (const auto& [metric, value] : metrics.items()) {
    if (!value.is_number()) continue;
    char number[32];
    std::snprintf(number, sizeof number, "%.4g", value.get<double>());
    text += (text.empty() ? "" : ", ") + metric + " " + number;
  }
  return text.empty() ? "-" : text;
}

// The lines of one model in /models: what it is, where it comes from, how good it was on
// validation and beside production, and what the registry last did with it.
std::string ModelSummary(const ml::ModelRecord& record, const std::vector<std::string>& events) {
  std::string text = record.name + "@" + std::to_string(record.version) + " " +
                     std::string(ml::ToString(record.status)) + " (#" + std::to_string(record.id) +
                     ", " + record.kind + ")";
  if (!record.parent.empty()) text += ", parent " + record.parent;
  // Clipped, as the last event below: a model with many metrics keeps to a few lines.
  text += "\n  validation " + ShortenText(Figures(Section(record.metrics, "validation")), 300);
  if (const Json& shadow = Section(record.metrics, "shadow"); !shadow.is_null()) {
    text += "\n  shadow " + ml::DescribeShadow(shadow);
  }
  // A reason may be long (an operator's, up to 500 characters): the list keeps to one line.
  if (!events.empty()) text += "\n  last " + ShortenText(events.back(), 200);
  return text;
}

// A /models argument: a Find reference (NAME, NAME@VERSION, #ID, latest) in the registry's
// alphabet, so that nothing else reaches the registry or is echoed back.
bool IsModelRef(const std::string& ref) {
  return !ref.empty() && ref.size() <= 120 &&
         ref.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@#") ==
             std::string::npos;
}

// "/status@aits_bot arg" -> "status", {"arg"}.
bool ParseCommand(const std::string& text, std::string* name, std::vector<std::string>* args) {
  if (text.empty() || text[0] != '/') return false;
  std::istringstream in(text.substr(1));
  std::string word;
  in >> word;
  *name = word.substr(0, word.find('@'));
  for (std::string arg; in >> arg;) args->push_back(arg);
  return !name->empty();
}

}  // namespace

Status TelegramBotOptions::Validate() const {
  std::set<int64_t> ids;
  for (size_t k = 0; k < users.size(); ++k) {
    const std::string where = "users[" + std::to_string(k) + "]";
    if (users[k].id == 0) return InvalidArgument(where + ".id: missing or 0");
    if (!ids.insert(users[k].id).second) {
      return InvalidArgument(where + ".id: " + std::to_string(users[k].id) + " is listed twice");
    }
    if (RoleRank(users[k].role) < 0) {
      return InvalidArgument(where + ".role: '" + users[k].role +
                             "' is not viewer, trader or admin");
    }
  }
  for (int64_t chat : alert_chats) {
    if (chat == 0) return InvalidArgument("alert_chats: a chat id of 0");
  }
  if (poll_wait_s < 0 || poll_wait_s > 50) {
    return InvalidArgument("poll_wait_s: " + std::to_string(poll_wait_s) + " is not in 0..50");
  }
  if (send_attempts < 1) return InvalidArgument("send_attempts must be at least 1");
  return Status::Ok();
}

Result<TelegramBotOptions> LoadTelegramBotConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return IoError("cannot read " + path);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  TelegramBotOptions options;
  if (!root.IsMap()) return InvalidArgument(path + ": expected a map with users and alert_chats");
  for (const auto& item : root) {
    const std::string key = item.first.as<std::string>();
    if (key != "users" && key != "alert_chats") {
      return InvalidArgument(path + ": unknown key '" + key + "' (users, alert_chats)");
    }
  }
  try {
    const YAML::Node users = root["users"];
    if (users && !users.IsSequence()) return InvalidArgument(path + ": users: expected a list");
    for (size_t k = 0; users && k < users.size(); ++k) {
      const YAML::Node user = users[k];
      const std::string where = path + ": users[" + std::to_string(k) + "]";
      if (!user.IsMap()) return InvalidArgument(where + ": expected {id, name, role}");
      for (const auto& field : user) {
        const std::string key = field.first.as<std::string>();
        if (key != "id" && key != "name" && key != "role") {
          return InvalidArgument(where + ": unknown key '" + key + "' (id, name, role)");
        }
      }
      TelegramBotUser entry;
      if (!user["id"]) return InvalidArgument(where + ".id: missing");
      entry.id = user["id"].as<int64_t>();
      entry.name = user["name"] ? user["name"].as<std::string>() : std::to_string(entry.id);
      if (!user["role"]) return InvalidArgument(where + ".role: missing");
      entry.role = user["role"].as<std::string>();
      options.users.push_back(std::move(entry));
    }
    const YAML::Node chats = root["alert_chats"];
    if (chats && !chats.IsSequence()) {
      return InvalidArgument(path + ": alert_chats: expected a list of chat ids");
    }
    for (size_t k = 0; chats && k < chats.size(); ++k) {
      options.alert_chats.push_back(chats[k].as<int64_t>());
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (Status valid = options.Validate(); !valid.ok()) return valid.WithContext(path);
  return options;
}

Result<std::unique_ptr<TelegramBot>> TelegramBot::Create(
    TelegramClient client, TelegramBotOptions options, SessionSource view,
    persistence::TradeStore* trades, api::ModelCatalog* models, Registry* metrics) {
  AITS_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<TelegramBot> bot(new TelegramBot(std::move(client), std::move(options)));
  bot->view_ = std::move(view);
  bot->trades_ = trades;
  bot->models_ = models;
  if (!bot->options_.audit_file.empty()) {
    bot->audit_ = std::fopen(bot->options_.audit_file.c_str(), "a");
    if (bot->audit_ == nullptr) {
      return IoError("cannot open " + bot->options_.audit_file + " for appending");
    }
  }
  if (metrics != nullptr) {
    AITS_ASSIGN_OR_RETURN(
        bot->commands_,
        metrics->AddCounter("aits_telegram_commands_total",
                            "Telegram commands, by command and result.", {"command", "result"}));
    const auto counter = [&](const char* name, const char* help, Counter** out) -> Status {
      AITS_ASSIGN_OR_RETURN(Family<Counter> * family, metrics->AddCounter(name, help));
      AITS_ASSIGN_OR_RETURN(*out, family->With({}));
      return Status::Ok();
    };
    AITS_RETURN_IF_ERROR(
        counter("aits_telegram_messages_sent_total", "Telegram messages sent.", &bot->sent_));
    AITS_RETURN_IF_ERROR(counter("aits_telegram_retries_total",
                                 "Sends tried again (Telegram's 429, an unreachable server).",
                                 &bot->retries_));
    AITS_RETURN_IF_ERROR(counter("aits_telegram_send_failures_total",
                                 "Telegram messages given up on.", &bot->failures_));
    AITS_RETURN_IF_ERROR(counter("aits_telegram_alerts_dropped_total",
                                 "Alerts dropped because the outbox was full.", &bot->dropped_));
    AITS_RETURN_IF_ERROR(counter("aits_telegram_unauthorised_total",
                                 "Messages from users the bot does not know.",
                                 &bot->unauthorised_));
  }
  return bot;
}

TelegramBot::~TelegramBot() {
  Stop();
  if (audit_ != nullptr) std::fclose(audit_);
}

void TelegramBot::Start() {
  stop_ = false;
  poller_ = std::thread([this] { PollLoop(); });
  sender_ = std::thread([this] { SendLoop(); });
}

void TelegramBot::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
  if (sender_.joinable()) sender_.join();
}

TelegramBot::Stats TelegramBot::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void TelegramBot::Sleep(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, wait, [this] { return stop_.load(); });
}

const TelegramBotUser* TelegramBot::Find(int64_t user_id) const {
  for (const TelegramBotUser& user : options_.users) {
    if (user.id == user_id) return &user;
  }
  return nullptr;
}

void TelegramBot::Count(const std::string& command, const std::string& result) {
  if (commands_ == nullptr) return;
  if (Result<Counter*> counter = commands_->With({{"command", command}, {"result", result}});
      counter.ok()) {
    (*counter)->Increment();
  }
}

void TelegramBot::Audit(const TelegramUser& from, const std::string& role, int64_t chat_id,
                        const std::string& command, const std::string& result) {
  AITS_LOG_INFO("telegram", "command " + command,
                {{"user", std::to_string(from.id)},
                 {"username", from.username},
                 {"role", role},
                 {"chat", std::to_string(chat_id)},
                 {"result", result}});
  if (audit_ == nullptr) return;
  const Json line = {{"time", FormatIso8601(SystemWallClock().Now())},
                     {"user_id", from.id},
                     {"username", from.username},
                     {"role", role},
                     {"chat_id", chat_id},
                     {"command", command},
                     {"result", result}};
  const std::string text = line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), audit_);
  std::fflush(audit_);
}

bool TelegramBot::Send(int64_t chat_id, const std::string& text, const InlineKeyboard& keyboard) {
  for (int attempt = 1; attempt <= options_.send_attempts; ++attempt) {
    TelegramRefusal refusal;
    Result<int64_t> sent = client_.SendMessage(chat_id, text, keyboard, &refusal);
    if (sent.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.sent;
      if (sent_ != nullptr) sent_->Increment();
      return true;
    }
    const bool retry = sent.status().code() == StatusCode::kUnavailable ||
                       sent.status().code() == StatusCode::kDeadlineExceeded;
    if (!retry || attempt == options_.send_attempts || stop_) {
      AITS_LOG_WARN("telegram", "message not sent",
                    {{"chat", std::to_string(chat_id)}, {"error", sent.status().message()}});
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.send_failures;
      if (failures_ != nullptr) failures_->Increment();
      return false;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.retries;
      if (retries_ != nullptr) retries_->Increment();
    }
    // Telegram says how long; an unreachable server gets a growing back-off.
    const auto wait = refusal.retry_after_s > 0
                          ? std::chrono::milliseconds(refusal.retry_after_s * 1000)
                          : std::chrono::milliseconds(250 << std::min(attempt, 5));
    Sleep(wait);
  }
  return false;
}

void TelegramBot::QueueAlert(const Delivered& delivered) {
  const Alert& alert = delivered.alert;
  std::string text = (alert.status == "firing" ? "\xF0\x9F\x94\xB4 " : "\xE2\x9C\x85 ") +
                     std::string(alert.status == "firing" ? "FIRING" : "RESOLVED") + " " +
                     alert.name();
  if (!alert.Label("severity").empty()) text += " (" + alert.Label("severity") + ")";
  if (!alert.Annotation("summary").empty()) text += "\n" + alert.Annotation("summary");
  if (!alert.Annotation("description").empty()) text += "\n" + alert.Annotation("description");
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t k = 0; k < options_.alert_chats.size(); ++k) {
    if (outbox_.size() >= options_.outbox_limit) {
      ++stats_.alerts_dropped;
      if (dropped_ != nullptr) dropped_->Increment();
      continue;
    }
    outbox_.push_back(std::to_string(options_.alert_chats[k]) + "\n" + text);
  }
  wake_.notify_all();
}

void TelegramBot::SendLoop() {
  while (true) {
    std::string item;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stop_.load() || !outbox_.empty(); });
      if (stop_) return;
      item = std::move(outbox_.front());
      outbox_.pop_front();
    }
    const size_t newline = item.find('\n');
    const int64_t chat = std::stoll(item.substr(0, newline));
    // One message per chat interval: Telegram's pace for a chat.
    std::chrono::steady_clock::time_point due;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      due = last_sent_[chat] + options_.chat_interval;
    }
    const auto now = std::chrono::steady_clock::now();
    if (due > now) Sleep(std::chrono::duration_cast<std::chrono::milliseconds>(due - now));
    if (stop_) return;
    Send(chat, item.substr(newline + 1));
    std::lock_guard<std::mutex> lock(mutex_);
    last_sent_[chat] = std::chrono::steady_clock::now();
  }
}

void TelegramBot::PollLoop() {
  while (!stop_) {
    Result<std::vector<TelegramUpdate>> updates = client_.GetUpdates(offset_, options_.poll_wait_s);
    if (!updates.ok()) {
      AITS_LOG_WARN("telegram", "getUpdates failed", {{"error", updates.status().message()}});
      Sleep(std::chrono::seconds(1));
      continue;
    }
    for (const TelegramUpdate& update : *updates) {
      offset_ = std::max(offset_, update.update_id + 1);
      if (stop_) return;
      Handle(update);
    }
  }
}

void TelegramBot::Handle(const TelegramUpdate& update) {
  if (update.callback) {
    OnCallback(*update.callback);
    return;
  }
  if (!update.message) return;
  const TelegramMessage& message = *update.message;
  const TelegramBotUser* user = Find(message.from.id);
  if (user == nullptr) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.unauthorised;
      if (unauthorised_ != nullptr) unauthorised_->Increment();
    }
    Audit(message.from, "-", message.chat_id, message.text.substr(0, 64), "unauthorised");
    Send(message.chat_id, "You are not authorised to use this bot (user id " +
                              std::to_string(message.from.id) + ").");
    return;
  }
  std::string name;
  std::vector<std::string> args;
  if (!ParseCommand(message.text, &name, &args)) {
    Send(message.chat_id, "Commands start with /. /help lists them.");
    Audit(message.from, user->role, message.chat_id, message.text.substr(0, 64), "not a command");
    Count("none", "invalid");
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.commands;
  }
  std::string result = "ok";
  const Reply reply = Command(*user, message.chat_id, name, args, &result);
  std::string audited = "/" + name;
  for (const std::string& arg : args) audited += " " + arg;
  Audit(message.from, user->role, message.chat_id, audited, result);
  Count(FindCommand(name) != nullptr ? name : "unknown", result);
  Send(message.chat_id, reply.text, reply.keyboard);
}

TelegramBot::Reply TelegramBot::Command(const TelegramBotUser& user, int64_t chat_id,
                                        const std::string& name,
                                        const std::vector<std::string>& args, std::string* result) {
  const CommandInfo* info = FindCommand(name);
  if (info == nullptr) {
    *result = "unknown";
    return {"Unknown command /" + name + ". /help lists the commands.", {}};
  }
  const bool moves_breaker = name == "breaker" && !args.empty();
  const int needed = moves_breaker ? RoleRank("trader") : RoleRank(info->role);
  if (RoleRank(user.role) < needed) {
    *result = "forbidden";
    return {"/" + name + (moves_breaker ? " STATE" : "") +
                " needs the trader or admin role; you are " + user.role + ".",
            {}};
  }
  api::SessionView* view = nullptr;  // found below, after the commands that need none
  const auto queue = [&](Json command, const std::string& done) -> Reply {
    command["by"] = "telegram:" + user.name;
    if (!command.contains("reason")) command["reason"] = "telegram: " + user.name;
    if (Status queued = view->QueueCommand(command); !queued.ok()) {
      *result = "error";
      return {"Could not queue it: " + queued.message(), {}};
    }
    return {done, {}};
  };
  if (name == "help") {
    std::string text = "Commands for you (" + user.role + "):";
    for (const CommandInfo& command : kCommands) {
      if (RoleRank(user.role) >= RoleRank(command.role)) {
        text += "\n/" + std::string(command.name) + " — " + command.help;
      }
    }
    return {text, {}};
  }
  if (!args.empty() && name != "breaker" && name != "explain" && name != "models") {
    *result = "invalid";
    return {"/" + name + " takes no arguments.", {}};
  }
  if (name != "models") {
    Result<api::SessionView*> found = view_();
    if (!found.ok()) {
      *result = "unavailable";
      return {"No session to answer about yet: " + found.status().message(), {}};
    }
    view = *found;
  }
  if (name == "status") {
    const Json summary = view->Summary();
    const Json account = view->Account();
    const Json positions = view->Positions();
    return {"Session " + Text(summary, "id") + " (" + Text(summary, "state") + ")\nbreaker " +
                Text(account, "breaker") + ", equity " + Text(account, "equity") + " " +
                Text(account, "currency") + ", " + std::to_string(positions["items"].size()) +
                " open position(s)\nlast event " + Text(summary, "events") + " at market time " +
                Text(summary, "kernel_time"),
            {}};
  }
  if (name == "balance") {
    const Json account = view->Account();
    return {"Balance " + Text(account, "balance") + " " + Text(account, "currency") + "\nequity " +
                Text(account, "equity") + "\nmargin " + Text(account, "margin") + "\nas of " +
                Text(account, "as_of"),
            {}};
  }
  if (name == "positions") {
    const Json positions = view->Positions();
    if (positions["items"].empty()) return {"No open position.", {}};
    std::string text = "Open positions:";
    for (const Json& p : positions["items"]) {
      text += "\n" + Text(p, "symbol") + " " + Text(p, "lots") + " lots @ " + Text(p, "avg_price");
      if (p.contains("mark")) {
        text += ", mark " + Fixed(p["mark"].get<double>(), 5) + ", open P&L " +
                Fixed(p["unrealized"].get<double>()) + " " + Text(p, "quote_currency");
      }
    }
    return {text, {}};
  }
  if (name == "orders") {
    api::ListQuery query;
    query.limit = 20;
    const Json orders = view->Orders(query, "open");
    const Json& items = orders.contains("items") ? orders["items"] : Json::array();
    if (items.empty()) return {"No working order.", {}};
    std::string text = "Working orders:";
    for (const Json& o : items) {
      text += "\n#" + Text(o, "id") + " " + Text(o, "symbol") + " " + Text(o, "side") + " " +
              Text(o, "type") + " " + Text(o, "lots") + " lots" +
              (o.contains("price") && !o["price"].is_null() ? " @ " + Text(o, "price") : "") +
              " (" + Text(o, "status") + ")";
    }
    return {text, {}};
  }
  if (name == "profit" || name == "daily" || name == "performance") {
    if (trades_ == nullptr) {
      *result = "unavailable";
      return {"No trade store: start the role with --trades (the owner's trade store).", {}};
    }
    const std::string session = Text(view->Summary(), "id");
    persistence::TradeQuery query;
    query.session = session;
    query.limit = 100000;
    if (name == "daily") {
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      const int64_t day_ns = 86'400'000'000'000;
      const int64_t today =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() / day_ns * day_ns;
      query.from = Timestamp{today - 6 * day_ns};
    }
    Result<persistence::TradePage> page = trades_->Read(query);
    if (!page.ok()) {
      *result = "error";
      return {"Could not read the trades: " + page.status().message(), {}};
    }
    const std::vector<persistence::StoredTrade>& trades = page->trades;
    if (name == "profit") {
      Money net, commission;
      size_t wins = 0;
      for (const auto& t : trades) {
        net += t.trade.net_pnl;
        commission += t.trade.commission;
        wins += t.trade.net_pnl.raw() > 0 ? 1 : 0;
      }
      if (trades.empty()) return {"No closed trade yet.", {}};
      return {std::to_string(trades.size()) + " closed trade(s), " + std::to_string(wins) +
                  " won (" +
                  Fixed(100.0 * static_cast<double>(wins) / static_cast<double>(trades.size()), 1) +
                  " %)\nnet P&L " + net.ToString() + " after commission " + commission.ToString() +
                  (page->next ? "\n(the first 100,000 trades)" : ""),
              {}};
    }
    std::map<std::string, std::pair<size_t, Money>> groups;
    for (const auto& t : trades) {
      const std::string key =
          name == "daily" ? FormatIso8601(t.trade.exit_time).substr(0, 10) : t.symbol;
      groups[key].first += 1;
      groups[key].second += t.trade.net_pnl;
    }
    if (groups.empty()) {
      return {name == "daily" ? "No trade closed in the last 7 days." : "No closed trade yet.", {}};
    }
    std::string text = name == "daily" ? "Net P&L by day (UTC):" : "Net P&L by symbol:";
    for (const auto& [key, group] : groups) {
      text += "\n" + key + ": " + group.second.ToString() + " (" + std::to_string(group.first) +
              " trade" + (group.first == 1 ? "" : "s") + ")";
    }
    return {text, {}};
  }
  if (name == "breaker") {
    if (args.empty()) {
      const Json risk = view->Risk();
      return {"Breaker: " + Text(risk, "breaker"), {}};
    }
    const std::string& state = args[0];
    if (state != "normal" && state != "reduce_only" && state != "halted") {
      *result = "invalid";
      return {
          "/breaker STATE [REASON]: STATE is normal, reduce_only or halted, not '" + state + "'.",
          {}};
    }
    std::string reason;
    for (size_t k = 1; k < args.size(); ++k) reason += (k > 1 ? " " : "") + args[k];
    Json command = {{"command", "breaker"}, {"state", state}};
    if (!reason.empty()) command["reason"] = "telegram: " + reason;
    return queue(command,
                 "Breaker → " + state + " queued; the session applies it between two ticks.");
  }
  if (name == "explain") {
    if (args.size() != 1 || args[0].find_first_not_of("0123456789") != std::string::npos) {
      *result = "invalid";
      return {"/explain ORDER_ID: the order's number, e.g. /explain 12.", {}};
    }
    Result<Json> order = view->Order(std::stoull(args[0]));
    if (!order.ok()) {
      *result = "not_found";
      return {"No order " + args[0] + " in this session.", {}};
    }
    const Json& o = order->contains("order") ? (*order)["order"] : *order;
    std::string text = "Order #" + Text(o, "id") + " " + Text(o, "symbol") + " " + Text(o, "side") +
                       " " + Text(o, "lots") + " lots, " + Text(o, "status");
    if (order->contains("decision") && (*order)["decision"].is_object()) {
      const Json& d = (*order)["decision"];
      text += "\n" + d.dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 3500);
    } else {
      text += "\n(no decision record: the operator's or the venue's order)";
    }
    return {text, {}};
  }
  if (name == "models") {
    const std::string usage =
        "/models [REF]: REF is NAME, NAME@VERSION or #ID, e.g. /models gbpusd_m1@3";
    if (args.size() > 1 || (args.size() == 1 && !IsModelRef(args[0]))) {
      std::string given;
      for (const std::string& arg : args) given += (given.empty() ? "" : " ") + arg;
      *result = "invalid";
      return {usage + "; not '" + ShortenText(given, 40) + "'.", {}};
    }
    if (models_ == nullptr) {
      *result = "unavailable";
      return {"No model registry: start the role with --registry.", {}};
    }
    Result<std::string> text = args.empty() ? ListModels() : DescribeModel(args[0]);
    if (!text.ok()) {
      const StatusCode code = text.status().code();
      if (!args.empty() && code == StatusCode::kNotFound) {
        *result = "not_found";
        return {"No model " + args[0] + " in the registry.", {}};
      }
      if (!args.empty() && code == StatusCode::kInvalidArgument) {  // e.g. "x@", "#"
        *result = "invalid";
        return {usage + "; not '" + args[0] + "'.", {}};
      }
      *result = "error";
      return {text.status().message(), {}};
    }
    return {*text, {}};
  }
  if (name == "pause") {
    return queue({{"command", "pause"}},
                 "Paused: the breaker goes to reduce_only (no new exposure).");
  }
  if (name == "resume")
    return queue({{"command", "resume"}}, "Resumed: the breaker goes to normal.");
  if (name == "flatten") {
    const std::string nonce = std::to_string(next_nonce_++);
    pending_[nonce] = {user.id, chat_id, "flatten", std::chrono::steady_clock::now()};
    *result = "asked";
    return {"Flatten: close every position and cancel every working order of session " +
                Text(view->Summary(), "id") + "?",
            {{{"Flatten now", "flatten:" + nonce}, {"Cancel", "cancel:" + nonce}}}};
  }
  *result = "unknown";
  return {"Unknown command /" + name + ".", {}};
}

Result<std::string> TelegramBot::ListModels() {
  return models_->With([](ml::ModelRegistry& registry) -> Result<std::string> {
    AITS_ASSIGN_OR_RETURN(const std::vector<ml::ModelRecord> models, registry.List());
    if (models.empty()) return std::string("The registry holds no model.");
    std::string text = "Models, newest first:";
    // What the cut line needs at most, kept free from the start so that it always fits.
    constexpr size_t kCutLine = 120;
    size_t shown = 0;
    for (auto it = models.rbegin(); it != models.rend(); ++it, ++shown) {
      AITS_ASSIGN_OR_RETURN(const std::vector<std::string> events, registry.Events(it->id));
      const std::string lines = "\n" + ModelSummary(*it, events);
      if (text.size() + lines.size() + kCutLine > kTelegramMaxText) break;
      text += lines;
    }
    if (shown < models.size()) {
      text += "\n… " + std::to_string(models.size() - shown) +
              " older model(s) not shown (Telegram's message limit); /models REF for one.";
    }
    return text;
  });
}

Result<std::string> TelegramBot::DescribeModel(const std::string& ref) {
  return models_->With([&](ml::ModelRegistry& registry) -> Result<std::string> {
    AITS_ASSIGN_OR_RETURN(const ml::ModelRecord record, registry.Find(ref));
    AITS_ASSIGN_OR_RETURN(const std::vector<std::string> events, registry.Events(record.id));
    std::string text = "Model #" + std::to_string(record.id) + " " + record.name + "@" +
                       std::to_string(record.version) + " (" + record.kind +
                       "): " + std::string(ml::ToString(record.status));
    if (!record.parent.empty()) text += "\nparent " + record.parent;
    text += "\ntrained on " + FormatIso8601(record.train_begin) + " to " +
            FormatIso8601(record.train_end) + ", features " + record.feature_set_version;
    text += "\nvalidation " + Figures(Section(record.metrics, "validation"));
    if (const Json& baseline = Section(record.metrics, "baseline"); !baseline.is_null()) {
      text += "\nbaseline " + Figures(baseline);
    }
    if (const Json& shadow = Section(record.metrics, "shadow"); !shadow.is_null()) {
      text += "\nshadow " + ml::DescribeShadow(shadow);
    }
    text += "\nEvents, oldest first:";
    // The newest events that fit, since they say where the model stands now; the older ones
    // are counted, and `aits models --events #ID` prints them all.
    constexpr size_t kCutLine = 120;
    size_t room = kTelegramMaxText - std::min(kTelegramMaxText, text.size() + kCutLine);
    size_t first = events.size();
    std::vector<std::string> lines;
    while (first > 0) {
      std::string line = "\n" + ShortenText(events[first - 1], 600);
      if (line.size() > room) break;
      room -= line.size();
      lines.push_back(std::move(line));
      --first;
    }
    if (first > 0) {
      text += "\n(" + std::to_string(first) + " older event(s) not shown; `aits models --events #" +
              std::to_string(record.id) + "` prints them all)";
    }
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) text += *it;
    return text;
  });
}

void TelegramBot::OnCallback(const TelegramCallback& callback) {
  const TelegramBotUser* user = Find(callback.from.id);
  const auto answer = [&](const std::string& text) {
    (void)client_.AnswerCallbackQuery(callback.id, text);
  };
  if (user == nullptr) {
    Audit(callback.from, "-", callback.chat_id, "button " + callback.data.substr(0, 64),
          "unauthorised");
    answer("You are not authorised to use this bot.");
    return;
  }
  const size_t colon = callback.data.find(':');
  const std::string action = callback.data.substr(0, colon);
  const std::string nonce = colon == std::string::npos ? "" : callback.data.substr(colon + 1);
  const auto found = pending_.find(nonce);
  const std::string audited = "button " + callback.data.substr(0, 64);
  if (found == pending_.end() ||
      std::chrono::steady_clock::now() - found->second.asked > options_.confirm_within) {
    if (found != pending_.end()) pending_.erase(found);
    Audit(callback.from, user->role, callback.chat_id, audited, "expired");
    answer("This confirmation has expired; send the command again.");
    return;
  }
  if (found->second.user_id != user->id) {
    Audit(callback.from, user->role, callback.chat_id, audited, "forbidden");
    answer("Only the user who asked may confirm.");
    return;
  }
  const Pending pending = found->second;
  pending_.erase(found);
  std::string text;
  std::string result = "ok";
  if (action == "cancel") {
    text = "Flatten cancelled.";
    result = "cancelled";
  } else if (action == "flatten" && RoleRank(user->role) >= RoleRank("trader")) {
    Json command = {{"command", "flatten"},
                    {"by", "telegram:" + user->name},
                    {"reason", "telegram: " + user->name}};
    Result<api::SessionView*> session = view_();
    const Status queued = session.ok() ? (*session)->QueueCommand(command) : session.status();
    if (queued.ok()) {
      text = "Flatten queued by " + user->name + ": every position closes at market.";
    } else {
      text = "Could not queue the flatten: " + queued.message();
      result = "error";
    }
  } else {
    text = "Not allowed.";
    result = "forbidden";
  }
  Audit(callback.from, user->role, callback.chat_id, "/flatten confirmed", result);
  Count("flatten", result);
  // The question first, so that whoever sees the button's answer sees the question changed.
  (void)client_.EditMessageText(pending.chat_id, callback.message_id, text);
  answer(text);
}

}  // namespace aits::notify
