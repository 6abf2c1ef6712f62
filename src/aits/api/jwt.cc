#include "aits/api/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>

namespace aits::api {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> DecodeTable() {
  std::array<int8_t, 256> table{};
  for (int8_t& v : table) v = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}
constexpr std::array<int8_t, 256> kDecode = DecodeTable();

// OpenSSL's last error as text, and the queue cleared (it is per thread).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

int64_t WholeSeconds(Timestamp t) { return t.ns / kNanosPerSecond; }

// A verification context of `key` (RSA PKCS#1 v1.5 over SHA-256), made once per thread and key.
// OpenSSL 3 looks the algorithms up through its providers at every EVP_DigestVerifyInit, which
// cost a third of a verification; an initialised EVP_PKEY_CTX verifies again and again. The
// context holds a reference to its key, so the key outlives it; a thread keeps one per key it
// has seen (a handful: the ring's).
EVP_PKEY_CTX* VerifyContext(EVP_PKEY* key) {
  struct Contexts {
    std::unordered_map<EVP_PKEY*, EVP_PKEY_CTX*> by_key;
    ~Contexts() {
      for (auto& [k, ctx] : by_key) EVP_PKEY_CTX_free(ctx);
    }
  };
  thread_local Contexts contexts;
  const auto it = contexts.by_key.find(key);
  if (it != contexts.by_key.end()) return it->second;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  if (ctx == nullptr || EVP_PKEY_verify_init(ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
    EVP_PKEY_CTX_free(ctx);
    return nullptr;
  }
  contexts.by_key.emplace(key, ctx);
  return ctx;
}

Status Refused(std::string why) { return InvalidArgument("token refused: " + std::move(why)); }

// The encoded header of a token signed by key `kid`.
std::string EncodedHeader(const std::string& kid) {
  return Base64UrlEncode(nlohmann::json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}}.dump());
}

}  // namespace

struct SigningKey::Impl {
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
};

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (bytes.size() - i == 1) {
    const uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
  } else if (bytes.size() - i == 2) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  const size_t n = text.size();
  if (n % 4 == 1) {
    return InvalidArgument("base64url: " + std::to_string(n) +
                           " characters is no encoding's length");
  }
  const auto value = [text](size_t i) {
    return static_cast<int32_t>(kDecode[static_cast<unsigned char>(text[i])]);
  };
  const auto outside = [text](size_t from) {
    size_t i = from;
    while (kDecode[static_cast<unsigned char>(text[i])] >= 0) ++i;
    return InvalidArgument("base64url: character " + std::to_string(i + 1) +
                           " is outside the alphabet");
  };
  // Four characters at a time into a string sized once: a token's signature alone is 342.
  std::string out(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1), '\0');
  size_t o = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const int32_t a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if ((a | b | c | d) < 0) return outside(i);
    const uint32_t v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
    out[o++] = static_cast<char>(v >> 16);
    out[o++] = static_cast<char>(v >> 8 & 0xff);
    out[o++] = static_cast<char>(v & 0xff);
  }
  if (i < n) {  // 2 or 3 characters left: 1 or 2 bytes
    const int32_t a = value(i), b = value(i + 1), c = n - i == 3 ? value(i + 2) : 0;
    if ((a | b | c) < 0) return outside(i);
    const uint32_t v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6);
    out[o++] = static_cast<char>(v >> 16);
    if (n - i == 3) out[o++] = static_cast<char>(v >> 8 & 0xff);
    // The bits left over must be zero: otherwise two texts would decode to the same bytes.
    const uint32_t spare = n - i == 3 ? v & 0xff : v & 0xffff;
    if (spare != 0) {
      return InvalidArgument("base64url: the last character carries bits no encoder writes");
    }
  }
  return out;
}

SigningKey::SigningKey(std::string kid, std::shared_ptr<const Impl> impl, bool is_private)
    : kid_(std::move(kid)), impl_(std::move(impl)), private_(is_private) {}

Result<SigningKey> SigningKey::Generate(std::string kid, int bits) {
  if (kid.empty()) return InvalidArgument("signing key: the key id is empty");
  if (bits < 2048) {
    return InvalidArgument("signing key: " + std::to_string(bits) +
                           " bits is too short for RS256 (2048 or more)");
  }
  EVP_PKEY* raw = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (raw == nullptr) return Internal("signing key: RSA key generation: " + OpenSslError());
  auto impl = std::make_shared<Impl>();
  impl->key.reset(raw);
  return SigningKey(std::move(kid), std::move(impl), true);
}

