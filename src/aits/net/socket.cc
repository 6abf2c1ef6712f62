#include "aits/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

namespace aits::net {
namespace {

std::string Errno(int error) { return std::strerror(error); }

Status SystemError(std::string_view what, const Endpoint& at, int error) {
  return IoError(std::string(what) + " " + at.ToString() + ": " + Errno(error));
}

// An IPv4 address, "localhost", or a host name as DNS allows it (letters, digits and '-' in
// labels of 1 to 63 characters between dots, no label starting or ending with '-').
bool ValidHost(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  char previous = '.';
  for (const char c : host) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-') {
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    previous = c;
  }
  return label > 0 && previous != '-';
}

// The address to bind or connect to. A name (a compose service, a Kubernetes Service) is
// resolved now, at each connect, not when the flag was parsed: the server it names may not
// exist yet, and may come back elsewhere.
Result<sockaddr_in> AddressOf(const Endpoint& at) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(at.port);
  const std::string host = at.host == "localhost" ? "127.0.0.1" : at.host;
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) == 1) return address;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int error = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (error != 0 || found == nullptr) {
    const std::string reason = error == EAI_SYSTEM ? Errno(errno) : gai_strerror(error);
    return IoError("resolve '" + at.host + "': " + reason);
  }
  address.sin_addr = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  return address;
}

std::string PeerName(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(ntohs(address.sin_port));
}

void SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgument("endpoint '" + std::string(text) + "' is not HOST:PORT");
  }
  Endpoint endpoint;
  endpoint.host = std::string(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return InvalidArgument("endpoint '" + std::string(text) + "': port '" + std::string(port_text) +
                           "' is not a number 0..65535");
  }
  endpoint.port = static_cast<uint16_t>(port);
  in_addr ignored{};
  if (inet_pton(AF_INET, endpoint.host.c_str(), &ignored) != 1 && !ValidHost(endpoint.host)) {
    return InvalidArgument("endpoint '" + std::string(text) + "': '" + endpoint.host +
                           "' is neither an IPv4 address nor a host name");
  }
  return endpoint;
}

Socket::Socket(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {
  SetNonBlocking(fd_);
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Socket::~Socket() { Close(); }

Socket::Socket(Socket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), peer_(std::move(other.peer_)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    peer_ = std::move(other.peer_);
  }
  return *this;
}

Result<ReadResult> Socket::Read(std::span<char> buffer) {
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n > 0) return ReadResult{.bytes = static_cast<size_t>(n), .closed = false};
    if (n == 0) return ReadResult{.bytes = 0, .closed = true};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadResult{};
    if (errno == ECONNRESET || errno == EPIPE) return ReadResult{.bytes = 0, .closed = true};
    return IoError("read from " + peer_ + ": " + Errno(errno));
  }
}

Result<size_t> Socket::Write(std::string_view bytes) {
  for (;;) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return IoError("write to " + peer_ + ": " + Errno(errno));
  }
}

void Socket::Close() {
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
}

Result<Listener> Listener::Listen(const Endpoint& at, int backlog) {
  AITS_ASSIGN_OR_RETURN(sockaddr_in address, AddressOf(at));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SystemError("socket for", at, errno);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(fd);
    return SystemError("bind", at, error);
  }
  if (::listen(fd, backlog) != 0) {
    const int error = errno;
    ::close(fd);
    return SystemError("listen on", at, error);
  }
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  SetNonBlocking(fd);
  Listener listener;
  listener.fd_ = fd;
  listener.port_ = ntohs(address.sin_port);
  listener.endpoint_ = Endpoint{.host = at.host, .port = listener.port_};
  return listener;
}

Listener::~Listener() { Close(); }

Listener::Listener(Listener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_), endpoint_(other.endpoint_) {}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
    endpoint_ = other.endpoint_;
  }
  return *this;
}

Result<Socket> Listener::Accept() {
  for (;;) {
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
    if (fd >= 0) return Socket(fd, PeerName(address));
    if (errno == EINTR) continue;
    // A connection that was reset before we took it is not the listener's failure.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return Socket();
    return SystemError("accept on", endpoint_, errno);
  }
}

void Listener::Close() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

Result<Socket> Connect(const Endpoint& to, std::chrono::milliseconds timeout) {
  AITS_ASSIGN_OR_RETURN(sockaddr_in address, AddressOf(to));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return SystemError("socket for", to, errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EINPROGRESS) {
      const int error = errno;
      ::close(fd);
      return SystemError("connect", to, error);
    }
    WaitFor item{.fd = fd, .read = false, .write = true};
    auto ready = Wait(std::span<WaitFor>(&item, 1), timeout);
    if (!ready.ok() || *ready == 0) {
      ::close(fd);
      if (!ready.ok()) return ready.status();
      return IoError("connect " + to.ToString() + ": no answer within " +
                     std::to_string(timeout.count()) + " ms");
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      ::close(fd);
      return SystemError("connect", to, error);
    }
  }
  return Socket(fd, to.ToString());
}

Result<int> Wait(std::span<WaitFor> items, std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    fds[i].fd = items[i].fd;
    fds[i].events =
        static_cast<short>((items[i].read ? POLLIN : 0) | (items[i].write ? POLLOUT : 0));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int wait_ms = -1;
    if (timeout.count() >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    const int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(std::string("poll: ") + Errno(errno));
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const short got = fds[i].revents;
      items[i].readable = (got & (POLLIN | POLLHUP | POLLERR)) != 0;
      items[i].writable = (got & (POLLOUT | POLLERR)) != 0;
    }
    return n;
  }
}

Waker::Waker() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Waker::~Waker() {
  if (fd_ >= 0) ::close(fd_);
}

void Waker::Notify() {
  const uint64_t one = 1;
  // A full counter (2^64 - 2 unread notifications) still leaves the fd readable: nothing lost.
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof(one));
}

void Waker::Drain() {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd_, &count, sizeof(count));
}

}  // namespace aits::net
