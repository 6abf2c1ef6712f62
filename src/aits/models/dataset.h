// Dense feature matrices and datasets shared by every stage of the ML pipeline.
//
// Matrix is row-major float: the layout XGBoost's C API, LibTorch (from_blob) and
// Eigen::Map<Eigen::Matrix<float, Dynamic, Dynamic, RowMajor>> all accept without a copy. float
// rather than double because that is what XGBoost and LibTorch compute in; features are computed
// in double (aits::features) and narrowed once, here.
//
// A Dataset is a feature matrix plus what every row needs to become a training example or a
// trade: the time the row became known (the close of its base bar), the mid close and the spread
// at that time. Labels are not part of it (ml/labels.h builds them separately, from `close`, so
// that no feature can see them).
//
// Feature CSV (what `aits features` writes and `aits train` reads):
//   # aits-features version=<feature set version> hash=<feature set hash>
//   time,close,spread,<feature 1>,...,<feature N>
//   2012-02-01T00:15:00Z,1.57321,0.00012,0.00013,...
// `time` is ISO-8601 UTC; numbers are printed with enough digits to round-trip a float.
//
// Thread-compatible.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/models/serialize.h"

namespace aits::ml {

class Matrix {
 public:
  Matrix() = default;
  Matrix(size_t rows, size_t cols, float fill = 0.0f);

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  bool empty() const { return rows_ == 0; }

  float& operator()(size_t r, size_t c) { return data_[r * cols_ + c]; }
  float operator()(size_t r, size_t c) const { return data_[r * cols_ + c]; }
  std::span<float> Row(size_t r) { return {data_.data() + r * cols_, cols_}; }
  std::span<const float> Row(size_t r) const { return {data_.data() + r * cols_, cols_}; }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }

  // Precondition: row.size() == cols(), or the matrix is empty with cols() == 0 (the first row
  // sets the width).
  void AppendRow(std::span<const float> row);
  void Reserve(size_t rows) { data_.reserve(rows * cols_); }
  // Rows [begin, end); precondition begin <= end <= rows().
  Matrix SliceRows(size_t begin, size_t end) const;
  // Rows in the order given; precondition every index < rows().
  Matrix SelectRows(std::span<const size_t> indices) const;

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<float> data_;
};

struct Dataset {
  std::string feature_set_version;  // empty when unknown
  std::string feature_set_hash;     // of the FeatureSet that produced the columns; empty if unknown
  std::vector<std::string> feature_names;
  std::vector<Timestamp> time;  // per row: when the row became known (its base bar's close)
  std::vector<double> close;    // per row: mid close at `time`
  std::vector<double> spread;   // per row: ask - bid at `time`, in price units
  Matrix x;                     // rows() == time.size(), cols() == feature_names.size()

  size_t rows() const { return time.size(); }
  // Rows [begin, end) with every per-row vector; precondition begin <= end <= rows().
  Dataset Slice(size_t begin, size_t end) const;
  // Sizes agree, times strictly increase, every close is finite and > 0, every spread finite and
  // >= 0, every feature finite. Errors name the row (and its time) and the column.
  Status Validate() const;
  // The index of the named column, or an error listing what is missing.
  Result<size_t> ColumnIndex(std::string_view name) const;
};

// Errors name the file, the line and the column (name and value): a missing or extra column, a
// NaN or non-numeric value, times out of order, an empty file.
Result<Dataset> ReadFeatureCsv(const std::string& path);
// Writes atomically (temporary file + rename).
Status WriteFeatureCsv(const Dataset& data, const std::string& path);

// Per-column mean and standard deviation from training rows; Apply maps x to (x - mean) / std.
// A constant column (std == 0) maps to 0. Models that need scaled inputs (logistic regression,
// k-means, PCA, the recurrent nets) own one and serialize it with themselves.
class Standardizer {
 public:
  // Precondition: x.rows() >= 1.
  static Standardizer Fit(const Matrix& x);

  size_t size() const { return mean_.size(); }
  // Precondition: in.size() == out.size() == size(); in and out may alias. No allocation.
  void Apply(std::span<const float> in, std::span<float> out) const;
  Matrix Apply(const Matrix& x) const;
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& stddev() const { return stddev_; }

  void Serialize(ByteWriter* out) const;
  static Result<Standardizer> Deserialize(ByteReader* in);

 private:
  void Finish();  // derives inv_stddev_ from stddev_

  std::vector<double> mean_;
  std::vector<double> stddev_;
  std::vector<double> inv_stddev_;  // 0 for a constant column, so that it maps to 0
};

}  // namespace aits::ml
