// The MT5 protocol's field encoding (proto/mt5/protocol.schema): little-endian integers, IEEE
// 754 doubles, bools as one byte, strings as a u16 byte count and the bytes, arrays as a u32 count
// and the items. The generated codecs (messages.h) are written on these two classes.
//
// WireReader never reads past its input and never allocates more than its input could hold: an
// array's count is checked against the bytes left (times the item's smallest size) before
// anything is reserved, so a hostile count costs nothing. The first failure is kept, with the
// field's schema name and the byte offset, and every read after it fails at once.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"

namespace aits::mt5 {

class WireWriter {
 public:
  explicit WireWriter(std::string& out) : out_(out) {}

  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(v); }
  void U32(uint32_t v) { Raw(v); }
  void U64(uint64_t v) { Raw(v); }
  void I32(int32_t v) { Raw(v); }
  void I64(int64_t v) { Raw(v); }
  void F64(double v) { Raw(v); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  // Precondition: v.size() <= 65535 (the protocol's cap on a string; a longer one is cut there,
  // and the cut is the caller's bug: client order ids and comments are far shorter).
  void Str(std::string_view v);
  // Precondition: n <= UINT32_MAX.
  void Count(size_t n) { U32(static_cast<uint32_t>(n)); }

 private:
  // The wire is little-endian, as every host this runs on (x86-64, arm64); static_assert'd in
  // wire.cc.
  template <typename T>
  void Raw(T v) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    out_.append(bytes, sizeof(T));
  }

  std::string& out_;
};

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}

  bool U8(const char* field, uint8_t& v) { return Raw(field, v); }
  bool U16(const char* field, uint16_t& v) { return Raw(field, v); }
  bool U32(const char* field, uint32_t& v) { return Raw(field, v); }
  bool U64(const char* field, uint64_t& v) { return Raw(field, v); }
  bool I32(const char* field, int32_t& v) { return Raw(field, v); }
  bool I64(const char* field, int64_t& v) { return Raw(field, v); }
  // A NaN or infinite price is not a price: refused here, naming the field.
  bool F64(const char* field, double& v);
  // 0 or 1; any other byte is refused.
  bool Bool(const char* field, bool& v);
  bool Str(const char* field, std::string& v);
  // Reads a u32 count and that many items with `read_item(reader, item)`. `min_item_size` is the
  // fewest bytes an item takes (from the schema); a count the remaining bytes cannot hold fails
  // before anything is allocated.
  template <typename T, typename ReadItem>
  bool Array(const char* field, size_t min_item_size, std::vector<T>& items, ReadItem read_item) {
    uint32_t count = 0;
    if (!U32(field, count)) return false;
    if (min_item_size > 0 && count > (in_.size() - pos_) / min_item_size) {
      return Fail(field, "count " + std::to_string(count) + " exceeds the bytes left");
    }
    items.clear();
    items.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
      if (!read_item(*this, items[i])) {
        error_ = std::string(field) + "[" + std::to_string(i) + "]: " + error_;
        return false;
      }
    }
    return true;
  }

  bool ok() const { return error_.empty(); }
  // "ticks.ticks[3]: ticks.bid: truncated at byte 57 (needs 8, 4 left)"; empty when ok().
  const std::string& error() const { return error_; }
  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  // OK when every read succeeded and the input is used up; else InvalidArgument with the error
  // (or the count of trailing bytes), prefixed by `what`.
  Status Finish(std::string_view what) const;

 private:
  template <typename T>
  bool Raw(const char* field, T& v) {
    if (!error_.empty()) return false;
    if (in_.size() - pos_ < sizeof(T)) return Truncated(field, sizeof(T));
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Truncated(const char* field, size_t needed);
  bool Fail(const char* field, const std::string& why);

  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace aits::mt5
