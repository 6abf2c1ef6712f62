// The project's one non-cryptographic hash: 64-bit FNV-1a, and a splitmix64 finaliser for hash
// tables that index by the low bits. Persisted values use it (feature-set hashes, model and tick
// store checksums), so its results must never change.
#pragma once

#include <cstdint>
#include <string_view>

namespace aits {

inline constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
inline constexpr uint64_t kFnvPrime = 1099511628211ULL;

// FNV-1a over the bytes of `text`, continuing from `hash` (start from kFnvOffset).
constexpr uint64_t Fnv1a64(std::string_view text, uint64_t hash = kFnvOffset) {
  for (char ch : text) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= kFnvPrime;
  }
  return hash;
}

// splitmix64's finaliser: spreads every input bit over the low bits that a table masks.
constexpr uint64_t Mix64(uint64_t value) {
  value ^= value >> 30;
  value *= 0xbf58476d1ce4e5b9ULL;
  value ^= value >> 27;
  value *= 0x94d049bb133111ebULL;
  value ^= value >> 31;
  return value;
}

}  // namespace aits
