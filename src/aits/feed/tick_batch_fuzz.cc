// libFuzzer target for the tick batch decoder (tick_batch.h). Each input is decoded twice: as a
// whole batch (header, codecs, checksum), and as the payload of a stored batch wrapped with a
// correct checksum, so that the fuzzer also reaches the payload parser behind the CRC. A decode
// that succeeds must re-encode to a batch that decodes to the same ticks. Built by the fuzz
// preset (clang, -fsanitize=fuzzer,address):
//   cmake --preset fuzz && cmake --build --preset fuzz --target tick_batch_fuzz
//   build/fuzz/src/aits/feed/tick_batch_fuzz -max_total_time=60
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "aits/feed/internal/little_endian.h"
#include "aits/feed/tick_batch.h"

namespace {

std::vector<uint8_t> Stored(const uint8_t* data, size_t size, uint32_t count, uint16_t flags) {
  std::vector<uint8_t> out(aits::feed::kBatchHeaderBytes);
  std::memcpy(out.data(), "AITB", 4);
  out[4] = aits::feed::kBatchVersion;
  aits::feed::internal::PutU16(out.data() + 6, flags);
  auto put = [&](size_t at, uint32_t value) {
    aits::feed::internal::PutU32(out.data() + at, value);
  };
  put(8, count);
  put(12, static_cast<uint32_t>(size));
  put(16, static_cast<uint32_t>(size));
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data(), 20);
  crc = crc32(crc, data, static_cast<uInt>(size));
  put(20, static_cast<uint32_t>(crc));
  out.insert(out.end(), data, data + size);
  return out;
}

void CheckRoundTrip(const aits::feed::TickBatch& batch) {
  auto bytes = aits::feed::EncodeBatch(batch, aits::feed::Compression::kLz4);
  if (!bytes.ok()) std::abort();  // whatever decodes must encode
  auto again = aits::feed::DecodeBatch(*bytes);
  if (!again.ok() || again->ticks.size() != batch.ticks.size()) std::abort();
  for (size_t idx = 0; idx < batch.ticks.size(); ++idx) {
    if (!aits::feed::SameTick(batch.ticks[idx], again->ticks[idx])) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static aits::feed::TickBatchCodec codec;
  aits::feed::TickBatch batch;
  const aits::feed::DecodeLimits limits{.max_raw_size = 1u << 20};
  if (codec.Decode({data, size}, batch, limits).ok()) CheckRoundTrip(batch);
  if (size >= 1) {
    // The first byte picks a count (its low 7 bits) and whether source times follow each tick
    // (its top bit); the rest is the payload.
    const std::vector<uint8_t> stored =
        Stored(data + 1, size - 1, data[0] & 0x7f,
               (data[0] & 0x80) != 0 ? aits::feed::kBatchFlagSourceTimes : uint16_t{0});
    if (codec.Decode(stored, batch, limits).ok()) CheckRoundTrip(batch);
  }
  return 0;
}
