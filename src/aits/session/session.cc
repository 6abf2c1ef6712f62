#include "aits/session/session.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>

#include <nlohmann/json.hpp>

#include "aits/data/synthetic.h"
#include "aits/log/log.h"
#include "aits/persistence/codec.h"
#include "aits/session/reconcile_record.h"
#include "aits/session/session_metrics.h"
#include "aits/session/session_venue.h"
#include "aits/trading/json_writer.h"

namespace aits::session {
namespace {

using persistence::EventType;

// Small enough to stay in cache: the per-order cost of a long FIFO is its cold end.
constexpr size_t kKernelHistory = 4'096;

std::string BreakerJson(const risk::BreakerChange& change) {
  std::string out;
  trading::JsonWriter json(&out);
  json.BeginObject();
  json.Member("time", FormatIso8601(change.ts));
  json.Member("from", risk::ToString(change.from));
  json.Member("to", risk::ToString(change.to));
  json.Member("manual", change.manual);
  json.Member("rule", change.rule);
  json.Member("detail", change.detail);
  json.EndObject();
  return out;
}

}  // namespace

Result<std::unique_ptr<trading::SignalSource>> MakeRuleSignalFor(const SessionSpec& spec,
                                                                 const Instrument& instrument,
                                                                 Duration /*bar_period*/) {
  AITS_ASSIGN_OR_RETURN(strategy::StrategyParams params,
                        strategy::StrategyParams::Parse(spec.signal_params));
  return trading::MakeRuleSignal(spec.signal, std::move(params), instrument);
}

Result<kernel::KernelConfig> KernelConfigFor(const SessionSpec& spec) {
  kernel::KernelConfig config;
  config.account_currency = Currency::Of(spec.account_currency);
  if (spec.account_currency.size() != 3) {
    return InvalidArgument("account currency '" + spec.account_currency +
                           "' is not a three-letter code");
  }
  AITS_ASSIGN_OR_RETURN(config.initial_balance, Money::FromDouble(spec.balance));
  config.leverage = spec.leverage;
  if (spec.latency_us < 0) {
    return InvalidArgument("latency " + std::to_string(spec.latency_us) + " us is negative");
  }
  config.venue.latency = Duration::Micros(spec.latency_us);
  AITS_ASSIGN_OR_RETURN(config.venue.account_mode, ParseAccountMode(spec.account_mode));
  config.venue.slippage_points = spec.slippage_points;
  AITS_ASSIGN_OR_RETURN(config.venue.commission, execution::ParseCommission(spec.commission));
  if (spec.bar_seconds <= 0) {
    return InvalidArgument("bar period " + std::to_string(spec.bar_seconds) + " s is not positive");
  }
  config.bar_period = Duration::Seconds(spec.bar_seconds);
  // The event log is the session's history: keep memory flat however long it runs.
  config.history = kKernelHistory;
  AITS_ASSIGN_OR_RETURN(config.risk, node::RiskLimitsFor(spec.risk));
  AITS_RETURN_IF_ERROR(config.Validate());
  return config;
}

Result<node::ThreadedVenueConfig> ThreadedVenueConfigFor(const SessionSpec& spec) {
  AITS_ASSIGN_OR_RETURN(const kernel::KernelConfig kernel, KernelConfigFor(spec));
  node::ThreadedVenueConfig config;
  config.venue = kernel.venue;
  config.account_currency = kernel.account_currency;
  config.initial_balance = kernel.initial_balance;
  config.leverage = kernel.leverage;
  config.report_latency = std::chrono::microseconds(spec.report_latency_us);
  AITS_RETURN_IF_ERROR(config.Validate());
  return config;
}

Result<decision::DecisionConfig> DecisionConfigFor(const SessionSpec& spec) {
  return node::DecisionConfigFor(spec.decision);
}

Result<node::NodeConfig> NodeConfigFor(const SessionSpec& spec, const SignalFactory& signals,
                                       trading::DecisionSink sink, node::DeciderFactory deciders) {
  AITS_RETURN_IF_ERROR(ValidateFeeds(spec));
  node::NodeConfig config;
  config.instruments = InstrumentsOf(spec);
  if (!spec.feeds.empty()) config.traded = TradedOf(spec);
  AITS_ASSIGN_OR_RETURN(config.kernel, KernelConfigFor(spec));
  node::DecisionStack stack;
  AITS_ASSIGN_OR_RETURN(stack.decision, DecisionConfigFor(spec));
  stack.signal = [spec, signals](const Instrument& instrument, Duration bar_period) {
    return signals(spec, instrument, bar_period);
  };
  stack.remote = std::move(deciders);
  stack.options.client_id_prefix = spec.session_id;
  stack.sink = std::move(sink);
  config.decision = std::move(stack);
  config.strategy = spec.signal;
  return config;
}

Result<decision::DecisionConfig> EngineConfigFor(const SessionSpec& spec) {
  AITS_ASSIGN_OR_RETURN(const node::NodeConfig config, NodeConfigFor(spec, MakeRuleSignalFor));
  return node::DecisionConfigOf(config);
}

namespace {

Result<std::unique_ptr<data::TickSource>> OpenOneFeed(const SessionSpec& spec,
                                                      const FeedSpec& feed) {
  const Instrument& instrument = feed.instrument;
  if (feed.feed == kLiveFeed) {
    return InvalidArgument("the feed " + std::string(kLiveFeed) +
                           " is the MetaTrader gateway's live data, which aits live connects");
  }
  if (feed.feed == "synthetic") {
    data::SyntheticOptions options;
    options.seed = feed.seed;
    options.count = spec.max_ticks > 0 ? spec.max_ticks : std::numeric_limits<uint64_t>::max();
    options.start = spec.synthetic_start;
    options.digits = instrument.digits;
    options.start_price = feed.start_price;
    options.volatility = spec.volatility;
    options.instrument = instrument.id;
    AITS_ASSIGN_OR_RETURN(auto source, data::SyntheticTickSource::Create(options));
    return std::unique_ptr<data::TickSource>(std::move(source));
  }
  data::ReadOptions options;
  if (spec.format != "auto") {
    AITS_ASSIGN_OR_RETURN(options.format, data::ParseDataFormat(spec.format));
  } else {
    AITS_ASSIGN_OR_RETURN(options.format, data::DetectFormat(feed.feed));
  }
  if (data::IsBarFormat(options.format)) {
    return InvalidArgument(feed.feed + " holds bars (" +
                           std::string(data::ToString(options.format)) +
                           "); paper trading consumes ticks: use a tick file, --feed synthetic, "
                           "or aits backtest for bars");
  }
  options.price_precision = instrument.digits;
  options.spread_points = spec.spread_points;
  options.instrument = instrument.id;
  return data::OpenTicks(feed.feed, options);
}

}  // namespace

Result<std::unique_ptr<data::TickSource>> OpenFeed(const SessionSpec& spec) {
  return OpenOneFeed(spec, FeedsOf(spec).front());
}

Result<std::vector<std::unique_ptr<data::TickSource>>> OpenFeeds(const SessionSpec& spec) {
  std::vector<std::unique_ptr<data::TickSource>> sources;
  for (const FeedSpec& feed : FeedsOf(spec)) {
    auto source = OpenOneFeed(spec, feed);
    if (!source.ok()) {
      if (spec.feeds.empty()) return source.status();
      return Status(source.status().code(),
                    feed.instrument.symbol + " feed: " + source.status().message());
    }
    sources.push_back(std::move(*source));
  }
  return sources;
}

Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::Create(const SessionSpec& spec,
                                                 const SignalFactory& signals, BrokerFactory broker,
                                                 node::DeciderFactory deciders) {
  std::unique_ptr<Session> session(new Session());
  session->spec_ = spec;
  session->instruments_ = InstrumentsOf(spec);
  session->traded_ = TradedOf(spec);
  session->ticks_by_instrument_.assign(session->instruments_.size(), 0);
  session->counts_.assign(session->instruments_.size(), InstrumentCounts{});
  Session* self = session.get();
  AITS_ASSIGN_OR_RETURN(node::NodeConfig config, NodeConfigFor(
                                                     spec, signals,
                                                     [self](Timestamp ts, std::string_view json) {
                                                       self->Emit(EventType::kDecision, ts, json);
                                                     },
                                                     std::move(deciders)));
  if (config.decision) {
    config.decision->watch_sink = [self](Timestamp ts, std::string_view json) {
      self->Emit(EventType::kModelVerdict, ts, json);
      if (self->verdict_hook_ && self->mode_ == RecordMode::kAppend) self->verdict_hook_(ts, json);
    };
    config.decision->shadow_sink = [self](Timestamp ts, std::string_view json) {
      self->Emit(EventType::kModelShadow, ts, json);
      if (self->shadow_hook_ && self->mode_ == RecordMode::kAppend) self->shadow_hook_(ts, json);
    };
  }
  AITS_ASSIGN_OR_RETURN(const VenueKind venue_kind, ParseVenueKind(spec.venue));
  if (venue_kind == VenueKind::kThreaded) {
    AITS_ASSIGN_OR_RETURN(const node::ThreadedVenueConfig venue, ThreadedVenueConfigFor(spec));
    config.execution = [self, venue](execution::ExecutionEvents& /*events*/,
                                     const execution::AccountOracle& /*account*/) {
      // Its reports come through the inbox (or the log), not `events`; its account is its own.
      auto made = std::make_unique<SessionVenue>(venue);
      self->async_venue_ = made.get();
      return made;
    };
  } else if (venue_kind == VenueKind::kMt5) {
    config.execution = [self, broker](execution::ExecutionEvents& /*events*/,
                                      const execution::AccountOracle& /*account*/) {
      auto made = std::make_unique<SessionVenue>(broker);
      self->async_venue_ = made.get();
      return made;
    };
  }
  // The node's kernel keeps the session's clock; the recorder below subscribes after the
  // kernel's own handlers, so it hears each message once the kernel has booked it.
  AITS_ASSIGN_OR_RETURN(node::Node node, node::BuildNode(config, session->clock_));
  session->kernel_ = std::move(node.kernel);
  session->strategies_ = node.decision_strategies;
  kernel::Kernel& kernel = *session->kernel_;

  Bus& bus = kernel.bus();
  bus.Subscribe<kernel::OrderSubmitted>([self](const kernel::OrderSubmitted& submitted) {
    Order order;
    order.request = submitted.request;
    order.created = order.updated = submitted.ts;
    self->buffer_.clear();
    persistence::EncodeOrder(order, &self->buffer_);
    self->Emit(EventType::kOrderSubmitted, submitted.ts, self->buffer_);
  });
  const bool hedging = spec.account_mode == "hedging";
  bus.Subscribe<Fill>([self, hedging](const Fill& fill) {
    if (fill.instrument.value < self->counts_.size()) {
      InstrumentCounts& counts = self->counts_[fill.instrument.value];
      ++counts.fills;
      counts.commission += fill.commission;
      const Money balance = self->kernel_->account().balance;
      counts.net_pnl += balance - self->balance_;
      self->balance_ = balance;
    }
    self->buffer_.clear();
    if (hedging) {
      persistence::EncodeFill(fill, &self->buffer_);
    } else {
      // A netting account's fills need no position ticket to be booked: left out, so that the
      // log reads as before tickets were logged and older sessions still resume.
      Fill netted = fill;
      netted.position_ticket = 0;
      persistence::EncodeFill(netted, &self->buffer_);
    }
    self->Emit(EventType::kFill, fill.ts, self->buffer_);
    if (self->appending() && LogEnabled(LogLevel::kInfo)) {
      if (const Chain* chain = self->FindChain(fill.client_order_id)) {
        AITS_LOG_INFO("session", "fill of an operator's order",
                      {{"session_id", self->spec_.session_id},
                       {"order", std::to_string(fill.order_id.value)},
                       {"client_order_id", fill.client_order_id},
                       {"quantity", fill.quantity.ToString()},
                       {"price", fill.price.ToString()},
                       {"request_id", chain->request_id},
                       {"chain_id", chain->chain_id}});
      }
    }
  });
  const bool order_tickets = spec.order_tickets;
  bus.Subscribe<execution::OrderUpdate>(
      [self, order_tickets](const execution::OrderUpdate& update) {
        if (update.order.status == OrderStatus::kAccepted ||
            update.order.status == OrderStatus::kFilled) {
          ++self->orders_accepted_;
          if (self->accepted_at_ns_ == 0) {
            self->accepted_at_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count();
          }
        }
        self->buffer_.clear();
        if (order_tickets) {
          persistence::EncodeOrder(update.order, &self->buffer_);
        } else {
          // A log from before the venue's tickets were logged goes on without them (SessionSpec).
          Order untagged = update.order;
          untagged.venue_order_id = 0;
          persistence::EncodeOrder(untagged, &self->buffer_);
        }
        self->Emit(EventType::kOrderUpdate, update.order.updated, self->buffer_);
        if (self->metrics_ != nullptr && self->appending()) {
          self->metrics_->OnOrderUpdate(update.order);
        }
        if (self->appending() && LogEnabled(LogLevel::kInfo)) {
          const Order& order = update.order;
          if (const Chain* chain = self->FindChain(order.request.client_order_id)) {
            AITS_LOG_INFO("session", "operator's order " + std::string(ToString(order.status)),
                          {{"session_id", self->spec_.session_id},
                           {"order", std::to_string(order.id.value)},
                           {"client_order_id", order.request.client_order_id},
                           {"reject", order.reject_detail},
                           {"request_id", chain->request_id},
                           {"chain_id", chain->chain_id}});
          }
        }
      });
  bus.Subscribe<risk::BreakerChange>([self](const risk::BreakerChange& change) {
    self->Emit(EventType::kBreakerChange, change.ts, BreakerJson(change));
    // Only changes made now: a resume or a replay re-runs the logged ones, which were logged
    // when they happened.
    if (self->appending()) {
      if (self->metrics_ != nullptr) self->metrics_->OnBreakerChange(change);
      AITS_LOG_INFO("session",
                    "breaker " + std::string(risk::ToString(change.from)) + " -> " +
                        std::string(risk::ToString(change.to)),
                    {{"session_id", self->spec_.session_id},
                     {"rule", change.rule},
                     {"detail", change.detail},
                     {"manual", change.manual ? "true" : "false"},
                     {"market_time", FormatIso8601(change.ts)}});
    }
  });
  session->balance_ = kernel.account().balance;
  kernel.Start();
  return session;
}

void Session::StartAppending(persistence::EventStore* store) {
  store_ = store;
  mode_ = RecordMode::kAppend;
}

void Session::Log(EventType type, Timestamp ts, std::string_view payload) {
  if (mode_ != RecordMode::kAppend || !store_status_.ok()) return;
  auto appended = store_->Append(type, ts, payload);
  if (!appended.ok()) store_status_ = appended.status();
}

void Session::Emit(EventType type, Timestamp ts, std::string_view payload) {
  ++outputs_;
  if (capture_) {
    capture_(type, ts, payload);
  } else if (mode_ == RecordMode::kAppend) {
    Log(type, ts, payload);
  } else {
    produced_.push_back(Produced{type, ts, std::string(payload)});
  }
}

void Session::Feed(const Tick& tick, int64_t source_msc) {
  clock_.AdvanceTo(tick.ts);
  if (mode_ == RecordMode::kAppend) {
    buffer_.clear();
    persistence::EncodeTick(tick, &buffer_, source_msc);
    Log(EventType::kTick, tick.ts, buffer_);
  }
  ++ticks_;
  ++ticks_by_instrument_[tick.instrument.value];
  kernel_->OnTick(tick);
  CountNewOrders();
}

void Session::SettleReplacements() {
  for (auto it = replacements_.begin(); it != replacements_.end();) {
    const Order* replaced = kernel_->FindOrder(OrderId{it->first});
    if (replaced != nullptr && (replaced->status == OrderStatus::kAccepted ||
                                replaced->status == OrderStatus::kPendingNew)) {
      ++it;  // its cancel is on the way
      continue;
    }
    OrderRequest& next = it->second.request;
    // Lots the old order filled while its cancel travelled come off the replacement.
    const int64_t late =
        replaced == nullptr ? 0 : replaced->filled.raw() - it->second.filled_then.raw();
    const int64_t left = next.quantity.raw() - std::max<int64_t>(late, 0);
    if (replaced != nullptr && replaced->status == OrderStatus::kCanceled && left > 0) {
      next.quantity = Quantity::FromRaw(left, next.quantity.precision());
      (void)kernel_->Submit(next);  // a refusal is a rejected order in the log
    } else {
      AITS_LOG_WARN("session", "an order to modify ended before its cancel: not replaced",
                    {{"order", std::to_string(it->first)},
                     {"status", replaced == nullptr ? std::string("unknown")
                                                    : std::string(ToString(replaced->status))},
                     {"replacement", next.client_order_id}});
    }
    it = replacements_.erase(it);
  }
}

void Session::DropReplacements(uint64_t id, const std::string& why) {
  for (auto it = replacements_.begin(); it != replacements_.end();) {
    if (id != 0 && it->first != id) {
      ++it;
      continue;
    }
    AITS_LOG_WARN("session", "a modify's replacement dropped: " + why,
                  {{"order", std::to_string(it->first)},
                   {"replacement", it->second.request.client_order_id}});
    it = replacements_.erase(it);
  }
}

void Session::RememberChain(const std::string& client_order_id, const Chain& chain) {
  if (chain.chain_id.empty() && chain.request_id.empty()) return;
  // Enough for every order an operator has working; a trader does not keep thousands.
  constexpr size_t kMaxChains = 4096;
  if (chains_.insert_or_assign(client_order_id, chain).second) {
    chain_order_.push_back(client_order_id);
  }
  while (chain_order_.size() > kMaxChains) {
    chains_.erase(chain_order_.front());
    chain_order_.pop_front();
  }
}

const Session::Chain* Session::FindChain(const std::string& client_order_id) const {
  if (chains_.empty()) return nullptr;
  const auto found = chains_.find(client_order_id);
  return found == chains_.end() ? nullptr : &found->second;
}

void Session::CountNewOrders() {
  SettleReplacements();
  // Every order the kernel numbered since the last look (strategies', refused ones, the venue's
  // own), by its instrument: each is still in the kernel's history, which keeps the latest.
  const uint64_t count = kernel_->order_count();
  for (uint64_t id = orders_counted_ + 1; id <= count; ++id) {
    const Order* order = kernel_->FindOrder(OrderId{id});
    if (order != nullptr && order->request.instrument.value < counts_.size()) {
      ++counts_[order->request.instrument.value].orders;
    }
  }
  orders_counted_ = count;
}

uint64_t Session::decisions() const {
  uint64_t total = 0;
  for (const trading::DecisionStrategy* strategy : strategies_) total += strategy->decisions();
  return total;
}

size_t Session::AdvanceTo(Timestamp time) {
  const std::optional<Timestamp> next = kernel_->NextTimer();
  if (!next || *next > std::max(time, clock_.Now())) return 0;
  clock_.AdvanceTo(time);
  Log(EventType::kClock, clock_.Now(), {});
  ++clock_advances_;
  const size_t fired = kernel_->AdvanceTo(clock_.Now());
  CountNewOrders();
  return fired;
}

namespace {

// A client order id an operator command names: 1 to 64 of A-Z a-z 0-9 - _ .
Status CheckClientId(const std::string& command, const std::string& id) {
  const bool ok =
      id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
      });
  if (!ok) {
    return InvalidArgument(command + " command: client_order_id: 1 to 64 of A-Z a-z 0-9 - _ .");
  }
  return Status::Ok();
}

