#include "aits/services/stage_cache.h"

namespace aits::services {

StageCache::StageCache(const StageCacheOptions& options, Duration ttl, bool look_first)
    : options_(options),
      ttl_(ttl),
      look_first_(look_first),
      breaker_("redis " + options.cache.redis.host + ":" + std::to_string(options.cache.redis.port),
               options.breaker, clock_) {
  options_.cache.redis.timeout = options_.timeout;
}

template <typename Call>
bool StageCache::Try(const Call& call) {
  if (!breaker_.Admit().ok()) {
    ++counters_.skipped;
    return false;
  }
  Status outcome = Status::Ok();
  if (cache_ == nullptr) {
    Result<std::unique_ptr<cache::TieredCache>> opened = cache::TieredCache::Open(options_.cache);
    if (opened.ok()) {
      cache_ = std::move(opened).value();
    } else {
      outcome = opened.status();
    }
  }
  if (outcome.ok()) outcome = call(*cache_);
  breaker_.Record(outcome);
  if (!outcome.ok()) {
    ++counters_.errors;
    counters_.last_error = outcome.ToString();
  }
  return outcome.ok();
}

void StageCache::Flush() {
  for (const auto& entry : held_) {
    // Named, not a structured binding: clang 14 cannot capture one in the lambdas below.
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    if (look_first_) {
      bool same = false;
      const bool asked = Try([&](cache::TieredCache& cache) {
        AITS_ASSIGN_OR_RETURN(const std::optional<std::string> stored, cache.Get(key));
        same = stored.has_value() && *stored == value;
        return Status::Ok();
      });
      // Unanswered: the write would most likely fail the same way, and the breaker counts it.
      if (!asked) continue;
      if (same) {
        ++counters_.hits;
        continue;
      }
      ++counters_.misses;
    }
    if (Try([&](cache::TieredCache& cache) { return cache.Put(key, value, ttl_); })) {
      ++counters_.puts;
    }
  }
  held_.clear();
}

CacheCounters StageCache::counters() const {
  CacheCounters out = counters_;
  out.breaker_opened = breaker_.opened();
  return out;
}

}  // namespace aits::services
