#include "aits/trace/tick_traces.h"

namespace aits::trace {

void TickTraces::Add(uint32_t instrument, Timestamp first, std::string_view traceparent) {
  SpanContext context;
  if (!traceparent.empty()) {
    Result<SpanContext> parsed = ParseTraceparent(traceparent);
    if (parsed.ok()) context = *parsed;
  }
  const std::lock_guard<std::mutex> lock(mutex_);
  if (by_instrument_.size() <= instrument) by_instrument_.resize(instrument + 1);
  auto& entries = by_instrument_[instrument];
  // A message without a traceparent after another without: nothing to tell apart.
  if (!context.valid() && (entries.empty() || !entries.back().second.valid())) return;
  entries.emplace_back(first, context);
  if (entries.size() > kMaxPerInstrument) {
    entries.pop_front();
    ++dropped_;
  }
}

SpanContext TickTraces::Of(uint32_t instrument, Timestamp ts) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (instrument >= by_instrument_.size()) return {};
  auto& entries = by_instrument_[instrument];
  while (entries.size() >= 2 && entries[1].first <= ts) entries.pop_front();
  if (entries.empty() || entries.front().first > ts) return {};
  return entries.front().second;
}

uint64_t TickTraces::dropped() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

}  // namespace aits::trace
