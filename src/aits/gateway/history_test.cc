// History downloads through the gateway: against the terminal simulator replaying the real
// EUR/USD ticks of ../shared/data (every tick comes back once, in order, whatever the slicing),
// resumed after an interruption or a kill (the same bytes as one uninterrupted download), and
// against a stand-in EA that stays silent (a slice is retried, then the download fails keeping
// what it wrote).
#include "aits/gateway/history.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "aits/core/time.h"
#include "aits/data/source.h"
#include "aits/data/tick_store.h"
#include "aits/gateway/gateway.h"
#include "aits/gateway/history_file.h"
#include "aits/gateway/stand_in_ea.h"
#include "aits/mt5sim/mt5sim_test_util.h"
#include "aits/mt5sim/terminal.h"
#include "aits/mt5sim/terminal_link.h"
#include "aits/mt5sim/trade_server.h"

namespace aits::gateway {
namespace {

using std::chrono::milliseconds;

constexpr char kToken[] = "history-token";
// 2020-01-01 17:00 UTC .. 2020-01-02 00:00: the file's span (17:00:00.065 .. 23:00:52.125) in
// whole hours.
constexpr int64_t kFrom = 1577898000000;
constexpr int64_t kTo = 1577923200000;

std::string EurUsdFile() {
  return std::string(AITS_SHARED_DATA_DIR) + "/eurusd-ticks-2020-01-01.csv";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("aits-history-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

GatewayConfig ConfigFor(const std::string& symbol) {
  GatewayConfig config;
  config.token = kToken;
  Instrument instrument = Instrument::Infer(symbol);
  instrument.id = InstrumentId{0};
  config.instruments = {instrument};
  return config;
}

// A gateway and the terminal simulator holding `ticks` as its past, connected over loopback.
class SimulatedTerminal {
 public:
  explicit SimulatedTerminal(const std::vector<mt5::TickData>& ticks)
      : server_(mt5sim::ServerConfig{}),
        terminal_(mt5sim::TerminalConfig{.token = kToken}, server_) {
    auto made = Gateway::Create(ConfigFor("EURUSD"));
    EXPECT_TRUE(made.ok()) << made.status().message();
    gateway_ = std::move(*made);
    EXPECT_TRUE(gateway_->Listen().ok());
    EXPECT_TRUE(server_.AddSymbol(mt5sim::ForexSymbol("EURUSD")).ok());
    EXPECT_TRUE(terminal_.AddTicks("EURUSD", ticks).ok());
    terminal_.ReplayUntil(std::numeric_limits<int64_t>::max());  // all of it is the past
    mt5sim::RunnerConfig runner_config;
    runner_config.gateway = net::Endpoint{.host = "127.0.0.1", .port = gateway_->port()};
    runner_config.speed = 0;
    runner_ = std::make_unique<mt5sim::TerminalRunner>(runner_config, terminal_);
    thread_ = std::thread([this] { EXPECT_TRUE(runner_->Run().ok()); });
  }
  ~SimulatedTerminal() {
    runner_->Stop();
    thread_.join();
    gateway_->Stop();
  }
  Gateway& gateway() { return *gateway_; }

 private:
  std::unique_ptr<Gateway> gateway_;
  mt5sim::TradeServer server_;
  mt5sim::Terminal terminal_;
  std::unique_ptr<mt5sim::TerminalRunner> runner_;
  std::thread thread_;
};

std::vector<mt5::TickData> SourceTicks() {
  auto ticks = mt5sim::ReadTickFile(EurUsdFile(), 5);
  EXPECT_TRUE(ticks.ok()) << ticks.status().message();
  return ticks.ok() ? *ticks : std::vector<mt5::TickData>{};
}

HistoryRange TicksOf(int64_t from, int64_t to) {
  HistoryRange range;
  range.mt5_symbol = "EURUSD";
  range.kind = HistoryKind::kTicks;
  range.from_msc = from;
  range.to_msc = to;
  return range;
}

struct Collected {
  std::vector<mt5::TickData> ticks;
  std::vector<HistoryStats> progress;
};

HistorySink Into(Collected& collected) {
  HistorySink sink;
  sink.ticks = [&](std::span<const mt5::TickData> ticks) {
    collected.ticks.insert(collected.ticks.end(), ticks.begin(), ticks.end());
    return Status::Ok();
  };
  sink.progress = [&](const HistoryStats& stats) { collected.progress.push_back(stats); };
  return sink;
}

void ExpectSame(const std::vector<mt5::TickData>& got, const std::vector<mt5::TickData>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t idx = 0; idx < got.size(); ++idx) {
    ASSERT_EQ(got[idx].time_msc, want[idx].time_msc) << idx;
    ASSERT_EQ(got[idx].bid, want[idx].bid) << idx;
    ASSERT_EQ(got[idx].ask, want[idx].ask) << idx;
    ASSERT_EQ(got[idx].flags, want[idx].flags) << idx;
  }
}

TEST(HistoryTest, SlicesCoverTheRangeOnAGridWithoutOverlap) {
  HistoryOptions options;
  options.tick_slice_ms = 3'600'000;
  const auto slices = HistorySlices(TicksOf(kFrom + 1'800'000, kTo), options);
  ASSERT_EQ(slices.size(), 7u);
  EXPECT_EQ(slices.front(), std::make_pair(kFrom + 1'800'000, kFrom + 3'600'000));
  for (size_t idx = 1; idx < slices.size(); ++idx) {
    EXPECT_EQ(slices[idx].first, slices[idx - 1].second);
  }
  EXPECT_EQ(slices.back().second, kTo);
  HistoryRange bars = TicksOf(kFrom, kTo);
  bars.kind = HistoryKind::kBars;
  bars.period_sec = 60;
  options.bars_per_slice = 100;  // 6,000 s a slice: 4.2 slices in 7 h
  EXPECT_EQ(HistorySlices(bars, options).size(), 5u);
  EXPECT_FALSE(HistoryOptions{.attempts = 0}.Validate().ok());
}

// Every tick of the real file comes back once and in order: hour slices (the file spans seven),
// answers cut at 500 ticks (each slice continued from its last tick's millisecond).
TEST(HistoryTest, TheRealEurUsdDayComesBackTickForTickWhateverTheSlicing) {
  const std::vector<mt5::TickData> source = SourceTicks();
  ASSERT_EQ(source.size(), 9'500u) << "missing " << EurUsdFile();
  SimulatedTerminal sim(source);
  for (const auto& [slice_ms, per_request] : std::vector<std::pair<int64_t, uint32_t>>{
           {86'400'000, 1'000'000}, {3'600'000, 500}, {600'000, 97}}) {
    SCOPED_TRACE("slice " + std::to_string(slice_ms) + " ms, " + std::to_string(per_request) +
                 " ticks per request");
    HistoryOptions options;
    options.tick_slice_ms = slice_ms;
    options.max_ticks_per_request = per_request;
    options.request_timeout = milliseconds(10'000);
    Collected got;
    auto stats = DownloadHistory(sim.gateway(), TicksOf(kFrom, kTo), options, Into(got));
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    ExpectSame(got.ticks, source);
    EXPECT_EQ(got.ticks.front().time_msc, source.front().time_msc);
    EXPECT_EQ(got.ticks.back().time_msc, source.back().time_msc);
    EXPECT_EQ(stats->delivered, source.size());
    EXPECT_EQ(stats->slices_done, stats->slices_total);
    EXPECT_EQ(stats->out_of_order, 0u);
    EXPECT_EQ(stats->retries, 0u);
    EXPECT_GE(stats->requests, source.size() / per_request);
    EXPECT_EQ(got.progress.size(), stats->slices_total + 1);
  }
}

// Ticks on a slice's edge (exactly at the hour) and several in one millisecond at the point where
// a full answer is continued: each comes once.
TEST(HistoryTest, TicksOnSliceEdgesAndInOneMillisecondAcrossAContinuationComeOnce) {
  using mt5sim::testing::Quote;
  const int64_t hour = 3'600'000;
  const int64_t t0 = mt5sim::testing::kMonday10;
  std::vector<mt5::TickData> ticks = {Quote(t0, 1.10000, 1.10010),
                                      Quote(t0 + 5, 1.10001, 1.10011),
                                      Quote(t0 + 5, 1.10002, 1.10012),
                                      Quote(t0 + 5, 1.10003, 1.10013),
                                      Quote(t0 + hour - 1, 1.10004, 1.10014),
                                      Quote(t0 + hour, 1.10005, 1.10015),
                                      Quote(t0 + hour, 1.10006, 1.10016),
                                      Quote(t0 + hour + 1, 1.10007, 1.10017),
                                      Quote(t0 + 2 * hour - 1, 1.1, 1.1001),
                                      Quote(t0 + 2 * hour, 1.2, 1.2001)};
  SimulatedTerminal sim(ticks);
  HistoryOptions options;
  options.tick_slice_ms = hour;
  options.max_ticks_per_request = 2;  // full answers end inside the groups of one millisecond
  Collected got;
  auto stats = DownloadHistory(sim.gateway(), TicksOf(t0, t0 + 2 * hour), options, Into(got));
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  // [t0, t0 + 2h): all but the last tick, which opens the next hour.
  ExpectSame(got.ticks, std::vector<mt5::TickData>(ticks.begin(), ticks.end() - 1));
  EXPECT_GT(stats->edge_duplicates, 0u);

  // A resume after the second of the three ticks at t0 + 5 goes on with the third.
  Collected rest;
  auto resumed = DownloadHistory(sim.gateway(), TicksOf(t0, t0 + 2 * hour), options, Into(rest),
                                 HistoryResume{.from_msc = t0 + 5, .skip_at_from = 2});
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  ExpectSame(rest.ticks, std::vector<mt5::TickData>(ticks.begin() + 3, ticks.end() - 1));
}

TEST(HistoryTest, BarsComeAsTheTerminalAggregatesThemSliceBySlice) {
  const std::vector<mt5::TickData> source = SourceTicks();
  ASSERT_FALSE(source.empty());
  SimulatedTerminal sim(source);
  HistoryRange range = TicksOf(kFrom, kTo);
  range.kind = HistoryKind::kBars;
  range.period_sec = 60;
  HistoryOptions options;
  options.bars_per_slice = 50;
  std::vector<mt5::BarData> bars;
  HistorySink sink;
  sink.bars = [&](std::span<const mt5::BarData> got) {
    bars.insert(bars.end(), got.begin(), got.end());
    return Status::Ok();
  };
  auto stats = DownloadHistory(sim.gateway(), range, options, sink);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const auto want = mt5sim::AggregateBars(source, source.size(), 60, 0.00001);
  ASSERT_EQ(bars.size(), want.size());
  for (size_t idx = 0; idx < bars.size(); ++idx) {
    EXPECT_EQ(bars[idx].time, want[idx].time) << idx;
    EXPECT_EQ(bars[idx].close, want[idx].close) << idx;
    EXPECT_EQ(bars[idx].tick_volume, want[idx].tick_volume) << idx;
  }
  EXPECT_EQ(stats->slices_total, 9u);  // 420 minutes in slices of 50
}

// Downloads into `spec`, stopping (as a kill would) after `stop_after` slices when given.
Status DownloadInto(Gateway& gateway, const HistoryFileSpec& spec, const HistoryRange& range,
                    const HistoryOptions& options, std::optional<size_t> stop_after,
                    HistoryOpening* opening) {
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<HistoryWriter> writer, HistoryWriter::Open(spec, opening));
  HistorySink sink;
  size_t slices = 0;
  sink.ticks = [&](std::span<const mt5::TickData> ticks) { return writer->Append(ticks); };
  sink.bars = [&](std::span<const mt5::BarData> bars) { return writer->Append(bars); };
  sink.progress = [&](const HistoryStats& stats) { slices = stats.slices_done; };
  std::optional<HistoryResume> resume;
  if (opening->resumed) resume = opening->resume;
  HistorySink stopping = sink;
  stopping.ticks = [&](std::span<const mt5::TickData> ticks) {
    if (stop_after && slices >= *stop_after) return Status(StatusCode::kIoError, "interrupted");
    return writer->Append(ticks);
  };
  auto stats = DownloadHistory(gateway, range, options, stopping, resume);
  AITS_RETURN_IF_ERROR(writer->Finish());
  return stats.status();
}

TEST(HistoryTest, AnInterruptedOrKilledDownloadResumedGivesTheSameBytes) {
  const std::vector<mt5::TickData> source = SourceTicks();
  ASSERT_FALSE(source.empty());
  SimulatedTerminal sim(source);
  TempDir dir;
  HistoryOptions options;
  options.tick_slice_ms = 3'600'000;
  options.max_ticks_per_request = 700;
  const HistoryRange range = TicksOf(kFrom, kTo);
  for (HistoryFormat format : {HistoryFormat::kBinary, HistoryFormat::kCsv}) {
    const std::string ext = format == HistoryFormat::kBinary ? ".bin" : ".csv";
    SCOPED_TRACE(ext);
    HistoryFileSpec spec{.path = dir.Path("whole" + ext),
                         .format = format,
                         .kind = HistoryKind::kTicks,
                         .symbol = "EURUSD",
                         .digits = 5};
    HistoryOpening opening;
    ASSERT_TRUE(DownloadInto(sim.gateway(), spec, range, options, std::nullopt, &opening).ok());
    EXPECT_FALSE(opening.resumed);
    const std::string whole = Slurp(spec.path);

    // Interrupted after two slices, then resumed.
    spec.path = dir.Path("interrupted" + ext);
    const Status cut = DownloadInto(sim.gateway(), spec, range, options, 2, &opening);
    EXPECT_EQ(cut.code(), StatusCode::kIoError);
    const std::string part = Slurp(spec.path);
    ASSERT_LT(part.size(), whole.size());
    ASSERT_TRUE(DownloadInto(sim.gateway(), spec, range, options, std::nullopt, &opening).ok());
    EXPECT_TRUE(opening.resumed);
    EXPECT_TRUE(opening.repaired.empty()) << opening.repaired;
    EXPECT_EQ(Slurp(spec.path), whole);

    // Killed in the middle of a record or line: the torn tail is cut, the rest continued. The
    // kill falls after a tick that shares its millisecond with the next (when the file has one),
    // so the resume must skip exactly what the file holds of that millisecond.
    spec.path = dir.Path("killed" + ext);
    size_t at = source.size() / 2;
    for (size_t idx = 1; idx < source.size(); ++idx) {
      if (source[idx].time_msc == source[idx - 1].time_msc) {
        at = idx;
        break;
      }
    }
    {
      auto writer = HistoryWriter::Open(spec, &opening);
      ASSERT_TRUE(writer.ok());
      ASSERT_TRUE((*writer)->Append(std::span<const mt5::TickData>(source.data(), at)).ok());
    }
    {
      const std::string torn = whole.substr(Slurp(spec.path).size(), 11);
      std::ofstream out(spec.path, std::ios::binary | std::ios::app);
      out << torn;
    }
    ASSERT_TRUE(DownloadInto(sim.gateway(), spec, range, options, std::nullopt, &opening).ok());
    EXPECT_TRUE(opening.resumed);
    EXPECT_EQ(opening.records, at);
    EXPECT_NE(opening.repaired.find("torn"), std::string::npos) << opening.repaired;
    EXPECT_EQ(Slurp(spec.path), whole);
  }
  // The store is the one `aits backtest` reads, tick for tick.
  data::ReadOptions read;
  auto replay = data::OpenTicks(dir.Path("whole.bin"), read);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  std::vector<Tick> ticks(20'000);
  auto n = (*replay)->Read(ticks);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, source.size());
  EXPECT_EQ(ticks[0].ts.ns, source[0].time_msc * 1'000'000);
  EXPECT_EQ(ticks[*n - 1].bid.ToString(), "1.12130");  // the file's last bid: 1.121300
}

TEST(HistoryTest, AFileOfAnotherSymbolKindOrPeriodIsRefusedNamingIt) {
  TempDir dir;
  HistoryFileSpec ticks{.path = dir.Path("t.csv"),
                        .format = HistoryFormat::kCsv,
                        .kind = HistoryKind::kTicks,
                        .symbol = "EURUSD",
                        .digits = 5};
  HistoryOpening opening;
  {
    auto writer = HistoryWriter::Open(ticks, &opening);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)
                    ->Append(std::vector<mt5::TickData>{
                        mt5sim::testing::Quote(mt5sim::testing::kMonday10, 1.1, 1.1001)})
                    .ok());
  }
  HistoryFileSpec other = ticks;
  other.symbol = "GBPUSD";
  Status refused = CheckHistoryFile(other);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("holds ticks of EURUSD, not GBPUSD"), std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find(ticks.path), std::string::npos);
  HistoryFileSpec bars = ticks;
  bars.kind = HistoryKind::kBars;
  bars.period_sec = 60;
  refused = CheckHistoryFile(bars);
  EXPECT_NE(refused.message().find("holds ticks"), std::string::npos) << refused.message();
  EXPECT_FALSE(HistoryWriter::Open(bars, &opening).ok());

  bars.path = dir.Path("m1.csv");
  {
    auto writer = HistoryWriter::Open(bars, &opening);
    ASSERT_TRUE(writer.ok());
    mt5::BarData bar{.time = 1578304800, .open = 1.1, .high = 1.2, .low = 1.0, .close = 1.1};
    ASSERT_TRUE((*writer)->Append(std::vector<mt5::BarData>{bar}).ok());
  }
  bars.period_sec = 3600;
  refused = CheckHistoryFile(bars);
  EXPECT_NE(refused.message().find("holds M1 bars, not H1"), std::string::npos)
      << refused.message();
  HistoryFileSpec binary_bars = bars;
  binary_bars.format = HistoryFormat::kBinary;
  EXPECT_FALSE(CheckHistoryFile(binary_bars).ok());
  HistoryFileSpec store = ticks;
  store.format = HistoryFormat::kBinary;  // a CSV where a store is expected
  refused = HistoryWriter::Open(store, &opening).status();
  EXPECT_NE(refused.message().find("not an AITS tick store"), std::string::npos)
      << refused.message();
}

// The stand-in EA connects and answers the symbol and the account; what it does with get_ticks is
// the test's.
class SilentTerminalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = Gateway::Create(ConfigFor("EURUSD"));
    ASSERT_TRUE(made.ok());
    gateway_ = std::move(*made);
    ASSERT_TRUE(gateway_->Listen().ok());
    auto ea = StandInEa::Connect(gateway_->port());
    ASSERT_TRUE(ea.ok()) << ea.status().message();
    ea_ = std::make_unique<StandInEa>(std::move(*ea));
    ASSERT_TRUE(ea_->Send(HelloWith(kToken)).ok());
    ASSERT_TRUE(ea_->Expect<mt5::Welcome>().ok());
  }
  void TearDown() override { gateway_->Stop(); }

