#include "scenario_runner.h"

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "aits/kernel/kernel.h"

namespace aits::testing {
namespace {

constexpr Timestamp kEpoch = FromCivil(2020, 1, 6);

std::vector<std::string> Split(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

class Runner {
 public:
  explicit Runner(std::string name) : name_(std::move(name)) {}

  Status Line(int number, const std::string& raw) {
    line_ = number;
    std::string text = raw.substr(0, raw.find('#'));
    text_ = text;
    std::vector<std::string> words = Split(text);
    if (words.empty()) return Status::Ok();
    const std::string& cmd = words[0];
    // Positional words first, then key=value options.
    positional_.clear();
    options_.clear();
    for (size_t idx = 1; idx < words.size(); ++idx) {
      const size_t eq = words[idx].find('=');
      if (eq == std::string::npos) {
        positional_.push_back(words[idx]);
      } else {
        options_[words[idx].substr(0, eq)] = words[idx].substr(eq + 1);
      }
    }
    if (cmd == "instrument") return Instrument_();
    // Market data, orders and positions are of the first instrument unless sym= names another.
    current_ = 0;
    if (auto sym = options_.find("sym"); sym != options_.end()) {
      current_ = instruments_.size();
      for (size_t idx = 0; idx < instruments_.size(); ++idx) {
        if (instruments_[idx].symbol == sym->second) current_ = idx;
      }
      if (current_ == instruments_.size()) return Error("unknown instrument '" + sym->second + "'");
      options_.erase(sym);
    }
    if (cmd == "account") return Account_();
    if (cmd == "venue") return Venue_();
    if (cmd == "tick") return Tick_();
    if (cmd == "bar") return Bar_();
    if (cmd == "submit") return Submit_();
    if (cmd == "cancel") return Cancel_();
    if (cmd == "protect") return Protect_();
    if (cmd == "risk") return Risk_();
    if (cmd == "halt") return Halt_();
    if (cmd == "broker") return Broker_();
    if (cmd == "reconcile") return Reconcile_();
    if (cmd == "expect") return Expect_();
    return Error("unknown command '" + cmd + "'");
  }

  std::vector<ScenarioFailure> failures;

 private:
  Status Error(const std::string& message) const {
    return InvalidArgument(name_ + ":" + std::to_string(line_) + ": " + message);
  }
  void Fail(const std::string& message) { failures.push_back({line_, message}); }

  Result<std::string> Pos(size_t idx, const char* what) const {
    if (idx >= positional_.size()) return Error(std::string("missing ") + what);
    return positional_[idx];
  }
  const Instrument& Current() const {
    static const Instrument kDefault = Instrument::Infer("EURUSD");
    return current_ < instruments_.size() ? instruments_[current_] : kDefault;
  }
  Result<Price> PriceArg(const std::string& text) const {
    auto price = Price::Parse(text, Current().digits);
    if (!price.ok()) return Error("bad price '" + text + "'");
    return price;
  }
  Result<Quantity> Qty(const std::string& text) const {
    auto qty = Quantity::Parse(text, Current().LotPrecision());
    if (!qty.ok()) return Error("bad quantity '" + text + "'");
    return qty;
  }
  Result<Timestamp> Time(const std::string& text) const {
    char* end = nullptr;
    const double seconds = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return Error("bad time '" + text + "'");
    return kEpoch + Duration{static_cast<int64_t>(seconds * 1e9 + 0.5)};
  }
  Result<Money> MoneyArg(const std::string& text) const {
    auto money = Money::Parse(text);
    if (!money.ok()) return Error("bad amount '" + text + "'");
    return money;
  }

  Status Instrument_() {
    if (kernel_) return Error("instrument must come before market data");
    AITS_ASSIGN_OR_RETURN(std::string symbol, Pos(0, "symbol"));
    instruments_.push_back(Instrument::Infer(symbol));
    current_ = instruments_.size() - 1;
    Instrument& instrument_ = instruments_.back();
    instrument_.id = InstrumentId{static_cast<uint32_t>(current_)};
    for (const auto& [key, value] : options_) {
      if (key == "digits") {
        instrument_.digits = std::stoi(value);
        instrument_.tick_size =
            Price::FromRaw(Pow10(kFixedDigits - instrument_.digits), instrument_.digits);
      } else if (key == "contract") {
        instrument_.contract_size = std::stoll(value);
      } else if (key == "lot_step") {
        instrument_.lot_step = *Quantity::Parse(value, 9);
      } else if (key == "min") {
        instrument_.min_lots = *Quantity::Parse(value, 9);
      } else if (key == "max") {
        instrument_.max_lots = *Quantity::Parse(value, 9);
      } else if (key == "margin_rate") {
        instrument_.margin_rate = std::stod(value);
      } else if (key == "margin_hedged") {  // contract units per lot; turns the larger leg off
        instrument_.margin_hedged = std::stod(value);
        instrument_.margin_hedged_use_leg = false;
      } else {
        return Error("unknown instrument option '" + key + "'");
      }
    }
    return Status::Ok();
  }

  Status Account_() {
    if (kernel_) return Error("account must come before market data");
    for (const auto& [key, value] : options_) {
      if (key == "cash") {
        AITS_ASSIGN_OR_RETURN(config_.initial_balance, MoneyArg(value));
      } else if (key == "currency") {
        config_.account_currency = Currency::Of(value);
      } else if (key == "leverage") {
        config_.leverage = std::stod(value);
      } else if (key == "stop_out") {
        config_.venue.stop_out_level = std::stod(value);
      } else if (key == "mode") {
        auto mode = ParseAccountMode(value);
        if (!mode.ok()) return Error(mode.status().message());
        config_.venue.account_mode = *mode;
      } else {
        return Error("unknown account option '" + key + "'");
      }
    }
    return Status::Ok();
  }

  Status Venue_() {
    if (kernel_) return Error("venue must come before market data");
    for (const auto& [key, value] : options_) {
      if (key == "latency_us") {
        config_.venue.latency = Duration::Micros(std::stoll(value));
      } else if (key == "slippage") {
        config_.venue.slippage_points = std::stoll(value);
      } else if (key == "commission") {
        auto commission = execution::ParseCommission(value);
        if (!commission.ok()) return Error(commission.status().message());
        config_.venue.commission = *commission;
      } else if (key == "mode") {
        if (value != "touch" && value != "bar") return Error("mode must be touch or bar");
        config_.venue.fill_mode =
            value == "bar" ? execution::FillMode::kNextBarOpen : execution::FillMode::kTouch;
      } else {
        return Error("unknown venue option '" + key + "'");
      }
    }
    return Status::Ok();
  }

  // The default risk limits, so that the circuit breaker exists (for `halt`), with any limit
  // changed by KEY=VALUE (RiskLimits field names) and configured correlation groups added by
  // group=NAME:SYM,SYM,-SYM:max_exposure=X:max_positions=N (one per `risk` line; the lines add
  // up).
  Status Risk_() {
    if (kernel_) return Error("risk must come before market data");
    if (!config_.risk) config_.risk = risk::RiskLimits::Defaults();
    for (const auto& [key, value] : options_) {
      if (key == "group") {
        auto group = risk::CorrelationGroup::Parse(value);
        if (!group.ok()) return Error(group.status().message());
        config_.risk->groups.push_back(*group);
        continue;
      }
      Status set = config_.risk->Set(key, value);
      if (!set.ok()) return Error(set.message());
    }
    return Status::Ok();
  }

  // An operator halt: the kernel cancels live orders and closes the position.
  Status Halt_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    Status halted = kernel_->SetBreaker(risk::BreakerState::kHalted, "scenario");
    if (!halted.ok()) return Error(halted.message());
    return Status::Ok();
  }

  // The broker's account, as the venue will hold it at the next `reconcile` (it replaces what
  // the venue holds then): `broker position QTY price=X [ticket=N]`, `broker order CLIENT
  // buy|sell limit|stop QTY price=X [filled=X] [ticket=N] [tif=...]`, `broker balance X` (the
  // venue's balance; without it the venue reports the account's), or `broker flat` (nothing).
  Status Broker_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    AITS_ASSIGN_OR_RETURN(std::string what, Pos(0, "position, order or flat"));
    if (!broker_) broker_.emplace();
    if (what == "flat") return Status::Ok();
    if (what == "balance") {
      if (positional_.size() != 2 || !options_.empty()) return Error("broker balance needs: X");
      auto balance = Money::Parse(positional_[1]);
      if (!balance.ok()) return Error("broker balance: " + balance.status().message());
      broker_->balance = *balance;
      return Status::Ok();
    }
    if (what == "position") {
      if (positional_.size() != 2) return Error("broker position needs: QTY price=X");
      execution::HeldPosition position;
      position.instrument = Current().id;
      AITS_ASSIGN_OR_RETURN(position.quantity, Qty(positional_[1]));
      for (const auto& [key, value] : options_) {
        if (key == "price") {
          AITS_ASSIGN_OR_RETURN(position.open_price, PriceArg(value));
        } else if (key == "ticket") {
          position.ticket = std::stoull(value);
        } else {
          return Error("unknown broker position option '" + key + "'");
        }
      }
      if (!position.open_price.IsPositive()) return Error("broker position needs price=X");
      broker_->positions.push_back(position);
      return Status::Ok();
    }
    if (what == "order") {
      if (positional_.size() != 5) return Error("broker order needs: CLIENT SIDE TYPE QTY");
      execution::WorkingOrder order;
      order.instrument = Current().id;
      order.client_order_id = positional_[1] == "-" ? "" : positional_[1];
      if (positional_[2] != "buy" && positional_[2] != "sell") return Error("side: buy or sell");
      order.side = positional_[2] == "buy" ? Side::kBuy : Side::kSell;
      if (positional_[3] != "limit" && positional_[3] != "stop")
        return Error("type: limit or stop");
      order.type = positional_[3] == "limit" ? OrderType::kLimit : OrderType::kStop;
      AITS_ASSIGN_OR_RETURN(order.quantity, Qty(positional_[4]));
      order.filled = Quantity::FromRaw(0, order.quantity.precision());
      order.ticket = next_broker_ticket_++;
      for (const auto& [key, value] : options_) {
        if (key == "price") {
          AITS_ASSIGN_OR_RETURN(Price price, PriceArg(value));
          order.price = price;
        } else if (key == "filled") {
          AITS_ASSIGN_OR_RETURN(order.filled, Qty(value));
        } else if (key == "ticket") {
          order.ticket = std::stoull(value);
        } else {
          return Error("unknown broker order option '" + key + "'");
        }
      }
      broker_->orders.push_back(order);
      return Status::Ok();
    }
    return Error("broker takes position, order, balance or flat");
  }

