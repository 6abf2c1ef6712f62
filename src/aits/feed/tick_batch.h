// Tick batches: the streamer's wire format for ticks of one or several symbols, compressed with LZ4
// (live transport) or gzip (history transfers). Format and figures: docs/feed.md.
//
// A batch is a 24-byte header followed by the compressed payload (little-endian):
//   offset 0  magic "AITB"          offset 12 raw_size u32 (payload bytes before compression)
//   offset 4  version u8 (1)        offset 16 wire_size u32 (payload bytes that follow the header)
//   offset 5  codec u8              offset 20 crc32 u32 (zlib's CRC-32 of header bytes 0..19,
//   offset 6  flags u16                       then of the uncompressed payload)
//   offset 8  count u32 (ticks)
// The uncompressed payload is: varint time exponent e (ticks' times are counted in 10^e ns: 0, 3
// or 6); varint symbol count; per symbol a varint name length, the name and one byte of digits;
// then per tick: varint symbol index, varint time delta (in 10^e ns, against the symbol's previous
// tick; never negative), zigzag-varint delta of the bid in points (10^-digits), zigzag-varint delta
// of the spread in points, varint (sequence delta - 1) (sequences rise strictly per symbol), and
// the bits of each volume XOR the symbol's previous ones as varints. A symbol's first tick takes
// its deltas against zero. Flag bit 0 (kBatchFlagSourceTimes) adds one more varint at the end of
// each tick's record: the zigzag delta of its source time (SequencedTick::source_msc) against the
// symbol's previous tick's, signed (a server's times may repeat or step back); the encoder sets
// the flag only when a tick has one, so a batch without source times is what it was before the
// flag existed. Other flag bits are refused.
//
// A raw tick (what the compression ratio and MB/s figures count) is 40 bytes: time, bid and ask as
// 64-bit integers, two 32-bit volumes and a 64-bit sequence; kRawTickBytes.
//
// Decoding validates everything and never trusts a length: a short or oversized input, a raw size
// above the cap, an unknown codec or version, a payload that does not decompress to exactly
// raw_size bytes, a checksum mismatch, a malformed payload (truncated varint, unknown symbol
// index, time going backwards, non-positive or crossed prices, sequences not rising, a count that
// differs from the header's, trailing bytes) each return a Status that names the field and the byte
// offset (in the batch for the header, in the uncompressed payload for the rest). Never a crash:
// tick_batch_fuzz.cc and tick_batch_test.cc feed it mutated and truncated batches.
//
// TickBatchCodec keeps its scratch buffers and zlib streams between calls, so encoding and
// decoding do not allocate once warm. Not thread-safe: one codec per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/model/market.h"

namespace aits::feed {

enum class Compression : uint8_t {
  kNone = 0,  // stored: the payload as is (tests, and measuring the varint layer alone)
  kLz4 = 1,   // live batches
  kGzip = 2,  // history transfers: deflate with a gzip header (RFC 1952)
};
std::string_view ToString(Compression compression);  // "none", "lz4", "gzip"

inline constexpr size_t kBatchHeaderBytes = 24;
inline constexpr size_t kRawTickBytes = 40;
inline constexpr uint8_t kBatchVersion = 1;
// Header flag (byte 6): every tick's record ends with its source time's delta.
inline constexpr uint16_t kBatchFlagSourceTimes = 1;
// Default cap on a batch's uncompressed payload; a header asking for more is refused unread.
inline constexpr uint32_t kDefaultMaxRawSize = 16u << 20;
inline constexpr size_t kMaxSymbolName = 64;

struct BatchSymbol {
  std::string name;  // "EURUSD"
  int digits = 5;    // prices are multiples of 10^-digits

  friend bool operator==(const BatchSymbol&, const BatchSymbol&) = default;
};

// One tick with its per-symbol sequence number. tick.instrument.value is the index of the tick's
// symbol in TickBatch::symbols (not a catalogue id: the two ends may number instruments apart).
struct SequencedTick {
  Tick tick;
  uint64_t sequence = 0;
  // The trade server's own time of the tick in ms (MetaTrader's time_msc), 0 when the source has
  // none: a restarted live gateway asks its terminal for the ticks after the last one published.
  int64_t source_msc = 0;
};

struct TickBatch {
  std::vector<BatchSymbol> symbols;
  std::vector<SequencedTick> ticks;

  void Clear() {
    symbols.clear();
    ticks.clear();
  }
};

// Ticks equal field by field (times, raw prices and precisions, volumes' bits, instrument,
// sequence, source time).
bool SameTick(const SequencedTick& a, const SequencedTick& b);

struct DecodeLimits {
  uint32_t max_raw_size = kDefaultMaxRawSize;
};

// The header's fields, read without decompressing (framing, logs).
struct BatchHeader {
  Compression compression = Compression::kNone;
  uint16_t flags = 0;  // kBatchFlagSourceTimes or 0
  uint32_t count = 0;
  uint32_t raw_size = 0;
  uint32_t wire_size = 0;
  uint32_t crc32 = 0;
  size_t TotalBytes() const { return kBatchHeaderBytes + wire_size; }
};

// Reads and checks the header of `bytes` (magic, version, codec, flags, caps). It does not
// require the payload to be present: a stream reader learns from it how many bytes to wait for.
Result<BatchHeader> ReadBatchHeader(std::span<const uint8_t> bytes,
                                    const DecodeLimits& limits = {});

class TickBatchCodec {
 public:
  TickBatchCodec();
  ~TickBatchCodec();
  TickBatchCodec(const TickBatchCodec&) = delete;
  TickBatchCodec& operator=(const TickBatchCodec&) = delete;

  // Encodes `batch` into `out` (replacing its contents). InvalidArgument, naming the tick and the
  // field, if the batch breaks the format's rules: every tick's instrument indexes `symbols`, its
  // prices have the symbol's precision and are positive multiples of 10^-digits with ask >= bid,
  // volumes are finite and >= 0, times are not before 1970 and never fall and sequences rise
  // strictly per symbol, names are 1..64 bytes, digits 0..9, sequences are > 0 (source times may
  // be any value); OutOfRange if the payload would exceed kDefaultMaxRawSize.
  Status Encode(const TickBatch& batch, Compression compression, std::vector<uint8_t>& out);

  // Decodes one whole batch (exactly: trailing bytes are an error) into `out` (replaced).
  Status Decode(std::span<const uint8_t> bytes, TickBatch& out, const DecodeLimits& limits = {});

  // The uncompressed payload of the last Encode or successful Decode (benchmarks measure the
  // varint layer and the compressors apart with it).
  std::span<const uint8_t> last_payload() const { return payload_; }

 private:
  struct Zlib;
  Status DecodeInto(std::span<const uint8_t> bytes, TickBatch& out, const DecodeLimits& limits);

  std::vector<uint8_t> payload_;
  std::unique_ptr<Zlib> zlib_;
};

// One-shot conveniences over a temporary codec.
Result<std::vector<uint8_t>> EncodeBatch(const TickBatch& batch, Compression compression);
Result<TickBatch> DecodeBatch(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

}  // namespace aits::feed
