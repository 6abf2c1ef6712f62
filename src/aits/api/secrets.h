// The API's secrets: passwords hashed with Argon2id, random tokens, and what is kept encrypted
// at rest (signing keys, broker credentials, backups) sealed with libsodium's secretbox
// (XSalsa20-Poly1305) under a master key that is never in the repository or the database
// (docs/api.md, "Secrets").
//
// Thread-safety: the free functions may run on any thread (libsodium is initialised once, on
// first use); a SecretBox is immutable.
#pragma once

#include <array>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits::api {

// Argon2id's cost. kInteractive is libsodium's advice for an online login (64 MiB, about 0.1 s
// here); kMinimal is for tests, which hash many passwords.
enum class PasswordCost { kInteractive, kModerate, kMinimal };

// The encoded hash ($argon2id$v=19$m=...,t=...,p=1$salt$hash), salt included. InvalidArgument
// for an empty password or one longer than 1,024 bytes; Internal when memory runs out.
Result<std::string> HashPassword(std::string_view password, PasswordCost cost);
// True when `password` matches `hash`; false for a wrong password or a hash that is not one.
// Takes as long as the hash's cost whether or not it matches.
bool VerifyPassword(std::string_view hash, std::string_view password);

// `bytes` random bytes from the system's generator, as base64url (API keys, token ids, salts).
std::string RandomToken(size_t bytes);
// Lower-case hex SHA-256 of `text`: how API keys are stored (a key has 256 random bits, so a
// slow hash adds nothing but the cost of every request).
std::string Sha256Hex(std::string_view text);
// Compares in time that does not depend on where the two differ.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;
  // From the key's bytes. The key file or variable holds them as 64 hex digits (FromText).
  explicit SecretBox(const std::array<uint8_t, kKeyBytes>& key) : key_(key) {}
  // 64 hex digits, surrounding blanks ignored; `what` names the source in errors ("key file
  // /etc/aits/master.key", "AITS_MASTER_KEY").
  static Result<SecretBox> FromText(std::string_view text, std::string_view what);
  // The key from the file `path` when given, else from the environment variable `env` (e.g.
  // AITS_MASTER_KEY); NotFound naming both when neither holds one. A key file others may read
  // (mode group or other bits) is refused.
  static Result<SecretBox> Load(const std::string& path, const char* env);
  // A new random key as 64 hex digits (`aits auth init` writes it to the key file).
  static std::string NewKeyText();

  // "sb1:" + base64url(nonce || ciphertext || tag): a fresh random nonce per call.
  std::string Seal(std::string_view plaintext) const;
  // The plaintext of what Seal made with this key; DataLoss for anything else (another key,
  // a changed byte, not sealed text), naming `what`.
  Result<std::string> Open(std::string_view sealed, std::string_view what) const;

  // Files of any size (backups, credentials): libsodium's secretstream (XChaCha20-Poly1305) in
  // chunks of 64 KiB, each authenticated, the last one marked final, so that a changed,
  // reordered or cut file is refused rather than opened short. The file starts with
  // kStreamMagic. SealStream reads `in` to its end; IoError when a stream fails.
  static constexpr std::string_view kStreamMagic = "AITS-SEALED-1\n";
  Status SealStream(std::istream& in, std::ostream& out) const;
  // DataLoss naming `what` for a file not sealed this way, sealed with another key, changed or
  // cut; what was written to `out` before the damage was found must then be thrown away.
  Status OpenStream(std::istream& in, std::ostream& out, std::string_view what) const;
  // True when `head` (a file's first bytes) starts as SealStream's output does.
  static bool IsSealedStream(std::string_view head);

 private:
  std::array<uint8_t, kKeyBytes> key_;
};

}  // namespace aits::api
