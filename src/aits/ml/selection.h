// Model selection: which registered ensemble a backtest, a paper session or (later) a live node
// trades. Shared by every command and service that serves a model, so "latest" means the same
// thing everywhere. Serving only: no LibTorch (docs/ml.md, "Serving and training").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/ml/registry.h"

namespace aits::ml {

// An ensemble from the registry, with its bytes already checked against the registry row and
// against the feature-set hash this build computes for the model's timeframes.
struct RegistryEnsemble {
  ModelRecord record;
  std::shared_ptr<const std::string> bytes;
  std::string path;
  std::vector<Duration> timeframes;  // the first is the base timeframe (the kernel's bars)
  std::string description;           // "NAME@V (#ID, status, members: ...)"
};

// Loads the ensemble `model_ref` from the registry at `registry_dir`:
//   "latest"  the newest production ensemble, else the newest candidate; never a rejected one
//             (NotFound naming the rejected ones, which NAME@VERSION can still reach);
//   "NAME", "NAME@3", "#12"  as ModelRegistry::Find.
// InvalidArgument if the reference names a member rather than an ensemble; the registry's errors
// (NotFound, DataLoss for a checksum or feature-set mismatch) are passed up unchanged.
Result<RegistryEnsemble> LoadRegistryEnsemble(const std::string& registry_dir,
                                              const std::string& model_ref);

}  // namespace aits::ml
