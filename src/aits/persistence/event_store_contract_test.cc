// The EventStore contract (event_store.h), run against both stores: a SQLite file and a session
// on a real PostgreSQL server started for this binary. Both are opened by location
// (OpenEventStoreAt), as the session opens them. What only one store has (SQLite's file damage,
// PostgreSQL's migrations, server kills and the writer's lock) is tested beside it:
// event_store_test.cc and postgres_test.cc.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "aits/core/clock.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/testing/servers.h"
#include "aits/testing/shared_postgres_test_util.h"

namespace aits::persistence {

// One PostgreSQL server for the whole binary; postgres_test.cc uses it too.
test_servers::PostgresServer* SharedPostgres();

namespace {

const auto* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new test_servers::SharedPostgresEnvironment);

}  // namespace

test_servers::PostgresServer* SharedPostgres() {
  return test_servers::SharedPostgresEnvironment::server();
}

namespace {

enum class Backend { kSqlite, kPostgres };

std::string Name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

class EventStoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_NE(SharedPostgres(), nullptr) << "PostgreSQL did not start (see above)";
    auto dir = test_servers::TempDir::Make("aits-event-store-contract");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::make_unique<test_servers::TempDir>(std::move(dir).value());
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    // Test names hold '/' (the parameter): a session name may not.
    std::string id = std::string(test->test_suite_name()) + "." + test->name();
    for (char& c : id) {
      if (c == '/') c = '.';
    }
    location_ = GetParam() == Backend::kSqlite
                    ? dir_->path() + "/events.db"
                    : "postgresql://aits@127.0.0.1:" + std::to_string(SharedPostgres()->port()) +
                          "/postgres#" + id;
  }

  std::unique_ptr<EventStore> MustOpen(const EventStoreOptions& options = {}) const {
    auto store = OpenEventStoreAt(location_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  struct ScanOutcome {
    std::vector<Event> events;
    Status status;
  };
  static ScanOutcome ScanAll(const EventStore& store, uint64_t from_seq = 1) {
    ScanOutcome outcome;
    outcome.status = store.Scan(from_seq, [&](const Event& event) {
      outcome.events.push_back(event);
      return Status::Ok();
    });
    return outcome;
  }

  // Events another connection sees: the committed ones.
  size_t CommittedSeenByAReader() const {
    auto reader = OpenEventStoreAtReadOnly(location_);
    if (!reader.ok()) return 0;
    const ScanOutcome outcome = ScanAll(**reader);
    EXPECT_TRUE(outcome.status.ok()) << outcome.status.ToString();
    return outcome.events.size();
  }

  std::unique_ptr<test_servers::TempDir> dir_;
  std::string location_;
};

INSTANTIATE_TEST_SUITE_P(Stores, EventStoreContractTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), Name);

// Abandon: what was appended since the last commit is gone, as if the process had died, and
// the next writer continues after the committed events.
TEST_P(EventStoreContractTest, AbandonDropsTheOpenBatchAndCloses) {
  {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{1}, "kept").ok());
    ASSERT_TRUE(store->Commit().ok());
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{2}, "dropped").ok());
    ASSERT_TRUE(store->Append(EventType::kDecision, Timestamp{2}, "dropped too").ok());
    ASSERT_TRUE(store->Abandon().ok());
    EXPECT_EQ(store->last_seq(), 1u);
    EXPECT_EQ(store->Append(EventType::kTick, Timestamp{3}, "x").status().code(),
              StatusCode::kFailedPrecondition);
    EXPECT_EQ(store->Abandon().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(CommittedSeenByAReader(), 1u);
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 1u);
  auto seq = store->Append(EventType::kTick, Timestamp{2}, "again");
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ(*seq, 2u);
  // With nothing open, Abandon only closes.
  ASSERT_TRUE(store->Commit().ok());
  ASSERT_TRUE(store->Abandon().ok());
  EXPECT_EQ(CommittedSeenByAReader(), 2u);
}

