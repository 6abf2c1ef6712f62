#include "aits/models/recurrent_model.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "aits/models/serialize.h"

// Counts heap allocations while armed, to check that Step never allocates. Every replaceable
// form is defined so that new and delete always pair (ASan checks that too).
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<long> g_allocations{0};

void* CountedAlloc(std::size_t size) {
  if (g_count_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* CountedAlignedAlloc(std::size_t size, std::align_val_t align) {
  if (g_count_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  const std::size_t alignment = static_cast<std::size_t>(align);
  const std::size_t rounded = (size + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t size) { return CountedAlloc(size); }
void* operator new[](std::size_t size) { return CountedAlloc(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return CountedAlloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return CountedAlloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) {
  return CountedAlignedAlloc(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return CountedAlignedAlloc(size, align);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace aits::ml {
namespace {

class TestRng {
 public:
  explicit TestRng(uint64_t seed) : state_(seed) {}
  // Uniform in [-1, 1).
  float Uniform() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }

 private:
  uint64_t state_;
};

Matrix RandomMatrix(size_t rows, size_t cols, uint64_t seed, float scale = 1.0f,
                    float offset = 0.0f) {
  TestRng rng(seed);
  Matrix m(rows, cols);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) m(r, c) = offset + scale * rng.Uniform();
  }
  return m;
}

std::vector<float> RandomVector(size_t n, TestRng& rng, float scale) {
  std::vector<float> v(n);
  for (float& x : v) x = scale * rng.Uniform();
  return v;
}

RecurrentWeights RandomWeights(RecurrentCell cell, size_t input_size, size_t hidden, size_t layers,
                               uint64_t seed) {
  TestRng rng(seed);
  RecurrentWeights w;
  w.cell = cell;
  w.input_size = input_size;
  w.hidden = hidden;
  const size_t gate_rows = RecurrentGateCount(cell) * hidden;
  // Scaled like torch's init (1/sqrt(hidden)), a bit larger so that gates saturate sometimes.
  const float scale = 1.5f / std::sqrt(static_cast<float>(hidden));
  for (size_t layer = 0; layer < layers; ++layer) {
    const size_t layer_input = layer == 0 ? input_size : hidden;
    RecurrentLayerWeights l;
    l.w_ih = RandomVector(gate_rows * layer_input, rng, scale);
    l.w_hh = RandomVector(gate_rows * hidden, rng, scale);
    l.b_ih = RandomVector(gate_rows, rng, scale);
    l.b_hh = RandomVector(gate_rows, rng, scale);
    w.layers.push_back(std::move(l));
  }
  w.head_w = RandomVector(hidden, rng, 1.0f);
  w.head_b = 0.1f;
  return w;
}

struct Fixture {
  RecurrentWeights weights;
  Standardizer standardizer;
  Matrix stream;  // raw rows, not standardized
};

Fixture MakeFixture(RecurrentCell cell, size_t input_size, size_t hidden, size_t layers,
                    uint64_t seed = 7) {
  Fixture f;
  f.weights = RandomWeights(cell, input_size, hidden, layers, seed);
  // Raw features far from N(0, 1), so that a missing standardization shows.
  f.standardizer = Standardizer::Fit(RandomMatrix(500, input_size, seed + 1, 3.0f, 10.0f));
  f.stream = RandomMatrix(120, input_size, seed + 2, 3.0f, 10.0f);
  return f;
}

std::unique_ptr<RecurrentModel> MakeModel(const Fixture& f, size_t window = 30) {
  Result<std::unique_ptr<RecurrentModel>> model =
      RecurrentModel::Create(f.weights, f.standardizer, window);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// A plain double-precision transcription of torch's LSTM/GRU equations, independent of the
// Eigen code under test.
class NaiveReference {
 public:
  explicit NaiveReference(const RecurrentWeights& w)
      : w_(w), h_(w.layers.size(), std::vector<double>(w.hidden)), c_(h_) {}

  double Step(const std::vector<float>& scaled) {
    std::vector<double> input(scaled.begin(), scaled.end());
    const size_t hs = w_.hidden;
    for (size_t layer = 0; layer < w_.layers.size(); ++layer) {
      const RecurrentLayerWeights& l = w_.layers[layer];
      const size_t gates = RecurrentGateCount(w_.cell) * hs;
      std::vector<double> gx(gates), gh(gates);
      for (size_t row = 0; row < gates; ++row) {
        double sx = l.b_ih[row];
        for (size_t k = 0; k < input.size(); ++k) sx += l.w_ih[row * input.size() + k] * input[k];
        double sh = l.b_hh[row];
        for (size_t k = 0; k < hs; ++k) sh += l.w_hh[row * hs + k] * h_[layer][k];
        gx[row] = sx;
        gh[row] = sh;
      }
      std::vector<double> h_new(hs);
      for (size_t j = 0; j < hs; ++j) {
        if (w_.cell == RecurrentCell::kLstm) {
          const double i = Sigmoid(gx[j] + gh[j]);
          const double f = Sigmoid(gx[hs + j] + gh[hs + j]);
          const double g = std::tanh(gx[2 * hs + j] + gh[2 * hs + j]);
          const double o = Sigmoid(gx[3 * hs + j] + gh[3 * hs + j]);
          c_[layer][j] = f * c_[layer][j] + i * g;
          h_new[j] = o * std::tanh(c_[layer][j]);
        } else {
          const double r = Sigmoid(gx[j] + gh[j]);
          const double z = Sigmoid(gx[hs + j] + gh[hs + j]);
          const double n = std::tanh(gx[2 * hs + j] + r * gh[2 * hs + j]);
          h_new[j] = (1 - z) * n + z * h_[layer][j];
        }
      }
      h_[layer] = h_new;
      input = h_new;
    }
    double logit = w_.head_b;
    for (size_t j = 0; j < hs; ++j) logit += w_.head_w[j] * input[j];
    return Sigmoid(logit);
  }

 private:
  RecurrentWeights w_;
  std::vector<std::vector<double>> h_;
  std::vector<std::vector<double>> c_;
};

struct ShapeCase {
  RecurrentCell cell;
  size_t layers;
};

class RecurrentShapeTest : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(RecurrentShapeTest, StepMatchesNaiveEquations) {
  const ShapeCase shape = GetParam();
  Fixture f = MakeFixture(shape.cell, 5, 16, shape.layers);
  std::unique_ptr<RecurrentModel> model = MakeModel(f);
  NaiveReference reference(f.weights);
  std::vector<float> scaled(5);
  double max_diff = 0;
  for (size_t row = 0; row < f.stream.rows(); ++row) {
    f.standardizer.Apply(f.stream.Row(row), scaled);
    const double expected = reference.Step(scaled);
    const float actual = model->Step(f.stream.Row(row));
    max_diff = std::max(max_diff, std::fabs(actual - expected));
  }
  EXPECT_LT(max_diff, 1e-5);
}

TEST_P(RecurrentShapeTest, PredictWindowEqualsStepsFromReset) {
  const ShapeCase shape = GetParam();
  Fixture f = MakeFixture(shape.cell, 4, 8, shape.layers);
  std::unique_ptr<RecurrentModel> model = MakeModel(f);
  for (size_t row = 0; row < 17; ++row) model->Step(f.stream.Row(row));  // some prior state
  const Matrix window = f.stream.SliceRows(40, 70);
  const float from_window = model->PredictWindow(window);
  std::unique_ptr<RecurrentModel> fresh = MakeModel(f);
  float stepped = 0;
  for (size_t row = 0; row < window.rows(); ++row) stepped = fresh->Step(window.Row(row));
  EXPECT_EQ(from_window, stepped);
  // The state is left after the window: the next step continues from it.
  EXPECT_EQ(model->Step(f.stream.Row(70)), fresh->Step(f.stream.Row(70)));
}

TEST_P(RecurrentShapeTest, SerializeRoundTripGivesIdenticalStream) {
  const ShapeCase shape = GetParam();
  Fixture f = MakeFixture(shape.cell, 6, 12, shape.layers);
  std::unique_ptr<RecurrentModel> model = MakeModel(f, 45);
  const std::string bytes = model->Serialize();
  Result<std::unique_ptr<RecurrentModel>> loaded = RecurrentModel::Deserialize(bytes, "mem");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Kind(), RecurrentCellName(shape.cell));
  EXPECT_EQ((*loaded)->InputSize(), 6u);
  EXPECT_EQ((*loaded)->hidden(), 12u);
  EXPECT_EQ((*loaded)->layers(), shape.layers);
  EXPECT_EQ((*loaded)->window(), 45u);
  EXPECT_EQ((*loaded)->Serialize(), bytes);
  for (size_t row = 0; row < f.stream.rows(); ++row) {
    const float a = model->Step(f.stream.Row(row));
    const float b = (*loaded)->Step(f.stream.Row(row));
    ASSERT_EQ(a, b) << "row " << row;  // exact: every float's bits are stored
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RecurrentShapeTest,
    ::testing::Values(ShapeCase{RecurrentCell::kLstm, 1}, ShapeCase{RecurrentCell::kLstm, 2},
                      ShapeCase{RecurrentCell::kLstm, 3}, ShapeCase{RecurrentCell::kGru, 1},
                      ShapeCase{RecurrentCell::kGru, 2}, ShapeCase{RecurrentCell::kGru, 3}),
    [](const ::testing::TestParamInfo<ShapeCase>& param_info) {
      return std::string(RecurrentCellName(param_info.param.cell)) +
             std::to_string(param_info.param.layers);
    });

TEST(RecurrentModelTest, ResetStateRestoresInitialOutput) {
  for (RecurrentCell cell : {RecurrentCell::kLstm, RecurrentCell::kGru}) {
    Fixture f = MakeFixture(cell, 4, 8, 2);
    std::unique_ptr<RecurrentModel> model = MakeModel(f);
    const float first = model->Step(f.stream.Row(0));
    for (size_t row = 1; row < 30; ++row) model->Step(f.stream.Row(row));
    EXPECT_NE(model->Step(f.stream.Row(0)), first) << "state should matter";
    model->ResetState();
    EXPECT_EQ(model->Step(f.stream.Row(0)), first);
  }
}

TEST(RecurrentModelTest, CloneStartsResetAndIsIndependent) {
  Fixture f = MakeFixture(RecurrentCell::kLstm, 4, 8, 1);
  std::unique_ptr<RecurrentModel> model = MakeModel(f);
  const float first = MakeModel(f)->Step(f.stream.Row(0));
  for (size_t row = 0; row < 10; ++row) model->Step(f.stream.Row(row));
  std::unique_ptr<SequenceModel> clone = model->Clone();
  EXPECT_EQ(clone->Kind(), "lstm");
  EXPECT_EQ(clone->Step(f.stream.Row(0)), first);
  // Stepping the clone leaves the original's state alone.
  std::unique_ptr<RecurrentModel> twin = MakeModel(f);
  for (size_t row = 0; row < 10; ++row) twin->Step(f.stream.Row(row));
  for (size_t row = 1; row < 20; ++row) clone->Step(f.stream.Row(row));
  EXPECT_EQ(model->Step(f.stream.Row(10)), twin->Step(f.stream.Row(10)));
}

TEST(RecurrentModelTest, StepDoesNotAllocate) {
  Fixture f = MakeFixture(RecurrentCell::kLstm, 6, 16, 2);
  std::unique_ptr<RecurrentModel> lstm = MakeModel(f);
  Fixture g = MakeFixture(RecurrentCell::kGru, 6, 16, 2);
  std::unique_ptr<RecurrentModel> gru = MakeModel(g);
  float sink = 0;
  g_allocations = 0;
  g_count_allocations = true;
  for (size_t row = 0; row < f.stream.rows(); ++row) {
    sink += lstm->Step(f.stream.Row(row));
    sink += gru->Step(g.stream.Row(row));
  }
  lstm->ResetState();
  gru->ResetState();
  g_count_allocations = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_TRUE(std::isfinite(sink));
  // The counter works: a vector allocates.
  g_count_allocations = true;
  std::vector<float>* probe = new std::vector<float>(10);
  g_count_allocations = false;
  delete probe;
  EXPECT_GE(g_allocations.load(), 1);
}

TEST(RecurrentModelTest, WrongRowSizeReturnsNaNAndKeepsState) {
  Fixture f = MakeFixture(RecurrentCell::kGru, 4, 8, 1);
  std::unique_ptr<RecurrentModel> model = MakeModel(f);
  std::unique_ptr<RecurrentModel> twin = MakeModel(f);
  model->Step(f.stream.Row(0));
  twin->Step(f.stream.Row(0));
  std::vector<float> short_row(3, 1.0f);
  EXPECT_TRUE(std::isnan(model->Step(short_row)));
  EXPECT_TRUE(std::isnan(model->Step({})));
  EXPECT_EQ(model->Step(f.stream.Row(1)), twin->Step(f.stream.Row(1)));
  EXPECT_TRUE(std::isnan(model->PredictWindow(Matrix(5, 3))));
  EXPECT_TRUE(std::isnan(model->PredictWindow(Matrix())));
}

TEST(RecurrentModelTest, NonFiniteInputPoisonsUntilReset) {
  Fixture f = MakeFixture(RecurrentCell::kLstm, 4, 8, 1);
  std::unique_ptr<RecurrentModel> model = MakeModel(f);
  const float first = model->Step(f.stream.Row(0));
  std::vector<float> bad(4, 1.0f);
  bad[2] = std::nanf("");
  EXPECT_TRUE(std::isnan(model->Step(bad)));
  EXPECT_TRUE(std::isnan(model->Step(f.stream.Row(0))));
  model->ResetState();
  EXPECT_EQ(model->Step(f.stream.Row(0)), first);
}

TEST(RecurrentModelTest, CreateRejectsInconsistentWeights) {
  Fixture f = MakeFixture(RecurrentCell::kLstm, 4, 8, 2);
  auto expect_error = [&](RecurrentWeights w, const std::string& needle, size_t window = 10,
                          const Standardizer* standardizer = nullptr) {
    Result<std::unique_ptr<RecurrentModel>> model =
        RecurrentModel::Create(std::move(w), standardizer ? *standardizer : f.standardizer, window);
    ASSERT_FALSE(model.ok()) << needle;
    EXPECT_NE(model.status().message().find(needle), std::string::npos)
        << model.status().ToString();
  };
  {
    RecurrentWeights w = f.weights;
    w.layers[1].w_ih.pop_back();
    expect_error(w, "layer 1 w_ih");
  }
  {
    RecurrentWeights w = f.weights;
    w.layers[0].b_hh[3] = std::nanf("");
    expect_error(w, "layer 0 b_hh holds a non-finite");
  }
  {
    RecurrentWeights w = f.weights;
    w.hidden = 0;
    expect_error(w, "hidden 0");
  }
  {
    RecurrentWeights w = f.weights;
    w.layers.clear();
    expect_error(w, "0 layers");
  }
  {
    RecurrentWeights w = f.weights;
    w.head_w.resize(7);
    expect_error(w, "head");
  }
  {
    RecurrentWeights w = f.weights;
    w.cell = RecurrentCell::kGru;  // LSTM-sized blocks are the wrong size for a GRU
    expect_error(w, "layer 0 w_ih");
  }
  expect_error(f.weights, "window is 0", 0);
  const Standardizer wide = Standardizer::Fit(RandomMatrix(10, 5, 3));
  expect_error(f.weights, "standardizer has 5 columns", 10, &wide);
}

TEST(RecurrentModelTest, CorruptOrTruncatedBytesAreErrors) {
  Fixture f = MakeFixture(RecurrentCell::kGru, 3, 4, 2);
  const std::string bytes = MakeModel(f)->Serialize();
  for (size_t len = 0; len < bytes.size(); len += 1 + len / 16) {
    EXPECT_FALSE(RecurrentModel::Deserialize(bytes.substr(0, len), "cut").ok()) << len;
  }
  for (size_t pos = 0; pos < bytes.size(); pos += 7) {
    std::string corrupt = bytes;
    corrupt[pos] = static_cast<char>(corrupt[pos] ^ 0x5a);
    EXPECT_FALSE(RecurrentModel::Deserialize(corrupt, "flip").ok()) << pos;
  }
  EXPECT_FALSE(RecurrentModel::Deserialize(bytes + "x", "tail").ok());
  EXPECT_TRUE(RecurrentModel::Deserialize(bytes, "ok").ok());
}

// Valid envelopes (checksums right) around payloads that are wrong: the checks behind the
// checksum must hold on their own.
TEST(RecurrentModelTest, ValidEnvelopeWithBadPayloadIsAnError) {
  Fixture f = MakeFixture(RecurrentCell::kLstm, 3, 4, 1);
  std::unique_ptr<RecurrentModel> model = MakeModel(f);
  const std::string good_payload = UnwrapModel(model->Serialize(), "m")->payload;

  auto payload = [&](uint64_t input_size, uint64_t hidden, uint64_t layers, bool trailing) {
    ByteWriter w;
    w.U32(1);
    w.U64(input_size);
    w.U64(hidden);
    w.U64(layers);
    w.U64(10);
    f.standardizer.Serialize(&w);
    for (const RecurrentLayerWeights& l : f.weights.layers) {
      w.F32s(l.w_ih);
      w.F32s(l.w_hh);
      w.F32s(l.b_ih);
      w.F32s(l.b_hh);
    }
    w.F32s(f.weights.head_w);
    w.F32(f.weights.head_b);
    if (trailing) w.U8(0);
    return w.Take();
  };
  EXPECT_TRUE(RecurrentModel::Deserialize(WrapModel("lstm", payload(3, 4, 1, false)), "m").ok());

  Result<std::unique_ptr<RecurrentModel>> wrong_kind =
      RecurrentModel::Deserialize(WrapModel("xgboost", good_payload), "m.bin");
  ASSERT_FALSE(wrong_kind.ok());
  EXPECT_NE(wrong_kind.status().message().find("xgboost"), std::string::npos);
  EXPECT_NE(wrong_kind.status().message().find("m.bin"), std::string::npos);
  // A GRU reading LSTM-sized blocks.
  EXPECT_FALSE(RecurrentModel::Deserialize(WrapModel("gru", good_payload), "m").ok());
  EXPECT_FALSE(RecurrentModel::Deserialize(WrapModel("lstm", payload(3, 5, 1, false)), "m").ok());
  EXPECT_FALSE(RecurrentModel::Deserialize(WrapModel("lstm", payload(4, 4, 1, false)), "m").ok());
  EXPECT_FALSE(
      RecurrentModel::Deserialize(WrapModel("lstm", payload(3, 4, 1ull << 40, false)), "m").ok());
  EXPECT_FALSE(
      RecurrentModel::Deserialize(WrapModel("lstm", payload(3, 1ull << 62, 1, false)), "m").ok());
  EXPECT_FALSE(RecurrentModel::Deserialize(WrapModel("lstm", payload(3, 4, 1, true)), "m").ok());
  std::string future = good_payload;
  future[0] = 9;  // payload version
  EXPECT_FALSE(RecurrentModel::Deserialize(WrapModel("lstm", future), "m").ok());
}

TEST(RecurrentModelTest, CellNames) {
  EXPECT_EQ(RecurrentCellName(RecurrentCell::kLstm), "lstm");
  EXPECT_EQ(RecurrentCellName(RecurrentCell::kGru), "gru");
  EXPECT_EQ(*ParseRecurrentCell("gru"), RecurrentCell::kGru);
  EXPECT_FALSE(ParseRecurrentCell("rnn").ok());
  EXPECT_EQ(RecurrentGateCount(RecurrentCell::kLstm), 4u);
  EXPECT_EQ(RecurrentGateCount(RecurrentCell::kGru), 3u);
}

}  // namespace
}  // namespace aits::ml
