#include "aits/core/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <latch>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace aits {
namespace {

TEST(MetricsTest, RendersTheTextExpositionFormat) {
  Registry registry;
  auto orders = registry.AddCounter("aits_orders_denied_total", "Orders denied before the venue.",
                                    {"reason", "symbol"});
  ASSERT_TRUE(orders.ok()) << orders.status().ToString();
  Counter* halted = (*orders)->With({{"reason", "risk_halted"}, {"symbol", "GBPUSD"}}).value();
  // Labels in the other order name the same child.
  Counter* halted_again =
      (*orders)->With({{"symbol", "GBPUSD"}, {"reason", "risk_halted"}}).value();
  EXPECT_EQ(halted, halted_again);
  Counter* margin = (*orders)->With({{"reason", "margin"}, {"symbol", "GBPUSD"}}).value();
  halted->Increment();
  halted_again->Increment(2);
  margin->Increment();

  auto depth = registry.AddGauge("aits_inbox_depth", "Events waiting in the kernel's inbox.");
  ASSERT_TRUE(depth.ok());
  Gauge* depth_gauge = (*depth)->With({}).value();
  depth_gauge->Set(7);
  depth_gauge->Add(-2.5);

  auto latency =
      registry.AddHistogram("aits_tick_seconds", "Tick to decision latency.", {0.001, 0.01, 0.1});
  ASSERT_TRUE(latency.ok());
  Histogram* tick = (*latency)->With({}).value();
  // At a bound counts in that bound's bucket (le = less or equal); between bounds in the next.
  tick->Observe(0.001);
  tick->Observe(0.0005);
  tick->Observe(0.005);
  tick->Observe(0.1);
  tick->Observe(0.25);

  EXPECT_EQ(registry.RenderText(),
            "# HELP aits_inbox_depth Events waiting in the kernel's inbox.\n"
            "# TYPE aits_inbox_depth gauge\n"
            "aits_inbox_depth 4.5\n"
            "# HELP aits_orders_denied_total Orders denied before the venue.\n"
            "# TYPE aits_orders_denied_total counter\n"
            "aits_orders_denied_total{reason=\"margin\",symbol=\"GBPUSD\"} 1\n"
            "aits_orders_denied_total{reason=\"risk_halted\",symbol=\"GBPUSD\"} 3\n"
            "# HELP aits_tick_seconds Tick to decision latency.\n"
            "# TYPE aits_tick_seconds histogram\n"
            "aits_tick_seconds_bucket{le=\"0.001\"} 2\n"
            "aits_tick_seconds_bucket{le=\"0.01\"} 3\n"
            "aits_tick_seconds_bucket{le=\"0.1\"} 4\n"
            "aits_tick_seconds_bucket{le=\"+Inf\"} 5\n"
            // The double sum of the five, written shortest-round-trip: Prometheus reads it back
            // to the same double.
            "aits_tick_seconds_sum 0.35650000000000004\n"
            "aits_tick_seconds_count 5\n");
}

TEST(MetricsTest, ABatchOfBucketsReadsAsTheSameObservationsOneByOne) {
  Registry registry;
  Family<Histogram>* family =
      registry.AddHistogram("h_seconds", "h", {0.001, 0.01, 0.1}, {"k"}).value();
  Histogram* one_by_one = family->With({{"k", "a"}}).value();
  Histogram* batched = family->With({{"k", "b"}}).value();
  const std::vector<double> values = {0.001, 0.0005, 0.005, 0.1, 0.25, std::nan("")};
  std::vector<uint64_t> per_bucket(batched->bounds().size() + 1, 0);
  double sum = 0;
  for (double value : values) {
    one_by_one->Observe(value);
    ++per_bucket[Histogram::BucketOf(batched->bounds(), value)];
    sum += value;
  }
  batched->AddBuckets(per_bucket, sum);
  const Histogram::Snapshot a = one_by_one->Read();
  const Histogram::Snapshot b = batched->Read();
  EXPECT_EQ(a.cumulative, b.cumulative);
  EXPECT_EQ(b.cumulative, (std::vector<uint64_t>{2, 3, 4, 6}));
  EXPECT_EQ(a.count, b.count);
  EXPECT_TRUE(std::isnan(b.sum));  // NaN lands in +Inf and poisons the sum, as Observe does
  // A second batch adds to the first.
  batched->AddBuckets(std::vector<uint64_t>{1, 0, 0, 0}, 0.0001);
  EXPECT_EQ(batched->Read().cumulative, (std::vector<uint64_t>{3, 4, 5, 7}));
}

TEST(MetricsTest, HistogramWithLabelsPutsLeLastAndSnapshotsAreCumulative) {
  Registry registry;
  auto family =
      registry.AddHistogram("aits_fill_slippage_pips", "Slippage.", {-1, 0, 1}, {"side"}).value();
  Histogram* buy = family->With({{"side", "buy"}}).value();
  buy->Observe(-3);
  buy->Observe(0);
  buy->Observe(0.5);
  const Histogram::Snapshot snapshot = buy->Read();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{1, 2, 3, 3}));
  EXPECT_EQ(snapshot.count, 3u);
  EXPECT_DOUBLE_EQ(snapshot.sum, -2.5);
  const std::string text = registry.RenderText();
  EXPECT_NE(text.find("aits_fill_slippage_pips_bucket{side=\"buy\",le=\"-1\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("aits_fill_slippage_pips_bucket{side=\"buy\",le=\"+Inf\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("aits_fill_slippage_pips_count{side=\"buy\"} 3\n"), std::string::npos)
      << text;
}

TEST(MetricsTest, CollectCopiesEveryFamilyForAnExporter) {
  Registry registry;
  Family<Counter>* fills = registry.AddCounter("b_fills_total", "Fills.", {"side"}).value();
  fills->With({{"side", "sell"}}).value()->Increment(2);
  fills->With({{"side", "buy"}}).value()->Increment(5);
  registry.AddHistogram("a_seconds", "A.", {0.5}).value()->With({}).value()->Observe(0.25);

  const std::vector<FamilySnapshot> families = registry.Collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "a_seconds");
  EXPECT_EQ(families[0].type, MetricType::kHistogram);
  EXPECT_EQ(families[0].bounds, std::vector<double>{0.5});
  ASSERT_EQ(families[0].children.size(), 1u);
  EXPECT_EQ(families[0].children[0].histogram.cumulative, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(families[0].children[0].histogram.sum, 0.25);
  EXPECT_EQ(families[1].name, "b_fills_total");
  EXPECT_EQ(families[1].help, "Fills.");
  EXPECT_EQ(families[1].label_names, std::vector<std::string>{"side"});
  ASSERT_EQ(families[1].children.size(), 2u);
  EXPECT_EQ(families[1].children[0].label_values, std::vector<std::string>{"buy"});
  EXPECT_EQ(families[1].children[0].counter, 5u);
  EXPECT_EQ(families[1].children[1].counter, 2u);
  EXPECT_EQ(RenderText(families), registry.RenderText());
}

TEST(MetricsTest, NanGoesToTheInfBucket) {
  Registry registry;
  Histogram* h = registry.AddHistogram("h", "h", {1.0}).value()->With({}).value();
  h->Observe(std::numeric_limits<double>::quiet_NaN());
  const Histogram::Snapshot snapshot = h->Read();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{0, 1}));
  EXPECT_TRUE(std::isnan(snapshot.sum));
  EXPECT_NE(registry.RenderText().find("h_sum NaN\n"), std::string::npos);
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  auto family =
      registry.AddCounter("aits_errors_total", "Errors \"quoted\", a\\b\nsecond line.", {"what"});
  ASSERT_TRUE(family.ok());
  (*family)->With({{"what", "C:\\data \"x\"\nnext"}}).value()->Increment();
  EXPECT_EQ(registry.RenderText(),
            "# HELP aits_errors_total Errors \"quoted\", a\\\\b\\nsecond line.\n"
            "# TYPE aits_errors_total counter\n"
            "aits_errors_total{what=\"C:\\\\data \\\"x\\\"\\nnext\"} 1\n");
}

