#include "aits/feed/dedup.h"

#include <gtest/gtest.h>

#include <vector>

namespace aits::feed {
namespace {

SequencedTick At(uint32_t symbol, int64_t ms, uint64_t sequence) {
  SequencedTick st;
  st.tick.ts = Timestamp{ms * 1'000'000};
  st.tick.bid = Price::FromRaw(1'100'000'000, 5);
  st.tick.ask = Price::FromRaw(1'100'010'000, 5);
  st.tick.instrument = InstrumentId{symbol};
  st.sequence = sequence;
  return st;
}

std::vector<uint8_t> Encode(std::vector<BatchSymbol> symbols, std::vector<SequencedTick> ticks) {
  TickBatch batch{std::move(symbols), std::move(ticks)};
  return EncodeBatch(batch, Compression::kLz4).value();
}

TEST(DedupReceiverTest, DropsTicksAlreadyDeliveredAndCountsThem) {
  DedupReceiver receiver;
  std::vector<SequencedTick> out;
  const auto first =
      Encode({{"EURUSD", 5}, {"GBPUSD", 5}}, {At(0, 1, 1), At(1, 1, 1), At(0, 2, 2), At(1, 3, 2)});
  ASSERT_TRUE(receiver.Receive(first, out).ok());
  EXPECT_EQ(out.size(), 4u);
  // The same batch again (a resent spill), then one that overlaps it, with the symbols listed in
  // another order: the receiver maps them by name.
  ASSERT_TRUE(receiver.Receive(first, out).ok());
  const auto overlap =
      Encode({{"GBPUSD", 5}, {"EURUSD", 5}}, {At(1, 2, 2), At(0, 3, 2), At(1, 3, 3), At(0, 4, 3)});
  ASSERT_TRUE(receiver.Receive(overlap, out).ok());
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(receiver.stats().duplicates, 6u);
  EXPECT_EQ(receiver.stats().ticks, 6u);
  EXPECT_EQ(receiver.stats().batches, 3u);
  // EURUSD and GBPUSD at 1 ms with sequence 1 were two ticks; the new ones are in order.
  EXPECT_NE(out[0].tick.instrument, out[1].tick.instrument);
  EXPECT_EQ(receiver.symbol_name(out[4].tick.instrument.value), "EURUSD");
  EXPECT_EQ(out[4].tick.ts.ns, 3'000'000);
  EXPECT_EQ(receiver.symbol_name(out[5].tick.instrument.value), "GBPUSD");
  EXPECT_EQ(out[5].sequence, 3u);
}

TEST(DedupReceiverTest, RefusesABadBatchWhole) {
  DedupReceiver receiver;
  std::vector<SequencedTick> out;
  auto bytes = Encode({{"EURUSD", 5}}, {At(0, 1, 1), At(0, 2, 2)});
  bytes.pop_back();
  const Status status = receiver.Receive(bytes, out);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(receiver.stats().bad_batches, 1u);
  EXPECT_EQ(receiver.stats().ticks, 0u);
}

TEST(DedupReceiverTest, ForgetsKeysOlderThanItsWindow) {
  DedupReceiver receiver(/*window=*/2);
  std::vector<SequencedTick> out;
  ASSERT_TRUE(
      receiver.Receive(Encode({{"EURUSD", 5}}, {At(0, 1, 1), At(0, 2, 2), At(0, 3, 3)}), out).ok());
  EXPECT_EQ(receiver.stats().evicted_keys, 1u);
  // The last two keys are still known...
  ASSERT_TRUE(receiver.Receive(Encode({{"EURUSD", 5}}, {At(0, 2, 2), At(0, 3, 3)}), out).ok());
  EXPECT_EQ(receiver.stats().duplicates, 2u);
  // ...the first one left the window and passes again: the documented bound.
  ASSERT_TRUE(receiver.Receive(Encode({{"EURUSD", 5}}, {At(0, 1, 1)}), out).ok());
  EXPECT_EQ(receiver.stats().duplicates, 2u);
  EXPECT_EQ(out.size(), 4u);
}

}  // namespace
}  // namespace aits::feed
