# aits::ml_learners — XGBoost (C API), random forest and logistic regression; see
# CMakeLists.txt.
aits_library(NAME ml_learners
  SRCS flat_trees.cc xgboost_model.cc random_forest.cc logistic_regression.cc row_models.cc
  DEPS aits::ml PkgConfig::XGBOOST Eigen3::Eigen nlohmann_json::nlohmann_json Threads::Threads)

aits_test(NAME ml_learners SRCS learners_test.cc DEPS aits::ml_learners)
