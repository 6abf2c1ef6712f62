#include "aits/api/jwt.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace aits::api {
namespace {

const Timestamp kNow = FromCivil(2026, 12, 6, 12);

Claims AccessFor(std::string subject, std::string role) {
  Claims c;
  c.subject = std::move(subject);
  c.role = std::move(role);
  c.type = "access";
  c.token_id = "t1";
  c.issuer = "aits";
  c.audience = "aits-api";
  c.issued_at = kNow;
  c.not_before = kNow;
  c.expires = kNow + Duration::Minutes(15);
  return c;
}

// Keys are slow to make (RSA): one pair for the whole suite.
class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    first_ = new SigningKey(SigningKey::Generate("k1").value());
    second_ = new SigningKey(SigningKey::Generate("k2").value());
  }
  static void TearDownTestSuite() {
    delete first_;
    delete second_;
  }
  static SigningKey* first_;
  static SigningKey* second_;
};
SigningKey* JwtTest::first_ = nullptr;
SigningKey* JwtTest::second_ = nullptr;

// The reason a token was refused, or "accepted".
std::string Why(const KeyRing& ring, std::string_view token, Timestamp now = kNow) {
  const Result<Claims> claims = ring.Verify(token, now, {"aits", "aits-api"});
  return claims.ok() ? "accepted" : claims.status().message();
}

std::string Part(std::string_view token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const size_t end = token.find('.', start);
  return std::string(token.substr(start, end == std::string_view::npos ? end : end - start));
}

TEST(Base64UrlTest, RoundTripsEveryLengthAndRefusesWhatNoEncoderWrites) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)).value(), bytes) << n;
    bytes.push_back(static_cast<char>(n * 37 + 200));
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("ab=c").ok());  // padding, or any character off the alphabet
  EXPECT_FALSE(Base64UrlDecode("a+bc").ok());
  EXPECT_FALSE(Base64UrlDecode("abcde").ok());  // 5 characters: no encoding is that long
  EXPECT_FALSE(Base64UrlDecode("-_9").ok());    // the last character's spare bits set
  EXPECT_FALSE(Base64UrlDecode("QR").ok());     // one byte's spare bits set
  EXPECT_EQ(Base64UrlDecode("QQ").value(), "A");
  // The message names the first character off the alphabet, in a whole group or the last.
  EXPECT_NE(Base64UrlDecode("abcdab=c").status().message().find("character 7 "), std::string::npos);
  EXPECT_NE(Base64UrlDecode("abcda.").status().message().find("character 6 "), std::string::npos);
}

