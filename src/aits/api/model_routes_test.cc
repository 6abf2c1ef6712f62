#include "aits/api/model_routes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "aits/models/serialize.h"

namespace aits::api {
namespace {

const Timestamp kStart = FromCivil(2026, 12, 6, 9);

ml::ModelMetadata Meta(const std::string& name, const std::string& kind, double auc,
                       const std::string& parent = {}) {
  ml::ModelMetadata m;
  m.name = name;
  m.kind = kind;
  m.feature_set_version = "v3";
  m.feature_set_hash = "hash-a";
  m.train_begin = FromCivil(2012, 1, 2);
  m.train_end = FromCivil(2012, 6, 29);
  m.params = {{"max_depth", 6}};
  m.metrics = {{"validation", {{"auc", auc}}}, {"baseline", {{"auc", 0.5}}}};
  m.data_source = "GBPUSD_M1.csv";
  m.parent = parent;
  return m;
}

// A registry with two versions of an ensemble, the first with two members, behind a service
// with users of every role.
class ModelRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = ::testing::TempDir() + "/aits_models_" + std::to_string(::getpid()) +
                             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(base);
    std::filesystem::create_directories(base);
    dir_ = base;
    auth_path_ = base + "/auth.db";
    store_ = AuthStore::Open(auth_path_, SecretBox::FromText(SecretBox::NewKeyText(), "t").value(),
                             PasswordCost::kMinimal)
                 .value();
    for (const auto& [name, role] :
         {std::pair{"vera", Role::kViewer}, std::pair{"tom", Role::kTrader},
          std::pair{"ada", Role::kAdmin}}) {
      ASSERT_TRUE(store_->AddUser(name, role, std::string(name) + "-pw", kStart).ok());
    }
    ASSERT_TRUE(store_->EnsureSigningKey(kStart).ok());
    clock_.AdvanceTo(kStart);

    ml::ModelRegistry registry = ml::ModelRegistry::Open(base + "/registry").value();
    const auto add = [&](const ml::ModelMetadata& m) {
      return registry.Register(m, ml::WrapModel(m.kind, "payload of " + m.name)).value().id;
    };
    ensemble1_ = add(Meta("gbp", "ensemble", 0.56));
    member_xgb_ = add(Meta("gbp_xgboost", "xgboost", 0.55, "gbp@1"));
    member_lstm_ = add(Meta("gbp_lstm", "lstm", 0.53, "gbp@1"));
    ensemble2_ = add(Meta("gbp", "ensemble", 0.49));
    catalog_ = std::make_unique<ModelCatalog>(std::move(registry));
    Make(*catalog_);
  }
  void TearDown() override {
    service_.reset();
    catalog_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Make(ModelCatalog& catalog) {
    service_ =
        std::make_unique<ApiService>(*store_, store_->LoadKeyRing().value(), clock_, ApiOptions{});
    AddModelRoutes(*service_, catalog);
  }

  HttpResponse Call(std::string method, std::string target, const std::string& user,
                    std::string body = {}) {
    HttpRequest r;
    r.method = std::move(method);
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (!user.empty()) r.headers.emplace_back("authorization", "Bearer " + Token(user));
    r.body = std::move(body);
    r.client = "10.0.0.7";
    return service_->Handle(r);
  }
  std::string Token(const std::string& user) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/api/v1/auth/token";
    r.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
    r.body = "grant_type=password&username=" + user + "&password=" + user + "-pw";
    r.client = "10.0.0.7";
    const HttpResponse answer = service_->Handle(r);
    EXPECT_EQ(answer.status, 200) << answer.body;
    return nlohmann::json::parse(answer.body).value("access_token", "");
  }
  static nlohmann::json Body(const HttpResponse& r) {
    return nlohmann::json::parse(r.body, nullptr, false);
  }

  std::string dir_;
  std::string auth_path_;
  std::unique_ptr<AuthStore> store_;
  SimulatedClock clock_;
  std::unique_ptr<ModelCatalog> catalog_;
  std::unique_ptr<ApiService> service_;
  int64_t ensemble1_ = 0, member_xgb_ = 0, member_lstm_ = 0, ensemble2_ = 0;
};

