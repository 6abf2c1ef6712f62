// The registry's contract, run against both stores: a directory (SQLite and model files) and a
// database on a real PostgreSQL server started once for this binary, each test in a database of
// its own. What only one store has is tested beside it: SQLite's files and schema pragma
// (SqliteRegistryTest), PostgreSQL's concurrent writers, migrations and server failures
// (PgRegistryTest).
#include "aits/ml/registry.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "aits/models/serialize.h"
#include "aits/persistence/postgres.h"
#include "aits/testing/servers.h"
#include "aits/testing/shared_postgres_test_util.h"

namespace aits::ml {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kHashA[] = "fs-hash-aaaa";
constexpr char kHashB[] = "fs-hash-bbbb";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Runs SQL on the registry database behind the registry's back (schema tests).
void RawSql(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

ModelMetadata Meta(const std::string& name, double auc, std::optional<double> baseline_auc = {},
                   const std::string& hash = kHashA, const std::string& fs_version = "v3") {
  ModelMetadata m;
  m.name = name;
  m.kind = "xgboost";
  m.feature_set_version = fs_version;
  m.feature_set_hash = hash;
  m.train_begin = FromCivil(2012, 1, 2);
  m.train_end = FromCivil(2012, 6, 29, 23, 59);
  m.params = {{"max_depth", 6}, {"eta", 0.1}};
  m.metrics = {{"validation", {{"auc", auc}, {"log_loss", 0.69}}}};
  if (baseline_auc) m.metrics["baseline"] = {{"auc", *baseline_auc}};
  m.data_source = "/work/shared/data/GBPUSD_M1.csv";
  return m;
}

std::string Bytes(const std::string& tag) { return WrapModel("xgboost", "payload of " + tag); }

const auto* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new test_servers::SharedPostgresEnvironment);

test_servers::PostgresServer* Postgres() {
  return test_servers::SharedPostgresEnvironment::server();
}

std::string PgUri(int port, const std::string& database) {
  return "postgresql://aits@127.0.0.1:" + std::to_string(port) + "/" + database;
}

enum class Backend { kSqlite, kPostgres };

std::string Name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

class RegistryFixture : public ::testing::Test {
 protected:
  void StartOn(Backend backend) {
    backend_ = backend;
    std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test_name) {
      if (c == '/') c = '_';
    }
    dir_ = fs::path(::testing::TempDir()) /
           ("aits_registry_" + std::to_string(getpid()) + "_" + test_name);
    fs::remove_all(dir_);
    clock_.AdvanceTo(FromCivil(2024, 3, 1, 12, 0));
    if (backend == Backend::kSqlite) {
      location_ = dir_.string();
      return;
    }
    ASSERT_NE(Postgres(), nullptr) << "PostgreSQL did not start (see above)";
    static int databases = 0;
    database_ = "registry_" + std::to_string(++databases);
    ASSERT_TRUE(Postgres()->CreateDatabase(database_).ok());
    location_ = PgUri(Postgres()->port(), database_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  bool sqlite() const { return backend_ == Backend::kSqlite; }

  ModelRegistry OpenOrDie() {
    Result<ModelRegistry> reg = ModelRegistry::Open(location_);
    EXPECT_TRUE(reg.ok()) << reg.status().ToString();
    reg->SetClock(&clock_);
    return std::move(reg).value();
  }

  ModelRecord RegisterOrDie(ModelRegistry& reg, const ModelMetadata& m, const std::string& bytes) {
    Result<ModelRecord> r = reg.Register(m, bytes);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }

  ModelStatus StatusOf(const ModelRegistry& reg, int64_t id) {
    Result<ModelRecord> r = reg.Find("#" + std::to_string(id));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r->status;
  }

  // Runs SQL on the test's PostgreSQL database behind the registry's back.
  void PgSql(const std::string& sql, std::span<const pg::Param> params = {}) {
    auto conn = pg::Connection::Open(Postgres()->conninfo(database_));
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    auto done = (*conn)->Exec(sql, params, "test SQL");
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }

  // Replaces the stored bytes of `record` behind the registry's back (a damaged store).
  void ReplaceBytes(const ModelRecord& record, const std::string& bytes) {
    if (sqlite()) {
      WriteAll(dir_ / record.path, bytes);
      return;
    }
    const pg::Param params[] = {pg::Param::Bytes(bytes), pg::Param::Int64(record.id)};
    PgSql("UPDATE registry_models SET bytes = $1::bytea WHERE id = $2::bigint", params);
  }

  // What a load error names: the file, or the row's model name.
  std::string WhereBytesAre(const ModelRecord& record) const {
    return sqlite() ? (dir_ / record.path).string() : record.path + " in postgresql://";
  }

  Backend backend_ = Backend::kSqlite;
  fs::path dir_;
  std::string database_;
  std::string location_;
  SimulatedClock clock_;
};

class RegistryTest : public RegistryFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override { StartOn(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Stores, RegistryTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), Name);

class SqliteRegistryTest : public RegistryFixture {
 protected:
  void SetUp() override { StartOn(Backend::kSqlite); }
};

class PgRegistryTest : public RegistryFixture {
 protected:
  void SetUp() override { StartOn(Backend::kPostgres); }
};

TEST(ModelStatusTest, RoundTripsAndRejectsUnknownText) {
  for (ModelStatus s : {ModelStatus::kCandidate, ModelStatus::kProduction, ModelStatus::kArchived,
                        ModelStatus::kRejected}) {
    Result<ModelStatus> parsed = ParseModelStatus(ToString(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  Result<ModelStatus> bad = ParseModelStatus("prod");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"prod\""), std::string::npos);
}

TEST(CodeVersionTest, IsRecorded) { EXPECT_FALSE(CodeVersion().empty()); }

TEST_P(RegistryTest, RegisterStoresCandidatesWithVersionsPerName) {
  ModelRegistry reg = OpenOrDie();
  ModelMetadata m = Meta("gbpusd_m1", 0.531, 0.507);
  m.parent = "gbpusd_ensemble";
  const ModelRecord a1 = RegisterOrDie(reg, m, Bytes("a1"));
  clock_.AdvanceTo(FromCivil(2024, 3, 2));
  const ModelRecord a2 = RegisterOrDie(reg, Meta("gbpusd_m1", 0.54), Bytes("a2"));
  const ModelRecord b1 = RegisterOrDie(reg, Meta("eurusd_m1", 0.52), Bytes("b1"));

  EXPECT_EQ(a1.version, 1);
  EXPECT_EQ(a2.version, 2);
  EXPECT_EQ(b1.version, 1);
  EXPECT_LT(a1.id, a2.id);
  EXPECT_LT(a2.id, b1.id);
  for (const ModelRecord* r : {&a1, &a2, &b1}) EXPECT_EQ(r->status, ModelStatus::kCandidate);

  EXPECT_EQ(a1.path, "models/gbpusd_m1-v1-xgboost.bin");
  EXPECT_EQ(a2.path, "models/gbpusd_m1-v2-xgboost.bin");
  if (sqlite()) {
    EXPECT_EQ(ReadAll(dir_ / a1.path), Bytes("a1"));
  }
  Result<std::string> loaded = reg.LoadBytes(a1, kHashA);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, Bytes("a1"));
  EXPECT_EQ(a1.size_bytes, Bytes("a1").size());
  char expected_checksum[32];
  std::snprintf(expected_checksum, sizeof(expected_checksum), "fnv1a64:%016llx",
                static_cast<unsigned long long>(Fnv1a64(Bytes("a1"))));
  EXPECT_EQ(a1.sha256_or_fnv, expected_checksum);

  // Everything the caller gave comes back as given.
  EXPECT_EQ(a1.name, "gbpusd_m1");
  EXPECT_EQ(a1.kind, "xgboost");
  EXPECT_EQ(a1.feature_set_version, "v3");
  EXPECT_EQ(a1.feature_set_hash, kHashA);
  EXPECT_EQ(a1.train_begin, FromCivil(2012, 1, 2));
  EXPECT_EQ(a1.train_end, FromCivil(2012, 6, 29, 23, 59));
  EXPECT_EQ(a1.params, m.params);
  EXPECT_EQ(a1.metrics, m.metrics);
  EXPECT_DOUBLE_EQ(a1.metrics["validation"]["auc"].get<double>(), 0.531);
  EXPECT_EQ(a1.data_source, m.data_source);
  EXPECT_EQ(a1.parent, "gbpusd_ensemble");
  EXPECT_EQ(a1.code_version, CodeVersion());
  EXPECT_EQ(a1.created_at, FromCivil(2024, 3, 1, 12, 0));
  EXPECT_EQ(a2.created_at, FromCivil(2024, 3, 2));

  Result<std::vector<std::string>> events = reg.Events(a1.id);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].rfind("2024-03-01T12:00:00Z register: candidate gbpusd_m1@1", 0), 0u)
      << (*events)[0];

