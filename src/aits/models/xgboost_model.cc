#include "aits/models/xgboost_model.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace aits::ml {

namespace internal {
namespace {

// XGBoost keeps per-booster results (predictions, saved buffers) in a thread_local map that
// ~LearnerImpl erases from. At process exit the main thread's thread_local objects are destroyed
// before static ones, so freeing a booster held by a static (a cached model) would touch the
// destroyed map and corrupt the heap. A thread_local sentinel of our own, touched wherever XGBoost
// may create such an entry, records that the main thread's thread_locals are gone; boosters freed
// after that are left to the OS.
const std::thread::id kMainThread = std::this_thread::get_id();  // static init: the main thread
std::atomic<bool> main_thread_exiting{false};
struct ExitSentinel {
  ~ExitSentinel() {
    if (std::this_thread::get_id() == kMainThread) main_thread_exiting = true;
  }
};
thread_local ExitSentinel exit_sentinel;

}  // namespace

void TouchExitSentinel() { static_cast<void>(&exit_sentinel); }

void BoosterDeleter::operator()(void* handle) const {
  if (main_thread_exiting.load()) {
    // Kept reachable from a never-destroyed global so leak checkers see it as intended.
    static std::mutex mutex;
    static auto* const kKeptAtExit = new std::vector<void*>();
    std::lock_guard<std::mutex> lock(mutex);
    kKeptAtExit->push_back(handle);
    return;
  }
  XGBoosterFree(handle);
}
}  // namespace internal

namespace {

constexpr uint32_t kPayloadVersion = 1;

Status XgbError(std::string_view call) {
  return Internal("xgboost: " + std::string(call) + ": " + XGBGetLastError());
}

#define AITS_XGB_CALL(call)                  \
  do {                                       \
    if ((call) != 0) return XgbError(#call); \
  } while (0)

struct DMatrixDeleter {
  void operator()(void* handle) const { XGDMatrixFree(handle); }
};
using DMatrixPtr = std::unique_ptr<void, DMatrixDeleter>;

Result<DMatrixPtr> MakeDMatrix(const float* data, size_t rows, size_t cols,
                               std::span<const float> labels, int threads) {
  DMatrixHandle handle = nullptr;
  AITS_XGB_CALL(XGDMatrixCreateFromMat_omp(
      data, rows, cols, std::numeric_limits<float>::quiet_NaN(), &handle, threads));
  DMatrixPtr matrix(handle);
  if (!labels.empty()) {
    AITS_XGB_CALL(XGDMatrixSetFloatInfo(handle, "label", labels.data(), labels.size()));
  }
  return matrix;
}

// Shortest text that reads back as the same double, for XGBoost's string parameters.
std::string Number(double v) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, result.ptr);
}

Status CheckConfig(const XgbConfig& c) {
  auto bad = [](std::string_view field, const std::string& value, std::string_view rule) {
    return InvalidArgument("xgboost config: " + std::string(field) + " = " + value + " (" +
                           std::string(rule) + ")");
  };
  if (c.rounds < 1) return bad("rounds", std::to_string(c.rounds), "must be >= 1");
  if (c.max_depth < 1 || c.max_depth > 30) {
    return bad("max_depth", std::to_string(c.max_depth), "must be in [1, 30]");
  }
  if (!(c.eta > 0 && c.eta <= 1)) return bad("eta", Number(c.eta), "must be in (0, 1]");
  if (!(c.subsample > 0 && c.subsample <= 1)) {
    return bad("subsample", Number(c.subsample), "must be in (0, 1]");
  }
  if (!(c.colsample_bytree > 0 && c.colsample_bytree <= 1)) {
    return bad("colsample_bytree", Number(c.colsample_bytree), "must be in (0, 1]");
  }
  if (!(c.min_child_weight >= 0) || !std::isfinite(c.min_child_weight)) {
    return bad("min_child_weight", Number(c.min_child_weight), "must be finite and >= 0");
  }
  if (!(c.lambda >= 0) || !std::isfinite(c.lambda)) {
    return bad("lambda", Number(c.lambda), "must be finite and >= 0");
  }
  if (c.early_stopping_rounds < 0) {
    return bad("early_stopping_rounds", std::to_string(c.early_stopping_rounds), "must be >= 0");
  }
  if (c.threads < 1) return bad("threads", std::to_string(c.threads), "must be >= 1");
  if (c.seed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return bad("seed", std::to_string(c.seed), "must fit in int64");
  }
  if (c.tree_method != "hist" && c.tree_method != "approx" && c.tree_method != "exact") {
    return bad("tree_method", c.tree_method, "must be hist, approx or exact");
  }
  return Status::Ok();
}

