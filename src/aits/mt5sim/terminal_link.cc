#include "aits/mt5sim/terminal_link.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

#include "aits/log/log.h"

namespace aits::mt5sim {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsTradeRequest(uint16_t type) {
  return type >= static_cast<uint16_t>(mt5::MessageType::kPlaceOrder) &&
         type <= static_cast<uint16_t>(mt5::MessageType::kCloseBy);
}

}  // namespace

milliseconds WaitSlice(std::chrono::steady_clock::time_point until,
                       std::chrono::steady_clock::time_point now, milliseconds slice) {
  // The deadline may pass between a caller's test of it and here: 0, not a negative wait.
  const auto left = std::chrono::duration_cast<milliseconds>(until - now);
  return std::clamp(left, milliseconds(0), slice);
}

TerminalRunner::TerminalRunner(RunnerConfig config, Terminal& terminal)
    : config_(std::move(config)), terminal_(terminal), rng_(config_.seed) {
  std::sort(config_.drop_after_frames.begin(), config_.drop_after_frames.end());
  std::sort(config_.drop_before_trade_requests.begin(), config_.drop_before_trade_requests.end());
  std::sort(config_.drop_after_trade_requests.begin(), config_.drop_after_trade_requests.end());
}

void TerminalRunner::Stop() {
  stop_ = true;
  waker_.Notify();
}

bool TerminalRunner::Finished() const {
  return config_.stop_at_end && terminal_.NextTickTime() == std::numeric_limits<int64_t>::max();
}

void TerminalRunner::Replay(bool fast_ok) {
  if (config_.speed > 0) {
    const Clock::time_point now = Clock::now();
    if (!anchored_) {
      const int64_t next = terminal_.NextTickTime();
      if (next == std::numeric_limits<int64_t>::max()) return;
      server_anchor_ = next;
      wall_anchor_ = now;
      anchored_ = true;
    }
    const double elapsed =
        static_cast<double>(std::chrono::duration_cast<milliseconds>(now - wall_anchor_).count());
    terminal_.ReplayUntil(server_anchor_ + static_cast<int64_t>(elapsed * config_.speed));
    return;
  }
  if (!fast_ok) return;
  for (uint32_t i = 0; i < config_.ticks_per_step && terminal_.Step(); ++i) {
  }
}

void TerminalRunner::Backoff(uint32_t attempt) {
  const uint64_t base = std::min<uint64_t>(
      config_.backoff_max_ms, uint64_t{config_.backoff_initial_ms} << std::min(attempt, 20u));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const auto wait = milliseconds(static_cast<int64_t>(static_cast<double>(base) * jitter(rng_)));
  AITS_LOG_DEBUG("mt5sim", "reconnecting in " + std::to_string(wait.count()) + " ms");
  const Clock::time_point until = Clock::now() + wait;
  // The market goes on while the link is down: keep replaying in small slices.
  while (!Stopping() && Clock::now() < until) {
    net::WaitFor item{waker_.fd()};
    (void)net::Wait(std::span<net::WaitFor>(&item, 1),
                    WaitSlice(until, Clock::now(), milliseconds(10)));
    Replay(false);
  }
}

bool TerminalRunner::ShouldDrop(const mt5::Link& link) {
  const uint64_t total = stats_.frames_sent + link.frames_sent();
  if (next_chosen_drop_ < config_.drop_after_frames.size() &&
      total >= config_.drop_after_frames[next_chosen_drop_]) {
    while (next_chosen_drop_ < config_.drop_after_frames.size() &&
           total >= config_.drop_after_frames[next_chosen_drop_]) {
      ++next_chosen_drop_;
    }
    return true;
  }
  return config_.random_drop_mean_frames > 0 && link.frames_sent() >= next_random_drop_;
}

bool TerminalRunner::SendOutbox(mt5::Link& link) {
  for (Outgoing& out : terminal_.TakeOutbox()) {
    Status status =
        std::visit([&](const auto& m) { return link.Send(m, out.request_id); }, out.message);
    if (!status.ok()) {
      AITS_LOG_WARN("mt5sim", "send failed: " + status.message());
      return false;
    }
  }
  return true;
}

