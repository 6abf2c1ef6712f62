#include "aits/node/event_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace aits::node {
namespace {

using std::chrono::milliseconds;

Timestamp At(int64_t millis) { return Timestamp{FromCivil(2024, 1, 8).ns + millis * 1'000'000}; }

Tick MakeTick(int64_t millis) {
  Tick tick;
  tick.ts = At(millis);
  tick.bid = Price::FromRaw(110'000, 5);
  tick.ask = Price::FromRaw(110'002, 5);
  return tick;
}

// Ticks from memory; fails with `error` once `fail_after` ticks were read (if set).
class VectorTickSource final : public data::TickSource {
 public:
  explicit VectorTickSource(std::vector<Tick> ticks, size_t fail_after = SIZE_MAX)
      : ticks_(std::move(ticks)), fail_after_(fail_after) {}
  Result<size_t> Read(std::span<Tick> out) override {
    if (next_ >= fail_after_) return InvalidArgument("ticks.csv:7: field bid: 'x' is not a price");
    size_t count = 0;
    while (count < out.size() && next_ < ticks_.size() && next_ < fail_after_) {
      out[count++] = ticks_[next_++];
    }
    return count;
  }
  const data::ReadStats& stats() const override { return stats_; }
  double Progress() const override {
    return ticks_.empty() ? 1.0 : static_cast<double>(next_) / static_cast<double>(ticks_.size());
  }

 private:
  std::vector<Tick> ticks_;
  size_t fail_after_;
  size_t next_ = 0;
  data::ReadStats stats_;
};

std::vector<Tick> TicksAt(const std::vector<int64_t>& millis) {
  std::vector<Tick> ticks;
  for (int64_t ms : millis) ticks.push_back(MakeTick(ms));
  return ticks;
}

std::unique_ptr<ReplayClient> Replay(std::vector<Tick> ticks, double speed,
                                     size_t fail_after = SIZE_MAX) {
  ReplayOptions options;
  options.speed = speed;
  auto client = ReplayClient::Create(
      "test feed", std::make_unique<VectorTickSource>(std::move(ticks), fail_after), options);
  EXPECT_TRUE(client.ok()) << client.status().message();
  return std::move(*client);
}

// Stands in for the kernel: records what it is given, keeps timers as the kernel does (a tick
// fires the timers due at its time first; AdvanceTo fires those due by then).
class RecordingTarget final : public LoopTarget {
 public:
  Status OnMarketData(const MarketData& data) override {
    FireDue(data.tick.ts, "tick");
    if (ticks == 0 && loop != nullptr && !command_on_first_tick.empty()) {
      EXPECT_TRUE(loop->SubmitCommand({command_on_first_tick, 0}).ok());
    }
    log.push_back("tick " + std::to_string((data.tick.ts - At(0)).ns / 1'000'000));
    ticks_by_producer[data.client].push_back(data.tick.ts);
    sequence.emplace_back(data.client, (data.tick.ts - At(0)).ns / 1'000'000);
    if (data.tick.ts < now) ++time_went_back;
    now = std::max(now, data.tick.ts);
    ++ticks;
    return Status::Ok();
  }
  Status OnCommand(const OperatorCommand& command, Status* outcome) override {
    commands.push_back(command.text);
    if (command.text.rfind("bad", 0) == 0) {
      *outcome = InvalidArgument("unknown command: " + command.text);
    }
    if (command.text == "fatal") return IoError("the event store is gone");
    return Status::Ok();
  }
  Status OnProducerStatus(const ProducerStatus& status, std::string_view name) override {
    statuses.push_back(std::string(name) + " " + std::string(ToString(status.state)));
    if (status.state == ProducerState::kError) return status.error;
    return Status::Ok();
  }
  std::optional<Timestamp> NextTimer() const override {
    if (timers.empty()) return std::nullopt;
    return *timers.begin();
  }
  Status AdvanceTo(Timestamp time) override {
    ++advances;
    FireDue(time, "clock");
    now = std::max(now, time);
    return Status::Ok();
  }
  Status OnIdle() override {
    ++idles;
    return Status::Ok();
  }
  bool done() const override { return tick_limit > 0 && ticks >= tick_limit; }
  // Without accept_reports, the default: a node with no asynchronous client refuses them.
  Status OnExecutionReport(const ExecutionReportEvent& event) override {
    if (!accept_reports) return LoopTarget::OnExecutionReport(event);
    log.push_back("report " + std::to_string(event.report->order_id.value));
    return Status::Ok();
  }
  Status OnAccountReport(const AccountReportEvent& event) override {
    if (!accept_reports) return LoopTarget::OnAccountReport(event);
    log.push_back("account " + event.report->balance.ToString());
    return Status::Ok();
  }

  void FireDue(Timestamp time, const char* how) {
    while (!timers.empty() && *timers.begin() <= time) {
      log.push_back(std::string("timer ") +
                    std::to_string((*timers.begin() - At(0)).ns / 1'000'000) + " by " + how);
      timers.erase(timers.begin());
    }
  }

  EventLoop* loop = nullptr;
  std::string command_on_first_tick;
  std::set<Timestamp> timers;
  std::vector<std::string> log;
  std::map<ProducerId, std::vector<Timestamp>> ticks_by_producer;
  std::vector<std::pair<ProducerId, int64_t>> sequence;  // (client, ms) as handed on
  std::vector<std::string> commands;
  std::vector<std::string> statuses;
  Timestamp now{};
  uint64_t ticks = 0;
  uint64_t tick_limit = 0;
  bool accept_reports = true;
  uint64_t advances = 0;
  uint64_t idles = 0;
  int time_went_back = 0;
};

TEST(EventLoopTest, MaxSpeedReplayDeliversEveryTickInOrderThenEnds) {
  RecordingTarget target;
  auto client = Replay(TicksAt({0, 10, 20, 30, 40}), 0);
  EventLoop loop(target);
  loop.AddClient(*client);
  auto exit = loop.Run();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kEndOfData);
  EXPECT_EQ(target.log,
            (std::vector<std::string>{"tick 0", "tick 10", "tick 20", "tick 30", "tick 40"}));
  EXPECT_EQ(target.statuses,
            (std::vector<std::string>{"test feed connected", "test feed end_of_data"}));
  EXPECT_EQ(loop.stats().market_data, 5u);
  EXPECT_EQ(loop.stats().hand_off.count(), 5u);
  EXPECT_EQ(client->delivered(), 5u);
}

// The pulled loop (no feed thread) hands the target exactly what the threaded one does.
TEST(EventLoopTest, PulledModeGivesTheSameSequenceAsThreaded) {
  std::vector<int64_t> millis;
  for (int64_t ms = 0; ms < 5'000; ++ms) millis.push_back(ms * 3);
  RecordingTarget threaded;
  {
    auto client = Replay(TicksAt(millis), 0);
    EventLoop loop(threaded);
    loop.AddClient(*client);
    ASSERT_EQ(*loop.Run(), LoopExit::kEndOfData);
  }
  RecordingTarget pulled;
  {
    auto client = Replay(TicksAt(millis), 0);
    EventLoop loop(pulled);
    loop.AddClient(*client);
    auto exit = loop.RunPulled();
    ASSERT_TRUE(exit.ok()) << exit.status().message();
    EXPECT_EQ(*exit, LoopExit::kEndOfData);
    EXPECT_EQ(loop.stats().hand_off.count(), 0u);  // nothing crossed threads
  }
  EXPECT_EQ(pulled.log, threaded.log);
  EXPECT_EQ(pulled.statuses, threaded.statuses);
  EXPECT_EQ(pulled.ticks, 5'000u);
}

// The merge of several feeds, as data::MergedTickSource orders them: by time, equal times in the
// order the clients were added, each client's ticks in its own order.
std::vector<std::pair<ProducerId, int64_t>> MergedOrder(
    const std::vector<std::vector<int64_t>>& feeds) {
  std::vector<std::pair<ProducerId, int64_t>> merged;
  for (size_t feed = 0; feed < feeds.size(); ++feed) {
    for (int64_t ms : feeds[feed]) merged.emplace_back(static_cast<ProducerId>(feed), ms);
  }
  std::stable_sort(merged.begin(), merged.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  return merged;
}

std::vector<int64_t> Range(int64_t from, int64_t count) {
  std::vector<int64_t> out;
  for (int64_t idx = 0; idx < count; ++idx) out.push_back(from + idx);
  return out;
}

// Three feeds on three threads at maximum speed, with equal times across feeds and one feed whose
// data all lie after the others' (it runs ahead and must wait for its window): the target gets
// them in time order, ties in client order, whatever the threads' timing, and each end of data
// after that client's last tick. A small window and inbox make the waits happen.
TEST(EventLoopTest, SeveralThreadedClientsAreMergedInTimeOrder) {
  const std::vector<std::vector<int64_t>> feeds = {
      {0, 5, 5, 10, 20, 30, 30}, {5, 6, 10, 10, 30, 40}, Range(1'000, 3'000)};
  const auto expected = MergedOrder(feeds);
  for (int round = 0; round < 10; ++round) {
    RecordingTarget target;
    LoopOptions options;
    options.merge_window = 3;
    options.inbox_capacity = 8;
    std::vector<std::unique_ptr<ReplayClient>> clients;  // outlive the loop
    EventLoop loop(target, options);
    for (const auto& feed : feeds) {
      clients.push_back(Replay(TicksAt(feed), 0));
      loop.AddClient(*clients.back());
    }
    auto exit = loop.Run();
    ASSERT_TRUE(exit.ok()) << exit.status().message();
    EXPECT_EQ(*exit, LoopExit::kEndOfData);
    ASSERT_EQ(target.sequence, expected) << "round " << round;
    EXPECT_EQ(target.time_went_back, 0);
    EXPECT_EQ(loop.stats().discarded_ticks, 0u);
    EXPECT_EQ(std::count(target.statuses.begin(), target.statuses.end(), "test feed end_of_data"),
              3);
  }
}

// Pulled, the same feeds come in the same order, on the loop's own thread.
TEST(EventLoopTest, SeveralPulledClientsAreMergedLikeThreadedOnes) {
  const std::vector<std::vector<int64_t>> feeds = {
      {0, 5, 5, 10, 20, 30, 30}, {5, 6, 10, 10, 30, 40}, Range(1'000, 3'000)};
  RecordingTarget target;
  std::vector<std::unique_ptr<ReplayClient>> clients;  // outlive the loop
  EventLoop loop(target);
  for (const auto& feed : feeds) {
    clients.push_back(Replay(TicksAt(feed), 0));
    loop.AddClient(*clients.back());
  }
  auto exit = loop.RunPulled();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kEndOfData);
  EXPECT_EQ(target.sequence, MergedOrder(feeds));
  EXPECT_EQ(loop.stats().hand_off.count(), 0u);
}

// A merge stopped by the target (a tick limit) counts the ticks it still held as discarded, and
// stops every client, including one waiting for its window.
TEST(EventLoopTest, AStoppedMergeDiscardsWhatItHeld) {
  RecordingTarget target;
  target.tick_limit = 10;
  LoopOptions options;
  options.merge_window = 4;
  auto early = Replay(TicksAt(Range(0, 100)), 0);
  auto late = Replay(TicksAt(Range(10'000, 100)), 0);
  EventLoop loop(target, options);
  loop.AddClient(*early);
  loop.AddClient(*late);
  auto exit = loop.Run();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kDone);
  EXPECT_EQ(target.sequence, MergedOrder({Range(0, 10), {}}));
  EXPECT_GT(loop.stats().discarded_ticks, 0u);  // the late feed's window at least
  EXPECT_LE(loop.stats().discarded_ticks, 8u + options.inbox_capacity);
}

// A feed error reaches the target at once, not after the other feed's earlier ticks.
TEST(EventLoopTest, AFeedErrorInAMergeStopsTheLoop) {
  RecordingTarget target;
  auto good = Replay(TicksAt(Range(0, 50)), 0);
  auto bad = Replay(TicksAt(Range(0, 50)), 0, /*fail_after=*/0);
  EventLoop loop(target);
  loop.AddClient(*good);
  loop.AddClient(*bad);
  auto exit = loop.Run();
  ASSERT_FALSE(exit.ok());
  EXPECT_NE(exit.status().message().find("ticks.csv:7"), std::string::npos);
}

TEST(EventLoopTest, PulledModeNeedsExactlyOnePullableClient) {
  RecordingTarget target;
  EventLoop loop(target);
  EXPECT_EQ(loop.RunPulled().status().code(), StatusCode::kFailedPrecondition);
}

// Three command threads and a feed thread push at once (the ThreadSanitizer run of this test is
// the point): every event arrives once, each producer's in its own order.
TEST(EventLoopTest, SeveralProducerThreadsLoseNothingAndKeepTheirOrder) {
  constexpr int kPerThread = 3'000;
  constexpr int kTicks = 20'000;
  std::vector<int64_t> millis;
  for (int64_t ms = 0; ms < kTicks; ++ms) millis.push_back(ms);
  RecordingTarget target;
  auto client = Replay(TicksAt(millis), 0);
  LoopOptions options;
  options.inbox_capacity = 64;  // small: producers meet a full inbox
  EventLoop loop(target, options);
  const ProducerId feed = loop.AddClient(*client);
  std::vector<std::thread> senders;
  std::atomic<int> refused{0};
  for (int thread = 0; thread < 3; ++thread) {
    senders.emplace_back([&loop, &refused, thread] {
      for (int seq = 0; seq < kPerThread; ++seq) {
        const Status sent =
            loop.SubmitCommand({"t" + std::to_string(thread) + " " + std::to_string(seq), 0});
        if (!sent.ok()) refused.fetch_add(1);
      }
    });
  }
  // The feed ends the loop; the senders may still be sending then: what the inbox took before it
  // closed is handled, what it refused was refused to the sender (counted), nothing in between.
  auto exit = loop.Run();
  for (std::thread& sender : senders) sender.join();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kEndOfData);
  EXPECT_EQ(target.ticks, static_cast<uint64_t>(kTicks));
  EXPECT_EQ(target.time_went_back, 0);
  EXPECT_EQ(target.ticks_by_producer[feed].size(), static_cast<size_t>(kTicks));
  EXPECT_EQ(target.commands.size() + static_cast<size_t>(refused.load()),
            static_cast<size_t>(3 * kPerThread));
  EXPECT_EQ(loop.stats().commands_applied, target.commands.size());
  std::map<std::string, int> next_seq;
  for (const std::string& command : target.commands) {
    const std::string thread = command.substr(0, 2);
    const int seq = std::stoi(command.substr(3));
    EXPECT_EQ(seq, next_seq[thread]) << command;
    next_seq[thread] = seq + 1;
  }
}

// A timer due between two ticks fires on the feed's clock, in between, not with the next tick;
// one due exactly at a tick's time fires with that tick.
TEST(EventLoopTest, TimersFireOnTheClockBetweenTicks) {
  RecordingTarget target;
  target.timers = {At(500), At(1'000)};
  // 20x: the ticks are 50 ms apart on the wall clock, the timer at 500 is due 25 ms after tick 0.
  auto client = Replay(TicksAt({0, 1'000, 2'000}), 20);
  EventLoop loop(target);
  loop.AddClient(*client);
  const auto start = std::chrono::steady_clock::now();
  auto exit = loop.Run();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(target.log, (std::vector<std::string>{"tick 0", "timer 500 by clock",
                                                  "timer 1000 by tick", "tick 1000", "tick 2000"}));
  EXPECT_EQ(loop.stats().clock_advances, 1u);
  EXPECT_GE(took, milliseconds(95));  // paced: 2,000 ms of feed time at 20x
  EXPECT_EQ(target.time_went_back, 0);
}

// Two paced feeds anchored at one time keep one pace: their ticks come in time order, a timer
// between two ticks of different feeds fires by the clock in its place (both feeds' watermarks
// are past it by then), and the whole takes the data's time at that speed.
TEST(EventLoopTest, PacedClientsShareOnePaceAndTimersFireBetweenTheirTicks) {
  RecordingTarget target;
  target.timers = {At(1'500)};
  // 10x: feed times 0..3,000 ms are 0..300 ms on the wall clock; b starts 1,000 ms later.
  auto a = Replay(TicksAt({0, 1'000, 3'000}), 10);
  auto b = Replay(TicksAt({1'000, 2'000, 2'500}), 10);
  a->SetPacingAnchor(At(0));
  b->SetPacingAnchor(At(0));
  EventLoop loop(target);
  loop.AddClient(*a);
  loop.AddClient(*b);
  const auto start = std::chrono::steady_clock::now();
  auto exit = loop.Run();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(target.log,
            (std::vector<std::string>{"tick 0", "tick 1000", "tick 1000", "timer 1500 by clock",
                                      "tick 2000", "tick 2500", "tick 3000"}));
  EXPECT_EQ(target.sequence, MergedOrder({{0, 1'000, 3'000}, {1'000, 2'000, 2'500}}));
  EXPECT_EQ(loop.stats().clock_advances, 1u);
  EXPECT_GE(took, milliseconds(290));
  // On one pace no tick waits in the merge for the other feed: b's first tick is pushed when it
  // is due (100 ms), not at once (it would then be held for 100 ms until a's watermark passes).
  EXPECT_LT(loop.stats().hand_off.max(), milliseconds(50).count() * 1'000'000);
}

// A client whose watermark has not passed the timer holds it back. At 1000x the ticks and the
// timer are microseconds apart on the wall clock, so the loop's look at the timer races the feed
// thread's pushes; whoever wins, the timer comes after tick 4 and before tick 6.
TEST(EventLoopTest, ATimerNeverJumpsATickThatIsStillToCome) {
  for (int round = 0; round < 20; ++round) {
    RecordingTarget target;
    target.timers = {At(5)};
    auto client = Replay(TicksAt({0, 4, 6, 9}), 1'000);
    EventLoop loop(target);
    loop.AddClient(*client);
    ASSERT_TRUE(loop.Run().ok());
    EXPECT_EQ(target.log[0], "tick 0");
    EXPECT_EQ(target.log[1], "tick 4");
    EXPECT_EQ(target.log[2].rfind("timer 5", 0), 0u) << target.log[2];
    EXPECT_EQ(target.log[3], "tick 6");
    EXPECT_EQ(target.time_went_back, 0);
  }
}

// A data client driven by the test: its watermark is what the test says, its clock says every
// timer is long due, and the test pushes its ticks.
class ManualClient final : public DataClient {
 public:
  std::string_view name() const override { return "manual"; }
  Status Start(ProducerLink link) override {
    std::lock_guard<std::mutex> lock(mutex_);
    link_.emplace(link);
    started_.notify_all();
    return Status::Ok();
  }
  void Stop() override { stop_.store(true); }
  Timestamp Watermark() const override { return Timestamp{watermark_ns.load()}; }
  std::optional<SteadyTime> WallTimeOf(Timestamp /*time*/) const override {
    return std::chrono::steady_clock::now() - std::chrono::seconds(1);
  }
  ProducerLink WaitForStart() {
    std::unique_lock<std::mutex> lock(mutex_);
    started_.wait(lock, [this] { return link_.has_value(); });
    return *link_;
  }
  const std::atomic<bool>& stopping() const { return stop_; }
  std::atomic<int64_t> watermark_ns{0};

 private:
  std::mutex mutex_;
  std::condition_variable started_;
  std::optional<ProducerLink> link_;
  std::atomic<bool> stop_{false};
};

// The watermark, not the wall clock, decides: a timer long due on the clock waits while the
// client may still push an earlier tick, and fires as soon as the client promises it will not.
TEST(EventLoopTest, TheWatermarkHoldsBackADueTimer) {
  RecordingTarget target;
  target.timers = {At(5)};
  ManualClient client;
  client.watermark_ns = At(4).ns;  // a tick at 4 may still come
  EventLoop loop(target);
  loop.AddClient(client);
  std::thread feed([&client] {
    ProducerLink link = client.WaitForStart();
    std::this_thread::sleep_for(milliseconds(100));  // the loop looks at the due timer meanwhile
    EXPECT_TRUE(link.SendTick(MakeTick(4), client.stopping()));
    client.watermark_ns = At(6).ns;
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_TRUE(link.SendTick(MakeTick(6), client.stopping()));
    EXPECT_TRUE(link.Report(ProducerState::kEndOfData, Status::Ok(), client.stopping()));
  });
  auto exit = loop.Run();
  feed.join();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(target.log, (std::vector<std::string>{"tick 4", "timer 5 by clock", "tick 6"}));
  EXPECT_EQ(loop.stats().clock_advances, 1u);
}

// A bad command is refused by the target, counted and the loop goes on; a failure of the node
// (the target's outer error) stops it with that error.
TEST(EventLoopTest, BadCommandsAreCountedAndTheLoopGoesOn) {
  RecordingTarget target;
  target.tick_limit = 3;
  auto client = Replay(TicksAt({0, 100, 200, 300}), 10);
  EventLoop loop(target);
  loop.AddClient(*client);
  ASSERT_TRUE(loop.SubmitCommand({"bad one", 0}).ok());
  ASSERT_TRUE(loop.SubmitCommand({"breaker halted", 0}).ok());
  auto exit = loop.Run();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kDone);
  EXPECT_EQ(target.commands, (std::vector<std::string>{"bad one", "breaker halted"}));
  EXPECT_EQ(loop.stats().commands_refused, 1u);
  EXPECT_EQ(loop.stats().commands_applied, 1u);
  EXPECT_EQ(target.ticks, 3u);
  // After the loop, the inbox refuses (the caller learns it), nothing vanishes.
  EXPECT_EQ(loop.SubmitCommand({"late", 0}).code(), StatusCode::kFailedPrecondition);

  RecordingTarget failing;
  auto feed = Replay(TicksAt({0, 100}), 0);
  EventLoop stopped(failing);
  stopped.AddClient(*feed);
  ASSERT_TRUE(stopped.SubmitCommand({"fatal", 0}).ok());
  ASSERT_TRUE(stopped.SubmitCommand({"after", 0}).ok());
  auto error = stopped.Run();
  EXPECT_EQ(error.status().code(), StatusCode::kIoError);
  EXPECT_EQ(stopped.stats().discarded_commands, 1u);  // "after": not applied after a failure
}

// A feed that fails (a bad row) stops the loop with its error, after every good tick before it.
TEST(EventLoopTest, AFeedErrorStopsTheLoopWithItsMessage) {
  RecordingTarget target;
  auto client = Replay(TicksAt({0, 1, 2, 3}), 0, /*fail_after=*/2);
  EventLoop loop(target);
  loop.AddClient(*client);
  auto exit = loop.Run();
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(exit.status().message().find("ticks.csv:7"), std::string::npos);
  EXPECT_EQ(target.ticks, 2u);
  EXPECT_EQ(target.statuses.back(), "test feed error");
}

// RequestStop from another thread ends a loop that waits for a slow feed, promptly.
TEST(EventLoopTest, RequestStopEndsAWaitingLoopCleanly) {
  RecordingTarget target;
  // 1x: the second tick is an hour away.
  auto client = Replay(TicksAt({0, 3'600'000}), 1);
  EventLoop loop(target);
  loop.AddClient(*client);
  std::thread stopper([&loop] {
    std::this_thread::sleep_for(milliseconds(120));
    loop.RequestStop();
  });
  const auto start = std::chrono::steady_clock::now();
  auto exit = loop.Run();
  stopper.join();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kStopped);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(target.ticks, 1u);
  EXPECT_GE(loop.stats().idle_calls, 1u);  // it slept in 50 ms steps meanwhile
}

// The stop flag (a signal handler's) is seen at the next idle look at the latest.
TEST(EventLoopTest, StopFlagEndsTheLoop) {
  RecordingTarget target;
  auto client = Replay(TicksAt({0, 3'600'000}), 1);
  std::atomic<bool> stop{false};
  LoopOptions options;
  options.stop = &stop;
  EventLoop loop(target, options);
  loop.AddClient(*client);
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(milliseconds(80));
    stop.store(true);
  });
  auto exit = loop.Run();
  stopper.join();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(*exit, LoopExit::kStopped);
}

// At shutdown, ticks still in the inbox are discarded and counted (a paper feed delivers them
// again on resume); a command in the inbox is still applied.
TEST(EventLoopTest, ShutdownDiscardsTicksButAppliesCommands) {
  RecordingTarget target;
  target.tick_limit = 1;
  auto client = Replay(TicksAt({0, 1, 2, 3, 4, 5}), 0);
  EventLoop loop(target);
  loop.AddClient(*client);
  target.loop = &loop;
  target.command_on_first_tick = "sent while the loop ends";
  auto exit = loop.Run();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(*exit, LoopExit::kDone);
  EXPECT_EQ(target.ticks, 1u);
  EXPECT_EQ(target.commands, std::vector<std::string>{"sent while the loop ends"});
  EXPECT_EQ(loop.stats().discarded_ticks, client->delivered() - 1);
}

TEST(EventLoopTest, ReplayClientRefusesABadSpeedAndSkipsForAResume) {
  EXPECT_EQ(ReplayClient::Create("f", std::make_unique<VectorTickSource>(TicksAt({0})),
                                 ReplayOptions{-1.0, 0})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  auto client = Replay(TicksAt({0, 10, 20, 30}), 0);
  std::optional<Tick> last;
  auto skipped = client->Skip(2, &last);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(*skipped, 2u);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->ts, At(10));
  std::array<Tick, 8> out;
  auto pulled = client->Pull(out);
  ASSERT_TRUE(pulled.ok());
  ASSERT_EQ(*pulled, 2u);
  EXPECT_EQ(out[0].ts, At(20));
  auto rest = Replay(TicksAt({0, 10}), 0);
  EXPECT_EQ(*rest->Skip(5, &last), 2u);  // the source ended first
}

// Stands in for an asynchronous execution client: from its own thread, `count` execution reports
// for orders 1, 2, ... and then one account report, as a venue answering the kernel would.
class ReportingVenue final : public Producer {
 public:
  explicit ReportingVenue(uint64_t count) : count_(count) {}
  ~ReportingVenue() override { Stop(); }
  std::string_view name() const override { return "venue"; }
  Status Start(ProducerLink link) override {
    thread_ = std::thread([this, link]() mutable {
      for (uint64_t id = 1; id <= count_; ++id) {
        auto report = std::make_unique<ExecutionReport>();
        report->kind = ExecKind::kFilled;
        report->order_id = OrderId{id};
        if (!link.Send(ExecutionReportEvent{link.id(), std::move(report), SteadyNowNs()}, stop_)) {
          return;
        }
      }
      auto account = std::make_unique<AccountReport>();
      account->balance = Money::FromRaw(42 * kMoneyScale);
      (void)link.Send(AccountReportEvent{link.id(), std::move(account), SteadyNowNs()}, stop_);
    });
    return Status::Ok();
  }
  void Stop() override {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  uint64_t count_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A venue's reports come through the inbox between the ticks, each once and in the order the
// venue sent them, and are measured like ticks (report_hand_off).
TEST(EventLoopTest, ExecutionReportsArriveInOrderBetweenTicks) {
  constexpr uint64_t kReports = 2'000;
  std::vector<int64_t> millis;
  for (int64_t ms = 0; ms < 2'000; ++ms) millis.push_back(ms);
  RecordingTarget target;
  auto client = Replay(TicksAt(millis), 0);
  ReportingVenue venue(kReports);
  LoopOptions options;
  options.inbox_capacity = 64;  // small: the venue meets a full inbox
  EventLoop loop(target, options);
  loop.AddClient(*client);
  loop.AddProducer(venue);
  auto exit = loop.Run();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  std::vector<std::string> reports;
  for (const std::string& line : target.log) {
    if (line.rfind("report ", 0) == 0 || line.rfind("account ", 0) == 0) reports.push_back(line);
  }
  // The loop may end with the feed before the venue is done: the venue is stopped first, so
  // whatever it sent is handed over, in order, and nothing else.
  ASSERT_FALSE(reports.empty());
  for (size_t idx = 0; idx < reports.size() && idx < kReports; ++idx) {
    ASSERT_EQ(reports[idx], "report " + std::to_string(idx + 1));
  }
  if (reports.size() == kReports + 1) {
    EXPECT_EQ(reports.back(), "account 42.00");
  }
  EXPECT_EQ(loop.stats().execution_reports + loop.stats().account_reports, reports.size());
  EXPECT_EQ(loop.stats().report_hand_off.count(), reports.size());
  EXPECT_EQ(loop.stats().market_data, 2'000u);
}

// A node without an asynchronous execution client has nobody to give a report to: the loop stops
// with an error naming the order, rather than dropping it.
TEST(EventLoopTest, AReportWithoutAnAsynchronousClientStopsTheLoop) {
  RecordingTarget target;
  target.accept_reports = false;
  ReportingVenue venue(1);
  auto client = Replay(TicksAt({0, 1'000'000}), 1);  // the feed waits: the report comes first
  EventLoop loop(target);
  loop.AddClient(*client);
  loop.AddProducer(venue);
  auto exit = loop.Run();
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(exit.status().message().find("order 1,"), std::string::npos) << exit.status().message();
}

}  // namespace
}  // namespace aits::node
