// The server side of the collector's uplink: decodes tick batches and drops the ticks it has
// already delivered, keyed by (symbol, time, sequence) (docs/feed.md).
//
// Duplicates are expected, not an error: the collector resends its spill file after an outage,
// and a batch whose acknowledgement was lost (or a spill resent again after a crash before the
// file was emptied) arrives twice. Each key is remembered in a window of the most recent
// `window` keys (a FIFO; default 1,000,000, about 100 bytes a key): a duplicate older than the
// window is delivered again, which the docs state as the bound. A batch that fails to decode is
// refused whole (its Status says why and where) and counted; nothing in it is delivered.
//
// Symbols are numbered by the receiver in the order it first sees them (symbol_name()), so the
// delivered ticks' instrument ids are the receiver's, not the batch's. Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "aits/core/status.h"
#include "aits/feed/tick_batch.h"

namespace aits::feed {

struct ReceiverStats {
  uint64_t batches = 0;       // decoded
  uint64_t bad_batches = 0;   // refused (decode error)
  uint64_t ticks = 0;         // delivered
  uint64_t duplicates = 0;    // dropped as already delivered
  uint64_t evicted_keys = 0;  // keys that left the window
};

class DedupReceiver {
 public:
  explicit DedupReceiver(size_t window = 1'000'000, DecodeLimits limits = {});

  // Decodes `batch` and appends its new ticks to `out` (instrument = the receiver's symbol id).
  // Returns the decode error and appends nothing if the batch is bad.
  Status Receive(std::span<const uint8_t> batch, std::vector<SequencedTick>& out);

  const ReceiverStats& stats() const { return stats_; }
  // The name of a symbol id the receiver handed out; precondition: id < symbol_count().
  const std::string& symbol_name(uint32_t id) const { return symbols_[id]; }
  size_t symbol_count() const { return symbols_.size(); }

 private:
  struct Key {
    uint32_t symbol;
    int64_t ts;
    uint64_t sequence;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };

  size_t window_;
  DecodeLimits limits_;
  TickBatchCodec codec_;
  TickBatch batch_;
  std::vector<uint32_t> batch_to_receiver_;
  std::unordered_map<std::string, uint32_t> symbol_ids_;
  std::vector<std::string> symbols_;
  std::unordered_set<Key, KeyHash> seen_;
  std::deque<Key> order_;
  ReceiverStats stats_;
};

}  // namespace aits::feed