Result<SigningKey> SigningKey::FromPem(std::string kid, std::string_view pem) {
  if (kid.empty()) return InvalidArgument("signing key: the key id is empty");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("signing key " + kid + ": " + OpenSslError());
  bool is_private = true;
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    ERR_clear_error();
    std::unique_ptr<BIO, BioFree> again(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    raw = PEM_read_bio_PUBKEY(again.get(), nullptr, nullptr, nullptr);
    is_private = false;
  }
  if (raw == nullptr) {
    return InvalidArgument("signing key " + kid + ": not a PEM RSA key (" + OpenSslError() + ")");
  }
  auto impl = std::make_shared<Impl>();
  impl->key.reset(raw);
  if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_RSA) {
    return InvalidArgument("signing key " + kid + ": an RSA key is needed for RS256");
  }
  if (EVP_PKEY_get_bits(raw) < 2048) {
    return InvalidArgument("signing key " + kid + ": " + std::to_string(EVP_PKEY_get_bits(raw)) +
                           " bits is too short for RS256 (2048 or more)");
  }
  return SigningKey(std::move(kid), std::move(impl), is_private);
}

Result<std::string> SigningKey::PrivatePem() const {
  if (!private_)
    return FailedPrecondition("signing key " + kid_ + ": only its public half is here");
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                nullptr)) {
    return Internal("signing key " + kid_ + ": " + OpenSslError());
  }
  return BioText(bio.get());
}

std::string SigningKey::PublicPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), impl_->key.get());
  return BioText(bio.get());
}

std::string SigningKey::PublicJwk() const {
  const auto component = [this](const char* name) {
    BIGNUM* raw = nullptr;
    EVP_PKEY_get_bn_param(impl_->key.get(), name, &raw);
    std::unique_ptr<BIGNUM, BnFree> bn(raw);
    std::string bytes(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
    BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
    return Base64UrlEncode(bytes);
  };
  return nlohmann::json{{"kty", "RSA"},
                        {"use", "sig"},
                        {"alg", "RS256"},
                        {"kid", kid_},
                        {"n", component(OSSL_PKEY_PARAM_RSA_N)},
                        {"e", component(OSSL_PKEY_PARAM_RSA_E)}}
      .dump();
}

Claims AccessClaims(std::string subject, std::string role, Timestamp now, Duration ttl) {
  Claims c;
  c.subject = std::move(subject);
  c.role = std::move(role);
  c.type = "access";
  c.issuer = "aits";
  c.audience = "aits-api";
  c.issued_at = now;
  c.not_before = now;
  c.expires = now + ttl;
  return c;
}

Result<KeyRing> KeyRing::Make(std::vector<SigningKey> keys) {
  if (keys.empty()) return InvalidArgument("key ring: no keys");
  std::set<std::string> kids;
  size_t signer = keys.size();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!kids.insert(keys[i].kid()).second) {
      return InvalidArgument("key ring: key id " + keys[i].kid() + " twice");
    }
    if (keys[i].can_sign()) signer = i;
  }
  if (signer == keys.size()) return InvalidArgument("key ring: no key can sign (all public)");
  return KeyRing(std::move(keys), signer);
}

KeyRing::KeyRing(std::vector<SigningKey> keys, size_t signer)
    : keys_(std::move(keys)), signer_(signer) {
  for (const SigningKey& key : keys_) headers_.push_back(EncodedHeader(key.kid()));
}

Result<std::string> KeyRing::Sign(const Claims& claims) const {
  const SigningKey& key = signer();
  nlohmann::json payload{{"sub", claims.subject},
                         {"role", claims.role},
                         {"typ", claims.type},
                         {"jti", claims.token_id},
                         {"iat", WholeSeconds(claims.issued_at)},
                         {"nbf", WholeSeconds(claims.not_before)},
                         {"exp", WholeSeconds(claims.expires)}};
  if (!claims.issuer.empty()) payload["iss"] = claims.issuer;
  if (!claims.audience.empty()) payload["aud"] = claims.audience;
  std::string signing_input = headers_[signer_] + "." + Base64UrlEncode(payload.dump());
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.impl().key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Internal("token signing: " + OpenSslError());
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Internal("token signing: " + OpenSslError());
  }
  signature.resize(length);
  signing_input += '.';
  signing_input += Base64UrlEncode(signature);
  return signing_input;
}

