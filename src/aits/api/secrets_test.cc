#include "aits/api/secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

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
