#include "aits/session/live_compare.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "aits/core/text.h"

#include "aits/persistence/codec.h"
#include "aits/session/replay.h"

namespace aits::session {
namespace {

using persistence::Event;
using persistence::EventType;

// One order of one run as its events tell it.
struct Collected {
  Order order;         // the latest state
  Timestamp created;   // the submission's kernel time
  std::string origin;  // "strategy", or the venue's reason
  Quantity filled;
  double price_lots = 0;  // sum of price x lots over fills (for the volume-weighted price)
  double lots = 0;
  std::optional<Timestamp> first_fill;
  Money commission;
  // Account currency per 1.0 of price over all filled lots, at the rates of each fill.
  double value_per_price = 0;
};

struct Run {
  std::map<uint64_t, Collected> orders;  // by kernel id
};

// "strategy" for the strategy's orders; the venue's own say why they exist ("sl", "tp",
// "stop_out": the tag the venue gives them, or the reason of their fill).
std::string OriginOf(const Order& order, std::optional<FillReason> reason) {
  const std::string& tag = order.request.tag;
  if (tag == "sl" || tag == "tp" || tag == "stop_out") return tag;
  if (reason == FillReason::kStopLoss) return "sl";
  if (reason == FillReason::kTakeProfit) return "tp";
  return "strategy";
}

// Books one output of a run. The order's record comes from its updates (a submission is logged
// before the kernel numbers the order); `portfolio` converts a fill's price unit into the account
// currency at this moment's rates.
void Book(Run& run, EventType type, std::string_view payload,
          const std::vector<Instrument>& instruments, const portfolio::Portfolio& portfolio) {
  if (type == EventType::kOrderUpdate) {
    auto order = persistence::DecodeOrder(payload);
    if (!order.ok()) return;
    Collected& c = run.orders[order->id.value];
    c.order = *order;
    c.created = order->created;
    if (c.origin.empty() || c.origin == "strategy") c.origin = OriginOf(*order, std::nullopt);
    return;
  }
  if (type != EventType::kFill) return;
  auto fill = persistence::DecodeFill(payload);
  if (!fill.ok()) return;
  auto [it, added] = run.orders.try_emplace(fill->order_id.value);
  Collected& c = it->second;
  if (added) {
    c.created = fill->ts;
    c.order.id = fill->order_id;
    c.order.request.instrument = fill->instrument;
    c.order.request.side = fill->side;
    c.order.request.client_order_id = fill->client_order_id;
  }
  if (c.origin.empty() || c.origin == "strategy") c.origin = OriginOf(c.order, fill->reason);
  c.filled = c.filled + fill->quantity;
  c.price_lots += fill->price.AsDouble() * fill->quantity.AsDouble();
  c.lots += fill->quantity.AsDouble();
  if (!c.first_fill) c.first_fill = fill->ts;
  c.commission = c.commission + fill->commission;
  if (fill->instrument.value < instruments.size()) {
    const Instrument& instrument = instruments[fill->instrument.value];
    const Price one = Price::FromRaw(kFixedScale, instrument.digits);
    c.value_per_price += portfolio.NotionalInAccount(instrument, fill->quantity, one).AsDouble();
  }
}

RunOrder SideOf(const Collected& c) {
  RunOrder out;
  out.client_order_id = c.order.request.client_order_id;
  out.order_id = c.order.id.value;
  out.filled = c.filled;
  if (c.lots > 0) {
    const int digits = c.order.avg_fill_price.precision();
    auto price = Price::FromDouble(c.price_lots / c.lots, digits > 0 ? digits : 5);
    if (price.ok()) out.price = *price;
  }
  out.filled_at = c.first_fill;
  out.commission = c.commission;
  out.status = std::string(ToString(c.order.status));
  return out;
}

// The pairing key: instrument, side and type of a strategy's order at its kernel time; for the
// venue's own orders instrument, side and origin.
struct Key {
  uint32_t instrument;
  Side side;
  std::string kind;
  int64_t at;  // strategy: created; venue: 0 (paired in time order within the window)
  auto operator<=>(const Key&) const = default;
};

bool FromStrategy(const Collected& c) { return c.origin == "strategy"; }

Key KeyOf(const Collected& c) {
  if (FromStrategy(c)) {
    return Key{c.order.request.instrument.value, c.order.request.side,
               "strategy/" + std::string(ToString(c.order.request.type)), c.created.ns};
  }
  return Key{c.order.request.instrument.value, c.order.request.side, c.origin, 0};
}

Timestamp TimeOf(const Collected& c) { return c.first_fill.value_or(c.created); }

}  // namespace

std::string_view ToString(CompareKind kind) {
  switch (kind) {
    case CompareKind::kPaired:
      return "paired";
    case CompareKind::kLiveOnly:
      return "live_only";
    case CompareKind::kBacktestOnly:
      return "backtest_only";
  }
  return "paired";
}

Result<LiveComparison> CompareWithBacktest(const persistence::EventStore& store,
                                           const SignalFactory& signals,
                                           const CompareOptions& options) {
  AITS_ASSIGN_OR_RETURN(const LogState logged, RebuildFromLog(store));
  SessionSpec spec = logged.spec;
  LiveComparison result;
  result.session_id = spec.session_id;
  result.venue = spec.venue;
  result.currency = spec.account_currency;
  result.reconciliations = logged.reconciliations;
  spec.venue = "simulated";
  spec.report_latency_us = 0;
  if (options.slippage_points) spec.slippage_points = *options.slippage_points;
  if (options.latency_us) spec.latency_us = *options.latency_us;
  if (options.commission) spec.commission = *options.commission;
  auto session = Session::Create(spec, signals);
  if (!session.ok()) return session.status().WithContext("the backtest of the session");
  Session& backtest = **session;
  const std::vector<Instrument>& instruments = backtest.instruments();
  Run live;
  Run simulated;
  backtest.CaptureOutputs([&](EventType type, Timestamp /*ts*/, std::string_view payload) {
    Book(simulated, type, payload, instruments, backtest.kernel().portfolio());
  });

  Status input_status;
  AITS_RETURN_IF_ERROR(store.Scan(1, [&](const Event& event) -> Status {
    switch (event.type) {
      case EventType::kTick: {
        AITS_ASSIGN_OR_RETURN(const Tick tick, persistence::DecodeTick(event.payload));
        if (tick.instrument.value >= instruments.size()) {
          return InvalidArgument("event " + std::to_string(event.seq) + ": tick of instrument " +
                                 std::to_string(tick.instrument.value) + ", the session has " +
                                 std::to_string(instruments.size()));
        }
        backtest.Feed(tick);
        ++result.ticks;
        break;
      }
      case EventType::kClock:
        backtest.AdvanceTo(event.ts);
        break;
      case EventType::kCommand:
        // A command the live run refused is refused here too; it changes nothing in either.
        (void)backtest.ApplyCommand(event.payload);
        break;
      case EventType::kOrderUpdate:
      case EventType::kFill:
        Book(live, event.type, event.payload, instruments, backtest.kernel().portfolio());
        break;
      default:
        break;
    }
    return Status::Ok();
  }));

  // Pair.
  std::map<Key, std::deque<const Collected*>> waiting;  // the backtest's, by key, in time order
  std::vector<const Collected*> backtest_orders;
  for (const auto& [id, c] : simulated.orders) backtest_orders.push_back(&c);
  std::stable_sort(backtest_orders.begin(), backtest_orders.end(),
                   [](const Collected* a, const Collected* b) { return TimeOf(*a) < TimeOf(*b); });
  for (const Collected* c : backtest_orders) waiting[KeyOf(*c)].push_back(c);
  std::vector<const Collected*> live_orders;
  for (const auto& [id, c] : live.orders) live_orders.push_back(&c);
  std::stable_sort(live_orders.begin(), live_orders.end(),
                   [](const Collected* a, const Collected* b) { return TimeOf(*a) < TimeOf(*b); });

  const auto describe = [&](OrderComparison& row, const Collected& c) {
    const uint32_t instrument = c.order.request.instrument.value;
    row.symbol = instrument < instruments.size() ? instruments[instrument].symbol : "?";
    row.side = c.order.request.side;
    row.origin = c.origin;
    row.created = FromStrategy(c) ? c.created : TimeOf(c);
  };
  double slippage_sum = 0;
  int64_t delay_sum = 0;
  uint64_t measured = 0;
  for (const Collected* l : live_orders) {
    OrderComparison row;
    describe(row, *l);
    row.live = SideOf(*l);
    auto found = waiting.find(KeyOf(*l));
    const Collected* b = nullptr;
    if (found != waiting.end() && !found->second.empty()) {
      const Collected* candidate = found->second.front();
      const bool close_enough =
          FromStrategy(*l) ||
          std::llabs((TimeOf(*l) - TimeOf(*candidate)).ns) <= options.match_window.ns;
      if (close_enough) {
        b = candidate;
        found->second.pop_front();
      }
    }
    if (b == nullptr) {
      row.kind = CompareKind::kLiveOnly;
      ++result.live_only;
      result.orders.push_back(std::move(row));
      continue;
    }
    row.kind = CompareKind::kPaired;
    row.backtest = SideOf(*b);
    ++result.paired;
    result.commission_effect = result.commission_effect + b->commission - l->commission;
    if (row.live->price && row.backtest->price && l->lots > 0 && b->lots > 0) {
      const uint32_t instrument = l->order.request.instrument.value;
      const double point =
          instrument < instruments.size() ? instruments[instrument].tick_size.AsDouble() : 0;
      const double sign = row.side == Side::kBuy ? 1.0 : -1.0;
      // Positive: live paid more for a buy, or got less for a sell.
      const double worse = sign * (row.live->price->AsDouble() - row.backtest->price->AsDouble());
      row.slippage_points = point > 0 ? worse / point : 0;
      const double common = std::min(l->lots, b->lots);
      const double effect = -worse * l->value_per_price * common / l->lots;
      auto money = Money::FromDouble(effect);
      if (money.ok()) row.fill_effect = *money;
      result.fill_effects = result.fill_effects + row.fill_effect;
      row.delay = *row.live->filled_at - *row.backtest->filled_at;
      ++result.paired_filled;
      // The execution figures are the strategy's orders': both runs sent them on the same tick.
      // A pair of SL or TP closes fills where each run's own level was hit.
      if (FromStrategy(*l)) {
        ++measured;
        slippage_sum += row.slippage_points;
        delay_sum += row.delay.ns;
        result.max_abs_slippage_points =
            std::max(result.max_abs_slippage_points, std::fabs(row.slippage_points));
      }
    }
    result.orders.push_back(std::move(row));
  }
  for (auto& [key, left] : waiting) {
    for (const Collected* b : left) {
      OrderComparison row;
      describe(row, *b);
      row.kind = CompareKind::kBacktestOnly;
      row.backtest = SideOf(*b);
      ++result.backtest_only;
      result.orders.push_back(std::move(row));
    }
  }
  std::stable_sort(
      result.orders.begin(), result.orders.end(),
      [](const OrderComparison& a, const OrderComparison& b) { return a.created < b.created; });
  if (measured > 0) {
    result.mean_slippage_points = slippage_sum / static_cast<double>(measured);
    result.mean_delay = Duration::Nanos(delay_sum / static_cast<int64_t>(measured));
  }
  result.live_equity = logged.equity;
  result.backtest_equity = backtest.kernel().account().equity;
  result.gap = result.live_equity - result.backtest_equity;
  result.rest = result.gap - result.fill_effects - result.commission_effect;
  return result;
}

namespace {

nlohmann::json RunJson(const std::optional<RunOrder>& run) {
  if (!run) return nullptr;
  nlohmann::json j;
  j["client_order_id"] = run->client_order_id;
  j["order_id"] = run->order_id;
  j["status"] = run->status;
  j["filled"] = run->filled.ToString();
  j["price"] = run->price ? nlohmann::json(run->price->ToString()) : nlohmann::json(nullptr);
  j["filled_at"] =
      run->filled_at ? nlohmann::json(FormatIso8601(*run->filled_at)) : nlohmann::json(nullptr);
  j["commission"] = run->commission.ToString();
  return j;
}

std::string Fixed(double value, int decimals) { return FormatFixed(value, decimals); }

}  // namespace

std::string ToJson(const LiveComparison& c) {
  nlohmann::json j;
  j["session_id"] = c.session_id;
  j["live_venue"] = c.venue;
  j["currency"] = c.currency;
  j["ticks"] = c.ticks;
  j["reconciliations"] = c.reconciliations;
  j["paired"] = c.paired;
  j["paired_filled"] = c.paired_filled;
  j["live_only"] = c.live_only;
  j["backtest_only"] = c.backtest_only;
  j["live_equity"] = c.live_equity.ToString();
  j["backtest_equity"] = c.backtest_equity.ToString();
  j["gap"] = c.gap.ToString();
  j["fill_effects"] = c.fill_effects.ToString();
  j["commission_effect"] = c.commission_effect.ToString();
  j["rest"] = c.rest.ToString();
  j["mean_slippage_points"] = c.mean_slippage_points;
  j["max_abs_slippage_points"] = c.max_abs_slippage_points;
  j["mean_delay_ms"] = static_cast<double>(c.mean_delay.ns) / 1e6;
  nlohmann::json& orders = j["orders"] = nlohmann::json::array();
  for (const OrderComparison& o : c.orders) {
    nlohmann::json row;
    row["kind"] = ToString(o.kind);
    row["symbol"] = o.symbol;
    row["side"] = ToString(o.side);
    row["origin"] = o.origin;
    row["created"] = FormatIso8601(o.created);
    row["live"] = RunJson(o.live);
    row["backtest"] = RunJson(o.backtest);
    if (o.kind == CompareKind::kPaired) {
      row["slippage_points"] = o.slippage_points;
      row["delay_ms"] = static_cast<double>(o.delay.ns) / 1e6;
      row["fill_effect"] = o.fill_effect.ToString();
    }
    orders.push_back(std::move(row));
  }
  return j.dump(2);
}

std::string ToCsv(const LiveComparison& c) {
  std::string out =
      "created,kind,symbol,side,origin,live_client_order_id,live_status,live_filled,live_price,"
      "live_filled_at,backtest_client_order_id,backtest_status,backtest_filled,backtest_price,"
      "backtest_filled_at,slippage_points,delay_ms,fill_effect\n";
  const auto run = [](const std::optional<RunOrder>& r) {
    if (!r) return std::string(",,,,");
    return r->client_order_id + "," + r->status + "," + r->filled.ToString() + "," +
           (r->price ? r->price->ToString() : "") + "," +
           (r->filled_at ? FormatIso8601(*r->filled_at) : "");
  };
  for (const OrderComparison& o : c.orders) {
    const bool paired = o.kind == CompareKind::kPaired && o.live && o.live->price && o.backtest &&
                        o.backtest->price;
    out += FormatIso8601(o.created) + "," + std::string(ToString(o.kind)) + "," + o.symbol + "," +
           std::string(ToString(o.side)) + "," + o.origin + "," + run(o.live) + "," +
           run(o.backtest) + "," + (paired ? Fixed(o.slippage_points, 1) : "") + "," +
           (paired ? Fixed(static_cast<double>(o.delay.ns) / 1e6, 3) : "") + "," +
           (paired ? o.fill_effect.ToString() : "") + "\n";
  }
  return out;
}

}  // namespace aits::session
