#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aits/mt5/frame.h"
#include "aits/mt5/messages.h"
#include "aits/mt5/mql.h"

namespace aits::mt5 {
namespace {

Ticks SomeTicks(size_t n) {
  Ticks ticks;
  ticks.symbol = "EURUSD";
  ticks.final = true;
  for (size_t i = 0; i < n; ++i) {
    ticks.ticks.push_back(TickData{.time_msc = 1'700'000'000'000 + static_cast<int64_t>(i),
                                   .bid = 1.08 + 1e-5 * static_cast<double>(i),
                                   .ask = 1.08002 + 1e-5 * static_cast<double>(i),
                                   .last = 0,
                                   .volume = 1.5,
                                   .flags = kTickFlagBid | kTickFlagAsk});
  }
  return ticks;
}

Transaction SomeTransaction() {
  Transaction t;
  t.type = static_cast<uint32_t>(TransactionType::kDealAdd);
  t.deal = 9001;
  t.order = 8001;
  t.position = 8001;
  t.symbol = "GBPUSD";
  t.deal_type = static_cast<uint32_t>(DealType::kSell);
  t.price = 1.27345;
  t.volume = 0.25;
  t.deal_entry = static_cast<uint32_t>(DealEntry::kOut);
  t.deal_profit = -12.5;
  t.magic = 0x7fff'ffff'ffff'fff1;
  t.comment = "aits-42";
  t.time_msc = 1'700'000'000'123;
  return t;
}

template <typename M>
M RoundTrip(const M& message, uint64_t seq = 7, uint64_t request_id = 11) {
  std::string bytes;
  EXPECT_TRUE(AppendFrame(bytes, message, seq, request_id).ok());
  FrameDecoder decoder;
  decoder.Append(bytes);
  Frame frame;
  EXPECT_TRUE(decoder.Next(frame));
  EXPECT_EQ(frame.envelope.version, kProtocolVersion);
  EXPECT_EQ(frame.envelope.type, static_cast<uint16_t>(M::kType));
  EXPECT_EQ(frame.envelope.seq, seq);
  EXPECT_EQ(frame.envelope.request_id, request_id);
  M decoded;
  const Status status = DecodeFrame(frame, decoded);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(decoder.buffered(), 0u);
  return decoded;
}

TEST(Mt5Protocol, MessagesRoundTripExactly) {
  Hello hello{.protocol_version = kProtocolVersion,
              .token = "s3cret",
              .login = 51234567,
              .server = "MetaQuotes-Demo",
              .company = "MetaQuotes Ltd.",
              .currency = "USD",
              .leverage = 100,
              .margin_mode = static_cast<uint32_t>(MarginMode::kRetailHedging),
              .terminal_build = 4755,
              .ea_version = "1.0",
              .trade_allowed = true,
              .server_time_msc = 1'700'000'000'000};
  EXPECT_EQ(RoundTrip(hello), hello);
  EXPECT_EQ(RoundTrip(SomeTicks(1000)), SomeTicks(1000));
  EXPECT_EQ(RoundTrip(SomeTransaction()), SomeTransaction());

  Symbol symbol;
  symbol.spec.name = "XAUUSD";
  symbol.spec.digits = 2;
  symbol.spec.volume_step = 0.01;
  symbol.spec.filling_mode = kSymbolFillingFok | kSymbolFillingIoc;
  symbol.spec.sessions = {{.day = 1, .from_sec = 3600, .to_sec = 86340},
                          {.day = 5, .from_sec = 0, .to_sec = 75600}};
  EXPECT_EQ(RoundTrip(symbol), symbol);

  Subscribe subscribe{.symbols = {"EURUSD", "USDJPY", ""}, .from_msc = -1};
  EXPECT_EQ(RoundTrip(subscribe), subscribe);
  GetAccount empty;
  EXPECT_EQ(RoundTrip(empty), empty);
}

TEST(Mt5Protocol, EveryTypeHasANameADirectionAndItsSmallestSize) {
  size_t count = 0;
  for (MessageType type : kAllMessageTypes) {
    const auto number = static_cast<uint16_t>(type);
    ASSERT_TRUE(IsKnownMessage(number)) << number;
    EXPECT_FALSE(MessageName(number).empty());
    const bool visited = VisitMessageType(number, [&](const auto& message) {
      using M = std::decay_t<decltype(message)>;
      EXPECT_EQ(M::kType, type);
      EXPECT_EQ(M::kName, MessageName(number));
      // A default message has empty strings and arrays: exactly the smallest payload.
      std::string bytes;
      ASSERT_TRUE(AppendFrame(bytes, message, 1, 0).ok());
      EXPECT_EQ(bytes.size() - kLengthBytes - kEnvelopeBytes, MinPayloadSize(number)) << M::kName;
      EXPECT_EQ(RoundTrip(message), message);
    });
    EXPECT_TRUE(visited);
    ++count;
  }
  EXPECT_GE(count, 30u);
  EXPECT_FALSE(IsKnownMessage(0));
  EXPECT_FALSE(IsKnownMessage(999));
  EXPECT_EQ(MinPayloadSize(999), 0u);
  EXPECT_FALSE(VisitMessageType(999, [](const auto&) {}));
  EXPECT_EQ(DirectionOf(MessageType::kHello), Direction::kFromEa);
  EXPECT_EQ(DirectionOf(MessageType::kPlaceOrder), Direction::kFromGateway);
  EXPECT_EQ(DirectionOf(MessageType::kHeartbeat), Direction::kBoth);
}

TEST(Mt5Protocol, FramesSplitAtAnyByteReassemble) {
  std::string stream;
  ASSERT_TRUE(AppendFrame(stream, SomeTicks(3), 1, 0).ok());
  ASSERT_TRUE(AppendFrame(stream, SomeTransaction(), 2, 0).ok());
  ASSERT_TRUE(AppendFrame(stream, Heartbeat{.time_msc = 5}, 3, 0).ok());
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder decoder;
    std::vector<uint64_t> seqs;
    Frame frame;
    decoder.Append(std::string_view(stream).substr(0, cut));
    while (decoder.Next(frame)) seqs.push_back(frame.envelope.seq);
    // Reading straight into the buffer, as a socket does.
    const std::string_view rest = std::string_view(stream).substr(cut);
    std::memcpy(decoder.WritableTail(rest.size()), rest.data(), rest.size());
    decoder.Commit(rest.size());
    while (decoder.Next(frame)) {
      seqs.push_back(frame.envelope.seq);
      if (frame.envelope.type == static_cast<uint16_t>(MessageType::kTransaction)) {
        Transaction t;
        ASSERT_TRUE(DecodeFrame(frame, t).ok());
        EXPECT_EQ(t, SomeTransaction());
      }
    }
    EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3})) << "cut at " << cut;
    EXPECT_TRUE(decoder.status().ok());
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(Mt5Protocol, BrokenFramingStopsTheDecoderForGood) {
  FrameDecoder small(64);
  std::string big;
  ASSERT_TRUE(AppendFrame(big, SomeTicks(10), 1, 0).ok());
  small.Append(big);
  Frame frame;
  EXPECT_FALSE(small.Next(frame));
  EXPECT_EQ(small.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(small.status().message().find("exceeds the cap of 64 bytes"), std::string::npos)
      << small.status().message();

  FrameDecoder decoder;
  const char tiny[] = {9, 0, 0, 0};
  decoder.Append(std::string_view(tiny, 4));
  EXPECT_FALSE(decoder.Next(frame));
  EXPECT_EQ(decoder.status().message(), "frame length 9 is below the 20-byte envelope");
  // Good bytes after a break change nothing: the stream cannot be resynchronised.
  std::string good;
  ASSERT_TRUE(AppendFrame(good, Heartbeat{}, 1, 0).ok());
  decoder.Append(good);
  EXPECT_FALSE(decoder.Next(frame));
}

TEST(Mt5Protocol, ASenderCannotWriteAFrameAboveItsCap) {
  std::string out = "kept";
  const Status status = AppendFrame(out, SomeTicks(100), 1, 0, /*max_frame=*/1000);
  EXPECT_EQ(status.code(), StatusCode::kOutOfRange);
  EXPECT_NE(status.message().find("ticks frame of"), std::string::npos) << status.message();
  EXPECT_EQ(out, "kept");
}

TEST(Mt5Protocol, UnknownTypesAndOtherVersionsAreFramedAndHandedUp) {
  std::string bytes;
  ASSERT_TRUE(AppendFrame(bytes, Heartbeat{}, 1, 0).ok());
  const uint16_t version = 9;
  const uint16_t type = 777;
  std::memcpy(bytes.data() + 4, &version, 2);
  std::memcpy(bytes.data() + 6, &type, 2);
  FrameDecoder decoder;
  decoder.Append(bytes);
  Frame frame;
  ASSERT_TRUE(decoder.Next(frame));
  EXPECT_EQ(frame.envelope.version, 9);
  EXPECT_EQ(frame.envelope.type, 777);
  EXPECT_FALSE(IsKnownMessage(frame.envelope.type));
}

TEST(Mt5Protocol, EveryTruncationIsAClearErrorNamingTheField) {
  std::string bytes;
  ASSERT_TRUE(AppendFrame(bytes, SomeTransaction(), 1, 0).ok());
  const std::string payload = bytes.substr(kLengthBytes + kEnvelopeBytes);
  for (size_t n = 0; n < payload.size(); ++n) {
    Frame frame{.envelope = {.type = static_cast<uint16_t>(MessageType::kTransaction)},
                .payload = std::string_view(payload).substr(0, n)};
    Transaction t;
    const Status status = DecodeFrame(frame, t);
    ASSERT_FALSE(status.ok()) << n;
    EXPECT_EQ(status.message().rfind("transaction: transaction.", 0), 0u) << status.message();
    EXPECT_NE(status.message().find("truncated"), std::string::npos) << status.message();
  }
  // The frame's payload is a view: the bytes it shows must outlive it.
  const std::string with_trailer = payload + "xy";
  Frame frame{.envelope = {.type = static_cast<uint16_t>(MessageType::kTransaction)},
              .payload = with_trailer};
  Transaction t;
  EXPECT_EQ(DecodeFrame(frame, t).message(), "transaction: 2 bytes left over after the last field");
}

TEST(Mt5Protocol, HostileFieldsAreRefusedBeforeTheyCostAnything) {
  // A count of 4 billion ticks in a 20-byte payload.
  std::string payload;
  WireWriter w(payload);
  w.Str("EURUSD");
  w.Bool(true);
  w.U32(4'000'000'000u);
  Frame frame{.envelope = {.type = static_cast<uint16_t>(MessageType::kTicks)}, .payload = payload};
  Ticks ticks;
  Status status = DecodeFrame(frame, ticks);
  EXPECT_NE(
      status.message().find("ticks.ticks at byte 13: count 4000000000 exceeds the bytes left"),
      std::string::npos)
      << status.message();

  Ticks one = SomeTicks(1);
  std::string bytes;
  ASSERT_TRUE(AppendFrame(bytes, one, 1, 0).ok());
  // The first tick's bid sits after the symbol (2 + 6), final (1), count (4) and time (8).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(bytes.data() + kLengthBytes + kEnvelopeBytes + 21, &nan, 8);
  frame.payload = std::string_view(bytes).substr(kLengthBytes + kEnvelopeBytes);
  status = DecodeFrame(frame, ticks);
  EXPECT_NE(status.message().find("ticks.ticks[0]: TickData.bid at byte 21: not a finite number"),
            std::string::npos)
      << status.message();

  // A bool is 0 or 1.
  std::string bool_payload;
  WireWriter(bool_payload).U8(2);
  WireWriter(bool_payload).U8(0);
  WireWriter(bool_payload).U32(0);
  frame = Frame{.envelope = {.type = static_cast<uint16_t>(MessageType::kOrders)},
                .payload = bool_payload};
  Orders orders;
  EXPECT_EQ(DecodeFrame(frame, orders).message(),
            "orders: orders.history at byte 0: bool byte 2 is neither 0 nor 1");
}

// Random and mutated bytes, as a fuzzer would send them: never a crash, an error or a frame.
TEST(Mt5Protocol, MutatedStreamsNeverCrashTheDecoder) {
  std::string base;
  ASSERT_TRUE(AppendFrame(base, SomeTicks(20), 1, 0).ok());
  ASSERT_TRUE(AppendFrame(base, SomeTransaction(), 2, 0).ok());
  std::mt19937_64 rng(42);
  size_t frames = 0;
  size_t errors = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::string bytes = base;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    FrameDecoder decoder(4096);
    decoder.Append(bytes);
    Frame frame;
    while (decoder.Next(frame)) {
      ++frames;
      VisitMessageType(frame.envelope.type, [&](auto message) {
        if (!DecodeFrame(frame, message).ok()) ++errors;
      });
    }
    if (!decoder.status().ok()) ++errors;
  }
  EXPECT_GT(frames, 0u);
  EXPECT_GT(errors, 0u);
}

TEST(Mt5Protocol, RetcodesHaveTheReferenceNamesAndTexts) {
  for (uint32_t code : kAllRetcodes) {
    EXPECT_EQ(RetcodeName(code).rfind("TRADE_RETCODE_", 0), 0u) << code;
    EXPECT_FALSE(RetcodeText(code).empty()) << code;
  }
  EXPECT_EQ(RetcodeName(retcode::kInvalidFill), "TRADE_RETCODE_INVALID_FILL");
  EXPECT_EQ(RetcodeName(10037), "");
  EXPECT_TRUE(IsSuccess(retcode::kDonePartial));
  EXPECT_FALSE(IsSuccess(retcode::kRequote));
  EXPECT_TRUE(IsFatal(ErrorCode::kBadToken));
  EXPECT_FALSE(IsFatal(ErrorCode::kUnknownMessage));
  EXPECT_EQ(ToString(ErrorCode::kHeartbeatLost), "heartbeat_lost");
}

}  // namespace
}  // namespace aits::mt5