  // reconcile adopt|flatten|refuse: the venue is seeded with the `broker` lines above (if any),
  // then the kernel's holdings (what the script built: the state a start rebuilds from its
  // log) are compared with it and the plan applied; a refusal is kept for `expect refused`.
  Status Reconcile_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    AITS_ASSIGN_OR_RETURN(std::string name, Pos(0, "policy"));
    auto policy = execution::ParseReconcilePolicy(name);
    if (!policy.ok()) return Error(policy.status().message());
    if (broker_) {
      auto* venue = dynamic_cast<execution::SimulatedVenue*>(&kernel_->execution());
      const Status seeded = venue->Seed(*broker_, clock_.Now());
      if (!seeded.ok()) return Error(seeded.message());
      broker_.reset();
    }
    differences_.clear();
    actions_.clear();
    difference_cursor_ = action_cursor_ = 0;
    refusal_.clear();
    auto planned = kernel_->PlanReconciliation(*policy);
    if (!planned.ok()) {
      if (planned.status().code() != StatusCode::kFailedPrecondition) {
        return Error(planned.status().message());
      }
      // The refusal lists the differences, one per indented line.
      refusal_ = planned.status().message();
      size_t at = refusal_.find("\n  ");
      while (at != std::string::npos) {
        const size_t next = refusal_.find("\n  ", at + 3);
        differences_.push_back(
            refusal_.substr(at + 3, next == std::string::npos ? std::string::npos : next - at - 3));
        at = next;
      }
      return Status::Ok();
    }
    differences_ = planned->lines;
    for (const execution::ReconcileAction& action : planned->plan) {
      std::string line(execution::ToString(action.kind));
      const bool order = action.kind == execution::ActionKind::kAdoptOrder ||
                         action.kind == execution::ActionKind::kForgetOrder ||
                         action.kind == execution::ActionKind::kCancelOrder;
      if (action.kind == execution::ActionKind::kAdoptBalance) {
        line += " " + action.balance.ToString();
      } else if (order) {
        line += " " + instruments_[action.order.instrument.value].symbol + " '" +
                action.order.client_order_id + "' ticket " + std::to_string(action.order.ticket);
      } else {
        const Quantity lots = action.position.quantity;
        line += " " + instruments_[action.position.instrument.value].symbol + " " +
                (lots.IsPositive() ? "+" : "") + lots.ToString() + " @ " +
                action.position.open_price.ToString();
      }
      actions_.push_back(std::move(line));
    }
    const Status applied = kernel_->ApplyReconciliation(*planned);
    if (!applied.ok()) Fail("reconcile: " + applied.message());
    return Status::Ok();
  }

