#include "aits/trading/strategy.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace aits::strategy {

void Strategy::MoveToTarget(InstrumentId instrument, Quantity target_lots, std::string tag) {
  const Quantity heading =
      context_->position(instrument).quantity + context_->PendingLots(instrument);
  const Quantity delta = target_lots - heading;
  if (delta.IsZero()) return;
  OrderRequest request;
  request.instrument = instrument;
  request.side = delta.IsPositive() ? Side::kBuy : Side::kSell;
  request.type = OrderType::kMarket;
  request.quantity = delta.Abs();
  request.tag = std::move(tag);
  SubmitNetted(*context_, request);
}

OrderId SubmitNetted(StrategyContext& context, const OrderRequest& request,
                     const std::function<std::string()>& client_id, std::vector<SentOrder>* sent) {
  auto send = [&](OrderRequest order) {
    if (client_id) order.client_order_id = client_id();
    const OrderId id = context.Submit(order);
    if (sent != nullptr) sent->push_back(SentOrder{id, std::move(order)});
    return id;
  };
  if (request.type != OrderType::kMarket || request.position_ticket != 0 ||
      context.account_mode() != AccountMode::kHedging) {
    return send(request);
  }
  int64_t remaining = request.quantity.raw();
  OrderId last;
  for (const HedgedPosition& position : context.OpenPositions(request.instrument)) {
    if (remaining == 0) break;
    if (position.side == request.side) continue;
    const int64_t lots = std::min(remaining, position.quantity.raw());
    OrderRequest close = request;
    close.quantity = Quantity::FromRaw(lots, request.quantity.precision());
    close.position_ticket = position.ticket;
    // A close carries no protection: SL/TP belong to the position it would open.
    close.stop_loss.reset();
    close.take_profit.reset();
    last = send(close);
    remaining -= lots;
  }
  if (remaining == 0) return last;
  OrderRequest open = request;
  open.quantity = Quantity::FromRaw(remaining, request.quantity.precision());
  return send(open);
}

Result<StrategyParams> StrategyParams::Parse(std::string_view text) {
  StrategyParams params;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidArgument("strategy parameter '" + std::string(item) +
                             "' is not of the form key=value");
    }
    params.Set(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return params;
}

Result<int> StrategyParams::Int(std::string_view key, int default_value, int min_value,
                                int max_value) {
  used_.emplace_back(key);
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return default_value;
  int value = 0;
  const std::string& text = it->second;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument("parameter '" + std::string(key) + "' value '" + text +
                           "' is not an integer");
  }
  if (value < min_value || value > max_value) {
    return InvalidArgument("parameter '" + std::string(key) + "' value " + text + " is outside " +
                           std::to_string(min_value) + ".." + std::to_string(max_value));
  }
  return value;
}

Result<double> StrategyParams::Double(std::string_view key, double default_value, double min_value,
                                      double max_value) {
  used_.emplace_back(key);
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return default_value;
  const std::string& text = it->second;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) {
    return InvalidArgument("parameter '" + std::string(key) + "' value '" + text +
                           "' is not a finite number");
  }
  if (value < min_value || value > max_value) {
    return InvalidArgument("parameter '" + std::string(key) + "' value " + text + " is outside " +
                           std::to_string(min_value) + ".." + std::to_string(max_value));
  }
  return value;
}

Result<std::string> StrategyParams::Choice(std::string_view key, std::string default_value,
                                           const std::vector<std::string>& allowed) {
  used_.emplace_back(key);
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return default_value;
  if (std::find(allowed.begin(), allowed.end(), it->second) == allowed.end()) {
    std::string list;
    for (const auto& option : allowed) list += (list.empty() ? "" : ", ") + option;
    return InvalidArgument("parameter '" + std::string(key) + "' value '" + it->second +
                           "' is not one of: " + list);
  }
  return it->second;
}

Status StrategyParams::CheckAllUsed(std::string_view strategy_name) const {
  for (const auto& [key, value] : values_) {
    if (std::find(used_.begin(), used_.end(), key) == used_.end()) {
      return InvalidArgument("strategy '" + std::string(strategy_name) + "' has no parameter '" +
                             key + "' (value '" + value + "')");
    }
  }
  return Status::Ok();
}

}  // namespace aits::strategy
