// Ticks held in memory for the tick-path benchmarks, so that they time the code under test and
// not the parsing: the synthetic EUR/USD-like feed and the real EUR/USD day of ../shared/data.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "aits/data/source.h"
#include "aits/data/synthetic.h"

namespace aits::bench {

inline std::vector<Tick> ReadAllTicks(data::TickSource& source) {
  std::vector<Tick> ticks;
  std::vector<Tick> batch(4096);
  while (true) {
    auto count = source.Read(batch);
    if (!count.ok() || *count == 0) break;
    ticks.insert(ticks.end(), batch.begin(), batch.begin() + static_cast<ptrdiff_t>(*count));
  }
  return ticks;
}

// 2M synthetic ticks (~3 weeks of an EUR/USD-like feed, data/synthetic.h), seed 42.
inline const std::vector<Tick>& SyntheticTicks() {
  static const std::vector<Tick> ticks = [] {
    data::SyntheticOptions options;
    options.count = 2'000'000;
    options.seed = 42;
    auto source = data::SyntheticTickSource::Create(options);
    return ReadAllTicks(**source);
  }();
  return ticks;
}

// The real EUR/USD ticks of ../shared/data (AITS_SHARED_DATA_DIR), replicated day after day to
// 950k ticks; empty (with a message) when the file is missing.
inline const std::vector<Tick>& RealTicks() {
  static const std::vector<Tick> ticks = [] {
    std::vector<Tick> out;
    const char* dir = std::getenv("AITS_SHARED_DATA_DIR");
    const std::string path =
        std::string(dir ? dir : "../shared/data") + "/eurusd-ticks-2020-01-01.csv";
    auto source = data::OpenTicks(path, {});
    if (!source.ok()) {
      std::fprintf(stderr, "bench: %s (set AITS_SHARED_DATA_DIR)\n",
                   source.status().ToString().c_str());
      return out;
    }
    const std::vector<Tick> day = ReadAllTicks(**source);
    for (int copy = 0; copy < 100; ++copy) {
      for (Tick tick : day) {
        tick.ts = tick.ts + Duration::Days(copy);
        out.push_back(tick);
      }
    }
    return out;
  }();
  return ticks;
}

}  // namespace aits::bench
