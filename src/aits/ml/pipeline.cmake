# Stage 4 and the pipeline.
#   aits::ml_ensemble   the ensemble and the score-replay strategy of `aits evaluate`: inference
#                       only, no LibTorch; what a backtest or a live node links.
#   aits::ml_selection  which registered ensemble to trade ("latest", NAME@V): serving, no LibTorch.
#   aits::ml_pipeline   train / evaluate (LibTorch through ml_deep); only `aits-train` links it.
aits_library(NAME ml_ensemble SRCS ensemble.cc ml_strategy.cc
  DEPS aits::ml_unsupervised aits::ml_learners aits::ml_recurrent aits::features aits::strategy)
aits_library(NAME ml_selection SRCS selection.cc
  DEPS aits::ml_ensemble aits::ml_registry aits::features)
aits_library(NAME ml_pipeline SRCS pipeline.cc evaluation_report.cc
  DEPS aits::ml_ensemble aits::ml_features aits::ml_deep aits::ml_registry aits::backtest
       aits::report nlohmann_json::nlohmann_json)

aits_test(NAME ml_pipeline SRCS pipeline_test.cc DEPS aits::ml_pipeline aits::trading)
aits_test(NAME ml_pipeline_slow SRCS pipeline_slow_test.cc DEPS aits::ml_pipeline LABELS slow)
