#include "aits/api/job_fields.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "aits/core/time.h"

namespace aits::api {

namespace fs = std::filesystem;

std::string Quoted(const std::string& text) { return "\"" + text.substr(0, 60) + "\""; }

// A data file by its name relative to data_dir, resolved (symlinks too) and kept inside it.
Result<std::string> DataFile(const std::string& field, const nlohmann::json& value,
                             const std::string& data_dir) {
  if (!value.is_string() || value.get<std::string>().empty() ||
      value.get<std::string>().size() > 200) {
    return InvalidArgument(field + ": a file name under the API's data directory is required");
  }
  const std::string name = value.get<std::string>();
  if (name.find('\0') != std::string::npos || fs::path(name).is_absolute()) {
    return InvalidArgument(field + " " + Quoted(name) +
                           ": give the file's name relative to the data directory");
  }
  std::error_code ec;
  const fs::path root = fs::canonical(data_dir, ec);
  if (ec) return Unavailable("the data directory " + data_dir + " cannot be read: " + ec.message());
  const fs::path file = fs::weakly_canonical(root / name, ec);
  const std::string inside = root.string() + "/";
  if (ec || file.string().rfind(inside, 0) != 0) {
    return InvalidArgument(field + " " + Quoted(name) + ": not inside the data directory");
  }
  if (!fs::is_regular_file(file, ec)) {
    return InvalidArgument(field + " " + Quoted(name) + ": no such file in the data directory");
  }
  return file.string();
}

Result<std::string> Matching(const std::string& field, const nlohmann::json& value,
                             const std::regex& pattern, const std::string& expected) {
  if (!value.is_string() || !std::regex_match(value.get<std::string>(), pattern)) {
    return InvalidArgument(
        field + " " +
        (value.is_string() ? Quoted(value.get<std::string>()) : value.dump().substr(0, 60)) +
        ": expected " + expected);
  }
  return value.get<std::string>();
}

Result<std::string> Number(const std::string& field, const nlohmann::json& value, double low,
                           double high, bool whole) {
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < low ||
      value.get<double>() > high || (whole && !value.is_number_integer())) {
    std::ostringstream range;
    range << (whole ? "a whole number" : "a number") << " from " << low << " to " << high;
    return InvalidArgument(field + " " + value.dump().substr(0, 60) + ": expected " + range.str());
  }
  return value.is_number_integer() ? std::to_string(value.get<int64_t>()) : value.dump();
}

namespace {

const std::regex kSymbol("[A-Za-z0-9._]{1,20}");
const std::regex kParamKey("[a-z][a-z0-9_]{0,39}");
const std::regex kParamText("[A-Za-z0-9_.:-]{1,40}");
const std::regex kModel("[A-Za-z0-9_.@#-]{1,100}");
const std::regex kCommission("none|(per_lot|per_million|percent):[0-9]{1,9}(\\.[0-9]{1,9})?");
const std::regex kAccountMode("netting|hedging");
const std::regex kBar("[A-Z]{1,2}[0-9]{1,4}");

}  // namespace

Result<std::string> SymbolField(const std::string& field, const nlohmann::json& value) {
  return Matching(field, value, kSymbol, "a symbol such as EURUSD");
}

Result<std::vector<std::pair<std::string, std::string>>> ParamsField(const nlohmann::json& value) {
  if (!value.is_object() || value.size() > 32) {
    return InvalidArgument("params: an object of at most 32 name: value pairs");
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, item] : value.items()) {
    if (!std::regex_match(key, kParamKey)) {
      return InvalidArgument("params: name " + Quoted(key) +
                             ": expected lower-case letters, digits and _");
    }
    std::string text;
    if (item.is_number()) {
      AITS_ASSIGN_OR_RETURN(text, Number("params." + key, item, -1e12, 1e12, false));
    } else {
      AITS_ASSIGN_OR_RETURN(text, Matching("params." + key, item, kParamText,
                                           "a number or a word of letters, digits, _.:-"));
    }
    out.emplace_back(key, text);
  }
  return out;
}

