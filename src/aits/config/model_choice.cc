#include "aits/config/model_choice.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/log/log.h"
#include "aits/ml/member_weights.h"
#include "aits/node/signals.h"
#include "aits/services/child_process.h"
#include "aits/services/ml_jobs.h"

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
    std::optional<ml::MemberWeightsConfig> weighing;
    if (spec.member_weights == "adaptive") {
      weighing = ml::MemberWeightsConfig{};
    } else if (!spec.member_weights.empty()) {
      return InvalidArgument("member_weights '" + spec.member_weights +
                             "': expected adaptive (or none: alike)");
    }
    // With the registry, so that a retrained candidate can be tried mid-session.
    return node::MlSignalFactory(loaded, shadow ? &*shadow : nullptr, spec.shadow_min_calls,
                                 spec.registry, weighing)(instrument, bar_period);
  };
}

Result<std::string> PromoteOnShadow(const session::SessionSpec& spec, const std::string& record) {
  const nlohmann::json event = nlohmann::json::parse(record, nullptr, false);
  if (!event.is_object() || !event.contains("record") || !event["record"].is_object()) {
    return InvalidArgument("shadow trial: the record is not a model_shadow event: " +
                           record.substr(0, 200));
  }
  // The trial names its models and its calls: a candidate tried from the start (the spec's) and
  // one a retrain brought mid-session alike.
  const auto text_of = [&event](const char* key, const std::string& otherwise) {
    return event.contains(key) && event[key].is_string() ? event[key].get<std::string>()
                                                         : otherwise;
  };
  const std::string candidate_name = text_of("candidate", spec.shadow_model);
  const std::string production_name = text_of("production", spec.model);
  const uint64_t min_calls = event.contains("min_calls") && event["min_calls"].is_number_unsigned()
                                 ? event["min_calls"].get<uint64_t>()
                                 : spec.shadow_min_calls;
  AITS_ASSIGN_OR_RETURN(ml::ModelRegistry registry,
                        ml::ModelRegistry::Open(spec.registry, /*create=*/false));
  AITS_ASSIGN_OR_RETURN(ml::ModelRecord candidate, registry.Find(candidate_name));
  AITS_RETURN_IF_ERROR(registry.RecordShadow(candidate.id, event["record"]));
  AITS_ASSIGN_OR_RETURN(ml::GateDecision decision,
                        registry.Promote(candidate.id, ShadowGate(min_calls)));
  AITS_ASSIGN_OR_RETURN(ml::ModelRecord after, registry.Find("#" + std::to_string(candidate.id)));
  // The model it replaced, by its bytes, for a trial that may bring it back (the loop's
  // probation); empty when the registry no longer has it.
  std::string production_checksum;
  if (auto replaced = registry.Find(production_name); replaced.ok()) {
    production_checksum = replaced->sha256_or_fnv;
  }
  AITS_LOG_INFO(
      "registry",
      decision.passed ? "shadow trial: candidate promoted" : "shadow trial: candidate rejected",
      {{"candidate", candidate_name},
       {"production", production_name},
       {"reason", decision.reason},
       {"status", std::string(ml::ToString(after.status))}});
  const nlohmann::json command = {{"command", "model_promotion"},
                                  {"candidate", candidate_name},
                                  {"production", production_name},
                                  {"production_checksum", production_checksum},
                                  {"min_calls", min_calls},
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

namespace {

// A figure of the retrain's --json result, or null.
nlohmann::json Figure(const nlohmann::json& result, std::initializer_list<const char*> path) {
  const nlohmann::json* at = &result;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return nullptr;
    at = &(*at)[key];
  }
  return *at;
}

// What a verdict's retrain is: its mode and its aits-train arguments (after the command; no
// --registry and no --json: each runner adds its own).
struct RetrainAsked {
  std::string called;  // the verdict: update or retrain
  bool retry = false;  // after a cooldown, on a verdict that still stood
  std::string mode;
  std::vector<std::string> args;
};

RetrainAsked AskRetrain(const RetrainSettings& settings, const std::string& model, Timestamp at,
                        const std::string& verdict) {
  RetrainAsked asked;
  const nlohmann::json said = nlohmann::json::parse(verdict, nullptr, false);
  if (said.is_object() && said.contains("verdict") && said["verdict"].is_string()) {
    asked.called = said["verdict"].get<std::string>();
  }
  asked.retry = said.is_object() && said.value("retry", false);
  asked.mode = settings.mode;
  if (asked.mode == "auto") asked.mode = asked.called == "update" ? "update" : "full";
  asked.args = {
      "--config", settings.config,   "--model", model,
      "--mode",   asked.mode,        "--rows",  std::to_string(settings.rows),
      "--to",     FormatIso8601(at), "-j",      std::to_string(std::max(1, settings.jobs)),
      "--quiet",  "--no-progress"};
  return asked;
}

std::string Describe(const std::string& model, const RetrainAsked& asked,
                     const RetrainSettings& settings, Timestamp at) {
  return "retrain of " + model + " (" + asked.mode + ", " + std::to_string(settings.rows) +
         " rows to " + FormatIso8601(at) + ")";
}

// The model_shadow_start command for the candidate a retrain's result names, checked against
// the session's registry (where the session loads it from).
Result<std::string> ShadowStart(const session::SessionSpec& spec, const std::string& model,
                                const RetrainAsked& asked, const RetrainSettings& settings,
                                const nlohmann::json& result, double seconds,
                                std::string_view where) {
  const nlohmann::json name = Figure(result, {"model", "name"});
  const nlohmann::json version = Figure(result, {"model", "version"});
  if (!name.is_string() || !version.is_number_integer()) {
    return Status(StatusCode::kInternal, "retrain of " + model + ": its result names no model: " +
                                             result.dump().substr(0, 300));
  }
  const std::string candidate =
      name.get<std::string>() + "@" + std::to_string(version.get<int64_t>());
  // Its record names the bytes' checksum; the session loads the model itself when it starts
  // the trial, so it is not read here too.
  AITS_ASSIGN_OR_RETURN(ml::ModelRegistry registry,
                        ml::ModelRegistry::Open(spec.registry, /*create=*/false));
  Result<ml::ModelRecord> made = registry.Find(candidate);
  if (!made.ok()) {
    return made.status().WithContext(
        "retrain of " + model + ": " + std::string(where) + " registered " + candidate +
        ", which the session's registry " + spec.registry + " does not hold");
  }
  AITS_LOG_INFO("registry", "retrained on the watch's verdict",
                {{"model", model},
                 {"candidate", candidate},
                 {"verdict", asked.called},
                 {"mode", asked.mode},
                 {"by", std::string(where)},
                 {"seconds", std::to_string(seconds)}});
  const nlohmann::json command = {
      {"command", "model_shadow_start"},
      {"candidate", candidate},
      {"checksum", made->sha256_or_fnv},
      {"production", model},
      {"min_calls", settings.min_calls},
      {"verdict", asked.called},
      {"retry", asked.retry},
      {"retrain",
       {{"mode", asked.mode},
        {"rows", settings.rows},
        {"window", Figure(result, {"window"})},
        {"seconds", seconds},
        {"accuracy", Figure(result, {"metrics", "validation", "accuracy"})},
        {"served_accuracy", Figure(result, {"metrics", "baseline", "accuracy"})}}},
      {"by", "retrain"}};
  return command.dump();
}

double SecondsSince(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

std::string WholeSeconds(Duration duration) {
  return std::to_string(duration.ns / 1'000'000'000) + " s";
}

}  // namespace

RetrainRunner RetrainOnVerdict(RetrainSettings settings) {
  return [settings = std::move(settings)](
             const session::SessionSpec& spec, const std::string& model, Timestamp at,
             const std::string& verdict, const std::atomic<bool>* stop) -> Result<std::string> {
    const RetrainAsked asked = AskRetrain(settings, model, at, verdict);
    std::vector<std::string> argv = {settings.trainer, "retrain", "--registry", spec.registry};
    argv.insert(argv.end(), asked.args.begin(), asked.args.end());
    argv.push_back("--json");
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + std::chrono::nanoseconds(settings.timeout.ns);
    // The child ends on the caller's stop or on the deadline, whichever comes first.
    std::atomic<bool> end{false};
    bool timed_out = false;
    const auto watch = [&] {
      if (stop != nullptr && stop->load()) end = true;
      if (std::chrono::steady_clock::now() >= deadline) {
        timed_out = !end.load();
        end = true;
      }
    };
    // Its OpenMP threads sleep when idle rather than spin beside the session's.
    AITS_ASSIGN_OR_RETURN(
        services::Child::Ended ended,
        services::Child::Run(argv, &end, std::min(Duration::Millis(200), settings.timeout), watch,
                             [](const std::string&) {}, {"OMP_WAIT_POLICY=PASSIVE"}));
    const double seconds = SecondsSince(started);
    if (ended.stopped && timed_out) {
      return Status(StatusCode::kDeadlineExceeded,
                    Describe(model, asked, settings, at) + ": still running after " +
                        WholeSeconds(settings.timeout) + " (--retrain-timeout), ended");
    }
    if (ended.stopped) return Status(StatusCode::kUnavailable, "retrain of " + model + ": stopped");
    if (ended.exit_code != 0) {
      return Status(StatusCode::kFailedPrecondition,
                    Describe(model, asked, settings, at) + ": " + services::FailureText(ended));
    }
    const std::optional<nlohmann::json> result = services::ResultOf(ended.out);
    return ShadowStart(spec, model, asked, settings, result ? *result : nlohmann::json(), seconds,
                       "aits-train");
  };
}

RetrainRunner RetrainThroughMlRole(RetrainSettings settings, bus::MessageBus& bus,
                                   std::string market, Duration poll) {
  return [settings = std::move(settings), &bus, market = std::move(market), poll](
             const session::SessionSpec& spec, const std::string& model, Timestamp at,
             const std::string& verdict, const std::atomic<bool>* stop) -> Result<std::string> {
    const RetrainAsked asked = AskRetrain(settings, model, at, verdict);
    services::MlJob job;
    job.command = "retrain";
    job.args = asked.args;
    // The same retrain asked again (a restarted session on the same verdict) is the same job:
    // its result, if the ml role has it, is taken rather than trained again.
    std::string identity = spec.session_id + "\n" + model + "\n" + FormatIso8601(at);
    for (const std::string& arg : job.args) identity += "\n" + arg;
    uint64_t hash = 14'695'981'039'346'656'037ULL;
    for (const unsigned char ch : identity) hash = (hash ^ ch) * 1'099'511'628'211ULL;
    char id[32];
    std::snprintf(id, sizeof id, "retrain-%016llx", static_cast<unsigned long long>(hash));
    job.id = id;
    const std::string what =
        Describe(model, asked, settings, at) + " as ml job " + job.id + " on market " + market;
    const auto started = std::chrono::steady_clock::now();
    std::optional<trace::Span> span;
    std::string traceparent;
    if (settings.tracer != nullptr) {
      span = settings.tracer->StartRoot("model.retrain", trace::SpanKind::kProducer);
      if (span->recording()) {
        span->SetAttribute("aits.model", model);
        span->SetAttribute("aits.mode", asked.mode);
        span->SetAttribute("aits.job", job.id);
      }
      traceparent = span->traceparent();
    }
    // Ended with the retrain, however it ends.
    const trace::EndOnExit end_span(settings.tracer, span);
    Result<bus::PublishAck> submitted = services::SubmitMlJob(bus, market, job, traceparent);
    if (!submitted.ok() && submitted.status().code() != StatusCode::kFailedPrecondition) {
      return submitted.status().WithContext(what);
    }
    // Submitted, or run already (FailedPrecondition): its result is on the bus.
    const auto deadline = started + std::chrono::nanoseconds(settings.timeout.ns);
    Status last_error = Status::Ok();
    for (;;) {
      // A read that fails (the bus away a moment) is tried again until the deadline.
      Result<std::optional<nlohmann::json>> read = services::LastMlEvent(bus, market, job.id);
      if (!read.ok()) last_error = read.status();
      const std::optional<nlohmann::json> event =
          read.ok() ? std::move(read).value() : std::nullopt;
      if (event && services::IsMlResult(*event)) {
        const double seconds = SecondsSince(started);
        if (event->value("event", std::string()) != "done") {
          return Status(StatusCode::kFailedPrecondition,
                        what + ": " + event->value("error", std::string("failed")));
        }
        return ShadowStart(spec, model, asked, settings, *event, seconds, "the ml role");
      }
      if (stop != nullptr && stop->load()) {
        return Status(StatusCode::kUnavailable, "retrain of " + model + ": stopped");
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status(
            StatusCode::kDeadlineExceeded,
            what + ": no result after " + WholeSeconds(settings.timeout) + " (--retrain-timeout; " +
                (event              ? "its last event: " + event->value("event", std::string("?"))
                 : !last_error.ok() ? "the bus: " + last_error.ToString()
                                    : std::string("no ml role has taken it: is one running?")) +
                "; the job may still run there)");
      }
      std::this_thread::sleep_for(std::chrono::nanoseconds(poll.ns));
    }
  };
}

}  // namespace aits::config
