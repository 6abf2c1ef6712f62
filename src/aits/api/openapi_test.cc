// The OpenAPI document of a service with every route the server wires (api_command.cc): each
// operation documents its success answer, and every schema it refers to is there. What the
// answers hold is checked against these schemas by tests/e2e/api_test.py, over a live session.
#include "aits/api/openapi.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "aits/api/alert_routes.h"
#include "aits/api/backtest_routes.h"
#include "aits/api/model_routes.h"
#include "aits/api/session_jobs.h"
#include "aits/api/session_routes.h"
#include "aits/api/session_view.h"
#include "aits/persistence/event_store.h"

namespace aits::api {
namespace {

// What is wrong with the success answers of `doc`: "GET /path: why" for every operation whose
// success answer is missing, ambiguous, or without the schema of its JSON body.
std::vector<std::string> SuccessProblems(const nlohmann::json& doc) {
  std::vector<std::string> problems;
  for (const auto& [path, methods] : doc["paths"].items()) {
    for (const auto& [method, op] : methods.items()) {
      const std::string where = method + " " + path + ": ";
      std::vector<std::string> successes;
      for (const auto& [code, response] : op["responses"].items()) {
        if (code < "300") successes.push_back(code);
      }
      if (successes.size() != 1) {
        problems.push_back(where + std::to_string(successes.size()) + " success answers");
        continue;
      }
      const nlohmann::json& success = op["responses"][successes[0]];
      if (successes[0] == "101" || successes[0] == "204") continue;  // no body
      if (!success.contains("content") || success["content"].empty()) {
        problems.push_back(where + successes[0] + " has no content type");
      } else if (success["content"].contains("application/json") &&
                 !success["content"]["application/json"].contains("schema")) {
        problems.push_back(where + successes[0] + " has no schema");
      }
    }
  }
  return problems;
}

// Every "$ref" under `node`, with where it is.
void Refs(const nlohmann::json& node, const std::string& at,
          std::vector<std::pair<std::string, std::string>>* out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string()) out->emplace_back(at, value.get<std::string>());
      Refs(value, at + "/" + key, out);
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) Refs(node[i], at + "/" + std::to_string(i), out);
  }
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("aits_openapi_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const Timestamp now = FromCivil(2026, 12, 6);
    clock_.AdvanceTo(now);
    ASSERT_TRUE(persistence::EventStore::Open((dir_ / "events.db").string()).value()->Close().ok());
    store_ = AuthStore::Open((dir_ / "auth.db").string(),
                             SecretBox::FromText(SecretBox::NewKeyText(), "t").value(),
                             PasswordCost::kMinimal)
                 .value();
    ASSERT_TRUE(store_->EnsureSigningKey(now).ok());
    view_ = SessionView::Open(dir_.string()).value();
    service_ =
        std::make_unique<ApiService>(*store_, store_->LoadKeyRing().value(), clock_, ApiOptions{});
    // As `aits api serve` wires them; without a registry or runners the routes are the same.
    AddSessionRoutes(*service_, *view_);
    AddModelRoutes(*service_, catalog_);
    AddBacktestRoutes(*service_, nullptr, {});
    AddSessionJobRoutes(*service_, nullptr, {}, [this] { return view_->Summary(); });
    alerts_ = AlertBoard::Create(nullptr).value();
    AddAlertRoutes(*service_, *alerts_);
  }
  void TearDown() override {
    service_.reset();
    alerts_.reset();
    view_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  SimulatedClock clock_;
  std::unique_ptr<AuthStore> store_;
  std::unique_ptr<SessionView> view_;
  ModelCatalog catalog_;
  std::unique_ptr<AlertBoard> alerts_;
  std::unique_ptr<ApiService> service_;
};

