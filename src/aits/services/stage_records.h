// What the features role keeps beyond the bus (docs/services.md, "Stores"): every closed bar in
// the bar store and every ready feature row in the offline feature store (persistence/
// bar_store.h, feature_store.h), on SQLite or PostgreSQL by location.
//
// Unlike the Redis copies (stage_cache.h), these are records: a write that fails ends the role
// with the error naming the store, and its supervisor restarts it. Nothing is lost or doubled by
// that: the restarted role recomputes its bars and rows from the first tick of the MARKET stream
// (its state is its indicators'), publishes them again (the stream stores each id once) and
// writes them again (the stores keep the first copy of each key). The same holds for a role
// killed between its publish and its write.
//
// Off the role's path: rows are published to the bus first; the records are gathered into
// batches of `batch` or `interval`, whichever comes first, and a thread of the StageRecords'
// own writes each batch (one transaction per store), so the role goes on computing while the
// store works. A writer that falls behind holds at most `max_queued` records: the role then
// waits for it (memory stays bounded). Its first error is returned by the next Flush.
//
// Thread-compatible: one per stage run, used from that run's thread; each has its own
// connections, used by its writer thread only once opened.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aits/core/latency_histogram.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/market.h"
#include "aits/persistence/bar_store.h"
#include "aits/persistence/feature_store.h"
#include "aits/trading/signal_source.h"

namespace aits::services {

struct StageRecordOptions {
  std::string bars;              // a bar store's location; empty: bars not kept
  std::string offline_features;  // an offline feature store's location; empty: rows not kept
  // FeatureSet::name of the rows: the model ("ensemble@3") or the rule signal with its
  // parameters ("sma_cross(fast=3,slow=8)").
  std::string feature_set;
  size_t batch = 512;                        // records per write at most
  Duration interval = Duration::Seconds(1);  // a record waits at most this long for its batch
  size_t max_queued = 16 * 512;              // records handed to the writer, not yet written
  bool any() const { return !bars.empty() || !offline_features.empty(); }
};

struct RecordCounters {
  uint64_t bars = 0;           // bars written (newly stored or stored already)
  uint64_t bars_new = 0;       // of those, not stored before
  uint64_t rows = 0;           // feature rows written
  uint64_t rows_new = 0;       // of those, not stored before
  uint64_t writes = 0;         // batches (transactions)
  LatencyHistogram write;      // per batch: the time its writes took, ns
  int64_t write_total_ns = 0;  // all batches' time: what the stores cost the role
};

class StageRecords {
 public:
  // Opens the stores of `options` (each of its own connection) and registers the feature set of
  // `source` under options.feature_set. Errors name the store and its location.
  static Result<std::unique_ptr<StageRecords>> Open(const StageRecordOptions& options,
                                                    const trading::SignalSource& source);

  // Stops the writer; what it had not written is lost (a restart writes it again).
  ~StageRecords();
  StageRecords(const StageRecords&) = delete;
  StageRecords& operator=(const StageRecords&) = delete;

  // A closed bar of `symbol` and, when `ready`, its feature row; held until a batch is due.
  void Add(const std::string& symbol, const Bar& bar, bool ready, const std::vector<float>& row);
  // Hands what is held to the writer when a batch is due; returns the writer's first error.
  Status Flush();
  // Hands over whatever is held and waits until the writer has written everything: its first
  // error, or Ok when every record is stored.
  Status Finish();
  // What the writer has done so far (all of it after Finish).
  RecordCounters counters() const;

 private:
  struct Batch {
    std::vector<persistence::StoredBar> bars;
    std::vector<persistence::StoredFeatureRow> rows;
    size_t size() const { return bars.size() + rows.size(); }
  };
  explicit StageRecords(StageRecordOptions options) : options_(std::move(options)) {}
  Status HandOver();
  void WriteLoop();
  Status Write(const Batch& batch);

  StageRecordOptions options_;
  std::unique_ptr<persistence::BarStore> bars_;
  std::unique_ptr<persistence::FeatureStore> features_;
  std::string feature_set_;    // its id
  Batch held_;                 // the run's thread's
  int64_t held_since_ns_ = 0;  // steady clock, of the oldest held record

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> queue_;  // handed over, not written yet
  size_t queued_ = 0;        // records in queue_ and in the batch being written
  bool stopping_ = false;
  Status error_;  // the writer's first
  RecordCounters counters_;
  std::thread writer_;
};

// Opens the stores of `options` once, to check them (and migrate their schema) before a role
// starts: a location that cannot be opened is an error at start, naming it.
Status CheckStageRecords(const StageRecordOptions& options);

}  // namespace aits::services
