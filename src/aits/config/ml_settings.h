// Builds an ml::MlConfig from an ml.yaml file and the values a front end was given (the flags of
// `aits train` and `aits evaluate`; they win). Its own library, aits::config_ml, because
// MlConfig belongs to the training pipeline: only what trains links it (and LibTorch). Every key of
// the file must be known (a typo is an error naming the key and line); every value is validated
// by MlConfig::Validate. See docs/ml.md for the file format and an example.
#pragma once

#include <optional>
#include <string>

#include "aits/core/status.h"
#include "aits/ml/pipeline.h"

namespace aits::config {

struct MlFlags {
  std::string config_path;  // may be empty: defaults + flags
  std::optional<std::string> data;
  std::optional<std::string> ask;
  std::optional<int64_t> spread;
  std::optional<std::string> symbol;
  std::optional<std::string> timeframes;
  std::optional<std::string> horizon;
  std::optional<int> folds;
  std::optional<std::string> registry;
  std::optional<std::string> name;
  std::optional<int> epochs;
  std::optional<uint64_t> seed;
};

Result<ml::MlConfig> ResolveMlConfig(const MlFlags& flags);

}  // namespace aits::config
