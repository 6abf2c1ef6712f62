#include "aits/models/serialize.h"

#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aits/models/dataset.h"

namespace aits::ml {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "aits_ml_serialize_" + std::to_string(::getpid()) + "_" + name;
}

TEST(ByteWriterTest, LittleEndianLayout) {
  ByteWriter w;
  w.U32(0x01020304u);
  w.I64(-2);
  w.Str("ab");
  const std::string expected(
      "\x04\x03\x02\x01"
      "\xfe\xff\xff\xff\xff\xff\xff\xff"
      "\x02\x00\x00\x00\x00\x00\x00\x00"
      "ab",
      4 + 8 + 8 + 2);
  EXPECT_EQ(w.data(), expected);
}

TEST(ByteReaderTest, RoundTripIsBitExact) {
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> floats = {0.0f,
                                     -0.0f,
                                     1.5f,
                                     kNaN,
                                     std::numeric_limits<float>::denorm_min(),
                                     std::numeric_limits<float>::infinity()};
  const std::vector<double> doubles = {1e-300, -3.25, std::numeric_limits<double>::max()};
  ByteWriter w;
  w.U8(250);
  w.U32(4'000'000'000u);
  w.U64(~0ULL);
  w.I64(std::numeric_limits<int64_t>::min());
  w.F32(-0.0f);
  w.F64(0.1);
  w.Str(std::string("a\0b", 3));
  w.F32s(floats);
  w.F64s(doubles);
  w.Bytes("");

  ByteReader r(w.data(), "mem");
  EXPECT_EQ(*r.U8("u8"), 250);
  EXPECT_EQ(*r.U32("u32"), 4'000'000'000u);
  EXPECT_EQ(*r.U64("u64"), ~0ULL);
  EXPECT_EQ(*r.I64("i64"), std::numeric_limits<int64_t>::min());
  const float negative_zero = *r.F32("f32");
  EXPECT_TRUE(std::signbit(negative_zero));
  EXPECT_EQ(*r.F64("f64"), 0.1);
  EXPECT_EQ(*r.Str("str"), std::string("a\0b", 3));
  const std::vector<float> f = *r.F32s("floats");
  ASSERT_EQ(f.size(), floats.size());
  for (size_t idx = 0; idx < f.size(); ++idx) {
    EXPECT_EQ(std::bit_cast<uint32_t>(f[idx]), std::bit_cast<uint32_t>(floats[idx])) << idx;
  }
  EXPECT_EQ(*r.F64s("doubles"), doubles);
  EXPECT_EQ(*r.Bytes("blob"), "");
  EXPECT_TRUE(r.ExpectEnd().ok());
  EXPECT_FALSE(r.U8("past end").ok());
}

TEST(ByteReaderTest, ErrorsNameSourceFieldAndOffset) {
  ByteWriter w;
  w.U32(7);
  w.U8(1);
  ByteReader r(w.data(), "model.bin");
  ASSERT_TRUE(r.U32("layers").ok());
  const Result<uint64_t> count = r.U64("hidden size");
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(count.status().message().find("model.bin"), std::string::npos);
  EXPECT_NE(count.status().message().find("hidden size"), std::string::npos);
  EXPECT_NE(count.status().message().find("offset 4"), std::string::npos);
  EXPECT_FALSE(r.ExpectEnd().ok());
}

TEST(ByteReaderTest, HugeCountsAreErrorsNotAllocations) {
  for (const uint64_t count : {uint64_t{1} << 62, ~uint64_t{0}, uint64_t{3}}) {
    ByteWriter w;
    w.U64(count);
    w.U64(0);
    w.U64(count);  // after the count, 16 bytes are left: 4 floats, 2 doubles or 16 chars
    ByteReader floats(w.data(), "f");
    EXPECT_EQ(floats.F32s("weights").ok(), count <= 4) << count;
    ByteReader doubles(w.data(), "d");
    const Result<std::vector<double>> d = doubles.F64s("means");
    EXPECT_EQ(d.ok(), count <= 2) << count;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), StatusCode::kDataLoss);
      EXPECT_NE(d.status().message().find("means"), std::string::npos);
      EXPECT_NE(d.status().message().find("offset 0"), std::string::npos);
    }
    ByteReader str(w.data(), "s");
    EXPECT_EQ(str.Str("name").ok(), count <= 16) << count;
  }
}

