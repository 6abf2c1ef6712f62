// Checks of the fields a job's request may carry (backtests, sessions), shared by their routes:
// each names the field and the value it refused.
#pragma once

#include <functional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/api/api_service.h"
#include "aits/api/job_runner.h"
#include "aits/core/status.h"

namespace aits::api {

// "text", cut to 60 characters, for messages.
std::string Quoted(const std::string& text);

// A data file by its name relative to `data_dir`, resolved (symlinks too) and kept inside it:
// the resolved path. InvalidArgument for a name outside it or no regular file; Unavailable when
// data_dir cannot be read.
Result<std::string> DataFile(const std::string& field, const nlohmann::json& value,
                             const std::string& data_dir);

// A string matching `pattern` whole; else InvalidArgument saying what was `expected`.
Result<std::string> Matching(const std::string& field, const nlohmann::json& value,
                             const std::regex& pattern, const std::string& expected);

// A finite number in [low, high] (whole: an integer), as text for a flag.
Result<std::string> Number(const std::string& field, const nlohmann::json& value, double low,
                           double high, bool whole);

// The fields backtests and sessions share, each checked whole.
Result<std::string> SymbolField(const std::string& field, const nlohmann::json& value);
// {"fast": 10, "mode": "x"}: name (lower case, digits, _) and value (a number or a word) pairs,
// at most 32, in name order.
Result<std::vector<std::pair<std::string, std::string>>> ParamsField(const nlohmann::json& value);
Result<std::string> ModelField(const nlohmann::json& value);  // latest, NAME, NAME@V, #ID
Result<std::string> CommissionField(const nlohmann::json& value);
Result<std::string> AccountModeField(const nlohmann::json& value);
Result<std::string> BarField(const nlohmann::json& value);
Result<std::string> TimeField(const std::string& field, const nlohmann::json& value);
Status ReasonField(const nlohmann::json& body);  // optional "reason", at most 500 characters

// Adds `--NAME=VALUE` to a job's arguments.
using FlagFn = std::function<void(const std::string& name, const std::string& value)>;
// "signal" (sma_cross, rsi, ml_ensemble) and "model" (ml_ensemble only, which also passes
// `registry`: FailedPrecondition when it is empty).
Status SignalFields(const nlohmann::json& body, const std::string& registry, const FlagFn& flag);
// "leverage", "commission", "account_mode" and "bar", which backtests and sessions share.
Status AccountFields(const nlohmann::json& body, const FlagFn& flag);

// Submits a job of `kind` running `program` with `args` for the request's caller (who, chain
// id, the body as its request), and notes it for the audit trail.
Result<JobView> SubmitFor(RequestContext& ctx, JobRunner& runner, const std::string& kind,
                          const std::string& program, const std::vector<std::string>& args,
                          const nlohmann::json& body);

}  // namespace aits::api
