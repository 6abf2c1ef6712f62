#include "aits/node/signals.h"

#include <utility>

#include "aits/models/ensemble.h"
#include "aits/trading/ml_signal.h"

namespace aits::node {

SignalFactory MlSignalFactory(const ml::RegistryEnsemble& model) {
  return [bytes = model.bytes, what = model.path, timeframes = model.timeframes](
             const Instrument& instrument,
             Duration bar_period) -> Result<std::unique_ptr<trading::SignalSource>> {
    AITS_ASSIGN_OR_RETURN(ml::Ensemble ensemble, ml::Ensemble::Deserialize(*bytes, what));
    return trading::MakeMlSignal(instrument, bar_period, std::move(ensemble), timeframes);
  };
}

}  // namespace aits::node
