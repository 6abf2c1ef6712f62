// The API's paper sessions (docs/api.md, "Sessions"): start one as a process of its own, list
// them, stop one. Each runs `aits paper` with its state directory inside the job's (JobRunner),
// so that it resumes, replays and explains as any paper session does.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/api/api_service.h"
#include "aits/api/job_runner.h"

namespace aits::api {

struct SessionJobOptions {
  std::string aits;      // the aits binary
  std::string data_dir;  // tick files come from here only, by relative name; empty: synthetic only
  std::string registry;  // the registry an ml_ensemble session trades from; empty: none
};

// The arguments of `aits paper` (after the program) for a POST body: feed ("synthetic" or a
// tick file under data_dir), symbol, synthetic (symbols), seed, ticks, speed, start, signal,
// params, model, balance, leverage, commission, account_mode, bar, and a reason for the audit.
// InvalidArgument naming the field and its value.
Result<std::vector<std::string>> SessionArguments(const nlohmann::json& body,
                                                  const SessionJobOptions& options);

// GET /api/v1/sessions (viewer): the session this server shows (`served`, as GET /session) and
// those started through it; POST /api/v1/sessions (trader): start one (202);
// GET /api/v1/sessions/{id}; POST /api/v1/sessions/{id}/stop (trader): a clean stop (SIGTERM,
// as Ctrl-C). `runner` may be null (no --sessions): the routes then answer 503 naming the flag,
// but for the list, which shows the served session. `served` gives GET /session's answer.
void AddSessionJobRoutes(ApiService& service, JobRunner* runner, SessionJobOptions options,
                         std::function<nlohmann::json()> served);

}  // namespace aits::api
