// The settings of a paper session, resolved from the values a front end was given (the flags of
// `aits paper` today; services and the API next) over the settings file (`--config`: decision:,
// risk:, account:, execution:, reconcile: and the data: list of feeds) over the defaults. Errors
// name the flag, or the file, line, setting and value (InvalidArgument), as a backtest's do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aits/config/backtest_settings.h"
#include "aits/core/status.h"
#include "aits/session/paper.h"
#include "aits/session/session_spec.h"

namespace aits::config {

// The values of a paper session as given; the defaults are those of `aits paper`. `quiet` and
// `latency_out` are for the front end (what it prints and writes), not for the session.
struct PaperFlags {
  std::string feed = "synthetic";
  std::string symbol;
  std::string instruments;
  std::string format = "auto";
  int64_t spread_points = 0;
  uint64_t seed = 1;
  uint64_t ticks = 0;
  double start_price = 0;
  double volatility = 1.0;
  std::string speed = "1";
  std::string signal = "sma_cross";
  std::string params;
  std::string model = "latest";
  std::string registry = "models";
  // A candidate to try in shadow beside --model (empty: none), and the calls that end its trial.
  std::string shadow;
  uint64_t shadow_calls = 200;
  // The loop (docs/ml.md, "The loop"): the ml.yaml a verdict's retrain reads (empty: none), its
  // rows and mode (auto, update, full), and whether the feed waits for each step (auto: at
  // --speed max only; yes; no).
  std::string member_weights = "alike";  // alike or adaptive (docs/ml.md, "Member weights")
  std::string retrain_config;
  size_t retrain_rows = 5'000;
  std::string retrain_mode = "auto";
  std::string retrain_wait = "auto";
  uint64_t retrain_cooldown = 1'000;  // bars
  double retrain_timeout = 900;       // seconds a retrain may take before it is ended
  std::string config;
  double balance = 100'000;
  double leverage = 100;
  std::string commission = "none";
  std::string account_mode;  // empty: the config file's, else netting
  double latency_ms = 0;
  int64_t slippage_points = 0;
  std::string bar = "M1";
  std::string state = "paper-session";
  std::string events;    // empty: STATE/events.db; or postgresql://user@host:port/db#session
  std::string trades;    // empty: not kept; a file or postgresql://user@host:port/db
  bool standby = false;  // wait for the session's owner to go, then take over
  uint64_t stop_after = 0;
  // Ticks between account checkpoints in the log; what the API shows as the account and its
  // positions moves at this pace (docs/paper.md).
  uint64_t checkpoint_every = 10'000;
  std::string latency_out;
  // `aits paper` and `aits live`: HOST:PORT for /healthz, /readyz and /metrics, or off (aits
  // serve has its own --health, on by default).
  std::string health = "off";
  std::string sync = "full";
  std::string start;
  std::string session_id;
  std::string reconcile;       // empty: not given
  std::string venue;           // empty: not given (the file's, else simulated)
  std::string report_latency;  // empty: not given
  bool quiet = false;
  bool json = false;
  bool no_progress = false;
  // Several instruments (docs/paper.md): --data SYM=FILE and --convert-data SYM=FILE items, as
  // `aits backtest` takes them, or the config file's `data:` list; and synthetic symbols.
  std::vector<std::string> data_items;
  std::vector<std::string> convert_items;
  std::vector<std::string> synthetic;
};

// The YAML settings file of a paper session: `decision:` and `risk:` maps, the `data:` list of
// feeds (into *feeds), `account: {account_mode: ...}`, `execution: {venue, report_latency}` and the
// `reconcile:` policy, nothing else; an empty file sets nothing. `reconcile_given` is set when the
// file names a policy.
Status LoadPaperConfig(const std::string& path, session::SessionSpec* spec,
                       std::vector<FeedFlag>* feeds, bool* reconcile_given);

// The session that `flags` describe: the settings file `flags.config` under the flags, the
// instruments (one, or several feeds), the model of an ml_ensemble signal (chosen and logged now,
// its checksum recorded), a session id. `reconcile_given`: the flag or the settings file chose
// the reconciliation policy.
Result<session::SessionSpec> SpecFromFlags(const PaperFlags& flags, bool* reconcile_given);

// The options of session::RunPaper for `flags`: with `spec_given`, the session SpecFromFlags
// resolves; without, a resume of what flags.state holds. The reconciliation policy, --speed and
// --sync checked and set; the hooks (stop flag, signals, notices, progress) are the caller's.
Result<session::PaperOptions> ResolvePaperOptions(const PaperFlags& flags, bool spec_given);

}  // namespace aits::config
