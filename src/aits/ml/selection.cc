#include "aits/ml/selection.h"

#include <utility>

#include "aits/features/feature_engine.h"
#include "aits/models/ensemble.h"

namespace aits::ml {

Result<RegistryEnsemble> LoadRegistryEnsemble(const std::string& registry_dir,
                                              const std::string& model_ref) {
  AITS_ASSIGN_OR_RETURN(ModelRegistry registry,
                        ModelRegistry::Open(registry_dir, /*create=*/false));
  ModelRecord record;
  if (model_ref == "latest") {
    // "latest" among ensembles only (members share the registry): the newest production
    // ensemble, else the newest candidate. A rejected one is never picked implicitly.
    AITS_ASSIGN_OR_RETURN(std::vector<ModelRecord> all, registry.List());
    const ModelRecord* best = nullptr;
    std::string rejected;
    for (const auto& r : all) {
      if (r.kind != "ensemble") continue;
      if (r.status == ModelStatus::kRejected) {
        rejected += (rejected.empty() ? "" : ", ") + r.name + "@" + std::to_string(r.version);
        continue;
      }
      const auto rank = [](const ModelRecord& m) {
        return m.status == ModelStatus::kProduction  ? 2
               : m.status == ModelStatus::kCandidate ? 1
                                                     : 0;
      };
      if (rank(r) == 0) continue;
      if (best == nullptr || rank(r) > rank(*best) || (rank(r) == rank(*best) && r.id > best->id)) {
        best = &r;
      }
    }
    if (best == nullptr) {
      return NotFound("no production or candidate ensemble in registry '" + registry_dir + "'" +
                      (rejected.empty() ? std::string(" (run aits train first)")
                                        : "; rejected by their gate: " + rejected +
                                              " (trade one anyway with --model NAME@VERSION)"));
    }
    record = *best;
  } else {
    AITS_ASSIGN_OR_RETURN(record, registry.Find(model_ref));
  }
  if (record.kind != "ensemble") {
    return InvalidArgument("model '" + model_ref + "' is a " + record.kind +
                           ", not an ensemble; --strategy ml_ensemble needs an ensemble");
  }
  // The feature engine this build would compute for the model's timeframes must match the hash
  // the model was trained on; the registry refuses to hand out the bytes otherwise.
  std::string timeframes_text;
  for (const auto& tf : record.params["features"]["timeframes"]) {
    timeframes_text += (timeframes_text.empty() ? "" : ",") + tf.get<std::string>();
  }
  AITS_ASSIGN_OR_RETURN(std::vector<Duration> timeframes,
                        features::ParseTimeframes(timeframes_text));
  features::FeatureEngineConfig engine_config;
  engine_config.timeframes = timeframes;
  AITS_ASSIGN_OR_RETURN(features::FeatureEngine engine,
                        features::FeatureEngine::Create(engine_config));
  AITS_ASSIGN_OR_RETURN(std::string bytes, registry.LoadBytes(record, engine.Hash()));
  AITS_ASSIGN_OR_RETURN(Ensemble ensemble,
                        Ensemble::Deserialize(bytes, registry.AbsolutePath(record)));
  RegistryEnsemble loaded;
  loaded.description = record.name + "@" + std::to_string(record.version) + " (#" +
                       std::to_string(record.id) + ", " + std::string(ToString(record.status)) +
                       ", members: ";
  const auto kinds = ensemble.MemberKinds();
  for (size_t idx = 0; idx < kinds.size(); ++idx) {
    loaded.description += (idx ? "," : "") + kinds[idx];
  }
  loaded.description += ")";
  loaded.path = registry.AbsolutePath(record);
  loaded.bytes = std::make_shared<const std::string>(std::move(bytes));
  loaded.timeframes = std::move(timeframes);
  loaded.record = std::move(record);
  return loaded;
}

}  // namespace aits::ml
