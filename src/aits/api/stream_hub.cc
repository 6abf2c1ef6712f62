#include "aits/api/stream_hub.h"

#include <array>
#include <vector>

namespace aits::api {

namespace {

constexpr std::array<std::pair<Topic, std::string_view>, 8> kTopics = {{
    {kTopicQuotes, "quotes"},
    {kTopicBars, "bars"},
    {kTopicOrders, "orders"},
    {kTopicFills, "fills"},
    {kTopicAccount, "account"},
    {kTopicDecisions, "decisions"},
    {kTopicRisk, "risk"},
    {kTopicAlerts, "alerts"},
}};

std::shared_ptr<const std::string> Serialise(const nlohmann::json& message) {
  return std::make_shared<const std::string>(
      message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

std::string_view TopicName(Topic topic) {
  for (const auto& [t, name] : kTopics) {
    if (t == topic) return name;
  }
  return "?";
}

Result<Topic> ParseTopic(std::string_view name) {
  for (const auto& [t, n] : kTopics) {
    if (n == name) return t;
  }
  return InvalidArgument(
      "topic \"" + std::string(name.substr(0, 40)) +
      "\": expected quotes, bars, orders, fills, account, decisions, risk or alerts");
}

bool StreamHub::Wants(const Filter& f, const Item& item) {
  if ((f.topics & item.topic) == 0) return false;
  return f.symbols.empty() || item.symbol.empty() || f.symbols.contains(item.symbol);
}

void StreamHub::Publish(uint64_t seq, Topic topic, const std::string& symbol,
                        const nlohmann::json& data) {
  nlohmann::json message{{"topic", TopicName(topic)}, {"seq", seq}, {"data", data}};
  if (!symbol.empty()) message["symbol"] = symbol;
  Item item{seq, topic, symbol, {Serialise(message), 0}};
  std::lock_guard lock(mutex_);
  // Only quotes: a bar is a minute of its own, and an order, fill, decision, risk or account
  // message is an event a client must not miss.
  if (topic == kTopicQuotes && !symbol.empty()) {
    item.message.supersede_key =
        quote_keys_.try_emplace(symbol, quote_keys_.size() + 1).first->second;
  }
  PublishLocked(std::move(item));
}

void StreamHub::PublishBesideLog(Topic topic, const std::string& id, const nlohmann::json& data) {
  std::lock_guard lock(mutex_);
  // Numbered under the lock: a Publish between taking the seq and keeping the item would put a
  // lower seq after a higher one.
  const uint64_t seq = std::max<uint64_t>(last_seq_, 1);
  const nlohmann::json message{
      {"topic", TopicName(topic)}, {"seq", seq}, {"id", id}, {"data", data}};
  PublishLocked(Item{seq, topic, std::string(), {Serialise(message), 0}});
}

uint64_t StreamHub::last_seq() const {
  std::lock_guard lock(mutex_);
  return std::max<uint64_t>(last_seq_, 1);
}

void StreamHub::PublishLocked(Item item) {
  last_seq_ = std::max(last_seq_, item.seq);
  ++published_;
  for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
    if (Wants(it->second.filter, item) && !it->second.sink(item.message)) {
      it = subscriptions_.erase(it);
    } else {
      ++it;
    }
  }
  kept_.push_back(std::move(item));
  if (kept_.size() > keep_) {
    dropped_seq_ = kept_.front().seq;
    kept_.pop_front();
  }
}

StreamHub::Subscribed StreamHub::Subscribe(Filter filter, uint64_t from, Sink sink) {
  std::lock_guard lock(mutex_);
  Subscribed out;
  out.oldest = kept_.empty() ? 0 : kept_.front().seq;
  out.last = last_seq_;
  out.dropped = dropped_seq_;
  if (from > 0) {
    for (const Item& item : kept_) {
      if (item.seq < from || !Wants(filter, item)) continue;
      if (!sink(item.message)) return out;  // refused while catching up: no subscription
      ++out.replayed;
    }
  }
  out.id = next_id_++;
  subscriptions_.emplace(out.id, Subscription{std::move(filter), std::move(sink)});
  return out;
}

void StreamHub::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mutex_);
  subscriptions_.erase(id);
}

size_t StreamHub::subscriptions() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

uint64_t StreamHub::published() const {
  std::lock_guard lock(mutex_);
  return published_;
}

}  // namespace aits::api
