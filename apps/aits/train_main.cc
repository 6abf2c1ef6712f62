// aits-train: the training commands of `aits` (train, evaluate, retrain) in their own binary, so
// that every other command starts without loading LibTorch. Users run them as `aits train`,
// `aits evaluate` and `aits retrain`; running aits-train directly works the same.
#include <CLI/CLI.hpp>

#include "cli.h"
#include "log_flags.h"
#include "train_commands.h"

int main(int argc, char** argv) {
  CLI::App app("aits — training commands (run as `aits train`, `aits evaluate`, `aits retrain`).",
               "aits");
  app.require_subcommand(1);
  aits::app::LogFlags log_flags;
  aits::app::AddLogFlags(app, log_flags, "aits-train");
  aits::app::AddTrainCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return aits::app::ParseFailure(app, error);
  }
  return 0;
}
