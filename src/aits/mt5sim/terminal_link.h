// The simulated terminal on the wire: connects out to the gateway as the EA does (MQL5 sockets
// are client-only), sends the hello, waits for the welcome, answers every frame through the
// Terminal (terminal.h), paces the tick replay, sends heartbeats, declares the link dead when the
// gateway is silent for dead_after_ms, and reconnects with jittered exponential back-off. Faults
// for tests: the link dropped after chosen frame counts or at seeded random moments, a
// processing delay before each trade request is answered, and a transcript of every frame.
//
// Threads: Run() blocks the calling thread; Stop() may be called from any other.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/mt5/link.h"
#include "aits/mt5sim/terminal.h"
#include "aits/net/socket.h"

namespace aits::mt5sim {

struct RunnerConfig {
  net::Endpoint gateway;
  // Replay pace: server milliseconds per wall millisecond (1 = real time). 0: as fast as the
  // link takes them, and only while the gateway is subscribed (nothing is replayed unseen).
  double speed = 1;
  // With speed 0: ticks replayed per turn of the loop, between reads of the gateway's frames.
  uint32_t ticks_per_step = 4096;
  // Used until the welcome names the gateway's.
  uint32_t heartbeat_ms = 1000;
  uint32_t dead_after_ms = 3000;
  std::chrono::milliseconds connect_timeout{1000};
  // Reconnect back-off: initial * 2^attempt, capped, times a jitter in [0.5, 1).
  uint32_t backoff_initial_ms = 100;
  uint32_t backoff_max_ms = 5000;
  uint64_t seed = 1;
  // Faults. The link is dropped (closed without a bye) when the frames sent over all sessions
  // reach each of these counts ...
  std::vector<uint64_t> drop_after_frames;
  // ... and, when > 0, after a seeded random number of frames in [1, 2 * mean] each session.
  uint64_t random_drop_mean_frames = 0;
  // ... and when the trade request (place_order ... close_by) of these numbers (1, 2, ... over all
  // sessions, in arrival order) arrives: before the terminal handles it (the request is lost on
  // the way: the server never sees it) or after (the server has done it, its trade_result and
  // transactions are not sent on this link; the transactions wait in the server for the next).
  std::vector<uint64_t> drop_before_trade_requests;
  std::vector<uint64_t> drop_after_trade_requests;
  // Wall time a trade request waits before it is answered (the trade server's processing).
  uint32_t processing_delay_ms = 0;
  // Stops after this many sessions ended (0: never); for tests.
  uint32_t max_sessions = 0;
  // Stops when the replay is over and everything was sent (for a bounded run).
  bool stop_at_end = false;
  // Set by a signal handler (or another thread): stop as Stop() does.
  const std::atomic<bool>* stop = nullptr;
  // Records every frame of every session here (JSON lines, aits/mt5/transcript.h).
  std::string record_path;
};

struct RunnerStats {
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t sessions = 0;            // handshakes completed
  uint64_t drops = 0;               // injected, all kinds
  uint64_t drops_before_trade = 0;  // of them: a trade request lost on its way
  uint64_t drops_after_trade = 0;   // of them: a trade request done, its reply lost
  uint64_t trade_requests = 0;      // trade requests that arrived (lost ones included)
  uint64_t dead_links = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
};

// One slice of a wait for `until` (the reconnect back-off waits in slices, replaying the market
// between them): the time left, at most `slice`, and 0 once `until` has passed — never negative,
// which net::Wait takes as "wait for ever".
std::chrono::milliseconds WaitSlice(std::chrono::steady_clock::time_point until,
                                    std::chrono::steady_clock::time_point now,
                                    std::chrono::milliseconds slice);

class TerminalRunner {
 public:
  TerminalRunner(RunnerConfig config, Terminal& terminal);

  // Connects, serves and reconnects until Stop(), max_sessions, or stop_at_end. Returns OK when
  // it stopped as asked; an error only for what retrying cannot mend (the transcript file).
  Status Run();
  void Stop();  // any thread
  const RunnerStats& stats() const { return stats_; }

 private:
  // One connected session, until the link ends. Returns why it ended.
  std::string Serve(mt5::Link& link);
  void Replay(bool subscribed_and_idle);
  bool SendOutbox(mt5::Link& link);
  void Backoff(uint32_t attempt);
  bool ShouldDrop(const mt5::Link& link);
  bool Finished() const;
  bool Stopping() const { return stop_ || (config_.stop != nullptr && config_.stop->load()); }

  RunnerConfig config_;
  Terminal& terminal_;
  RunnerStats stats_;
  std::atomic<bool> stop_{false};
  net::Waker waker_;
  std::mt19937_64 rng_;
  std::chrono::steady_clock::time_point wall_anchor_;
  int64_t server_anchor_ = 0;
  bool anchored_ = false;
  uint64_t next_random_drop_ = 0;
  size_t next_chosen_drop_ = 0;
};

}  // namespace aits::mt5sim
