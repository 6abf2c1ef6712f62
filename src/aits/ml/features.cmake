# aits::ml_features — feature datasets built from market data files with the streaming feature
# engine (see CMakeLists.txt and feature_dataset.h).
aits_library(NAME ml_features SRCS feature_dataset.cc
  DEPS aits::ml aits::features aits::data)
aits_test(NAME ml_features SRCS feature_dataset_test.cc DEPS aits::ml_features)