// The claims' own scan and the JSON parser agree on every payload: those Sign writes, the odd
// ones that must fall to the parser, and thousands of mutations of a real one.
TEST(ClaimsTest, TheScanAndTheParserReadEveryPayloadAlike) {
  const auto agree = [](const std::string& payload) {
    const Result<Claims> scanned = ParseClaims(payload, true);
    const Result<Claims> parsed = ParseClaims(payload, false);
    EXPECT_EQ(scanned.ok(), parsed.ok()) << payload;
    if (scanned.ok() && parsed.ok()) {
      EXPECT_TRUE(*scanned == *parsed) << payload;
    } else if (!scanned.ok() && !parsed.ok()) {
      EXPECT_EQ(scanned.status().message(), parsed.status().message()) << payload;
    }
  };
  const std::string typical =
      R"({"sub":"tom","role":"trader","typ":"access","jti":"Zk3uQ2m9aB1x","iss":"aits",)"
      R"("aud":"aits-api","iat":1796681867,"nbf":1796681867,"exp":1796682767})";
  const Result<Claims> read = ParseClaims(typical);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->subject, "tom");
  EXPECT_EQ(read->role, "trader");
  EXPECT_EQ(read->audience, "aits-api");
  EXPECT_EQ(read->expires, Timestamp{1796682767 * kNanosPerSecond});
  EXPECT_EQ(read->not_before, Timestamp{1796681867 * kNanosPerSecond});
  for (const std::string& payload : std::vector<std::string>{
           typical,
           R"( { "exp" : 5 , "sub" : "a" } )",
           R"({"exp":5,"sub":"a","sub":"b","exp":-7})",   // the last of a name counts
           R"({"exp":5,"sub":7,"role":null,"nbf":"x"})",  // wrong types read as absent
           R"({"exp":5.0})",
           R"({"exp":5e3})",
           R"({"exp":05})",
           R"({"exp":-0})",
           R"({"exp":-})",
           R"({"exp":123456789012345678901})",                 // past int64: the parser's
           R"({"exp":99999999999999,"nbf":-99999999999999})",  // past 2262: held at the end
           R"({"exp":5,"sub":"t\u00f6m","aud":"a\"b"})",       // escapes: the parser's
           "{\"exp\":5,\"sub\":\"t\xc3\xb6m\"}",               // UTF-8: the parser's
           "{\"exp\":5,\"sub\":\"t\xc3m\"}",                   // broken UTF-8: refused by both
           "{\"exp\":5,\"sub\":\"a\tb\"}",                     // a raw control character
           R"({"exp":5,"x":{"y":[1,2]},"z":true})",
           R"({})",
           R"([])",
           R"({"exp":5,})",
           R"({"exp":5}})",
           R"({"exp":5} x)",
           R"({"exp" 5})",
           R"({exp:5})",
           "",
           "{",
           "null"}) {
    agree(payload);
  }
  // Mutations: a byte changed, dropped or doubled, anywhere.
  const std::string alphabet = "{}[]\",:\\ -0159.eE\tatfnux\x80\xff";
  uint64_t state = 42;
  const auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int round = 0; round < 20000; ++round) {
    std::string payload = typical;
    for (int edits = 1 + static_cast<int>(next() % 3); edits > 0; --edits) {
      const size_t at = next() % payload.size();
      switch (next() % 3) {
        case 0:
          payload[at] = alphabet[next() % alphabet.size()];
          break;
        case 1:
          payload.erase(at, 1);
          break;
        default:
          payload.insert(at, 1, payload[at]);
      }
    }
    agree(payload);
  }
}

TEST_F(JwtTest, SignsAndVerifiesTheClaims) {
  const KeyRing ring = KeyRing::Make({*first_}).value();
  const std::string token = ring.Sign(AccessFor("alice", "trader")).value();
  const Result<Claims> claims =
      ring.Verify(token, kNow + Duration::Minutes(1), {"aits", "aits-api"});
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_EQ(claims->role, "trader");
  EXPECT_EQ(claims->type, "access");
  EXPECT_EQ(claims->token_id, "t1");
  EXPECT_EQ(claims->kid, "k1");
  EXPECT_EQ(claims->expires, kNow + Duration::Minutes(15));
  const nlohmann::json header = nlohmann::json::parse(Base64UrlDecode(Part(token, 0)).value());
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["kid"], "k1");
}

TEST_F(JwtTest, RefusesExpiredEarlyForeignAndMisaddressedTokens) {
  const KeyRing ring = KeyRing::Make({*first_}).value();
  const std::string token = ring.Sign(AccessFor("alice", "trader")).value();
  EXPECT_EQ(Why(ring, token, kNow + Duration::Minutes(15) + Duration::Seconds(30)), "accepted");
  EXPECT_EQ(Why(ring, token, kNow + Duration::Minutes(15) + Duration::Seconds(31)),
            "token refused: expired");
  EXPECT_EQ(Why(ring, token, kNow - Duration::Seconds(31)), "token refused: not valid yet (nbf)");
  const Result<Claims> other_audience = ring.Verify(token, kNow, {"aits", "elsewhere"});
  ASSERT_FALSE(other_audience.ok());
  EXPECT_NE(other_audience.status().message().find("audience"), std::string::npos);
  // Signed by a key that is not on the ring, under a kid that is.
  const KeyRing forger =
      KeyRing::Make({SigningKey::FromPem("k1", second_->PrivatePem().value()).value()}).value();
  EXPECT_EQ(Why(ring, forger.Sign(AccessFor("alice", "admin")).value()),
            "token refused: the signature does not match key k1");
  EXPECT_EQ(Why(ring, KeyRing::Make({*second_}).value().Sign(AccessFor("a", "admin")).value()),
            "token refused: unknown key id \"k2\"");
}

