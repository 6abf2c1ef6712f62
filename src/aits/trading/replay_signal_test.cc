#include "aits/trading/replay_signal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace aits::trading {
namespace {

const Timestamp kStart = FromCivil(2024, 3, 4, 10, 0);

Bar MinuteBar(int index) {
  Bar bar;
  bar.period = Duration::Minutes(1);
  bar.open_time = kStart + Duration::Minutes(index);
  return bar;
}

Timestamp CloseOf(int index) { return kStart + Duration::Minutes(index + 1); }

TEST(ReplaySignalTest, GivesEachBarItsOwnSignalAndNothingBetween) {
  const Instrument instrument = Instrument::Infer("EURUSD");
  auto signals = std::make_shared<const std::vector<TimedSignal>>(std::vector<TimedSignal>{
      {CloseOf(1), 0.5, 0.9}, {CloseOf(2), -0.25, 0.4}, {CloseOf(5), 1.0, 1.0}});
  auto source = MakeReplaySignal(instrument, signals);
  EXPECT_EQ(source->name(), "score_replay");
  decision::Signal signal;
  EXPECT_FALSE(source->OnBar(MinuteBar(0), &signal));  // before the first signal
  ASSERT_TRUE(source->OnBar(MinuteBar(1), &signal));
  EXPECT_DOUBLE_EQ(signal.strength, 0.5);
  EXPECT_DOUBLE_EQ(signal.confidence, 0.9);
  EXPECT_EQ(signal.ts, CloseOf(1));
  ASSERT_TRUE(source->OnBar(MinuteBar(2), &signal));
  EXPECT_DOUBLE_EQ(signal.strength, -0.25);
  EXPECT_FALSE(source->OnBar(MinuteBar(3), &signal));  // a gap in the scores: no decision
  EXPECT_FALSE(source->OnBar(MinuteBar(4), &signal));
  ASSERT_TRUE(source->OnBar(MinuteBar(5), &signal));
  EXPECT_DOUBLE_EQ(signal.strength, 1.0);
  EXPECT_FALSE(source->OnBar(MinuteBar(6), &signal));  // after the last

  std::string json;
  JsonWriter out(&json);
  out.BeginObject();
  source->Describe(out, true);
  out.EndObject();
  EXPECT_NE(json.find("\"replayed_score\":1"), std::string::npos) << json;
}

TEST(ReplaySignalTest, ABarOffTheSignalsGridGetsNone) {
  // Signals of 5-minute closes replayed over 1-minute bars: only the bars closing on them decide.
  const Instrument instrument = Instrument::Infer("EURUSD");
  auto signals = std::make_shared<const std::vector<TimedSignal>>(
      std::vector<TimedSignal>{{CloseOf(4), 0.3, 1.0}, {CloseOf(9), -0.3, 1.0}});
  auto source = MakeReplaySignal(instrument, signals);
  decision::Signal signal;
  int decided = 0;
  for (int bar = 0; bar < 12; ++bar) decided += source->OnBar(MinuteBar(bar), &signal) ? 1 : 0;
  EXPECT_EQ(decided, 2);
}

TEST(ReplaySignalTest, CheckReplayableNamesTheBadSignal) {
  EXPECT_TRUE(CheckReplayable({{CloseOf(1), 0.1, 1}, {CloseOf(2), -1, 0}}).ok());
  auto unordered = CheckReplayable({{CloseOf(2), 0.1, 1}, {CloseOf(2), 0.2, 1}});
  ASSERT_FALSE(unordered.ok());
  EXPECT_NE(unordered.message().find("signal 1 at 2024-03-04"), std::string::npos)
      << unordered.message();
  auto range = CheckReplayable({{CloseOf(1), 1.5, 1}});
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.message().find("strength 1.5"), std::string::npos) << range.message();
  EXPECT_FALSE(CheckReplayable({{CloseOf(1), 0.5, -0.1}}).ok());
  EXPECT_FALSE(CheckReplayable({{CloseOf(1), std::nan(""), 1}}).ok());
}

}  // namespace
}  // namespace aits::trading
