// A metrics registry: counters, gauges and histograms with labels, rendered in the Prometheus text
// exposition format 0.0.4 for the node's later /metrics endpoint (docs/architecture.md, "Metrics").
//
// Two paths with different costs:
//   - Registration (Registry::Add*, Family::With) validates names, may allocate and takes the
//     registry's mutex. Do it at start-up, or at the first use of a label value, and keep the
//     returned pointer.
//   - Updates (Counter::Increment, Gauge::Set, Histogram::Observe, ...) touch only the child's
//     own atomics with relaxed ordering: no lock, no allocation, no lookup. The kernel thread
//     updates while a scraper thread renders.
//
// Why relaxed ordering is enough: every value is an independent number that publishes no other
// memory, so nothing has to be ordered around it. Per-variable coherence still holds, so successive
// reads of one counter never see it go backwards. A render therefore shows each value as it was at
// some moment during the render, but not all values at the same moment: a counter and a gauge
// updated together may be seen some updates apart, and so may a histogram's sum and its buckets.
// Within one histogram the render does guarantee that the buckets are cumulative (non-decreasing)
// and that _count equals the +Inf bucket: no count is stored; both are computed from one read of
// the per-bucket counts (see Histogram::Read).
//
// Names follow Prometheus' rules: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* not starting with "__". Counter names must end in "_total" (the
// Prometheus convention; they are exposed under that name). A histogram may not use the label
// "le". No two families may expose the same series name (histogram "x" exposes x_bucket, x_sum
// and x_count).
//
// Lifetimes: a Registry owns its families and their children; every pointer it hands out stays
// valid, at the same address, until the Registry is destroyed. The Registry can be neither copied
// nor moved for that reason.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aits/core/status.h"

namespace aits {

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<double>::is_always_lock_free);

// One label of a child: With({{"reason", "risk_halted"}}). The views are copied on registration.
struct Label {
  std::string_view name;
  std::string_view value;
};

