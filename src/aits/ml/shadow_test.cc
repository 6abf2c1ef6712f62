#include "aits/ml/shadow.h"

#include "aits/ml/watch_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace aits::ml {
namespace {

constexpr Duration kTrialBar = Duration::Minutes(5);
constexpr Duration kTrialHorizon = Duration::Minutes(15);

// A random walk's closes, and its log returns over the horizon: what a perfect model would call.
struct Market {
  std::vector<double> closes;
  std::vector<double> ahead;  // log(close[i + 3] / close[i]); 0 at the end
};
Market MakeMarket(size_t bars, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0, 0.001);
  Market m;
  double close = 1.25;
  for (size_t i = 0; i < bars; ++i) {
    close *= std::exp(step(rng));
    m.closes.push_back(close);
  }
  const size_t k = static_cast<size_t>(kTrialHorizon.ns / kTrialBar.ns);
  m.ahead.assign(bars, 0);
  for (size_t i = 0; i + k < bars; ++i) m.ahead[i] = std::log(m.closes[i + k] / m.closes[i]);
  return m;
}

Timestamp At(size_t i) {
  return Timestamp::FromNanos(1'700'000'000'000'000'000 + kTrialBar.ns * static_cast<int64_t>(i));
}

TEST(ShadowTrialTest, BothModelsAreSettledOnTheSameBarsAndTheTrialEndsAtItsCalls) {
  const Market m = MakeMarket(2000, 7);
  auto trial = ShadowTrial::Create(kTrialHorizon, {.min_calls = 300});
  ASSERT_TRUE(trial.ok()) << trial.status().ToString();
  // The candidate sees the future (right on every call), production calls against it.
  size_t ended_at = 0;
  for (size_t i = 0; i < m.closes.size(); ++i) {
    const double truth = m.ahead[i] >= 0 ? 0.5 : -0.5;
    if (trial->OnBar(At(i), m.closes[i], -truth, truth)) {
      ASSERT_EQ(ended_at, 0u) << "the trial ends once";
      ended_at = i;
    }
  }
  ASSERT_GT(ended_at, 0u);
  const ShadowRecord record = trial->Record();
  EXPECT_EQ(record.state, ShadowState::kComplete);
  EXPECT_EQ(record.bars, ended_at + 1);  // bars after the end are ignored
  EXPECT_EQ(record.from, At(0));
  EXPECT_EQ(record.to, At(ended_at));
  EXPECT_EQ(record.candidate.directional, 300u);
  EXPECT_EQ(record.production.directional, 300u);  // the same calls, the other way
  EXPECT_EQ(record.candidate.settled, record.production.settled);
  // A tie (a return of exactly 0) cannot happen on this walk: every call is right, or wrong.
  EXPECT_DOUBLE_EQ(record.candidate.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(record.production.accuracy, 0.0);
  EXPECT_TRUE(std::isinf(record.candidate.profit_factor));
  EXPECT_DOUBLE_EQ(record.production.profit_factor, 0.0);

  const nlohmann::json json = ToJson(record);
  EXPECT_EQ(json["state"], "complete");
  EXPECT_EQ(json["calls"], 300);
  EXPECT_EQ(json["accuracy"], 1.0);
  EXPECT_TRUE(json["profit_factor"].is_null()) << "not finite: null, never a bad JSON number";
  EXPECT_EQ(json["production"]["accuracy"], 0.0);
  EXPECT_EQ(json["bars"], ended_at + 1);
  EXPECT_EQ(json["from"], FormatIso8601(At(0)));
}

// The value of the series of `name` whose labels include every one of `labels` in `text`.
std::string Series(const std::string& text, const std::string& name,
                   const std::vector<std::string>& labels) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const std::string& label : labels) all = all && line.find(label) != std::string::npos;
    if (all) return line.substr(line.rfind(' ') + 1);
  }
  return "(none)";
}

