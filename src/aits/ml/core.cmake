# aits::ml — datasets, serialization, labels, splits, metrics (see CMakeLists.txt).
aits_library(NAME ml
  SRCS dataset.cc serialize.cc model.cc labels.cc splits.cc metrics.cc
  DEPS aits::core Eigen3::Eigen nlohmann_json::nlohmann_json)

aits_test(NAME ml
  SRCS dataset_test.cc serialize_test.cc labels_test.cc splits_test.cc metrics_test.cc
  DEPS aits::ml)
