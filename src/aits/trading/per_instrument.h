// One strategy instance per instrument behind the kernel's single strategy slot: a backtest over
// GBP/USD and USD/JPY runs an sma_cross for each, each seeing only its own instrument.
//
// Routing: ticks and bars by their instrument; fills by Fill::instrument; order updates by the
// order's instrument; timers to the instance that set them (each instance numbers its timers as
// it likes: the ids it gets back are its own). OnStart and OnStop reach every instance, in
// instrument order. An instrument without an instance (a feed that only supplies conversion
// rates) is never traded by this strategy. Each instance gets a StrategyContext that forwards to
// the kernel's, so positions, account, quotes and orders are the one shared account's.
// Single-threaded, like every strategy.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aits/trading/strategy.h"

namespace aits::strategy {

class PerInstrumentStrategy final : public Strategy {
 public:
  // `instances[id]` trades instrument id (nullptr: none). Precondition: at least one instance.
  explicit PerInstrumentStrategy(std::vector<std::unique_ptr<Strategy>> instances);
  ~PerInstrumentStrategy() override;

  std::string_view name() const override { return name_; }
  void OnStart(StrategyContext& context) override;
  void OnTick(const Tick& tick) override;
  bool WantsTicks() const override { return wants_ticks_; }  // if any instance does
  void OnBar(const Bar& bar) override;
  void OnFill(const Fill& fill) override;
  void OnOrderUpdate(const Order& order) override;
  void OnTimer(const TimerEvent& timer) override;
  void OnStop() override;

  // The instance trading `instrument`, or nullptr.
  Strategy* instance(InstrumentId instrument) const;

 private:
  class InstanceContext;
  Strategy* At(InstrumentId instrument) const {
    return instrument.value < instances_.size() ? instances_[instrument.value].get() : nullptr;
  }

  std::vector<std::unique_ptr<Strategy>> instances_;
  std::vector<std::unique_ptr<InstanceContext>> contexts_;
  std::string name_;
  bool wants_ticks_ = false;
  // The kernel's timer id -> (instance, the instance's own id).
  std::map<uint64_t, std::pair<size_t, uint64_t>> timers_;
  uint64_t next_timer_ = 1;
};

}  // namespace aits::strategy
