#include "aits/data/tick_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "aits/core/hash.h"
#include "aits/data/internal/readers.h"

namespace aits::data {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'T', 'S', 'T', 'C', 'K', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kRecordSize = 32;
constexpr size_t kHeaderSize = 128;
constexpr size_t kSymbolSize = 32;
// Header field offsets (see tick_store.h).
constexpr size_t kOffVersion = 8, kOffRecordSize = 12, kOffCount = 16, kOffDigits = 24,
                 kOffSymbol = 28, kOffFirst = 60, kOffLast = 68, kOffChecksum = 76;

// Prices at or above 1e9 are rejected, as by the text parsers (sums of two prices must fit).
constexpr int64_t kMaxRaw = 1'000'000'000LL * kFixedScale;

struct Record {
  int64_t ts;
  int64_t bid;
  int64_t ask;
  float bid_volume;
  float ask_volume;
};
static_assert(sizeof(Record) == kRecordSize);

// FNV-1a over the record's four little-endian 64-bit words (a word at a time rather than a byte
// at a time keeps the checksum off the replay's critical path).
inline uint64_t ChecksumRecord(uint64_t hash, const Record& record) {
  uint64_t words[4];
  std::memcpy(words, &record, sizeof(words));
  for (uint64_t word : words) {
    hash ^= word;
    hash *= kFnvPrime;
  }
  return hash;
}

template <typename T>
void Put(char* header, size_t offset, T value) {
  std::memcpy(header + offset, &value, sizeof(T));
}
template <typename T>
T Get(const char* header, size_t offset) {
  T value;
  std::memcpy(&value, header + offset, sizeof(T));
  return value;
}

struct Header {
  TickStoreInfo info;
  uint64_t checksum = 0;
};

// `bytes`: the file's first min(file_size, kHeaderSize) bytes.
Result<Header> DecodeHeader(std::string_view bytes, uint64_t file_size, const std::string& path) {
  if (file_size == 0) return DataLoss(path + ": empty file, not an AITS tick store");
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return InvalidArgument(path + ": not an AITS tick store (bad magic, expected AITSTCK1)");
  }
  if (bytes.size() < kHeaderSize) {
    return DataLoss(path + ": truncated header: " + std::to_string(bytes.size()) + " of " +
                    std::to_string(kHeaderSize) + " bytes");
  }
  const char* raw = bytes.data();
  const auto version = Get<uint32_t>(raw, kOffVersion);
  if (version != kVersion) {
    return InvalidArgument(path + ": unsupported tick store version " + std::to_string(version) +
                           " (this build reads version 1)");
  }
  const auto record_size = Get<uint32_t>(raw, kOffRecordSize);
  if (record_size != kRecordSize) {
    return DataLoss(path + ": corrupt header: record size " + std::to_string(record_size) +
                    ", expected 32");
  }
  Header header;
  header.info.count = Get<uint64_t>(raw, kOffCount);
  header.info.digits = Get<int32_t>(raw, kOffDigits);
  if (header.info.digits < 0 || header.info.digits > kFixedDigits) {
    return DataLoss(path + ": corrupt header: digits " + std::to_string(header.info.digits));
  }
  const char* symbol = raw + kOffSymbol;
  header.info.symbol.assign(symbol, strnlen(symbol, kSymbolSize));
  header.info.first = Timestamp{Get<int64_t>(raw, kOffFirst)};
  header.info.last = Timestamp{Get<int64_t>(raw, kOffLast)};
  header.checksum = Get<uint64_t>(raw, kOffChecksum);
  const uint64_t body = file_size - kHeaderSize;
  if (header.info.count > body / kRecordSize) {
    return DataLoss(path + ": truncated: header says " + std::to_string(header.info.count) +
                    " records (" + std::to_string(kHeaderSize + header.info.count * kRecordSize) +
                    " bytes) but the file has " + std::to_string(file_size) + " bytes");
  }
  if (body != header.info.count * kRecordSize) {
    return DataLoss(path + ": size mismatch: header says " + std::to_string(header.info.count) +
                    " records but the file has " + std::to_string(file_size) + " bytes");
  }
  return header;
}

