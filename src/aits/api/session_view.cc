#include "aits/api/session_view.h"

#include <filesystem>

#include "aits/persistence/codec.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/session/session_spec.h"

namespace aits::api {

namespace {

constexpr size_t kMaxBreakerChanges = 200;
constexpr size_t kMaxCommands = 200;

// A state directory means its events.db; a file or a server location is used as it is.
std::string EventsLocation(const std::string& location) {
  if (persistence::IsPostgresLocation(location)) return location;
  std::error_code ec;
  if (std::filesystem::is_directory(location, ec)) {
    return (std::filesystem::path(location) / "events.db").string();
  }
  return location;
}

bool InRange(Timestamp t, const ListQuery& q) {
  return (!q.from || t >= *q.from) && (!q.to || t < *q.to);
}

nlohmann::json PriceOrNull(const std::optional<Price>& p) {
  return p ? nlohmann::json(p->AsDouble()) : nlohmann::json(nullptr);
}

// Walks `items` (oldest first) from the newest, keeping a page of ListQuery; `key` gives an
// item's id and time and symbol, `keep` any further filter, `to_json` the answer's item.
template <class Items, class Key, class Keep, class ToJson>
nlohmann::json Page(const Items& items, const ListQuery& q, Key key, Keep keep, ToJson to_json) {
  nlohmann::json out = nlohmann::json::array();
  uint64_t last = 0;
  for (auto it = items.rbegin(); it != items.rend() && out.size() < q.limit; ++it) {
    const auto [id, time, symbol] = key(*it);
    if (q.before != 0 && id >= q.before) continue;
    if (!q.symbol.empty() && symbol != q.symbol) continue;
    if (!InRange(time, q) || !keep(*it)) continue;
    out.push_back(to_json(*it));
    last = id;
  }
  nlohmann::json page{{"items", out}};
  if (out.size() == q.limit && last > 1) page["next_before"] = last;
  return page;
}

}  // namespace

Result<std::unique_ptr<SessionView>> SessionView::Open(std::string location,
                                                       SessionViewOptions options) {
  const std::string events = EventsLocation(location);
  Result<std::unique_ptr<persistence::EventStore>> store =
      persistence::OpenEventStoreAtReadOnly(events);
  if (!store.ok()) return store.status().WithContext("session " + location);
  return std::unique_ptr<SessionView>(
      new SessionView(std::move(location), std::move(store).value(), options));
}

SessionView::~SessionView() { Stop(); }

Status SessionView::Poll() {
  std::unique_lock lock(mutex_);
  const uint64_t from = last_seq_.load() + 1;
  Status s = store_->Scan(from, [this](const persistence::Event& e) {
    AITS_RETURN_IF_ERROR(Apply(e));
    last_seq_.store(e.seq);
    return Status::Ok();
  });
  last_error_ = s.ok() ? std::string() : s.message();
  return s;
}

void SessionView::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock wake(wake_mutex_);
    while (!stop_) {
      wake.unlock();
      (void)Poll();  // kept in last_error_, retried at the next interval
      wake.lock();
      wake_.wait_for(wake, options_.interval, [this] { return stop_; });
    }
  });
}

void SessionView::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string SessionView::SymbolOf(InstrumentId id) const {
  const auto it = instruments_.find(id);
  return it == instruments_.end() ? "#" + std::to_string(id.value) : it->second.instrument.symbol;
}

