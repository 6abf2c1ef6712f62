// Golden transcripts (tests/mt5/transcripts/*.jsonl, docs/metatrader.md "Golden transcripts"):
// each holds one recorded exchange between a gateway and the simulator, seen from the EA ("in":
// what the gateway sent, "out": what the EA answered). The test replays every "in" frame into a
// fresh simulator set up as the transcript's scenario says and checks that what it sends equals
// the recorded "out" frames, field for field (tickets and times are deterministic).
//
// The files are recorded from the simulator itself (AITS_RECORD_GOLDEN=1 rewrites them from the
// scenarios below); a transcript recorded from a real terminal with the gateway's record flag
// replays the same way, which is how the simulator is checked against MT5.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aits/mt5/transcript.h"
#include "aits/mt5sim/mt5sim_test_util.h"
#include "aits/mt5sim/terminal.h"

namespace aits::mt5sim {
namespace {

using testing::kMonday10;
namespace fs = std::filesystem;

const std::string kDir = std::string(AITS_SOURCE_DIR) + "/tests/mt5/transcripts";

// A simulator as a scenario sets it up: account, symbol, ticks replayed before the link opens.
struct Rig {
  Rig(const ServerConfig& config, const mt5::SymbolSpec& spec)
      : server(config), terminal(TerminalConfig{"golden-token"}, server) {
    EXPECT_TRUE(server.AddSymbol(spec).ok());
    EXPECT_TRUE(terminal.AddTicks(spec.name, testing::Walk(200, 250)).ok());
    terminal.ReplayUntil(kMonday10 + 20'000);  // 81 ticks before the link opens
  }
  TradeServer server;
  Terminal terminal;
};

// Frames as bytes and back, numbered as a link numbers them.
class Framer {
 public:
  template <typename M>
  mt5::TranscriptEntry Entry(const M& message, uint64_t request_id, bool out) {
    std::string bytes;
    EXPECT_TRUE(mt5::AppendFrame(bytes, message, ++(out ? out_seq_ : in_seq_), request_id).ok());
    return EntryOfBytes(bytes, out);
  }
  static mt5::TranscriptEntry EntryOfBytes(const std::string& bytes, bool out) {
    mt5::FrameDecoder decoder;
    decoder.Append(bytes);
    mt5::Frame frame;
    EXPECT_TRUE(decoder.Next(frame));
    return mt5::EntryOf(frame, out);
  }

 private:
  uint64_t in_seq_ = 0;
  uint64_t out_seq_ = 0;
};

// Runs the gateway's frames (entries with out == false) through a fresh rig and returns the whole
// exchange as the EA's link would have recorded it.
std::vector<mt5::TranscriptEntry> Exchange(Rig& rig, const std::vector<mt5::TranscriptEntry>& in) {
  Framer framer;
  std::vector<mt5::TranscriptEntry> exchange;
  auto flush = [&] {
    for (const Outgoing& out : rig.terminal.TakeOutbox()) {
      std::visit([&](const auto& m) { exchange.push_back(framer.Entry(m, out.request_id, true)); },
                 out.message);
    }
  };
  rig.terminal.OnConnected(kMonday10);
  flush();
  for (const mt5::TranscriptEntry& entry : in) {
    if (entry.out) continue;
    Result<std::string> bytes = mt5::EncodeEntry(entry);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    if (!bytes.ok()) continue;
    exchange.push_back(entry);
    mt5::FrameDecoder decoder;
    decoder.Append(*bytes);
    mt5::Frame frame;
    EXPECT_TRUE(decoder.Next(frame));
    rig.terminal.Handle(frame);
    rig.terminal.Pump();
    flush();
  }
  return exchange;
}

// What a scenario's gateway sends (the "in" side), numbered from 1.
class Script {
 public:
  template <typename M>
  Script& Send(const M& message, uint64_t request_id = 0) {
    entries_.push_back(framer_.Entry(message, request_id, false));
    return *this;
  }
  const std::vector<mt5::TranscriptEntry>& entries() const { return entries_; }