TEST(MetricsTest, RejectsInvalidNames) {
  Registry registry;
  for (const char* bad : {"", "1abc", "a-b", "a b", "é_total"}) {
    EXPECT_FALSE(IsValidMetricName(bad)) << bad;
  }
  for (const char* good : {"a", "_a", ":a", "a:b_c9", "A_total"}) {
    EXPECT_TRUE(IsValidMetricName(good)) << good;
  }
  for (const char* bad : {"", "1a", "a:b", "__reserved", "a-b"}) {
    EXPECT_FALSE(IsValidLabelName(bad)) << bad;
  }
  for (const char* good : {"a", "_a", "a_9", "reason"}) {
    EXPECT_TRUE(IsValidLabelName(good)) << good;
  }

  auto bad_name = registry.AddGauge("aits-depth", "x");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_name.status().message().find("'aits-depth': not a valid name"), std::string::npos)
      << bad_name.status().message();

  auto no_total = registry.AddCounter("aits_orders", "x");
  ASSERT_FALSE(no_total.ok());
  EXPECT_NE(no_total.status().message().find("must end in _total"), std::string::npos);

  auto bad_label = registry.AddGauge("aits_g", "x", {"__name"});
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.status().message().find("label '__name'"), std::string::npos);

  EXPECT_FALSE(registry.AddGauge("aits_g", "x", {"a", "a"}).ok());
  EXPECT_FALSE(registry.AddHistogram("aits_h", "x", {1}, {"le"}).ok());
  EXPECT_FALSE(registry.AddHistogram("aits_h", "x", {1, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram("aits_h", "x", {2, 1}).ok());
  EXPECT_FALSE(
      registry.AddHistogram("aits_h", "x", {1, std::numeric_limits<double>::infinity()}).ok());
  // Nothing half-registered: every failure above left the registry empty.
  EXPECT_EQ(registry.RenderText(), "");
}

TEST(MetricsTest, RejectsConflictingRegistrations) {
  Registry registry;
  auto first = registry.AddCounter("aits_fills_total", "Fills.", {"symbol"});
  ASSERT_TRUE(first.ok());
  auto same = registry.AddCounter("aits_fills_total", "Fills.", {"symbol"});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*first, *same);

  auto other_type = registry.AddGauge("aits_fills_total", "Fills.", {"symbol"});
  ASSERT_FALSE(other_type.ok());
  EXPECT_NE(other_type.status().message().find("another type"), std::string::npos);
  auto other_labels = registry.AddCounter("aits_fills_total", "Fills.", {"venue"});
  ASSERT_FALSE(other_labels.ok());
  EXPECT_NE(other_labels.status().message().find("other label names"), std::string::npos);
  EXPECT_FALSE(registry.AddCounter("aits_fills_total", "Fills.", {}).ok());
  EXPECT_FALSE(registry.AddCounter("aits_fills_total", "Other help.", {"symbol"}).ok());

  ASSERT_TRUE(registry.AddHistogram("aits_lat", "x", {1, 2}).ok());
  EXPECT_FALSE(registry.AddHistogram("aits_lat", "x", {1, 3}).ok());
  // Histogram aits_lat exposes aits_lat_sum and aits_lat_count: no other family may.
  auto clash = registry.AddGauge("aits_lat_sum", "x");
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("already exposed by metric 'aits_lat'"),
            std::string::npos)
      << clash.status().message();
  ASSERT_TRUE(registry.AddGauge("aits_q_count", "x").ok());
  EXPECT_FALSE(registry.AddHistogram("aits_q", "x", {1}).ok());

  Family<Counter>* fills = *first;
  EXPECT_FALSE(fills->With({}).ok());
  EXPECT_FALSE(fills->With({{"symbol", "A"}, {"venue", "B"}}).ok());
  EXPECT_FALSE(fills->With({{"symbol", "A"}, {"symbol", "B"}}).ok());
  auto missing = registry.AddGauge("aits_two", "x", {"a", "b"}).value()->With({{"a", "1"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("label 'b' missing"), std::string::npos);
}

// Several threads update one counter, one gauge and one histogram child (and register the same
// children concurrently) while another thread renders: nothing is lost, and every render shows
// count == the +Inf bucket. Also run under ThreadSanitizer (label tsan).
TEST(MetricsTest, ConcurrentUpdatesWhileRenderingAreExact) {
  Registry registry;
  Family<Counter>* counters = registry.AddCounter("c_total", "c", {"k"}).value();
  Family<Gauge>* gauges = registry.AddGauge("g", "g").value();
  Family<Histogram>* histograms = registry.AddHistogram("h", "h", {10, 100}).value();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200'000;

  std::atomic<bool> done{false};
  int renders = 0;
  bool every_render_consistent = true;
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string text = registry.RenderText();
      ++renders;
      const size_t inf = text.find("h_bucket{le=\"+Inf\"} ");
      const size_t count = text.find("h_count ");
      if (inf == std::string::npos || count == std::string::npos) continue;
      const uint64_t inf_value = std::stoull(text.substr(inf + 20));
      const uint64_t count_value = std::stoull(text.substr(count + 8));
      if (inf_value != count_value) every_render_consistent = false;
    }
  });
  // Released together, so the writers overlap instead of running one after another.
  std::latch start(kThreads);
  std::vector<std::thread> writers;
  for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
    writers.emplace_back([&] {
      Counter* counter = counters->With({{"k", "shared"}}).value();
      Gauge* gauge = gauges->With({}).value();
      Histogram* histogram = histograms->With({}).value();
      start.arrive_and_wait();
      // One metric at a time: tight loops make two threads' updates of the same value overlap
      // (a lost update would show), more than a loop spread over three values does.
      for (int op_idx = 0; op_idx < kPerThread; ++op_idx) counter->Increment();
      for (int op_idx = 0; op_idx < kPerThread; ++op_idx) gauge->Add(1.0);
      for (int op_idx = 0; op_idx < kPerThread; ++op_idx) {
        histogram->Observe(static_cast<double>(op_idx % 200));
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  done.store(true);
  scraper.join();

  constexpr uint64_t kTotal = uint64_t{kThreads} * kPerThread;
  EXPECT_EQ(counters->With({{"k", "shared"}}).value()->value(), kTotal);
  EXPECT_EQ(gauges->With({}).value()->value(), static_cast<double>(kTotal));
  const Histogram::Snapshot snapshot = histograms->With({}).value()->Read();
  // op_idx % 200: 0..10 (11 values) <= 10, 11..100 (90) <= 100, 101..199 (99) above.
  EXPECT_EQ(snapshot.cumulative,
            (std::vector<uint64_t>{kTotal / 200 * 11, kTotal / 200 * 101, kTotal}));
  // Sum of 0..199 is 19,900 per 200 observations; exact in a double.
  EXPECT_EQ(snapshot.sum, static_cast<double>(kTotal / 200 * 19'900));
  EXPECT_GT(renders, 0);
  EXPECT_TRUE(every_render_consistent);
}

}  // namespace
}  // namespace aits
