// Shared by the pipeline tests: a small real dataset (the first days of GBP/USD M1 bid/ask) and
// a configuration with small models, so that a whole training run takes seconds.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "aits/ml/pipeline.h"

namespace aits::ml::testing {

// Copies the first `lines` lines of a CSV; rows whose time is after `perturb_after` (ISO text
// comparison works for the fixed-width timestamps) get every price scaled by `factor`.
inline void CopyHead(const std::string& from, const std::string& to, size_t lines,
                     const std::string& perturb_after = "", double factor = 1.0) {
  std::ifstream in(from);
  std::ofstream out(to);
  std::string line;
  for (size_t idx = 0; idx < lines && std::getline(in, line); ++idx) {
    if (idx == 0 || perturb_after.empty() ||
        line.substr(0, perturb_after.size()) <= perturb_after) {
      out << line << "\n";
      continue;
    }
    std::stringstream fields(line);
    std::string field;
    std::getline(fields, field, ',');
    out << field;
    while (std::getline(fields, field, ',')) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), ",%.5f", std::stod(field) * factor);
      out << buf;
    }
    out << "\n";
  }
}

inline MlConfig SmallConfig(const std::string& bid, const std::string& ask,
                            const std::string& registry) {
  MlConfig c;
  c.data_path = bid;
  c.ask_path = ask;
  c.symbol = "GBPUSD";
  c.name = "gbpusd_test";
  c.registry_dir = registry;
  c.xgboost.rounds = 20;
  c.xgboost.max_depth = 3;
  c.xgboost_regressor.rounds = 10;
  c.random_forest.trees = 8;
  c.random_forest.max_depth = 5;
  c.lstm.hidden = 8;
  c.lstm.window = 10;
  c.lstm.epochs = 1;
  c.lstm.batch = 128;
  c.gru = c.lstm;
  c.anomaly.trees = 20;
  c.kmeans.restarts = 1;
  return c;
}

}  // namespace aits::ml::testing
