#include "aits/api/api_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "aits/persistence/sqlite.h"

namespace aits::api {
namespace {

const Timestamp kStart = FromCivil(2026, 12, 6, 9);

// Standard base64 with its padding (RFC 4648 §4), as HTTP Basic uses it.
std::string Base64Standard(std::string_view bytes) {
  std::string out = Base64UrlEncode(bytes);
  for (char& c : out) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

// A store in a fresh file, with users of every role, a signing key and an API key.
class ApiServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/aits_auth_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db";
    std::remove(path_.c_str());
    box_text_ = SecretBox::NewKeyText();
    store_ = AuthStore::Open(path_, Box(), PasswordCost::kMinimal).value();
    ASSERT_TRUE(store_->AddUser("vera", Role::kViewer, "vera-pw", kStart).ok());
    ASSERT_TRUE(store_->AddUser("tom", Role::kTrader, "tom-pw", kStart).ok());
    ASSERT_TRUE(store_->AddUser("ada", Role::kAdmin, "ada-pw", kStart).ok());
    ASSERT_TRUE(store_->EnsureSigningKey(kStart).ok());
    auto [key, secret] = store_->CreateApiKey("bot", Role::kTrader, kStart).value();
    key_id_ = key.id;
    key_secret_ = secret;
    clock_.AdvanceTo(kStart);
    Make({});
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::remove(path_.c_str());
  }
  SecretBox Box() const { return SecretBox::FromText(box_text_, "test").value(); }

  void Make(ApiOptions options) {
    service_ = std::make_unique<ApiService>(*store_, store_->LoadKeyRing().value(), clock_,
                                            std::move(options));
    // A command of the trader's and a read of the viewer's, as the session routes are.
    service_->Add({"POST",
                   "/api/v1/risk/breaker",
                   Role::kTrader,
                   true,
                   "risk",
                   "move the breaker",
                   {},
                   nullptr,
                   [](RequestContext& ctx) {
                     ctx.audit_target = "breaker";
                     ctx.audit_detail = "halted";
                     return Json(200, {{"state", "halted"}});
                   }});
    service_->Add({"GET",
                   "/api/v1/orders/{id}",
                   Role::kViewer,
                   false,
                   "orders",
                   "one order",
                   {},
                   nullptr,
                   [](RequestContext& ctx) {
                     return Json(200, {{"id", ctx.path["id"]}, {"q", ctx.query["x"]}});
                   }});
  }

  HttpResponse Call(std::string method, std::string target, std::string token = {},
                    std::string body = {},
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest r;
    r.method = std::move(method);
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
    for (auto& h : headers) r.headers.push_back(std::move(h));
    r.body = std::move(body);
    r.client = "10.0.0.7";
    return service_->Handle(r);
  }
  HttpResponse Login(const std::string& user, const std::string& password) {
    return Call("POST", "/api/v1/auth/token", {},
                "grant_type=password&username=" + user + "&password=" + password,
                {{"content-type", "application/x-www-form-urlencoded"}});
  }
  std::string AccessToken(const std::string& user) {
    const HttpResponse r = Login(user, user + "-pw");
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body).value("access_token", "");
  }
  static std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  static std::string ErrorCode(const HttpResponse& r) {
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.contains("error") && j["error"].is_object()) return j["error"].value("code", "");
    return j.value("error", "");
  }

  std::string path_;
  std::string box_text_;
  std::unique_ptr<AuthStore> store_;
  SimulatedClock clock_;
  std::unique_ptr<ApiService> service_;
  std::string key_id_;
  std::string key_secret_;
};