TEST_P(EventStoreContractTest, AppendCommitReopenContinuesSeqWithEveryField) {
  // Binary payloads with zero bytes, an empty one, a large one.
  const std::vector<std::string> payloads = {std::string("a\0b\xff", 4), "",
                                             std::string(300'000, 'p')};
  {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->last_seq(), 0u);
    for (size_t idx = 0; idx < payloads.size(); ++idx) {
      auto seq = store->Append(EventType::kFill, Timestamp{int64_t(idx) * 1000 - 5}, payloads[idx]);
      ASSERT_TRUE(seq.ok()) << seq.status().ToString();
      EXPECT_EQ(*seq, idx + 1);
    }
    EXPECT_EQ(store->committed_seq(), 0u);
    ASSERT_TRUE(store->Close().ok());
    EXPECT_EQ(store->Append(EventType::kTick, Timestamp{1}, "x").status().code(),
              StatusCode::kFailedPrecondition);
  }
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 3u);
  EXPECT_EQ(store->committed_seq(), 3u);
  auto seq = store->Append(EventType::kClock, Timestamp{9}, "next");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 4u);
  const ScanOutcome all = ScanAll(*store);
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  ASSERT_EQ(all.events.size(), 4u);
  for (size_t idx = 0; idx < payloads.size(); ++idx) {
    EXPECT_EQ(all.events[idx].seq, idx + 1);
    EXPECT_EQ(all.events[idx].type, EventType::kFill);
    EXPECT_EQ(all.events[idx].ts.ns, int64_t(idx) * 1000 - 5);
    EXPECT_GT(all.events[idx].wall.ns, 0);
    EXPECT_EQ(all.events[idx].payload, payloads[idx]);
  }
  EXPECT_EQ(all.events[3].type, EventType::kClock);
  const ScanOutcome tail = ScanAll(*store, 3);
  ASSERT_EQ(tail.events.size(), 2u);
  EXPECT_EQ(tail.events[0].seq, 3u);
}

TEST_P(EventStoreContractTest, ManyEventsScanInOrderAcrossChunks) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  for (int idx = 1; idx <= 10'000; ++idx) {
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{idx}, std::to_string(idx)).ok());
  }
  ASSERT_TRUE(store->Commit().ok());
  uint64_t expected = 1;
  // A Scan inside a Scan: the session's recovery reads while it reads.
  const Status status = store->Scan(1, [&](const Event& event) {
    EXPECT_EQ(event.seq, expected);
    EXPECT_EQ(event.payload, std::to_string(expected));
    if (event.seq == 5000) {
      const ScanOutcome inner = ScanAll(*store, 9999);
      EXPECT_EQ(inner.events.size(), 2u);
    }
    ++expected;
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(expected, 10'001u);
  // A failing callback stops the scan with its status.
  int seen = 0;
  const Status stopped = store->Scan(
      1, [&](const Event&) { return ++seen == 3 ? OutOfRange("enough") : Status::Ok(); });
  EXPECT_EQ(stopped.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(seen, 3);
}

TEST_P(EventStoreContractTest, ScanSeesTheWritersOwnOpenBatchAndReadersOnlyCommits) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{1}, "one").ok());
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{2}, "two").ok());
  EXPECT_EQ(ScanAll(*store).events.size(), 2u);
  EXPECT_EQ(CommittedSeenByAReader(), 0u);
  // Appends after the writer's scan still land in the same batch.
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{3}, "three").ok());
  EXPECT_EQ(ScanAll(*store).events.size(), 3u);
  ASSERT_TRUE(store->Commit().ok());
  EXPECT_EQ(store->committed_seq(), 3u);
  EXPECT_EQ(CommittedSeenByAReader(), 3u);
}

TEST_P(EventStoreContractTest, BatchPolicyByCountAndByInterval) {
  SimulatedClock clock;
  clock.AdvanceTo(Timestamp{1'000'000'000});
  EventStoreOptions options;
  options.batch_events = 3;
  options.batch_interval = Duration::Millis(200);
  options.batch_clock = &clock;
  auto store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  for (int idx = 1; idx <= 2; ++idx) {
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{idx}, "t").ok());
    ASSERT_TRUE(store->MaybeCommit().ok());
  }
  EXPECT_EQ(store->committed_seq(), 0u);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{3}, "t").ok());
  ASSERT_TRUE(store->MaybeCommit().ok());  // three waiting
  EXPECT_EQ(store->committed_seq(), 3u);
  EXPECT_EQ(CommittedSeenByAReader(), 3u);

  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{4}, "t").ok());
  clock.AdvanceTo(Timestamp{1'199'999'999});
  ASSERT_TRUE(store->MaybeCommit().ok());  // 1 ns short of 200 ms
  EXPECT_EQ(store->committed_seq(), 3u);
  clock.AdvanceTo(Timestamp{1'200'000'000});
  ASSERT_TRUE(store->MaybeCommit().ok());
  EXPECT_EQ(store->committed_seq(), 4u);
  EXPECT_EQ(CommittedSeenByAReader(), 4u);
}

// The commit observer (a session's metrics) hears every commit of an open batch, by Commit and by
// MaybeCommit, with its outcome; not a commit with nothing open, and not Close's.
TEST_P(EventStoreContractTest, TheCommitObserverHearsEachBatchCommitted) {
  std::vector<Status> heard;
  EventStoreOptions options;
  options.batch_events = 2;
  options.on_commit = [&heard](int64_t nanos, const Status& status) {
    EXPECT_GE(nanos, 0);
    heard.push_back(status);
  };
  auto store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Commit().ok());  // nothing open
  EXPECT_TRUE(heard.empty());
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{1}, "t").ok());
  ASSERT_TRUE(store->Commit().ok());
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_TRUE(heard[0].ok());
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{2}, "t").ok());
  ASSERT_TRUE(store->MaybeCommit().ok());  // one waiting: not yet
  EXPECT_EQ(heard.size(), 1u);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{3}, "t").ok());
  ASSERT_TRUE(store->MaybeCommit().ok());
  EXPECT_EQ(heard.size(), 2u);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{4}, "t").ok());
  ASSERT_TRUE(store->Close().ok());
  EXPECT_EQ(heard.size(), 2u);
  EXPECT_EQ(CommittedSeenByAReader(), 4u);
}

