#include "aits/feed/collector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "aits/data/source.h"
#include "aits/feed/dedup.h"
#include "aits/feed/feed_test_util.h"

namespace aits::feed {
namespace {

// Before the real ticks of RealTicksWithTheServerAwayForAMinute: the clock never goes back.
constexpr Timestamp kStart = FromCivil(2019, 12, 31, 8);

// Delivers batches to a DedupReceiver. `down` makes sends fail; `lose_ack` delivers the batch
// and still reports a failure (the acknowledgement lost on the way back).
class FakeUplink final : public Uplink {
 public:
  explicit FakeUplink(const Clock& clock) : clock_(clock) {}
  Status Send(std::span<const uint8_t> batch) override {
    attempts.push_back(clock_.Now());
    if (fail_next > 0) {
      --fail_next;
      return IoError("connection refused");
    }
    if (down) return IoError("connection refused");
    const Status received = receiver.Receive(batch, delivered);
    EXPECT_TRUE(received.ok()) << received.ToString();
    if (lose_ack_every > 0 && ++sends % lose_ack_every == 0) return IoError("ack lost");
    return received;
  }

  bool down = false;
  int fail_next = 0;
  int lose_ack_every = 0;
  int sends = 0;
  std::vector<Timestamp> attempts;
  DedupReceiver receiver;
  std::vector<SequencedTick> delivered;

 private:
  const Clock& clock_;
};

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override { clock_.AdvanceTo(kStart); }

  CollectorOptions Options() const {
    CollectorOptions options;
    options.symbols = {{"EURUSD", 5}, {"USDJPY", 3}};
    options.spill_path = path_;
    options.spill.sync = SpillSync::kNone;
    return options;
  }
  std::unique_ptr<Collector> Open(CollectorOptions options) {
    auto collector = Collector::Open(std::move(options), uplink_, clock_);
    EXPECT_TRUE(collector.ok()) << collector.status().ToString();
    return collector.ok() ? std::move(collector).value() : nullptr;
  }

  // The idx-th quote of a deterministic two-symbol stream, 1 ms apart.
  static Quote QuoteAt(int idx) {
    Quote quote;
    const bool jpy = idx % 3 == 2;
    quote.symbol = jpy ? "USDJPY" : "EURUSD";
    quote.time = kStart + Duration::Millis(idx);
    const double wave = std::sin(idx * 0.01) * 0.002;
    quote.bid = jpy ? 108.5 + wave * 100 : 1.12 + wave;
    quote.ask = *quote.bid + (jpy ? 0.012 : 0.00012);
    quote.volume = idx % 7;
    return quote;
  }
  // Accepts quotes [from, to), moving the clock to each quote's time and polling after each.
  void Feed(Collector& collector, int from, int to, bool poll = true) {
    for (int idx = from; idx < to; ++idx) {
      const Quote quote = QuoteAt(idx);
      clock_.AdvanceTo(*quote.time);
      ASSERT_TRUE(collector.Accept(quote).ok()) << idx;
      if (poll) {
        ASSERT_TRUE(collector.Poll().ok());
      }
    }
  }
  // The receiver got quotes [0, count) exactly once each, in order.
  void ExpectDeliveredInOrder(int count) {
    ASSERT_EQ(uplink_.delivered.size(), static_cast<size_t>(count));
    uint64_t sequences[2] = {0, 0};
    for (int idx = 0; idx < count; ++idx) {
      const SequencedTick& st = uplink_.delivered[static_cast<size_t>(idx)];
      const Quote want = QuoteAt(idx);
      ASSERT_EQ(uplink_.receiver.symbol_name(st.tick.instrument.value), want.symbol) << idx;
      ASSERT_EQ(st.tick.ts, *want.time) << idx;
      const int sym = want.symbol == "USDJPY" ? 1 : 0;
      ASSERT_EQ(st.sequence, ++sequences[sym]) << idx;
    }
  }

