#include "aits/notify/notifier.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace aits::notify {
namespace {

std::string Notification(const std::string& status, const std::string& fingerprint,
                         const std::string& starts_at = "2026-12-07T05:00:00Z") {
  nlohmann::json alert = {
      {"status", status},
      {"labels",
       {{"alertname", "AitsBreakerHalted"}, {"severity", "critical"}, {"instance", "p:9464"}}},
      {"annotations", {{"summary", "Trading halted on p:9464"}}},
      {"startsAt", starts_at},
      {"endsAt", status == "firing" ? "0001-01-01T00:00:00Z" : "2026-12-07T05:10:00Z"},
      {"fingerprint", fingerprint}};
  return nlohmann::json{{"version", "4"}, {"status", status}, {"alerts", {alert}}}.dump();
}

double CounterValue(const Registry& registry, const std::string& name, const std::string& status) {
  for (const FamilySnapshot& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const FamilySnapshot::Child& child : family.children) {
      if (child.label_values.empty() || child.label_values[0] == status) {
        return static_cast<double>(child.counter);
      }
    }
  }
  return 0;
}

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("aits_notifier_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::vector<nlohmann::json> FileLines() const {
    std::vector<nlohmann::json> lines;
    std::ifstream in(dir_ / "alerts.jsonl");
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }
  std::filesystem::path dir_;
};

// Alertmanager repeats a firing alert (group_interval, repeat_interval): delivered once, the
// repeats counted; its resolution is a change, delivered; a new firing (a new startsAt) too.
TEST_F(NotifierTest, EachChangeOfAnAlertIsDeliveredOnce) {
  Registry registry;
  NotifierOptions options;
  options.alerts_file = (dir_ / "alerts.jsonl").string();
  auto notifier = Notifier::Create(options, &registry);
  ASSERT_TRUE(notifier.ok()) << notifier.status().message();
  std::vector<std::string> channel;
  (*notifier)->AddChannel([&channel](const Delivered& delivered) {
    channel.push_back(delivered.alert.status + " " + delivered.alert.name());
  });

  auto first = (*notifier)->Receive(Notification("firing", "f1"));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->delivered, 1u);
  auto again = (*notifier)->Receive(Notification("firing", "f1"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->delivered, 0u);
  EXPECT_EQ(again->repeated, 1u);
  ASSERT_TRUE((*notifier)->Receive(Notification("resolved", "f1")).ok());
  ASSERT_TRUE((*notifier)->Receive(Notification("firing", "f1", "2026-12-07T06:00:00Z")).ok());

  EXPECT_EQ(channel,
            (std::vector<std::string>{"firing AitsBreakerHalted", "resolved AitsBreakerHalted",
                                      "firing AitsBreakerHalted"}));
  ASSERT_EQ((*notifier)->Recent().size(), 3u);
  EXPECT_EQ((*notifier)->Recent()[1].alert.status, "resolved");
  const std::vector<nlohmann::json> lines = FileLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["alertname"], "AitsBreakerHalted");
  EXPECT_EQ(lines[0]["status"], "firing");
  EXPECT_EQ(lines[0]["severity"], "critical");
  EXPECT_EQ(lines[0]["summary"], "Trading halted on p:9464");
  EXPECT_EQ(lines[0]["labels"]["instance"], "p:9464");
  EXPECT_EQ(lines[1]["ends_at"], "2026-12-07T05:10:00Z");
  EXPECT_EQ(CounterValue(registry, "aits_alerts_received_total", "firing"), 3);
  EXPECT_EQ(CounterValue(registry, "aits_alerts_delivered_total", "firing"), 2);
  EXPECT_EQ(CounterValue(registry, "aits_alerts_delivered_total", "resolved"), 1);
  EXPECT_EQ(CounterValue(registry, "aits_alerts_repeated_total", ""), 1);
}

// A malformed notification is refused whole: nothing delivered, nothing written, counted.
TEST_F(NotifierTest, AMalformedNotificationDeliversNothing) {
  Registry registry;
  NotifierOptions options;
  options.alerts_file = (dir_ / "alerts.jsonl").string();
  auto notifier = Notifier::Create(options, &registry);
  ASSERT_TRUE(notifier.ok());
  // A good first alert and a second without its status: the first is not delivered either.
  nlohmann::json body = nlohmann::json::parse(Notification("firing", "f1"));
  body["alerts"].push_back({{"labels", {{"alertname", "X"}}}, {"annotations", {}}});
  auto refused = (*notifier)->Receive(body.dump());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "alertmanager webhook: /alerts/1/status: missing");
  EXPECT_TRUE((*notifier)->Recent().empty());
  EXPECT_TRUE(FileLines().empty());
  EXPECT_EQ((*notifier)->rejected(), 1u);
  EXPECT_EQ(CounterValue(registry, "aits_alert_webhooks_rejected_total", ""), 1);
  EXPECT_EQ(CounterValue(registry, "aits_alerts_received_total", "firing"), 0);
  // The same alert, well formed, is then delivered: the refusal remembered nothing.
  auto accepted = (*notifier)->Receive(Notification("firing", "f1"));
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->delivered, 1u);
}

// Memory stays bounded: past `remembered` changes the oldest is forgotten (and a repeat of it
// delivered again); Recent keeps `recent`.
TEST_F(NotifierTest, RemembersABoundedNumberOfChanges) {
  NotifierOptions options;
  options.remembered = 2;
  options.recent = 2;
  auto notifier = Notifier::Create(options);
  ASSERT_TRUE(notifier.ok());
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_EQ((*notifier)->Receive(Notification("firing", id))->delivered, 1u);
  }
  EXPECT_EQ((*notifier)->Receive(Notification("firing", "c"))->repeated, 1u);
  EXPECT_EQ((*notifier)->Receive(Notification("firing", "a"))->delivered, 1u);
  EXPECT_EQ((*notifier)->Recent().size(), 2u);
}

TEST_F(NotifierTest, AnUnopenableAlertsFileIsAnErrorNamingIt) {
  NotifierOptions options;
  options.alerts_file = (dir_ / "missing" / "alerts.jsonl").string();
  auto notifier = Notifier::Create(options);
  ASSERT_FALSE(notifier.ok());
  EXPECT_NE(notifier.status().message().find(options.alerts_file), std::string::npos);
}

}  // namespace
}  // namespace aits::notify
