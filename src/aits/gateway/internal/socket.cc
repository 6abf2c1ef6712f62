#include "aits/gateway/internal/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aits::gateway::internal {
namespace {

std::string Errno(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

Result<sockaddr_in> Address(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("gateway address '" + host + "' is not an IPv4 address");
  }
  return addr;
}

void NoDelay(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

void Fd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Fd> Listen(const std::string& host, uint16_t port) {
  AITS_ASSIGN_OR_RETURN(sockaddr_in addr, Address(host, port));
  const std::string where = host + ":" + std::to_string(port);
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return IoError(Errno("socket for " + where));
  int one = 1;
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return IoError(Errno("bind " + where));
  }
  if (::listen(fd.get(), 8) != 0) return IoError(Errno("listen " + where));
  return fd;
}

uint16_t BoundPort(const Fd& listener) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

Result<Fd> Accept(const Fd& listener, std::string* peer) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  Fd fd(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len,
                  SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!fd.valid()) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
      return Fd();
    }
    return IoError(Errno("accept"));
  }
  NoDelay(fd.get());
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  *peer = std::string(text) + ":" + std::to_string(ntohs(addr.sin_port));
  return fd;
}

Result<Fd> Connect(const std::string& host, uint16_t port) {
  AITS_ASSIGN_OR_RETURN(sockaddr_in addr, Address(host, port));
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return IoError(Errno("socket"));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return IoError(Errno("connect " + host + ":" + std::to_string(port)));
  }
  NoDelay(fd.get());
  return fd;
}

Result<long> ReadSome(const Fd& fd, char* into, size_t room) {
  for (;;) {
    const ssize_t got = ::recv(fd.get(), into, room, 0);
    if (got >= 0) return static_cast<long>(got);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1L;
    return IoError(Errno("read"));
  }
}

Result<size_t> WriteSome(const Fd& fd, const char* from, size_t size) {
  for (;;) {
    const ssize_t put = ::send(fd.get(), from, size, MSG_NOSIGNAL);
    if (put >= 0) return static_cast<size_t>(put);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return IoError(Errno("write"));
  }
}

Result<Fd> MakeWakeFd() {
  Fd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd.valid()) return IoError(Errno("eventfd"));
  return fd;
}

void Signal(const Fd& wake) {
  const uint64_t one = 1;
  (void)!::write(wake.get(), &one, sizeof(one));
}

void Drain(const Fd& wake) {
  uint64_t count = 0;
  (void)!::read(wake.get(), &count, sizeof(count));
}

}  // namespace aits::gateway::internal
