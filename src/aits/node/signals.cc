#include "aits/node/signals.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "aits/models/ensemble.h"
#include "aits/trading/ml_signal.h"

namespace aits::node {

SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model) {
  return MlSignalFactory(model, nullptr, 0);
}

namespace {

std::string NameOf(const ml::RegistryEnsemble& model) {
  return model.record.name + "@" + std::to_string(model.record.version);
}

// Loads a candidate from the registry on the kernel's thread, once per trial: a model file read
// and deserialized while the bar waits (docs/ml.md, "The loop").
trading::ShadowLoader LoaderOf(std::string registry_dir) {
  if (registry_dir.empty()) return {};
  return [registry_dir = std::move(registry_dir)](
             std::string_view candidate,
             std::string_view checksum) -> Result<trading::ShadowModel> {
    AITS_ASSIGN_OR_RETURN(ml::RegistryEnsemble loaded,
                          ml::LoadRegistryEnsemble(registry_dir, std::string(candidate)));
    if (!checksum.empty() && loaded.record.sha256_or_fnv != checksum) {
      return Status(StatusCode::kFailedPrecondition,
                    "candidate " + std::string(candidate) + " in " + registry_dir +
                        " is not the one named (checksum " + loaded.record.sha256_or_fnv +
                        ", named " + std::string(checksum) + ")");
    }
    AITS_ASSIGN_OR_RETURN(ml::Ensemble ensemble,
                          ml::Ensemble::Deserialize(*loaded.bytes, loaded.path));
    return trading::ShadowModel{.candidate = std::move(ensemble), .candidate_name = NameOf(loaded)};
  };
}

}  // namespace

SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model, const ml::RegistryEnsemble* shadow,
                              uint64_t min_calls) {
  return MlSignalFactory(model, shadow, min_calls, std::string());
}

SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model, const ml::RegistryEnsemble* shadow,
                              uint64_t min_calls, std::string registry_dir,
                              std::optional<ml::MemberWeightsConfig> member_weights) {
  const auto name = [](const ml::RegistryEnsemble& m) { return NameOf(m); };
  std::optional<ml::RegistryEnsemble> candidate;
  if (shadow != nullptr) candidate = *shadow;
  return [bytes = model.bytes, what = model.path, timeframes = model.timeframes,
          production = name(model), candidate = std::move(candidate),
          candidate_name = shadow != nullptr ? name(*shadow) : std::string(), min_calls,
          loader = LoaderOf(std::move(registry_dir)),
          member_weights](const Instrument& instrument,
                          Duration bar_period) -> Result<std::unique_ptr<trading::SignalSource>> {
    AITS_ASSIGN_OR_RETURN(ml::Ensemble ensemble, ml::Ensemble::Deserialize(*bytes, what));
    std::optional<trading::ShadowModel> trial;
    if (candidate) {
      AITS_ASSIGN_OR_RETURN(ml::Ensemble other,
                            ml::Ensemble::Deserialize(*candidate->bytes, candidate->path));
      trial = trading::ShadowModel{.candidate = std::move(other),
                                   .candidate_name = candidate_name,
                                   .production_name = production,
                                   .config = {.min_calls = static_cast<size_t>(min_calls)}};
    }
    return trading::MakeMlSignal(instrument, bar_period, std::move(ensemble), timeframes,
                                 trading::MlSignalOptions{.top_features = 5,
                                                          .shadow = std::move(trial),
                                                          .model_name = production,
                                                          .loader = loader,
                                                          .member_weights = member_weights});
  };
}

}  // namespace aits::node
