#include "aits/persistence/event_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "aits/persistence/command_wake.h"

// Counts C++ heap allocations while g_count_allocations is set, so that a test can check that
// Append does not allocate. (SQLite's own page cache uses malloc and is not counted.)
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<int64_t> g_allocations{0};
}  // namespace

// noinline: GCC otherwise inlines the pair into callers and warns that free() does not match
// operator new, which is exactly the pairing this replacement defines.
[[gnu::noinline]] void* operator new(size_t size) {
  if (g_count_allocations.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  return block;
}
[[gnu::noinline]] void operator delete(void* block) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete(void* block, size_t) noexcept { std::free(block); }

namespace aits::persistence {
namespace {

namespace fs = std::filesystem;

// A fresh directory under /tmp per test, removed afterwards.
class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/aits_event_store_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/events.db";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static std::unique_ptr<EventStore> MustOpen(const std::string& path,
                                              const EventStoreOptions& options = {}) {
    auto store = EventStore::Open(path, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static std::string PayloadFor(uint64_t index) {
    return "payload-" + std::to_string(index) + std::string(index % 17, 'x');
  }

  // Appends events 1..count (ts = 1000 * seq) and commits.
  void WriteEvents(int count) {
    auto store = MustOpen(path_);
    ASSERT_NE(store, nullptr);
    for (int idx = 1; idx <= count; ++idx) {
      auto seq = store->Append(EventType::kTick, Timestamp{1000 * idx}, PayloadFor(idx));
      ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    }
    ASSERT_TRUE(store->Close().ok());
  }

  // Runs SQL on the file through a raw connection: how the corruption tests forge damage.
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  struct ScanOutcome {
    std::vector<uint64_t> seqs;
    Status status;
  };
  static ScanOutcome ScanAll(const EventStore& store, uint64_t from_seq = 1) {
    ScanOutcome outcome;
    outcome.status = store.Scan(from_seq, [&](const Event& event) {
      outcome.seqs.push_back(event.seq);
      return Status::Ok();
    });
    return outcome;
  }

  // Events visible to a separate read-only connection (committed ones only).
  uint64_t CountFromOtherConnection() {
    auto reader = EventStore::OpenReadOnly(path_);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return 0;
    const ScanOutcome outcome = ScanAll(**reader);
    EXPECT_TRUE(outcome.status.ok()) << outcome.status.ToString();
    return outcome.seqs.size();
  }

  std::string dir_;
  std::string path_;
};

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> values;
  for (uint64_t value = first; value <= last; ++value) values.push_back(value);
  return values;
}

TEST(EventStoreOptionsTest, Validate) {
  EXPECT_TRUE(EventStoreOptions{}.Validate().ok());
  EventStoreOptions options;
  options.batch_events = 0;
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidArgument);
  options.batch_events = 1;
  options.batch_interval = Duration::Nanos(-1);
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidArgument);
  options.batch_interval = Duration::Nanos(0);
  EXPECT_TRUE(options.Validate().ok());
}

TEST(EventTypeTest, NamesAndKnownValues) {
  EXPECT_EQ(ToString(EventType::kTick), "tick");
  EXPECT_EQ(ToString(EventType::kOrderUpdate), "order_update");
  EXPECT_FALSE(IsKnownEventType(0));
  EXPECT_TRUE(IsKnownEventType(1));
  EXPECT_EQ(ToString(EventType::kClock), "clock");
  EXPECT_TRUE(IsKnownEventType(11));
  EXPECT_TRUE(IsKnownEventType(12));  // clock: timers fired between ticks (the event loop)
  EXPECT_EQ(ToString(EventType::kReconciliation), "reconciliation");
  EXPECT_TRUE(IsKnownEventType(13));  // reconciliation at start
  EXPECT_EQ(ToString(EventType::kExecutionReport), "execution_report");
  EXPECT_TRUE(IsKnownEventType(14));  // a venue's execution report, an input (asynchronous venue)
  EXPECT_EQ(ToString(EventType::kAccountReport), "account_report");
  EXPECT_TRUE(IsKnownEventType(15));  // a venue's account report, likewise
  EXPECT_EQ(ToString(EventType::kModelVerdict), "model_verdict");
  EXPECT_TRUE(IsKnownEventType(16));  // a watched model's verdict changed, an output
  EXPECT_EQ(ToString(EventType::kModelShadow), "model_shadow");
  EXPECT_TRUE(IsKnownEventType(17));  // a candidate's shadow trial ended, an output
  EXPECT_FALSE(IsKnownEventType(18));
}

