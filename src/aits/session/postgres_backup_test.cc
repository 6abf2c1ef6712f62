// The operators' PostgreSQL backup (deploy/backup-postgres.sh, deploy/restore-postgres.sh;
// docs/deployment.md, "Backups") run against real servers: a database holding two sessions' event
// logs and the model registry, dumped while a writer holds a session's lock, restored into a fresh
// server, reads back event by event, replays to the same orders and P&L, and serves the same
// models; a restore onto a database that is not empty, and a backup of a server that is not
// there, fail naming it and leave nothing behind.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "aits/ml/registry.h"
#include "aits/models/serialize.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/session/paper.h"
#include "aits/session/replay.h"
#include "aits/session/session_test_util.h"
#include "aits/testing/servers.h"

namespace aits::session {
namespace {

using persistence::Event;
using test_servers::ChildProcess;
using test_servers::PostgresServer;

const std::string kDeploy = std::string(AITS_SOURCE_DIR) + "/deploy";

std::unique_ptr<PostgresServer> MustStart() {
  auto server = PostgresServer::Start();
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  EXPECT_TRUE((*server)->CreateDatabase("aits").ok());
  return std::move(server).value();
}

std::string Uri(const PostgresServer& server) {
  return "postgresql://aits@127.0.0.1:" + std::to_string(server.port()) + "/aits";
}

struct ScriptRun {
  int code = -1;
  std::string output;
};

// Runs one of the scripts; its exit code and what it printed.
ScriptRun Script(const std::string& name, const std::vector<std::string>& args,
                 const std::string& log) {
  std::vector<std::string> argv = {"/bin/bash", kDeploy + "/" + name};
  argv.insert(argv.end(), args.begin(), args.end());
  std::filesystem::remove(log);
  ScriptRun out;
  auto child = ChildProcess::Start(argv, log);
  EXPECT_TRUE(child.ok()) << child.status().ToString();
  if (!child.ok()) return out;
  auto code = (*child)->Wait(Duration::Seconds(120));
  EXPECT_TRUE(code.ok()) << code.status().ToString();
  out.code = code.ok() ? *code : -1;
  std::ifstream in(log);
  out.output.assign(std::istreambuf_iterator<char>(in), {});
  return out;
}

std::vector<Event> AllEvents(const std::string& location) {
  std::vector<Event> out;
  auto store = persistence::OpenEventStoreAtReadOnly(location);
  EXPECT_TRUE(store.ok()) << location << ": " << store.status().ToString();
  if (!store.ok()) return out;
  EXPECT_TRUE((*store)
                  ->Scan(1,
                         [&out](const Event& event) {
                           out.push_back(event);
                           return Status::Ok();
                         })
                  .ok());
  return out;
}

ml::ModelMetadata Model(const std::string& name, double auc) {
  ml::ModelMetadata m;
  m.name = name;
  m.kind = "xgboost";
  m.feature_set_version = "v3";
  m.feature_set_hash = "fs-hash-a";
  m.train_begin = FromCivil(2012, 1, 2);
  m.train_end = FromCivil(2012, 6, 29);
  m.params = {{"max_depth", 6}};
  m.metrics = {{"validation", {{"auc", auc}}}};
  m.data_source = "synthetic";
  return m;
}

TEST(PostgresBackupTest, ARestoredDumpReadsBackEventByEventAndReplaysTheSameSession) {
  TempDir tmp;
  std::unique_ptr<PostgresServer> source = MustStart();
  ASSERT_NE(source, nullptr);
  const std::string db = Uri(*source);

  // Two sessions' logs, the second still open (its writer holds the session's lock) while the
  // dump is taken, as a backup of the running system would find it.
  PaperOptions first = MaxSpeed(BusySpec(4'000), tmp.Sub("one"));
  first.events = db + "#paper-1";
  auto one = RunPaper(first);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_GT(one->fills, 0u);
  SessionSpec second_spec = BusySpec(2'000);
  second_spec.seed = 8;
  PaperOptions second = MaxSpeed(second_spec, tmp.Sub("two"));
  second.events = db + "#paper-2";
  ASSERT_TRUE(RunPaper(second).ok());

  // The registry: two versions of a model, the second promoted (the first archived).
  auto registry = ml::ModelRegistry::Open(db);
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  auto v1 = registry->Register(Model("gbpusd_m1", 0.55), ml::WrapModel("xgboost", "one"));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  ASSERT_TRUE(registry->Promote(v1->id, {}).ok());
  auto v2 = registry->Register(Model("gbpusd_m1", 0.58), ml::WrapModel("xgboost", "two"));
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  ASSERT_TRUE(registry->Promote(v2->id, {}).ok());

  auto held = persistence::OpenEventStoreAt(db + "#paper-2");
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  const std::string dump = tmp.Sub("aits.dump");
  const ScriptRun backup =
      Script("backup-postgres.sh", {db + "#paper-1", dump}, tmp.Sub("backup.log"));
  ASSERT_EQ(backup.code, 0) << backup.output;
  EXPECT_NE(backup.output.find("tables"), std::string::npos) << backup.output;
  EXPECT_TRUE(std::filesystem::exists(dump));
  EXPECT_FALSE(std::filesystem::exists(dump + ".partial"));
  held->reset();

  std::unique_ptr<PostgresServer> fresh = MustStart();
  ASSERT_NE(fresh, nullptr);
  const std::string restored_db = Uri(*fresh);
  const ScriptRun restore =
      Script("restore-postgres.sh", {dump, restored_db}, tmp.Sub("restore.log"));
  ASSERT_EQ(restore.code, 0) << restore.output;
  EXPECT_NE(restore.output.find("session paper-1: "), std::string::npos) << restore.output;
  EXPECT_NE(restore.output.find("session paper-2: "), std::string::npos) << restore.output;

  // Event by event: the same sequence numbers, types, times and bytes.
  for (const std::string session : {"#paper-1", "#paper-2"}) {
    SCOPED_TRACE(session);
    const std::vector<Event> before = AllEvents(db + session);
    const std::vector<Event> after = AllEvents(restored_db + session);
    ASSERT_GT(before.size(), 1'000u);  // ticks, signals, orders, fills
    ASSERT_EQ(after.size(), before.size());
    for (size_t idx = 0; idx < before.size(); ++idx) {
      ASSERT_EQ(after[idx].seq, before[idx].seq);
      ASSERT_EQ(after[idx].type, before[idx].type) << "seq " << before[idx].seq;
      ASSERT_EQ(after[idx].ts.ns, before[idx].ts.ns) << "seq " << before[idx].seq;
      ASSERT_EQ(after[idx].wall.ns, before[idx].wall.ns) << "seq " << before[idx].seq;
      ASSERT_EQ(after[idx].payload, before[idx].payload) << "seq " << before[idx].seq;
    }
  }

  // The restored log replays: the same orders, fills and balance as the session that wrote it.
  auto store = persistence::OpenEventStoreAtReadOnly(restored_db + "#paper-1");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto replay = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_TRUE(replay->equal) << replay->divergence.seq << ": " << replay->divergence.logged
                             << " vs " << replay->divergence.produced;
  EXPECT_EQ(replay->fills, one->fills);
  EXPECT_EQ(replay->account.balance.raw(), one->account.balance.raw());
  // A writer takes the restored session on (its lock is the new server's).
  auto writer = persistence::OpenEventStoreAt(restored_db + "#paper-2");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();

  // The registry: the same production model, its bytes, and its history.
  auto restored_registry = ml::ModelRegistry::Open(restored_db, /*create=*/false);
  ASSERT_TRUE(restored_registry.ok()) << restored_registry.status().ToString();
  auto serving = restored_registry->Find("gbpusd_m1");
  ASSERT_TRUE(serving.ok()) << serving.status().ToString();
  EXPECT_EQ(serving->id, v2->id);
  EXPECT_EQ(serving->status, ml::ModelStatus::kProduction);
  auto bytes = restored_registry->LoadBytes(*serving, "fs-hash-a");
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, ml::WrapModel("xgboost", "two"));
  EXPECT_EQ(restored_registry->Events(v1->id).value(), registry->Events(v1->id).value());
  // Its id sequence came along: a new model follows the restored ones.
  auto v3 = restored_registry->Register(Model("gbpusd_m1", 0.6), ml::WrapModel("xgboost", "3"));
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_GT(v3->id, v2->id);
  EXPECT_EQ(v3->version, 3);
}

// A server whose database holds one short session's log, "#paper"; null when it fails.
std::unique_ptr<PostgresServer> WithASession(TempDir& tmp) {
  std::unique_ptr<PostgresServer> server = MustStart();
  if (server == nullptr) return nullptr;
  PaperOptions options = MaxSpeed(BusySpec(500), tmp.Sub("s"));
  options.events = Uri(*server) + "#paper";
  const auto ran = RunPaper(options);
  EXPECT_TRUE(ran.ok()) << ran.status().ToString();
  return ran.ok() ? std::move(server) : nullptr;
}

TEST(PostgresBackupTest, ARestoreOntoADatabaseWithTablesIsRefusedAndChangesNothing) {
  TempDir tmp;
  std::unique_ptr<PostgresServer> source = WithASession(tmp);
  ASSERT_NE(source, nullptr);
  const std::string dump = tmp.Sub("aits.dump");
  ASSERT_EQ(Script("backup-postgres.sh", {Uri(*source), dump}, tmp.Sub("b.log")).code, 0);

  // The dump's own database is not empty: refused, naming a table.
  const size_t events = AllEvents(Uri(*source) + "#paper").size();
  const ScriptRun onto_itself =
      Script("restore-postgres.sh", {dump, Uri(*source)}, tmp.Sub("r.log"));
  EXPECT_EQ(onto_itself.code, 1) << onto_itself.output;
  EXPECT_NE(onto_itself.output.find("not empty"), std::string::npos) << onto_itself.output;
  EXPECT_NE(onto_itself.output.find("public.events"), std::string::npos) << onto_itself.output;
  EXPECT_EQ(AllEvents(Uri(*source) + "#paper").size(), events);

  // Not a dump: named.
  const std::string junk = tmp.Sub("junk.dump");
  std::ofstream(junk) << "not a dump\n";
  const ScriptRun not_a_dump =
      Script("restore-postgres.sh", {junk, Uri(*source)}, tmp.Sub("j.log"));
  EXPECT_EQ(not_a_dump.code, 1);
  EXPECT_NE(not_a_dump.output.find(junk), std::string::npos) << not_a_dump.output;
}

// A key file as `aits api init` writes it: 64 hex digits, readable by its owner only.
std::string KeyFile(const std::string& path, char digit) {
  std::ofstream(path) << std::string(64, digit) << "\n";
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

TEST(PostgresBackupTest, ASealedBackupHoldsNoPlainDumpAndRestoresOnlyWithItsKey) {
  TempDir tmp;
  std::unique_ptr<PostgresServer> source = WithASession(tmp);
  ASSERT_NE(source, nullptr);
  const std::string key = KeyFile(tmp.Sub("master.key"), 'a');
  const std::string other = KeyFile(tmp.Sub("other.key"), 'b');
  ::setenv("AITS_BIN", AITS_BINARY, 1);
  ::setenv("AITS_BACKUP_KEY", key.c_str(), 1);
  const std::string dump = tmp.Sub("aits.dump.sealed");
  const ScriptRun backup = Script("backup-postgres.sh", {Uri(*source), dump}, tmp.Sub("b.log"));
  ASSERT_EQ(backup.code, 0) << backup.output;
  EXPECT_NE(backup.output.find("sealed"), std::string::npos) << backup.output;
  std::ifstream in(dump, std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  EXPECT_TRUE(bytes.starts_with("AITS-SEALED-1\n"));
  EXPECT_EQ(bytes.find("PGDMP"), std::string::npos) << "pg_dump's header shows through";
  EXPECT_EQ(bytes.find("event_sessions"), std::string::npos) << "a table name shows through";
  EXPECT_FALSE(std::filesystem::exists(dump + ".partial"));
  EXPECT_FALSE(std::filesystem::exists(dump + ".partial.sealed"));

  std::unique_ptr<PostgresServer> fresh = MustStart();
  ASSERT_NE(fresh, nullptr);
  ::setenv("AITS_BACKUP_KEY", other.c_str(), 1);
  const ScriptRun wrong = Script("restore-postgres.sh", {dump, Uri(*fresh)}, tmp.Sub("w.log"));
  EXPECT_EQ(wrong.code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("cannot be opened"), std::string::npos) << wrong.output;
  ::unsetenv("AITS_BACKUP_KEY");
  const ScriptRun keyless = Script("restore-postgres.sh", {dump, Uri(*fresh)}, tmp.Sub("k.log"));
  EXPECT_EQ(keyless.code, 1) << keyless.output;
  EXPECT_NE(keyless.output.find("is sealed"), std::string::npos) << keyless.output;

  ::setenv("AITS_BACKUP_KEY", key.c_str(), 1);
  const ScriptRun restore = Script("restore-postgres.sh", {dump, Uri(*fresh)}, tmp.Sub("r.log"));
  ::unsetenv("AITS_BACKUP_KEY");
  ::unsetenv("AITS_BIN");
  ASSERT_EQ(restore.code, 0) << restore.output;
  EXPECT_EQ(AllEvents(Uri(*fresh) + "#paper").size(), AllEvents(Uri(*source) + "#paper").size());
}

TEST(PostgresBackupTest, ABackupOfAServerThatIsNotThereWritesNothing) {
  TempDir tmp;
  auto port = test_servers::FreePort();
  ASSERT_TRUE(port.ok());
  const std::string dump = tmp.Sub("never.dump");
  const ScriptRun run = Script(
      "backup-postgres.sh",
      {"postgresql://aits@127.0.0.1:" + std::to_string(*port) + "/aits?connect_timeout=2", dump},
      tmp.Sub("n.log"));
  EXPECT_EQ(run.code, 1) << run.output;
  EXPECT_NE(run.output.find("pg_dump of postgresql://aits@127.0.0.1:"), std::string::npos)
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(dump));
  EXPECT_FALSE(std::filesystem::exists(dump + ".partial"));
}

}  // namespace
}  // namespace aits::session
