// What only the PostgreSQL store has: migrations, locations, an unreachable or killed server,
// one writer per session. Runs on the binary's server (event_store_contract_test.cc); the
// migration tests take databases of their own.
#include "aits/persistence/postgres.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "aits/persistence/pg_event_store.h"
#include "aits/testing/servers.h"

namespace aits::persistence {

test_servers::PostgresServer* SharedPostgres();  // event_store_contract_test.cc

namespace {

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = SharedPostgres();
    ASSERT_NE(server_, nullptr) << "PostgreSQL did not start (see above)";
  }
  // A fresh database for a test that looks at the whole schema.
  std::unique_ptr<pg::Connection> FreshDatabase(const std::string& name) {
    EXPECT_TRUE(server_->CreateDatabase(name).ok());
    auto conn = pg::Connection::Open(server_->conninfo(name));
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(conn).value() : nullptr;
  }
  std::string Location(const std::string& session) const {
    return "postgresql://aits@127.0.0.1:" + std::to_string(server_->port()) + "/postgres#" +
           session;
  }

  test_servers::PostgresServer* server_ = nullptr;
};

constexpr pg::Migration kTwoSteps[] = {
    {1, "a table", "CREATE TABLE things(id bigint PRIMARY KEY, name text NOT NULL)"},
    {2, "a column with a default",
     "ALTER TABLE things ADD COLUMN weight bigint NOT NULL DEFAULT 7;"
     "CREATE INDEX things_by_weight ON things(weight)"},
};

int64_t Count(pg::Connection& conn, const std::string& sql) {
  auto rows = conn.Exec(sql, "count");
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok()) return -1;
  auto value = rows->Int64(0, 0);
  return value.ok() ? *value : -1;
}

TEST_F(PostgresTest, MigratesAnEmptyDatabaseOnceAndRecordsEachVersion) {
  auto conn = FreshDatabase("migrate_empty");
  ASSERT_NE(conn, nullptr);
  auto version = pg::SchemaVersion(*conn, "things");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 0);
  auto migrated = pg::Migrate(*conn, "things", kTwoSteps);
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  EXPECT_EQ(*migrated, 2);
  EXPECT_EQ(Count(*conn,
                  "SELECT count(*)::bigint FROM aits_schema_migrations"
                  " WHERE component = 'things'"),
            2);
  ASSERT_TRUE(conn->ExecScript("INSERT INTO things(id, name) VALUES(1, 'x')", "insert").ok());
  EXPECT_EQ(Count(*conn, "SELECT weight FROM things"), 7);
  // Again: nothing to do, nothing changed.
  migrated = pg::Migrate(*conn, "things", kTwoSteps);
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  EXPECT_EQ(Count(*conn, "SELECT count(*)::bigint FROM things"), 1);
  // Another component in the same database keeps its own version.
  auto other = pg::SchemaVersion(*conn, "other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, 0);
}

TEST_F(PostgresTest, MigratesFromThePreviousVersionKeepingTheData) {
  auto conn = FreshDatabase("migrate_previous");
  ASSERT_NE(conn, nullptr);
  const std::span<const pg::Migration> previous(kTwoSteps, 1);
  ASSERT_TRUE(pg::Migrate(*conn, "things", previous).ok());
  ASSERT_TRUE(
      conn->ExecScript("INSERT INTO things(id, name) VALUES(1, 'a'), (2, 'b')", "insert").ok());
  auto migrated = pg::Migrate(*conn, "things", kTwoSteps);
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  EXPECT_EQ(*migrated, 2);
  EXPECT_EQ(Count(*conn, "SELECT sum(weight)::bigint FROM things"), 14);
}

