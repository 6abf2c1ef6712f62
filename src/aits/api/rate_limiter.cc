#include "aits/api/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace aits::api {

namespace {

int64_t CeilSeconds(double seconds) {
  return std::max<int64_t>(1, std::llround(std::ceil(seconds)));
}

}  // namespace

int64_t RateLimiter::Take(std::string_view client, Timestamp now) {
  Stripe& stripe = stripes_[std::hash<std::string_view>{}(client) % kStripes];
  const double capacity = per_minute_;
  const double per_second = per_minute_ / 60.0;
  std::lock_guard lock(stripe.mutex);
  // Buckets idle for two minutes are full again: forgetting them changes nothing.
  if (now - stripe.last_sweep > Duration::Minutes(2)) {
    std::erase_if(stripe.buckets,
                  [now](const auto& kv) { return now - kv.second.last > Duration::Minutes(2); });
    stripe.last_sweep = now;
  }
  auto [it, added] = stripe.buckets.try_emplace(std::string(client));
  Bucket& b = it->second;
  if (added) {
    b.tokens = capacity;
  } else {
    b.tokens = std::min(capacity, b.tokens + (now - b.last).SecondsF() * per_second);
  }
  b.last = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return CeilSeconds((1.0 - b.tokens) / per_second);
}

int64_t LoginThrottle::WaitFor(const std::string& key, Timestamp now) {
  const auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until <= now) return 0;
  return CeilSeconds((it->second.locked_until - now).SecondsF());
}

int64_t LoginThrottle::WaitBefore(std::string_view user, std::string_view client, Timestamp now) {
  std::lock_guard lock(mutex_);
  return std::max(WaitFor("u:" + std::string(user), now), WaitFor("a:" + std::string(client), now));
}

void LoginThrottle::Fail(const std::string& key, int max_failures, Timestamp now) {
  Entry& e = entries_[key];
  if (e.failures == 0 || now - e.first > window_) {
    e.failures = 0;
    e.first = now;
  }
  if (++e.failures >= max_failures) {
    const int doublings = std::min(e.lockouts, 12);
    const Duration lock =
        Duration::Nanos(std::min<int64_t>(lockout_.ns << doublings, Duration::Hours(1).ns));
    e.locked_until = now + lock;
    ++e.lockouts;
    e.failures = 0;
  }
}

void LoginThrottle::Sweep(Timestamp now) {
  if (now - last_sweep_ < Duration::Minutes(1)) return;
  last_sweep_ = now;
  std::erase_if(entries_, [this, now](const auto& kv) {
    const Entry& e = kv.second;
    return e.locked_until <= now && now - e.first > window_ &&
           now - e.locked_until > Duration::Hours(1);
  });
}

void LoginThrottle::Failed(std::string_view user, std::string_view client, Timestamp now) {
  std::lock_guard lock(mutex_);
  Sweep(now);
  // Many names tried within a minute (the rate limit allows 1,000 a minute per client): the
  // counts that lock nobody out go first, so memory stays bounded and lockouts stay.
  if (entries_.size() >= kMaxEntries) {
    std::erase_if(entries_, [now](const auto& kv) { return kv.second.locked_until <= now; });
  }
  Fail("u:" + std::string(user), max_failures_, now);
  // An address is allowed more: several people may share one (a NAT, an office).
  Fail("a:" + std::string(client), 4 * max_failures_, now);
}

void LoginThrottle::Succeeded(std::string_view user) {
  std::lock_guard lock(mutex_);
  entries_.erase("u:" + std::string(user));
}

}  // namespace aits::api
