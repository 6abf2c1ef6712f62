#include "aits/notify/telegram_bot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aits/api/model_routes.h"
#include "aits/core/clock.h"
#include "aits/ml/registry.h"
#include "aits/models/serialize.h"
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

  void StartBot(TelegramBotOptions options = {}, SessionSource source = {},
                api::ModelCatalog* models = nullptr) {
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
                                    trades_.get(), models, &registry_);
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

  // A model registry in the test's directory, its times from `models_clock_`.
  ml::ModelRegistry OpenModels() {
    auto registry = ml::ModelRegistry::Open(tmp_.Sub("models"));
    EXPECT_TRUE(registry.ok()) << registry.status().message();
    registry->SetClock(&models_clock_);
    models_clock_.AdvanceTo(FromCivil(2024, 3, 1, 12, 0));
    return std::move(registry).value();
  }

  static ml::ModelMetadata Model(const std::string& name, double auc) {
    ml::ModelMetadata m;
    m.name = name;
    m.kind = "xgboost";
    m.feature_set_version = "v3";
    m.feature_set_hash = "fs-hash-a";
    m.train_begin = FromCivil(2012, 1, 2);
    m.train_end = FromCivil(2012, 6, 29, 23, 59);
    m.metrics = {{"validation", {{"auc", auc}, {"log_loss", 0.69}}}, {"baseline", {{"auc", 0.5}}}};
    m.data_source = "GBPUSD_M1.csv";
    return m;
  }

  void StartBotWithModels(ml::ModelRegistry registry) {
    catalog_ = std::make_unique<api::ModelCatalog>(std::move(registry));
    StartBot({}, {}, catalog_.get());
  }

  static int64_t RegisterOrDie(ml::ModelRegistry& registry, const ml::ModelMetadata& m) {
    auto record = registry.Register(m, ml::WrapModel("xgboost", "payload of " + m.name));
    EXPECT_TRUE(record.ok()) << record.status().message();
    return record.ok() ? record->id : 0;
  }

  // Audit lines of the bot's file (after Stop, so that every line is written).
  std::vector<nlohmann::json> AuditLines() {
    std::ifstream in(tmp_.Sub("audit.jsonl"));
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
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
  SimulatedClock models_clock_;                 // before catalog_, whose registry borrows it
  std::unique_ptr<api::ModelCatalog> catalog_;  // before bot_, which borrows it
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

// A shadow record as ml::ToJson(ShadowRecord) writes it (the fields the bot reads).
nlohmann::json ShadowRecordJson(const std::string& state, int calls, double accuracy,
                                double production_accuracy) {
  return {{"state", state},
          {"bars", 900},
          {"calls", calls},
          {"accuracy", accuracy},
          {"production", {{"accuracy", production_accuracy}, {"calls", calls}}}};
}

// A trader watching models that keep learning: each model's lineage, validation, shadow trial and
// the registry's last word on it, and one model's whole audited life.
TEST_F(TelegramBotTest, ModelsShowLineageShadowTrialsAndTheRegistrysEvents) {
  ml::ModelRegistry registry = OpenModels();
  const int64_t first = RegisterOrDie(registry, Model("gbpusd_m1", 0.55));
  ASSERT_TRUE(registry.Promote(first, ml::PromotionGate{.threshold = 0.52}).ok());
  ml::ModelMetadata member = Model("gbpusd_m1", 0.53);
  member.parent = "gbpusd_ens@1";
  const int64_t second = RegisterOrDie(registry, member);
  models_clock_.AdvanceTo(FromCivil(2024, 3, 8));
  ASSERT_TRUE(registry.RecordShadow(second, ShadowRecordJson("complete", 240, 0.54, 0.51)).ok());
  const ml::PromotionGate shadow_gate{
      .record = "shadow", .min_calls = 200, .metric = "accuracy", .threshold = 0.5};
  auto promoted = registry.Promote(second, shadow_gate);
  ASSERT_TRUE(promoted.ok() && promoted->passed) << promoted.status().message();
  const int64_t third = RegisterOrDie(registry, Model("gbpusd_m1", 0.45));
  auto rejected = registry.Promote(third, ml::PromotionGate{});
  ASSERT_TRUE(rejected.ok() && !rejected->passed);
  const std::vector<std::string> second_events = registry.Events(second).value();
  const std::vector<std::string> third_events = registry.Events(third).value();
  ASSERT_EQ(second_events.size(), 3u);  // register, shadow, promote
  StartBotWithModels(std::move(registry));

  const std::string list = Ask(kVera, "/models");
  EXPECT_EQ(list.rfind("Models, newest first:\ngbpusd_m1@3 rejected (#3, xgboost)\n", 0), 0u)
      << list;
  EXPECT_NE(list.find("\n  last " + third_events.back()), std::string::npos) << list;
  EXPECT_NE(list.find("\ngbpusd_m1@2 production (#2, xgboost), parent gbpusd_ens@1\n"
                      "  validation auc 0.53, log_loss 0.69\n"
                      "  shadow complete trial over 900 bars, 240 calls: accuracy 0.54 against "
                      "production's 0.51\n"
                      "  last " +
                      second_events.back()),
            std::string::npos)
      << list;
  EXPECT_NE(list.find("\ngbpusd_m1@1 archived (#1, xgboost)\n  validation auc 0.55"),
            std::string::npos)
      << list;
  EXPECT_LT(list.find("gbpusd_m1@3"), list.find("gbpusd_m1@2"));  // newest first
  EXPECT_EQ(list.find("gbpusd_m1@1 archived (#1, xgboost)\n  shadow"), std::string::npos);

  std::string detail =
      "Model #2 gbpusd_m1@2 (xgboost): production\n"
      "parent gbpusd_ens@1\n"
      "trained on 2012-01-02T00:00:00Z to 2012-06-29T23:59:00Z, features v3\n"
      "validation auc 0.53, log_loss 0.69\n"
      "baseline auc 0.5\n"
      "shadow complete trial over 900 bars, 240 calls: accuracy 0.54 against production's 0.51\n"
      "Events, oldest first:";
  for (const std::string& event : second_events) detail += "\n" + event;
  EXPECT_EQ(Ask(kVera, "/models gbpusd_m1@2"), detail);
  EXPECT_EQ(Ask(kVera, "/models #2"), detail);
  EXPECT_EQ(Ask(kVera, "/models gbpusd_m1"), detail);  // the production model of the name
  EXPECT_EQ(second_events[1].find("2024-03-08T00:00:00Z shadow: complete trial"), 0u);
  EXPECT_NE(second_events[2].find(" promote: "), std::string::npos) << second_events[2];

  const std::string usage =
      "/models [REF]: REF is NAME, NAME@VERSION or #ID, e.g. /models gbpusd_m1@3; not '";
  EXPECT_EQ(Ask(kVera, "/models gbpusd_m1@9"), "No model gbpusd_m1@9 in the registry.");
  EXPECT_EQ(Ask(kVera, "/models #99"), "No model #99 in the registry.");
  EXPECT_EQ(Ask(kVera, "/models ;DROP"), usage + ";DROP'.");
  EXPECT_EQ(Ask(kVera, "/models x@"), usage + "x@'.");  // the registry's own check
  EXPECT_EQ(Ask(kVera, "/models a b"), usage + "a b'.");
  EXPECT_NE(Ask(kVera, "/help").find("/models REF"), std::string::npos);

  bot_->Stop();
  std::vector<std::string> results;
  for (const nlohmann::json& line : AuditLines()) {
    results.push_back(line["command"].get<std::string>() + " " + line["result"].get<std::string>());
  }
  EXPECT_EQ(results,
            (std::vector<std::string>{"/models ok", "/models gbpusd_m1@2 ok", "/models #2 ok",
                                      "/models gbpusd_m1 ok", "/models gbpusd_m1@9 not_found",
                                      "/models #99 not_found", "/models ;DROP invalid",
                                      "/models x@ invalid", "/models a b invalid", "/help ok"}));
}

// Many models, or one with a long life: the answer fits one Telegram message and says what it
// left out.
TEST_F(TelegramBotTest, ModelsKeepToOneMessageAndSayWhatTheyCut) {
  ml::ModelRegistry registry = OpenModels();
  for (int k = 0; k < 60; ++k)
    RegisterOrDie(registry, Model("gbpusd_m1_candidate", 0.5 + k / 1000.0));
  const int64_t busy = RegisterOrDie(registry, Model("eurusd_m1", 0.56));
  for (int k = 0; k < 80; ++k) {
    models_clock_.AdvanceTo(FromCivil(2024, 3, 2) + Duration::Seconds(60 * k));
    ASSERT_TRUE(registry.RecordShadow(busy, ShadowRecordJson("running", 3 * k, 0.5, 0.5)).ok());
  }
  const std::vector<std::string> events = registry.Events(busy).value();
  StartBotWithModels(std::move(registry));

  const std::string list = Ask(kVera, "/models");
  EXPECT_LE(list.size(), kTelegramMaxText);
  EXPECT_EQ(list.rfind("Models, newest first:\neurusd_m1@1 candidate (#61, xgboost)\n", 0), 0u)
      << list.substr(0, 200);
  EXPECT_NE(list.find("\n  last " + events.back()), std::string::npos);
  const size_t cut = list.rfind("\n… ");
  ASSERT_NE(cut, std::string::npos) << list;
  EXPECT_NE(
      list.find(" older model(s) not shown (Telegram's message limit); /models REF for one.", cut),
      std::string::npos)
      << list.substr(cut);
  // Every model is shown or counted: the shown ones are the newest.
  size_t shown = 0;
  for (size_t at = list.find(" candidate (#"); at != std::string::npos;
       at = list.find(" candidate (#", at + 1)) {
    ++shown;
  }
  EXPECT_NE(list.find("\n… " + std::to_string(61 - shown) + " older"), std::string::npos) << shown;
  EXPECT_NE(list.find("gbpusd_m1_candidate@60 "), std::string::npos);
  EXPECT_EQ(list.find("gbpusd_m1_candidate@1 "), std::string::npos);

  const std::string detail = Ask(kVera, "/models eurusd_m1");
  EXPECT_LE(detail.size(), kTelegramMaxText);
  EXPECT_EQ(detail.substr(detail.size() - events.back().size()), events.back());
  const size_t older = detail.find("\n(");
  ASSERT_NE(older, std::string::npos) << detail;
  EXPECT_NE(
      detail.find(" older event(s) not shown; `aits models --events #61` prints them all)", older),
      std::string::npos);
  // The newest events that fit, oldest first, none repeated and none skipped.
  const size_t listed = static_cast<size_t>(
      std::count(detail.begin() + static_cast<std::ptrdiff_t>(older) + 1, detail.end(), '\n'));
  EXPECT_NE(detail.find("\n(" + std::to_string(events.size() - listed) + " older"),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find(events[events.size() - listed] + "\n"), std::string::npos);
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
