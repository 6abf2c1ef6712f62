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
//
// Evaluation extras, all optional; when they are empty the output is byte-for-byte what it was
// without them:
// - `comparison` curves (baselines) are drawn on the equity chart under the main curve, each in
//   its own palette colour (after kComparisonPalette colours the dash pattern changes instead),
//   each downsampled like the main one; the y and time ranges cover every line, and a legend
//   names the main curve (`equity_name`) and every comparison curve. Without a main equity
//   curve the chart shows its "no data" box.
// - `calibration` bins become a "Calibration" chart after the price chart: mean predicted
//   probability against observed up-rate on 0..1 axes, the diagonal as a dashed reference, one
//   dot per bin with an area growing with its count. Bins with non-finite values or values
//   outside [0, 1] are skipped and counted in the caption.
// - `paragraphs` are shown as a "Summary" card right after the notes.
#pragma once

#include <cstddef>
#include <cstdint>
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

// A named curve drawn next to the main equity curve (a baseline such as "buy_and_hold").
struct NamedSeries {
  std::string name;
  std::vector<SeriesPoint> points;
};

// One calibration bin: rows whose predicted probability fell in the bin.
struct CalibrationPoint {
  double mean_predicted = 0;  // mean predicted probability of the bin's rows, in [0, 1]
  double observed_rate = 0;   // fraction of the bin's rows whose outcome was "up", in [0, 1]
  uint64_t count = 0;         // rows in the bin
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
  // Legend name of `equity` when comparison curves share its chart.
  std::string equity_name = "strategy";
  // Extra curves on the equity chart, e.g. buy_and_hold, sma_cross, random_signal.
  std::vector<NamedSeries> comparison;
  // Reliability diagram bins; empty: no calibration chart.
  std::vector<CalibrationPoint> calibration;
  // Short plain-text summary paragraphs (e.g. an honest one-sentence verdict).
  std::vector<std::string> paragraphs;
};

// Number of distinct colours for comparison curves.
inline constexpr size_t kComparisonPalette = 8;

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
