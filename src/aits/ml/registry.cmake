# aits::ml_registry — see CMakeLists.txt
aits_library(NAME ml_registry SRCS registry.cc
  DEPS aits::ml aits::sqlite nlohmann_json::nlohmann_json)
# The version recorded with every registered model (CodeVersion()); see the top-level CMakeLists.
target_compile_definitions(aits_ml_registry PRIVATE AITS_CODE_VERSION="${AITS_CODE_VERSION}")
aits_test(NAME ml_registry SRCS registry_test.cc DEPS aits::ml_registry)
