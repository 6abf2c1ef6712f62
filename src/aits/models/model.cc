#include "aits/models/model.h"

namespace aits::ml {

void RowModel::PredictBatch(const Matrix& x, std::span<float> out) const {
  for (size_t r = 0; r < x.rows(); ++r) out[r] = Predict(x.Row(r));
}

}  // namespace aits::ml
