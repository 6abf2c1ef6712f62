#include "aits/feed/tick_batch.h"

#include <lz4.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "aits/feed/internal/little_endian.h"

namespace aits::feed {
namespace {

using internal::GetU16;
using internal::GetU32;
using internal::PutU16;
using internal::PutU32;

constexpr uint8_t kMagic[4] = {'A', 'I', 'T', 'B'};
constexpr size_t kCrcOffset = 20;
// The fewest payload bytes one tick takes (its seven varints, one byte each; eight with source
// times): bounds the count a header may claim before anything is decompressed.
constexpr uint32_t kMinTickPayloadBytes = 7;
constexpr uint64_t kMaxSymbols = 4096;

uint64_t ZigZag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}
int64_t UnZigZag(uint64_t value) {
  return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

// Source times are the terminal's, unchecked: their deltas wrap modulo 2^64 so that any value
// round-trips without an overflow to refuse.
int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// Appends varints to a buffer whose room the caller has reserved (at most 10 bytes each).
struct Writer {
  uint8_t* at;
  void Varint(uint64_t value) {
    while (value >= 0x80) {
      *at++ = static_cast<uint8_t>(value | 0x80);
      value >>= 7;
    }
    *at++ = static_cast<uint8_t>(value);
  }
};

// raw / 10^(9 - digits) when it divides exactly. The switch gives the compiler constant divisors
// (multiplications) on the encoder's hot path.
bool ToPoints(int64_t raw, int digits, int64_t& points) {
  switch (digits) {
#define AITS_FEED_POINTS(d, s) \
  case d:                      \
    points = raw / (s);        \
    return raw % (s) == 0;
    AITS_FEED_POINTS(0, 1'000'000'000)
    AITS_FEED_POINTS(1, 100'000'000)
    AITS_FEED_POINTS(2, 10'000'000)
    AITS_FEED_POINTS(3, 1'000'000)
    AITS_FEED_POINTS(4, 100'000)
    AITS_FEED_POINTS(5, 10'000)
    AITS_FEED_POINTS(6, 1'000)
    AITS_FEED_POINTS(7, 100)
    AITS_FEED_POINTS(8, 10)
#undef AITS_FEED_POINTS
    default:
      points = raw;
      return true;
  }
}

int64_t TimeUnit(uint64_t exponent) {
  return exponent == 6 ? 1'000'000 : (exponent == 3 ? 1'000 : 1);
}

bool ValidVolume(float volume) { return std::isfinite(volume) && volume >= 0; }

// Per-symbol state of the delta coding, the same on both sides.
struct SymbolState {
  int64_t time_units = 0;
  int64_t bid_points = 0;
  int64_t spread_points = 0;
  uint64_t sequence = 0;
  uint32_t bid_volume_bits = 0;
  uint32_t ask_volume_bits = 0;
  int64_t source_msc = 0;
  int digits = 0;
};

std::string TickField(size_t tick_idx, const char* field) {
  return "tick " + std::to_string(tick_idx) + " field '" + field + "'";
}

uint32_t Crc(const uint8_t* header, std::span<const uint8_t> payload) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, header, static_cast<uInt>(kCrcOffset));
  // zlib takes uInt lengths; payloads are capped far below 4 GiB, but stay exact anyway.
  size_t done = 0;
  while (done < payload.size()) {
    const size_t chunk = std::min<size_t>(payload.size() - done, 1u << 30);
    crc = crc32(crc, payload.data() + done, static_cast<uInt>(chunk));
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

// Reads the payload with bounds on every byte; errors name the payload offset.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  // `what` names the field; `tick_idx` the tick, or -1 outside the ticks. The message is built
  // only on failure: this is the decoder's hot path.
  Status Varint(uint64_t& value, const char* what, int64_t tick_idx = -1) {
    if (pos_ < bytes_.size() && bytes_[pos_] < 0x80) [[likely]] {
      value = bytes_[pos_++];
      return Status::Ok();
    }
    const size_t start = pos_;
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) {
        return DataLoss("payload byte " + std::to_string(start) + ": " + Name(what, tick_idx) +
                        " is a truncated varint (payload ends at byte " +
                        std::to_string(bytes_.size()) + ")");
      }
      const uint8_t byte = bytes_[pos_++];
      if (shift == 63 && byte > 1) break;
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        value = result;
        return Status::Ok();
      }
    }
    return DataLoss("payload byte " + std::to_string(start) + ": " + Name(what, tick_idx) +
                    " is a varint longer than 64 bits");
  }
  Status Bytes(size_t count, const uint8_t*& data, const std::string& what) {
    if (bytes_.size() - pos_ < count) {
      return DataLoss("payload byte " + std::to_string(pos_) + ": " + what + " needs " +
                      std::to_string(count) + " bytes, " + std::to_string(bytes_.size() - pos_) +
                      " left");
    }
    data = bytes_.data() + pos_;
    pos_ += count;
    return Status::Ok();
  }
  size_t pos() const { return pos_; }
  size_t left() const { return bytes_.size() - pos_; }

 private:
  static std::string Name(const char* what, int64_t tick_idx) {
    return tick_idx < 0 ? std::string(what) : TickField(static_cast<size_t>(tick_idx), what);
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

Status BadValue(size_t offset, const std::string& what, const std::string& why) {
  return DataLoss("payload byte " + std::to_string(offset) + ": " + what + " " + why);
}

}  // namespace

std::string_view ToString(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "none";
    case Compression::kLz4:
      return "lz4";
    case Compression::kGzip:
      return "gzip";
  }
  return "unknown";
}

bool SameTick(const SequencedTick& a, const SequencedTick& b) {
  const Tick& x = a.tick;
  const Tick& y = b.tick;
  return a.sequence == b.sequence && x.ts == y.ts && x.bid.raw() == y.bid.raw() &&
         x.bid.precision() == y.bid.precision() && x.ask.raw() == y.ask.raw() &&
         x.ask.precision() == y.ask.precision() &&
         std::bit_cast<uint32_t>(x.bid_volume) == std::bit_cast<uint32_t>(y.bid_volume) &&
         std::bit_cast<uint32_t>(x.ask_volume) == std::bit_cast<uint32_t>(y.ask_volume) &&
         x.instrument == y.instrument && a.source_msc == b.source_msc;
}

Result<BatchHeader> ReadBatchHeader(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  if (bytes.size() < kBatchHeaderBytes) {
    return DataLoss("tick batch truncated: " + std::to_string(bytes.size()) +
                    " bytes, the header alone is " + std::to_string(kBatchHeaderBytes));
  }
  const uint8_t* in = bytes.data();
  if (std::memcmp(in, kMagic, 4) != 0) {
    return InvalidArgument("tick batch byte 0: bad magic (not \"AITB\")");
  }
  if (in[4] != kBatchVersion) {
    return InvalidArgument("tick batch byte 4: unsupported version " + std::to_string(in[4]) +
                           " (this build reads " + std::to_string(kBatchVersion) + ")");
  }
  if (in[5] > static_cast<uint8_t>(Compression::kGzip)) {
    return InvalidArgument("tick batch byte 5: unknown codec " + std::to_string(in[5]));
  }
  const uint16_t flags = GetU16(in + 6);
  if ((flags & ~kBatchFlagSourceTimes) != 0) {
    return InvalidArgument("tick batch byte 6: unknown flags " + std::to_string(flags));
  }
  BatchHeader header;
  header.compression = static_cast<Compression>(in[5]);
  header.flags = flags;
  header.count = GetU32(in + 8);
  header.raw_size = GetU32(in + 12);
  header.wire_size = GetU32(in + 16);
  header.crc32 = GetU32(in + kCrcOffset);
  // The cap itself is capped, so that raw_size + 1 and the wire bound below never overflow.
  const uint32_t cap = std::min<uint32_t>(limits.max_raw_size, 1u << 30);
  if (header.raw_size > cap) {
    return OutOfRange("tick batch byte 12: raw size " + std::to_string(header.raw_size) +
                      " exceeds the cap of " + std::to_string(cap));
  }
  if (header.count > header.raw_size / kMinTickPayloadBytes) {
    return DataLoss("tick batch byte 8: count " + std::to_string(header.count) +
                    " cannot fit in a raw size of " + std::to_string(header.raw_size));
  }
  if (header.compression == Compression::kNone && header.wire_size != header.raw_size) {
    return DataLoss("tick batch byte 16: a stored batch's wire size " +
                    std::to_string(header.wire_size) + " differs from its raw size " +
                    std::to_string(header.raw_size));
  }
  // Neither compressor expands its input by more than a small fraction.
  const uint64_t wire_cap = static_cast<uint64_t>(header.raw_size) + header.raw_size / 8 + 1024;
  if (header.wire_size > wire_cap) {
    return DataLoss("tick batch byte 16: wire size " + std::to_string(header.wire_size) +
                    " is implausible for a raw size of " + std::to_string(header.raw_size));
  }
  return header;
}

struct TickBatchCodec::Zlib {
  z_stream deflater{};
  z_stream inflater{};
  bool deflate_ready = false;
  bool inflate_ready = false;

  ~Zlib() {
    if (deflate_ready) deflateEnd(&deflater);
    if (inflate_ready) inflateEnd(&inflater);
  }
};

TickBatchCodec::TickBatchCodec() : zlib_(std::make_unique<Zlib>()) {}
TickBatchCodec::~TickBatchCodec() = default;

Status TickBatchCodec::Encode(const TickBatch& batch, Compression compression,
                              std::vector<uint8_t>& out) {
  out.clear();
  if (batch.symbols.size() > kMaxSymbols) {
    return InvalidArgument("tick batch: " + std::to_string(batch.symbols.size()) +
                           " symbols, at most " + std::to_string(kMaxSymbols));
  }
  // The coarsest time unit every tick's time is a whole multiple of, and whether any tick has a
  // source time (without, the batch is byte for byte what it was before the flag).
  bool millis = true;
  bool micros = true;
  bool source_times = false;
  for (const SequencedTick& st : batch.ticks) {
    millis = millis && st.tick.ts.ns % 1'000'000 == 0;
    micros = micros && st.tick.ts.ns % 1'000 == 0;
    source_times = source_times || st.source_msc != 0;
  }
  // Worst case: 10 bytes per varint, 8 varints per tick.
  const uint64_t worst =
      32 + batch.symbols.size() * (kMaxSymbolName + 12) + batch.ticks.size() * 80;
  payload_.resize(static_cast<size_t>(worst));
  Writer writer{payload_.data()};

  const uint64_t exponent = millis ? 6 : (micros ? 3 : 0);
  const int64_t unit = TimeUnit(exponent);
  writer.Varint(exponent);

  std::vector<SymbolState> states(batch.symbols.size());
  writer.Varint(batch.symbols.size());
  for (size_t sym = 0; sym < batch.symbols.size(); ++sym) {
    const BatchSymbol& symbol = batch.symbols[sym];
    if (symbol.name.empty() || symbol.name.size() > kMaxSymbolName) {
      return InvalidArgument("tick batch: symbol " + std::to_string(sym) + " name '" + symbol.name +
                             "' must be 1.." + std::to_string(kMaxSymbolName) + " bytes");
    }
    if (symbol.digits < 0 || symbol.digits > 9) {
      return InvalidArgument("tick batch: symbol '" + symbol.name + "' digits " +
                             std::to_string(symbol.digits) + " is outside 0..9");
    }
    writer.Varint(symbol.name.size());
    std::memcpy(writer.at, symbol.name.data(), symbol.name.size());
    writer.at += symbol.name.size();
    *writer.at++ = static_cast<uint8_t>(symbol.digits);
    states[sym].digits = symbol.digits;
  }

  for (size_t idx = 0; idx < batch.ticks.size(); ++idx) {
    const SequencedTick& st = batch.ticks[idx];
    const Tick& tick = st.tick;
    const uint32_t sym = tick.instrument.value;
    if (sym >= states.size()) {
      return InvalidArgument(TickField(idx, "instrument") + " value " + std::to_string(sym) +
                             " indexes no symbol (the batch has " + std::to_string(states.size()) +
                             ")");
    }
    SymbolState& state = states[sym];
    int64_t bid_points = 0;
    int64_t ask_points = 0;
    if (tick.bid.precision() != state.digits || tick.ask.precision() != state.digits ||
        !ToPoints(tick.bid.raw(), state.digits, bid_points) ||
        !ToPoints(tick.ask.raw(), state.digits, ask_points)) [[unlikely]] {
      return InvalidArgument(TickField(idx, "bid/ask") + " " + tick.bid.ToString() + "/" +
                             tick.ask.ToString() + " is not a price of " +
                             std::to_string(state.digits) + " digits");
    }
    if (bid_points <= 0 || ask_points < bid_points) [[unlikely]] {
      return InvalidArgument(TickField(idx, "bid/ask") + " " + tick.bid.ToString() + "/" +
                             tick.ask.ToString() + " is not positive and uncrossed");
    }
    if (!ValidVolume(tick.bid_volume) || !ValidVolume(tick.ask_volume)) [[unlikely]] {
      return InvalidArgument(TickField(idx, "volume") + " must be finite and >= 0");
    }
    const int64_t time_units = tick.ts.ns / unit;
    if (tick.ts.ns < 0) [[unlikely]] {
      return InvalidArgument(TickField(idx, "ts") + " " + std::to_string(tick.ts.ns) +
                             " ns is before 1970");
    }
    if (time_units < state.time_units) [[unlikely]] {
      return InvalidArgument(TickField(idx, "ts") + " " + FormatIso8601(tick.ts) +
                             " is earlier than the symbol's previous tick");
    }
    if (st.sequence <= state.sequence) [[unlikely]] {
      return InvalidArgument(TickField(idx, "sequence") + " " + std::to_string(st.sequence) +
                             " does not rise above the symbol's previous " +
                             std::to_string(state.sequence));
    }
    const int64_t spread = ask_points - bid_points;
    const uint32_t bid_bits = std::bit_cast<uint32_t>(tick.bid_volume);
    const uint32_t ask_bits = std::bit_cast<uint32_t>(tick.ask_volume);
    writer.Varint(sym);
    writer.Varint(static_cast<uint64_t>(time_units - state.time_units));
    writer.Varint(ZigZag(bid_points - state.bid_points));
    writer.Varint(ZigZag(spread - state.spread_points));
    writer.Varint(st.sequence - state.sequence - 1);
    writer.Varint(bid_bits ^ state.bid_volume_bits);
    writer.Varint(ask_bits ^ state.ask_volume_bits);
    if (source_times) writer.Varint(ZigZag(WrappingSub(st.source_msc, state.source_msc)));
    state.time_units = time_units;
    state.bid_points = bid_points;
    state.spread_points = spread;
    state.sequence = st.sequence;
    state.bid_volume_bits = bid_bits;
    state.ask_volume_bits = ask_bits;
    state.source_msc = st.source_msc;
  }
  const size_t raw_size = static_cast<size_t>(writer.at - payload_.data());
  payload_.resize(raw_size);
  if (raw_size > kDefaultMaxRawSize) {
    return OutOfRange("tick batch: payload of " + std::to_string(raw_size) +
                      " bytes exceeds the cap of " + std::to_string(kDefaultMaxRawSize) +
                      "; send fewer ticks per batch");
  }

  size_t bound = raw_size;
  if (compression == Compression::kLz4) {
    bound = static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw_size)));
  } else if (compression == Compression::kGzip) {
    bound = raw_size + raw_size / 8 + 1024;
  }
  out.resize(kBatchHeaderBytes + bound);
  uint8_t* header = out.data();
  std::memcpy(header, kMagic, 4);
  header[4] = kBatchVersion;
  header[5] = static_cast<uint8_t>(compression);
  PutU16(header + 6, source_times ? kBatchFlagSourceTimes : uint16_t{0});
  PutU32(header + 8, static_cast<uint32_t>(batch.ticks.size()));
  PutU32(header + 12, static_cast<uint32_t>(raw_size));
  uint8_t* wire = out.data() + kBatchHeaderBytes;
  size_t wire_size = 0;
  switch (compression) {
    case Compression::kNone:
      if (raw_size > 0) std::memcpy(wire, payload_.data(), raw_size);
      wire_size = raw_size;
      break;
    case Compression::kLz4: {
      const int written = LZ4_compress_default(reinterpret_cast<const char*>(payload_.data()),
                                               reinterpret_cast<char*>(wire),
                                               static_cast<int>(raw_size), static_cast<int>(bound));
      if (written <= 0) return Internal("tick batch: LZ4 compression failed");
      wire_size = static_cast<size_t>(written);
      break;
    }
    case Compression::kGzip: {
      z_stream& z = zlib_->deflater;
      if (!zlib_->deflate_ready) {
        // windowBits 15 + 16: deflate with a gzip header and trailer.
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK) {
          return Internal("tick batch: zlib deflateInit2 failed");
        }
        zlib_->deflate_ready = true;
      } else if (deflateReset(&z) != Z_OK) {
        return Internal("tick batch: zlib deflateReset failed");
      }
      z.next_in = payload_.data();
      z.avail_in = static_cast<uInt>(raw_size);
      z.next_out = wire;
      z.avail_out = static_cast<uInt>(bound);
      if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        return Internal("tick batch: zlib deflate did not finish in " + std::to_string(bound) +
                        " bytes");
      }
      wire_size = bound - z.avail_out;
      break;
    }
    default:
      return InvalidArgument("tick batch: unknown compression " +
                             std::to_string(static_cast<int>(compression)));
  }
  PutU32(header + 16, static_cast<uint32_t>(wire_size));
  PutU32(header + kCrcOffset, Crc(header, payload_));
  out.resize(kBatchHeaderBytes + wire_size);
  return Status::Ok();
}

