#include "aits/ml/sequence_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "aits/ml/sequence_trainer_test_util.h"

namespace aits::ml {
namespace {

using testing_util::MakeSumTask;
using testing_util::SumTask;

SequenceConfig SmallConfig(const std::string& cell, int layers) {
  SequenceConfig config;
  config.cell = cell;
  config.hidden = 8;
  config.layers = layers;
  config.window = 12;
  config.epochs = 2;
  config.batch = 64;
  config.learning_rate = 5e-3;
  config.seed = 11;
  return config;
}

std::unique_ptr<RecurrentModel> TrainOrDie(const SumTask& train, const SumTask* val,
                                           const SequenceConfig& config,
                                           const SequenceProgress& progress = {}) {
  Result<std::unique_ptr<RecurrentModel>> model = TrainSequenceModel(
      train.x, train.y, train.usable, val ? &val->x : nullptr,
      val ? std::span<const float>(val->y) : std::span<const float>(),
      val ? std::span<const uint8_t>(val->usable) : std::span<const uint8_t>(), config, progress);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

struct ShapeCase {
  const char* cell;
  int layers;
};

class TorchEquivalenceTest : public ::testing::TestWithParam<ShapeCase> {};

// The stepwise Eigen model equals LibTorch's full-window forward for every prefix length,
// including windows shorter and longer than the training window.
TEST_P(TorchEquivalenceTest, StepwiseEqualsTorchFullWindow) {
  const ShapeCase shape = GetParam();
  const SumTask train = MakeSumTask(600, 4, 1);
  const SumTask val = MakeSumTask(200, 4, 2);
  std::unique_ptr<RecurrentModel> model =
      TrainOrDie(train, &val, SmallConfig(shape.cell, shape.layers));
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->Kind(), shape.cell);
  EXPECT_EQ(model->layers(), static_cast<size_t>(shape.layers));
  for (size_t window : {1u, 5u, 12u, 40u}) {
    std::vector<size_t> ends;
    for (size_t end = window - 1; end < val.x.rows(); end += 7) ends.push_back(end);
    Result<double> diff = CompareWithTorch(*model, val.x, ends, window);
    ASSERT_TRUE(diff.ok()) << diff.status().ToString();
    EXPECT_LT(*diff, 1e-5) << "window " << window;
  }
  // The comparison can fail: the first two gate blocks swapped (a gate-order bug) is caught.
  RecurrentWeights perturbed = model->weights();
  for (std::vector<float>* block : {&perturbed.layers[0].w_ih, &perturbed.layers[0].w_hh,
                                    &perturbed.layers[0].b_ih, &perturbed.layers[0].b_hh}) {
    const size_t gate_size = block->size() / RecurrentGateCount(model->cell());
    std::swap_ranges(block->begin(), block->begin() + static_cast<ptrdiff_t>(gate_size),
                     block->begin() + static_cast<ptrdiff_t>(gate_size));
  }
  std::unique_ptr<RecurrentModel> other =
      std::move(RecurrentModel::Create(perturbed, model->standardizer(), model->window())).value();
  Result<std::unique_ptr<TorchSequenceReference>> reference =
      TorchSequenceReference::Create(*model);
  ASSERT_TRUE(reference.ok());
  std::vector<size_t> ends = {30, 80, 150};
  Result<std::vector<float>> torch_out = (*reference)->PredictWindows(val.x, ends, 30);
  ASSERT_TRUE(torch_out.ok());
  double max_diff = 0;
  for (size_t k = 0; k < ends.size(); ++k) {
    const float ours = other->PredictWindow(val.x.SliceRows(ends[k] + 1 - 30, ends[k] + 1));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(ours - (*torch_out)[k])));
  }
  EXPECT_GT(max_diff, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, TorchEquivalenceTest,
                         ::testing::Values(ShapeCase{"lstm", 1}, ShapeCase{"lstm", 2},
                                           ShapeCase{"gru", 1}, ShapeCase{"gru", 2}),
                         [](const ::testing::TestParamInfo<ShapeCase>& param_info) {
                           return std::string(param_info.param.cell) +
                                  std::to_string(param_info.param.layers);
                         });

TEST(SequenceTrainerTest, SameSeedGivesIdenticalBytes) {
  const SumTask train = MakeSumTask(500, 3, 5);
  const SumTask val = MakeSumTask(150, 3, 6);
  for (const char* cell : {"lstm", "gru"}) {
    SequenceConfig config = SmallConfig(cell, 2);
    config.dropout = 0.2;  // dropout draws from torch's generator: seeded too
    const std::string first = TrainOrDie(train, &val, config)->Serialize();
    const std::string second = TrainOrDie(train, &val, config)->Serialize();
    EXPECT_EQ(first, second) << cell;
    config.seed += 1;
    EXPECT_NE(TrainOrDie(train, &val, config)->Serialize(), first) << cell;
  }
}

// The model returned is the one of the epoch with the lowest validation loss, and that loss (as
// torch computed it during training) is what the exported model gives.
TEST(SequenceTrainerTest, KeepsBestEpochAndStopsAfterPatience) {
  // Labels that are pure noise: a big net overfits, so the validation loss turns up early.
  SumTask train = MakeSumTask(400, 3, 8);
  SumTask val = MakeSumTask(300, 3, 9);
  testing_util::ShuffleLabels(&train, 100);
  testing_util::ShuffleLabels(&val, 101);
  SequenceConfig config = SmallConfig("gru", 1);
  config.hidden = 48;
  config.learning_rate = 2e-2;
  config.batch = 32;
  config.epochs = 40;
  config.patience = 2;
  std::vector<double> val_losses;
  std::vector<double> val_accuracies;
  std::unique_ptr<RecurrentModel> model = TrainOrDie(
      train, &val, config, [&](int epoch, double train_loss, double val_loss, double val_accuracy) {
        EXPECT_EQ(epoch, static_cast<int>(val_losses.size()) + 1);
        EXPECT_TRUE(std::isfinite(train_loss));
        val_losses.push_back(val_loss);
        val_accuracies.push_back(val_accuracy);
      });
  ASSERT_NE(model, nullptr);
  ASSERT_LT(val_losses.size(), 40u) << "expected early stopping on noise labels";
  const size_t best = static_cast<size_t>(std::min_element(val_losses.begin(), val_losses.end()) -
                                          val_losses.begin());
  EXPECT_EQ(val_losses.size(), best + 1 + 2) << "stops `patience` epochs after the best";

  double loss = 0;
  size_t correct = 0;
  size_t count = 0;
  for (size_t end = 0; end < val.x.rows(); ++end) {
    if (!val.usable[end] || end + 1 < 12) continue;
    const double p = model->PredictWindow(val.x.SliceRows(end + 1 - 12, end + 1));
    loss -= val.y[end] > 0.5f ? std::log(p) : std::log(1 - p);
    correct += (p > 0.5) == (val.y[end] > 0.5f);
    ++count;
  }
  EXPECT_NEAR(loss / static_cast<double>(count), val_losses[best], 1e-5);
  EXPECT_NEAR(static_cast<double>(correct) / static_cast<double>(count), val_accuracies[best],
              1.5 / static_cast<double>(count));
}

TEST(SequenceTrainerTest, WithoutValidationTrainsAllEpochs) {
  const SumTask train = MakeSumTask(300, 2, 3);
  SequenceConfig config = SmallConfig("lstm", 1);
  config.epochs = 3;
  int calls = 0;
  std::unique_ptr<RecurrentModel> model =
      TrainOrDie(train, nullptr, config, [&](int, double, double val_loss, double val_accuracy) {
        ++calls;
        EXPECT_TRUE(std::isnan(val_loss));
        EXPECT_TRUE(std::isnan(val_accuracy));
      });
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(model->window(), 12u);
  // Round trip through bytes without LibTorch on the reading side.
  Result<std::unique_ptr<RecurrentModel>> loaded =
      RecurrentModel::Deserialize(model->Serialize(), "trained");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  for (size_t row = 0; row < train.x.rows(); ++row) {
    ASSERT_EQ(model->Step(train.x.Row(row)), (*loaded)->Step(train.x.Row(row)));
  }
}

class BadInputTest : public ::testing::Test {
 protected:
  // Expects an InvalidArgument whose message contains `needle`.
  void ExpectError(const Matrix& x, std::span<const float> y, std::span<const uint8_t> usable,
                   const Matrix* val_x, std::span<const float> val_y,
                   std::span<const uint8_t> val_usable, const SequenceConfig& config,
                   const std::string& needle) {
    Result<std::unique_ptr<RecurrentModel>> model =
        TrainSequenceModel(x, y, usable, val_x, val_y, val_usable, config);
    ASSERT_FALSE(model.ok()) << needle;
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument) << model.status().ToString();
    EXPECT_NE(model.status().message().find(needle), std::string::npos)
        << model.status().ToString();
  }
  void ExpectConfigError(const SequenceConfig& config, const std::string& needle) {
    ExpectError(train_.x, train_.y, train_.usable, nullptr, {}, {}, config, needle);
  }