TEST_F(ModelRoutesTest, ListsNewestFirstWithFiltersAndPages) {
  const HttpResponse all = Call("GET", "/api/v1/models", "vera");
  ASSERT_EQ(all.status, 200) << all.body;
  const nlohmann::json items = Body(all)["items"];
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0]["id"], ensemble2_);
  EXPECT_EQ(items[0]["ref"], "gbp@2");
  EXPECT_EQ(items[0]["status"], "candidate");
  EXPECT_EQ(items[0]["metrics"]["validation"]["auc"], 0.49);
  EXPECT_EQ(items[0]["train_begin"], "2012-01-02T00:00:00Z");
  EXPECT_EQ(items[3]["id"], ensemble1_);

  const nlohmann::json gbp = Body(Call("GET", "/api/v1/models?name=gbp", "vera"))["items"];
  ASSERT_EQ(gbp.size(), 2u);
  EXPECT_EQ(gbp[1]["version"], 1);

  const nlohmann::json page = Body(Call("GET", "/api/v1/models?limit=3", "vera"));
  ASSERT_EQ(page["items"].size(), 3u);
  ASSERT_TRUE(page.contains("next_before"));
  const nlohmann::json rest = Body(
      Call("GET", "/api/v1/models?limit=3&before=" + page["next_before"].dump(), "vera"))["items"];
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0]["id"], ensemble1_);

  EXPECT_EQ(Body(Call("GET", "/api/v1/models?status=production", "vera"))["items"].size(), 0u);
  const HttpResponse bad = Call("GET", "/api/v1/models?status=live", "vera");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("live"), std::string::npos) << bad.body;
  EXPECT_EQ(Call("GET", "/api/v1/models?limit=0", "vera").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/models", "").status, 401);
}

TEST_F(ModelRoutesTest, OneModelShowsItsLineageAndAuditLines) {
  const HttpResponse ensemble = Call("GET", "/api/v1/models/" + std::to_string(ensemble1_), "vera");
  ASSERT_EQ(ensemble.status, 200) << ensemble.body;
  const nlohmann::json e = Body(ensemble);
  EXPECT_EQ(e["lineage"]["parent"], nullptr);
  ASSERT_EQ(e["lineage"]["members"].size(), 2u);
  EXPECT_EQ(e["lineage"]["members"][0]["ref"], "gbp_lstm@1");
  EXPECT_EQ(e["lineage"]["members"][1]["ref"], "gbp_xgboost@1");
  ASSERT_EQ(e["lineage"]["versions"].size(), 1u);
  EXPECT_EQ(e["lineage"]["versions"][0]["ref"], "gbp@2");
  ASSERT_EQ(e["events"].size(), 1u);
  EXPECT_NE(e["events"][0].get<std::string>().find("register"), std::string::npos);

  const nlohmann::json member =
      Body(Call("GET", "/api/v1/models/" + std::to_string(member_xgb_), "vera"));
  EXPECT_EQ(member["parent"], "gbp@1");
  EXPECT_EQ(member["lineage"]["parent"]["id"], ensemble1_);
  EXPECT_EQ(member["lineage"]["members"].size(), 0u);

  EXPECT_EQ(Call("GET", "/api/v1/models/999", "vera").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/models/abc", "vera").status, 400);
}

TEST_F(ModelRoutesTest, PromotionIsTheAdminsThroughTheGateAndAudited) {
  const std::string path = "/api/v1/models/" + std::to_string(ensemble1_) + "/promote";
  const std::string body = R"({"reason": "beat the baseline"})";
  EXPECT_EQ(Call("POST", path, "vera", body).status, 403);
  EXPECT_EQ(Call("POST", path, "tom", body).status, 403);
  EXPECT_EQ(Call("POST", path, "", body).status, 401);

  const HttpResponse passed = Call("POST", path, "ada", body);
  ASSERT_EQ(passed.status, 200) << passed.body;
  EXPECT_EQ(Body(passed)["passed"], true);
  EXPECT_EQ(Body(passed)["model"]["status"], "production");
  // Already in production: nothing to do, nothing changed.
  EXPECT_EQ(Call("POST", path, "ada", body).status, 409);

  // auc 0.49 fails the default gate (> 0.5): the candidate is rejected, and the answer says so.
  const HttpResponse failed =
      Call("POST", "/api/v1/models/" + std::to_string(ensemble2_) + "/promote", "ada", body);
  ASSERT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(Body(failed)["passed"], false);
  EXPECT_EQ(Body(failed)["model"]["status"], "rejected");
  EXPECT_EQ(Body(Call("GET", "/api/v1/models?status=production", "vera"))["items"][0]["id"],
            ensemble1_);

  // A gate of the caller's: a lower threshold lets the rejected model through, archiving the
  // first.
  const HttpResponse lowered =
      Call("POST", "/api/v1/models/" + std::to_string(ensemble2_) + "/promote", "ada",
           R"({"reason": "rollback drill", "threshold": 0.4, "min_improvement_over_baseline": 0,
               "require_baseline": false})");
  ASSERT_EQ(lowered.status, 200) << lowered.body;
  EXPECT_EQ(Body(lowered)["passed"], false);  // 0.49 is below its baseline 0.5
  const HttpResponse no_baseline =
      Call("POST", "/api/v1/models/" + std::to_string(member_lstm_) + "/promote", "ada",
           R"({"reason": "member", "metric": "auc", "threshold": 0.52})");
  EXPECT_EQ(Body(no_baseline)["passed"], true) << no_baseline.body;

  // Every attempt is in the audit trail: who, the answer, and the gate's words.
  const std::vector<AuditEntry> trail = store_->AuditTrail(0, 100).value();
  size_t promotions = 0;
  size_t refused = 0;
  for (const AuditEntry& entry : trail) {
    if (entry.action.find("/promote") == std::string::npos) continue;
    ++promotions;
    refused += entry.status == 403 || entry.status == 401 ? 1 : 0;
    if (entry.status == 200) {
      EXPECT_EQ(entry.actor, "ada");
      EXPECT_NE(entry.detail.find("auc"), std::string::npos) << entry.detail;
    }
  }
  EXPECT_EQ(promotions, 8u);
  EXPECT_EQ(refused, 3u);  // the viewer, the trader, and no token at all
}

