// A test binary that hangs on purpose, for hang_watch_test.sh: its one test waits for ever in a
// function whose name the stacks must show.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "aits/testing/hang_watch.h"

namespace {

[[maybe_unused]] const bool kHangWatched = aits::test_hang_watch::Watch(std::chrono::seconds(2));

[[gnu::noinline]] void WaitsForAServerThatNeverAnswers() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

TEST(HangWatchProbe, Hangs) { WaitsForAServerThatNeverAnswers(); }

}  // namespace
