#include "aits/data/merge.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

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
    live_.reserve(feeds.size());
    heads_.reserve(feeds.size());
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
      for (Lane& lane : lanes_) {
        AITS_RETURN_IF_ERROR(Refill(lane));
        if (lane.count > 0) {
          live_.push_back(&lane);
          heads_.push_back(TimeOf(lane.buffer[0]));
        }
      }
      primed_ = true;
    }
    // One item per step: feeds interleave finely (four FX feeds alternate almost tick by tick),
    // so runs are mostly one item long and the step's cost is choosing the feed. The choice is a
    // minimum over the live feeds' next times kept side by side in heads_, computed with masks
    // rather than a branch on which feed wins: that branch is a coin toss, mispredicted about
    // every other item (compilers keep it a branch when written as a ?:). live_ is in feed order
    // and the comparison strict, so equal times come in feed order.
    Lane** const live = live_.data();
    int64_t* const heads = heads_.data();
    size_t live_count = live_.size();
    size_t written = 0;
    while (written < out.size() && live_count > 0) {
      size_t best = 0;
      int64_t best_time = heads[0];
      for (size_t slot = 1; slot < live_count; ++slot) {
        const size_t earlier = 0 - static_cast<size_t>(heads[slot] < best_time);  // all ones if so
        best = (slot & earlier) | (best & ~earlier);
        best_time = std::min(best_time, heads[slot]);
      }
      Lane& lane = *live[best];
      out[written++] = lane.buffer[lane.pos++];
      if (lane.pos == lane.count) [[unlikely]] {
        AITS_RETURN_IF_ERROR(Refill(lane));
        if (lane.count == 0) {  // ended: drop out, keeping the others in feed order
          live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(best));
          heads_.erase(heads_.begin() + static_cast<std::ptrdiff_t>(best));
          --live_count;
          continue;
        }
      }
      heads[best] = TimeOf(lane.buffer[lane.pos]);
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
  // The feeds not yet ended, in feed order, and the time of each one's next item.
  std::vector<Lane*> live_;
  std::vector<int64_t> heads_;
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
