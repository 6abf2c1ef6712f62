// The API's costs per request (docs/performance.md, "API"): RS256 token verification (target
// under 20 µs) and signing, an API key's check, and one authenticated GET through the whole
// request path (ApiService::Handle: ids, route, token, rate limit, role, handler, JSON) without
// the network. The load over real connections is bench/api_load.sh (wrk).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>

#include "aits/api/api_service.h"
#include "aits/api/auth_store.h"
#include "aits/api/jwt.h"
#include "aits/api/secrets.h"

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

}  // namespace
}  // namespace aits::api

BENCHMARK_MAIN();
