// libFuzzer target for the API's request path (docs/api.md): raw bytes parsed as an HTTP
// request the way a connection's are (ParseHttpRequest), then handled by the whole service
// (ApiService::Handle with the session routes over an empty session log) — ids, routes, query
// and form parsing, tokens, the token endpoint, command bodies. The first byte picks where the
// rest goes, so the fuzzer also reaches the parsers behind authentication:
//   0: a whole HTTP request, as sent;
//   1: the body of POST /api/v1/risk/breaker, with a trader's token;
//   2: the query of GET /api/v1/orders, with a viewer's token;
//   3: the body of POST /api/v1/auth/token (form-encoded);
//   4: the Bearer token of GET /api/v1/me.
// Every answer must be a status from 100 to 599; a JSON answer must parse. Built by the fuzz
// preset (clang, -fsanitize=fuzzer,address):
//   cmake --preset fuzz && cmake --build --preset fuzz --target api_request_fuzz
//   build/fuzz/src/aits/api/api_request_fuzz -max_total_time=60
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "aits/api/api_service.h"
#include "aits/api/session_routes.h"
#include "aits/api/session_view.h"
#include "aits/persistence/event_store.h"

namespace {

using namespace aits;
using namespace aits::api;

struct World {
  World() {
    dir = std::filesystem::temp_directory_path() / ("aits_api_fuzz_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const Timestamp now = FromCivil(2026, 12, 6);
    clock.AdvanceTo(now);
    // An empty session log: the routes answer from an empty view; commands queue in it.
    (void)persistence::EventStore::Open((dir / "events.db").string()).value()->Close();
    store = AuthStore::Open((dir / "auth.db").string(),
                            SecretBox::FromText(SecretBox::NewKeyText(), "fuzz").value(),
                            PasswordCost::kMinimal)
                .value();
    (void)store->EnsureSigningKey(now);
    (void)store->AddUser("tom", Role::kTrader, "pw", now);
    view = SessionView::Open(dir.string()).value();
    service =
        std::make_unique<ApiService>(*store, store->LoadKeyRing().value(), clock, ApiOptions{});
    AddSessionRoutes(*service, *view);
    trader = store->LoadKeyRing()
                 .value()
                 .Sign(AccessClaims("tom", "trader", now, Duration::Hours(1)))
                 .value();
  }
  std::filesystem::path dir;
  SimulatedClock clock;
  std::unique_ptr<AuthStore> store;
  std::unique_ptr<SessionView> view;
  std::unique_ptr<ApiService> service;
  std::string trader;
};

void Check(const HttpResponse& r) {
  if (r.status < 100 || r.status > 599) std::abort();
  if (r.content_type == "application/json" && !r.body.empty() &&
      nlohmann::json::parse(r.body, nullptr, false).is_discarded()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  HttpRequest r;
  r.client = "127.0.0.1";
  switch (data[0] % 5) {
    case 0: {
      Result<HttpRequest> parsed = ParseHttpRequest(rest, 4096, 64 * 1024);
      if (!parsed.ok()) return 0;
      r = std::move(parsed).value();
      r.client = "127.0.0.1";
      break;
    }
    case 1:
      r.method = "POST";
      r.path = "/api/v1/risk/breaker";
      r.headers = {{"authorization", "Bearer " + world->trader}};
      r.body = rest;
      break;
    case 2:
      r.method = "GET";
      r.path = "/api/v1/orders";
      r.query = rest;
      r.headers = {{"authorization", "Bearer " + world->trader}};
      break;
    case 3:
      r.method = "POST";
      r.path = "/api/v1/auth/token";
      r.body = rest;
      break;
    default:
      r.method = "GET";
      r.path = "/api/v1/me";
      r.headers = {{"authorization", "Bearer " + rest}};
      break;
  }
  Check(world->service->Handle(r));
  return 0;
}