// An open file, closed when this goes.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads `size` bytes at `offset`, retrying short reads. IoError on failure, DataLoss if the file
// ends first (it shrank after its header was checked).
Status ReadAt(int fd, char* data, size_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    const ssize_t done = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (done < 0) {
      if (errno == EINTR) continue;
      return IoError(path + ": read failed at byte " + std::to_string(offset) + ": " +
                     std::strerror(errno));
    }
    if (done == 0) {
      return DataLoss(path + ": file ended at byte " + std::to_string(offset) +
                      " while reading: it was truncated after it was opened");
    }
    data += done;
    size -= static_cast<size_t>(done);
    offset += static_cast<uint64_t>(done);
  }
  return Status::Ok();
}

struct OpenedStore {
  std::unique_ptr<FileDescriptor> file;
  Header header;
};

// Opens `path` and checks its header against its size.
Result<OpenedStore> OpenStore(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(path + ": no such file");
    return IoError(path + ": cannot open: " + std::strerror(err));
  }
  OpenedStore store{std::make_unique<FileDescriptor>(fd), {}};
  struct stat info {};
  if (::fstat(fd, &info) != 0) return IoError(path + ": cannot stat: " + std::strerror(errno));
  if (S_ISDIR(info.st_mode)) return InvalidArgument(path + ": is a directory, not a data file");
  const auto file_size = static_cast<uint64_t>(info.st_size);
  char head[kHeaderSize];
  const size_t head_size = static_cast<size_t>(std::min<uint64_t>(file_size, kHeaderSize));
  AITS_RETURN_IF_ERROR(ReadAt(fd, head, head_size, 0, path));
  AITS_ASSIGN_OR_RETURN(store.header, DecodeHeader({head, head_size}, file_size, path));
  // The records are read front to back once: ask the kernel for generous read-ahead.
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return store;
}

std::string FormatRaw(int64_t raw, int digits) {
  return fixed_internal::FormatScaled(raw, kFixedDigits, digits);
}

class BinaryTickSource final : public TickSource {
 public:
  BinaryTickSource(OpenedStore store, std::string path, const ReadOptions& options)
      : file_(std::move(store.file)),
        path_(std::move(path)),
        count_(store.header.info.count),
        expected_checksum_(store.header.checksum),
        digits_(store.header.info.digits),
        instrument_(options.instrument),
        rejecter_(&stats_, options),
        chunk_(kChunkRecords) {}

  Result<size_t> Read(std::span<Tick> out) override {
    if (!error_.ok()) return error_;
    if (rejecter_.failed()) return rejecter_.error();
    size_t filled = 0;
    while (filled < out.size() && next_ < count_ && !rejecter_.failed()) {
      if (chunk_pos_ == chunk_count_) {
        if (Status status = LoadChunk(); !status.ok()) {
          error_ = std::move(status);  // returned now if nothing was delivered, else next time
          break;
        }
      }
      filled += Decode(out.subspan(filled));
    }
    if (next_ == count_ && !checked_) {
      checked_ = true;
      if (checksum_ != expected_checksum_) {
        error_ = DataLoss(path_ + ": checksum mismatch over " + std::to_string(count_) +
                          " records: the file is corrupt");
      }
    }
    if (filled == 0 && rejecter_.failed()) return rejecter_.error();
    if (filled == 0 && !error_.ok()) return error_;
    return filled;
  }

  const ReadStats& stats() const override { return stats_; }
  double Progress() const override {
    return count_ == 0 ? 1.0 : static_cast<double>(next_) / static_cast<double>(count_);
  }

 private:
  bool Reject(RowRejectReason reason, std::string_view field, const std::string& value) {
    rejecter_.Reject(reason, path_, next_, field, value);
    return false;
  }

  // Records are read with pread() into one buffer, 256 KB at a time, rather than through a
  // memory mapping: where mapping the file's pages costs more than copying them (on this
  // project's build machine, a virtual machine, replay through the mapping ran at about a third of
  // the speed of pread), copying wins, and resident memory stays at the buffer's size however long
  // the history (docs/performance.md).
  static constexpr size_t kChunkRecords = 8192;

  Status LoadChunk() {
    const uint64_t records = std::min<uint64_t>(kChunkRecords, count_ - next_);
    AITS_RETURN_IF_ERROR(ReadAt(file_->get(), reinterpret_cast<char*>(chunk_.data()),
                                records * kRecordSize, kHeaderSize + next_ * kRecordSize, path_));
    chunk_pos_ = 0;
    chunk_count_ = records;
    return Status::Ok();
  }

