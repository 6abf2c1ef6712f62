// WsQueue: what one WebSocket client has yet to be sent — the messages that arrived while its
// last write was in flight — taken by the writer as one frame, one message per line.
//
// Conflation: a message queued with a key (StreamHub gives each quote its symbol's key)
// supersedes the message with the same key that is still waiting. The older one is dropped and
// the newer one goes to the back, so that a client that lags gets the latest quote of each
// symbol rather than every tick, and what it gets stays in the order it was queued (seq order:
// a client that resumes from the last seq it has loses nothing but superseded quotes). A
// message without a key (0) is never dropped.
//
// Bounded: `limit` messages waiting (superseded ones do not count); Push refuses the next one.
// Not thread-safe: the connection's peer holds it under its mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace aits::api {

class WsQueue {
 public:
  explicit WsQueue(size_t limit) : limit_(limit) {}

  // Queues `text`, superseding the waiting message with the same non-zero key. False, and
  // nothing queued, when `limit` messages wait already and none is superseded.
  bool Push(std::shared_ptr<const std::string> text, uint64_t key);
  // Replaces `frame` with the waiting messages, one per line, oldest first: at least one, and
  // more while the frame stays under `max_bytes`. Returns how many (0: none waiting).
  size_t TakeFrame(std::string* frame, size_t max_bytes);

  size_t size() const { return live_; }
  // Messages dropped because a newer one with their key came (since the queue was made).
  uint64_t superseded() const { return superseded_; }

 private:
  struct Entry {
    std::shared_ptr<const std::string> text;  // null: superseded, skipped when taken
    uint64_t key;
  };
  void Compact();

  const size_t limit_;
  std::deque<Entry> entries_;
  uint64_t front_ = 0;  // the position of entries_.front() among all entries ever queued
  std::unordered_map<uint64_t, uint64_t> waiting_;  // key -> position of its waiting entry
  size_t live_ = 0;
  size_t dead_ = 0;  // superseded entries still in entries_
  uint64_t superseded_ = 0;
};

}  // namespace aits::api
