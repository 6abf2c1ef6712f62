#include "aits/session/replay.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "aits/persistence/codec.h"
#include "aits/portfolio/portfolio.h"
#include "aits/session/reconcile_record.h"

namespace aits::session {
namespace {

using persistence::Event;
using persistence::EventType;

// Scan stops early with this code when the caller has what it needs.
constexpr std::string_view kStopScan = "\x01stop-scan";
Status StopScan() { return OutOfRange(std::string(kStopScan)); }
bool IsStopScan(const Status& status) {
  return status.code() == StatusCode::kOutOfRange && status.message() == kStopScan;
}

}  // namespace

Result<SessionSpec> ReadSessionSpec(const persistence::EventStore& store) {
  std::optional<Result<SessionSpec>> spec;
  const Status status = store.Scan(1, [&](const Event& event) {
    if (event.type != EventType::kSessionStart) {
      spec =
          InvalidArgument(store.path() + ": the log does not start with a session description" +
                          " (event 1 is " + std::string(persistence::ToString(event.type)) + ")");
    } else {
      spec = SessionSpec::FromJson(event.payload);
    }
    return StopScan();
  });
  if (!status.ok() && !IsStopScan(status)) return status;
  if (!spec) return InvalidArgument(store.path() + ": the event log is empty");
  if (!spec->ok()) {
    return InvalidArgument(store.path() + ": event 1: " + spec->status().message());
  }
  return std::move(**spec);
}

Result<LogState> RebuildFromLog(const persistence::EventStore& store) {
  LogState state;
  AITS_ASSIGN_OR_RETURN(state.spec, ReadSessionSpec(store));
  const std::vector<Instrument> instruments = InstrumentsOf(state.spec);
  AITS_ASSIGN_OR_RETURN(Money balance, Money::FromDouble(state.spec.balance));
  AITS_ASSIGN_OR_RETURN(const AccountMode mode, ParseAccountMode(state.spec.account_mode));
  portfolio::Portfolio portfolio(Currency::Of(state.spec.account_currency), balance,
                                 state.spec.leverage, mode);
  for (const Instrument& instrument : instruments) {
    AITS_RETURN_IF_ERROR(portfolio.AddInstrument(instrument));
  }
  state.ticks_by_instrument.assign(instruments.size(), 0);
  state.last_ticks.assign(instruments.size(), std::nullopt);
  state.last_source_msc.assign(instruments.size(), 0);
  std::set<std::string> submitted;
  std::set<std::string> in_flight;
  const Status status = store.Scan(1, [&](const Event& event) -> Status {
    ++state.events;
    state.clean_stop = false;
    switch (event.type) {
      case EventType::kTick: {
        int64_t source_msc = 0;
        AITS_ASSIGN_OR_RETURN(Tick tick, persistence::DecodeTick(event.payload, &source_msc));
        if (tick.instrument.value >= instruments.size()) {
          return DataLoss(store.path() + ": event " + std::to_string(event.seq) +
                          ": a tick of instrument " + std::to_string(tick.instrument.value) +
                          " in a session of " + std::to_string(instruments.size()));
        }
        portfolio.OnTick(tick);
        state.last_tick = tick;
        state.last_ticks[tick.instrument.value] = tick;
        state.last_source_msc[tick.instrument.value] = source_msc;
        ++state.ticks_by_instrument[tick.instrument.value];
        ++state.ticks;
        break;
      }
      case EventType::kOrderSubmitted: {
        AITS_ASSIGN_OR_RETURN(Order order, persistence::DecodeOrder(event.payload));
        const std::string& id = order.request.client_order_id;
        if (!id.empty()) {
          if (!submitted.insert(id).second) state.duplicate_client_ids.push_back(id);
          in_flight.insert(id);
        }
        break;
      }
      case EventType::kOrderUpdate: {
        AITS_ASSIGN_OR_RETURN(Order order, persistence::DecodeOrder(event.payload));
        in_flight.erase(order.request.client_order_id);
        state.orders[order.id.value] = std::move(order);
        break;
      }
      case EventType::kFill: {
        AITS_ASSIGN_OR_RETURN(Fill fill, persistence::DecodeFill(event.payload));
        portfolio.OnFill(fill);
        ++state.fills;
        break;
      }
      case EventType::kDecision:
        ++state.decisions;
        break;
      case EventType::kExecutionReport: {
        AITS_ASSIGN_OR_RETURN(ExecutionReport report,
                              persistence::DecodeExecutionReport(event.payload));
        if (report.exec_id != 0 &&
            (report.kind == ExecKind::kFilled || report.kind == ExecKind::kPartiallyFilled)) {
          state.venue_exec_ids.push_back(report.exec_id);
        }
        break;
      }
      case EventType::kReconciliation: {
        // The positions a start took from the venue (adopted, or taken to be closed by the
        // orders that follow) or let go, and the venue's balance it took; orders come through
        // their updates.
        AITS_ASSIGN_OR_RETURN(ReconciliationRecord record,
                              DecodeReconciliation(event.payload, instruments));
        for (const execution::ReconcileAction& action : record.actions) {
          const execution::HeldPosition& p = action.position;
          switch (action.kind) {
            case execution::ActionKind::kAdoptBalance:
              portfolio.SetBalance(action.balance);
              break;
            case execution::ActionKind::kAdoptPosition:
            case execution::ActionKind::kClosePosition:
              AITS_RETURN_IF_ERROR(portfolio.SetPosition(p.instrument, p.ticket, p.quantity,
                                                         p.open_price, event.ts));
              break;
            case execution::ActionKind::kForgetPosition:
              AITS_RETURN_IF_ERROR(
                  portfolio.SetPosition(p.instrument, p.ticket, Quantity(), Price(), event.ts));
              break;
            default:
              break;
          }
        }
        ++state.reconciliations;
        break;
      }
      case EventType::kBreakerChange: {
        const auto json = nlohmann::json::parse(event.payload, nullptr, false);
        if (json.is_object() && json.contains("to") && json["to"].is_string()) {
          state.breaker = json["to"].get<std::string>();
        }
        break;
      }
      case EventType::kSessionStop:
        state.clean_stop = true;
        break;
      default:
        break;
    }
    return Status::Ok();
  });
  AITS_RETURN_IF_ERROR(status);
  state.in_flight_client_ids.assign(in_flight.begin(), in_flight.end());
  const Position& position = portfolio.position(TradedOf(state.spec).front());
  state.position = position.quantity;
  state.avg_price = position.avg_price;
  for (const Instrument& instrument : instruments) {
    state.positions.push_back(portfolio.position(instrument.id).quantity);
  }
  const Account account = portfolio.account();
  state.balance = account.balance;
  state.equity = account.equity;
  return state;
}

Result<bool> FollowLog(const persistence::EventStore& store, Session& session, uint64_t* events) {
  const Status status = store.Scan(1, [&](const Event& event) {
    ++*events;
    return session.FollowLogged(event) ? Status::Ok() : StopScan();
  });
  if (IsStopScan(status)) return false;
  AITS_RETURN_IF_ERROR(status);
  return session.FinishFollowing();
}

Result<ReplayResult> Replay(const persistence::EventStore& store, const SignalFactory& signals) {
  ReplayResult result;
  AITS_ASSIGN_OR_RETURN(result.logged, RebuildFromLog(store));
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                        Session::Create(result.logged.spec, signals));
  AITS_ASSIGN_OR_RETURN(result.equal, FollowLog(store, *session, &result.events));
  if (!result.equal) result.divergence = session->divergence();
  result.ticks = session->ticks();
  result.orders = session->kernel().order_count();
  result.fills = session->kernel().fill_count();
  result.account = session->kernel().account();
  return result;
}