  Result<std::vector<ModelRecord>> gbp = reg.List("gbpusd_m1");
  ASSERT_TRUE(gbp.ok());
  ASSERT_EQ(gbp->size(), 2u);
  EXPECT_EQ((*gbp)[1].id, a2.id);
  Result<std::vector<ModelRecord>> all = reg.List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
}

TEST_P(RegistryTest, RegisterRejectsBadMetadataAndStoresNothing) {
  ModelRegistry reg = OpenOrDie();
  struct Case {
    const char* what;
    void (*edit)(ModelMetadata&);
    const char* needle;
  };
  const Case cases[] = {
      {"empty name", [](ModelMetadata& m) { m.name = ""; }, "name is empty"},
      {"slash in name", [](ModelMetadata& m) { m.name = "../x"; }, "\"../x\""},
      {"at in name", [](ModelMetadata& m) { m.name = "a@1"; }, "\"a@1\""},
      {"reserved name", [](ModelMetadata& m) { m.name = "latest"; }, "reserved"},
      {"bad kind", [](ModelMetadata& m) { m.kind = "x g"; }, "kind"},
      {"no hash", [](ModelMetadata& m) { m.feature_set_hash = ""; }, "feature_set_hash"},
      {"range", [](ModelMetadata& m) { std::swap(m.train_begin, m.train_end); }, "train_begin"},
      {"params", [](ModelMetadata& m) { m.params = json::array({1}); }, "params"},
      {"no validation",
       [](ModelMetadata& m) {
         m.metrics = {{"test", {{"auc", 0.5}}}};
       },
       "\"validation\""},
      {"text metric", [](ModelMetadata& m) { m.metrics["validation"]["auc"] = "high"; },
       "metrics.validation.auc"},
      {"bad baseline", [](ModelMetadata& m) { m.metrics["baseline"] = 0.5; }, "metrics.baseline"},
  };
  for (const Case& c : cases) {
    ModelMetadata m = Meta("gbpusd_m1", 0.55);
    c.edit(m);
    Result<ModelRecord> r = reg.Register(m, Bytes("x"));
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos)
        << c.what << ": " << r.status().message();
  }
  Result<std::vector<ModelRecord>> all = reg.List();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  if (sqlite()) {
    EXPECT_TRUE(fs::is_empty(dir_ / "models"));
  }
}

