#include "aits/core/redact.h"

#include <algorithm>

namespace aits {

std::string WithoutPassword(std::string_view location) {
  std::string out(location);
  // user:password@ in a URI's authority (before the first '/' after "://").
  if (const size_t scheme = out.find("://"); scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t end = std::min(out.find('/', start), out.size());
    const size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... up to the next '&', '#', ' ' or the end.
  static constexpr std::string_view kKey = "password=";
  for (size_t at = out.find(kKey); at != std::string::npos; at = out.find(kKey, at + 1)) {
    const bool starts = at == 0 || out[at - 1] == '?' || out[at - 1] == '&' || out[at - 1] == ' ';
    if (!starts) continue;
    const size_t value = at + kKey.size();
    const size_t end = std::min(out.find_first_of("&# ", value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

}  // namespace aits