namespace {

// The claims Claims holds, by name.
struct ClaimSlots {
  Claims claims;
  bool has_exp = false;

  std::string* Text(std::string_view name) {
    if (name == "sub") return &claims.subject;
    if (name == "role") return &claims.role;
    if (name == "typ") return &claims.type;
    if (name == "jti") return &claims.token_id;
    if (name == "iss") return &claims.issuer;
    if (name == "aud") return &claims.audience;
    return nullptr;
  }
  Timestamp* Time(std::string_view name) {
    if (name == "exp") return &claims.expires;
    if (name == "nbf") return &claims.not_before;
    if (name == "iat") return &claims.issued_at;
    return nullptr;
  }
  // A member as JSON has it: a later one of the same name replaces the earlier.
  void SetText(std::string_view name, std::string_view value) {
    if (std::string* text = Text(name)) text->assign(value);
    if (Timestamp* time = Time(name)) ClearTime(name, time);
  }
  void SetSeconds(std::string_view name, int64_t seconds) {
    if (std::string* text = Text(name)) text->clear();
    if (Timestamp* time = Time(name)) {
      // Nanoseconds in an int64 reach the year 2262: a time past that is held a year short of
      // the end, so that adding the leeway to it cannot overflow.
      constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / kNanosPerSecond - 366 * 86'400;
      *time = Timestamp{std::clamp(seconds, -kMax, kMax) * kNanosPerSecond};
      if (name == "exp") has_exp = true;
    }
  }
  void SetOther(std::string_view name) {
    if (std::string* text = Text(name)) text->clear();
    if (Timestamp* time = Time(name)) ClearTime(name, time);
  }
  void ClearTime(std::string_view name, Timestamp* time) {
    *time = Timestamp{0};
    if (name == "exp") has_exp = false;
  }
};

// The scan of a flat object of ASCII strings without escapes and of whole numbers; nullopt for
// anything else, which the JSON parser then reads.
std::optional<ClaimSlots> ScanFlatClaims(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  const auto skip_space = [&] {
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  };
  // A string from its opening quote: printable ASCII without escapes only.
  const auto string = [&]() -> std::optional<std::string_view> {
    if (i >= n || text[i] != '"') return std::nullopt;
    const size_t start = ++i;
    while (i < n && text[i] != '"') {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c < 0x20 || c >= 0x80 || c == '\\') return std::nullopt;
      ++i;
    }
    if (i >= n) return std::nullopt;
    return text.substr(start, i++ - start);
  };
  ClaimSlots slots;
  skip_space();
  if (i >= n || text[i++] != '{') return std::nullopt;
  skip_space();
  if (i < n && text[i] == '}') {
    ++i;
  } else {
    while (true) {
      skip_space();
      const std::optional<std::string_view> name = string();
      if (!name) return std::nullopt;
      skip_space();
      if (i >= n || text[i++] != ':') return std::nullopt;
      skip_space();
      if (i < n && text[i] == '"') {
        const std::optional<std::string_view> value = string();
        if (!value) return std::nullopt;
        slots.SetText(*name, *value);
      } else {
        // A whole number as JSON writes it: no leading zero, no fraction or exponent, and
        // at most 18 digits so that it fits (the parser reads larger ones otherwise).
        const bool negative = i < n && text[i] == '-';
        if (negative) ++i;
        const size_t digits = i;
        int64_t value = 0;
        while (i < n && text[i] >= '0' && text[i] <= '9') {
          if (i - digits < 18) value = value * 10 + (text[i] - '0');
          ++i;
        }
        const size_t count = i - digits;
        if (count == 0 || count > 18 || (count > 1 && text[digits] == '0')) return std::nullopt;
        if (i < n && (text[i] == '.' || text[i] == 'e' || text[i] == 'E')) return std::nullopt;
        slots.SetSeconds(*name, negative ? -value : value);
      }
      skip_space();
      if (i >= n) return std::nullopt;
      if (text[i] == ',') {
        ++i;
        continue;
      }
      if (text[i++] != '}') return std::nullopt;
      break;
    }
  }
  skip_space();
  if (i != n) return std::nullopt;
  return slots;
}

}  // namespace

