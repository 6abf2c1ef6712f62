// A child process run to its end with its stdout and stderr read through pipes: the ml role's
// training jobs and the API's backtest jobs run `aits-train` and `aits` this way.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::services {

// What is kept of a child's output: its result (stdout) and the end of its stderr.
inline constexpr size_t kChildMaxResult = 4 * 1024 * 1024;
inline constexpr size_t kChildStderrTail = 8 * 1024;

// The child dies with the thread that started it (PR_SET_PDEATHSIG), so that a process killed
// mid-job leaves no child behind to race the job's next run.
class Child {
 public:
  struct Ended {
    int exit_code = -1;  // -1 when killed by a signal
    int signal = 0;
    bool stopped = false;  // killed because the caller asked to stop
    std::string out;       // stdout, up to kChildMaxResult
    std::string err_tail;  // the end of stderr
    std::string error;     // the last "aits: error:" line's text, if any
  };

  // Runs argv[0] with argv (and `env`, NAME=VALUE items, added to this process's environment).
  // `on_line` sees every stderr line as it comes; `tick` runs about every `tick_every`; `stop`,
  // once set, ends the child and what it started (SIGTERM to its process group, then SIGKILL
  // after 3 s). IoError when the child cannot be started; a child that cannot exec exits 127.
  static Result<Ended> Run(const std::vector<std::string>& argv, const std::atomic<bool>* stop,
                           Duration tick_every, const std::function<void()>& tick,
                           const std::function<void(const std::string&)>& on_line,
                           const std::vector<std::string>& env = {});
};

// Why a child failed, for people: its own error line, else the end of what it said, and how it
// ended.
std::string FailureText(const Child::Ended& ended);

// A command's --json result: the whole of stdout when it is one JSON object (pretty-printed
// or not), else its last line that is one.
std::optional<nlohmann::json> ResultOf(const std::string& out);

}  // namespace aits::services