// The order of an "order" operator command: symbol, side, type (market, limit, stop), lots,
// price, stop_loss, take_profit; InvalidArgument naming the field otherwise.
Result<OrderRequest> ManualOrder(const nlohmann::json& json,
                                 const std::vector<Instrument>& instruments) {
  const auto text = [&json](const char* key) {
    return json.contains(key) && json[key].is_string() ? json[key].get<std::string>()
                                                       : std::string();
  };
  const std::string symbol = text("symbol");
  const Instrument* instrument = nullptr;
  for (const Instrument& i : instruments) {
    if (i.symbol == symbol) instrument = &i;
  }
  if (instrument == nullptr) {
    return InvalidArgument("order command: symbol \"" + symbol.substr(0, 40) +
                           "\" is not one of the session's");
  }
  OrderRequest request;
  request.instrument = instrument->id;
  const std::string side = text("side");
  if (side != "buy" && side != "sell") {
    return InvalidArgument("order command: side \"" + side.substr(0, 20) + "\": buy or sell");
  }
  request.side = side == "buy" ? Side::kBuy : Side::kSell;
  const std::string type = text("type").empty() ? "market" : text("type");
  if (type == "market") {
    request.type = OrderType::kMarket;
  } else if (type == "limit") {
    request.type = OrderType::kLimit;
  } else if (type == "stop") {
    request.type = OrderType::kStop;
  } else {
    return InvalidArgument("order command: type \"" + type.substr(0, 20) +
                           "\": market, limit or stop");
  }
  const auto number = [&json](const char* key) -> std::optional<double> {
    if (!json.contains(key) || !json[key].is_number()) return std::nullopt;
    return json[key].get<double>();
  };
  const std::optional<double> lots = number("lots");
  if (!lots || !(*lots > 0))
    return InvalidArgument("order command: lots must be a positive number");
  AITS_ASSIGN_OR_RETURN(request.quantity, Quantity::FromDouble(*lots, instrument->LotPrecision()));
  const auto price = [&](const char* key, std::optional<Price>* out) -> Status {
    if (const std::optional<double> value = number(key)) {
      AITS_ASSIGN_OR_RETURN(Price p, Price::FromDouble(*value, instrument->digits));
      *out = p;
    }
    return Status::Ok();
  };
  AITS_RETURN_IF_ERROR(price("price", &request.price));
  AITS_RETURN_IF_ERROR(price("stop_loss", &request.stop_loss));
  AITS_RETURN_IF_ERROR(price("take_profit", &request.take_profit));
  if (request.type != OrderType::kMarket && !request.price) {
    return InvalidArgument("order command: a " + type + " order needs a price");
  }
  const std::string client_id = text("client_order_id");
  if (!client_id.empty()) {
    AITS_RETURN_IF_ERROR(CheckClientId("order", client_id));
    request.client_order_id = client_id;
  }
  request.tag = "manual";
  return request;
}