TEST_F(ApiServiceTest, RequestAndChainIdsAreTakenOrMadeAndReturned) {
  const HttpResponse made = Call("GET", "/api/v1/health");
  EXPECT_EQ(made.status, 200);
  EXPECT_EQ(Header(made, "X-Request-ID").size(), 16u);
  EXPECT_EQ(Header(made, "X-Chain-ID"), Header(made, "X-Request-ID"));
  const HttpResponse given =
      Call("GET", "/api/v1/health", {}, {}, {{"x-request-id", "req-1"}, {"x-chain-id", "c.9"}});
  EXPECT_EQ(Header(given, "X-Request-ID"), "req-1");
  EXPECT_EQ(Header(given, "X-Chain-ID"), "c.9");
  // Not an id (a space, a quote): replaced, never echoed.
  const HttpResponse bad = Call("GET", "/api/v1/health", {}, {}, {{"x-request-id", "a b\""}});
  EXPECT_NE(Header(bad, "X-Request-ID"), "a b\"");
  const HttpResponse missing = Call("GET", "/api/v1/nothing", {}, {}, {{"x-request-id", "r2"}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["request_id"], "r2");
}

TEST_F(ApiServiceTest, ThePasswordGrantIssuesTokensThatTheRoutesAccept) {
  const HttpResponse r = Login("tom", "tom-pw");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  const nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["token_type"], "Bearer");
  EXPECT_EQ(body["expires_in"], 900);
  EXPECT_EQ(body["scope"], "trader");
  EXPECT_TRUE(body.contains("refresh_token"));
  const HttpResponse me = Call("GET", "/api/v1/me", body["access_token"]);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(nlohmann::json::parse(me.body)["subject"], "tom");
  EXPECT_EQ(nlohmann::json::parse(me.body)["role"], "trader");
  const HttpResponse order =
      Call("GET", "/api/v1/orders/o%2F7?x=a%20b", body["access_token"].get<std::string>());
  EXPECT_EQ(nlohmann::json::parse(order.body), nlohmann::json({{"id", "o/7"}, {"q", "a b"}}));
  // JSON bodies are accepted too.
  EXPECT_EQ(Call("POST", "/api/v1/auth/token", {},
                 R"({"grant_type":"password","username":"vera","password":"vera-pw"})",
                 {{"content-type", "application/json"}})
                .status,
            200);
}

TEST_F(ApiServiceTest, EveryRouteRefusesMissingWeakAndBadCredentials) {
  const std::string viewer = AccessToken("vera");
  const std::string trader = AccessToken("tom");
  HttpResponse r = Call("POST", "/api/v1/risk/breaker");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "unauthenticated");
  EXPECT_EQ(Header(r, "WWW-Authenticate"), "Bearer realm=\"aits\"");
  r = Call("POST", "/api/v1/risk/breaker", viewer);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("needs the trader role; vera has viewer"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/api/v1/risk/breaker", trader).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/audit", trader).status, 403);
  // A tampered token, a non-bearer scheme, garbage.
  std::string tampered = trader;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Call("GET", "/api/v1/me", tampered).status, 401);
  HttpRequest basic;
  basic.method = "GET";
  basic.path = "/api/v1/me";
  basic.headers.emplace_back("authorization", "Basic dG9tOnRvbS1wdw==");
  EXPECT_EQ(service_->Handle(basic).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/me", "' OR 1=1 --").status, 401);
  // Expired: fifteen minutes and the leeway later.
  clock_.AdvanceTo(kStart + Duration::Minutes(16));
  r = Call("GET", "/api/v1/me", trader);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("expired"), std::string::npos);
}

TEST_F(ApiServiceTest, RefreshTokensRotateAndASecondUseRevokesThemAll) {
  const nlohmann::json first = nlohmann::json::parse(Login("tom", "tom-pw").body);
  const std::string refresh = first["refresh_token"];
  // A refresh token is no access token.
  EXPECT_EQ(Call("GET", "/api/v1/me", refresh).status, 401);
  const auto use = [this](const std::string& token) {
    return Call("POST", "/api/v1/auth/token", {},
                "grant_type=refresh_token&refresh_token=" + token);
  };
  const HttpResponse second = use(refresh);
  ASSERT_EQ(second.status, 200) << second.body;
  const std::string next = nlohmann::json::parse(second.body)["refresh_token"];
  EXPECT_NE(next, refresh);
  // The old one again: refused, and the new one is revoked with it.
  const HttpResponse again = use(refresh);
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(ErrorCode(again), "invalid_grant");
  EXPECT_EQ(use(next).status, 400);
  // A refresh takes the user's role as it is now; a disabled user gets nothing.
  const std::string fresh = nlohmann::json::parse(Login("tom", "tom-pw").body)["refresh_token"];
  ASSERT_TRUE(store_->SetUserRole("tom", Role::kViewer).ok());
  const HttpResponse demoted = use(fresh);
  ASSERT_EQ(demoted.status, 200);
  EXPECT_EQ(nlohmann::json::parse(demoted.body)["scope"], "viewer");
  ASSERT_TRUE(store_->SetUserDisabled("tom", true).ok());
  EXPECT_EQ(use(nlohmann::json::parse(demoted.body)["refresh_token"]).status, 400);
  EXPECT_EQ(Login("tom", "tom-pw").status, 400);
}

