// What the features and prediction roles write to Redis (docs/services.md, "Caches"): the online
// feature store ("feature:{symbol}:{bar close ns}", 1 h) and the prediction cache
// ("prediction:{model}:{feature hash}", 30 s), through a cache::TieredCache (L1 in front of
// Redis, with invalidation between processes).
//
// The caches are beside the trading path, never in it: the bus carries every row and prediction
// to the roles that trade on them, and what a role writes here is a copy for other readers (a
// second prediction replica, the API). So a cache failure is counted and the role goes on; the
// calls go through a circuit breaker, so that a dead Redis costs one timeout per cool-down
// (`breaker.open_for`), not one per bar. The connection is made on the first call the breaker
// admits: a role starts while Redis is down and writes once it is back.
//
// Writes are held until the role has published to the bus (Flush after the bus's flush): Redis
// adds no latency between the tick and the order.
//
// Thread-compatible: one per stage run (one thread), each with its own connections.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aits/cache/cache.h"
#include "aits/core/clock.h"
#include "aits/core/resilience.h"
#include "aits/core/time.h"

namespace aits::services {

struct StageCacheOptions {
  cache::CacheOptions cache;
  // A role's Redis calls wait this long at most (cache.redis.timeout is set from it): a slow
  // Redis costs a bar this much, then the breaker stops asking.
  Duration timeout = Duration::Millis(100);
  CircuitBreaker::Options breaker{
      .failure_threshold = 3, .open_for = Duration::Seconds(5), .half_open_probes = 1};
  // The prediction role's model in its keys: "NAME@VERSION" of a registry model, or a rule
  // signal with its parameters ("sma_cross(fast=10,slow=30)"). Required by RunPrediction.
  std::string model;
};

struct CacheCounters {
  uint64_t puts = 0;            // values written to Redis
  uint64_t hits = 0;            // looked up and found holding the same value (nothing written)
  uint64_t misses = 0;          // looked up and not found (or another value): then written
  uint64_t errors = 0;          // calls that failed (Redis down, a timeout, a refused reply)
  uint64_t skipped = 0;         // calls not made because the breaker was open
  uint64_t breaker_opened = 0;  // times the breaker opened
  std::string last_error;       // of the last failed call, for the operator ("" when none)
};

class StageCache {
 public:
  // `ttl`: of every value written. `look_first`: ask Redis for each key first and write only
  // what it does not hold already (the prediction role: a restart or a replica wrote it).
  StageCache(const StageCacheOptions& options, Duration ttl, bool look_first);

  // Held until Flush.
  void Add(std::string key, std::string value) {
    held_.emplace_back(std::move(key), std::move(value));
  }
  // Writes what is held; failures are counted, never returned.
  void Flush();

  CacheCounters counters() const;

 private:
  // One call through the breaker, opening the cache first when it is not open yet.
  template <typename Call>
  bool Try(const Call& call);

  StageCacheOptions options_;
  Duration ttl_;
  bool look_first_;
  WallClock clock_;
  CircuitBreaker breaker_;
  std::unique_ptr<cache::TieredCache> cache_;
  std::vector<std::pair<std::string, std::string>> held_;
  CacheCounters counters_;
};

}  // namespace aits::services
