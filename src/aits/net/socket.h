// TCP for the node's links (the MetaTrader gateway and its terminal simulator, the collector's
// uplink): a non-blocking socket that owns its descriptor, a listener, a connect with a timeout,
// a wait on several descriptors, and a waker that lets another thread interrupt that wait.
//
// Everything is non-blocking; the only calls that wait are Connect (up to its timeout) and Wait.
// Errors are Status values naming the address and the system's reason ("connect 127.0.0.1:5555:
// Connection refused"); a peer that closes is not an error of Read but its `closed` answer.
// SIGPIPE is never raised: writes use MSG_NOSIGNAL.
//
// Threads: a Socket, a Listener and a Waker are each used by one thread at a time, except
// Waker::Notify, which any thread may call.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits::net {

// "host:port" as written on a command line; the host is an IPv4 address, "localhost", or a host
// name (a compose service, a Kubernetes Service), resolved to an IPv4 address at each Connect and
// Listen (IoError naming it when it does not resolve).
struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;

  std::string ToString() const { return host + ":" + std::to_string(port); }
};
// InvalidArgument naming the text when it is not HOST:PORT with a port 0..65535 and a host that
// is an IPv4 address or a valid host name. Nothing is resolved here.
Result<Endpoint> ParseEndpoint(std::string_view text);

struct ReadResult {
  size_t bytes = 0;     // 0 with closed == false: nothing to read now
  bool closed = false;  // the peer closed its side (or reset the connection)
};

class Socket {
 public:
  Socket() = default;
  // Takes ownership of a connected descriptor and makes it non-blocking with TCP_NODELAY.
  explicit Socket(int fd, std::string peer);
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // The other end, "127.0.0.1:40122".
  const std::string& peer() const { return peer_; }

  // Reads what is there, at most buffer.size() bytes, without waiting.
  Result<ReadResult> Read(std::span<char> buffer);
  // Writes what the kernel takes now; returns how many bytes (0 when its buffer is full).
  // IoError when the peer has gone (EPIPE, ECONNRESET).
  Result<size_t> Write(std::string_view bytes);
  // Stops both directions and releases the descriptor; idempotent.
  void Close();

 private:
  int fd_ = -1;
  std::string peer_;
};

class Listener {
 public:
  // Listens on host:port (port 0: a free port the system picks; see port()).
  static Result<Listener> Listen(const Endpoint& at, int backlog = 16);

  Listener() = default;
  ~Listener();
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  const Endpoint& endpoint() const { return endpoint_; }
  // A connection waiting to be accepted, or an invalid Socket when none is (non-blocking).
  Result<Socket> Accept();
  void Close();

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  Endpoint endpoint_;
};

// Connects to `to`, waiting at most `timeout`. IoError naming the endpoint on refusal or timeout.
Result<Socket> Connect(const Endpoint& to, std::chrono::milliseconds timeout);

// One descriptor to wait on and what for; Wait fills `ready`.
struct WaitFor {
  int fd = -1;
  bool read = true;
  bool write = false;
  // Out: readable (or the peer hung up: a read then says closed), writable, error.
  bool readable = false;
  bool writable = false;
};
// Waits until one of `items` is ready or `timeout` passes (a negative timeout waits for ever).
// Returns how many are ready (0 on timeout). EINTR is retried with the time left.
Result<int> Wait(std::span<WaitFor> items, std::chrono::milliseconds timeout);

// An eventfd that another thread notifies to wake a Wait (add fd() to its items, then Drain()).
class Waker {
 public:
  Waker();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  int fd() const { return fd_; }
  void Notify();  // any thread
  void Drain();   // the waiting thread, after the wait says readable

 private:
  int fd_ = -1;
};

}  // namespace aits::net
