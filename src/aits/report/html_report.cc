#include "aits/report/html_report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>

namespace aits::report {
namespace {

constexpr std::string_view kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Chart canvas in SVG user units; the SVG scales to the page width through its viewBox.
constexpr double kChartWidth = 1000;
constexpr double kMarginRight = 16;
constexpr double kMarginTop = 12;
constexpr double kMarginBottom = 26;
constexpr double kCharWidth = 6.4;  // average glyph width of the 11-unit axis font
constexpr double kMinMarginLeft = 72;

void Append(std::string& out, std::string_view text) { out.append(text); }

// printf-style append; every call site formats a handful of numbers, so 256 bytes suffice.
[[gnu::format(printf, 2, 3)]] void AppendF(std::string& out, const char* format, ...) {
  char buffer[256];
  va_list args;
  va_start(args, format);
  const int len = std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  if (len > 0) out.append(buffer, std::min(static_cast<size_t>(len), sizeof(buffer) - 1));
}

void AppendEscaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

std::string Escaped(std::string_view text) {
  std::string out;
  AppendEscaped(out, text);
  return out;
}

// Inserts thousands separators into the integer part of a formatted number.
std::string GroupThousands(std::string text) {
  size_t start = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  size_t end = text.find('.');
  if (end == std::string::npos) end = text.size();
  for (size_t pos = end; pos > start + 3; pos -= 3) text.insert(pos - 3, ",");
  return text;
}

std::string FormatFixed(double value, int decimals, bool group = true) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  std::string text = buffer;
  if (text == "-0" || text.rfind("-0.", 0) == 0) {
    // Avoid "-0.00" tick labels from values a hair below zero.
    if (std::strtod(text.c_str(), nullptr) == 0) text.erase(0, 1);
  }
  return group ? GroupThousands(std::move(text)) : text;
}

std::string FormatCount(size_t count) { return GroupThousands(std::to_string(count)); }

// Fewest decimals (up to `max_decimals`) that show `value` exactly at that precision.
int DecimalsFor(double value, int max_decimals) {
  value = std::fabs(value);
  double scale = 1;
  for (int decimals = 0; decimals < max_decimals; ++decimals, scale *= 10) {
    const double scaled = value * scale;
    if (std::fabs(scaled - std::round(scaled)) <= 1e-6 * std::max(1.0, scaled)) return decimals;
  }
  return max_decimals;
}

bool ByTime(const SeriesPoint& a, const SeriesPoint& b) { return a.ts < b.ts; }

// Finite points sorted by time (stable, so equal timestamps keep their order).
std::vector<SeriesPoint> CleanSeries(const std::vector<SeriesPoint>& points) {
  std::vector<SeriesPoint> clean;
  clean.reserve(points.size());
  for (const SeriesPoint& point : points) {
    if (std::isfinite(point.value)) clean.push_back(point);
  }
  if (!std::is_sorted(clean.begin(), clean.end(), ByTime)) {
    std::stable_sort(clean.begin(), clean.end(), ByTime);
  }
  return clean;
}

// ---------------------------------------------------------------------------------------------
// Axes

struct Tick {
  double pos = 0;  // value (y axis) or nanoseconds (x axis)
  std::string label;
};

enum class ValueKind { kMoney, kPercent, kPrice };

struct ValueAxis {
  double min = 0;
  double max = 1;
  double step = 1;
  int decimals = 0;
  std::vector<Tick> ticks;
};

double NiceStep(double rough) {
  if (!(rough > 0) || !std::isfinite(rough)) return 1;
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  const double fraction = rough / magnitude;
  double nice = 10;
  if (fraction <= 1) {
    nice = 1;
  } else if (fraction <= 2) {
    nice = 2;
  } else if (fraction <= 2.5) {
    nice = 2.5;
  } else if (fraction <= 5) {
    nice = 5;
  }
  return nice * magnitude;
}

// Value axis over [lo, hi] (already padded, lo < hi). Values of kPercent are fractions.
ValueAxis MakeValueAxis(double lo, double hi, ValueKind kind, int target_ticks) {
  ValueAxis axis;
  axis.min = lo;
  axis.max = hi;
  axis.step = NiceStep((hi - lo) / target_ticks);
  const double shown_step = kind == ValueKind::kPercent ? axis.step * 100 : axis.step;
  axis.decimals = DecimalsFor(shown_step, 8);
  const double first = std::ceil(lo / axis.step - 1e-9) * axis.step;
  for (int index = 0; index < 64; ++index) {
    const double value = first + index * axis.step;
    if (value > hi + axis.step * 1e-9) break;
    Tick tick;
    tick.pos = value;
    if (kind == ValueKind::kPercent) {
      tick.label = FormatFixed(value * 100, axis.decimals) + "%";
    } else {
      tick.label = FormatFixed(value, axis.decimals, kind == ValueKind::kMoney);
    }
    axis.ticks.push_back(std::move(tick));
  }
  return axis;
}

std::string TimeLabel(int64_t ns, int64_t step_ns, bool multi_day, bool months, bool years) {
  const CivilTime c = ToCivil(Timestamp{ns});
  char buffer[48];
  if (years) {
    std::snprintf(buffer, sizeof(buffer), "%04d", c.year);
  } else if (months) {
    std::snprintf(buffer, sizeof(buffer), "%s %04d", kMonthNames[c.month - 1].data(), c.year);
  } else if (step_ns >= kNanosPerDay) {
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", c.year, c.month, c.day);
  } else if (step_ns < 60 * kNanosPerSecond) {
    std::snprintf(buffer, sizeof(buffer), "%02d:%02d:%02d", c.hour, c.minute, c.second);
  } else if (multi_day) {
    std::snprintf(buffer, sizeof(buffer), "%s %02d %02d:%02d", kMonthNames[c.month - 1].data(),
                  c.day, c.hour, c.minute);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%02d:%02d", c.hour, c.minute);
  }
  return buffer;
}

// Calendar-aligned time ticks: clock times within a day, dates across days, months and years
// across longer spans.
std::vector<Tick> MakeTimeTicks(int64_t t0, int64_t t1, int max_ticks) {
  std::vector<Tick> ticks;
  // Keep a margin from the int64 limits so aligning to a step cannot overflow.
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() - 60 * kNanosPerDay;
  t0 = std::clamp(t0, -kLimit, kLimit);
  t1 = std::clamp(t1, -kLimit, kLimit);
  if (t1 <= t0) return ticks;
  const double span = static_cast<double>(t1) - static_cast<double>(t0);
  constexpr int64_t kSec = kNanosPerSecond;
  constexpr int64_t kFixedSteps[] = {kSec,
                                     2 * kSec,
                                     5 * kSec,
                                     10 * kSec,
                                     15 * kSec,
                                     30 * kSec,
                                     60 * kSec,
                                     120 * kSec,
                                     300 * kSec,
                                     600 * kSec,
                                     900 * kSec,
                                     1800 * kSec,
                                     3600 * kSec,
                                     7200 * kSec,
                                     10800 * kSec,
                                     21600 * kSec,
                                     43200 * kSec,
                                     kNanosPerDay,
                                     2 * kNanosPerDay,
                                     7 * kNanosPerDay,
                                     14 * kNanosPerDay};
  const bool multi_day = FloorToDay(Timestamp{t0}) != FloorToDay(Timestamp{t1});
  for (const int64_t step : kFixedSteps) {
    if (span / static_cast<double>(step) > max_ticks) continue;
    // Weeks start on Monday (1970-01-05); shorter steps divide the day and align to midnight.
    const int64_t origin =
        step == 7 * kNanosPerDay || step == 14 * kNanosPerDay ? 4 * kNanosPerDay : 0;
    int64_t first = (t0 - origin) / step * step + origin;
    if (first < t0) first += step;
    // The span is small here, so t1 - t cannot overflow even next to the int64 limits.
    for (int64_t t = first; t <= t1; t += step) {
      ticks.push_back({static_cast<double>(t), TimeLabel(t, step, multi_day, false, false)});
      if (t1 - t < step) break;
    }
    return ticks;
  }
  // Month and year steps follow the calendar.
  const CivilTime start = ToCivil(Timestamp{t0});
  constexpr int kMonthSteps[] = {1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200};
  const double average_month = 30.44 * static_cast<double>(kNanosPerDay);
  int months_step = kMonthSteps[std::size(kMonthSteps) - 1];
  for (const int candidate : kMonthSteps) {
    if (span / (candidate * average_month) <= max_ticks) {
      months_step = candidate;
      break;
    }
  }
  int64_t month_index = static_cast<int64_t>(start.year) * 12 + (start.month - 1);
  month_index = (month_index + months_step - 1) / months_step * months_step;
  for (int guard = 0; guard < 64; ++guard, month_index += months_step) {
    const int year = static_cast<int>(month_index / 12);
    const int month = static_cast<int>(month_index % 12) + 1;
    // int64 nanoseconds cover 1677-09 to 2262-04; stay inside so FromCivil cannot overflow.
    if (year < 1678) continue;
    if (year > 2261) break;
    const int64_t t = FromCivil(year, month, 1).ns;
    if (t < t0) continue;
    if (t > t1) break;
    ticks.push_back({static_cast<double>(t), TimeLabel(t, 0, true, true, months_step >= 12)});
  }
  return ticks;
}

// ---------------------------------------------------------------------------------------------
// Charts

struct Frame {
  double left = 0, right = 0, top = 0, bottom = 0;
  int64_t t_min = 0, t_max = 1;
  double v_min = 0, v_max = 1;