  // The rest of the line after its first `words` words, as written (single spaces kept).
  std::string RestOf(size_t words) const {
    size_t at = 0;
    for (size_t word = 0; word < words; ++word) {
      at = text_.find_first_not_of(" \t", at);
      at = text_.find_first_of(" \t", at);
      if (at == std::string::npos) return "";
    }
    at = text_.find_first_not_of(" \t", at);
    if (at == std::string::npos) return "";
    const size_t end = text_.find_last_not_of(" \t\r");
    return text_.substr(at, end - at + 1);
  }

  // expect difference TEXT / expect action TEXT: the next unchecked line of the last reconcile.
  void ExpectLine(const char* what, const std::vector<std::string>& lines, size_t& cursor) {
    const std::string expected = RestOf(2);
    if (cursor >= lines.size()) {
      Fail(std::string("expected the ") + what + " '" + expected + "', there is none more");
      return;
    }
    const std::string& actual = lines[cursor++];
    if (actual != expected) {
      Fail(std::string(what) + ": expected '" + expected + "', got '" + actual + "'");
    }
  }

  Status EnsureKernel() {
    if (kernel_) return Status::Ok();
    AITS_RETURN_IF_ERROR(config_.Validate());
    kernel_ = std::make_unique<kernel::Kernel>(config_, clock_);
    // What happened in which order: cancellations and fills, by order id.
    kernel_->bus().Subscribe<Fill>([this](const Fill& fill) {
      journal_.push_back({false, fill.order_id});
    });
    kernel_->bus().Subscribe<execution::OrderUpdate>([this](const execution::OrderUpdate& update) {
      if (update.order.status == OrderStatus::kCanceled)
        journal_.push_back({true, update.order.id});
    });
    if (instruments_.empty()) instruments_.push_back(Instrument::Infer("EURUSD"));
    // In the order declared: an instrument's P&L converts through one declared before it.
    for (const Instrument& instrument : instruments_) {
      AITS_RETURN_IF_ERROR(kernel_->AddInstrument(instrument));
    }
    kernel_->Start();
    return Status::Ok();
  }