 private:
  Framer framer_;
  std::vector<mt5::TranscriptEntry> entries_;
};

mt5::PlaceOrder Order(std::string cid, uint32_t type, double volume, uint32_t filling) {
  mt5::PlaceOrder order;
  order.client_order_id = std::move(cid);
  order.magic = 0x1234;
  order.symbol = "EURUSD";
  order.action = 1;
  order.type = type;
  order.volume = volume;
  order.type_filling = filling;
  order.deviation = 10;
  return order;
}

struct Golden {
  std::string file;
  ServerConfig config;
  mt5::SymbolSpec spec;
  Script script;
};

std::vector<Golden> Goldens() {
  const mt5::Welcome welcome{mt5::kProtocolVersion, 1000, 3000, "golden-node"};
  std::vector<Golden> goldens;
  {
    Golden g{"handshake.jsonl", {}, ForexSymbol("EURUSD"), {}};
    g.script.Send(welcome).Send(mt5::GetAccount{}, 1).Send(mt5::GetSymbol{"EURUSD"}, 2);
    g.script.Send(mt5::GetSymbol{"XAUUSD"}, 3).Send(mt5::Heartbeat{kMonday10 + 20'000});
    goldens.push_back(std::move(g));
  }
  {
    Golden g{"subscribe_ticks.jsonl", {}, ForexSymbol("EURUSD"), {}};
    g.script.Send(welcome).Send(mt5::Subscribe{{"EURUSD"}, kMonday10 + 15'000}, 1);
    g.script.Send(mt5::GetTick{"EURUSD"}, 2);
    g.script.Send(mt5::GetTicks{"EURUSD", kMonday10, kMonday10 + 1'000, 0}, 3);
    g.script.Send(mt5::Unsubscribe{{"EURUSD"}}, 4);
    goldens.push_back(std::move(g));
  }
  {
    Golden g{"market_order_netting.jsonl", {}, ForexSymbol("EURUSD"), {}};
    g.script.Send(welcome).Send(Order("golden-1", 0, 0.10, 0), 1);
    g.script.Send(Order("golden-2", 1, 0.04, 0), 2).Send(mt5::GetPositions{}, 3);
    g.script.Send(Order("golden-1", 0, 0.10, 0), 4);  // the same id again: refused
    goldens.push_back(std::move(g));
  }
  {
    Golden g{"market_order_hedging.jsonl", {}, ForexSymbol("EURUSD"), {}};
    g.config.account.margin_mode = mt5::MarginMode::kRetailHedging;
    g.script.Send(welcome).Send(Order("golden-1", 0, 0.10, 0), 1);
    g.script.Send(Order("golden-2", 1, 0.10, 0), 2).Send(mt5::GetPositions{}, 3);
    // Close the buy (position ticket 10000001) by ticket, half of it, then all of the rest.
    g.script.Send(mt5::ClosePosition{"golden-3", 0x1234, 10000001, 0.05, 10, 0}, 4);
    g.script.Send(mt5::CloseBy{"golden-4", 10000001, 10000002}, 5);
    g.script.Send(mt5::GetHistory{0, 0}, 6);
    goldens.push_back(std::move(g));
  }
  {
    Golden g{"requote.jsonl", {}, ForexSymbol("EURUSD"), {}};
    g.spec.execution_mode = static_cast<uint32_t>(mt5::Execution::kInstant);
    mt5::PlaceOrder stale = Order("golden-1", 0, 0.10, 0);
    stale.price = 1.09000;  // far from the ask
    mt5::PlaceOrder fresh = stale;
    fresh.price = 0;
    g.script.Send(welcome).Send(stale, 1).Send(fresh, 2);
    goldens.push_back(std::move(g));
  }
  {
    Golden g{"partial_fill.jsonl", {}, ForexSymbol("EURUSD"), {}};
    g.spec.execution_mode = static_cast<uint32_t>(mt5::Execution::kExchange);
    g.config.exchange_depth_lots = 0.5;
    g.script.Send(welcome).Send(Order("golden-fok", 0, 1.0, 0), 1);
    g.script.Send(Order("golden-ioc", 0, 1.0, 1), 2).Send(Order("golden-ret", 0, 1.0, 2), 3);
    g.script.Send(mt5::GetOrders{}, 4);
    goldens.push_back(std::move(g));
  }
  return goldens;
}

std::vector<std::string> Lines(const std::vector<mt5::TranscriptEntry>& entries) {
  std::vector<std::string> lines;
  for (const mt5::TranscriptEntry& entry : entries) lines.push_back(mt5::ToJsonLine(entry));
  return lines;
}

TEST(GoldenTranscripts, TheSimulatorAnswersAsRecorded) {
  const bool record = std::getenv("AITS_RECORD_GOLDEN") != nullptr;
  for (Golden& golden : Goldens()) {
    SCOPED_TRACE(golden.file);
    const std::string path = kDir + "/" + golden.file;
    if (record) {
      Rig rig(golden.config, golden.spec);
      fs::create_directories(kDir);
      std::ofstream out(path, std::ios::trunc);
      for (const std::string& line : Lines(Exchange(rig, golden.script.entries()))) {
        out << line << "\n";
      }
    }
    Result<std::vector<mt5::TranscriptEntry>> recorded = mt5::ReadTranscript(path);
    ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
    // The scenario's gateway frames are the file's: a hand edit shows here first.
    std::vector<mt5::TranscriptEntry> in;
    for (const mt5::TranscriptEntry& entry : *recorded) {
      if (!entry.out) in.push_back(entry);
    }
    EXPECT_EQ(Lines(in), Lines(golden.script.entries()));
    Rig rig(golden.config, golden.spec);
    const std::vector<std::string> expected = Lines(*recorded);
    const std::vector<std::string> got = Lines(Exchange(rig, in));
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "frame " << i;
  }
}

// The replay is not vacuous: a simulator that answers differently (another execution mode)
// fails it.
TEST(GoldenTranscripts, ADifferentSimulatorFailsTheComparison) {
  Result<std::vector<mt5::TranscriptEntry>> recorded =
      mt5::ReadTranscript(kDir + "/market_order_netting.jsonl");
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  mt5::SymbolSpec spec = ForexSymbol("EURUSD");
  spec.filling_mode = mt5::kSymbolFillingIoc;  // the recorded FOK orders now answer 10030
  Rig rig(ServerConfig{}, spec);
  EXPECT_NE(Lines(Exchange(rig, *recorded)), Lines(*recorded));
}

}  // namespace
}  // namespace aits::mt5sim
