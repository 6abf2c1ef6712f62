#include "aits/feed/spill.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "aits/feed/internal/little_endian.h"

namespace aits::feed {
namespace {

using internal::GetU32;
using internal::PutU32;

constexpr uint8_t kMagic[8] = {'A', 'I', 'T', 'S', 'S', 'P', 'L', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 16;
constexpr size_t kRecordHead = 8;

uint32_t RecordCrc(const uint8_t* length_bytes, std::span<const uint8_t> body) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, length_bytes, 4);
  crc = crc32(crc, body.data(), static_cast<uInt>(body.size()));
  return static_cast<uint32_t>(crc);
}

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// pread of exactly `count` bytes; false on error or end of file.
bool ReadAt(int fd, uint8_t* out, size_t count, uint64_t offset) {
  while (count > 0) {
    const ssize_t got = ::pread(fd, out, count, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    count -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

bool WriteAt(int fd, const uint8_t* data, size_t count, uint64_t offset) {
  while (count > 0) {
    const ssize_t put = ::pwrite(fd, data, count, static_cast<off_t>(offset));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    data += put;
    count -= static_cast<size_t>(put);
    offset += static_cast<uint64_t>(put);
  }
  return true;
}

}  // namespace

SpillFile::SpillFile(std::string path, int fd, SpillOptions options)
    : path_(std::move(path)), fd_(fd), options_(options) {}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<SpillFile>> SpillFile::Open(const std::string& path, SpillOptions options) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(Errno("cannot open spill file", path));
  std::unique_ptr<SpillFile> file(new SpillFile(path, fd, options));
  struct stat info {};
  if (::fstat(fd, &info) != 0) return IoError(Errno("cannot stat spill file", path));
  AITS_RETURN_IF_ERROR(file->Recover(static_cast<uint64_t>(info.st_size)));
  return file;
}

Status SpillFile::Recover(uint64_t size) {
  uint8_t header[kHeaderBytes] = {};
  const size_t have = static_cast<size_t>(std::min<uint64_t>(size, kHeaderBytes));
  if (have > 0 && !ReadAt(fd_, header, have, 0)) {
    return IoError(Errno("cannot read spill file", path_));
  }
  uint8_t want[kHeaderBytes] = {};
  std::memcpy(want, kMagic, sizeof(kMagic));
  PutU32(want + 8, kVersion);
  if (std::memcmp(header, want, have) != 0) {
    return InvalidArgument("spill file " + path_ +
                           " byte 0: not a spill file of this version (magic \"AITSSPL1\", "
                           "version 1); refusing to overwrite it");
  }
  if (have < kHeaderBytes) {
    // Empty, or a header torn by a crash right after creation: (re)write it.
    if (have > 0) {
      recovery_.torn_records = 0;
      recovery_.dropped_bytes = have;
      recovery_.detail = "a torn file header of " + std::to_string(have) + " bytes was rewritten";
    }
    if (::ftruncate(fd_, 0) != 0 || !WriteAt(fd_, want, kHeaderBytes, 0)) {
      return IoError(Errno("cannot write spill file header", path_));
    }
    end_ = kHeaderBytes;
    return Sync();
  }

  uint64_t offset = kHeaderBytes;
  uint8_t head[kRecordHead];
  while (offset < size) {
    const uint64_t left = size - offset;
    std::string problem;
    bool torn = false;
    uint32_t length = 0;
    if (left < kRecordHead) {
      torn = true;
      problem = "a record head cut short";
    } else {
      if (!ReadAt(fd_, head, kRecordHead, offset)) {
        return IoError(Errno("cannot read spill file", path_));
      }
      length = GetU32(head);
      if (length == 0 || length > options_.max_record_bytes) {
        problem = "a record length of " + std::to_string(length) + " bytes";
      } else if (left - kRecordHead < length) {
        torn = true;
        problem = "a record of " + std::to_string(length) + " bytes cut short at " +
                  std::to_string(left - kRecordHead);
      } else {
        scratch_.resize(length);
        if (!ReadAt(fd_, scratch_.data(), length, offset + kRecordHead)) {
          return IoError(Errno("cannot read spill file", path_));
        }
        if (RecordCrc(head, scratch_) != GetU32(head + 4)) problem = "a record with a bad CRC";
      }
    }
    if (!problem.empty()) {
      (torn ? recovery_.torn_records : recovery_.corrupt_records) = 1;
      recovery_.dropped_bytes = size - offset;
      recovery_.detail = "spill file " + path_ + " byte " + std::to_string(offset) + ": " +
                         problem + "; dropped " + std::to_string(size - offset) +
                         " bytes from there, kept " + std::to_string(unsent_.size()) +
                         " records before it";
      if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) {
        return IoError(Errno("cannot truncate spill file", path_));
      }
      AITS_RETURN_IF_ERROR(Sync());
      break;
    }
    unsent_.push_back({offset, length});
    offset += kRecordHead + length;
  }
  end_ = offset;
  recovery_.records = unsent_.size();
  return Status::Ok();
}

Status SpillFile::Sync() {
  if (options_.sync == SpillSync::kNone) return Status::Ok();
  if (::fdatasync(fd_) != 0) return IoError(Errno("cannot sync spill file", path_));
  return Status::Ok();
}

Status SpillFile::Append(std::span<const uint8_t> body) {
  if (body.empty() || body.size() > options_.max_record_bytes) {
    return InvalidArgument("spill file " + path_ + ": a record of " + std::to_string(body.size()) +
                           " bytes is outside 1.." + std::to_string(options_.max_record_bytes));
  }
  scratch_.resize(kRecordHead + body.size());
  PutU32(scratch_.data(), static_cast<uint32_t>(body.size()));
  PutU32(scratch_.data() + 4, RecordCrc(scratch_.data(), body));
  std::memcpy(scratch_.data() + kRecordHead, body.data(), body.size());
  if (!WriteAt(fd_, scratch_.data(), scratch_.size(), end_)) {
    const std::string error = Errno("cannot append to spill file", path_);
    // Leave no half record behind: the next append starts where this one did.
    if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) {
      return IoError(error + "; and cannot cut it back: " + std::strerror(errno));
    }
    return IoError(error);
  }
  AITS_RETURN_IF_ERROR(Sync());
  unsent_.push_back({end_, static_cast<uint32_t>(body.size())});
  end_ += scratch_.size();
  return Status::Ok();
}

Status SpillFile::Front(std::vector<uint8_t>& out) {
  const Record& record = unsent_.front();
  uint8_t head[kRecordHead];
  out.resize(record.length);
  if (!ReadAt(fd_, head, kRecordHead, record.offset) ||
      !ReadAt(fd_, out.data(), record.length, record.offset + kRecordHead)) {
    return IoError(Errno("cannot read spill file", path_) + " at byte " +
                   std::to_string(record.offset));
  }
  if (GetU32(head) != record.length || RecordCrc(head, out) != GetU32(head + 4)) {
    return DataLoss("spill file " + path_ + " byte " + std::to_string(record.offset) +
                    ": the record changed on disk (length or CRC)");
  }
  return Status::Ok();
}

Status SpillFile::PopFront() {
  unsent_.pop_front();
  if (!unsent_.empty()) return Status::Ok();
  if (::ftruncate(fd_, static_cast<off_t>(kHeaderBytes)) != 0) {
    return IoError(Errno("cannot truncate spill file", path_));
  }
  end_ = kHeaderBytes;
  return Sync();
}

}  // namespace aits::feed
