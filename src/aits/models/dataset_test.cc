#include "aits/models/dataset.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace aits::ml {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "aits_ml_dataset_" + std::to_string(::getpid()) + "_" + name;
}

std::string WriteText(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  EXPECT_TRUE(WriteFileAtomic(path, text).ok());
  return path;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Dataset SmallDataset() {
  Dataset data;
  data.feature_set_version = "3";
  data.feature_set_hash = "abc123";
  data.feature_names = {"ret_1", "rsi_14"};
  for (int row = 0; row < 4; ++row) {
    data.time.push_back(FromCivil(2012, 2, 1, 0, 15 * row));
    data.close.push_back(1.5 + 0.001 * row);
    data.spread.push_back(0.0001);
    const float values[] = {0.001f * static_cast<float>(row), 50.0f + static_cast<float>(row)};
    data.x.AppendRow(values);
  }
  return data;
}

TEST(MatrixTest, AppendSliceSelect) {
  Matrix m;
  EXPECT_TRUE(m.empty());
  const float r0[] = {1, 2, 3};
  const float r1[] = {4, 5, 6};
  const float r2[] = {7, 8, 9};
  m.AppendRow(r0);
  m.AppendRow(r1);
  m.AppendRow(r2);
  ASSERT_EQ(m.rows(), 3u);
  ASSERT_EQ(m.cols(), 3u);
  EXPECT_EQ(m(1, 2), 6.0f);
  const Matrix slice = m.SliceRows(1, 3);
  ASSERT_EQ(slice.rows(), 2u);
  EXPECT_EQ(slice(0, 0), 4.0f);
  EXPECT_EQ(slice(1, 2), 9.0f);
  EXPECT_EQ(m.SliceRows(2, 2).rows(), 0u);
  const size_t order[] = {2, 0, 2};
  const Matrix selected = m.SelectRows(order);
  ASSERT_EQ(selected.rows(), 3u);
  EXPECT_EQ(selected(0, 1), 8.0f);
  EXPECT_EQ(selected(1, 1), 2.0f);
  EXPECT_EQ(selected(2, 0), 7.0f);
  const Matrix filled(2, 2, 0.5f);
  EXPECT_EQ(filled(1, 1), 0.5f);
}

TEST(DatasetTest, SliceValidateColumnIndex) {
  const Dataset data = SmallDataset();
  ASSERT_TRUE(data.Validate().ok()) << data.Validate().ToString();
  const Dataset tail = data.Slice(2, 4);
  EXPECT_EQ(tail.rows(), 2u);
  EXPECT_EQ(tail.time[0], data.time[2]);
  EXPECT_EQ(tail.close[1], data.close[3]);
  EXPECT_EQ(tail.x(1, 1), data.x(3, 1));
  EXPECT_EQ(tail.feature_set_hash, "abc123");
  EXPECT_TRUE(tail.Validate().ok());

  EXPECT_EQ(*data.ColumnIndex("rsi_14"), 1u);
  const Result<size_t> missing = data.ColumnIndex("rsi_41");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "rsi_41"));
  EXPECT_TRUE(Contains(missing.status().message(), "rsi_14"));  // lists what is there

  Dataset bad = data;
  bad.x(2, 1) = std::numeric_limits<float>::quiet_NaN();
  Status status = bad.Validate();
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(Contains(status.message(), "row 2")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "rsi_14")) << status.message();
  EXPECT_TRUE(Contains(status.message(), "2012-02-01T00:30:00Z")) << status.message();

  bad = data;
  bad.time[3] = bad.time[2];
  EXPECT_FALSE(bad.Validate().ok());
  bad = data;
  bad.close[0] = 0.0;
  EXPECT_TRUE(Contains(bad.Validate().message(), "close"));
  bad = data;
  bad.spread[1] = -1e-5;
  EXPECT_TRUE(Contains(bad.Validate().message(), "spread"));
  bad = data;
  bad.spread.pop_back();
  EXPECT_FALSE(bad.Validate().ok());
}

// Random finite float bit patterns: normals of every exponent, subnormals, both zeros.
float RandomFiniteFloat(std::mt19937_64& rng) {
  for (;;) {
    const auto bits = static_cast<uint32_t>(rng());
    const float v = std::bit_cast<float>(bits);
    if (std::isfinite(v)) return v;
  }
}