// The child commits 100 events, appends 50 more and is killed with SIGKILL.
TEST_P(EventStoreContractTest, UncommittedBatchIsLostOnKill9AndTheNextWriterContinues) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = OpenEventStoreAt(location_);
    if (!store.ok()) ::_exit(10);
    for (int idx = 1; idx <= 150; ++idx) {
      if (!(*store)->Append(EventType::kTick, Timestamp{idx}, "tick").ok()) ::_exit(11);
      if (idx == 100 && !(*store)->Commit().ok()) ::_exit(12);
    }
    ::raise(SIGKILL);
    ::_exit(13);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(pid, &wait_status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exited with " << WEXITSTATUS(wait_status);
  // The killed writer's lock (PostgreSQL) goes with its connection; the server may take a moment
  // to see the connection closed.
  std::unique_ptr<EventStore> store;
  for (int attempt = 0; attempt < 100 && store == nullptr; ++attempt) {
    auto opened = OpenEventStoreAt(location_);
    if (opened.ok()) {
      store = std::move(opened).value();
    } else {
      ASSERT_EQ(opened.status().code(), StatusCode::kFailedPrecondition)
          << opened.status().ToString();
      ::usleep(20'000);
    }
  }
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 100u);
  EXPECT_EQ(ScanAll(*store).events.size(), 100u);
  auto seq = store->Append(EventType::kTick, Timestamp{101}, "next");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 101u);
}

TEST_P(EventStoreContractTest, CommandsFromAReaderReachTheWriter) {
  auto writer = MustOpen();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append(EventType::kTick, Timestamp{1}, "t").ok());
  ASSERT_TRUE(writer->Commit().ok());
  {
    auto reader = OpenEventStoreAtReadOnly(location_);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_TRUE((*reader)->AddCommand(R"({"command":"pause"})").ok());
    ASSERT_TRUE((*reader)->AddCommand(R"({"command":"resume"})").ok());
  }
  auto pending = writer->PendingCommands();
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].text, R"({"command":"pause"})");
  EXPECT_LT((*pending)[0].id, (*pending)[1].id);
  EXPECT_GT((*pending)[0].created.ns, 0);

  ASSERT_TRUE(writer->Append(EventType::kCommand, Timestamp{2}, "pause").ok());
  ASSERT_TRUE(writer->MarkCommandApplied((*pending)[0].id, 2).ok());
  EXPECT_EQ(writer->MarkCommandApplied((*pending)[0].id, 2).code(), StatusCode::kNotFound);
  EXPECT_EQ(writer->MarkCommandApplied(987654, 2).code(), StatusCode::kNotFound);
  ASSERT_TRUE(writer->Commit().ok());
  pending = writer->PendingCommands();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].text, R"({"command":"resume"})");
  // The writer's own command.
  ASSERT_TRUE(writer->AddCommand(R"({"command":"flatten"})").ok());
  ASSERT_TRUE(writer->Commit().ok());
  pending = writer->PendingCommands();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 2u);
}

TEST_P(EventStoreContractTest, ReadOnlyStoreRefusesWritesAndAMissingOneIsNotFound) {
  auto missing = OpenEventStoreAtReadOnly(location_);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  {
    auto writer = MustOpen();
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->Append(EventType::kTick, Timestamp{1}, "t").ok());
    ASSERT_TRUE(writer->Close().ok());
  }
  auto reader = OpenEventStoreAtReadOnly(location_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->last_seq(), 1u);
  EXPECT_EQ((*reader)->Append(EventType::kTick, Timestamp{2}, "t").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ((*reader)->MarkCommandApplied(1, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*reader)->Commit().ok());
  EXPECT_TRUE((*reader)->Close().ok());
  EXPECT_EQ((*reader)->Close().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace aits::persistence