  double X(int64_t t) const {
    return left + (right - left) * ((static_cast<double>(t) - static_cast<double>(t_min)) /
                                    (static_cast<double>(t_max) - static_cast<double>(t_min)));
  }
  double Y(double v) const { return bottom - (bottom - top) * ((v - v_min) / (v_max - v_min)); }
};

struct ChartSpec {
  std::string_view id;     // unique per document: prefixes gradient ids
  std::string_view title;  // for aria-label
  double height = 300;
  ValueKind kind = ValueKind::kMoney;
  bool negate = false;  // drawdown: fractions below peak plotted downwards from zero
};

// Range of the finite values, padded so a flat series does not divide by zero and lines do not
// touch the frame.
void ValueRange(const std::vector<SeriesPoint>& points, const std::vector<double>& extra,
                const ChartSpec& spec, double* lo, double* hi) {
  double min = std::numeric_limits<double>::infinity();
  double max = -min;
  for (const SeriesPoint& point : points) {
    const double value = spec.negate ? -point.value : point.value;
    min = std::min(min, value);
    max = std::max(max, value);
  }
  for (const double value : extra) {
    min = std::min(min, value);
    max = std::max(max, value);
  }
  if (spec.negate) {
    // The area hangs from zero; a drawdown-free run still shows a 1% scale.
    max = 0;
    if (!(min < 0)) min = -0.01;
    *lo = min - (max - min) * 0.06;
    *hi = max;
    return;
  }
  if (!(max > min)) {
    const double pad = max == 0 ? 1 : std::fabs(max) * 0.01;
    min -= pad;
    max += pad;
  }
  const double pad = (max - min) * 0.06;
  *lo = min - pad;
  *hi = max + pad;
}

void AppendPoints(std::string& out, const Frame& frame, const std::vector<SeriesPoint>& points,
                  bool negate) {
  for (size_t index = 0; index < points.size(); ++index) {
    const SeriesPoint& point = points[index];
    AppendF(out, index == 0 ? "%.1f,%.1f" : " %.1f,%.1f", frame.X(point.ts.ns),
            frame.Y(negate ? -point.value : point.value));
  }
}

// Data for the optional hover read-out: seconds since the first point and the plotted values.
void AppendHoverData(std::string& out, const std::vector<SeriesPoint>& points, const Frame& frame,
                     int value_decimals) {
  AppendF(out, " data-t0=\"%lld\" data-dec=\"%d\" data-t=\"",
          static_cast<long long>(frame.t_min / kNanosPerSecond), value_decimals);
  for (size_t index = 0; index < points.size(); ++index) {
    AppendF(out, index == 0 ? "%lld" : " %lld",
            static_cast<long long>(points[index].ts.ns / kNanosPerSecond -
                                   frame.t_min / kNanosPerSecond));
  }
  Append(out, "\" data-v=\"");
  for (size_t index = 0; index < points.size(); ++index) {
    AppendF(out, index == 0 ? "%.*f" : " %.*f", value_decimals + 2, points[index].value);
  }
  Append(out, "\"");
}

struct TradeSelection {
  std::vector<const TradeMarker*> drawn;
  size_t total = 0;
  size_t longs = 0;
  size_t shorts = 0;
  size_t winners = 0;
  size_t losers = 0;
  size_t flat = 0;
  size_t outside = 0;  // entry outside the price series' time range
  size_t invalid = 0;  // non-finite prices
};

// Picks the trades to draw: all of them when few, otherwise the largest |P&L| in each of
// kMaxDrawnTrades equal time slices, so the chart stays light and still shows the notable trades
// spread over the whole period.
TradeSelection SelectTrades(const std::vector<TradeMarker>& trades, int64_t t_min, int64_t t_max) {
  TradeSelection selection;
  selection.total = trades.size();
  std::vector<const TradeMarker*> visible;
  visible.reserve(std::min(trades.size(), kMaxDrawnTrades * 4));
  for (const TradeMarker& trade : trades) {
    (trade.is_long ? selection.longs : selection.shorts)++;
    if (trade.net_pnl > 0) {
      ++selection.winners;
    } else if (trade.net_pnl < 0) {
      ++selection.losers;
    } else {
      ++selection.flat;
    }
    if (!std::isfinite(trade.entry_price) || !std::isfinite(trade.exit_price)) {
      ++selection.invalid;
      continue;
    }
    if (trade.entry_time.ns < t_min || trade.entry_time.ns > t_max) {
      ++selection.outside;
      continue;
    }
    if (trades.size() <= kMaxDrawnTrades) visible.push_back(&trade);
  }
  if (trades.size() <= kMaxDrawnTrades) {
    selection.drawn = std::move(visible);
    return selection;
  }
  std::vector<const TradeMarker*> best(kMaxDrawnTrades, nullptr);
  const double span = std::max(static_cast<double>(t_max) - static_cast<double>(t_min), 1.0);
  for (const TradeMarker& trade : trades) {
    if (!std::isfinite(trade.entry_price) || !std::isfinite(trade.exit_price)) continue;
    if (trade.entry_time.ns < t_min || trade.entry_time.ns > t_max) continue;
    const double fraction =
        (static_cast<double>(trade.entry_time.ns) - static_cast<double>(t_min)) / span;
    const size_t slot = std::min(
        kMaxDrawnTrades - 1, static_cast<size_t>(fraction * static_cast<double>(kMaxDrawnTrades)));
    const TradeMarker*& current = best[slot];
    if (current == nullptr || std::fabs(trade.net_pnl) > std::fabs(current->net_pnl)) {
      current = &trade;
    }
  }
  for (const TradeMarker* trade : best) {
    if (trade != nullptr) selection.drawn.push_back(trade);
  }
  return selection;
}

// A comparison curve ready to draw: cleaned, downsampled, with its palette slot.
struct Overlay {
  std::string_view name;
  std::vector<SeriesPoint> points;
  size_t slot = 0;  // index into kPalette; the dash pattern changes every kComparisonPalette
};

// Comparison colours: none is the main curve's blue, neighbours differ in hue and lightness.
constexpr std::string_view kPalette[kComparisonPalette] = {
    "#d97706", "#7c3aed", "#059669", "#db2777", "#0891b2", "#65a30d", "#475569", "#b45309"};

// Palette class of a slot: "k3", plus " alt" from the second round of colours on.
std::string SlotClass(size_t slot) {
  std::string cls = "k" + std::to_string(slot % kComparisonPalette);
  if (slot >= kComparisonPalette) cls += " alt";
  return cls;
}

void AppendNoData(std::string& out, std::string_view message) {
  Append(out, "<div class=\"nodata\">");
  AppendEscaped(out, message);
  Append(out, "</div>\n");
}

// Draws one chart. `points` is already cleaned and downsampled; `trades` only for the price chart;
// `overlays` (cleaned and downsampled too) only for the equity chart.
void AppendChart(std::string& out, const ChartSpec& spec, const std::vector<SeriesPoint>& points,
                 const TradeSelection* trades, int price_decimals,
                 const std::vector<Overlay>* overlays = nullptr) {
  std::vector<double> extra;
  if (trades != nullptr) {
    for (const TradeMarker* trade : trades->drawn) {
      extra.push_back(trade->entry_price);
      extra.push_back(trade->exit_price);
    }
  }
  // The time span covers every line, so no overlay is drawn outside the frame.
  int64_t t_first = points.front().ts.ns;
  int64_t t_last = points.back().ts.ns;
  if (overlays != nullptr) {
    for (const Overlay& overlay : *overlays) {
      if (overlay.points.empty()) continue;
      t_first = std::min(t_first, overlay.points.front().ts.ns);
      t_last = std::max(t_last, overlay.points.back().ts.ns);
      for (const SeriesPoint& point : overlay.points) extra.push_back(point.value);
    }
  }
  double lo = 0;
  double hi = 1;
  ValueRange(points, extra, spec, &lo, &hi);
  if (!std::isfinite(hi - lo) || !(hi > lo)) {
    AppendNoData(out, "Values span too wide a range to chart.");
    return;
  }
  const int target_ticks = spec.height < 240 ? 4 : 6;
  const ValueAxis axis = MakeValueAxis(lo, hi, spec.kind, target_ticks);

  size_t label_chars = 1;
  for (const Tick& tick : axis.ticks) label_chars = std::max(label_chars, tick.label.size());

  Frame frame;
  // A common minimum keeps the plots of the stacked charts aligned on the time axis.
  frame.left = std::max(kMinMarginLeft, 12 + kCharWidth * static_cast<double>(label_chars));
  frame.right = kChartWidth - kMarginRight;
  frame.top = kMarginTop;
  frame.bottom = spec.height - kMarginBottom;
  frame.t_min = t_first;
  frame.t_max = t_last;
  if (frame.t_max <= frame.t_min) {
    // One instant: centre it in a one-hour window.
    constexpr int64_t kHalfHour = 1800 * kNanosPerSecond;
    const int64_t limit = std::numeric_limits<int64_t>::max() - kHalfHour;
    frame.t_min = std::clamp(frame.t_min, -limit, limit) - kHalfHour;
    frame.t_max = frame.t_min + 2 * kHalfHour;
  }
  frame.v_min = lo;
  frame.v_max = hi;

  AppendF(out,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" "
          "preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"",
          kChartWidth, spec.height);
  AppendEscaped(out, spec.title);
  AppendF(out, "\" data-kind=\"%s\" data-neg=\"%d\" data-l=\"%.1f\" data-r=\"%.1f\"",
          spec.kind == ValueKind::kPercent ? "pct"
          : spec.kind == ValueKind::kPrice ? "price"
                                           : "money",
          spec.negate ? 1 : 0, frame.left, frame.right);
  const int hover_decimals =
      spec.kind == ValueKind::kPrice ? price_decimals : (spec.kind == ValueKind::kMoney ? 2 : 4);
  AppendHoverData(out, points, frame, hover_decimals);
  Append(out, ">\n");

  if (spec.negate || spec.kind != ValueKind::kPrice) {
    AppendF(out, "<defs><linearGradient id=\"%.*s-fill\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">",
            static_cast<int>(spec.id.size()), spec.id.data());
    if (spec.negate) {
      Append(out,
             "<stop offset=\"0\" stop-color=\"#dc2626\" stop-opacity=\"0.08\"/>"
             "<stop offset=\"1\" stop-color=\"#dc2626\" stop-opacity=\"0.38\"/>");
    } else {
      Append(out,
             "<stop offset=\"0\" stop-color=\"#2563eb\" stop-opacity=\"0.22\"/>"
             "<stop offset=\"1\" stop-color=\"#2563eb\" stop-opacity=\"0.02\"/>");
    }
    Append(out, "</linearGradient></defs>\n");
  }

  // Grid and value axis.
  Append(out, "<g class=\"grid\">");
  for (const Tick& tick : axis.ticks) {
    AppendF(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", frame.left, frame.right,
            frame.Y(tick.pos), frame.Y(tick.pos));
  }
  const std::vector<Tick> time_ticks = MakeTimeTicks(t_first, t_last, 7);
  for (const Tick& tick : time_ticks) {
    const double x = frame.X(static_cast<int64_t>(tick.pos));
    AppendF(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x, x, frame.top,
            frame.bottom);
  }
  Append(out, "</g>\n<g class=\"axis\">");
  for (const Tick& tick : axis.ticks) {
    AppendF(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", frame.left - 8,
            frame.Y(tick.pos) + 3.8);
    AppendEscaped(out, tick.label);
    Append(out, "</text>");
  }
  for (const Tick& tick : time_ticks) {
    const double x = frame.X(static_cast<int64_t>(tick.pos));
    // Keep edge labels inside the canvas.
    const double half = kCharWidth * static_cast<double>(tick.label.size()) / 2;
    const char* anchor = "middle";
    double label_x = x;
    if (x - half < frame.left - 4) {
      anchor = "start";
      label_x = std::max(x, frame.left - 4);
    } else if (x + half > kChartWidth - 2) {
      anchor = "end";
    }
    AppendF(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", label_x, frame.bottom + 17,
            anchor);
    AppendEscaped(out, tick.label);
    Append(out, "</text>");
  }
  AppendF(out, "<line class=\"frame\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
          frame.left, frame.right, frame.bottom, frame.bottom);
  if (spec.negate || (lo < 0 && hi > 0)) {
    AppendF(out, "<line class=\"zero\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
            frame.left, frame.right, frame.Y(0), frame.Y(0));
  }
  Append(out, "</g>\n");

  // Series.
  if (points.size() > 1 && spec.kind != ValueKind::kPrice) {
    // Area: to zero for drawdown, to the bottom of the frame for equity.
    const double base = spec.negate ? frame.Y(0) : frame.bottom;
    AppendF(out, "<polygon class=\"area\" fill=\"url(#%.*s-fill)\" points=\"%.1f,%.1f ",
            static_cast<int>(spec.id.size()), spec.id.data(), frame.X(points.front().ts.ns), base);
    AppendPoints(out, frame, points, spec.negate);
    AppendF(out, " %.1f,%.1f\"/>\n", frame.X(points.back().ts.ns), base);
  }
  // Comparison curves sit under the main line, which stays the first polyline.series for the
  // hover script.
  if (overlays != nullptr) {
    for (const Overlay& overlay : *overlays) {
      const std::string cls = SlotClass(overlay.slot);
      if (overlay.points.size() == 1) {
        AppendF(out, "<circle class=\"cdot %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>",
                cls.c_str(), frame.X(overlay.points[0].ts.ns), frame.Y(overlay.points[0].value));
      } else if (overlay.points.size() > 1) {
        AppendF(out, "<polyline class=\"cmp %s\" points=\"", cls.c_str());
        AppendPoints(out, frame, overlay.points, false);
        Append(out, "\"><title>");
      } else {
        continue;
      }
      AppendEscaped(out, overlay.name);
      Append(out, overlay.points.size() == 1 ? "</title></circle>\n" : "</title></polyline>\n");
    }
  }
  if (points.size() == 1) {
    AppendF(out, "<circle class=\"dot s-%.*s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>\n",
            static_cast<int>(spec.id.size()), spec.id.data(), frame.X(points[0].ts.ns),
            frame.Y(spec.negate ? -points[0].value : points[0].value));
  } else {
    AppendF(out, "<polyline class=\"series s-%.*s\" points=\"", static_cast<int>(spec.id.size()),
            spec.id.data());
    AppendPoints(out, frame, points, spec.negate);
    Append(out, "\"/>\n");
  }

  if (trades != nullptr && !trades->drawn.empty()) {
    // Links first so the markers sit on top of them.
    Append(out, "<g class=\"links\">");
    for (const TradeMarker* trade : trades->drawn) {
      const char* cls = trade->net_pnl > 0 ? "win" : (trade->net_pnl < 0 ? "loss" : "flat");
      const int64_t exit_ns = std::clamp(trade->exit_time.ns, frame.t_min, frame.t_max);
      AppendF(out, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", cls,
              frame.X(trade->entry_time.ns), frame.Y(trade->entry_price), frame.X(exit_ns),
              frame.Y(trade->exit_price));
    }
    // Dense charts get smaller markers so neighbours stay distinguishable.
    const double size = trades->drawn.size() > 150 ? 0.7 : 1.0;
    Append(out, size < 1 ? "</g>\n<g class=\"marks dense\">" : "</g>\n<g class=\"marks\">");
    for (const TradeMarker* trade : trades->drawn) {
      const char* cls = trade->net_pnl > 0 ? "win" : (trade->net_pnl < 0 ? "loss" : "flat");
      const double ex = frame.X(trade->entry_time.ns);
      const double ey = frame.Y(trade->entry_price);
      AppendF(out, "<g class=\"%s\"><title>", cls);
      Append(out, trade->is_long ? "Long " : "Short ");
      Append(out, FormatDateTime(trade->entry_time));
      Append(out, " @ ");
      Append(out, FormatFixed(trade->entry_price, price_decimals, false));
      Append(out, " \xE2\x86\x92 ");  // right arrow
      Append(out, FormatDateTime(trade->exit_time));
      Append(out, " @ ");
      Append(out, FormatFixed(trade->exit_price, price_decimals, false));
      Append(out, ", P&amp;L ");
      Append(out, trade->net_pnl > 0 ? "+" : "");
      Append(out, FormatFixed(trade->net_pnl, 2));
      Append(out, "</title>");
      const double half = 5 * size;
      const double tall = 8.5 * size;
      if (trade->is_long) {
        AppendF(out, "<path d=\"M%.1f %.1fl%.1f %.1fh%.1fz\"/>", ex, ey - tall / 2, half, tall,
                -2 * half);
      } else {
        AppendF(out, "<path d=\"M%.1f %.1fl%.1f %.1fh%.1fz\"/>", ex, ey + tall / 2, half, -tall,
                -2 * half);
      }
      if (trade->exit_time.ns >= frame.t_min && trade->exit_time.ns <= frame.t_max) {
        AppendF(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>", frame.X(trade->exit_time.ns),
                frame.Y(trade->exit_price), 3.6 * size);
      }
      Append(out, "</g>");
    }
    Append(out, "</g>\n");
  }

  // Hover read-out, filled in by the optional script.
  AppendF(out,
          "<g class=\"hover\" visibility=\"hidden\"><line class=\"cross\" y1=\"%.1f\" "
          "y2=\"%.1f\"/><circle class=\"hdot\" r=\"4\"/><rect class=\"tipbox\" rx=\"4\" "
          "height=\"22\"/><text class=\"tip\"></text></g>\n",
          frame.top, frame.bottom);
  Append(out, "</svg>\n");
}

void AppendLegendItem(std::string& out, std::string_view swatch_class, std::string_view label) {
  Append(out, "<span class=\"li\"><span class=\"");
  Append(out, swatch_class);
  Append(out, "\"></span>");
  AppendEscaped(out, label);
  Append(out, "</span>");
}

void AppendChartSection(std::string& out, std::string_view heading, std::string_view legend_html,
                        std::string_view body, std::string_view caption_html) {
  Append(out, "<section class=\"card chart-card\">\n<div class=\"chart-head\"><h2>");
  AppendEscaped(out, heading);
  Append(out, "</h2><div class=\"legend\">");
  Append(out, legend_html);
  Append(out, "</div></div>\n<div class=\"chart-wrap\">");
  Append(out, body);
  Append(out, "</div>\n");
  if (!caption_html.empty()) {
    Append(out, "<p class=\"caption\">");
    Append(out, caption_html);
    Append(out, "</p>\n");
  }
  Append(out, "</section>\n");
}

int PriceDecimals(const std::vector<SeriesPoint>& points) {
  int decimals = 0;
  const size_t stride = std::max<size_t>(1, points.size() / 256);
  for (size_t index = 0; index < points.size(); index += stride) {
    decimals = std::max(decimals, DecimalsFor(points[index].value, 6));
  }
  return std::max(decimals, 2);
}

bool LooksNegative(std::string_view value) {
  size_t pos = value.find_first_not_of(' ');
  if (pos == std::string_view::npos) return false;
  if (value[pos] == '-' && pos + 1 < value.size() &&
      (std::isdigit(static_cast<unsigned char>(value[pos + 1])) || value[pos + 1] == '$')) {
    return true;
  }
  return value.substr(pos, 3) == "\xE2\x88\x92";  // U+2212 minus sign
}

// Reliability diagram on a square plot with both axes 0..1. Returns the caption.
std::string AppendCalibrationChart(std::string& out, const std::vector<CalibrationPoint>& bins) {
  // Rounding in the caller's binning may land a hair outside [0, 1]; that still counts as inside.
  constexpr double kSlack = 1e-9;
  const auto in_unit = [](double value) {
    return std::isfinite(value) && value >= -kSlack && value <= 1 + kSlack;
  };
  std::vector<const CalibrationPoint*> drawn;
  drawn.reserve(bins.size());
  uint64_t rows = 0;
  uint64_t max_count = 0;
  for (const CalibrationPoint& bin : bins) {
    if (!in_unit(bin.mean_predicted) || !in_unit(bin.observed_rate)) continue;
    drawn.push_back(&bin);
    // Saturate: counts come from the caller and a wrapped total would be a silent lie.
    rows = bin.count > std::numeric_limits<uint64_t>::max() - rows
               ? std::numeric_limits<uint64_t>::max()
               : rows + bin.count;
    max_count = std::max(max_count, bin.count);
  }
  const size_t skipped = bins.size() - drawn.size();
  std::string caption = FormatCount(drawn.size()) + (drawn.size() == 1 ? " bin, " : " bins, ") +
                        FormatCount(rows) + (rows == 1 ? " row." : " rows.");
  if (skipped > 0) {
    caption += " " + FormatCount(skipped) + (skipped == 1 ? " bin" : " bins") +
               " skipped (non-finite or outside 0..1).";
  }
  if (drawn.empty()) {
    AppendNoData(out, "No calibration bin has finite values in [0, 1].");
    return caption;
  }

  constexpr double kWidth = 460;
  constexpr double kHeight = 440;
  constexpr double kLeft = 60;
  constexpr double kRight = 440;
  constexpr double kTop = 14;
  constexpr double kBottom = 394;
  // Dot radius bounds: the smallest stays visible, the largest does not hide its neighbours.
  constexpr double kMinRadius = 2.5;
  constexpr double kMaxRadius = 13;
  const auto x_of = [](double p) { return kLeft + (kRight - kLeft) * std::clamp(p, 0.0, 1.0); };
  const auto y_of = [](double p) { return kBottom - (kBottom - kTop) * std::clamp(p, 0.0, 1.0); };

  AppendF(out,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart calib\" viewBox=\"0 0 %.0f "
          "%.0f\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"Calibration: "
          "observed up-rate against mean predicted probability\">\n",
          kWidth, kHeight);
  Append(out, "<g class=\"grid\">");
  for (int step = 0; step <= 5; ++step) {
    const double p = step / 5.0;
    AppendF(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", kLeft, kRight, y_of(p),
            y_of(p));
    AppendF(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x_of(p), x_of(p), kTop,
            kBottom);
  }
  Append(out, "</g>\n<g class=\"axis\">");
  for (int step = 0; step <= 5; ++step) {
    const double p = step / 5.0;
    AppendF(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>", kLeft - 8,
            y_of(p) + 3.8, p);
    AppendF(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>", x_of(p),
            kBottom + 17, p);
  }
  AppendF(out, "<line class=\"frame\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", kLeft,
          kRight, kBottom, kBottom);
  AppendF(out, "<line class=\"frame\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", kLeft,
          kLeft, kTop, kBottom);
  AppendF(out,
          "<text class=\"atitle\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">Mean predicted "
          "probability</text>",
          (kLeft + kRight) / 2, kBottom + 38);
  AppendF(out,
          "<text class=\"atitle\" transform=\"rotate(-90)\" x=\"%.1f\" y=\"16\" "
          "text-anchor=\"middle\">Observed up-rate</text>",
          -(kTop + kBottom) / 2);
  Append(out, "</g>\n");
  AppendF(out,
          "<line class=\"diag\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
          "stroke-dasharray=\"5 4\"/>\n",
          x_of(0), y_of(0), x_of(1), y_of(1));
  // Largest first so small bins stay on top and can be hovered.
  std::stable_sort(
      drawn.begin(), drawn.end(),
      [](const CalibrationPoint* a, const CalibrationPoint* b) { return a->count > b->count; });
  Append(out, "<g class=\"bins\">");
  for (const CalibrationPoint* bin : drawn) {
    // Radius grows with sqrt(count) so the dot's area, not its width, tracks the row count.
    const double share =
        max_count == 0
            ? 0
            : std::sqrt(static_cast<double>(bin->count) / static_cast<double>(max_count));
    const double radius = std::clamp(kMaxRadius * share, kMinRadius, kMaxRadius);
    AppendF(out, "<circle class=\"cal\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"><title>",
            x_of(bin->mean_predicted), y_of(bin->observed_rate), radius);
    AppendF(out, "predicted %.3f, observed %.3f, ", bin->mean_predicted, bin->observed_rate);
    Append(out, FormatCount(bin->count));
    Append(out, bin->count == 1 ? " row</title></circle>" : " rows</title></circle>");
  }
  Append(out, "</g>\n</svg>\n");
  return caption;
}

// Styles used only by the evaluation extras; emitted only when one of them is present so plain
// backtest reports stay unchanged.
void AppendExtraCss(std::string& out) {
  for (size_t slot = 0; slot < kComparisonPalette; ++slot) {
    const std::string_view colour = kPalette[slot];
    AppendF(out, ".sw.k%zu{border-color:%.*s}.cmp.k%zu{stroke:%.*s}.cdot.k%zu{fill:%.*s}\n", slot,
            static_cast<int>(colour.size()), colour.data(), slot, static_cast<int>(colour.size()),
            colour.data(), slot, static_cast<int>(colour.size()), colour.data());
  }
  Append(out,
         ".cmp{fill:none;stroke-width:1.3;stroke-linejoin:round;stroke-linecap:round;"
         "opacity:.92}\n.cmp.alt{stroke-dasharray:6 3}.sw.alt{border-top-style:dashed}\n"
         "svg.chart.calib{max-width:560px;min-width:320px;margin:0 auto}\n"
         ".calib .diag{stroke:#94a3b8;stroke-width:1.2}\n"
         ".calib .bins circle{fill:var(--accent);fill-opacity:.5;stroke:var(--accent);"
         "stroke-width:1}\n.calib .bins circle:hover{fill-opacity:.85}\n"
         "svg.chart .atitle{font-size:11.5px;fill:#334155}\n"
         ".bdot{width:10px;height:10px;border-radius:50%;background:rgba(37,99,235,.5);"
         "border:1px solid var(--accent)}\n"
         ".summary{margin:12px 0 16px}.summary p{margin:6px 0 0;max-width:90ch}\n");
}

constexpr std::string_view kCss = R"CSS(
:root{--fg:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f5f7fb;--card:#fff;--accent:#2563eb;
--win:#16a34a;--loss:#dc2626;--flat:#64748b}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",
"Liberation Sans",sans-serif}
main{max-width:1240px;margin:0 auto;padding:28px 24px 40px}
header{margin-bottom:18px}
h1{font-size:26px;line-height:1.2;margin:0 0 6px;font-weight:650;letter-spacing:-.015em}
.sub{margin:0;color:var(--muted)}
.meta{display:flex;flex-wrap:wrap;gap:8px;margin-top:12px}
.chip{background:#e8eefc;color:#1e3a8a;border-radius:999px;padding:3px 11px;font-size:12.5px;
font-weight:550}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 18px;
box-shadow:0 1px 2px rgba(15,23,42,.05)}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:16px;
margin-bottom:16px;align-items:start}
.stats.few{grid-template-columns:repeat(auto-fill,minmax(300px,1fr))}
h2{font-size:12px;text-transform:uppercase;letter-spacing:.07em;color:var(--muted);margin:0 0 8px;
font-weight:650}
table{width:100%;border-collapse:collapse}
td{padding:5px 0;border-top:1px solid #eef2f7;vertical-align:top}
tr:first-child td{border-top:0}
td.k{color:#334155;padding-right:12px}
td.v{text-align:right;font-variant-numeric:tabular-nums;font-weight:600;white-space:nowrap}
td.v.neg{color:var(--loss)}
.chart-card{margin-top:16px}
.chart-head{display:flex;justify-content:space-between;align-items:baseline;flex-wrap:wrap;
gap:6px 16px;margin-bottom:6px}
.chart-head h2{margin:0}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;color:var(--muted);font-size:12px;
align-items:center}
.li{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:16px;height:0;border-top:2px solid}
.sw.eq{border-color:var(--accent)}.sw.dd{border-color:var(--loss)}.sw.px{border-color:#334155}
.sw.area{height:10px;border:0;border-radius:2px;background:rgba(220,38,38,.3)}
.sw.link{border-top:1.5px dashed var(--muted)}
.up,.down{width:0;height:0;border-left:5px solid transparent;border-right:5px solid transparent}
.up{border-bottom:9px solid var(--muted)}.down{border-top:9px solid var(--muted)}
.ring{width:8px;height:8px;border-radius:50%;background:var(--muted)}
.dotw,.dotl{width:10px;height:10px;border-radius:2px}
.dotw{background:var(--win)}.dotl{background:var(--loss)}
.chart-wrap{overflow-x:auto}
svg.chart{display:block;width:100%;height:auto;min-width:620px}
svg.chart text{font-size:11px;fill:#64748b;font-family:inherit}
.grid line{stroke:#edf1f7;stroke-width:1}
.axis .frame{stroke:#cbd5e1}.axis .zero{stroke:#94a3b8;stroke-dasharray:3 3}
.series{fill:none;stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round}
.s-equity{stroke:var(--accent)}.s-drawdown{stroke:var(--loss);stroke-width:1.2}
.s-price{stroke:#334155;stroke-width:1.1}
.dot.s-equity{fill:var(--accent)}.dot.s-drawdown{fill:var(--loss)}.dot.s-price{fill:#334155}
.links line{stroke-width:1;stroke-dasharray:3 2;opacity:.75}
.links .win{stroke:var(--win)}.links .loss{stroke:var(--loss)}.links .flat{stroke:var(--flat)}
.marks .win{fill:var(--win)}.marks .loss{fill:var(--loss)}.marks .flat{fill:var(--flat)}
.marks path,.marks circle{stroke:#fff;stroke-width:.8}
.marks g:hover{opacity:.7}.marks.dense{opacity:.85}
.hover .cross{stroke:#94a3b8;stroke-dasharray:2 2}.hover .hdot{fill:#0f172a;stroke:#fff}
.hover .tipbox{fill:#0f172a;opacity:.88}svg.chart .hover .tip{fill:#fff;font-size:11.5px}
.caption{margin:8px 0 0;color:var(--muted);font-size:12.5px}
.caption b{color:#334155;font-weight:600}
.win-t{color:var(--win)}.loss-t{color:var(--loss)}
.notes{border-left:4px solid #d97706;background:#fffbeb}
.notes ul{margin:6px 0 0;padding-left:20px}
.notes li{margin:3px 0}
.nodata{display:flex;align-items:center;justify-content:center;min-height:150px;
border:1px dashed #cbd5e1;border-radius:8px;background:#f8fafc;color:var(--muted);
font-size:13.5px;padding:16px;text-align:center}
footer{margin-top:22px;color:#94a3b8;font-size:12px;text-align:center}
@media (max-width:640px){main{padding:18px 12px 28px}h1{font-size:21px}}
@media print{body{background:#fff}.card{box-shadow:none}}
)CSS";

// Hover read-out: nearest point under the cursor, with date and value. Optional by design: the
// charts are complete without it.
constexpr std::string_view kScript = R"JS(
(function(){
function pad(n){return (n<10?'0':'')+n;}
function fmtT(s){var d=new Date(s*1000);return d.getUTCFullYear()+'-'+pad(d.getUTCMonth()+1)+'-'+
pad(d.getUTCDate())+' '+pad(d.getUTCHours())+':'+pad(d.getUTCMinutes());}
function fmtV(v,kind,dec){if(kind==='pct')return (-v*100).toFixed(2)+'%';
var s=v.toFixed(dec);if(kind==='money'){var p=s.split('.');
p[0]=p[0].replace(/\B(?=(\d{3})+(?!\d))/g,',');s=p.join('.');}return s;}
document.querySelectorAll('svg.chart').forEach(function(svg){
var ts=(svg.getAttribute('data-t')||'').split(' ').map(Number);
var vs=(svg.getAttribute('data-v')||'').split(' ').map(Number);
var line=svg.querySelector('polyline.series');if(!line||ts.length<2)return;
var pts=line.getAttribute('points').split(' ').map(function(p){return p.split(',').map(Number);});
var t0=Number(svg.getAttribute('data-t0')),kind=svg.getAttribute('data-kind');
var dec=Number(svg.getAttribute('data-dec'));if(kind==='money')dec=2;
var g=svg.querySelector('.hover'),cross=g.querySelector('.cross'),dot=g.querySelector('.hdot'),
box=g.querySelector('.tipbox'),tip=g.querySelector('.tip');
var L=Number(svg.getAttribute('data-l')),R=Number(svg.getAttribute('data-r'));
svg.addEventListener('mousemove',function(ev){
var m=svg.getScreenCTM();if(!m)return;var p=svg.createSVGPoint();p.x=ev.clientX;p.y=ev.clientY;
var x=p.matrixTransform(m.inverse()).x;if(x<L||x>R){g.setAttribute('visibility','hidden');return;}
var lo=0,hi=pts.length-1;while(hi-lo>1){var mid=(lo+hi)>>1;if(pts[mid][0]<x)lo=mid;else hi=mid;}
var i=(x-pts[lo][0]<pts[hi][0]-x)?lo:hi;var px=pts[i][0],py=pts[i][1];
cross.setAttribute('x1',px);cross.setAttribute('x2',px);dot.setAttribute('cx',px);
dot.setAttribute('cy',py);tip.textContent=fmtT(t0+ts[i])+'  \u00b7  '+fmtV(vs[i],kind,dec);
var w=tip.getComputedTextLength()+16,bx=px+10;if(bx+w>R)bx=px-10-w;
var by=Math.max(2,py-30);box.setAttribute('x',bx);box.setAttribute('y',by);
box.setAttribute('width',w);tip.setAttribute('x',bx+8);tip.setAttribute('y',by+15);
g.setAttribute('visibility','visible');});
svg.addEventListener('mouseleave',function(){g.setAttribute('visibility','hidden');});
});})();
)JS";

std::string Period(const ReportData& data) {
  const std::vector<SeriesPoint>* series = !data.equity.empty() ? &data.equity : &data.price;
  if (series->empty()) return "";
  int64_t first = std::numeric_limits<int64_t>::max();
  int64_t last = std::numeric_limits<int64_t>::min();
  for (const SeriesPoint& point : *series) {
    first = std::min(first, point.ts.ns);
    last = std::max(last, point.ts.ns);
  }
  return FormatDateTime(Timestamp{first}).substr(0, 16) + " \xE2\x80\x93 " +
         FormatDateTime(Timestamp{last}).substr(0, 16) + " UTC";
}

}  // namespace

std::vector<SeriesPoint> DownsampleMinMax(const std::vector<SeriesPoint>& points,
                                          size_t max_points) {
  std::vector<SeriesPoint> finite;
  finite.reserve(points.size());
  for (const SeriesPoint& point : points) {
    if (std::isfinite(point.value)) finite.push_back(point);
  }
  max_points = std::max<size_t>(max_points, 4);
  if (finite.size() <= max_points) return finite;

  // Interior [1, n-1) split into equal-count buckets; each yields its min and max in time order.
  const size_t interior = finite.size() - 2;
  const size_t buckets = (max_points - 2) / 2;
  std::vector<SeriesPoint> out;
  out.reserve(max_points);
  out.push_back(finite.front());
  for (size_t bucket = 0; bucket < buckets; ++bucket) {
    const size_t begin = 1 + bucket * interior / buckets;
    const size_t end = 1 + (bucket + 1) * interior / buckets;
    if (begin >= end) continue;
    size_t min_index = begin;
    size_t max_index = begin;
    for (size_t index = begin + 1; index < end; ++index) {
      if (finite[index].value < finite[min_index].value) min_index = index;
      if (finite[index].value > finite[max_index].value) max_index = index;
    }
    out.push_back(finite[std::min(min_index, max_index)]);
    if (min_index != max_index) out.push_back(finite[std::max(min_index, max_index)]);
  }
  out.push_back(finite.back());
  return out;
}

std::string RenderHtmlReport(const ReportData& data) {
  std::string out;
  out.reserve(256 * 1024);
  Append(out,
         "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  AppendEscaped(out, data.title.empty() ? std::string_view("Backtest report") : data.title);
  Append(out, "</title>\n<style>");
  Append(out, kCss);
  if (!data.comparison.empty() || !data.calibration.empty() || !data.paragraphs.empty()) {
    AppendExtraCss(out);
  }
  Append(out, "</style>\n</head>\n<body>\n<main>\n<header>\n<h1>");
  AppendEscaped(out, data.title.empty() ? std::string_view("Backtest report") : data.title);
  Append(out, "</h1>\n");
  if (!data.subtitle.empty()) {
    Append(out, "<p class=\"sub\">");
    AppendEscaped(out, data.subtitle);
    Append(out, "</p>\n");
  }
  Append(out, "<div class=\"meta\">");
  const std::string period = Period(data);
  if (!period.empty()) {
    Append(out, "<span class=\"chip\">");
    AppendEscaped(out, period);
    Append(out, "</span>");
  }
  AppendF(out, "<span class=\"chip\">%s trade%s</span>", FormatCount(data.trades.size()).c_str(),
          data.trades.size() == 1 ? "" : "s");
  Append(out, "</div>\n</header>\n");
  if (!data.notes.empty()) {
    Append(out, "<section class=\"card notes\"><h2>Notes</h2><ul>");
    for (const std::string& note : data.notes) {
      Append(out, "<li>");
      AppendEscaped(out, note);
      Append(out, "</li>");
    }
    Append(out, "</ul></section>\n");
  }
  if (!data.paragraphs.empty()) {
    Append(out, "<section class=\"card summary\"><h2>Summary</h2>");
    for (const std::string& paragraph : data.paragraphs) {
      Append(out, "<p>");
      AppendEscaped(out, paragraph);
      Append(out, "</p>");
    }
    Append(out, "</section>\n");
  }

  // Statistics.
  if (data.tables.empty()) {
    Append(out, "<section class=\"card\"><h2>Statistics</h2>");
    AppendNoData(out, "No statistics were computed for this run.");
    Append(out, "</section>\n");
  } else {
    // Few sections keep card width instead of stretching one table across the page.
    Append(out, data.tables.size() < 3 ? "<div class=\"stats few\">\n" : "<div class=\"stats\">\n");
    for (const auto& [section, rows] : data.tables) {
      Append(out, "<section class=\"card\"><h2>");
      AppendEscaped(out, section);
      Append(out, "</h2><table>\n");
      for (const auto& [label, value] : rows) {
        Append(out, "<tr><td class=\"k\">");
        AppendEscaped(out, label);
        Append(out, LooksNegative(value) ? "</td><td class=\"v neg\">" : "</td><td class=\"v\">");
        AppendEscaped(out, value);
        Append(out, "</td></tr>\n");
      }
      if (rows.empty()) Append(out, "<tr><td class=\"k\">(empty)</td><td></td></tr>\n");
      Append(out, "</table></section>\n");
    }
    Append(out, "</div>\n");
  }

  // Equity.
  {
    const std::vector<SeriesPoint> points =
        DownsampleMinMax(CleanSeries(data.equity), kMaxChartPoints);
    std::string body;
    std::string legend;
    if (points.empty()) {
      AppendNoData(body, "No equity data: the run produced no equity samples.");
    } else {
      std::vector<Overlay> overlays;
      overlays.reserve(data.comparison.size());
      for (size_t slot = 0; slot < data.comparison.size(); ++slot) {
        const NamedSeries& series = data.comparison[slot];
        overlays.push_back(
            {series.name, DownsampleMinMax(CleanSeries(series.points), kMaxChartPoints), slot});
      }
      ChartSpec spec{"equity", "Equity curve", 300, ValueKind::kMoney, false};
      AppendChart(body, spec, points, nullptr, 2, overlays.empty() ? nullptr : &overlays);
      if (overlays.empty()) {
        AppendLegendItem(legend, "sw eq", "Account equity");
      } else {
        AppendLegendItem(
            legend, "sw eq",
            data.equity_name.empty() ? std::string_view("strategy") : data.equity_name);
        for (const Overlay& overlay : overlays) {
          std::string label = overlay.name.empty() ? "(unnamed)" : std::string(overlay.name);
          if (overlay.points.empty()) label += " (no data)";
          AppendLegendItem(legend, "sw " + SlotClass(overlay.slot), label);
        }
      }
    }
    std::string caption;
    const uint64_t samples = std::max<uint64_t>(data.equity.size(), data.equity_samples_total);
    if (samples > points.size() && !points.empty()) {
      caption = FormatCount(samples) + " samples, drawn as " + FormatCount(points.size()) +
                " points (min/max per bucket kept).";
    }
    AppendChartSection(out, "Equity", legend, body, caption);
  }

  // Drawdown.
  {
    const std::vector<SeriesPoint> points =
        DownsampleMinMax(CleanSeries(data.drawdown), kMaxChartPoints);
    std::string body;
    std::string legend;
    std::string caption;
    if (points.empty()) {
      AppendNoData(body, "No drawdown data.");
    } else {
      ChartSpec spec{"drawdown", "Drawdown below running peak", 190, ValueKind::kPercent, true};
      AppendChart(body, spec, points, nullptr, 4);
      AppendLegendItem(legend, "sw area", "Drawdown from peak");
      const auto worst = std::max_element(
          points.begin(), points.end(),
          [](const SeriesPoint& a, const SeriesPoint& b) { return a.value < b.value; });
      caption = "Deepest: <b>" + FormatFixed(-worst->value * 100, 2) + "%</b> at " +
                Escaped(FormatDateTime(worst->ts)) + " UTC.";
    }
    AppendChartSection(out, "Drawdown", legend, body, caption);
  }

  // Price with trades.
  {
    const std::vector<SeriesPoint> clean = CleanSeries(data.price);
    const std::vector<SeriesPoint> points = DownsampleMinMax(clean, kMaxChartPoints);
    std::string body;
    std::string legend;
    std::string caption;
    TradeSelection selection;
    if (points.empty()) {
      AppendNoData(body, "No price data to chart.");
      selection = SelectTrades(data.trades, 1, 0);
    } else {
      selection = SelectTrades(data.trades, points.front().ts.ns, points.back().ts.ns);
      ChartSpec spec{"price", "Mid price with trades", 360, ValueKind::kPrice, false};
      AppendChart(body, spec, points, &selection, PriceDecimals(clean));
      AppendLegendItem(legend, "sw px", "Mid close");
      if (!data.trades.empty()) {
        AppendLegendItem(legend, "up", "Long entry");
        AppendLegendItem(legend, "down", "Short entry");
        AppendLegendItem(legend, "ring", "Exit");
        AppendLegendItem(legend, "sw link", "Holding");
        AppendLegendItem(legend, "dotw", "Winning");
        AppendLegendItem(legend, "dotl", "Losing");
      }
    }
    if (selection.total == 0) {
      caption = "No trades.";
    } else {
      caption = "<b>" + FormatCount(selection.total) +
                "</b> trades: " + FormatCount(selection.longs) + " long entries, " +
                FormatCount(selection.shorts) + " short entries, " + FormatCount(selection.total) +
                " exits \xC2\xB7 " + "<span class=\"win-t\">" + FormatCount(selection.winners) +
                " winning</span>, " + "<span class=\"loss-t\">" + FormatCount(selection.losers) +
                " losing</span>";
      if (selection.flat > 0) caption += ", " + FormatCount(selection.flat) + " flat";
      caption += ".";
      if (selection.drawn.size() < selection.total) {
        caption += " Marked: " + FormatCount(selection.drawn.size());
        if (selection.total > kMaxDrawnTrades) {
          caption += " (the largest |P&amp;L| in each of " + FormatCount(kMaxDrawnTrades) +
                     " time slices)";
        }
        if (selection.outside > 0) {
          caption += "; " + FormatCount(selection.outside) + " outside the price range";
        }
        if (selection.invalid > 0) {
          caption += "; " + FormatCount(selection.invalid) + " with invalid prices";
        }
        caption += ".";
      }
    }
    const uint64_t bars = std::max<uint64_t>(clean.size(), data.price_bars_total);
    if (bars > points.size()) {
      caption += " Price: " + FormatCount(bars) + " bars drawn as " + FormatCount(points.size()) +
                 " points.";
    }
    AppendChartSection(out, "Price and trades", legend, body, caption);
  }

  if (!data.calibration.empty()) {
    std::string body;
    const std::string caption = AppendCalibrationChart(body, data.calibration);
    std::string legend;
    AppendLegendItem(legend, "bdot", "Bin (area \xE2\x88\x9D rows)");
    AppendLegendItem(legend, "sw link", "Perfectly calibrated");
    AppendChartSection(out, "Calibration", legend, body, caption);
  }

  Append(out,
         "<footer>Generated by AITS \xC2\xB7 self-contained report: no external resources, "
         "times in UTC</footer>\n</main>\n<script>");
  Append(out, kScript);
  Append(out, "</script>\n</body>\n</html>\n");
  return out;
}

Status WriteHtmlReport(const ReportData& data, const std::string& path) {
  const std::string html = RenderHtmlReport(data);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) {
    return IoError("cannot open report file '" + path + "' for writing: " + std::strerror(errno));
  }
  file.write(html.data(), static_cast<std::streamsize>(html.size()));
  file.close();
  if (!file) {
    return IoError("failed writing report file '" + path + "' (" + std::to_string(html.size()) +
                   " bytes)");
  }
  return Status::Ok();
}

}  // namespace aits::report
