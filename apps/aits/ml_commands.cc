#include "ml_commands.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "aits/ml/registry.h"
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
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    const std::filesystem::path trainer = self.parent_path() / "aits-train";
    if (error || !std::filesystem::exists(trainer)) {
      ExitOnFailure(Fail(
          FailedPrecondition("`aits " + std::string(name) +
                             "` runs aits-train, which is not beside this binary (looked for '" +
                             trainer.string() + "'); build the target aits-train")));
    }
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

}  // namespace

void AddMlCommands(CLI::App& app) {
  AddForwardedCommand(app, "train", kTrainDescription);
  AddForwardedCommand(app, "evaluate", kEvaluateDescription);
  auto registry_dir = std::make_shared<std::string>("models");
  auto name = std::make_shared<std::string>();
  CLI::App* models = app.add_subcommand("models", "List the models in a registry.");
  models
      ->add_option("--registry", *registry_dir,
                   "Model registry: a directory or postgresql://user@host:port/db")
      ->capture_default_str();
  models->add_option("--name", *name, "Only this model family");
  models->callback([registry_dir, name] {
    const int code = RunModels(*registry_dir, *name);
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
