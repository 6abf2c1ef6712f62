// Caches of the services (docs/services.md, "Caches"): Redis 7 as the shared level (L2) and an
// in-process level (L1) in front of it, with invalidation between processes.
//
// Keys follow SPEC §3: online features "feature:{symbol}:{ts}" (1 h), predictions
// "prediction:{model}:{feature hash}" (30 s). Values are bytes (the callers' encodings).
//
// SIGPIPE: hiredis writes without MSG_NOSIGNAL, so the first connection sets SIGPIPE to ignored
// when the program left it at its default (a Redis dying mid-write would end the process).
//
// Failures: Redis unreachable or lost is Unavailable naming host:port (a later call reconnects
// first, so a restarted server is picked up without a restart of ours); a reply Redis refused is
// Internal. A cache is never the only copy of anything: a miss or an error means "compute it".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "aits/core/status.h"
#include "aits/core/time.h"

struct redisContext;

namespace aits::cache {

// The keys of what the roles keep in Redis (docs/services.md, "Caches"): the online features of a
// bar, the prediction cache, the decision role's last decision per market and symbol, and the
// state of a market's session as its owner last reported it.
std::string FeatureKey(std::string_view symbol, Timestamp ts);
std::string PredictionKey(std::string_view model, uint64_t feature_hash);
std::string DecisionKey(std::string_view market, std::string_view symbol);
std::string SessionKey(std::string_view market);
inline constexpr Duration kFeatureTtl = Duration::Seconds(3600);
inline constexpr Duration kPredictionTtl = Duration::Seconds(30);
// Written at every bar and twice a second: an hour after the last write, nobody writes it.
inline constexpr Duration kDecisionTtl = Duration::Seconds(3600);
inline constexpr Duration kSessionTtl = Duration::Seconds(3600);

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  Duration timeout = Duration::Seconds(1);  // connect and each command
};

// One connection (hiredis). Not thread-safe.
class RedisClient {
 public:
  static Result<std::unique_ptr<RedisClient>> Connect(const RedisOptions& options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  Result<std::optional<std::string>> Get(std::string_view key);
  Status Set(std::string_view key, std::string_view value, Duration ttl);  // SET .. PX ttl
  Status Delete(std::string_view key);
  Status Publish(std::string_view channel, std::string_view message);
  Result<int64_t> TtlMillis(std::string_view key);  // PTTL: -2 no key, -1 no expiry
  std::string where() const { return options_.host + ":" + std::to_string(options_.port); }

 private:
  explicit RedisClient(const RedisOptions& options) : options_(options) {}
  Status EnsureConnected();
  // Runs a command of binary-safe arguments; the reply or the error.
  struct Reply;
  Result<Reply> Command(std::initializer_list<std::string_view> args, std::string_view what);

  RedisOptions options_;
  redisContext* context_ = nullptr;
};

struct CacheOptions {
  RedisOptions redis;
  size_t l1_capacity = 100'000;  // entries; the least recently used goes first
  // An L1 copy is used this long at most (and never past the L2 TTL it was written with); the
  // invalidation message normally removes it sooner.
  Duration l1_ttl = Duration::Seconds(5);
  std::string channel = "aits:cache:invalidate";
};

struct CacheStats {
  uint64_t l1_hits = 0;
  uint64_t l2_hits = 0;
  uint64_t misses = 0;
  uint64_t l2_errors = 0;
  uint64_t invalidations = 0;  // L1 copies dropped on another instance's message
};

// L1 in front of Redis. Get and Put from any thread (one lock: a Get that goes to Redis holds it
// for the round trip). Invalidations arrive on a subscriber thread with a connection of its own;
// L1 copies are used only while that subscription is up — a lost subscription may have missed
// invalidations, so L1 is emptied and Gets go to Redis until it is back (it reconnects every
// 100 ms).
class TieredCache {
 public:
  static Result<std::unique_ptr<TieredCache>> Open(const CacheOptions& options);
  ~TieredCache();

  // L1, else Redis (the answer kept in L1). nullopt: in neither. Unavailable: not in L1 and
  // Redis cannot be asked.
  Result<std::optional<std::string>> Get(const std::string& key);
  // Into Redis with `ttl` and into L1; the other instances are told to drop their copies. On a
  // Redis error the L1 copy is kept (this process still computed it) and the error returned.
  Status Put(const std::string& key, std::string_view value, Duration ttl);
  // Out of Redis and every instance's L1.
  Status Invalidate(const std::string& key);

  CacheStats stats() const;
  size_t l1_size() const;
  // The subscriber listens (tests wait for it before counting on invalidations).
  bool subscribed() const { return subscribed_.load(); }

 private:
  explicit TieredCache(const CacheOptions& options);
  void Listen();
  void Drop(const std::string& key, bool counted);
  void KeepInL1(const std::string& key, std::string_view value, Duration ttl);

  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string value;
    Clock::time_point expires;
    std::list<std::string>::iterator lru;
  };
  CacheOptions options_;
  std::string instance_;  // in invalidation messages, so that an instance ignores its own
  mutable std::mutex mutex_;
  std::unique_ptr<RedisClient> redis_;  // guarded by mutex_
  std::unordered_map<std::string, Entry> l1_;
  std::list<std::string> lru_;  // most recent first
  CacheStats stats_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> subscribed_{false};
  std::thread listener_;
};

}  // namespace aits::cache
