#include "aits/data/tick_store.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "aits/data/synthetic.h"
#include "aits/data/test_util.h"

namespace aits::data {
namespace {

using testing::ReadAll;
using testing::ReadAllTicks;
using testing::Rejected;
using testing::SharedData;
using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void ExpectSameTicks(const std::vector<Tick>& a, const std::vector<Tick>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t idx = 0; idx < a.size(); ++idx) {
    ASSERT_EQ(a[idx].ts, b[idx].ts) << idx;
    ASSERT_EQ(a[idx].bid.raw(), b[idx].bid.raw()) << idx;
    ASSERT_EQ(a[idx].ask.raw(), b[idx].ask.raw()) << idx;
    ASSERT_EQ(a[idx].bid.precision(), b[idx].bid.precision()) << idx;
    ASSERT_EQ(a[idx].bid_volume, b[idx].bid_volume) << idx;
    ASSERT_EQ(a[idx].ask_volume, b[idx].ask_volume) << idx;
    ASSERT_EQ(a[idx].instrument, b[idx].instrument) << idx;
  }
}

class TickStoreTest : public ::testing::Test {
 protected:
  // Imports the USD/JPY tick file and returns the store path.
  std::string ImportUsdJpy() {
    ReadOptions options;
    options.price_precision = 3;
    auto source = OpenTicks(SharedData("usdjpy-ticks.csv"), options);
    EXPECT_TRUE(source.ok());
    const std::string out = dir_.Path("usdjpy.ticks");
    auto report = ImportTicks(**source, "USDJPY", 3, out);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return out;
  }

  // Imports `count` synthetic EUR/USD ticks into `name` and returns the store path.
  std::string ImportSynthetic(uint64_t count, const std::string& name) {
    SyntheticOptions synth;
    synth.seed = 5;
    synth.count = count;
    auto generator = SyntheticTickSource::Create(synth);
    EXPECT_TRUE(generator.ok());
    const std::string out = dir_.Path(name);
    EXPECT_TRUE(ImportTicks(**generator, "EURUSD", 5, out).ok());
    return out;
  }

  TempDir dir_;
};

TEST_F(TickStoreTest, ImportReplayRoundTripIsExact) {
  ReadOptions options;
  options.price_precision = 3;
  const auto original = ReadAllTicks(SharedData("usdjpy-ticks.csv"), options);
  ASSERT_EQ(original.ticks.size(), 1000u);

  auto source = OpenTicks(SharedData("usdjpy-ticks.csv"), options);
  ASSERT_TRUE(source.ok());
  const std::string out = dir_.Path("usdjpy.ticks");
  double last_progress = -1;
  static double* progress_sink = nullptr;
  progress_sink = &last_progress;
  auto report = ImportTicks(**source, "USDJPY", 3, out, [](double p) { *progress_sink = p; });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(last_progress, 1.0);
  EXPECT_EQ(report->info.count, 1000u);
  EXPECT_EQ(report->stats.accepted, 1000u);
  EXPECT_EQ(report->info.first, original.ticks.front().ts);
  EXPECT_EQ(report->info.last, original.ticks.back().ts);
  EXPECT_EQ(std::filesystem::file_size(out), 128u + 1000u * 32u);

  auto info = ReadTickStoreInfo(out);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->symbol, "USDJPY");
  EXPECT_EQ(info->digits, 3);
  EXPECT_EQ(info->count, 1000u);
  EXPECT_EQ(info->first, original.ticks.front().ts);
  EXPECT_EQ(info->last, original.ticks.back().ts);