TEST_F(PostgresTest, AFailingMigrationLeavesTheSchemaAsItWas) {
  auto conn = FreshDatabase("migrate_failing");
  ASSERT_NE(conn, nullptr);
  const pg::Migration broken[] = {
      kTwoSteps[0],
      {2, "half good", "CREATE TABLE extra(id bigint); ALTER TABLE nowhere ADD COLUMN x bigint"},
  };
  auto migrated = pg::Migrate(*conn, "things", broken);
  ASSERT_FALSE(migrated.ok());
  EXPECT_NE(migrated.status().message().find("migration 2 (half good)"), std::string::npos)
      << migrated.status().ToString();
  auto version = pg::SchemaVersion(*conn, "things");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 0);  // migration 1 went back with it: one transaction
  EXPECT_EQ(Count(*conn,
                  "SELECT count(*)::bigint FROM pg_tables WHERE tablename IN"
                  " ('things', 'extra')"),
            0);
  // The connection is usable afterwards.
  ASSERT_TRUE(pg::Migrate(*conn, "things", kTwoSteps).ok());
}

TEST_F(PostgresTest, ANewerDatabaseAndAMisnumberedListAreRefused) {
  auto conn = FreshDatabase("migrate_newer");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(pg::Migrate(*conn, "things", kTwoSteps).ok());
  auto older = pg::Migrate(*conn, "things", std::span<const pg::Migration>(kTwoSteps, 1));
  EXPECT_EQ(older.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(older.status().message().find("schema version 2, this build knows versions up to 1"),
            std::string::npos)
      << older.status().ToString();
  const pg::Migration gap[] = {kTwoSteps[1]};
  EXPECT_EQ(pg::Migrate(*conn, "things", gap).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PostgresTest, ConcurrentStartersMigrateOnce) {
  ASSERT_TRUE(server_->CreateDatabase("migrate_concurrent").ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> starters;
  for (int idx = 0; idx < 4; ++idx) {
    starters.emplace_back([&] {
      auto conn = pg::Connection::Open(server_->conninfo("migrate_concurrent"));
      if (!conn.ok() || !pg::Migrate(**conn, "event_store", EventStoreMigrations()).ok()) {
        ++failures;
      }
    });
  }
  for (std::thread& starter : starters) starter.join();
  EXPECT_EQ(failures.load(), 0);
  auto conn = pg::Connection::Open(server_->conninfo("migrate_concurrent"));
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(Count(**conn, "SELECT count(*)::bigint FROM aits_schema_migrations"),
            static_cast<int64_t>(EventStoreMigrations().size()));
}

TEST_F(PostgresTest, AnUnreachableServerIsAClearErrorAtOpen) {
  auto port = test_servers::FreePort();
  ASSERT_TRUE(port.ok());
  const std::string location =
      "postgresql://aits@127.0.0.1:" + std::to_string(*port) + "/postgres#s1";
  auto store = OpenEventStoreAt(location);
  ASSERT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("127.0.0.1:" + std::to_string(*port)), std::string::npos)
      << store.status().ToString();
}

// A server that answers and refuses is a configuration error, not an outage: retrying will not
// help, and a supervisor must not restart the role for ever on it.
TEST_F(PostgresTest, AServerThatRefusesTheUserOrDatabaseIsAConfigurationError) {
  const std::string server = "127.0.0.1:" + std::to_string(server_->port());
  auto no_database = OpenEventStoreAt("postgresql://aits@" + server + "/no_such_db#s1");
  ASSERT_EQ(no_database.status().code(), StatusCode::kFailedPrecondition)
      << no_database.status().ToString();
  EXPECT_NE(no_database.status().message().find("\"no_such_db\" does not exist"), std::string::npos)
      << no_database.status().ToString();
  auto no_user = OpenEventStoreAt("postgresql://nobody@" + server + "/postgres#s1");
  ASSERT_EQ(no_user.status().code(), StatusCode::kFailedPrecondition)
      << no_user.status().ToString();
  EXPECT_NE(no_user.status().message().find("refused the connection"), std::string::npos)
      << no_user.status().ToString();
}

TEST_F(PostgresTest, LocationsAreCheckedBeforeConnecting) {
  EXPECT_TRUE(IsPostgresLocation("postgres://h/db#s"));
  EXPECT_FALSE(IsPostgresLocation("/var/lib/aits/events.db"));
  for (const char* bad : {"postgresql://h/db", "postgresql://h/db#", "postgresql://h/db#a b",
                          "postgresql://h/db#a/b"}) {
    auto parsed = ParsePgLocation(bad);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find(bad), std::string::npos);
  }
  auto parsed = ParsePgLocation("postgresql://aits@127.0.0.1:5/db?sslmode=disable#paper-1.x_y");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->conninfo, "postgresql://aits@127.0.0.1:5/db?sslmode=disable");
  EXPECT_EQ(parsed->session, "paper-1.x_y");
}

