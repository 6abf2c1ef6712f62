#include "aits/api/secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace aits::api {
namespace {

TEST(PasswordTest, Argon2idHashesVerifyOnlyTheirPassword) {
  const std::string hash = HashPassword("correct horse", PasswordCost::kMinimal).value();
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_TRUE(VerifyPassword(hash, "correct horse"));
  EXPECT_FALSE(VerifyPassword(hash, "correct horse "));
  EXPECT_FALSE(VerifyPassword(hash, ""));
  EXPECT_FALSE(VerifyPassword("not a hash", "correct horse"));
  EXPECT_FALSE(VerifyPassword("", "x"));
  // Salted: the same password twice is two hashes.
  EXPECT_NE(HashPassword("correct horse", PasswordCost::kMinimal).value(), hash);
  EXPECT_FALSE(HashPassword("", PasswordCost::kMinimal).ok());
  EXPECT_FALSE(HashPassword(std::string(1025, 'x'), PasswordCost::kMinimal).ok());
}

TEST(SecretsTest, TokensHashesAndComparisons) {
  const std::string a = RandomToken(32);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, RandomToken(32));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "ab"));
}

TEST(SecretBoxTest, SealsAndOpensOnlyWithItsKey) {
  const SecretBox box = SecretBox::FromText(SecretBox::NewKeyText(), "test").value();
  const std::string sealed = box.Seal("broker password");
  EXPECT_EQ(sealed.rfind("sb1:", 0), 0u);
  EXPECT_EQ(sealed.find("broker"), std::string::npos);
  EXPECT_EQ(box.Open(sealed, "credential").value(), "broker password");
  EXPECT_NE(box.Seal("broker password"), sealed);  // a fresh nonce each time
  const SecretBox other = SecretBox::FromText(SecretBox::NewKeyText(), "test").value();
  const Result<std::string> wrong = other.Open(sealed, "credential");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(wrong.status().message().find("credential"), std::string::npos);
  std::string flipped = sealed;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box.Open(flipped, "credential").ok());
  EXPECT_FALSE(box.Open("plain text", "credential").ok());
  EXPECT_FALSE(box.Open("sb1:", "credential").ok());
  EXPECT_EQ(box.Open(box.Seal(""), "empty").value(), "");
}

TEST(SecretBoxTest, TheKeyComesFromAPrivateFileOrTheEnvironment) {
  EXPECT_FALSE(SecretBox::FromText("abc", "k").ok());
  EXPECT_FALSE(SecretBox::FromText(std::string(64, 'g'), "k").ok());
  EXPECT_TRUE(SecretBox::FromText("  " + SecretBox::NewKeyText() + "\n", "k").ok());
  const std::string path = ::testing::TempDir() + "/aits_master.key";
  { std::ofstream(path) << SecretBox::NewKeyText() << "\n"; }
  ::chmod(path.c_str(), 0644);
  const Result<SecretBox> open_file = SecretBox::Load(path, nullptr);
  ASSERT_FALSE(open_file.ok());
  EXPECT_NE(open_file.status().message().find("chmod 600"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  EXPECT_TRUE(SecretBox::Load(path, nullptr).ok());
  EXPECT_EQ(SecretBox::Load(path + ".missing", nullptr).status().code(), StatusCode::kNotFound);
  ::unsetenv("AITS_TEST_MASTER_KEY");
  EXPECT_EQ(SecretBox::Load("", "AITS_TEST_MASTER_KEY").status().code(), StatusCode::kNotFound);
  ::setenv("AITS_TEST_MASTER_KEY", SecretBox::NewKeyText().c_str(), 1);
  EXPECT_TRUE(SecretBox::Load("", "AITS_TEST_MASTER_KEY").ok());
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace aits::api

namespace aits::api {
namespace {

std::string SealText(const SecretBox& box, const std::string& plain) {
  std::istringstream in(plain);
  std::ostringstream out;
  EXPECT_TRUE(box.SealStream(in, out).ok());
  return out.str();
}

Result<std::string> OpenText(const SecretBox& box, const std::string& sealed) {
  std::istringstream in(sealed);
  std::ostringstream out;
  AITS_RETURN_IF_ERROR(box.OpenStream(in, out, "backup.dump"));
  return out.str();
}

TEST(SecretStreamTest, SealsFilesOfEverySizeAndOpensThemWhole) {
  const SecretBox box = SecretBox::FromText(SecretBox::NewKeyText(), "test").value();
  // Empty, short, exactly one chunk, and several chunks with a partial last one.
  for (size_t size : {size_t{0}, size_t{5}, size_t{64 * 1024}, size_t{200'000}}) {
    std::string plain(size, '\0');
    for (size_t i = 0; i < size; ++i) plain[i] = static_cast<char>((i * 131 + 7) % 251);
    const std::string sealed = SealText(box, plain);
    EXPECT_TRUE(SecretBox::IsSealedStream(sealed));
    if (size >= 64) {
      EXPECT_EQ(sealed.find(plain.substr(0, 64)), std::string::npos) << "the plaintext shows";
    }
    Result<std::string> opened = OpenText(box, sealed);
    ASSERT_TRUE(opened.ok()) << size << ": " << opened.status().message();
    EXPECT_EQ(*opened, plain) << size;
  }
  // Sealed twice, the same text differs (a fresh header each time).
  EXPECT_NE(SealText(box, "same"), SealText(box, "same"));
}

TEST(SecretStreamTest, RefusesAnotherKeyChangedCutOrForeignFiles) {
  const SecretBox box = SecretBox::FromText(SecretBox::NewKeyText(), "test").value();
  const SecretBox other = SecretBox::FromText(SecretBox::NewKeyText(), "test").value();
  const std::string plain(150'000, 'x');
  const std::string sealed = SealText(box, plain);
  const auto refused = [&](const SecretBox& key, const std::string& text, const std::string& says) {
    Result<std::string> opened = OpenText(key, text);
    ASSERT_FALSE(opened.ok()) << says;
    EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(opened.status().message().find(says), std::string::npos) << opened.status().message();
    EXPECT_NE(opened.status().message().find("backup.dump"), std::string::npos);
  };
  refused(other, sealed, "another key");
  std::string changed = sealed;
  changed[changed.size() / 2] ^= 0x01;
  refused(box, changed, "changed bytes");
  // Cut at a chunk's end: every chunk before it opens, but the final one is missing.
  const size_t first_chunk = SecretBox::kStreamMagic.size() + 24 + 4 + 64 * 1024 + 17;
  refused(box, sealed.substr(0, first_chunk), "no final chunk");
  refused(box, sealed.substr(0, sealed.size() - 10), "cut short");
  refused(box, sealed + "extra", "after its final chunk");
  refused(box, "PGDMP plain dump", "not a sealed file");
  refused(box, std::string(SecretBox::kStreamMagic) + "short", "header");
}

}  // namespace
}  // namespace aits::api