  EXPECT_EQ(*DetectFormat(out), DataFormat::kBinary);
  ReadOptions replay_options;  // precision comes from the store
  auto replay = ReadAllTicks(out, replay_options);
  ASSERT_TRUE(replay.status.ok()) << replay.status.ToString();
  EXPECT_EQ(replay.stats.accepted, 1000u);
  EXPECT_EQ(replay.stats.TotalRejected(), 0u);
  ExpectSameTicks(original.ticks, replay.ticks);
  // No temp file left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(TickStoreTest, SyntheticRoundTripAndVolumes) {
  SyntheticOptions synth;
  synth.seed = 42;
  synth.count = 200'000;
  auto generator = SyntheticTickSource::Create(synth);
  ASSERT_TRUE(generator.ok());
  const auto generated = ReadAll(**generator);
  auto again = SyntheticTickSource::Create(synth);
  const std::string out = dir_.Path("synth.ticks");
  ASSERT_TRUE(ImportTicks(**again, "EURUSD", 5, out).ok());
  ReadOptions options;
  options.format = DataFormat::kBinary;
  const auto replay = ReadAllTicks(out, options);
  ASSERT_TRUE(replay.status.ok()) << replay.status.ToString();
  EXPECT_EQ(replay.stats.TotalRejected(), 0u);
  ExpectSameTicks(generated.ticks, replay.ticks);
}

