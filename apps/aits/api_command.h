// `aits api`: the REST API's set-up (init, users, API keys, signing key rotation) and its server
// over a session's log (docs/api.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "aits/core/status.h"

namespace aits::app {

// The API server's settings: `aits api serve`'s flags, and the api role's in `aits serve`.
struct ApiServerFlags {
  std::string auth = "aits-auth.db";
  std::string master_key;  // a file; else $AITS_MASTER_KEY
  bool fast_hash = false;  // tests: Argon2id's minimal cost
  std::string state;       // the session's log
  std::string registry;    // empty: the model routes answer 503
  std::string jobs;        // the backtest jobs' directory; empty (or no data_dir): 503
  std::string data_dir;    // the only place backtest data files come from
  int max_backtests = 1;   // backtests running at once
  std::string sessions;    // where paper sessions started through the API live; empty: 503
  int max_sessions = 4;    // sessions running at once
  std::string listen = "127.0.0.1:8080";
  std::string listen_flag = "--listen";  // its name, for messages
  std::string tls_cert;
  std::string tls_key;
  int threads = 2;
  int rate_limit = 1000;
  std::vector<std::string> cors;
  size_t body_limit = 1024 * 1024;
  double idle_timeout_s = 60;
  int max_connections_per_client = 2000;
  int64_t access_ttl_s = 15 * 60;
  // The dashboard's built files (web/); "" when the build made none. AITS_WEB_DIR is the build
  // tree's bundle (CMake, AITS_BUILD_WEB), defined for api_command.cc alone.
  std::string web;
  bool web_given = false;  // --web named: a missing directory is an error, not "no dashboard"
  bool no_web = false;
};

// Adds the server's flags to `cmd`: all of them for `aits api serve`; in `aits serve`
// (in_serve) only those it lacks, with --api-listen, --api-threads and --api-idle-timeout.
void AddApiServerFlags(CLI::App* cmd, ApiServerFlags* flags, bool in_serve);

// Serves the API over the session's log until StopSignals::stopped() (the caller installs
// them); `ready` (may be empty) hears Ok once it listens and Unavailable when it stops. Returns
// the exit code, having printed any error.
int RunApiServer(const ApiServerFlags& flags, bool quiet, bool json,
                 const std::function<void(Status)>& ready);

// Registers the `api` subcommand and its own subcommands on `app`.
void AddApiCommand(CLI::App& app);

}  // namespace aits::app
