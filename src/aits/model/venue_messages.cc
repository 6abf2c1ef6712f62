#include "aits/model/venue_messages.h"

#include <array>
#include <string>

namespace aits {
namespace {

constexpr std::array<std::string_view, 5> kCommandKinds = {"submit", "cancel", "protection",
                                                           "snapshot", "recover"};
constexpr std::array<std::string_view, 4> kReportKinds = {"execution", "account", "snapshot",
                                                          "recovered"};

// The kind named `text` among `names` (indexed by the enum's numbers), or InvalidArgument
// listing them.
template <typename Kind, size_t N>
Result<Kind> ParseKind(std::string_view what, const std::array<std::string_view, N>& names,
                       std::string_view text) {
  std::string known;
  for (size_t idx = 0; idx < N; ++idx) {
    if (names[idx] == text) return static_cast<Kind>(idx);
    known += (idx == 0 ? "" : ", ") + std::string(names[idx]);
  }
  return InvalidArgument(std::string(what) + " '" + std::string(text) + "' is not one of " + known);
}

template <typename Kind, size_t N>
std::string_view NameOf(const std::array<std::string_view, N>& names, Kind kind) {
  const auto idx = static_cast<size_t>(kind);
  return idx < N ? names[idx] : std::string_view("?");
}

}  // namespace

std::string_view ToString(VenueCommand::Kind kind) { return NameOf(kCommandKinds, kind); }

Result<VenueCommand::Kind> ParseVenueCommandKind(std::string_view text) {
  return ParseKind<VenueCommand::Kind>("venue command kind", kCommandKinds, text);
}

std::string_view ToString(VenueReport::Kind kind) { return NameOf(kReportKinds, kind); }

Result<VenueReport::Kind> ParseVenueReportKind(std::string_view text) {
  return ParseKind<VenueReport::Kind>("venue report kind", kReportKinds, text);
}

}  // namespace aits
