// The collector's spill file: tick batches kept on local disk while the uplink is away, resent in
// order when it is back (docs/feed.md, "The spill file format").
//
// Layout (little-endian), append-only:
//   header  16 bytes: magic "AITSSPL1" | u32 version (1) | u32 zero
//   record  u32 length | u32 crc32 (zlib's CRC-32 of the length's four bytes, then the body) |
//           body: `length` bytes, one whole tick batch (tick_batch.h)
// A record is written with one write() at the end of the file. Durability (SpillOptions::sync):
// kEveryRecord (the default) calls fdatasync after each record, so a record the collector has
// counted as spilled survives a power cut; a record is a whole batch (the collector writes 5,000
// ticks per record when its ring overflows), which keeps the syncs few under load. kNone leaves
// flushing to the OS (a process crash loses nothing, a power cut may lose the last seconds).
//
// Recovery (Open): records are read from the start. The first one cut short (a length, CRC or
// body running past the end of the file: the torn write of a crash) or whose length or CRC is
// wrong ends the valid part: it and anything after it are dropped, the file is truncated to the
// valid part and synced, and SpillRecovery counts what was dropped. Earlier records are kept. A
// file that is not a spill file (another magic or version) is refused, never overwritten.
//
// Resend: Front() reads the oldest record not yet resent, PopFront() marks it sent; when the last
// one is popped the file is truncated back to its header. Progress is not persisted: after a
// crash during a resend the records are resent again and the receiver drops the duplicates
// (dedup.h). Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"

namespace aits::feed {

enum class SpillSync : uint8_t {
  kEveryRecord,  // fdatasync after every record (default)
  kNone,         // the OS flushes when it likes
};

struct SpillOptions {
  SpillSync sync = SpillSync::kEveryRecord;
  // Records longer than this are refused when written and treated as corrupt when read.
  uint32_t max_record_bytes = 64u << 20;
};

// What Open found and dropped.
struct SpillRecovery {
  uint64_t records = 0;          // valid records kept (not yet resent)
  uint64_t torn_records = 0;     // a record cut short at the end of the file (0 or 1)
  uint64_t corrupt_records = 0;  // a record with a bad length or CRC (0 or 1)
  uint64_t dropped_bytes = 0;    // bytes truncated away with them
  std::string detail;            // empty, or what was dropped and at which offset
};

class SpillFile {
 public:
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  // Opens or creates `path` and recovers it as described above. IoError if the file cannot be
  // opened, read, truncated or synced; InvalidArgument if it is not a spill file.
  static Result<std::unique_ptr<SpillFile>> Open(const std::string& path,
                                                 SpillOptions options = {});

  // Appends one record (and syncs per the policy). On a failed or short write the file is cut
  // back to its previous end and IoError returned: the caller still holds the batch.
  Status Append(std::span<const uint8_t> body);

  bool empty() const { return unsent_.empty(); }
  size_t records() const { return unsent_.size(); }
  uint64_t file_bytes() const { return end_; }
  const SpillRecovery& recovery() const { return recovery_; }
  const std::string& path() const { return path_; }

  // Reads the oldest unsent record's body into `out`. Precondition: !empty(). DataLoss if the
  // record changed on disk since it was written or recovered (its CRC no longer matches).
  Status Front(std::vector<uint8_t>& out);
  // Marks the oldest record sent; truncates the file to its header when none is left.
  // Precondition: !empty().
  Status PopFront();

 private:
  struct Record {
    uint64_t offset;  // of the record's length field
    uint32_t length;  // of the body
  };
  SpillFile(std::string path, int fd, SpillOptions options);
  Status Recover(uint64_t size);
  Status Sync();

  std::string path_;
  int fd_ = -1;
  SpillOptions options_;
  uint64_t end_ = 0;
  std::deque<Record> unsent_;
  SpillRecovery recovery_;
  std::vector<uint8_t> scratch_;
};

}  // namespace aits::feed
