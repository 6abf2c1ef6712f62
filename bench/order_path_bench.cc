// Orders per second through the kernel's order path (issue 4 target: >= 2M orders/s on one core
// for risk checks + order state machine + simulated fill).
//
//   BM_KernelOrderPath          Kernel::Submit -> RiskManager::CheckOrder -> OrderManager::Submit
//                               -> SimulatedVenue::Submit (zero latency: fills at the current
//                               quote at once) -> ExecutionReport -> Fill and OrderUpdate on the
//                               bus -> portfolio booking. One 1-lot EURUSD
//                               market order per iteration, alternating buy/sell so the position
//                               stays flat and no exposure or margin limit ever binds; every
//                               second order closes a round trip (a portfolio trade record).
//   BM_KernelOrderPathClientIds the same with a unique client order id per order, formatted inside
//                               the timed loop (std::to_chars into a reused string: "c<n>" fits
//                               the small-string buffer, so no allocation), which the kernel
//                               checks against its window of remembered ids.
//   BM_KernelOrderPathNoRisk    the same as the first without a risk manager (KernelConfig::risk
//                               unset): the difference is the risk manager's share.
//   BM_KernelOrderPathFullHistory  the first keeping every order, fill and trade in memory, as a
//                               backtest does for its report (KernelConfig::history = 0).
//   BM_KernelOrderPathLong      the first over a fixed 20M orders (memory must stay flat).
//   BM_RiskCheckOnly            RiskManager::CheckOrder alone on a passing order, with a real
//                               Portfolio marked at a quote.
//
// Limits are RiskLimits::Defaults() except max_orders_per_second, raised to its ceiling (1M/s) so
// that the rate rule is still evaluated but never rejects; the simulated clock moves 2 us per
// order to keep the trailing second under that ceiling. The quote has zero spread, so round trips
// leave equity unchanged (with a 0.2-pip spread the defaults' daily loss limit halts trading after
// ~2,500 round trips, and 20M orders would exhaust the account). Each benchmark fails
// (SkipWithError) if any order was rejected or not filled, so a figure is never of the reject path.
//
// Memory: with KernelConfig::history set (paper sessions: 4,096) the kernel keeps that many
// finished orders, fills and trades; with 0 (backtests) it keeps all of them for the report. The
// counters rss_B_per_order (resident-set growth over the timed loop / orders), kernel_orders and
// kernel_fills show which.
//
// Run: aits_order_path_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "aits/core/clock.h"
#include "aits/kernel/kernel.h"
#include "aits/portfolio/portfolio.h"
#include "aits/risk/risk_manager.h"

