#include "aits/data/source.h"

#include <cstring>
#include <utility>

#include "aits/data/internal/mapped_file.h"
#include "aits/data/internal/readers.h"
#include "aits/data/internal/text_format.h"
#include "aits/data/tick_store.h"

namespace aits::data {
namespace {

constexpr std::string_view kFormatNames[] = {"auto",      "mt5-ticks",      "mt5-bars",
                                             "csv-ticks", "histdata-ticks", "csv-bars",
                                             "yahoo",     "price",          "binary"};

constexpr std::string_view kReasonNames[] = {
    "malformed", "non_finite",     "non_positive_price", "crossed",  "negative_volume",
    "bad_bar",   "time_backwards", "duplicate",          "unmatched"};
static_assert(std::size(kReasonNames) == static_cast<size_t>(RowRejectReason::kCount));

constexpr char kStoreMagic[8] = {'A', 'I', 'T', 'S', 'T', 'C', 'K', '1'};

bool HasStoreMagic(std::string_view bytes) {
  return bytes.size() >= sizeof(kStoreMagic) &&
         std::memcmp(bytes.data(), kStoreMagic, sizeof(kStoreMagic)) == 0;
}

Status CheckOptions(const std::string& path, const ReadOptions& options) {
  if (options.price_precision < 0 || options.price_precision > kFixedDigits) {
    return InvalidArgument(path + ": price_precision " + std::to_string(options.price_precision) +
                           " is outside 0..9");
  }
  if (options.spread_points < 0 || options.spread_points > 1'000'000) {
    return InvalidArgument(path + ": spread_points " + std::to_string(options.spread_points) +
                           " is outside 0..1000000");
  }
  return Status::Ok();
}

Result<std::pair<std::unique_ptr<internal::MappedFile>, internal::TextLayout>> OpenText(
    const std::string& path, DataFormat format) {
  AITS_ASSIGN_OR_RETURN(auto file, internal::MappedFile::Open(path));
  if (HasStoreMagic(file->bytes())) {
    return InvalidArgument(path + ": is a binary tick store, not a text file");
  }
  file->DecodeText();
  AITS_ASSIGN_OR_RETURN(auto layout, internal::AnalyzeText(file->bytes(), format, path));
  return std::make_pair(std::move(file), layout);
}

}  // namespace

std::string_view ToString(DataFormat format) {
  const auto idx = static_cast<size_t>(format);
  return idx < std::size(kFormatNames) ? kFormatNames[idx] : "unknown";
}

Result<DataFormat> ParseDataFormat(std::string_view name) {
  for (size_t idx = 0; idx < std::size(kFormatNames); ++idx) {
    if (name == kFormatNames[idx]) return static_cast<DataFormat>(idx);
  }
  std::string known;
  for (std::string_view each : kFormatNames) {
    if (!known.empty()) known += ", ";
    known += each;
  }
  return InvalidArgument("unknown data format '" + std::string(name) + "' (known: " + known + ")");
}

bool IsBarFormat(DataFormat format) {
  return format == DataFormat::kMt5Bars || format == DataFormat::kCsvBars ||
         format == DataFormat::kYahoo;
}

std::string_view ToString(RowRejectReason reason) {
  const auto idx = static_cast<size_t>(reason);
  return idx < std::size(kReasonNames) ? kReasonNames[idx] : "unknown";
}

std::string RejectSample::ToString() const {
  std::string out = file + ":" + std::to_string(line) + ": field '" + field + "' value '" + value +
                    "': " + std::string(data::ToString(reason));
  return out;
}

uint64_t ReadStats::TotalRejected() const {
  uint64_t total = 0;
  for (uint64_t each : rejected) total += each;
  return total;
}

void ReadStats::Reject(RejectSample sample, size_t max_samples) {
  ++rejected[static_cast<size_t>(sample.reason)];
  if (samples.size() < max_samples) samples.push_back(std::move(sample));
}

std::string ReadStats::Summary() const {
  std::string out = "rows " + std::to_string(rows) + ", accepted " + std::to_string(accepted) +
                    ", rejected " + std::to_string(TotalRejected());
  if (repaired != 0) out += ", ask lifted to bid " + std::to_string(repaired);
  if (rounded != 0) out += ", prices rounded to the instrument's digits " + std::to_string(rounded);
  out += "\n";
  for (size_t idx = 0; idx < rejected.size(); ++idx) {
    if (rejected[idx] == 0) continue;
    out += "  " + std::string(ToString(static_cast<RowRejectReason>(idx))) + ": " +
           std::to_string(rejected[idx]) + "\n";
  }
  for (const RejectSample& sample : samples) out += "  e.g. " + sample.ToString() + "\n";
  return out;
}

Result<DataFormat> DetectFormat(const std::string& path) {
  AITS_ASSIGN_OR_RETURN(auto file, internal::MappedFile::Open(path));
  if (HasStoreMagic(file->bytes())) return DataFormat::kBinary;
  file->DecodeText();
  AITS_ASSIGN_OR_RETURN(auto layout, internal::AnalyzeText(file->bytes(), DataFormat::kAuto, path));
  return layout.format;
}

Result<std::unique_ptr<TickSource>> OpenTicks(const std::string& path, const ReadOptions& options) {
  AITS_RETURN_IF_ERROR(CheckOptions(path, options));
  if (options.format == DataFormat::kBinary) return OpenTickStore(path, options);
  if (options.format == DataFormat::kAuto) {
    AITS_ASSIGN_OR_RETURN(auto probe, internal::MappedFile::Open(path));
    if (HasStoreMagic(probe->bytes())) return OpenTickStore(path, options);
  }
  if (IsBarFormat(options.format)) {
    return InvalidArgument(
        path + ": format " + std::string(ToString(options.format)) +
        " holds bars, not ticks (bar files are backtested directly; only tick files are imported)");
  }
  AITS_ASSIGN_OR_RETURN(auto opened, OpenText(path, options.format));
  if (IsBarFormat(opened.second.format)) {
    return InvalidArgument(
        path + ": is a bar file (" + std::string(ToString(opened.second.format)) +
        "): bars, not ticks (bar files are backtested directly; only tick files are imported)");
  }
  return internal::OpenTextTicks(std::move(opened.first), opened.second, options);
}

Result<std::unique_ptr<BarSource>> OpenBars(const std::string& path, const ReadOptions& options) {
  AITS_RETURN_IF_ERROR(CheckOptions(path, options));
  if (options.format != DataFormat::kAuto && !IsBarFormat(options.format)) {
    return InvalidArgument(path + ": format " + std::string(ToString(options.format)) +
                           " holds ticks; open it with OpenTicks");
  }
  AITS_ASSIGN_OR_RETURN(auto bid, OpenText(path, options.format));
  if (!IsBarFormat(bid.second.format)) {
    return InvalidArgument(path + ": is a tick file (" + std::string(ToString(bid.second.format)) +
                           "); open it with OpenTicks");
  }
  std::unique_ptr<internal::MappedFile> ask_file;
  internal::TextLayout ask_layout;
  if (!options.ask_path.empty()) {
    AITS_ASSIGN_OR_RETURN(auto ask, OpenText(options.ask_path, bid.second.format));
    ask_file = std::move(ask.first);
    ask_layout = ask.second;
  }
  return internal::OpenTextBars(std::move(bid.first), bid.second, std::move(ask_file), ask_layout,
                                options);
}

}  // namespace aits::data
