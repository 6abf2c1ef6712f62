// Little-endian integers in byte buffers: the feed's batch headers and spill records.
#pragma once

#include <cstdint>

namespace aits::feed::internal {

inline void PutU16(uint8_t* out, uint16_t value) {
  out[0] = static_cast<uint8_t>(value);
  out[1] = static_cast<uint8_t>(value >> 8);
}
inline void PutU32(uint8_t* out, uint32_t value) {
  for (int idx = 0; idx < 4; ++idx) out[idx] = static_cast<uint8_t>(value >> (8 * idx));
}
inline uint16_t GetU16(const uint8_t* in) { return static_cast<uint16_t>(in[0] | (in[1] << 8)); }
inline uint32_t GetU32(const uint8_t* in) {
  return static_cast<uint32_t>(in[0]) | (static_cast<uint32_t>(in[1]) << 8) |
         (static_cast<uint32_t>(in[2]) << 16) | (static_cast<uint32_t>(in[3]) << 24);
}

}  // namespace aits::feed::internal