Result<Explanation> ExplainOrder(const persistence::EventStore& store, uint64_t order_id) {
  Explanation explanation;
  bool found = false;
  const std::string id_key = "\"id\":" + std::to_string(order_id) + ",";
  const Status status = store.Scan(1, [&](const Event& event) -> Status {
    switch (event.type) {
      case EventType::kDecision: {
        if (found || event.payload.find(id_key) == std::string::npos) break;
        const auto json = nlohmann::json::parse(event.payload, nullptr, false);
        // A decision names its order under "order", and all of them under "orders" when it sent
        // several (a hedging account's closes by ticket and open).
        const auto names = [order_id](const nlohmann::json& order) {
          return order.is_object() && order.value("id", uint64_t{0}) == order_id;
        };
        bool named = json.is_object() && json.contains("order") && names(json["order"]);
        if (!named && json.is_object() && json.contains("orders") && json["orders"].is_array()) {
          named = std::any_of(json["orders"].begin(), json["orders"].end(), names);
        }
        if (named) {
          explanation.decision_json = event.payload;
          found = true;
        }
        break;
      }
      case EventType::kOrderSubmitted:
        break;
      case EventType::kOrderUpdate: {
        auto order = persistence::DecodeOrder(event.payload);
        if (order.ok() && order->id.value == order_id) {
          explanation.order_events.push_back(FormatIso8601(event.ts) + "  " +
                                             DescribeEvent(event.type, event.payload));
        }
        break;
      }
      case EventType::kFill: {
        auto fill = persistence::DecodeFill(event.payload);
        if (fill.ok() && fill->order_id.value == order_id) {
          explanation.order_events.push_back(FormatIso8601(event.ts) + "  " +
                                             DescribeEvent(event.type, event.payload));
        }
        break;
      }
      default:
        break;
    }
    return Status::Ok();
  });
  AITS_RETURN_IF_ERROR(status);
  if (!found) {
    return NotFound("no decision in " + store.path() + " created order " +
                    std::to_string(order_id) +
                    (explanation.order_events.empty()
                         ? " (no such order)"
                         : " (it was made by the venue or the kernel: stop-loss, take-profit, "
                           "stop-out, halt, or a reconciliation at start)"));
  }
  return explanation;
}

}  // namespace aits::session