TEST_F(PostgresTest, OneWriterPerSessionAndSessionsAreApart) {
  auto first = OpenEventStoreAt(Location("writer-a"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = OpenEventStoreAt(Location("writer-a"));
  ASSERT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("writer-a"), std::string::npos);
  // Another session: its own writer and its own seq.
  auto other = OpenEventStoreAt(Location("writer-b"));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_TRUE((*first)->Append(EventType::kTick, Timestamp{1}, "a").ok());
  ASSERT_TRUE((*first)->Append(EventType::kTick, Timestamp{2}, "a").ok());
  auto seq = (*other)->Append(EventType::kTick, Timestamp{1}, "b");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 1u);
  ASSERT_TRUE((*first)->Close().ok());
  ASSERT_TRUE((*other)->Close().ok());
  second = OpenEventStoreAt(Location("writer-a"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->last_seq(), 2u);
}

// A statement that fails inside a batch aborts PostgreSQL's transaction, whose COMMIT would then
// roll back without an error: the store must report the batch lost, never committed.
TEST_F(PostgresTest, AStatementFailedInsideABatchLosesTheBatchAndSaysSo) {
  ASSERT_TRUE(server_->CreateDatabase("aborted_batch").ok());
  const std::string location =
      "postgresql://aits@127.0.0.1:" + std::to_string(server_->port()) + "/aborted_batch#s1";
  auto store = OpenEventStoreAt(location);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{1}, "committed").ok());
  ASSERT_TRUE((*store)->Commit().ok());
  ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{2}, "lost").ok());
  // The writer sees its own batch (the events are sent into the open transaction) ...
  uint64_t seen = 0;
  ASSERT_TRUE((*store)->Scan(1, [&](const Event&) { return ++seen, Status::Ok(); }).ok());
  EXPECT_EQ(seen, 2u);
  // ... and then a statement of the batch fails.
  auto other = pg::Connection::Open(server_->conninfo("aborted_batch"));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->ExecScript("DROP TABLE event_commands", "drop").ok());
  EXPECT_FALSE((*store)->PendingCommands().ok());
  const Status commit = (*store)->Commit();
  EXPECT_FALSE(commit.ok());
  EXPECT_NE(commit.message().find("batch of events 2..2 lost"), std::string::npos)
      << commit.ToString();
  EXPECT_EQ((*store)->committed_seq(), 1u);
  (void)(*store)->Close();
  auto reader = OpenEventStoreAtReadOnly(location);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->last_seq(), 1u);
}