TEST_F(ApiServiceTest, ApiKeysAuthenticateDirectlyOrThroughClientCredentials) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/v1/me";
  r.headers.emplace_back("x-api-key", key_secret_);
  HttpResponse me = service_->Handle(r);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(nlohmann::json::parse(me.body)["subject"], key_id_);
  EXPECT_EQ(nlohmann::json::parse(me.body)["kind"], "api_key");
  const HttpResponse token =
      Call("POST", "/api/v1/auth/token", {},
           "grant_type=client_credentials&client_id=" + key_id_ + "&client_secret=" + key_secret_);
  ASSERT_EQ(token.status, 200) << token.body;
  const nlohmann::json body = nlohmann::json::parse(token.body);
  EXPECT_FALSE(body.contains("refresh_token"));
  EXPECT_EQ(Call("POST", "/api/v1/risk/breaker", body["access_token"]).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/auth/token", {},
                 "grant_type=client_credentials&client_id=" + key_id_ + "&client_secret=nope")
                .status,
            401);
  ASSERT_TRUE(store_->RevokeApiKey(key_id_).ok());
  EXPECT_EQ(service_->Handle(r).status, 401);
}

// RFC 6749 §2.3.1, as OAuth2 libraries (Alertmanager's among them) send client credentials:
// `Authorization: Basic`, the id and secret form-encoded, then base64.
TEST_F(ApiServiceTest, ClientCredentialsMayComeInTheBasicHeader) {
  const auto basic = [](const std::string& id_and_secret) {
    return std::vector<std::pair<std::string, std::string>>{
        {"authorization", "Basic " + Base64Standard(id_and_secret)}};
  };
  const std::string grant = "grant_type=client_credentials";
  const HttpResponse token =
      Call("POST", "/api/v1/auth/token", {}, grant, basic(key_id_ + ":" + key_secret_));
  ASSERT_EQ(token.status, 200) << token.body;
  EXPECT_EQ(Call("POST", "/api/v1/risk/breaker",
                 nlohmann::json::parse(token.body)["access_token"].get<std::string>())
                .status,
            200);
  // A wrong secret in the header: 401 with the challenge (§5.2).
  const HttpResponse wrong =
      Call("POST", "/api/v1/auth/token", {}, grant, basic(key_id_ + ":nope"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(ErrorCode(wrong), "invalid_client");
  EXPECT_EQ(Header(wrong, "WWW-Authenticate"), "Basic realm=\"aits\"");
  // Not base64, no colon, or credentials sent twice.
  EXPECT_EQ(Call("POST", "/api/v1/auth/token", {}, grant, {{"authorization", "Basic !!not-base64"}})
                .status,
            401);
  EXPECT_EQ(Call("POST", "/api/v1/auth/token", {}, grant, basic(key_id_)).status, 401);
  const HttpResponse twice =
      Call("POST", "/api/v1/auth/token", {}, grant + "&client_secret=" + key_secret_,
           basic(key_id_ + ":" + key_secret_));
  EXPECT_EQ(twice.status, 400);
  EXPECT_EQ(ErrorCode(twice), "invalid_request");
  // Another scheme on the token endpoint is not the client's authentication: ignored.
  EXPECT_EQ(Call("POST", "/api/v1/auth/token", AccessToken("tom"),
                 "grant_type=password&username=vera&password=vera-pw")
                .status,
            200);
}

TEST_F(ApiServiceTest, FailedLoginsLockTheNameOutForAWhile) {
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Login("ada", "wrong").status, 400) << i;
  HttpResponse locked = Login("ada", "ada-pw");  // the right password, too late
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(Header(locked, "Retry-After"), "30");
  EXPECT_EQ(Login("vera", "vera-pw").status, 200);  // another name from the same address
  // Still guessing once it ends: the next lockout is twice as long.
  clock_.AdvanceTo(kStart + Duration::Seconds(31));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Login("ada", "wrong").status, 400) << i;
  EXPECT_EQ(Header(Login("ada", "ada-pw"), "Retry-After"), "60");
  clock_.AdvanceTo(kStart + Duration::Seconds(92));
  EXPECT_EQ(Login("ada", "ada-pw").status, 200);
  // Unknown names are throttled the same way, and not told apart from wrong passwords.
  const HttpResponse unknown = Login("nobody", "x");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("wrong user name or password"), std::string::npos);
}

