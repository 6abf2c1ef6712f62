#include "aits/session/session_spec.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "aits/core/text.h"
#include "aits/execution/reconciliation.h"

namespace aits::session {
namespace {

using Json = nlohmann::ordered_json;

Json Pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  Json out = Json::array();
  for (const auto& [key, value] : pairs) out.push_back(Json::array({key, value}));
  return out;
}

Json InstrumentJson(const Instrument& inst) {
  Json j{{"digits", inst.digits},
         {"tick_size", inst.tick_size.ToString()},
         {"pip_size", inst.pip_size.ToString()},
         {"contract_size", inst.contract_size},
         {"lot_step", inst.lot_step.ToString()},
         {"min_lots", inst.min_lots.ToString()},
         {"max_lots", inst.max_lots.ToString()},
         {"base", std::string(inst.base.view())},
         {"quote", std::string(inst.quote.view())},
         {"margin_rate", inst.margin_rate}};
  // Only an instrument with a hedged margin rate writes it, so that others read as before.
  if (!inst.margin_hedged_use_leg) j["margin_hedged"] = inst.margin_hedged;
  return j;
}

// Decimals as written ("0.010" -> 3): the precision the value was stored with.
int DecimalsOf(const std::string& text) {
  const size_t dot = text.find('.');
  return dot == std::string::npos ? 0 : static_cast<int>(text.size() - dot - 1);
}

template <typename T>
T ParseFixed(const Json& j, const char* name) {
  const std::string text = j.at(name).get<std::string>();
  auto value = T::Parse(text, std::min(DecimalsOf(text), kFixedDigits));
  if (!value.ok()) throw std::runtime_error(std::string(name) + ": " + value.status().message());
  return *value;
}

Instrument InstrumentFromJson(const Json& j, const std::string& symbol) {
  Instrument inst;
  inst.symbol = symbol;
  inst.digits = j.at("digits").get<int>();
  inst.tick_size = ParseFixed<Price>(j, "tick_size");
  inst.pip_size = ParseFixed<Price>(j, "pip_size");
  inst.contract_size = j.at("contract_size").get<int64_t>();
  inst.lot_step = ParseFixed<Quantity>(j, "lot_step");
  inst.min_lots = ParseFixed<Quantity>(j, "min_lots");
  inst.max_lots = ParseFixed<Quantity>(j, "max_lots");
  inst.base = Currency::Of(j.at("base").get<std::string>());
  inst.quote = Currency::Of(j.at("quote").get<std::string>());
  inst.margin_rate = j.at("margin_rate").get<double>();
  if (j.contains("margin_hedged")) {
    inst.margin_hedged = j.at("margin_hedged").get<double>();
    inst.margin_hedged_use_leg = false;
  }
  const Status valid = inst.Validate();
  if (!valid.ok()) throw std::runtime_error(valid.message());
  return inst;
}

}  // namespace

Instrument InstrumentOf(const SessionSpec& spec) {
  Instrument inst = spec.instrument ? *spec.instrument : Instrument::Infer(spec.symbol);
  inst.symbol = spec.symbol;
  inst.id = InstrumentId{0};
  return inst;
}

std::vector<FeedSpec> FeedsOf(const SessionSpec& spec) {
  if (!spec.feeds.empty()) return spec.feeds;
  FeedSpec feed;
  feed.feed = spec.feed;
  feed.instrument = InstrumentOf(spec);
  feed.seed = spec.seed;
  feed.start_price = spec.start_price;
  return {feed};
}

std::vector<Instrument> InstrumentsOf(const SessionSpec& spec) {
  if (spec.feeds.empty()) return {InstrumentOf(spec)};
  std::vector<Instrument> out(spec.feeds.size());
  for (const FeedSpec& feed : spec.feeds) {
    if (feed.instrument.id.value < out.size()) out[feed.instrument.id.value] = feed.instrument;
  }
  return out;
}

std::vector<InstrumentId> TradedOf(const SessionSpec& spec) {
  if (spec.feeds.empty()) return {InstrumentId{0}};
  std::vector<InstrumentId> out;
  for (const FeedSpec& feed : spec.feeds) {
    if (feed.traded) out.push_back(feed.instrument.id);
  }
  return out;
}