// The replacement of a "modify" command: the order's request with the fields given (price,
// stop_loss, take_profit, lots; a null stop_loss or take_profit removes it) and a client id of
// its own (given, or the order's with "-m" and the kernel id).
Result<OrderRequest> ModifiedOrder(const nlohmann::json& json, const Order& order,
                                   const std::vector<Instrument>& instruments) {
  const Instrument* instrument = nullptr;
  for (const Instrument& i : instruments) {
    if (i.id == order.request.instrument) instrument = &i;
  }
  if (instrument == nullptr) return Internal("modify command: the order's instrument is unknown");
  OrderRequest next = order.request;
  bool changed = false;
  const auto price = [&](const char* key, std::optional<Price>* out, bool nullable) -> Status {
    if (!json.contains(key)) return Status::Ok();
    changed = true;
    if (json[key].is_null() && nullable) {
      out->reset();
      return Status::Ok();
    }
    if (!json[key].is_number() || !(json[key].get<double>() > 0)) {
      return InvalidArgument(std::string("modify command: ") + key + " must be a positive number" +
                             (nullable ? " or null" : ""));
    }
    AITS_ASSIGN_OR_RETURN(Price p, Price::FromDouble(json[key].get<double>(), instrument->digits));
    *out = p;
    return Status::Ok();
  };
  AITS_RETURN_IF_ERROR(price("price", &next.price, false));
  AITS_RETURN_IF_ERROR(price("stop_loss", &next.stop_loss, true));
  AITS_RETURN_IF_ERROR(price("take_profit", &next.take_profit, true));
  // What is left of the order, unless the command says how much.
  next.quantity = Quantity::FromRaw(order.request.quantity.raw() - order.filled.raw(),
                                    order.request.quantity.precision());
  if (json.contains("lots")) {
    changed = true;
    if (!json["lots"].is_number() || !(json["lots"].get<double>() > 0)) {
      return InvalidArgument("modify command: lots must be a positive number");
    }
    AITS_ASSIGN_OR_RETURN(next.quantity, Quantity::FromDouble(json["lots"].get<double>(),
                                                              instrument->LotPrecision()));
  }
  if (!changed) {
    return InvalidArgument(
        "modify command: nothing to change (price, stop_loss, take_profit, lots)");
  }
  const std::string given = json.contains("client_order_id") && json["client_order_id"].is_string()
                                ? json["client_order_id"].get<std::string>()
                                : std::string();
  if (!given.empty()) {
    AITS_RETURN_IF_ERROR(CheckClientId("modify", given));
    next.client_order_id = given;
  } else {
    // The kernel id keeps it unique: the old id is cut, never the suffix.
    const std::string suffix = "-m" + std::to_string(order.id.value);
    next.client_order_id = order.request.client_order_id.substr(0, 64 - suffix.size()) + suffix;
  }
  return next;
}

}  // namespace

