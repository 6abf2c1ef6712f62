// Training runs long enough to learn something (LABELS slow: tens of seconds on one core).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aits/ml/sequence_trainer.h"
#include "aits/ml/sequence_trainer_test_util.h"

namespace aits::ml {
namespace {

using testing_util::MakeSumTask;
using testing_util::SumTask;

class LearnsTemporalSignalTest : public ::testing::TestWithParam<const char*> {};

// The label is the sign of the sum of the last five values of column 0: no single row predicts
// it (column 0 of the last row alone gives about 65%), a net that remembers the window does.
TEST_P(LearnsTemporalSignalTest, ValidationAccuracyWellAboveChance) {
  const SumTask train = MakeSumTask(6000, 3, 21);
  const SumTask val = MakeSumTask(2000, 3, 22);
  SequenceConfig config;
  config.cell = GetParam();
  config.hidden = 16;
  config.window = 10;
  config.epochs = 10;
  config.batch = 64;
  config.learning_rate = 1e-2;
  config.patience = 3;
  double best_accuracy = 0;
  double first_accuracy = -1;
  Result<std::unique_ptr<RecurrentModel>> model =
      TrainSequenceModel(train.x, train.y, train.usable, &val.x, val.y, val.usable, config,
                         [&](int epoch, double train_loss, double val_loss, double val_accuracy) {
                           if (first_accuracy < 0) first_accuracy = val_accuracy;
                           best_accuracy = std::max(best_accuracy, val_accuracy);
                           std::printf("%s epoch %d train %.4f val %.4f acc %.4f\n", GetParam(),
                                       epoch, train_loss, val_loss, val_accuracy);
                         });
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_GT(best_accuracy, 0.85);

  // The exported stepwise model, streaming through windows of the validation set, agrees.
  size_t correct = 0;
  size_t count = 0;
  for (size_t end = config.window - 1; end < val.x.rows(); ++end) {
    if (!val.usable[end]) continue;
    const float p = (*model)->PredictWindow(
        val.x.SliceRows(end + 1 - static_cast<size_t>(config.window), end + 1));
    correct += (p > 0.5f) == (val.y[end] > 0.5f);
    ++count;
  }
  EXPECT_GT(static_cast<double>(correct) / static_cast<double>(count), 0.85);
}

INSTANTIATE_TEST_SUITE_P(Cells, LearnsTemporalSignalTest, ::testing::Values("lstm", "gru"));

}  // namespace
}  // namespace aits::ml
