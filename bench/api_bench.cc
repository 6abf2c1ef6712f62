// The API's costs per request (docs/performance.md, "API"): RS256 token verification (target
// under 20 µs) and signing, an API key's check, and one authenticated GET through the whole
// request path (ApiService::Handle: ids, route, token, rate limit, role, handler, JSON) without
// the network. The load over real connections is bench/api_load.sh (wrk). BM_OrderCommand: what
// the API adds to an order's path, POST /api/v1/orders through the whole request path into the
// session log's command table (target: under 100 µs at p99), with its p50 and p99.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "aits/api/api_service.h"
#include "aits/api/auth_store.h"
#include "aits/api/jwt.h"
#include "aits/api/secrets.h"
#include "aits/api/session_routes.h"
#include "aits/api/session_view.h"
#include "aits/persistence/command_wake.h"
#include "aits/persistence/sqlite.h"
#include "aits/session/paper.h"
#include "latency.h"

namespace aits::api {
namespace {

const Timestamp kNow = FromCivil(2026, 12, 6, 12);

Claims Access() { return AccessClaims("tom", "trader", kNow, Duration::Minutes(15)); }

const KeyRing& Ring() {
  static const KeyRing ring = KeyRing::Make({SigningKey::Generate("k1").value()}).value();
  return ring;
}

void BM_TokenVerify(benchmark::State& state) {
  const std::string token = Ring().Sign(Access()).value();
  const VerifyOptions options{"aits", "aits-api"};
  for (auto _ : state) {
    Result<Claims> claims = Ring().Verify(token, kNow, options);
    benchmark::DoNotOptimize(claims);
  }
}
BENCHMARK(BM_TokenVerify)->UseRealTime();

// A token's claims read from its payload: /1 the scan Verify uses, /0 the JSON parser alone.
void BM_ClaimsParse(benchmark::State& state) {
  Claims claims = Access();
  claims.token_id = "Zk3uQ2m9aB1x";
  const std::string token = Ring().Sign(claims).value();
  const size_t dot1 = token.find('.');
  const std::string payload =
      Base64UrlDecode(std::string_view(token).substr(dot1 + 1, token.rfind('.') - dot1 - 1))
          .value();
  for (auto _ : state) {
    Result<Claims> read = ParseClaims(payload, state.range(0) == 1);
    benchmark::DoNotOptimize(read);
  }
}
BENCHMARK(BM_ClaimsParse)->Arg(0)->Arg(1)->UseRealTime();

void BM_TokenSign(benchmark::State& state) {
  const Claims claims = Access();
  for (auto _ : state) {
    Result<std::string> token = Ring().Sign(claims);
    benchmark::DoNotOptimize(token);
  }
}
BENCHMARK(BM_TokenSign)->UseRealTime();

// A store, a service with one read route, and a user's token.
struct Fixture {
  Fixture() {
    path = "/tmp/aits_api_bench_" + std::to_string(::getpid()) + ".db";
    std::remove(path.c_str());
    store = AuthStore::Open(path, SecretBox::FromText(SecretBox::NewKeyText(), "bench").value(),
                            PasswordCost::kMinimal)
                .value();
    (void)store->EnsureSigningKey(kNow);
    auto [key, s] = store->CreateApiKey("bench", Role::kViewer, kNow).value();
    secret = s;
    clock.AdvanceTo(kNow);
    ApiOptions options;
    options.rate_per_minute = 1'000'000'000;  // the limiter's cost without its refusals
    service = std::make_unique<ApiService>(*store, store->LoadKeyRing().value(), clock, options);
    service->Add({"GET",
                  "/api/v1/account",
                  Role::kViewer,
                  false,
                  "account",
                  "",
                  {},
                  nullptr,
                  [](RequestContext&) {
                    return Json(
                        200,
                        {{"balance", "100000.00"}, {"equity", "100123.45"}, {"breaker", "normal"}});
                  }});
    Claims c = Access();
    c.expires = kNow + Duration::Hours(1);
    token = store->LoadKeyRing().value().Sign(c).value();
  }
  ~Fixture() { std::remove(path.c_str()); }
  std::string path;
  std::unique_ptr<AuthStore> store;
  SimulatedClock clock;
  std::unique_ptr<ApiService> service;
  std::string token;
  std::string secret;
};

void BM_AuthenticatedGet(benchmark::State& state) {
  Fixture f;
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/v1/account";
  r.client = "127.0.0.1";
  if (state.range(0) == 0) {
    r.headers.emplace_back("authorization", "Bearer " + f.token);
  } else {
    r.headers.emplace_back("x-api-key", f.secret);
  }
  for (auto _ : state) {
    HttpResponse out = f.service->Handle(r);
    if (out.status != 200) state.SkipWithError("not 200");
    benchmark::DoNotOptimize(out);
  }
  state.SetLabel(state.range(0) == 0 ? "bearer token" : "X-API-Key");
}
BENCHMARK(BM_AuthenticatedGet)->Arg(0)->Arg(1)->UseRealTime();

void BM_OrderCommand(benchmark::State& state) {
  Fixture f;
  // A real session's log (a short synthetic run), as a running session's API reads it.
  const std::string dir = "/tmp/aits_api_bench_session_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  session::PaperOptions paper;
  paper.spec.feed = "synthetic";
  paper.spec.seed = 7;
  paper.spec.synthetic_start = FromCivil(2024, 1, 8);
  paper.spec.max_ticks = 2'000;
  paper.spec.session_id = "bench";
  paper.state_dir = dir;
  paper.speed = 0;
  if (!session::RunPaper(paper).ok()) {
    state.SkipWithError("the session did not run");
    return;
  }
  // The running session's wake socket, drained as its command feed drains it, so that every
  // order pays for a wake that is delivered.
  auto wake = persistence::CommandWakeSocket::Bind(dir + "/commands.wake").value();
  std::atomic<bool> stop{false};
  // When the feed last woke, and how many wakes it has had: the order's hand-off to the session.
  std::atomic<int64_t> woke_ns{0};
  std::atomic<uint64_t> wakes{0};
  // It also checkpoints the log as the session's writer does, so that the log's write-ahead
  // file is reused rather than grown by every command, as it would never be beside a session.
  std::thread feed([&] {
    auto db = sqlite::Database::Open(dir + "/events.db", {}).value();
    auto last = std::chrono::steady_clock::now();
    while (!stop.load()) {
      pollfd fd{wake.fd(), POLLIN, 0};
      if (::poll(&fd, 1, 50) > 0) {
        woke_ns.store(std::chrono::steady_clock::now().time_since_epoch().count());
        wakes.fetch_add(static_cast<uint64_t>(std::max(wake.Drain(), 1)));
      }
      if (std::chrono::steady_clock::now() - last > std::chrono::milliseconds(100)) {
        (void)db.Exec("PRAGMA wal_checkpoint(PASSIVE)", "checkpoint");
        last = std::chrono::steady_clock::now();
      }
    }
  });
  auto view = SessionView::Open(dir).value();
  if (!view->Poll().ok()) state.SkipWithError("the log cannot be read");
  AddSessionRoutes(*f.service, *view);
  Claims c = AccessClaims("tom", "trader", kNow, Duration::Hours(1));
  const std::string token = f.store->LoadKeyRing().value().Sign(c).value();
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/v1/orders";
  r.client = "127.0.0.1";
  r.headers.emplace_back("authorization", "Bearer " + token);
  r.headers.emplace_back("content-type", "application/json");
  r.body = R"({"symbol": "EURUSD", "side": "buy", "lots": 0.1, "reason": "bench"})";
  bench::LatencySamples answers(1'000'000);
  // From the request's start to the session's feed awake with the order's wake: what the API
  // adds to the order's path. The audit row is written after the hand-off, before the answer.
  bench::LatencySamples handoffs(1'000'000);
  // range(0): orders a second, evenly spaced (0: back to back). Back to back, the store's
  // write-ahead logs and the threads that sync them compete with the orders for the two cores;
  // a trader's orders come far less often.
  const int64_t rate = state.range(0);
  const auto spacing =
      rate > 0 ? std::chrono::nanoseconds(1'000'000'000 / rate) : std::chrono::nanoseconds(0);
  auto next = std::chrono::steady_clock::now();
  for (auto _ : state) {
    if (rate > 0) {
      next += spacing;
      std::this_thread::sleep_until(next);
    }
    const uint64_t wakes_before = wakes.load();
    const auto started = std::chrono::steady_clock::now();
    HttpResponse out = f.service->Handle(r);
    answers.Add(std::chrono::steady_clock::now() - started);
    // The wake was sent before Handle returned; the feed may still be on its way to it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (wakes.load() == wakes_before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    // A wake of an earlier order that came after its wait gave up would read as before this
    // one started: not counted.
    const int64_t woke = woke_ns.load();
    if (wakes.load() != wakes_before && woke >= started.time_since_epoch().count()) {
      handoffs.Add(std::chrono::nanoseconds(woke - started.time_since_epoch().count()));
    }
    if (out.status != 202) state.SkipWithError(("not 202: " + out.body).c_str());
    benchmark::DoNotOptimize(out);
  }
  answers.Report(state, "us");
  handoffs.Report(state, "us", "handoff_");
  state.counters["handoffs_missed"] = static_cast<double>(answers.size() - handoffs.size());
  stop.store(true);
  feed.join();
  view.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OrderCommand)->Arg(0)->Arg(1000)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace aits::api

BENCHMARK_MAIN();