Status Session::ApplyCommand(std::string_view text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("command") ||
      !json["command"].is_string()) {
    return InvalidArgument("command is not a JSON object with a \"command\" string: " +
                           std::string(text.substr(0, 200)));
  }
  const std::string command = json["command"].get<std::string>();
  const auto text_of = [&json](const char* key) {
    return json.contains(key) && json[key].is_string() ? json[key].get<std::string>()
                                                       : std::string();
  };
  const std::string reason = json.contains("reason") && json["reason"].is_string()
                                 ? json["reason"].get<std::string>()
                                 : "operator";
  const Chain chain{text_of("by"), text_of("request_id"), text_of("chain_id")};
  last_command_ = CommandTrace{chain.by, chain.request_id, chain.chain_id, {}};
  // Logged where the command takes effect (a replay applies it there); the caller's log line
  // names the order it made, with the ids of whoever sent it (last_command()).
  const auto log_command = [&](const std::string& client_order_id) {
    Log(EventType::kCommand, clock_.Now(), text);
    last_command_.client_order_id = client_order_id;
  };
  // pause and resume are the breaker's reduce_only and normal (no new exposure; positions are
  // still managed and may be closed), so that the risk manager is the one place that says what
  // may trade; flatten closes everything and leaves the breaker as it is.
  if (command == "model_promotion") {
    // What the registry's gate made of a shadow trial (docs/ml.md, "Shadow trial"): recorded
    // where it came back, so that the log holds each step; the session serves on what it serves.
    if (!json.contains("candidate") || !json["candidate"].is_string() || !json.contains("passed") ||
        !json["passed"].is_boolean()) {
      return InvalidArgument(
          "model_promotion command without a \"candidate\" string and a "
          "\"passed\" boolean: " +
          std::string(text.substr(0, 200)));
    }
    log_command("");
    // A promoted candidate serves from the next bar, a rejected one is dropped; both at this
    // point of the log, so that a replay or a resume does the same here.
    const std::string candidate = json["candidate"].get<std::string>();
    for (trading::DecisionStrategy* strategy : strategies_) {
      strategy->SettleShadow(candidate, json["passed"].get<bool>());
    }
    return Status::Ok();
  }
  if (command == "model_shadow_start") {
    // A retrained candidate to try beside the served model from here on (docs/ml.md, "The
    // loop"). Logged only once it has started, so that a replay, which starts it again here,
    // fails only if the registry lost it.
    const std::string candidate = text_of("candidate");
    if (candidate.empty() || !json.contains("min_calls") ||
        !json["min_calls"].is_number_unsigned() || json["min_calls"].get<uint64_t>() == 0) {
      return InvalidArgument(
          "model_shadow_start command without a \"candidate\" name and a positive "
          "\"min_calls\": " +
          std::string(text.substr(0, 200)));
    }
    // Beside the model it was made from (or every served model when the command names none),
    // each checked first, so that a refusal changes nothing.
    const std::string production = text_of("production");
    std::vector<trading::DecisionStrategy*> beside;
    for (trading::DecisionStrategy* strategy : strategies_) {
      const trading::SignalSource* source = strategy->source();
      if (source == nullptr || source->model_name().empty()) continue;
      if (!production.empty() && source->model_name() != production) continue;
      if (source->shadow() != nullptr) {
        return FailedPrecondition("model_shadow_start: " + std::string(source->shadow_candidate()) +
                                  " is on trial beside " + std::string(source->model_name()));
      }
      beside.push_back(strategy);
    }
    if (beside.empty()) {
      return FailedPrecondition("model_shadow_start: the session serves no model" +
                                (production.empty() ? std::string() : " " + production) +
                                " to try " + candidate + " beside");
    }
    for (trading::DecisionStrategy* strategy : beside) {
      AITS_RETURN_IF_ERROR(
          strategy->StartShadow(candidate, text_of("checksum"), json["min_calls"].get<uint64_t>()));
    }
    log_command("");
    return Status::Ok();
  }
  if (command == "model_retrain") {
    // A retrain that ended without a candidate (its error): recorded where the answer came
    // back, so that the log holds the step; nothing else changes.
    if (text_of("model").empty() || text_of("error").empty()) {
      return InvalidArgument("model_retrain command without a \"model\" and an \"error\": " +
                             std::string(text.substr(0, 200)));
    }
    log_command("");
    return Status::Ok();
  }
  std::optional<risk::BreakerState> state;
  if (command == "breaker") {
    if (!json.contains("state") || !json["state"].is_string()) {
      return InvalidArgument("breaker command without a \"state\"");
    }
    AITS_ASSIGN_OR_RETURN(state, risk::ParseBreakerState(json["state"].get<std::string>()));
  } else if (command == "pause") {
    state = risk::BreakerState::kReduceOnly;
  } else if (command == "resume") {
    state = risk::BreakerState::kNormal;
  } else if (command == "order") {
    // A manual order (docs/paper.md, "Operator commands"): the strategy's path, so the risk
    // checks see it as any other; a refusal is a rejected order in the log.
    AITS_ASSIGN_OR_RETURN(OrderRequest request, ManualOrder(json, instruments_));
    if (request.client_order_id.empty()) {
      // A client id of its own, so that a resume reconciles a resting manual order with the
      // venue's: the kernel time and the order among the commands at that time, which a replay
      // and a resume see alike. (The API always names its orders.)
      manual_index_ = clock_.Now() == manual_time_ ? manual_index_ + 1 : 0;
      manual_time_ = clock_.Now();
      request.client_order_id =
          "manual-" + std::to_string(manual_time_.ns) + "-" + std::to_string(manual_index_);
    }
    log_command(request.client_order_id);
    RememberChain(request.client_order_id, chain);
    request.chain_id = chain.chain_id;
    (void)kernel_->Submit(request);
    CountNewOrders();
    return Status::Ok();
  } else if (command == "modify") {
    // Cancel and replace (docs/paper.md, "Operator commands"): a working limit or stop order's
    // price, stop loss, take profit or lots; the replacement goes the strategy's path once the
    // venue has cancelled the order.
    if (!json.contains("order_id") || !json["order_id"].is_number_unsigned()) {
      return InvalidArgument("modify command without a whole \"order_id\"");
    }
    const uint64_t id = json["order_id"].get<uint64_t>();
    const Order* order = kernel_->FindOrder(OrderId{id});
    if (order == nullptr)
      return NotFound("modify command: order " + std::to_string(id) + " is not known");
    if (order->status != OrderStatus::kAccepted || order->request.type == OrderType::kMarket) {
      return FailedPrecondition(
          "modify command: order " + std::to_string(id) + " is " +
          std::string(ToString(order->status)) +
          (order->request.type == OrderType::kMarket ? " (a market order)" : "") +
          ": only a working limit or stop order can be modified");
    }
    if (replacements_.contains(id)) {
      return FailedPrecondition("modify command: order " + std::to_string(id) +
                                " is being replaced already");
    }
    AITS_ASSIGN_OR_RETURN(OrderRequest next, ModifiedOrder(json, *order, instruments_));
    log_command(next.client_order_id);
    RememberChain(next.client_order_id, chain);
    next.chain_id = chain.chain_id;
    replacements_.emplace(id, Replacement{std::move(next), order->filled});
    if (Status cancelled = kernel_->Cancel(OrderId{id}); !cancelled.ok()) {
      replacements_.erase(id);
      return cancelled;
    }
    CountNewOrders();  // a venue that cancels at once: the replacement goes now
    return Status::Ok();
  } else if (command == "cancel") {
    if (!json.contains("order_id") || !json["order_id"].is_number_unsigned()) {
      return InvalidArgument("cancel command without a whole \"order_id\"");
    }
    log_command({});
    // A cancel of an order being modified cancels its replacement too.
    DropReplacements(json["order_id"].get<uint64_t>(), "the order was cancelled");
    return kernel_->Cancel(OrderId{json["order_id"].get<uint64_t>()});
  } else if (command != "flatten") {
    return InvalidArgument("unknown command '" + command +
                           "' (known: breaker, pause, resume, flatten, order, modify, cancel)");
  }
  log_command({});
  // A flatten or a halt wants no order working: no replacement goes out after it.
  if (!state || *state == risk::BreakerState::kHalted) DropReplacements(0, "by " + command);
  Status status = Status::Ok();
  if (state) {
    status = kernel_->SetBreaker(*state, command == "breaker" ? reason : command + ": " + reason);
  } else {
    kernel_->FlattenNow();
  }
  CountNewOrders();  // a halt or a flatten sends orders
  return status;
}