TEST_F(JwtTest, RefusesTamperedPayloadsAndOtherAlgorithms) {
  const KeyRing ring = KeyRing::Make({*first_}).value();
  const std::string token = ring.Sign(AccessFor("alice", "viewer")).value();
  // The payload changed to admin, the signature kept.
  std::string payload = Base64UrlDecode(Part(token, 1)).value();
  payload.replace(payload.find("viewer"), 6, "admin");
  const std::string tampered =
      Part(token, 0) + "." + Base64UrlEncode(payload) + "." + Part(token, 2);
  EXPECT_EQ(Why(ring, tampered), "token refused: the signature does not match key k1");
  // alg none with an empty signature, and HS256 keyed with the public key (the classic confusion).
  const std::string none =
      Base64UrlEncode(R"({"alg":"none","typ":"JWT","kid":"k1"})") + "." + Part(token, 1) + ".";
  EXPECT_EQ(Why(ring, none), "token refused: algorithm \"none\" (only RS256 is accepted)");
  const std::string hs = Base64UrlEncode(R"({"alg":"HS256","kid":"k1"})") + "." + Part(token, 1) +
                         "." + Part(token, 2);
  EXPECT_EQ(Why(ring, hs), "token refused: algorithm \"HS256\" (only RS256 is accepted)");
  EXPECT_EQ(Why(ring, "abc"),
            "token refused: not a signed JWT (three base64url parts separated by dots)");
  EXPECT_EQ(Why(ring, token + ".x"),
            "token refused: not a signed JWT (three base64url parts separated by dots)");
  EXPECT_NE(Why(ring, Part(token, 0) + ".e30.%%%").find("signature: base64url"), std::string::npos);
}

TEST_F(JwtTest, ARotatedRingSignsWithTheNewKeyAndStillVerifiesTheOld) {
  const KeyRing before = KeyRing::Make({*first_}).value();
  const std::string old_token = before.Sign(AccessFor("bob", "viewer")).value();
  const KeyRing after = KeyRing::Make({*first_, *second_}).value();
  const std::string new_token = after.Sign(AccessFor("bob", "viewer")).value();
  EXPECT_EQ(after.Verify(new_token, kNow, {}).value().kid, "k2");
  EXPECT_EQ(Why(after, old_token), "accepted");
  // The old key retired: its tokens are refused.
  EXPECT_EQ(Why(KeyRing::Make({*second_}).value(), old_token),
            "token refused: unknown key id \"k1\"");
  // A verify-only copy of the old key keeps its tokens valid without letting it sign.
  const SigningKey public_only = SigningKey::FromPem("k1", first_->PublicPem()).value();
  EXPECT_FALSE(public_only.can_sign());
  const KeyRing mixed = KeyRing::Make({*second_, public_only}).value();
  EXPECT_EQ(mixed.signer().kid(), "k2");
  EXPECT_EQ(Why(mixed, old_token), "accepted");
  const nlohmann::json jwks = nlohmann::json::parse(mixed.Jwks());
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][1]["kid"], "k1");
  EXPECT_EQ(jwks["keys"][1]["e"], "AQAB");
}

TEST_F(JwtTest, KeysAreCheckedWhenMade) {
  EXPECT_FALSE(KeyRing::Make({}).ok());
  EXPECT_FALSE(KeyRing::Make({*first_, *first_}).ok());
  EXPECT_FALSE(KeyRing::Make({SigningKey::FromPem("p", first_->PublicPem()).value()}).ok());
  EXPECT_FALSE(SigningKey::Generate("small", 1024).ok());
  EXPECT_FALSE(SigningKey::Generate("", 2048).ok());
  const Result<SigningKey> junk = SigningKey::FromPem("j", "-----BEGIN PRIVATE KEY-----\nxx\n");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("not a PEM RSA key"), std::string::npos);
  // A PEM round trip keeps the key.
  const SigningKey again = SigningKey::FromPem("k1", first_->PrivatePem().value()).value();
  const KeyRing ring = KeyRing::Make({again}).value();
  EXPECT_EQ(Why(KeyRing::Make({*first_}).value(), ring.Sign(AccessFor("c", "viewer")).value()),
            "accepted");
}

}  // namespace
}  // namespace aits::api