TEST_F(ApiServiceTest, TheRateLimitAnswers429WithRetryAfter) {
  ApiOptions options;
  options.rate_per_minute = 6;
  Make(options);
  const std::string token = AccessToken("vera");  // the login counts against the address
  for (int i = 0; i < 6; ++i) ASSERT_EQ(Call("GET", "/api/v1/me", token).status, 200) << i;
  const HttpResponse limited = Call("GET", "/api/v1/me", token);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(ErrorCode(limited), "rate_limited");
  EXPECT_EQ(Header(limited, "Retry-After"), "10");
  clock_.AdvanceTo(kStart + Duration::Seconds(10));
  EXPECT_EQ(Call("GET", "/api/v1/me", token).status, 200);
}

TEST_F(ApiServiceTest, UnknownPathsMethodsAndMalformedQueries) {
  const std::string token = AccessToken("vera");
  EXPECT_EQ(Call("GET", "/api/v1/orders", token).status, 404);
  const HttpResponse wrong = Call("DELETE", "/api/v1/orders/1", token);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(Header(wrong, "Allow"), "GET");
  const HttpResponse bad = Call("GET", "/api/v1/orders/1?x=%zz", token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("%-escapes"), std::string::npos);
  // A message quoting bytes that are not UTF-8 (found by api_request_fuzz: it threw).
  const HttpResponse binary = Call("GET", "/api/v1/\xb5\xff", token);
  EXPECT_EQ(binary.status, 404);
  EXPECT_FALSE(nlohmann::json::parse(binary.body, nullptr, false).is_discarded()) << binary.body;
  EXPECT_EQ(Call("POST", "/api/v1/auth/token", {}, "grant_type=magic").status, 400);
  EXPECT_EQ(ErrorCode(Call("POST", "/api/v1/auth/token", {}, "grant_type=magic")),
            "unsupported_grant_type");
}

