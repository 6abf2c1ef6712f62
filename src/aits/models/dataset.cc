#include "aits/models/dataset.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>
#include <unordered_set>

namespace aits::ml {

// ---------------------------------------------------------------------------------------------
// Matrix

Matrix::Matrix(size_t rows, size_t cols, float fill)
    : rows_(rows), cols_(cols), data_(rows * cols, fill) {}

void Matrix::AppendRow(std::span<const float> row) {
  if (rows_ == 0 && cols_ == 0) cols_ = row.size();
  assert(row.size() == cols_);
  data_.insert(data_.end(), row.begin(), row.end());
  ++rows_;
}

Matrix Matrix::SliceRows(size_t begin, size_t end) const {
  assert(begin <= end && end <= rows_);
  Matrix out;
  out.rows_ = end - begin;
  out.cols_ = cols_;
  out.data_.assign(data_.begin() + static_cast<std::ptrdiff_t>(begin * cols_),
                   data_.begin() + static_cast<std::ptrdiff_t>(end * cols_));
  return out;
}

Matrix Matrix::SelectRows(std::span<const size_t> indices) const {
  Matrix out;
  out.rows_ = indices.size();
  out.cols_ = cols_;
  out.data_.resize(indices.size() * cols_);
  for (size_t out_row = 0; out_row < indices.size(); ++out_row) {
    assert(indices[out_row] < rows_);
    std::copy_n(data_.data() + indices[out_row] * cols_, cols_, out.data_.data() + out_row * cols_);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Dataset

Dataset Dataset::Slice(size_t begin, size_t end) const {
  assert(begin <= end && end <= rows());
  Dataset out;
  out.feature_set_version = feature_set_version;
  out.feature_set_hash = feature_set_hash;
  out.feature_names = feature_names;
  const auto b = static_cast<std::ptrdiff_t>(begin);
  const auto e = static_cast<std::ptrdiff_t>(end);
  out.time.assign(time.begin() + b, time.begin() + e);
  out.close.assign(close.begin() + b, close.begin() + e);
  out.spread.assign(spread.begin() + b, spread.begin() + e);
  out.x = x.SliceRows(begin, end);
  return out;
}

namespace {

std::string RowName(const Dataset& data, size_t row) {
  return "row " + std::to_string(row) + " (" + FormatIso8601(data.time[row]) + ")";
}

std::string FormatNumber(double v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

}  // namespace

Status Dataset::Validate() const {
  const size_t n = rows();
  if (close.size() != n || spread.size() != n || x.rows() != n) {
    return InvalidArgument("dataset sizes disagree: time " + std::to_string(n) + ", close " +
                           std::to_string(close.size()) + ", spread " +
                           std::to_string(spread.size()) + ", feature rows " +
                           std::to_string(x.rows()));
  }
  if (x.cols() != feature_names.size() && !(n == 0 && x.cols() == 0)) {
    return InvalidArgument("dataset has " + std::to_string(feature_names.size()) +
                           " feature names but " + std::to_string(x.cols()) + " feature columns");
  }
  std::unordered_set<std::string_view> seen;
  for (const std::string& name : feature_names) {
    if (!seen.insert(name).second) {
      return InvalidArgument("duplicate feature name '" + name + "'");
    }
  }
  for (size_t row = 0; row < n; ++row) {
    if (row > 0 && !(time[row - 1] < time[row])) {
      return InvalidArgument(RowName(*this, row) + ": time is not after the previous row's " +
                             FormatIso8601(time[row - 1]));
    }
    if (!std::isfinite(close[row]) || !(close[row] > 0.0)) {
      return InvalidArgument(RowName(*this, row) + ", column 'close': " + FormatNumber(close[row]) +
                             " is not a finite positive price");
    }
    if (!std::isfinite(spread[row]) || spread[row] < 0.0) {
      return InvalidArgument(RowName(*this, row) + ", column 'spread': " +
                             FormatNumber(spread[row]) + " is not finite and >= 0");
    }
    const std::span<const float> features = x.Row(row);
    for (size_t col = 0; col < features.size(); ++col) {
      if (!std::isfinite(features[col])) {
        return InvalidArgument(RowName(*this, row) + ", column '" + feature_names[col] +
                               "': non-finite value " + FormatNumber(features[col]));
      }
    }
  }
  return Status::Ok();
}

Result<size_t> Dataset::ColumnIndex(std::string_view name) const {
  for (size_t col = 0; col < feature_names.size(); ++col) {
    if (feature_names[col] == name) return col;
  }
  std::string message = "feature column '" + std::string(name) + "' not found; the dataset has " +
                        std::to_string(feature_names.size()) + " columns";
  // Enough names to spot a typo without flooding the log with a 200-column set.
  constexpr size_t kShown = 20;
  for (size_t col = 0; col < feature_names.size() && col < kShown; ++col) {
    message += (col == 0 ? ": " : ", ") + feature_names[col];
  }
  if (feature_names.size() > kShown) message += ", ...";
  return NotFound(message);
}

// ---------------------------------------------------------------------------------------------
// Feature CSV

namespace {

constexpr std::string_view kCommentTag = "aits-features";

// Parses the whole of `text` as a T with std::from_chars (locale-free, exact round trip).
// Returns an empty string on success, else what is wrong with it.
template <typename T>
std::string_view ParseNumber(std::string_view text, T* out) {
  if (text.empty()) return "empty value";
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  if (ec == std::errc::result_out_of_range) return "number out of range";
  if (ec != std::errc() || ptr != end) return "not a number";
  if (!std::isfinite(*out)) return "non-finite number (NaN/inf features are not allowed)";
  return {};
}

class CsvErrors {
 public:
  explicit CsvErrors(const std::string& path) : path_(path) {}
  Status At(size_t line, std::string_view message) const {
    return InvalidArgument(path_ + ":" + std::to_string(line) + ": " + std::string(message));
  }
  Status Field(size_t line, size_t col, std::string_view name, std::string_view value,
               std::string_view problem) const {
    // Long garbage is cut so that the message stays one readable line.
    constexpr size_t kMaxShown = 40;
    std::string shown(value.substr(0, kMaxShown));
    if (value.size() > kMaxShown) shown += "...";
    return At(line, "column " + std::to_string(col + 1) + " '" + std::string(name) +
                        "': " + std::string(problem) + ": '" + shown + "'");
  }

 private:
  const std::string& path_;
};

// Splits `text` into lines, dropping a trailing '\r' (CRLF files).
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : text_(text) {}
  bool Next(std::string_view* line) {
    if (pos_ >= text_.size()) return false;
    const size_t newline = text_.find('\n', pos_);
    const size_t end = newline == std::string_view::npos ? text_.size() : newline;
    *line = text_.substr(pos_, end - pos_);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos_ = newline == std::string_view::npos ? text_.size() : newline + 1;
    ++line_number_;
    return true;
  }
  size_t line_number() const { return line_number_; }
  bool AtEnd() const { return pos_ >= text_.size(); }
  std::string_view rest() const { return text_.substr(pos_); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t line_number_ = 0;
};

void ParseComment(std::string_view line, Dataset* data) {
  line.remove_prefix(1);  // '#'
  size_t pos = 0;
  bool tagged = false;
  while (pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    const std::string_view token = line.substr(pos, end - pos);
    pos = end;
    if (token.empty()) continue;
    if (token == kCommentTag) {
      tagged = true;
      continue;
    }
    if (!tagged) return;  // someone else's comment
    const size_t eq = token.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = token.substr(0, eq);
    const std::string_view value = token.substr(eq + 1);
    if (key == "version") data->feature_set_version = std::string(value);
    if (key == "hash") data->feature_set_hash = std::string(value);
  }
}

constexpr std::string_view kFixedColumns[] = {"time", "close", "spread"};

}  // namespace

Result<Dataset> ReadFeatureCsv(const std::string& path) {
  AITS_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  const CsvErrors errors(path);
  std::string_view body(text);
  // Spreadsheet exports start with a UTF-8 byte order mark.
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
  LineCursor lines(body);
  Dataset data;

  // Comments, then the header.
  std::string_view line;
  bool have_header = false;
  while (lines.Next(&line)) {
    if (!line.empty() && line[0] == '#') {
      ParseComment(line, &data);
      continue;
    }
    have_header = true;
    break;
  }
  if (!have_header || line.empty()) {
    return errors.At(lines.line_number() == 0 ? 1 : lines.line_number(),
                     "empty file: expected a header line 'time,close,spread,<features>...'");
  }
  std::vector<std::string_view> header;
  for (size_t pos = 0;;) {
    const size_t comma = line.find(',', pos);
    header.push_back(line.substr(pos, comma == std::string_view::npos ? line.npos : comma - pos));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  const size_t header_line = lines.line_number();
  for (size_t col = 0; col < std::size(kFixedColumns); ++col) {
    if (col >= header.size() || header[col] != kFixedColumns[col]) {
      return errors.At(header_line,
                       "header column " + std::to_string(col + 1) + " must be '" +
                           std::string(kFixedColumns[col]) + "' but is '" +
                           (col < header.size() ? std::string(header[col]) : std::string()) +
                           "' (the header starts time,close,spread)");
    }
  }
  std::unordered_set<std::string_view> seen;
  for (size_t col = 0; col < header.size(); ++col) {
    if (header[col].empty()) {
      return errors.At(header_line, "header column " + std::to_string(col + 1) + " is empty");
    }
    if (!seen.insert(header[col]).second) {
      return errors.At(header_line, "duplicate header name '" + std::string(header[col]) +
                                        "' at column " + std::to_string(col + 1));
    }
  }
  const size_t num_columns = header.size();
  const size_t num_features = num_columns - std::size(kFixedColumns);
  for (size_t col = std::size(kFixedColumns); col < num_columns; ++col) {
    data.feature_names.emplace_back(header[col]);
  }
  data.x = Matrix(0, num_features);
  const size_t expected_rows =
      static_cast<size_t>(std::count(lines.rest().begin(), lines.rest().end(), '\n')) + 1;
  data.time.reserve(expected_rows);
  data.close.reserve(expected_rows);
  data.spread.reserve(expected_rows);
  data.x.Reserve(expected_rows);

  std::vector<float> row(num_features);
  while (lines.Next(&line)) {
    const size_t line_number = lines.line_number();
    if (line.empty()) {
      // A blank line is tolerated only at the end (editors add them); in the middle it hides a
      // lost row.
      std::string_view rest;
      while (lines.Next(&rest)) {
        if (!rest.empty()) return errors.At(line_number, "empty line inside the data");
      }
      break;
    }
    size_t pos = 0;
    Timestamp time;
    double close = 0.0;
    double spread = 0.0;
    for (size_t col = 0; col < num_columns; ++col) {
      if (pos > line.size()) {
        return errors.At(line_number, "missing column " + std::to_string(col + 1) + " '" +
                                          std::string(header[col]) + "': the row has " +
                                          std::to_string(col) + " values, the header " +
                                          std::to_string(num_columns));
      }
      const size_t comma = line.find(',', pos);
      const size_t end = comma == std::string_view::npos ? line.size() : comma;
      if (col + 1 == num_columns && comma != std::string_view::npos) {
        return errors.At(line_number, "extra value '" + std::string(line.substr(comma + 1, 40)) +
                                          "' after the last column " + std::to_string(num_columns) +
                                          " '" + std::string(header[col]) + "' (the header has " +
                                          std::to_string(num_columns) + " columns)");
      }
      const std::string_view value = line.substr(pos, end - pos);
      pos = comma == std::string_view::npos ? line.size() + 1 : comma + 1;
      std::string_view problem;
      if (col == 0) {
        if (auto parsed = ParseUtcTime(value)) {
          time = *parsed;
        } else {
          problem = "not an ISO-8601 UTC time";
        }
      } else if (col == 1) {
        problem = ParseNumber(value, &close);
        if (problem.empty() && !(close > 0.0)) problem = "close must be > 0";
      } else if (col == 2) {
        problem = ParseNumber(value, &spread);
        if (problem.empty() && spread < 0.0) problem = "spread must be >= 0";
      } else {
        problem = ParseNumber(value, &row[col - std::size(kFixedColumns)]);
      }
      if (!problem.empty()) return errors.Field(line_number, col, header[col], value, problem);
    }
    if (!data.time.empty() && !(data.time.back() < time)) {
      return errors.Field(line_number, 0, "time", FormatIso8601(time),
                          "time is not after the previous row's " +
                              FormatIso8601(data.time.back()) + " (rows must be time-ordered)");
    }
    data.time.push_back(time);
    data.close.push_back(close);
    data.spread.push_back(spread);
    data.x.AppendRow(row);
  }
  return data;
}

namespace {

void AppendChars(std::string* out, double v, int precision) {
  char buf[40];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, precision);
  out->append(buf, res.ptr);
}

bool BadNameChar(char c) { return c == ',' || c == '\n' || c == '\r' || c == '"'; }

}  // namespace

Status WriteFeatureCsv(const Dataset& data, const std::string& path) {
  // Refuse what ReadFeatureCsv would refuse, so that every file written can be read back.
  AITS_RETURN_IF_ERROR(data.Validate().WithContext(path));
  for (const std::string& name : data.feature_names) {
    if (name.empty() || std::any_of(name.begin(), name.end(), BadNameChar) ||
        std::find(std::begin(kFixedColumns), std::end(kFixedColumns), name) !=
            std::end(kFixedColumns)) {
      return InvalidArgument(path + ": feature name '" + name +
                             "' cannot be a CSV header (empty, reserved, or has , \" or a "
                             "line break)");
    }
  }
  for (const std::string* meta : {&data.feature_set_version, &data.feature_set_hash}) {
    if (std::any_of(meta->begin(), meta->end(), [](char c) { return c == ' ' || c == '\n'; })) {
      return InvalidArgument(path + ": feature set version/hash '" + *meta +
                             "' must not contain spaces or line breaks");
    }
  }
  std::string out;
  out.reserve(64 + data.rows() * (48 + data.x.cols() * 16));
  out += "# ";
  out += kCommentTag;
  out += " version=" + data.feature_set_version + " hash=" + data.feature_set_hash + "\n";
  out += "time,close,spread";
  for (const std::string& name : data.feature_names) out += "," + name;
  out += '\n';
  for (size_t row = 0; row < data.rows(); ++row) {
    out += FormatIso8601(data.time[row]);
    out += ',';
    // %.17g: every double survives the round trip.
    AppendChars(&out, data.close[row], 17);
    out += ',';
    AppendChars(&out, data.spread[row], 17);
    // %.9g of the float (promoted exactly to double): every float survives the round trip.
    for (float v : data.x.Row(row)) {
      out += ',';
      AppendChars(&out, static_cast<double>(v), 9);
    }
    out += '\n';
  }
  return WriteFileAtomic(path, out);
}

// ---------------------------------------------------------------------------------------------
// Standardizer

Standardizer Standardizer::Fit(const Matrix& x) {
  const size_t cols = x.cols();
  Standardizer s;
  s.mean_.assign(cols, 0.0);
  s.stddev_.assign(cols, 0.0);
  if (x.rows() == 0) {
    s.Finish();
    return s;
  }
  // Two passes in double: one-pass sum-of-squares loses everything for a column like a price
  // level whose variance is tiny next to its mean.
  for (size_t row = 0; row < x.rows(); ++row) {
    const std::span<const float> values = x.Row(row);
    for (size_t col = 0; col < cols; ++col) s.mean_[col] += values[col];
  }
  const double n = static_cast<double>(x.rows());
  for (double& m : s.mean_) m /= n;
  for (size_t row = 0; row < x.rows(); ++row) {
    const std::span<const float> values = x.Row(row);
    for (size_t col = 0; col < cols; ++col) {
      const double d = values[col] - s.mean_[col];
      s.stddev_[col] += d * d;
    }
  }
  for (double& sd : s.stddev_) sd = std::sqrt(sd / n);
  s.Finish();
  return s;
}

void Standardizer::Finish() {
  inv_stddev_.resize(stddev_.size());
  for (size_t col = 0; col < stddev_.size(); ++col) {
    // A constant (or degenerate) column carries no information: it maps to 0.
    inv_stddev_[col] = stddev_[col] > 0.0 && std::isfinite(stddev_[col]) ? 1.0 / stddev_[col] : 0.0;
  }
}

void Standardizer::Apply(std::span<const float> in, std::span<float> out) const {
  assert(in.size() == mean_.size() && out.size() == mean_.size());
  for (size_t col = 0; col < mean_.size(); ++col) {
    out[col] = static_cast<float>((in[col] - mean_[col]) * inv_stddev_[col]);
  }
}

Matrix Standardizer::Apply(const Matrix& x) const {
  Matrix out(x.rows(), x.cols());
  for (size_t row = 0; row < x.rows(); ++row) Apply(x.Row(row), out.Row(row));
  return out;
}

void Standardizer::Serialize(ByteWriter* out) const {
  out->F64s(mean_);
  out->F64s(stddev_);
}

Result<Standardizer> Standardizer::Deserialize(ByteReader* in) {
  Standardizer s;
  AITS_ASSIGN_OR_RETURN(s.mean_, in->F64s("standardizer mean"));
  AITS_ASSIGN_OR_RETURN(s.stddev_, in->F64s("standardizer stddev"));
  if (s.mean_.size() != s.stddev_.size()) {
    return DataLoss(in->what() + ": standardizer has " + std::to_string(s.mean_.size()) +
                    " means but " + std::to_string(s.stddev_.size()) + " standard deviations");
  }
  for (size_t col = 0; col < s.mean_.size(); ++col) {
    if (!std::isfinite(s.mean_[col]) || !std::isfinite(s.stddev_[col]) || s.stddev_[col] < 0.0) {
      return DataLoss(in->what() + ": standardizer column " + std::to_string(col) + " has mean " +
                      FormatNumber(s.mean_[col]) + " and stddev " + FormatNumber(s.stddev_[col]));
    }
  }
  s.Finish();
  return s;
}

}  // namespace aits::ml