TEST(EventChecksumTest, FixedValuesAndSensitivity) {
  // FNV-1a 64 of 18 zero bytes (seq 0, type 0, ts 0) and no payload: pinned so that a change of
  // the function (which would fail every stored log) cannot go unnoticed.
  uint64_t expected = 14695981039346656037ull;
  for (int idx = 0; idx < 18; ++idx) expected = (expected ^ 0) * 1099511628211ull;
  EXPECT_EQ(EventChecksum(0, 0, 0, ""), expected);
  const uint64_t base = EventChecksum(1, 2, 3, "abc");
  EXPECT_NE(base, EventChecksum(2, 2, 3, "abc"));
  EXPECT_NE(base, EventChecksum(1, 3, 3, "abc"));
  EXPECT_NE(base, EventChecksum(1, 2, 4, "abc"));
  EXPECT_NE(base, EventChecksum(1, 2, 3, "abd"));
}

TEST_F(EventStoreTest, AppendCommitReopenContinuesSeq) {
  {
    auto store = MustOpen(path_);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->last_seq(), 0u);
    EXPECT_EQ(store->path(), path_);
    for (uint64_t expected = 1; expected <= 5; ++expected) {
      auto seq = store->Append(EventType::kSignal, Timestamp{10}, "{}");
      ASSERT_TRUE(seq.ok());
      EXPECT_EQ(*seq, expected);
    }
    EXPECT_EQ(store->last_seq(), 5u);
    EXPECT_EQ(store->committed_seq(), 0u);
    ASSERT_TRUE(store->Commit().ok());
    EXPECT_EQ(store->committed_seq(), 5u);
    ASSERT_TRUE(store->Close().ok());
    // Closed: everything fails cleanly.
    EXPECT_EQ(store->Append(EventType::kTick, Timestamp{1}, "x").status().code(),
              StatusCode::kFailedPrecondition);
    EXPECT_EQ(store->Commit().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(store->Close().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(ScanAll(*store).status.code(), StatusCode::kFailedPrecondition);
  }
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 5u);
  EXPECT_EQ(store->committed_seq(), 5u);
  auto seq = store->Append(EventType::kTick, Timestamp{11}, "t");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 6u);
  ASSERT_TRUE(store->Close().ok());
  auto reader = EventStore::OpenReadOnly(path_);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->last_seq(), 6u);
  EXPECT_EQ(ScanAll(**reader).seqs, Range(1, 6));
}

TEST_F(EventStoreTest, AppendAndCommitDoNotAllocate) {
  EventStoreOptions options;
  options.batch_events = 64;
  auto store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  const std::string payload(39, 't');
  // Warm up: the first batch opens SQLite's caches.
  for (int idx = 0; idx < 100; ++idx) {
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{idx}, payload).ok());
  }
  ASSERT_TRUE(store->Commit().ok());

  int failures = 0;
  g_allocations = 0;
  g_count_allocations = true;
  for (int idx = 0; idx < 1000; ++idx) {
    if (!store->Append(EventType::kTick, Timestamp{idx}, payload).ok()) ++failures;
    if (!store->MaybeCommit().ok()) ++failures;
  }
  if (!store->Commit().ok()) ++failures;
  g_count_allocations = false;
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_EQ(store->committed_seq(), 1100u);
}

TEST_F(EventStoreTest, DestructorCommitsTheOpenBatch) {
  {
    auto store = MustOpen(path_);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{1}, "a").ok());
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{2}, "b").ok());
  }
  EXPECT_EQ(CountFromOtherConnection(), 2u);
}

