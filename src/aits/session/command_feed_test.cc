#include "aits/session/command_feed.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "aits/node/inbox.h"
#include "aits/persistence/command_wake.h"
#include "aits/persistence/event_store.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/session/session_test_util.h"
#include "aits/testing/servers.h"

namespace aits::session {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class CommandFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_);
    path_ = dir_ + "/events.db";
    auto writer = persistence::EventStore::Open(path_);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    writer_ = std::move(*writer);
  }
  void TearDown() override { writer_.reset(); }

  std::optional<node::OperatorCommand> Next(milliseconds timeout) {
    node::NodeEvent event;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (inbox_.WaitPop(event, deadline) == node::PopResult::kEvent) {
      auto* command = std::get_if<node::OperatorCommand>(&event);
      if (command != nullptr && !command->flush) return std::move(*command);
    }
    return std::nullopt;
  }

  TempDir tmp_;
  std::string dir_ = tmp_.Sub("feed");
  std::string path_;
  std::unique_ptr<persistence::EventStore> writer_;
  node::Inbox<node::NodeEvent> inbox_{64};
};

// With an hour between polls, only the wake can bring a command added while the session runs:
// the test would wait out its minute and fail without it.
TEST_F(CommandFeedTest, ACommandFromAnotherProcessArrivesAtOnceThroughTheWake) {
  auto tool = persistence::EventStore::OpenReadOnly(path_);  // what the API holds
  ASSERT_TRUE(tool.ok()) << tool.status().ToString();
  ASSERT_TRUE((*tool)->AddCommand(R"({"command":"pause"})").ok());  // queued before the start

  StoreCommandFeed feed(path_, std::chrono::hours(1));
  ASSERT_TRUE(feed.Start(node::ProducerLink(&inbox_, 1)).ok());
  EXPECT_TRUE(feed.wake_bound());
  EXPECT_TRUE(fs::is_socket(persistence::CommandWakePath(path_)));
  std::optional<node::OperatorCommand> first = Next(milliseconds(0));  // pushed by Start
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->text, R"({"command":"pause"})");
  EXPECT_GT(first->store_id, 0);

  for (const char* text : {R"({"command":"resume"})", R"({"command":"flatten"})"}) {
    ASSERT_TRUE((*tool)->AddCommand(text).ok());
    std::optional<node::OperatorCommand> command = Next(milliseconds(60'000));
    ASSERT_TRUE(command.has_value()) << text << " did not arrive";
    EXPECT_EQ(command->text, text);
  }
  feed.Stop();
  // Read once the feed's thread is joined: it counts a command after handing it over, so the
  // last one can be taken here before it is counted (a flake under load).
  EXPECT_GE(feed.wakes(), 1u);
  EXPECT_EQ(feed.pushed(), 3u);
  EXPECT_FALSE(fs::exists(persistence::CommandWakePath(path_)));  // removed at the stop
}

// A session waiting for the market holds the log's lock for its open batch. A command's writer
// that finds the lock taken wakes the session, whose feed, finding no new row, asks the node to
// commit (a flush); the insert then goes through and the command follows.
TEST_F(CommandFeedTest, AWriterWaitingForTheLockGetsTheBatchCommitted) {
  StoreCommandFeed feed(path_, std::chrono::hours(1));
  ASSERT_TRUE(feed.Start(node::ProducerLink(&inbox_, 1)).ok());
  ASSERT_TRUE(writer_->Append(persistence::EventType::kClock, Timestamp{1}, {}).ok());  // open

  auto tool = persistence::EventStore::OpenReadOnly(path_);
  ASSERT_TRUE(tool.ok()) << tool.status().ToString();
  std::promise<Status> added;
  std::thread adder([&] { added.set_value((*tool)->AddCommand(R"({"command":"pause"})")); });

  node::NodeEvent event;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(60'000);
  ASSERT_EQ(inbox_.WaitPop(event, deadline), node::PopResult::kEvent);
  auto* flush = std::get_if<node::OperatorCommand>(&event);
  ASSERT_NE(flush, nullptr);
  EXPECT_TRUE(flush->flush);
  EXPECT_TRUE(flush->text.empty());
  ASSERT_TRUE(writer_->Commit().ok());  // what the node does with it

  std::future<Status> result = added.get_future();
  EXPECT_TRUE(result.get().ok());
  adder.join();
  std::optional<node::OperatorCommand> command = Next(milliseconds(60'000));
  ASSERT_TRUE(command.has_value());
  EXPECT_FALSE(command->flush);
  EXPECT_EQ(command->text, R"({"command":"pause"})");
  EXPECT_GE(feed.flushes(), 1u);
  feed.Stop();
}

// A log whose directory is too deep for a socket address still gets its commands, by the poll.
TEST_F(CommandFeedTest, WithoutTheWakeTheFeedStillPolls) {
  const std::string deep = dir_ + "/" + std::string(100, 'd');
  fs::create_directories(deep);
  const std::string path = deep + "/events.db";
  auto writer = persistence::EventStore::Open(path);
  ASSERT_TRUE(writer.ok());
  StoreCommandFeed feed(path, milliseconds(20));
  ASSERT_TRUE(feed.Start(node::ProducerLink(&inbox_, 1)).ok());
  EXPECT_FALSE(feed.wake_bound());
  auto tool = persistence::EventStore::OpenReadOnly(path);
  ASSERT_TRUE(tool.ok());
  ASSERT_TRUE((*tool)->AddCommand(R"({"command":"pause"})").ok());
  std::optional<node::OperatorCommand> command = Next(milliseconds(60'000));
  ASSERT_TRUE(command.has_value());
  EXPECT_EQ(command->text, R"({"command":"pause"})");
  EXPECT_EQ(feed.wakes(), 0u);
  feed.Stop();
  tool->reset();
  (*writer).reset();
}

// On PostgreSQL the insert notifies the session by name: the session's feed is woken by its own
// commands and not by another session's on the same server.
TEST(CommandFeedPgTest, ACommandOnPostgresqlWakesItsSessionAndNoOther) {
  auto server = test_servers::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string base =
      "postgresql://aits@127.0.0.1:" + std::to_string((*server)->port()) + "/postgres#";
  auto mine = persistence::OpenEventStoreAt(base + "feed-1");
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  auto other = persistence::OpenEventStoreAt(base + "feed-2");
  ASSERT_TRUE(other.ok()) << other.status().ToString();

  node::Inbox<node::NodeEvent> inbox{64};
  StoreCommandFeed feed(base + "feed-1", std::chrono::hours(1));
  ASSERT_TRUE(feed.Start(node::ProducerLink(&inbox, 1)).ok());
  EXPECT_TRUE(feed.wake_bound());
  const auto next = [&inbox](milliseconds timeout) -> std::optional<node::OperatorCommand> {
    node::NodeEvent event;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (inbox.WaitPop(event, deadline) == node::PopResult::kEvent) {
      if (auto* command = std::get_if<node::OperatorCommand>(&event)) return std::move(*command);
    }
    return std::nullopt;
  };

  auto tool_other = persistence::OpenEventStoreAtReadOnly(base + "feed-2");
  ASSERT_TRUE(tool_other.ok()) << tool_other.status().ToString();
  ASSERT_TRUE((*tool_other)->AddCommand(R"({"command":"halt"})").ok());
  EXPECT_FALSE(next(milliseconds(300)).has_value());  // another session's: nothing to read
  EXPECT_EQ(feed.wakes(), 0u);

  auto tool = persistence::OpenEventStoreAtReadOnly(base + "feed-1");
  ASSERT_TRUE(tool.ok()) << tool.status().ToString();
  ASSERT_TRUE((*tool)->AddCommand(R"({"command":"pause"})").ok());
  std::optional<node::OperatorCommand> command = next(milliseconds(60'000));
  ASSERT_TRUE(command.has_value()) << "the notification did not wake the feed";
  EXPECT_EQ(command->text, R"({"command":"pause"})");
  EXPECT_EQ(feed.wakes(), 1u);
  feed.Stop();
}

}  // namespace
}  // namespace aits::session
