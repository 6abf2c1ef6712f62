#include "aits/ml/model_watch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace aits::ml {
namespace {

constexpr Duration kBar = Duration::Minutes(5);
constexpr Duration kHorizon = Duration::Minutes(15);

// Two inputs drawn from N(0, 1) and U(0, 1), and scores from U(-1, 1).
struct Training {
  Matrix x;
  std::vector<double> scores;
};
Training MakeTraining(size_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  Training t{Matrix(rows, 2), {}};
  for (size_t r = 0; r < rows; ++r) {
    t.x.Row(r)[0] = static_cast<float>(normal(rng));
    t.x.Row(r)[1] = static_cast<float>(uniform(rng));
    t.scores.push_back(2 * uniform(rng) - 1);
  }
  return t;
}

WatchReference MakeReference() {
  const Training t = MakeTraining(5000, 1);
  auto reference = BuildWatchReference(t.x, {"z", "u"}, 0, 5000, t.scores, kHorizon, 0.55);
  EXPECT_TRUE(reference.ok()) << reference.status().ToString();
  return *reference;
}

TEST(ModelWatchTest, TheReferenceRoundTripsAndACutOneIsRefusedByName) {
  const WatchReference reference = MakeReference();
  ASSERT_EQ(reference.features.size(), 2u);
  EXPECT_EQ(reference.features[0].name, "z");
  EXPECT_EQ(reference.features[0].rows, 5000u);
  EXPECT_EQ(reference.score.name, "score");
  const std::string bytes = SerializeWatchReference(reference);
  auto back = DeserializeWatchReference(bytes, "m.model");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->horizon, kHorizon);
  EXPECT_DOUBLE_EQ(back->validation_accuracy, 0.55);
  ASSERT_EQ(back->features.size(), 2u);
  EXPECT_EQ(back->features[1].edges, reference.features[1].edges);
  EXPECT_EQ(back->features[1].fractions, reference.features[1].fractions);
  EXPECT_EQ(back->score.edges, reference.score.edges);
  EXPECT_EQ(SerializeWatchReference(*back), bytes);

  // Every cut is refused, naming the file; so is a byte too many.
  for (size_t keep = 0; keep < bytes.size(); keep += 97) {
    auto cut = DeserializeWatchReference(bytes.substr(0, keep), "m.model");
    ASSERT_FALSE(cut.ok()) << keep;
    EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(cut.status().message().find("m.model (watch reference)"), std::string::npos);
  }
  EXPECT_FALSE(DeserializeWatchReference(bytes + "x", "m.model").ok());
}

TEST(ModelWatchTest, BadInputsAreRefusedWithWhatIsWrong) {
  const Training t = MakeTraining(50, 2);
  auto few = BuildWatchReference(t.x, {"z", "u"}, 0, 50, t.scores, kHorizon, 0.5);
  ASSERT_FALSE(few.ok());
  EXPECT_NE(few.status().message().find("feature z"), std::string::npos);
  EXPECT_FALSE(BuildWatchReference(t.x, {"z"}, 0, 50, t.scores, kHorizon, 0.5).ok());
  EXPECT_FALSE(BuildWatchReference(t.x, {"z", "u"}, 0, 51, t.scores, kHorizon, 0.5).ok());
  EXPECT_FALSE(BuildWatchReference(t.x, {"z", "u"}, 0, 50, t.scores, Duration{}, 0.5).ok());

  WatchReference reference = MakeReference();
  WatchOptions options;
  options.drift_window = 99;
  EXPECT_FALSE(ModelWatch::Create(reference, options).ok());
  options = {};
  options.call_window = 1;
  EXPECT_FALSE(ModelWatch::Create(reference, options).ok());
  reference.horizon = Duration{};
  EXPECT_FALSE(ModelWatch::Create(reference).ok());
  reference = MakeReference();
  reference.features.clear();
  EXPECT_FALSE(ModelWatch::Create(reference).ok());
}

