#include "aits/mt5/link.h"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "aits/mt5/messages_json.h"
#include "aits/mt5/transcript.h"

namespace aits::mt5 {
namespace {

using std::chrono::milliseconds;

struct Pair {
  net::Listener listener;
  std::unique_ptr<Link> ea;
  std::unique_ptr<Link> gateway;
};

Pair Connected(LinkConfig config = {}) {
  Pair pair;
  pair.listener = net::Listener::Listen(net::Endpoint{.host = "127.0.0.1", .port = 0}).value();
  auto client = net::Connect(pair.listener.endpoint(), milliseconds(1000));
  EXPECT_TRUE(client.ok());
  net::WaitFor item{.fd = pair.listener.fd()};
  EXPECT_EQ(*net::Wait(std::span<net::WaitFor>(&item, 1), milliseconds(1000)), 1);
  pair.ea = std::make_unique<Link>(std::move(client).value(), config);
  pair.gateway = std::make_unique<Link>(pair.listener.Accept().value(), config);
  return pair;
}

// Polls until `want` frames arrived or two seconds passed.
Status Receive(Link& link, size_t want, std::vector<TranscriptEntry>& got) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    AITS_RETURN_IF_ERROR(link.Poll(milliseconds(50), [&](const Frame& frame) {
      got.push_back(EntryOf(frame, false));
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

TEST(Mt5Link, FramesArriveInOrderWithTheirRequestIds) {
  Pair pair = Connected();
  ASSERT_TRUE(pair.ea->Send(Hello{.token = "t", .login = 7}).ok());
  ASSERT_TRUE(pair.ea->Send(Heartbeat{.time_msc = 5}).ok());
  ASSERT_TRUE(pair.gateway->Send(GetSymbol{.symbol = "EURUSD"}, 42).ok());
  std::vector<TranscriptEntry> at_gateway;
  std::vector<TranscriptEntry> at_ea;
  ASSERT_TRUE(Receive(*pair.gateway, 2, at_gateway).ok());
  ASSERT_TRUE(Receive(*pair.ea, 1, at_ea).ok());
  ASSERT_EQ(at_gateway.size(), 2u);
  EXPECT_EQ(at_gateway[0].type, "hello");
  EXPECT_EQ(at_gateway[0].envelope.seq, 1u);
  EXPECT_EQ(at_gateway[0].message["login"], 7);
  EXPECT_EQ(at_gateway[1].type, "heartbeat");
  EXPECT_EQ(at_gateway[1].envelope.seq, 2u);
  ASSERT_EQ(at_ea.size(), 1u);
  EXPECT_EQ(at_ea[0].envelope.request_id, 42u);
  EXPECT_EQ(at_ea[0].message["symbol"], "EURUSD");
  EXPECT_EQ(pair.ea->frames_sent(), 2u);
  EXPECT_EQ(pair.gateway->frames_received(), 2u);
}

TEST(Mt5Link, ASequenceGapIsAnErrorNamingThePeer) {
  Pair pair = Connected();
  std::string bytes;
  ASSERT_TRUE(AppendFrame(bytes, Heartbeat{}, 2, 0).ok());  // seq 2 first
  net::Socket raw = net::Connect(pair.listener.endpoint(), milliseconds(1000)).value();
  net::WaitFor item{.fd = pair.listener.fd()};
  ASSERT_EQ(*net::Wait(std::span<net::WaitFor>(&item, 1), milliseconds(1000)), 1);
  Link server(pair.listener.Accept().value());
  ASSERT_EQ(*raw.Write(bytes), bytes.size());
  std::vector<TranscriptEntry> got;
  const Status status = Receive(server, 1, got);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("expected 1, got 2 (heartbeat)"), std::string::npos)
      << status.message();
}

TEST(Mt5Link, GarbageIsAMalformedFrameFromThePeer) {
  Pair pair = Connected();
  net::Socket raw = net::Connect(pair.listener.endpoint(), milliseconds(1000)).value();
  net::WaitFor item{.fd = pair.listener.fd()};
  ASSERT_EQ(*net::Wait(std::span<net::WaitFor>(&item, 1), milliseconds(1000)), 1);
  Link server(pair.listener.Accept().value());
  ASSERT_EQ(*raw.Write("GET / HTTP/1.1\r\n\r\n"), 18u);
  std::vector<TranscriptEntry> got;
  const Status status = Receive(server, 1, got);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("malformed frame from 127.0.0.1:"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("exceeds the cap"), std::string::npos) << status.message();
}

TEST(Mt5Link, APeerThatClosesEndsTheLinkWithItsReason) {
  Pair pair = Connected();
  pair.ea->Close("terminal shutting down");
  EXPECT_FALSE(pair.ea->open());
  std::vector<TranscriptEntry> got;
  const Status status = Receive(*pair.gateway, 2, got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "bye");
  EXPECT_EQ(got[0].message["reason"], "terminal shutting down");
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_NE(status.message().find("closed the link"), std::string::npos) << status.message();
  EXPECT_FALSE(pair.ea->Send(Heartbeat{}).ok());
}

TEST(Mt5Link, APeerThatStopsReadingCannotGrowTheSendersMemory) {
  Pair pair = Connected(LinkConfig{.max_outbound = 1 << 20});
  Ticks ticks;
  ticks.symbol = "EURUSD";
  ticks.ticks.resize(1000);
  Status status;
  size_t sent = 0;
  for (; sent < 100'000 && status.ok(); ++sent) status = pair.ea->Send(ticks);
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_NE(status.message().find("the peer does not read"), std::string::npos) << status.message();
  EXPECT_LT(sent, 1000u);
}

TEST(Mt5Link, ATranscriptReplaysToTheSameBytes) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("aits_link_" + std::to_string(::getpid()) + ".jsonl"))
                               .string();
  std::filesystem::remove(path);
  Pair pair = Connected();
  {
    auto writer = TranscriptWriter::Open(path);
    ASSERT_TRUE(writer.ok());
    pair.ea->Record(&*writer);
    Ticks ticks{.symbol = "USDJPY",
                .final = true,
                .ticks = {TickData{.time_msc = 1, .bid = 151.234, .ask = 151.236, .flags = 6}}};
    ASSERT_TRUE(pair.ea->Send(ticks, 9).ok());
    ASSERT_TRUE(pair.ea->Send(TradeResult{.client_order_id = "c1", .retcode = 10009}, 10).ok());
    std::vector<TranscriptEntry> got;
    ASSERT_TRUE(pair.gateway->Send(PlaceOrder{.client_order_id = "c1", .volume = 0.1}, 10).ok());
    ASSERT_TRUE(Receive(*pair.ea, 1, got).ok());
    pair.ea->Record(nullptr);
  }
  auto entries = ReadTranscript(path);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_TRUE((*entries)[0].out);
  EXPECT_EQ((*entries)[0].type, "ticks");
  EXPECT_FALSE((*entries)[2].out);
  EXPECT_EQ((*entries)[2].type, "place_order");
  std::string expected;
  ASSERT_TRUE(AppendFrame(expected,
                          Ticks{.symbol = "USDJPY",
                                .final = true,
                                .ticks = {TickData{
                                    .time_msc = 1, .bid = 151.234, .ask = 151.236, .flags = 6}}},
                          1, 9)
                  .ok());
  EXPECT_EQ(*EncodeEntry((*entries)[0]), expected);
  std::filesystem::remove(path);
}

TEST(Mt5Link, TranscriptLinesAreCheckedFieldByField) {
  EXPECT_EQ(ParseJsonLine("[]").status().message(), "not a JSON object");
  EXPECT_EQ(ParseJsonLine(R"({"dir":"in","seq":1,"request_id":0})").status().message(),
            "type: missing");
  EXPECT_EQ(ParseJsonLine(R"({"dir":"up","seq":1,"request_id":0,"type":"hello","message":{}})")
                .status()
                .message(),
            "dir: 'up' is not in or out");
  EXPECT_EQ(ParseJsonLine(R"({"dir":"in","seq":1,"request_id":0,"type":"nope","message":{}})")
                .status()
                .message(),
            "type: 'nope' is neither a message name nor a number");
  auto entry = ParseJsonLine(
      R"({"dir":"in","seq":1,"request_id":0,"type":"heartbeat","message":{"time_msc":"x"}})");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(EncodeEntry(*entry).status().message(), "heartbeat.time_msc: not an integer");
  auto unknown = ParseJsonLine(R"({"dir":"in","seq":1,"request_id":0,"type":"777",)"
                               R"("payload_hex":"0a0b"})");
  ASSERT_TRUE(unknown.ok());
  const std::string bytes = *EncodeEntry(*unknown);
  EXPECT_EQ(bytes.size(), kLengthBytes + kEnvelopeBytes + 2);
  EXPECT_EQ(bytes.substr(kLengthBytes + kEnvelopeBytes), "\x0a\x0b");
}

TEST(Mt5Link, AWakerEndsAPollEarly) {
  Pair pair = Connected();
  net::Waker waker;
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(20));
    waker.Notify();
  });
  const auto start = std::chrono::steady_clock::now();
  const Status status = pair.gateway->Poll(
      milliseconds(5000), [](const Frame&) { return Status::Ok(); }, waker.fd());
  other.join();
  EXPECT_TRUE(status.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

}  // namespace
}  // namespace aits::mt5
