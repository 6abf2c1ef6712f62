#include "ml_commands.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/ml/registry.h"
#include "aits/services/ml_jobs.h"
#include "cli.h"
#include "log_flags.h"
#include "train_commands.h"

namespace aits::app {
namespace {

int RunModels(const std::string& registry_dir, const std::string& name) {
  auto registry = ml::ModelRegistry::Open(registry_dir, /*create=*/false);
  if (!registry.ok()) return Fail(registry.status());
  auto records = registry->List(name.empty() ? std::optional<std::string>()
                                             : std::optional<std::string>(name));
  if (!records.ok()) return Fail(records.status());
  std::printf("%5s  %-32s %4s  %-18s %-10s %-16s %-10s %s\n", "id", "name", "ver", "kind", "status",
              "feature set", "val AUC", "created");
  for (const auto& r : *records) {
    std::printf(
        "%5lld  %-32s %4d  %-18s %-10s %-16s %-10s %s\n", static_cast<long long>(r.id),
        r.name.c_str(), r.version, r.kind.c_str(), std::string(ml::ToString(r.status)).c_str(),
        r.feature_set_hash.c_str(),
        FormatNumber(r.metrics.value("validation", nlohmann::json::object()), "auc").c_str(),
        FormatIso8601(r.created_at).c_str());
  }
  return 0;
}

// `aits models --events REF`: one model, its shadow trial if it had one, and every audited step
// of its life in the registry (register, shadow, promote, reject, archive).
int RunModelEvents(const std::string& registry_dir, const std::string& ref) {
  auto registry = ml::ModelRegistry::Open(registry_dir, /*create=*/false);
  if (!registry.ok()) return Fail(registry.status());
  auto record = registry->Find(ref);
  if (!record.ok()) return Fail(record.status());
  auto events = registry->Events(record->id);
  if (!events.ok()) return Fail(events.status());
  std::printf("model #%lld %s@%d (%s, %s)\n", static_cast<long long>(record->id),
              record->name.c_str(), record->version, record->kind.c_str(),
              std::string(ml::ToString(record->status)).c_str());
  if (!record->parent.empty()) std::printf("  parent      %s\n", record->parent.c_str());
  const auto shadow = record->metrics.find("shadow");
  if (shadow != record->metrics.end() && shadow->is_object()) {
    const nlohmann::json production = shadow->value("production", nlohmann::json::object());
    std::printf("  shadow      %s trial, %s calls over %s bars (%s to %s)\n",
                shadow->value("state", "?").c_str(),
                shadow->value("calls", nlohmann::json(0)).dump().c_str(),
                shadow->value("bars", nlohmann::json(0)).dump().c_str(),
                shadow->value("from", "").c_str(), shadow->value("to", "").c_str());
    for (const char* figure : {"accuracy", "precision", "recall", "profit_factor", "sharpe"}) {
      std::printf("    %-14s %-10s production %s\n", figure, FormatNumber(*shadow, figure).c_str(),
                  FormatNumber(production, figure).c_str());
    }
  }
  std::printf("  events\n");
  for (const std::string& line : *events) std::printf("    %s\n", line.c_str());
  return 0;
}

// `aits train` and `aits evaluate` run the sibling binary aits-train (beside this one), so that
// LibTorch is loaded only by the commands that train. Every argument after the command name,
// --help and the logging flags included, is passed on untouched; logging flags given before the
// command name are passed on too, so that aits-train logs where and how `aits` was told to.
void AddForwardedCommand(CLI::App& app, const char* name, const char* description) {
  CLI::App* cmd = app.add_subcommand(name, description);
  cmd->set_help_flag();  // aits-train prints the command's own help
  cmd->allow_extras();
  cmd->prefix_command();
  cmd->fallthrough(false);  // even the logging flags go to aits-train as they were written
  cmd->callback([cmd, name] {
    const Result<std::string> found = FindTrainer("`aits " + std::string(name) + "`");
    if (!found.ok()) ExitOnFailure(Fail(found.status()));
    const std::filesystem::path trainer = *found;
    std::vector<std::string> args = {"aits"};
    for (std::string& arg : ForwardedLogArgs(*cmd->get_parent())) args.push_back(std::move(arg));
    args.push_back(name);
    for (const std::string& arg : cmd->remaining()) args.push_back(arg);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    ::execv(trainer.c_str(), argv.data());
    ExitOnFailure(Fail(IoError("cannot run '" + trainer.string() + "': " + std::strerror(errno))));
  });
}

struct MlJobFlags {
  std::string bus;
  std::string market = "default";
  std::string job_id;
  std::vector<std::string> job;  // COMMAND ARGS...
  bool wait = false;
  bool events = false;   // status: every event, not only each job's last
  double timeout_s = 0;  // --wait: 0 for ever
  bool json = false;
  bool quiet = false;
};

// The flags of aits-train that name files or directories: made absolute, since the ml role that
// reads them runs elsewhere (a config file's own paths are as written: relative to the role).
bool IsPathFlag(std::string_view flag) {
  return flag == "--config" || flag == "--data" || flag == "--ask-data" || flag == "--out";
}

std::vector<std::string> AbsolutePaths(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t idx = 0; idx < args.size(); ++idx) {
    const std::string& arg = args[idx];
    const size_t equals = arg.find('=');
    if (equals != std::string::npos && IsPathFlag(std::string_view(arg).substr(0, equals))) {
      out.push_back(arg.substr(0, equals + 1) +
                    std::filesystem::absolute(arg.substr(equals + 1)).string());
      continue;
    }
    out.push_back(arg);
    if (IsPathFlag(arg) && idx + 1 < args.size()) {
      out.push_back(std::filesystem::absolute(args[++idx]).string());
    }
  }
  return out;
}

Result<std::unique_ptr<bus::MessageBus>> ConnectJobsBus(const MlJobFlags& flags) {
  if (flags.bus.rfind("nats://", 0) != 0) {
    return InvalidArgument("--bus \"" + flags.bus +
                           "\": the ml role is reached over NATS (nats://HOST:PORT[,...])");
  }
  bus::NatsOptions nats;
  nats.servers = bus::NatsServers(flags.bus);
  Result<std::unique_ptr<bus::MessageBus>> bus = bus::ConnectNats(nats);
  if (!bus.ok()) return bus.status().WithContext("--bus");
  AITS_RETURN_IF_ERROR(services::EnsureMlStreams(**bus));
  return bus;
}

// Prints one event: its JSON with --json, else a line.
void PrintEvent(const nlohmann::json& event, bool json) {
  if (json) {
    std::printf("%s\n", event.dump().c_str());
    return;
  }
  const std::string kind = event.value("event", std::string("?"));
  std::string detail;
  if (kind == "done" && event.contains("model") && event["model"].is_object()) {
    const nlohmann::json& model = event["model"];
    detail = " " + model.value("name", std::string()) + "@" +
             std::to_string(model.value("version", 0)) + " (#" +
             std::to_string(model.value("id", int64_t{0})) + ", " +
             model.value("status", std::string()) + ")";
  } else if (kind == "failed") {
    detail = " " + event.value("error", std::string());
  } else if (kind == "progress") {
    detail = " " + event.value("stage", std::string());
  }
  if (event.contains("wall_seconds")) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, " in %.1f s", event.value("wall_seconds", 0.0));
    detail += seconds;
  }
  std::printf("%-24s %-12s %-9s %s%s\n", event.value("job", std::string("?")).c_str(), kind.c_str(),
              event.value("command", std::string()).c_str(),
              event.value("at", std::string()).c_str(), detail.c_str());
}