TEST_F(EventStoreTest, ScanDeliversEveryFieldInOrderAndFromAnOffset) {
  const int64_t before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  const std::string binary("\0\x01\xff\x7f", 4);
  ASSERT_TRUE(store->Append(EventType::kSessionStart, Timestamp{-7}, "{\"a\":1}").ok());
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{100}, binary).ok());
  ASSERT_TRUE(store->Append(EventType::kFill, Timestamp{200}, "").ok());  // empty payload
  ASSERT_TRUE(store->Append(EventType::kAccount, Timestamp{300}, "acct").ok());
  ASSERT_TRUE(store->Commit().ok());
  const int64_t after = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();

  std::vector<Event> events;
  ASSERT_TRUE(store
                  ->Scan(0,
                         [&](const Event& event) {
                           events.push_back(event);
                           return Status::Ok();
                         })
                  .ok());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(events[0].type, EventType::kSessionStart);
  EXPECT_EQ(events[0].ts, Timestamp{-7});
  EXPECT_EQ(events[0].payload, "{\"a\":1}");
  EXPECT_EQ(events[1].type, EventType::kTick);
  EXPECT_EQ(events[1].payload, binary);
  EXPECT_EQ(events[2].type, EventType::kFill);
  EXPECT_EQ(events[2].payload, "");
  EXPECT_EQ(events[3].seq, 4u);
  for (const Event& event : events) {
    EXPECT_GE(event.wall.ns, before);
    EXPECT_LE(event.wall.ns, after);
  }

  EXPECT_EQ(ScanAll(*store, 3).seqs, Range(3, 4));
  EXPECT_TRUE(ScanAll(*store, 5).seqs.empty());
  EXPECT_TRUE(ScanAll(*store, 5).status.ok());

  // The callback's error stops the scan and is returned as is.
  int delivered = 0;
  const Status stopped = store->Scan(1, [&](const Event& event) {
    ++delivered;
    return event.seq == 2 ? OutOfRange("stop here") : Status::Ok();
  });
  EXPECT_EQ(delivered, 2);
  EXPECT_EQ(stopped.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(stopped.message(), "stop here");

  // A scan inside a scan works (the session may look back while replaying).
  int inner_rows = 0;
  ASSERT_TRUE(store
                  ->Scan(1,
                         [&](const Event&) {
                           inner_rows += static_cast<int>(ScanAll(*store, 1).seqs.size());
                           return Status::Ok();
                         })
                  .ok());
  EXPECT_EQ(inner_rows, 16);
}

TEST_F(EventStoreTest, ScanSeesTheWritersOwnOpenBatch) {
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{1}, "a").ok());
  EXPECT_EQ(ScanAll(*store).seqs, Range(1, 1));
  EXPECT_EQ(CountFromOtherConnection(), 0u);
}

TEST_F(EventStoreTest, BatchPolicyByCount) {
  EventStoreOptions options;
  options.batch_events = 3;
  options.batch_interval = Duration::Hours(1);
  auto store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  for (int idx = 1; idx <= 2; ++idx) {
    ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{idx}, "tick").ok());
    ASSERT_TRUE(store->MaybeCommit().ok());
    EXPECT_EQ(store->committed_seq(), 0u);
    EXPECT_EQ(CountFromOtherConnection(), 0u);
  }
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{3}, "tick").ok());
  EXPECT_EQ(CountFromOtherConnection(), 0u);  // the third append alone commits nothing
  ASSERT_TRUE(store->MaybeCommit().ok());
  EXPECT_EQ(store->committed_seq(), 3u);
  EXPECT_EQ(CountFromOtherConnection(), 3u);
  // MaybeCommit with nothing waiting is a no-op.
  ASSERT_TRUE(store->MaybeCommit().ok());
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{4}, "tick").ok());
  ASSERT_TRUE(store->MaybeCommit().ok());
  EXPECT_EQ(CountFromOtherConnection(), 3u);
}

