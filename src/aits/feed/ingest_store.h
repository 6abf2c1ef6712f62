// Where `aits ingest` puts what the collectors send: one file per symbol in a directory, grown
// batch by batch, and a small state file that makes a restarted ingest continue where the last
// one committed (docs/feed.md, "aits collect and aits ingest").
//
// Files: DIR/SYMBOL.bin (a binary tick store, data/tick_store.h, what `aits backtest` reads) or
// DIR/SYMBOL.csv (csv-ticks: "timestamp,bid,ask,bid_volume,ask_volume", ISO 8601 UTC times,
// prices at the symbol's digits), and DIR/ingest.state, one line per symbol:
//   SYMBOL FORMAT RECORDS BYTES DIGITS LAST_NS LAST_SEQUENCE
// Commit appends a batch's ticks to their files, then rewrites the state (a temporary file renamed
// over it). The state is the commit point: a new IngestStore cuts every file back to what the
// state counts (an ingest killed between the two leaves ticks that were never acknowledged, and
// the collector sends them again), and refuses a file the state does not name.
//
// Why a state file: the collector numbers each symbol's ticks 1, 2, ... and resends what it is not
// sure was delivered; the server's DedupReceiver remembers keys in memory only, so after a restart
// the resent ticks would be stored twice. The state keeps each symbol's last stored (time,
// sequence), the watermark: a tick at or before it, compared by time then sequence, is dropped as
// already stored (stats: stale). The collector sends a symbol's ticks in acceptance order (times
// never going back, sequences rising), so the watermark is exact for one collector per symbol;
// it also keeps the files in time order whatever arrives. A collector restarted within the
// millisecond of the last stored tick starts its sequences at 1 again, and its ticks of that
// millisecond are dropped as stale (counted): the bound the docs state.
//
// Nothing is synced to disk unless CommitOptions::sync: a killed ingest loses nothing it
// acknowledged, a crash of the machine may. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/feed/tick_batch.h"

namespace aits::feed {

enum class IngestFormat : uint8_t { kBinary, kCsv };
std::string_view ToString(IngestFormat format);  // "bin", "csv"

struct IngestSymbolStats {
  std::string symbol;
  uint64_t stored = 0;   // ticks appended by this store
  uint64_t stale = 0;    // dropped: at or before the symbol's watermark
  uint64_t records = 0;  // ticks in the file (earlier runs' too)
};

struct IngestStats {
  uint64_t commits = 0;
  uint64_t stored = 0;
  uint64_t stale = 0;
  uint64_t refused = 0;  // ticks of symbols whose names cannot be file names
  std::string last_refusal;
};

class IngestStore {
 public:
  // Opens `dir` (created if absent) and its state; every file the state names is cut back to its
  // committed size. InvalidArgument naming the file, line and field for a bad state file, or a
  // state of the other format; DataLoss for a file shorter than its state says; IoError.
  static Result<std::unique_ptr<IngestStore>> Open(const std::string& dir, IngestFormat format,
                                                   bool sync = false);
  ~IngestStore();
  IngestStore(const IngestStore&) = delete;
  IngestStore& operator=(const IngestStore&) = delete;

  // Stores one batch's ticks (instrument = an id that `name` turns into the symbol; prices at the
  // symbol's digits) and then the state. Ticks at or before their symbol's watermark are dropped
  // and counted; a symbol name that is not 1..31 of [A-Za-z0-9._-] (not starting with '.') is
  // refused, its ticks counted. Errors (IoError; InvalidArgument for a file the state does not
  // name, or a symbol whose digits changed) leave the state as it was: the batch must not be
  // acknowledged, and the store must be discarded (a new one starts from the state). The ids
  // must keep their names for the store's life (a DedupReceiver's do).
  Status Commit(std::span<const SequencedTick> ticks,
                const std::function<const std::string&(uint32_t)>& name);

  const IngestStats& stats() const { return stats_; }
  // Per symbol, in the order the store first saw them (the state's first).
  std::vector<IngestSymbolStats> symbol_stats() const;
  std::string path_of(const std::string& symbol) const;

 private:
  struct Symbol;
  IngestStore(std::string dir, IngestFormat format, bool sync);
  Status LoadState();
  Status WriteState();
  // The index of the symbol's entry in symbols_, created (with its file) on first use;
  // -1 for a name that cannot be a file.
  Result<int> Find(const std::string& name, int digits);

  std::string dir_;
  IngestFormat format_;
  bool sync_;
  std::vector<std::unique_ptr<Symbol>> symbols_;
  std::vector<int> by_id_;  // the caller's symbol id -> index in symbols_ (-1 refused, -2 unseen)
  std::vector<Tick> scratch_;
  std::string text_;
  IngestStats stats_;
};

}  // namespace aits::feed
