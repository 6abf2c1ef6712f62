#include "aits/core/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

namespace aits {

int LatencyHistogram::BucketOf(uint64_t value) {
  if (value < (uint64_t{1} << kSubBits)) return static_cast<int>(value);
  const int exponent = static_cast<int>(std::bit_width(value)) - 1;  // >= kSubBits
  const int shift = exponent - kSubBits;
  const int sub = static_cast<int>((value >> shift) & ((1 << kSubBits) - 1));
  return ((shift + 1) << kSubBits) + sub;
}

uint64_t LatencyHistogram::UpperEdge(int bucket) {
  if (bucket < (1 << kSubBits)) return static_cast<uint64_t>(bucket);
  const int shift = (bucket >> kSubBits) - 1;
  const uint64_t sub = static_cast<uint64_t>(bucket & ((1 << kSubBits) - 1));
  const uint64_t base = (uint64_t{1} << (shift + kSubBits)) + (sub << shift);
  return base + (uint64_t{1} << shift) - 1;
}

void LatencyHistogram::Record(int64_t nanos) {
  const uint64_t value = nanos < 0 ? 0 : static_cast<uint64_t>(nanos);
  ++counts_[static_cast<size_t>(BucketOf(value))];
  ++count_;
  max_ = std::max<int64_t>(max_, static_cast<int64_t>(value));
}

int64_t LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(clamped * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    seen += counts_[static_cast<size_t>(bucket)];
    if (seen >= rank) {
      return std::min<int64_t>(static_cast<int64_t>(UpperEdge(bucket)), max_);
    }
  }
  return max_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t idx = 0; idx < counts_.size(); ++idx) counts_[idx] += other.counts_[idx];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

std::string LatencyHistogram::Summary() const {
  char text[160];
  std::snprintf(text, sizeof(text), "n %llu  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us",
                static_cast<unsigned long long>(count_), static_cast<double>(Quantile(0.5)) / 1e3,
                static_cast<double>(Quantile(0.99)) / 1e3,
                static_cast<double>(Quantile(0.999)) / 1e3, static_cast<double>(max_) / 1e3);
  return text;
}

}  // namespace aits
