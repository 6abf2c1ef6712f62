// A minimal, allocation-light JSON writer for event-log payloads. Numbers are written in the
// shortest form that reads back to the same double (std::to_chars), so the same values always
// give the same bytes — the event log is compared byte for byte by replay.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aits::trading {

class JsonWriter {
 public:
  // Appends to `out` (not cleared).
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Number(double value);  // NaN and infinities as null
  void Int(int64_t value);
  void Bool(bool value);
  void Null();
  // Object members already written as JSON by another writer ("\"a\":1,\"b\":2", what a fresh
  // JsonWriter leaves after Member calls alone), inside an open object; nothing if empty. A
  // description computed in another process joins a record byte for byte as if written here.
  void RawMembers(std::string_view members);

  template <typename T>
  void Member(std::string_view key, const T& value) {
    Key(key);
    Value(value);
  }

 private:
  void Value(std::string_view v) { String(v); }
  void Value(const std::string& v) { String(v); }
  void Value(const char* v) { String(v); }
  void Value(double v) { Number(v); }
  void Value(bool v) { Bool(v); }
  void Value(int v) { Int(v); }
  void Value(int64_t v) { Int(v); }
  void Value(uint64_t v) { Int(static_cast<int64_t>(v)); }
  void Separate();

  std::string* out_;
  bool need_comma_ = false;
};

}  // namespace aits::trading
