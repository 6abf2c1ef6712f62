#include "aits/data/merge.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "aits/data/test_util.h"

namespace aits::data {
namespace {

using testing::ReadAll;
using testing::Rejected;
using testing::TempDir;

// Ticks at the given seconds, stamped with `instrument`; the bid encodes (instrument, index) so
// a test can tell which row of which feed came out where.
class VectorTicks final : public TickSource {
 public:
  VectorTicks(uint32_t instrument, const std::vector<int64_t>& seconds) {
    for (size_t idx = 0; idx < seconds.size(); ++idx) {
      Tick tick;
      tick.ts = Timestamp{seconds[idx] * kNanosPerSecond};
      tick.instrument = InstrumentId{instrument};
      tick.bid = Price::FromRaw(static_cast<int64_t>(instrument * 100000 + idx + 1), 0);
      tick.ask = tick.bid;
      ticks_.push_back(tick);
    }
  }
  Result<size_t> Read(std::span<Tick> out) override {
    size_t count = 0;
    while (count < out.size() && next_ < ticks_.size()) out[count++] = ticks_[next_++];
    return count;
  }
  const ReadStats& stats() const override { return stats_; }
  double Progress() const override {
    return ticks_.empty() ? 1.0 : static_cast<double>(next_) / static_cast<double>(ticks_.size());
  }

