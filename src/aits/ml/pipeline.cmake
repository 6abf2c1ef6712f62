#Stage 4 and the pipeline.ml_ensemble is what a backtest or live strategy links : inference only,
#no LibTorch.ml_pipeline trains(LibTorch through ml_deep) and evaluates.
aits_library(NAME ml_ensemble SRCS ensemble.cc ml_strategy.cc DEPS aits::ml_unsupervised
                 aits::ml_learners aits::ml_recurrent aits::features aits::strategy)
    aits_library(NAME ml_pipeline SRCS pipeline.cc evaluation_report.cc DEPS
                     aits::ml_ensemble aits::ml_features aits::ml_deep aits::ml_registry
                         aits::kernel aits::report nlohmann_json::nlohmann_json)

aits_test(NAME ml_pipeline SRCS pipeline_test.cc DEPS aits::ml_pipeline)
aits_test(NAME ml_pipeline_slow SRCS pipeline_slow_test.cc DEPS aits::ml_pipeline LABELS slow)
