#include "aits/ml/labels.h"

#include <cmath>
#include <limits>
#include <string>

namespace aits::ml {

std::vector<size_t> Labels::DefinedRows() const {
  std::vector<size_t> rows;
  rows.reserve(direction.size());
  for (size_t row = 0; row < direction.size(); ++row) {
    if (!std::isnan(direction[row])) rows.push_back(row);
  }
  return rows;
}

Duration EffectiveMaxGap(const LabelConfig& config) {
  return config.max_gap.ns == 0 ? config.horizon : config.max_gap;
}

Result<Labels> MakeLabels(const Dataset& data, const LabelConfig& config) {
  if (config.horizon.ns <= 0) {
    return InvalidArgument("label horizon must be > 0, got " + std::to_string(config.horizon.ns) +
                           " ns");
  }
  if (config.max_gap.ns < 0) {
    return InvalidArgument("label max_gap must be >= 0, got " + std::to_string(config.max_gap.ns) +
                           " ns");
  }
  if (!std::isfinite(config.dead_zone) || config.dead_zone < 0.0) {
    return InvalidArgument("label dead_zone must be finite and >= 0, got " +
                           std::to_string(config.dead_zone));
  }
  const size_t n = data.rows();
  if (data.close.size() != n) {
    return InvalidArgument("labels: dataset has " + std::to_string(n) + " times but " +
                           std::to_string(data.close.size()) + " closes");
  }
  for (size_t row = 0; row < n; ++row) {
    if (row > 0 && !(data.time[row - 1] < data.time[row])) {
      return InvalidArgument("labels: row " + std::to_string(row) + " time " +
                             FormatIso8601(data.time[row]) + " is not after the previous row's " +
                             FormatIso8601(data.time[row - 1]));
    }
    if (!std::isfinite(data.close[row]) || !(data.close[row] > 0.0)) {
      return InvalidArgument("labels: row " + std::to_string(row) + " (" +
                             FormatIso8601(data.time[row]) + ") close " +
                             std::to_string(data.close[row]) + " is not finite and > 0");
    }
  }

  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  const Duration latest = config.horizon + EffectiveMaxGap(config);
  Labels labels;
  labels.direction.assign(n, kNaN);
  labels.forward_return.assign(n, kNaN);
  labels.target_row.assign(n, -1);
  size_t target = 0;
  for (size_t row = 0; row < n; ++row) {
    // The first row at or after t + horizon only moves forward as t does.
    const Timestamp earliest_time = data.time[row] + config.horizon;
    if (target <= row) target = row + 1;
    while (target < n && data.time[target] < earliest_time) ++target;
    if (target >= n) break;  // so is every later row's
    if (data.time[target] > data.time[row] + latest) continue;
    const double forward = std::log(data.close[target] / data.close[row]);
    labels.target_row[row] = static_cast<int64_t>(target);
    labels.forward_return[row] = static_cast<float>(forward);
    if (std::abs(forward) > config.dead_zone) labels.direction[row] = forward > 0.0 ? 1.0f : 0.0f;
  }
  return labels;
}

}  // namespace aits::ml
