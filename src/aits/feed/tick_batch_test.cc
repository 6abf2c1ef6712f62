#include "aits/feed/tick_batch.h"
#include "aits/feed/internal/little_endian.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace aits::feed {
namespace {

Tick MakeTick(int64_t ts_ns, int64_t bid_points, int64_t spread, int digits, uint32_t symbol,
              float bid_volume = 0, float ask_volume = 0) {
  const int64_t scale = Pow10(9 - digits);
  Tick tick;
  tick.ts = Timestamp{ts_ns};
  tick.bid = Price::FromRaw(bid_points * scale, digits);
  tick.ask = Price::FromRaw((bid_points + spread) * scale, digits);
  tick.bid_volume = bid_volume;
  tick.ask_volume = ask_volume;
  tick.instrument = InstrumentId{symbol};
  return tick;
}

// Three symbols interleaved, random walks, times in `time_step_ns` steps. With `source_times`,
// each symbol's source times walk in ms steps of -2..+4 (they repeat and step back, as a trade
// server's may), the symbols' apart by days: across symbols, tick to tick, they jump both ways.
TickBatch RandomBatch(uint64_t seed, size_t count, int64_t time_step_ns,
                      bool source_times = false) {
  std::mt19937_64 rng(seed);
  TickBatch batch;
  batch.symbols = {{"EURUSD", 5}, {"USDJPY", 3}, {"XAUUSD", 2}};
  std::vector<int64_t> bid = {112'000, 108'500, 150'000};
  std::vector<int64_t> ts = {1'577'898'000'000'000'000, 1'577'898'000'000'000'000,
                             1'577'898'000'000'000'000};
  std::vector<uint64_t> seq = {0, 100, 7};
  std::vector<int64_t> source = {1'700'000'000'000, 1'699'900'000'000, 1'700'100'000'000};
  for (size_t idx = 0; idx < count; ++idx) {
    const uint32_t sym = static_cast<uint32_t>(rng() % 3);
    bid[sym] += static_cast<int64_t>(rng() % 7) - 3;
    ts[sym] += static_cast<int64_t>(rng() % 5) * time_step_ns;
    seq[sym] += 1 + rng() % 2;
    const float volume = (rng() % 4 == 0) ? static_cast<float>(rng() % 1000) / 10.0f : 0.0f;
    SequencedTick st;
    st.tick = MakeTick(ts[sym], bid[sym], static_cast<int64_t>(rng() % 20),
                       batch.symbols[sym].digits, sym, volume, volume * 2);
    st.sequence = seq[sym];
    if (source_times) {
      source[sym] += static_cast<int64_t>(rng() % 7) - 2;
      st.source_msc = source[sym];
    }
    batch.ticks.push_back(st);
  }
  return batch;
}

void ExpectSameBatch(const TickBatch& want, const TickBatch& got) {
  ASSERT_EQ(want.symbols, got.symbols);
  ASSERT_EQ(want.ticks.size(), got.ticks.size());
  for (size_t idx = 0; idx < want.ticks.size(); ++idx) {
    ASSERT_TRUE(SameTick(want.ticks[idx], got.ticks[idx])) << "tick " << idx;
  }
}

// Builds a stored (uncompressed) batch around any payload with a correct checksum, so that the
// payload parser itself is reached.
std::vector<uint8_t> StoredBatch(const std::vector<uint8_t>& payload, uint32_t count,
                                 uint16_t flags = 0) {
  std::vector<uint8_t> out(kBatchHeaderBytes);
  std::memcpy(out.data(), "AITB", 4);
  out[4] = kBatchVersion;
  out[5] = 0;
  aits::feed::internal::PutU16(out.data() + 6, flags);
  auto put = [&](size_t at, uint32_t value) {
    aits::feed::internal::PutU32(out.data() + at, value);
  };
  put(8, count);
  put(12, static_cast<uint32_t>(payload.size()));
  put(16, static_cast<uint32_t>(payload.size()));
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data(), 20);
  crc = crc32(crc, payload.data(), static_cast<uInt>(payload.size()));
  put(20, static_cast<uint32_t>(crc));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST(TickBatchTest, RoundTripsExactlyWithEveryCodec) {
  for (int64_t step : {int64_t{1}, int64_t{1'000}, int64_t{1'000'000}, int64_t{37'000'000}}) {
    const TickBatch batch = RandomBatch(static_cast<uint64_t>(step), 5'000, step);
    for (Compression codec : {Compression::kNone, Compression::kLz4, Compression::kGzip}) {
      SCOPED_TRACE(std::string(ToString(codec)) + " step " + std::to_string(step));
      auto bytes = EncodeBatch(batch, codec);
      ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
      auto header = ReadBatchHeader(*bytes);
      ASSERT_TRUE(header.ok()) << header.status().ToString();
      EXPECT_EQ(header->compression, codec);
      EXPECT_EQ(header->count, 5'000u);
      EXPECT_EQ(header->TotalBytes(), bytes->size());
      auto decoded = DecodeBatch(*bytes);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      ExpectSameBatch(batch, *decoded);
    }
  }
}

TEST(TickBatchTest, SourceTimesRoundTripWithEveryCodec) {
  TickBatch batch = RandomBatch(21, 3'000, 1'000'000, /*source_times=*/true);
  // Whatever the terminal sends comes back: none, and the extremes (the deltas wrap).
  batch.ticks[10].source_msc = 0;
  batch.ticks[11].source_msc = std::numeric_limits<int64_t>::max();
  batch.ticks[12].source_msc = std::numeric_limits<int64_t>::min();
  batch.ticks[13].source_msc = -1;
  for (Compression codec : {Compression::kNone, Compression::kLz4, Compression::kGzip}) {
    SCOPED_TRACE(ToString(codec));
    auto bytes = EncodeBatch(batch, codec);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto header = ReadBatchHeader(*bytes);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->flags, kBatchFlagSourceTimes);
    auto decoded = DecodeBatch(*bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ExpectSameBatch(batch, *decoded);  // SameTick compares source_msc too
  }
  // Without them the decoder leaves every source time 0.
  auto plain = DecodeBatch(*EncodeBatch(RandomBatch(21, 300, 1'000'000), Compression::kLz4));
  ASSERT_TRUE(plain.ok());
  for (const SequencedTick& st : plain->ticks) ASSERT_EQ(st.source_msc, 0);
}

// Hand-made bytes pin the layout: a batch whose ticks carry no source time is exactly what the
// format was before the flag (old batches and readers unchanged); with one, flag bit 0 and one
// zigzag varint more per tick.
TEST(TickBatchTest, SourceTimesChangeTheBytesOnlyWhenATickHasOne) {
  // exponent 6, one symbol "EU" of 5 digits; tick: symbol 0, +10 ms, bid 10 points (zigzag 20),
  // spread 1 (zigzag 2), sequence 1, volumes 0.
  const std::vector<uint8_t> payload = {6, 1, 2, 'E', 'U', 5, 0, 10, 20, 2, 0, 0, 0};
  TickBatch batch;
  batch.symbols = {{"EU", 5}};
  SequencedTick& tick = batch.ticks.emplace_back();
  tick.tick = MakeTick(10'000'000, 10, 1, 5, 0);
  tick.sequence = 1;
  auto bytes = EncodeBatch(batch, Compression::kNone);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, StoredBatch(payload, 1));

  batch.ticks[0].source_msc = -3;  // zigzag 5
  std::vector<uint8_t> with_time = payload;
  with_time.push_back(5);
  bytes = EncodeBatch(batch, Compression::kNone);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, StoredBatch(with_time, 1, kBatchFlagSourceTimes));
  auto decoded = DecodeBatch(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->ticks.at(0).source_msc, -3);

  // Several symbols, all source times 0: still no flag, still the old bytes.
  const TickBatch plain = RandomBatch(5, 500, 1'000);
  auto old_bytes = EncodeBatch(plain, Compression::kLz4);
  ASSERT_TRUE(old_bytes.ok());
  EXPECT_EQ(internal::GetU16(old_bytes->data() + 6), 0);
}

TEST(TickBatchTest, CompressesMillisecondTicksWellBelowTheirRawSize) {
  const TickBatch batch = RandomBatch(1, 10'000, 1'000'000);
  TickBatchCodec codec;
  std::vector<uint8_t> stored;
  std::vector<uint8_t> lz4;
  std::vector<uint8_t> gzip;
  ASSERT_TRUE(codec.Encode(batch, Compression::kNone, stored).ok());
  ASSERT_TRUE(codec.Encode(batch, Compression::kLz4, lz4).ok());
  ASSERT_TRUE(codec.Encode(batch, Compression::kGzip, gzip).ok());
  const size_t raw = batch.ticks.size() * kRawTickBytes;
  // Varints of millisecond and point deltas: at most ~12 bytes a tick before compression.
  EXPECT_LT(stored.size(), raw * 12 / 40);
  EXPECT_LT(gzip.size(), stored.size());
  EXPECT_LE(gzip.size(), lz4.size());
}

TEST(TickBatchTest, EmptyBatchRoundTrips) {
  TickBatch batch;
  for (Compression codec : {Compression::kNone, Compression::kLz4, Compression::kGzip}) {
    auto bytes = EncodeBatch(batch, codec);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto decoded = DecodeBatch(*bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(decoded->ticks.empty());
  }
}

TEST(TickBatchTest, RealEurUsdTicksRoundTrip) {
  // The shared data is read through a tiny parser here: the data module is not a dependency of
  // feed_stream; the collector's tests read it through aits::data.
  const std::string path = std::string(AITS_SHARED_DATA_DIR) + "/eurusd-ticks-2020-01-01.csv";
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) GTEST_SKIP() << "missing " << path;
  TickBatch batch;
  batch.symbols = {{"EURUSD", 5}};
  char line[128];
  uint64_t sequence = 0;
  while (std::fgets(line, sizeof(line), file) != nullptr) {
    int date = 0;
    long long clock = 0;
    double bid = 0;
    double ask = 0;
    if (std::sscanf(line, "%d %lld,%lf,%lf", &date, &clock, &bid, &ask) != 4) continue;
    const int64_t ms =
        (clock / 10'000'000) * 3'600'000 + (clock / 100'000 % 100) * 60'000 + clock % 100'000;
    const Timestamp ts =
        FromCivil(date / 10'000, date / 100 % 100, date % 100) + Duration::Millis(ms);
    if (!batch.ticks.empty() && ts < batch.ticks.back().tick.ts) continue;
    SequencedTick st;
    st.tick = MakeTick(ts.ns, std::llround(bid * 1e5),
                       std::llround(ask * 1e5) - std::llround(bid * 1e5), 5, 0);
    st.sequence = ++sequence;
    batch.ticks.push_back(st);
  }
  std::fclose(file);
  ASSERT_GT(batch.ticks.size(), 9'000u);
  for (Compression codec : {Compression::kLz4, Compression::kGzip}) {
    auto bytes = EncodeBatch(batch, codec);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto decoded = DecodeBatch(*bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ExpectSameBatch(batch, *decoded);
    // Real ticks: at least 4x smaller than their 40-byte raw form.
    EXPECT_LT(bytes->size() * 4, batch.ticks.size() * kRawTickBytes) << ToString(codec);
  }
}

TEST(TickBatchTest, EncoderRefusesTicksTheFormatCannotCarry) {
  auto base = [] {
    TickBatch batch;
    batch.symbols = {{"EURUSD", 5}};
    batch.ticks.push_back({MakeTick(1'000'000, 110'000, 5, 5, 0), 1});
    batch.ticks.push_back({MakeTick(2'000'000, 110'001, 5, 5, 0), 2});
    return batch;
  };
  auto expect_refused = [](const TickBatch& batch, const std::string& fragment) {
    auto bytes = EncodeBatch(batch, Compression::kLz4);
    ASSERT_FALSE(bytes.ok()) << fragment;
    EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bytes.status().message().find(fragment), std::string::npos)
        << bytes.status().message();
  };
  ASSERT_TRUE(EncodeBatch(base(), Compression::kLz4).ok());
  TickBatch batch = base();
  batch.ticks[1].tick.instrument = InstrumentId{3};
  expect_refused(batch, "tick 1 field 'instrument'");
  batch = base();
  batch.ticks[0].tick.bid = Price::FromRaw(batch.ticks[0].tick.bid.raw(), 4);
  expect_refused(batch, "tick 0 field 'bid/ask'");
  batch = base();
  batch.ticks[1].tick.ask = Price::FromRaw(batch.ticks[1].tick.bid.raw() - 10'000, 5);
  expect_refused(batch, "uncrossed");
  batch = base();
  batch.ticks[1].sequence = 1;
  expect_refused(batch, "tick 1 field 'sequence'");
  batch = base();
  batch.ticks[1].tick.ts = Timestamp{0};
  expect_refused(batch, "tick 1 field 'ts'");
  batch = base();
  batch.ticks[0].tick.bid_volume = std::numeric_limits<float>::quiet_NaN();
  expect_refused(batch, "tick 0 field 'volume'");
  batch = base();
  batch.symbols[0].name = "";
  expect_refused(batch, "name");
}

TEST(TickBatchTest, HeaderErrorsNameTheFieldAndOffset) {
  const TickBatch batch = RandomBatch(7, 100, 1'000'000);
  const std::vector<uint8_t> good = *EncodeBatch(batch, Compression::kLz4);
  auto decode_error = [](std::vector<uint8_t> bytes, DecodeLimits limits = {}) {
    auto result = DecodeBatch(bytes, limits);
    EXPECT_FALSE(result.ok());
    return result.ok() ? std::string() : result.status().message();
  };
  EXPECT_NE(decode_error({good.begin(), good.begin() + 10}).find("truncated"), std::string::npos);
  std::vector<uint8_t> bad = good;
  bad[0] = 'X';
  EXPECT_NE(decode_error(bad).find("byte 0: bad magic"), std::string::npos);
  bad = good;
  bad[4] = 9;
  EXPECT_NE(decode_error(bad).find("byte 4: unsupported version 9"), std::string::npos);
  bad = good;
  bad[5] = 7;
  EXPECT_NE(decode_error(bad).find("byte 5: unknown codec 7"), std::string::npos);
  EXPECT_NE(decode_error(good, DecodeLimits{.max_raw_size = 64}).find("byte 12: raw size"),
            std::string::npos);
  EXPECT_NE(decode_error({good.begin(), good.end() - 1}).find("only"), std::string::npos);
  bad = good;
  bad.push_back(0);
  EXPECT_NE(decode_error(bad).find("1 trailing bytes"), std::string::npos);
  bad = good;
  bad[8] ^= 1;  // the count: covered by the checksum
  EXPECT_NE(decode_error(bad).find("byte 20: checksum mismatch"), std::string::npos);
  bad = good;
  bad[bad.size() - 3] ^= 0x55;  // inside the LZ4 data
  const std::string lz4_error = decode_error(bad);
  EXPECT_TRUE(lz4_error.find("LZ4") != std::string::npos ||
              lz4_error.find("checksum") != std::string::npos)
      << lz4_error;

  const std::vector<uint8_t> gzip = *EncodeBatch(batch, Compression::kGzip);
  bad = gzip;
  bad[kBatchHeaderBytes + 12] ^= 0xff;
  const std::string gzip_error = decode_error(bad);
  EXPECT_TRUE(gzip_error.find("gzip") != std::string::npos ||
              gzip_error.find("checksum") != std::string::npos)
      << gzip_error;
}

TEST(TickBatchTest, PayloadErrorsNameTheTickAndOffset) {
  // Hand-made payloads behind a correct checksum.
  auto error_of = [](std::vector<uint8_t> payload, uint32_t count) {
    auto result = DecodeBatch(StoredBatch(payload, count));
    EXPECT_FALSE(result.ok());
    return result.ok() ? std::string() : result.status().message();
  };
  // exponent 6, one symbol "EU" with 5 digits, one tick.
  const std::vector<uint8_t> head = {6, 1, 2, 'E', 'U', 5};
  std::vector<uint8_t> payload = head;
  payload.insert(payload.end(), {0, 10, 20, 2, 0, 0, 0});
  ASSERT_TRUE(DecodeBatch(StoredBatch(payload, 1)).ok());
  EXPECT_NE(error_of({4, 0}, 0).find("payload byte 0: time exponent 4"), std::string::npos);
  payload = head;
  payload.insert(payload.end(), {1, 10, 20, 2, 0, 0, 0});
  EXPECT_NE(error_of(payload, 1).find("payload byte 6: tick 0 field 'symbol' 1 indexes no symbol"),
            std::string::npos);
  payload = head;
  payload.insert(payload.end(), {0, 10, 20, 2, 0, 0, 0x80});
  EXPECT_NE(error_of(payload, 1).find("payload byte 12: tick 0 field 'ask_volume' is a truncated"),
            std::string::npos);
  payload = head;
  payload.insert(payload.end(), {0, 10, 1, 2, 0, 0, 0});  // bid -1 point
  EXPECT_NE(error_of(payload, 1).find("positive, uncrossed"), std::string::npos);
  payload = head;
  payload.insert(payload.end(), {0, 10, 20, 2, 0, 0, 0, 9});
  EXPECT_NE(error_of(payload, 1).find("payload byte 13: 1 bytes left after 1 ticks"),
            std::string::npos);
  payload = head;
  payload.insert(payload.end(), {0, 10, 20, 2, 0, 0, 0});
  EXPECT_NE(error_of(payload, 2).find("byte 8: count 2"), std::string::npos);
  payload = {6, 1, 2, 'E', 'U', 12};
  EXPECT_NE(error_of(payload, 0).find("digits"), std::string::npos);

  // With the source times flag, the field after ask_volume.
  const auto flagged_error = [](std::vector<uint8_t> flagged, uint32_t count) {
    auto result = DecodeBatch(StoredBatch(flagged, count, kBatchFlagSourceTimes));
    EXPECT_FALSE(result.ok());
    return result.ok() ? std::string() : result.status().message();
  };
  payload = head;
  payload.insert(payload.end(), {0, 10, 20, 2, 0, 0, 0, 0x80});
  EXPECT_NE(
      flagged_error(payload, 1).find("payload byte 13: tick 0 field 'source_msc' is a truncated"),
      std::string::npos);
  payload = head;
  payload.insert(payload.end(), {0, 10, 20, 2, 0, 0, 0});  // no source time at all
  EXPECT_NE(flagged_error(payload, 1).find("byte 8: count 1"), std::string::npos);
}

TEST(TickBatchTest, UnknownFlagBitsAreStillRefused) {
  const std::vector<uint8_t> good =
      *EncodeBatch(RandomBatch(9, 50, 1'000'000, /*source_times=*/true), Compression::kLz4);
  ASSERT_TRUE(DecodeBatch(good).ok());
  for (uint16_t flags : {uint16_t{2}, uint16_t{3}, uint16_t{0x8000}}) {
    std::vector<uint8_t> bad = good;
    internal::PutU16(bad.data() + 6, flags);
    auto result = DecodeBatch(bad);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find("byte 6: unknown flags " + std::to_string(flags)),
              std::string::npos)
        << result.status().ToString();
  }
}

// Thousands of mutated and truncated batches: every one decodes or fails with a Status; none
// crashes (run under the asan preset too), and a failure leaves the output empty.
TEST(TickBatchTest, MutatedAndTruncatedBatchesNeverCrash) {
  std::mt19937_64 rng(12345);
  TickBatchCodec codec;
  TickBatch decoded;
  size_t failures = 0;
  size_t trials = 0;
  for (Compression compression : {Compression::kNone, Compression::kLz4, Compression::kGzip}) {
    // The live transport's batches (LZ4) with source times, so that their field is mutated too.
    const TickBatch batch = RandomBatch(static_cast<uint64_t>(compression) + 3, 300, 1'000'000,
                                        compression == Compression::kLz4);
    std::vector<uint8_t> good;
    ASSERT_TRUE(codec.Encode(batch, compression, good).ok());
    const std::vector<uint8_t> payload(codec.last_payload().begin(), codec.last_payload().end());
    for (int trial = 0; trial < 3'000; ++trial) {
      std::vector<uint8_t> bytes = good;
      const int kind = trial % 4;
      if (kind == 0) {
        bytes.resize(rng() % bytes.size());
      } else if (kind == 1) {
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int flip = 0; flip < flips; ++flip)
          bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      } else if (kind == 2) {
        // Mutate the payload and re-wrap it with a good checksum: reaches the parser.
        std::vector<uint8_t> mutated = payload;
        const int flips = 1 + static_cast<int>(rng() % 3);
        for (int flip = 0; flip < flips; ++flip)
          mutated[rng() % mutated.size()] = static_cast<uint8_t>(rng());
        if (rng() % 3 == 0) mutated.resize(rng() % mutated.size());
        bytes = StoredBatch(mutated,
                            static_cast<uint32_t>(rng() % 2 ? batch.ticks.size() : rng() % 600),
                            internal::GetU16(good.data() + 6));
      } else {
        // Random lengths in the header fields.
        const size_t at = 8 + 4 * (rng() % 3);
        for (size_t idx = 0; idx < 4; ++idx) bytes[at + idx] = static_cast<uint8_t>(rng());
      }
      ++trials;
      const Status status = codec.Decode(bytes, decoded);
      if (!status.ok()) {
        ++failures;
        EXPECT_FALSE(status.message().empty());
        EXPECT_NE(status.message().find("byte"), std::string::npos) << status.message();
        EXPECT_TRUE(decoded.ticks.empty());
      }
    }
  }
  // Most mutations are caught (a flipped volume bit in a stored payload can still decode).
  EXPECT_GT(failures, trials * 3 / 4);
}

}  // namespace
}  // namespace aits::feed
