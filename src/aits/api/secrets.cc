#include "aits/api/secrets.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "aits/api/jwt.h"

namespace aits::api {

namespace {

void InitSodium() {
  // sodium_init is itself thread-safe and idempotent; a static makes it once per process.
  static const int initialised = sodium_init();
  (void)initialised;
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, PasswordCost cost) {
  InitSodium();
  if (password.empty()) return InvalidArgument("password: empty");
  if (password.size() > 1024) return InvalidArgument("password: longer than 1,024 bytes");
  unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (cost == PasswordCost::kModerate) {
    ops = crypto_pwhash_OPSLIMIT_MODERATE;
    mem = crypto_pwhash_MEMLIMIT_MODERATE;
  } else if (cost == PasswordCost::kMinimal) {
    ops = crypto_pwhash_OPSLIMIT_MIN;
    mem = crypto_pwhash_MEMLIMIT_MIN;
  }
  std::string out(crypto_pwhash_STRBYTES, '\0');
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), ops, mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Internal("password hashing: out of memory (Argon2id needs " + std::to_string(mem >> 20) +
                    " MiB)");
  }
  out.resize(out.find('\0'));
  return out;
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  InitSodium();
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string terminated(hash);  // crypto_pwhash_str_verify reads a C string
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

std::string RandomToken(size_t bytes) {
  InitSodium();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return Base64UrlEncode(raw);
}

std::string Sha256Hex(std::string_view text) {
  InitSodium();
  std::array<uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size());
  return Hex(digest.data(), digest.size());
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  InitSodium();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<SecretBox> SecretBox::FromText(std::string_view text, std::string_view what) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  std::array<uint8_t, kKeyBytes> key{};
  size_t written = 0;
  if (text.size() != 2 * kKeyBytes ||
      sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &written,
                     nullptr) != 0 ||
      written != kKeyBytes) {
    return InvalidArgument(std::string(what) + ": the master key must be 64 hex digits (" +
                           std::to_string(text.size()) + " characters given)");
  }
  return SecretBox(key);
}

Result<SecretBox> SecretBox::Load(const std::string& path, const char* env) {
  if (!path.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return NotFound("master key file " + path + ": not found");
    if ((st.st_mode & 077) != 0) {
      return FailedPrecondition("master key file " + path + ": others may read it (chmod 600 " +
                                path + ")");
    }
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return IoError("master key file " + path + ": cannot be read");
    return FromText(text.str(), "master key file " + path);
  }
  const char* value = env != nullptr ? std::getenv(env) : nullptr;
  if (value == nullptr || *value == '\0') {
    return NotFound(std::string("master key: no key file given and $") +
                    (env != nullptr ? env : "?") + " is not set");
  }
  return FromText(value, std::string("$") + env);
}

std::string SecretBox::NewKeyText() {
  InitSodium();
  std::array<uint8_t, kKeyBytes> key{};
  crypto_secretbox_keygen(key.data());
  return Hex(key.data(), key.size());
}

std::string SecretBox::Seal(std::string_view plaintext) const {
  InitSodium();
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        nonce, key_.data());
  return "sb1:" + Base64UrlEncode(box);
}

Result<std::string> SecretBox::Open(std::string_view sealed, std::string_view what) const {
  InitSodium();
  if (sealed.substr(0, 4) != "sb1:") {
    return DataLoss(std::string(what) + ": not sealed text (no sb1: prefix)");
  }
  Result<std::string> box = Base64UrlDecode(sealed.substr(4));
  if (!box.ok() || box->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return DataLoss(std::string(what) + ": sealed text is damaged");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(box->data());
  const size_t cipher = box->size() - crypto_secretbox_NONCEBYTES;
  std::string plain(cipher - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 nonce + crypto_secretbox_NONCEBYTES, cipher, nonce,
                                 key_.data()) != 0) {
    return DataLoss(std::string(what) +
                    ": cannot be opened with this master key (another key, or changed bytes)");
  }
  return plain;
}

}  // namespace aits::api