 private:
  std::vector<Tick> ticks_;
  size_t next_ = 0;
  ReadStats stats_;
};

// "instrument:index" of every merged tick, read with a batch of `batch`.
std::vector<std::string> Order(std::vector<std::vector<int64_t>> feeds, size_t batch) {
  std::vector<std::unique_ptr<TickSource>> sources;
  for (size_t feed = 0; feed < feeds.size(); ++feed) {
    sources.push_back(std::make_unique<VectorTicks>(static_cast<uint32_t>(feed), feeds[feed]));
  }
  MergedTickSource merged(std::move(sources));
  std::vector<std::string> order;
  std::vector<Tick> buffer(batch);
  int64_t last = 0;
  while (true) {
    auto got = merged.Read(buffer);
    EXPECT_TRUE(got.ok());
    if (!got.ok() || *got == 0) break;
    for (size_t idx = 0; idx < *got; ++idx) {
      EXPECT_GE(buffer[idx].ts.ns, last) << "time went backwards";
      last = buffer[idx].ts.ns;
      const int64_t code = buffer[idx].bid.raw();
      EXPECT_EQ(code / 100000, buffer[idx].instrument.value) << "tick lost its feed's instrument";
      order.push_back(std::to_string(code / 100000) + ":" + std::to_string(code % 100000 - 1));
    }
  }
  EXPECT_EQ(merged.Progress(), 1.0);
  return order;
}

TEST(MergedTickSourceTest, MergesByTime) {
  const std::vector<std::string> expected = {"1:0", "0:0", "1:1", "0:1", "0:2", "1:2"};
  EXPECT_EQ(Order({{2, 4, 5}, {1, 3, 9}}, 64), expected);
}

TEST(MergedTickSourceTest, EqualTimesComeInFeedOrder) {
  // Three feeds with ticks at the same seconds: feed 0's first, then 1's, then 2's, and within a
  // feed in file order (two ticks of feed 1 at second 5).
  const std::vector<std::string> expected = {"2:0", "0:0", "1:0", "1:1", "2:1", "0:1", "1:2"};
  EXPECT_EQ(Order({{5, 7}, {5, 5, 7}, {4, 5}}, 64), expected);
}

TEST(MergedTickSourceTest, OrderDoesNotDependOnBatchSize) {
  const std::vector<std::vector<int64_t>> feeds = {
      {1, 1, 2, 3, 5, 8, 13, 21, 34}, {1, 2, 3, 4, 5, 6, 7, 8}, {0, 8, 8, 8, 40}};
  const auto reference = Order(feeds, 1000);
  ASSERT_EQ(reference.size(), 22u);
  for (size_t batch : {1, 2, 3, 7}) EXPECT_EQ(Order(feeds, batch), reference) << batch;
}

TEST(MergedTickSourceTest, FeedEndingEarlyDropsOut) {
  std::vector<int64_t> long_feed;
  for (int64_t second = 0; second < 5000; ++second) long_feed.push_back(second);
  const auto order = Order({{10, 20}, long_feed, {}}, 256);
  ASSERT_EQ(order.size(), 5002u);
  EXPECT_EQ(order[9], "1:9");
  EXPECT_EQ(order[10], "0:0");  // second 10: feed 0 before feed 1
  EXPECT_EQ(order[11], "1:10");
  EXPECT_EQ(order[21], "0:1");  // second 20
  EXPECT_EQ(order[22], "1:20");
  EXPECT_EQ(order.back(), "1:4999");
}

// The merge keeps the live feeds in a list it shrinks as feeds end (merge.cc): once a feed in
// the middle has ended, equal times of the feeds around it still come in feed order, also across
// refills of the feeds' buffers.
TEST(MergedTickSourceTest, FeedOrderHoldsAfterAMiddleFeedEnds) {
  EXPECT_EQ(Order({{5, 7}, {1}, {5, 7}}, 64),
            (std::vector<std::string>{"1:0", "0:0", "2:0", "0:1", "2:1"}));
  std::vector<int64_t> seconds;
  for (int64_t second = 0; second < 3000; ++second) seconds.push_back(second);
  const auto order = Order({seconds, {0}, seconds, seconds}, 100);
  ASSERT_EQ(order.size(), 9001u);
  EXPECT_EQ(order[0], "0:0");
  EXPECT_EQ(order[1], "1:0");
  EXPECT_EQ(order[2], "2:0");
  EXPECT_EQ(order[3], "3:0");
  for (size_t second = 1; second < 3000; ++second) {
    for (size_t feed : {0, 2, 3}) {
      ASSERT_EQ(order[3 * second + 1 + (feed == 0 ? 0 : feed - 1)],
                std::to_string(feed) + ":" + std::to_string(second))
          << second;
    }
  }
}

TEST(MergedTickSourceTest, OneFeedPassesThrough) {
  EXPECT_EQ(Order({{1, 1, 3}}, 2), (std::vector<std::string>{"0:0", "0:1", "0:2"}));
}

TEST(MergedTickSourceTest, BadRowIsCountedInItsFeed) {
  TempDir dir;
  const std::string good = dir.Write("good.csv",
                                     "timestamp,bid,ask\n"
                                     "2020-01-06 00:00:01,1.10000,1.10010\n"
                                     "2020-01-06 00:00:03,1.10001,1.10011\n");
  const std::string bad = dir.Write("bad.csv",
                                    "timestamp,bid,ask\n"
                                    "2020-01-06 00:00:02,150.000,150.010\n"
                                    "2020-01-06 00:00:04,150.010,149.000\n"
                                    "2020-01-06 00:00:05,150.020,150.030\n");
  ReadOptions options;
  options.format = DataFormat::kCsvTicks;
  std::vector<std::unique_ptr<TickSource>> sources;
  options.instrument = InstrumentId{0};
  sources.push_back(std::move(OpenTicks(good, options)).value());
  options.instrument = InstrumentId{1};
  options.price_precision = 3;
  sources.push_back(std::move(OpenTicks(bad, options)).value());
  MergedTickSource merged(std::move(sources));
  const auto read = ReadAll(merged);
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  ASSERT_EQ(read.ticks.size(), 4u);
  EXPECT_EQ(read.ticks[0].instrument.value, 0u);
  EXPECT_EQ(read.ticks[1].instrument.value, 1u);
  EXPECT_EQ(read.ticks[2].instrument.value, 0u);
  EXPECT_EQ(read.ticks[3].instrument.value, 1u);
  EXPECT_EQ(merged.feed_stats(0).TotalRejected(), 0u);
  EXPECT_EQ(merged.feed_stats(1).TotalRejected(), 1u);
  EXPECT_EQ(Rejected(merged.feed_stats(1), RowRejectReason::kCrossed), 1u);
  ASSERT_EQ(merged.feed_stats(1).samples.size(), 1u);
  EXPECT_NE(merged.feed_stats(1).samples[0].file.find("bad.csv"), std::string::npos);
  EXPECT_EQ(merged.feed_stats(1).samples[0].line, 3u);
  EXPECT_EQ(read.stats.rows, 5u);
  EXPECT_EQ(read.stats.accepted, 4u);
  EXPECT_EQ(read.stats.TotalRejected(), 1u);
  EXPECT_EQ(read.stats.samples.size(), 1u);
}

TEST(MergedTickSourceTest, StrictFeedErrorEndsTheMerge) {
  TempDir dir;
  const std::string good =
      dir.Write("good.csv", "timestamp,bid,ask\n2020-01-06 00:00:01,1.1,1.2\n");
  const std::string bad = dir.Write("bad.csv", "timestamp,bid,ask\n2020-01-06 00:00:02,1.3,x\n");
  ReadOptions options;
  options.format = DataFormat::kCsvTicks;
  options.strict = true;
  std::vector<std::unique_ptr<TickSource>> sources;
  sources.push_back(std::move(OpenTicks(good, options)).value());
  sources.push_back(std::move(OpenTicks(bad, options)).value());
  MergedTickSource merged(std::move(sources));
  const auto read = ReadAll(merged);
  ASSERT_FALSE(read.status.ok());
  EXPECT_NE(read.status.message().find("bad.csv:2"), std::string::npos) << read.status.ToString();
}

TEST(MergedBarSourceTest, MergesBarsByOpenTimeInFeedOrder) {
  TempDir dir;
  const std::string a = dir.Write("a.csv",
                                  "timestamp,open,high,low,close\n"
                                  "2020-01-06 00:00,1.1,1.2,1.0,1.1\n"
                                  "2020-01-06 00:01,1.1,1.2,1.0,1.1\n"
                                  "2020-01-06 00:02,1.1,1.2,1.0,1.1\n");
  const std::string b = dir.Write("b.csv",
                                  "timestamp,open,high,low,close\n"
                                  "2020-01-06 00:01,2.1,2.2,2.0,2.1\n"
                                  "2020-01-06 00:02,2.1,2.2,2.0,2.1\n"
                                  "2020-01-06 00:03,2.1,2.2,2.0,2.1\n");
  ReadOptions options;
  options.format = DataFormat::kCsvBars;
  std::vector<std::unique_ptr<BarSource>> sources;
  options.instrument = InstrumentId{1};
  sources.push_back(std::move(OpenBars(b, options)).value());
  options.instrument = InstrumentId{0};
  sources.push_back(std::move(OpenBars(a, options)).value());
  MergedBarSource merged(std::move(sources));
  EXPECT_EQ(merged.period(), Duration::Minutes(1));
  std::vector<Bar> buffer(2);
  std::vector<std::pair<int64_t, uint32_t>> order;
  while (true) {
    auto got = merged.Read(buffer);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (*got == 0) break;
    for (size_t idx = 0; idx < *got; ++idx) {
      order.emplace_back(
          (buffer[idx].open_time - FromCivil(2020, 1, 6)).ns / (60 * kNanosPerSecond),
          buffer[idx].instrument.value);
    }
  }
  // Feed order (b first) breaks the ties, not the instrument id.
  const std::vector<std::pair<int64_t, uint32_t>> expected = {{0, 0}, {1, 1}, {1, 0},
                                                              {2, 1}, {2, 0}, {3, 1}};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(merged.stats().accepted, 6u);
}

}  // namespace
}  // namespace aits::data
