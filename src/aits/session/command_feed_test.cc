#include "aits/session/command_feed.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "aits/node/inbox.h"
#include "aits/persistence/command_wake.h"
#include "aits/persistence/event_store.h"

namespace aits::session {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class CommandFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/aits_feed_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/events.db";
    auto writer = persistence::EventStore::Open(path_);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    writer_ = std::move(*writer);
  }
  void TearDown() override {
    writer_.reset();
    fs::remove_all(dir_);
  }

  std::optional<node::OperatorCommand> Next(milliseconds timeout) {
    node::NodeEvent event;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (inbox_.WaitPop(event, deadline) == node::PopResult::kEvent) {
      if (auto* command = std::get_if<node::OperatorCommand>(&event)) return std::move(*command);
    }
    return std::nullopt;
  }

  std::string dir_;
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
  EXPECT_GE(feed.wakes(), 1u);
  EXPECT_EQ(feed.pushed(), 3u);

  feed.Stop();
  EXPECT_FALSE(fs::exists(persistence::CommandWakePath(path_)));  // removed at the stop
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

}  // namespace
}  // namespace aits::session
