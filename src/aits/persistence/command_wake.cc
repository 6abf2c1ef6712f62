#include "aits/persistence/command_wake.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace aits::persistence {
namespace {

constexpr std::string_view kWakeFile = "commands.wake";

// False when `path` does not fit sun_path with its terminating zero.
bool FillAddress(const std::string& path, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address->sun_path)) return false;
  std::memcpy(address->sun_path, path.data(), path.size());
  return true;
}

}  // namespace

std::string CommandWakePath(std::string_view events_path) {
  if (events_path.starts_with("postgresql://") || events_path.starts_with("postgres://")) {
    return {};
  }
  const std::filesystem::path dir = std::filesystem::path(events_path).parent_path();
  return (dir.empty() ? std::filesystem::path(kWakeFile) : dir / kWakeFile).string();
}

Result<CommandWakeSocket> CommandWakeSocket::Bind(const std::string& path) {
  sockaddr_un address{};
  if (!FillAddress(path, &address)) {
    return InvalidArgument(path + ": too long for a socket address (at most " +
                           std::to_string(sizeof(address.sun_path) - 1) + " bytes)");
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      return FailedPrecondition(path + ": exists and is not a socket; not replaced");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return IoError(path + ": cannot remove the old socket: " + std::strerror(errno));
    }
  }
  CommandWakeSocket socket;
  socket.fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (socket.fd_ < 0) return IoError(path + ": socket: " + std::strerror(errno));
  if (::bind(socket.fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return IoError(path + ": bind: " + std::strerror(errno));
  }
  socket.path_ = path;
  return socket;
}

CommandWakeSocket::CommandWakeSocket(CommandWakeSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {
  other.path_.clear();
}

CommandWakeSocket& CommandWakeSocket::operator=(CommandWakeSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

CommandWakeSocket::~CommandWakeSocket() { Close(); }

void CommandWakeSocket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

int CommandWakeSocket::Drain() {
  int count = 0;
  char byte = 0;
  while (fd_ >= 0 && ::recv(fd_, &byte, sizeof(byte), 0) >= 0) ++count;
  return count;
}

bool SendCommandWake(const std::string& path) {
  sockaddr_un address{};
  if (!FillAddress(path, &address)) return false;
  // One unbound socket for the whole process, made at the first wake: each sendto is one
  // datagram whole, so the API's threads share it without a lock.
  static const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  return ::sendto(fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
}

}  // namespace aits::persistence
