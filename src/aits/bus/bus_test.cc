#include "aits/bus/bus.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aits/model/market.h"
#include "aits/model/order.h"

namespace aits {
namespace {

struct Ping {
  static constexpr MessageType kMessageType = MessageType::kFirstTestMessage;
  int value;
};
struct Pong {
  static constexpr MessageType kMessageType = static_cast<MessageType>(1001);
  std::string text;
};
// Declares Ping's id: a programming error the bus must catch, not a silent cast.
struct PingImpostor {
  static constexpr MessageType kMessageType = MessageType::kFirstTestMessage;
  double value;
};

TEST(BusTest, DeliversByTypeInSubscriptionOrder) {
  Bus bus;
  std::vector<std::string> seen;
  bus.Subscribe<Ping>([&](const Ping& ping) { seen.push_back("a" + std::to_string(ping.value)); });
  bus.Subscribe<Ping>([&](const Ping& ping) { seen.push_back("b" + std::to_string(ping.value)); });
  bus.Subscribe<Pong>([&](const Pong& pong) { seen.push_back(pong.text); });
  bus.Publish(Ping{1});
  bus.Publish(Pong{"x"});
  bus.Publish(Ping{2});
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "b1", "x", "a2", "b2"}));
  EXPECT_EQ(bus.PublishedCount<Ping>(), 2u);
  EXPECT_EQ(bus.PublishedCount<Pong>(), 1u);
}

TEST(BusTest, PublishWithoutSubscribersIsHarmless) {
  Bus bus;
  EXPECT_FALSE(bus.HasSubscribers<Ping>());
  bus.Publish(Ping{3});
  EXPECT_EQ(bus.PublishedCount<Ping>(), 0u);
  bus.Subscribe<Ping>([](const Ping&) {});
  EXPECT_TRUE(bus.HasSubscribers<Ping>());
  EXPECT_FALSE(bus.HasSubscribers<Pong>());
}

TEST(BusTest, ChannelsAreTheStableIds) {
  // The id, not the order in which a process first meets a type, picks the channel: a bus that
  // meets Pong first still delivers Ping on channel kFirstTestMessage.
  Bus bus;
  int pings = 0;
  bus.Subscribe<Pong>([](const Pong&) {});
  bus.Subscribe<Ping>([&](const Ping& ping) { pings += ping.value; });
  bus.Publish(Ping{5});
  EXPECT_EQ(pings, 5);
  static_assert(static_cast<int>(Fill::kMessageType) == 3);
  static_assert(static_cast<int>(Bar::kMessageType) == 2);
}

TEST(BusDeathTest, TwoTypesWithOneIdAbort) {
  Bus bus;
  bus.Subscribe<Ping>([](const Ping&) {});
  EXPECT_DEATH(bus.Publish(PingImpostor{1.0}), "two message types declare the stable id 1000");
  EXPECT_DEATH(bus.Subscribe<PingImpostor>([](const PingImpostor&) {}), "stable id 1000");
}

}  // namespace
}  // namespace aits
