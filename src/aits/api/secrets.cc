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

namespace {

constexpr size_t kStreamChunk = 64 * 1024;

bool ReadFull(std::istream& in, char* data, size_t size, size_t* got) {
  in.read(data, static_cast<std::streamsize>(size));
  *got = static_cast<size_t>(in.gcount());
  return !in.bad();
}

}  // namespace

bool SecretBox::IsSealedStream(std::string_view head) { return head.starts_with(kStreamMagic); }

Status SecretBox::SealStream(std::istream& in, std::ostream& out) const {
  InitSodium();
  crypto_secretstream_xchacha20poly1305_state state;
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_init_push(&state, header, key_.data());
  out.write(kStreamMagic.data(), static_cast<std::streamsize>(kStreamMagic.size()));
  out.write(reinterpret_cast<const char*>(header), sizeof header);
  std::string plain(kStreamChunk, '\0');
  std::string cipher(kStreamChunk + crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
  // One chunk ahead, so that the last one (possibly empty) carries the final tag.
  size_t have = 0;
  if (!ReadFull(in, plain.data(), kStreamChunk, &have)) return IoError("reading the input failed");
  for (;;) {
    std::string next(kStreamChunk, '\0');
    size_t next_have = 0;
    const bool more = have == kStreamChunk;
    if (more && !ReadFull(in, next.data(), kStreamChunk, &next_have)) {
      return IoError("reading the input failed");
    }
    const bool last = !more || (next_have == 0 && in.eof());
    unsigned long long written = 0;
    crypto_secretstream_xchacha20poly1305_push(
        &state, reinterpret_cast<unsigned char*>(cipher.data()), &written,
        reinterpret_cast<const unsigned char*>(plain.data()), have, nullptr, 0,
        last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    const uint32_t size = static_cast<uint32_t>(written);
    const char length[4] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                            static_cast<char>(size >> 8), static_cast<char>(size)};
    out.write(length, 4);
    out.write(cipher.data(), static_cast<std::streamsize>(written));
    if (!out) return IoError("writing the sealed output failed");
    if (last) break;
    plain.swap(next);
    have = next_have;
  }
  out.flush();
  return out ? Status::Ok() : IoError("writing the sealed output failed");
}

Status SecretBox::OpenStream(std::istream& in, std::ostream& out, std::string_view what) const {
  InitSodium();
  const std::string name(what);
  std::string magic(kStreamMagic.size(), '\0');
  size_t got = 0;
  if (!ReadFull(in, magic.data(), magic.size(), &got) || got != magic.size() ||
      !IsSealedStream(magic)) {
    return DataLoss(name + ": not a sealed file (aits secret seal writes one)");
  }
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  if (!ReadFull(in, reinterpret_cast<char*>(header), sizeof header, &got) || got != sizeof header) {
    return DataLoss(name + ": the sealed file is cut short in its header");
  }
  crypto_secretstream_xchacha20poly1305_state state;
  if (crypto_secretstream_xchacha20poly1305_init_pull(&state, header, key_.data()) != 0) {
    return DataLoss(name + ": its header is damaged");
  }
  std::string cipher;
  std::string plain(kStreamChunk, '\0');
  for (uint64_t chunk = 1;; ++chunk) {
    char length[4];
    if (!ReadFull(in, length, 4, &got) || got != 4) {
      return DataLoss(name + ": cut short after chunk " + std::to_string(chunk - 1) +
                      " (no final chunk)");
    }
    const uint32_t size = (static_cast<uint32_t>(static_cast<unsigned char>(length[0])) << 24) |
                          (static_cast<uint32_t>(static_cast<unsigned char>(length[1])) << 16) |
                          (static_cast<uint32_t>(static_cast<unsigned char>(length[2])) << 8) |
                          static_cast<uint32_t>(static_cast<unsigned char>(length[3]));
    if (size < crypto_secretstream_xchacha20poly1305_ABYTES ||
        size > kStreamChunk + crypto_secretstream_xchacha20poly1305_ABYTES) {
      return DataLoss(name + ": chunk " + std::to_string(chunk) + " has an impossible length");
    }
    cipher.resize(size);
    if (!ReadFull(in, cipher.data(), size, &got) || got != size) {
      return DataLoss(name + ": cut short in chunk " + std::to_string(chunk));
    }
    unsigned long long plain_size = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(
            &state, reinterpret_cast<unsigned char*>(plain.data()), &plain_size, &tag,
            reinterpret_cast<const unsigned char*>(cipher.data()), size, nullptr, 0) != 0) {
      return DataLoss(name + ": chunk " + std::to_string(chunk) +
                      " cannot be opened with this master key (another key, or changed bytes)");
    }
    out.write(plain.data(), static_cast<std::streamsize>(plain_size));
    if (!out) return IoError("writing the opened output failed");
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      if (in.peek() != std::char_traits<char>::eof()) {
        return DataLoss(name + ": bytes after its final chunk");
      }
      break;
    }
  }
  out.flush();
  return out ? Status::Ok() : IoError("writing the opened output failed");
}

}  // namespace aits::api