Result<std::string> ModelField(const nlohmann::json& value) {
  return Matching("model", value, kModel, "latest, NAME, NAME@VERSION or #ID");
}

Result<std::string> CommissionField(const nlohmann::json& value) {
  return Matching("commission", value, kCommission,
                  "none, per_lot:RATE, per_million:RATE or percent:RATE");
}

Result<std::string> AccountModeField(const nlohmann::json& value) {
  return Matching("account_mode", value, kAccountMode, "netting or hedging");
}

Result<std::string> BarField(const nlohmann::json& value) {
  return Matching("bar", value, kBar, "a period such as M1, M15, H1, D1");
}

Result<std::string> TimeField(const std::string& field, const nlohmann::json& value) {
  if (!value.is_string() || value.get<std::string>().size() > 40 ||
      !ParseUtcTime(value.get<std::string>())) {
    return InvalidArgument(field + " " + value.dump().substr(0, 60) +
                           ": expected a UTC time such as 2012-02-24 or 2012-02-24T13:30");
  }
  return value.get<std::string>();
}

Status ReasonField(const nlohmann::json& body) {
  if (body.contains("reason") &&
      (!body["reason"].is_string() || body["reason"].get<std::string>().size() > 500)) {
    return InvalidArgument("reason: a string of at most 500 characters");
  }
  return Status::Ok();
}

Status SignalFields(const nlohmann::json& body, const std::string& registry, const FlagFn& flag) {
  bool ml = false;
  if (body.contains("signal")) {
    static const std::regex kSignal("sma_cross|rsi|ml_ensemble");
    AITS_ASSIGN_OR_RETURN(const std::string signal, Matching("signal", body["signal"], kSignal,
                                                             "sma_cross, rsi or ml_ensemble"));
    flag("signal", signal);
    ml = signal == "ml_ensemble";
  }
  if (body.contains("model")) {
    if (!ml) return InvalidArgument("model: only with \"signal\": \"ml_ensemble\"");
    AITS_ASSIGN_OR_RETURN(const std::string model, ModelField(body["model"]));
    flag("model", model);
  }
  if (ml) {
    if (registry.empty()) {
      return FailedPrecondition("signal ml_ensemble: the API was started without --registry");
    }
    flag("registry", registry);
  }
  return Status::Ok();
}

Status AccountFields(const nlohmann::json& body, const FlagFn& flag) {
  if (body.contains("leverage")) {
    AITS_ASSIGN_OR_RETURN(const std::string leverage,
                          Number("leverage", body["leverage"], 1, 10000, false));
    flag("leverage", leverage);
  }
  if (body.contains("commission")) {
    AITS_ASSIGN_OR_RETURN(const std::string commission, CommissionField(body["commission"]));
    flag("commission", commission);
  }
  if (body.contains("account_mode")) {
    AITS_ASSIGN_OR_RETURN(const std::string mode, AccountModeField(body["account_mode"]));
    flag("account-mode", mode);
  }
  if (body.contains("bar")) {
    AITS_ASSIGN_OR_RETURN(const std::string bar, BarField(body["bar"]));
    flag("bar", bar);
  }
  return Status::Ok();
}

Result<JobView> SubmitFor(RequestContext& ctx, JobRunner& runner, const std::string& kind,
                          const std::string& program, const std::vector<std::string>& args,
                          const nlohmann::json& body) {
  JobSpec spec;
  spec.kind = kind;
  spec.argv = {program};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.request = body;
  spec.by = ctx.caller->subject;
  spec.chain_id = ctx.chain_id;
  AITS_ASSIGN_OR_RETURN(JobView job, runner.Submit(std::move(spec)));
  ctx.audit_target = kind + " " + std::to_string(job.id);
  ctx.audit_detail = body.dump();
  return job;
}

}  // namespace aits::api