TEST_F(OpenApiTest, EveryRouteDocumentsItsSuccessAnswer) {
  const nlohmann::json doc = service_->OpenApi();
  size_t operations = 0;
  for (const auto& [path, methods] : doc["paths"].items()) operations += methods.size();
  EXPECT_GE(operations, 38u) << "fewer routes than the server wires: is one registrar missing?";
  const std::vector<std::string> problems = SuccessProblems(doc);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);

  const nlohmann::json& paths = doc["paths"];
  const auto schema_of = [&paths](const char* path, const char* method, const char* status) {
    return paths[path][method]["responses"][status]["content"]["application/json"]["schema"];
  };
  EXPECT_EQ(schema_of("/api/v1/orders/{id}", "get", "200"), schema::Ref("OrderDetail"));
  EXPECT_EQ(schema_of("/api/v1/orders", "post", "202"), schema::Ref("Queued"));
  EXPECT_EQ(schema_of("/api/v1/trades", "get", "200")["properties"]["items"]["items"],
            schema::Ref("Fill"));
  EXPECT_EQ(schema_of("/api/v1/backtests", "post", "202"), schema::Ref("Job"));
  EXPECT_TRUE(
      paths["/api/v1/backtests/{id}/report.html"]["get"]["responses"]["200"]["content"].contains(
          "text/html"));
  const nlohmann::json& stream = paths["/api/v1/stream"]["get"]["responses"];
  EXPECT_TRUE(stream.contains("101") && stream.contains("426")) << stream.dump();
  EXPECT_EQ(paths["/api/v1/auth/token"]["post"]["responses"]["401"]["$ref"],
            "#/components/responses/TokenError");
  EXPECT_TRUE(paths["/api/v1/orders/{id}"]["delete"]["responses"].contains("409"));
}

TEST_F(OpenApiTest, EveryReferenceResolves) {
  const nlohmann::json doc = service_->OpenApi();
  std::vector<std::pair<std::string, std::string>> refs;
  Refs(doc, "", &refs);
  EXPECT_GT(refs.size(), 100u);
  std::set<std::string> used;
  for (const auto& [at, ref] : refs) {
    ASSERT_EQ(ref.rfind("#/", 0), 0u) << at << ": " << ref;
    const nlohmann::json::json_pointer pointer(ref.substr(1));
    EXPECT_TRUE(doc.contains(pointer)) << at << ": " << ref << " is not in the document";
    used.insert(ref);
  }
  // A component no route refers to is a schema that describes nothing the API sends.
  for (const auto& [name, s] : schema::ComponentSchemas().items()) {
    EXPECT_TRUE(used.contains("#/components/schemas/" + name)) << name << " is never used";
  }
}

TEST_F(OpenApiTest, ARouteWithoutASchemaIsFound) {
  Route bare{"GET", "/api/v1/new", Role::kViewer,
             false, "x",           "a route",
             {},    nullptr,       [](RequestContext&) { return Json(200, {{"a", 1}}); }};
  Route described = bare;
  described.method = "POST";
  described.status = 201;
  described.response_schema = schema::Object({{"a", schema::Integer()}});
  service_->Add(bare);
  service_->Add(described);
  const std::vector<std::string> problems = SuccessProblems(service_->OpenApi());
  EXPECT_EQ(problems, std::vector<std::string>{"get /api/v1/new: 200 has no schema"});
}

TEST(OpenApiSchemaTest, ObjectsPagesAndNullables) {
  using namespace schema;
  const nlohmann::json object = Object({{"id", Integer()}}, {{"note", Nullable(String())}});
  EXPECT_EQ(object["required"], nlohmann::json::array({"id"}));
  EXPECT_EQ(object["properties"]["note"]["nullable"], true);
  EXPECT_EQ(Nullable(Ref("Fill"))["allOf"][0], Ref("Fill"));
  const nlohmann::json page = Page(Ref("Fill"), {{"served", String()}});
  EXPECT_EQ(page["required"], nlohmann::json::array({"items", "served"}));
  EXPECT_EQ(page["properties"]["next_before"], Integer());
  EXPECT_EQ(Extend("Order", {{"fills", ArrayOf(Ref("Fill"))}})["allOf"][0], Ref("Order"));
}

}  // namespace
}  // namespace aits::api