  // Validates the loaded records from chunk_pos_ into `out` until either runs out or strict mode
  // fails; returns the ticks written. Works on locals: stores into `out` could otherwise alias
  // the members (int64_t and uint64_t may alias), forcing them back to memory on every record.
  size_t Decode(std::span<Tick> out) {
    Tick* const ticks = out.data();
    const size_t want = out.size();
    const Record* const records = chunk_.data();
    const size_t first = chunk_pos_;
    // next_ (the 1-based line of the last record taken) is line_base + pos.
    const uint64_t line_base = next_ - first;
    size_t pos = chunk_pos_;
    const size_t end = chunk_count_;
    uint64_t checksum = checksum_;
    Record last = last_;
    bool has_last = has_last_;
    size_t filled = 0;
    while (filled < want && pos < end) {
      const Record& record = records[pos++];
      checksum = ChecksumRecord(checksum, record);
      if (!LooksValid(record, last, has_last)) [[unlikely]] {
        next_ = line_base + pos;  // Accept() and its rejection sample see this record's line
        last_ = last;
        has_last_ = has_last;
        if (!Accept(record)) {
          if (rejecter_.failed()) break;
          continue;
        }
      }
      Tick& tick = ticks[filled++];
      tick.ts = Timestamp{record.ts};
      tick.bid = Price::FromRaw(record.bid, digits_);
      tick.ask = Price::FromRaw(record.ask, digits_);
      tick.bid_volume = record.bid_volume;
      tick.ask_volume = record.ask_volume;
      tick.instrument = instrument_;
      last = record;
      has_last = true;
    }
    next_ = line_base + pos;
    chunk_pos_ = pos;
    checksum_ = checksum;
    last_ = last;
    has_last_ = has_last;
    stats_.rows += pos - first;
    stats_.accepted += filled;
    return filled;
  }

  // The common case of Accept() without a branch per rule: true only if every rule passes (the
  // volume bounds also fail NaN and infinities; ask >= bid > 0 implies ask > 0). A record with
  // the previous record's time goes to Accept() for the duplicate check, as does every record this
  // says no to; Accept() alone decides, and names the reason.
  static bool LooksValid(const Record& record, const Record& last, bool has_last) {
    constexpr float kMaxVolume = std::numeric_limits<float>::max();
    const bool prices = (record.bid > 0) & (record.bid < kMaxRaw) & (record.ask >= record.bid) &
                        (record.ask < kMaxRaw);
    const bool volumes = (record.bid_volume >= 0.0f) & (record.bid_volume <= kMaxVolume) &
                         (record.ask_volume >= 0.0f) & (record.ask_volume <= kMaxVolume);
    const bool later = (record.ts > last.ts) | !has_last;
    return prices & volumes & later;
  }

  bool Accept(const Record& record) {
    if (!std::isfinite(record.bid_volume)) {
      return Reject(RowRejectReason::kNonFinite, "bid_volume", std::to_string(record.bid_volume));
    }
    if (!std::isfinite(record.ask_volume)) {
      return Reject(RowRejectReason::kNonFinite, "ask_volume", std::to_string(record.ask_volume));
    }
    if (record.bid >= kMaxRaw) {
      return Reject(RowRejectReason::kMalformed, "bid", FormatRaw(record.bid, digits_));
    }
    if (record.ask >= kMaxRaw) {
      return Reject(RowRejectReason::kMalformed, "ask", FormatRaw(record.ask, digits_));
    }
    if (record.bid <= 0) {
      return Reject(RowRejectReason::kNonPositivePrice, "bid", FormatRaw(record.bid, digits_));
    }
    if (record.ask <= 0) {
      return Reject(RowRejectReason::kNonPositivePrice, "ask", FormatRaw(record.ask, digits_));
    }
    if (record.ask < record.bid) {
      return Reject(RowRejectReason::kCrossed, "ask", FormatRaw(record.ask, digits_));
    }
    if (record.bid_volume < 0) {
      return Reject(RowRejectReason::kNegativeVolume, "bid_volume",
                    std::to_string(record.bid_volume));
    }
    if (record.ask_volume < 0) {
      return Reject(RowRejectReason::kNegativeVolume, "ask_volume",
                    std::to_string(record.ask_volume));
    }
    if (has_last_) {
      if (record.ts < last_.ts) {
        return Reject(RowRejectReason::kTimeBackwards, "timestamp",
                      FormatIso8601(Timestamp{record.ts}));
      }
      if (record.ts == last_.ts && record.bid == last_.bid && record.ask == last_.ask &&
          record.bid_volume == last_.bid_volume && record.ask_volume == last_.ask_volume) {
        return Reject(RowRejectReason::kDuplicate, "timestamp",
                      FormatIso8601(Timestamp{record.ts}));
      }
    }
    return true;
  }