Status ValidateFeeds(const SessionSpec& spec) {
  std::vector<bool> seen(spec.feeds.size(), false);
  bool traded = spec.feeds.empty();
  for (size_t idx = 0; idx < spec.feeds.size(); ++idx) {
    const FeedSpec& feed = spec.feeds[idx];
    const std::string where = "feeds[" + std::to_string(idx) + "] (" + feed.instrument.symbol + ")";
    if (feed.feed.empty()) return InvalidArgument(where + ": no feed (a tick file or synthetic)");
    AITS_RETURN_IF_ERROR(feed.instrument.Validate());
    for (size_t other = 0; other < idx; ++other) {
      if (spec.feeds[other].instrument.symbol == feed.instrument.symbol) {
        return InvalidArgument(where + ": symbol " + feed.instrument.symbol + " has two feeds ('" +
                               spec.feeds[other].feed + "' and '" + feed.feed +
                               "'); give each instrument once");
      }
    }
    const uint32_t id = feed.instrument.id.value;
    if (id >= seen.size() || seen[id]) {
      return InvalidArgument(where + ": instrument id " + std::to_string(id) +
                             " is not one of 0.." + std::to_string(seen.size() - 1) + " once each");
    }
    seen[id] = true;
    traded |= feed.traded;
  }
  if (!traded) return InvalidArgument("every feed is conversion-only: nothing is traded");
  return Status::Ok();
}

std::string SessionSpec::ToJson() const {
  Json j;
  j["feed"] = feed;
  j["format"] = format;
  j["spread_points"] = spread_points;
  j["symbol"] = symbol;
  if (instrument) j["instrument"] = InstrumentJson(*instrument);
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
  if (!shadow_model.empty()) {
    j["shadow_model"] = shadow_model;
    j["shadow_checksum"] = shadow_checksum;
    j["shadow_min_calls"] = shadow_min_calls;
  }
  if (!member_weights.empty()) j["member_weights"] = member_weights;
  j["decision"] = Pairs(decision);
  j["risk"] = Pairs(risk);
  j["account_currency"] = account_currency;
  j["balance"] = balance;
  j["leverage"] = leverage;
  j["latency_us"] = latency_us;
  j["commission"] = commission;
  j["slippage_points"] = slippage_points;
  if (account_mode != "netting") j["account_mode"] = account_mode;
  j["bar_seconds"] = bar_seconds;
  j["session_id"] = session_id;
  // Only sessions over several feeds write the list, so a one-feed spec reads as it always did.
  if (!feeds.empty()) {
    Json list = Json::array();
    for (const FeedSpec& one : feeds) {
      Json item;
      item["feed"] = one.feed;
      item["symbol"] = one.instrument.symbol;
      item["id"] = one.instrument.id.value;
      item["traded"] = one.traded;
      item["instrument"] = InstrumentJson(one.instrument);
      item["seed"] = one.seed;
      item["start_price"] = one.start_price;
      list.push_back(std::move(item));
    }
    j["feeds"] = std::move(list);
  }
  j["reconcile"] = reconcile;
  if (order_tickets) j["order_tickets"] = true;
  if (venue != "simulated") {
    j["venue"] = venue;
    j["report_latency_us"] = report_latency_us;
  }
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
    if (j.contains("instrument")) {
      field = "instrument";
      spec.instrument = InstrumentFromJson(j.at("instrument"), spec.symbol);
    }
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
    if (j.contains("shadow_model")) {
      get("shadow_model", &spec.shadow_model);
      get("shadow_checksum", &spec.shadow_checksum);
      get("shadow_min_calls", &spec.shadow_min_calls);
    }
    if (j.contains("member_weights")) get("member_weights", &spec.member_weights);
    get_pairs("decision", &spec.decision);
    get_pairs("risk", &spec.risk);
    get("account_currency", &spec.account_currency);
    get("balance", &spec.balance);
    get("leverage", &spec.leverage);
    get("latency_us", &spec.latency_us);
    get("commission", &spec.commission);
    get("slippage_points", &spec.slippage_points);
    if (j.contains("account_mode")) {
      get("account_mode", &spec.account_mode);
      if (auto mode = ParseAccountMode(spec.account_mode); !mode.ok()) {
        throw std::runtime_error(mode.status().message());
      }
    }
    get("bar_seconds", &spec.bar_seconds);
    get("session_id", &spec.session_id);
    if (j.contains("feeds")) {
      const Json& list = j.at("feeds");
      if (!list.is_array()) throw std::runtime_error("not a list");
      for (size_t idx = 0; idx < list.size(); ++idx) {
        const Json& item = list.at(idx);
        field = "feeds[" + std::to_string(idx) + "]";
        FeedSpec feed;
        feed.feed = item.at("feed").get<std::string>();
        const std::string symbol = item.at("symbol").get<std::string>();
        feed.instrument = InstrumentFromJson(item.at("instrument"), symbol);
        feed.instrument.id = InstrumentId{item.at("id").get<uint32_t>()};
        feed.traded = item.at("traded").get<bool>();
        feed.seed = item.at("seed").get<uint64_t>();
        feed.start_price = item.at("start_price").get<double>();
        spec.feeds.push_back(std::move(feed));
      }
    }
    spec.order_tickets = false;  // a log from before sessions logged the venue's tickets
    if (j.contains("order_tickets")) get("order_tickets", &spec.order_tickets);
    if (j.contains("reconcile")) {
      get("reconcile", &spec.reconcile);
      const auto policy = execution::ParseReconcilePolicy(spec.reconcile);
      if (!policy.ok()) throw std::runtime_error(policy.status().message());
    }
    if (j.contains("venue")) {
      get("venue", &spec.venue);
      if (auto kind = ParseVenueKind(spec.venue); !kind.ok()) {
        throw std::runtime_error(kind.status().message());
      }
      get("report_latency_us", &spec.report_latency_us);
      if (spec.report_latency_us < 0) throw std::runtime_error("negative");
    }
  } catch (const std::exception& error) {
    return InvalidArgument("session description: field '" + field + "': " + error.what());
  }
  const Status feeds = ValidateFeeds(spec);
  if (!feeds.ok()) return InvalidArgument("session description: " + feeds.message());
  return spec;
}