  SumTask train_ = MakeSumTask(100, 3, 1);
  SumTask val_ = MakeSumTask(50, 3, 2);
  SequenceConfig config_ = SmallConfig("lstm", 1);
};

TEST_F(BadInputTest, Sizes) {
  SequenceConfig long_window = config_;
  long_window.window = 101;
  ExpectError(train_.x, train_.y, train_.usable, nullptr, {}, {}, long_window, "no sample");
  std::vector<float> short_y(train_.y.begin(), train_.y.end() - 1);
  ExpectError(train_.x, short_y, train_.usable, nullptr, {}, {}, config_, "99 labels for 100");
  std::vector<uint8_t> short_usable(train_.usable.begin(), train_.usable.end() - 2);
  ExpectError(train_.x, train_.y, short_usable, nullptr, {}, {}, config_, "98 usable flags");
  std::vector<uint8_t> none(train_.usable.size(), 0);
  ExpectError(train_.x, train_.y, none, nullptr, {}, {}, config_, "no sample");
  ExpectError(Matrix(), {}, {}, nullptr, {}, {}, config_, "empty matrix");
  // Validation set problems.
  const SumTask narrow = MakeSumTask(50, 2, 2);
  ExpectError(train_.x, train_.y, train_.usable, &narrow.x, narrow.y, narrow.usable, config_,
              "val_x has 2 columns");
  ExpectError(train_.x, train_.y, train_.usable, &val_.x, train_.y, val_.usable, config_,
              "100 labels for 50");
  SequenceConfig val_window = config_;
  val_window.window = 60;
  ExpectError(train_.x, train_.y, train_.usable, &val_.x, val_.y, val_.usable, val_window,
              "val_x: no sample");
}

