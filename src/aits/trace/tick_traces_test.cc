#include "aits/trace/tick_traces.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>

namespace aits::trace {
namespace {

Timestamp At(int64_t ms) { return Timestamp::FromNanos(ms * 1'000'000); }

std::string Parent(int n) {
  char span[17];
  std::snprintf(span, sizeof span, "%016x", n);
  return "00-4bf92f3577b34da6a3ce929d0e0e4736-" + std::string(span) + "-01";
}

TEST(TickTracesTest, EachTickIsTakenForTheMessageThatCarriedIt) {
  TickTraces traces;
  traces.Add(0, At(100), Parent(1));           // ticks 100..199
  traces.Add(0, At(200), Parent(2));           // 200..
  traces.Add(1, At(150), Parent(3));           // another instrument's
  EXPECT_FALSE(traces.Of(0, At(99)).valid());  // before any message
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(100))), Parent(1));
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(199))), Parent(1));
  EXPECT_EQ(FormatTraceparent(traces.Of(1, At(199))), Parent(3));
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(200))), Parent(2));
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(10'000))), Parent(2));
  EXPECT_FALSE(traces.Of(7, At(200)).valid());  // an instrument never noted
}

TEST(TickTracesTest, AMessageWithoutATraceparentIsNotTakenForThePreviousOne) {
  TickTraces traces;
  traces.Add(0, At(100), Parent(1));
  traces.Add(0, At(200), "");
  traces.Add(0, At(300), "00-not-a-traceparent");
  traces.Add(0, At(400), Parent(4));
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(150))), Parent(1));
  EXPECT_FALSE(traces.Of(0, At(250)).valid());
  EXPECT_FALSE(traces.Of(0, At(350)).valid());
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(400))), Parent(4));
}

TEST(TickTracesTest, UnaskedEntriesAreBoundedAndCounted) {
  TickTraces traces;
  for (size_t n = 0; n < TickTraces::kMaxPerInstrument + 10; ++n) {
    traces.Add(0, At(static_cast<int64_t>(n)), Parent(static_cast<int>(n) + 1));
  }
  EXPECT_EQ(traces.dropped(), 10u);
  EXPECT_FALSE(traces.Of(0, At(5)).valid());  // forgotten
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(10))), Parent(11));
}

// The reader's thread notes while the kernel's asks (ThreadSanitizer: label tsan).
TEST(TickTracesTest, AReaderAndATakerOnTwoThreads) {
  TickTraces traces;
  constexpr int kMessages = 20'000;
  std::thread reader([&] {
    for (int n = 0; n < kMessages; ++n) traces.Add(0, At(n * 10), Parent(n + 1));
  });
  // The reader may be behind: the answer is then the last message noted, never a later one
  // than the tick's, and never going back.
  int last = 0;
  for (int n = 0; n < kMessages; ++n) {
    const SpanContext got = traces.Of(0, At(n * 10 + 5));
    if (!got.valid()) {
      EXPECT_EQ(last, 0) << "nothing, after message " << last;
      continue;
    }
    const int message = std::stoi(FormatTraceparent(got).substr(36, 16), nullptr, 16);
    EXPECT_LE(message, n + 1);
    EXPECT_GE(message, last);
    last = message;
  }
  reader.join();
  EXPECT_EQ(FormatTraceparent(traces.Of(0, At(kMessages * 10))), Parent(kMessages));
}

}  // namespace
}  // namespace aits::trace