TEST_F(ApiServiceTest, CorsAnswersAllowedOriginsOnly) {
  ApiOptions options;
  options.cors_origins = {"https://desk.example"};
  Make(options);
  HttpResponse pre = Call("OPTIONS", "/api/v1/me", {}, {}, {{"origin", "https://desk.example"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(Header(pre, "Access-Control-Allow-Origin"), "https://desk.example");
  EXPECT_NE(Header(pre, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  pre = Call("OPTIONS", "/api/v1/me", {}, {}, {{"origin", "https://evil.example"}});
  EXPECT_EQ(pre.status, 403);
  EXPECT_EQ(Header(pre, "Access-Control-Allow-Origin"), "");
  const HttpResponse get =
      Call("GET", "/api/v1/health", {}, {}, {{"origin", "https://evil.example"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(Header(get, "Access-Control-Allow-Origin"), "");
}

TEST_F(ApiServiceTest, CommandsAreAuditedRefusedOrNotAndTheTrailIsAppendOnly) {
  const std::string viewer = AccessToken("vera");
  const std::string trader = AccessToken("tom");
  (void)Call("POST", "/api/v1/risk/breaker", viewer, {}, {{"x-request-id", "r-refused"}});
  (void)Call("POST", "/api/v1/risk/breaker", trader, {},
             {{"x-request-id", "r-done"}, {"x-chain-id", "chain-1"}});
  const HttpResponse trail = Call("GET", "/api/v1/audit?limit=3", AccessToken("ada"));
  ASSERT_EQ(trail.status, 200) << trail.body;
  const nlohmann::json items = nlohmann::json::parse(trail.body)["items"];
  ASSERT_EQ(items.size(), 3u);
  // Newest first: ada's login, tom's halt, vera's refusal.
  EXPECT_EQ(items[0]["action"], "POST /api/v1/auth/token");
  EXPECT_EQ(items[0]["target"], "password:ada");
  EXPECT_EQ(items[1]["actor"], "tom");
  EXPECT_EQ(items[1]["role"], "trader");
  EXPECT_EQ(items[1]["status"], 200);
  EXPECT_EQ(items[1]["chain_id"], "chain-1");
  EXPECT_EQ(items[1]["detail"], "halted");
  EXPECT_EQ(items[1]["client"], "10.0.0.7");
  EXPECT_EQ(items[2]["actor"], "vera");
  EXPECT_EQ(items[2]["status"], 403);
  EXPECT_EQ(items[2]["request_id"], "r-refused");
  EXPECT_EQ(nlohmann::json::parse(trail.body)["next_before"], items[2]["id"]);
  // Nobody changes it, not even with the file at hand.
  sqlite::Database db = sqlite::Database::Open(path_, {}).value();
  EXPECT_FALSE(db.Exec("UPDATE audit SET actor = 'x'", "tamper").ok());
  EXPECT_FALSE(db.Exec("DELETE FROM audit", "tamper").ok());
}

TEST_F(ApiServiceTest, TheOpenApiDocumentListsEveryRouteWithItsSecurity) {
  const nlohmann::json doc = nlohmann::json::parse(Call("GET", "/api/v1/openapi.json").body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  const nlohmann::json& paths = doc["paths"];
  EXPECT_TRUE(paths["/api/v1/health"]["get"]["security"].empty());
  EXPECT_EQ(paths["/api/v1/risk/breaker"]["post"]["x-aits-role"], "trader");
  EXPECT_EQ(paths["/api/v1/orders/{id}"]["get"]["parameters"][0]["in"], "path");
  EXPECT_TRUE(paths["/api/v1/audit"]["get"].contains("parameters"));
  EXPECT_EQ(nlohmann::json::parse(Call("GET", "/.well-known/jwks.json").body)["keys"].size(), 1u);
}

TEST_F(ApiServiceTest, TheStoreKeepsItsSigningKeysSealedAndRotates) {
  const std::string old_token = AccessToken("tom");
  // Another master key cannot open the signing keys.
  const auto other = AuthStore::Open(
      path_, SecretBox::FromText(SecretBox::NewKeyText(), "other").value(), PasswordCost::kMinimal);
  ASSERT_TRUE(other.ok());
  const Result<KeyRing> foreign = (*other)->LoadKeyRing();
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), StatusCode::kDataLoss);
  // Rotated: the new key signs, the old one's tokens stay valid until it is retired.
  const std::string kid =
      store_->RotateSigningKey(kStart + Duration::Hours(1), Duration::Days(1)).value();
  Make({});
  EXPECT_EQ(service_->keys().signer().kid(), kid);
  EXPECT_EQ(Call("GET", "/api/v1/me", old_token).status, 200);
  ASSERT_TRUE(store_->RotateSigningKey(kStart + Duration::Days(2), Duration::Days(1)).ok());
  Make({});
  EXPECT_EQ(service_->keys().keys().size(), 1u);
  EXPECT_EQ(Call("GET", "/api/v1/me", old_token).status, 401);
}

TEST_F(ApiServiceTest, UsersAreChecked) {
  EXPECT_EQ(store_->AddUser("tom", Role::kAdmin, "x", kStart).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->AddUser("a b", Role::kAdmin, "x", kStart).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddUser("", Role::kAdmin, "x", kStart).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddUser("new", Role::kAdmin, "", kStart).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetUserRole("ghost", Role::kAdmin).code(), StatusCode::kNotFound);
  EXPECT_FALSE(ParseRole("root").ok());
  EXPECT_EQ(store_->Users().value().size(), 3u);
  ASSERT_TRUE(store_->SetPassword("vera", "new-pw").ok());
  EXPECT_EQ(Login("vera", "vera-pw").status, 400);
  EXPECT_EQ(Login("vera", "new-pw").status, 200);
}

}  // namespace
}  // namespace aits::api
