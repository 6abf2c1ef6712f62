#include "aits/trace/span_index.h"

#include <gtest/gtest.h>

#include <thread>

namespace aits::trace {
namespace {

SpanContext ContextNumbered(uint8_t n) {
  SpanContext context;
  context.trace_id[0] = n;
  context.span_id[7] = n;
  context.flags = SpanContext::kSampled;
  return context;
}

TEST(SpanIndexTest, AKeysLastSpanUntilForgotten) {
  SpanIndex index(/*capacity=*/3);
  EXPECT_FALSE(index.Get(1).valid());
  index.Put(1, ContextNumbered(1));
  index.Put(2, ContextNumbered(2));
  index.Put(1, ContextNumbered(11));  // put again: the later span, still the oldest key
  EXPECT_EQ(index.Get(1).span_id[7], 11);
  EXPECT_EQ(index.Get(2).span_id[7], 2);
  index.Put(3, ContextNumbered(3));
  index.Put(4, ContextNumbered(4));  // over capacity: key 1 goes
  EXPECT_FALSE(index.Get(1).valid());
  EXPECT_EQ(index.Get(4).span_id[7], 4);
}

// The kernel's thread puts while the relay's gets (ThreadSanitizer: label tsan).
TEST(SpanIndexTest, APutterAndAGetterOnTwoThreads) {
  SpanIndex index;
  std::thread putter([&] {
    for (uint64_t key = 1; key <= 10'000; ++key)
      index.Put(key, ContextNumbered(static_cast<uint8_t>(key)));
  });
  for (uint64_t key = 1; key <= 10'000; ++key) {
    const SpanContext got = index.Get(key);
    if (got.valid()) {
      EXPECT_EQ(got.span_id[7], static_cast<uint8_t>(key));
    }
  }
  putter.join();
  EXPECT_EQ(index.Get(10'000).span_id[7], static_cast<uint8_t>(10'000));
}

}  // namespace
}  // namespace aits::trace
