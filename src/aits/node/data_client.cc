#include "aits/node/data_client.h"

#include <cmath>
#include <utility>

namespace aits::node {
namespace {

constexpr size_t kBatch = 1024;
// A producer that finds the inbox full spins this many attempts, then yields its core this many
// more, then sleeps between attempts: a full inbox means the kernel thread has thousands of events
// to get through (milliseconds), and a producer spinning all that time (a replay at maximum
// speed) takes a core from it on a small machine.
constexpr uint32_t kFullSpins = 256;
constexpr uint32_t kFullYields = 256;
constexpr auto kFullSleep = std::chrono::microseconds(50);

// One wait of a producer that cannot push yet (a full inbox, or its merge window used up).
void BackOff(uint32_t attempt) {
  if (attempt < kFullSpins) {
    internal::CpuRelax();
  } else if (attempt < kFullSpins + kFullYields) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(kFullSleep);
  }
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string_view ToString(ProducerState state) {
  switch (state) {
    case ProducerState::kConnected:
      return "connected";
    case ProducerState::kEndOfData:
      return "end_of_data";
    case ProducerState::kError:
      return "error";
    case ProducerState::kDisconnected:
      return "disconnected";
  }
  return "unknown";
}

bool ProducerLink::Send(NodeEvent&& event, const std::atomic<bool>& abandon) {
  // Not Inbox::Push: that one waits for room however long it takes, and a producer that is asked
  // to stop while the kernel thread is not draining must be able to give up.
  for (uint32_t attempt = 0;; ++attempt) {
    switch (inbox_->TryPush(std::move(event))) {
      case PushResult::kAccepted:
        return true;
      case PushResult::kClosed:
        return false;
      case PushResult::kFull:
        break;
    }
    if (abandon.load(std::memory_order_relaxed)) return false;
    BackOff(attempt);
  }
}

bool ProducerLink::SendTick(const Tick& tick, const std::atomic<bool>& abandon,
                            int64_t source_msc) {
  if (flow_ == nullptr || flow_->window == 0)
    return Send(MarketData{id_, tick, SteadyNanos(), source_msc}, abandon);
  const uint64_t sent = flow_->sent.load(std::memory_order_relaxed);  // only this thread writes it
  for (uint32_t attempt = 0;
       sent - flow_->released.load(std::memory_order_acquire) >= flow_->window; ++attempt) {
    if (abandon.load(std::memory_order_relaxed) || inbox_->closed()) return false;
    BackOff(attempt);
  }
  if (!Send(MarketData{id_, tick, SteadyNanos(), source_msc}, abandon)) return false;
  // After the push and before the client raises its watermark past this tick: a loop that reads
  // the watermark and then `sent` knows how many ticks to wait for (EventLoop's merge).
  flow_->sent.store(sent + 1, std::memory_order_seq_cst);
  return true;
}

bool ProducerLink::Report(ProducerState state, Status error, const std::atomic<bool>& abandon) {
  return Send(ProducerStatus{id_, state, std::move(error)}, abandon);
}

Result<size_t> DataClient::Pull(std::span<Tick> /*out*/) {
  return FailedPrecondition(std::string(name()) + " cannot be pulled: it delivers from a thread");
}

// ---- ReplayClient ----

Result<std::unique_ptr<ReplayClient>> ReplayClient::Create(std::string name,
                                                           std::unique_ptr<data::TickSource> source,
                                                           const ReplayOptions& options) {
  if (!std::isfinite(options.speed) || options.speed < 0) {
    return InvalidArgument(name + ": replay speed " + std::to_string(options.speed) +
                           " is not a finite multiple >= 0 (0: as fast as possible)");
  }
  if (source == nullptr) return InvalidArgument(name + ": no tick source");
  return std::unique_ptr<ReplayClient>(
      new ReplayClient(std::move(name), std::move(source), options));
}

ReplayClient::ReplayClient(std::string name, std::unique_ptr<data::TickSource> source,
                           const ReplayOptions& options)
    : name_(std::move(name)),
      source_(std::move(source)),
      options_(options),
      batch_(kBatch),
      watermark_ns_(std::numeric_limits<int64_t>::min()) {}

ReplayClient::~ReplayClient() { Stop(); }

Result<const Tick*> ReplayClient::Next() {
  if (options_.limit > 0 && taken_ >= options_.limit) return nullptr;
  if (batch_next_ == batch_size_) {
    if (source_done_) return nullptr;
    AITS_ASSIGN_OR_RETURN(batch_size_, source_->Read(batch_));
    batch_next_ = 0;
    progress_.store(source_->Progress(), std::memory_order_relaxed);
    if (batch_size_ == 0) {
      source_done_ = true;
      return nullptr;
    }
  }
  ++taken_;
  return &batch_[batch_next_++];
}

Result<uint64_t> ReplayClient::Skip(uint64_t count, std::optional<Tick>* last) {
  uint64_t skipped = 0;
  while (skipped < count) {
    AITS_ASSIGN_OR_RETURN(const Tick* tick, Next());
    if (tick == nullptr) break;
    *last = *tick;
    ++skipped;
  }
  taken_ = 0;  // the limit counts from here
  return skipped;
}

Result<std::optional<Timestamp>> ReplayClient::PeekTime() {
  AITS_ASSIGN_OR_RETURN(const Tick* tick, Next());
  if (tick == nullptr) return std::optional<Timestamp>();
  // Give it back: Next() only moved the batch's cursor and the count.
  --batch_next_;
  --taken_;
  return std::optional<Timestamp>(tick->ts);
}

void ReplayClient::SetPacingAnchor(Timestamp time) {
  shared_anchor_ = true;
  anchor_time_ = time;
}

Result<size_t> ReplayClient::Pull(std::span<Tick> out) {
  if (thread_.joinable()) return FailedPrecondition(name_ + " is started: it cannot be pulled");
  size_t filled = 0;
  while (filled < out.size()) {
    AITS_ASSIGN_OR_RETURN(const Tick* tick, Next());
    if (tick == nullptr) break;
    out[filled++] = *tick;
  }
  delivered_.fetch_add(filled, std::memory_order_relaxed);
  return filled;
}

Status ReplayClient::Start(ProducerLink link) {
  if (thread_.joinable()) return FailedPrecondition(name_ + " is already started");
  stop_.store(false, std::memory_order_relaxed);
  if (shared_anchor_ && options_.speed > 0) {
    anchor_wall_ = std::chrono::steady_clock::now();
    anchored_.store(true, std::memory_order_release);
  }
  thread_ = std::thread([this, link] { Run(link); });
  return Status::Ok();
}

void ReplayClient::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ReplayClient::WaitUntil(SteadyTime due) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_until(lock, due, [this] { return stop_.load(std::memory_order_relaxed); });
  return !stop_.load(std::memory_order_relaxed);
}

void ReplayClient::RaiseWatermark(Timestamp time) {
  // Monotonic even if the source is not (a file out of order): the promise is about the future.
  int64_t current = watermark_ns_.load(std::memory_order_relaxed);
  while (current < time.ns &&
         !watermark_ns_.compare_exchange_weak(current, time.ns, std::memory_order_seq_cst)) {
  }
}

Timestamp ReplayClient::Watermark() const {
  return Timestamp{watermark_ns_.load(std::memory_order_seq_cst)};
}

std::optional<SteadyTime> ReplayClient::WallTimeOf(Timestamp time) const {
  if (options_.speed <= 0 || !anchored_.load(std::memory_order_acquire)) return std::nullopt;
  const double offset_ns = static_cast<double>((time - anchor_time_).ns) / options_.speed;
  return anchor_wall_ + std::chrono::nanoseconds(static_cast<int64_t>(offset_ns));
}

void ReplayClient::Run(ProducerLink link) {
  if (!link.Report(ProducerState::kConnected, Status::Ok(), stop_)) return;
  for (;;) {
    if (stop_.load(std::memory_order_relaxed)) return;
    auto next = Next();
    if (!next.ok()) {
      link.Report(ProducerState::kError, next.status(), stop_);  // it names the file
      return;
    }
    const Tick* tick = *next;
    if (tick == nullptr) {
      RaiseWatermark(kEndOfTime);
      link.Report(ProducerState::kEndOfData, Status::Ok(), stop_);
      return;
    }
    // Before the wait and the push: from now on nothing earlier than this tick will come (the
    // order of these two matters to the loop's timers, see DataClient::Watermark).
    RaiseWatermark(tick->ts);
    if (options_.speed > 0) {
      if (!anchored_.load(std::memory_order_relaxed)) {
        anchor_time_ = tick->ts;
        anchor_wall_ = std::chrono::steady_clock::now();
        anchored_.store(true, std::memory_order_release);
      }
      const SteadyTime due = *WallTimeOf(tick->ts);
      if (std::chrono::steady_clock::now() < due && !WaitUntil(due)) return;
    }
    if (!link.SendTick(*tick, stop_)) return;
    delivered_.fetch_add(1, std::memory_order_relaxed);
  }
}

Result<std::unique_ptr<ReplayClient>> OpenFileReplay(const std::string& path,
                                                     const data::ReadOptions& read,
                                                     const ReplayOptions& replay) {
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<data::TickSource> source, data::OpenTicks(path, read));
  return ReplayClient::Create(path, std::move(source), replay);
}

Result<std::unique_ptr<ReplayClient>> OpenSyntheticMarket(const data::SyntheticOptions& market,
                                                          const ReplayOptions& replay) {
  AITS_ASSIGN_OR_RETURN(auto source, data::SyntheticTickSource::Create(market));
  return ReplayClient::Create("synthetic market", std::move(source), replay);
}

}  // namespace aits::node
