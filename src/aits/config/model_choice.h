// Which registered model an `ml_ensemble` signal trades, for every mode that starts one (a
// backtest, a paper session, its replay): the registry reference ("latest", "NAME", "NAME@3",
// "#12") is resolved once, logged, and its ensemble made the signal of the decision stack,
// exactly as a paper session of the model serves it. Loads through Eigen (ml_selection): nothing
// here links LibTorch.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "aits/backtest/backtest.h"
#include "aits/bus/message_bus.h"
#include "aits/config/backtest_settings.h"
#include "aits/core/status.h"
#include "aits/ml/registry.h"
#include "aits/ml/selection.h"
#include "aits/session/session.h"
#include "aits/trace/tracer.h"

namespace aits::config {

// The model a backtest trades, for its summary and the in-sample warning.
struct InstalledModel {
  std::string description;  // "NAME@V (#ID, status, members: ...)"
  Timestamp train_begin;    // the rows the model learned from (validation rows follow them)
  Timestamp train_end;
};

// For `aits backtest --signal ml_ensemble --model REF` (or --strategy ml_ensemble): loads the
// ensemble REF from the registry, checks its feature-set hash against this build, and makes it
// the signal of the config's decision stack (which ResolveBacktest set up with the decision: and
// risk: settings). The kernel's bar period becomes the model's base timeframe.
Status InstallMlEnsemble(const std::string& registry_dir, const std::string& model_ref,
                         backtest::BacktestConfig* config, InstalledModel* installed);

// The model step of a backtest's settings, after ResolveBacktest: an ml_ensemble run gets the
// model `flags.model` (default latest) of `flags.registry` (default models) installed and
// described in *installed; any other run given a model is an error (InvalidArgument).
Status ChooseBacktestModel(const BacktestFlags& flags, backtest::BacktestConfig* config,
                           InstalledModel* installed);

// Logs (info, component "registry") which model a reference chose, so that a run's log says what
// traded when "latest" or a family name moves on.
void LogModelChoice(const std::string& registry_dir, const std::string& model_ref,
                    const ml::RegistryEnsemble& chosen);

// The signals of a paper session or its replay: the rule signals, and for ml_ensemble the
// spec's registry model, refused (FailedPrecondition) when its checksum is not the one the
// session was recorded with; with the spec's shadow candidate on trial beside it (checked the
// same way).
session::SignalFactory SignalsWithModels();

// The gate a shadow trial is promoted through (docs/ml.md, "Shadow trial"): the trial complete
// with `min_calls` calls, the candidate's live accuracy above 0.5 and above the production
// model's on the same bars.
ml::PromotionGate ShadowGate(uint64_t min_calls);

// session::PaperOptions::promote: keeps a model_shadow event's record as the candidate's
// metrics.shadow in the spec's registry, promotes the candidate through ShadowGate (the registry
// archives the production model when it passes, rejects the candidate when it fails; both are
// audited there) and returns the model_promotion command that tells the session:
// {"command":"model_promotion","candidate","production","production_checksum","min_calls",
//  "passed","status","reason","by"} (the replaced model's checksum, for the loop's probation).
// Errors: the registry's (it cannot be opened, the candidate is gone or already in production).
Result<std::string> PromoteOnShadow(const session::SessionSpec& spec, const std::string& record);

// How a session retrains its model on the watch's verdict (docs/ml.md, "The loop").
struct RetrainSettings {
  std::string trainer;  // the aits-train binary
  std::string config;   // the ml.yaml whose data and settings the retrain takes
  size_t rows = 5'000;  // labelled rows of the window
  // "auto": an update verdict continues the boosting (update), a retrain verdict trains anew
  // (full); "update" or "full": always that.
  std::string mode = "auto";
  uint64_t min_calls = 200;  // the candidate's calls that end its trial
  int jobs = 1;
  // A retrain still running after this is ended (its process group killed) and counts as a
  // failure: a hung child would otherwise hold the loop, and at --speed max the feed too.
  Duration timeout = Duration::Seconds(900);
  // RetrainThroughMlRole: each retrain's span ("model.retrain", a root; not owned), whose
  // traceparent its job carries to the ml role. None: untraced.
  trace::Tracer* tracer = nullptr;
};

// What session::PaperOptions::retrain runs on a verdict: the served model, the verdict's bar time
// and its model_verdict record in; the command that tries the candidate out:
// {"command":"model_shadow_start","candidate":"NAME@V","checksum","production","min_calls"
//  (settings.min_calls),"verdict","retry","retrain":{mode, rows, window, seconds, accuracy of
//  the candidate and of the served model on the holdout},"by":"retrain"}.
using RetrainRunner = std::function<Result<std::string>(
    const session::SessionSpec&, const std::string& model, Timestamp at, const std::string& verdict,
    const std::atomic<bool>* stop)>;

// Runs `aits-train retrain --config CONFIG --registry (the spec's) --model SERVED --mode M
// --rows N --to AT` as a child process (off the kernel's thread, its threads spinning down when
// idle), so that only the rows whose labels were known at the verdict's time are learnt from.
// Errors: the child's (too little data, an unknown model: its own message), DeadlineExceeded
// after settings.timeout (the child killed), Unavailable on a stop, NotFound when the candidate
// is not in the spec's registry.
RetrainRunner RetrainOnVerdict(RetrainSettings settings);

// The same retrain as a job of the ml role (services/ml_jobs.h) on `market` of `bus`: submitted
// with a job id made of the session, the model, the time and the arguments (the same retrain
// asked again after a restart is the same job, whose result is taken if it has one), then its
// result awaited (read every `poll`). The ml role trains with its own --registry, which must
// be the session's (a shared directory or PostgreSQL): a candidate the session's registry does
// not hold is NotFound, naming both. Errors: the job's failure (its error text), the bus's,
// DeadlineExceeded after settings.timeout without a result (naming the job's last event, or
// that no ml role took it), Unavailable on a stop. `bus` must outlive the runner.
RetrainRunner RetrainThroughMlRole(RetrainSettings settings, bus::MessageBus& bus,
                                   std::string market, Duration poll = Duration::Millis(250));

}  // namespace aits::config
