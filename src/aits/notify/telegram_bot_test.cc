#include "aits/notify/telegram_bot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aits/notify/telegram_stand_in.h"
#include "aits/persistence/event_store.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"

namespace aits::notify {
namespace {

const TelegramUser kVera{201, "vera", "Vera"};   // viewer
const TelegramUser kTom{202, "tom", "Tom"};      // trader
const TelegramUser kAnna{203, "anna", "Anna"};   // admin
const TelegramUser kMallory{666, "mal", "Mal"};  // not listed
constexpr int64_t kChat = 7001;

// A paper session that traded, its closed trades in a trade store, and a bot over both talking
// to the stand-in.
class TelegramBotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = tmp_.Sub("s");
    auto trades = persistence::OpenTradeStore(tmp_.Sub("trades.db"));
    ASSERT_TRUE(trades.ok()) << trades.status().message();
    trades_ = std::move(trades).value();
    session::PaperOptions options = session::MaxSpeed(session::BusySpec(20'000), state_);
    options.on_trades = [this](const session::SessionSpec& spec, int64_t first,
                               std::span<const portfolio::TradeRecord> records) -> Status {
      std::vector<persistence::StoredTrade> rows;
      for (size_t k = 0; k < records.size(); ++k) {
        rows.push_back({spec.session_id, first + static_cast<int64_t>(k), "EURUSD", records[k]});
      }
      return trades_->Write(rows).status();
    };
    auto run = session::RunPaper(options);
    ASSERT_TRUE(run.ok()) << run.status().message();
    result_ = *run;
    auto view = api::SessionView::Open(state_);
    ASSERT_TRUE(view.ok()) << view.status().message();
    view_ = std::move(view).value();
    ASSERT_TRUE(view_->Poll().ok());
    auto stand_in = TelegramStandIn::Start("42:token");
    ASSERT_TRUE(stand_in.ok());
    stand_in_ = std::move(stand_in).value();
  }

  void StartBot(TelegramBotOptions options = {}, SessionSource source = {}) {
    options.users = {
        {kVera.id, "vera", "viewer"}, {kTom.id, "tom", "trader"}, {kAnna.id, "anna", "admin"}};
    options.alert_chats = {kChat};
    options.poll_wait_s = 1;
    options.chat_interval = std::chrono::milliseconds(0);
    options.audit_file = tmp_.Sub("audit.jsonl");
    TelegramOptions client;
    client.base_url = stand_in_->base_url();
    client.token = "42:token";
    if (!source) source = [this]() -> Result<api::SessionView*> { return view_.get(); };
    auto made = TelegramBot::Create(TelegramClient::Create(client).value(), options, source,
                                    trades_.get(), nullptr, &registry_);
    ASSERT_TRUE(made.ok()) << made.status().message();
    bot_ = std::move(made).value();
    bot_->Start();
  }

  // What the bot answers `user` to `text`: the next message it sends.
  std::string Ask(const TelegramUser& user, const std::string& text) {
    const size_t before = stand_in_->sent().size();
    stand_in_->SendText(user, kChat, text);
    EXPECT_TRUE(stand_in_->WaitForSent(before + 1, std::chrono::seconds(10))) << text;
    const auto sent = stand_in_->sent();
    return sent.size() > before ? sent[before].text : std::string();
  }

  std::vector<std::string> PendingCommands() {
    auto store = persistence::EventStore::OpenReadOnly(state_ + "/events.db");
    EXPECT_TRUE(store.ok());
    std::vector<std::string> out;
    auto pending = (*store)->PendingCommands();
    EXPECT_TRUE(pending.ok());
    for (const auto& command : *pending) out.push_back(command.text);
    return out;
  }

  session::TempDir tmp_;
  std::string state_;
  session::PaperResult result_;
  std::unique_ptr<persistence::TradeStore> trades_;
  std::unique_ptr<api::SessionView> view_;
  std::unique_ptr<TelegramStandIn> stand_in_;
  Registry registry_;
  std::unique_ptr<TelegramBot> bot_;
};

TEST_F(TelegramBotTest, AViewerReadsTheSessionButCannotTrade) {
  StartBot();
  const std::string status = Ask(kVera, "/status");
  EXPECT_NE(status.find("Session test"), std::string::npos) << status;
  EXPECT_NE(status.find("breaker normal"), std::string::npos) << status;
  EXPECT_NE(Ask(kVera, "/balance").find("Balance " + result_.account.balance.ToString()),
            std::string::npos);
  // Closed trades from the trade store: their count and net P&L.
  auto page = trades_->Read(persistence::TradeQuery{});
  ASSERT_TRUE(page.ok());
  Money net;
  for (const auto& t : page->trades) net += t.trade.net_pnl;
  ASSERT_FALSE(page->trades.empty());
  const std::string profit = Ask(kVera, "/profit");
  EXPECT_NE(profit.find(std::to_string(page->trades.size()) + " closed trade(s)"),
            std::string::npos)
      << profit;
  EXPECT_NE(profit.find("net P&L " + net.ToString()), std::string::npos) << profit;
  EXPECT_NE(Ask(kVera, "/performance").find("EURUSD: " + net.ToString()), std::string::npos);
  // The synthetic market traded in January 2024: nothing in the last seven days.
  EXPECT_EQ(Ask(kVera, "/daily"), "No trade closed in the last 7 days.");
  const std::string explained = Ask(kVera, "/explain 1");
  EXPECT_NE(explained.find("Order #1 EURUSD"), std::string::npos) << explained;
  EXPECT_EQ(Ask(kVera, "/explain 99999999"), "No order 99999999 in this session.");
  EXPECT_EQ(Ask(kVera, "/explain x"), "/explain ORDER_ID: the order's number, e.g. /explain 12.");
  EXPECT_EQ(Ask(kVera, "/models"), "No model registry: start the role with --registry.");
  EXPECT_EQ(Ask(kVera, "/breaker"), "Breaker: normal");

  const std::string help = Ask(kVera, "/help");
  EXPECT_NE(help.find("/status"), std::string::npos);
  EXPECT_EQ(help.find("/pause"), std::string::npos) << help;
  EXPECT_EQ(Ask(kVera, "/pause"), "/pause needs the trader or admin role; you are viewer.");
  EXPECT_EQ(Ask(kVera, "/breaker halted"),
            "/breaker STATE needs the trader or admin role; you are viewer.");
  EXPECT_EQ(Ask(kVera, "/flatten"), "/flatten needs the trader or admin role; you are viewer.");
  EXPECT_TRUE(PendingCommands().empty());
  EXPECT_EQ(Ask(kVera, "/frobnicate"), "Unknown command /frobnicate. /help lists the commands.");
  EXPECT_EQ(Ask(kVera, "/status now"), "/status takes no arguments.");
}

TEST_F(TelegramBotTest, ATradersCommandsReachTheSessionsLogAndFlattenAsksFirst) {
  StartBot();
  EXPECT_EQ(Ask(kTom, "/pause"), "Paused: the breaker goes to reduce_only (no new exposure).");
  EXPECT_EQ(Ask(kTom, "/breaker maybe"),
            "/breaker STATE [REASON]: STATE is normal, reduce_only or halted, not 'maybe'.");
  EXPECT_NE(Ask(kAnna, "/breaker halted news at 14:30").find("queued"), std::string::npos);
  std::vector<std::string> pending = PendingCommands();
  ASSERT_EQ(pending.size(), 2u);
  auto pause = nlohmann::json::parse(pending[0]);
  EXPECT_EQ(pause["command"], "pause");
  EXPECT_EQ(pause["by"], "telegram:tom");
  auto breaker = nlohmann::json::parse(pending[1]);
  EXPECT_EQ(breaker["state"], "halted");
  EXPECT_EQ(breaker["reason"], "telegram: news at 14:30");
  EXPECT_EQ(breaker["by"], "telegram:anna");

  // /flatten: a question with two buttons; nothing queued until its asker confirms.
  const std::string question = Ask(kTom, "/flatten");
  EXPECT_NE(question.find("Flatten: close every position"), std::string::npos);
  const auto asked = stand_in_->sent().back();
  ASSERT_EQ(asked.keyboard.size(), 1u);
  const std::string confirm = asked.keyboard[0][0].callback_data;
  const std::string cancel = asked.keyboard[0][1].callback_data;
  const auto press = [&](const TelegramUser& who, const std::string& data) {
    const size_t answers = stand_in_->answered_callbacks().size();
    stand_in_->PressButton(who, kChat, asked.message_id, data);
    for (int k = 0; k < 1000 && stand_in_->answered_callbacks().size() == answers; ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return stand_in_->answered_callbacks().back();
  };
  EXPECT_EQ(press(kAnna, confirm), "Only the user who asked may confirm.");
  EXPECT_EQ(PendingCommands().size(), 2u);
  EXPECT_EQ(press(kTom, confirm), "Flatten queued by tom: every position closes at market.");
  pending = PendingCommands();
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(pending[2])["command"], "flatten");
  // The question's text now says what became of it, and its buttons are gone.
  EXPECT_TRUE(stand_in_->sent().back().edited);
  EXPECT_EQ(stand_in_->sent().back().message_id, asked.message_id);
  EXPECT_EQ(stand_in_->sent().back().text,
            "Flatten queued by tom: every position closes at market.");
  // Pressed again (or the cancel after it): the confirmation is used up.
  EXPECT_EQ(press(kTom, cancel), "This confirmation has expired; send the command again.");
  EXPECT_EQ(PendingCommands().size(), 3u);
}

TEST_F(TelegramBotTest, StrangersAreRefusedAndEveryCommandIsAudited) {
  StartBot();
  EXPECT_EQ(Ask(kMallory, "/flatten"), "You are not authorised to use this bot (user id 666).");
  EXPECT_EQ(Ask(kMallory, "/status"), "You are not authorised to use this bot (user id 666).");
  stand_in_->PressButton(kMallory, kChat, 1, "flatten:1");
  for (int k = 0; k < 1000 && stand_in_->answered_callbacks().empty(); ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(stand_in_->answered_callbacks().back(), "You are not authorised to use this bot.");
  EXPECT_TRUE(PendingCommands().empty());
  Ask(kTom, "/resume");
  bot_->Stop();
  EXPECT_EQ(bot_->stats().unauthorised, 2u);
  std::ifstream in(tmp_.Sub("audit.jsonl"));
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["user_id"], 666);
  EXPECT_EQ(lines[0]["result"], "unauthorised");
  EXPECT_EQ(lines[2]["command"], "button flatten:1");
  EXPECT_EQ(lines[3]["username"], "tom");
  EXPECT_EQ(lines[3]["role"], "trader");
  EXPECT_EQ(lines[3]["command"], "/resume");
  EXPECT_EQ(lines[3]["result"], "ok");
  EXPECT_EQ(lines[3]["chat_id"], kChat);
}

// Alerts go to the alert chats; a 429 is waited out for its retry_after and the alert sent.
TEST_F(TelegramBotTest, AlertsReachTheAlertChatsAfterTelegramsRetryAfter) {
  stand_in_->SendText(kAnna, kChat, "hello");  // the chat exists
  StartBot();
  ASSERT_TRUE(stand_in_->WaitForSent(1, std::chrono::seconds(10)));  // the answer to "hello"
  stand_in_->RefuseSends(1, 1);
  Alert alert;
  alert.status = "firing";
  alert.labels = {{"alertname", "AitsBreakerHalted"}, {"severity", "critical"}};
  alert.annotations = {{"summary", "Trading halted on p:9464"}};
  bot_->QueueAlert({alert, "2026-12-07T05:00:00Z"});
  ASSERT_TRUE(stand_in_->WaitForSent(2, std::chrono::seconds(10)));
  const std::string text = stand_in_->sent()[1].text;
  EXPECT_NE(text.find("FIRING AitsBreakerHalted (critical)\nTrading halted on p:9464"),
            std::string::npos)
      << text;
  EXPECT_EQ(stand_in_->refused_sends(), 1u);
  bot_->Stop();
  EXPECT_EQ(bot_->stats().retries, 1u);
  EXPECT_EQ(bot_->stats().send_failures, 0u);
}

// Started before its session: the bot says so, and answers once the session is there.
TEST_F(TelegramBotTest, ASessionNotThereYetIsSaidAndFoundLater) {
  std::atomic<bool> there{false};  // the test's thread sets it, the poll thread reads it
  StartBot({}, [&]() -> Result<api::SessionView*> {
    if (!there) return NotFound("session " + state_ + ": no event log yet");
    return view_.get();
  });
  EXPECT_EQ(Ask(kVera, "/status"),
            "No session to answer about yet: session " + state_ + ": no event log yet");
  EXPECT_NE(Ask(kVera, "/help").find("/status"), std::string::npos);
  there = true;
  EXPECT_NE(Ask(kVera, "/status").find("Session test"), std::string::npos);
}

TEST(TelegramBotConfigTest, LoadsUsersAndRefusesMistakesNamingThem) {
  session::TempDir tmp;
  const auto load = [&](const std::string& text) {
    std::ofstream(tmp.Sub("bot.yaml")) << text;
    return LoadTelegramBotConfig(tmp.Sub("bot.yaml"));
  };
  auto good = load(
      "users:\n  - {id: 1, name: a, role: admin}\n  - {id: 2, role: viewer}\n"
      "alert_chats: [1]\n");
  ASSERT_TRUE(good.ok()) << good.status().message();
  ASSERT_EQ(good->users.size(), 2u);
  EXPECT_EQ(good->users[1].name, "2");
  EXPECT_EQ(good->alert_chats, std::vector<int64_t>{1});
  const auto refused = [&](const std::string& text, const std::string& expected) {
    auto loaded = load(text);
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_NE(loaded.status().message().find(expected), std::string::npos)
        << loaded.status().message();
  };
  refused("users:\n  - {id: 1, role: boss}\n", "users[0].role: 'boss' is not viewer");
  refused("users:\n  - {id: 1, role: admin}\n  - {id: 1, role: viewer}\n",
          "users[1].id: 1 is listed twice");
  refused("users:\n  - {role: admin}\n", "users[0].id: missing");
  refused("users:\n  - {id: 1, role: admin, chat: 3}\n", "unknown key 'chat'");
  refused("admins: []\n", "unknown key 'admins'");
  refused("users: [\n", "bot.yaml: line");
  EXPECT_EQ(LoadTelegramBotConfig(tmp.Sub("missing.yaml")).status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace aits::notify