// The replay validates records in a branch-free fast path and sends only the suspicious ones to
// the full check (tick_store.cc), reading the file in chunks of a few thousand records: bad records
// on either side of a chunk boundary are still each counted under their reason with their line,
// a record at the previous time with other prices is still accepted, and an exact repeat of the
// previous accepted record is still a duplicate.
TEST_F(TickStoreTest, BadRecordsAroundChunkBoundariesAreCountedWithTheirLines) {
  std::string bytes = Slurp(ImportSynthetic(20'000, "good.ticks"));
  auto at = [&bytes](size_t record, size_t field) { return &bytes[128 + record * 32 + field]; };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float negative = -1.0f;
  std::memcpy(at(8190, 24), &nan, sizeof(nan));            // line 8191: bid_volume NaN
  std::memcpy(at(8191, 28), &inf, sizeof(inf));            // line 8192: ask_volume infinite
  std::memcpy(at(8192, 28), &negative, sizeof(negative));  // line 8193: negative ask_volume
  std::memcpy(at(8194, 0), at(8193, 0), 32);               // line 8195: repeats line 8194
  std::memcpy(at(8196, 0), at(8195, 0), 8);                // line 8197: line 8196's time ...
  int64_t bid = 0;
  std::memcpy(&bid, at(8195, 8), sizeof(bid));
  bid += 1;                                     // ... and another bid (ask is well above it)
  std::memcpy(at(8196, 8), &bid, sizeof(bid));  // accepted
  int64_t crossed = 0;
  std::memcpy(&crossed, at(16383, 8), sizeof(crossed));
  crossed -= 1;
  std::memcpy(at(16383, 16), &crossed, sizeof(crossed));  // line 16384: ask below bid
  const int64_t huge = int64_t{2'000'000'000} * 1'000'000'000;
  std::memcpy(at(16384, 8), &huge, sizeof(huge));  // line 16385: bid out of range
  const std::string path = dir_.Write("bad.ticks", bytes);

  ReadOptions options;
  options.max_samples = 10;
  auto source = OpenTickStore(path, options);
  ASSERT_TRUE(source.ok());
  const auto read = ReadAll(**source);
  EXPECT_EQ(read.status.code(), StatusCode::kDataLoss);  // the checksum
  EXPECT_EQ(read.stats.rows, 20'000u);
  EXPECT_EQ(read.stats.accepted, 19'994u);
  EXPECT_EQ(read.ticks.size(), 19'994u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNonFinite), 2u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNegativeVolume), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kDuplicate), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kCrossed), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kMalformed), 1u);
  const std::vector<std::pair<uint64_t, std::string>> expected = {
      {8191, "bid_volume"}, {8192, "ask_volume"}, {8193, "ask_volume"},
      {8195, "timestamp"},  {16384, "ask"},       {16385, "bid"}};
  ASSERT_EQ(read.stats.samples.size(), expected.size());
  for (size_t idx = 0; idx < expected.size(); ++idx) {
    EXPECT_EQ(read.stats.samples[idx].line, expected[idx].first) << idx;
    EXPECT_EQ(read.stats.samples[idx].field, expected[idx].second) << idx;
  }
  // Lines 8191..8193 and 8195 are gone, so line 8197 is tick 8192 (0-based) and shares line
  // 8196's time.
  EXPECT_EQ(read.ticks[8192].ts, read.ticks[8191].ts);
  EXPECT_EQ(read.ticks[8192].bid.raw(), bid);
}

// The records are read from the file as the replay goes: a file cut short after it was opened
// (and its header checked) is a DataLoss naming the file, not a crash or a silent end.
TEST_F(TickStoreTest, FileTruncatedDuringReplayIsDataLoss) {
  const std::string path = ImportSynthetic(20'000, "shrinking.ticks");
  auto source = OpenTickStore(path, ReadOptions{});
  ASSERT_TRUE(source.ok());
  std::filesystem::resize_file(path, 128 + 10'000 * 32);
  const auto read = ReadAll(**source);
  EXPECT_EQ(read.status.code(), StatusCode::kDataLoss);
  EXPECT_NE(read.status.message().find(path), std::string::npos) << read.status.ToString();
  EXPECT_NE(read.status.message().find("truncated"), std::string::npos) << read.status.ToString();
  EXPECT_LT(read.ticks.size(), 10'000u);
}

// Regression (review of issue 2): a store without ticks is an error and leaves no file.
TEST_F(TickStoreTest, EmptySourceIsAnErrorAndWritesNothing) {
  SyntheticOptions synth;
  synth.count = 0;
  auto generator = SyntheticTickSource::Create(synth);
  const std::string out = dir_.Path("empty.ticks");
  auto report = ImportTicks(**generator, "EURUSD", 5, out);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("no valid ticks"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(TickStoreTest, FailedImportLeavesNothing) {
  const std::string bad =
      dir_.Write("bad.csv", "timestamp,bid,ask\n2020-01-02,1.1,1.2\n2020-01-03,x,1.2\n");
  ReadOptions options;
  options.strict = true;
  auto source = OpenTicks(bad, options);
  ASSERT_TRUE(source.ok());
  const std::string out = dir_.Path("out.ticks");
  auto report = ImportTicks(**source, "EURUSD", 5, out);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(report.status().message().find("bad.csv:3") != std::string::npos);
  EXPECT_TRUE(report.status().message().find("out.ticks") != std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()),
                          std::filesystem::directory_iterator()),
            1);  // only bad.csv

  SyntheticOptions synth;
  auto generator = SyntheticTickSource::Create(synth);
  EXPECT_FALSE(ImportTicks(**generator, "EURUSD", 10, out).ok());
  EXPECT_FALSE(ImportTicks(**generator, std::string(40, 'X'), 5, out).ok());  // symbol too long
  EXPECT_FALSE(ImportTicks(**generator, "EURUSD", 5, dir_.Path("no/such/dir/x.ticks")).ok());
}

TEST_F(TickStoreTest, DamagedFilesGiveErrorsNamingTheFile) {
  const std::string good = ImportUsdJpy();
  const std::string bytes = Slurp(good);
  struct Case {
    const char* name;
    std::string content;
    StatusCode code;
  };
  std::string wrong_magic = bytes;
  wrong_magic[0] = 'X';
  std::string wrong_version = bytes;
  wrong_version[8] = 2;
  std::string wrong_record = bytes;
  wrong_record[12] = 40;
  std::string wrong_count = bytes;
  wrong_count[16] = static_cast<char>(wrong_count[16] + 1);
  std::string wrong_digits = bytes;
  wrong_digits[24] = 42;
  const std::vector<Case> cases = {
      {"empty.ticks", "", StatusCode::kDataLoss},
      {"short_header.ticks", bytes.substr(0, 60), StatusCode::kDataLoss},
      {"truncated.ticks", bytes.substr(0, bytes.size() - 10), StatusCode::kDataLoss},
      {"trailing.ticks", bytes + "junk", StatusCode::kDataLoss},
      {"magic.ticks", wrong_magic, StatusCode::kInvalidArgument},
      {"version.ticks", wrong_version, StatusCode::kInvalidArgument},
      {"record.ticks", wrong_record, StatusCode::kDataLoss},
      {"count.ticks", wrong_count, StatusCode::kDataLoss},
      {"digits.ticks", wrong_digits, StatusCode::kDataLoss},
  };
  for (const Case& each : cases) {
    const std::string path = dir_.Write(each.name, each.content);
    auto opened = OpenTickStore(path, ReadOptions{});
    ASSERT_FALSE(opened.ok()) << each.name;
    EXPECT_EQ(opened.status().code(), each.code) << each.name << ": " << opened.status().ToString();
    EXPECT_TRUE(opened.status().message().find(path) != std::string::npos)
        << opened.status().message();
    EXPECT_FALSE(ReadTickStoreInfo(path).ok()) << each.name;
  }
  auto missing = OpenTickStore(dir_.Path("missing.ticks"), ReadOptions{});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  // Truncation is reported through OpenTicks too (magic detected, header checked).
  auto via_open = OpenTicks(dir_.Path("truncated.ticks"), ReadOptions{});
  EXPECT_EQ(via_open.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(via_open.status().message().find("truncated") != std::string::npos);
}

TEST_F(TickStoreTest, CorruptRecordsAreCountedAndTheChecksumCatchesThem) {
  const std::string good = ImportUsdJpy();
  std::string bytes = Slurp(good);
  // Record 10 (1-based): make the bid negative. Record 20: move its time before record 19.
  const int64_t negative = -5;
  std::memcpy(&bytes[128 + 9 * 32 + 8], &negative, sizeof(negative));
  const int64_t early = 0;
  std::memcpy(&bytes[128 + 19 * 32], &early, sizeof(early));
  const std::string path = dir_.Write("corrupt.ticks", bytes);
  ReadOptions options;
  options.max_samples = 10;
  auto source = OpenTickStore(path, options);
  ASSERT_TRUE(source.ok());
  auto read = ReadAll(**source);
  ASSERT_FALSE(read.status.ok());
  EXPECT_EQ(read.status.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(read.status.message().find("checksum") != std::string::npos);
  EXPECT_TRUE(read.status.message().find(path) != std::string::npos);
  EXPECT_EQ(read.ticks.size(), 998u);  // every good record was still delivered
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kNonPositivePrice), 1u);
  EXPECT_EQ(Rejected(read.stats, RowRejectReason::kTimeBackwards), 1u);
  ASSERT_EQ(read.stats.samples.size(), 2u);
  EXPECT_EQ(read.stats.samples[0].line, 10u);
  EXPECT_EQ(read.stats.samples[0].field, "bid");
  EXPECT_EQ(read.stats.samples[1].line, 20u);

  options.strict = true;
  auto strict_source = OpenTickStore(path, options);
  auto strict = ReadAll(**strict_source);
  ASSERT_FALSE(strict.status.ok());
  EXPECT_EQ(strict.status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(strict.status.message().find(path + ":10: field 'bid'") != std::string::npos)
      << strict.status.message();
  EXPECT_EQ(strict.ticks.size(), 9u);
}

TEST_F(TickStoreTest, FlippedVolumeBitIsCaughtByTheChecksum) {
  const std::string good = ImportUsdJpy();
  std::string bytes = Slurp(good);
  bytes[128 + 500 * 32 + 24] ^= 0x01;  // a volume bit: still a valid record
  const std::string path = dir_.Write("flip.ticks", bytes);
  auto source = OpenTickStore(path, ReadOptions{});
  ASSERT_TRUE(source.ok());
  auto read = ReadAll(**source);
  EXPECT_EQ(read.status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(read.ticks.size(), 1000u);
}

// --- TickStoreAppender ------------------------------------------------------------------------

TEST_F(TickStoreTest, AppendingInPiecesAcrossOpensGivesTheImportsBytes) {
  const std::string imported = ImportUsdJpy();
  ReadOptions options;
  options.price_precision = 3;
  const auto ticks = ReadAllTicks(SharedData("usdjpy-ticks.csv"), options).ticks;
  ASSERT_EQ(ticks.size(), 1000u);
  const std::string grown = dir_.Path("grown.ticks");
  size_t at = 0;
  for (size_t piece : {1u, 299u, 0u, 500u, 200u}) {
    AppendOpening opening;
    auto store = TickStoreAppender::Open(grown, "USDJPY", 3, &opening);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(opening.created, at == 0);
    EXPECT_EQ((*store)->info().count, at);
    EXPECT_EQ(opening.cut_bytes, 0u);
    EXPECT_EQ(opening.adopted, 0u);
    ASSERT_TRUE((*store)->Append(std::span<const Tick>(ticks.data() + at, piece)).ok());
    at += piece;
    // Readable after every Append.
    auto info = ReadTickStoreInfo(grown);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->count, at);
  }
  EXPECT_EQ(Slurp(grown), Slurp(imported));
}

TEST_F(TickStoreTest, AnAppendKilledHalfWayIsRepairedOnTheNextOpen) {
  const std::string imported = ImportUsdJpy();
  const std::string bytes = Slurp(imported);
  ReadOptions options;
  options.price_precision = 3;
  const auto ticks = ReadAllTicks(SharedData("usdjpy-ticks.csv"), options).ticks;
  const std::string path = dir_.Path("killed.ticks");
  {
    auto store = TickStoreAppender::Open(path, "USDJPY", 3);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Append(std::span<const Tick>(ticks.data(), 600)).ok());
  }
  // A kill after 100 more records reached the file but before the header counted them, in the
  // middle of the 101st: whole records beyond the count, then 13 bytes of a torn one.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out.write(bytes.data() + 128 + 600 * 32, 100 * 32 + 13);
  }
  EXPECT_FALSE(ReadTickStoreInfo(path).ok());  // what a reader sees: the sizes disagree
  AppendOpening opening;
  auto store = TickStoreAppender::Open(path, "USDJPY", 3, &opening);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_FALSE(opening.created);
  EXPECT_EQ(opening.cut_bytes, 13u);
  EXPECT_EQ(opening.adopted, 100u);
  EXPECT_EQ((*store)->info().count, 700u);
  EXPECT_EQ((*store)->info().last, ticks[699].ts);
  uint64_t same = 0;
  for (size_t idx = 700; idx-- > 0 && ticks[idx].ts == ticks[699].ts;) ++same;
  EXPECT_EQ(opening.trailing_same, same);
  ASSERT_TRUE((*store)->Append(std::span<const Tick>(ticks.data() + 700, 300)).ok());
  store->reset();
  EXPECT_EQ(Slurp(path), bytes);
}

TEST_F(TickStoreTest, AppendRefusesAnotherSymbolDigitsAFileOfAnotherKindAndTimeGoingBack) {
  const std::string imported = ImportUsdJpy();
  auto other = TickStoreAppender::Open(imported, "EURUSD", 3);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("holds ticks of USDJPY, not EURUSD"), std::string::npos)
      << other.status().message();
  EXPECT_NE(other.status().message().find(imported), std::string::npos);
  auto digits = TickStoreAppender::Open(imported, "USDJPY", 5);
  ASSERT_FALSE(digits.ok());
  EXPECT_NE(digits.status().message().find("3 digits"), std::string::npos);

  const std::string text = dir_.Path("not-a-store.bin");
  {
    std::ofstream out(text);
    out << "timestamp,bid,ask\n";
  }
  auto refused = TickStoreAppender::Open(text, "USDJPY", 3);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("not an AITS tick store"), std::string::npos);
  EXPECT_EQ(Slurp(text), "timestamp,bid,ask\n");  // not overwritten

  const std::string before = Slurp(imported);
  auto store = TickStoreAppender::Open(imported, "USDJPY", 3);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Tick early;
  early.ts = Timestamp{(*store)->info().last.ns - 1};
  early.bid = Price::FromRaw(86'000'000'000, 3);
  early.ask = Price::FromRaw(86'010'000'000, 3);
  const Status back = (*store)->Append(std::span<const Tick>(&early, 1));
  EXPECT_EQ(back.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.message().find("earlier than the store's last"), std::string::npos);
  store->reset();
  EXPECT_EQ(Slurp(imported), before);

  // A record changed behind the header's back: the checksum says so.
  std::string damaged = before;
  damaged[128 + 5 * 32 + 9] ^= 1;
  {
    std::ofstream out(dir_.Path("damaged.ticks"), std::ios::binary);
    out << damaged;
  }
  auto corrupt = TickStoreAppender::Open(dir_.Path("damaged.ticks"), "USDJPY", 3);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.status().code(), StatusCode::kDataLoss);
}

// The appender (aits ingest): a store grown batch by batch reads back as one store with the same
// ticks and checksum as an import of them; a reopened appender continues it; records past the
// committed count (a writer killed mid-append) are cut off.
TEST_F(TickStoreTest, AnIngestKeepsExactlyItsCommittedRecords) {
  SyntheticOptions synth;
  synth.seed = 7;
  synth.count = 3'000;
  auto generator = SyntheticTickSource::Create(synth);
  ASSERT_TRUE(generator.ok());
  const std::vector<Tick> ticks = ReadAll(**generator).ticks;
  ASSERT_EQ(ticks.size(), 3'000u);
  const std::string path = dir_.Path("EURUSD.bin");
  ReadOptions options;
  options.format = DataFormat::kBinary;
  {
    auto appender = TickStoreAppender::Open(path, "EURUSD", 5);
    ASSERT_TRUE(appender.ok()) << appender.status().ToString();
    ASSERT_TRUE((*appender)->Append(std::span(ticks).first(1'000)).ok());
    ASSERT_TRUE((*appender)->Append(std::span(ticks).subspan(1'000, 1'000)).ok());
    EXPECT_EQ((*appender)->info().count, 2'000u);
  }
  // Reopened with the first batch as the commit point: the second batch is cut off.
  {
    auto appender = TickStoreAppender::Open(path, "EURUSD", 5, nullptr, 1'000);
    ASSERT_TRUE(appender.ok()) << appender.status().ToString();
    EXPECT_EQ((*appender)->info().count, 1'000u);
    EXPECT_EQ((*appender)->info().last, ticks[999].ts);
    ASSERT_TRUE((*appender)->Append(std::span(ticks).subspan(1'000)).ok());
    // An earlier tick is refused, and nothing of its batch is written.
    const Status backwards = (*appender)->Append(std::span(ticks).first(1));
    EXPECT_EQ(backwards.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(backwards.message().find("earlier"), std::string::npos) << backwards.message();
  }
  // A torn record past the header's count (an append that was not finished) is cut on open.
  {
    std::ofstream tail(path, std::ios::binary | std::ios::app);
    tail << std::string(20, 'x');
  }
  {
    auto appender = TickStoreAppender::Open(path, "EURUSD", 5);
    ASSERT_TRUE(appender.ok()) << appender.status().ToString();
    EXPECT_EQ((*appender)->info().count, 3'000u);
  }
  const auto replay = ReadAllTicks(path, options);
  ASSERT_TRUE(replay.status.ok()) << replay.status.ToString();
  EXPECT_EQ(replay.stats.TotalRejected(), 0u);
  ExpectSameTicks(ticks, replay.ticks);
  auto again = SyntheticTickSource::Create(synth);
  const std::string imported = dir_.Path("imported.bin");
  ASSERT_TRUE(ImportTicks(**again, "EURUSD", 5, imported).ok());
  EXPECT_EQ(Slurp(path), Slurp(imported));

  // Another symbol's or precision's store, or fewer records than committed, are refused.
  EXPECT_EQ(TickStoreAppender::Open(path, "GBPUSD", 5).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TickStoreAppender::Open(path, "EURUSD", 3).status().code(),
            StatusCode::kInvalidArgument);
  const Status short_file = TickStoreAppender::Open(path, "EURUSD", 5, nullptr, 3'001).status();
  EXPECT_EQ(short_file.code(), StatusCode::kDataLoss);
  EXPECT_NE(short_file.message().find(path), std::string::npos) << short_file.message();
}

}  // namespace
}  // namespace aits::data
