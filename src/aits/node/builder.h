// The node builder: the one composition root of the trading core. A NodeConfig says what a node
// trades (its instruments), on what account and venue (KernelConfig, with the risk limits), and
// with which strategy stack; BuildNode wires the kernel from it. Backtest (backtest::RunBacktest)
// and paper (session::Session::Create) both build through it, so that a strategy stack trades the
// same way in every mode: only the clock, the data and what records the outputs differ
// (docs/architecture.md, "The node").
//
// The strategy stack is one of:
//   - a built-in strategy by name and parameters (strategy::MakeStrategy), e.g. sma_cross;
//   - a strategy factory, for strategies from modules above the kernel;
//   - the decision stack: a signal source -> DecisionStrategy (decision engine: thresholds,
//     filters, sizing, stops) -> the kernel's risk manager (KernelConfig::risk).
//
// BuildNode neither starts the kernel nor feeds it: the caller subscribes its recorders to the
// bus first (they then hear every message after the kernel's own handlers), calls Start and
// drives the clock. Thread-compatible: build on the thread that will run the kernel.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/kernel/kernel.h"
#include "aits/risk/risk_manager.h"
#include "aits/trading/decision_engine.h"
#include "aits/trading/decision_strategy.h"
#include "aits/trading/signal_source.h"
#include "aits/trading/strategy.h"

namespace aits::node {

// Builds the signal source of the decision stack for the traded instrument (the kernel's copy,
// which outlives the source) and the kernel's bar period.
using SignalFactory = std::function<Result<std::unique_ptr<trading::SignalSource>>(
    const Instrument& instrument, Duration bar_period)>;

// Builds a strategy for the traded instrument (the kernel's copy, which outlives the strategy).
using StrategyFactory =
    std::function<Result<std::unique_ptr<strategy::Strategy>>(const Instrument& instrument)>;

// Builds the decider of the traded instrument when the decision is made in another process
// (the decision role: services::DecisionFeed).
using DeciderFactory =
    std::function<Result<std::unique_ptr<trading::RemoteDecider>>(const Instrument& instrument)>;

// Signal -> DecisionStrategy; the risk manager is KernelConfig::risk.
struct DecisionStack {
  SignalFactory signal;
  // When set, the decisions come from it and `signal` is not used (ADR 0007, decision 4).
  DeciderFactory remote;
  decision::DecisionConfig decision;
  // Client order ids are "<options.client_id_prefix>-<n>".
  trading::DecisionStrategyOptions options;
  // Receives every decision record (the paper session logs them); may be empty.
  trading::DecisionSink sink;
  // Receives every change of a watched model's verdict (DecisionStrategy::SetWatchSink; the
  // paper session logs them as model_verdict); may be empty.
  trading::DecisionSink watch_sink;
  // Receives the end of a candidate's shadow trial (DecisionStrategy::SetShadowSink; the paper
  // session logs it as model_shadow); may be empty.
  trading::DecisionSink shadow_sink;
};

struct NodeConfig {
  // Added to the kernel in order (ids must be 0, 1, ...).
  std::vector<Instrument> instruments;
  // The instruments the strategy stack trades, one instance of it each (behind
  // strategy::PerInstrumentStrategy when there are several); empty: the first instrument. The
  // others only supply quotes (conversion rates). With several, decision-stack client order ids
  // carry the symbol ("<prefix>-<SYMBOL>-<n>") so that the instances never reuse one.
  std::vector<InstrumentId> traded;
  kernel::KernelConfig kernel;
  // The execution client; empty: the SimulatedVenue of kernel.venue (Kernel's default).
  kernel::ExecutionClientFactory execution;
  // The strategy stack: `decision` when set, else `strategy_factory` when set, else the built-in
  // strategy `strategy` with `params` (every parameter must be known to it).
  std::optional<DecisionStack> decision;
  StrategyFactory strategy_factory;
  std::string strategy = "sma_cross";
  strategy::StrategyParams params;
};

struct Node {
  std::unique_ptr<kernel::Kernel> kernel;
  // The decision stack's strategy of the first traded instrument (owned by the kernel); nullptr
  // for the other stacks.
  trading::DecisionStrategy* decision_strategy = nullptr;
  // Every decision-stack instance, in the order of NodeConfig::traded.
  std::vector<trading::DecisionStrategy*> decision_strategies;
};

// Builds the kernel with its instruments and strategy installed, not started. `clock` must
// outlive the kernel. Errors (InvalidArgument unless passed up from a factory): no instrument,
// an invalid kernel, instrument or decision configuration, or a strategy or signal that cannot
// be built; the message names the setting.
//
// Decision stack: when the decision settings leave max_lots at 0 (no cap) and the kernel has a
// risk manager, entries are capped at min(risk max_order_lots, max_position_lots), so that
// sizing stays within what the risk manager accepts rather than every large entry being refused.
Result<Node> BuildNode(const NodeConfig& config, Clock& clock);

// The decision configuration BuildNode gives the decision engine of `config`'s decision stack
// (validated, max_lots capped as above): the decision role builds its engine with it.
Result<decision::DecisionConfig> DecisionConfigOf(const NodeConfig& config);

// A rule signal ("sma_cross", "rsi": trading::MakeRuleSignal) with its parameters; the node
// build fails naming an unknown signal or parameter.
SignalFactory RuleSignalFactory(std::string name, strategy::StrategyParams params);

// Settings as the user wrote them ("key", "value"), in order; shared by every mode and service.
using Settings = std::vector<std::pair<std::string, std::string>>;

// Risk limits from `risk:` settings. No settings: RiskLimits::Defaults(). Otherwise every limit
// must be named (a missing one is an error naming it) unless the settings include
// `base: defaults`, which starts from the defaults and overrides the ones named. Each `group`
// setting adds a configured correlation group (risk::CorrelationGroup::Parse, docs/risk.md).
Result<risk::RiskLimits> RiskLimitsFor(const Settings& settings);

// Decision configuration from `decision:` settings (DecisionConfig::Set, then Validate); errors
// name the key.
Result<decision::DecisionConfig> DecisionConfigFor(const Settings& settings);

}  // namespace aits::node
