// TokenCache: access tokens already verified, so that a client's next requests with the same
// token skip the RSA operation (about 17 µs of a verification's 21 µs here; docs/api.md,
// "Tokens"). Keyed by the whole token, so a token changed in any byte is verified afresh; an
// entry is good until the token's own expiry (plus the verifier's leeway) and never after, which
// is what a fresh verification would say too. Bounded: a shard that fills is emptied (the next
// requests verify again). Access tokens are not revoked before they expire (15 minutes), so the
// cache changes no answer.
//
// Thread-safety: all calls from any thread (sharded mutexes).
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aits/api/jwt.h"

namespace aits::api {

class TokenCache {
 public:
  explicit TokenCache(size_t capacity = 65536) : per_shard_(capacity / kShards + 1) {}

  // The claims of `token` when it was verified before and is still good at `now`.
  std::optional<Claims> Find(std::string_view token, Timestamp now, Duration leeway) {
    Shard& shard = ShardOf(token);
    std::lock_guard lock(shard.mutex);
    const auto it = shard.entries.find(std::string(token));
    if (it == shard.entries.end()) return std::nullopt;
    if (now > it->second.expires + leeway) {
      shard.entries.erase(it);
      return std::nullopt;
    }
    return it->second;
  }

  void Add(std::string_view token, const Claims& claims) {
    Shard& shard = ShardOf(token);
    std::lock_guard lock(shard.mutex);
    if (shard.entries.size() >= per_shard_) shard.entries.clear();
    shard.entries.emplace(std::string(token), claims);
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Claims> entries;
  };
  Shard& ShardOf(std::string_view token) {
    return shards_[std::hash<std::string_view>{}(token) % kShards];
  }
  size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace aits::api
