#include "aits/trading/per_instrument.h"

namespace aits::strategy {

// Forwards to the kernel's context; only timer ids are translated, so that two instances may
// both use timer id 1.
class PerInstrumentStrategy::InstanceContext final : public StrategyContext {
 public:
  InstanceContext(PerInstrumentStrategy& owner, size_t instance, StrategyContext& kernel)
      : owner_(owner), instance_(instance), kernel_(kernel) {}
  Timestamp Now() const override { return kernel_.Now(); }
  OrderId Submit(const OrderRequest& request) override { return kernel_.Submit(request); }
  Status Cancel(OrderId id) override { return kernel_.Cancel(id); }
  const Position& position(InstrumentId instrument) const override {
    return kernel_.position(instrument);
  }
  Quantity PendingLots(InstrumentId instrument) const override {
    return kernel_.PendingLots(instrument);
  }
  Account account() const override { return kernel_.account(); }
  const Instrument& instrument(InstrumentId instrument) const override {
    return kernel_.instrument(instrument);
  }
  std::optional<Tick> LastQuote(InstrumentId instrument) const override {
    return kernel_.LastQuote(instrument);
  }
  Money ToAccount(InstrumentId instrument, Money amount_in_quote) const override {
    return kernel_.ToAccount(instrument, amount_in_quote);
  }
  AccountMode account_mode() const override { return kernel_.account_mode(); }
  std::vector<HedgedPosition> OpenPositions(InstrumentId instrument) const override {
    return kernel_.OpenPositions(instrument);
  }
  void SetTimer(Timestamp at, uint64_t id) override {
    const uint64_t kernel_id = owner_.next_timer_++;
    owner_.timers_[kernel_id] = {instance_, id};
    kernel_.SetTimer(at, kernel_id);
  }

 private:
  PerInstrumentStrategy& owner_;
  size_t instance_;
  StrategyContext& kernel_;
};

PerInstrumentStrategy::PerInstrumentStrategy(std::vector<std::unique_ptr<Strategy>> instances)
    : instances_(std::move(instances)) {
  for (const auto& instance : instances_) {
    if (!instance) continue;
    wants_ticks_ = wants_ticks_ || instance->WantsTicks();
    if (name_.empty()) {
      name_ = std::string(instance->name());
    } else if (name_ != instance->name()) {
      name_ = "per_instrument";
    }
  }
}

PerInstrumentStrategy::~PerInstrumentStrategy() = default;

Strategy* PerInstrumentStrategy::instance(InstrumentId instrument) const { return At(instrument); }

void PerInstrumentStrategy::OnStart(StrategyContext& context) {
  Strategy::OnStart(context);
  contexts_.clear();
  for (size_t idx = 0; idx < instances_.size(); ++idx) {
    contexts_.push_back(std::make_unique<InstanceContext>(*this, idx, context));
    if (instances_[idx]) instances_[idx]->OnStart(*contexts_.back());
  }
}

void PerInstrumentStrategy::OnTick(const Tick& tick) {
  if (Strategy* target = At(tick.instrument)) target->OnTick(tick);
}

void PerInstrumentStrategy::OnBar(const Bar& bar) {
  if (Strategy* target = At(bar.instrument)) target->OnBar(bar);
}

void PerInstrumentStrategy::OnFill(const Fill& fill) {
  if (Strategy* target = At(fill.instrument)) target->OnFill(fill);
}

void PerInstrumentStrategy::OnOrderUpdate(const Order& order) {
  if (Strategy* target = At(order.request.instrument)) target->OnOrderUpdate(order);
}

void PerInstrumentStrategy::OnTimer(const TimerEvent& timer) {
  auto it = timers_.find(timer.id);
  if (it == timers_.end()) return;
  const auto [instance, id] = it->second;
  timers_.erase(it);
  if (instances_[instance]) instances_[instance]->OnTimer(TimerEvent{id, timer.ts});
}

void PerInstrumentStrategy::OnStop() {
  for (const auto& instance : instances_) {
    if (instance) instance->OnStop();
  }
}

}  // namespace aits::strategy