Status SessionView::Apply(const persistence::Event& e) {
  using persistence::EventType;
  kernel_time_ = std::max(kernel_time_, e.ts);
  switch (e.type) {
    case EventType::kSessionStart: {
      Result<session::SessionSpec> spec = session::SessionSpec::FromJson(e.payload);
      if (!spec.ok()) return spec.status().WithContext("event " + std::to_string(e.seq));
      spec_ = nlohmann::json::parse(e.payload, nullptr, false);
      session_id_ = spec->session_id;
      currency_ = spec->account_currency;
      for (const Instrument& instrument : session::InstrumentsOf(*spec)) {
        instruments_.try_emplace(instrument.id).first->second.instrument = instrument;
      }
      stopped_ = false;
      break;
    }
    case EventType::kTick: {
      Result<Tick> tick = persistence::DecodeTick(e.payload);
      if (!tick.ok()) return tick.status().WithContext("event " + std::to_string(e.seq));
      InstrumentState& state = instruments_[tick->instrument];
      state.last = *tick;
      Bar bar;
      const bool closed = state.bars.Update(*tick, &bar);
      if (closed) {
        state.done.push_back(bar);
        if (state.done.size() > options_.max_bars) state.done.pop_front();
      }
      if (hub_ != nullptr) {
        const std::string& symbol = state.instrument.symbol;
        if (closed) hub_->Publish(e.seq, kTopicBars, symbol, BarJson(bar));
        hub_->Publish(e.seq, kTopicQuotes, symbol,
                      {{"bid", tick->bid.AsDouble()},
                       {"ask", tick->ask.AsDouble()},
                       {"time", FormatIso8601(tick->ts)}});
      }
      break;
    }
    case EventType::kOrderSubmitted: {
      // As the strategy submitted it: no kernel id yet. The update that follows names it.
      Result<aits::Order> order = persistence::DecodeOrder(e.payload);
      if (!order.ok()) return order.status().WithContext("event " + std::to_string(e.seq));
      in_flight_.insert(order->request.client_order_id);
      break;
    }
    case EventType::kOrderUpdate: {
      Result<aits::Order> order = persistence::DecodeOrder(e.payload);
      if (!order.ok()) return order.status().WithContext("event " + std::to_string(e.seq));
      in_flight_.erase(order->request.client_order_id);
      const uint64_t id = order->id.value;
      orders_[id] = std::move(order).value();
      if (hub_ != nullptr) {
        const aits::Order& o = orders_[id];
        hub_->Publish(e.seq, kTopicOrders, SymbolOf(o.request.instrument), OrderJson(o));
      }
      break;
    }
    case EventType::kFill: {
      Result<Fill> fill = persistence::DecodeFill(e.payload);
      if (!fill.ok()) return fill.status().WithContext("event " + std::to_string(e.seq));
      trades_.push_back({trades_.size() + 1, std::move(fill).value()});
      if (hub_ != nullptr) {
        hub_->Publish(e.seq, kTopicFills, SymbolOf(trades_.back().fill.instrument),
                      FillJson(trades_.back()));
      }
      break;
    }
    case EventType::kDecision: {
      nlohmann::json json = nlohmann::json::parse(e.payload, nullptr, false);
      if (!json.is_object()) break;  // a record this build cannot read is left out, not fatal
      DecisionRecord d;
      d.id = json.value("decision", uint64_t{0});
      d.time = e.ts;
      d.symbol = json.value("symbol", "");
      const auto link = [this, &d](const nlohmann::json& order) {
        if (order.is_object() && order.contains("id") && order["id"].is_number_unsigned()) {
          decision_of_order_[order["id"].get<uint64_t>()] = d.id;
        }
      };
      if (json.contains("order")) link(json["order"]);
      if (json.contains("orders") && json["orders"].is_array()) {
        for (const auto& o : json["orders"]) link(o);
      }
      d.json = std::move(json);
      if (hub_ != nullptr) hub_->Publish(e.seq, kTopicDecisions, d.symbol, d.json);
      decisions_.push_back(std::move(d));
      if (decisions_.size() > options_.max_decisions) decisions_.pop_front();
      break;
    }
    case EventType::kBreakerChange: {
      nlohmann::json json = nlohmann::json::parse(e.payload, nullptr, false);
      if (!json.is_object()) break;
      breaker_ = json.value("to", breaker_);
      json["time"] = FormatIso8601(e.ts);
      if (hub_ != nullptr) hub_->Publish(e.seq, kTopicRisk, "", {{"breaker_change", json}});
      breaker_changes_.push_back(std::move(json));
      if (breaker_changes_.size() > kMaxBreakerChanges) breaker_changes_.pop_front();
      break;
    }
    case EventType::kCommand: {
      nlohmann::json json = nlohmann::json::parse(e.payload, nullptr, false);
      if (!json.is_object()) break;
      json["applied_at"] = FormatIso8601(e.ts);
      if (hub_ != nullptr) hub_->Publish(e.seq, kTopicRisk, "", {{"command", json}});
      commands_.push_back(std::move(json));
      if (commands_.size() > kMaxCommands) commands_.pop_front();
      break;
    }
    case EventType::kAccount: {
      nlohmann::json json = nlohmann::json::parse(e.payload, nullptr, false);
      if (!json.is_object()) break;
      account_ = std::move(json);
      account_time_ = e.ts;
      if (account_.contains("breaker") && account_["breaker"].is_string()) {
        breaker_ = account_["breaker"].get<std::string>();
      }
      if (hub_ != nullptr) hub_->Publish(e.seq, kTopicAccount, "", account_);
      break;
    }
    case EventType::kSessionStop:
      stopped_ = true;
      stop_summary_ = nlohmann::json::parse(e.payload, nullptr, false);
      break;
    default:
      break;
  }
  return Status::Ok();
}

