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

Status LoopTarget::OnFlush() { return Status::Ok(); }

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
  Entry entry;
  entry.producer = &producer;
  entries_.push_back(std::move(entry));
  return static_cast<ProducerId>(entries_.size() - 1);
}

ProducerId EventLoop::AddClient(DataClient& client) {
  Entry entry;
  entry.producer = &client;
  entry.client = &client;
  entry.flow = std::make_unique<ClientFlow>();
  entries_.push_back(std::move(entry));
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
  merging_ = clients_ > 1;
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    Entry& entry = entries_[idx];
    if (merging_ && entry.flow) entry.flow->window = std::max<uint64_t>(options_.merge_window, 1);
    const Status started = entry.producer->Start(
        ProducerLink(&inbox_, static_cast<ProducerId>(idx), merging_ ? entry.flow.get() : nullptr));
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
          if (item.flush) return target_.OnFlush();
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
                (item.state == ProducerState::kEndOfData || item.state == ProducerState::kError)) {
              entry.finished = true;
              ++clients_finished_;
            }
          }
          return target_.OnProducerStatus(item, name);
        }
      },
      std::move(event));
}

Status EventLoop::Take(NodeEvent&& event) {
  if (merging_) {
    if (auto* data = std::get_if<MarketData>(&event)) {
      if (data->client < entries_.size() && entries_[data->client].client != nullptr) {
        Entry& entry = entries_[data->client];
        ++entry.received;
        entry.held.push_back(std::move(*data));
        return Status::Ok();
      }
    } else if (auto* status = std::get_if<ProducerStatus>(&event)) {
      // End of data waits for the client's held ticks; an error stops the session at once.
      if (status->state == ProducerState::kEndOfData && status->producer < entries_.size() &&
          entries_[status->producer].client != nullptr) {
        entries_[status->producer].ended = std::move(*status);
        return Status::Ok();
      }
    }
  }
  return Dispatch(std::move(event));
}

