// Spans by a key (an order id), kept by the thread that opened them for another thread that
// later publishes something about the same thing: the account's owner opens each traced order's
// span on the kernel's thread; its log relay, on its own thread, publishes the order's events to
// ORDERS under that span (docs/monitoring.md, "Traces").
//
// Thread-safe (a mutex held for a map's insert or find). Bounded: the oldest keys go first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "aits/trace/traceparent.h"

namespace aits::trace {

class SpanIndex {
 public:
  explicit SpanIndex(size_t capacity = 65'536) : capacity_(capacity) {}

  // `key`'s span from now on (a key put again takes the later span).
  void Put(uint64_t key, const SpanContext& span);
  // `key`'s span; invalid when none was put, or it was forgotten.
  SpanContext Get(uint64_t key) const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, SpanContext> spans_;
  std::deque<uint64_t> keys_;  // in the order first put
};

}  // namespace aits::trace
