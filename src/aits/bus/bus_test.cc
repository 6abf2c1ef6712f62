#include "aits/bus/bus.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aits {
namespace {

struct Ping {
  int value;
};
struct Pong {
  std::string text;
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
  bus.Publish(Ping{3});
  EXPECT_EQ(bus.PublishedCount<Ping>(), 0u);
}

}  // namespace
}  // namespace aits