TEST(ModelWatchTest, ACallIsSettledAtTheFirstBarAHorizonLater) {
  auto watch = ModelWatch::Create(MakeReference());
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  const std::vector<float> row = {0.0f, 0.5f};
  // A market that rises 0.1 % a bar: long calls are right, short ones wrong.
  Timestamp t = Timestamp::FromNanos(Duration::Days(1).ns);
  double close = 1.1;
  for (int bar = 0; bar < 10; ++bar) {
    watch->OnBar(t, close, row, bar % 2 == 0 ? 0.4 : -0.4);
    t = t + kBar;
    close *= 1.001;
  }
  // Bars 0..6 are settled by bars 3..9; 7, 8 and 9 wait for theirs.
  EXPECT_EQ(watch->settled_calls(), 7u);
  EXPECT_EQ(watch->open_calls(), 3u);
  EXPECT_EQ(watch->live().directional(), 7u);
  EXPECT_NEAR(watch->live().accuracy(), 4.0 / 7.0, 1e-12);  // the four long calls
  EXPECT_NEAR(watch->live().precision(), 1.0, 1e-12);
  EXPECT_EQ(watch->bars(), 10u);

  // A gap of a day: the open calls cannot be settled honestly and are dropped, not counted.
  t = t + Duration::Days(1);
  watch->OnBar(t, close, row, 0.4);
  EXPECT_EQ(watch->dropped_calls(), 3u);
  EXPECT_EQ(watch->settled_calls(), 7u);
  EXPECT_EQ(watch->open_calls(), 1u);
}

TEST(ModelWatchTest, AShiftedInputDriftsAndTheOthersDoNot) {
  WatchOptions options;
  options.drift_window = 1000;
  auto watch = ModelWatch::Create(MakeReference(), options);
  ASSERT_TRUE(watch.ok());
  const Training live = MakeTraining(1000, 7);
  Timestamp t = Timestamp::FromNanos(Duration::Days(1).ns);
  for (size_t r = 0; r < 1000; ++r) {
    watch->OnBar(t, 1.1, live.x.Row(r), live.scores[r]);
    t = t + kBar;
  }
  const DriftMonitor& drift = watch->drift();
  ASSERT_EQ(drift.features(), 3u);  // z, u and the score
  for (size_t f = 0; f < 3; ++f) EXPECT_LT(drift.Psi(f), kPsiModerate) << f;

  // The market moves: z one standard deviation up, u and the score unchanged.
  for (size_t r = 0; r < 1000; ++r) {
    std::vector<float> row(live.x.Row(r).begin(), live.x.Row(r).end());
    row[0] += 1.0f;
    watch->OnBar(t, 1.1, row, live.scores[r]);
    t = t + kBar;
  }
  EXPECT_GT(drift.Psi(0), kPsiSignificant);
  EXPECT_LT(drift.KsPValue(0), 1e-6);
  EXPECT_LT(drift.Psi(1), kPsiModerate);
  EXPECT_LT(drift.Psi(2), kPsiModerate);
  EXPECT_GT(drift.KsPValue(1), 1e-3);
}

// Feeds `bars` bars of the training distributions, z shifted by `z_shift` and u by `u_shift`,
// at 5-minute steps from `t`, in a flat market (every call settles at a return of 0).
void Feed(ModelWatch& watch, Timestamp& t, size_t bars, float z_shift, float u_shift,
          uint64_t seed) {
  const Training live = MakeTraining(bars, seed);
  for (size_t r = 0; r < bars; ++r) {
    const std::vector<float> row = {live.x.Row(r)[0] + z_shift, live.x.Row(r)[1] + u_shift};
    watch.OnBar(t, 1.1, row, live.scores[r]);
    t = t + kBar;
  }
}

WatchPolicyConfig SmallPolicy() {
  WatchPolicyConfig config;
  config.min_bars = 200;
  config.min_calls = 50;
  config.hold_bars = 5;
  return config;
}

