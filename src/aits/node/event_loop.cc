#include "aits/node/event_loop.h"

#include <algorithm>
#include <array>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace aits::node {
namespace {

using Steady = std::chrono::steady_clock;

// Ticks read per Pull in pulled mode.
constexpr size_t kPullBatch = 1024;

}  // namespace

std::string_view ToString(LoopExit exit) {
  switch (exit) {
    case LoopExit::kDone:
      return "done";
    case LoopExit::kEndOfData:
      return "end_of_data";
    case LoopExit::kStopped:
      return "stopped";
  }
  return "unknown";
}

Status LoopTarget::OnExecutionReport(const ExecutionReportEvent& event) {
  return FailedPrecondition(
      "an execution report reached a node without an asynchronous "
      "execution client (order " +
      std::to_string(event.report->order_id.value) + ", ticket " +
      std::to_string(event.report->venue_order_id) + ")");
}

Status LoopTarget::OnAccountReport(const AccountReportEvent& /*event*/) {
  return FailedPrecondition(
      "an account report reached a node without an asynchronous execution client");
}

EventLoop::EventLoop(LoopTarget& target, const LoopOptions& options)
    : target_(target), options_(options), inbox_(options.inbox_capacity, options.spin_iterations) {}

EventLoop::~EventLoop() {
  inbox_.Close();
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) it->producer->Stop();
}

ProducerId EventLoop::AddProducer(Producer& producer) {
  entries_.push_back(Entry{&producer, nullptr, false});
  return static_cast<ProducerId>(entries_.size() - 1);
}

ProducerId EventLoop::AddClient(DataClient& client) {
  entries_.push_back(Entry{&client, &client, false});
  ++clients_;
  return static_cast<ProducerId>(entries_.size() - 1);
}

Status EventLoop::SubmitCommand(OperatorCommand command) {
  if (inbox_.Push(NodeEvent(std::move(command))) != PushResult::kAccepted) {
    return FailedPrecondition("the event loop has stopped: command refused");
  }
  return Status::Ok();
}

void EventLoop::RequestStop() {
  stop_requested_.store(true, std::memory_order_relaxed);
  inbox_.Close();
}

Status EventLoop::StartProducers() {
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    const Status started =
        entries_[idx].producer->Start(ProducerLink(&inbox_, static_cast<ProducerId>(idx)));
    if (!started.ok()) {
      return Status(started.code(),
                    std::string(entries_[idx].producer->name()) + ": " + started.message());
    }
  }
  return Status::Ok();
}

std::optional<LoopExit> EventLoop::ShouldExit() const {
  if (stop_requested_.load(std::memory_order_relaxed) ||
      (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed))) {
    return LoopExit::kStopped;
  }
  if (target_.done()) return LoopExit::kDone;
  if (clients_ > 0 && clients_finished_ == clients_) return LoopExit::kEndOfData;
  return std::nullopt;
}

Status EventLoop::Dispatch(NodeEvent&& event) {
  return std::visit(
      [this](auto&& item) -> Status {
        using T = std::decay_t<decltype(item)>;
        if constexpr (std::is_same_v<T, MarketData>) {
          if (item.pushed_ns != 0) stats_.hand_off.Record(SteadyNowNs() - item.pushed_ns);
          ++stats_.market_data;
          return target_.OnMarketData(item);
        } else if constexpr (std::is_same_v<T, ExecutionReportEvent>) {
          if (item.pushed_ns != 0) stats_.report_hand_off.Record(SteadyNowNs() - item.pushed_ns);
          ++stats_.execution_reports;
          if (item.report == nullptr) return Internal("an empty execution report event");
          return target_.OnExecutionReport(item);
        } else if constexpr (std::is_same_v<T, AccountReportEvent>) {
          if (item.pushed_ns != 0) stats_.report_hand_off.Record(SteadyNowNs() - item.pushed_ns);
          ++stats_.account_reports;
          if (item.report == nullptr) return Internal("an empty account report event");
          return target_.OnAccountReport(item);
        } else if constexpr (std::is_same_v<T, OperatorCommand>) {
          Status outcome;
          AITS_RETURN_IF_ERROR(target_.OnCommand(item, &outcome));
          ++(outcome.ok() ? stats_.commands_applied : stats_.commands_refused);
          return Status::Ok();
        } else {
          ++stats_.producer_reports;
          std::string_view name = "unknown producer";
          if (item.producer < entries_.size()) {
            Entry& entry = entries_[item.producer];
            name = entry.producer->name();
            if (entry.client != nullptr && !entry.finished &&
                item.state != ProducerState::kConnected) {
              entry.finished = true;
              ++clients_finished_;
            }
          }
          return target_.OnProducerStatus(item, name);
        }
      },
      std::move(event));
}