TEST(Fnv1a64Test, KnownVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

// A payload shaped like a real model: a standardizer, some weights and a name.
std::string SamplePayload() {
  Matrix x(3, 2);
  x(0, 0) = 1.0f;
  x(1, 0) = 2.0f;
  x(2, 0) = 4.0f;
  x(0, 1) = x(1, 1) = x(2, 1) = 7.0f;
  ByteWriter w;
  Standardizer::Fit(x).Serialize(&w);
  const std::vector<float> weights = {0.25f, -1.0f, 3.0f};
  w.F32s(weights);
  w.Str("tree-7");
  w.U32(42);
  return w.Take();
}

// Reads SamplePayload back field by field; any error is returned.
Status ReadSamplePayload(std::string_view payload) {
  ByteReader r(payload, "payload");
  AITS_ASSIGN_OR_RETURN(const Standardizer s, Standardizer::Deserialize(&r));
  if (s.size() != 2) return Internal("wrong size");
  AITS_ASSIGN_OR_RETURN(const std::vector<float> weights, r.F32s("weights"));
  AITS_ASSIGN_OR_RETURN(const std::string name, r.Str("name"));
  AITS_ASSIGN_OR_RETURN(const uint32_t trees, r.U32("trees"));
  if (weights.size() != 3 || name != "tree-7" || trees != 42) return Internal("wrong values");
  return r.ExpectEnd();
}

TEST(ModelEnvelopeTest, RoundTrip) {
  const std::string payload = SamplePayload();
  const std::string file = WrapModel("logistic", payload);
  EXPECT_EQ(file.substr(0, 8), std::string("AITSML1\0", 8));
  const Result<ModelEnvelope> envelope = UnwrapModel(file, "m.bin");
  ASSERT_TRUE(envelope.ok()) << envelope.status().ToString();
  EXPECT_EQ(envelope->kind, "logistic");
  EXPECT_EQ(envelope->payload, payload);
  EXPECT_TRUE(ReadSamplePayload(envelope->payload).ok());
  // Same input, same bytes.
  EXPECT_EQ(WrapModel("logistic", payload), file);
}

TEST(ModelEnvelopeTest, EveryTruncationIsAnError) {
  const std::string payload = SamplePayload();
  const std::string file = WrapModel("logistic", payload);
  for (size_t length = 0; length < file.size(); ++length) {
    const Result<ModelEnvelope> envelope = UnwrapModel(file.substr(0, length), "m.bin");
    ASSERT_FALSE(envelope.ok()) << length;
    EXPECT_EQ(envelope.status().code(), StatusCode::kDataLoss) << length;
    EXPECT_NE(envelope.status().message().find("m.bin"), std::string::npos);
  }
  // The payload reader on its own (what a model's Deserialize sees) also fails cleanly.
  for (size_t length = 0; length < payload.size(); ++length) {
    const Status status = ReadSamplePayload(payload.substr(0, length));
    ASSERT_FALSE(status.ok()) << length;
    EXPECT_EQ(status.code(), StatusCode::kDataLoss) << length << " " << status.ToString();
  }
  EXPECT_TRUE(ReadSamplePayload(payload).ok());
}

TEST(ModelEnvelopeTest, CorruptionIsDetected) {
  const std::string file = WrapModel("xgboost", SamplePayload());
  for (size_t pos = 8; pos < file.size(); ++pos) {
    std::string corrupt = file;
    corrupt[pos] = static_cast<char>(corrupt[pos] ^ 0x10);
    const Result<ModelEnvelope> envelope = UnwrapModel(corrupt, "m.bin");
    ASSERT_FALSE(envelope.ok()) << pos;
    EXPECT_NE(envelope.status().message().find("checksum"), std::string::npos) << pos;
  }
  std::string bad_magic = file;
  bad_magic[0] = 'X';
  const Result<ModelEnvelope> envelope = UnwrapModel(bad_magic, "m.bin");
  ASSERT_FALSE(envelope.ok());
  EXPECT_NE(envelope.status().message().find("magic"), std::string::npos);
}

TEST(FileTest, AtomicWriteAndRead) {
  const std::string path = TempPath("file.bin");
  const std::string bytes("x\0y\nz", 5);
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  const Result<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, bytes);
  ASSERT_TRUE(WriteFileAtomic(path, "second").ok());
  EXPECT_EQ(*ReadFile(path), "second");
  ::unlink(path.c_str());

  const Result<std::string> missing = ReadFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
  EXPECT_FALSE(WriteFileAtomic("/nonexistent-dir/x/y.bin", "z").ok());
  const Result<std::string> directory = ReadFile(::testing::TempDir());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace aits::ml
