#include "aits/session/reconcile_record.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace aits::session {
namespace {

using Json = nlohmann::ordered_json;
using execution::ActionKind;
using execution::HeldPosition;
using execution::WorkingOrder;

std::string SymbolOf(InstrumentId id, const std::vector<Instrument>& instruments) {
  return id.value < instruments.size() ? instruments[id.value].symbol
                                       : "#" + std::to_string(id.value);
}

// Lots and prices at the instrument's precisions, so that the same holdings always make the same
// text (a replay compares the record byte for byte).
std::string Lots(Quantity lots, InstrumentId id, const std::vector<Instrument>& instruments) {
  if (id.value >= instruments.size()) return lots.ToString();
  return Quantity::FromRaw(lots.raw(), instruments[id.value].LotPrecision()).ToString();
}
std::string Px(Price price, InstrumentId id, const std::vector<Instrument>& instruments) {
  if (id.value >= instruments.size()) return price.ToString();
  return Price::FromRaw(price.raw(), instruments[id.value].digits).ToString();
}

Json PositionJson(const HeldPosition& p, const std::vector<Instrument>& instruments) {
  return Json{{"instrument", p.instrument.value},
              {"symbol", SymbolOf(p.instrument, instruments)},
              {"ticket", p.ticket},
              {"lots", Lots(p.quantity, p.instrument, instruments)},
              {"price", Px(p.open_price, p.instrument, instruments)}};
}

Json OrderJson(const WorkingOrder& o, const std::vector<Instrument>& instruments) {
  Json j{{"instrument", o.instrument.value},
         {"symbol", SymbolOf(o.instrument, instruments)},
         {"client_order_id", o.client_order_id},
         {"ticket", o.ticket},
         {"side", ToString(o.side)},
         {"type", ToString(o.type)},
         {"tif", ToString(o.tif)},
         {"lots", Lots(o.quantity, o.instrument, instruments)},
         {"filled", Lots(o.filled, o.instrument, instruments)}};
  if (o.price) j["price"] = Px(*o.price, o.instrument, instruments);
  return j;
}

Money MoneyFrom(const Json& j, const char* name) {
  auto value = Money::Parse(j.at(name).get<std::string>());
  if (!value.ok()) throw std::runtime_error(std::string(name) + ": " + value.status().message());
  return *value;
}

bool IsPositionAction(ActionKind kind) {
  return kind == ActionKind::kAdoptPosition || kind == ActionKind::kForgetPosition ||
         kind == ActionKind::kClosePosition;
}

// Throws std::runtime_error naming what is wrong; DecodeReconciliation adds the field.
const Instrument& InstrumentAt(const Json& j, const std::vector<Instrument>& instruments) {
  const uint32_t id = j.at("instrument").get<uint32_t>();
  if (id >= instruments.size()) {
    throw std::runtime_error("instrument id " + std::to_string(id) + " is not in the session");
  }
  return instruments[id];
}

template <typename T>
T Fixed(const Json& j, const char* name, int precision) {
  const std::string text = j.at(name).get<std::string>();
  auto value = T::Parse(text, precision);
  if (!value.ok()) throw std::runtime_error(std::string(name) + ": " + value.status().message());
  return *value;
}

HeldPosition PositionFrom(const Json& j, const std::vector<Instrument>& instruments) {
  const Instrument& inst = InstrumentAt(j, instruments);
  return HeldPosition{.ticket = j.at("ticket").get<uint64_t>(),
                      .instrument = inst.id,
                      .quantity = Fixed<Quantity>(j, "lots", inst.LotPrecision()),
                      .open_price = Fixed<Price>(j, "price", inst.digits)};
}

WorkingOrder OrderFrom(const Json& j, const std::vector<Instrument>& instruments) {
  const Instrument& inst = InstrumentAt(j, instruments);
  WorkingOrder o;
  o.instrument = inst.id;
  o.client_order_id = j.at("client_order_id").get<std::string>();
  o.ticket = j.at("ticket").get<uint64_t>();
  const std::string side = j.at("side").get<std::string>();
  if (side != "buy" && side != "sell") throw std::runtime_error("side '" + side + "'");
  o.side = side == "buy" ? Side::kBuy : Side::kSell;
  const std::string type = j.at("type").get<std::string>();
  bool known = false;
  for (OrderType t : {OrderType::kMarket, OrderType::kLimit, OrderType::kStop}) {
    if (type == ToString(t)) o.type = t, known = true;
  }
  if (!known) throw std::runtime_error("type '" + type + "'");
  const std::string tif = j.at("tif").get<std::string>();
  known = false;
  for (TimeInForce t :
       {TimeInForce::kGtc, TimeInForce::kIoc, TimeInForce::kFok, TimeInForce::kDay}) {
    if (tif == ToString(t)) o.tif = t, known = true;
  }
  if (!known) throw std::runtime_error("tif '" + tif + "'");
  o.quantity = Fixed<Quantity>(j, "lots", inst.LotPrecision());
  o.filled = Fixed<Quantity>(j, "filled", inst.LotPrecision());
  if (j.contains("price")) o.price = Fixed<Price>(j, "price", inst.digits);
  return o;
}

}  // namespace

