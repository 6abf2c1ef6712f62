// JSON Web Tokens signed with RS256 (RFC 7519, RFC 7515), the API's access and refresh tokens
// (docs/api.md, "Tokens"). A KeyRing holds the RSA keys by key id: the newest signs, every key
// still on the ring verifies, so a key rotates by adding a new one and retiring the old one once
// the tokens it signed have expired.
//
// Verification is strict: the header must name alg RS256 and a key id on the ring (so "alg":
// "none", an HMAC algorithm keyed with the public key, and a forged kid are refused before any
// signature check), the signature must match, and exp must be in the future (with the leeway
// given); nbf always, iss and aud when the verifier names them. A refusal is InvalidArgument
// with the reason ("expired", "unknown key id"), never the token itself (the API answers 401).
//
// Thread-safety: a KeyRing is immutable once built; Sign and Verify may run on many threads.
// Keys are parsed once (OpenSSL EVP_PKEY), not per call: a verification is one RSA public-key
// operation plus two base64url decodes and a scan of the claims (bench/api_bench.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::api {

// base64url without padding (RFC 4648 §5), as JWS uses it.
std::string Base64UrlEncode(std::string_view bytes);
// Refuses characters outside the alphabet, padding, and a length that no encoding has.
Result<std::string> Base64UrlDecode(std::string_view text);

// One RSA key: its id and the key itself (private when it may sign).
class SigningKey {
 public:
  // A new RSA key of `bits` (2048 or more) named `kid`.
  static Result<SigningKey> Generate(std::string kid, int bits = 2048);
  // From a PEM private key (PKCS#8 or PKCS#1) or, for a key that only verifies, a PEM public key.
  static Result<SigningKey> FromPem(std::string kid, std::string_view pem);

  const std::string& kid() const { return kid_; }
  bool can_sign() const { return private_; }
  // PEM of the private key (PKCS#8); FailedPrecondition for a public-only key.
  Result<std::string> PrivatePem() const;
  std::string PublicPem() const;
  // The key as a JSON Web Key (kty RSA, n, e, kid, alg RS256, use sig): what /.well-known/jwks.json
  // publishes.
  std::string PublicJwk() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  SigningKey(std::string kid, std::shared_ptr<const Impl> impl, bool is_private);
  std::string kid_;
  std::shared_ptr<const Impl> impl_;
  bool private_ = false;
};

struct Claims {
  std::string subject;   // sub: a user's name or an API key's id
  std::string role;      // "viewer", "trader" or "admin"
  std::string type;      // "access" or "refresh"
  std::string token_id;  // jti
  std::string issuer;    // iss
  std::string audience;  // aud
  Timestamp issued_at;   // iat (whole seconds)
  Timestamp not_before;  // nbf (whole seconds)
  Timestamp expires;     // exp (whole seconds)
  std::string kid;       // the key that signed it (from the header)

  bool operator==(const Claims&) const = default;
};

// The claims of a token's payload (its JSON text): a claim of the wrong type counts as absent
// (a string claim reads ""; nbf and iat read 0), and other members are ignored; the kid is left
// empty. InvalidArgument when the text is not a JSON object or has no integer exp. A flat object
// of strings without escapes and whole numbers — what Sign writes — is read by a scan of its
// own; anything else (escapes, non-ASCII, floats, nested values, anything malformed) by the JSON
// parser, so that both give the same answer. `scan` false: the parser only (tests compare the
// two).
Result<Claims> ParseClaims(std::string_view payload, bool scan = true);

// An access token's claims for `subject` with `role`, valid from `now` for `ttl`, for the
// API's issuer and audience ("aits", "aits-api"); the token id is left for the caller.
Claims AccessClaims(std::string subject, std::string role, Timestamp now, Duration ttl);

struct VerifyOptions {
  std::string issuer;                       // required iss, when not empty
  std::string audience;                     // required aud, when not empty
  Duration leeway = Duration::Seconds(30);  // clock skew allowed on exp and nbf
};

class KeyRing {
 public:
  // `keys`: at least one; the last one that can sign signs. Kids must be unique and non-empty.
  static Result<KeyRing> Make(std::vector<SigningKey> keys);

  // The compact serialisation of `claims` signed by the newest signing key; the header carries
  // its kid. Claims' kid is ignored.
  Result<std::string> Sign(const Claims& claims) const;
  // The claims of a token this ring signed, at time `now`; see the file comment for what is
  // checked. The status is InvalidArgument with the reason ("expired", "unknown key id", ...).
  Result<Claims> Verify(std::string_view token, Timestamp now, const VerifyOptions& options) const;

  const std::vector<SigningKey>& keys() const { return keys_; }
  const SigningKey& signer() const { return keys_[signer_]; }
  // {"keys": [JWK, ...]} of every key on the ring.
  std::string Jwks() const;

 private:
  KeyRing(std::vector<SigningKey> keys, size_t signer);
  std::vector<SigningKey> keys_;
  size_t signer_ = 0;
  // The encoded header Sign writes for each key (keys_[i]'s at [i]): a token whose header is
  // byte for byte one of these needs no decoding or parsing of it to find its key.
  std::vector<std::string> headers_;
};

}  // namespace aits::api
