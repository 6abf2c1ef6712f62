#include "aits/node/builder.h"

#include <algorithm>
#include <utility>

#include "aits/trading/per_instrument.h"

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
    AITS_ASSIGN_OR_RETURN(decision_config, DecisionConfigOf(config));
  }

  Node node;
  node.kernel = std::make_unique<kernel::Kernel>(config.kernel, clock, config.execution);
  kernel::Kernel& kernel = *node.kernel;
  for (const Instrument& instrument : config.instruments) {
    AITS_RETURN_IF_ERROR(kernel.AddInstrument(instrument));
  }
  std::vector<InstrumentId> traded = config.traded;
  if (traded.empty()) traded.push_back(config.instruments.front().id);
  const bool several = traded.size() > 1;
  std::vector<std::unique_ptr<strategy::Strategy>> instances(config.instruments.size());
  for (const InstrumentId id : traded) {
    if (id.value >= config.instruments.size() || instances[id.value] != nullptr) {
      return InvalidArgument("traded instrument id " + std::to_string(id.value) +
                             (id.value >= config.instruments.size() ? " is not one of the node's "
                                                                    : " is named twice among ") +
                             std::to_string(config.instruments.size()) + " instruments");
    }
    // The kernel's copy: its address is stable, and strategies and signals keep references.
    const Instrument& instrument = kernel.instrument(id);
    std::unique_ptr<strategy::Strategy>& instance = instances[id.value];
    if (config.decision) {
      const DecisionStack& stack = *config.decision;
      trading::DecisionStrategyOptions options = stack.options;
      if (several) options.client_id_prefix += "-" + instrument.symbol;
      std::unique_ptr<trading::DecisionStrategy> strategy;
      if (stack.remote) {
        AITS_ASSIGN_OR_RETURN(std::unique_ptr<trading::RemoteDecider> remote,
                              stack.remote(instrument));
        strategy = std::make_unique<trading::DecisionStrategy>(
            instrument, std::move(remote), decision::DecisionEngine(decision_config), options,
            stack.sink);
      } else {
        AITS_ASSIGN_OR_RETURN(std::unique_ptr<trading::SignalSource> source,
                              stack.signal(instrument, config.kernel.bar_period));
        strategy = std::make_unique<trading::DecisionStrategy>(
            instrument, std::move(source), decision::DecisionEngine(decision_config), options,
            stack.sink);
        if (stack.watch_sink) strategy->SetWatchSink(stack.watch_sink);
        if (stack.shadow_sink) strategy->SetShadowSink(stack.shadow_sink);
      }
      node.decision_strategies.push_back(strategy.get());
      instance = std::move(strategy);
    } else if (config.strategy_factory) {
      AITS_ASSIGN_OR_RETURN(instance, config.strategy_factory(instrument));
    } else {
      AITS_ASSIGN_OR_RETURN(instance,
                            strategy::MakeStrategy(config.strategy, config.params, instrument));
    }
  }
  if (!node.decision_strategies.empty()) node.decision_strategy = node.decision_strategies.front();
  if (several) {
    kernel.SetStrategy(std::make_unique<strategy::PerInstrumentStrategy>(std::move(instances)));
  } else {
    kernel.SetStrategy(std::move(instances[traded.front().value]));
  }
  return node;
}

Result<decision::DecisionConfig> DecisionConfigOf(const NodeConfig& config) {
  if (!config.decision) return InvalidArgument("node configuration has no decision stack");
  if (!config.decision->signal && !config.decision->remote) {
    return InvalidArgument("node configuration: the decision stack has no signal source");
  }
  decision::DecisionConfig decision_config = config.decision->decision;
  AITS_RETURN_IF_ERROR(decision_config.Validate());
  if (decision_config.max_lots == 0 && config.kernel.risk) {
    decision_config.max_lots =
        std::min(config.kernel.risk->max_order_lots, config.kernel.risk->max_position_lots);
  }
  return decision_config;
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
    if (key == "base") continue;
    if (key == "group") {
      AITS_ASSIGN_OR_RETURN(risk::CorrelationGroup group, risk::CorrelationGroup::Parse(value));
      limits.groups.push_back(std::move(group));
      continue;
    }
    AITS_RETURN_IF_ERROR(limits.Set(key, value));
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
