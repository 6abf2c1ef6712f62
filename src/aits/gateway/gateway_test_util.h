// Test-only: the event loop's target of the gateway's node tests, a kernel driven by what the
// gateway pushes (ticks, execution and account reports), with hooks for the test's strategy.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aits/core/clock.h"
#include "aits/execution/order_manager.h"
#include "aits/kernel/kernel.h"
#include "aits/node/event_loop.h"

namespace aits::gateway::testing {

class Driver final : public node::LoopTarget {
 public:
  Driver(kernel::Kernel& kernel, SimulatedClock& clock) : kernel_(kernel), clock_(clock) {}
  Status OnMarketData(const node::MarketData& data) override {
    clock_.AdvanceTo(data.tick.ts);
    kernel_.OnTick(data.tick);
    ++ticks;
    if (on_tick) on_tick(kernel_);
    return Status::Ok();
  }
  Status OnCommand(const node::OperatorCommand& /*command*/, Status* outcome) override {
    *outcome = InvalidArgument("no commands here");
    return Status::Ok();
  }
  Status OnProducerStatus(const node::ProducerStatus& status, std::string_view /*name*/) override {
    if (status.state == node::ProducerState::kConnected) ++connected;
    if (status.state == node::ProducerState::kDisconnected) ++disconnected;
    // A test that drops the link on purpose goes on; any other stops at the first loss.
    return survive_disconnects ? Status::Ok() : status.error;
  }
  std::optional<Timestamp> NextTimer() const override { return kernel_.NextTimer(); }
  Status AdvanceTo(Timestamp time) override {
    clock_.AdvanceTo(time);
    kernel_.AdvanceTo(time);
    return Status::Ok();
  }
  Status OnIdle() override {
    if (on_idle) on_idle(kernel_);
    return Status::Ok();
  }
  bool done() const override { return finished; }
  Status OnExecutionReport(const node::ExecutionReportEvent& event) override {
    const execution::ReportOutcome outcome = kernel_.OnExecutionReport(*event.report);
    if (outcome != execution::ReportOutcome::kApplied) {
      log.push_back(execution::OrderManager::Describe(*event.report, outcome));
    }
    if (on_report) on_report(kernel_);
    return Status::Ok();
  }
  Status OnAccountReport(const node::AccountReportEvent& event) override {
    kernel_.OnAccountReport(*event.report);
    ++accounts;
    return Status::Ok();
  }

  std::function<void(kernel::Kernel&)> on_tick;
  std::function<void(kernel::Kernel&)> on_report;
  std::function<void(kernel::Kernel&)> on_idle;
  bool survive_disconnects = false;
  bool finished = false;
  uint64_t ticks = 0;
  int connected = 0;
  int disconnected = 0;
  int accounts = 0;
  std::vector<std::string> log;

 private:
  kernel::Kernel& kernel_;
  SimulatedClock& clock_;
};

}  // namespace aits::gateway::testing
