#include "aits/ml/feature_dataset.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace aits::ml {
namespace {

using features::FeatureEngine;
using features::TimeframeName;

constexpr size_t kTickBatch = 4096;
constexpr size_t kBarBatch = 1024;

// The usual ladder, for suggesting timeframes that fit the data.
constexpr Duration kLadder[] = {Duration::Minutes(1),  Duration::Minutes(5), Duration::Minutes(15),
                                Duration::Minutes(30), Duration::Hours(1),   Duration::Hours(4),
                                Duration::Days(1)};

std::string SuggestTimeframes(Duration period) {
  std::string out;
  int taken = 0;
  for (Duration tf : kLadder) {
    if (tf < period || tf.ns % period.ns != 0) continue;
    if (taken++ == 4) break;
    if (!out.empty()) out += ',';
    out += TimeframeName(tf);
  }
  return out.empty() ? TimeframeName(period) : out;
}

Status CheckBase(Duration base, Duration period, const std::string& path) {
  if (period.ns <= 0) return Status::Ok();
  const char* problem = nullptr;
  if (base < period) {
    problem = " is shorter than";
  } else if (base.ns % period.ns != 0) {
    problem = " is not a multiple of";
  }
  if (problem == nullptr) return Status::Ok();
  return InvalidArgument("timeframe " + TimeframeName(base) + problem + " the data's bar period (" +
                         FormatPeriod(period) + ") of " + path + "; use --timeframes " +
                         SuggestTimeframes(period));
}

int64_t PeriodStart(int64_t ts, int64_t period) {
  int64_t start = ts - ts % period;
  if (ts < 0 && ts % period != 0) start -= period;
  return start;
}

void Merge(Ohlc& into, const Ohlc& from) {
  if (from.high > into.high) into.high = from.high;
  if (from.low < into.low) into.low = from.low;
  into.close = from.close;
}

// Combines bars of the data's period into base bars that close on their boundary (or when a bar
// of a later base period arrives), the rule the engine applies to its higher timeframes. Unlike
// data::BarResampler it does not wait for the next period's first bar.
class BaseBarBuilder {
 public:
  explicit BaseBarBuilder(Duration period) : period_(period) {}

  // Calls emit(bar) for every base bar the input completes (at most two).
  template <typename Emit>
  void Update(const Bar& bar, Emit&& emit) {
    const Timestamp open{PeriodStart(bar.open_time.ns, period_.ns)};
    if (building_ && open > current_.open_time) {
      emit(current_);
      building_ = false;
    }
    if (building_) {
      Merge(current_.bid, bar.bid);
      Merge(current_.ask, bar.ask);
      Merge(current_.mid, bar.mid);
      current_.tick_count += bar.tick_count;
      current_.volume += bar.volume;
    } else {
      current_ = bar;
      current_.open_time = open;
      current_.period = period_;
      building_ = true;
    }
    if (bar.CloseTime() >= current_.CloseTime()) {
      emit(current_);
      building_ = false;
    }
  }

 private:
  Duration period_;
  Bar current_{};
  bool building_ = false;
};

// Collects rows from the engine into the Dataset.
class RowSink {
 public:
  RowSink(FeatureEngine* engine, Dataset* data, bool skip_warmup)
      : engine_(engine), data_(data), skip_warmup_(skip_warmup), row_(engine->size()) {}

  void Take() {
    if (skip_warmup_ && !engine_->Ready()) {
      ++skipped_;
      return;
    }
    engine_->CopyTo(row_);
    data_->time.push_back(engine_->RowTime());
    data_->close.push_back(engine_->RowClose());
    data_->spread.push_back(engine_->RowSpread());
    data_->x.AppendRow(row_);
  }
  size_t skipped() const { return skipped_; }

 private:
  FeatureEngine* engine_;
  Dataset* data_;
  bool skip_warmup_;
  std::vector<float> row_;
  size_t skipped_ = 0;
};

// Smallest positive gap between consecutive timestamps, 0 if none.
int64_t SmallestGap(std::span<const Tick> ticks) {
  int64_t best = 0;
  for (size_t idx = 1; idx < ticks.size(); ++idx) {
    const int64_t gap = ticks[idx].ts.ns - ticks[idx - 1].ts.ns;
    if (gap > 0 && (best == 0 || gap < best)) best = gap;
  }
  return best;
}

}  // namespace

std::string FormatPeriod(Duration period) {
  const int64_t ns = period.ns;
  constexpr int64_t kMinute = 60 * kNanosPerSecond;
  constexpr int64_t kHour = 60 * kMinute;
  if (ns > 0 && ns % kNanosPerDay == 0) return std::to_string(ns / kNanosPerDay) + "d";
  if (ns > 0 && ns % kHour == 0) return std::to_string(ns / kHour) + "h";
  if (ns > 0 && ns % kMinute == 0) return std::to_string(ns / kMinute) + "m";
  if (ns > 0 && ns % kNanosPerSecond == 0) return std::to_string(ns / kNanosPerSecond) + "s";
  return std::to_string(ns) + "ns";
}