// A server process that stops answering (SIGSTOP: up, its socket open, silent) must not freeze
// the caller: the call gives up after the connection's timeout, and the connection is abandoned
// so that the server ends the session, and frees its locks, once it runs again.
TEST_F(PostgresTest, ACallToAServerThatStoppedAnsweringTimesOutAndFreesTheSessionLater) {
  auto conn = pg::Connection::Open(server_->conninfo());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  const pg::Param lock[] = {pg::Param::Int64(777)};
  ASSERT_TRUE((*conn)->Exec("SELECT pg_advisory_lock($1::bigint)", lock, "lock").ok());
  (*conn)->set_timeout(Duration::Millis(300));
  const int backend = (*conn)->backend_pid();
  ASSERT_GT(backend, 0);
  ASSERT_EQ(::kill(backend, SIGSTOP), 0);
  const Status timed_out = (*conn)->Exec("SELECT 1", "ask a stopped server").status();
  ASSERT_EQ(::kill(backend, SIGCONT), 0);
  ASSERT_EQ(timed_out.code(), StatusCode::kDeadlineExceeded) << timed_out.ToString();
  EXPECT_NE(timed_out.message().find("ask a stopped server"), std::string::npos);
  EXPECT_FALSE((*conn)->healthy());
  // Abandoned: the next call fails at once instead of waiting again.
  const Status later = (*conn)->ExecScript("SELECT 1", "after the timeout");
  EXPECT_EQ(later.code(), StatusCode::kUnavailable) << later.ToString();
  // The server ended that session: another connection gets the lock.
  auto other = pg::Connection::Open(server_->conninfo());
  ASSERT_TRUE(other.ok());
  bool got = false;
  for (int attempt = 0; attempt < 100 && !got; ++attempt) {
    auto rows = (*other)->Exec("SELECT pg_try_advisory_lock($1::bigint)", lock, "try the lock");
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    auto taken = rows->Bool(0, 0);
    got = taken.ok() && *taken;
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(got) << "the abandoned session still holds its advisory lock";
}

// A COPY larger than the socket's buffers into a stopped server: the send itself must not block.
TEST_F(PostgresTest, ACopyIntoAServerThatStoppedReadingTimesOut) {
  auto conn = FreshDatabase("copy_stopped");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->ExecScript("CREATE TABLE blobs(b bytea)", "create").ok());
  pg::CopyWriter copy;
  const std::string blob(1 << 20, 'x');
  for (int row = 0; row < 64; ++row) {
    copy.BeginRow(1);
    copy.Bytes(blob);
  }
  conn->set_timeout(Duration::Millis(300));
  const int backend = conn->backend_pid();
  ASSERT_EQ(::kill(backend, SIGSTOP), 0);
  const auto stored =
      conn->CopyIn("COPY blobs(b) FROM STDIN (FORMAT binary)", copy.Finish(), "copy blobs");
  ASSERT_EQ(::kill(backend, SIGCONT), 0);
  ASSERT_EQ(stored.status().code(), StatusCode::kDeadlineExceeded) << stored.status().ToString();
  auto check = pg::Connection::Open(server_->conninfo("copy_stopped"));
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(Count(**check, "SELECT count(*)::bigint FROM blobs"), 0);
}

// A server killed and started again within the writer's retries (about 5 s): the commit waits
// for it and stores the batch, the writer goes on, and a reader whose server is gone gets the
// breaker's refusal at once rather than waiting out every retry again.
TEST(PostgresKillTest, AWriterRidesOutAServerRestartAndAReaderIsRefusedByTheBreakerMeanwhile) {
  auto server = test_servers::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string location =
      "postgresql://aits@127.0.0.1:" + std::to_string((*server)->port()) + "/postgres#restarted";
  auto store = OpenEventStoreAt(location);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int idx = 1; idx <= 300; ++idx) {
    ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{idx}, "tick").ok());
  }
  ASSERT_TRUE((*store)->Commit().ok());
  auto reader = OpenEventStoreAtReadOnly(location);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  for (int idx = 301; idx <= 700; ++idx) {
    ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{idx}, "tick").ok());
  }
  (*server)->Kill();
  // The reader's retries run out while the server is down; the breaker is then open. (The
  // killed postmaster's backends exit on their own a moment later: a first read may still get
  // an answer.)
  Status down = Status::Ok();
  for (int attempt = 0; attempt < 50 && down.ok(); ++attempt) {
    down = (*reader)->Scan(1, [](const Event&) { return Status::Ok(); });
    if (down.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(down.code(), StatusCode::kUnavailable) << down.ToString();
  const Status refused = (*reader)->Scan(1, [](const Event&) { return Status::Ok(); });
  EXPECT_NE(refused.message().find("circuit open"), std::string::npos) << refused.ToString();
  // The commit waits while the server restarts.
  Status commit;
  const Status restarted = (*server)->RestartWhile({[&] { commit = (*store)->Commit(); }});
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_TRUE(commit.ok()) << commit.ToString();
  ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{701}, "after").ok());
  ASSERT_TRUE((*store)->Close().ok());
  auto again = OpenEventStoreAtReadOnly(location);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  uint64_t expected = 1;
  ASSERT_TRUE((*again)
                  ->Scan(1,
                         [&](const Event& event) {
                           EXPECT_EQ(event.seq, expected);
                           ++expected;
                           return Status::Ok();
                         })
                  .ok());
  EXPECT_EQ(expected, 702u);
}

