#include "aits/feed/ingest_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aits/data/source.h"
#include "aits/data/test_util.h"

namespace aits::feed {
namespace {

constexpr Timestamp kStart = FromCivil(2020, 1, 2, 8);

class IngestStoreTest : public ::testing::TestWithParam<IngestFormat> {
 protected:
  // The `sequence`th tick of symbol id `symbol` (0 EURUSD, 1 GBPUSD), `ms` after kStart.
  static SequencedTick At(uint32_t symbol, int64_t ms, uint64_t sequence) {
    SequencedTick st;
    st.tick.ts = kStart + Duration::Millis(ms);
    st.tick.bid = Price::FromRaw(1'120'000'000 + static_cast<int64_t>(sequence) * 10'000, 5);
    st.tick.ask = Price::FromRaw(st.tick.bid.raw() + 150'000, 5);
    st.tick.bid_volume = 1.5f;
    st.tick.ask_volume = 1.5f;
    st.tick.instrument = InstrumentId{symbol};
    st.sequence = sequence;
    return st;
  }
  const std::string& Name(uint32_t id) const { return names_.at(id); }
  Status Commit(IngestStore& store, const std::vector<SequencedTick>& ticks) {
    return store.Commit(ticks, [this](uint32_t id) -> const std::string& { return Name(id); });
  }
  std::vector<Tick> ReadBack(const std::string& path) const {
    data::ReadOptions options;
    options.price_precision = 5;
    const auto read = data::testing::ReadAllTicks(path, options);
    EXPECT_TRUE(read.status.ok()) << read.status.ToString();
    EXPECT_EQ(read.stats.TotalRejected(), 0u);
    return read.ticks;
  }

  data::testing::TempDir dir_;
  std::vector<std::string> names_ = {"EURUSD", "GBPUSD", "../escape"};
};

// A collector's resend after an ingest restart (ticks the last ingest stored, then new ones) is
// stored once: the state file carries each symbol's last (time, sequence) across the restart.
TEST_P(IngestStoreTest, ARestartedStoreDropsWhatTheLastOneStoredAndAppendsTheRest) {
  const std::string dir = dir_.Path("ingest");
  {
    auto store = IngestStore::Open(dir, GetParam());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(Commit(**store, {At(0, 0, 1), At(1, 0, 1), At(0, 1, 2), At(0, 1, 3)}).ok());
    ASSERT_TRUE(Commit(**store, {At(0, 2, 4), At(1, 5, 2)}).ok());
    EXPECT_EQ((*store)->stats().stored, 6u);
  }
  auto store = IngestStore::Open(dir, GetParam());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // The resent tail (EURUSD 3 and 4, GBPUSD 2) is dropped; what follows is stored.
  ASSERT_TRUE(
      Commit(**store, {At(0, 1, 3), At(0, 2, 4), At(1, 5, 2), At(0, 2, 5), At(1, 6, 3)}).ok());
  EXPECT_EQ((*store)->stats().stale, 3u);
  EXPECT_EQ((*store)->stats().stored, 2u);
  const std::vector<IngestSymbolStats> stats = (*store)->symbol_stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].symbol, "EURUSD");
  EXPECT_EQ(stats[0].records, 5u);
  EXPECT_EQ(stats[0].stale, 2u);
  EXPECT_EQ(stats[1].records, 3u);

  const std::vector<Tick> eurusd = ReadBack((*store)->path_of("EURUSD"));
  ASSERT_EQ(eurusd.size(), 5u);
  for (uint64_t idx = 0; idx < 5; ++idx) {
    EXPECT_EQ(eurusd[idx].bid.raw(), At(0, 0, idx + 1).tick.bid.raw()) << idx;
    EXPECT_EQ(eurusd[idx].ask.raw(), At(0, 0, idx + 1).tick.ask.raw()) << idx;
    EXPECT_EQ(eurusd[idx].bid_volume, 1.5f) << idx;
  }
  EXPECT_EQ(eurusd[4].ts, kStart + Duration::Millis(2));
  EXPECT_EQ(ReadBack((*store)->path_of("GBPUSD")).size(), 3u);
}

// An ingest killed after writing a batch but before its state: the batch was never acknowledged,
// so the next store cuts the file back to the state and stores the collector's resend once.
TEST_P(IngestStoreTest, WritesPastTheStateAreCutBack) {
  const std::string dir = dir_.Path("ingest");
  std::string path;
  {
    auto store = IngestStore::Open(dir, GetParam());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(Commit(**store, {At(0, 0, 1), At(0, 1, 2)}).ok());
    path = (*store)->path_of("EURUSD");
  }
  const std::string state = dir + "/ingest.state";
  std::string saved;
  {
    std::ifstream in(state);
    saved.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  {
    auto store = IngestStore::Open(dir, GetParam());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(Commit(**store, {At(0, 2, 3)}).ok());
  }
  std::ofstream(state, std::ios::trunc) << saved;  // as if killed before the state was renamed
  auto store = IngestStore::Open(dir, GetParam());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(ReadBack(path).size(), 2u);
  ASSERT_TRUE(Commit(**store, {At(0, 2, 3), At(0, 3, 4)}).ok());
  EXPECT_EQ((*store)->stats().stale, 0u);
  EXPECT_EQ(ReadBack(path).size(), 4u);
}

TEST_P(IngestStoreTest, BadNamesStrangeFilesAndBadStateAreErrorsNotSilence) {
  const std::string dir = dir_.Path("ingest");
  {
    auto store = IngestStore::Open(dir, GetParam());
    ASSERT_TRUE(store.ok());
    // A symbol that would escape the directory is refused and counted; the rest is stored.
    ASSERT_TRUE(Commit(**store, {At(2, 0, 1), At(0, 0, 1)}).ok());
    EXPECT_EQ((*store)->stats().refused, 1u);
    EXPECT_NE((*store)->stats().last_refusal.find("../escape"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(dir_.Path("escape.bin")));
    // A file of a symbol the state does not name is not appended to.
    std::ofstream((*store)->path_of("GBPUSD")) << "someone else's";
    const Status foreign = Commit(**store, {At(1, 0, 1)});
    EXPECT_EQ(foreign.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(foreign.message().find("does not name it"), std::string::npos) << foreign.message();
  }
  // The other format on the same directory.
  const IngestFormat other =
      GetParam() == IngestFormat::kBinary ? IngestFormat::kCsv : IngestFormat::kBinary;
  const Status mixed = IngestStore::Open(dir, other).status();
  EXPECT_EQ(mixed.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.message().find("field 'format'"), std::string::npos) << mixed.message();
  // A damaged state names its line and field.
  std::ofstream(dir + "/ingest.state", std::ios::app)
      << "EURJPY " << ToString(GetParam()) << " x 0 3 0 0\n";
  const Status damaged = IngestStore::Open(dir, GetParam()).status();
  EXPECT_EQ(damaged.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(damaged.message().find("line 3 field 'records' value 'x'"), std::string::npos)
      << damaged.message();
}

INSTANTIATE_TEST_SUITE_P(Formats, IngestStoreTest,
                         ::testing::Values(IngestFormat::kBinary, IngestFormat::kCsv),
                         [](const ::testing::TestParamInfo<IngestFormat>& param) {
                           return std::string(ToString(param.param));
                         });

}  // namespace
}  // namespace aits::feed
