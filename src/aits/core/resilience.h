// How an outbound call (the message bus, the stores, the gateway) behaves when what it calls is
// slow or down: retried with exponential back-off and jitter while the failure is worth retrying,
// and behind a circuit breaker that stops calling a dependency that keeps failing, so that a role
// fails fast instead of piling up waits, and tries again on its own after a pause (the bulkhead
// and circuit-breaker patterns; docs/services.md, "Failures").
//
// CircuitBreaker:
//   closed     calls go through; `failure_threshold` failures in a row open it.
//   open       calls are refused at once (Unavailable naming the dependency and the time left)
//              until `open_for` has passed on the clock.
//   half-open  then up to `half_open_probes` calls go through: a success closes the breaker, a
//              failure opens it again for another `open_for`.
// Only failures that say "try later" (IsRetryable) count; a call refused for bad input says
// nothing about the dependency's health.
//
// Thread-safe: one breaker guards one dependency for every thread of a process.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits {

// Unavailable, DeadlineExceeded and IoError: the dependency may answer later.
bool IsRetryable(const Status& status);

struct BackoffPolicy {
  Duration initial = Duration::Millis(50);
  Duration max = Duration::Seconds(5);
  double multiplier = 2.0;
  double jitter = 0.2;   // each delay is scaled by a factor in [1 - jitter, 1 + jitter]
  int max_attempts = 5;  // calls in all, the first included (>= 1)
};

// The pause before retry number `retry` (1 for the first): initial x multiplier^(retry-1), at
// most `max`, scaled by the jitter; `unit_random` in [0, 1) picks the factor.
Duration BackoffDelay(const BackoffPolicy& policy, int retry, double unit_random);

class CircuitBreaker {
 public:
  struct Options {
    int failure_threshold = 5;  // >= 1
    Duration open_for = Duration::Seconds(5);
    int half_open_probes = 1;  // >= 1
  };
  enum class State { kClosed, kOpen, kHalfOpen };

  // `name` names the dependency in refusals ("nats nats://127.0.0.1:4222"). The clock must
  // outlive the breaker.
  CircuitBreaker(std::string name, Options options, const Clock& clock);

  // OK if a call may go now (it then must be reported with Record); otherwise the Unavailable
  // refusal to return instead of calling.
  Status Admit();
  // The outcome of an admitted call.
  void Record(const Status& outcome);

  State state() const;
  uint64_t refused() const;  // calls refused while open
  uint64_t opened() const;   // times it opened
  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  const Options options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  State state_ = State::kClosed;
  int failures_ = 0;
  int probes_ = 0;  // admitted while half-open
  Timestamp open_until_{};
  uint64_t refused_ = 0;
  uint64_t opened_ = 0;
};

std::string_view StateName(CircuitBreaker::State state);

// Calls `call` until it succeeds, fails with what IsRetryable refuses, the breaker refuses it, or
// `policy.max_attempts` calls were made; sleeps BackoffDelay between attempts through `sleep`
// (tests pass one that only advances a SimulatedClock). Returns the last outcome.
// `unit_random` draws the jitter in [0, 1).
Status CallWithRetry(CircuitBreaker& breaker, const BackoffPolicy& policy,
                     const std::function<Status()>& call,
                     const std::function<void(Duration)>& sleep,
                     const std::function<double()>& unit_random);
// The same, sleeping this thread in real time with a jitter of its own.
Status CallWithRetry(CircuitBreaker& breaker, const BackoffPolicy& policy,
                     const std::function<Status()>& call);

}  // namespace aits
