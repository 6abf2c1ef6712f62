// The MetaTrader 5 gateway on loopback, against the stand-in EA (aits/gateway/stand_in_ea.h):
//   BM_GatewayTicks: ticks from the EA (batched per frame, as the EA's CopyTicks sends them)
//     through the gateway's thread into a node inbox drained by a consumer thread; ticks/s from
//     the first frame sent to the last tick popped (target >= 500,000/s; docs/metatrader.md,
//     "Gateway").
//   BM_GatewayOrderRoundTrip: node -> gateway -> EA (place_order) -> trade_result and the deal's
//     transaction -> ExecutionReport popped from the inbox; one order at a time, the latency of
//     each in the project's histogram (target p99 <= 1 ms).
//   BM_HistoryDownload: a history download (aits history) of a day of EUR/USD ticks from the
//     terminal simulator holding them as its past, through the gateway in day slices into the
//     binary tick store; ticks/s of the whole download (docs/metatrader.md, "History"). Arg 0:
//     the real day of ../shared/data (9,500 ticks); N: N ticks spread over a day.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cmath>
#include <thread>

#include <filesystem>

#include "aits/core/latency_histogram.h"
#include "aits/gateway/gateway.h"
#include "aits/gateway/history.h"
#include "aits/gateway/history_file.h"
#include "aits/gateway/stand_in_ea.h"
#include "aits/mt5sim/mt5sim_test_util.h"
#include "aits/mt5sim/terminal.h"
#include "aits/mt5sim/terminal_link.h"
#include "aits/mt5sim/trade_server.h"

