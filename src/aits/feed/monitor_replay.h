// The market monitor over recorded files: what `aits monitor` runs, and how the monitor's
// defaults are checked against real quotes (docs/feed.md, "Market monitor").
//
// Each file is one symbol, replayed on its own simulated clock as a live node would run it: Poll()
// on a timer (every second for tick files, every bar period for bar files) and before each tick,
// with the clock at that time. Bar files (bid and optional ask side) become one quote per bar at
// its close, with the bar itself giving the symbol's ATR. Alert ids count per file.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/data/source.h"
#include "aits/feed/monitor.h"
#include "aits/model/instrument_catalogue.h"

namespace aits::feed {

struct MonitorInput {
  std::string path;
  std::string ask_path;  // bar files: the ask side, joined on time
  std::string symbol;    // "" = from the file's name (docs/instruments.md)
};

// "[SYMBOL=]FILE[,ASK_FILE]"; a '=' counts as the symbol's only when no '/' comes before it.
// InvalidArgument quoting the item for an empty file name or more than two files.
Result<MonitorInput> ParseMonitorInput(std::string_view item);

struct MonitorFileResult {
  MonitorInput input;
  Instrument instrument;
  std::string origin;    // where the instrument's values came from
  std::string sessions;  // the catalogue's trading hours ("" = always open)
  data::DataFormat format = data::DataFormat::kAuto;
  data::ReadStats read;
  SymbolStats stats;  // at the time of the file's last quote
  std::vector<MarketAlert> alerts;
};

// Runs a monitor with `config` over `input`; the instrument and its sessions come from
// `catalogue`. `progress` (optional) gets the fraction of the file read. Errors are the readers'
// and the instrument resolver's (they name the file); rejected rows are counted in `read`.
Result<MonitorFileResult> MonitorFile(const MonitorInput& input, const MonitorConfig& config,
                                      const InstrumentCatalogue& catalogue,
                                      const std::function<void(double)>& progress = {});

}  // namespace aits::feed