std::string TerminalRunner::Serve(mt5::Link& link) {
  milliseconds heartbeat(config_.heartbeat_ms);
  milliseconds dead_after(config_.dead_after_ms);
  if (config_.random_drop_mean_frames > 0) {
    std::uniform_int_distribution<uint64_t> frames(1, 2 * config_.random_drop_mean_frames);
    next_random_drop_ = frames(rng_);
  }
  bool handshaken = false;
  for (;;) {
    if (Stopping()) {
      waker_.Drain();
      link.Close("terminal stopping");
      return "stopped";
    }
    if (!handshaken && terminal_.handshaken()) {
      handshaken = true;
      ++stats_.sessions;
      const mt5::Welcome& welcome = terminal_.welcome();
      if (welcome.heartbeat_ms > 0) heartbeat = milliseconds(welcome.heartbeat_ms);
      if (welcome.dead_after_ms > 0) dead_after = milliseconds(welcome.dead_after_ms);
      AITS_LOG_INFO("mt5sim", "connected to gateway " + welcome.node_id + " at " + link.peer());
    }
    const bool streaming = handshaken && terminal_.has_subscriptions();
    Replay(streaming && !link.has_outbound());
    terminal_.Pump();
    if (!SendOutbox(link)) {
      link.Drop();
      return "the link failed while sending";
    }
    if (terminal_.closing()) {
      (void)link.Flush();
      link.Drop();
      return terminal_.close_reason();
    }
    if (ShouldDrop(link)) {
      ++stats_.drops;
      link.Drop();
      return "link dropped (fault injection) after " + std::to_string(link.frames_sent()) +
             " frames";
    }
    if (handshaken && Finished() && !link.has_outbound()) {
      link.Close("replay finished");
      return "replay finished";
    }
    const Clock::time_point now = Clock::now();
    if (now - link.last_sent() >= heartbeat) {
      if (!link.Send(mt5::Heartbeat{WallMs()}).ok()) {
        link.Drop();
        return "the link failed while sending a heartbeat";
      }
    }
    if (now - link.last_received() >= dead_after) {
      ++stats_.dead_links;
      link.Drop();
      return "dead link: nothing from the gateway for " + std::to_string(dead_after.count()) +
             " ms";
    }
    const bool more = streaming && config_.speed == 0 &&
                      terminal_.NextTickTime() != std::numeric_limits<int64_t>::max();
    const milliseconds timeout = more ? milliseconds(0) : std::min(milliseconds(5), heartbeat);
    const auto chosen = [&](const std::vector<uint64_t>& numbers) {
      return std::binary_search(numbers.begin(), numbers.end(), stats_.trade_requests);
    };
    // Set when a trade request is chosen to be lost, or its reply: the frames after it in this
    // read are not handled (a link that breaks loses what was behind the break too).
    const char* trade_drop = nullptr;
    Status status = link.Poll(
        timeout,
        [&](const mt5::Frame& frame) {
          if (trade_drop != nullptr) return Status::Ok();
          if (IsTradeRequest(frame.envelope.type)) {
            ++stats_.trade_requests;
            if (chosen(config_.drop_before_trade_requests)) {
              ++stats_.drops_before_trade;
              trade_drop = "before it handled trade request ";
              return Status::Ok();
            }
            if (config_.processing_delay_ms > 0) {
              std::this_thread::sleep_for(milliseconds(config_.processing_delay_ms));
            }
            terminal_.Handle(frame);
            if (chosen(config_.drop_after_trade_requests)) {
              ++stats_.drops_after_trade;
              trade_drop = "after it handled trade request ";
            }
            return Status::Ok();
          }
          terminal_.Handle(frame);
          return Status::Ok();
        },
        waker_.fd());
    if (trade_drop != nullptr) {
      ++stats_.drops;
      link.Drop();
      return "link dropped (fault injection) " + std::string(trade_drop) +
             std::to_string(stats_.trade_requests);
    }
    if (!status.ok()) {
      if (status.code() != StatusCode::kIoError) {
        // The framing broke: tell the gateway why, then close (the protocol's rule).
        (void)link.Send(
            mt5::Error{static_cast<uint32_t>(mt5::ErrorCode::kMalformedFrame), status.message()});
        (void)link.Flush();
      }
      link.Drop();
      return status.message();
    }
  }
}

Status TerminalRunner::Run() {
  std::optional<mt5::TranscriptWriter> writer;
  if (!config_.record_path.empty()) {
    AITS_ASSIGN_OR_RETURN(mt5::TranscriptWriter opened,
                          mt5::TranscriptWriter::Open(config_.record_path));
    writer = std::move(opened);
  }
  uint32_t attempt = 0;
  uint32_t ended = 0;
  while (!Stopping() && !Finished()) {
    Replay(false);
    Result<net::Socket> socket = net::Connect(config_.gateway, config_.connect_timeout);
    if (!socket.ok()) {
      ++stats_.connect_failures;
      AITS_LOG_INFO("mt5sim", socket.status().message());
      Backoff(attempt++);
      continue;
    }
    ++stats_.connects;
    mt5::Link link(std::move(*socket));
    if (writer) link.Record(&*writer);
    terminal_.OnConnected(WallMs());
    const uint64_t sessions_before = stats_.sessions;
    const std::string why = Serve(link);
    stats_.frames_sent += link.frames_sent();
    stats_.frames_received += link.frames_received();
    AITS_LOG_INFO("mt5sim", "session ended: " + why);
    if (stats_.sessions > sessions_before) attempt = 0;
    if (config_.max_sessions > 0 && ++ended >= config_.max_sessions) break;
    if (!Stopping() && !Finished()) Backoff(attempt++);
  }
  return Status::Ok();
}

}  // namespace aits::mt5sim