// "[3]\ttrain-logloss:0.6\tvalid-logloss:0.7" -> the value after "<set>-<metric>:", or NaN.
double ParseMetric(std::string_view text, std::string_view set, std::string_view metric) {
  const std::string key = std::string(set) + "-" + std::string(metric) + ":";
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return std::numeric_limits<double>::quiet_NaN();
  const char* begin = text.data() + at + key.size();
  double value = std::numeric_limits<double>::quiet_NaN();
  const auto result = std::from_chars(begin, text.data() + text.size(), value);
  if (result.ec != std::errc()) return std::numeric_limits<double>::quiet_NaN();
  return value;
}

Result<std::string> SaveJson(BoosterHandle booster) {
  internal::TouchExitSentinel();
  bst_ulong length = 0;
  const char* bytes = nullptr;
  AITS_XGB_CALL(XGBoosterSaveModelToBuffer(booster, R"({"format": "json"})", &length, &bytes));
  return std::string(bytes, length);
}

// {"data": [pointer, read-only], ...}: XGBoost's __array_interface__ for a row-major float block.
std::string ArrayInterface(const float* data, size_t rows, size_t cols) {
  return R"({"data": [)" + std::to_string(reinterpret_cast<uintptr_t>(data)) +
         R"(, true], "shape": [)" + std::to_string(rows) + ", " + std::to_string(cols) +
         R"(], "typestr": "<f4", "version": 3})";
}

constexpr const char* kPredictConfig =
    R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0,)"
    R"( "strict_shape": false, "missing": NaN, "cache_id": 0})";

}  // namespace

float XgbModel::Sigmoid(float margin) {
  // xgboost/src/common/math.h (1.7): clamp so expf cannot overflow, 1 / (1 + e^-x).
  constexpr float kEps = 1e-16f;
  const float x = std::min(-margin, 88.7f);
  const float denominator = std::exp(x) + 1.0f + kEps;
  return 1.0f / denominator;
}

Status XgbModel::ConvertTrees(std::string_view json_text) {
  // XGBoost 1.7 JSON model schema (doc/model.schema): learner.gradient_booster.model.trees[i]
  // holds parallel arrays indexed by node id; a leaf has left_children == -1 and its value in
  // split_conditions. base_score is the user's value in probability space for binary:logistic.
  try {
    const auto doc = nlohmann::json::parse(json_text);
    const auto& learner = doc.at("learner");
    const std::string objective = learner.at("objective").at("name").get<std::string>();
    const std::string expected = regression_ ? "reg:squarederror" : "binary:logistic";
    if (objective != expected) {
      return DataLoss("xgboost model: objective is " + objective + ", expected " + expected);
    }
    const auto& model_param = learner.at("learner_model_param");
    const float base_score = std::stof(model_param.at("base_score").get<std::string>());
    const auto num_feature = std::stoull(model_param.at("num_feature").get<std::string>());
    if (num_feature != num_features_) {
      return DataLoss("xgboost model: " + std::to_string(num_feature) + " features, expected " +
                      std::to_string(num_features_));
    }
    const auto& booster = learner.at("gradient_booster");
    if (booster.at("name").get<std::string>() != "gbtree") {
      return DataLoss("xgboost model: booster " + booster.at("name").get<std::string>() +
                      " is not gbtree");
    }
    FlatTrees trees(num_features_);
    // LogisticRegression::ProbToMargin in float, as the learner computes the base margin.
    trees.set_base(regression_ ? base_score : -std::log(1.0f / base_score - 1.0f));
    const auto& json_trees = booster.at("model").at("trees");
    for (size_t t = 0; t < json_trees.size(); ++t) {
      const auto& tree = json_trees[t];
      const auto left = tree.at("left_children").get<std::vector<int64_t>>();
      const auto right = tree.at("right_children").get<std::vector<int64_t>>();
      const auto feature = tree.at("split_indices").get<std::vector<int64_t>>();
      const auto condition = tree.at("split_conditions").get<std::vector<double>>();
      const auto& default_left = tree.at("default_left");
      const size_t n = left.size();
      if (n == 0 || right.size() != n || feature.size() != n || condition.size() != n ||
          default_left.size() != n) {
        return DataLoss("xgboost model: tree " + std::to_string(t) + " has arrays of unequal size");
      }
      if (tree.contains("categories") && !tree.at("categories").empty()) {
        return DataLoss("xgboost model: tree " + std::to_string(t) + " has categorical splits");
      }
      // (xgboost node, our node) pairs still to expand; each xgboost node is visited once.
      std::vector<std::pair<int64_t, uint32_t>> stack{{0, trees.StartTree()}};
      size_t visited = 0;
      while (!stack.empty()) {
        const auto [node, ours] = stack.back();
        stack.pop_back();
        if (node < 0 || static_cast<size_t>(node) >= n || ++visited > n) {
          return DataLoss("xgboost model: tree " + std::to_string(t) + " is malformed at node " +
                          std::to_string(node));
        }
        if (left[node] == -1) {
          trees.SetLeaf(ours, static_cast<float>(condition[node]));
          continue;
        }
        if (feature[node] < 0 || static_cast<size_t>(feature[node]) >= num_features_) {
          return DataLoss("xgboost model: tree " + std::to_string(t) + " node " +
                          std::to_string(node) + " splits on feature " +
                          std::to_string(feature[node]));
        }
        const auto& dl = default_left[node];
        const bool go_left = dl.is_boolean() ? dl.get<bool>() : dl.get<int>() != 0;
        const uint32_t child = trees.AddChildren(ours, static_cast<uint32_t>(feature[node]),
                                                 static_cast<float>(condition[node]), go_left);
        stack.push_back({right[node], child + 1});
        stack.push_back({left[node], child});
      }
    }
    AITS_RETURN_IF_ERROR(trees.Validate());
    trees.Finish();
    trees_ = std::move(trees);
  } catch (const std::exception& e) {
    return DataLoss(std::string("xgboost model JSON: ") + e.what());
  }
  return Status::Ok();
}

