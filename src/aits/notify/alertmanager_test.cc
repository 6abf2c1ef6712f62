#include "aits/notify/alertmanager.h"

#include <gtest/gtest.h>

#include <string>

namespace aits::notify {
namespace {

// As Alertmanager 0.25 posts it (its webhook's documented payload), two alerts of one group.
constexpr std::string_view kFiring = R"({
  "version": "4",
  "groupKey": "{}:{alertname=\"AitsBreakerHalted\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "aits",
  "groupLabels": {"alertname": "AitsBreakerHalted"},
  "commonLabels": {"alertname": "AitsBreakerHalted", "severity": "critical"},
  "commonAnnotations": {},
  "externalURL": "http://127.0.0.1:9093",
  "alerts": [
    {"status": "firing",
     "labels": {"alertname": "AitsBreakerHalted", "instance": "127.0.0.1:9464",
                "job": "aits-paper", "severity": "critical", "state": "halted"},
     "annotations": {"summary": "Trading halted on 127.0.0.1:9464"},
     "startsAt": "2026-12-07T05:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": "a1b2c3"},
    {"status": "resolved",
     "labels": {"alertname": "AitsBreakerHalted", "instance": "127.0.0.1:9465"},
     "annotations": {},
     "startsAt": "2026-12-07T04:00:00Z", "endsAt": "2026-12-07T04:30:00Z",
     "generatorURL": "", "fingerprint": "d4e5f6"}
  ]
})";

TEST(AlertmanagerTest, ParsesTheDocumentedPayload) {
  Result<AlertNotification> parsed = ParseAlertmanagerWebhook(kFiring);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->receiver, "aits");
  EXPECT_EQ(parsed->status, "firing");
  ASSERT_EQ(parsed->alerts.size(), 2u);
  const Alert& first = parsed->alerts[0];
  EXPECT_EQ(first.name(), "AitsBreakerHalted");
  EXPECT_EQ(first.status, "firing");
  EXPECT_EQ(first.Label("severity"), "critical");
  EXPECT_EQ(first.Label("nothing"), "");
  EXPECT_EQ(first.Annotation("summary"), "Trading halted on 127.0.0.1:9464");
  EXPECT_EQ(first.starts_at, "2026-12-07T05:00:00.000Z");
  EXPECT_EQ(first.fingerprint, "a1b2c3");
  EXPECT_EQ(parsed->alerts[1].status, "resolved");
  EXPECT_EQ(parsed->alerts[1].ends_at, "2026-12-07T04:30:00Z");
}

// Each malformation is refused naming the field by its JSON pointer.
TEST(AlertmanagerTest, RefusesMalformedBodiesNamingTheField) {
  const auto refused = [](std::string body, const std::string& expected) {
    Result<AlertNotification> parsed = ParseAlertmanagerWebhook(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(expected), std::string::npos)
        << parsed.status().message() << " (expected: " << expected << ")";
  };
  const std::string good(kFiring);
  const auto with = [&good](const std::string& from, const std::string& to) {
    std::string body = good;
    const size_t at = body.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return body.replace(at, from.size(), to);
  };
  refused("{\"version\": \"4\",", "not JSON");
  refused("[]", "must be a JSON object, not array");
  refused("", "not JSON");
  refused(with(R"("version": "4")", R"("version": "3")"), "/version: \"3\" is not 4");
  refused(with(R"("version": "4",)", ""), "/version: missing");
  refused(with(R"("status": "firing",
  "receiver")",
               R"("status": 1,
  "receiver")"),
          "/status: must be a string, not number");
  refused(with(R"({"status": "firing",
     "labels")",
               R"({"status": "maybe",
     "labels")"),
          "/alerts/0/status: \"maybe\" is neither firing nor resolved");
  refused(with(R"("alertname": "AitsBreakerHalted", "instance": "127.0.0.1:9465")",
               R"("instance": "127.0.0.1:9465")"),
          "/alerts/1/labels/alertname: missing");
  refused(with(R"("job": "aits-paper")", R"("job": 7)"),
          "/alerts/0/labels/job: must be a string, not number");
  refused(with(R"("startsAt": "2026-12-07T04:00:00Z", )", ""), "/alerts/1/startsAt: missing");
  refused(with(R"("truncatedAlerts": 0)", R"("truncatedAlerts": -1)"), "/truncatedAlerts");
  refused(R"({"version": "4", "status": "firing", "alerts": {}})",
          "/alerts: must be an array, not object");
  refused(R"({"version": "4", "status": "firing", "alerts": ["x"]})",
          "/alerts/0: must be an object, not string");
  std::string many = R"({"version": "4", "status": "firing", "alerts": [)";
  for (size_t k = 0; k <= kMaxAlerts; ++k) many += (k == 0 ? "{}" : ",{}");
  refused(many + "]}", "/alerts: 1001 alerts, more than 1000");
}

}  // namespace
}  // namespace aits::notify
