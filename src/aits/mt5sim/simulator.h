// `aits mt5-sim`: a terminal simulator built from command-line settings (symbols and their tick
// files, the account, the faults), run against a gateway until stopped or, with stop_at_end, until
// the replay is over. The command (apps/aits/mt5sim_command.cc) only parses flags and prints.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/mt5sim/terminal_link.h"

namespace aits::mt5sim {

struct SimulatorOptions {
  std::string connect = "127.0.0.1:5555";  // the gateway, HOST:PORT
  std::string token;
  std::vector<std::string> data;     // SYMBOL=FILE, one per symbol
  std::string account = "netting";   // netting | hedging
  std::string execution = "market";  // instant | request | market | exchange (every symbol)
  double balance = 10000;
  uint32_t leverage = 100;
  std::string currency = "USD";
  double speed = 1;
  uint64_t seed = 1;
  double requote_probability = 0;
  uint32_t max_slippage_points = 0;
  uint32_t rate_limit = 0;  // trade requests per second of server time (0: none)
  uint32_t processing_delay_ms = 0;
  bool autotrading_off = false;
  uint64_t random_drop_mean_frames = 0;
  std::string record;  // transcript file
  bool stop_at_end = false;
  // The loaded ticks are the terminal's past, as a terminal started after them has them: all are
  // replayed into the trade server before the first connection, so that get_ticks and get_bars
  // answer from them at once (aits history), and nothing is streamed. With stop_at_end the
  // simulator stops when its first session ends (the gateway's bye), not when a replay ends.
  bool history = false;
  const std::atomic<bool>* stop = nullptr;
};

struct SimulatorSummary {
  std::vector<std::string> symbols;
  uint64_t ticks_loaded = 0;
  uint64_t rows_rejected = 0;  // rows the data readers refused (counted, as every reader does)
  uint64_t ticks_replayed = 0;
  RunnerStats link;
  double balance = 0;
  double equity = 0;
  size_t positions = 0;
  size_t orders = 0;
  size_t deals = 0;
  // At the end: the open positions, and the comment (the node's client order id) of every order
  // the trade server ever took, working or historical, in ticket order.
  std::vector<mt5::PositionInfo> open_positions;
  std::vector<std::string> order_comments;
};

// Checks the options. InvalidArgument naming the flag and the value.
Status Validate(const SimulatorOptions& options);
// Loads the data, builds the trade server and the terminal, and runs the link until it stops.
// Errors: bad options (InvalidArgument), a tick file that cannot be read (its reader's error).
Result<SimulatorSummary> RunSimulator(const SimulatorOptions& options);

}  // namespace aits::mt5sim