TEST_F(EventStoreTest, BatchPolicyByInterval) {
  SimulatedClock clock;
  clock.AdvanceTo(Timestamp{1'000'000'000});
  EventStoreOptions options;
  options.batch_events = 1'000'000;
  options.batch_interval = Duration::Millis(200);
  options.batch_clock = &clock;
  auto store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{1}, "tick").ok());  // opens the batch
  ASSERT_TRUE(store->MaybeCommit().ok());
  EXPECT_EQ(store->committed_seq(), 0u);
  clock.AdvanceTo(Timestamp{1'199'999'999});
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{2}, "tick").ok());
  ASSERT_TRUE(store->MaybeCommit().ok());  // the oldest waiting append is 1 ns short of 200 ms
  EXPECT_EQ(store->committed_seq(), 0u);
  EXPECT_EQ(CountFromOtherConnection(), 0u);
  clock.AdvanceTo(Timestamp{1'200'000'000});
  ASSERT_TRUE(store->MaybeCommit().ok());  // and now exactly 200 ms old
  EXPECT_EQ(store->committed_seq(), 2u);
  EXPECT_EQ(CountFromOtherConnection(), 2u);
  // The next batch's age counts from its own first append, not from the last commit.
  clock.AdvanceTo(Timestamp{5'000'000'000});
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{3}, "tick").ok());
  clock.AdvanceTo(Timestamp{5'100'000'000});
  ASSERT_TRUE(store->MaybeCommit().ok());
  EXPECT_EQ(store->committed_seq(), 2u);

  // An interval of zero commits at every MaybeCommit.
  ASSERT_TRUE(store->Close().ok());
  options.batch_interval = Duration::Nanos(0);
  store = MustOpen(path_, options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{4}, "tick").ok());
  ASSERT_TRUE(store->MaybeCommit().ok());
  EXPECT_EQ(CountFromOtherConnection(), 4u);
}

// The child commits 100 events, appends 50 more and dies without committing them.
void RunCrashingChild(const std::string& path, bool sigkill) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = EventStore::Open(path);
    if (!store.ok()) ::_exit(10);
    for (int idx = 1; idx <= 150; ++idx) {
      if (!(*store)->Append(EventType::kTick, Timestamp{idx}, "tick payload").ok()) ::_exit(11);
      if (idx == 100 && !(*store)->Commit().ok()) ::_exit(12);
    }
    if (sigkill) ::raise(SIGKILL);
    ::_exit(0);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(pid, &wait_status, 0), pid);
  if (sigkill) {
    ASSERT_TRUE(WIFSIGNALED(wait_status));
    EXPECT_EQ(WTERMSIG(wait_status), SIGKILL);
  } else {
    ASSERT_TRUE(WIFEXITED(wait_status));
    EXPECT_EQ(WEXITSTATUS(wait_status), 0);
  }
}

TEST_F(EventStoreTest, UncommittedBatchIsLostWhenTheProcessExits) {
  RunCrashingChild(path_, /*sigkill=*/false);
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 100u);
  EXPECT_EQ(store->committed_seq(), 100u);
  const ScanOutcome outcome = ScanAll(*store);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.ToString();
  EXPECT_EQ(outcome.seqs, Range(1, 100));
  auto seq = store->Append(EventType::kTick, Timestamp{101}, "next");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 101u);
}

TEST_F(EventStoreTest, UncommittedBatchIsLostOnKill9) {
  RunCrashingChild(path_, /*sigkill=*/true);
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 100u);
  const ScanOutcome outcome = ScanAll(*store);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.ToString();
  EXPECT_EQ(outcome.seqs, Range(1, 100));
}

TEST_F(EventStoreTest, FlippedPayloadByteIsDetectedAfterTheGoodRows) {
  WriteEvents(10);
  // Flip the first byte ('p' -> 'q') of event 6 and keep its stored checksum.
  RawExec(
      "UPDATE events SET payload = CAST('q' || substr(CAST(payload AS TEXT), 2) AS BLOB) "
      "WHERE seq = 6");
  for (bool read_only : {false, true}) {
    auto store = read_only ? EventStore::OpenReadOnly(path_) : EventStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const ScanOutcome outcome = ScanAll(**store);
    EXPECT_EQ(outcome.seqs, Range(1, 5));
    EXPECT_EQ(outcome.status.code(), StatusCode::kDataLoss);
    EXPECT_EQ(outcome.status.message().rfind(path_ + ": event 6: checksum mismatch", 0), 0u)
        << outcome.status.message();
  }
}

TEST_F(EventStoreTest, DamagedLastRowStillOpensForAppend) {
  WriteEvents(5);
  RawExec("UPDATE events SET ts = ts + 1 WHERE seq = 5");
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 5u);  // recovery decides what to do with it
  const ScanOutcome outcome = ScanAll(*store);
  EXPECT_EQ(outcome.seqs, Range(1, 4));
  EXPECT_NE(outcome.status.message().find("event 5: checksum mismatch"), std::string::npos);
}

