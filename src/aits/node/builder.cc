#include "aits/node/builder.h"

#include <algorithm>
#include <utility>

namespace aits::node {

Result<Node> BuildNode(const NodeConfig& config, Clock& clock) {
  if (config.instruments.empty()) {
    return InvalidArgument("node configuration has no instrument to trade");
  }
  AITS_RETURN_IF_ERROR(config.kernel.Validate());
  for (const Instrument& instrument : config.instruments) {
    AITS_RETURN_IF_ERROR(instrument.Validate());
  }
  decision::DecisionConfig decision_config;
  if (config.decision) {
    if (!config.decision->signal) {
      return InvalidArgument("node configuration: the decision stack has no signal source");
    }
    decision_config = config.decision->decision;
    AITS_RETURN_IF_ERROR(decision_config.Validate());
    if (decision_config.max_lots == 0 && config.kernel.risk) {
      decision_config.max_lots =
          std::min(config.kernel.risk->max_order_lots, config.kernel.risk->max_position_lots);
    }
  }

  Node node;
  node.kernel = std::make_unique<kernel::Kernel>(config.kernel, clock);
  kernel::Kernel& kernel = *node.kernel;
  for (const Instrument& instrument : config.instruments) {
    AITS_RETURN_IF_ERROR(kernel.AddInstrument(instrument));
  }
  // The kernel's copy: its address is stable, and strategies and signals keep references.
  const Instrument& traded = kernel.instrument(config.instruments.front().id);
  if (config.decision) {
    const DecisionStack& stack = *config.decision;
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<trading::SignalSource> source,
                          stack.signal(traded, config.kernel.bar_period));
    auto strategy = std::make_unique<trading::DecisionStrategy>(
        traded, std::move(source), decision::DecisionEngine(std::move(decision_config)),
        stack.options, stack.sink);
    node.decision_strategy = strategy.get();
    kernel.SetStrategy(std::move(strategy));
  } else if (config.strategy_factory) {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<strategy::Strategy> strategy,
                          config.strategy_factory(traded));
    kernel.SetStrategy(std::move(strategy));
  } else {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<strategy::Strategy> strategy,
                          strategy::MakeStrategy(config.strategy, config.params, traded));
    kernel.SetStrategy(std::move(strategy));
  }
  return node;
}

SignalFactory RuleSignalFactory(std::string name, strategy::StrategyParams params) {
  return [name = std::move(name), params = std::move(params)](const Instrument& instrument,
                                                              Duration /*bar_period*/) {
    return trading::MakeRuleSignal(name, params, instrument);
  };
}

Result<risk::RiskLimits> RiskLimitsFor(const Settings& settings) {
  bool from_defaults = settings.empty();
  for (const auto& [key, value] : settings) {
    if (key != "base") continue;
    if (value != "defaults") {
      return InvalidArgument("risk base '" + value + "' is unknown (the only base is 'defaults')");
    }
    from_defaults = true;
  }
  risk::RiskLimits limits = from_defaults ? risk::RiskLimits::Defaults() : risk::RiskLimits{};
  for (const auto& [key, value] : settings) {
    if (key != "base") AITS_RETURN_IF_ERROR(limits.Set(key, value));
  }
  AITS_RETURN_IF_ERROR(limits.Validate());
  return limits;
}

Result<decision::DecisionConfig> DecisionConfigFor(const Settings& settings) {
  decision::DecisionConfig config;
  for (const auto& [key, value] : settings) AITS_RETURN_IF_ERROR(config.Set(key, value));
  AITS_RETURN_IF_ERROR(config.Validate());
  return config;
}

}  // namespace aits::node