TEST_F(BadInputTest, Values) {
  SumTask nan_x = train_;
  nan_x.x(42, 1) = std::numeric_limits<float>::quiet_NaN();
  ExpectError(nan_x.x, nan_x.y, nan_x.usable, nullptr, {}, {}, config_, "row 42 column 1");
  SumTask inf_val = val_;
  inf_val.x(7, 0) = std::numeric_limits<float>::infinity();
  ExpectError(train_.x, train_.y, train_.usable, &inf_val.x, inf_val.y, inf_val.usable, config_,
              "val_x: row 7 column 0");
  SumTask half = train_;
  half.y[50] = 0.5f;
  half.usable[50] = 1;
  ExpectError(half.x, half.y, half.usable, nullptr, {}, {}, config_, "usable row 50 is 0.5");
  // A bad label on a row that is not usable is ignored.
  half.usable[50] = 0;
  SequenceConfig quick = config_;
  quick.epochs = 1;
  EXPECT_TRUE(TrainSequenceModel(half.x, half.y, half.usable, nullptr, {}, {}, quick).ok());
}

TEST_F(BadInputTest, Config) {
  SequenceConfig c = config_;
  c.hidden = 0;
  ExpectConfigError(c, "hidden = 0");
  c = config_;
  c.hidden = -3;
  ExpectConfigError(c, "hidden = -3");
  c = config_;
  c.cell = "rnn";
  ExpectConfigError(c, "'rnn'");
  c = config_;
  c.layers = 0;
  ExpectConfigError(c, "layers = 0");
  c = config_;
  c.window = 0;
  ExpectConfigError(c, "window = 0");
  c = config_;
  c.epochs = 0;
  ExpectConfigError(c, "epochs = 0");
  c = config_;
  c.batch = 0;
  ExpectConfigError(c, "batch = 0");
  c = config_;
  c.learning_rate = std::numeric_limits<double>::quiet_NaN();
  ExpectConfigError(c, "learning_rate");
  c = config_;
  c.weight_decay = -1;
  ExpectConfigError(c, "weight_decay");
  c = config_;
  c.patience = -1;
  ExpectConfigError(c, "patience");
  c = config_;
  c.threads = 0;
  ExpectConfigError(c, "threads = 0");
  c = config_;
  c.dropout = 1.0;
  ExpectConfigError(c, "dropout");
}

TEST(TorchSequenceReferenceTest, RejectsWindowsThatDoNotFit) {
  const SumTask train = MakeSumTask(200, 3, 1);
  SequenceConfig config = SmallConfig("gru", 1);
  config.epochs = 1;
  std::unique_ptr<RecurrentModel> model = TrainOrDie(train, nullptr, config);
  ASSERT_NE(model, nullptr);
  Result<std::unique_ptr<TorchSequenceReference>> reference =
      TorchSequenceReference::Create(*model);
  ASSERT_TRUE(reference.ok());
  const std::vector<size_t> too_early = {3};
  EXPECT_FALSE((*reference)->PredictWindows(train.x, too_early, 5).ok());
  const std::vector<size_t> past_end = {200};
  EXPECT_FALSE((*reference)->PredictWindows(train.x, past_end, 5).ok());
  EXPECT_FALSE((*reference)->PredictWindows(Matrix(10, 2), std::vector<size_t>{9}, 5).ok());
  EXPECT_FALSE((*reference)->PredictWindows(train.x, std::vector<size_t>{9}, 0).ok());
  EXPECT_FALSE(TorchSequenceReference::Create(*model, 0).ok());
}

}  // namespace
}  // namespace aits::ml