Result<Claims> ParseClaims(std::string_view payload, bool scan) {
  std::optional<ClaimSlots> slots = scan ? ScanFlatClaims(payload) : std::nullopt;
  if (!slots) {
    const nlohmann::json json = nlohmann::json::parse(payload, nullptr, false);
    if (!json.is_object()) return InvalidArgument("the payload is not a JSON object");
    slots.emplace();
    for (const auto& [name, value] : json.items()) {
      if (value.is_string()) {
        slots->SetText(name, value.get_ref<const std::string&>());
      } else if (value.is_number_unsigned()) {
        // Past int64 (up to 2^64 - 1): held at the end, as SetSeconds holds any large time.
        slots->SetSeconds(name, static_cast<int64_t>(std::min<uint64_t>(
                                    value.get<uint64_t>(),
                                    static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))));
      } else if (value.is_number_integer()) {
        slots->SetSeconds(name, value.get<int64_t>());
      } else {
        slots->SetOther(name);
      }
    }
  }
  if (!slots->has_exp) return InvalidArgument("no expiry (exp)");
  return std::move(slots->claims);
}

Result<Claims> KeyRing::Verify(std::string_view token, Timestamp now,
                               const VerifyOptions& options) const {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Refused("not a signed JWT (three base64url parts separated by dots)");
  }
  // The header this ring writes is recognised whole; any other is decoded and checked.
  const std::string_view header_segment = token.substr(0, dot1);
  const SigningKey* key = nullptr;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (headers_[i] == header_segment) key = &keys_[i];
  }
  if (key == nullptr) {
    Result<std::string> header_text = Base64UrlDecode(header_segment);
    if (!header_text.ok()) return Refused("header: " + header_text.status().message());
    const nlohmann::json header = nlohmann::json::parse(*header_text, nullptr, false);
    if (!header.is_object()) return Refused("the header is not a JSON object");
    const auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string() || *alg != "RS256") {
      return Refused("algorithm " + (alg == header.end() ? std::string("missing") : alg->dump()) +
                     " (only RS256 is accepted)");
    }
    const auto kid = header.find("kid");
    if (kid == header.end() || !kid->is_string()) return Refused("no key id (kid) in the header");
    for (const SigningKey& k : keys_) {
      if (k.kid() == kid->get_ref<const std::string&>()) key = &k;
    }
    if (key == nullptr) return Refused("unknown key id " + kid->dump());
  }

  Result<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature.ok()) return Refused("signature: " + signature.status().message());
  const std::string_view signing_input = token.substr(0, dot2);
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
         digest.data());
  EVP_PKEY_CTX* ctx = VerifyContext(key->impl().key.get());
  if (ctx == nullptr) return Internal("token verification: " + OpenSslError());
  const int verified =
      EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(signature->data()),
                      signature->size(), digest.data(), digest.size());
  if (verified != 1) {
    ERR_clear_error();
    return Refused("the signature does not match key " + key->kid());
  }

  Result<std::string> payload_text = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload_text.ok()) return Refused("payload: " + payload_text.status().message());
  Result<Claims> parsed = ParseClaims(*payload_text);
  if (!parsed.ok()) return Refused(parsed.status().message());
  Claims claims = std::move(parsed).value();
  claims.kid = key->kid();
  if (now > claims.expires + options.leeway) return Refused("expired");
  if (now + options.leeway < claims.not_before) return Refused("not valid yet (nbf)");
  if (claims.subject.empty()) return Refused("no subject (sub)");
  if (!options.issuer.empty() && claims.issuer != options.issuer) {
    return Refused("issuer \"" + claims.issuer + "\" is not \"" + options.issuer + "\"");
  }
  if (!options.audience.empty() && claims.audience != options.audience) {
    return Refused("audience \"" + claims.audience + "\" is not \"" + options.audience + "\"");
  }
  return claims;
}

std::string KeyRing::Jwks() const {
  nlohmann::json keys = nlohmann::json::array();
  for (const SigningKey& k : keys_) keys.push_back(nlohmann::json::parse(k.PublicJwk()));
  return nlohmann::json{{"keys", keys}}.dump();
}

}  // namespace aits::api