  ScopedTestPath spill_;
  const std::string& path_ = spill_.path();
  SimulatedClock clock_;
  SimulatedSleeper sleeper_{clock_};  // hours of outage run in microseconds
  FakeUplink uplink_{clock_};
};

TEST_F(CollectorTest, RejectsBadQuotesCountingEachReason) {
  auto collector = Open(Options());
  const Quote good = QuoteAt(0);
  auto with = [&](auto change) {
    Quote quote = good;
    change(quote);
    return quote;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<Quote, QuoteReject>> cases = {
      {with([](Quote& q) { q.symbol = " "; }), QuoteReject::kMissingSymbol},
      {with([](Quote& q) { q.symbol = "GBPUSD"; }), QuoteReject::kUnknownSymbol},
      {with([](Quote& q) { q.time.reset(); }), QuoteReject::kMissingTime},
      {with([](Quote& q) { q.bid.reset(); }), QuoteReject::kMissingBid},
      {with([](Quote& q) { q.ask.reset(); }), QuoteReject::kMissingAsk},
      {with([](Quote& q) { q.volume.reset(); }), QuoteReject::kMissingVolume},
      {with([&](Quote& q) { q.bid = nan; }), QuoteReject::kNonFinite},
      {with([](Quote& q) { q.volume = 1e300; }), QuoteReject::kNonFinite},
      {with([](Quote& q) { q.bid = 0.0; }), QuoteReject::kNonPositivePrice},
      {with([](Quote& q) { q.bid = 0.000001; }), QuoteReject::kNonPositivePrice},
      {with([](Quote& q) { q.ask = -1.0; }), QuoteReject::kNonPositivePrice},
      {with([](Quote& q) { q.ask = 1.0; }), QuoteReject::kCrossed},
      {with([](Quote& q) { q.volume = -1.0; }), QuoteReject::kNegativeVolume},
      {with([](Quote& q) { q.time = Timestamp{0}; }), QuoteReject::kBadTime},
  };
  for (const auto& [quote, reason] : cases) {
    const Status status = collector->Accept(quote);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << ToString(reason);
    EXPECT_NE(status.message().find(ToString(reason)), std::string::npos) << status.message();
  }
  // Accepted, normalised: symbol trimmed and upper-cased, prices rounded to 5 digits.
  Quote lower = good;
  lower.symbol = " eurusd ";
  lower.bid = 1.123456;
  lower.ask = 1.123474;
  ASSERT_TRUE(collector->Accept(lower).ok());
  Quote earlier = good;
  earlier.time = *good.time - Duration::Millis(1);
  EXPECT_EQ(collector->Accept(earlier).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(collector->stats().rejected[static_cast<size_t>(QuoteReject::kTimeBackwards)], 1u);
  EXPECT_NE(collector->stats().last_rejection.find("field 'time'"), std::string::npos);

  const CollectorStats& stats = collector->stats();
  EXPECT_EQ(stats.accepted, 1u);
  EXPECT_EQ(stats.TotalRejected(), cases.size() + 1);
  for (size_t reason = 0; reason < static_cast<size_t>(QuoteReject::kSpillFailed); ++reason) {
    const uint64_t want = reason == static_cast<size_t>(QuoteReject::kNonFinite) ||
                                  reason == static_cast<size_t>(QuoteReject::kNonPositivePrice)
                              ? (reason == static_cast<size_t>(QuoteReject::kNonFinite) ? 2u : 3u)
                              : 1u;
    EXPECT_EQ(stats.rejected[reason], want) << ToString(static_cast<QuoteReject>(reason));
  }
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now()).ok());
  ASSERT_EQ(uplink_.delivered.size(), 1u);
  const Tick& tick = uplink_.delivered[0].tick;
  EXPECT_EQ(uplink_.receiver.symbol_name(tick.instrument.value), "EURUSD");
  EXPECT_EQ(tick.bid.ToString(), "1.12346");
  EXPECT_EQ(tick.ask.ToString(), "1.12347");
  EXPECT_EQ(uplink_.delivered[0].sequence, 1u);
}

TEST_F(CollectorTest, RetriesThreeTimesWithDoublingBackOffThenSpills) {
  auto collector = Open(Options());
  uplink_.down = true;
  Feed(*collector, 0, 10, /*poll=*/false);
  const Timestamp t0 = clock_.Now();
  // Drain sleeps through the schedule; the deadline stops it after the first reconnect attempt.
  const Status status = collector->Drain(sleeper_, t0 + Duration::Seconds(12));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("1 batches spilled"), std::string::npos) << status.message();
  const std::vector<Timestamp> want = {t0, t0 + Duration::Seconds(1), t0 + Duration::Seconds(3),
                                       t0 + Duration::Seconds(7), t0 + Duration::Seconds(12)};
  EXPECT_EQ(uplink_.attempts, want);
  EXPECT_TRUE(collector->uplink_down());
  EXPECT_EQ(collector->stats().outages, 1u);
  EXPECT_EQ(collector->stats().failed_sends, 5u);
  EXPECT_EQ(collector->stats().ticks_spilled, 10u);
  EXPECT_EQ(collector->spilled_records(), 1u);
  EXPECT_EQ(collector->next_attempt(), t0 + Duration::Seconds(17));
  // Back: the spilled batch goes out at the next reconnect attempt.
  uplink_.down = false;
  ASSERT_TRUE(collector->Drain(sleeper_, t0 + Duration::Seconds(60)).ok());
  EXPECT_EQ(clock_.Now(), t0 + Duration::Seconds(17));
  EXPECT_EQ(collector->stats().batches_resent, 1u);
  ExpectDeliveredInOrder(10);
}

