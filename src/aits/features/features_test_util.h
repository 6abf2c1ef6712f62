// Test-only helpers: loads the real GBP/USD one-minute bid bars from AITS_SHARED_DATA_DIR.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aits/core/time.h"

namespace aits::features::testing {

struct CsvBar {
  Timestamp ts;
  std::string open, high, low, close;  // the text, so tests can build fixed-point prices
  double h = 0, l = 0, c = 0;
};

// Reads "timestamp,open,high,low,close" rows ("2012-02-01 00:00:00+00:00,1.57597,...").
// Returns an empty vector if the file is missing or the header is not the expected one.
inline std::vector<CsvBar> LoadBars(const std::string& path) {
  std::vector<CsvBar> bars;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line.rfind("timestamp,open,high,low,close", 0) != 0) return bars;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream row(line);
    std::string ts;
    CsvBar bar;
    std::getline(row, ts, ',');
    std::getline(row, bar.open, ',');
    std::getline(row, bar.high, ',');
    std::getline(row, bar.low, ',');
    std::getline(row, bar.close, ',');
    if (ts.size() < 19) continue;
    bar.ts = FromCivil(std::atoi(ts.substr(0, 4).c_str()), std::atoi(ts.substr(5, 2).c_str()),
                       std::atoi(ts.substr(8, 2).c_str()), std::atoi(ts.substr(11, 2).c_str()),
                       std::atoi(ts.substr(14, 2).c_str()), std::atoi(ts.substr(17, 2).c_str()));
    bar.h = std::strtod(bar.high.c_str(), nullptr);
    bar.l = std::strtod(bar.low.c_str(), nullptr);
    bar.c = std::strtod(bar.close.c_str(), nullptr);
    bars.push_back(bar);
  }
  return bars;
}

inline const std::vector<CsvBar>& GbpUsdBid() {
  static const std::vector<CsvBar> bars =
      LoadBars(std::string(AITS_SHARED_DATA_DIR) + "/gbpusd-m1-bid-2012.csv");
  return bars;
}

inline std::vector<double> GbpUsdCloses() {
  std::vector<double> closes;
  for (const CsvBar& bar : GbpUsdBid()) closes.push_back(bar.c);
  return closes;
}

}  // namespace aits::features::testing