Result<kernel::Reconciliation> Session::PlanReconciliation(
    execution::ReconcilePolicy policy) const {
  return kernel_->PlanReconciliation(policy);
}

Status Session::ApplyReconciliation(const kernel::Reconciliation& reconciliation) {
  if (reconciliation.report.clean()) return Status::Ok();
  ++reconciliations_;
  Log(EventType::kReconciliation, clock_.Now(), EncodeReconciliation(reconciliation, instruments_));
  if (appending()) {
    AITS_LOG_INFO("session", "reconciliation at start",
                  {{"session_id", spec_.session_id},
                   {"policy", std::string(execution::ToString(reconciliation.policy))},
                   {"differences", std::to_string(reconciliation.lines.size())},
                   {"actions", std::to_string(reconciliation.plan.size())}});
  }
  return kernel_->ApplyReconciliation(reconciliation);
}

Status Session::SeedVenue(const execution::AccountState& account) {
  if (async_venue_ != nullptr) return async_venue_->Seed(account, clock_.Now());
  auto* venue = dynamic_cast<execution::SimulatedVenue*>(&kernel_->execution());
  if (venue == nullptr) {
    return FailedPrecondition(
        "the execution client is not the simulated venue: it cannot be seeded");
  }
  return venue->Seed(account, clock_.Now());
}

