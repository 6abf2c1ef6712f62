#include "aits/ml/member_weights.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace aits::ml {

Status MemberWeightsConfig::Validate() const {
  if (window < 2) {
    return InvalidArgument("member weights: window " + std::to_string(window) + " must be >= 2");
  }
  if (min_calls < 1) return InvalidArgument("member weights: min_calls must be >= 1");
  if (!(min > 0 && min <= 1 && max >= 1 && std::isfinite(max))) {
    return InvalidArgument("member weights: bounds [" + std::to_string(min) + ", " +
                           std::to_string(max) + "] must hold 1, min above 0");
  }
  return Status::Ok();
}

Result<MemberWeights> MemberWeights::Create(size_t members, Duration horizon,
                                            const MemberWeightsConfig& config) {
  AITS_RETURN_IF_ERROR(config.Validate());
  if (members == 0) return InvalidArgument("member weights: an ensemble without members");
  std::vector<CallBook> books;
  books.reserve(members);
  for (size_t idx = 0; idx < members; ++idx) {
    AITS_ASSIGN_OR_RETURN(CallBook book, CallBook::Create(horizon, config.window));
    books.push_back(std::move(book));
  }
  return MemberWeights(std::move(books), config);
}

void MemberWeights::OnBar(Timestamp close_time, double close, std::span<const float> member_p) {
  const size_t n = std::min(member_p.size(), books_.size());
  for (size_t idx = 0; idx < n; ++idx) {
    books_[idx].OnBar(close_time, close, 2.0 * static_cast<double>(member_p[idx]) - 1.0);
  }
  double sum = 0;
  for (const CallBook& book : books_) {
    const double accuracy = book.live().accuracy();
    if (book.live().directional() < config_.min_calls || !std::isfinite(accuracy)) {
      active_ = false;
      std::fill(weights_.begin(), weights_.end(), 1.0);
      return;
    }
    sum += accuracy;
  }
  const double mean = sum / static_cast<double>(books_.size());
  active_ = mean > 0;
  for (size_t idx = 0; idx < books_.size(); ++idx) {
    weights_[idx] =
        active_ ? std::clamp(books_[idx].live().accuracy() / mean, config_.min, config_.max) : 1.0;
  }
}

}  // namespace aits::ml