TEST_F(ModelRoutesTest, BadPromoteBodiesAreRefusedAndChangeNothing) {
  const std::string path = "/api/v1/models/" + std::to_string(ensemble1_) + "/promote";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {R"({})", "reason"},
      {R"({"reason": ""})", "reason"},
      {R"({"reason": "x", "threshold": "0.5"})", "threshold"},
      {R"({"reason": "x", "higher_is_better": 1})", "higher_is_better"},
      {R"({"reason": "x", "min_improvement_over_baseline": -1})", "negative"},
      {R"({"reason": "x", "metric": "' OR 1=1; --", "drop": true})", "unknown field"},
      {R"({"reason": "x", "metric": "no_such_metric"})", "no_such_metric"},
      {R"({"reason": "x", "record": "live"})", "record"},
      {R"({"reason": "x", "min_calls": -3})", "min_calls"},
      // A model never tried in shadow has no record to read.
      {R"({"reason": "x", "record": "shadow", "metric": "accuracy"})", "no shadow trial recorded"}};
  for (const auto& [body, says] : bad) {
    const HttpResponse r = Call("POST", path, "ada", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_NE(r.body.find(says), std::string::npos) << body << " -> " << r.body;
  }
  EXPECT_EQ(Body(Call("GET", "/api/v1/models/" + std::to_string(ensemble1_), "vera"))["status"],
            "candidate");
  EXPECT_EQ(Call("POST", "/api/v1/models/12345/promote", "ada", R"({"reason": "x"})").status, 404);
}

TEST_F(ModelRoutesTest, WithoutARegistryTheRoutesSaySo) {
  ModelCatalog none;
  Make(none);
  const HttpResponse r = Call("GET", "/api/v1/models", "vera");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("--registry"), std::string::npos) << r.body;
  service_.reset();
}

}  // namespace
}  // namespace aits::api
