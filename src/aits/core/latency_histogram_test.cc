#include "aits/core/latency_histogram.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace aits {
namespace {

TEST(LatencyHistogramTest, QuantilesAreWithinTheBucketPrecision) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100'000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_NEAR(static_cast<double>(h.Quantile(0.5)), 50'000, 50'000 * 0.02);
  EXPECT_NEAR(static_cast<double>(h.Quantile(0.99)), 99'000, 99'000 * 0.02);
  EXPECT_EQ(h.Quantile(1.0), 100'000);
  EXPECT_EQ(h.max(), 100'000);
  LatencyHistogram empty;
  EXPECT_EQ(empty.Quantile(0.99), 0);
  h.Merge(h);
  EXPECT_EQ(h.count(), 200'000u);
}

}  // namespace
}  // namespace aits
