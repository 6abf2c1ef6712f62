#include "aits/services/stage_records.h"

#include <chrono>
#include <utility>

namespace aits::services {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<StageRecords>> StageRecords::Open(const StageRecordOptions& options,
                                                         const trading::SignalSource& source) {
  std::unique_ptr<StageRecords> records(new StageRecords(options));
  if (!options.bars.empty()) {
    AITS_ASSIGN_OR_RETURN(records->bars_, persistence::OpenBarStore(options.bars));
  }
  if (!options.offline_features.empty()) {
    AITS_ASSIGN_OR_RETURN(records->features_,
                          persistence::OpenFeatureStore(options.offline_features));
    const std::span<const std::string> names = source.feature_names();
    persistence::FeatureSet set;
    set.name = options.feature_set.empty() ? std::string(source.name()) : options.feature_set;
    set.version = std::string(source.feature_set_version());
    set.hash = std::string(source.feature_set_hash());
    set.columns.assign(names.begin(), names.end());
    AITS_ASSIGN_OR_RETURN(records->feature_set_, records->features_->Register(set));
  }
  StageRecords* self = records.get();
  records->writer_ = std::thread([self] { self->WriteLoop(); });
  return records;
}

StageRecords::~StageRecords() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void StageRecords::Add(const std::string& symbol, const Bar& bar, bool ready,
                       const std::vector<float>& row) {
  if (held_.size() == 0) held_since_ns_ = SteadyNs();
  if (bars_ != nullptr) held_.bars.push_back({symbol, bar});
  // A row still warming up is nothing to train on; its bar is in the bar store.
  if (features_ != nullptr && ready) {
    persistence::StoredFeatureRow& stored = held_.rows.emplace_back();
    stored.symbol = symbol;
    stored.feature_set = feature_set_;
    stored.time = bar.CloseTime();
    stored.close = bar.mid.close.AsDouble();
    stored.spread = (bar.ask.close - bar.bid.close).AsDouble();
    stored.values = row;
  }
}

Status StageRecords::Flush() {
  const size_t held = held_.size();
  if (held < options_.batch && (held == 0 || SteadyNs() - held_since_ns_ < options_.interval.ns)) {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }
  return HandOver();
}

Status StageRecords::Finish() {
  AITS_RETURN_IF_ERROR(HandOver());
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return queued_ == 0 || !error_.ok(); });
  return error_;
}

RecordCounters StageRecords::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

Status StageRecords::HandOver() {
  const size_t held = held_.size();
  std::unique_lock<std::mutex> lock(mutex_);
  // Back-pressure: a writer that falls behind holds the run, so memory stays bounded.
  changed_.wait(
      lock, [&] { return queued_ + held <= options_.max_queued || queued_ == 0 || !error_.ok(); });
  if (!error_.ok()) return error_;
  if (held == 0) return Status::Ok();
  queue_.push_back(std::move(held_));
  queued_ += held;
  held_ = Batch{};
  lock.unlock();
  changed_.notify_all();
  return Status::Ok();
}

void StageRecords::WriteLoop() {
  for (;;) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_ || !error_.ok()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    const Status written = Write(batch);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queued_ -= batch.size();
      if (!written.ok() && error_.ok()) error_ = written;
    }
    changed_.notify_all();
  }
}

// On the writer's thread: the stores are its own once opened.
Status StageRecords::Write(const Batch& batch) {
  const int64_t started = SteadyNs();
  size_t bars_new = 0;
  size_t rows_new = 0;
  if (!batch.bars.empty()) {
    Result<size_t> stored = bars_->Write(batch.bars);
    if (!stored.ok()) return stored.status().WithContext("bar store");
    bars_new = *stored;
  }
  if (!batch.rows.empty()) {
    Result<size_t> stored = features_->Write(batch.rows);
    if (!stored.ok()) return stored.status().WithContext("offline feature store");
    rows_new = *stored;
  }
  const int64_t took = SteadyNs() - started;
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.bars += batch.bars.size();
  counters_.bars_new += bars_new;
  counters_.rows += batch.rows.size();
  counters_.rows_new += rows_new;
  ++counters_.writes;
  counters_.write.Record(took);
  counters_.write_total_ns += took;
  return Status::Ok();
}

Status CheckStageRecords(const StageRecordOptions& options) {
  if (!options.bars.empty()) {
    AITS_RETURN_IF_ERROR(persistence::OpenBarStore(options.bars).status());
  }
  if (!options.offline_features.empty()) {
    AITS_RETURN_IF_ERROR(persistence::OpenFeatureStore(options.offline_features).status());
  }
  return Status::Ok();
}

}  // namespace aits::services
