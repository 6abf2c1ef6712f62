// A watchdog for test binaries whose tests talk to real servers (NATS above all): when one test
// has run longer than a limit, it prints the test's name and every thread's stack (gdb attached
// to the process), then ends the process with exit code 124. A hang then costs the suite the
// limit rather than ctest's whole timeout, and leaves the stacks that say where it waited: a
// hang seen once in CI, never reproduced in hundreds of runs here, left nothing but "Timeout".
//
// Use: one line at namespace scope in the test file,
//   const bool kHangWatched = aits::test_hang_watch::Watch(std::chrono::seconds(120));
// The first call registers a googletest listener and starts the watchdog's thread; later calls
// keep the smallest limit. Without gdb on the machine it says so instead of the stacks.
#pragma once

#include <chrono>

namespace aits::test_hang_watch {

bool Watch(std::chrono::seconds limit);

}  // namespace aits::test_hang_watch
