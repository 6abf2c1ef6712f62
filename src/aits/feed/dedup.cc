#include "aits/feed/dedup.h"

#include "aits/core/hash.h"

namespace aits::feed {

size_t DedupReceiver::KeyHash::operator()(const Key& key) const {
  return static_cast<size_t>(
      Mix64(static_cast<uint64_t>(key.ts) ^ Mix64(key.sequence ^ (uint64_t{key.symbol} << 40))));
}

DedupReceiver::DedupReceiver(size_t window, DecodeLimits limits)
    : window_(window == 0 ? 1 : window), limits_(limits) {}

Status DedupReceiver::Receive(std::span<const uint8_t> batch, std::vector<SequencedTick>& out) {
  Status status = codec_.Decode(batch, batch_, limits_);
  if (!status.ok()) {
    ++stats_.bad_batches;
    return status;
  }
  ++stats_.batches;
  batch_to_receiver_.clear();
  for (const BatchSymbol& symbol : batch_.symbols) {
    auto [it, inserted] =
        symbol_ids_.try_emplace(symbol.name, static_cast<uint32_t>(symbols_.size()));
    if (inserted) symbols_.push_back(symbol.name);
    batch_to_receiver_.push_back(it->second);
  }
  for (SequencedTick st : batch_.ticks) {
    const uint32_t symbol = batch_to_receiver_[st.tick.instrument.value];
    const Key key{symbol, st.tick.ts.ns, st.sequence};
    if (!seen_.insert(key).second) {
      ++stats_.duplicates;
      continue;
    }
    order_.push_back(key);
    if (order_.size() > window_) {
      seen_.erase(order_.front());
      order_.pop_front();
      ++stats_.evicted_keys;
    }
    st.tick.instrument = InstrumentId{symbol};
    out.push_back(st);
    ++stats_.ticks;
  }
  return Status::Ok();
}

}  // namespace aits::feed
