// `aits paper`, `aits replay`, `aits explain`, `aits breaker`: paper trading with the decision
// engine and risk manager, its event log, and what can be read back from it. Failures print
// "aits: error: ..." and end with exit code 2 (bad input) or 1.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "aits/config/model_choice.h"
#include "aits/config/paper_settings.h"
#include "aits/services/health.h"
#include "aits/session/paper.h"
#include "aits/trace/tracer.h"

namespace aits::app {

void AddPaperCommands(CLI::App& app);

// `aits paper` with these flags (spec_given false: resume what the log holds); the exit code.
// `metrics`: the registry a caller's /metrics serves (aits serve); without one, flags.health
// other than "off" starts a health server of the command's own. `tracer`: the session's spans
// (PaperOptions::tracer), or null.
int RunPaperCommand(const config::PaperFlags& flags, bool spec_given, Registry* metrics = nullptr,
                    trace::Tracer* tracer = nullptr);

// --health HOST:PORT ("off": none): /healthz, /readyz and /metrics (the registry and the
// process's own figures) on a thread of their own, and a line on stderr saying where unless
// quiet, prefixed with `who` ("aits paper"). Errors name the flag and the address.
Result<std::unique_ptr<services::HealthServer>> StartHealthServer(
    const std::string& at, const std::string& role, const Registry* metrics, bool quiet,
    std::string_view who, std::function<Status()> ready = {});

// The --health flag of `aits paper` and `aits live`.
void AddHealthFlag(CLI::App& cmd, std::string& health);

// The flags that describe and run a session (`aits paper`, `aits serve`): feed, signal,
// decision and risk settings, account, state, output.
void AddSessionFlags(CLI::App& cmd, config::PaperFlags& flags);
// The flags of a model that keeps learning (`aits paper`, `aits live`; docs/ml.md, "The loop",
// "Member weights"): --member-weights, --retrain-config, --retrain-rows, --retrain-mode,
// --retrain-cooldown, --retrain-timeout, --retrain-wait.
void AddModelLoopFlags(CLI::App& cmd, config::PaperFlags& flags);
// Sets options->retrain (and wait_for_models, retrain_cooldown_bars) from those flags when
// --retrain-config is given, checked before the session starts so that a typo is not found at
// the first verdict hours later: InvalidArgument or NotFound naming the flag and the value.
// `runner` makes the retrain from the settings (aits serve: the ml role's jobs); unset, a child
// aits-train (config::RetrainOnVerdict).
Status SetModelLoop(
    const config::PaperFlags& flags, session::PaperOptions* options,
    const std::function<config::RetrainRunner(config::RetrainSettings)>& runner = {});
// Whether any flag that describes a session was given (none: resume what the state holds).
bool SessionSpecGiven(const CLI::App& cmd);
// Whether the session's log (--events, else STATE/events.db) holds a session.
bool HasLog(const config::PaperFlags& flags);
// The session the event log at `path` (a file, or postgresql://...#session) holds; nullopt when
// there is no log there, or an empty one.
Result<std::optional<session::SessionSpec>> LoggedSessionSpec(const std::string& path);

// PaperOptions::on_trades writing every closed trade to the trade store at `location` (--trades:
// a file or postgresql://user@host:port/db), keyed by the session's id and the trade's number, so
// that a resumed session's trades are stored once; `new_trades` counts those not stored before.
// The store is opened now: an error naming the location when it cannot be.
struct TradeWriter {
  std::function<Status(const session::SessionSpec&, int64_t,
                       std::span<const portfolio::TradeRecord>)>
      on_trades;
  std::shared_ptr<uint64_t> written = std::make_shared<uint64_t>(0);
  std::shared_ptr<uint64_t> new_trades = std::make_shared<uint64_t>(0);
};
Result<TradeWriter> OpenTradeWriter(const std::string& location);

// A running session's one-line progress on stderr (PaperOptions::progress), rewritten in place.
void PrintProgressLine(const session::PaperProgress& progress);

// What a paper or live session did, as the JSON summary's object.
nlohmann::ordered_json SessionSummaryJson(const std::string& state,
                                          const session::PaperResult& result);

// What a paper or live session did (`kind`: "paper", "live"), as text or JSON, to stdout.
// `events`: where its log is, when not STATE/events.db.
void PrintSessionSummary(std::string_view kind, const std::string& state,
                         const session::PaperResult& result, bool json,
                         const std::string& events = "");

// "DIR/events.db" for a state directory, else the path as given.
std::string EventsPath(const std::string& path);

}  // namespace aits::app
