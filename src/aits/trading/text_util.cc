#include "aits/trading/text_util.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace aits::decision::internal {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace aits::decision::internal