Status TickBatchCodec::Decode(std::span<const uint8_t> bytes, TickBatch& out,
                              const DecodeLimits& limits) {
  Status status = DecodeInto(bytes, out, limits);
  if (!status.ok()) out.Clear();
  return status;
}

Status TickBatchCodec::DecodeInto(std::span<const uint8_t> bytes, TickBatch& out,
                                  const DecodeLimits& limits) {
  out.Clear();
  AITS_ASSIGN_OR_RETURN(const BatchHeader header, ReadBatchHeader(bytes, limits));
  const size_t have = bytes.size() - kBatchHeaderBytes;
  if (have < header.wire_size) {
    return DataLoss("tick batch byte 16: wire size " + std::to_string(header.wire_size) +
                    " but only " + std::to_string(have) + " bytes follow the header");
  }
  if (have > header.wire_size) {
    return DataLoss("tick batch byte " + std::to_string(header.TotalBytes()) + ": " +
                    std::to_string(have - header.wire_size) + " trailing bytes after the batch");
  }
  const uint8_t* wire = bytes.data() + kBatchHeaderBytes;
  payload_.resize(header.raw_size);
  const std::string where = "tick batch bytes " + std::to_string(kBatchHeaderBytes) + ".." +
                            std::to_string(header.TotalBytes());
  switch (header.compression) {
    case Compression::kNone:
      if (header.raw_size > 0) std::memcpy(payload_.data(), wire, header.raw_size);
      break;
    case Compression::kLz4: {
      const int got = LZ4_decompress_safe(
          reinterpret_cast<const char*>(wire), reinterpret_cast<char*>(payload_.data()),
          static_cast<int>(header.wire_size), static_cast<int>(header.raw_size));
      if (got < 0) return DataLoss(where + ": corrupt LZ4 data");
      if (static_cast<uint32_t>(got) != header.raw_size) {
        return DataLoss(where + ": LZ4 data decompress to " + std::to_string(got) +
                        " bytes, the header (byte 12) says " + std::to_string(header.raw_size));
      }
      break;
    }
    case Compression::kGzip: {
      z_stream& z = zlib_->inflater;
      if (!zlib_->inflate_ready) {
        if (inflateInit2(&z, 15 + 16) != Z_OK) return Internal("tick batch: zlib inflateInit2");
        zlib_->inflate_ready = true;
      } else if (inflateReset(&z) != Z_OK) {
        return Internal("tick batch: zlib inflateReset failed");
      }
      // A 1-byte spare in the output tells "exactly raw_size" from "more than raw_size".
      payload_.resize(static_cast<size_t>(header.raw_size) + 1);
      z.next_in = const_cast<uint8_t*>(wire);
      z.avail_in = header.wire_size;
      z.next_out = payload_.data();
      z.avail_out = header.raw_size + 1;
      const int rc = inflate(&z, Z_FINISH);
      const uint64_t produced = z.total_out;
      if (rc != Z_STREAM_END) {
        const char* why = rc == Z_DATA_ERROR  ? (z.msg ? z.msg : "data error")
                          : rc == Z_BUF_ERROR ? "stream cut short"
                                              : "inflate failed";
        if (produced > header.raw_size) {
          return DataLoss(where + ": gzip data inflate beyond the raw size " +
                          std::to_string(header.raw_size) + " (byte 12)");
        }
        return DataLoss(where + ": corrupt gzip data (" + why + ", after " +
                        std::to_string(header.wire_size - z.avail_in) + " input bytes)");
      }
      if (produced != header.raw_size) {
        return DataLoss(where + ": gzip data inflate to " + std::to_string(produced) +
                        " bytes, the header (byte 12) says " + std::to_string(header.raw_size));
      }
      if (z.avail_in != 0) {
        return DataLoss(where + ": " + std::to_string(z.avail_in) +
                        " bytes after the end of the gzip stream");
      }
      payload_.resize(header.raw_size);
      break;
    }
  }
  const uint32_t crc = Crc(bytes.data(), payload_);
  if (crc != header.crc32) {
    return DataLoss("tick batch byte 20: checksum mismatch (header " +
                    std::to_string(header.crc32) + ", computed " + std::to_string(crc) + ")");
  }

  Reader reader(payload_);
  uint64_t exponent = 0;
  AITS_RETURN_IF_ERROR(reader.Varint(exponent, "time exponent"));
  if (exponent != 0 && exponent != 3 && exponent != 6) {
    return BadValue(0, "time exponent", std::to_string(exponent) + " is not 0, 3 or 6");
  }
  const int64_t unit = TimeUnit(exponent);
  uint64_t symbol_count = 0;
  size_t at = reader.pos();
  AITS_RETURN_IF_ERROR(reader.Varint(symbol_count, "symbol count"));
  if (symbol_count > kMaxSymbols) {
    return BadValue(at, "symbol count",
                    std::to_string(symbol_count) + " exceeds " + std::to_string(kMaxSymbols));
  }
  std::vector<SymbolState> states(static_cast<size_t>(symbol_count));
  out.symbols.resize(static_cast<size_t>(symbol_count));
  for (size_t sym = 0; sym < states.size(); ++sym) {
    uint64_t length = 0;
    at = reader.pos();
    AITS_RETURN_IF_ERROR(reader.Varint(length, "symbol name length"));
    if (length == 0 || length > kMaxSymbolName) {
      return BadValue(at, "symbol " + std::to_string(sym) + " name length",
                      std::to_string(length) + " is outside 1.." + std::to_string(kMaxSymbolName));
    }
    const uint8_t* name = nullptr;
    AITS_RETURN_IF_ERROR(reader.Bytes(static_cast<size_t>(length) + 1, name, "symbol name"));
    const uint8_t digits = name[length];
    if (digits > 9) {
      return BadValue(reader.pos() - 1, "symbol " + std::to_string(sym) + " digits",
                      std::to_string(digits) + " is outside 0..9");
    }
    out.symbols[sym].name.assign(reinterpret_cast<const char*>(name), static_cast<size_t>(length));
    out.symbols[sym].digits = digits;
    states[sym].digits = digits;
  }
  const bool source_times = (header.flags & kBatchFlagSourceTimes) != 0;
  if (header.count > reader.left() / (kMinTickPayloadBytes + (source_times ? 1 : 0))) {
    return DataLoss("tick batch byte 8: count " + std::to_string(header.count) +
                    " cannot fit in the " + std::to_string(reader.left()) +
                    " payload bytes left after the symbols");
  }

  out.ticks.resize(header.count);
  for (uint32_t idx = 0; idx < header.count; ++idx) {
    at = reader.pos();
    uint64_t sym = 0;
    uint64_t time_delta = 0;
    uint64_t bid_delta = 0;
    uint64_t spread_delta = 0;
    uint64_t sequence_gap = 0;
    uint64_t bid_bits = 0;
    uint64_t ask_bits = 0;
    uint64_t source_delta = 0;  // zigzag 0: the symbol's previous source time (0 without them)
    AITS_RETURN_IF_ERROR(reader.Varint(sym, "symbol", idx));
    AITS_RETURN_IF_ERROR(reader.Varint(time_delta, "time", idx));
    AITS_RETURN_IF_ERROR(reader.Varint(bid_delta, "bid", idx));
    AITS_RETURN_IF_ERROR(reader.Varint(spread_delta, "spread", idx));
    AITS_RETURN_IF_ERROR(reader.Varint(sequence_gap, "sequence", idx));
    AITS_RETURN_IF_ERROR(reader.Varint(bid_bits, "bid_volume", idx));
    AITS_RETURN_IF_ERROR(reader.Varint(ask_bits, "ask_volume", idx));
    if (source_times) AITS_RETURN_IF_ERROR(reader.Varint(source_delta, "source_msc", idx));
    if (sym >= states.size()) [[unlikely]] {
      return BadValue(at, TickField(idx, "symbol"),
                      std::to_string(sym) + " indexes no symbol (the batch has " +
                          std::to_string(states.size()) + ")");
    }
    SymbolState& state = states[static_cast<size_t>(sym)];
    int64_t time_units = 0;
    int64_t time_ns = 0;
    int64_t bid_points = 0;
    int64_t spread = 0;
    int64_t ask_points = 0;
    uint64_t sequence = 0;
    if (time_delta > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_add_overflow(state.time_units, static_cast<int64_t>(time_delta), &time_units) ||
        __builtin_mul_overflow(time_units, unit, &time_ns)) [[unlikely]] {
      return BadValue(at, TickField(idx, "time"), "overflows 64-bit nanoseconds");
    }
    if (__builtin_add_overflow(state.bid_points, UnZigZag(bid_delta), &bid_points) ||
        __builtin_add_overflow(state.spread_points, UnZigZag(spread_delta), &spread) ||
        __builtin_add_overflow(bid_points, spread, &ask_points)) [[unlikely]] {
      return BadValue(at, TickField(idx, "bid/spread"), "overflows 64 bits");
    }
    const int64_t scale = Pow10(kFixedDigits - state.digits);
    int64_t bid_raw = 0;
    int64_t ask_raw = 0;
    if (bid_points <= 0 || spread < 0 || __builtin_mul_overflow(bid_points, scale, &bid_raw) ||
        __builtin_mul_overflow(ask_points, scale, &ask_raw)) [[unlikely]] {
      return BadValue(at, TickField(idx, "bid/ask"),
                      "points " + std::to_string(bid_points) + "/" + std::to_string(ask_points) +
                          " are not a positive, uncrossed price");
    }
    if (__builtin_add_overflow(state.sequence, sequence_gap, &sequence) ||
        __builtin_add_overflow(sequence, uint64_t{1}, &sequence)) [[unlikely]] {
      return BadValue(at, TickField(idx, "sequence"), "overflows 64 bits");
    }
    if (bid_bits > std::numeric_limits<uint32_t>::max() ||
        ask_bits > std::numeric_limits<uint32_t>::max()) [[unlikely]] {
      return BadValue(at, TickField(idx, "volume"), "has more than 32 bits");
    }
    const uint32_t bid_volume_bits = state.bid_volume_bits ^ static_cast<uint32_t>(bid_bits);
    const uint32_t ask_volume_bits = state.ask_volume_bits ^ static_cast<uint32_t>(ask_bits);
    const float bid_volume = std::bit_cast<float>(bid_volume_bits);
    const float ask_volume = std::bit_cast<float>(ask_volume_bits);
    if (!ValidVolume(bid_volume) || !ValidVolume(ask_volume)) [[unlikely]] {
      return BadValue(at, TickField(idx, "volume"), "is not finite and >= 0");
    }
    state.time_units = time_units;
    state.bid_points = bid_points;
    state.spread_points = spread;
    state.sequence = sequence;
    state.bid_volume_bits = bid_volume_bits;
    state.ask_volume_bits = ask_volume_bits;
    state.source_msc = WrappingAdd(state.source_msc, UnZigZag(source_delta));
    SequencedTick& st = out.ticks[idx];
    st.sequence = sequence;
    st.source_msc = state.source_msc;
    st.tick.ts = Timestamp{time_ns};
    st.tick.bid = Price::FromRaw(bid_raw, state.digits);
    st.tick.ask = Price::FromRaw(ask_raw, state.digits);
    st.tick.bid_volume = bid_volume;
    st.tick.ask_volume = ask_volume;
    st.tick.instrument = InstrumentId{static_cast<uint32_t>(sym)};
  }
  if (reader.left() != 0) {
    return DataLoss("payload byte " + std::to_string(reader.pos()) + ": " +
                    std::to_string(reader.left()) + " bytes left after " +
                    std::to_string(header.count) + " ticks (the count at byte 8)");
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> EncodeBatch(const TickBatch& batch, Compression compression) {
  TickBatchCodec codec;
  std::vector<uint8_t> out;
  AITS_RETURN_IF_ERROR(codec.Encode(batch, compression, out));
  return out;
}

Result<TickBatch> DecodeBatch(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  TickBatchCodec codec;
  TickBatch batch;
  AITS_RETURN_IF_ERROR(codec.Decode(bytes, batch, limits));
  return batch;
}

}  // namespace aits::feed
