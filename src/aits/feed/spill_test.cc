#include "aits/feed/spill.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aits/feed/feed_test_util.h"

namespace aits::feed {
namespace {

class SpillFileTest : public ::testing::Test {
 protected:
  static std::vector<uint8_t> Body(uint8_t fill, size_t size) {
    return std::vector<uint8_t>(size, fill);
  }
  uint64_t FileSize() const { return std::filesystem::file_size(path_); }
  void Truncate(uint64_t size) const { std::filesystem::resize_file(path_, size); }
  void FlipByte(uint64_t offset) const {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(offset));
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x40);
    file.seekp(static_cast<std::streamoff>(offset));
    file.write(&byte, 1);
  }
  std::unique_ptr<SpillFile> Open() {
    auto file = SpillFile::Open(path_, {.sync = SpillSync::kEveryRecord});
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.ok() ? std::move(file).value() : nullptr;
  }
  // Appends records of 100, 200 and 300 bytes filled with 1, 2, 3.
  void WriteThree() {
    auto file = Open();
    for (uint8_t fill = 1; fill <= 3; ++fill) {
      ASSERT_TRUE(file->Append(Body(fill, 100u * fill)).ok());
    }
  }
  // Reads every record, popping them; returns their fill bytes.
  static std::vector<uint8_t> Fills(SpillFile& file) {
    std::vector<uint8_t> fills;
    std::vector<uint8_t> body;
    while (!file.empty()) {
      EXPECT_TRUE(file.Front(body).ok());
      fills.push_back(body.front());
      EXPECT_EQ(body.size(), 100u * body.front());
      EXPECT_TRUE(file.PopFront().ok());
    }
    return fills;
  }

  ScopedTestPath file_;
  const std::string& path_ = file_.path();
};

TEST_F(SpillFileTest, KeepsRecordsInOrderAcrossReopenAndEmptiesWhenAllAreSent) {
  WriteThree();
  EXPECT_EQ(FileSize(), 16u + 3 * 8 + 600);
  auto file = Open();
  EXPECT_EQ(file->recovery().records, 3u);
  EXPECT_EQ(file->recovery().torn_records, 0u);
  EXPECT_EQ(Fills(*file), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(FileSize(), 16u);
  // Appending after the file was emptied starts at its header again.
  ASSERT_TRUE(file->Append(Body(4, 400)).ok());
  file.reset();
  file = Open();
  EXPECT_EQ(Fills(*file), (std::vector<uint8_t>{4}));
}

TEST_F(SpillFileTest, DropsATornLastRecordAndKeepsTheEarlierOnes) {
  WriteThree();
  const uint64_t full = FileSize();
  Truncate(full - 5);  // a crash in the middle of the third record's write
  auto file = Open();
  const SpillRecovery& recovery = file->recovery();
  EXPECT_EQ(recovery.records, 2u);
  EXPECT_EQ(recovery.torn_records, 1u);
  EXPECT_EQ(recovery.corrupt_records, 0u);
  EXPECT_EQ(recovery.dropped_bytes, 8u + 300 - 5);
  EXPECT_NE(recovery.detail.find("byte 332"), std::string::npos) << recovery.detail;
  EXPECT_EQ(FileSize(), 16u + 8 + 100 + 8 + 200);
  ASSERT_TRUE(file->Append(Body(5, 500)).ok());
  EXPECT_EQ(Fills(*file), (std::vector<uint8_t>{1, 2, 5}));
}

TEST_F(SpillFileTest, DropsATornRecordHead) {
  WriteThree();
  {
    std::ofstream file(path_, std::ios::app | std::ios::binary);
    file.write("\x10\x00\x00", 3);
  }
  auto file = Open();
  EXPECT_EQ(file->recovery().torn_records, 1u);
  EXPECT_EQ(file->recovery().dropped_bytes, 3u);
  EXPECT_EQ(Fills(*file), (std::vector<uint8_t>{1, 2, 3}));
}

TEST_F(SpillFileTest, ACorruptRecordEndsTheValidPart) {
  WriteThree();
  FlipByte(16 + 8 + 100 + 8 + 50);  // inside the second record's body
  auto file = Open();
  EXPECT_EQ(file->recovery().corrupt_records, 1u);
  EXPECT_EQ(file->recovery().torn_records, 0u);
  EXPECT_NE(file->recovery().detail.find("bad CRC"), std::string::npos);
  EXPECT_EQ(Fills(*file), (std::vector<uint8_t>{1}));
}

TEST_F(SpillFileTest, ARecordChangedOnDiskAfterOpenIsDataLoss) {
  WriteThree();
  auto file = Open();
  FlipByte(16 + 8 + 10);
  std::vector<uint8_t> body;
  const Status status = file->Front(body);
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("byte 16"), std::string::npos) << status.message();
}

TEST_F(SpillFileTest, RefusesAFileThatIsNotASpillFile) {
  {
    std::ofstream file(path_, std::ios::binary);
    file << "timestamp,bid,ask\n2020-01-01,1.1,1.2\n";
  }
  const uint64_t size = FileSize();
  auto file = SpillFile::Open(path_);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(file.status().message().find("not a spill file"), std::string::npos);
  EXPECT_EQ(FileSize(), size);
}

TEST_F(SpillFileTest, RewritesAHeaderTornRightAfterCreation) {
  {
    std::ofstream file(path_, std::ios::binary);
    file.write("AITSS", 5);
  }
  auto file = Open();
  EXPECT_TRUE(file->empty());
  EXPECT_EQ(FileSize(), 16u);
  ASSERT_TRUE(file->Append(Body(1, 100)).ok());
  file.reset();
  file = Open();
  EXPECT_EQ(Fills(*file), (std::vector<uint8_t>{1}));
}

TEST_F(SpillFileTest, RefusesEmptyAndOversizedRecords) {
  auto file = SpillFile::Open(path_, {.sync = SpillSync::kNone, .max_record_bytes = 64});
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->Append({}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*file)->Append(Body(1, 65)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*file)->empty());
  EXPECT_EQ(FileSize(), 16u);
}

}  // namespace
}  // namespace aits::feed
