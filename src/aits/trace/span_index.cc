#include "aits/trace/span_index.h"

namespace aits::trace {

void SpanIndex::Put(uint64_t key, const SpanContext& span) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (spans_.insert_or_assign(key, span).second) keys_.push_back(key);
  while (keys_.size() > capacity_) {
    spans_.erase(keys_.front());
    keys_.pop_front();
  }
}

SpanContext SpanIndex::Get(uint64_t key) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = spans_.find(key);
  return found == spans_.end() ? SpanContext{} : found->second;
}

}  // namespace aits::trace
