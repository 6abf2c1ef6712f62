// The collector's uplink over TCP, both ends (docs/feed.md, "The uplink over TCP").
//
// Frames are plain and length-prefixed, little-endian, one batch per frame:
//   collector -> server   u32 length (1..max_frame) | one tick batch (tick_batch.h)
//   server -> collector   u32 4 | u32 code: 0 delivered (decoded, duplicates dropped),
//                                           1 refused (the batch did not decode; its Status is
//                                             logged by the server and counted)
// TcpUplink::Send connects when it has no connection (waiting at most connect_timeout), writes
// the frame and waits for the acknowledgement (at most io_timeout in all). Any failure (refused
// or lost connection, a timeout, a bad or refused acknowledgement) closes the connection and is
// returned: the collector retries and spills (collector.h); the next Send reconnects. A batch
// that reached the server but whose acknowledgement was lost is sent again, and the server's
// DedupReceiver drops its ticks. There is no authentication yet: run it on loopback or a
// private network.
//
// TcpBatchServer accepts any number of collectors and feeds every batch to one DedupReceiver.
// A frame whose length is 0 or above max_frame closes that connection (counted): a stream that
// lost its framing cannot be resynchronised.
//
// Threads: each object belongs to one thread (the tests run the server on its own thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/feed/collector.h"
#include "aits/feed/dedup.h"
#include "aits/net/socket.h"

namespace aits::feed {

inline constexpr uint32_t kDefaultMaxUplinkFrame = 32u << 20;

struct TcpUplinkOptions {
  net::Endpoint server;
  std::chrono::milliseconds connect_timeout{1'000};
  std::chrono::milliseconds io_timeout{5'000};  // writing a frame and reading its ack
};

class TcpUplink final : public Uplink {
 public:
  explicit TcpUplink(TcpUplinkOptions options) : options_(std::move(options)) {}
  Status Send(std::span<const uint8_t> batch) override;
  bool connected() const { return socket_.valid(); }

 private:
  Status Fail(Status status);

  TcpUplinkOptions options_;
  net::Socket socket_;
  std::string frame_;
};

struct TcpBatchServerStats {
  uint64_t connections = 0;      // accepted
  uint64_t bad_frames = 0;       // connections closed for a broken frame length
  uint64_t refused_batches = 0;  // frames that did not decode (acknowledged with code 1)
  std::string last_error;
};

class TcpBatchServer {
 public:
  // Listens on `at` (port 0: any free port). The net module's errors.
  static Result<std::unique_ptr<TcpBatchServer>> Listen(
      const net::Endpoint& at, size_t dedup_window = 1'000'000,
      uint32_t max_frame = kDefaultMaxUplinkFrame);

  uint16_t port() const { return listener_.port(); }

  // Waits at most `timeout` for something to do, then accepts connections, reads what has
  // arrived, delivers the new ticks of every whole batch to `out` and acknowledges it. Errors of
  // single connections close them (counted); the Status is for the listener's own failures.
  Status Poll(std::chrono::milliseconds timeout, std::vector<SequencedTick>& out);

  // Where a server that must not lose an acknowledged tick puts each batch's new ticks before the
  // acknowledgement is written (aits ingest: appended to its files). An error closes that
  // connection without acknowledging the batch (the collector sends it again) and is returned by
  // Poll, after the other connections were serviced. The receiver has already remembered that
  // batch's keys, so it would drop the resend: after a failed commit, discard the server (a new
  // one starts from what was committed).
  using Commit = std::function<Status(std::span<const SequencedTick> ticks)>;
  Status Poll(std::chrono::milliseconds timeout, const Commit& commit);

  const ReceiverStats& receiver_stats() const { return receiver_.stats(); }
  const TcpBatchServerStats& stats() const { return stats_; }
  // The name of a symbol id in the delivered ticks.
  const std::string& symbol_name(uint32_t id) const { return receiver_.symbol_name(id); }

 private:
  struct Connection {
    net::Socket socket;
    std::string in;
    std::string out;
  };
  TcpBatchServer(net::Listener listener, size_t dedup_window, uint32_t max_frame);
  // Reads and handles what `connection` has; false when it must be closed.
  bool Service(Connection& connection, const Commit& commit);

  net::Listener listener_;
  uint32_t max_frame_;
  DedupReceiver receiver_;
  std::vector<std::unique_ptr<Connection>> connections_;
  TcpBatchServerStats stats_;
  std::vector<SequencedTick> batch_ticks_;  // one batch's new ticks, until committed
  Status commit_error_;                     // the first failed commit of this Poll
};

}  // namespace aits::feed