namespace {

Status SetParam(BoosterHandle handle, const char* name, const std::string& value) {
  if (XGBoosterSetParam(handle, name, value.c_str()) != 0) {
    return InvalidArgument("xgboost: parameter " + std::string(name) + " = " + value + ": " +
                           XGBGetLastError());
  }
  return Status::Ok();
}

// What each round uses; set for training and again for a continuation (a saved model does not
// keep them all).
Status SetRoundParams(BoosterHandle handle, const XgbConfig& config) {
  const std::pair<const char*, std::string> params[] = {
      {"eval_metric", config.regression ? "rmse" : "logloss"},
      {"tree_method", config.tree_method},
      {"max_depth", std::to_string(config.max_depth)},
      {"eta", Number(config.eta)},
      {"subsample", Number(config.subsample)},
      {"colsample_bytree", Number(config.colsample_bytree)},
      {"min_child_weight", Number(config.min_child_weight)},
      {"lambda", Number(config.lambda)},
      {"nthread", std::to_string(config.threads)},
      {"seed", std::to_string(config.seed)},
  };
  for (const auto& [name, value] : params) AITS_RETURN_IF_ERROR(SetParam(handle, name, value));
  return Status::Ok();
}

// The training rows (and validation rows) as DMatrices, and a booster caching them: what the
// rounds of Train and Continue run on.
struct Rounds {
  DMatrixPtr train;
  DMatrixPtr valid;
  internal::BoosterPtr booster;

