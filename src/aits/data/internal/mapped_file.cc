#include "aits/data/internal/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aits::data::internal {

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(path + ": no such file");
    return IoError(path + ": cannot open: " + std::strerror(err));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError(path + ": cannot stat: " + std::strerror(err));
  }
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": is a directory, not a data file");
  }
  std::unique_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  const size_t size = static_cast<size_t>(info.st_size);
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return IoError(path + ": cannot mmap " + std::to_string(size) +
                     " bytes: " + std::strerror(err));
    }
    ::madvise(map, size, MADV_SEQUENTIAL);
    file->map_ = map;
    file->map_size_ = size;
    file->data_ = static_cast<const char*>(map);
    file->size_ = size;
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

void MappedFile::DecodeText() {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data_);
  if (size_ >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) {
    data_ += 3;
    size_ -= 3;
    return;
  }
  const bool le = size_ >= 2 && bytes[0] == 0xFF && bytes[1] == 0xFE;
  const bool be = size_ >= 2 && bytes[0] == 0xFE && bytes[1] == 0xFF;
  if (!le && !be) return;
  owned_.clear();
  owned_.reserve(size_ / 2);
  for (size_t pos = 2; pos + 1 < size_; pos += 2) {
    const unsigned low = le ? bytes[pos] : bytes[pos + 1];
    const unsigned high = le ? bytes[pos + 1] : bytes[pos];
    owned_.push_back(high == 0 && low < 0x80 ? static_cast<char>(low) : '?');
  }
  data_ = owned_.data();
  size_ = owned_.size();
  if (map_ != nullptr) {
    ::munmap(map_, map_size_);
    map_ = nullptr;
    map_size_ = 0;
  }
}

void MappedFile::ReleaseBefore(size_t offset) {
  if (map_ == nullptr) return;
  const auto* base = static_cast<const char*>(map_);
  size_t mapped_offset = static_cast<size_t>(data_ - base) + offset;
  if (mapped_offset > map_size_) mapped_offset = map_size_;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t upto = mapped_offset / page * page;
  if (upto <= released_) return;
  ::madvise(static_cast<char*>(map_) + released_, upto - released_, MADV_DONTNEED);
  released_ = upto;
}

}  // namespace aits::data::internal
