// Helpers shared by the data module's tests: a temp directory and whole-file readers.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aits/data/source.h"

namespace aits::data::testing {

inline std::string SharedData(const std::string& name) {
  return std::string(AITS_SHARED_DATA_DIR) + "/" + name;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "aits_data_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& content) const {
    std::ofstream out(Path(name), std::ios::binary);
    out << content;
    return Path(name);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct TickRead {
  Status status;
  std::vector<Tick> ticks;
  ReadStats stats;
};

inline TickRead ReadAll(TickSource& source) {
  TickRead read;
  std::vector<Tick> buffer(333);  // odd size: batches end mid-file
  while (true) {
    auto got = source.Read(buffer);
    if (!got.ok()) {
      read.status = got.status();
      break;
    }
    if (*got == 0) break;
    read.ticks.insert(read.ticks.end(), buffer.begin(), buffer.begin() + *got);
  }
  read.stats = source.stats();
  return read;
}

inline TickRead ReadAllTicks(const std::string& path, const ReadOptions& options) {
  auto source = OpenTicks(path, options);
  if (!source.ok()) return TickRead{source.status(), {}, {}};
  return ReadAll(**source);
}

struct BarRead {
  Status status;
  std::vector<Bar> bars;
  ReadStats stats;
  Duration period;
};

inline BarRead ReadAllBars(const std::string& path, const ReadOptions& options) {
  BarRead read;
  auto source = OpenBars(path, options);
  if (!source.ok()) {
    read.status = source.status();
    return read;
  }
  std::vector<Bar> buffer(257);
  while (true) {
    auto got = (*source)->Read(buffer);
    if (!got.ok()) {
      read.status = got.status();
      break;
    }
    if (*got == 0) break;
    read.bars.insert(read.bars.end(), buffer.begin(), buffer.begin() + *got);
  }
  read.stats = (*source)->stats();
  read.period = (*source)->period();
  return read;
}

inline uint64_t Rejected(const ReadStats& stats, RowRejectReason reason) {
  return stats.rejected[static_cast<size_t>(reason)];
}

// Raw 1e-9 units of a decimal literal, for exact comparisons.
inline int64_t Raw(const char* text) {
  auto raw = fixed_internal::ParseScaled(text, kFixedDigits);
  return raw.ok() ? *raw : -1;
}

}  // namespace aits::data::testing
