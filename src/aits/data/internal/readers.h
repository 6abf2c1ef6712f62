// Text readers and the rejection bookkeeping they share. Internal to aits/data.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/data/internal/mapped_file.h"
#include "aits/data/internal/text_format.h"
#include "aits/data/source.h"

namespace aits::data::internal {

// Counts a rejection in ReadStats and, in strict mode, turns the first one into the error that
// ends the read. Builds the sample strings only when they will be kept.
class Rejecter {
 public:
  Rejecter(ReadStats* stats, const ReadOptions& options)
      : stats_(stats), max_samples_(options.max_samples), strict_(options.strict) {}

  void Reject(RowRejectReason reason, const std::string& file, uint64_t line,
              std::string_view field, std::string_view value);

  bool failed() const { return !error_.ok(); }
  const Status& error() const { return error_; }

 private:
  ReadStats* stats_;
  size_t max_samples_;
  bool strict_;
  Status error_;
};

// How often consumed pages of a mapped input are released.
inline constexpr size_t kReleaseStride = size_t{16} << 20;

Result<std::unique_ptr<TickSource>> OpenTextTicks(std::unique_ptr<MappedFile> file,
                                                  const TextLayout& layout,
                                                  const ReadOptions& options);

// `ask_file` may be null (no ask side).
Result<std::unique_ptr<BarSource>> OpenTextBars(std::unique_ptr<MappedFile> bid_file,
                                                const TextLayout& bid_layout,
                                                std::unique_ptr<MappedFile> ask_file,
                                                const TextLayout& ask_layout,
                                                const ReadOptions& options);

}  // namespace aits::data::internal
