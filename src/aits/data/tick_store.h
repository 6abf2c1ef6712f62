// Binary tick store: a history converted once by `aits import`, replayed by later runs.
//
// Layout (little-endian): a 128-byte header then fixed 32-byte records.
//   header: magic "AITSTCK1" | u32 version (1) | u32 record_size (32) | u64 count | i32 digits |
//           char symbol[32] | i64 first_ts | i64 last_ts | u64 checksum (FNV-1a of the records) |
//           zero padding to 128 bytes.
//   record: i64 ts_ns | i64 bid_raw | i64 ask_raw (1e-9 units) | f32 bid_volume | f32 ask_volume.
// Header offsets: magic 0, version 8, record_size 12, count 16, digits 24, symbol 28 (NUL-padded,
// at most 31 characters), first_ts 60, last_ts 68, checksum 76. The checksum is 64-bit FNV-1a
// taken one little-endian 64-bit word of the records at a time (four words per record), which
// keeps it off the replay's critical path; a mismatch is reported as DataLoss when replay reaches
// the end, after every record has been delivered.
// Wrong magic or version is InvalidArgument; anything else wrong with the header is DataLoss.
// The reader validates the header (magic, version, record size, that the file size matches count,
// truncated files are DataLoss errors naming the file and the sizes) and every record as it
// replays (the same rules as text formats; bad records are counted, never crash). It reads the
// records in chunks into one buffer, so resident memory stays flat however long the history; a
// file cut short during the replay is a DataLoss naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/data/source.h"

namespace aits::data {

struct TickStoreInfo {
  std::string symbol;
  int digits = 5;
  uint64_t count = 0;
  Timestamp first;
  Timestamp last;
};

struct ImportReport {
  TickStoreInfo info;
  ReadStats stats;  // what the source rejected while importing
};

// Reads every tick from `source` and writes `out_path` (atomically: a temp file renamed on
// success). InvalidArgument, and no file, when the source yields no valid tick. `progress` may be
// null; it is called with 0..1 now and then.
Result<ImportReport> ImportTicks(TickSource& source, const std::string& symbol, int digits,
                                 const std::string& out_path, void (*progress)(double) = nullptr);

// Reads only the header (for `aits info` and for picking the instrument's digits).
Result<TickStoreInfo> ReadTickStoreInfo(const std::string& path);

// Opens a store for replay (what OpenTicks does for DataFormat::kBinary).
Result<std::unique_ptr<TickSource>> OpenTickStore(const std::string& path,
                                                  const ReadOptions& options);

// Grows a store one Append at a time, for a writer that stores ticks as they arrive (`aits
// ingest`). Each Append writes its records after the last one, then the header (count, last time,
// checksum): the header's count is the commit point, so the file is a complete store between
// appends, and after a writer killed mid-append its records past the count are dropped by the
// next Open. Nothing is synced unless Sync is called: a killed process loses nothing written,
// a crash of the machine may. Single-threaded; one appender per file.
class TickStoreAppender {
 public:
  // Opens `path`, creating it (no records) if absent. An existing store must hold `symbol` with
  // `digits` (else InvalidArgument) and keeps its first `keep` records (all that its header
  // counts when nullopt): what lies beyond is cut off and the checksum and times are recomputed
  // over what is kept (DataLoss if it has fewer than `keep`, or if its records no longer match
  // its checksum). IoError for the file system's failures.
  static Result<std::unique_ptr<TickStoreAppender>> Open(const std::string& path,
                                                         const std::string& symbol, int digits,
                                                         std::optional<uint64_t> keep = {});
  ~TickStoreAppender();
  TickStoreAppender(const TickStoreAppender&) = delete;
  TickStoreAppender& operator=(const TickStoreAppender&) = delete;

  // Appends the ticks (prices already at the store's digits). InvalidArgument, and nothing
  // written, if a tick is earlier than the one before it; IoError if a write fails (the header
  // still counts only the earlier records).
  Status Append(std::span<const Tick> ticks);
  // fdatasync: what was appended survives a crash of the machine.
  Status Sync();

  const TickStoreInfo& info() const { return info_; }

 private:
  TickStoreAppender(int fd, std::string path, TickStoreInfo info, uint64_t checksum);

  int fd_;
  std::string path_;
  TickStoreInfo info_;
  uint64_t checksum_;
  std::vector<uint8_t> buffer_;  // one Append's records
};

}  // namespace aits::data
