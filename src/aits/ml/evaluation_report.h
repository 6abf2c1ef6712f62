// The HTML report of `aits evaluate`, in the style of the backtest report (report/html_report.h):
// the out-of-sample signal's equity after costs with the baselines' curves on the same chart,
// drawdown, price with trades, calibration, and tables of pooled and per-fold metrics, with a
// plain-words summary that says whether the ensemble beat its baselines, whatever the answer.
#pragma once

#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/ml/pipeline.h"

namespace aits::ml {

// One or two sentences: how the ensemble did against the logistic baseline and chance, and
// whether its signal beat buy-and-hold, sma_cross and the random signal after costs.
std::vector<std::string> EvaluationSummary(const EvaluationResult& result);

Status WriteEvaluationReport(const EvaluationResult& result, const std::string& path);

}  // namespace aits::ml
