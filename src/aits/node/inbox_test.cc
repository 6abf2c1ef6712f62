#include "aits/node/inbox.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace aits::node {

// Readable results in failure messages.
void PrintTo(PushResult result, std::ostream* out) {
  constexpr const char* kNames[] = {"kAccepted", "kFull", "kClosed"};
  *out << kNames[static_cast<int>(result)];
}
void PrintTo(PopResult result, std::ostream* out) {
  constexpr const char* kNames[] = {"kEvent", "kTimedOut", "kClosed"};
  *out << kNames[static_cast<int>(result)];
}

namespace {

using Clock = std::chrono::steady_clock;

// Long enough never to pass on a working inbox, even under ThreadSanitizer on a loaded machine: a
// WaitPop that returns kTimedOut with this deadline means a lost wake-up, not a slow test.
constexpr auto kNoWakeUpLost = std::chrono::seconds(60);

// Waits (yielding) until pred() holds. Tests use it to reach a state, never to time anything.
template <typename Pred>
void AwaitState(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

struct Stamped {
  uint32_t producer = 0;
  uint32_t seq = 0;
};

TEST(InboxTest, CapacityIsRoundedUpToAPowerOfTwo) {
  EXPECT_EQ(Inbox<int>(0).capacity(), 2u);
  EXPECT_EQ(Inbox<int>(2).capacity(), 2u);
  EXPECT_EQ(Inbox<int>(5).capacity(), 8u);
  EXPECT_EQ(Inbox<int>(1024).capacity(), 1024u);
  EXPECT_EQ(Inbox<int>(1025).capacity(), 2048u);
}

TEST(InboxTest, SingleThreadFifo) {
  Inbox<int> inbox(8);
  int out = -1;
  EXPECT_FALSE(inbox.TryPop(out));
  EXPECT_EQ(out, -1);
  for (int value = 0; value < 5; ++value) ASSERT_EQ(inbox.TryPush(value), PushResult::kAccepted);
  EXPECT_EQ(inbox.SizeApprox(), 5u);
  for (int value = 0; value < 5; ++value) {
    ASSERT_TRUE(inbox.TryPop(out));
    EXPECT_EQ(out, value);
  }
  EXPECT_FALSE(inbox.TryPop(out));
  EXPECT_EQ(inbox.SizeApprox(), 0u);
  EXPECT_EQ(inbox.full_count(), 0u);
}

TEST(InboxTest, FullInboxRefusesWithoutTakingTheEvent) {
  Inbox<std::unique_ptr<int>> inbox(4);
  for (int value = 0; value < 4; ++value) {
    ASSERT_EQ(inbox.TryPush(std::make_unique<int>(value)), PushResult::kAccepted);
  }
  EXPECT_EQ(inbox.SizeApprox(), 4u);
  auto extra = std::make_unique<int>(4);
  EXPECT_EQ(inbox.TryPush(std::move(extra)), PushResult::kFull);
  ASSERT_NE(extra, nullptr) << "a refused push must leave the caller's event alone";
  EXPECT_EQ(inbox.TryPush(std::move(extra)), PushResult::kFull);
  EXPECT_EQ(inbox.full_count(), 2u);

  std::unique_ptr<int> out;
  ASSERT_TRUE(inbox.TryPop(out));
  EXPECT_EQ(*out, 0);
  EXPECT_EQ(inbox.TryPush(std::move(extra)), PushResult::kAccepted);
  EXPECT_EQ(extra, nullptr);
  for (int value = 1; value <= 4; ++value) {
    ASSERT_TRUE(inbox.TryPop(out));
    EXPECT_EQ(*out, value);
  }
  EXPECT_FALSE(inbox.TryPop(out));
  EXPECT_EQ(inbox.full_count(), 2u);
}

TEST(InboxTest, WrapsAroundManyTimes) {
  Inbox<uint64_t> inbox(4);
  uint64_t next_in = 0;
  uint64_t next_out = 0;
  // Batches of 1..4 events: every slot is reused about 25,000 times, at every offset.
  for (int round = 0; round < 40'000; ++round) {
    const int batch = 1 + round % 4;
    for (int idx = 0; idx < batch; ++idx) {
      ASSERT_EQ(inbox.TryPush(next_in), PushResult::kAccepted);
      ++next_in;
    }
    if (batch == 4) {
      ASSERT_EQ(inbox.TryPush(next_in), PushResult::kFull);
    }
    uint64_t out = 0;
    for (int idx = 0; idx < batch; ++idx) {
      ASSERT_TRUE(inbox.TryPop(out));
      ASSERT_EQ(out, next_out);
      ++next_out;
    }
  }
  EXPECT_EQ(next_out, 100'000u);
  EXPECT_EQ(inbox.full_count(), 10'000u);
}

TEST(InboxTest, DrainHandsOverInOrderAndStopsAtTheLimit) {
  Inbox<std::string> inbox(8);
  for (int value = 0; value < 6; ++value) {
    ASSERT_EQ(inbox.TryPush(std::string(40, static_cast<char>('a' + value))),
              PushResult::kAccepted);
  }
  std::vector<std::string> seen;
  const auto keep = [&](std::string&& event) { seen.push_back(std::move(event)); };
  EXPECT_EQ(inbox.Drain(keep, 4), 4u);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[3], std::string(40, 'd'));
  EXPECT_EQ(inbox.Drain(keep, 100), 2u);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[5], std::string(40, 'f'));
  EXPECT_EQ(inbox.Drain(keep, 100), 0u);
}

TEST(InboxTest, DestroysTheEventsLeftInside) {
  auto shared = std::make_shared<int>(7);
  {
    Inbox<std::shared_ptr<int>> inbox(4);
    for (int idx = 0; idx < 3; ++idx) ASSERT_EQ(inbox.TryPush(shared), PushResult::kAccepted);
    std::shared_ptr<int> out;
    ASSERT_TRUE(inbox.TryPop(out));  // one popped (a slot was reused), two left inside
    out.reset();
    EXPECT_EQ(shared.use_count(), 3);
  }
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(InboxTest, WaitPopTimesOutWhenNothingArrives) {
  for (const uint32_t spins : {0u, Inbox<int>::kDefaultSpinIterations}) {
    Inbox<int> inbox(4, spins);
    int out = -1;
    EXPECT_EQ(inbox.WaitPop(out, Clock::now() + std::chrono::milliseconds(5)),
              PopResult::kTimedOut);
    EXPECT_EQ(inbox.WaitPop(out, Clock::now() - std::chrono::seconds(1)), PopResult::kTimedOut);
    EXPECT_EQ(out, -1);
    EXPECT_FALSE(inbox.consumer_parked());
  }
}

TEST(InboxTest, WaitPopReturnsAnEventAlreadyThereEvenPastItsDeadline) {
  Inbox<int> inbox(4, 0);
  ASSERT_EQ(inbox.TryPush(42), PushResult::kAccepted);
  int out = 0;
  EXPECT_EQ(inbox.WaitPop(out, Clock::now() - std::chrono::seconds(1)), PopResult::kEvent);
  EXPECT_EQ(out, 42);
}

TEST(InboxTest, PushWakesAParkedConsumer) {
  Inbox<int> inbox(4, 0);
  PopResult result = PopResult::kTimedOut;
  int out = 0;
  std::thread consumer([&] { result = inbox.WaitPop(out, Clock::now() + kNoWakeUpLost); });
  AwaitState([&] { return inbox.park_count() > 0; });  // asleep, or about to be
  ASSERT_EQ(inbox.TryPush(7), PushResult::kAccepted);
  consumer.join();
  EXPECT_EQ(result, PopResult::kEvent);
  EXPECT_EQ(out, 7);
  EXPECT_FALSE(inbox.consumer_parked());
}

// A lost wake-up needs a push that lands while the consumer is between "found the inbox empty"
// and "asleep". Two threads bounce a counter: the consumer never spins (it parks whenever its
// inbox is empty); the producer gets the reply in its spin phase and pushes the next event after
// a delay that sweeps 0..255 CPU pauses, so over the rounds its pushes fall before, inside and
// after the consumer's parking sequence. A lost wake-up leaves the consumer asleep until its
// deadline, which fails the test (nothing is timed).
TEST(InboxTest, PushesRacingTheConsumerParkingLoseNoWakeUp) {
  constexpr uint32_t kRounds = 50'000;
  Inbox<uint32_t> to_consumer(2, 0);
  Inbox<uint32_t> to_producer(2);
  uint32_t consumer_failures = 0;
  std::thread consumer([&] {
    uint32_t value = 0;
    for (uint32_t round = 0; round < kRounds; ++round) {
      if (to_consumer.WaitPop(value, Clock::now() + kNoWakeUpLost) != PopResult::kEvent ||
          to_producer.TryPush(value + 1) != PushResult::kAccepted) {
        ++consumer_failures;
        return;
      }
    }
  });
  uint32_t value = 0;
  for (uint32_t round = 0; round < kRounds; ++round) {
    for (uint32_t pause = 0; pause < round % 256; ++pause) internal::CpuRelax();
    ASSERT_EQ(to_consumer.TryPush(value), PushResult::kAccepted);
    ASSERT_EQ(to_producer.WaitPop(value, Clock::now() + kNoWakeUpLost), PopResult::kEvent)
        << "round " << round << ": the consumer missed a wake-up";
    ASSERT_EQ(value, round + 1);
  }
  consumer.join();
  EXPECT_EQ(consumer_failures, 0u);
  // The consumer really slept: the test went through the parked path, not only the fast one.
  EXPECT_GT(to_consumer.park_count(), 0u);
}

TEST(InboxTest, CloseReleasesAParkedConsumer) {
  Inbox<int> inbox(4, 0);
  PopResult result = PopResult::kEvent;
  std::thread consumer([&] {
    int out = 0;
    result = inbox.WaitPop(out, Inbox<int>::Deadline::max());
  });
  AwaitState([&] { return inbox.park_count() > 0; });
  inbox.Close();
  consumer.join();
  EXPECT_EQ(result, PopResult::kClosed);
  EXPECT_TRUE(inbox.closed());
}

TEST(InboxTest, CloseDeliversAcceptedEventsThenRefusesAndReportsClosed) {
  Inbox<int> inbox(4);
  ASSERT_EQ(inbox.TryPush(1), PushResult::kAccepted);
  ASSERT_EQ(inbox.TryPush(2), PushResult::kAccepted);
  inbox.Close();
  inbox.Close();  // idempotent
  EXPECT_EQ(inbox.TryPush(3), PushResult::kClosed);
  EXPECT_EQ(inbox.Push(4), PushResult::kClosed);
  EXPECT_EQ(inbox.refused_count(), 2u);
  EXPECT_EQ(inbox.full_count(), 0u);
  int out = 0;
  ASSERT_EQ(inbox.WaitPop(out, Inbox<int>::Deadline::max()), PopResult::kEvent);
  EXPECT_EQ(out, 1);
  ASSERT_EQ(inbox.WaitPop(out, Inbox<int>::Deadline::max()), PopResult::kEvent);
  EXPECT_EQ(out, 2);
  EXPECT_EQ(inbox.WaitPop(out, Inbox<int>::Deadline::max()), PopResult::kClosed);
  EXPECT_FALSE(inbox.TryPop(out));
}

TEST(InboxTest, PushWaitsForRoomAndDropsNothing) {
  Inbox<int> inbox(2);
  ASSERT_EQ(inbox.TryPush(1), PushResult::kAccepted);
  ASSERT_EQ(inbox.TryPush(2), PushResult::kAccepted);
  PushResult result = PushResult::kFull;
  std::thread producer([&] { result = inbox.Push(3); });
  AwaitState([&] { return inbox.full_count() > 0; });  // the producer found it full
  int out = 0;
  ASSERT_TRUE(inbox.TryPop(out));
  EXPECT_EQ(out, 1);
  producer.join();
  EXPECT_EQ(result, PushResult::kAccepted);
  EXPECT_EQ(inbox.full_count(), 1u);  // once per waiting Push, however long it waited
  ASSERT_TRUE(inbox.TryPop(out));
  EXPECT_EQ(out, 2);
  ASSERT_TRUE(inbox.TryPop(out));
  EXPECT_EQ(out, 3);
}

TEST(InboxTest, CloseReleasesAProducerWaitingForRoom) {
  Inbox<int> inbox(2);
  ASSERT_EQ(inbox.TryPush(1), PushResult::kAccepted);
  ASSERT_EQ(inbox.TryPush(2), PushResult::kAccepted);
  PushResult result = PushResult::kAccepted;
  std::thread producer([&] { result = inbox.Push(3); });
  AwaitState([&] { return inbox.full_count() > 0; });
  inbox.Close();
  producer.join();
  EXPECT_EQ(result, PushResult::kClosed);
  EXPECT_EQ(inbox.refused_count(), 1u);
  EXPECT_EQ(inbox.SizeApprox(), 2u);
}

// Several producers push through a small ring (so it is full and wraps often) while one consumer
// pops; the consumer checks that every event arrives exactly once and, per producer, in order.
// Run with a spinning consumer and with one that parks whenever the ring is empty.
class InboxProducersTest : public testing::TestWithParam<uint32_t> {};

TEST_P(InboxProducersTest, EveryEventArrivesOnceAndInOrderPerProducer) {
  constexpr uint32_t kProducers = 4;
  constexpr uint32_t kPerProducer = 200'000;
  Inbox<Stamped> inbox(1024, GetParam());

  std::vector<std::thread> producers;
  std::vector<PushResult> failures(kProducers, PushResult::kAccepted);
  for (uint32_t producer = 0; producer < kProducers; ++producer) {
    producers.emplace_back([&inbox, &failures, producer] {
      for (uint32_t seq = 0; seq < kPerProducer; ++seq) {
        const PushResult result = inbox.Push(Stamped{producer, seq});
        if (result != PushResult::kAccepted) {
          failures[producer] = result;
          return;
        }
      }
    });
  }

  std::vector<uint32_t> next(kProducers, 0);
  uint64_t received = 0;
  uint64_t out_of_order = 0;
  const auto check = [&](const Stamped& event) {
    if (event.producer >= kProducers || event.seq != next[event.producer]) {
      ++out_of_order;
    } else {
      ++next[event.producer];
    }
    ++received;
  };
  // Alternate the two ways the event loop pops: one event with WaitPop, then a batch with Drain.
  while (received < uint64_t{kProducers} * kPerProducer && out_of_order == 0) {
    Stamped event;
    const PopResult result = inbox.WaitPop(event, Clock::now() + kNoWakeUpLost);
    ASSERT_EQ(result, PopResult::kEvent) << "after " << received << " events";
    check(event);
    inbox.Drain([&](Stamped&& batched) { check(batched); }, 64);
  }
  for (std::thread& thread : producers) thread.join();

  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(received, uint64_t{kProducers} * kPerProducer);
  for (uint32_t producer = 0; producer < kProducers; ++producer) {
    EXPECT_EQ(next[producer], kPerProducer) << "producer " << producer;
    EXPECT_EQ(failures[producer], PushResult::kAccepted) << "producer " << producer;
  }
  Stamped extra;
  EXPECT_FALSE(inbox.TryPop(extra)) << "an event arrived twice";
  inbox.Close();
  EXPECT_EQ(inbox.WaitPop(extra, Inbox<Stamped>::Deadline::max()), PopResult::kClosed);
}

std::string SpinName(const testing::TestParamInfo<uint32_t>& spins) {
  return spins.param == 0 ? "ParksAtOnce" : "SpinsFirst";
}

INSTANTIATE_TEST_SUITE_P(SpinningAndParking, InboxProducersTest,
                         testing::Values(Inbox<Stamped>::kDefaultSpinIterations, 0u), SpinName);

// Producers racing Close(): every push that was accepted reaches the consumer before WaitPop
// reports kClosed, and every other push was refused and counted.
TEST(InboxTest, AcceptedPushesRacingCloseAreAllDelivered) {
  constexpr uint32_t kProducers = 3;
  Inbox<Stamped> inbox(64, 0);
  std::vector<uint64_t> accepted(kProducers, 0);
  std::vector<std::thread> producers;
  for (uint32_t producer = 0; producer < kProducers; ++producer) {
    producers.emplace_back([&inbox, &accepted, producer] {
      for (uint32_t seq = 0;; ++seq) {
        if (inbox.Push(Stamped{producer, seq}) != PushResult::kAccepted) return;
        ++accepted[producer];
      }
    });
  }
  uint64_t received = 0;
  Stamped event;
  for (; received < 50'000; ++received) {
    ASSERT_EQ(inbox.WaitPop(event, Clock::now() + kNoWakeUpLost), PopResult::kEvent);
  }
  inbox.Close();
  PopResult result = PopResult::kEvent;
  while ((result = inbox.WaitPop(event, Clock::now() + kNoWakeUpLost)) == PopResult::kEvent) {
    ++received;
  }
  for (std::thread& thread : producers) thread.join();
  EXPECT_EQ(result, PopResult::kClosed);
  uint64_t total_accepted = 0;
  for (const uint64_t count : accepted) total_accepted += count;
  EXPECT_EQ(received, total_accepted);
  EXPECT_EQ(inbox.refused_count(), kProducers);
}

}  // namespace
}  // namespace aits::node