  static Result<Rounds> Make(const Matrix& x, std::span<const float> y,
                             const ValidationSet& validation, int threads) {
    Rounds rounds;
    AITS_ASSIGN_OR_RETURN(rounds.train, MakeDMatrix(x.data(), x.rows(), x.cols(), y, threads));
    if (!validation.empty()) {
      AITS_ASSIGN_OR_RETURN(rounds.valid, MakeDMatrix(validation.x->data(), validation.x->rows(),
                                                      validation.x->cols(), validation.y, threads));
    }
    DMatrixHandle cache[] = {rounds.train.get(), rounds.valid.get()};
    BoosterHandle handle = nullptr;
    AITS_XGB_CALL(XGBoosterCreate(cache, rounds.valid ? 2 : 1, &handle));
    rounds.booster.reset(handle);
    return rounds;
  }
};

// Adds config.rounds trees to a booster that holds `first` already, reporting each round and
// stopping early on the validation metric of the added rounds; a stopped booster is cut after
// its best round (booster is replaced by the slice). Returns the best round's index in the
// whole booster.
Result<int> Boost(internal::BoosterPtr& booster, int first, DMatrixHandle train,
                  DMatrixHandle valid, const XgbConfig& config, const TrainProgress& progress) {
  const bool early_stopping = config.early_stopping_rounds > 0 && valid != nullptr;
  const std::string metric = config.regression ? "rmse" : "logloss";
  BoosterHandle handle = booster.get();
  DMatrixHandle cache[] = {train, valid};
  const char* names[] = {"train", "valid"};
  double best_metric = std::numeric_limits<double>::infinity();
  int best_iteration = -1;
  int rounds_done = 0;
  for (int iteration = 0; iteration < config.rounds; ++iteration) {
    AITS_XGB_CALL(XGBoosterUpdateOneIter(handle, first + iteration, train));
    rounds_done = iteration + 1;
    if (!progress && !early_stopping) continue;
    const char* text = nullptr;
    AITS_XGB_CALL(
        XGBoosterEvalOneIter(handle, first + iteration, cache, names, valid ? 2 : 1, &text));
    const double train_metric = ParseMetric(text, "train", metric);
    const double valid_metric =
        valid ? ParseMetric(text, "valid", metric) : std::numeric_limits<double>::quiet_NaN();
    if (progress) progress(iteration, train_metric, valid_metric);
    if (!early_stopping) continue;
    if (!std::isfinite(valid_metric)) {
      return Internal(std::string("xgboost: cannot read the validation metric from \"") + text +
                      "\"");
    }
    if (valid_metric < best_metric) {
      best_metric = valid_metric;
      best_iteration = iteration;
    } else if (iteration - best_iteration >= config.early_stopping_rounds) {
      break;
    }
  }
  if (!early_stopping) best_iteration = rounds_done - 1;
  if (best_iteration + 1 < rounds_done) {
    BoosterHandle sliced = nullptr;
    AITS_XGB_CALL(XGBoosterSlice(handle, 0, first + best_iteration + 1, 1, &sliced));
    booster.reset(sliced);
  }
  return first + best_iteration;
}

}  // namespace

Result<std::unique_ptr<XgbModel>> XgbModel::Train(const Matrix& x, std::span<const float> y,
                                                  const XgbConfig& config,
                                                  const ValidationSet& validation,
                                                  const TrainProgress& progress) {
  AITS_RETURN_IF_ERROR(CheckConfig(config));
  AITS_RETURN_IF_ERROR(CheckTrainingData("xgboost", x, y, config.regression, validation));
  AITS_ASSIGN_OR_RETURN(Rounds rounds, Rounds::Make(x, y, validation, config.threads));
  BoosterHandle handle = rounds.booster.get();
  const DMatrixHandle train = rounds.train.get();
  const DMatrixHandle valid = rounds.valid.get();
  internal::BoosterPtr& booster = rounds.booster;

  // Start from the label mean: fewer rounds spent learning a constant. Clamped away from 0 and 1
  // because binary:logistic needs a base_score strictly inside (0, 1).
  double mean = 0;
  for (const float label : y) mean += label;
  mean /= static_cast<double>(y.size());
  if (!config.regression) mean = std::clamp(mean, 1e-3, 1 - 1e-3);
  const std::pair<const char*, std::string> params[] = {
      {"objective", config.regression ? "reg:squarederror" : "binary:logistic"},
      {"base_score", Number(static_cast<float>(mean))},
  };
  for (const auto& [name, value] : params) AITS_RETURN_IF_ERROR(SetParam(handle, name, value));
  AITS_RETURN_IF_ERROR(SetRoundParams(handle, config));

  AITS_ASSIGN_OR_RETURN(const int best_iteration,
                        Boost(booster, 0, train, valid, config, progress));
  return FromBooster(booster.get(), config.regression, x.cols(), best_iteration);
}