Status Session::GoLive() {
  if (async_venue_ == nullptr) return Status::Ok();
  AITS_RETURN_IF_ERROR(async_venue_->GoLive(kernel_->Holdings(), clock_.Now()));
  // A broker holds its positions' SL/TP itself; the reconciliation that follows compares them.
  if (!async_venue_->seeds()) return Status::Ok();
  // A seed carries no SL/TP (a broker's snapshot lists none): the netting positions' protection
  // is set again, as the kernel holds it; the venue's kModified reports are logged like any.
  // A hedging account's positions keep their protection at the venue only (the portfolio does
  // not hold it per ticket), so a fresh venue starts them unprotected.
  for (const Instrument& instrument : instruments_) {
    const Position& position = kernel_->position(instrument.id);
    if (spec_.account_mode == "hedging" || position.IsFlat()) continue;
    if (position.stop_loss || position.take_profit) {
      AITS_RETURN_IF_ERROR(
          async_venue_->SetProtection(instrument.id, position.stop_loss, position.take_profit));
    }
  }
  return Status::Ok();
}

Result<size_t> Session::RecoverOrders(std::span<const std::optional<Tick>> last_ticks,
                                      std::span<const int64_t> last_source_msc,
                                      std::span<const uint64_t> known_exec_ids) {
  if (async_venue_ == nullptr) return size_t{0};
  std::vector<const Order*> live;
  kernel_->order_manager().AppendLive(&live);
  std::vector<Order> unfinished;
  int64_t from_msc = std::numeric_limits<int64_t>::max();
  for (size_t id = 0; id < last_source_msc.size(); ++id) {
    if (last_source_msc[id] > 0) from_msc = std::min(from_msc, last_source_msc[id]);
  }
  for (const Order* order : live) {
    unfinished.push_back(*order);
    const uint32_t id = order->request.instrument.value;
    if (id >= last_ticks.size() || id >= last_source_msc.size() || !last_ticks[id] ||
        last_source_msc[id] <= 0) {
      from_msc = 0;
      continue;
    }
    // The node stamps live ticks on arrival: its time and the server's run side by side.
    const int64_t age_ms =
        std::max<int64_t>(0, (last_ticks[id]->ts - order->created).ns / 1'000'000);
    from_msc = std::min(from_msc, std::max<int64_t>(0, last_source_msc[id] - age_ms));
  }
  if (from_msc == std::numeric_limits<int64_t>::max()) from_msc = 0;  // no live tick logged
  // Asked even with nothing unfinished and no server time: a venue across the bus has the reports
  // it stored while the node was down (services::BusVenue); a gateway answers at once.
  AITS_ASSIGN_OR_RETURN(std::vector<ExecutionReport> reports,
                        async_venue_->Recover(unfinished, from_msc, known_exec_ids));
  for (const ExecutionReport& report : reports) (void)OnExecutionReport(report);
  return reports.size();
}

