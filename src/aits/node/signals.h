// The ML ensemble of a registered model as the decision stack's signal, for every mode and service
// that builds a node (backtest, paper, later live): ml/selection.h chooses the model,
// trading/ml_signal.h serves it. Apart from builder.h so that only what serves models links the
// registry; the rule signals are node::RuleSignalFactory (builder.h).
#pragma once

#include <optional>
#include <string>

#include "aits/ml/member_weights.h"
#include "aits/ml/selection.h"
#include "aits/node/builder.h"

namespace aits::node {

// The ensemble of `model` as a signal. Every build deserializes its own copy from the checked
// bytes, so two nodes (or two runs) never share the sequence models' state. The build fails if
// the kernel's bar period is not the model's base timeframe.
SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model);
// The same with `shadow` on trial beside it (trading::ShadowModel), its trial ending at
// `min_calls` calls.
SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model, const ml::RegistryEnsemble* shadow,
                              uint64_t min_calls);
// The same, able to start a candidate's trial in the middle of the session
// (SignalSource::StartShadow) through `registry_dir`'s models (ml::LoadRegistryEnsemble), its
// members weighed by their recent record with `member_weights` (ml/member_weights.h).
SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model, const ml::RegistryEnsemble* shadow,
                              uint64_t min_calls, std::string registry_dir,
                              std::optional<ml::MemberWeightsConfig> member_weights = {});

}  // namespace aits::node
