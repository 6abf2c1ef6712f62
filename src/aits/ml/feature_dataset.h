// Builds a feature Dataset from a market data file with the streaming FeatureEngine: the offline
// half of the feature store, and what `aits features` writes. Because the rows come from the very
// engine live inference runs, training and serving see the same numbers.
//
// Input: any tick format (rows are produced as ticks complete base bars, ADR 0002; the final,
// incomplete bar is not a row) or bar format (one row per base bar). Bar files whose period is
// shorter than the base timeframe are first combined into base bars, which close on their
// boundary like the engine's higher timeframes. The base timeframe must be a multiple of the bar
// period of the data: of a bar file, or of a single-price series ("price" format, whose rows are
// samples at a fixed interval, inferred as the smallest gap between its first timestamps).
//
// Every row: time = close of its base bar, close = mid close, spread = ask - bid at that close,
// x = FeatureEngine::Values() narrowed to float. With skip_warmup (the default) rows are kept only
// once FeatureEngine::Ready(), so every value is finite and the Dataset passes Validate().
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "aits/core/status.h"
#include "aits/data/source.h"
#include "aits/features/feature_engine.h"
#include "aits/models/dataset.h"

namespace aits::ml {

struct FeatureBuildOptions {
  data::ReadOptions read;  // format (kAuto: detected), ask file, spread, digits, strict
  features::FeatureEngineConfig engine;
  bool skip_warmup = true;  // drop rows until every feature has a value
  // Called now and then with the fraction of the input consumed (0..1), and once with 1 at the
  // end. May be empty.
  std::function<void(double fraction)> progress;
};

struct FeatureBuildStats {
  data::ReadStats read;
  size_t rows = 0;                 // rows in the Dataset
  size_t warmup_rows_skipped = 0;  // base bars dropped because the engine was not Ready()
  Duration data_period{};          // bar period of the data (bar files, price series); 0 for ticks
  data::DataFormat format = data::DataFormat::kAuto;  // the format read
};

// Errors (InvalidArgument unless stated): a bad engine configuration (naming the timeframe); a
// missing file (NotFound) or an unrecognised format; a base timeframe shorter than the data's bar
// period, or not a multiple of it ("timeframe M1 is shorter than the data's bar period (30m) of
// FILE; use --timeframes M30,H1,H4,D1"); an ask file with tick data; read errors and strict-mode
// rejections from the source; no row at all (too little data for the warm-up). `stats` may be
// null; when given it is filled also on a read error, as far as the read went.
Result<Dataset> BuildFeatureDataset(const std::string& data_path,
                                    const FeatureBuildOptions& options, FeatureBuildStats* stats);

// "30m", "1h", "15s", "1d": a data period as the error messages show it.
std::string FormatPeriod(Duration period);

}  // namespace aits::ml
