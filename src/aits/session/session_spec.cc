#include "aits/session/session_spec.h"

#include <nlohmann/json.hpp>

namespace aits::session {
namespace {

using Json = nlohmann::ordered_json;

Json Pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  Json out = Json::array();
  for (const auto& [key, value] : pairs) out.push_back(Json::array({key, value}));
  return out;
}

}  // namespace

std::string SessionSpec::ToJson() const {
  Json j;
  j["feed"] = feed;
  j["format"] = format;
  j["spread_points"] = spread_points;
  j["symbol"] = symbol;
  j["seed"] = seed;
  j["synthetic_start_ns"] = synthetic_start.ns;
  j["start_price"] = start_price;
  j["volatility"] = volatility;
  j["max_ticks"] = max_ticks;
  j["signal"] = signal;
  j["signal_params"] = signal_params;
  j["registry"] = registry;
  j["model"] = model;
  j["model_checksum"] = model_checksum;
  j["decision"] = Pairs(decision);
  j["risk"] = Pairs(risk);
  j["account_currency"] = account_currency;
  j["balance"] = balance;
  j["leverage"] = leverage;
  j["latency_us"] = latency_us;
  j["commission"] = commission;
  j["slippage_points"] = slippage_points;
  j["bar_seconds"] = bar_seconds;
  j["session_id"] = session_id;
  return j.dump();
}

Result<SessionSpec> SessionSpec::FromJson(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("session description is not a JSON object");
  }
  SessionSpec spec;
  std::string field;
  try {
    const auto get = [&](const char* name, auto* out) {
      field = name;
      if (!j.contains(name)) throw std::runtime_error("missing");
      *out = j.at(name).get<std::remove_pointer_t<decltype(out)>>();
    };
    const auto get_pairs = [&](const char* name,
                               std::vector<std::pair<std::string, std::string>>* out) {
      field = name;
      for (const auto& item : j.at(name)) {
        out->emplace_back(item.at(0).get<std::string>(), item.at(1).get<std::string>());
      }
    };
    get("feed", &spec.feed);
    get("format", &spec.format);
    get("spread_points", &spec.spread_points);
    get("symbol", &spec.symbol);
    get("seed", &spec.seed);
    get("synthetic_start_ns", &spec.synthetic_start.ns);
    get("start_price", &spec.start_price);
    get("volatility", &spec.volatility);
    get("max_ticks", &spec.max_ticks);
    get("signal", &spec.signal);
    get("signal_params", &spec.signal_params);
    get("registry", &spec.registry);
    get("model", &spec.model);
    get("model_checksum", &spec.model_checksum);
    get_pairs("decision", &spec.decision);
    get_pairs("risk", &spec.risk);
    get("account_currency", &spec.account_currency);
    get("balance", &spec.balance);
    get("leverage", &spec.leverage);
    get("latency_us", &spec.latency_us);
    get("commission", &spec.commission);
    get("slippage_points", &spec.slippage_points);
    get("bar_seconds", &spec.bar_seconds);
    get("session_id", &spec.session_id);
  } catch (const std::exception& error) {
    return InvalidArgument("session description: field '" + field + "': " + error.what());
  }
  return spec;
}

std::string SessionSpec::FirstDifference(const SessionSpec& other) const {
  const Json a = Json::parse(ToJson());
  const Json b = Json::parse(other.ToJson());
  for (auto it = a.begin(); it != a.end(); ++it) {
    const Json& theirs = b.at(it.key());
    if (it.value() != theirs) {
      return it.key() + ": " + it.value().dump() + " vs " + theirs.dump();
    }
  }
  return "";
}

}  // namespace aits::session