// A monotonic count (orders sent, ticks rejected). Thread-safe: any thread may update or read.
class Counter {
 public:
  // Adds 1 / `by`. Wraps around after 2^64, which no count of events reaches.
  void Increment() { value_.fetch_add(1, std::memory_order_relaxed); }
  void Increment(uint64_t by) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  template <typename Metric>
  friend class Family;
  Counter() = default;
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (open positions, equity, inbox depth). Thread-safe.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  // Atomic read-modify-write (a compare-exchange loop), so concurrent Adds are never lost.
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Increment() { Add(1.0); }
  void Decrement() { Add(-1.0); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  template <typename Metric>
  friend class Family;
  Gauge() = default;
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets with fixed upper bounds (set on the family), plus their sum.
// Thread-safe. Observe costs a scan of the bounds (meant for tens of them), one atomic add on the
// bucket and one on the sum.
class Histogram {
 public:
  // A value v lands in the first bucket whose bound b has v <= b, else in +Inf; NaN lands in +Inf
  // (and makes the sum NaN), as Prometheus' own clients do.
  void Observe(double value) {
    buckets_[BucketOf(bounds_, value)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  // Observations counted elsewhere by their one writer and handed over in a batch (a kernel
  // thread that counts per tick in plain memory and publishes every ~100 ms pays a plain
  // increment per observation instead of two atomic ones): `per_bucket` holds bounds().size() + 1
  // counts, not cumulative ones, in the order Observe would have used; `sum` their values' sum.
  // Precondition: per_bucket.size() == bounds().size() + 1.
  void AddBuckets(std::span<const uint64_t> per_bucket, double sum);
  // The bucket Observe(value) counts into: the first bound b with value <= b, else
  // bounds().size() (+Inf). For a batch writer's own counts.
  static size_t BucketOf(std::span<const double> bounds, double value) {
    size_t bucket = 0;
    while (bucket < bounds.size() && !(value <= bounds[bucket])) ++bucket;
    return bucket;
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf; non-decreasing
    double sum = 0.0;
    uint64_t count = 0;  // == cumulative.back(), always
  };
  // Reads every bucket once and accumulates: allocates, so not for the hot path. The sum is read
  // after the buckets and may include observations the buckets do not (see the header comment).
  Snapshot Read() const;
  // The upper bounds without +Inf, strictly increasing; owned by the family.
  std::span<const double> bounds() const { return bounds_; }

 private:
  template <typename Metric>
  friend class Family;
  explicit Histogram(std::span<const double> bounds);
  std::span<const double> bounds_;
  // Per-bucket (not cumulative) counts: Observe touches one bucket, and a reader's prefix sums
  // make the cumulative view consistent by construction.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };
std::string_view MetricTypeName(MetricType type);  // "counter", "gauge", "histogram"

// A copy of one family's values, for an exporter that serializes by itself (prometheus-cpp's
// Collectable wants MetricFamily structs, not text). Plain data, owned by the caller.
struct FamilySnapshot {
  struct Child {
    std::vector<std::string> label_values;  // in label_names order
    uint64_t counter = 0;                   // kCounter
    double gauge = 0.0;                     // kGauge
    Histogram::Snapshot histogram;          // kHistogram
  };
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  std::vector<double> bounds;   // kHistogram: the upper bounds without +Inf
  std::vector<Child> children;  // sorted by label values
};

// The Prometheus text exposition format 0.0.4 of these families, in the order given.
std::string RenderText(std::span<const FamilySnapshot> families);

// All children of one metric name: the same help, label names and (histograms) bounds, one child
// per distinct tuple of label values. Created by a Registry, which owns it.
// Thread-safe: With may be called from any thread (it takes the registry's mutex).
template <typename Metric>
class Family {
 public:
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // Returns the child for these labels, creating it (at 0) on first use. The labels must name
  // exactly the family's label names, in any order, each once; values may be any UTF-8 text.
  // The same values always return the same pointer, valid for the registry's lifetime.
  // Errors: InvalidArgument naming the metric and the missing, unknown or repeated label.
  // A family without labels has its one child from registration on: With({}).
  Result<Metric*> With(std::span<const Label> labels);
  Result<Metric*> With(std::initializer_list<Label> labels) {
    return With(std::span<const Label>(labels.begin(), labels.size()));
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Histograms' upper bounds without +Inf; empty for counters and gauges.
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  friend class Registry;
  Family(std::mutex& mu, std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds);
  // Copies every child's values; the caller holds mu_.
  FamilySnapshot Collect() const;
  Metric* CreateChildLocked(std::vector<std::string> values);

  std::mutex& mu_;  // the registry's
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  // Keyed by the label values in label_names_ order, so a render lists children sorted by them.
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

// Owns metric families and renders them. Thread-safe: registration, Collect and RenderText take
// one mutex; updates through the children never do.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each returns the family with this name, creating it on first call. Calling again with the
  // same type, help, label names (same order) and bounds returns the same family; anything else
  // under that name is InvalidArgument. Errors (InvalidArgument, naming the metric): a name or
  // label name against the rules in the header comment, a counter name without "_total", a
  // histogram label "le", bounds that are not finite and strictly increasing, a series name
  // already exposed by another family.
  Result<Family<Counter>*> AddCounter(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names = {});
  Result<Family<Gauge>*> AddGauge(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names = {});
  // `bounds`: bucket upper bounds without +Inf (always added); may be empty (count and sum only).
  Result<Family<Histogram>*> AddHistogram(std::string_view name, std::string_view help,
                                          std::vector<double> bounds,
                                          std::vector<std::string> label_names = {});

  // A copy of every family, sorted by name, children by label values. Values are read while
  // updates go on (see the header comment for what is consistent). Allocates; holds the mutex
  // while it copies, so registration waits, updates do not.
  std::vector<FamilySnapshot> Collect() const;

  // RenderText(Collect()): the Prometheus text exposition format 0.0.4, for an HTTP answer with
  // Content-Type "text/plain; version=0.0.4". No timestamps. The text is built after the mutex
  // is released.
  std::string RenderText() const;

 private:
  using AnyFamily = std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
                                 std::unique_ptr<Family<Histogram>>>;
  template <typename Metric>
  Result<Family<Metric>*> Add(MetricType type, std::string_view name, std::string_view help,
                              std::vector<std::string> label_names, std::vector<double> bounds);

  mutable std::mutex mu_;
  std::map<std::string, AnyFamily, std::less<>> families_;
  // Every series name exposed (x, or x_bucket/x_sum/x_count) -> the family exposing it.
  std::map<std::string, std::string, std::less<>> series_owner_;
};

// The Prometheus name rules, exposed for the exporter and for tests.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace aits