Result<EventLoop::TimerCheck> EventLoop::CheckTimers(SteadyTime* wake) {
  const std::optional<Timestamp> next = target_.NextTimer();
  if (!next || clients_ == 0) return TimerCheck::kNone;
  // When the feed's time reaches the timer: the earliest any client says (a finished client has
  // nothing more to say and does not hold the timer back).
  std::optional<SteadyTime> due;
  Timestamp watermark = kEndOfTime;
  for (const Entry& entry : entries_) {
    if (entry.client == nullptr) continue;
    if (!entry.finished) {
      const std::optional<SteadyTime> at = entry.client->WallTimeOf(*next);
      if (at && (!due || *at < *due)) due = at;
    }
    watermark = std::min(watermark, entry.client->Watermark());
  }
  if (!due) return TimerCheck::kNone;  // no pacing (max speed, or before the first tick)
  if (Steady::now() < *due) {
    *wake = *due;
    return TimerCheck::kNotYet;
  }
  // The watermarks were read before this look at the inbox: every tick pushed before them has
  // been claimed in the inbox by now, so an empty inbox means every tick earlier than the
  // watermark has been handled.
  if (inbox_.SizeApprox() != 0) return TimerCheck::kBusy;
  if (!(*next < watermark)) {
    *wake = Steady::now() + options_.timer_retry;
    return TimerCheck::kNotYet;
  }
  AITS_RETURN_IF_ERROR(target_.AdvanceTo(*next));
  ++stats_.clock_advances;
  return TimerCheck::kFired;
}

Result<LoopExit> EventLoop::LoopThreaded() {
  NodeEvent event;
  SteadyTime next_idle = Steady::now() + options_.idle_interval;
  for (;;) {
    if (const auto exit = ShouldExit()) return *exit;
    if (inbox_.TryPop(event)) {
      AITS_RETURN_IF_ERROR(Dispatch(std::move(event)));
      continue;
    }
    SteadyTime wake = next_idle;
    AITS_ASSIGN_OR_RETURN(const TimerCheck timers, CheckTimers(&wake));
    if (timers == TimerCheck::kFired || timers == TimerCheck::kBusy) continue;
    switch (inbox_.WaitPop(event, std::min(wake, next_idle))) {
      case PopResult::kEvent:
        AITS_RETURN_IF_ERROR(Dispatch(std::move(event)));
        break;
      case PopResult::kClosed:
        return LoopExit::kStopped;
      case PopResult::kTimedOut:
        break;
    }
    if (Steady::now() >= next_idle) {
      ++stats_.idle_calls;
      AITS_RETURN_IF_ERROR(target_.OnIdle());
      next_idle = Steady::now() + options_.idle_interval;
    }
  }
}

