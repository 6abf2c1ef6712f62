#include "aits/mt5sim/simulator.h"

#include <algorithm>

#include <limits>
#include <utility>

#include "aits/log/log.h"
#include "aits/mt5sim/terminal.h"
#include "aits/mt5sim/trade_server.h"

namespace aits::mt5sim {
namespace {

struct DataSpec {
  std::string symbol;
  std::string path;
};

Result<DataSpec> ParseDataSpec(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    return InvalidArgument("--data '" + text + "': expected SYMBOL=FILE");
  }
  return DataSpec{text.substr(0, eq), text.substr(eq + 1)};
}

Result<mt5::Execution> ParseExecution(const std::string& text) {
  if (text == "instant") return mt5::Execution::kInstant;
  if (text == "request") return mt5::Execution::kRequest;
  if (text == "market") return mt5::Execution::kMarket;
  if (text == "exchange") return mt5::Execution::kExchange;
  return InvalidArgument("--execution '" + text +
                         "': expected instant, request, market or exchange");
}

}  // namespace

Status Validate(const SimulatorOptions& options) {
  AITS_RETURN_IF_ERROR(net::ParseEndpoint(options.connect).status().WithContext("--connect"));
  if (options.data.empty()) return InvalidArgument("--data: give at least one SYMBOL=FILE");
  for (const std::string& spec : options.data) AITS_RETURN_IF_ERROR(ParseDataSpec(spec).status());
  if (options.account != "netting" && options.account != "hedging") {
    return InvalidArgument("--account '" + options.account + "': expected netting or hedging");
  }
  AITS_RETURN_IF_ERROR(ParseExecution(options.execution).status());
  if (!(options.balance > 0)) {
    return InvalidArgument("--balance " + std::to_string(options.balance) + ": must be positive");
  }
  if (options.leverage == 0) return InvalidArgument("--leverage 0: must be at least 1");
  if (options.currency.size() != 3) {
    return InvalidArgument("--currency '" + options.currency + "': expected a 3-letter code");
  }
  if (!(options.speed >= 0)) {
    return InvalidArgument("--speed " + std::to_string(options.speed) + ": must be >= 0");
  }
  if (!(options.requote_probability >= 0 && options.requote_probability <= 1)) {
    return InvalidArgument("--requote-probability " + std::to_string(options.requote_probability) +
                           ": must be in [0, 1]");
  }
  return Status::Ok();
}

Result<SimulatorSummary> RunSimulator(const SimulatorOptions& options) {
  AITS_RETURN_IF_ERROR(Validate(options));
  ServerConfig server_config;
  server_config.account.currency = options.currency;
  server_config.account.balance = options.balance;
  server_config.account.leverage = options.leverage;
  server_config.account.margin_mode = options.account == "hedging"
                                          ? mt5::MarginMode::kRetailHedging
                                          : mt5::MarginMode::kRetailNetting;
  server_config.seed = options.seed;
  server_config.requote_probability = options.requote_probability;
  server_config.max_slippage_points = options.max_slippage_points;
  server_config.max_requests_per_second = options.rate_limit;
  server_config.client_trade_allowed = !options.autotrading_off;
  TradeServer server(server_config);
  TerminalConfig terminal_config;
  terminal_config.token = options.token;
  Terminal terminal(terminal_config, server);

  SimulatorSummary summary;
  const mt5::Execution execution = ParseExecution(options.execution).value();
  for (const std::string& text : options.data) {
    const DataSpec spec = ParseDataSpec(text).value();
    mt5::SymbolSpec symbol = ForexSymbol(spec.symbol);
    symbol.execution_mode = static_cast<uint32_t>(execution);
    AITS_RETURN_IF_ERROR(server.AddSymbol(symbol).WithContext("--data " + text));
    data::ReadStats stats;
    AITS_ASSIGN_OR_RETURN(std::vector<mt5::TickData> ticks,
                          ReadTickFile(spec.path, static_cast<int>(symbol.digits), &stats));
    AITS_RETURN_IF_ERROR(terminal.AddTicks(spec.symbol, ticks).WithContext(spec.path));
    AITS_LOG_INFO("mt5sim", spec.symbol + ": " + std::to_string(ticks.size()) + " ticks from " +
                                spec.path + " (" + std::to_string(stats.TotalRejected()) +
                                " rows rejected)");
    summary.symbols.push_back(spec.symbol);
    summary.ticks_loaded += ticks.size();
    summary.rows_rejected += stats.TotalRejected();
  }

  RunnerConfig runner_config;
  runner_config.gateway = net::ParseEndpoint(options.connect).value();
  runner_config.speed = options.speed;
  runner_config.seed = options.seed;
  runner_config.processing_delay_ms = options.processing_delay_ms;
  runner_config.random_drop_mean_frames = options.random_drop_mean_frames;
  runner_config.record_path = options.record;
  runner_config.stop_at_end = options.stop_at_end;
  if (options.history) {
    terminal.ReplayUntil(std::numeric_limits<int64_t>::max());
    AITS_LOG_INFO("mt5sim", "history: " + std::to_string(terminal.replayed()) +
                                " ticks are the terminal's past");
    // Every tick is replayed already: the end of the replay says nothing; the session's does.
    runner_config.stop_at_end = false;
    runner_config.max_sessions = options.stop_at_end ? 1 : 0;
  }
  runner_config.stop = options.stop;
  TerminalRunner runner(runner_config, terminal);
  AITS_LOG_INFO("mt5sim", "connecting to " + options.connect);
  AITS_RETURN_IF_ERROR(runner.Run());

  summary.ticks_replayed = terminal.replayed();
  summary.link = runner.stats();
  const mt5::Account account = server.AccountInfo();
  summary.balance = account.balance;
  summary.equity = account.equity;
  summary.open_positions = server.Positions();
  summary.positions = summary.open_positions.size();
  summary.orders = server.Orders().size();
  std::vector<mt5::OrderInfo> every = server.HistoryOrders(std::numeric_limits<int64_t>::min(),
                                                           std::numeric_limits<int64_t>::max());
  for (const mt5::OrderInfo& order : server.Orders()) every.push_back(order);
  std::sort(every.begin(), every.end(),
            [](const mt5::OrderInfo& a, const mt5::OrderInfo& b) { return a.ticket < b.ticket; });
  for (const mt5::OrderInfo& order : every) summary.order_comments.push_back(order.comment);
  summary.deals =
      server.HistoryDeals(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())
          .size();
  return summary;
}

}  // namespace aits::mt5sim
