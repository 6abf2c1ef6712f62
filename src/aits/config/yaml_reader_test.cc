// The one YAML loader: errors name the file and line, and a key nobody reads is an error.
#include "aits/config/yaml_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "aits/config/config_test_util.h"

namespace aits::config {
namespace {

std::string WriteYaml(const std::string& text) {
  return testing::WriteFile(testing::TestDir(), "settings.yaml", text);
}

TEST(YamlReaderTest, SyntaxErrorNamesFileAndLine) {
  const std::string path = WriteYaml("bar: M1\naccount:\n  cash: [1, 2\n");
  auto root = LoadYamlFile(path);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(root.status().message().rfind(path + ":", 0), 0u) << root.status().message();
}

TEST(YamlReaderTest, MissingFileIsNotFound) {
  auto root = LoadYamlFile(::testing::TempDir() + "/no-such-settings.yaml");
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), StatusCode::kNotFound);
}

TEST(YamlReaderTest, TopLevelMustBeAMap) {
  const std::string path = WriteYaml("- a\n- b\n");
  auto root = LoadYamlFile(path);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().message(),
            path + ": the top level must be a map of settings (key: value)");
}

TEST(YamlReaderTest, ReadsTypedValuesAndRefusesUnreadKeys) {
  const std::string path = WriteYaml("bar: M5\naccount:\n  cash: 1000\n  levrage: 3\nextra: 1\n");
  auto root = LoadYamlFile(path);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  YamlReader yaml(path, *root);
  std::optional<std::string> bar;
  std::optional<double> cash;
  std::optional<double> leverage;
  ASSERT_TRUE(yaml.Get("", "bar", &bar).ok());
  ASSERT_TRUE(yaml.Get("account", "cash", &cash).ok());
  ASSERT_TRUE(yaml.Get("account", "leverage", &leverage).ok());
  EXPECT_EQ(bar, "M5");
  EXPECT_EQ(cash, 1000.0);
  EXPECT_FALSE(leverage);  // absent: left to the caller's default
  EXPECT_EQ(yaml.CheckUnknown().message(), path + ": unknown setting 'account.levrage' (line 4)");
}

TEST(YamlReaderTest, TopLevelUnknownKeyNamesItsLine) {
  const std::string path = WriteYaml("bar: M5\nbars: M1\n");
  auto root = LoadYamlFile(path);
  ASSERT_TRUE(root.ok());
  YamlReader yaml(path, *root);
  std::optional<std::string> bar;
  ASSERT_TRUE(yaml.Get("", "bar", &bar).ok());
  EXPECT_EQ(yaml.CheckUnknown().message(), path + ": unknown setting 'bars' (line 2)");
}

TEST(YamlReaderTest, DecisionAndRiskValuesAreCheckedWithTheirLine) {
  const std::string path = WriteYaml("decision:\n  buy_threshold: 0.6\n  sizing: guess\n");
  auto root = LoadYamlFile(path);
  ASSERT_TRUE(root.ok());
  node::Settings decision;
  node::Settings risk;
  const Status status = ReadDecisionAndRisk(path, *root, &decision, &risk);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().rfind(path + ":3: decision.sizing: ", 0), 0u) << status.message();

  const std::string good = WriteYaml("decision:\n  buy_threshold: 0.6\nrisk:\n  base: defaults\n");
  auto good_root = LoadYamlFile(good);
  ASSERT_TRUE(good_root.ok());
  decision.clear();
  risk.clear();
  ASSERT_TRUE(ReadDecisionAndRisk(good, *good_root, &decision, &risk).ok());
  ASSERT_EQ(decision.size(), 1u);
  EXPECT_EQ(decision[0].first, "buy_threshold");
  EXPECT_EQ(decision[0].second, "0.6");
  ASSERT_EQ(risk.size(), 1u);
}

}  // namespace
}  // namespace aits::config