TEST(FeatureCsvTest, RoundTripIsBitExact) {
  std::mt19937_64 rng(7);
  Dataset data;
  data.feature_set_version = "2";
  data.feature_set_hash = "f00dfeed";
  data.feature_names = {"a", "b_long_name", "c", "d"};
  Timestamp t = FromCivil(2012, 2, 1);
  std::uniform_real_distribution<double> price(0.5, 200.0);
  for (int row = 0; row < 500; ++row) {
    t = t + Duration::Nanos(static_cast<int64_t>(rng() % 1'000'000'000'000ULL) + 1);
    data.time.push_back(t);
    data.close.push_back(price(rng));
    data.spread.push_back(row % 7 == 0 ? 0.0 : price(rng) * 1e-5);
    float values[4];
    for (float& v : values) v = RandomFiniteFloat(rng);
    if (row == 0) {
      values[0] = -0.0f;
      values[1] = std::numeric_limits<float>::denorm_min();
      values[2] = std::numeric_limits<float>::max();
      values[3] = -std::numeric_limits<float>::min();
    }
    data.x.AppendRow(values);
  }
  const std::string path = TempPath("roundtrip.csv");
  ASSERT_TRUE(WriteFeatureCsv(data, path).ok());
  const Result<Dataset> read = ReadFeatureCsv(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->feature_set_version, "2");
  EXPECT_EQ(read->feature_set_hash, "f00dfeed");
  EXPECT_EQ(read->feature_names, data.feature_names);
  ASSERT_EQ(read->rows(), data.rows());
  EXPECT_EQ(read->time, data.time);
  for (size_t row = 0; row < data.rows(); ++row) {
    ASSERT_EQ(std::bit_cast<uint64_t>(read->close[row]), std::bit_cast<uint64_t>(data.close[row]));
    ASSERT_EQ(std::bit_cast<uint64_t>(read->spread[row]),
              std::bit_cast<uint64_t>(data.spread[row]));
  }
  ASSERT_EQ(read->x.cols(), 4u);
  EXPECT_EQ(std::memcmp(read->x.data(), data.x.data(), data.rows() * 4 * sizeof(float)), 0);
  // Writing what was read gives the same bytes.
  const std::string again = TempPath("roundtrip2.csv");
  ASSERT_TRUE(WriteFeatureCsv(*read, again).ok());
  EXPECT_EQ(*ReadFile(path), *ReadFile(again));
  ::unlink(path.c_str());
  ::unlink(again.c_str());
}

TEST(FeatureCsvTest, ReadsCrlfAndNoComment) {
  const std::string path =
      WriteText("crlf.csv",
                "time,close,spread,x\r\n2012-02-01T00:15:00Z,1.5,0.0001,2.5\r\n"
                "2012-02-01T00:30:00.5Z,1.6,0,-1e-3\r\n");
  const Result<Dataset> data = ReadFeatureCsv(path);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->rows(), 2u);
  EXPECT_EQ(data->time[1], FromCivil(2012, 2, 1, 0, 30, 0, 500'000'000));
  EXPECT_EQ(data->x(1, 0), -1e-3f);
  EXPECT_EQ(data->feature_set_hash, "");
  ::unlink(path.c_str());
}

TEST(FeatureCsvTest, SkipsByteOrderMark) {
  const std::string path = WriteText(
      "bom.csv", "\xEF\xBB\xBFtime,close,spread,x\n2012-02-01T00:15:00Z,1.5,0.0001,2.5\n");
  const Result<Dataset> data = ReadFeatureCsv(path);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->rows(), 1u);
  ::unlink(path.c_str());
}

TEST(FeatureCsvTest, HeaderOnlyGivesAnEmptyDataset) {
  const std::string path = WriteText("header_only.csv", "time,close,spread,x,y\n");
  const Result<Dataset> data = ReadFeatureCsv(path);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->rows(), 0u);
  EXPECT_EQ(data->x.cols(), 2u);
  EXPECT_EQ(data->feature_names.size(), 2u);
  ::unlink(path.c_str());
}

struct BadCsv {
  const char* name;
  const char* text;
  std::vector<std::string> expected;  // substrings the error must hold
};

class FeatureCsvBadInputTest : public ::testing::TestWithParam<BadCsv> {};