namespace aits {
namespace {

constexpr int64_t kStepNs = 2'000;  // simulated time per order: 500k orders per trailing second

// Resident set size in bytes, from /proc/self/statm (0 if unreadable).
int64_t ResidentBytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  long long size = 0;
  long long resident = 0;
  const int read = std::fscanf(file, "%lld %lld", &size, &resident);
  std::fclose(file);
  if (read != 2) return 0;
  return static_cast<int64_t>(resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

risk::RiskLimits LooseLimits() {
  risk::RiskLimits limits = risk::RiskLimits::Defaults();
  limits.max_orders_per_second = 1'000'000;  // the ceiling RiskLimits::Validate() allows
  return limits;
}

Tick EurUsdQuote(Timestamp ts) {
  Tick tick;
  tick.ts = ts;
  tick.bid = Price::FromRaw(1'100'000'000, 5);  // 1.10000 in 1e-9 units
  // Zero spread: a round trip then costs nothing, so millions of them never move equity and the
  // daily-loss, drawdown and margin rules stay far from their limits without loosening them.
  tick.ask = tick.bid;
  tick.instrument = InstrumentId{0};
  return tick;
}

OrderRequest OneLotMarket(const Instrument& instrument) {
  OrderRequest request;
  request.instrument = instrument.id;
  request.side = Side::kBuy;
  request.type = OrderType::kMarket;
  request.quantity = Quantity::FromRaw(kFixedScale, instrument.LotPrecision());
  return request;
}

void RunKernelOrderPath(benchmark::State& state, bool with_risk, bool client_ids, size_t history) {
  kernel::KernelConfig config;
  config.history = history;
  if (with_risk) config.risk = LooseLimits();
  if (const Status status = config.Validate(); !status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  SimulatedClock clock;
  Timestamp now = FromCivil(2024, 1, 8);
  clock.AdvanceTo(now);
  auto kernel = std::make_unique<kernel::Kernel>(config, clock);
  const Instrument instrument = Instrument::Infer("EURUSD");
  if (const Status status = kernel->AddInstrument(instrument); !status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  kernel->Start();
  kernel->OnTick(EurUsdQuote(now));

  OrderRequest request = OneLotMarket(instrument);
  request.client_order_id.reserve(15);  // the small-string capacity: assignment never allocates
  char digits[24];
  uint64_t sequence = 0;
  Side side = Side::kBuy;
  const int64_t rss_before = ResidentBytes();
  for (auto _ : state) {
    now.ns += kStepNs;
    clock.AdvanceTo(now);
    request.side = side;
    side = Opposite(side);
    if (client_ids) {
      digits[0] = 'c';
      const auto end = std::to_chars(digits + 1, digits + sizeof(digits), ++sequence).ptr;
      request.client_order_id.assign(digits, end);
    }
    const OrderId id = kernel->Submit(request);
    benchmark::DoNotOptimize(id);
  }
  const int64_t rss_after = ResidentBytes();

  const uint64_t orders = state.iterations();
  uint64_t rejected = 0;
  for (const Order& order : kernel->orders()) rejected += order.status != OrderStatus::kFilled;
  if (kernel->order_count() != orders) ++rejected;
  // Zero spread and no commission: equity must end where it started, whatever the parity.
  const Money equity = kernel->account().equity;
  if (kernel->fill_count() != orders || rejected != 0 ||
      equity != Money::FromRaw(100'000 * kMoneyScale)) {
    const std::string error = "expected " + std::to_string(orders) + " fills, got " +
                              std::to_string(kernel->fill_count()) + " and " +
                              std::to_string(rejected) + " unfilled orders, equity " +
                              equity.ToString();
    state.SkipWithError(error.c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(orders));
  state.counters["rss_B_per_order"] =
      static_cast<double>(rss_after - rss_before) / static_cast<double>(orders);
  state.counters["kernel_orders"] = static_cast<double>(kernel->orders().size());
  state.counters["kernel_fills"] = static_cast<double>(kernel->fills().size());
  state.counters["trade_records"] = static_cast<double>(kernel->portfolio().trades().size());
}

// Paper sessions keep 4,096 orders, fills and trades in memory, in the kernel's order table (the
// venue keeps only live orders; the event log has the rest).
constexpr size_t kSessionHistory = 4'096;

void BM_KernelOrderPath(benchmark::State& state) {
  RunKernelOrderPath(state, true, false, kSessionHistory);
}
BENCHMARK(BM_KernelOrderPath)->UseRealTime();

void BM_KernelOrderPathClientIds(benchmark::State& state) {
  RunKernelOrderPath(state, true, true, kSessionHistory);
}
BENCHMARK(BM_KernelOrderPathClientIds)->UseRealTime();

void BM_KernelOrderPathNoRisk(benchmark::State& state) {
  RunKernelOrderPath(state, false, false, kSessionHistory);
}
BENCHMARK(BM_KernelOrderPathNoRisk)->UseRealTime();

// A backtest keeps every order, fill and trade for its report: memory grows per order.
void BM_KernelOrderPathFullHistory(benchmark::State& state) {
  RunKernelOrderPath(state, true, false, 0);
}
BENCHMARK(BM_KernelOrderPathFullHistory)->UseRealTime();

// A long fixed run (20M orders) with the session's bounded history: flat memory, flat cost.
void BM_KernelOrderPathLong(benchmark::State& state) {
  RunKernelOrderPath(state, true, false, kSessionHistory);
}
BENCHMARK(BM_KernelOrderPathLong)->Iterations(20'000'000)->Repetitions(1)->UseRealTime();

void BM_RiskCheckOnly(benchmark::State& state) {
  const Instrument instrument = Instrument::Infer("EURUSD");
  portfolio::Portfolio portfolio(Currency::Of("USD"), Money::FromRaw(100'000 * kMoneyScale), 100);
  if (const Status status = portfolio.AddInstrument(instrument); !status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  const risk::RiskLimits limits = LooseLimits();
  if (const Status status = limits.Validate(); !status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  risk::RiskManager manager(limits, portfolio);
  manager.AddInstrument(instrument);
  Timestamp now = FromCivil(2024, 1, 8);
  const Tick quote = EurUsdQuote(now);
  portfolio.OnTick(quote);
  manager.OnQuote(quote, now);

  OrderRequest request = OneLotMarket(instrument);
  uint64_t rejected = 0;
  for (auto _ : state) {
    now.ns += kStepNs;
    const risk::RiskVerdict verdict = manager.CheckOrder(request, &quote, now);
    rejected += !verdict.ok();
    benchmark::DoNotOptimize(verdict.reason);
  }
  if (rejected != 0) {
    state.SkipWithError((std::to_string(rejected) + " orders rejected").c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RiskCheckOnly)->UseRealTime();

}  // namespace
}  // namespace aits

BENCHMARK_MAIN();