TEST(ShadowTrialTest, ItsMetricsFollowTheTrial) {
  const Market m = MakeMarket(2000, 7);
  auto trial = ShadowTrial::Create(kTrialHorizon, {.min_calls = 100});
  ASSERT_TRUE(trial.ok());
  Registry registry;
  auto metrics = ShadowMetrics::Create(registry, "GBPUSD", *trial);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  std::string text = registry.RenderText();
  EXPECT_EQ(Series(text, "aits_model_shadow_state", {"state=\"running\""}), "1");
  EXPECT_EQ(Series(text, "aits_model_shadow_state", {"state=\"complete\""}), "0");
  EXPECT_EQ(Series(text, "aits_model_shadow_accuracy", {"model=\"candidate\""}), "NaN");
  for (size_t i = 0; trial->running(); ++i) {
    const double truth = m.ahead[i] >= 0 ? 0.5 : -0.5;
    trial->OnBar(At(i), m.closes[i], -truth, truth);
  }
  metrics->Publish(*trial);
  text = registry.RenderText();
  EXPECT_EQ(Series(text, "aits_model_shadow_state", {"state=\"complete\""}), "1");
  EXPECT_EQ(Series(text, "aits_model_shadow_state", {"state=\"running\""}), "0");
  EXPECT_EQ(Series(text, "aits_model_shadow_calls", {"model=\"candidate\"", "GBPUSD"}), "100");
  EXPECT_EQ(Series(text, "aits_model_shadow_accuracy", {"model=\"candidate\""}), "1");
  EXPECT_EQ(Series(text, "aits_model_shadow_accuracy", {"model=\"production\""}), "0");
  EXPECT_EQ(Series(text, "aits_model_shadow_bars", {"GBPUSD"}),
            std::to_string(trial->Record().bars));
}

TEST(ShadowTrialTest, ACandidateThatStaysFlatExpiresAfterMaxBars) {
  const Market m = MakeMarket(500, 8);
  auto trial = ShadowTrial::Create(kTrialHorizon, {.min_calls = 50, .max_bars = 400});
  ASSERT_TRUE(trial.ok());
  for (size_t i = 0; i < m.closes.size(); ++i) trial->OnBar(At(i), m.closes[i], 0.3, 0.0);
  const ShadowRecord record = trial->Record();
  EXPECT_EQ(record.state, ShadowState::kExpired);
  EXPECT_EQ(record.bars, 400u);
  EXPECT_EQ(record.candidate.directional, 0u);
  EXPECT_TRUE(std::isnan(record.candidate.accuracy));
  EXPECT_EQ(record.production.settled, 397u);      // 400 bars, the last 3 calls still open
  EXPECT_EQ(record.production.directional, 200u);  // the window: four times min_calls
  EXPECT_TRUE(ToJson(record)["accuracy"].is_null());
}

TEST(ShadowTrialTest, AGapInTheFeedDropsTheCallsItSpansForBoth) {
  auto trial = ShadowTrial::Create(kTrialHorizon, {.min_calls = 10});
  ASSERT_TRUE(trial.ok());
  trial->OnBar(At(0), 1.0, 0.5, -0.5);
  trial->OnBar(At(100), 1.1, 0.5, -0.5);  // a weekend: the first calls are settled too late
  const ShadowRecord record = trial->Record();
  EXPECT_EQ(record.candidate.dropped, 1u);
  EXPECT_EQ(record.production.dropped, 1u);
  EXPECT_EQ(record.candidate.settled, 0u);
}

TEST(ShadowTrialTest, BadSettingsAreRefusedByName) {
  auto few = ShadowTrial::Create(kTrialHorizon, {.min_calls = 1});
  ASSERT_FALSE(few.ok());
  EXPECT_NE(few.status().message().find("min_calls 1"), std::string::npos);
  auto horizon = ShadowTrial::Create(Duration::Seconds(0));
  ASSERT_FALSE(horizon.ok());
  EXPECT_NE(horizon.status().message().find("horizon"), std::string::npos);
}

}  // namespace
}  // namespace aits::ml