TEST(EvaluateGateTest, HigherIsBetterNeedsThresholdAndBaseline) {
  PromotionGate gate;
  gate.metric = "auc";
  gate.threshold = 0.52;
  gate.min_improvement_over_baseline = 0.005;

  json pass = {{"validation", {{"auc", 0.531}}}, {"baseline", {{"auc", 0.507}}}};
  Result<GateDecision> d = EvaluateGate(pass, gate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->passed);
  EXPECT_EQ(d->reason, "auc 0.531 > threshold 0.52 and > baseline 0.507 + 0.005");

  json below_threshold = {{"validation", {{"auc", 0.515}}}, {"baseline", {{"auc", 0.4}}}};
  d = EvaluateGate(below_threshold, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_EQ(d->reason, "auc 0.515 not > threshold 0.52");

  // Strictly better: equal to the threshold fails.
  json at_threshold = {{"validation", {{"auc", 0.52}}}};
  d = EvaluateGate(at_threshold, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);

  json close_to_baseline = {{"validation", {{"auc", 0.53}}}, {"baseline", {{"auc", 0.528}}}};
  d = EvaluateGate(close_to_baseline, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_EQ(d->reason, "auc 0.53 > threshold 0.52 but not > baseline 0.528 + 0.005");

  // Better by exactly the margin (in decimal) passes despite binary rounding: in doubles
  // 0.563 - 0.553 is a hair under 0.01.
  gate.min_improvement_over_baseline = 0.01;
  json exact_margin = {{"validation", {{"auc", 0.563}}}, {"baseline", {{"auc", 0.553}}}};
  d = EvaluateGate(exact_margin, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->passed) << d->reason;

  // With no margin the model must still be strictly better than the baseline.
  gate.min_improvement_over_baseline = 0;
  json equal_to_baseline = {{"validation", {{"auc", 0.53}}}, {"baseline", {{"auc", 0.53}}}};
  d = EvaluateGate(equal_to_baseline, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_EQ(d->reason, "auc 0.53 > threshold 0.52 but not > baseline 0.53");
}

TEST(EvaluateGateTest, LowerIsBetterMetric) {
  PromotionGate gate;
  gate.metric = "log_loss";
  gate.higher_is_better = false;
  gate.threshold = 0.69;
  gate.min_improvement_over_baseline = 0.005;

  json pass = {{"validation", {{"log_loss", 0.68}}}, {"baseline", {{"log_loss", 0.693}}}};
  Result<GateDecision> d = EvaluateGate(pass, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->passed);
  EXPECT_EQ(d->reason, "log_loss 0.68 < threshold 0.69 and < baseline 0.693 - 0.005");

  json worse_than_threshold = {{"validation", {{"log_loss", 0.70}}}};
  d = EvaluateGate(worse_than_threshold, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_EQ(d->reason, "log_loss 0.7 not < threshold 0.69");

  json not_enough_better = {{"validation", {{"log_loss", 0.689}}},
                            {"baseline", {{"log_loss", 0.692}}}};
  d = EvaluateGate(not_enough_better, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);

  // A higher value that would pass a higher-is-better gate fails this one.
  json high = {{"validation", {{"log_loss", 0.9}}}, {"baseline", {{"log_loss", 0.5}}}};
  d = EvaluateGate(high, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
}

TEST(EvaluateGateTest, MissingBaselineIsSkippedUnlessRequired) {
  PromotionGate gate;
  gate.threshold = 0.52;
  json m = {{"validation", {{"auc", 0.55}}}};
  Result<GateDecision> d = EvaluateGate(m, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->passed);
  EXPECT_NE(d->reason.find("no baseline"), std::string::npos) << d->reason;

  gate.require_baseline = true;
  d = EvaluateGate(m, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_NE(d->reason.find("requires"), std::string::npos) << d->reason;
}

TEST(EvaluateGateTest, MissingOrBadMetricIsAClearError) {
  PromotionGate gate;
  gate.metric = "sharpe";
  json m = {{"validation", {{"auc", 0.55}, {"log_loss", 0.6}}}};
  Result<GateDecision> d = EvaluateGate(m, gate, "model #7 x@2");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  const std::string& msg = d.status().message();
  EXPECT_NE(msg.find("model #7 x@2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("metrics.validation has no \"sharpe\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("auc, log_loss"), std::string::npos) << msg;

  gate.metric = "auc";
  d = EvaluateGate(json{{"validation", {{"auc", nullptr}}}}, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("metrics.validation.auc"), std::string::npos);

  d = EvaluateGate(json{{"test", {{"auc", 0.6}}}}, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("\"validation\""), std::string::npos);

  d = EvaluateGate(json{{"validation", {{"auc", 0.6}}}, {"baseline", {{"auc", "x"}}}}, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("metrics.baseline.auc"), std::string::npos);

  gate.threshold = std::nan("");
  d = EvaluateGate(json{{"validation", {{"auc", 0.6}}}}, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("threshold"), std::string::npos);
}

// A shadow record as ml::ToJson(ShadowRecord) writes it.
json ShadowRecordJson(const std::string& state, int calls, double accuracy,
                      double production_accuracy) {
  return {{"state", state},
          {"bars", 900},
          {"calls", calls},
          {"accuracy", accuracy},
          {"profit_factor", nullptr},
          {"production", {{"accuracy", production_accuracy}, {"calls", calls}}}};
}

// The line the "shadow" event and the Telegram bot show; an edited record still reads.
TEST(DescribeShadowTest, SaysTheTrialsStateCallsAndBothAccuraciesAndSurvivesAnEditedRecord) {
  EXPECT_EQ(DescribeShadow(ShadowRecordJson("complete", 240, 0.54, 0.51)),
            "complete trial over 900 bars, 240 calls: accuracy 0.54 against production's 0.51");
  json edited = {{"state", 3}, {"accuracy", nullptr}, {"production", "x"}};
  EXPECT_EQ(DescribeShadow(edited),
            "3 trial over 0 bars, ? calls: accuracy n/a against production's n/a");
  EXPECT_EQ(DescribeShadow(json::array()), "? trial (not a record: [])");
}

TEST(EvaluateGateTest, AShadowGateReadsTheTrialAgainstProductionOnTheSameBars) {
  const PromotionGate gate{.record = "shadow",
                           .min_calls = 200,
                           .metric = "accuracy",
                           .threshold = 0.5,
                           .min_improvement_over_baseline = 0.01};
  json m = {{"validation", {{"accuracy", 0.9}}}};  // a validation figure is not what it reads
  m["shadow"] = ShadowRecordJson("complete", 240, 0.54, 0.51);
  Result<GateDecision> d = EvaluateGate(m, gate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->passed) << d->reason;
  EXPECT_EQ(d->reason, "accuracy 0.54 > threshold 0.5 and > production 0.51 + 0.01");

  m["shadow"] = ShadowRecordJson("complete", 240, 0.515, 0.51);  // better, not by the margin
  d = EvaluateGate(m, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_NE(d->reason.find("but not > production 0.51 + 0.01"), std::string::npos) << d->reason;

  m["shadow"] = ShadowRecordJson("complete", 150, 0.7, 0.4);  // too few calls
  d = EvaluateGate(m, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_EQ(d->reason,
            "the shadow trial is complete with 150 calls (the gate needs a complete one with 200)");

  m["shadow"] = ShadowRecordJson("expired", 240, 0.7, 0.4);
  d = EvaluateGate(m, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_NE(d->reason.find("the shadow trial is expired"), std::string::npos);

  m["shadow"]["accuracy"] = nullptr;  // no directional call settled: no figure
  d = EvaluateGate(m, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("metrics.shadow.accuracy is not a finite number"),
            std::string::npos)
      << d.status().message();

  d = EvaluateGate(json{{"validation", {{"accuracy", 0.6}}}}, gate, "model #3 x@2");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("model #3 x@2: metrics has no \"shadow\" object"),
            std::string::npos)
      << d.status().message();

  PromotionGate bad = gate;
  bad.record = "live";
  d = EvaluateGate(m, bad);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("record \"live\""), std::string::npos);
}

TEST_P(RegistryTest, AShadowRecordIsKeptAuditedAndPromotedOnThroughTheGate) {
  ModelRegistry reg = OpenOrDie();
  const ModelRecord production = RegisterOrDie(reg, Meta("gbpusd_m1", 0.55), Bytes("p"));
  ASSERT_TRUE(reg.Promote(production.id, PromotionGate{.threshold = 0.52}).ok());
  const ModelRecord good = RegisterOrDie(reg, Meta("gbpusd_m1", 0.53), Bytes("g"));
  const ModelRecord poor = RegisterOrDie(reg, Meta("gbpusd_m1", 0.56), Bytes("b"));
  const PromotionGate gate{
      .record = "shadow", .min_calls = 200, .metric = "accuracy", .threshold = 0.5};

  // Without a trial the gate has nothing to read: an error, and nothing changes.
  Result<GateDecision> d = reg.Promote(good.id, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(StatusOf(reg, good.id), ModelStatus::kCandidate);

  clock_.AdvanceTo(FromCivil(2024, 3, 8));
  Status recorded = reg.RecordShadow(good.id, ShadowRecordJson("complete", 240, 0.54, 0.51));
  ASSERT_TRUE(recorded.ok()) << recorded.ToString();
  recorded = reg.RecordShadow(poor.id, ShadowRecordJson("complete", 260, 0.49, 0.52));
  ASSERT_TRUE(recorded.ok()) << recorded.ToString();
  Result<ModelRecord> stored = reg.Find("#" + std::to_string(good.id));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->metrics["shadow"]["calls"], 240);
  EXPECT_EQ(stored->metrics["validation"]["auc"], 0.53);  // the rest of the metrics is kept
  Result<std::vector<std::string>> events = reg.Events(good.id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1],
            "2024-03-08T00:00:00Z shadow: complete trial over 900 bars, 240 calls: accuracy 0.54 "
            "against production's 0.51");

  d = reg.Promote(poor.id, gate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->passed);
  EXPECT_EQ(StatusOf(reg, poor.id), ModelStatus::kRejected);
  EXPECT_EQ(StatusOf(reg, production.id), ModelStatus::kProduction);

  d = reg.Promote(good.id, gate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->passed) << d->reason;
  EXPECT_EQ(StatusOf(reg, good.id), ModelStatus::kProduction);
  EXPECT_EQ(StatusOf(reg, production.id), ModelStatus::kArchived);

  // The production model has no trial; a record without its fields is refused; both change
  // nothing.
  Status refused = reg.RecordShadow(good.id, ShadowRecordJson("complete", 240, 0.6, 0.5));
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  refused = reg.RecordShadow(poor.id, json{{"state", "complete"}, {"calls", 3}});
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("\"production\""), std::string::npos) << refused.message();
  refused = reg.RecordShadow(good.id + 100, ShadowRecordJson("complete", 240, 0.6, 0.5));
  EXPECT_EQ(refused.code(), StatusCode::kNotFound);
  EXPECT_EQ(reg.Events(poor.id)->size(), 3u);  // register, shadow, reject
}

TEST_P(RegistryTest, EvaluateReadsStoredMetricsAndNamesTheModel) {
  ModelRegistry reg = OpenOrDie();
  const ModelRecord r = RegisterOrDie(reg, Meta("gbpusd_m1", 0.531, 0.507), Bytes("a"));
  PromotionGate gate{.metric = "auc", .threshold = 0.52, .min_improvement_over_baseline = 0.005};
  Result<GateDecision> d = reg.Evaluate(r.id, gate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->passed);
  EXPECT_EQ(StatusOf(reg, r.id), ModelStatus::kCandidate);  // Evaluate changes nothing

  gate.metric = "f1";
  d = reg.Evaluate(r.id, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("gbpusd_m1@1"), std::string::npos) << d.status().message();
  EXPECT_NE(d.status().message().find("\"f1\""), std::string::npos);

  d = reg.Evaluate(r.id + 100, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
}

TEST_P(RegistryTest, PromotionArchivesThePreviousProductionOfTheSameName) {
  ModelRegistry reg = OpenOrDie();
  const PromotionGate gate{.metric = "auc", .threshold = 0.52};
  const ModelRecord a1 = RegisterOrDie(reg, Meta("gbpusd_m1", 0.55), Bytes("a1"));
  const ModelRecord b1 = RegisterOrDie(reg, Meta("eurusd_m1", 0.56), Bytes("b1"));
  const ModelRecord a2 = RegisterOrDie(reg, Meta("gbpusd_m1", 0.57), Bytes("a2"));
  const ModelRecord a3 = RegisterOrDie(reg, Meta("gbpusd_m1", 0.51), Bytes("a3"));

  Result<GateDecision> d = reg.Promote(a1.id, gate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->passed);
  ASSERT_TRUE(reg.Promote(b1.id, gate).ok());
  EXPECT_EQ(StatusOf(reg, a1.id), ModelStatus::kProduction);

  clock_.AdvanceTo(FromCivil(2024, 3, 5));
  d = reg.Promote(a2.id, gate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->passed);
  EXPECT_EQ(StatusOf(reg, a2.id), ModelStatus::kProduction);
  EXPECT_EQ(StatusOf(reg, a1.id), ModelStatus::kArchived);
  EXPECT_EQ(StatusOf(reg, b1.id), ModelStatus::kProduction);  // another name is untouched

  Result<std::vector<std::string>> events = reg.Events(a1.id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_NE((*events)[1].find(" promote: auc 0.55 > threshold 0.52"), std::string::npos)
      << (*events)[1];
  EXPECT_EQ((*events)[2], "2024-03-05T00:00:00Z archive: replaced in production by model #" +
                              std::to_string(a2.id) + " gbpusd_m1@2");

  // Promoting the production model again is an error and records nothing.
  d = reg.Promote(a2.id, gate);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(reg.Events(a2.id).ok());
  EXPECT_EQ(reg.Events(a2.id)->size(), 2u);

  // A failed gate rejects the candidate and leaves production alone.
  d = reg.Promote(a3.id, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->passed);
  EXPECT_EQ(StatusOf(reg, a3.id), ModelStatus::kRejected);
  EXPECT_EQ(StatusOf(reg, a2.id), ModelStatus::kProduction);
  events = reg.Events(a3.id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_NE((*events)[1].find(" reject: auc 0.51 not > threshold 0.52"), std::string::npos)
      << (*events)[1];

  // A gate error (missing metric) changes nothing and records nothing.
  d = reg.Promote(a1.id, PromotionGate{.metric = "sharpe"});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(StatusOf(reg, a1.id), ModelStatus::kArchived);
  EXPECT_EQ(reg.Events(a1.id)->size(), 3u);

  // Rollback: the archived model passes the gate again and replaces the current production.
  d = reg.Promote(a1.id, gate);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->passed);
  EXPECT_EQ(StatusOf(reg, a1.id), ModelStatus::kProduction);
  EXPECT_EQ(StatusOf(reg, a2.id), ModelStatus::kArchived);

  // Exactly one production model per name.
  Result<std::vector<ModelRecord>> gbp = reg.List("gbpusd_m1");
  ASSERT_TRUE(gbp.ok());
  int production = 0;
  for (const ModelRecord& r : *gbp) production += r.status == ModelStatus::kProduction;
  EXPECT_EQ(production, 1);
}

TEST_P(RegistryTest, FindResolvesEveryReferenceForm) {
  ModelRegistry reg = OpenOrDie();
  Result<ModelRecord> r = reg.Find("latest");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);

  const PromotionGate gate{.metric = "auc", .threshold = 0.52};
  const ModelRecord a1 = RegisterOrDie(reg, Meta("gbpusd_m1", 0.55), Bytes("a1"));
  const ModelRecord a2 = RegisterOrDie(reg, Meta("gbpusd_m1", 0.56), Bytes("a2"));
  const ModelRecord b1 = RegisterOrDie(reg, Meta("eurusd_m1", 0.56), Bytes("b1"));

  // No production yet: the newest candidate.
  r = reg.Find("latest");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, b1.id);
  r = reg.Find("gbpusd_m1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, a2.id);

  ASSERT_TRUE(reg.Promote(a1.id, gate).ok());
  // Production wins over a newer candidate.
  r = reg.Find("gbpusd_m1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, a1.id);
  r = reg.Find("latest");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, a1.id);
  ASSERT_TRUE(reg.Promote(b1.id, gate).ok());
  r = reg.Find("latest");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, b1.id);

  r = reg.Find("gbpusd_m1@2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, a2.id);
  r = reg.Find("#" + std::to_string(a2.id));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version, 2);
  EXPECT_EQ(r->name, "gbpusd_m1");

  for (const char* unknown : {"usdjpy_m1", "gbpusd_m1@3", "usdjpy_m1@1", "#999"}) {
    r = reg.Find(unknown);
    ASSERT_FALSE(r.ok()) << unknown;
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << unknown;
    EXPECT_NE(r.status().message().find(std::string("\"") + unknown + "\""), std::string::npos)
        << r.status().message();
  }
  r = reg.Find("gbpusd_m1@3");
  EXPECT_NE(r.status().message().find("versions 1..2"), std::string::npos) << r.status().message();

  for (const char* malformed : {"", "#", "#abc", "#0", "#-1", "gbpusd_m1@", "gbpusd_m1@x",
                                "gbpusd_m1@0", "@2", "a b", "gbpusd_m1@2@3"}) {
    r = reg.Find(malformed);
    ASSERT_FALSE(r.ok()) << malformed;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << malformed;
  }
}

TEST_P(RegistryTest, FindByNameSkipsRejectedModels) {
  ModelRegistry reg = OpenOrDie();
  const ModelRecord a1 = RegisterOrDie(reg, Meta("gbpusd_m1", 0.51), Bytes("a1"));
  Result<GateDecision> d = reg.Promote(a1.id, PromotionGate{.metric = "auc", .threshold = 0.52});
  ASSERT_TRUE(d.ok());
  ASSERT_FALSE(d->passed);
  Result<ModelRecord> r = reg.Find("gbpusd_m1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(reg.Find("latest").ok());
  r = reg.Find("gbpusd_m1@1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, ModelStatus::kRejected);
}

TEST_P(RegistryTest, LoadRefusesAFeatureSetHashMismatch) {
  ModelRegistry reg = OpenOrDie();
  const ModelRecord a = RegisterOrDie(reg, Meta("gbpusd_m1", 0.55), Bytes("a"));
  RegisterOrDie(reg, Meta("eurusd_m1", 0.55, {}, kHashB, "v4"), Bytes("b"));

  Result<std::string> bytes = reg.LoadBytes(a, kHashA);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, Bytes("a"));

  bytes = reg.LoadBytes(a, kHashB);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kFailedPrecondition);
  const std::string& msg = bytes.status().message();
  EXPECT_NE(msg.find(kHashA), std::string::npos) << msg;
  EXPECT_NE(msg.find(kHashB), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"v3\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"v4\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("gbpusd_m1@1"), std::string::npos) << msg;

  bytes = reg.LoadBytes(a, "never-seen");
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("never-seen"), std::string::npos);

  // The stored row is authoritative: a caller's edited copy cannot talk its way past the check
  // or point the load elsewhere.
  ModelRecord edited = a;
  edited.feature_set_hash = kHashB;
  edited.path = "../../etc/passwd";
  EXPECT_FALSE(reg.LoadBytes(edited, kHashB).ok());
  bytes = reg.LoadBytes(edited, kHashA);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, Bytes("a"));
}

TEST_P(RegistryTest, LoadDetectsCorruptTruncatedAndMissingFiles) {
  ModelRegistry reg = OpenOrDie();
  const ModelRecord a = RegisterOrDie(reg, Meta("gbpusd_m1", 0.55), Bytes("a"));
  const std::string where = WhereBytesAre(a);
  const std::string good = Bytes("a");

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x01;
  ReplaceBytes(a, flipped);
  Result<std::string> bytes = reg.LoadBytes(a, kHashA);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bytes.status().message().find(where), std::string::npos) << bytes.status().message();
  EXPECT_NE(bytes.status().message().find("checksum"), std::string::npos);

  ReplaceBytes(a, good.substr(0, good.size() - 3));
  bytes = reg.LoadBytes(a, kHashA);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bytes.status().message().find(where), std::string::npos);
  EXPECT_NE(bytes.status().message().find(std::to_string(good.size() - 3) + " bytes"),
            std::string::npos)
      << bytes.status().message();

  if (sqlite()) {
    const fs::path file = dir_ / a.path;
    fs::remove(file);
    bytes = reg.LoadBytes(a, kHashA);
    ASSERT_FALSE(bytes.ok());
    EXPECT_EQ(bytes.status().code(), StatusCode::kNotFound);
    EXPECT_NE(bytes.status().message().find(file.string()), std::string::npos);
  }

  ReplaceBytes(a, good);
  EXPECT_TRUE(reg.LoadBytes(a, kHashA).ok());
}

TEST_P(RegistryTest, ReopeningSeesEverything) {
  int64_t a1_id = 0, a2_id = 0;
  {
    ModelRegistry reg = OpenOrDie();
    a1_id = RegisterOrDie(reg, Meta("gbpusd_m1", 0.55, 0.5), Bytes("a1")).id;
    a2_id = RegisterOrDie(reg, Meta("gbpusd_m1", 0.57, 0.5), Bytes("a2")).id;
    const PromotionGate gate{.metric = "auc", .threshold = 0.52};
    ASSERT_TRUE(reg.Promote(a1_id, gate).ok());
    ASSERT_TRUE(reg.Promote(a2_id, gate).ok());
  }
  // WAL mode is a property of the database file.
  if (sqlite()) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "registry.sqlite").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  Result<ModelRegistry> reopened = ModelRegistry::Open(location_, /*create=*/false);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  Result<std::vector<ModelRecord>> all = reopened->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].status, ModelStatus::kArchived);
  EXPECT_EQ((*all)[1].status, ModelStatus::kProduction);
  EXPECT_DOUBLE_EQ((*all)[1].metrics["baseline"]["auc"].get<double>(), 0.5);
  EXPECT_EQ((*all)[0].created_at, FromCivil(2024, 3, 1, 12, 0));
  Result<ModelRecord> prod = reopened->Find("gbpusd_m1");
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(prod->id, a2_id);
  Result<std::string> bytes = reopened->LoadBytes(*prod, kHashA);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, Bytes("a2"));
  Result<std::vector<std::string>> events = reopened->Events(a1_id);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 3u);  // register, promote, archive

  // Versions continue after a reopen, and a second handle on the same directory sees the first.
  Result<ModelRecord> a3 = reopened->Register(Meta("gbpusd_m1", 0.6), Bytes("a3"));
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ(a3->version, 3);
  ModelRegistry other = OpenOrDie();
  Result<ModelRecord> a4 = other.Register(Meta("gbpusd_m1", 0.6), Bytes("a4"));
  ASSERT_TRUE(a4.ok());
  EXPECT_EQ(a4->version, 4);
  ASSERT_TRUE(reopened->Find("gbpusd_m1@4").ok());
}