  std::unique_ptr<FileDescriptor> file_;
  std::string path_;
  uint64_t count_;
  uint64_t expected_checksum_;
  int digits_;
  InstrumentId instrument_;
  ReadStats stats_;
  internal::Rejecter rejecter_;
  std::vector<Record> chunk_;  // records read from the file, chunk_pos_ .. chunk_count_ unread
  size_t chunk_pos_ = 0;
  size_t chunk_count_ = 0;
  uint64_t next_ = 0;  // records taken from the file so far
  uint64_t checksum_ = kFnvOffset;
  bool checked_ = false;
  Status error_;
  Record last_{};
  bool has_last_ = false;
};

// Writes all of `data` at the file position, retrying short writes.
Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t done = ::write(fd, data, size);
    if (done < 0) {
      if (errno == EINTR) continue;
      return IoError(path + ": write failed: " + std::strerror(errno));
    }
    data += done;
    size -= static_cast<size_t>(done);
  }
  return Status::Ok();
}

// Removes the temp file unless released: an import that fails leaves nothing behind.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd_ = -1;
  std::string path_;
};

// The 128-byte header of a store holding `info` whose records hash to `checksum`.
void EncodeHeader(char* header, const TickStoreInfo& info, uint64_t checksum) {
  std::memset(header, 0, kHeaderSize);
  std::memcpy(header, kMagic, sizeof(kMagic));
  Put<uint32_t>(header, kOffVersion, kVersion);
  Put<uint32_t>(header, kOffRecordSize, kRecordSize);
  Put<uint64_t>(header, kOffCount, info.count);
  Put<int32_t>(header, kOffDigits, info.digits);
  std::memcpy(header + kOffSymbol, info.symbol.data(), info.symbol.size());
  Put<int64_t>(header, kOffFirst, info.first.ns);
  Put<int64_t>(header, kOffLast, info.last.ns);
  Put<uint64_t>(header, kOffChecksum, checksum);
}

Record RecordOf(const Tick& tick) {
  return Record{tick.ts.ns, tick.bid.raw(), tick.ask.raw(), tick.bid_volume, tick.ask_volume};
}

Status CheckStoreArgs(const std::string& path, const std::string& symbol, int digits) {
  if (digits < 0 || digits > kFixedDigits) {
    return InvalidArgument(path + ": digits " + std::to_string(digits) + " is outside 0..9");
  }
  if (symbol.size() >= kSymbolSize) {
    return InvalidArgument(path + ": symbol '" + symbol + "' is longer than 31 characters");
  }
  return Status::Ok();
}

}  // namespace

