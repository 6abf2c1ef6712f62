#include "aits/core/resilience.h"

#include <gtest/gtest.h>

#include <vector>

namespace aits {
namespace {

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreakerTest() { clock_.AdvanceTo(Timestamp::FromNanos(1'000'000'000'000)); }

  SimulatedClock clock_;
  CircuitBreaker breaker_{"nats nats://127.0.0.1:4222",
                          CircuitBreaker::Options{3, Duration::Seconds(5), 1}, clock_};
};

TEST_F(CircuitBreakerTest, OpensAfterFailuresInARowAndRefusesAtOnceNamingTheDependency) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(breaker_.Admit().ok());
    breaker_.Record(Unavailable("down"));
  }
  EXPECT_EQ(breaker_.state(), CircuitBreaker::State::kClosed);
  ASSERT_TRUE(breaker_.Admit().ok());
  breaker_.Record(DeadlineExceeded("slow"));
  EXPECT_EQ(breaker_.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(breaker_.opened(), 1u);
  const Status refused = breaker_.Admit();
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("nats nats://127.0.0.1:4222"), std::string::npos);
  EXPECT_NE(refused.message().find("5.0 s"), std::string::npos) << refused.message();
  EXPECT_EQ(breaker_.refused(), 1u);
}

TEST_F(CircuitBreakerTest, ASuccessOrABadRequestBetweenFailuresResetsTheCount) {
  for (const Status& between : {Status::Ok(), InvalidArgument("bad subject")}) {
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(breaker_.Admit().ok());
      breaker_.Record(Unavailable("down"));
    }
    ASSERT_TRUE(breaker_.Admit().ok());
    breaker_.Record(between);
  }
  EXPECT_EQ(breaker_.state(), CircuitBreaker::State::kClosed);
}

TEST_F(CircuitBreakerTest, AfterTheOpenTimeOneProbeDecides) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(breaker_.Admit().ok());
    breaker_.Record(Unavailable("down"));
  }
  clock_.AdvanceTo(clock_.Now() + Duration::Seconds(5));
  ASSERT_TRUE(breaker_.Admit().ok()) << "the probe";
  EXPECT_EQ(breaker_.state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_EQ(breaker_.Admit().code(), StatusCode::kUnavailable) << "one probe at a time";
  breaker_.Record(Unavailable("still down"));
  EXPECT_EQ(breaker_.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(breaker_.opened(), 2u);
  EXPECT_FALSE(breaker_.Admit().ok());

  clock_.AdvanceTo(clock_.Now() + Duration::Seconds(5));
  ASSERT_TRUE(breaker_.Admit().ok());
  breaker_.Record(Status::Ok());
  EXPECT_EQ(breaker_.state(), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(breaker_.Admit().ok());
}

TEST(BackoffTest, GrowsGeometricallyUpToTheCapWithinTheJitter) {
  BackoffPolicy policy;  // 50 ms, x2, cap 5 s, jitter 20 %
  EXPECT_EQ(BackoffDelay(policy, 1, 0.5), Duration::Millis(50));
  EXPECT_EQ(BackoffDelay(policy, 2, 0.5), Duration::Millis(100));
  EXPECT_EQ(BackoffDelay(policy, 4, 0.5), Duration::Millis(400));
  EXPECT_EQ(BackoffDelay(policy, 20, 0.5), Duration::Seconds(5));
  EXPECT_EQ(BackoffDelay(policy, 1, 0.0), Duration::Millis(40));
  EXPECT_EQ(BackoffDelay(policy, 1, 1.0), Duration::Millis(60));
}

TEST(CallWithRetryTest, RetriesWhatMaySucceedLaterAndStopsAtWhatWillNot) {
  SimulatedClock clock;
  CircuitBreaker breaker("redis", CircuitBreaker::Options{10, Duration::Seconds(5), 1}, clock);
  BackoffPolicy policy;
  std::vector<Duration> slept;
  const auto sleep = [&](Duration d) {
    slept.push_back(d);
    clock.AdvanceTo(clock.Now() + d);
  };
  const auto half = [] { return 0.5; };

  int calls = 0;
  Status s = CallWithRetry(
      breaker, policy,
      [&] { return ++calls < 3 ? Unavailable("connection refused") : Status::Ok(); }, sleep, half);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(slept, (std::vector<Duration>{Duration::Millis(50), Duration::Millis(100)}));

  calls = 0;
  s = CallWithRetry(
      breaker, policy, [&] { return ++calls, InvalidArgument("bad key"); }, sleep, half);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1) << "bad input is not retried";

  calls = 0;
  s = CallWithRetry(
      breaker, policy, [&] { return ++calls, DeadlineExceeded("timeout"); }, sleep, half);
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(calls, policy.max_attempts);
}

TEST(CallWithRetryTest, AnOpenBreakerEndsTheRetriesWithoutCalling) {
  SimulatedClock clock;
  CircuitBreaker breaker("postgres", CircuitBreaker::Options{2, Duration::Seconds(30), 1}, clock);
  int calls = 0;
  const Status s = CallWithRetry(
      breaker, BackoffPolicy{}, [&] { return ++calls, Unavailable("down"); },
      [&](Duration d) { clock.AdvanceTo(clock.Now() + d); }, [] { return 0.5; });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("circuit open"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace aits