TEST_F(EventStoreTest, DeletedRowIsAGap) {
  WriteEvents(8);
  RawExec("DELETE FROM events WHERE seq = 4");
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  ScanOutcome outcome = ScanAll(*store);
  EXPECT_EQ(outcome.seqs, Range(1, 3));
  EXPECT_EQ(outcome.status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(outcome.status.message(), path_ + ": event 4: missing (the next stored event is 5)");
  // Scanning from the missing seq itself also reports it rather than starting at 5.
  outcome = ScanAll(*store, 4);
  EXPECT_TRUE(outcome.seqs.empty());
  EXPECT_EQ(outcome.status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(ScanAll(*store, 5).seqs, Range(5, 8));
}

TEST_F(EventStoreTest, UnknownTypeAndWrongColumnTypeAreDataLoss) {
  WriteEvents(4);
  RawExec("UPDATE events SET type = 99 WHERE seq = 2");
  RawExec("UPDATE events SET ts = 'text' WHERE seq = 3");
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  ScanOutcome outcome = ScanAll(*store);
  EXPECT_EQ(outcome.seqs, Range(1, 1));
  EXPECT_EQ(outcome.status.message(), path_ + ": event 2: unknown type 99");
  outcome = ScanAll(*store, 3);
  EXPECT_TRUE(outcome.seqs.empty());
  EXPECT_EQ(outcome.status.message(), path_ + ": event 3: column ts has the wrong type");
}

TEST_F(EventStoreTest, TruncatedDatabaseFileGivesAClearError) {
  {
    auto store = MustOpen(path_);
    ASSERT_NE(store, nullptr);
    const std::string payload(200, 'p');
    for (int idx = 1; idx <= 5000; ++idx) {
      ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{idx}, payload).ok());
    }
    ASSERT_TRUE(store->Close().ok());
  }
  const std::string copy = dir_ + "/truncated.db";
  fs::copy_file(path_, copy);
  const auto size = fs::file_size(copy);
  ASSERT_GT(size, 100'000u);
  fs::resize_file(copy, size / 2);

  for (bool read_only : {false, true}) {
    auto store = read_only ? EventStore::OpenReadOnly(copy) : EventStore::Open(copy);
    Status status = store.status();
    if (store.ok()) status = ScanAll(**store).status;
    ASSERT_FALSE(status.ok()) << "a file cut in half read back without an error";
    EXPECT_EQ(status.code(), StatusCode::kDataLoss) << status.ToString();
    EXPECT_NE(status.message().find(copy), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("malformed"), std::string::npos) << status.message();
  }
}

TEST_F(EventStoreTest, NonSqliteFileIsRefused) {
  {
    std::ofstream out(path_);
    for (int idx = 0; idx < 200; ++idx) out << "time,bid,ask\n2012-02-01,1.3,1.4\n";
  }
  auto store = EventStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find(path_), std::string::npos);
  EXPECT_NE(store.status().message().find("file is not a database"), std::string::npos)
      << store.status().message();
  auto reader = EventStore::OpenReadOnly(path_);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find(path_), std::string::npos);
}

TEST_F(EventStoreTest, OtherApplicationsDatabaseIsRefusedAndLeftAlone) {
  RawExec(
      "CREATE TABLE trades(id INTEGER PRIMARY KEY, symbol TEXT); INSERT INTO trades "
      "VALUES(1, 'EURUSD')");
  auto store = EventStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().message().rfind(path_ + " is not an AITS event store", 0), 0u)
      << store.status().message();
  EXPECT_FALSE(EventStore::OpenReadOnly(path_).ok());

  // Nothing was written to it: no tables added, journal mode not switched to WAL.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "delete");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(EventStoreTest, WrongMarkerOrSchemaVersionIsRefused) {
  WriteEvents(1);
  RawExec("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
  auto store = EventStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("schema_version \"2\""), std::string::npos)
      << store.status().message();
  RawExec("UPDATE meta SET value = 'other' WHERE key = 'application'");
  store = EventStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("is not an AITS event store"), std::string::npos);
}

TEST_F(EventStoreTest, MissingOrUnopenablePaths) {
  auto reader = EventStore::OpenReadOnly(dir_ + "/missing.db");
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  auto store = EventStore::Open(dir_ + "/no/such/dir/events.db");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/no/such/dir/events.db"), std::string::npos);
  EventStoreOptions bad;
  bad.batch_events = 0;
  EXPECT_EQ(EventStore::Open(path_, bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EventStoreTest, ReadOnlyStoreRefusesWrites) {
  WriteEvents(3);
  auto reader = EventStore::OpenReadOnly(path_);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->last_seq(), 3u);
  auto seq = (*reader)->Append(EventType::kTick, Timestamp{1}, "x");
  ASSERT_FALSE(seq.ok());
  EXPECT_EQ(seq.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*reader)->MarkCommandApplied(1, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*reader)->Commit().ok());  // nothing to commit
  EXPECT_TRUE((*reader)->Close().ok());
  EXPECT_EQ(CountFromOtherConnection(), 3u);
}