node::Producer* Session::venue_producer() {
  return async_venue_ != nullptr ? async_venue_->venue() : nullptr;
}

execution::ReportOutcome Session::OnExecutionReport(const ExecutionReport& report) {
  if (mode_ == RecordMode::kAppend) {
    buffer_.clear();
    persistence::EncodeExecutionReport(report, &buffer_);
    Log(EventType::kExecutionReport, clock_.Now(), buffer_);
  }
  const execution::ReportOutcome outcome = kernel_->OnExecutionReport(report);
  CountNewOrders();  // orders the venue opened
  return outcome;
}

void Session::OnAccountReport(const AccountReport& report) {
  if (mode_ == RecordMode::kAppend) {
    buffer_.clear();
    persistence::EncodeAccountReport(report, &buffer_);
    Log(EventType::kAccountReport, clock_.Now(), buffer_);
  }
  kernel_->OnAccountReport(report);
  CountNewOrders();
}

std::string Session::AccountCheckpoint() const {
  const Account account = kernel_->account();
  std::string out;
  trading::JsonWriter json(&out);
  json.BeginObject();
  json.Member("time", FormatIso8601(clock_.Now()));
  json.Member("ticks", ticks_);
  json.Member("balance", account.balance.ToString());
  json.Member("equity", account.equity.ToString());
  json.Member("margin", account.margin.ToString());
  json.Key("positions");
  json.BeginArray();
  // By kernel id: a one-instrument session writes what it always wrote.
  for (const Instrument& instrument : instruments_) {
    const Position& position = kernel_->position(instrument.id);
    if (position.IsFlat()) continue;
    json.BeginObject();
    json.Member("symbol", instrument.symbol);
    json.Member("lots", position.quantity.ToString());
    json.Member("avg_price", position.avg_price.ToString());
    json.EndObject();
  }
  json.EndArray();
  json.Member("orders", kernel_->order_count());
  json.Member("fills", kernel_->fill_count());
  json.Member("breaker", kernel_->risk() ? risk::ToString(kernel_->risk()->breaker()) : "none");
  json.EndObject();
  return out;
}

void Session::WriteCheckpoint() {
  if (mode_ == RecordMode::kAppend) Log(EventType::kAccount, clock_.Now(), AccountCheckpoint());
}

bool Session::Diverge(uint64_t seq, std::string logged, std::string produced) {
  diverged_ = true;
  divergence_ = Divergence{seq, std::move(logged), std::move(produced)};
  return false;
}

