// The API's backtest routes (docs/api.md, "Backtests"): submit a backtest of a data file as a
// job, follow its progress, fetch its report, cancel it. Each job runs `aits backtest` as a child
// process (JobRunner), so a backtest never shares the server's threads or its memory.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/api/api_service.h"
#include "aits/api/job_runner.h"

namespace aits::api {

struct BacktestOptions {
  std::string aits;      // the aits binary the jobs run
  std::string data_dir;  // data files are taken from here only, by relative name
  std::string registry;  // the model registry an ml_ensemble backtest reads; empty: none
};

// The arguments of `aits backtest` (after the program) for a POST body, every value checked
// here and passed as one `--flag=value` argument (never through a shell, never taken for another
// flag): data and ask_data (files under data_dir), symbol, strategy or signal, params, model,
// from, to, cash, leverage, account_mode, commission, slippage, spread, bar, fill_mode, and a
// reason for the audit. InvalidArgument naming the field and its value.
Result<std::vector<std::string>> BacktestArguments(const nlohmann::json& body,
                                                   const BacktestOptions& options);

// POST /api/v1/backtests (trader), GET /api/v1/backtests, GET /api/v1/backtests/{id},
// GET /api/v1/backtests/{id}/report (JSON) and /report.html, DELETE /api/v1/backtests/{id}
// (trader). `runner` may be null (no --jobs or --data-dir): the routes then answer 503 naming
// the flags. `runner` must outlive the service.
void AddBacktestRoutes(ApiService& service, JobRunner* runner, BacktestOptions options);

}  // namespace aits::api