TEST_F(EventStoreTest, CommandsAcrossTwoConnections) {
  auto writer = MustOpen(path_);
  ASSERT_NE(writer, nullptr);
  auto tool = EventStore::OpenReadOnly(path_);  // what `aits breaker` holds
  ASSERT_TRUE(tool.ok()) << tool.status().ToString();

  ASSERT_TRUE((*tool)->AddCommand("{\"cmd\":\"halt\"}").ok());
  ASSERT_TRUE((*tool)->AddCommand("{\"cmd\":\"resume\"}").ok());
  auto pending = writer->PendingCommands();
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].text, "{\"cmd\":\"halt\"}");
  EXPECT_EQ((*pending)[1].text, "{\"cmd\":\"resume\"}");
  EXPECT_LT((*pending)[0].id, (*pending)[1].id);
  EXPECT_GT((*pending)[0].created.ns, 0);

  // Applied inside the writer's batch: invisible to the tool until the batch commits.
  auto seq = writer->Append(EventType::kCommand, Timestamp{5}, (*pending)[0].text);
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(writer->MarkCommandApplied((*pending)[0].id, *seq).ok());
  EXPECT_EQ(writer->PendingCommands()->size(), 1u);
  EXPECT_EQ((*tool)->PendingCommands()->size(), 2u);
  ASSERT_TRUE(writer->Commit().ok());
  auto after = (*tool)->PendingCommands();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].text, "{\"cmd\":\"resume\"}");

  // Applying twice, or an unknown id, is an error.
  EXPECT_EQ(writer->MarkCommandApplied((*pending)[0].id, 9).code(), StatusCode::kNotFound);
  EXPECT_EQ(writer->MarkCommandApplied(12345, 9).code(), StatusCode::kNotFound);
}

// A command added from another process wakes a session bound to the log's wake socket, after
// its row has committed (the session then reads it at once, not at its next poll).
TEST_F(EventStoreTest, AddCommandWakesTheSessionAfterTheRowCommits) {
  auto writer = MustOpen(path_);
  ASSERT_NE(writer, nullptr);
  const std::string wake_path = CommandWakePath(path_);
  EXPECT_EQ(wake_path, dir_ + "/commands.wake");
  auto bound = CommandWakeSocket::Bind(wake_path);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(bound->Drain(), 0);

  auto tool = EventStore::OpenReadOnly(path_);
  ASSERT_TRUE(tool.ok()) << tool.status().ToString();
  ASSERT_TRUE((*tool)->AddCommand("{\"cmd\":\"halt\"}").ok());
  ASSERT_TRUE((*tool)->AddCommand("{\"cmd\":\"resume\"}").ok());
  EXPECT_EQ(bound->Drain(), 2);
  EXPECT_EQ(writer->PendingCommands()->size(), 2u);  // committed before the wake

  // No session bound: the command is still stored, nobody is woken.
  *bound = CommandWakeSocket();
  EXPECT_FALSE(fs::exists(wake_path));
  ASSERT_TRUE((*tool)->AddCommand("{\"cmd\":\"flatten\"}").ok());
  EXPECT_EQ(writer->PendingCommands()->size(), 3u);
}

TEST(CommandWakeTest, BindRefusesWhatItCannotUseAndReplacesAStaleSocket) {
  char pattern[] = "/tmp/aits_wake_XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  EXPECT_EQ(CommandWakePath("postgresql://127.0.0.1:5432/aits#s1"), "");
  EXPECT_EQ(CommandWakePath("events.db"), "commands.wake");

  // Longer than sun_path: refused by name, and a wake to it is simply not sent.
  const std::string long_path = dir + "/" + std::string(120, 'x');
  auto too_long = CommandWakeSocket::Bind(long_path);
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("too long"), std::string::npos);
  EXPECT_FALSE(SendCommandWake(long_path));

  // A regular file in the way is not replaced.
  const std::string path = dir + "/commands.wake";
  std::ofstream(path) << "not a socket";
  auto blocked = CommandWakeSocket::Bind(path);
  EXPECT_EQ(blocked.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::is_regular_file(path));
  fs::remove(path);

  // A socket left by a session that died (bound, closed, never unlinked) is replaced.
  {
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    ::close(fd);
  }
  ASSERT_TRUE(fs::is_socket(path));
  EXPECT_FALSE(SendCommandWake(path));  // a socket file with nobody bound
  auto second = CommandWakeSocket::Bind(path);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(SendCommandWake(path));
  EXPECT_EQ(second->Drain(), 1);
  *second = CommandWakeSocket();
  fs::remove_all(dir);
}