TEST(WatchPolicyTest, TheVerdictFollowsTheShareOfInputsThatMoved) {
  WatchOptions options;
  options.drift_window = 300;
  WatchReference reference = MakeReference();
  reference.validation_accuracy = std::nan("");  // drift alone: no decay to compare with
  auto watch = ModelWatch::Create(std::move(reference), options);
  ASSERT_TRUE(watch.ok());
  const WatchPolicyConfig config = SmallPolicy();
  Timestamp t = Timestamp::FromNanos(Duration::Days(1).ns);

  Feed(*watch, t, 100, 0, 0, 3);
  WatchAssessment a = Assess(*watch, config);
  EXPECT_EQ(a.verdict, WatchVerdict::kWarmingUp);
  EXPECT_EQ(a.reason, "100 bars of 200");  // no validation accuracy: the calls judge nothing

  Feed(*watch, t, 300, 0, 0, 4);
  a = Assess(*watch, config);
  EXPECT_EQ(a.verdict, WatchVerdict::kHealthy) << a.reason;
  EXPECT_EQ(a.drifted_inputs, 0u);
  EXPECT_EQ(a.inputs, 2u);

  Feed(*watch, t, 300, 1.0f, 0, 5);  // z moved: one of two inputs, above a fifth
  a = Assess(*watch, config);
  EXPECT_EQ(a.verdict, WatchVerdict::kUpdate) << a.reason;
  EXPECT_EQ(a.reason, "drift: 1 of 2 inputs with a PSI above 0.20 (more than 20 %)");

  Feed(*watch, t, 300, 1.0f, 0.5f, 6);  // both: above half
  a = Assess(*watch, config);
  EXPECT_EQ(a.verdict, WatchVerdict::kRetrain) << a.reason;
  EXPECT_EQ(a.drifted_inputs, 2u);
  EXPECT_FALSE(std::isnan(a.score_psi));
  EXPECT_LT(a.score_psi, config.score_psi);  // the score did not move
}

TEST(WatchPolicyTest, ALiveAccuracyUnderTheValidationOnesIsDecay) {
  auto watch = ModelWatch::Create(MakeReference());  // validation accuracy 0.55
  ASSERT_TRUE(watch.ok());
  const WatchPolicyConfig config = SmallPolicy();
  // A rising market and a model that calls long one bar in three: a third right.
  Timestamp t = Timestamp::FromNanos(Duration::Days(1).ns);
  double close = 1.1;
  const std::vector<float> row = {0.0f, 0.5f};
  for (int bar = 0; bar < 120; ++bar) {
    watch->OnBar(t, close, row, bar % 3 == 0 ? 0.3 : -0.3);
    t = t + kBar;
    close *= 1.0001;
  }
  const WatchAssessment a = Assess(*watch, config);
  EXPECT_EQ(a.verdict, WatchVerdict::kRetrain);
  EXPECT_EQ(a.calls, 117u);
  EXPECT_NEAR(a.live_accuracy, 39.0 / 117.0, 1e-12);
  EXPECT_EQ(a.reason, "decay: live accuracy 0.333 over 117 calls, 0.550 on validation");
}

TEST(WatchPolicyTest, AChangeIsTakenOnceItHeldAndReportedOnce) {
  WatchOptions options;
  options.drift_window = 300;
  WatchReference reference = MakeReference();
  reference.validation_accuracy = std::nan("");  // drift alone
  auto watch = ModelWatch::Create(std::move(reference), options);
  ASSERT_TRUE(watch.ok());
  WatchPolicy policy(SmallPolicy());
  Timestamp t = Timestamp::FromNanos(Duration::Days(1).ns);
  const Training live = MakeTraining(600, 9);
  std::vector<uint64_t> changed_at;
  std::vector<WatchVerdict> changes;
  for (size_t r = 0; r < 600; ++r) {
    watch->OnBar(t, 1.1, live.x.Row(r), live.scores[r]);
    t = t + kBar;
    if (const auto change = policy.Observe(*watch)) {
      changed_at.push_back(watch->bars());
      changes.push_back(change->verdict);
    }
  }
  // Healthy from bar 200 on, taken at its fifth bar in a row; reported once.
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], WatchVerdict::kHealthy);
  EXPECT_EQ(changed_at[0], 204u);
  EXPECT_EQ(policy.verdict(), WatchVerdict::kHealthy);
  EXPECT_EQ(policy.changes(), 1u);

  // A verdict that does not hold for five bars in a row is never taken.
  WatchPolicyConfig slow = SmallPolicy();
  slow.hold_bars = 1000;
  WatchPolicy patient(slow);
  for (size_t r = 0; r < 600; ++r) EXPECT_FALSE(patient.Observe(*watch).has_value());
  EXPECT_EQ(patient.verdict(), WatchVerdict::kWarmingUp);
}

}  // namespace
}  // namespace aits::ml
