// What a running session tells Prometheus (docs/monitoring.md lists every family): its ticks,
// bars and latencies, its orders, rejections and fills, the account and its risk figures, the
// breaker, operator commands and the event log's commits, and each traded symbol's model: its
// inputs' and score's drift from its training data and its live record (ml/model_watch.h).
//
// Costs on the kernel thread. A tick pays plain (non-atomic) increments into this object's own
// counts; Publish moves them into the registry's atomics and samples the account, at most every
// `interval` of wall time (the paper driver calls it every 256 ticks and at every idle turn), so
// a scrape sees figures at most that old. Rare events (a rejection, a breaker change, a command,
// a commit) go to the registry at once.
//
// Only what this process does is counted: the ticks and orders a resume replays from the log
// were counted by the process that made them (counters start at 0 with the process, as
// Prometheus expects of them), while the gauges (account, positions, breaker) show the state the
// resume rebuilt from the first Publish on.
//
// Thread-safety: every call on the kernel thread; the registry may be rendered by any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/ml/watch_metrics.h"
#include "aits/model/events.h"
#include "aits/model/order.h"

namespace aits::session {

class Session;

class SessionMetrics {
 public:
  // Registers the families in `registry`, which must outlive this object, with a child per
  // instrument of `session` (every one of its instruments, conversion-only ones included).
  // Errors: the registry's, when a family of the same name was registered differently.
  static Result<std::unique_ptr<SessionMetrics>> Create(
      Registry& registry, const Session& session,
      std::chrono::milliseconds interval = std::chrono::milliseconds(100));

  // A tick the kernel took: its instrument (kernel id), whether it closed a bar, the nanoseconds
  // the kernel spent on it and, when it caused an order the venue accepted, those from its
  // arrival to that acceptance (negative: none).
  void OnTick(uint32_t instrument, bool bar_closed, int64_t processing_ns, int64_t to_order_ns) {
    if (instrument < pending_ticks_.size()) {
      ++pending_ticks_[instrument];
      pending_bars_[instrument] += bar_closed ? 1 : 0;
    }
    processing_[bar_closed ? 1 : 0].Add(bounds_, static_cast<double>(processing_ns) * 1e-9);
    if (to_order_ns >= 0) {
      to_order_[bar_closed ? 1 : 0].Add(bounds_, static_cast<double>(to_order_ns) * 1e-9);
    }
  }
  // An order's new state (the session's OrderUpdate handler): rejections count by reason.
  void OnOrderUpdate(const Order& order);
  void OnBreakerChange(const BreakerChange& change);
  void OnCommand(bool applied);
  // A commit of the event log: its duration and outcome (EventStoreOptions::on_commit).
  void OnCommit(int64_t nanos, const Status& status);

  // Moves the pending counts into the registry and samples the account, positions and breaker,
  // when `interval` has passed since the last time, or always with `force`. Returns whether it
  // published.
  bool Publish(const Session& session, bool force = false);

 private:
  SessionMetrics() = default;
  struct PendingHistogram {
    std::vector<uint64_t> per_bucket;
    double sum = 0;
    bool empty = true;
    void Add(const std::vector<double>& bounds, double seconds) {
      ++per_bucket[Histogram::BucketOf(bounds, seconds)];
      sum += seconds;
      empty = false;
    }
    void MoveTo(Histogram* histogram);
  };

  Registry* registry_ = nullptr;
  std::chrono::milliseconds interval_{100};
  std::chrono::steady_clock::time_point last_publish_{};
  std::vector<double> bounds_;
  std::vector<std::string> symbols_;
  std::string currency_;

  // Per instrument (kernel id).
  std::vector<uint64_t> pending_ticks_;
  std::vector<uint64_t> pending_bars_;
  std::vector<uint64_t> published_orders_;
  std::vector<uint64_t> published_fills_;
  std::vector<Counter*> ticks_;
  std::vector<Counter*> bars_;
  std::vector<Counter*> orders_;
  std::vector<Counter*> fills_;
  std::vector<Gauge*> position_lots_;
  std::vector<Gauge*> last_tick_seconds_;
  // Per traded instrument (Session::strategies() order): its kernel id, decisions published by
  // action, and its signal's gauges.
  struct Decider {
    uint32_t instrument = 0;
    std::array<uint64_t, 4> published{};
    std::array<Counter*, 4> decisions{};
    Gauge* strength = nullptr;
    Gauge* confidence = nullptr;
    Gauge* anomaly = nullptr;
    // Its model's watch (ml/watch_metrics.h), when its signal source has one.
    std::optional<ml::WatchMetrics> watched;
    const ml::ModelWatch* watch = nullptr;  // the watch `watched` was made for
    std::optional<ml::ShadowMetrics> shadowed;
  };
  std::vector<Decider> deciders_;
  bool baseline_taken_ = false;

  PendingHistogram processing_[2];  // [bar_closed]
  PendingHistogram to_order_[2];
  Histogram* processing_histograms_[2] = {nullptr, nullptr};
  Histogram* to_order_histograms_[2] = {nullptr, nullptr};

  Family<Counter>* rejected_ = nullptr;  // {symbol, reason}, children made at first use
  Family<Counter>* breaker_changes_ = nullptr;
  Counter* commands_applied_ = nullptr;
  Counter* commands_refused_ = nullptr;
  Histogram* commit_seconds_ = nullptr;
  Counter* commit_errors_ = nullptr;

  Gauge* breaker_state_[3] = {nullptr, nullptr, nullptr};  // by BreakerState
  Gauge* balance_ = nullptr;
  Gauge* equity_ = nullptr;
  Gauge* margin_ = nullptr;
  Gauge* free_margin_ = nullptr;
  Gauge* peak_equity_ = nullptr;
  Gauge* drawdown_ = nullptr;
  Gauge* daily_loss_ = nullptr;
  Gauge* gross_exposure_ = nullptr;
  Gauge* net_exposure_ = nullptr;
  Gauge* leverage_ = nullptr;
  Gauge* margin_use_ = nullptr;
};

}  // namespace aits::session
