// Synthetic sequence tasks for the recurrent-model tests (test-only).
#pragma once

#include <cstdint>
#include <vector>

#include "aits/models/dataset.h"

namespace aits::ml::testing_util {

// Rows of uniform noise in [-1, 1) (column c scaled by c + 1 and shifted by 2c, so that the
// standardizer has work to do); the label of row r is 1 when column 0 summed over rows r-4..r is
// positive. A model has to remember the last five inputs to beat chance: a real temporal signal.
struct SumTask {
  Matrix x;
  std::vector<float> y;
  std::vector<uint8_t> usable;
};

inline uint64_t SplitMixNext(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline SumTask MakeSumTask(size_t rows, size_t cols, uint64_t seed, size_t span = 5) {
  uint64_t state = seed * 7919 + 1;
  SumTask task;
  task.x = Matrix(rows, cols);
  task.y.assign(rows, 0.0f);
  task.usable.assign(rows, 0);
  for (size_t row = 0; row < rows; ++row) {
    for (size_t col = 0; col < cols; ++col) {
      const double u = static_cast<double>(SplitMixNext(state) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
      task.x(row, col) =
          static_cast<float>(u * static_cast<double>(col + 1) + 2.0 * static_cast<double>(col));
    }
    if (row + 1 >= span) {
      double sum = 0;
      for (size_t back = 0; back < span; ++back) sum += task.x(row - back, 0);
      task.y[row] = sum > 0 ? 1.0f : 0.0f;
      task.usable[row] = 1;
    }
  }
  return task;
}

// Replaces every label with a coin flip: nothing left to learn.
inline void ShuffleLabels(SumTask* task, uint64_t seed) {
  uint64_t state = seed;
  for (float& label : task->y) label = (SplitMixNext(state) >> 63) != 0 ? 1.0f : 0.0f;
}

}  // namespace aits::ml::testing_util