TEST_P(FeatureCsvBadInputTest, ErrorNamesLineAndColumn) {
  const BadCsv& bad = GetParam();
  const std::string path = WriteText(std::string(bad.name) + ".csv", bad.text);
  const Result<Dataset> data = ReadFeatureCsv(path);
  ASSERT_FALSE(data.ok()) << bad.name;
  const std::string& message = data.status().message();
  EXPECT_TRUE(Contains(message, path)) << message;
  for (const std::string& part : bad.expected) {
    EXPECT_TRUE(Contains(message, part)) << bad.name << ": '" << part << "' not in: " << message;
  }
  ::unlink(path.c_str());
}

constexpr char kHeader[] = "# aits-features version=1 hash=h\ntime,close,spread,ret,vol\n";
constexpr char kRow1[] = "2012-02-01T00:15:00Z,1.5,0.0001,0.25,3\n";

INSTANTIATE_TEST_SUITE_P(
    BadInputs, FeatureCsvBadInputTest,
    ::testing::Values(
        BadCsv{"empty", "", {":1:", "empty file"}},
        BadCsv{"comment_only", "# aits-features version=1\n", {"empty file"}},
        BadCsv{"missing_column",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,0.25\n",
               {":2:", "missing column 5 'vol'"}},
        BadCsv{"extra_column",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,0.25,3,99\n",
               {":2:", "extra value '99'", "'vol'"}},
        BadCsv{"nan_feature",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,nan,3\n",
               {":2:", "'ret'", "non-finite", "'nan'"}},
        BadCsv{"inf_feature",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,1,-inf\n",
               {":2:", "'vol'", "non-finite", "'-inf'"}},
        BadCsv{"overflow_feature",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,1,1e39\n",
               {":2:", "'vol'", "out of range", "'1e39'"}},
        BadCsv{"non_numeric",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,0.25,abc\n",
               {":2:", "column 5 'vol'", "not a number", "'abc'"}},
        BadCsv{"trailing_garbage",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,0.25x,1\n",
               {":2:", "'ret'", "'0.25x'"}},
        BadCsv{"empty_value",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,,1\n",
               {":2:", "'ret'", "empty value"}},
        BadCsv{"bad_close",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,-1.5,0.0001,1,1\n",
               {":2:", "'close'", "'-1.5'"}},
        BadCsv{"bad_spread",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,-0.0001,1,1\n",
               {":2:", "'spread'"}},
        BadCsv{"bad_time",
               "time,close,spread,ret,vol\n2012-02-30T00:15:00Z,1.5,0.0001,1,1\n",
               {":2:", "'time'", "2012-02-30T00:15:00Z"}},
        BadCsv{"out_of_order",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,1,1\n"
               "2012-02-01T00:30:00Z,1.5,0.0001,1,1\n2012-02-01T00:20:00Z,1.5,0.0001,1,1\n",
               {":4:", "'time'", "2012-02-01T00:20:00Z", "not after", "2012-02-01T00:30:00Z"}},
        BadCsv{"repeated_time",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,1,1\n"
               "2012-02-01T00:15:00Z,1.5,0.0001,1,1\n",
               {":3:", "not after"}},
        BadCsv{"duplicate_header",
               "time,close,spread,ret,vol,ret\n",
               {":1:", "duplicate header name 'ret'", "column 6"}},
        BadCsv{"wrong_first_columns", "close,time,spread,ret\n", {":1:", "'time'", "'close'"}},
        BadCsv{"no_spread", "time,close\n", {":1:", "'spread'"}},
        BadCsv{"blank_line_inside",
               "time,close,spread,ret,vol\n2012-02-01T00:15:00Z,1.5,0.0001,1,1\n\n"
               "2012-02-01T00:30:00Z,1.5,0.0001,1,1\n",
               {":3:", "empty line"}}),
    [](const ::testing::TestParamInfo<BadCsv>& param) { return std::string(param.param.name); });

TEST(FeatureCsvTest, LineNumbersCountTheComment) {
  const std::string path =
      WriteText("comment_lines.csv",
                std::string(kHeader) + kRow1 + "2012-02-01T00:30:00Z,1.5,0.0001,0.25,x\n");
  const Result<Dataset> data = ReadFeatureCsv(path);
  ASSERT_FALSE(data.ok());
  EXPECT_TRUE(Contains(data.status().message(), ":4:")) << data.status().message();
  ::unlink(path.c_str());
}

TEST(FeatureCsvTest, MissingFileIsNotFound) {
  const Result<Dataset> data = ReadFeatureCsv(TempPath("does_not_exist.csv"));
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), StatusCode::kNotFound);
}