Result<bool> EventLoop::ReleaseOne(bool* blocked) {
  *blocked = false;
  Entry* best = nullptr;
  size_t best_idx = 0;
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    Entry& entry = entries_[idx];
    if (entry.ended && entry.held.empty()) {
      ProducerStatus status = std::move(*entry.ended);
      entry.ended.reset();
      AITS_RETURN_IF_ERROR(Dispatch(std::move(status)));
      return true;
    }
    if (entry.held.empty()) continue;
    if (best == nullptr || entry.held.front().tick.ts < best->held.front().tick.ts) {
      best = &entry;
      best_idx = idx;
    }
  }
  if (best == nullptr) return false;
  const Timestamp time = best->held.front().tick.ts;
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    const Entry& other = entries_[idx];
    if (&other == best || other.client == nullptr || other.finished || other.ended ||
        !other.held.empty()) {
      continue;  // nothing more to come, or its next tick is held and not earlier (best is least)
    }
    // The watermark first, then the count: every tick pushed before that watermark was counted,
    // so once they are all here, nothing earlier than the watermark can come.
    const Timestamp watermark = other.client->Watermark();
    if (other.received < other.flow->sent.load(std::memory_order_seq_cst)) return false;
    const bool later = idx < best_idx ? time < watermark : !(watermark < time);
    if (!later) {
      *blocked = true;
      return false;
    }
  }
  MarketData data = std::move(best->held.front());
  best->held.pop_front();
  best->flow->released.fetch_add(1, std::memory_order_release);
  AITS_RETURN_IF_ERROR(Dispatch(NodeEvent(std::move(data))));
  return true;
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
  bool held_before = false;  // a held tick at or before the timer goes first, through the kernel
  for (const Entry& entry : entries_) {
    held_before |= !entry.held.empty() && !(*next < entry.held.front().tick.ts);
  }
  if (held_before || !(*next < watermark)) {
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
    bool blocked = false;
    if (merging_) {
      AITS_ASSIGN_OR_RETURN(const bool released, ReleaseOne(&blocked));
      if (released) continue;
    }
    if (inbox_.TryPop(event)) {
      AITS_RETURN_IF_ERROR(Take(std::move(event)));
      continue;
    }
    SteadyTime wake = next_idle;
    AITS_ASSIGN_OR_RETURN(const TimerCheck timers, CheckTimers(&wake));
    if (timers == TimerCheck::kFired || timers == TimerCheck::kBusy) continue;
    // A client that raises its watermark pushes nothing that would wake the loop: look again soon.
    if (blocked) wake = std::min(wake, Steady::now() + options_.timer_retry);
    switch (inbox_.WaitPop(event, std::min(wake, next_idle))) {
      case PopResult::kEvent:
        AITS_RETURN_IF_ERROR(Take(std::move(event)));
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

Result<LoopExit> EventLoop::LoopPulled() {
  // One lane per client, in the order they were added: ties in time go to the earlier lane.
  struct Lane {
    DataClient* client;
    ProducerId id;
    std::vector<Tick> batch;
    size_t next = 0;
    size_t size = 0;
    bool done = false;
  };
  std::vector<Lane> lanes;
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    if (entries_[idx].client == nullptr) continue;
    lanes.push_back(
        Lane{entries_[idx].client, static_cast<ProducerId>(idx), std::vector<Tick>(kPullBatch)});
  }
  for (const Lane& lane : lanes) {
    AITS_RETURN_IF_ERROR(
        Dispatch(ProducerStatus{lane.id, ProducerState::kConnected, Status::Ok()}));
  }
  NodeEvent event;
  SteadyTime next_idle = Steady::now() + options_.idle_interval;
  size_t since_idle = 0;
  for (;;) {
    // Whatever other producers sent goes in between the ticks, at the point it is seen.
    while (inbox_.TryPop(event)) AITS_RETURN_IF_ERROR(Dispatch(std::move(event)));
    if (const auto exit = ShouldExit()) return *exit;
    bool reported = false;
    for (Lane& lane : lanes) {
      if (lane.done || lane.next < lane.size) continue;
      auto pulled = lane.client->Pull(lane.batch);
      lane.next = 0;
      lane.size = pulled.ok() ? *pulled : 0;
      if (lane.size > 0) continue;
      lane.done = true;
      reported = true;
      AITS_RETURN_IF_ERROR(
          Dispatch(pulled.ok() ? ProducerStatus{lane.id, ProducerState::kEndOfData, Status::Ok()}
                               : ProducerStatus{lane.id, ProducerState::kError, pulled.status()}));
    }
    if (reported) continue;  // look at the exit first, as after any event
    Lane* best = nullptr;
    for (Lane& lane : lanes) {
      if (lane.next < lane.size &&
          (best == nullptr || lane.batch[lane.next].ts < best->batch[best->next].ts)) {
        best = &lane;
      }
    }
    if (best == nullptr) return LoopExit::kEndOfData;
    ++stats_.market_data;
    AITS_RETURN_IF_ERROR(target_.OnMarketData(MarketData{best->id, best->batch[best->next++], 0}));
    if (++since_idle == kPullBatch) {
      since_idle = 0;
      if (Steady::now() >= next_idle) {
        ++stats_.idle_calls;
        AITS_RETURN_IF_ERROR(target_.OnIdle());
        next_idle = Steady::now() + options_.idle_interval;
      }
    }
  }
}

Status EventLoop::Finish(bool clean) {
  if (finished_) return Status::Ok();
  finished_ = true;
  // Stopped before the inbox closes: an execution client pushes the reports it still holds as it
  // stops (a fill the venue made is the account's), and nothing is pushed once Stop returns.
  // The data clients stop first, and the ticks they queued are taken out (they are discarded
  // anyway), so that a feed running ahead at full speed has not left the inbox too full for
  // those reports; everything else taken out is kept, in order, and handed on below.
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->client != nullptr) it->producer->Stop();
  }
  std::vector<NodeEvent> kept;
  NodeEvent event;
  while (inbox_.TryPop(event)) {
    if (std::holds_alternative<MarketData>(event)) {
      ++stats_.discarded_ticks;
    } else {
      kept.push_back(std::move(event));
    }
  }
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->client == nullptr) it->producer->Stop();
  }
  inbox_.Close();
  Status status;
  for (Entry& entry : entries_) {
    stats_.discarded_ticks += entry.held.size();
    entry.held.clear();
  }
  const auto finish = [&](NodeEvent&& last) {
    if (std::holds_alternative<MarketData>(last)) {
      ++stats_.discarded_ticks;
    } else if (std::holds_alternative<ProducerStatus>(last)) {
      ++stats_.discarded_reports;
    } else if (!clean || !status.ok()) {
      ++(std::holds_alternative<OperatorCommand>(last) ? stats_.discarded_commands
                                                       : stats_.discarded_execution);
    } else {
      status = Dispatch(std::move(last));
    }
  };
  for (NodeEvent& early : kept) finish(std::move(early));
  while (inbox_.TryPop(event)) finish(std::move(event));
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
  if (clients_ == 0) return FailedPrecondition("a pulled event loop needs a data client");
  for (const Entry& entry : entries_) {
    if (entry.client != nullptr && !entry.client->pullable()) {
      return FailedPrecondition(std::string(entry.client->name()) + " cannot be pulled");
    }
  }
  // Every other producer is threaded; the pulled clients are not started.
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
  Result<LoopExit> exit = LoopPulled();
  const Status finished = Finish(exit.ok());
  if (exit.ok() && !finished.ok()) return finished;
  return exit;
}

}  // namespace aits::node
