#include "aits/models/serialize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace aits::ml {
namespace {

constexpr std::string_view kMagic{"AITSML1\0", 8};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kChecksumSize = 8;

// Explicit byte order so that a model file is the same on every host.
template <typename U>
void PutLittleEndian(std::string* out, U v) {
  char bytes[sizeof(U)];
  for (size_t idx = 0; idx < sizeof(U); ++idx) {
    bytes[idx] = static_cast<char>(static_cast<uint8_t>(v >> (8 * idx)));
  }
  out->append(bytes, sizeof(U));
}

template <typename U>
U GetLittleEndian(const char* p) {
  U v = 0;
  for (size_t idx = 0; idx < sizeof(U); ++idx) {
    v = static_cast<U>(v |
                       static_cast<U>(static_cast<U>(static_cast<uint8_t>(p[idx])) << (8 * idx)));
  }
  return v;
}

}  // namespace

void ByteWriter::U8(uint8_t v) { data_.push_back(static_cast<char>(v)); }
void ByteWriter::U32(uint32_t v) { PutLittleEndian(&data_, v); }
void ByteWriter::U64(uint64_t v) { PutLittleEndian(&data_, v); }
void ByteWriter::I64(int64_t v) { PutLittleEndian(&data_, static_cast<uint64_t>(v)); }
void ByteWriter::F32(float v) { PutLittleEndian(&data_, std::bit_cast<uint32_t>(v)); }
void ByteWriter::F64(double v) { PutLittleEndian(&data_, std::bit_cast<uint64_t>(v)); }

void ByteWriter::Str(std::string_view s) {
  U64(s.size());
  data_.append(s);
}

void ByteWriter::F32s(std::span<const float> v) {
  U64(v.size());
  data_.reserve(data_.size() + v.size() * sizeof(float));
  for (float x : v) F32(x);
}

void ByteWriter::F64s(std::span<const double> v) {
  U64(v.size());
  data_.reserve(data_.size() + v.size() * sizeof(double));
  for (double x : v) F64(x);
}

void ByteWriter::Bytes(std::string_view b) { Str(b); }

ByteReader::ByteReader(std::string_view data, std::string what)
    : data_(data), what_(std::move(what)) {}

namespace {

Status Truncated(const std::string& what, std::string_view field, size_t offset, size_t need,
                 size_t left) {
  return DataLoss(what + ": truncated reading '" + std::string(field) + "' at offset " +
                  std::to_string(offset) + ": need " + std::to_string(need) + " bytes, " +
                  std::to_string(left) + " left");
}

Status CountTooLarge(const std::string& what, std::string_view field, size_t offset, uint64_t count,
                     size_t element_size, size_t left) {
  return DataLoss(what + ": count " + std::to_string(count) + " of '" + std::string(field) +
                  "' at offset " + std::to_string(offset) + " needs more than the " +
                  std::to_string(left) + " bytes left (" + std::to_string(element_size) +
                  " bytes each)");
}

}  // namespace

namespace {

// One bounds check for every fixed-size read; the field name only goes into the error.
template <typename T, typename Bits>
Result<T> ReadFixed(std::string_view data, size_t* pos, const std::string& what,
                    std::string_view field) {
  const size_t left = data.size() - *pos;
  if (left < sizeof(Bits)) return Truncated(what, field, *pos, sizeof(Bits), left);
  const Bits bits = GetLittleEndian<Bits>(data.data() + *pos);
  *pos += sizeof(Bits);
  return std::bit_cast<T>(bits);
}

}  // namespace

Result<uint8_t> ByteReader::U8(std::string_view field) {
  return ReadFixed<uint8_t, uint8_t>(data_, &pos_, what_, field);
}
Result<uint32_t> ByteReader::U32(std::string_view field) {
  return ReadFixed<uint32_t, uint32_t>(data_, &pos_, what_, field);
}
Result<uint64_t> ByteReader::U64(std::string_view field) {
  return ReadFixed<uint64_t, uint64_t>(data_, &pos_, what_, field);
}
Result<int64_t> ByteReader::I64(std::string_view field) {
  return ReadFixed<int64_t, uint64_t>(data_, &pos_, what_, field);
}
Result<float> ByteReader::F32(std::string_view field) {
  return ReadFixed<float, uint32_t>(data_, &pos_, what_, field);
}
Result<double> ByteReader::F64(std::string_view field) {
  return ReadFixed<double, uint64_t>(data_, &pos_, what_, field);
}

Result<std::string> ByteReader::Str(std::string_view field) {
  const size_t start = pos_;
  AITS_ASSIGN_OR_RETURN(const uint64_t length, U64(field));
  if (length > remaining()) {
    pos_ = start;
    return CountTooLarge(what_, field, start, length, 1, remaining());
  }
  std::string out(data_.substr(pos_, static_cast<size_t>(length)));
  pos_ += static_cast<size_t>(length);
  return out;
}

