// The traceparents of the market-data messages a reader took, handed to the thread that later
// takes their ticks (docs/monitoring.md, "Traces"). The account's owner reads MARKET messages
// (each the root of a trace, "md.publish") on its feed's thread, or on the kernel's when pulled;
// the ticks reach the kernel one by one, without their message. The reader notes, per
// instrument, the time of each message's first tick and its traceparent; the kernel's side
// asks for the message of the tick it is taking, by its time, and opens its decision's span
// under it.
//
// By time, not by sequence: a tick of the same time as the next message's first tick, at the end
// of its own message, is taken for the next message's (its decision hangs under that message's
// md.publish, a neighbour of the right one).
//
// Threads: Add and Of may be called from different threads (a mutex held for a deque's push or
// a short walk). Of is meant to be called with non-decreasing times per instrument: it forgets
// the entries before the one it answers with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "aits/core/time.h"
#include "aits/trace/traceparent.h"

namespace aits::trace {

class TickTraces {
 public:
  // Per instrument, entries kept for a taker that never asks; the oldest go first (counted).
  static constexpr size_t kMaxPerInstrument = 65'536;

  // Reader: the ticks of `instrument` from time `first` on came in a message with
  // `traceparent`. Empty or malformed: none (noted all the same, so that its ticks are not
  // taken for the previous message's).
  void Add(uint32_t instrument, Timestamp first, std::string_view traceparent);
  // Taker: the context of the message that carried the tick of `instrument` at `ts` (the last
  // noted with a first tick at or before it); invalid: none, or nothing noted.
  SpanContext Of(uint32_t instrument, Timestamp ts);
  // Entries dropped unasked (kMaxPerInstrument).
  uint64_t dropped() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::deque<std::pair<Timestamp, SpanContext>>> by_instrument_;
  uint64_t dropped_ = 0;
};

}  // namespace aits::trace
