# aits::ml_unsupervised — see CMakeLists.txt
aits_library(NAME ml_unsupervised SRCS kmeans.cc pca.cc isolation_forest.cc
  HDRS internal/unsupervised_util.h
  DEPS aits::ml Eigen3::Eigen)
aits_test(NAME ml_unsupervised SRCS unsupervised_test.cc DEPS aits::ml_unsupervised)