// A server of its own: killed with SIGKILL in the middle of a batch.
TEST(PostgresKillTest, AServerKilledMidBatchLosesThatBatchOnlyAndTheStoreReopensAfterRestart) {
  auto server = test_servers::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string location =
      "postgresql://aits@127.0.0.1:" + std::to_string((*server)->port()) + "/postgres#killed";
  auto store = OpenEventStoreAt(location);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int idx = 1; idx <= 500; ++idx) {
    ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{idx}, "committed").ok());
  }
  ASSERT_TRUE((*store)->Commit().ok());
  for (int idx = 501; idx <= 700; ++idx) {
    ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{idx}, "lost").ok());
  }
  (*server)->Kill();
  // Until the killed postmaster's backend notices, it may still commit the batch (seen 1 run in 8
  // on a loaded machine).
  ASSERT_TRUE((*server)->WaitForBackendsToExit(Duration::Seconds(30)).ok());
  const Status commit = (*store)->Commit();
  ASSERT_EQ(commit.code(), StatusCode::kUnavailable) << commit.ToString();
  EXPECT_NE(commit.message().find("batch of events 501..700 lost"), std::string::npos)
      << commit.ToString();
  // Every later write fails with the same reason; nothing pretends to be stored.
  EXPECT_EQ((*store)->Append(EventType::kTick, Timestamp{701}, "x").status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ((*store)->committed_seq(), 500u);
  (void)(*store)->Close();

  ASSERT_TRUE((*server)->Restart().ok());
  auto reopened = OpenEventStoreAt(location);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->last_seq(), 500u);
  uint64_t scanned = 0;
  ASSERT_TRUE((*reopened)
                  ->Scan(1,
                         [&](const Event& event) {
                           EXPECT_EQ(event.payload, "committed");
                           ++scanned;
                           return Status::Ok();
                         })
                  .ok());
  EXPECT_EQ(scanned, 500u);
}

// The writer's connection ends mid-batch (what a server restart or a network cut does to it):
// the next call reconnects, takes the writer's lock again and sends the whole batch again — the
// events already sent into the lost transaction and the command marked applied in it — so that
// the commit stores each once.
TEST_F(PostgresTest, AWriterWhoseConnectionEndsMidBatchSendsTheBatchAgainOnANewOne) {
  const std::string location = Location("reconnect");
  auto store = OpenEventStoreAt(location);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto admin = pg::Connection::Open(server_->conninfo());
  ASSERT_TRUE(admin.ok());
  auto terminate_writer = [&] {
    ASSERT_TRUE((*admin)
                    ->ExecScript("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE"
                                 " locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                                 " AND pid IN (SELECT pid FROM pg_stat_activity WHERE"
                                 " datname = 'postgres')",
                                 "end the writer's session")
                    .ok());
  };
  ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{1}, "one").ok());
  ASSERT_TRUE((*store)->Commit().ok());
  ASSERT_TRUE((*store)->AddCommand("{\"halt\":1}").ok());
  auto pending = (*store)->PendingCommands();
  ASSERT_TRUE(pending.ok() && pending->size() == 1u);
  for (int idx = 2; idx <= 40; ++idx) {
    ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{idx}, "batch").ok());
  }
  // The events so far go into the transaction (the writer reads its own batch), then it ends.
  uint64_t seen = 0;
  ASSERT_TRUE((*store)->Scan(1, [&](const Event&) { return ++seen, Status::Ok(); }).ok());
  EXPECT_EQ(seen, 40u);
  ASSERT_TRUE((*store)->MarkCommandApplied(pending->front().id, 40).ok());
  terminate_writer();
  for (int idx = 41; idx <= 60; ++idx) {
    ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{idx}, "batch").ok());
  }
  // Reading inside the batch on the new connection: the mark is there again.
  auto after = (*store)->PendingCommands();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->empty());
  terminate_writer();
  const Status commit = (*store)->Commit();
  ASSERT_TRUE(commit.ok()) << commit.ToString();
  EXPECT_EQ((*store)->committed_seq(), 60u);
  ASSERT_TRUE((*store)->Close().ok());

  auto reader = OpenEventStoreAtReadOnly(location);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  uint64_t expected = 1;
  ASSERT_TRUE((*reader)
                  ->Scan(1,
                         [&](const Event& event) {
                           EXPECT_EQ(event.seq, expected);
                           EXPECT_EQ(event.ts.ns, static_cast<int64_t>(expected));
                           ++expected;
                           return Status::Ok();
                         })
                  .ok());
  EXPECT_EQ(expected, 61u);
  auto left = (*reader)->PendingCommands();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << "the command's mark was lost with the first transaction";
}

