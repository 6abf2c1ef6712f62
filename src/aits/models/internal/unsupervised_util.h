// Helpers shared by k-means, PCA and the isolation forest. Internal to aits/ml.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/dataset.h"
#include "aits/models/serialize.h"

namespace aits::ml::internal {

// A uniform double in [0, 1) from the top 53 bits of one draw. Written out rather than taken
// from std::uniform_real_distribution, whose algorithm differs between standard libraries.
inline double Uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// A uniform index in [0, n), n >= 1, from one draw.
inline size_t UniformIndex(std::mt19937_64& rng, size_t n) {
  size_t index = static_cast<size_t>(Uniform01(rng) * static_cast<double>(n));
  return index < n ? index : n - 1;
}

// kInvalidArgument naming `model`, the row, the column (by name when `names` has it) and the
// value of the first non-finite entry of x.
inline Status CheckFinite(const Matrix& x, std::string_view model,
                          const std::vector<std::string>* names = nullptr) {
  for (size_t row = 0; row < x.rows(); ++row) {
    for (size_t col = 0; col < x.cols(); ++col) {
      const float value = x(row, col);
      if (std::isfinite(value)) continue;
      std::string column = std::to_string(col);
      if (names != nullptr && col < names->size()) column += " ('" + (*names)[col] + "')";
      return InvalidArgument(std::string(model) + " fit: row " + std::to_string(row) + " column " +
                             column + " is " + std::to_string(value) +
                             " (every value must be finite)");
    }
  }
  return Status::Ok();
}

// 1 / stddev per column, 0 for a constant column (Standardizer's convention). k-means and PCA
// standardize in double with these rather than through Standardizer::Apply (float out), so that
// their fits agree with a double-precision reference to ~1e-12 rather than float's ~1e-7.
inline std::vector<double> InverseStddev(const Standardizer& standardizer) {
  std::vector<double> inv(standardizer.size());
  for (size_t col = 0; col < inv.size(); ++col) {
    const double sd = standardizer.stddev()[col];
    inv[col] = sd > 0.0 && std::isfinite(sd) ? 1.0 / sd : 0.0;
  }
  return inv;
}

// Checks that the Standardizer read from a model file has the model's `size` columns
// (Standardizer::Deserialize already checks its values).
inline Result<Standardizer> CheckStandardizer(Standardizer standardizer, size_t size,
                                              std::string_view what) {
  if (standardizer.size() != size) {
    return DataLoss(std::string(what) + ": standardizer has " +
                    std::to_string(standardizer.size()) + " columns, the model " +
                    std::to_string(size));
  }
  return standardizer;
}

// Unwraps a model file and checks its kind.
inline Result<std::string> UnwrapKind(std::string_view bytes, std::string_view what,
                                      std::string_view kind) {
  AITS_ASSIGN_OR_RETURN(ModelEnvelope envelope, UnwrapModel(bytes, what));
  if (envelope.kind != kind) {
    return InvalidArgument(std::string(what) + ": model kind is '" + envelope.kind +
                           "', expected '" + std::string(kind) + "'");
  }
  return std::move(envelope.payload);
}

}  // namespace aits::ml::internal
