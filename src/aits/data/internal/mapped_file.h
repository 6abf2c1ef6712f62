// A read-only memory-mapped file with sequential-read hints and page release. Internal.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits::data::internal {

class MappedFile {
 public:
  // NotFound if missing, IoError if it cannot be opened or mapped, InvalidArgument for a
  // directory. An empty file maps to an empty view.
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  // Text view: skips a UTF-8 byte-order mark and transcodes UTF-16 (MetaTrader exports) to
  // ASCII in an owned buffer (non-ASCII characters become '?').
  void DecodeText();

  // Tells the kernel that bytes before `offset` will not be read again, so their pages leave
  // resident memory (they are file-backed and clean; a later read would fault them back in).
  void ReleaseBefore(size_t offset);

 private:
  MappedFile() = default;

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const char* data_ = nullptr;
  size_t size_ = 0;
  size_t released_ = 0;  // bytes of the mapping already released
  std::string owned_;    // transcoded text, when the file was UTF-16
};

}  // namespace aits::data::internal
