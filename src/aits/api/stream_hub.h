// StreamHub: the API's live streams (docs/api.md, "Streams"). SessionView publishes every event
// it reads as a message on a topic — quotes, bars, orders, fills, account, decisions, risk —
// numbered by the event's seq in the session's log; each message is serialised once and shared
// by every WebSocket that subscribed to its topic and symbol. The last `keep` messages are kept,
// so a client that reconnects resumes from the seq it last saw (items at or after it are sent
// again: a client drops the seqs it has) without a gap, or is told that the gap is too old.
// A quote carries its symbol's key, under which a newer quote supersedes it while it waits for
// a client that lags (WsQueue); every other message has none and reaches every client. Alerts
// are not in the log: they are published beside it, numbered by the newest seq.
//
// Thread-safety: every call from any thread, under one mutex. A sink is called under it: it
// must only queue (WebSocketPeer::Send) and return; false removes its subscription.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aits/core/status.h"

namespace aits::api {

// Topics as bits, so that a subscription's filter is one AND.
enum Topic : uint32_t {
  kTopicQuotes = 1,
  kTopicBars = 2,
  kTopicOrders = 4,
  kTopicFills = 8,
  kTopicAccount = 16,
  kTopicDecisions = 32,
  kTopicRisk = 64,
  kTopicAlerts = 128,  // not from the log: PublishBesideLog
};
std::string_view TopicName(Topic topic);
// "quotes", ...; InvalidArgument naming the text (and the topics there are) otherwise.
Result<Topic> ParseTopic(std::string_view name);

class StreamHub {
 public:
  struct Message {
    std::shared_ptr<const std::string> text;
    // Non-zero for a quote, one per symbol: a newer message with the same key makes it
    // obsolete (a dashboard wants the latest price, not every tick). 0: must be delivered.
    uint64_t supersede_key = 0;
  };
  using Sink = std::function<bool(const Message&)>;
  struct Filter {
    uint32_t topics = 0;            // Topic bits
    std::set<std::string> symbols;  // empty: every symbol (messages without one always pass)
  };
  struct Subscribed {
    uint64_t id = 0;
    uint64_t oldest = 0;   // the oldest seq kept (0: none yet)
    uint64_t dropped = 0;  // the newest seq no longer kept (0: nothing dropped); a `from` at or
                           // before it has lost messages
    uint64_t last = 0;     // the newest seq published
    uint64_t replayed = 0;
  };

  explicit StreamHub(size_t keep = 100000) : keep_(keep) {}

  // {"topic", "seq", "symbol" (when given), "data"} to every subscription that wants it.
  void Publish(uint64_t seq, Topic topic, const std::string& symbol, const nlohmann::json& data);
  // A message that is not an event of the log (an alert): it takes last_seq(), so that the seqs
  // a client gets never go down and a resume from a seq brings it again, and carries `id`,
  // which tells it apart from the event and other messages of that seq.
  // {"topic", "seq", "id", "data"}; to every subscription of the topic, whatever its symbols.
  void PublishBesideLog(Topic topic, const std::string& id, const nlohmann::json& data);
  // The newest seq published, and at least 1: a `from` of 0 means "live only", so a message
  // published beside the log before any event takes 1 and can be resumed from.
  uint64_t last_seq() const;
  // Sends the kept messages with seq >= from that pass the filter (from 0: none, live only),
  // then every new one, until Unsubscribe or the sink refuses.
  Subscribed Subscribe(Filter filter, uint64_t from, Sink sink);
  void Unsubscribe(uint64_t id);

  size_t subscriptions() const;
  uint64_t published() const;

 private:
  struct Item {
    uint64_t seq;
    Topic topic;
    std::string symbol;
    Message message;
  };
  struct Subscription {
    Filter filter;
    Sink sink;
  };
  static bool Wants(const Filter& f, const Item& item);
  void PublishLocked(Item item);  // under mutex_

  const size_t keep_;
  mutable std::mutex mutex_;
  std::deque<Item> kept_;
  std::map<uint64_t, Subscription> subscriptions_;
  uint64_t next_id_ = 1;
  uint64_t last_seq_ = 0;
  uint64_t dropped_seq_ = 0;
  uint64_t published_ = 0;
  std::map<std::string, uint64_t, std::less<>> quote_keys_;  // symbol -> its quotes' key
};

}  // namespace aits::api
