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

}  // namespace
}  // namespace aits::ml
