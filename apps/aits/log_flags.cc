#include "log_flags.h"

#include <utility>

#include "aits/log/log.h"
#include "cli.h"

namespace aits::app {

void AddLogFlags(CLI::App& app, LogFlags& flags, std::string role) {
  // Given twice (before and after the subcommand), the last one wins, as a user expects of a
  // setting; aits-train may see the forwarded copy and the user's own.
  app.add_option("--log-level", flags.level,
                 "Write log lines at this level and above: trace, debug, info, warn (default), "
                 "error, off")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--log-file", flags.file, "Append log lines to this file instead of stderr")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_flag("--log-json", flags.json, "Write log lines as JSON, one object per line")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.fallthrough();
  app.parse_complete_callback([&flags, role = std::move(role)] {
    auto level = ParseLogLevel(flags.level);
    if (!level.ok()) ExitOnFailure(Fail(level.status().WithContext("--log-level")));
    LogOptions options;
    options.level = *level;
    options.file = flags.file;
    options.format = flags.json ? LogFormat::kJsonLines : LogFormat::kText;
    options.role = role;
    const Status configured = ConfigureLogging(options);
    if (!configured.ok()) ExitOnFailure(Fail(configured.WithContext("--log-file")));
  });
}

std::vector<std::string> ForwardedLogArgs(const CLI::App& root) {
  std::vector<std::string> args;
  for (const char* name : {"--log-level", "--log-file"}) {
    const CLI::Option* option = root.get_option(name);
    if (option->count() > 0 && !option->results().empty()) {
      args.push_back(name);
      args.push_back(option->results().back());
    }
  }
  const CLI::Option* json = root.get_option("--log-json");
  if (json->count() > 0 && json->as<bool>()) args.push_back("--log-json");
  return args;
}

}  // namespace aits::app