std::string EncodeReconciliation(const kernel::Reconciliation& r,
                                 const std::vector<Instrument>& instruments) {
  Json j;
  j["policy"] = ToString(r.policy);
  j["matched_positions"] = r.report.matched_positions;
  j["matched_orders"] = r.report.matched_orders;
  j["differences"] = r.lines;
  Json positions = Json::array();
  for (const HeldPosition& p : r.venue.positions) positions.push_back(PositionJson(p, instruments));
  Json orders = Json::array();
  for (const WorkingOrder& o : r.venue.orders) orders.push_back(OrderJson(o, instruments));
  j["venue"] = Json{{"positions", positions}, {"orders", orders}};
  if (r.venue.balance) j["venue"]["balance"] = r.venue.balance->ToString();
  Json actions = Json::array();
  for (const execution::ReconcileAction& action : r.plan) {
    Json a{{"action", ToString(action.kind)}};
    if (action.kind == ActionKind::kAdoptBalance) {
      a["balance"] = action.balance.ToString();
      actions.push_back(std::move(a));
      continue;
    }
    const Json item = IsPositionAction(action.kind) ? PositionJson(action.position, instruments)
                                                    : OrderJson(action.order, instruments);
    for (auto it = item.begin(); it != item.end(); ++it) a[it.key()] = it.value();
    actions.push_back(std::move(a));
  }
  j["actions"] = std::move(actions);
  return j.dump();
}

Result<ReconciliationRecord> DecodeReconciliation(std::string_view payload,
                                                  const std::vector<Instrument>& instruments) {
  const Json j = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("reconciliation record is not a JSON object");
  }
  ReconciliationRecord record;
  std::string field = "policy";
  try {
    AITS_ASSIGN_OR_RETURN(record.policy,
                          execution::ParseReconcilePolicy(j.at("policy").get<std::string>()));
    field = "differences";
    record.differences = j.at("differences").get<std::vector<std::string>>();
    field = "venue.positions";
    for (const Json& p : j.at("venue").at("positions")) {
      record.venue.positions.push_back(PositionFrom(p, instruments));
    }
    field = "venue.orders";
    for (const Json& o : j.at("venue").at("orders")) {
      record.venue.orders.push_back(OrderFrom(o, instruments));
    }
    if (j.at("venue").contains("balance")) {
      field = "venue.balance";
      record.venue.balance = MoneyFrom(j.at("venue"), "balance");
    }
    field = "actions";
    for (const Json& a : j.at("actions")) {
      const std::string name = a.at("action").get<std::string>();
      execution::ReconcileAction action;
      bool known = false;
      for (ActionKind kind :
           {ActionKind::kAdoptPosition, ActionKind::kForgetPosition, ActionKind::kClosePosition,
            ActionKind::kAdoptOrder, ActionKind::kForgetOrder, ActionKind::kCancelOrder,
            ActionKind::kAdoptBalance}) {
        if (name == ToString(kind)) action.kind = kind, known = true;
      }
      if (!known) throw std::runtime_error("unknown action '" + name + "'");
      if (action.kind == ActionKind::kAdoptBalance) {
        action.balance = MoneyFrom(a, "balance");
      } else if (IsPositionAction(action.kind)) {
        action.position = PositionFrom(a, instruments);
      } else {
        action.order = OrderFrom(a, instruments);
      }
      record.actions.push_back(std::move(action));
    }
  } catch (const std::exception& error) {
    return InvalidArgument("reconciliation record: field '" + field + "': " + error.what());
  }
  return record;
}

std::string DescribeReconciliation(std::string_view payload) {
  const Json j = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return "(undecodable)";
  std::string out = j.value("policy", std::string("?")) + ": ";
  const Json differences = j.value("differences", Json::array());
  out += std::to_string(differences.size()) + " difference(s)";
  for (const Json& line : differences) out += "; " + line.get<std::string>();
  const Json actions = j.value("actions", Json::array());
  out += actions.empty() ? "; no action" : "; actions:";
  for (size_t index = 0; index < actions.size(); ++index) {
    const Json& a = actions[index];
    if (a.value("action", std::string()) == "adopt balance") {
      out += std::string(index == 0 ? " " : ", ") + "adopt balance " +
             a.value("balance", std::string("?"));
      continue;
    }
    out += std::string(index == 0 ? " " : ", ") + a.value("action", std::string("?")) + " " +
           a.value("symbol", std::string("?"));
    if (a.contains("client_order_id")) {
      out += " order '" + a.value("client_order_id", std::string()) + "'";
    }
    if (a.value("ticket", uint64_t{0}) != 0) {
      out += " ticket " + std::to_string(a.value("ticket", uint64_t{0}));
    }
    out += " " + a.value("lots", std::string("?")) + " lots";
    if (a.contains("price")) out += " @ " + a.value("price", std::string("?"));
  }
  return out;
}

}  // namespace aits::session
