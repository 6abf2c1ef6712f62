// The alerts the API shows: Alertmanager's webhook through the request path (roles, audit),
// each change once on the stream's alerts topic, numbered beside the log's seqs, and
// GET /api/v1/alerts.
#include "aits/api/alert_routes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

namespace aits::api {
namespace {

const Timestamp kStart = FromCivil(2026, 12, 7, 9);

// One alert of a webhook body.
nlohmann::json AlertOf(const std::string& name, const std::string& status,
                       const std::string& fingerprint) {
  return {{"status", status},
          {"labels", {{"alertname", name}, {"severity", "critical"}}},
          {"annotations", {{"summary", name + " on x"}}},
          {"startsAt", "2026-12-07T09:00:00Z"},
          {"endsAt", status == "firing" ? "0001-01-01T00:00:00Z" : "2026-12-07T09:05:00Z"},
          {"fingerprint", fingerprint}};
}

std::string Webhook(const std::vector<nlohmann::json>& alerts) {
  return nlohmann::json{{"version", "4"},
                        {"status", "firing"},
                        {"receiver", "aits-api"},
                        {"groupKey", "{}:{alertname=\"x\"}"},
                        {"alerts", alerts}}
      .dump();
}

class AlertRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/aits_alerts_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db";
    std::remove(path_.c_str());
    store_ = AuthStore::Open(path_, SecretBox::FromText(SecretBox::NewKeyText(), "t").value(),
                             PasswordCost::kMinimal)
                 .value();
    ASSERT_TRUE(store_->AddUser("vera", Role::kViewer, "vera-pw", kStart).ok());
    ASSERT_TRUE(store_->EnsureSigningKey(kStart).ok());
    auto [key, secret] = store_->CreateApiKey("alertmanager", Role::kNotifier, kStart).value();
    notifier_key_ = secret;
    auto [trader, trader_secret] = store_->CreateApiKey("bot", Role::kTrader, kStart).value();
    trader_key_ = trader_secret;
    ASSERT_TRUE(store_->AddUser("ada", Role::kAdmin, "ada-pw", kStart).ok());
    auto [viewer, viewer_secret] = store_->CreateApiKey("watcher", Role::kViewer, kStart).value();
    viewer_key_ = viewer_secret;
    clock_.AdvanceTo(kStart);
    service_ =
        std::make_unique<ApiService>(*store_, store_->LoadKeyRing().value(), clock_, ApiOptions{});
    board_ = AlertBoard::Create(&hub_).value();
    AddAlertRoutes(*service_, *board_);
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::remove(path_.c_str());
  }

  HttpResponse Call(const std::string& method, const std::string& target, const std::string& key,
                    std::string body = {}) {
    HttpRequest r;
    r.method = method;
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (!key.empty()) r.headers.emplace_back("x-api-key", key);
    r.headers.emplace_back("content-type", "application/json");
    r.body = std::move(body);
    r.client = "127.0.0.1";
    return service_->Handle(r);
  }
  HttpResponse Post(const std::vector<nlohmann::json>& alerts, const std::string& key = {}) {
    return Call("POST", "/api/v1/alerts/alertmanager", key.empty() ? notifier_key_ : key,
                Webhook(alerts));
  }

  std::string path_;
  std::unique_ptr<AuthStore> store_;
  SimulatedClock clock_;
  StreamHub hub_;
  std::unique_ptr<AlertBoard> board_;
  std::unique_ptr<ApiService> service_;
  std::string notifier_key_;
  std::string trader_key_;
  std::string viewer_key_;
};

