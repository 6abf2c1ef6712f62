#include "aits/mt5/wire.h"

#include <bit>
#include <cmath>

namespace aits::mt5 {

static_assert(std::endian::native == std::endian::little,
              "the MT5 protocol is little-endian and WireWriter/WireReader copy bytes as they are");

void WireWriter::Str(std::string_view v) {
  const size_t n = v.size() > 65535 ? 65535 : v.size();
  U16(static_cast<uint16_t>(n));
  out_.append(v.data(), n);
}

bool WireReader::F64(const char* field, double& v) {
  const size_t at = pos_;
  if (!Raw(field, v)) return false;
  if (!std::isfinite(v)) {
    pos_ = at;
    return Fail(field, "not a finite number");
  }
  return true;
}

bool WireReader::Bool(const char* field, bool& v) {
  uint8_t byte = 0;
  const size_t at = pos_;
  if (!Raw(field, byte)) return false;
  if (byte > 1) {
    pos_ = at;
    return Fail(field, "bool byte " + std::to_string(byte) + " is neither 0 nor 1");
  }
  v = byte == 1;
  return true;
}

bool WireReader::Str(const char* field, std::string& v) {
  uint16_t n = 0;
  if (!Raw(field, n)) return false;
  if (in_.size() - pos_ < n) return Truncated(field, n);
  v.assign(in_.data() + pos_, n);
  pos_ += n;
  return true;
}

bool WireReader::Truncated(const char* field, size_t needed) {
  return Fail(field, "truncated (needs " + std::to_string(needed) + " bytes, " +
                         std::to_string(in_.size() - pos_) + " left)");
}

bool WireReader::Fail(const char* field, const std::string& why) {
  if (error_.empty()) error_ = std::string(field) + " at byte " + std::to_string(pos_) + ": " + why;
  return false;
}

Status WireReader::Finish(std::string_view what) const {
  if (!error_.empty()) {
    return InvalidArgument(std::string(what) + ": " + error_);
  }
  if (pos_ != in_.size()) {
    return InvalidArgument(std::string(what) + ": " + std::to_string(in_.size() - pos_) +
                           " bytes left over after the last field");
  }
  return Status::Ok();
}

}  // namespace aits::mt5