Result<std::unique_ptr<XgbModel>> XgbModel::Continue(const Matrix& x, std::span<const float> y,
                                                     const XgbConfig& config,
                                                     const ValidationSet& validation,
                                                     const TrainProgress& progress) const {
  AITS_RETURN_IF_ERROR(CheckConfig(config));
  AITS_RETURN_IF_ERROR(CheckTrainingData("xgboost", x, y, config.regression, validation));
  if (config.regression != regression_) {
    return InvalidArgument(std::string("xgboost: continuing a ") +
                           (regression_ ? "regressor" : "classifier") + " as a " +
                           (config.regression ? "regressor" : "classifier"));
  }
  if (x.cols() != num_features_) {
    return InvalidArgument("xgboost: continuing a model of " + std::to_string(num_features_) +
                           " features on rows of " + std::to_string(x.cols()));
  }
  AITS_ASSIGN_OR_RETURN(Rounds rounds, Rounds::Make(x, y, validation, config.threads));
  BoosterHandle handle = rounds.booster.get();
  const DMatrixHandle train = rounds.train.get();
  const DMatrixHandle valid = rounds.valid.get();
  internal::BoosterPtr& booster = rounds.booster;
  // The saved model brings its objective, base score and trees; the rounds' own settings are
  // set again (a saved model keeps only some of them).
  AITS_XGB_CALL(XGBoosterLoadModelFromBuffer(handle, model_json_.data(), model_json_.size()));
  AITS_RETURN_IF_ERROR(SetRoundParams(handle, config));
  AITS_ASSIGN_OR_RETURN(const int best_added,
                        Boost(booster, num_rounds(), train, valid, config, progress));
  return FromBooster(booster.get(), regression_, num_features_, best_added);
}

Result<std::unique_ptr<XgbModel>> XgbModel::FromBooster(void* booster, bool regression,
                                                        size_t features, int best_iteration) {
  std::unique_ptr<XgbModel> model(new XgbModel());
  model->regression_ = regression;
  model->num_features_ = features;
  model->best_iteration_ = best_iteration;
  AITS_ASSIGN_OR_RETURN(model->model_json_, SaveJson(booster));
  // Reload from the saved JSON: the in-memory booster then is exactly what a loaded file gives
  // (no training caches, no references to the DMatrices freed by the caller).
  BoosterHandle fresh = nullptr;
  AITS_XGB_CALL(XGBoosterCreate(nullptr, 0, &fresh));
  model->booster_.reset(fresh);
  AITS_XGB_CALL(
      XGBoosterLoadModelFromBuffer(fresh, model->model_json_.data(), model->model_json_.size()));
  AITS_RETURN_IF_ERROR(model->SetInferenceThreads(1));
  AITS_RETURN_IF_ERROR(model->ConvertTrees(model->model_json_));
  return model;
}

Status XgbModel::SetInferenceThreads(int threads) {
  if (threads < 1)
    return InvalidArgument("xgboost: inference threads = " + std::to_string(threads) +
                           " (must be >= 1)");
  AITS_XGB_CALL(XGBoosterSetParam(booster_.get(), "nthread", std::to_string(threads).c_str()));
  return Status::Ok();
}

std::string XgbModel::Serialize() const {
  ByteWriter out;
  out.U32(kPayloadVersion);
  out.U8(regression_ ? 1 : 0);
  out.U64(num_features_);
  out.I64(best_iteration_);
  out.Bytes(model_json_);
  trees_.Serialize(&out);
  return WrapModel(Kind(), out.data());
}

Result<std::unique_ptr<XgbModel>> XgbModel::Load(std::string_view bytes, std::string_view what) {
  AITS_ASSIGN_OR_RETURN(ModelEnvelope envelope, UnwrapModel(bytes, what));
  return FromPayload(envelope.kind, envelope.payload, what);
}

Result<std::unique_ptr<XgbModel>> XgbModel::FromPayload(std::string_view kind,
                                                        std::string_view payload,
                                                        std::string_view what) {
  if (kind != kKindClassifier && kind != kKindRegressor) {
    return InvalidArgument(std::string(what) + ": model kind is " + std::string(kind) +
                           ", not an xgboost model");
  }
  ByteReader in(payload, std::string(what));
  AITS_ASSIGN_OR_RETURN(const uint32_t version, in.U32("xgboost.version"));
  if (version != kPayloadVersion) {
    return DataLoss(std::string(what) + ": xgboost payload version " + std::to_string(version) +
                    " (this build reads " + std::to_string(kPayloadVersion) + ")");
  }
  std::unique_ptr<XgbModel> model(new XgbModel());
  AITS_ASSIGN_OR_RETURN(const uint8_t regression, in.U8("xgboost.regression"));
  model->regression_ = regression != 0;
  if (model->regression_ != (kind == kKindRegressor)) {
    return DataLoss(std::string(what) + ": xgboost regression flag " + std::to_string(regression) +
                    " contradicts kind " + std::string(kind));
  }
  AITS_ASSIGN_OR_RETURN(model->num_features_, in.U64("xgboost.features"));
  AITS_ASSIGN_OR_RETURN(const int64_t best, in.I64("xgboost.best_iteration"));
  model->best_iteration_ = static_cast<int>(best);
  AITS_ASSIGN_OR_RETURN(model->model_json_, in.Bytes("xgboost.model"));
  AITS_ASSIGN_OR_RETURN(model->trees_, FlatTrees::Deserialize(&in));
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  if (model->trees_.num_features() != model->num_features_) {
    return DataLoss(std::string(what) + ": xgboost trees have " +
                    std::to_string(model->trees_.num_features()) + " features, model " +
                    std::to_string(model->num_features_));
  }
  BoosterHandle handle = nullptr;
  if (XGBoosterCreate(nullptr, 0, &handle) != 0) return XgbError("XGBoosterCreate");
  model->booster_.reset(handle);
  if (XGBoosterLoadModelFromBuffer(handle, model->model_json_.data(), model->model_json_.size()) !=
      0) {
    return DataLoss(std::string(what) + ": xgboost cannot read its model: " + XGBGetLastError());
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(handle, &features) != 0) return XgbError("XGBoosterGetNumFeature");
  if (features != model->num_features_) {
    return DataLoss(std::string(what) + ": xgboost model has " + std::to_string(features) +
                    " features, payload says " + std::to_string(model->num_features_));
  }
  AITS_RETURN_IF_ERROR(model->SetInferenceThreads(1));
  return model;
}

