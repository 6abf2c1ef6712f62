// Several market data feeds as one, in time order: a k-way merge of tick (or bar) sources, each
// feed already bound to its instrument (ReadOptions::instrument stamps every tick or bar it
// reads). A backtest over GBP/USD and USD/JPY reads both files through one merged source.
//
// Order: by time (ticks by Tick::ts, bars by Bar::open_time); items with equal times come in feed
// order (the feed given first first), and within a feed in file order. The order is therefore a
// pure function of the inputs, whatever the batch sizes. A feed that ends early simply drops out.
//
// Each feed validates its own rows (source.h): a bad row in one feed is counted in that feed's
// ReadStats (feed_stats()) and the others go on; stats() sums them. With ReadOptions::strict a
// feed's first rejection ends the merged read with that feed's error (it names the file).
//
// One feed costs nothing: Read() hands the caller's buffer straight to it. With several, each
// feed is read in batches into its own buffer, and each item is chosen by a branch-free minimum
// over the feeds' next times (feeds interleave finely, so choosing is the cost that matters).
// Single-threaded, like every source; Read() does not allocate.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "aits/core/status.h"
#include "aits/data/source.h"

namespace aits::data {

namespace internal {
template <typename Item, typename Source>
class KWayMerge;
}  // namespace internal

class MergedTickSource final : public TickSource {
 public:
  // Precondition: `feeds` is non-empty and holds no nullptr.
  explicit MergedTickSource(std::vector<std::unique_ptr<TickSource>> feeds);
  ~MergedTickSource() override;

  Result<size_t> Read(std::span<Tick> out) override;
  // The feeds' statistics summed (samples: each feed's, in feed order).
  const ReadStats& stats() const override;
  // The least advanced feed's progress: the merge is done when the slowest feed is.
  double Progress() const override;
  size_t feed_count() const;
  const ReadStats& feed_stats(size_t feed) const;

 private:
  std::unique_ptr<internal::KWayMerge<Tick, TickSource>> merge_;
};

class MergedBarSource final : public BarSource {
 public:
  // Precondition: `feeds` is non-empty, holds no nullptr, and every feed has the same period()
  // (bars of different periods would interleave closes out of order; the caller checks and says
  // which file differs).
  explicit MergedBarSource(std::vector<std::unique_ptr<BarSource>> feeds);
  ~MergedBarSource() override;

  Result<size_t> Read(std::span<Bar> out) override;
  const ReadStats& stats() const override;
  double Progress() const override;
  Duration period() const override;
  size_t feed_count() const;
  const ReadStats& feed_stats(size_t feed) const;

 private:
  std::unique_ptr<internal::KWayMerge<Bar, BarSource>> merge_;
};

// Sums `feeds` into one ReadStats (samples kept in order, up to `max_samples` in all).
ReadStats CombineReadStats(const std::vector<const ReadStats*>& feeds, size_t max_samples);

}  // namespace aits::data