namespace aits::gateway {
namespace {

constexpr char kToken[] = "bench-token";

GatewayConfig BenchConfig() {
  GatewayConfig config;
  config.token = kToken;
  Instrument eurusd = Instrument::Infer("EURUSD");
  eurusd.id = InstrumentId{0};
  config.instruments = {eurusd};
  return config;
}

mt5::Account Account() {
  mt5::Account account;
  account.balance = account.equity = account.margin_free = 100'000;
  account.trade_allowed = account.expert_allowed = account.connected = true;
  return account;
}

void BM_GatewayTicks(benchmark::State& state) {
  const auto per_frame = static_cast<size_t>(state.range(0));
  constexpr size_t kFrames = 1'000;
  auto gateway = Gateway::Create(BenchConfig());
  if (!gateway.ok()) return state.SkipWithError(gateway.status().message().c_str());
  node::Inbox<node::NodeEvent> inbox(1 << 16);
  if (!(*gateway)->Start(node::ProducerLink(&inbox, 0)).ok()) return state.SkipWithError("start");
  auto ea = StandInEa::Connect((*gateway)->port());
  if (!ea.ok()) return state.SkipWithError(ea.status().message().c_str());
  if (!ea->Handshake(HelloWith(kToken), {FxSymbol("EURUSD")}, Account()).ok()) {
    return state.SkipWithError("handshake");
  }
  std::atomic<uint64_t> popped{0};
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    node::NodeEvent event;
    while (!done.load(std::memory_order_acquire)) {
      if (inbox.WaitPop(event, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)) ==
              node::PopResult::kEvent &&
          std::holds_alternative<node::MarketData>(event)) {
        popped.fetch_add(1, std::memory_order_release);
      }
    }
  });
  int64_t time_msc = 1'700'000'000'000;
  uint64_t target = 0;
  mt5::Ticks frame{"EURUSD", true, {}};
  frame.ticks.resize(per_frame);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (size_t idx = 0; idx < kFrames; ++idx) {
      for (size_t tick = 0; tick < per_frame; ++tick) {
        const double wave = static_cast<double>(tick % 50) * 1e-5;
        frame.ticks[tick] = mt5::TickData{++time_msc, 1.1 + wave, 1.10002 + wave, 0, 1, 6};
      }
      if (!ea->Send(frame).ok()) return state.SkipWithError("send");
      if (ea->has_unsent() && !ea->Drain().ok()) return state.SkipWithError("drain");
    }
    target += kFrames * per_frame;
    while (popped.load(std::memory_order_acquire) < target) std::this_thread::yield();
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  done.store(true, std::memory_order_release);
  consumer.join();
  state.SetItemsProcessed(static_cast<int64_t>(target));
  state.counters["refused"] = static_cast<double>((*gateway)->count(Counter::kRefusedTicks) +
                                                  (*gateway)->count(Counter::kStaleTicks));
  (*gateway)->Stop();
}
BENCHMARK(BM_GatewayTicks)->Arg(100)->Arg(1000)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_GatewayOrderRoundTrip(benchmark::State& state) {
  auto gateway = Gateway::Create(BenchConfig());
  if (!gateway.ok()) return state.SkipWithError(gateway.status().message().c_str());
  node::Inbox<node::NodeEvent> inbox(1 << 12);
  auto execution = (*gateway)->MakeExecutionClient();
  if (!(*gateway)->Start(node::ProducerLink(&inbox, 0)).ok()) return state.SkipWithError("start");
  auto connected = StandInEa::Connect((*gateway)->port());
  if (!connected.ok()) return state.SkipWithError(connected.status().message().c_str());
  StandInEa ea = std::move(*connected);
  if (!ea.Handshake(HelloWith(kToken), {FxSymbol("EURUSD")}, Account()).ok()) {
    return state.SkipWithError("handshake");
  }
  // The terminal: each order done at once and its deal pushed, as OrderSend and
  // OnTradeTransaction would.
  std::atomic<bool> stop{false};
  std::thread terminal([&] {
    uint64_t ticket = 1;
    while (!stop.load(std::memory_order_acquire)) {
      auto frame = ea.Next(std::chrono::milliseconds(20));
      if (!frame.ok()) continue;
      auto place = frame->As<mt5::PlaceOrder>();
      if (!place.ok()) continue;
      ++ticket;
      mt5::TradeResult result;
      result.client_order_id = place->client_order_id;
      result.retcode = mt5::retcode::kDone;
      result.order = ticket;
      result.deal = ticket;
      result.volume = place->volume;
      result.price = 1.1;
      (void)ea.Send(result, frame->envelope.request_id);
      mt5::Transaction deal;
      deal.type = static_cast<uint32_t>(mt5::TransactionType::kDealAdd);
      deal.deal = ticket;
      deal.order = ticket;
      deal.position = ticket;
      deal.symbol = place->symbol;
      deal.deal_type = place->type;
      deal.volume = place->volume;
      deal.price = 1.1;
      deal.magic = place->magic;
      deal.comment = place->client_order_id;
      (void)ea.Send(deal);
    }
  });
  LatencyHistogram histogram;
  uint64_t id = 0;
  node::NodeEvent event;
  for (auto _ : state) {
    Order order;
    order.id = OrderId{++id};
    order.request.instrument = InstrumentId{0};
    order.request.quantity = Quantity::FromRaw(10'000'000, 2);
    order.request.client_order_id = "b-" + std::to_string(id);
    const int64_t start = node::SteadyNowNs();
    execution->Submit(order);
    for (;;) {
      if (inbox.WaitPop(event, std::chrono::steady_clock::now() + std::chrono::seconds(5)) !=
          node::PopResult::kEvent) {
        stop = true;
        terminal.join();
        return state.SkipWithError("no report within 5 s");
      }
      if (std::holds_alternative<node::ExecutionReportEvent>(event)) break;
    }
    histogram.Record(node::SteadyNowNs() - start);
  }
  stop = true;
  terminal.join();
  state.counters["p50_us"] = static_cast<double>(histogram.Quantile(0.50)) / 1e3;
  state.counters["p99_us"] = static_cast<double>(histogram.Quantile(0.99)) / 1e3;
  state.counters["p999_us"] = static_cast<double>(histogram.Quantile(0.999)) / 1e3;
  state.counters["max_us"] = static_cast<double>(histogram.max()) / 1e3;
  (*gateway)->Stop();
}
BENCHMARK(BM_GatewayOrderRoundTrip)->Iterations(20'000)->Unit(benchmark::kMicrosecond);

void BM_HistoryDownload(benchmark::State& state) {
  std::vector<mt5::TickData> ticks;
  if (state.range(0) == 0) {
    auto read =
        mt5sim::ReadTickFile(std::string(AITS_SHARED_DATA_DIR) + "/eurusd-ticks-2020-01-01.csv", 5);
    if (!read.ok()) {
      state.SkipWithError(read.status().message().c_str());
      return;
    }
    ticks = std::move(*read);
  } else {
    // A day of quotes swinging 200 points around 1.10 (a random walk of this length drifts off).
    const int64_t count = state.range(0);
    for (int64_t i = 0; i < count; ++i) {
      const double bid =
          std::round((1.10 + 0.002 * std::sin(static_cast<double>(i) * 1e-3)) * 1e5) / 1e5;
      ticks.push_back(mt5sim::testing::Quote(mt5sim::testing::kMonday10 + i * 86'400'000 / count,
                                             bid, bid + 0.0001));
    }
  }
  auto made = Gateway::Create(BenchConfig());
  if (!made.ok() || !(*made)->Listen().ok()) {
    state.SkipWithError("gateway");
    return;
  }
  Gateway& gateway = **made;
  mt5sim::TradeServer server(mt5sim::ServerConfig{});
  (void)server.AddSymbol(mt5sim::ForexSymbol("EURUSD"));
  mt5sim::Terminal terminal(mt5sim::TerminalConfig{.token = kToken}, server);
  if (Status added = terminal.AddTicks("EURUSD", ticks); !added.ok()) {
    state.SkipWithError(added.message().c_str());
    return;
  }
  terminal.ReplayUntil(std::numeric_limits<int64_t>::max());
  mt5sim::RunnerConfig runner_config;
  runner_config.gateway = net::Endpoint{.host = "127.0.0.1", .port = gateway.port()};
  runner_config.speed = 0;
  mt5sim::TerminalRunner runner(runner_config, terminal);
  std::thread thread([&] { (void)runner.Run(); });
  HistoryRange range;
  range.mt5_symbol = "EURUSD";
  range.from_msc = ticks.front().time_msc;
  range.to_msc = ticks.back().time_msc + 1;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("aits-history-bench-" + std::to_string(getpid()) + ".bin"))
                               .string();
  uint64_t downloaded = 0;
  for (auto _ : state) {
    std::filesystem::remove(path);
    HistoryOpening opening;
    auto writer = HistoryWriter::Open(HistoryFileSpec{.path = path, .symbol = "EURUSD"}, &opening);
    if (!writer.ok()) {
      state.SkipWithError(writer.status().message().c_str());
      break;
    }
    HistorySink sink;
    sink.ticks = [&](std::span<const mt5::TickData> got) { return (*writer)->Append(got); };
    auto stats = DownloadHistory(gateway, range, HistoryOptions{}, sink);
    if (!stats.ok() || stats->delivered != ticks.size()) {
      state.SkipWithError(stats.ok() ? "ticks missing" : stats.status().message().c_str());
      break;
    }
    downloaded += stats->delivered;
  }
  state.counters["ticks_per_s"] =
      benchmark::Counter(static_cast<double>(downloaded), benchmark::Counter::kIsRate);
  runner.Stop();
  thread.join();
  gateway.Stop();
  std::filesystem::remove(path);
}
BENCHMARK(BM_HistoryDownload)->Arg(0)->Arg(1'000'000)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace aits::gateway

BENCHMARK_MAIN();