  Status Tick_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    if (positional_.size() != 3) return Error("tick needs: T BID ASK");
    Tick tick;
    tick.instrument = Current().id;
    AITS_ASSIGN_OR_RETURN(tick.ts, Time(positional_[0]));
    AITS_ASSIGN_OR_RETURN(tick.bid, PriceArg(positional_[1]));
    AITS_ASSIGN_OR_RETURN(tick.ask, PriceArg(positional_[2]));
    clock_.AdvanceTo(tick.ts);
    kernel_->OnTick(tick);
    return Status::Ok();
  }

  Status Bar_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    if (positional_.size() != 10) return Error("bar needs: T PERIOD bid OHLC ask OHLC");
    Bar bar;
    bar.instrument = Current().id;
    AITS_ASSIGN_OR_RETURN(bar.open_time, Time(positional_[0]));
    bar.period = Duration::Seconds(std::stoll(positional_[1]));
    Price* fields[] = {&bar.bid.open, &bar.bid.high, &bar.bid.low, &bar.bid.close,
                       &bar.ask.open, &bar.ask.high, &bar.ask.low, &bar.ask.close};
    for (size_t idx = 0; idx < 8; ++idx) {
      AITS_ASSIGN_OR_RETURN(*fields[idx], PriceArg(positional_[2 + idx]));
    }
    auto mid = [](Price a, Price b) {
      return Price::FromRaw((a.raw() + b.raw()) / 2, a.precision());
    };
    bar.mid = Ohlc{mid(bar.bid.open, bar.ask.open), mid(bar.bid.high, bar.ask.high),
                   mid(bar.bid.low, bar.ask.low), mid(bar.bid.close, bar.ask.close)};
    clock_.AdvanceTo(bar.CloseTime());
    kernel_->OnBar(bar);
    return Status::Ok();
  }

  Status Submit_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    if (positional_.size() != 4) return Error("submit needs: NAME SIDE TYPE QTY");
    OrderRequest request;
    request.instrument = Current().id;
    const std::string& side = positional_[1];
    const std::string& type = positional_[2];
    if (side != "buy" && side != "sell") return Error("side must be buy or sell");
    request.side = side == "buy" ? Side::kBuy : Side::kSell;
    if (type == "market") {
      request.type = OrderType::kMarket;
    } else if (type == "limit") {
      request.type = OrderType::kLimit;
    } else if (type == "stop") {
      request.type = OrderType::kStop;
    } else {
      return Error("type must be market, limit or stop");
    }
    AITS_ASSIGN_OR_RETURN(request.quantity, Qty(positional_[3]));
    for (const auto& [key, value] : options_) {
      if (key == "price") {
        AITS_ASSIGN_OR_RETURN(Price price, PriceArg(value));
        request.price = price;
      } else if (key == "sl") {
        AITS_ASSIGN_OR_RETURN(Price price, PriceArg(value));
        request.stop_loss = price;
      } else if (key == "tp") {
        AITS_ASSIGN_OR_RETURN(Price price, PriceArg(value));
        request.take_profit = price;
      } else if (key == "tif") {
        if (value == "gtc")
          request.tif = TimeInForce::kGtc;
        else if (value == "ioc")
          request.tif = TimeInForce::kIoc;
        else if (value == "fok")
          request.tif = TimeInForce::kFok;
        else if (value == "day")
          request.tif = TimeInForce::kDay;
        else
          return Error("tif must be gtc, ioc, fok or day");
      } else if (key == "client") {
        request.client_order_id = value;
      } else if (key == "position") {
        AITS_ASSIGN_OR_RETURN(request.position_ticket, TicketArg(value));
      } else {
        return Error("unknown submit option '" + key + "'");
      }
    }
    if (names_.count(positional_[0])) return Error("order name '" + positional_[0] + "' reused");
    names_[positional_[0]] = kernel_->Submit(request);
    return Status::Ok();
  }

  // The position ticket of order NAME (the position its fill opened or changed), or a number.
  Result<uint64_t> TicketArg(const std::string& text) const {
    if (names_.count(text)) {
      const Order* order = FindOrder(text);
      if (order == nullptr || order->position_ticket == 0) {
        return Error("order '" + text + "' has no position ticket (not filled)");
      }
      return order->position_ticket;
    }
    char* end = nullptr;
    const unsigned long long ticket = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || end != text.c_str() + text.size()) {
      return Error("position '" + text + "' is neither an order name nor a ticket");
    }
    return static_cast<uint64_t>(ticket);
  }

  Status Protect_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    AITS_ASSIGN_OR_RETURN(std::string name, Pos(0, "order name"));
    AITS_ASSIGN_OR_RETURN(const uint64_t ticket, TicketArg(name));
    std::optional<Price> stop_loss;
    std::optional<Price> take_profit;
    for (const auto& [key, value] : options_) {
      AITS_ASSIGN_OR_RETURN(Price price, PriceArg(value));
      if (key == "sl") {
        stop_loss = price;
      } else if (key == "tp") {
        take_profit = price;
      } else {
        return Error("unknown protect option '" + key + "'");
      }
    }
    Status set =
        kernel_->execution().SetPositionProtection(Current().id, ticket, stop_loss, take_profit);
    if (!set.ok()) Fail("protect " + name + ": " + set.message());
    return Status::Ok();
  }

  Status Cancel_() {
    AITS_ASSIGN_OR_RETURN(std::string name, Pos(0, "order name"));
    auto it = names_.find(name);
    if (it == names_.end()) return Error("unknown order '" + name + "'");
    Status canceled = kernel_->Cancel(it->second);
    if (!canceled.ok()) Fail("cancel " + name + ": " + canceled.message());
    return Status::Ok();
  }

  const Order* FindOrder(const std::string& name) const {
    auto it = names_.find(name);
    if (it == names_.end()) return nullptr;
    const size_t index = it->second.value - 1;
    return index < kernel_->orders().size() ? &kernel_->orders()[index] : nullptr;
  }

  // The next fill of `name` not yet checked by an expectation.
  const Fill* NextFill(const std::string& name) {
    auto it = names_.find(name);
    if (it == names_.end()) return nullptr;
    size_t& cursor = fill_cursor_[name];
    const auto& fills = kernel_->fills();
    while (cursor < fills.size()) {
      const Fill& fill = fills[cursor++];
      if (fill.order_id == it->second) return &fill;
    }
    return nullptr;
  }

  // Fills of orders the script did not submit (SL/TP closes by the venue, a stop-out by the
  // kernel) are named by the fill's reason or by their order's tag.
  const Fill* NextFillByReason(const std::string& reason) {
    size_t& cursor = fill_cursor_["reason:" + reason];
    const auto& fills = kernel_->fills();
    const auto& orders = kernel_->orders();
    while (cursor < fills.size()) {
      const Fill& fill = fills[cursor++];
      const size_t index = fill.order_id.value - 1;
      const bool tagged = index < orders.size() && orders[index].request.tag == reason;
      if (ToString(fill.reason) == reason || tagged) return &fill;
    }
    return nullptr;
  }

  // Whether the order is the script's `name`, or one whose fills have that reason or tag.
  bool Names(OrderId id, const std::string& name) const {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second == id;
    const auto& orders = kernel_->orders();
    const size_t index = id.value - 1;
    if (index < orders.size() && orders[index].request.tag == name) return true;
    for (const Fill& fill : kernel_->fills()) {
      if (fill.order_id == id && ToString(fill.reason) == name) return true;
    }
    return false;
  }

  void CheckMoney(const std::string& what, Money actual, const std::string& expected_text) {
    auto expected = Money::Parse(expected_text);
    if (!expected.ok()) {
      Fail("bad expected amount '" + expected_text + "'");
      return;
    }
    if (actual.ToString(2) != expected->ToString(2)) {
      Fail(what + ": expected " + expected->ToString(2) + ", got " + actual.ToString(2));
    }
  }

  Status Expect_() {
    AITS_RETURN_IF_ERROR(EnsureKernel());
    AITS_ASSIGN_OR_RETURN(std::string what, Pos(0, "what to expect"));
    if (what == "fill") {
      if (positional_.size() != 5) return Error("expect fill needs: NAME SIDE QTY PRICE");
      const std::string& name = positional_[1];
      const Fill* fill = names_.count(name) ? NextFill(name) : NextFillByReason(name);
      if (!fill) {
        Fail("expected a fill of " + name + ", there is none");
        return Status::Ok();
      }
      if (std::string(ToString(fill->side)) != positional_[2]) {
        Fail(name + " fill side: expected " + positional_[2] + ", got " +
             std::string(ToString(fill->side)));
      }
      AITS_ASSIGN_OR_RETURN(Quantity qty, Qty(positional_[3]));
      if (fill->quantity != qty) {
        Fail(name + " fill quantity: expected " + qty.ToString() + ", got " +
             fill->quantity.ToString());
      }
      AITS_ASSIGN_OR_RETURN(Price price, PriceArg(positional_[4]));
      if (fill->price != price) {
        Fail(name + " fill price: expected " + price.ToString() + ", got " +
             fill->price.ToString());
      }
      if (options_.count("reason") && ToString(fill->reason) != options_["reason"]) {
        Fail(name + " fill reason: expected " + options_["reason"] + ", got " +
             std::string(ToString(fill->reason)));
      }
      if (options_.count("commission")) {
        CheckMoney(name + " fill commission", fill->commission, options_["commission"]);
      }
      if (options_.count("ticket")) {
        AITS_ASSIGN_OR_RETURN(const uint64_t ticket, TicketArg(options_["ticket"]));
        if (fill->position_ticket != ticket) {
          Fail(name + " fill position ticket: expected " + std::to_string(ticket) + ", got " +
               std::to_string(fill->position_ticket));
        }
      }
      return Status::Ok();
    }
    if (what == "nofill") {
      AITS_ASSIGN_OR_RETURN(std::string name, Pos(1, "order name"));
      const size_t saved = fill_cursor_[name];
      if (const Fill* fill = NextFill(name)) {
        Fail("expected no fill of " + name + ", got one at " + fill->price.ToString());
      }
      fill_cursor_[name] = saved;
      return Status::Ok();
    }
    if (what == "status") {
      if (positional_.size() != 3) return Error("expect status needs: NAME STATUS");
      const Order* order = FindOrder(positional_[1]);
      if (!order) {
        Fail("order " + positional_[1] + " has no recorded state");
        return Status::Ok();
      }
      if (std::string(ToString(order->status)) != positional_[2]) {
        Fail(positional_[1] + " status: expected " + positional_[2] + ", got " +
             std::string(ToString(order->status)) +
             (order->reject_reason != RejectReason::kNone
                  ? " (" + std::string(ToString(order->reject_reason)) + ")"
                  : ""));
      }
      if (options_.count("reason") &&
          std::string(ToString(order->reject_reason)) != options_["reason"]) {
        Fail(positional_[1] + " reject reason: expected " + options_["reason"] + ", got " +
             std::string(ToString(order->reject_reason)));
      }
      return Status::Ok();
    }
    if (what == "position") {
      AITS_ASSIGN_OR_RETURN(std::string qty_text, Pos(1, "quantity"));
      AITS_ASSIGN_OR_RETURN(Quantity qty, Qty(qty_text));
      const Position& pos = kernel_->position(Current().id);
      if (pos.quantity != qty) {
        Fail("position: expected " + qty.ToString() + ", got " + pos.quantity.ToString());
      }
      if (options_.count("avg")) {
        AITS_ASSIGN_OR_RETURN(Price avg, PriceArg(options_["avg"]));
        if (pos.avg_price != avg) {
          Fail("position avg price: expected " + avg.ToString() + ", got " +
               pos.avg_price.ToString());
        }
      }
      return Status::Ok();
    }
    if (what == "positions") {
      AITS_ASSIGN_OR_RETURN(std::string count, Pos(1, "count"));
      const size_t open = kernel_->portfolio().positions(Current().id).size();
      if (std::to_string(open) != count) {
        Fail("positions: expected " + count + ", got " + std::to_string(open));
      }
      return Status::Ok();
    }
    if (what == "position_of") {
      if (positional_.size() != 3) return Error("expect position_of needs: NAME QTY");
      AITS_ASSIGN_OR_RETURN(const uint64_t ticket, TicketArg(positional_[1]));
      AITS_ASSIGN_OR_RETURN(Quantity qty, Qty(positional_[2]));
      int64_t held = 0;
      for (const HedgedPosition& position : kernel_->portfolio().positions(Current().id)) {
        if (position.ticket == ticket) held = Sign(position.side) * position.quantity.raw();
      }
      if (held != qty.raw()) {
        Fail("position " + std::to_string(ticket) + " in the portfolio: expected " +
             qty.ToString() + ", got " + Quantity::FromRaw(held, qty.precision()).ToString());
      }
      if (auto* venue = dynamic_cast<execution::SimulatedVenue*>(&kernel_->execution())) {
        const Quantity at_venue = venue->PositionLots(Current().id, ticket);
        if (at_venue.raw() != qty.raw()) {
          Fail("position " + std::to_string(ticket) + " at the venue: expected " + qty.ToString() +
               ", got " + at_venue.ToString());
        }
      }
      return Status::Ok();
    }
    if (what == "canceled") {
      // expect canceled NAME [before=NAME_OR_REASON]: NAME was cancelled, before the first fill
      // of the other order (named, or by its fill's reason or tag).
      AITS_ASSIGN_OR_RETURN(std::string name, Pos(1, "order name"));
      auto it = names_.find(name);
      if (it == names_.end()) return Error("unknown order '" + name + "'");
      size_t canceled_at = journal_.size();
      for (size_t idx = 0; idx < journal_.size(); ++idx) {
        if (journal_[idx].canceled && journal_[idx].order == it->second) canceled_at = idx;
      }
      if (canceled_at == journal_.size()) {
        Fail(name + " was not cancelled");
        return Status::Ok();
      }
      if (options_.count("before")) {
        const std::string& other = options_["before"];
        size_t fill_at = journal_.size();
        for (size_t idx = 0; idx < journal_.size() && fill_at == journal_.size(); ++idx) {
          if (!journal_[idx].canceled && Names(journal_[idx].order, other)) fill_at = idx;
        }
        if (fill_at == journal_.size()) {
          Fail("no fill of " + other + " to compare with");
        } else if (fill_at < canceled_at) {
          Fail(name + " was cancelled after the fill of " + other);
        }
      }
      return Status::Ok();
    }
    if (what == "balance" || what == "equity" || what == "realized" || what == "commission" ||
        what == "margin") {
      AITS_ASSIGN_OR_RETURN(std::string amount, Pos(1, "amount"));
      const auto& book = kernel_->portfolio();
      const Money actual = what == "balance"      ? book.account().balance
                           : what == "equity"     ? book.Equity()
                           : what == "realized"   ? book.RealizedPnl()
                           : what == "commission" ? book.TotalCommission()
                                                  : book.account().margin;
      CheckMoney(what, actual, amount);
      return Status::Ok();
    }
    if (what == "refused" || what == "accepted") {
      const bool refused = !refusal_.empty();
      if (refused != (what == "refused")) {
        Fail("reconcile: expected " + what + ", " +
             (refused ? "it refused: " + refusal_ : std::string("it was not refused")));
      }
      return Status::Ok();
    }
    if (what == "difference") {
      ExpectLine("difference", differences_, difference_cursor_);
      return Status::Ok();
    }
    if (what == "action") {
      ExpectLine("action", actions_, action_cursor_);
      return Status::Ok();
    }
    if (what == "differences" || what == "actions") {
      AITS_ASSIGN_OR_RETURN(std::string count, Pos(1, "count"));
      const size_t actual = what == "differences" ? differences_.size() : actions_.size();
      if (std::to_string(actual) != count) {
        Fail(what + ": expected " + count + ", got " + std::to_string(actual));
      }
      return Status::Ok();
    }
    if (what == "working") {
      // expect working N: the kernel's unfinished orders; the venue's must agree.
      AITS_ASSIGN_OR_RETURN(std::string count, Pos(1, "count"));
      const execution::AccountState mine = kernel_->Holdings();
      auto venue = kernel_->execution().Snapshot();
      if (!venue.ok()) return Error(venue.status().message());
      if (std::to_string(mine.orders.size()) != count ||
          std::to_string(venue->orders.size()) != count) {
        Fail("working orders: expected " + count + ", got " + std::to_string(mine.orders.size()) +
             " in the kernel and " + std::to_string(venue->orders.size()) + " at the venue");
      }
      return Status::Ok();
    }
    if (what == "client") {
      // expect client ID STATUS [filled=QTY] [avg=PRICE]: the latest order with that client id.
      if (positional_.size() != 3) return Error("expect client needs: CLIENT_ID STATUS");
      const Order* found = nullptr;
      const auto& orders = kernel_->orders();
      for (size_t index = orders.size(); index-- > 0 && found == nullptr;) {
        if (orders[index].request.client_order_id == positional_[1]) found = &orders[index];
      }
      if (found == nullptr) {
        Fail("no order with client id '" + positional_[1] + "'");
        return Status::Ok();
      }
      if (std::string(ToString(found->status)) != positional_[2]) {
        Fail("client " + positional_[1] + " status: expected " + positional_[2] + ", got " +
             std::string(ToString(found->status)));
      }
      if (options_.count("filled")) {
        AITS_ASSIGN_OR_RETURN(Quantity filled, Qty(options_["filled"]));
        if (found->filled != filled) {
          Fail("client " + positional_[1] + " filled: expected " + filled.ToString() + ", got " +
               found->filled.ToString());
        }
      }
      if (options_.count("avg")) {
        AITS_ASSIGN_OR_RETURN(Price avg, PriceArg(options_["avg"]));
        if (found->avg_fill_price != avg) {
          Fail("client " + positional_[1] + " average fill price: expected " + avg.ToString() +
               ", got " + found->avg_fill_price.ToString());
        }
      }
      return Status::Ok();
    }
    if (what == "venue") {
      // expect venue QTY: the venue's net position in the line's instrument (on a hedging
      // account the sum of its positions).
      AITS_ASSIGN_OR_RETURN(std::string qty_text, Pos(1, "quantity"));
      AITS_ASSIGN_OR_RETURN(Quantity qty, Qty(qty_text));
      auto venue = kernel_->execution().Snapshot();
      if (!venue.ok()) return Error(venue.status().message());
      int64_t held_raw = 0;
      for (const auto& p : venue->positions) {
        if (p.instrument == Current().id) held_raw += p.quantity.raw();
      }
      const Quantity held = Quantity::FromRaw(held_raw, qty.precision());
      if (held != qty) {
        Fail("venue position: expected " + qty.ToString() + ", got " + held.ToString());
      }
      return Status::Ok();
    }
    if (what == "trades") {
      AITS_ASSIGN_OR_RETURN(std::string count, Pos(1, "count"));
      const size_t trades = kernel_->portfolio().trades().size();
      if (std::to_string(trades) != count) {
        Fail("trades: expected " + count + ", got " + std::to_string(trades));
      }
      return Status::Ok();
    }
    return Error("unknown expectation '" + what + "'");
  }

  std::string name_;
  int line_ = 0;
  std::string text_;  // the line without its comment
  // The broker's account for the next `reconcile`, and what the last one said.
  std::optional<execution::AccountState> broker_;
  uint64_t next_broker_ticket_ = 1000;
  std::vector<std::string> differences_;
  std::vector<std::string> actions_;
  size_t difference_cursor_ = 0;
  size_t action_cursor_ = 0;
  std::string refusal_;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> options_;
  std::vector<Instrument> instruments_;  // index = id
  size_t current_ = 0;                   // the one this line is about
  kernel::KernelConfig config_;
  SimulatedClock clock_;
  std::unique_ptr<kernel::Kernel> kernel_;
  std::map<std::string, OrderId> names_;
  std::map<std::string, size_t> fill_cursor_;
  struct JournalEntry {
    bool canceled;  // else a fill
    OrderId order;
  };
  std::vector<JournalEntry> journal_;
};

}  // namespace

Result<std::vector<ScenarioFailure>> RunScenarioText(const std::string& name,
                                                     const std::string& text) {
  Runner runner(name);
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    AITS_RETURN_IF_ERROR(runner.Line(number, line));
  }
  return runner.failures;
}

Result<std::vector<ScenarioFailure>> RunScenarioFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("scenario file '" + path + "' cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return RunScenarioText(path, buffer.str());
}

}  // namespace aits::testing