TEST_F(AlertRoutesTest, EachChangeReachesTheStreamOnceNumberedBesideTheLog) {
  std::vector<nlohmann::json> got;
  StreamHub::Filter filter;
  filter.topics = kTopicAlerts | kTopicRisk;
  filter.symbols = {"EURUSD"};  // alerts carry no symbol: they pass every symbol filter
  hub_.Subscribe(filter, 0, [&got](const StreamHub::Message& m) {
    got.push_back(nlohmann::json::parse(*m.text));
    return true;
  });
  hub_.Publish(41, kTopicRisk, "", {{"breaker_change", "halted"}});

  const HttpResponse first = Post({AlertOf("AitsBreakerHalted", "firing", "f1")});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(nlohmann::json::parse(first.body),
            (nlohmann::json{{"alerts", 1}, {"delivered", 1}, {"repeated", 0}}));
  // Alertmanager sends the group again at each group_interval: counted, not published again.
  const HttpResponse again = Post(
      {AlertOf("AitsBreakerHalted", "firing", "f1"), AlertOf("AitsFeedStale", "firing", "f2")});
  EXPECT_EQ(nlohmann::json::parse(again.body),
            (nlohmann::json{{"alerts", 2}, {"delivered", 1}, {"repeated", 1}}));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1]["topic"], "alerts");
  // The newest seq published: a client's seqs never go down, and a resume from 41 brings it.
  EXPECT_EQ(got[1]["seq"], 41);
  EXPECT_EQ(got[1]["id"], "f1/firing/2026-12-07T09:00:00Z");
  EXPECT_FALSE(got[1].contains("symbol"));
  EXPECT_EQ(got[1]["data"]["alertname"], "AitsBreakerHalted");
  EXPECT_EQ(got[1]["data"]["severity"], "critical");
  EXPECT_EQ(got[1]["data"]["summary"], "AitsBreakerHalted on x");
  EXPECT_EQ(got[2]["id"], "f2/firing/2026-12-07T09:00:00Z");

  // Resolved: gone from what fires, kept among the changes.
  ASSERT_EQ(Post({AlertOf("AitsBreakerHalted", "resolved", "f1")}).status, 200);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3]["id"], "f1/resolved/2026-12-07T09:00:00Z");
  const HttpResponse listed = Call("GET", "/api/v1/alerts?limit=2", viewer_key_);
  ASSERT_EQ(listed.status, 200) << listed.body;
  const nlohmann::json shown = nlohmann::json::parse(listed.body);
  ASSERT_EQ(shown["firing"].size(), 1u);
  EXPECT_EQ(shown["firing"][0]["alertname"], "AitsFeedStale");
  ASSERT_EQ(shown["recent"].size(), 2u);  // newest first, `limit` of the three
  EXPECT_EQ(shown["recent"][0]["status"], "resolved");
  EXPECT_EQ(shown["recent"][1]["alertname"], "AitsFeedStale");

  // A client resuming from the last seq it had gets the alerts published since, again.
  std::vector<nlohmann::json> resumed;
  const StreamHub::Subscribed sub =
      hub_.Subscribe(filter, 41, [&resumed](const StreamHub::Message& m) {
        resumed.push_back(nlohmann::json::parse(*m.text));
        return true;
      });
  EXPECT_EQ(sub.replayed, 4u);
  EXPECT_EQ(resumed.back()["id"], "f1/resolved/2026-12-07T09:00:00Z");
}

