#include "aits/core/instance_tag.h"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <random>

namespace aits {

std::string NewInstanceTag() {
  std::random_device device;
  uint64_t value = (static_cast<uint64_t>(device()) << 32) ^ device();
  value ^= static_cast<uint64_t>(::getpid());
  value ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int idx = 15; idx >= 0; --idx, value >>= 4)
    out[static_cast<size_t>(idx)] = kDigits[value & 15];
  return out;
}

}  // namespace aits
