// The few POSIX socket calls the gateway's thread makes: a listening socket, accepted
// non-blocking connections with TCP_NODELAY, and an eventfd that wakes the thread's poll when the
// kernel thread queues a call. Private to the gateway until the lead's aits::net (docs/
// metatrader.md, "Gateway") replaces it.
#pragma once

#include <cstdint>
#include <string>

#include "aits/core/status.h"

namespace aits::gateway::internal {

// Owns one file descriptor; -1 when empty.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// A non-blocking socket listening on host:port (port 0: a free one, see BoundPort). IoError
// naming the address when it cannot.
Result<Fd> Listen(const std::string& host, uint16_t port);
uint16_t BoundPort(const Fd& listener);
// A non-blocking, TCP_NODELAY connection from the listener, or an empty Fd when none waits;
// *peer gets "127.0.0.1:50123".
Result<Fd> Accept(const Fd& listener, std::string* peer);
// A blocking connection (tests, benchmarks: the stand-in EA), TCP_NODELAY.
Result<Fd> Connect(const std::string& host, uint16_t port);

// Reads what is there into `into` (at most `room` bytes): the count, 0 at the peer's close, -1
// when nothing is there now (EAGAIN); IoError on a failure.
Result<long> ReadSome(const Fd& fd, char* into, size_t room);
// Writes what the socket takes now: the count (0 when full); IoError on a failure (peer gone).
Result<size_t> WriteSome(const Fd& fd, const char* from, size_t size);

// An eventfd: Signal from any thread, Drain on the polling thread.
Result<Fd> MakeWakeFd();
void Signal(const Fd& wake);
void Drain(const Fd& wake);

}  // namespace aits::gateway::internal