// Posting takes a notifier's key (or an admin), and that key may do nothing else: not read, not
// trade, not open the stream. Not a trader's key: it could halt trading.
TEST_F(AlertRoutesTest, OnlyANotifierOrAnAdminMayPostAndANotifierNothingElse) {
  EXPECT_EQ(Post({AlertOf("X", "firing", "f")}, viewer_key_).status, 403);
  const HttpResponse trader = Post({AlertOf("X", "firing", "f")}, trader_key_);
  EXPECT_EQ(trader.status, 403) << trader.body;
  EXPECT_NE(trader.body.find("needs the admin role or a notifier"), std::string::npos)
      << trader.body;
  EXPECT_EQ(Call("POST", "/api/v1/alerts/alertmanager", "", Webhook({})).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", "").status, 401);
  EXPECT_EQ(hub_.published(), 0u);
  ASSERT_EQ(Post({AlertOf("X", "firing", "f")}).status, 200);
  const std::vector<AuditEntry> trail = store_->AuditTrail(0, 10).value();
  ASSERT_EQ(trail.size(), 4u);  // newest first
  EXPECT_EQ(trail[0].action, "POST /api/v1/alerts/alertmanager");
  EXPECT_EQ(trail[0].status, 200);
  EXPECT_EQ(trail[0].role, "notifier");
  EXPECT_EQ(trail[0].detail, "alerts: 1, new: 1");
  EXPECT_EQ(trail[1].status, 401);
  EXPECT_EQ(trail[2].status, 403);
  EXPECT_EQ(trail[3].status, 403);
  // The notifier reads nothing, and no stream.
  const HttpResponse read = Call("GET", "/api/v1/alerts", notifier_key_);
  EXPECT_EQ(read.status, 403) << read.body;
  HttpRequest upgrade;
  upgrade.method = "GET";
  upgrade.path = "/api/v1/stream";
  upgrade.headers.emplace_back("x-api-key", notifier_key_);
  std::string why;
  int64_t retry_after = 0;
  EXPECT_FALSE(service_->AuthenticateUpgrade(upgrade, &why, &retry_after));
  EXPECT_NE(why.find("notifier"), std::string::npos) << why;
  // An admin may post by hand; no person may be a notifier.
  HttpRequest login;
  login.method = "POST";
  login.path = "/api/v1/auth/token";
  login.body = "grant_type=password&username=ada&password=ada-pw";
  login.client = "127.0.0.1";
  const std::string admin =
      nlohmann::json::parse(service_->Handle(login).body).value("access_token", "");
  HttpRequest by_hand;
  by_hand.method = "POST";
  by_hand.path = "/api/v1/alerts/alertmanager";
  by_hand.headers.emplace_back("authorization", "Bearer " + admin);
  by_hand.body = Webhook({AlertOf("Y", "firing", "g")});
  by_hand.client = "127.0.0.1";
  EXPECT_EQ(service_->Handle(by_hand).status, 200);
  EXPECT_EQ(store_->AddUser("nora", Role::kNotifier, "pw", kStart).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetUserRole("ada", Role::kNotifier).code(), StatusCode::kInvalidArgument);
}

// A resolution of an older start leaves a newer one firing; an alert without a fingerprint is
// its name and labels; an alert before any event takes seq 1, so a client can resume from it.
TEST_F(AlertRoutesTest, AlertsAreKeyedByTheirIdentityAndStartAndResumableBeforeAnyEvent) {
  nlohmann::json later = AlertOf("AitsRoleDown", "firing", "");
  later["labels"]["instance"] = "a:1";
  later["startsAt"] = "2026-12-07T10:00:00Z";
  nlohmann::json earlier_resolved = later;
  earlier_resolved["status"] = "resolved";
  earlier_resolved["startsAt"] = "2026-12-07T09:00:00Z";
  nlohmann::json other = AlertOf("AitsRoleDown", "firing", "");
  other["labels"]["instance"] = "b:1";
  ASSERT_EQ(Post({later, other}).status, 200);
  ASSERT_EQ(Post({earlier_resolved}).status, 200);
  nlohmann::json shown = board_->Snapshot(10);
  ASSERT_EQ(shown["firing"].size(), 2u) << shown.dump();
  EXPECT_NE(shown["firing"][0]["key"], shown["firing"][1]["key"]);
  EXPECT_EQ(shown["seq"], 1);
  // Both were published at seq 1 (no event yet), and come back on a resume from it.
  std::vector<nlohmann::json> resumed;
  StreamHub::Filter filter;
  filter.topics = kTopicAlerts;
  hub_.Subscribe(filter, shown["seq"].get<uint64_t>(), [&resumed](const StreamHub::Message& m) {
    resumed.push_back(nlohmann::json::parse(*m.text));
    return true;
  });
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed[0]["seq"], 1);
  EXPECT_EQ(resumed[0]["data"]["key"], shown["firing"][0]["key"]);
}

TEST_F(AlertRoutesTest, AMalformedNotificationIsRefusedWithItsFieldAndChangesNothing) {
  nlohmann::json bad = AlertOf("X", "maybe", "f");
  const HttpResponse refused = Post({AlertOf("Y", "firing", "g"), bad});
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("/alerts/1/status: \\\"maybe\\\" is neither firing nor resolved"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(Call("POST", "/api/v1/alerts/alertmanager", notifier_key_, "{not json").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/alerts?limit=0", viewer_key_).status, 400);
  EXPECT_EQ(hub_.published(), 0u);
  const nlohmann::json shown =
      nlohmann::json::parse(Call("GET", "/api/v1/alerts", viewer_key_).body);
  EXPECT_TRUE(shown["firing"].empty());
  EXPECT_TRUE(shown["recent"].empty());
}

}  // namespace
}  // namespace aits::api