  // Serves the gateway's frames until `done`: get_symbol and get_account answered, every
  // get_ticks handed to `on_ticks`.
  void Serve(const std::atomic<bool>& done,
             const std::function<void(const mt5::GetTicks&, uint64_t)>& on_ticks) {
    while (!done.load()) {
      auto frame = ea_->Next(milliseconds(50));
      if (!frame.ok()) continue;
      const uint64_t id = frame->envelope.request_id;
      if (frame->type() == mt5::MessageType::kGetSymbol) {
        ASSERT_TRUE(ea_->Send(mt5::Symbol{FxSymbol("EURUSD")}, id).ok());
      } else if (frame->type() == mt5::MessageType::kGetAccount) {
        mt5::Account account;
        account.currency = "USD";
        account.trade_allowed = account.expert_allowed = true;
        ASSERT_TRUE(ea_->Send(account, id).ok());
      } else if (frame->type() == mt5::MessageType::kGetTicks) {
        on_ticks(*frame->As<mt5::GetTicks>(), id);
      }
    }
  }

  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<StandInEa> ea_;
};

TEST_F(SilentTerminalTest, ASliceThatTimesOutIsRetriedThenTheDownloadFailsKeepingWhatItWrote) {
  using mt5sim::testing::Quote;
  const int64_t t0 = mt5sim::testing::kMonday10;
  std::atomic<bool> done{false};
  std::vector<mt5::GetTicks> asked;
  std::thread terminal([&] {
    Serve(done, [&](const mt5::GetTicks& request, uint64_t id) {
      asked.push_back(request);
      if (request.from_msc >= t0 + 3'600'000) return;  // the second hour: never answered
      mt5::Ticks reply;
      reply.symbol = "EURUSD";
      reply.final = true;
      reply.ticks = {Quote(t0 + 1, 1.1, 1.1001), Quote(t0 + 2, 1.1, 1.1002)};
      ASSERT_TRUE(ea_->Send(reply, id).ok());
    });
  });
  TempDir dir;
  HistoryFileSpec spec{.path = dir.Path("kept.bin"),
                       .format = HistoryFormat::kBinary,
                       .kind = HistoryKind::kTicks,
                       .symbol = "EURUSD",
                       .digits = 5};
  HistoryOptions options;
  options.tick_slice_ms = 3'600'000;
  options.request_timeout = milliseconds(200);
  options.retry_pause = milliseconds(10);
  options.attempts = 3;
  HistoryOpening opening;
  const Status failed = DownloadInto(*gateway_, spec, TicksOf(t0, t0 + 3 * 3'600'000), options,
                                     std::nullopt, &opening);
  done = true;
  terminal.join();
  EXPECT_EQ(failed.code(), StatusCode::kIoError);
  EXPECT_NE(failed.message().find("slice 2/3"), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("failed 3 time(s)"), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("did not answer"), std::string::npos) << failed.message();
  ASSERT_EQ(asked.size(), 4u);  // the first slice once, the second three times, no third
  EXPECT_EQ(asked[1].from_msc, t0 + 3'600'000);
  EXPECT_EQ(asked[1].to_msc, t0 + 2 * 3'600'000 - 1);  // both ends included: an hour less 1 ms
  EXPECT_EQ(asked[3].from_msc, asked[1].from_msc);
  EXPECT_GE(gateway_->count(Counter::kHistoryFailures), 3u);
  auto kept = data::ReadTickStoreInfo(spec.path);
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_EQ(kept->count, 2u);
}

TEST_F(SilentTerminalTest, AnErrorThatAskingAgainCannotMendIsNotRetried) {
  std::atomic<bool> done{false};
  int asked = 0;
  std::thread terminal([&] {
    Serve(done, [&](const mt5::GetTicks& request, uint64_t id) {
      ++asked;
      ASSERT_TRUE(ea_->Send(mt5::Error{static_cast<uint32_t>(mt5::ErrorCode::kUnknownSymbol),
                                       "unknown symbol '" + request.symbol + "'"},
                            id)
                      .ok());
    });
  });
  HistoryOptions options;
  options.request_timeout = milliseconds(2000);
  Collected got;
  auto stats = DownloadHistory(*gateway_, TicksOf(kFrom, kTo), options, Into(got));
  done = true;
  terminal.join();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(stats.status().message().find("unknown symbol 'EURUSD'"), std::string::npos)
      << stats.status().message();
  EXPECT_EQ(asked, 1);
}

TEST(HistoryGatewayTest, NoEaWithinTheTimeoutIsARetryableErrorAndAStoppedGatewayIsNot) {
  auto made = Gateway::Create(ConfigFor("EURUSD"));
  ASSERT_TRUE(made.ok());
  Gateway& gateway = **made;
  mt5::GetTicks request;
  request.symbol = "EURUSD";
  EXPECT_EQ(gateway.RequestTicks(request, milliseconds(100)).status().code(),
            StatusCode::kFailedPrecondition);  // not listening
  ASSERT_TRUE(gateway.Listen().ok());
  auto none = gateway.RequestTicks(request, milliseconds(100));
  EXPECT_EQ(none.status().code(), StatusCode::kIoError);
  EXPECT_NE(none.status().message().find("no EA connected"), std::string::npos);
  gateway.Stop();
  EXPECT_EQ(gateway.RequestSymbol("EURUSD", milliseconds(100)).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace aits::gateway