Result<VenueKind> ParseVenueKind(std::string_view text) {
  if (text == "simulated") return VenueKind::kSimulated;
  if (text == "threaded") return VenueKind::kThreaded;
  if (text == "mt5") return VenueKind::kMt5;
  return InvalidArgument("venue '" + std::string(text) +
                         "' is not one of simulated, threaded, mt5");
}

Result<int64_t> ParseReportLatency(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgument("report latency '" + std::string(text) + "' " + why);
  };
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) != 0 || text[digits] == '.')) {
    ++digits;
  }
  const std::optional<double> number = ParseFiniteDouble(text.substr(0, digits));
  if (digits == 0 || !number) return bad("is not a duration such as 5ms, 250us or 1s");
  const std::string_view unit = text.substr(digits);
  double micros_per_unit = 0;
  if (unit == "ns") {
    micros_per_unit = 1e-3;
  } else if (unit == "us") {
    micros_per_unit = 1;
  } else if (unit == "ms") {
    micros_per_unit = 1e3;
  } else if (unit == "s") {
    micros_per_unit = 1e6;
  } else if (unit.empty() && *number == 0) {
    return int64_t{0};
  } else {
    return bad("has no unit of ns, us, ms or s");
  }
  const double micros = *number * micros_per_unit;
  if (micros > 60e6) return bad("is over a minute");
  return static_cast<int64_t>(micros + 0.5);
}

Status SetExecution(SessionSpec* spec, std::string_view venue, std::string_view report_latency,
                    std::string_view venue_name, std::string_view latency_name) {
  if (!venue.empty()) {
    // A paper session's choices: the live account (mt5) is aits live's.
    const Result<VenueKind> kind = ParseVenueKind(venue);
    if (!kind.ok()) {
      return InvalidArgument(std::string(venue_name) + ": venue '" + std::string(venue) +
                             "' is not one of simulated, threaded");
    }
    if (*kind == VenueKind::kMt5) {
      return InvalidArgument(std::string(venue_name) +
                             ": mt5 is a live MetaTrader account, which aits live trades on; "
                             "a paper session's venue is simulated or threaded");
    }
    spec->venue = std::string(venue);
  }
  if (!report_latency.empty()) {
    auto micros = ParseReportLatency(report_latency);
    if (!micros.ok()) return micros.status().WithContext(latency_name);
    spec->report_latency_us = *micros;
  }
  if (spec->venue == "simulated" && spec->report_latency_us != 0) {
    return InvalidArgument(std::string(latency_name) + ": a report latency is for the threaded " +
                           "venue (the simulated venue answers at once); add --venue threaded");
  }
  return Status::Ok();
}

std::string SessionSpec::FirstDifference(const SessionSpec& other) const {
  const Json a = Json::parse(ToJson());
  const Json b = Json::parse(other.ToJson());
  for (auto it = a.begin(); it != a.end(); ++it) {
    const Json theirs = b.contains(it.key()) ? b.at(it.key()) : Json();
    if (it.value() != theirs) {
      return it.key() + ": " + it.value().dump() + " vs " + theirs.dump();
    }
  }
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (!a.contains(it.key())) return it.key() + ": null vs " + it.value().dump();
  }
  return "";
}

}  // namespace aits::session
