// Scores for direction classifiers and return forecasts.
//
// Inputs are aligned per row: y01 is the label direction (ml/labels.h: 1 up, 0 down, NaN
// undefined) and p_up the predicted probability of up. Rows whose label is NaN are not scored
// (an undefined label is not a wrong one); rows whose prediction is NaN are skipped too, and `n`
// says how many rows were scored. A statistic that is undefined for the rows given (AUC with one
// class, precision with nothing predicted up, anything on zero rows) is NaN, never a made-up 0.
//
// Thread-compatible; all functions are pure. They allocate (sorting for ranks): not for the hot
// path.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

namespace aits::ml {

struct ClassificationMetrics {
  size_t n = 0;                          // rows scored
  double accuracy = 0.0;                 // predicted class (p > threshold) == label
  double precision = 0.0;                // TP / (TP + FP); NaN when nothing is predicted up
  double recall = 0.0;                   // TP / (TP + FN); NaN when no label is up
  double f1 = 0.0;                       // harmonic mean of precision and recall; NaN if either is
  double log_loss = 0.0;                 // mean cross-entropy with p clipped to [1e-7, 1 - 1e-7]
  double auc = 0.0;                      // ROC AUC by ranks, ties averaged; NaN with one class
  double brier = 0.0;                    // mean (p - y)^2
  double positive_rate = 0.0;            // share of labels that are up
  double predicted_positive_rate = 0.0;  // share of rows with p > threshold
};

// Precondition: y01.size() == p_up.size(). A label counts as up when y > 0.5.
ClassificationMetrics Classification(std::span<const float> y01, std::span<const float> p_up,
                                     double threshold = 0.5);

// Spearman rank correlation between prediction and realized (e.g. forward returns), ties given
// their average rank; rows with a NaN on either side skipped. NaN with fewer than 3 rows or when
// either side is constant. Precondition: equal sizes.
double InformationCoefficient(std::span<const float> prediction, std::span<const float> realized);

struct CalibrationBin {
  double lower = 0.0, upper = 0.0;  // p in [lower, upper); the last bin includes 1
  double mean_predicted = 0.0;      // NaN for an empty bin
  double observed_rate = 0.0;       // share of up labels; NaN for an empty bin
  size_t count = 0;
};

// `bins` equal-width bins over [0, 1] (p is clamped into it), empty bins included, skipping rows
// as Classification does. bins < 1 gives no bins. Precondition: equal sizes.
std::vector<CalibrationBin> Calibration(std::span<const float> y01, std::span<const float> p_up,
                                        int bins = 10);

// NaN (and infinities) become null.
nlohmann::json ToJson(const ClassificationMetrics& metrics);
nlohmann::json ToJson(std::span<const CalibrationBin> bins);

}  // namespace aits::ml
