#include "aits/risk/risk_manager.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <utility>

#include "aits/core/text.h"

namespace aits::risk {
namespace {

// One-sided normal quantiles for the parametric VaR: VaR = z * sigma - mu, i.e. the header's
// -(mu + z * sigma) with z taken as the lower-tail quantile (-1.6449 / -2.3263).
constexpr double kZ95 = 1.6448536269514722;
constexpr double kZ99 = 2.3263478740408408;
// VaR is reported only once this many bar returns exist (the header's ">= 20 returns").
constexpr size_t kMinVarReturns = 20;
// A correlation needs this many matched bar returns (or the whole window when it is smaller);
// fewer points give estimates too noisy to group positions by.
constexpr size_t kMinCorrelationReturns = 20;
// Caps on the integer limits so that a typo cannot allocate gigabytes.
constexpr double kMaxWindow = 100'000;
constexpr double kMaxOrdersPerSecond = 1'000'000;

// printf into a std::string: only on rejection and breaker changes (never on a passing order).
std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* format, ...) {
  char buffer[512];
  va_list args;
  va_start(args, format);
  const int written = std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  if (written < 0) return std::string();
  return std::string(buffer, static_cast<size_t>(std::min<int>(written, sizeof(buffer) - 1)));
}

int64_t AbsRaw(int64_t value) { return value < 0 ? -value : value; }

// Sample mean and standard deviation (n - 1) of values[0..count).
void MeanStd(const double* values, size_t count, double* mean, double* stddev) {
  double sum = 0;
  for (size_t idx = 0; idx < count; ++idx) sum += values[idx];
  *mean = sum / static_cast<double>(count);
  double squares = 0;
  for (size_t idx = 0; idx < count; ++idx) {
    const double diff = values[idx] - *mean;
    squares += diff * diff;
  }
  *stddev = count > 1 ? std::sqrt(squares / static_cast<double>(count - 1)) : 0.0;
}

// Empirical quantile of sorted[0..count) at probability `alpha`, linear interpolation between
// order statistics at position (count - 1) * alpha (Hyndman & Fan type 7, numpy's default).
double Quantile(const double* sorted, size_t count, double alpha) {
  const double position = static_cast<double>(count - 1) * alpha;
  const size_t lower = static_cast<size_t>(std::floor(position));
  const size_t upper = std::min(lower + 1, count - 1);
  const double weight = position - static_cast<double>(lower);
  return sorted[lower] + weight * (sorted[upper] - sorted[lower]);
}

struct LimitField {
  std::string_view name;
  double RiskLimits::*member;
};

constexpr LimitField kFields[] = {
    {"max_order_lots", &RiskLimits::max_order_lots},
    {"max_position_lots", &RiskLimits::max_position_lots},
    {"max_gross_exposure", &RiskLimits::max_gross_exposure},
    {"max_net_exposure", &RiskLimits::max_net_exposure},
    {"max_currency_exposure", &RiskLimits::max_currency_exposure},
    {"max_correlated_exposure", &RiskLimits::max_correlated_exposure},
    {"correlation_threshold", &RiskLimits::correlation_threshold},
    {"correlation_window", &RiskLimits::correlation_window},
    {"max_leverage", &RiskLimits::max_leverage},
    {"max_margin_use", &RiskLimits::max_margin_use},
    {"max_orders_per_second", &RiskLimits::max_orders_per_second},
    {"price_collar", &RiskLimits::price_collar},
    {"daily_loss_limit", &RiskLimits::daily_loss_limit},
    {"max_drawdown", &RiskLimits::max_drawdown},
    {"reduce_only_drawdown", &RiskLimits::reduce_only_drawdown},
    {"var_limit", &RiskLimits::var_limit},
    {"var_window", &RiskLimits::var_window},
};

std::string LimitText(double value) { return Format("%.17g", value); }

Status RangeError(std::string_view name, double value, const char* rule) {
  return InvalidArgument("risk limit " + std::string(name) + " = " + LimitText(value) + " " + rule);
}

size_t WindowSize(double value, size_t minimum) {
  if (!(value >= static_cast<double>(minimum))) return minimum;
  return static_cast<size_t>(std::min(value, kMaxWindow));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RiskLimits

RiskLimits RiskLimits::Defaults() {
  RiskLimits limits;
  limits.max_order_lots = 20;
  limits.max_position_lots = 30;
  limits.max_gross_exposure = 5'000'000;
  limits.max_net_exposure = 3'000'000;
  limits.max_currency_exposure = 3'000'000;
  limits.max_correlated_exposure = 4'000'000;
  limits.correlation_threshold = 0.7;
  limits.correlation_window = 100;
  limits.max_leverage = 30;
  limits.max_margin_use = 0.5;
  limits.max_orders_per_second = 50;
  limits.price_collar = 0.02;
  limits.daily_loss_limit = 5'000;
  limits.max_drawdown = 0.2;
  limits.reduce_only_drawdown = 0.1;
  limits.var_limit = 0.05;
  limits.var_window = 250;
  return limits;
}

const std::vector<std::string_view>& RiskLimits::Keys() {
  static const std::vector<std::string_view> kKeys = [] {
    std::vector<std::string_view> keys;
    for (const LimitField& field : kFields) keys.push_back(field.name);
    return keys;
  }();
  return kKeys;
}

Status RiskLimits::Set(std::string_view key, std::string_view value) {
  const LimitField* field = nullptr;
  for (const LimitField& candidate : kFields) {
    if (candidate.name == key) field = &candidate;
  }
  if (field == nullptr) {
    return InvalidArgument("risk limit '" + std::string(key) + "' is unknown");
  }
  const std::optional<double> parsed = ParseFiniteDouble(value);
  if (!parsed) {
    return InvalidArgument("risk limit " + std::string(key) + " = '" + std::string(value) +
                           "' is not a finite number");
  }
  this->*(field->member) = *parsed;
  return Status::Ok();
}

Status RiskLimits::Validate() const {
  for (const LimitField& field : kFields) {
    const double value = this->*(field.member);
    if (std::isnan(value)) {
      return InvalidArgument("risk limit " + std::string(field.name) + " is missing");
    }
    if (value < 0) return RangeError(field.name, value, "must be >= 0");
    if (std::isinf(value)) return RangeError(field.name, value, "must be finite");
  }
  if (correlation_threshold > 1) {
    return RangeError("correlation_threshold", correlation_threshold, "must be in [0, 1]");
  }
  if (correlation_window != std::floor(correlation_window) || correlation_window < 2 ||
      correlation_window > kMaxWindow) {
    return RangeError("correlation_window", correlation_window,
                      "must be a whole number in [2, 100000]");
  }
  if (max_margin_use > 1) {
    return RangeError("max_margin_use", max_margin_use, "must be in [0, 1]");
  }
  if (max_orders_per_second != std::floor(max_orders_per_second) ||
      max_orders_per_second > kMaxOrdersPerSecond) {
    return RangeError("max_orders_per_second", max_orders_per_second,
                      "must be a whole number in [0, 1000000]");
  }
  // Zero would trip the breaker on the very first update (loss 0 >= 0, drawdown 0 >= 0).
  if (daily_loss_limit == 0) return RangeError("daily_loss_limit", daily_loss_limit, "must be > 0");
  if (max_drawdown == 0 || max_drawdown > 1) {
    return RangeError("max_drawdown", max_drawdown, "must be in (0, 1]");
  }
  if (reduce_only_drawdown == 0 || reduce_only_drawdown > max_drawdown) {
    return RangeError("reduce_only_drawdown", reduce_only_drawdown,
                      ("must be in (0, max_drawdown = " + LimitText(max_drawdown) + "]").c_str());
  }
  if (var_limit == 0) return RangeError("var_limit", var_limit, "must be > 0");
  if (var_window != std::floor(var_window) || var_window < 20 || var_window > kMaxWindow) {
    return RangeError("var_window", var_window, "must be a whole number in [20, 100000]");
  }
  for (size_t idx = 0; idx < groups.size(); ++idx) {
    const CorrelationGroup& group = groups[idx];
    const std::string what = "correlation group '" + group.name + "'";
    if (group.name.empty())
      return InvalidArgument("correlation group #" + std::to_string(idx + 1) + " has no name");
    for (size_t other = 0; other < idx; ++other) {
      if (groups[other].name == group.name) return InvalidArgument(what + " is defined twice");
    }
    if (group.symbols.size() < 2) return InvalidArgument(what + " needs at least two symbols");
    if (std::isnan(group.max_exposure) && std::isnan(group.max_positions)) {
      return InvalidArgument(what + " sets neither max_exposure nor max_positions");
    }
    if (!std::isnan(group.max_exposure) &&
        !(group.max_exposure >= 0 && std::isfinite(group.max_exposure))) {
      return InvalidArgument(what + ": max_exposure = " + LimitText(group.max_exposure) +
                             " must be a finite number >= 0");
    }
    if (!std::isnan(group.max_positions) &&
        !(group.max_positions >= 0 && group.max_positions == std::floor(group.max_positions) &&
          group.max_positions <= 1e6)) {
      return InvalidArgument(what + ": max_positions = " + LimitText(group.max_positions) +
                             " must be a whole number >= 0");
    }
  }
  return Status::Ok();
}

Result<CorrelationGroup> CorrelationGroup::Parse(std::string_view text) {
  const std::string quoted = "correlation group '" + std::string(text) + "'";
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    const size_t colon = text.find(':', begin);
    parts.emplace_back(text.substr(begin, colon == std::string_view::npos ? colon : colon - begin));
    if (colon == std::string_view::npos) break;
    begin = colon + 1;
  }
  if (parts.size() < 3) {
    return InvalidArgument(quoted + " is not NAME:SYM,SYM[,...]:max_exposure=X[:max_positions=N]");
  }
  CorrelationGroup group;
  group.name = parts[0];
  size_t from = 0;
  const std::string& list = parts[1];
  while (from <= list.size()) {
    const size_t comma = list.find(',', from);
    std::string symbol = list.substr(from, comma == std::string::npos ? comma : comma - from);
    if (symbol.empty() || symbol == "-") return InvalidArgument(quoted + ": empty symbol");
    std::transform(symbol.begin(), symbol.end(), symbol.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    group.symbols.push_back(symbol);
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  for (size_t idx = 2; idx < parts.size(); ++idx) {
    const size_t eq = parts[idx].find('=');
    const std::string key = parts[idx].substr(0, eq);
    const std::optional<double> value =
        eq == std::string::npos ? std::nullopt : ParseFiniteDouble(parts[idx].substr(eq + 1));
    if (!value) {
      return InvalidArgument(quoted + ": '" + parts[idx] + "' is not KEY=NUMBER");
    }
    if (key == "max_exposure") {
      group.max_exposure = *value;
    } else if (key == "max_positions") {
      group.max_positions = *value;
    } else {
      return InvalidArgument(quoted + ": unknown limit '" + key +
                             "' (max_exposure, max_positions)");
    }
  }
  return group;
}

// ---------------------------------------------------------------------------------------------
// RiskManager state

namespace {

// What put the breaker in its current state; decides which automatic releases apply.
enum class Cause : uint8_t { kNone, kManual, kDailyLoss, kMaxDrawdown, kDrawdown, kVar };

// Rules that escalate automatically. A manual de-escalation acknowledges the ones that hold at
// that moment: they stay quiet until their measure has first fallen back below the limit,
// otherwise the next quote would undo the operator's decision.
enum Rule : int { kRuleDailyLoss, kRuleMaxDrawdown, kRuleDrawdown, kRuleVar, kRuleCount };

}  // namespace

struct RiskManager::State {
  struct Slot {
    bool present = false;
    Instrument instrument;
    int base_currency = -1;  // index into currencies; -1: not an FX pair or the account currency
    int quote_currency = -1;
    bool has_mid = false;
    Price mid;
    // Bar-close log returns, ring of correlation_window (time-ordered; matched by close time).
    std::vector<int64_t> return_times;
    std::vector<double> returns;
    size_t return_head = 0;  // next write position
    size_t return_count = 0;
    double last_close = 0;  // last bar-close mid; 0: none yet
    int64_t last_close_time = 0;
  };

  std::vector<Slot> slots;
  // Configured groups by index into RiskLimits::groups: their members' slots and signs, and the
  // groups each slot belongs to (filled as instruments are added).
  struct GroupMember {
    uint32_t slot;
    double sign;
  };
  std::vector<std::vector<GroupMember>> group_members;
  std::vector<std::vector<uint32_t>> groups_of;  // per slot
  Currency account_currency;
  std::vector<Currency> currencies;
  // Correlation matrix (slots.size()^2), refreshed at every bar close of a member of the pair.
  std::vector<double> correlation;
  size_t correlation_window = 2;

  // Scratch for CheckOrder / UpdatePostTrade, sized in AddInstrument so checks never allocate.
  std::vector<double> signed_notional;  // per slot, account currency
  std::vector<double> currency_exposure;
  std::vector<double> group_sign;  // 0: not in the order's group
  std::vector<uint32_t> queue;
  std::vector<double> xs;  // correlation matched pairs
  std::vector<double> ys;

  // Order rate: timestamps of accepted orders, ring of max_orders_per_second.
  std::vector<int64_t> accepted_times;
  size_t accepted_head = 0;  // oldest entry
  size_t accepted_count = 0;

  // Equity returns for VaR: ring of var_window plus a sorted scratch copy.
  std::vector<double> var_returns;
  size_t var_head = 0;
  size_t var_count = 0;
  std::vector<double> var_sorted;
  bool has_bar_equity = false;
  Money prev_bar_equity;  // equity at the previous bar close time
  Money bar_equity;       // equity at the latest bar close time
  int64_t bar_time = 0;
  bool overwrite_ok = false;  // the latest bar time has a return in the ring
  int64_t var_last_time = 0;  // close time of the latest return in the ring

  bool started = false;
  Timestamp day;  // start of the UTC day of the last update
  Cause cause = Cause::kNone;
  std::array<bool, kRuleCount> acknowledged{};

  Slot* SlotOf(InstrumentId id) {
    if (id.value >= slots.size() || !slots[id.value].present) return nullptr;
    return &slots[id.value];
  }
  const Slot* SlotOf(InstrumentId id) const {
    if (id.value >= slots.size() || !slots[id.value].present) return nullptr;
    return &slots[id.value];
  }

  int CurrencyIndex(Currency currency) {
    if (currency.empty() || currency == account_currency) return -1;
    for (size_t idx = 0; idx < currencies.size(); ++idx) {
      if (currencies[idx] == currency) return static_cast<int>(idx);
    }
    currencies.push_back(currency);
    return static_cast<int>(currencies.size() - 1);
  }

  // Pearson correlation of the two slots' bar returns over the close times both have.
  double ComputeCorrelation(const Slot& a, const Slot& b, std::vector<double>& xs_out,
                            std::vector<double>& ys_out) const {
    size_t matched = 0;
    size_t ia = 0;
    size_t ib = 0;
    const size_t cap_a = a.returns.size();
    const size_t cap_b = b.returns.size();
    const size_t start_a = (a.return_head + cap_a - a.return_count) % (cap_a == 0 ? 1 : cap_a);
    const size_t start_b = (b.return_head + cap_b - b.return_count) % (cap_b == 0 ? 1 : cap_b);
    while (ia < a.return_count && ib < b.return_count) {
      const size_t pa = (start_a + ia) % cap_a;
      const size_t pb = (start_b + ib) % cap_b;
      if (a.return_times[pa] < b.return_times[pb]) {
        ++ia;
      } else if (a.return_times[pa] > b.return_times[pb]) {
        ++ib;
      } else {
        xs_out[matched] = a.returns[pa];
        ys_out[matched] = b.returns[pb];
        ++matched;
        ++ia;
        ++ib;
      }
    }
    if (matched < std::min(kMinCorrelationReturns, correlation_window)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    double mean_x = 0;
    double mean_y = 0;
    double sd_x = 0;
    double sd_y = 0;
    MeanStd(xs_out.data(), matched, &mean_x, &sd_x);
    MeanStd(ys_out.data(), matched, &mean_y, &sd_y);
    if (!(sd_x > 0) || !(sd_y > 0)) return std::numeric_limits<double>::quiet_NaN();
    double covariance = 0;
    for (size_t idx = 0; idx < matched; ++idx) {
      covariance += (xs_out[idx] - mean_x) * (ys_out[idx] - mean_y);
    }
    covariance /= static_cast<double>(matched - 1);
    return std::clamp(covariance / (sd_x * sd_y), -1.0, 1.0);
  }
};

// ---------------------------------------------------------------------------------------------
// RiskManager

RiskManager::RiskManager(const RiskLimits& limits, const portfolio::Portfolio& portfolio,
                         BreakerListener listener)
    : limits_(limits),
      portfolio_(portfolio),
      listener_(std::move(listener)),
      state_(std::make_unique<State>()) {
  State& state = *state_;
  state.account_currency = portfolio_.account().currency;
  state.correlation_window = WindowSize(limits_.correlation_window, 2);
  const size_t rate =
      limits_.max_orders_per_second >= 0
          ? static_cast<size_t>(std::min(limits_.max_orders_per_second, kMaxOrdersPerSecond))
          : 0;
  state.accepted_times.assign(rate, 0);
  const size_t var_window = WindowSize(limits_.var_window, kMinVarReturns);
  state.var_returns.assign(var_window, 0.0);
  state.var_sorted.assign(var_window, 0.0);
  state.xs.assign(state.correlation_window, 0.0);
  state.ys.assign(state.correlation_window, 0.0);
  state.group_members.resize(limits_.groups.size());
  snapshot_.breaker = BreakerState::kNormal;
}

RiskManager::~RiskManager() = default;

void RiskManager::AddInstrument(const Instrument& instrument) {
  State& state = *state_;
  const size_t old_count = state.slots.size();
  if (instrument.id.value >= old_count) {
    const size_t count = instrument.id.value + 1;
    state.slots.resize(count);
    // Re-lay the correlation matrix for the new size.
    std::vector<double> matrix(count * count, std::numeric_limits<double>::quiet_NaN());
    for (size_t row = 0; row < old_count; ++row) {
      for (size_t col = 0; col < old_count; ++col) {
        matrix[row * count + col] = state.correlation[row * old_count + col];
      }
    }
    state.correlation = std::move(matrix);
    state.signed_notional.assign(count, 0.0);
    state.group_sign.assign(count, 0.0);
    state.queue.assign(count, 0);
  }
  State::Slot& slot = state.slots[instrument.id.value];
  slot.present = true;
  slot.instrument = instrument;
  // Per-currency exposure applies to FX pairs only: the symbol's letters are BASE + QUOTE.
  std::string letters;
  for (char ch : instrument.symbol) {
    if (std::isalpha(static_cast<unsigned char>(ch))) {
      letters += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
  }
  const bool fx =
      !instrument.base.empty() && !instrument.quote.empty() &&
      letters == std::string(instrument.base.view()) + std::string(instrument.quote.view());
  slot.base_currency = fx ? state.CurrencyIndex(instrument.base) : -1;
  slot.quote_currency = fx ? state.CurrencyIndex(instrument.quote) : -1;
  state.currency_exposure.assign(state.currencies.size(), 0.0);
  slot.return_times.assign(state.correlation_window, 0);
  slot.returns.assign(state.correlation_window, 0.0);
  slot.return_head = 0;
  slot.return_count = 0;
  if (state.groups_of.size() < state.slots.size()) state.groups_of.resize(state.slots.size());
  for (size_t group = 0; group < limits_.groups.size(); ++group) {
    for (const std::string& member : limits_.groups[group].symbols) {
      const bool inverse = !member.empty() && member[0] == '-';
      if ((inverse ? member.substr(1) : member) != instrument.symbol) continue;
      state.group_members[group].push_back({instrument.id.value, inverse ? -1.0 : 1.0});
      state.groups_of[instrument.id.value].push_back(static_cast<uint32_t>(group));
      break;
    }
  }
}

double RiskManager::Correlation(InstrumentId a, InstrumentId b) const {
  const State& state = *state_;
  if (state.SlotOf(a) == nullptr || state.SlotOf(b) == nullptr) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return state.correlation[a.value * state.slots.size() + b.value];
}

RiskVerdict RiskManager::CheckOrder(const OrderRequest& request, const Tick* last_quote,
                                    Timestamp now, bool flatten) {
  State& state = *state_;
  ++snapshot_.orders_checked;
  RiskVerdict verdict;
  auto reject = [&](RejectReason reason, std::string detail) {
    verdict.reason = reason;
    verdict.detail = std::move(detail);
    ++snapshot_.orders_rejected;
    ++snapshot_.rejects_by_reason[static_cast<size_t>(reason)];
    return std::move(verdict);
  };

  if (flatten) {
    // The kernel's own closing orders: no rule applies, and they do not use up the strategy's
    // order rate.
    return verdict;
  }
  if (snapshot_.breaker == BreakerState::kHalted) {
    return reject(RejectReason::kRiskHalted, "breaker halted: no orders until it is reset");
  }
  const State::Slot* slot = state.SlotOf(request.instrument);
  if (slot == nullptr) {
    return reject(RejectReason::kUnknownInstrument,
                  Format("instrument id %u is not registered with the risk manager",
                         request.instrument.value));
  }
  const Instrument& instrument = slot->instrument;
  const int lot_precision = request.quantity.precision();
  const int64_t before = portfolio_.position(request.instrument).quantity.raw();
  const int64_t after = before + Sign(request.side) * request.quantity.raw();
  // Only reduces: |after| <= |before| without crossing zero (a flip opens a new position). On a
  // hedging account `before` and `after` are nets of the symbol's positions, and an order that
  // closes a position by its ticket always reduces: it takes volume off the account (the net
  // may still grow, when the other side is the larger; the venue refuses a close larger than
  // its position).
  const bool reducing =
      request.position_ticket != 0 || (AbsRaw(after) <= AbsRaw(before) &&
                                       !((before > 0 && after < 0) || (before < 0 && after > 0)));
  auto lots_text = [&](int64_t raw) {
    return Quantity::FromRaw(raw, std::max(lot_precision, 2)).ToString();
  };

  if (snapshot_.breaker == BreakerState::kReduceOnly && !reducing) {
    return reject(RejectReason::kRiskReduceOnly, "breaker reduce_only: " + instrument.symbol +
                                                     " position " + lots_text(before) + " -> " +
                                                     lots_text(after) + " would grow");
  }
  const double order_lots = std::fabs(request.quantity.AsDouble());
  if (order_lots > limits_.max_order_lots) {
    return reject(
        RejectReason::kRiskOrderSize,
        Format("order %s lots > limit %.2f", lots_text(AbsRaw(request.quantity.raw())).c_str(),
               limits_.max_order_lots));
  }
  const double after_lots = std::fabs(static_cast<double>(after) / kFixedScale);
  // A reduction never breaches a position limit it was not already over (lowered limits).
  if (!reducing && after_lots > limits_.max_position_lots) {
    return reject(RejectReason::kRiskPositionLimit,
                  Format("%s position %s lots > limit %.2f", instrument.symbol.c_str(),
                         lots_text(after).c_str(), limits_.max_position_lots));
  }

  // Order rate over the trailing second (now - 1 s, now].
  const int64_t window_start = now.ns - kNanosPerSecond;
  while (state.accepted_count > 0 && state.accepted_times[state.accepted_head] <= window_start) {
    state.accepted_head = (state.accepted_head + 1) % state.accepted_times.size();
    --state.accepted_count;
  }
  if (state.accepted_count >= state.accepted_times.size()) {
    return reject(RejectReason::kRiskOrderRate,
                  Format("%zu orders in the last second + this one > limit %.0f",
                         state.accepted_count, limits_.max_orders_per_second));
  }

  // The price the order is valued at: the last mid, else the order's own price.
  bool has_price = false;
  Price price;
  if (last_quote != nullptr && last_quote->bid.IsPositive() && last_quote->ask.IsPositive()) {
    price = last_quote->Mid();
    has_price = true;
  } else if (request.price.has_value() && request.price->IsPositive()) {
    price = *request.price;
    has_price = true;
  }

  if (request.type != OrderType::kMarket && request.price.has_value() && last_quote != nullptr &&
      has_price) {
    const double mid = price.AsDouble();
    const double distance = std::fabs(request.price->AsDouble() - mid) / mid;
    if (distance > limits_.price_collar) {
      return reject(
          RejectReason::kRiskPriceCollar,
          Format("%s price %s is %.4f%% from mid %s > collar %.4f%%",
                 std::string(ToString(request.type)).c_str(), request.price->ToString().c_str(),
                 distance * 100, Price::FromRaw(price.raw(), instrument.digits).ToString().c_str(),
                 limits_.price_collar * 100));
    }
  }

  if (!reducing && has_price) {
    // Exposures with the order applied, over every registered instrument.
    const size_t count = state.slots.size();
    const uint32_t order_idx = request.instrument.value;
    std::fill(state.currency_exposure.begin(), state.currency_exposure.end(), 0.0);
    double gross = 0;
    double net = 0;
    for (size_t idx = 0; idx < count; ++idx) {
      State::Slot& other = state.slots[idx];
      state.signed_notional[idx] = 0;
      if (!other.present) continue;
      const Position& position = portfolio_.position(other.instrument.id);
      const int64_t lots = idx == order_idx ? after : position.quantity.raw();
      if (lots == 0) continue;
      Price mark = idx == order_idx ? price : (other.has_mid ? other.mid : position.avg_price);
      if (!mark.IsPositive()) mark = position.avg_price;
      const double notional =
          portfolio_
              .NotionalInAccount(other.instrument,
                                 Quantity::FromRaw(AbsRaw(lots), position.quantity.precision()),
                                 mark)
              .AsDouble();
      const double signed_value = lots > 0 ? notional : -notional;
      state.signed_notional[idx] = signed_value;
      gross += notional;
      net += signed_value;
      if (other.base_currency >= 0) state.currency_exposure[other.base_currency] += signed_value;
      if (other.quote_currency >= 0) state.currency_exposure[other.quote_currency] -= signed_value;
    }
    if (gross > limits_.max_gross_exposure) {
      return reject(RejectReason::kRiskGrossExposure,
                    Format("gross exposure %.2f > limit %.2f", gross, limits_.max_gross_exposure));
    }
    if (std::fabs(net) > limits_.max_net_exposure) {
      return reject(RejectReason::kRiskNetExposure,
                    Format("net exposure %.2f > limit %.2f", net, limits_.max_net_exposure));
    }
    // Only the order's own currencies can change; another currency already over its limit (by
    // price moves) is not this order's doing.
    for (int currency : {slot->base_currency, slot->quote_currency}) {
      if (currency < 0) continue;
      const double exposure = state.currency_exposure[currency];
      if (std::fabs(exposure) > limits_.max_currency_exposure) {
        return reject(RejectReason::kRiskCurrencyExposure,
                      Format("%s exposure %.2f > limit %.2f",
                             std::string(state.currencies[currency].view()).c_str(), exposure,
                             limits_.max_currency_exposure));
      }
    }
    // The order's correlated group: positions linked to it through |rho| >= threshold, each
    // signed by its correlation to the order's instrument (propagated along the links; the
    // group's absolute sum does not depend on which member is the reference).
    std::fill(state.group_sign.begin(), state.group_sign.end(), 0.0);
    state.group_sign[order_idx] = 1;
    size_t queue_head = 0;
    size_t queue_size = 0;
    state.queue[queue_size++] = order_idx;
    while (queue_head < queue_size) {
      const uint32_t member = state.queue[queue_head++];
      for (size_t idx = 0; idx < count; ++idx) {
        if (state.group_sign[idx] != 0 || state.signed_notional[idx] == 0) continue;
        const double rho = state.correlation[member * count + idx];
        if (!(std::fabs(rho) >= limits_.correlation_threshold)) continue;
        state.group_sign[idx] = state.group_sign[member] * (rho < 0 ? -1.0 : 1.0);
        state.queue[queue_size++] = static_cast<uint32_t>(idx);
      }
    }
    if (queue_size >= 2) {
      double group = 0;
      for (size_t idx = 0; idx < count; ++idx) {
        group += state.group_sign[idx] * state.signed_notional[idx];
      }
      if (std::fabs(group) > limits_.max_correlated_exposure) {
        std::string members;
        for (size_t pos = 0; pos < queue_size; ++pos) {
          if (!members.empty()) members += '+';
          members += state.slots[state.queue[pos]].instrument.symbol;
        }
        return reject(RejectReason::kRiskCorrelatedExposure,
                      Format("correlated group %s exposure %.2f > limit %.2f", members.c_str(),
                             std::fabs(group), limits_.max_correlated_exposure));
      }
    }
    for (uint32_t group_idx : state.groups_of[order_idx]) {
      const CorrelationGroup& group = limits_.groups[group_idx];
      double exposure = 0;
      double positions = 0;
      for (const State::GroupMember& member : state.group_members[group_idx]) {
        exposure += member.sign * state.signed_notional[member.slot];
        if (state.signed_notional[member.slot] != 0) ++positions;
      }
      if (std::fabs(exposure) > group.max_exposure) {
        return reject(RejectReason::kRiskCorrelatedExposure,
                      Format("correlation group %s exposure %.2f > limit %.2f", group.name.c_str(),
                             std::fabs(exposure), group.max_exposure));
      }
      if (positions > group.max_positions) {
        return reject(RejectReason::kRiskCorrelatedExposure,
                      Format("correlation group %s: %.0f open positions > limit %.0f",
                             group.name.c_str(), positions, group.max_positions));
      }
    }
    const Account account = portfolio_.account();
    const double equity = account.equity.AsDouble();
    const double leverage = equity > 0 ? gross / equity : std::numeric_limits<double>::infinity();
    if (leverage > limits_.max_leverage) {
      return reject(RejectReason::kRiskLeverage,
                    Format("leverage %.4f (gross %.2f / equity %.2f) > limit %.4f", leverage, gross,
                           equity, limits_.max_leverage));
    }
    double margin = account.margin.AsDouble();
    // |after| - |before| on a netting account; on a hedging one the growth of the larger leg, or
    // of the hedged margin where the instrument has a hedged rate (as the venue charges it).
    margin += portfolio_.AddedMargin(instrument, request.side, request.quantity, price).AsDouble();
    const double margin_use =
        equity > 0 ? margin / equity : std::numeric_limits<double>::infinity();
    if (margin_use > limits_.max_margin_use) {
      return reject(RejectReason::kRiskMarginUse,
                    Format("margin use %.4f (margin %.2f / equity %.2f) > limit %.4f", margin_use,
                           margin, equity, limits_.max_margin_use));
    }
  }

  // Accepted: counts towards the rate.
  if (!state.accepted_times.empty()) {
    const size_t tail = (state.accepted_head + state.accepted_count) % state.accepted_times.size();
    state.accepted_times[tail] = now.ns;
    ++state.accepted_count;
  }
  return verdict;
}

void RiskManager::OnQuote(const Tick& tick, Timestamp now) {
  State::Slot* slot = state_->SlotOf(tick.instrument);
  if (slot != nullptr && tick.bid.IsPositive() && tick.ask.IsPositive()) {
    slot->mid = tick.Mid();
    slot->has_mid = true;
  }
  UpdatePostTrade(now);
}

void RiskManager::OnFill(const Fill& /*fill*/, Timestamp now) {
  // Equity moved by the fill's costs: the limits are checked now; the exposure figures of the
  // snapshot follow at the next quote (they are informational, the pre-trade rules compute their
  // own), which keeps the order path short.
  UpdatePostTrade(now, /*exposures=*/false);
}

void RiskManager::OnBarClose(const Bar& bar, Timestamp now) {
  State& state = *state_;
  const int64_t close_time = bar.CloseTime().ns;
  State::Slot* slot = state.SlotOf(bar.instrument);
  if (slot != nullptr && bar.mid.close.IsPositive()) {
    slot->mid = bar.mid.close;
    slot->has_mid = true;
    const double close = bar.mid.close.AsDouble();
    if (slot->last_close > 0 && close_time > slot->last_close_time) {
      const size_t cap = slot->returns.size();
      slot->returns[slot->return_head] = std::log(close / slot->last_close);
      slot->return_times[slot->return_head] = close_time;
      slot->return_head = (slot->return_head + 1) % cap;
      if (slot->return_count < cap) ++slot->return_count;
      const size_t count = state.slots.size();
      const size_t row = bar.instrument.value;
      for (size_t idx = 0; idx < count; ++idx) {
        if (idx == row || !state.slots[idx].present) continue;
        const double rho = state.ComputeCorrelation(*slot, state.slots[idx], state.xs, state.ys);
        state.correlation[row * count + idx] = rho;
        state.correlation[idx * count + row] = rho;
      }
    }
    if (slot->last_close <= 0 || close_time > slot->last_close_time) {
      slot->last_close = close;
      slot->last_close_time = close_time;
    }
  }

  // Equity return from the previous bar close time to this one. Several instruments close bars
  // at the same time: the later calls overwrite that time's return, so it ends up measured with
  // every instrument marked.
  const Money equity = portfolio_.Equity();
  bool new_return = false;
  if (!state.has_bar_equity) {
    state.has_bar_equity = true;
    state.bar_equity = equity;
    state.bar_time = close_time;
  } else if (close_time > state.bar_time) {
    state.prev_bar_equity = state.bar_equity;
    state.bar_equity = equity;
    state.bar_time = close_time;
    new_return = state.prev_bar_equity.raw() > 0;
    state.overwrite_ok = new_return;
  } else if (close_time == state.bar_time) {
    state.bar_equity = equity;
    new_return = state.overwrite_ok;  // refresh this time's return, if it has one
  }
  if (new_return) {
    const double value = equity.AsDouble() / state.prev_bar_equity.AsDouble() - 1.0;
    const size_t cap = state.var_returns.size();
    if (close_time == state.bar_time && state.var_last_time == close_time) {
      state.var_returns[(state.var_head + cap - 1) % cap] = value;
    } else {
      state.var_returns[state.var_head] = value;
      state.var_head = (state.var_head + 1) % cap;
      if (state.var_count < cap) ++state.var_count;
      state.var_last_time = close_time;
    }
    if (state.var_count >= kMinVarReturns) {
      const size_t count = state.var_count;
      const size_t start = (state.var_head + cap - count) % cap;
      for (size_t idx = 0; idx < count; ++idx) {
        state.var_sorted[idx] = state.var_returns[(start + idx) % cap];
      }
      double mean = 0;
      double stddev = 0;
      MeanStd(state.var_sorted.data(), count, &mean, &stddev);
      // Only the lower tail is read (the 5 % and 1 % quantiles and their upper neighbours):
      // sorting those few is several times cheaper than sorting the window at every bar.
      const size_t tail =
          std::min(count, static_cast<size_t>(0.05 * static_cast<double>(count - 1)) + 2);
      std::partial_sort(state.var_sorted.begin(),
                        state.var_sorted.begin() + static_cast<long>(tail),
                        state.var_sorted.begin() + static_cast<long>(count));
      snapshot_.var95_historical = -Quantile(state.var_sorted.data(), count, 0.05);
      snapshot_.var99_historical = -Quantile(state.var_sorted.data(), count, 0.01);
      snapshot_.var95_parametric = kZ95 * stddev - mean;
      snapshot_.var99_parametric = kZ99 * stddev - mean;
    }
  }
  UpdatePostTrade(now);
}

void RiskManager::UpdatePostTrade(Timestamp now, bool exposures) {
  State& state = *state_;
  const Account account = portfolio_.account();
  const Money equity = account.equity;
  const Timestamp day = FloorToDay(now);
  snapshot_.equity = equity;
  snapshot_.realized_pnl = portfolio_.RealizedPnl();
  snapshot_.unrealized_pnl = equity - account.balance;
  if (!state.started) {
    state.started = true;
    state.day = day;
    snapshot_.peak_equity = equity;
    snapshot_.day_start_equity = equity;
  } else if (day > state.day) {
    state.day = day;
    snapshot_.day_start_equity = equity;
    if (snapshot_.breaker == BreakerState::kHalted && state.cause == Cause::kDailyLoss) {
      Change(BreakerState::kNormal, false, "new_day",
             "new UTC day " + FormatDateTime(day).substr(0, 10) +
                 ": daily loss limit released, day start equity " + equity.ToString(),
             now);
    }
  }
  if (equity > snapshot_.peak_equity) snapshot_.peak_equity = equity;
  snapshot_.daily_loss = (snapshot_.day_start_equity - equity).AsDouble();
  const double peak = snapshot_.peak_equity.AsDouble();
  snapshot_.drawdown = peak > 0 ? std::max(0.0, 1.0 - equity.AsDouble() / peak) : 0.0;

  // Exposure figures at the current marks (informational; the rules run in CheckOrder).
  double gross = snapshot_.gross_exposure;
  double net = snapshot_.net_exposure;
  if (exposures) {
    gross = 0;
    net = 0;
  }
  for (const State::Slot& slot : state.slots) {
    if (!exposures) break;
    if (!slot.present) continue;
    const Position& position = portfolio_.position(slot.instrument.id);
    if (position.quantity.IsZero()) continue;
    const Price mark = slot.has_mid ? slot.mid : position.avg_price;
    const double notional =
        portfolio_.NotionalInAccount(slot.instrument, position.quantity.Abs(), mark).AsDouble();
    gross += notional;
    net += position.IsLong() ? notional : -notional;
  }
  const double equity_value = equity.AsDouble();
  snapshot_.gross_exposure = gross;
  snapshot_.net_exposure = net;
  snapshot_.leverage = equity_value > 0 ? gross / equity_value : 0.0;
  snapshot_.margin_use = equity_value > 0 ? account.margin.AsDouble() / equity_value : 0.0;

  // Breaker rules, most severe first.
  const double var99 = std::max(snapshot_.var99_historical, snapshot_.var99_parametric);
  std::array<bool, kRuleCount> hit{};
  hit[kRuleDailyLoss] = snapshot_.daily_loss >= limits_.daily_loss_limit;
  hit[kRuleMaxDrawdown] = snapshot_.drawdown >= limits_.max_drawdown;
  hit[kRuleDrawdown] = snapshot_.drawdown >= limits_.reduce_only_drawdown;
  hit[kRuleVar] = state.var_count >= kMinVarReturns && var99 >= limits_.var_limit;
  for (int rule = 0; rule < kRuleCount; ++rule) {
    if (!hit[rule]) state.acknowledged[rule] = false;
  }
  auto active = [&](int rule) { return hit[rule] && !state.acknowledged[rule]; };

  // Automatic release of a reduce-only the drawdown or VaR rule caused.
  if (snapshot_.breaker == BreakerState::kReduceOnly &&
      (state.cause == Cause::kDrawdown || state.cause == Cause::kVar)) {
    if (!active(kRuleDrawdown) && !active(kRuleVar)) {
      const bool by_drawdown = state.cause == Cause::kDrawdown;
      Change(BreakerState::kNormal, false, by_drawdown ? "reduce_only_drawdown" : "var_limit",
             by_drawdown ? Format("drawdown %.4f < limit %.4f", snapshot_.drawdown,
                                  limits_.reduce_only_drawdown)
                         : Format("VaR99 %.4f < limit %.4f", var99, limits_.var_limit),
             now);
    } else if (state.cause == Cause::kDrawdown && !active(kRuleDrawdown)) {
      state.cause = Cause::kVar;  // still reduce-only, now because of VaR
    } else if (state.cause == Cause::kVar && !active(kRuleVar)) {
      state.cause = Cause::kDrawdown;
    }
  }

  if (active(kRuleMaxDrawdown)) {
    // A max-drawdown halt outranks a daily-loss one: the new day must not release it.
    if (snapshot_.breaker == BreakerState::kHalted && state.cause == Cause::kDailyLoss) {
      state.cause = Cause::kMaxDrawdown;
    }
    Escalate(BreakerState::kHalted, "max_drawdown",
             Format("drawdown %.4f >= limit %.4f (equity %s, peak %s)", snapshot_.drawdown,
                    limits_.max_drawdown, equity.ToString().c_str(),
                    snapshot_.peak_equity.ToString().c_str()),
             now);
  }
  if (active(kRuleDailyLoss)) {
    Escalate(BreakerState::kHalted, "daily_loss_limit",
             Format("daily loss %.2f >= limit %.2f (day start equity %s, equity %s)",
                    snapshot_.daily_loss, limits_.daily_loss_limit,
                    snapshot_.day_start_equity.ToString().c_str(), equity.ToString().c_str()),
             now);
  }
  if (active(kRuleDrawdown)) {
    Escalate(
        BreakerState::kReduceOnly, "reduce_only_drawdown",
        Format("drawdown %.4f >= limit %.4f", snapshot_.drawdown, limits_.reduce_only_drawdown),
        now);
  }
  if (active(kRuleVar)) {
    Escalate(BreakerState::kReduceOnly, "var_limit",
             Format("VaR99 %.4f (historical %.4f, parametric %.4f) >= limit %.4f", var99,
                    snapshot_.var99_historical, snapshot_.var99_parametric, limits_.var_limit),
             now);
  }
}

void RiskManager::SetBreaker(BreakerState state, std::string_view reason, Timestamp now) {
  if (state == snapshot_.breaker) return;
  Change(state, true, "manual", std::string(reason), now);
}

void RiskManager::Escalate(BreakerState to, std::string_view rule, std::string detail,
                           Timestamp now) {
  if (static_cast<int>(to) <= static_cast<int>(snapshot_.breaker)) return;
  Change(to, false, rule, std::move(detail), now);
}

void RiskManager::Change(BreakerState to, bool manual, std::string_view rule, std::string detail,
                         Timestamp now) {
  State& state = *state_;
  const BreakerState from = snapshot_.breaker;
  if (to == from) return;
  snapshot_.breaker = to;
  if (manual) {
    state.cause = to == BreakerState::kNormal ? Cause::kNone : Cause::kManual;
    if (static_cast<int>(to) < static_cast<int>(from)) {
      // The operator overrides what holds now; those rules re-arm once their measure recovers.
      const double var99 = std::max(snapshot_.var99_historical, snapshot_.var99_parametric);
      const bool var_ready = state.var_count >= kMinVarReturns;
      if (snapshot_.daily_loss >= limits_.daily_loss_limit)
        state.acknowledged[kRuleDailyLoss] = true;
      if (snapshot_.drawdown >= limits_.max_drawdown) state.acknowledged[kRuleMaxDrawdown] = true;
      if (to == BreakerState::kNormal && snapshot_.drawdown >= limits_.reduce_only_drawdown) {
        state.acknowledged[kRuleDrawdown] = true;
      }
      if (to == BreakerState::kNormal && var_ready && var99 >= limits_.var_limit) {
        state.acknowledged[kRuleVar] = true;
      }
    }
  } else if (rule == "daily_loss_limit") {
    state.cause = Cause::kDailyLoss;
  } else if (rule == "max_drawdown") {
    state.cause = Cause::kMaxDrawdown;
  } else if (rule == "reduce_only_drawdown" && to == BreakerState::kReduceOnly) {
    state.cause = Cause::kDrawdown;
  } else if (rule == "var_limit" && to == BreakerState::kReduceOnly) {
    state.cause = Cause::kVar;
  } else if (to == BreakerState::kNormal) {
    state.cause = Cause::kNone;
  }
  if (listener_) {
    BreakerChange change;
    change.ts = now;
    change.from = from;
    change.to = to;
    change.manual = manual;
    change.rule = std::string(rule);
    change.detail = std::move(detail);
    listener_(change);
  }
}

}  // namespace aits::risk
