// Little-endian binary encoding for model files.
//
// Every model serializes to bytes with ByteWriter and reads them back with ByteReader, so that
// (a) the same model always gives the same bytes (reproducibility is checked byte for byte) and
// (b) a truncated or corrupt file is an error naming what was being read, never a crash or a
// silently wrong model. Floats and doubles are stored as their IEEE-754 bit patterns, so a
// round trip is exact.
//
// A model file is: magic "AITSML1\0", u32 format version, string kind ("xgboost", "lstm", ...),
// the model's own payload, and a trailing u64 FNV-1a checksum of everything before it. WrapModel /
// UnwrapModel add and check that envelope.
//
// Thread-compatible.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/hash.h"
#include "aits/core/status.h"

namespace aits::ml {

class ByteWriter {
 public:
  void U8(uint8_t v);
  void U32(uint32_t v);
  void U64(uint64_t v);
  void I64(int64_t v);
  void F32(float v);
  void F64(double v);
  void Str(std::string_view s);          // u64 length + bytes
  void F32s(std::span<const float> v);   // u64 count + values
  void F64s(std::span<const double> v);  // u64 count + values
  void Bytes(std::string_view b);        // u64 length + bytes (an embedded blob)

  const std::string& data() const { return data_; }
  std::string Take() { return std::move(data_); }

 private:
  std::string data_;
};

class ByteReader {
 public:
  // `what` names the source in errors, e.g. the file path.
  ByteReader(std::string_view data, std::string what);

  // Each fails with kDataLoss naming `what`, the field and the offset when the data ends early
  // or a count is larger than the bytes left.
  Result<uint8_t> U8(std::string_view field);
  Result<uint32_t> U32(std::string_view field);
  Result<uint64_t> U64(std::string_view field);
  Result<int64_t> I64(std::string_view field);
  Result<float> F32(std::string_view field);
  Result<double> F64(std::string_view field);
  Result<std::string> Str(std::string_view field);
  Result<std::vector<float>> F32s(std::string_view field);
  Result<std::vector<double>> F64s(std::string_view field);
  Result<std::string> Bytes(std::string_view field);

  size_t remaining() const { return data_.size() - pos_; }
  const std::string& what() const { return what_; }
  // kDataLoss unless every byte was consumed.
  Status ExpectEnd() const;

 private:
  std::string_view data_;
  size_t pos_ = 0;
  std::string what_;
};

// Envelope of a model file (see above).
std::string WrapModel(std::string_view kind, std::string_view payload);
// Checks magic, version and checksum; returns the kind and the payload. `what` names the source.
struct ModelEnvelope {
  std::string kind;
  std::string payload;
};
Result<ModelEnvelope> UnwrapModel(std::string_view bytes, std::string_view what);

// Whole-file helpers; WriteFileAtomic writes a temporary file and renames it.
Result<std::string> ReadFile(const std::string& path);
Status WriteFileAtomic(const std::string& path, std::string_view bytes);

}  // namespace aits::ml