TEST_F(SqliteRegistryTest, RegisterOverwritesAnOrphanFileOfAFailedRegistration) {
  ModelRegistry reg = OpenOrDie();
  WriteAll(dir_ / "models" / "gbpusd_m1-v1-xgboost.bin", "left over by a crash");
  const ModelRecord a = RegisterOrDie(reg, Meta("gbpusd_m1", 0.55), Bytes("a"));
  Result<std::string> bytes = reg.LoadBytes(a, kHashA);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, Bytes("a"));
}

TEST_F(SqliteRegistryTest, OpenErrorsNameThePath) {
  // A file where the directory should be.
  fs::create_directories(dir_);
  const fs::path file = dir_ / "not_a_dir";
  WriteAll(file, "x");
  Result<ModelRegistry> r = ModelRegistry::Open(file.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(file.string()), std::string::npos) << r.status().message();

  // Missing without create.
  const fs::path missing = dir_ / "missing";
  r = ModelRegistry::Open(missing.string(), /*create=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(missing.string()), std::string::npos);
  EXPECT_FALSE(fs::exists(missing));
  fs::create_directories(missing);
  r = ModelRegistry::Open(missing.string(), /*create=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);

  // Not an SQLite database.
  const fs::path garbage = dir_ / "garbage";
  fs::create_directories(garbage);
  WriteAll(garbage / "registry.sqlite", std::string(4096, 'z'));
  r = ModelRegistry::Open(garbage.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
  EXPECT_NE(r.status().message().find((garbage / "registry.sqlite").string()), std::string::npos)
      << r.status().message();

  // Another application's database.
  const fs::path foreign = dir_ / "foreign";
  fs::create_directories(foreign);
  RawSql(foreign / "registry.sqlite", "CREATE TABLE t (x INTEGER)");
  r = ModelRegistry::Open(foreign.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(SqliteRegistryTest, OpenRefusesANewerSchema) {
  { OpenOrDie(); }
  RawSql(dir_ / "registry.sqlite", "PRAGMA user_version = 99");
  Result<ModelRegistry> r = ModelRegistry::Open(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("schema version 99"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find((dir_ / "registry.sqlite").string()), std::string::npos);
}

// Runs `one` and `two` on two threads that start at the same moment (each spins until the other
// is ready), and waits for both.
template <typename One, typename Two>
void RunTogether(One one, Two two) {
  std::atomic<int> ready{0};
  const auto start = [&ready] {
    ++ready;
    while (ready.load() < 2) {
    }
  };
  std::thread first([&] {
    start();
    one();
  });
  std::thread second([&] {
    start();
    two();
  });
  first.join();
  second.join();
}

// Two processes promoting models of one name at the same moment: each promotion is one
// transaction under the registry's write lock, so the second sees the first's production model
// and archives it. Without the lock both would archive the same old model and the second would
// break the one-production index (or, without the index, leave two production models).
TEST_F(PgRegistryTest, ConcurrentPromotionsFromTwoConnectionsKeepOneProductionModel) {
  ModelRegistry first = OpenOrDie();
  ModelRegistry second = OpenOrDie();
  constexpr int kRounds = 15;
  std::vector<int64_t> ids;
  for (int idx = 0; idx < 2 * kRounds; ++idx) {
    ids.push_back(RegisterOrDie(first, Meta("gbpusd_m1", 0.55), Bytes(std::to_string(idx))).id);
  }
  const PromotionGate gate{.metric = "auc", .threshold = 0.52};
  for (int round = 0; round < kRounds; ++round) {
    Result<GateDecision> a = InvalidArgument("not run");
    Result<GateDecision> b = InvalidArgument("not run");
    RunTogether([&] { a = first.Promote(ids[2 * round], gate); },
                [&] { b = second.Promote(ids[2 * round + 1], gate); });
    ASSERT_TRUE(a.ok()) << "round " << round << ": " << a.status().ToString();
    ASSERT_TRUE(b.ok()) << "round " << round << ": " << b.status().ToString();
    EXPECT_TRUE(a->passed);
    EXPECT_TRUE(b->passed);
    Result<std::vector<ModelRecord>> all = first.List("gbpusd_m1");
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    int production = 0;
    for (const ModelRecord& r : *all) production += r.status == ModelStatus::kProduction;
    ASSERT_EQ(production, 1) << "round " << round;
  }
  // Every model promoted and then replaced was archived exactly once, by the next promotion.
  Result<std::vector<ModelRecord>> all = second.List("gbpusd_m1");
  ASSERT_TRUE(all.ok());
  int archived = 0;
  for (const ModelRecord& r : *all) {
    Result<std::vector<std::string>> events = second.Events(r.id);
    ASSERT_TRUE(events.ok());
    int archives = 0;
    for (const std::string& line : *events)
      archives += line.find(" archive: ") != std::string::npos;
    EXPECT_EQ(archives, r.status == ModelStatus::kArchived ? 1 : 0) << "model #" << r.id;
    archived += r.status == ModelStatus::kArchived;
  }
  EXPECT_EQ(archived, 2 * kRounds - 1);
}

// Two processes registering models of one name at the same moment: each takes the next version
// under the write lock, so the versions are 1..N without a gap or a clash (without the lock both
// would read the same highest version and the second insert would break UNIQUE (name, version)).
TEST_F(PgRegistryTest, ConcurrentRegistrationsFromTwoConnectionsTakeDistinctVersions) {
  ModelRegistry first = OpenOrDie();
  ModelRegistry second = OpenOrDie();
  constexpr int kEach = 15;
  std::vector<Result<ModelRecord>> from_first, from_second;
  const auto register_all = [](ModelRegistry& reg, std::vector<Result<ModelRecord>>& out) {
    for (int idx = 0; idx < kEach; ++idx) {
      out.push_back(reg.Register(Meta("gbpusd_m1", 0.55), Bytes(std::to_string(idx))));
    }
  };
  RunTogether([&] { register_all(first, from_first); }, [&] { register_all(second, from_second); });
  std::vector<int> versions;
  for (const auto* results : {&from_first, &from_second}) {
    for (const Result<ModelRecord>& r : *results) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      versions.push_back(r->version);
    }
  }
  std::sort(versions.begin(), versions.end());
  for (int idx = 0; idx < 2 * kEach; ++idx) EXPECT_EQ(versions[idx], idx + 1);
}

// A server that answers and refuses is a configuration error: retrying will not help.
TEST_F(PgRegistryTest, AServerThatRefusesTheDatabaseIsFailedPreconditionNamingIt) {
  Result<ModelRegistry> r = ModelRegistry::Open(PgUri(Postgres()->port(), "no_such_registry_db"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("no_such_registry_db"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(r.status().message().rfind("model registry: ", 0), 0u) << r.status().ToString();
}

TEST_F(PgRegistryTest, AServerThatIsDownIsUnavailableNamingIt) {
  Result<int> port = test_servers::FreePort();
  ASSERT_TRUE(port.ok());
  Result<ModelRegistry> r = ModelRegistry::Open(PgUri(*port, "postgres"), /*create=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("127.0.0.1:" + std::to_string(*port)), std::string::npos)
      << r.status().ToString();
}

TEST_F(PgRegistryTest, ANewerSchemaIsRefusedAndNothingIsWritten) {
  { OpenOrDie(); }
  PgSql(
      "INSERT INTO aits_schema_migrations(component, version, name)"
      " VALUES ('registry', 2, 'from a newer build')");
  for (const bool create : {true, false}) {
    Result<ModelRegistry> r = ModelRegistry::Open(location_, create);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
    EXPECT_NE(r.status().message().find("schema version 2"), std::string::npos)
        << r.status().ToString();
    EXPECT_NE(r.status().message().find("model registry postgresql://127.0.0.1:"),
              std::string::npos)
        << r.status().ToString();
  }
}

// The tables are made at the first open with create (and only then), beside another
// component's: the event store owns `events` in a shared database.
TEST_F(PgRegistryTest, TablesAreCreatedAtOpenBesideOtherComponents) {
  PgSql("CREATE TABLE events(seq bigint)");
  Result<ModelRegistry> r = ModelRegistry::Open(location_, /*create=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_NE(r.status().message().find(database_), std::string::npos) << r.status().ToString();

  ModelRegistry reg = OpenOrDie();
  EXPECT_EQ(reg.dir(),
            "postgresql://127.0.0.1:" + std::to_string(Postgres()->port()) + "/" + database_);
  RegisterOrDie(reg, Meta("gbpusd_m1", 0.55), Bytes("a"));
  r = ModelRegistry::Open(location_, /*create=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->List().ok());
  EXPECT_EQ(r->List()->size(), 1u);

  r = ModelRegistry::Open(location_ + "#session");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// A registry object outlives an outage: a call while the server stays down is Unavailable once
// its retries ran out (pg::StoreRetry, about 5 s), the next ones are refused at once by the open
// breaker, and after the restart the registry connects again on its own.
TEST(PgRegistryKillTest, AKilledServerIsUnavailableAndTheRegistryReconnectsAfterRestart) {
  auto server = test_servers::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Result<ModelRegistry> reg = ModelRegistry::Open(PgUri((*server)->port(), "postgres"));
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  Result<ModelRecord> a = reg->Register(Meta("gbpusd_m1", 0.55), Bytes("a"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();

  (*server)->Kill();
  // The killed postmaster's backend may answer a statement or two before it notices and exits;
  // from then on every call is Unavailable.
  Result<std::vector<ModelRecord>> all = reg->List();
  for (int attempt = 0; attempt < 100 && all.ok(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    all = reg->List();
  }
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), StatusCode::kUnavailable) << all.status().ToString();
  EXPECT_EQ(reg->Register(Meta("gbpusd_m1", 0.56), Bytes("b")).status().code(),
            StatusCode::kUnavailable);

  const Result<std::vector<ModelRecord>> refused = reg->List();
  EXPECT_NE(refused.status().message().find("circuit open"), std::string::npos)
      << refused.status().ToString();

  ASSERT_TRUE((*server)->Restart().ok());
  // Refused while the breaker stays open (1 s), then a probe goes through.
  all = reg->List();
  for (int attempt = 0; attempt < 50 && !all.ok(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    all = reg->List();
  }
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 1u);
  Result<std::string> bytes = reg->LoadBytes(*a, kHashA);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, Bytes("a"));
  Result<ModelRecord> b = reg->Register(Meta("gbpusd_m1", 0.56), Bytes("b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->version, 2);
}

// A server restarted while a registration and a read are under way: both wait for it (their
// retries last about 5 s) and succeed, the registration stored once.
TEST(PgRegistryKillTest, AWriteAndAReadRideOutAServerRestart) {
  auto server = test_servers::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string uri = PgUri((*server)->port(), "postgres");
  Result<ModelRegistry> writer = ModelRegistry::Open(uri);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  Result<ModelRegistry> reader = ModelRegistry::Open(uri);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE(writer->Register(Meta("eurusd_m1", 0.55), Bytes("a")).ok());
  (*server)->Kill();
  Result<ModelRecord> registered = Internal("not run");
  Result<std::vector<ModelRecord>> listed = Internal("not run");
  const Status restarted = (*server)->RestartWhile(
      {[&] { registered = writer->Register(Meta("eurusd_m1", 0.56), Bytes("b")); },
       [&] { listed = reader->List(); }});
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  EXPECT_EQ(registered->version, 2);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  Result<std::vector<ModelRecord>> all = reader->List();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 2u);
}

}  // namespace
}  // namespace aits::ml