Status XgbModel::XgbPredict(const Matrix& x, std::span<float> out) const {
  internal::TouchExitSentinel();
  if (x.cols() != num_features_ || out.size() != x.rows()) {
    return InvalidArgument("xgboost predict: " + std::to_string(x.rows()) + "x" +
                           std::to_string(x.cols()) + " input, " + std::to_string(out.size()) +
                           " outputs, model has " + std::to_string(num_features_) + " features");
  }
  if (x.rows() == 0) return Status::Ok();
  const std::string array = ArrayInterface(x.data(), x.rows(), x.cols());
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  AITS_XGB_CALL(XGBoosterPredictFromDense(booster_.get(), array.c_str(), kPredictConfig, nullptr,
                                          &shape, &dims, &result));
  std::copy(result, result + x.rows(), out.begin());
  return Status::Ok();
}

void XgbModel::PredictBatch(const Matrix& x, std::span<float> out) const {
  trees_.SumBatch(x.data(), x.rows(), x.cols(), out.data());
  if (!regression_) {
    for (float& value : out) value = Sigmoid(value);
  }
}

void XgbModel::Contributions(std::span<const float> row, std::span<float> out) const {
  internal::TouchExitSentinel();
  std::fill(out.begin(), out.end(), std::numeric_limits<float>::quiet_NaN());
  if (row.size() != num_features_ || out.size() != num_features_ + 1) return;
  auto matrix = MakeDMatrix(row.data(), 1, row.size(), {}, 1);
  if (!matrix.ok()) return;
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDMatrix(
          booster_.get(), matrix->get(),
          R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})",
          &shape, &dims, &result) != 0) {
    return;
  }
  size_t count = 1;
  for (bst_ulong d = 0; d < dims; ++d) count *= shape[d];
  if (count != out.size()) return;
  std::copy(result, result + count, out.begin());
}

Result<std::vector<std::pair<std::string, double>>> XgbModel::FeatureImportance(
    std::span<const std::string> names) const {
  internal::TouchExitSentinel();
  if (names.size() != num_features_) {
    return InvalidArgument("xgboost importance: " + std::to_string(names.size()) + " names for " +
                           std::to_string(num_features_) + " features");
  }
  bst_ulong count = 0;
  const char** features = nullptr;
  bst_ulong dims = 0;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  AITS_XGB_CALL(XGBoosterFeatureScore(booster_.get(), R"({"importance_type": "gain"})", &count,
                                      &features, &dims, &shape, &scores));
  std::vector<std::pair<std::string, double>> result;
  for (bst_ulong i = 0; i < count; ++i) {
    // Without feature names XGBoost calls feature j "f<j>".
    const std::string_view name = features[i];
    size_t index = 0;
    const auto parsed = std::from_chars(name.data() + 1, name.data() + name.size(), index);
    if (name.empty() || name[0] != 'f' || parsed.ec != std::errc() || index >= names.size()) {
      return Internal("xgboost importance: unexpected feature name " + std::string(name));
    }
    result.emplace_back(names[index], scores[i]);
  }
  std::stable_sort(result.begin(), result.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return result;
}

}  // namespace aits::ml