TEST_F(EventStoreTest, AddCommandWaitsForTheWritersBatch) {
  auto writer = MustOpen(path_);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append(EventType::kTick, Timestamp{1}, "tick").ok());  // holds the lock
  // The writer commits when, and only when, the tool is waiting for its lock.
  std::promise<void> waiting;
  std::future<void> tool_waits = waiting.get_future();
  int busy_calls = 0;
  EventStoreOptions tool_options;
  tool_options.on_busy = [&](int attempt) {
    if (busy_calls++ == 0) waiting.set_value();
    EXPECT_EQ(attempt, busy_calls - 1);
  };
  auto tool = EventStore::OpenReadOnly(path_, tool_options);
  ASSERT_TRUE(tool.ok());
  Status added = Internal("not run");
  std::thread adder([&] { added = (*tool)->AddCommand("{\"cmd\":\"flatten\"}"); });
  tool_waits.wait();
  ASSERT_TRUE(writer->Commit().ok());
  adder.join();
  EXPECT_TRUE(added.ok()) << added.ToString();
  EXPECT_GE(busy_calls, 1);
  auto pending = writer->PendingCommands();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].text, "{\"cmd\":\"flatten\"}");
}

// A session whose events stream holds the write lock for each whole batch and frees it only
// between a commit and its next append: a command still gets in, between two batches (it must
// take the write lock before it reads, or each commit it waited for makes its snapshot stale).
TEST_F(EventStoreTest, AddCommandGetsInBetweenTheBatchesOfABusyWriter) {
  auto writer = MustOpen(path_);
  ASSERT_NE(writer, nullptr);
  std::atomic<bool> done{false};
  std::thread stream([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done.load() && std::chrono::steady_clock::now() < deadline) {
      for (int idx = 0; idx < 500; ++idx) {  // ~100 ms of a batch holding the lock
        ASSERT_TRUE(writer->Append(EventType::kTick, Timestamp{1}, "tick").ok());
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      ASSERT_TRUE(writer->Commit().ok());
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // the gap
    }
  });
  auto tool = EventStore::OpenReadOnly(path_);
  ASSERT_TRUE(tool.ok());
  const Status added = (*tool)->AddCommand("{\"command\":\"pause\"}");
  done.store(true);
  stream.join();
  EXPECT_TRUE(added.ok()) << added.ToString();
  ASSERT_TRUE(writer->Commit().ok());
  auto pending = writer->PendingCommands();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 1u);
}

TEST_F(EventStoreTest, WritersOwnCommandJoinsItsBatch) {
  auto writer = MustOpen(path_);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->AddCommand("{\"cmd\":\"a\"}").ok());  // no batch open: committed at once
  ASSERT_TRUE(writer->Append(EventType::kTick, Timestamp{1}, "tick").ok());
  ASSERT_TRUE(writer->AddCommand("{\"cmd\":\"b\"}").ok());  // lands in the open batch
  auto reader = EventStore::OpenReadOnly(path_);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->PendingCommands()->size(), 1u);
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ((*reader)->PendingCommands()->size(), 2u);
}

TEST_F(EventStoreTest, SecondWriterContinuesAfterTheFirst) {
  // Two handles in one process serialise through SQLite's lock: the second continues from the
  // committed tail it saw at Open.
  WriteEvents(2);
  auto store = MustOpen(path_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_seq(), 2u);
  ASSERT_TRUE(store->Append(EventType::kTick, Timestamp{3}, "c").ok());
  ASSERT_TRUE(store->Close().ok());
  EXPECT_EQ(CountFromOtherConnection(), 3u);
}

}  // namespace
}  // namespace aits::persistence
