// A one-line progress bar on stderr, drawn only when stderr is a terminal, at most ~10 times a
// second, so that it costs nothing in pipelines and CI logs. A supervisor that runs the command
// (the API's backtest jobs) sets AITS_PROGRESS_LINES=1 instead, and reads a line
// "progress: FRACTION COUNT" on stderr at most ~4 times a second, and one at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace aits::app {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::string unit, bool enabled)
      : label_(std::move(label)),
        unit_(std::move(unit)),
        enabled_(enabled && isatty(STDERR_FILENO)),
        lines_(std::getenv("AITS_PROGRESS_LINES") != nullptr),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressBar() { Finish(); }

  // `detail`, when given, is drawn after the rest (e.g. "slice 3/24").
  void Update(double fraction, uint64_t count, const std::string& detail = "") {
    if (lines_) Line(fraction, count);
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (fraction < 1.0 && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const int width = 30;
    const int filled = static_cast<int>(fraction * width + 0.5);
    std::string bar(static_cast<size_t>(filled < 0 ? 0 : filled > width ? width : filled), '#');
    bar.resize(width, '.');
    if (unit_.empty()) {  // no count to show (e.g. an import reports only its fraction)
      std::fprintf(stderr, "\r%s [%s] %5.1f%%  %.1fs ", label_.c_str(), bar.c_str(),
                   fraction * 100.0, seconds);
    } else {
      std::fprintf(stderr, "\r%s [%s] %5.1f%%  %s %s  %s/s  %.1fs ", label_.c_str(), bar.c_str(),
                   fraction * 100.0, Human(static_cast<double>(count)).c_str(), unit_.c_str(),
                   Human(seconds > 0 ? static_cast<double>(count) / seconds : 0).c_str(), seconds);
    }
    if (!detail.empty()) std::fprintf(stderr, " %s ", detail.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

  void Line(double fraction, uint64_t count) {
    const auto now = std::chrono::steady_clock::now();
    if (fraction < 1.0 && now - last_line_ < std::chrono::milliseconds(250)) return;
    last_line_ = now;
    std::fprintf(stderr, "progress: %.4f %llu\n", fraction, static_cast<unsigned long long>(count));
    std::fflush(stderr);
  }

  void Finish() {
    if (drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }

  static std::string Human(double value) {
    char buf[32];
    if (value >= 1e9) {
      std::snprintf(buf, sizeof(buf), "%.2fG", value / 1e9);
    } else if (value >= 1e6) {
      std::snprintf(buf, sizeof(buf), "%.2fM", value / 1e6);
    } else if (value >= 1e3) {
      std::snprintf(buf, sizeof(buf), "%.1fk", value / 1e3);
    } else {
      std::snprintf(buf, sizeof(buf), "%.0f", value);
    }
    return buf;
  }

 private:
  std::string label_;
  std::string unit_;
  bool enabled_;
  bool lines_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  std::chrono::steady_clock::time_point last_line_{};
};

}  // namespace aits::app