Result<LoopExit> EventLoop::LoopPulled(DataClient& client) {
  std::array<Tick, kPullBatch> batch;
  NodeEvent event;
  ProducerId client_id = 0;
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    if (entries_[idx].client == &client) client_id = static_cast<ProducerId>(idx);
  }
  AITS_RETURN_IF_ERROR(
      Dispatch(ProducerStatus{client_id, ProducerState::kConnected, Status::Ok()}));
  SteadyTime next_idle = Steady::now() + options_.idle_interval;
  for (;;) {
    auto pulled = client.Pull(batch);
    if (!pulled.ok()) {
      AITS_RETURN_IF_ERROR(
          Dispatch(ProducerStatus{client_id, ProducerState::kError, pulled.status()}));
    } else if (*pulled == 0) {
      AITS_RETURN_IF_ERROR(
          Dispatch(ProducerStatus{client_id, ProducerState::kEndOfData, Status::Ok()}));
    }
    const size_t count = pulled.ok() ? *pulled : 0;
    for (size_t idx = 0;; ++idx) {
      // Whatever other producers sent goes in between the ticks, at the point it is seen.
      while (inbox_.TryPop(event)) AITS_RETURN_IF_ERROR(Dispatch(std::move(event)));
      if (const auto exit = ShouldExit()) return *exit;
      if (idx == count) break;
      ++stats_.market_data;
      AITS_RETURN_IF_ERROR(target_.OnMarketData(MarketData{client_id, batch[idx], 0}));
    }
    if (Steady::now() >= next_idle) {
      ++stats_.idle_calls;
      AITS_RETURN_IF_ERROR(target_.OnIdle());
      next_idle = Steady::now() + options_.idle_interval;
    }
  }
}

Status EventLoop::Finish(bool clean) {
  if (finished_) return Status::Ok();
  finished_ = true;
  // Stopped before the inbox closes: an execution client pushes the reports it still holds as it
  // stops (a fill the venue made is the account's), and nothing is pushed once Stop returns.
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) it->producer->Stop();
  inbox_.Close();
  Status status;
  NodeEvent event;
  while (inbox_.TryPop(event)) {
    if (std::holds_alternative<MarketData>(event)) {
      ++stats_.discarded_ticks;
    } else if (std::holds_alternative<ProducerStatus>(event)) {
      ++stats_.discarded_reports;
    } else if (!clean || !status.ok()) {
      ++(std::holds_alternative<OperatorCommand>(event) ? stats_.discarded_commands
                                                        : stats_.discarded_execution);
    } else {
      status = Dispatch(std::move(event));
    }
  }
  return status;
}

Result<LoopExit> EventLoop::Run() {
  if (ran_) return FailedPrecondition("the event loop has already run");
  ran_ = true;
  Status started = StartProducers();
  if (!started.ok()) {
    (void)Finish(false);
    return started;
  }
  Result<LoopExit> exit = LoopThreaded();
  const Status finished = Finish(exit.ok());
  if (exit.ok() && !finished.ok()) return finished;
  return exit;
}

Result<LoopExit> EventLoop::RunPulled() {
  if (ran_) return FailedPrecondition("the event loop has already run");
  ran_ = true;
  if (clients_ != 1) {
    return FailedPrecondition("a pulled event loop reads exactly one data client, not " +
                              std::to_string(clients_));
  }
  Entry* pulled = nullptr;
  for (Entry& entry : entries_) {
    if (entry.client != nullptr) pulled = &entry;
  }
  if (!pulled->client->pullable()) {
    return FailedPrecondition(std::string(pulled->client->name()) + " cannot be pulled");
  }
  // Every other producer is threaded; the pulled client is not started.
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    if (entries_[idx].client != nullptr) continue;
    const Status started =
        entries_[idx].producer->Start(ProducerLink(&inbox_, static_cast<ProducerId>(idx)));
    if (!started.ok()) {
      (void)Finish(false);
      return Status(started.code(),
                    std::string(entries_[idx].producer->name()) + ": " + started.message());
    }
  }
  Result<LoopExit> exit = LoopPulled(*pulled->client);
  const Status finished = Finish(exit.ok());
  if (exit.ok() && !finished.ok()) return finished;
  return exit;
}

}  // namespace aits::node