TEST_F(CollectorTest, UplinkDownForManySendsThenBackLosesNothing) {
  auto collector = Open(Options());
  uplink_.fail_next = 40;  // about 40 s of outage at one attempt per 1..5 s
  Feed(*collector, 0, 60'000);
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now() + Duration::Minutes(10)).ok());
  EXPECT_GE(collector->stats().outages, 1u);
  EXPECT_GT(collector->stats().batches_resent, 0u);
  EXPECT_GT(collector->stats().ring_overflows, 0u);
  EXPECT_TRUE(collector->idle());
  EXPECT_EQ(uplink_.receiver.stats().duplicates, 0u);
  ExpectDeliveredInOrder(60'000);
}

TEST_F(CollectorTest, LostAcknowledgementsAreDroppedByTheReceiver) {
  auto collector = Open(Options());
  uplink_.lose_ack_every = 3;
  Feed(*collector, 0, 20'000);
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now() + Duration::Minutes(10)).ok());
  EXPECT_GT(uplink_.receiver.stats().duplicates, 0u);
  ExpectDeliveredInOrder(20'000);
}

TEST_F(CollectorTest, RingOverflowGoesToTheSpillInOrder) {
  auto collector = Open(Options());
  uplink_.down = true;
  // No polling: the ring (10,000) overflows 5 times by 5,000 ticks.
  Feed(*collector, 0, 35'000, /*poll=*/false);
  EXPECT_EQ(collector->ring_size(), 10'000u);
  EXPECT_EQ(collector->stats().ring_overflows, 5u);
  EXPECT_EQ(collector->spilled_records(), 5u);
  EXPECT_EQ(collector->stats().ticks_spilled, 25'000u);
  uplink_.down = false;
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now()).ok());
  EXPECT_EQ(collector->stats().batches_resent, 5u);
  ExpectDeliveredInOrder(35'000);
}

TEST_F(CollectorTest, OverflowDuringABackOffSpillsTheBatchInFlightFirst) {
  CollectorOptions options = Options();
  options.ring_capacity = 100;
  options.spill_batch_ticks = 30;
  options.max_batch_ticks = 50;
  auto collector = Open(options);
  uplink_.fail_next = 1;
  Feed(*collector, 0, 60, /*poll=*/false);
  ASSERT_TRUE(collector->Poll().ok());  // 50 ticks in flight, waiting for the retry
  Feed(*collector, 60, 200, /*poll=*/false);
  EXPECT_GE(collector->spilled_records(), 2u);
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now() + Duration::Seconds(10)).ok());
  ExpectDeliveredInOrder(200);
}

TEST_F(CollectorTest, ACrashWithATornSpillFileKeepsTheEarlierRecords) {
  CollectorOptions options = Options();
  options.ring_capacity = 1'000;
  options.spill_batch_ticks = 500;
  {
    auto collector = Open(options);
    uplink_.down = true;
    Feed(*collector, 0, 5'000, /*poll=*/false);
    EXPECT_EQ(collector->stats().ticks_spilled, 4'000u);  // 8 records; 1,000 still in the ring
    // The process dies here: the ring is lost with it, and the last record's write was torn.
  }
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) - 7);
  uplink_.down = false;
  auto collector = Open(options);
  const SpillRecovery& recovery = collector->stats().recovery;
  EXPECT_EQ(recovery.torn_records, 1u);
  EXPECT_EQ(recovery.records, 7u);
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now()).ok());
  // The first 3,500 ticks (seven whole records) arrive, in order, once each.
  ExpectDeliveredInOrder(3'500);
}

