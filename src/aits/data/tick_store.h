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

// What TickStoreAppender::Open found in the file and what it did about it.
struct AppendOpening {
  bool created = false;        // there was no file: an empty store (count 0) was written
  uint64_t cut_bytes = 0;      // the bytes of a torn last record, cut off
  uint64_t adopted = 0;        // whole records past the header's count, written before a crash
                               // stopped the header's update, checked and counted in
  uint64_t trailing_same = 0;  // the records at the end that share the last record's time
};

// A store that grows: `aits history` appends each downloaded slice, and a download stopped at any
// moment (killed, a failed slice) is continued by opening the file again. Each Append writes the
// records, then the header that counts them, so a reader sees the store as it was after the last
// whole Append; Open repairs what a kill in between leaves (a torn record is cut, whole records
// the header does not count yet are checked and adopted) and says so in AppendOpening. The
// checksum of an existing store is recomputed over its records (a mismatch with the header is
// DataLoss: the file was changed by something else). A store of another symbol or digits is
// InvalidArgument naming the file and both values; a file that is no store, InvalidArgument.
// The same ticks appended in any number of Appends, across any number of Opens, give the same
// bytes as one ImportTicks of them would.
// Threads: one thread uses an appender.
class TickStoreAppender {
 public:
  // `keep` (aits ingest, whose own state file is its commit point): the store keeps exactly its
  // first `keep` records, cutting off whatever lies beyond (counted or not) and adopting none
  // (DataLoss naming the file if it holds fewer).
  static Result<std::unique_ptr<TickStoreAppender>> Open(const std::string& path,
                                                         const std::string& symbol, int digits,
                                                         AppendOpening* opening = nullptr,
                                                         std::optional<uint64_t> keep = {});
  ~TickStoreAppender();
  TickStoreAppender(const TickStoreAppender&) = delete;
  TickStoreAppender& operator=(const TickStoreAppender&) = delete;

  // Appends ticks at or after the last one (else InvalidArgument naming the tick and the file;
  // nothing of that call is written). IoError when the disk refuses.
  Status Append(std::span<const Tick> ticks);
  // Flushes the file to the disk (the end of a download; a kill needs no flush to keep the data).
  Status Sync();
  const TickStoreInfo& info() const { return info_; }
  const std::string& path() const { return path_; }

 private:
  TickStoreAppender(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status WriteHeader();

  int fd_;
  std::string path_;
  TickStoreInfo info_;
  uint64_t checksum_ = 0;
};

// Reads only the header (for `aits info` and for picking the instrument's digits).
Result<TickStoreInfo> ReadTickStoreInfo(const std::string& path);

// Opens a store for replay (what OpenTicks does for DataFormat::kBinary).
Result<std::unique_ptr<TickSource>> OpenTickStore(const std::string& path,
                                                  const ReadOptions& options);

}  // namespace aits::data
