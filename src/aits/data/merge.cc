#include "aits/data/merge.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace aits::data {
namespace internal {

inline int64_t TimeOf(const Tick& tick) { return tick.ts.ns; }
inline int64_t TimeOf(const Bar& bar) { return bar.open_time.ns; }

template <typename Item, typename Source>
class KWayMerge {
 public:
  // Per-feed buffer: small enough that four feeds' buffers stay in L2 beside the kernel's state.
  static constexpr size_t kBatch = 1024;

  explicit KWayMerge(std::vector<std::unique_ptr<Source>> feeds) {
    lanes_.reserve(feeds.size());
    for (auto& feed : feeds) {
      Lane lane;
      lane.source = std::move(feed);
      if (feeds.size() > 1) lane.buffer.resize(kBatch);
      lanes_.push_back(std::move(lane));
    }
  }

  Result<size_t> Read(std::span<Item> out) {
    if (lanes_.size() == 1) return lanes_[0].source->Read(out);
    if (!primed_) {
      for (Lane& lane : lanes_) AITS_RETURN_IF_ERROR(Refill(lane));
      primed_ = true;
    }
    size_t written = 0;
    while (written < out.size()) {
      // The feed with the earliest next item (ties: the earlier feed) and the next item of the
      // others, which bounds how far that feed's run may go.
      size_t best = lanes_.size();
      size_t runner_up = lanes_.size();
      int64_t best_time = 0;
      int64_t runner_up_time = std::numeric_limits<int64_t>::max();
      for (size_t idx = 0; idx < lanes_.size(); ++idx) {
        const Lane& lane = lanes_[idx];
        if (lane.pos == lane.count) continue;  // ended
        const int64_t time = TimeOf(lane.buffer[lane.pos]);
        if (best == lanes_.size() || time < best_time) {
          runner_up = best;
          runner_up_time = best_time;
          best = idx;
          best_time = time;
        } else if (runner_up == lanes_.size() || time < runner_up_time) {
          runner_up = idx;
          runner_up_time = time;
        }
      }
      if (best == lanes_.size()) break;  // every feed has ended
      if (runner_up == lanes_.size()) runner_up_time = std::numeric_limits<int64_t>::max();
      // Items of `best` equal in time to the runner-up's go first only if `best` is the earlier
      // feed (best < runner_up by the scan order when times tie).
      const int64_t limit = best < runner_up ? runner_up_time : runner_up_time - 1;
      Lane& lane = lanes_[best];
      while (written < out.size() && lane.pos < lane.count &&
             TimeOf(lane.buffer[lane.pos]) <= limit) {
        out[written++] = lane.buffer[lane.pos++];
      }
      if (lane.pos == lane.count) AITS_RETURN_IF_ERROR(Refill(lane));
    }
    return written;
  }

  double Progress() const {
    double least = 1.0;
    for (const Lane& lane : lanes_) least = std::min(least, lane.source->Progress());
    return least;
  }

  const ReadStats& Stats() const {
    if (lanes_.size() == 1) return lanes_[0].source->stats();
    std::vector<const ReadStats*> feeds;
    feeds.reserve(lanes_.size());
    size_t max_samples = 0;
    for (const Lane& lane : lanes_) {
      feeds.push_back(&lane.source->stats());
      max_samples += lane.source->stats().samples.size();
    }
    combined_ = CombineReadStats(feeds, max_samples);
    return combined_;
  }

  size_t FeedCount() const { return lanes_.size(); }
  const ReadStats& FeedStats(size_t feed) const { return lanes_.at(feed).source->stats(); }
  const Source& Feed(size_t feed) const { return *lanes_.at(feed).source; }

 private:
  struct Lane {
    std::unique_ptr<Source> source;
    std::vector<Item> buffer;
    size_t pos = 0;
    size_t count = 0;  // pos == count after a refill: the feed has ended
  };

  Status Refill(Lane& lane) {
    AITS_ASSIGN_OR_RETURN(lane.count, lane.source->Read(lane.buffer));
    lane.pos = 0;
    return Status::Ok();
  }

  std::vector<Lane> lanes_;
  bool primed_ = false;
  mutable ReadStats combined_;
};

}  // namespace internal

ReadStats CombineReadStats(const std::vector<const ReadStats*>& feeds, size_t max_samples) {
  ReadStats sum;
  for (const ReadStats* feed : feeds) {
    sum.rows += feed->rows;
    sum.accepted += feed->accepted;
    for (size_t idx = 0; idx < sum.rejected.size(); ++idx) sum.rejected[idx] += feed->rejected[idx];
    sum.repaired += feed->repaired;
    sum.rounded += feed->rounded;
    for (const RejectSample& sample : feed->samples) {
      if (sum.samples.size() < max_samples) sum.samples.push_back(sample);
    }
  }
  return sum;
}

MergedTickSource::MergedTickSource(std::vector<std::unique_ptr<TickSource>> feeds)
    : merge_(std::make_unique<internal::KWayMerge<Tick, TickSource>>(std::move(feeds))) {}
MergedTickSource::~MergedTickSource() = default;
Result<size_t> MergedTickSource::Read(std::span<Tick> out) { return merge_->Read(out); }
const ReadStats& MergedTickSource::stats() const { return merge_->Stats(); }
double MergedTickSource::Progress() const { return merge_->Progress(); }
size_t MergedTickSource::feed_count() const { return merge_->FeedCount(); }
const ReadStats& MergedTickSource::feed_stats(size_t feed) const { return merge_->FeedStats(feed); }

MergedBarSource::MergedBarSource(std::vector<std::unique_ptr<BarSource>> feeds)
    : merge_(std::make_unique<internal::KWayMerge<Bar, BarSource>>(std::move(feeds))) {}
MergedBarSource::~MergedBarSource() = default;
Result<size_t> MergedBarSource::Read(std::span<Bar> out) { return merge_->Read(out); }
const ReadStats& MergedBarSource::stats() const { return merge_->Stats(); }
double MergedBarSource::Progress() const { return merge_->Progress(); }
Duration MergedBarSource::period() const { return merge_->Feed(0).period(); }
size_t MergedBarSource::feed_count() const { return merge_->FeedCount(); }
const ReadStats& MergedBarSource::feed_stats(size_t feed) const { return merge_->FeedStats(feed); }

}  // namespace aits::data
