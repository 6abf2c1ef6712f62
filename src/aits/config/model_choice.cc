#include "aits/config/model_choice.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "aits/log/log.h"
#include "aits/node/signals.h"

namespace aits::config {

Status InstallMlEnsemble(const std::string& registry_dir, const std::string& model_ref,
                         backtest::BacktestConfig* config, InstalledModel* installed) {
  AITS_ASSIGN_OR_RETURN(ml::RegistryEnsemble loaded,
                        ml::LoadRegistryEnsemble(registry_dir, model_ref));
  LogModelChoice(registry_dir, model_ref, loaded);
  if (!config->decision) {
    return FailedPrecondition(
        "ml_ensemble backtests trade through the decision stack, which this "
        "configuration lacks");
  }
  // The kernel's bars are the model's base timeframe, as in a paper session of the model.
  config->kernel.bar_period = loaded.timeframes.front();
  config->strategy = "ml_ensemble";
  config->decision->signal = node::MlSignalFactory(loaded);
  installed->train_begin = loaded.record.train_begin;
  installed->train_end = loaded.record.train_end;
  installed->description = loaded.description;
  return Status::Ok();
}

Status ChooseBacktestModel(const BacktestFlags& flags, backtest::BacktestConfig* config,
                           InstalledModel* installed) {
  if (config->strategy == "ml_ensemble") {
    return InstallMlEnsemble(flags.registry.value_or("models"), flags.model.value_or("latest"),
                             config, installed);
  }
  if (flags.model) {
    return InvalidArgument(
        "--model is for --signal ml_ensemble (or --strategy ml_ensemble); "
        "this run trades '" +
        config->strategy + "'");
  }
  return Status::Ok();
}

void LogModelChoice(const std::string& registry_dir, const std::string& model_ref,
                    const ml::RegistryEnsemble& chosen) {
  AITS_LOG_INFO("registry", "model chosen: " + chosen.description,
                {{"registry", registry_dir},
                 {"reference", model_ref},
                 {"model", chosen.record.name + "@" + std::to_string(chosen.record.version)},
                 {"id", std::to_string(chosen.record.id)},
                 {"checksum", chosen.record.sha256_or_fnv}});
}

session::SignalFactory SignalsWithModels() {
  return [](const session::SessionSpec& spec, const Instrument& instrument,
            Duration bar_period) -> Result<std::unique_ptr<trading::SignalSource>> {
    if (spec.signal != "ml_ensemble")
      return session::MakeRuleSignalFor(spec, instrument, bar_period);
    AITS_ASSIGN_OR_RETURN(ml::RegistryEnsemble loaded,
                          ml::LoadRegistryEnsemble(spec.registry, spec.model));
    if (!spec.model_checksum.empty() && loaded.record.sha256_or_fnv != spec.model_checksum) {
      return FailedPrecondition("model " + spec.model + " in " + spec.registry +
                                " is not the one this session was recorded with (checksum " +
                                loaded.record.sha256_or_fnv + ", recorded " + spec.model_checksum +
                                ")");
    }
    std::optional<ml::RegistryEnsemble> shadow;
    if (!spec.shadow_model.empty()) {
      AITS_ASSIGN_OR_RETURN(shadow, ml::LoadRegistryEnsemble(spec.registry, spec.shadow_model));
      if (!spec.shadow_checksum.empty() && shadow->record.sha256_or_fnv != spec.shadow_checksum) {
        return FailedPrecondition("shadow model " + spec.shadow_model + " in " + spec.registry +
                                  " is not the one this session was recorded with (checksum " +
                                  shadow->record.sha256_or_fnv + ", recorded " +
                                  spec.shadow_checksum + ")");
      }
    }
    if (!shadow) return node::MlSignalFactory(loaded)(instrument, bar_period);
    return node::MlSignalFactory(loaded, &*shadow, spec.shadow_min_calls)(instrument, bar_period);
  };
}

Result<std::string> PromoteOnShadow(const session::SessionSpec& spec, const std::string& record) {
  const nlohmann::json event = nlohmann::json::parse(record, nullptr, false);
  if (!event.is_object() || !event.contains("record") || !event["record"].is_object()) {
    return InvalidArgument("shadow trial: the record is not a model_shadow event: " +
                           record.substr(0, 200));
  }
  AITS_ASSIGN_OR_RETURN(ml::ModelRegistry registry,
                        ml::ModelRegistry::Open(spec.registry, /*create=*/false));
  AITS_ASSIGN_OR_RETURN(ml::ModelRecord candidate, registry.Find(spec.shadow_model));
  AITS_RETURN_IF_ERROR(registry.RecordShadow(candidate.id, event["record"]));
  AITS_ASSIGN_OR_RETURN(ml::GateDecision decision,
                        registry.Promote(candidate.id, ShadowGate(spec.shadow_min_calls)));
  AITS_ASSIGN_OR_RETURN(ml::ModelRecord after, registry.Find("#" + std::to_string(candidate.id)));
  AITS_LOG_INFO(
      "registry",
      decision.passed ? "shadow trial: candidate promoted" : "shadow trial: candidate rejected",
      {{"candidate", spec.shadow_model},
       {"production", spec.model},
       {"reason", decision.reason},
       {"status", std::string(ml::ToString(after.status))}});
  const nlohmann::json command = {{"command", "model_promotion"},
                                  {"candidate", spec.shadow_model},
                                  {"production", spec.model},
                                  {"passed", decision.passed},
                                  {"status", ml::ToString(after.status)},
                                  {"reason", decision.reason},
                                  {"by", "registry gate"}};
  return command.dump();
}

ml::PromotionGate ShadowGate(uint64_t min_calls) {
  return ml::PromotionGate{.record = "shadow",
                           .min_calls = static_cast<size_t>(min_calls),
                           .metric = "accuracy",
                           .higher_is_better = true,
                           .threshold = 0.5,
                           .min_improvement_over_baseline = 0.0,
                           .require_baseline = true};
}

}  // namespace aits::config