// While the writer's connection is gone another writer takes the session: the first must not
// write over it, and stops instead of retrying for ever.
TEST_F(PostgresTest, AWriterThatLostTheSessionToAnotherStops) {
  const std::string location = Location("taken-over");
  auto store = OpenEventStoreAt(location);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{1}, "first").ok());
  ASSERT_TRUE((*store)->Commit().ok());
  ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{2}, "first's batch").ok());
  auto admin = pg::Connection::Open(server_->conninfo());
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)
                  ->ExecScript("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE"
                               " locktype = 'advisory' AND granted AND pid <> pg_backend_pid()",
                               "end the writer's session")
                  .ok());
  std::unique_ptr<EventStore> second;
  for (int attempt = 0; attempt < 100 && second == nullptr; ++attempt) {
    auto opened = OpenEventStoreAt(location);
    if (opened.ok()) {
      second = std::move(opened).value();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Append(EventType::kTick, Timestamp{2}, "second").ok());
  ASSERT_TRUE(second->Commit().ok());
  const Status commit = (*store)->Commit();
  EXPECT_FALSE(commit.ok());
  EXPECT_NE(commit.message().find("batch of events 2..2 lost"), std::string::npos)
      << commit.ToString();
  ASSERT_TRUE(second->Close().ok());
  (void)(*store)->Close();
  auto reader = OpenEventStoreAtReadOnly(location);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> payloads;
  ASSERT_TRUE((*reader)
                  ->Scan(1,
                         [&](const Event& event) {
                           payloads.push_back(event.payload);
                           return Status::Ok();
                         })
                  .ok());
  EXPECT_EQ(payloads, (std::vector<std::string>{"first", "second"}));
}

TEST_F(PostgresTest, AForgedRowIsDataLossAfterTheGoodRows) {
  const std::string session = "forged";
  {
    auto store = OpenEventStoreAt(Location(session));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int idx = 1; idx <= 5; ++idx) {
      ASSERT_TRUE((*store)->Append(EventType::kTick, Timestamp{idx}, "tick").ok());
    }
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto conn = pg::Connection::Open(server_->conninfo());
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)
                  ->ExecScript("UPDATE events SET payload = 'tock' WHERE session = 'forged'"
                               " AND seq = 4",
                               "forge")
                  .ok());
  auto reader = OpenEventStoreAtReadOnly(Location(session));
  ASSERT_TRUE(reader.ok());
  std::vector<uint64_t> seen;
  const Status status = (*reader)->Scan(1, [&](const Event& event) {
    seen.push_back(event.seq);
    return Status::Ok();
  });
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("#forged: event 4: checksum mismatch"), std::string::npos)
      << status.ToString();
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_TRUE(
      (*conn)->ExecScript("DELETE FROM events WHERE session = 'forged' AND seq = 2", "gap").ok());
  seen.clear();
  const Status gap = (*reader)->Scan(1, [&](const Event& event) {
    seen.push_back(event.seq);
    return Status::Ok();
  });
  EXPECT_NE(gap.message().find("event 2: missing (the next stored event is 3)"), std::string::npos)
      << gap.ToString();
  EXPECT_EQ(seen, (std::vector<uint64_t>{1}));
}

}  // namespace
}  // namespace aits::persistence
