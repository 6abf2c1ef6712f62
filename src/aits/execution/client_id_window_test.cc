#include "aits/execution/client_id_window.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <unordered_set>

namespace aits::execution {
namespace {

TEST(ClientIdWindowTest, InsertContainsAndEmpty) {
  ClientIdWindow window(4);
  EXPECT_FALSE(window.Contains("a"));
  EXPECT_TRUE(window.Insert("a"));
  EXPECT_TRUE(window.Contains("a"));
  EXPECT_FALSE(window.Insert("a"));
  EXPECT_FALSE(window.Insert(""));
  EXPECT_FALSE(window.Contains(""));
  EXPECT_EQ(window.size(), 1u);
}

TEST(ClientIdWindowTest, ForgetsTheOldestWhenFull) {
  ClientIdWindow window(3);
  for (const char* id : {"a", "b", "c", "d"}) EXPECT_TRUE(window.Insert(id));
  EXPECT_EQ(window.size(), 3u);
  EXPECT_FALSE(window.Contains("a"));
  EXPECT_TRUE(window.Contains("b"));
  EXPECT_TRUE(window.Contains("d"));
  // A refused duplicate does not count as a use: "b" stays the oldest and leaves next.
  EXPECT_FALSE(window.Insert("c"));
  EXPECT_TRUE(window.Insert("e"));
  EXPECT_FALSE(window.Contains("b"));
  EXPECT_TRUE(window.Contains("c"));
}

// Against a plain model (a FIFO of ids and a set), over enough inserts to evict many times and to
// make deletions from the middle of long probe chains: a broken backward shift loses ids there.
TEST(ClientIdWindowTest, MatchesAModelThroughManyEvictions) {
  for (size_t capacity : {1u, 7u, 1000u, 5000u}) {
    ClientIdWindow window(capacity);
    std::deque<std::string> fifo;
    std::unordered_set<std::string> model;
    std::mt19937_64 random(capacity);
    for (int step = 0; step < 60'000; ++step) {
      // Ids drawn from a range about three times the capacity: many repeats, many evictions.
      const std::string id = "id" + std::to_string(random() % (3 * capacity + 1));
      const bool fresh = !model.count(id);
      ASSERT_EQ(window.Insert(id), fresh) << capacity << " step " << step << " " << id;
      if (fresh) {
        if (fifo.size() == capacity) {
          model.erase(fifo.front());
          fifo.pop_front();
        }
        fifo.push_back(id);
        model.insert(id);
      }
      ASSERT_EQ(window.size(), model.size());
      if (step % 97 == 0) {
        for (size_t probe = 0; probe <= 3 * capacity; probe += 1 + capacity / 50) {
          const std::string other = "id" + std::to_string(probe);
          ASSERT_EQ(window.Contains(other), model.count(other) == 1)
              << capacity << " step " << step << " " << other;
        }
      }
    }
  }
}

}  // namespace
}  // namespace aits::execution