nlohmann::json SessionView::Summary() const {
  std::shared_lock lock(mutex_);
  nlohmann::json symbols = nlohmann::json::array();
  for (const auto& [id, state] : instruments_) symbols.push_back(state.instrument.symbol);
  nlohmann::json out{{"id", session_id_},
                     {"location", location_},
                     {"state", stopped_ ? "stopped" : "running"},
                     {"symbols", symbols},
                     {"currency", currency_},
                     {"events", last_seq_.load()},
                     {"kernel_time", FormatIso8601(kernel_time_)},
                     {"signal", spec_.is_object() ? spec_.value("signal", "") : ""}};
  if (!last_error_.empty()) out["last_error"] = last_error_;
  if (stopped_ && stop_summary_.is_object()) out["stop"] = stop_summary_;
  return out;
}

nlohmann::json SessionView::Account() const {
  std::shared_lock lock(mutex_);
  nlohmann::json out{{"session", session_id_},
                     {"currency", currency_},
                     {"breaker", breaker_},
                     {"orders", orders_.size()},
                     {"orders_in_flight", in_flight_.size()},
                     {"fills", trades_.size()}};
  if (account_.is_object()) {
    out["balance"] = account_.value("balance", "");
    out["equity"] = account_.value("equity", "");
    out["margin"] = account_.value("margin", "");
    out["as_of"] = FormatIso8601(account_time_);
  } else {
    // Before the first checkpoint: what the session started with.
    const double balance = spec_.is_object() ? spec_.value("balance", 0.0) : 0.0;
    const Result<Money> money = Money::FromDouble(balance);
    out["balance"] = money.ok() ? money->ToString() : std::string("0.00");
    out["equity"] = out["balance"];
    out["margin"] = "0.00";
    out["as_of"] = nullptr;
  }
  return out;
}

nlohmann::json SessionView::Positions() const {
  std::shared_lock lock(mutex_);
  nlohmann::json items = nlohmann::json::array();
  if (account_.is_object() && account_.contains("positions") && account_["positions"].is_array()) {
    for (const auto& p : account_["positions"]) {
      nlohmann::json item = p;
      // The mark: the last quote's side that would close the position.
      for (const auto& [id, state] : instruments_) {
        if (state.instrument.symbol != p.value("symbol", "") || !state.last) continue;
        const double lots = std::stod(p.value("lots", "0"));
        const double avg = std::stod(p.value("avg_price", "0"));
        const double mark = lots > 0 ? state.last->bid.AsDouble() : state.last->ask.AsDouble();
        item["mark"] = mark;
        // In the instrument's quote currency (the account's for the majors against it).
        item["unrealized"] =
            (mark - avg) * lots * static_cast<double>(state.instrument.contract_size);
        item["quote_currency"] = std::string(state.instrument.quote.view());
      }
      items.push_back(std::move(item));
    }
  }
  return {{"items", items},
          {"as_of", account_.is_object() ? nlohmann::json(FormatIso8601(account_time_))
                                         : nlohmann::json(nullptr)}};
}

nlohmann::json SessionView::OrderJson(const aits::Order& o) const {
  const OrderRequest& r = o.request;
  nlohmann::json out{
      {"id", o.id.value},
      {"client_order_id", r.client_order_id},
      {"symbol", SymbolOf(r.instrument)},
      {"side", ToString(r.side)},
      {"type", ToString(r.type)},
      {"time_in_force", ToString(r.tif)},
      {"lots", r.quantity.AsDouble()},
      {"price", PriceOrNull(r.price)},
      {"stop_loss", PriceOrNull(r.stop_loss)},
      {"take_profit", PriceOrNull(r.take_profit)},
      {"tag", r.tag},
      {"status", ToString(o.status)},
      {"created", FormatIso8601(o.created)},
      {"updated", FormatIso8601(o.updated)},
      {"filled", o.filled.AsDouble()},
      {"avg_fill_price", o.filled.raw() == 0 ? nlohmann::json(nullptr)
                                             : nlohmann::json(o.avg_fill_price.AsDouble())}};
  if (o.reject_reason != RejectReason::kNone) {
    out["reject_reason"] = ToString(o.reject_reason);
    out["reject_detail"] = o.reject_detail;
  }
  if (o.venue_order_id != 0) out["venue_order_id"] = o.venue_order_id;
  if (o.position_ticket != 0) out["position_ticket"] = o.position_ticket;
  if (const auto d = decision_of_order_.find(o.id.value); d != decision_of_order_.end()) {
    out["decision"] = d->second;
  }
  return out;
}

nlohmann::json SessionView::Orders(const ListQuery& q, const std::string& status) const {
  std::shared_lock lock(mutex_);
  return Page(
      orders_, q,
      [this](const auto& kv) {
        return std::make_tuple(kv.first, kv.second.created, SymbolOf(kv.second.request.instrument));
      },
      [&status](const auto& kv) { return status.empty() || ToString(kv.second.status) == status; },
      [this](const auto& kv) { return OrderJson(kv.second); });
}

