// The API's two throttles (docs/api.md, "Limits"):
// - RateLimiter: a token bucket per client (a token's subject, else the peer address): `per_minute`
//   requests a minute, refilled continuously, with a burst of the same size. Over it a request is
//   refused with the seconds until the next token (the 429's Retry-After).
// - LoginThrottle: failed logins by user name and by address. After `max_failures` within
//   `window` (four times as many for an address, which several people may share), that name or
//   address is locked out for `lockout`, doubling at each further lockout
//   up to an hour; a success clears the name's count.
// Both forget idle entries, so memory stays bounded by the clients active within a few minutes.
//
// Thread-safety: every call takes the object's mutex (striped for the rate limiter, whose
// calls are on every request).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aits/core/time.h"

namespace aits::api {

class RateLimiter {
 public:
  explicit RateLimiter(int per_minute) : per_minute_(per_minute) {}
  // 0 when the request may go on (a token taken); otherwise the whole seconds to wait (>= 1).
  int64_t Take(std::string_view client, Timestamp now);
  int per_minute() const { return per_minute_; }

 private:
  struct Bucket {
    double tokens = 0;
    Timestamp last;
  };
  struct Stripe {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
    Timestamp last_sweep;
  };
  static constexpr size_t kStripes = 16;
  int per_minute_;
  std::array<Stripe, kStripes> stripes_;
};

class LoginThrottle {
 public:
  LoginThrottle(int max_failures, Duration window, Duration lockout)
      : max_failures_(max_failures), window_(window), lockout_(lockout) {}
  // 0 when `user` from `client` may try now; otherwise the whole seconds until it may.
  int64_t WaitBefore(std::string_view user, std::string_view client, Timestamp now);
  void Failed(std::string_view user, std::string_view client, Timestamp now);
  void Succeeded(std::string_view user);

 private:
  struct Entry {
    int failures = 0;
    Timestamp first;
    Timestamp locked_until;
    int lockouts = 0;
  };
  int64_t WaitFor(const std::string& key, Timestamp now);
  void Fail(const std::string& key, int max_failures, Timestamp now);
  void Sweep(Timestamp now);

  static constexpr size_t kMaxEntries = 100'000;
  int max_failures_;
  Duration window_;
  Duration lockout_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // "u:NAME" and "a:ADDRESS"
  Timestamp last_sweep_;
};

}  // namespace aits::api
