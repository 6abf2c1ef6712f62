#include "aits/core/resilience.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "aits/core/text.h"

namespace aits {

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kIoError:
      return true;
    default:
      return false;
  }
}

Duration BackoffDelay(const BackoffPolicy& policy, int retry, double unit_random) {
  double ns = static_cast<double>(policy.initial.ns) *
              std::pow(policy.multiplier, static_cast<double>(std::max(retry, 1) - 1));
  ns = std::min(ns, static_cast<double>(policy.max.ns));
  const double factor = 1.0 + policy.jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
  return Duration::Nanos(static_cast<int64_t>(std::max(0.0, ns * factor)));
}

std::string_view StateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(std::string name, Options options, const Clock& clock)
    : name_(std::move(name)), options_(options), clock_(clock) {}

Status CircuitBreaker::Admit() {
  const std::lock_guard lock(mu_);
  if (state_ == State::kOpen) {
    const Timestamp now = clock_.Now();
    if (now < open_until_) {
      ++refused_;
      return Unavailable(name_ + ": circuit open after " +
                         std::to_string(options_.failure_threshold) + " failures; next try in " +
                         FormatFixed((open_until_ - now).SecondsF(), 1) + " s");
    }
    state_ = State::kHalfOpen;
    probes_ = 0;
  }
  if (state_ == State::kHalfOpen) {
    if (probes_ >= options_.half_open_probes) {
      ++refused_;
      return Unavailable(name_ + ": circuit half open, waiting for its probe");
    }
    ++probes_;
  }
  return Status::Ok();
}

void CircuitBreaker::Record(const Status& outcome) {
  const std::lock_guard lock(mu_);
  if (!IsRetryable(outcome)) {  // success, or a refusal that says nothing of the dependency
    if (state_ == State::kHalfOpen && !outcome.ok()) {
      --probes_;  // the probe proved nothing; let another through
      return;
    }
    state_ = State::kClosed;
    failures_ = 0;
    return;
  }
  if (state_ == State::kHalfOpen || ++failures_ >= options_.failure_threshold) {
    state_ = State::kOpen;
    open_until_ = clock_.Now() + options_.open_for;
    failures_ = 0;
    ++opened_;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  const std::lock_guard lock(mu_);
  return state_;
}

uint64_t CircuitBreaker::refused() const {
  const std::lock_guard lock(mu_);
  return refused_;
}

uint64_t CircuitBreaker::opened() const {
  const std::lock_guard lock(mu_);
  return opened_;
}

Status CallWithRetry(CircuitBreaker& breaker, const BackoffPolicy& policy,
                     const std::function<Status()>& call,
                     const std::function<void(Duration)>& sleep,
                     const std::function<double()>& unit_random) {
  Status outcome;
  for (int attempt = 1;; ++attempt) {
    if (Status admitted = breaker.Admit(); !admitted.ok()) return admitted;
    outcome = call();
    breaker.Record(outcome);
    if (outcome.ok() || !IsRetryable(outcome) || attempt >= policy.max_attempts) return outcome;
    sleep(BackoffDelay(policy, attempt, unit_random()));
  }
}

Status CallWithRetry(CircuitBreaker& breaker, const BackoffPolicy& policy,
                     const std::function<Status()>& call) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return CallWithRetry(
      breaker, policy, call,
      [](Duration pause) { std::this_thread::sleep_for(std::chrono::nanoseconds(pause.ns)); },
      [] { return std::uniform_real_distribution<double>(0.0, 1.0)(random); });
}

}  // namespace aits
