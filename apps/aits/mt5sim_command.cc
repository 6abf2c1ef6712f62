#include "mt5sim_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "aits/mt5sim/simulator.h"
#include "cli.h"

namespace aits::app {
namespace {

struct Mt5SimFlags {
  mt5sim::SimulatorOptions options;
  bool quiet = false;
  bool json = false;
};

int RunMt5Sim(Mt5SimFlags& flags) {
  flags.options.stop = StopSignals::flag();
  if (Status valid = mt5sim::Validate(flags.options); !valid.ok()) return Fail(valid);
  if (!flags.quiet && !flags.json) {
    std::fprintf(stderr,
                 "aits mt5-sim: connecting to %s as login 5000001 (%s, %s %.2f, 1:%u); "
                 "Ctrl-C stops\n",
                 flags.options.connect.c_str(), flags.options.account.c_str(),
                 flags.options.currency.c_str(), flags.options.balance, flags.options.leverage);
  }
  auto result = [&] {
    const StopSignals signals;
    return mt5sim::RunSimulator(flags.options);
  }();
  if (!result.ok()) return Fail(result.status());
  const mt5sim::SimulatorSummary& s = *result;
  if (flags.json) {
    nlohmann::ordered_json out = {{"symbols", s.symbols},
                                  {"ticks_loaded", s.ticks_loaded},
                                  {"rows_rejected", s.rows_rejected},
                                  {"ticks_replayed", s.ticks_replayed},
                                  {"connects", s.link.connects},
                                  {"connect_failures", s.link.connect_failures},
                                  {"sessions", s.link.sessions},
                                  {"drops", s.link.drops},
                                  {"dead_links", s.link.dead_links},
                                  {"frames_sent", s.link.frames_sent},
                                  {"frames_received", s.link.frames_received},
                                  {"balance", s.balance},
                                  {"equity", s.equity},
                                  {"positions", s.positions},
                                  {"orders", s.orders},
                                  {"deals", s.deals},
                                  {"order_comments", s.order_comments}};
    nlohmann::ordered_json positions = nlohmann::ordered_json::array();
    for (const mt5::PositionInfo& p : s.open_positions) {
      positions.push_back({{"ticket", p.ticket},
                           {"symbol", p.symbol},
                           {"type", p.type == 0 ? "buy" : "sell"},
                           {"volume", p.volume},
                           {"price_open", p.price_open},
                           {"sl", p.sl},
                           {"tp", p.tp},
                           {"comment", p.comment}});
    }
    out["open_positions"] = std::move(positions);
    std::printf("%s\n", out.dump(2).c_str());
  } else if (!flags.quiet) {
    std::printf(
        "mt5-sim: %llu of %llu ticks replayed (%llu rows rejected); %llu connects, %llu sessions, "
        "%llu frames sent, %llu received; balance %.2f equity %.2f, %zu positions, %zu orders, "
        "%zu deals\n",
        static_cast<unsigned long long>(s.ticks_replayed),
        static_cast<unsigned long long>(s.ticks_loaded),
        static_cast<unsigned long long>(s.rows_rejected),
        static_cast<unsigned long long>(s.link.connects),
        static_cast<unsigned long long>(s.link.sessions),
        static_cast<unsigned long long>(s.link.frames_sent),
        static_cast<unsigned long long>(s.link.frames_received), s.balance, s.equity, s.positions,
        s.orders, s.deals);
  }
  return 0;
}

}  // namespace

void AddMt5SimCommand(CLI::App& app) {
  auto flags = std::make_shared<Mt5SimFlags>();
  mt5sim::SimulatorOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand(
      "mt5-sim",
      "Run the MetaTrader 5 terminal simulator: connect out to a gateway as the AITS EA does,\n"
      "replay real ticks into a simulated trade server and answer every request as a terminal\n"
      "would (docs/metatrader.md, \"Terminal simulator\").\n"
      "Example: aits mt5-sim --connect 127.0.0.1:5555 --token T "
      "--data EURUSD=../shared/data/eurusd-ticks-2020-01-01.csv --account hedging --speed 10");
  cmd->add_option("--connect", o.connect, "The gateway, HOST:PORT")->capture_default_str();
  cmd->add_option("--token", o.token, "The gateway's shared secret");
  cmd->add_option("--data", o.data, "SYMBOL=FILE, repeatable: a symbol and its tick file")
      ->required();
  cmd->add_option("--account", o.account, "netting or hedging")->capture_default_str();
  cmd->add_option("--execution", o.execution,
                  "Every symbol's execution mode: instant, request, market or exchange")
      ->capture_default_str();
  cmd->add_option("--balance", o.balance, "Starting balance")->capture_default_str();
  cmd->add_option("--leverage", o.leverage, "Account leverage (1:N)")->capture_default_str();
  cmd->add_option("--currency", o.currency, "Account currency")->capture_default_str();
  cmd->add_option("--speed", o.speed,
                  "Replay speed (1 = real time; 0 = as fast as the gateway takes the ticks)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of requotes, slippage, back-off jitter and random drops")
      ->capture_default_str();
  cmd->add_option("--requote-probability", o.requote_probability,
                  "Chance of a requote under instant/request execution")
      ->capture_default_str();
  cmd->add_option("--max-slippage", o.max_slippage_points,
                  "Most points a market-execution fill slips (within the request's deviation)");
  cmd->add_option("--rate-limit", o.rate_limit,
                  "Trade requests per second before 10024 TOO_MANY_REQUESTS (0: none)");
  cmd->add_option("--processing-delay-ms", o.processing_delay_ms,
                  "Wall time before each trade request is answered");
  cmd->add_flag("--autotrading-off", o.autotrading_off,
                "Start with the terminal's AutoTrading off (10027)");
  cmd->add_option("--drop-every", o.random_drop_mean_frames,
                  "Drop the link after a seeded random number of frames averaging this (0: never)");
  cmd->add_option("--record", o.record, "Write every frame to this transcript (JSON lines)");
  cmd->add_flag("--stop-at-end", o.stop_at_end,
                "Stop when every tick has been replayed (with --history: when the first session "
                "ends)");
  cmd->add_flag("--history", o.history,
                "The ticks are the terminal's past: all replayed before connecting, answered to "
                "get_ticks and get_bars (aits history), none streamed");
  cmd->add_flag("--quiet", flags->quiet, "Print nothing but errors");
  cmd->add_flag("--json", flags->json, "Print the summary as JSON");
  cmd->callback([flags] { ExitOnFailure(RunMt5Sim(*flags)); });
}

}  // namespace aits::app