TEST(FeatureCsvTest, WriteRefusesWhatCannotBeRead) {
  Dataset data = SmallDataset();
  data.x(0, 0) = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(WriteFeatureCsv(data, TempPath("bad.csv")).ok());
  data = SmallDataset();
  data.feature_names[0] = "a,b";
  EXPECT_FALSE(WriteFeatureCsv(data, TempPath("bad.csv")).ok());
  data.feature_names[0] = "close";
  EXPECT_FALSE(WriteFeatureCsv(data, TempPath("bad.csv")).ok());
}

TEST(StandardizerTest, MeanStdAndConstantColumn) {
  Matrix x;
  const float rows[][3] = {{1, 5, -2}, {2, 5, 0}, {3, 5, 2}, {6, 5, 4}};
  for (const auto& row : rows) x.AppendRow(row);
  const Standardizer s = Standardizer::Fit(x);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s.mean()[0], 3.0);
  EXPECT_DOUBLE_EQ(s.stddev()[0], std::sqrt((4.0 + 1.0 + 0.0 + 9.0) / 4.0));
  EXPECT_DOUBLE_EQ(s.mean()[1], 5.0);
  EXPECT_EQ(s.stddev()[1], 0.0);
  EXPECT_DOUBLE_EQ(s.mean()[2], 1.0);

  const Matrix z = s.Apply(x);
  for (size_t row = 0; row < z.rows(); ++row) EXPECT_EQ(z(row, 1), 0.0f);  // constant → 0
  EXPECT_NEAR(z(3, 0), 3.0 / std::sqrt(3.5), 1e-6);
  // Standardized columns have mean 0 and (population) variance 1.
  for (size_t col : {size_t{0}, size_t{2}}) {
    double sum = 0, sum2 = 0;
    for (size_t row = 0; row < z.rows(); ++row) {
      sum += z(row, col);
      sum2 += z(row, col) * z(row, col);
    }
    EXPECT_NEAR(sum / 4.0, 0.0, 1e-6);
    EXPECT_NEAR(sum2 / 4.0, 1.0, 1e-6);
  }
  // In place (in and out alias).
  float row[] = {3.0f, 123.0f, 1.0f};
  s.Apply(row, row);
  EXPECT_EQ(row[0], 0.0f);
  EXPECT_EQ(row[1], 0.0f);
  EXPECT_EQ(row[2], 0.0f);
}

TEST(StandardizerTest, NoRowsMapsToZero) {
  const Standardizer s = Standardizer::Fit(Matrix(0, 2));
  ASSERT_EQ(s.size(), 2u);
  float row[] = {3.0f, -1.0f};
  s.Apply(row, row);
  EXPECT_EQ(row[0], 0.0f);
  EXPECT_EQ(row[1], 0.0f);
}

TEST(StandardizerTest, LargeOffsetKeepsPrecision) {
  // A price-level column: tiny variance next to its mean, where sum-of-squares would fail.
  Matrix x;
  for (int row = 0; row < 1000; ++row) {
    const float v[] = {1000.0f + (row % 2 == 0 ? 0.0625f : -0.0625f)};
    x.AppendRow(v);
  }
  const Standardizer s = Standardizer::Fit(x);
  EXPECT_DOUBLE_EQ(s.mean()[0], 1000.0);
  EXPECT_DOUBLE_EQ(s.stddev()[0], 0.0625);
}

TEST(StandardizerTest, SerializeRoundTripAndCorruption) {
  Matrix x;
  const float rows[][2] = {{1, 7}, {2, 7}, {4, 7}};
  for (const auto& row : rows) x.AppendRow(row);
  const Standardizer s = Standardizer::Fit(x);
  ByteWriter w;
  s.Serialize(&w);
  ByteReader r(w.data(), "std");
  const Result<Standardizer> back = Standardizer::Deserialize(&r);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->mean(), s.mean());
  EXPECT_EQ(back->stddev(), s.stddev());
  float in[] = {4.0f, 7.0f}, a[2], b[2];
  s.Apply(in, a);
  back->Apply(in, b);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(b[1], 0.0f);

  ByteWriter negative;
  const double means[] = {0.0};
  const double stds[] = {-1.0};
  negative.F64s(means);
  negative.F64s(stds);
  ByteReader nr(negative.data(), "neg");
  EXPECT_FALSE(Standardizer::Deserialize(&nr).ok());
}

}  // namespace
}  // namespace aits::ml