Result<Dataset> BuildFeatureDataset(const std::string& data_path,
                                    const FeatureBuildOptions& options, FeatureBuildStats* stats) {
  FeatureBuildStats local_stats;
  FeatureBuildStats& st = stats ? *stats : local_stats;
  st = FeatureBuildStats{};
  AITS_ASSIGN_OR_RETURN(FeatureEngine engine, FeatureEngine::Create(options.engine));
  const Duration base = engine.BaseTimeframe();

  data::ReadOptions read = options.read;
  if (read.format == data::DataFormat::kAuto) {
    AITS_ASSIGN_OR_RETURN(read.format, data::DetectFormat(data_path));
  }
  st.format = read.format;
  const bool bar_input = data::IsBarFormat(read.format);
  if (!bar_input && !read.ask_path.empty()) {
    return InvalidArgument("an ask file ('" + read.ask_path + "') joins bar files only; '" +
                           data_path + "' holds " + std::string(data::ToString(read.format)) +
                           ", which carry bid and ask already");
  }

  Dataset data;
  data.feature_set_version = std::string(FeatureEngine::kVersion);
  data.feature_set_hash = engine.Hash();
  data.feature_names = engine.Names();
  data.x = Matrix(0, engine.size());
  RowSink sink(&engine, &data, options.skip_warmup);
  const auto report = [&options](double fraction) {
    if (options.progress) options.progress(fraction);
  };
  uint64_t base_bars = 0;

  if (bar_input) {
    AITS_ASSIGN_OR_RETURN(auto source, data::OpenBars(data_path, read));
    st.data_period = source->period();
    AITS_RETURN_IF_ERROR(CheckBase(base, st.data_period, data_path));
    const bool combine = base != st.data_period;
    BaseBarBuilder builder(base);
    const auto feed = [&](const Bar& bar) {
      ++base_bars;
      if (engine.OnBar(bar)) sink.Take();
    };
    std::vector<Bar> batch(kBarBatch);
    uint64_t batches = 0;
    while (true) {
      auto count = source->Read(batch);
      if (!count.ok()) {
        st.read = source->stats();
        return count.status();
      }
      if (*count == 0) break;
      for (size_t idx = 0; idx < *count; ++idx) {
        if (combine) {
          builder.Update(batch[idx], feed);
        } else {
          feed(batch[idx]);
        }
      }
      if (++batches % 16 == 0) report(source->Progress());
    }
    st.read = source->stats();
  } else {
    AITS_ASSIGN_OR_RETURN(auto source, data::OpenTicks(data_path, read));
    std::vector<Tick> batch(kTickBatch);
    bool first_batch = true;
    uint64_t batches = 0;
    while (true) {
      auto count = source->Read(batch);
      if (!count.ok()) {
        st.read = source->stats();
        return count.status();
      }
      if (*count == 0) break;
      if (first_batch && read.format == data::DataFormat::kPrice) {
        // A single-price series is sampled at a fixed interval: base bars shorter than it would
        // each hold one sample and pretend to a resolution the data does not have.
        st.data_period = Duration{SmallestGap(std::span<const Tick>(batch.data(), *count))};
        AITS_RETURN_IF_ERROR(CheckBase(base, st.data_period, data_path));
      }
      first_batch = false;
      for (size_t idx = 0; idx < *count; ++idx) {
        if (engine.OnTick(batch[idx])) {
          ++base_bars;
          sink.Take();
        }
      }
      if (++batches % 16 == 0) report(source->Progress());
    }
    st.read = source->stats();
  }
  report(1.0);
  st.rows = data.rows();
  st.warmup_rows_skipped = sink.skipped();
  if (data.rows() == 0) {
    if (base_bars == 0) {
      return InvalidArgument("no complete " + TimeframeName(base) + " bar in '" + data_path +
                             "'\n" + st.read.Summary());
    }
    const Duration longest = options.engine.timeframes.back();
    return InvalidArgument("no feature rows from '" + data_path + "': all " +
                           std::to_string(base_bars) + " " + TimeframeName(base) +
                           " bars are within the warm-up (every timeframe needs " +
                           std::to_string(engine.WarmUpBars()) + " closed bars, i.e. at least " +
                           FormatPeriod(Duration{longest.ns * engine.WarmUpBars()}) +
                           " of data for " + TimeframeName(longest) + ")");
  }
  return data;
}

}  // namespace aits::ml
