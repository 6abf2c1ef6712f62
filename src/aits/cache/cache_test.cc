// The caches against a real Redis 7 started for the test: the client, two tiered caches as two
// processes would have them, TTLs, the L1 bound, and Redis killed and back.
#include "aits/cache/cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "aits/testing/servers.h"

namespace aits::cache {
namespace {

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = test_servers::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    redis_ = std::move(server).value();
    options_.redis.port = redis_->port();
  }
  std::unique_ptr<TieredCache> MustOpen() {
    auto cache = TieredCache::Open(options_);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    if (!cache.ok()) return nullptr;
    EXPECT_TRUE(WaitFor([&] { return (*cache)->subscribed(); }, std::chrono::seconds(5)));
    return std::move(cache).value();
  }
  std::unique_ptr<test_servers::RedisServer> redis_;
  CacheOptions options_;
};

TEST(CacheKeysTest, AsSpecThreeNamesThem) {
  EXPECT_EQ(FeatureKey("EURUSD", Timestamp{1704672000000000000}),
            "feature:EURUSD:1704672000000000000");
  EXPECT_EQ(PredictionKey("gbpusd_M1@1", 0x3f2aull), "prediction:gbpusd_M1@1:0000000000003f2a");
}

TEST_F(CacheTest, TheClientSetsGetsExpiresAndDeletesBytes) {
  auto client = RedisClient::Connect(options_.redis);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const std::string value("a\0b\xff", 4);
  ASSERT_TRUE((*client)->Set("k1", value, Duration::Seconds(30)).ok());
  auto got = (*client)->Get("k1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, value);
  auto ttl = (*client)->TtlMillis("k1");
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 29'000);
  EXPECT_LE(*ttl, 30'000);
  ASSERT_TRUE((*client)->Delete("k1").ok());
  got = (*client)->Get("k1");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  ASSERT_TRUE((*client)->Set("short", "x", Duration::Millis(50)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  EXPECT_FALSE((*client)->Get("short")->has_value());
}

TEST_F(CacheTest, L1ServesRepeatsAndAnotherInstancesPutInvalidatesIt) {
  auto a = MustOpen();
  ASSERT_NE(a, nullptr);
  const std::string key = FeatureKey("EURUSD", Timestamp{1});
  ASSERT_TRUE(a->Put(key, "v1", kFeatureTtl).ok());
  EXPECT_EQ(*a->Get(key), std::optional<std::string>("v1"));
  EXPECT_EQ(a->stats().l1_hits, 1u);
  EXPECT_EQ(a->stats().l2_hits, 0u);
  // B subscribes after A's first put: that put's invalidation, late on a loaded machine, would
  // otherwise drop the copy B is about to take, and B's counts would depend on the scheduler.
  auto b = MustOpen();
  ASSERT_NE(b, nullptr);
  // B finds it in Redis, then in its own L1.
  EXPECT_EQ(*b->Get(key), std::optional<std::string>("v1"));
  EXPECT_EQ(*b->Get(key), std::optional<std::string>("v1"));
  EXPECT_EQ(b->stats().l2_hits, 1u);
  EXPECT_EQ(b->stats().l1_hits, 1u);
  // A writes a new value: B's copy is dropped and B reads the new one.
  ASSERT_TRUE(a->Put(key, "v2", kFeatureTtl).ok());
  ASSERT_TRUE(WaitFor([&] { return b->stats().invalidations == 1; }, std::chrono::seconds(5)));
  EXPECT_EQ(*b->Get(key), std::optional<std::string>("v2"));
  EXPECT_EQ(a->stats().invalidations, 0u) << "an instance ignores its own messages";
  // Invalidated everywhere.
  ASSERT_TRUE(b->Invalidate(key).ok());
  ASSERT_TRUE(WaitFor([&] { return a->stats().invalidations == 1; }, std::chrono::seconds(5)));
  EXPECT_FALSE(a->Get(key)->has_value());
  EXPECT_FALSE(b->Get(key)->has_value());
  EXPECT_EQ(a->stats().misses, 1u);
}

TEST_F(CacheTest, ExpiredEntriesAndTheL1CapacityAreHonoured) {
  options_.l1_capacity = 2;
  auto cache = MustOpen();
  ASSERT_NE(cache, nullptr);
  const std::string key = PredictionKey("m@1", 7);
  ASSERT_TRUE(cache->Put(key, "p", Duration::Millis(100)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(cache->Get(key)->has_value()) << "gone from L1 and Redis with its TTL";
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(cache->Put(name, name, kPredictionTtl).ok());
  }
  EXPECT_EQ(cache->l1_size(), 2u);
  EXPECT_EQ(*cache->Get("a"), std::optional<std::string>("a"));  // from Redis again
  EXPECT_EQ(cache->stats().l2_hits, 1u);
}

TEST_F(CacheTest, RedisKilledIsUnavailableAndBackWithoutARestartOfOurs) {
  auto cache = MustOpen();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->Put("k", "v", kFeatureTtl).ok());
  redis_->Kill();
  // The subscription is lost: L1 is no longer trusted, and Redis cannot be asked.
  ASSERT_TRUE(WaitFor([&] { return !cache->subscribed(); }, std::chrono::seconds(5)));
  auto got = cache->Get("k");
  ASSERT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("127.0.0.1:" + std::to_string(redis_->port())),
            std::string::npos)
      << got.status().ToString();
  EXPECT_EQ(cache->Put("k", "v2", kFeatureTtl).code(), StatusCode::kUnavailable);
  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(WaitFor([&] { return cache->subscribed(); }, std::chrono::seconds(5)));
  // Redis came back empty (a cache); writes and reads work again.
  ASSERT_TRUE(cache->Put("k", "v3", kFeatureTtl).ok());
  EXPECT_EQ(*cache->Get("k"), std::optional<std::string>("v3"));
  EXPECT_GE(cache->stats().l2_errors, 2u);
}

TEST(CacheOpenTest, AnUnreachableRedisIsAClearError) {
  auto port = test_servers::FreePort();
  ASSERT_TRUE(port.ok());
  CacheOptions options;
  options.redis.port = *port;
  auto cache = TieredCache::Open(options);
  ASSERT_EQ(cache.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(cache.status().message().find("Redis 127.0.0.1:" + std::to_string(*port) +
                                          " cannot be reached"),
            std::string::npos)
      << cache.status().ToString();
}

}  // namespace
}  // namespace aits::cache