Result<std::string> ByteReader::Bytes(std::string_view field) { return Str(field); }

Result<std::vector<float>> ByteReader::F32s(std::string_view field) {
  const size_t start = pos_;
  AITS_ASSIGN_OR_RETURN(const uint64_t count, U64(field));
  // Compared by division so that a huge count cannot overflow the byte size.
  if (count > remaining() / sizeof(float)) {
    pos_ = start;
    return CountTooLarge(what_, field, start, count, sizeof(float), remaining());
  }
  std::vector<float> out(static_cast<size_t>(count));
  for (float& x : out) {
    x = std::bit_cast<float>(GetLittleEndian<uint32_t>(data_.data() + pos_));
    pos_ += sizeof(float);
  }
  return out;
}

Result<std::vector<double>> ByteReader::F64s(std::string_view field) {
  const size_t start = pos_;
  AITS_ASSIGN_OR_RETURN(const uint64_t count, U64(field));
  if (count > remaining() / sizeof(double)) {
    pos_ = start;
    return CountTooLarge(what_, field, start, count, sizeof(double), remaining());
  }
  std::vector<double> out(static_cast<size_t>(count));
  for (double& x : out) {
    x = std::bit_cast<double>(GetLittleEndian<uint64_t>(data_.data() + pos_));
    pos_ += sizeof(double);
  }
  return out;
}

Status ByteReader::ExpectEnd() const {
  if (remaining() == 0) return Status::Ok();
  return DataLoss(what_ + ": " + std::to_string(remaining()) +
                  " unexpected trailing bytes at offset " + std::to_string(pos_));
}

std::string WrapModel(std::string_view kind, std::string_view payload) {
  std::string head(kMagic);
  ByteWriter fields;
  fields.U32(kFormatVersion);
  fields.Str(kind);
  std::string bytes = head + fields.Take();
  bytes.append(payload);
  PutLittleEndian(&bytes, Fnv1a64(bytes));
  return bytes;
}

Result<ModelEnvelope> UnwrapModel(std::string_view bytes, std::string_view what) {
  const std::string name(what);
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    return DataLoss(name + ": not an AITS model file (magic \"AITSML1\" missing at offset 0)");
  }
  // Smallest envelope: magic, version, an empty kind, no payload, checksum.
  constexpr size_t kMinSize = 8 + 4 + 8 + kChecksumSize;
  if (bytes.size() < kMinSize) {
    return DataLoss(name + ": truncated model file: " + std::to_string(bytes.size()) +
                    " bytes, the envelope alone needs " + std::to_string(kMinSize));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kChecksumSize);
  const uint64_t stored = GetLittleEndian<uint64_t>(bytes.data() + body.size());
  const uint64_t computed = Fnv1a64(body);
  if (stored != computed) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "stored %016llx, computed %016llx",
                  static_cast<unsigned long long>(stored),
                  static_cast<unsigned long long>(computed));
    return DataLoss(name + ": checksum mismatch at offset " + std::to_string(body.size()) + " (" +
                    buf + "): the file is truncated or corrupt");
  }
  ByteReader reader(body.substr(kMagic.size()), name);
  AITS_ASSIGN_OR_RETURN(const uint32_t version, reader.U32("format version"));
  if (version != kFormatVersion) {
    return DataLoss(name + ": model format version " + std::to_string(version) +
                    " at offset 8 is not supported (this build reads version " +
                    std::to_string(kFormatVersion) + ")");
  }
  ModelEnvelope envelope;
  AITS_ASSIGN_OR_RETURN(envelope.kind, reader.Str("kind"));
  envelope.payload = std::string(body.substr(body.size() - reader.remaining()));
  return envelope;
}

Result<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(path + ": no such file");
    return IoError(path + ": cannot open: " + std::strerror(err));
  }
  std::string out;
  struct stat info {};
  if (::fstat(fd, &info) == 0 && info.st_size > 0) out.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      // A directory fails here (EISDIR) rather than reading as an empty file.
      const int err = errno;
      ::close(fd);
      return IoError(path + ": read failed after " + std::to_string(out.size()) +
                     " bytes: " + std::strerror(err));
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(tmp + ": cannot create: " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError(tmp + ": write failed after " + std::to_string(written) +
                     " bytes: " + std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
  const bool synced = ::fsync(fd) == 0;
  const int sync_err = errno;
  if (::close(fd) != 0 || !synced) {
    const int err = synced ? errno : sync_err;
    ::unlink(tmp.c_str());
    return IoError(tmp + ": flush failed: " + std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError(path + ": rename from " + tmp + " failed: " + std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace aits::ml