Result<nlohmann::json> SessionView::Order(uint64_t id) const {
  std::shared_lock lock(mutex_);
  const auto it = orders_.find(id);
  if (it == orders_.end()) return NotFound("order " + std::to_string(id) + ": not in this session");
  nlohmann::json out = OrderJson(it->second);
  if (const auto d = decision_of_order_.find(id); d != decision_of_order_.end()) {
    for (const DecisionRecord& r : decisions_) {
      if (r.id == d->second) out["explanation"] = r.json;
    }
  }
  nlohmann::json fills = nlohmann::json::array();
  for (const Trade& t : trades_) {
    if (t.fill.order_id.value == id) fills.push_back(FillJson(t));
  }
  out["fills"] = fills;
  return out;
}

nlohmann::json SessionView::FillJson(const Trade& t) const {
  const Fill& f = t.fill;
  return {{"id", t.id},
          {"order_id", f.order_id.value},
          {"client_order_id", f.client_order_id},
          {"symbol", SymbolOf(f.instrument)},
          {"side", ToString(f.side)},
          {"lots", f.quantity.AsDouble()},
          {"price", f.price.AsDouble()},
          {"commission", f.commission.ToString()},
          {"time", FormatIso8601(f.ts)},
          {"reason", ToString(f.reason)}};
}

nlohmann::json SessionView::Trades(const ListQuery& q) const {
  std::shared_lock lock(mutex_);
  return Page(
      trades_, q,
      [this](const Trade& t) {
        return std::make_tuple(t.id, t.fill.ts, SymbolOf(t.fill.instrument));
      },
      [](const Trade&) { return true; }, [this](const Trade& t) { return FillJson(t); });
}

nlohmann::json SessionView::Decisions(const ListQuery& q) const {
  std::shared_lock lock(mutex_);
  return Page(
      decisions_, q,
      [](const DecisionRecord& d) { return std::make_tuple(d.id, d.time, d.symbol); },
      [](const DecisionRecord&) { return true; }, [](const DecisionRecord& d) { return d.json; });
}

Result<nlohmann::json> SessionView::Decision(uint64_t id) const {
  std::shared_lock lock(mutex_);
  for (const DecisionRecord& d : decisions_) {
    if (d.id == id) return d.json;
  }
  return NotFound("decision " + std::to_string(id) + ": not in this session (or older than the " +
                  std::to_string(options_.max_decisions) + " kept)");
}

nlohmann::json SessionView::Risk() const {
  std::shared_lock lock(mutex_);
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& c : breaker_changes_) changes.push_back(c);
  nlohmann::json commands = nlohmann::json::array();
  for (const auto& c : commands_) commands.push_back(c);
  return {{"breaker", breaker_},
          {"breaker_changes", changes},
          {"commands", commands},
          {"limits",
           spec_.is_object() && spec_.contains("risk") ? spec_["risk"] : nlohmann::json::array()}};
}

nlohmann::json SessionView::Quotes() const {
  std::shared_lock lock(mutex_);
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [id, state] : instruments_) {
    if (!state.last) continue;
    items.push_back({{"symbol", state.instrument.symbol},
                     {"bid", state.last->bid.AsDouble()},
                     {"ask", state.last->ask.AsDouble()},
                     {"time", FormatIso8601(state.last->ts)}});
  }
  return {{"items", items}};
}

nlohmann::json SessionView::BarJson(const Bar& b) const {
  return {{"time", FormatIso8601(b.open_time)}, {"open", b.mid.open.AsDouble()},
          {"high", b.mid.high.AsDouble()},      {"low", b.mid.low.AsDouble()},
          {"close", b.mid.close.AsDouble()},    {"ticks", b.tick_count}};
}

Result<nlohmann::json> SessionView::Bars(const std::string& symbol, size_t limit) const {
  std::shared_lock lock(mutex_);
  for (const auto& [id, state] : instruments_) {
    if (state.instrument.symbol != symbol) continue;
    nlohmann::json items = nlohmann::json::array();
    const size_t skip = state.done.size() > limit ? state.done.size() - limit : 0;
    for (size_t i = skip; i < state.done.size(); ++i) items.push_back(BarJson(state.done[i]));
    return nlohmann::json{{"symbol", symbol}, {"period", "M1"}, {"price", "mid"}, {"items", items}};
  }
  return NotFound("symbol " + symbol.substr(0, 40) + ": not in this session");
}

Status SessionView::QueueCommand(const nlohmann::json& command) {
  // The read-only store writes commands through a short-lived read-write connection.
  return store_->AddCommand(command.dump());
}

}  // namespace aits::api
