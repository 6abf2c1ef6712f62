#include "aits/api/session_view.h"

#include <gtest/gtest.h>

#include "aits/api/session_routes.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"

namespace aits::api {
namespace {

using session::TempDir;

// One busy synthetic session, run once for the suite.
class SessionViewTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const Result<session::PaperResult> run =
        session::RunPaper(session::MaxSpeed(session::BusySpec(6000), dir_->Sub("s")));
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    result_ = new session::PaperResult(*run);
  }
  static void TearDownTestSuite() {
    delete result_;
    delete dir_;
  }
  static TempDir* dir_;
  static session::PaperResult* result_;
};
TempDir* SessionViewTest::dir_ = nullptr;
session::PaperResult* SessionViewTest::result_ = nullptr;

TEST_F(SessionViewTest, ProjectsTheLogAsTheSessionEndedIt) {
  ASSERT_GT(result_->fills, 3u);
  auto view = SessionView::Open(dir_->Sub("s")).value();
  ASSERT_TRUE(view->Poll().ok());
  EXPECT_EQ(view->last_seq(), result_->last_seq);
  const nlohmann::json summary = view->Summary();
  EXPECT_EQ(summary["id"], "test");
  EXPECT_EQ(summary["state"], "stopped");
  EXPECT_EQ(summary["symbols"], nlohmann::json::array({"EURUSD"}));
  const nlohmann::json account = view->Account();
  EXPECT_EQ(account["orders"], result_->orders);
  EXPECT_EQ(account["fills"], result_->fills);
  EXPECT_EQ(account["balance"], result_->account.balance.ToString());
  EXPECT_EQ(account["breaker"], result_->breaker);
  // Every order once, newest first, in pages that join up.
  ListQuery q;
  q.limit = 5;
  std::vector<uint64_t> ids;
  for (;;) {
    const nlohmann::json page = view->Orders(q, "");
    for (const auto& o : page["items"]) ids.push_back(o["id"]);
    if (!page.contains("next_before")) break;
    q.before = page["next_before"];
  }
  ASSERT_EQ(ids.size(), result_->orders);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], result_->orders - i);
  // An order made by a decision carries it, with its fills.
  const nlohmann::json first = view->Order(1).value();
  EXPECT_EQ(first["symbol"], "EURUSD");
  EXPECT_TRUE(first.contains("explanation"));
  EXPECT_EQ(first["explanation"]["order"]["id"], 1);
  EXPECT_EQ(first["status"], "filled");
  EXPECT_EQ(first["fills"].size(), 1u);
  EXPECT_EQ(view->Order(100000).status().code(), StatusCode::kNotFound);
  ListQuery all;
  all.limit = 1000;
  EXPECT_EQ(view->Trades(all)["items"].size(), result_->fills);
  EXPECT_EQ(view->Decisions(all)["items"].size(), result_->decisions);
  const uint64_t decision = first["decision"];
  EXPECT_EQ(view->Decision(decision).value()["decision"], decision);
  // Filters: a status, a symbol the session does not trade, a time range.
  const nlohmann::json filled = view->Orders(all, "filled");
  for (const auto& o : filled["items"]) EXPECT_EQ(o["status"], "filled");
  ListQuery other = all;
  other.symbol = "GBPUSD";
  EXPECT_TRUE(view->Trades(other)["items"].empty());
  ListQuery early = all;
  early.to = FromCivil(2024, 1, 8);
  EXPECT_TRUE(view->Trades(early)["items"].empty());
  // Market data: the last quote and M1 bars.
  EXPECT_EQ(view->Quotes()["items"].size(), 1u);
  const nlohmann::json bars = view->Bars("EURUSD", 10).value();
  EXPECT_EQ(bars["items"].size(), 10u);
  EXPECT_FALSE(view->Bars("XAUUSD", 10).ok());
}

TEST_F(SessionViewTest, ReadsOnlyWhatIsNewAndQueuesCommandsForTheSession) {
  auto view = SessionView::Open(dir_->Sub("s")).value();
  ASSERT_TRUE(view->Poll().ok());
  const uint64_t seen = view->last_seq();
  ASSERT_TRUE(view->Poll().ok());
  EXPECT_EQ(view->last_seq(), seen);
  ASSERT_TRUE(
      view->QueueCommand({{"command", "breaker"}, {"state", "halted"}, {"reason", "test"}}).ok());
  auto store = persistence::OpenEventStoreAtReadOnly(dir_->Sub("s/events.db")).value();
  const auto pending = store->PendingCommands().value();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_NE(pending[0].text.find("halted"), std::string::npos);
  EXPECT_EQ(SessionView::Open(dir_->Sub("nothing")).status().code(), StatusCode::kNotFound);
}

TEST(ListQueryTest, ParametersAreCheckedByName) {
  EXPECT_EQ(ParseListQuery({{"limit", "10"}, {"before", "7"}}).value().limit, 10u);
  EXPECT_FALSE(ParseListQuery({{"limit", "0"}}).ok());
  EXPECT_FALSE(ParseListQuery({{"limit", "1001"}}).ok());
  EXPECT_FALSE(ParseListQuery({{"limit", "ten"}}).ok());
  EXPECT_FALSE(ParseListQuery({{"before", "-1"}}).ok());
  const Status bad_time = ParseListQuery({{"from", "yesterday"}}).status();
  EXPECT_NE(bad_time.message().find("from \"yesterday\""), std::string::npos);
  EXPECT_EQ(ParseListQuery({{"from", "2024-01-08T10:00:00Z"}}).value().from,
            FromCivil(2024, 1, 8, 10));
}

}  // namespace
}  // namespace aits::api
