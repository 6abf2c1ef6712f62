// Self-contained HTML backtest report: one file with inline CSS and inline SVG charts, no scripts
// or fonts fetched from anywhere, so it opens offline in any browser.
//
// The report holds a header (title, subtitle, period), the statistics tables as cards, and three
// charts: equity, drawdown (area below zero) and price (mid closes) with trade markers. Every
// series is downsampled to at most kMaxChartPoints with a min/max-preserving bucket method, so
// spikes and the drawdown trough stay visible. At most kMaxDrawnTrades trades are drawn (the one
// with the largest |P&L| per time slice when there are more); the caption under the price chart
// always counts all of them (trades whose entry lies outside the price series' time span, or
// with non-finite prices, are counted but not drawn). Empty series render a "no data" box;
// non-finite values are skipped; flat series get a padded range. All text is HTML-escaped. A
// 100k-trade report stays well under 2 MB. A tiny inline script adds hover read-outs; the charts
// render fully without it. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::report {

struct SeriesPoint {
  Timestamp ts;
  double value = 0;
};

struct TradeMarker {
  Timestamp entry_time;
  double entry_price = 0;
  Timestamp exit_time;
  double exit_price = 0;
  bool is_long = true;
  double net_pnl = 0;
};

struct ReportData {
  std::string title;                  // "sma_cross on EURUSD"
  std::string subtitle;               // data file, period, generated-at
  std::vector<SeriesPoint> equity;    // account equity over time
  std::vector<SeriesPoint> drawdown;  // fraction below peak, >= 0
  std::vector<SeriesPoint> price;     // mid close per bar (the writer downsamples to ~2,000)
  std::vector<TradeMarker> trades;
  // Ordered sections of the statistics table: {section, [{label, formatted value}]}.
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> tables;
  // Things the reader must know about the data or the run (zero spread, repaired rows, ...),
  // shown in a notice box under the header.
  std::vector<std::string> notes;
  // Lengths of the full series when `equity` / `price` were already thinned by the caller, so
  // captions can say how many samples and bars there really were (0: the vectors are complete).
  uint64_t equity_samples_total = 0;
  uint64_t price_bars_total = 0;
};

// Largest number of points a chart polyline carries.
inline constexpr size_t kMaxChartPoints = 2000;
// Largest number of trades drawn as markers on the price chart.
inline constexpr size_t kMaxDrawnTrades = 500;

// Reduces `points` (sorted by time) to at most `max_points` by splitting the interior into
// equal-count buckets and keeping each bucket's minimum and maximum in time order, plus the first
// and last point. Returns the input unchanged when it is already small enough. Non-finite values
// are dropped first. max_points below 4 is treated as 4.
std::vector<SeriesPoint> DownsampleMinMax(const std::vector<SeriesPoint>& points,
                                          size_t max_points);

// Writes the report to `path`; IoError naming the path if it cannot be written.
Status WriteHtmlReport(const ReportData& data, const std::string& path);

// The HTML text itself (for tests).
std::string RenderHtmlReport(const ReportData& data);

}  // namespace aits::report
