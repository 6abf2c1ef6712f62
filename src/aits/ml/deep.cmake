# aits::ml_recurrent — LSTM / GRU inference with Eigen (no LibTorch): what the backtester and the
#   ensemble link.
# aits::ml_deep — training with LibTorch (CPU) and LibTorch as a reference; LibTorch headers are
#   included by sequence_trainer.cc only.
aits_library(NAME ml_recurrent
  SRCS recurrent_model.cc
  DEPS aits::ml Eigen3::Eigen)
aits_library(NAME ml_deep
  SRCS sequence_trainer.cc
  DEPS aits::ml_recurrent ${TORCH_LIBRARIES})

aits_test(NAME ml_recurrent SRCS recurrent_model_test.cc DEPS aits::ml_recurrent)
aits_test(NAME ml_deep SRCS sequence_trainer_test.cc DEPS aits::ml_deep)
aits_test(NAME ml_deep_slow SRCS sequence_trainer_slow_test.cc DEPS aits::ml_deep LABELS slow)