TEST_F(CollectorTest, ShutdownSpillsWhatIsInMemoryAndTheNextCollectorResendsIt) {
  {
    auto collector = Open(Options());
    uplink_.down = true;
    Feed(*collector, 0, 2'500);
    ASSERT_TRUE(collector->Shutdown().ok());
    EXPECT_EQ(collector->stats().ticks_spilled, 2'500u);
  }
  uplink_.down = false;
  auto collector = Open(Options());
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now()).ok());
  ExpectDeliveredInOrder(2'500);
  EXPECT_EQ(std::filesystem::file_size(path_), 16u);
}

TEST_F(CollectorTest, AFullRingWhoseSpillFailsRefusesTheQuoteAndCountsIt) {
  CollectorOptions options = Options();
  options.ring_capacity = 10;
  options.spill_batch_ticks = 5;
  options.spill.max_record_bytes = 32;  // no batch fits: every append fails
  auto collector = Open(options);
  uplink_.down = true;
  Feed(*collector, 0, 10, /*poll=*/false);
  const Quote eleventh = QuoteAt(10);
  clock_.AdvanceTo(*eleventh.time);
  const Status status = collector->Accept(eleventh);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(collector->stats().rejected[static_cast<size_t>(QuoteReject::kSpillFailed)], 1u);
  EXPECT_NE(collector->stats().last_rejection.find("spill_failed"), std::string::npos);
  EXPECT_EQ(collector->ring_size(), 10u);
  // The ring kept what it had: the first ten arrive when the uplink is back.
  uplink_.down = false;
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now()).ok());
  ExpectDeliveredInOrder(10);
}

TEST_F(CollectorTest, RefusesBadOptions) {
  CollectorOptions options = Options();
  options.symbols.push_back({"eurusd", 5});
  EXPECT_EQ(Collector::Open(options, uplink_, clock_).status().code(),
            StatusCode::kInvalidArgument);
  options = Options();
  options.max_batch_ticks = 0;
  EXPECT_EQ(Collector::Open(options, uplink_, clock_).status().code(),
            StatusCode::kInvalidArgument);
  options = Options();
  options.spill_path.clear();
  EXPECT_EQ(Collector::Open(options, uplink_, clock_).status().code(),
            StatusCode::kInvalidArgument);
}

// The fault test on real ticks: the server is away for a minute in the middle of the
// EUR/USD day; every tick arrives once, in order.
TEST_F(CollectorTest, RealTicksWithTheServerAwayForAMinute) {
  const std::string path = std::string(AITS_SHARED_DATA_DIR) + "/eurusd-ticks-2020-01-01.csv";
  auto source = data::OpenTicks(path, {});
  if (!source.ok()) GTEST_SKIP() << source.status().ToString();
  std::vector<Tick> ticks(20'000);
  auto count = (*source)->Read(ticks);
  ASSERT_TRUE(count.ok());
  ticks.resize(*count);
  ASSERT_GT(ticks.size(), 9'000u);

  CollectorOptions options = Options();
  options.max_batch_ticks = 100;
  auto collector = Open(options);
  clock_.AdvanceTo(ticks.front().ts);
  const Timestamp away_from = ticks[ticks.size() / 2].ts;
  const Timestamp away_until = away_from + Duration::Minutes(1);
  // The collector's loop polls every 250 ms of (simulated) time, and at every tick.
  auto poll_until = [&](Timestamp until) {
    while (clock_.Now() < until) {
      clock_.AdvanceTo(std::min(until, clock_.Now() + Duration::Millis(250)));
      uplink_.down = clock_.Now() >= away_from && clock_.Now() < away_until;
      ASSERT_TRUE(collector->Poll().ok());
    }
  };
  for (const Tick& tick : ticks) {
    poll_until(tick.ts);
    Quote quote;
    quote.symbol = "EURUSD";
    quote.time = tick.ts;
    quote.bid = tick.bid.AsDouble();
    quote.ask = tick.ask.AsDouble();
    quote.volume = 0.0;
    ASSERT_TRUE(collector->Accept(quote).ok()) << collector->stats().last_rejection;
    ASSERT_TRUE(collector->Poll().ok());
  }
  uplink_.down = false;
  ASSERT_TRUE(collector->Drain(sleeper_, clock_.Now() + Duration::Minutes(5)).ok());
  EXPECT_EQ(collector->stats().outages, 1u);
  EXPECT_GT(collector->stats().batches_resent, 0u);
  ASSERT_EQ(uplink_.delivered.size(), ticks.size());
  EXPECT_EQ(uplink_.receiver.stats().duplicates, 0u);
  for (size_t idx = 0; idx < ticks.size(); ++idx) {
    const SequencedTick& st = uplink_.delivered[idx];
    ASSERT_EQ(st.sequence, idx + 1);
    ASSERT_EQ(st.tick.ts, ticks[idx].ts);
    ASSERT_EQ(st.tick.bid, ticks[idx].bid);
    ASSERT_EQ(st.tick.ask, ticks[idx].ask);
  }
}

}  // namespace
}  // namespace aits::feed