bool Session::FollowLogged(const persistence::Event& event) {
  if (diverged_) return false;
  switch (event.type) {
    case EventType::kSessionStart:
    case EventType::kSessionStop:
      return true;
    case EventType::kTick:
    case EventType::kClock:
    case EventType::kCommand: {
      if (!produced_.empty()) {
        const Produced& p = produced_.front();
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       DescribeEvent(p.type, p.payload));
      }
      if (event.type == EventType::kCommand) {
        const Status status = ApplyCommand(event.payload);
        if (!status.ok()) {
          return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                         "command failed: " + status.message());
        }
        return true;
      }
      if (event.type == EventType::kClock) {
        // An input: the clock moved between ticks here, and the timers due then fired. A build
        // whose kernel has no timer due at this point diverges.
        if (AdvanceTo(event.ts) == 0) {
          return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                         "no timer due at " + FormatIso8601(event.ts));
        }
        return true;
      }
      auto tick = persistence::DecodeTick(event.payload);
      if (!tick.ok()) {
        return Diverge(event.seq, "undecodable tick: " + tick.status().message(), "(nothing)");
      }
      if (tick->instrument.value >= instruments_.size()) {
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       "no instrument " + std::to_string(tick->instrument.value) + " among " +
                           std::to_string(instruments_.size()));
      }
      Feed(*tick);
      return true;
    }
    case EventType::kExecutionReport:
    case EventType::kAccountReport: {
      // Inputs: the asynchronous venue's answers, where the kernel consumed them.
      if (!produced_.empty()) {
        const Produced& p = produced_.front();
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       DescribeEvent(p.type, p.payload));
      }
      if (async_venue_ == nullptr || async_venue_->live()) {
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       "a venue report in the log of a session whose venue is not replayed "
                       "(venue " +
                           spec_.venue + ")");
      }
      if (event.type == EventType::kAccountReport) {
        auto report = persistence::DecodeAccountReport(event.payload);
        if (!report.ok()) {
          return Diverge(event.seq, "undecodable account report: " + report.status().message(),
                         "(nothing)");
        }
        OnAccountReport(*report);
        return true;
      }
      auto report = persistence::DecodeExecutionReport(event.payload);
      if (!report.ok()) {
        return Diverge(event.seq, "undecodable execution report: " + report.status().message(),
                       "(nothing)");
      }
      // A report of an order this run never sent: the run and the log part ways at the submit.
      if (report->kind != ExecKind::kNew && report->order_id.value != 0 &&
          !async_venue_->Sent(report->order_id)) {
        return Diverge(
            event.seq, DescribeEvent(event.type, event.payload),
            "no order " + std::to_string(report->order_id.value) + " was sent to the venue");
      }
      (void)OnExecutionReport(*report);  // an outcome other than applied was so in the log too
      return true;
    }
    case EventType::kReconciliation: {
      // An input, like a command: the venue is put where the broker's account was, and the same
      // comparison must make the same record; the orders and fills it causes follow as outputs.
      if (!produced_.empty()) {
        const Produced& p = produced_.front();
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       DescribeEvent(p.type, p.payload));
      }
      const auto fail = [&](const Status& status) {
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       "reconciliation failed: " + status.message());
      };
      auto record = DecodeReconciliation(event.payload, instruments_);
      if (!record.ok()) return fail(record.status());
      const Status seeded = SeedVenue(record->venue);
      if (!seeded.ok()) return fail(seeded);
      auto planned = PlanReconciliation(record->policy);
      if (!planned.ok()) return fail(planned.status());
      // A record from before balances were compared holds none: its venue's balance was the
      // kernel's (the synchronous venue), so there is nothing to compare it with.
      if (!record->venue.balance) planned->venue.balance.reset();
      const std::string mine = EncodeReconciliation(*planned, instruments_);
      if (mine != event.payload) {
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       DescribeEvent(event.type, mine));
      }
      const Status applied = ApplyReconciliation(*planned);
      if (!applied.ok()) return fail(applied);
      return true;
    }
    case EventType::kAccount: {
      if (!produced_.empty()) {
        const Produced& p = produced_.front();
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       DescribeEvent(p.type, p.payload));
      }
      const std::string mine = AccountCheckpoint();
      if (mine != event.payload) {
        return Diverge(event.seq, "account " + event.payload, "account " + mine);
      }
      return true;
    }
    default: {
      if (produced_.empty()) {
        return Diverge(event.seq, DescribeEvent(event.type, event.payload), "(nothing)");
      }
      const Produced& p = produced_.front();
      if (p.type != event.type || p.ts != event.ts || p.payload != event.payload) {
        return Diverge(event.seq, DescribeEvent(event.type, event.payload),
                       DescribeEvent(p.type, p.payload));
      }
      produced_.pop_front();
      return true;
    }
  }
}

bool Session::FinishFollowing() {
  if (diverged_) return false;
  if (!produced_.empty()) {
    const Produced& p = produced_.front();
    return Diverge(0, "(nothing: the log ends)", DescribeEvent(p.type, p.payload));
  }
  return true;
}

std::string DescribeEvent(EventType type, std::string_view payload) {
  std::string out(persistence::ToString(type));
  switch (type) {
    case EventType::kTick: {
      auto tick = persistence::DecodeTick(payload);
      if (!tick.ok()) return out + " (undecodable: " + tick.status().message() + ")";
      return out + " " + FormatIso8601(tick->ts) + " bid " + tick->bid.ToString() + " ask " +
             tick->ask.ToString();
    }
    case EventType::kOrderSubmitted:
    case EventType::kOrderUpdate: {
      auto order = persistence::DecodeOrder(payload);
      if (!order.ok()) return out + " (undecodable: " + order.status().message() + ")";
      const OrderRequest& r = order->request;
      out += " order " + std::to_string(order->id.value) + " '" + r.client_order_id + "' " +
             std::string(ToString(r.side)) + " " + r.quantity.ToString() + " " +
             std::string(ToString(r.type)) + " " + std::string(ToString(order->status));
      if (order->reject_reason != RejectReason::kNone) {
        out += " (" + std::string(ToString(order->reject_reason)) +
               (order->reject_detail.empty() ? "" : ": " + order->reject_detail) + ")";
      }
      if (order->filled.IsPositive()) out += " @ " + order->avg_fill_price.ToString();
      if (r.position_ticket != 0) out += " closing position " + std::to_string(r.position_ticket);
      if (order->venue_order_id != 0) out += " ticket " + std::to_string(order->venue_order_id);
      return out;
    }
    case EventType::kClock:
      return out + ": time moved between ticks, firing the timers due";
    case EventType::kReconciliation:
      return out + " " + DescribeReconciliation(payload);
    case EventType::kExecutionReport: {
      auto report = persistence::DecodeExecutionReport(payload);
      if (!report.ok()) return out + " (undecodable: " + report.status().message() + ")";
      out += " " + std::string(ToString(report->kind)) + " order " +
             std::to_string(report->order_id.value) + " ticket " +
             std::to_string(report->venue_order_id);
      if (report->kind == ExecKind::kPartiallyFilled || report->kind == ExecKind::kFilled) {
        out += " " + std::string(ToString(report->side)) + " " + report->quantity.ToString() +
               " @ " + report->price.ToString() + " exec " + std::to_string(report->exec_id);
      }
      if (!report->text.empty()) out += " (" + report->text + ")";
      return out;
    }
    case EventType::kAccountReport: {
      auto report = persistence::DecodeAccountReport(payload);
      if (!report.ok()) return out + " (undecodable: " + report.status().message() + ")";
      return out + " " + std::string(ToString(report->reason)) + " balance " +
             report->balance.ToString() + " equity " + report->equity.ToString() + " margin " +
             report->margin.ToString();
    }
    case EventType::kFill: {
      auto fill = persistence::DecodeFill(payload);
      if (!fill.ok()) return out + " (undecodable: " + fill.status().message() + ")";
      return out + " order " + std::to_string(fill->order_id.value) + " " +
             std::string(ToString(fill->side)) + " " + fill->quantity.ToString() + " @ " +
             fill->price.ToString() + " commission " + fill->commission.ToString() + " (" +
             std::string(ToString(fill->reason)) + ")";
    }
    default:
      return out + " " + std::string(payload.substr(0, 400));
  }
}

}  // namespace aits::session
