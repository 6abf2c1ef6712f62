#include "aits/feed/monitor_replay.h"

#include <algorithm>
#include <memory>
#include <span>

#include "aits/data/instrument_resolver.h"

namespace aits::feed {
namespace {

constexpr size_t kBatch = 4096;

// Moves the clock to `ts` through the timer's polls on the way, polls, and leaves the quote to
// the caller; the first quote also starts the watch (the monitor's stale clock starts at the data,
// not at the epoch).
class Replay {
 public:
  Replay(MarketMonitor* monitor, SimulatedClock* clock, const MonitorFileResult& result,
         std::vector<TradingWindow> windows, Duration poll_every)
      : monitor_(monitor),
        clock_(clock),
        result_(result),
        windows_(std::move(windows)),
        poll_every_(poll_every) {}

  Status Before(Timestamp ts) {
    if (!started_) {
      started_ = true;
      clock_->AdvanceTo(ts);
      AITS_RETURN_IF_ERROR(monitor_->AddSymbol(result_.instrument, windows_));
      next_poll_ = Timestamp{(ts.ns / poll_every_.ns + 1) * poll_every_.ns};
    }
    while (next_poll_ < ts) {
      clock_->AdvanceTo(next_poll_);
      monitor_->Poll();
      next_poll_ = next_poll_ + poll_every_;
    }
    clock_->AdvanceTo(ts);
    monitor_->Poll();
    return Status::Ok();
  }

 private:
  MarketMonitor* monitor_;
  SimulatedClock* clock_;
  const MonitorFileResult& result_;
  std::vector<TradingWindow> windows_;
  Duration poll_every_;
  bool started_ = false;
  Timestamp next_poll_;
};

}  // namespace

Result<MonitorInput> ParseMonitorInput(std::string_view item) {
  MonitorInput input;
  std::string_view rest = item;
  const size_t eq = rest.find('=');
  if (eq != std::string_view::npos && rest.substr(0, eq).find('/') == std::string_view::npos) {
    input.symbol = std::string(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    if (input.symbol.empty()) {
      return InvalidArgument("--data " + std::string(item) + ": empty symbol before '='");
    }
  }
  const size_t comma = rest.find(',');
  input.path = std::string(rest.substr(0, comma));
  if (comma != std::string_view::npos) {
    input.ask_path = std::string(rest.substr(comma + 1));
    if (input.ask_path.find(',') != std::string::npos) {
      return InvalidArgument("--data " + std::string(item) +
                             ": more than two files; give one data file, or a bid and an ask bar "
                             "file");
    }
    if (input.ask_path.empty()) {
      return InvalidArgument("--data " + std::string(item) + ": empty ask file name");
    }
  }
  if (input.path.empty()) {
    return InvalidArgument("--data " + std::string(item) + ": empty file name");
  }
  return input;
}

Result<MonitorFileResult> MonitorFile(const MonitorInput& input, const MonitorConfig& config,
                                      const InstrumentCatalogue& catalogue,
                                      const std::function<void(double)>& progress) {
  MonitorFileResult result;
  result.input = input;
  AITS_ASSIGN_OR_RETURN(result.format, data::DetectFormat(input.path));
  data::InstrumentQuery query;
  query.symbol = input.symbol;
  query.data_path = input.path;
  query.read.format = result.format;
  query.read.ask_path = input.ask_path;
  AITS_ASSIGN_OR_RETURN(data::ResolvedInstrument resolved,
                        data::ResolveInstrument(catalogue, query));
  result.instrument = resolved.instrument;
  result.instrument.id = InstrumentId{0};
  result.origin = resolved.origin;
  std::vector<TradingWindow> windows;
  if (const CatalogueEntry* entry = catalogue.Find(result.instrument.symbol); entry != nullptr) {
    windows = entry->windows;
    result.sessions = entry->sessions;
  }

  data::ReadOptions options;
  options.format = result.format;
  options.price_precision = result.instrument.digits;
  options.instrument = result.instrument.id;
  options.ask_path = input.ask_path;

  SimulatedClock clock;
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<MarketMonitor> monitor,
                        MarketMonitor::Create(config, clock));
  auto collect = [&] {
    for (MarketAlert& alert : monitor->TakeAlerts()) result.alerts.push_back(std::move(alert));
  };

  if (data::IsBarFormat(result.format)) {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<data::BarSource> source,
                          data::OpenBars(input.path, options));
    Replay replay(monitor.get(), &clock, result, std::move(windows),
                  std::max(source->period(), Duration::Seconds(1)));
    std::vector<Bar> bars(kBatch);
    while (true) {
      AITS_ASSIGN_OR_RETURN(size_t count, source->Read(std::span<Bar>(bars)));
      if (count == 0) break;
      for (size_t i = 0; i < count; ++i) {
        const Bar& bar = bars[i];
        // The bar's last quote, at its close; the quote first, so that its gap is judged
        // against the ATR of the bars before it.
        Tick tick;
        tick.ts = bar.CloseTime();
        tick.bid = bar.bid.close;
        tick.ask = bar.ask.close;
        tick.instrument = bar.instrument;
        AITS_RETURN_IF_ERROR(replay.Before(tick.ts));
        monitor->OnTick(tick);
        monitor->OnBar(bar);
      }
      collect();
      if (progress) progress(source->Progress());
    }
    result.read = source->stats();
  } else {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<data::TickSource> source,
                          data::OpenTicks(input.path, options));
    Replay replay(monitor.get(), &clock, result, std::move(windows), Duration::Seconds(1));
    std::vector<Tick> ticks(kBatch);
    while (true) {
      AITS_ASSIGN_OR_RETURN(size_t count, source->Read(std::span<Tick>(ticks)));
      if (count == 0) break;
      for (size_t i = 0; i < count; ++i) {
        AITS_RETURN_IF_ERROR(replay.Before(ticks[i].ts));
        monitor->OnTick(ticks[i]);
      }
      collect();
      if (progress) progress(source->Progress());
    }
    result.read = source->stats();
  }
  collect();
  auto stats = monitor->Stats(result.instrument.id);
  if (stats.ok()) {
    result.stats = *stats;
  } else {
    result.stats.symbol = result.instrument.symbol;  // an empty file: nothing was watched
  }
  return result;
}

}  // namespace aits::feed
