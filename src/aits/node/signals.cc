#include "aits/node/signals.h"

#include <optional>
#include <string>
#include <utility>

#include "aits/models/ensemble.h"
#include "aits/trading/ml_signal.h"

namespace aits::node {

SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model) {
  return MlSignalFactory(model, nullptr, 0);
}

SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model, const ml::RegistryEnsemble* shadow,
                              uint64_t min_calls) {
  const auto name = [](const ml::RegistryEnsemble& m) {
    return m.record.name + "@" + std::to_string(m.record.version);
  };
  std::optional<ml::RegistryEnsemble> candidate;
  if (shadow != nullptr) candidate = *shadow;
  return [bytes = model.bytes, what = model.path, timeframes = model.timeframes,
          production = name(model), candidate = std::move(candidate),
          candidate_name = shadow != nullptr ? name(*shadow) : std::string(),
          min_calls](const Instrument& instrument,
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
                                 /*top_features=*/5, std::move(trial));
  };
}

}  // namespace aits::node
