// The services' caches (docs/services.md, "Caches") against a redis-server the benchmark starts on
// loopback (aits::test_servers):
//   BM_L1Hit     a TieredCache::Get answered by the in-process level
//   BM_RedisGet  RedisClient::Get of a 200-byte value: one round trip to Redis
//   BM_Put       TieredCache::Put: SET with a TTL and the invalidation PUBLISH (two round trips)
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "aits/cache/cache.h"
#include "aits/testing/servers.h"

namespace {

using aits::cache::CacheOptions;
using aits::cache::TieredCache;

aits::test_servers::RedisServer* Redis() {
  static auto server = aits::test_servers::RedisServer::Start();
  return server.ok() ? server->get() : nullptr;
}

std::unique_ptr<TieredCache> OpenCache(benchmark::State& state) {
  if (Redis() == nullptr) {
    state.SkipWithError("redis-server did not start");
    return nullptr;
  }
  CacheOptions options;
  options.redis.port = Redis()->port();
  options.l1_ttl = aits::Duration::Seconds(3600);
  auto cache = TieredCache::Open(options);
  if (!cache.ok()) {
    state.SkipWithError(cache.status().ToString().c_str());
    return nullptr;
  }
  while (!(*cache)->subscribed()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::move(cache).value();
}

void BM_L1Hit(benchmark::State& state) {
  auto cache = OpenCache(state);
  if (cache == nullptr) return;
  const std::string key = aits::cache::FeatureKey("EURUSD", aits::Timestamp{1});
  if (!cache->Put(key, std::string(200, 'f'), aits::cache::kFeatureTtl).ok()) {
    state.SkipWithError("put failed");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(cache->Get(key));
}

void BM_RedisGet(benchmark::State& state) {
  if (Redis() == nullptr) {
    state.SkipWithError("redis-server did not start");
    return;
  }
  aits::cache::RedisOptions options;
  options.port = Redis()->port();
  auto client = aits::cache::RedisClient::Connect(options);
  if (!client.ok() ||
      !(*client)->Set("bench", std::string(200, 'f'), aits::Duration::Seconds(60)).ok()) {
    state.SkipWithError("redis client failed");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize((*client)->Get("bench"));
}

void BM_Put(benchmark::State& state) {
  auto cache = OpenCache(state);
  if (cache == nullptr) return;
  const std::string value(200, 'p');
  int64_t idx = 0;
  for (auto _ : state) {
    const std::string key = aits::cache::PredictionKey("bench@1", static_cast<uint64_t>(++idx));
    if (!cache->Put(key, value, aits::cache::kPredictionTtl).ok()) {
      state.SkipWithError("put failed");
      return;
    }
  }
}

BENCHMARK(BM_L1Hit);
BENCHMARK(BM_RedisGet)->UseRealTime();
BENCHMARK(BM_Put)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