// Follows one job's events until its result: 0 for done, an error for failed or a timeout.
int FollowJob(bus::MessageBus& bus, const MlJobFlags& flags) {
  const auto started = std::chrono::steady_clock::now();
  std::string seen;
  while (true) {
    Result<std::optional<nlohmann::json>> last =
        services::LastMlEvent(bus, flags.market, flags.job_id);
    if (!last.ok()) return Fail(last.status());
    if (*last && (*last)->dump() != seen) {
      seen = (*last)->dump();
      const bool result = services::IsMlResult(**last);
      if (!flags.quiet || result) PrintEvent(**last, flags.json);
      if (result) {
        if ((*last)->value("event", std::string()) == "done") return 0;
        return Fail(FailedPrecondition("job " + flags.job_id +
                                       " failed: " + (*last)->value("error", std::string())));
      }
    }
    if (StopSignals::stopped()) return Fail(Unavailable("stopped while waiting for the job"));
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (flags.timeout_s > 0 && waited > flags.timeout_s) {
      return Fail(DeadlineExceeded(
          "job " + flags.job_id + ": no result after --timeout " + std::to_string(flags.timeout_s) +
          " s (is an `aits serve --role ml` running for market " + flags.market + "?)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int RunSubmit(const MlJobFlags& flags) {
  if (flags.job.empty()) {
    return Fail(InvalidArgument("give the job after --: train|evaluate|retrain and its arguments"));
  }
  services::MlJob job;
  job.id = flags.job_id;
  job.command = flags.job.front();
  if (job.command != "train" && job.command != "evaluate" && job.command != "retrain") {
    return Fail(InvalidArgument("job: unknown subcommand \"" + job.command +
                                "\" (train, evaluate or retrain)"));
  }
  job.args = AbsolutePaths({flags.job.begin() + 1, flags.job.end()});
  if (Status valid = services::ValidateMlJob(job); !valid.ok()) return Fail(valid);
  const Result<std::string> trainer = FindTrainer("`aits ml submit` (to check the job)");
  if (!trainer.ok()) return Fail(trainer.status());
  if (Status checked = services::CheckMlJob(*trainer, job); !checked.ok()) return Fail(checked);
  Result<std::unique_ptr<bus::MessageBus>> bus = ConnectJobsBus(flags);
  if (!bus.ok()) return Fail(bus.status());
  const Result<bus::PublishAck> ack = services::SubmitMlJob(**bus, flags.market, job);
  if (!ack.ok()) return Fail(ack.status());
  const std::string subject = "ml." + flags.market + ".jobs";
  if (flags.json && !flags.wait) {
    const nlohmann::ordered_json submitted = {{"job", job.id},
                                              {"subject", subject},
                                              {"sequence", ack->sequence},
                                              {"duplicate", ack->duplicate}};
    std::printf("%s\n", submitted.dump().c_str());
  } else if (!flags.quiet && !flags.json) {
    std::printf(ack->duplicate ? "job %s was submitted already (%s, sequence %llu): stored once\n"
                               : "job %s submitted (%s, sequence %llu)\n",
                job.id.c_str(), subject.c_str(), static_cast<unsigned long long>(ack->sequence));
  }
  if (!flags.wait) return 0;
  const StopSignals signals;
  return FollowJob(**bus, flags);
}

int RunStatus(const MlJobFlags& flags) {
  if (flags.wait && flags.job_id.empty()) {
    return Fail(InvalidArgument("--wait follows one job: give --job-id"));
  }
  Result<std::unique_ptr<bus::MessageBus>> bus = ConnectJobsBus(flags);
  if (!bus.ok()) return Fail(bus.status());
  if (flags.wait) {
    const StopSignals signals;
    return FollowJob(**bus, flags);
  }
  if (!flags.job_id.empty() && !flags.events) {
    Result<std::optional<nlohmann::json>> last =
        services::LastMlEvent(**bus, flags.market, flags.job_id);
    if (!last.ok()) return Fail(last.status());
    if (!*last) {
      return Fail(NotFound("job " + flags.job_id + ": no events on ml." + flags.market +
                           ".events." + flags.job_id + " (not submitted, or not taken yet)"));
    }
    PrintEvent(**last, flags.json);
    return 0;
  }
  // Every job's last event, in the order the jobs were first heard of.
  Result<std::vector<nlohmann::json>> events = services::MlEvents(**bus, flags.market);
  if (!events.ok()) return Fail(events.status());
  if (flags.events) {
    nlohmann::json all = nlohmann::json::array();
    for (nlohmann::json& event : *events) {
      if (flags.job_id.empty() || event.value("job", std::string()) == flags.job_id) {
        all.push_back(std::move(event));
      }
    }
    if (flags.json) {
      std::printf("%s\n", all.dump(2).c_str());
      return 0;
    }
    for (const nlohmann::json& event : all) PrintEvent(event, false);
    return 0;
  }
  std::vector<std::string> order;
  std::map<std::string, nlohmann::json> last;
  for (nlohmann::json& event : *events) {
    const std::string job = event.value("job", std::string());
    if (!last.contains(job)) order.push_back(job);
    last[job] = std::move(event);
  }
  if (flags.json) {
    nlohmann::json all = nlohmann::json::array();
    for (const std::string& job : order) all.push_back(last[job]);
    std::printf("%s\n", all.dump(2).c_str());
    return 0;
  }
  if (!flags.quiet) {
    std::printf("%-24s %-12s %-9s %s\n", "job", "last event", "command", "at");
  }
  for (const std::string& job : order) PrintEvent(last[job], false);
  return 0;
}

void AddJobFlags(CLI::App* cmd, MlJobFlags* flags) {
  cmd->add_option("--bus", flags->bus, "nats://HOST:PORT[,nats://...] of the ml role")->required();
  cmd->add_option("--market", flags->market, "The market the ml role serves (subjects ml.NAME.*)")
      ->capture_default_str();
  cmd->add_option("--timeout", flags->timeout_s,
                  "--wait: seconds to wait for the job's result (0: for ever)")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print JSON: the submission, or the events");
  cmd->add_flag("--quiet", flags->quiet, "Print only the result");
}

}  // namespace

Result<std::string> FindTrainer(std::string_view who) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path trainer = self.parent_path() / "aits-train";
  if (error || !std::filesystem::exists(trainer)) {
    return FailedPrecondition(std::string(who) +
                              " runs aits-train, which is not beside this binary (looked for '" +
                              trainer.string() + "'); build the target aits-train");
  }
  return trainer.string();
}

void AddMlCommands(CLI::App& app) {
  AddForwardedCommand(app, "train", kTrainDescription);
  AddForwardedCommand(app, "evaluate", kEvaluateDescription);
  AddForwardedCommand(app, "retrain", kRetrainDescription);
  auto registry_dir = std::make_shared<std::string>("models");
  auto name = std::make_shared<std::string>();
  CLI::App* models = app.add_subcommand("models", "List the models in a registry.");
  models
      ->add_option("--registry", *registry_dir,
                   "Model registry: a directory or postgresql://user@host:port/db")
      ->capture_default_str();
  models->add_option("--name", *name, "Only this model family");
  auto events = std::make_shared<std::string>();
  models->add_option("--events", *events,
                     "One model (NAME, NAME@V, #ID): its shadow trial and every audited step of "
                     "its life (register, shadow, promote, reject, archive)");
  models->callback([registry_dir, name, events] {
    const int code =
        events->empty() ? RunModels(*registry_dir, *name) : RunModelEvents(*registry_dir, *events);
    ExitOnFailure(code);
  });

  CLI::App* ml = app.add_subcommand(
      "ml",
      "Training and evaluation jobs for the ml role (`aits serve --role ml`) over NATS "
      "JetStream: submit one, follow it, list them (docs/services.md, \"Training jobs\").");
  ml->require_subcommand(1);
  auto submit_flags = std::make_shared<MlJobFlags>();
  CLI::App* submit = ml->add_subcommand(
      "submit",
      "Check a job (aits-train COMMAND ARGS --check: settings, data files) and publish it to\n"
      "ml.MARKET.jobs under its id; a job id is stored once and runs once.\n"
      "Example: aits ml submit --bus nats://127.0.0.1:4222 --job-id gbp-1 --wait -- train "
      "--config ml.yaml --epochs 1");
  AddJobFlags(submit, submit_flags.get());
  submit->add_option("--job-id", submit_flags->job_id, "The job's id: [A-Za-z0-9_-], unique")
      ->required();
  submit->add_flag("--wait", submit_flags->wait,
                   "Follow the job until its result: exit 0 when done, 1 when it failed");
  submit->add_option("job", submit_flags->job,
                     "-- train|evaluate|retrain ARGS... (as for `aits train`, `aits retrain`)");
  submit->callback([submit_flags] { ExitOnFailure(RunSubmit(*submit_flags)); });

  auto status_flags = std::make_shared<MlJobFlags>();
  CLI::App* status = ml->add_subcommand(
      "status", "The last event of one job (--job-id), or of every job of the market.");
  AddJobFlags(status, status_flags.get());
  status->add_option("--job-id", status_flags->job_id, "Only this job");
  status->add_flag("--wait", status_flags->wait, "Follow the job until its result");
  status->add_flag("--events", status_flags->events,
                   "Every event (of --job-id, or of every job) in the order stored");
  status->callback([status_flags] { ExitOnFailure(RunStatus(*status_flags)); });
}

}  // namespace aits::app
