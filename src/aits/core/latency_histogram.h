// A fixed-size log-linear latency histogram (HdrHistogram's idea): 64 sub-buckets per power of
// two, so every recorded value is kept within 1/64 (1.6 %) of its true size, from 1 ns to hours,
// in 4 KiB and with no allocation per record. In core because the paper sessions and the node's
// benchmarks both record with it. Thread-compatible: one thread records into one histogram.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace aits {

class LatencyHistogram {
 public:
  void Record(int64_t nanos);
  uint64_t count() const { return count_; }
  // The value at quantile q in [0, 1] (upper edge of its bucket), nanoseconds; 0 when empty.
  int64_t Quantile(double q) const;
  int64_t max() const { return max_; }
  void Merge(const LatencyHistogram& other);
  // "n 1000000  p50 2.1 us  p99 7.9 us  p99.9 15.2 us  max 301 us"
  std::string Summary() const;

 private:
  static constexpr int kSubBits = 6;
  static constexpr int kBuckets = (64 - kSubBits + 1) << kSubBits;
  static int BucketOf(uint64_t value);
  static uint64_t UpperEdge(int bucket);
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace aits
