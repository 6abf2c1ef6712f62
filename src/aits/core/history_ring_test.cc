#include "aits/core/history_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aits {
namespace {

TEST(HistoryRingTest, GrowsKeepsOrderAndReusesSlots) {
  HistoryRing<std::string> ring;
  EXPECT_TRUE(ring.empty());
  const size_t count = 3 * HistoryRing<std::string>::kBlock + 8;  // four blocks
  for (size_t idx = 0; idx < count; ++idx) ring.push_back("s" + std::to_string(idx));
  ASSERT_EQ(ring.size(), count);
  const std::string* first = &ring.front();
  ring.push_back("more");
  EXPECT_EQ(first, &ring.front());  // growing moves nothing
  EXPECT_EQ(ring.back(), "more");
  while (ring.size() > 40) ring.pop_front();
  for (size_t idx = 0; idx < 40; ++idx) ring.pop_front();
  EXPECT_TRUE(ring.empty());
  for (int idx = 0; idx < 40; ++idx) ring.push_back("s" + std::to_string(idx));  // spare blocks
  ASSERT_EQ(ring.size(), 40u);
  EXPECT_EQ(ring.front(), "s0");
  EXPECT_EQ(ring.back(), "s39");
  for (int idx = 0; idx < 30; ++idx) ring.pop_front();
  EXPECT_EQ(ring.front(), "s30");
  // Crosses into the next block: the order from the front is kept.
  for (int idx = 40; idx < 70; ++idx) ring.push_back("s" + std::to_string(idx));
  ASSERT_EQ(ring.size(), 40u);
  std::vector<std::string> seen(ring.begin(), ring.end());
  ASSERT_EQ(seen.size(), 40u);
  for (size_t idx = 0; idx < seen.size(); ++idx) {
    EXPECT_EQ(seen[idx], "s" + std::to_string(30 + idx));
    EXPECT_EQ(ring[idx], seen[idx]);
  }
  // A reused slot still holds its old value until the caller assigns it.
  ring.pop_front();
  std::string& slot = ring.push_back_slot();
  slot = "fresh";
  EXPECT_EQ(ring.back(), "fresh");
  ring.resize(3);
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring[0], "s31");
  ring.resize(5);
  EXPECT_EQ(ring[4], "");
}

}  // namespace
}  // namespace aits