Result<ImportReport> ImportTicks(TickSource& source, const std::string& symbol, int digits,
                                 const std::string& out_path, void (*progress)(double)) {
  AITS_RETURN_IF_ERROR(CheckStoreArgs(out_path, symbol, digits));
  TempFile temp(out_path + ".tmp." + std::to_string(::getpid()));
  temp.fd_ = ::open(temp.path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (temp.fd_ < 0) {
    const std::string message = temp.path_ + ": cannot create: " + std::strerror(errno);
    temp.path_.clear();
    return IoError(message);
  }
  char header[kHeaderSize] = {};
  AITS_RETURN_IF_ERROR(WriteAll(temp.fd_, header, sizeof(header), temp.path_));

  constexpr size_t kBatch = 8192;
  std::vector<Tick> ticks(kBatch);
  std::vector<Record> records(kBatch);
  ImportReport report;
  report.info.symbol = symbol;
  report.info.digits = digits;
  uint64_t checksum = kFnvOffset;
  while (true) {
    auto got = source.Read(std::span<Tick>(ticks.data(), ticks.size()));
    if (!got.ok()) return got.status().WithContext("import to " + out_path);
    const size_t count = *got;
    if (count == 0) break;
    for (size_t idx = 0; idx < count; ++idx) {
      const Tick& tick = ticks[idx];
      Record& record = records[idx];
      record = RecordOf(tick);
      checksum = ChecksumRecord(checksum, record);
    }
    if (report.info.count == 0) report.info.first = ticks[0].ts;
    report.info.last = ticks[count - 1].ts;
    report.info.count += count;
    AITS_RETURN_IF_ERROR(WriteAll(temp.fd_, reinterpret_cast<const char*>(records.data()),
                                  count * sizeof(Record), temp.path_));
    if (progress != nullptr) progress(source.Progress());
  }
  if (report.info.count == 0) {
    // A store without ticks is useless and every later run would refuse it: fail here instead,
    // leaving nothing behind (the temporary file is removed with `temp`).
    return InvalidArgument("no valid ticks to import into " + out_path + "\n" +
                           source.stats().Summary());
  }
  EncodeHeader(header, report.info, checksum);
  if (::pwrite(temp.fd_, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) {
    return IoError(temp.path_ + ": header write failed: " + std::strerror(errno));
  }
  if (::fsync(temp.fd_) != 0 || ::close(temp.fd_) != 0) {
    temp.fd_ = -1;
    return IoError(temp.path_ + ": flush failed: " + std::strerror(errno));
  }
  temp.fd_ = -1;
  if (::rename(temp.path_.c_str(), out_path.c_str()) != 0) {
    return IoError(out_path + ": cannot rename " + temp.path_ +
                   " into place: " + std::strerror(errno));
  }
  temp.path_.clear();
  report.stats = source.stats();
  if (progress != nullptr) progress(1.0);
  return report;
}

// --- TickStoreAppender ------------------------------------------------------------------------

Result<std::unique_ptr<TickStoreAppender>> TickStoreAppender::Open(const std::string& path,
                                                                   const std::string& symbol,
                                                                   int digits,
                                                                   AppendOpening* opening,
                                                                   std::optional<uint64_t> keep) {
  AITS_RETURN_IF_ERROR(CheckStoreArgs(path, symbol, digits));
  AppendOpening found;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(path + ": cannot open for writing: " + std::strerror(errno));
  std::unique_ptr<TickStoreAppender> store(new TickStoreAppender(fd, path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError(path + ": cannot stat: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return InvalidArgument(path + ": is a directory, not a tick store");
  const auto size = static_cast<uint64_t>(st.st_size);
  store->info_.symbol = symbol;
  store->info_.digits = digits;
  store->checksum_ = kFnvOffset;
  if (size == 0) {
    found.created = true;
    AITS_RETURN_IF_ERROR(store->WriteHeader());
    if (opening != nullptr) *opening = found;
    return store;
  }
  char head[kHeaderSize];
  const size_t head_size = static_cast<size_t>(std::min<uint64_t>(size, kHeaderSize));
  AITS_RETURN_IF_ERROR(ReadAt(fd, head, head_size, 0, path));
  if (head_size < sizeof(kMagic) || std::memcmp(head, kMagic, sizeof(kMagic)) != 0) {
    return InvalidArgument(path +
                           ": exists and is not an AITS tick store (bad magic); not "
                           "overwritten");
  }
  // The header's own checks, against a size that holds only whole records: a torn one is cut
  // below, and records past the count are looked at rather than refused.
  uint64_t whole = size < kHeaderSize ? 0 : (size - kHeaderSize) / kRecordSize;
  const uint64_t counted = head_size == kHeaderSize ? Get<uint64_t>(head, kOffCount) : 0;
  AITS_ASSIGN_OR_RETURN(
      Header header,
      DecodeHeader({head, head_size}, kHeaderSize + std::min(counted, whole) * kRecordSize, path));
  // (A header counting more records than the file holds is DataLoss from DecodeHeader.)
  if (header.info.symbol != symbol) {
    return InvalidArgument(path + ": holds ticks of " + header.info.symbol + ", not " + symbol +
                           "; not appended to");
  }
  if (header.info.digits != digits) {
    return InvalidArgument(path + ": holds prices of " + std::to_string(header.info.digits) +
                           " digits, the terminal gives " + std::to_string(digits) +
                           "; not appended to");
  }
  if (keep) {
    if (*keep > whole) {
      return DataLoss(path + ": holds " + std::to_string(whole) +
                      " whole records, fewer than the " + std::to_string(*keep) +
                      " committed; not appended to");
    }
    whole = *keep;
  }
  found.cut_bytes = size - kHeaderSize - whole * kRecordSize;
  found.adopted = whole > header.info.count ? whole - header.info.count : 0;
  // Recompute the checksum (the running hash Append continues) and check the time order of
  // every record, the counted ones against the header's checksum.
  std::vector<Record> chunk(8192);
  uint64_t hash = kFnvOffset;
  Record last{};
  uint64_t trailing = 0;
  for (uint64_t at = 0; at < whole;) {
    const uint64_t n = std::min<uint64_t>(chunk.size(), whole - at);
    AITS_RETURN_IF_ERROR(ReadAt(fd, reinterpret_cast<char*>(chunk.data()), n * kRecordSize,
                                kHeaderSize + at * kRecordSize, path));
    for (uint64_t idx = 0; idx < n; ++idx) {
      const Record& record = chunk[idx];
      const uint64_t number = at + idx;
      if (number > 0 && record.ts < last.ts) {
        return DataLoss(path + ": record " + std::to_string(number + 1) + " (" +
                        FormatIso8601(Timestamp{record.ts}) +
                        ") is earlier than the one before it: not a store to append to");
      }
      trailing = (number > 0 && record.ts == last.ts) ? trailing + 1 : 1;
      if (number == 0) store->info_.first = Timestamp{record.ts};
      last = record;
      hash = ChecksumRecord(hash, record);
      if (number + 1 == header.info.count && hash != header.checksum) {
        return DataLoss(path + ": checksum mismatch over its " + std::to_string(header.info.count) +
                        " records: the file is corrupt; not appended to");
      }
    }
    at += n;
  }
  store->info_.count = whole;
  store->info_.last = whole > 0 ? Timestamp{last.ts} : Timestamp{};
  store->checksum_ = hash;
  found.trailing_same = whole > 0 ? trailing : 0;
  if (found.cut_bytes > 0 &&
      ::ftruncate(fd, static_cast<off_t>(kHeaderSize + whole * kRecordSize)) != 0) {
    return IoError(path + ": cannot cut the torn last record: " + std::strerror(errno));
  }
  if (found.cut_bytes > 0 || found.adopted > 0 || whole != header.info.count) {
    AITS_RETURN_IF_ERROR(store->WriteHeader());
  }
  if (opening != nullptr) *opening = found;
  return store;
}

TickStoreAppender::~TickStoreAppender() {
  if (fd_ >= 0) ::close(fd_);
}

Status TickStoreAppender::WriteHeader() {
  char header[kHeaderSize];
  EncodeHeader(header, info_, checksum_);
  if (::pwrite(fd_, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) {
    return IoError(path_ + ": header write failed: " + std::strerror(errno));
  }
  return Status::Ok();
}

Status TickStoreAppender::Append(std::span<const Tick> ticks) {
  if (ticks.empty()) return Status::Ok();
  std::vector<Record> records;
  records.reserve(ticks.size());
  Timestamp last = info_.count > 0 ? info_.last : ticks.front().ts;
  uint64_t hash = checksum_;
  for (const Tick& tick : ticks) {
    if (tick.ts < last) {
      return InvalidArgument(path_ + ": tick at " + FormatIso8601(tick.ts) +
                             " is earlier than the store's last, " + FormatIso8601(last));
    }
    last = tick.ts;
    records.push_back(RecordOf(tick));
    hash = ChecksumRecord(hash, records.back());
  }
  // The records first, then the header that counts them: a kill in between leaves records the
  // header does not count, which the next Open adopts.
  const char* bytes = reinterpret_cast<const char*>(records.data());
  size_t left = records.size() * kRecordSize;
  auto offset = static_cast<off_t>(kHeaderSize + info_.count * kRecordSize);
  while (left > 0) {
    const ssize_t done = ::pwrite(fd_, bytes, left, offset);
    if (done < 0) {
      if (errno == EINTR) continue;
      return IoError(path_ + ": write failed: " + std::strerror(errno));
    }
    bytes += done;
    left -= static_cast<size_t>(done);
    offset += done;
  }
  if (info_.count == 0) info_.first = ticks.front().ts;
  info_.count += records.size();
  info_.last = last;
  checksum_ = hash;
  return WriteHeader();
}

Status TickStoreAppender::Sync() {
  if (::fsync(fd_) != 0) return IoError(path_ + ": flush failed: " + std::strerror(errno));
  return Status::Ok();
}

Result<TickStoreInfo> ReadTickStoreInfo(const std::string& path) {
  AITS_ASSIGN_OR_RETURN(OpenedStore store, OpenStore(path));
  return store.header.info;
}

Result<std::unique_ptr<TickSource>> OpenTickStore(const std::string& path,
                                                  const ReadOptions& options) {
  AITS_ASSIGN_OR_RETURN(OpenedStore store, OpenStore(path));
  return std::unique_ptr<TickSource>(new BinaryTickSource(std::move(store), path, options));
}

}  // namespace aits::data
