#include "aits/feed/tcp_uplink.h"

#include <algorithm>

#include "aits/feed/internal/little_endian.h"

namespace aits::feed {
namespace {

using Steady = std::chrono::steady_clock;
constexpr size_t kAckBytes = 8;

std::chrono::milliseconds Left(Steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
  return std::max(left, std::chrono::milliseconds(0));
}

}  // namespace

Status TcpUplink::Fail(Status status) {
  socket_.Close();
  return status;
}

Status TcpUplink::Send(std::span<const uint8_t> batch) {
  const std::string where = "uplink to " + options_.server.ToString();
  if (batch.empty() || batch.size() > kDefaultMaxUplinkFrame) {
    return InvalidArgument(where + ": a batch of " + std::to_string(batch.size()) +
                           " bytes is outside 1.." + std::to_string(kDefaultMaxUplinkFrame));
  }
  if (!socket_.valid()) {
    AITS_ASSIGN_OR_RETURN(socket_, net::Connect(options_.server, options_.connect_timeout));
  }
  const auto deadline = Steady::now() + options_.io_timeout;
  frame_.resize(4 + batch.size());
  internal::PutU32(reinterpret_cast<uint8_t*>(frame_.data()), static_cast<uint32_t>(batch.size()));
  std::copy(batch.begin(), batch.end(), frame_.begin() + 4);

  size_t written = 0;
  while (written < frame_.size()) {
    auto put = socket_.Write(std::string_view(frame_).substr(written));
    if (!put.ok()) return Fail(put.status().WithContext(where));
    written += *put;
    if (*put > 0) continue;
    net::WaitFor item{.fd = socket_.fd(), .read = false, .write = true};
    auto ready = net::Wait({&item, 1}, Left(deadline));
    if (!ready.ok()) return Fail(ready.status().WithContext(where));
    if (*ready == 0) {
      return Fail(IoError(where + ": timed out writing a batch (" + std::to_string(written) +
                          " of " + std::to_string(frame_.size()) + " bytes written)"));
    }
  }

  char ack[kAckBytes];
  size_t have = 0;
  while (have < kAckBytes) {
    auto got = socket_.Read({ack + have, kAckBytes - have});
    if (!got.ok()) return Fail(got.status().WithContext(where));
    if (got->closed) return Fail(IoError(where + ": the server closed before acknowledging"));
    have += got->bytes;
    if (got->bytes > 0) continue;
    net::WaitFor item{.fd = socket_.fd(), .read = true};
    auto ready = net::Wait({&item, 1}, Left(deadline));
    if (!ready.ok()) return Fail(ready.status().WithContext(where));
    if (*ready == 0) return Fail(IoError(where + ": timed out waiting for the acknowledgement"));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(ack);
  const uint32_t length = internal::GetU32(bytes);
  const uint32_t code = internal::GetU32(bytes + 4);
  if (length != 4 || code > 1) {
    return Fail(DataLoss(where + ": a malformed acknowledgement (length " + std::to_string(length) +
                         ", code " + std::to_string(code) + ")"));
  }
  if (code == 1) return Fail(InvalidArgument(where + ": the server refused the batch"));
  return Status::Ok();
}

Result<std::unique_ptr<TcpBatchServer>> TcpBatchServer::Listen(const net::Endpoint& at,
                                                               size_t dedup_window,
                                                               uint32_t max_frame) {
  AITS_ASSIGN_OR_RETURN(net::Listener listener, net::Listener::Listen(at));
  return std::unique_ptr<TcpBatchServer>(
      new TcpBatchServer(std::move(listener), dedup_window, max_frame));
}

TcpBatchServer::TcpBatchServer(net::Listener listener, size_t dedup_window, uint32_t max_frame)
    : listener_(std::move(listener)), max_frame_(max_frame), receiver_(dedup_window) {}

Status TcpBatchServer::Poll(std::chrono::milliseconds timeout, std::vector<SequencedTick>& out) {
  return Poll(timeout, [&out](std::span<const SequencedTick> ticks) {
    out.insert(out.end(), ticks.begin(), ticks.end());
    return Status::Ok();
  });
}

Status TcpBatchServer::Poll(std::chrono::milliseconds timeout, const Commit& commit) {
  commit_error_ = Status::Ok();
  std::vector<net::WaitFor> items;
  items.push_back({.fd = listener_.fd(), .read = true});
  for (const auto& connection : connections_) {
    items.push_back(
        {.fd = connection->socket.fd(), .read = true, .write = !connection->out.empty()});
  }
  AITS_ASSIGN_OR_RETURN(const int ready, net::Wait(items, timeout));
  if (ready == 0) return Status::Ok();
  if (items[0].readable) {
    while (true) {
      AITS_ASSIGN_OR_RETURN(net::Socket socket, listener_.Accept());
      if (!socket.valid()) break;
      ++stats_.connections;
      auto connection = std::make_unique<Connection>();
      connection->socket = std::move(socket);
      connections_.push_back(std::move(connection));
    }
  }
  // Service every connection (also the new ones: their bytes may already be there).
  std::erase_if(connections_, [&](std::unique_ptr<Connection>& connection) {
    return !Service(*connection, commit);
  });
  return commit_error_;
}

bool TcpBatchServer::Service(Connection& connection, const Commit& commit) {
  char buffer[64 * 1024];
  while (true) {
    auto got = connection.socket.Read(buffer);
    if (!got.ok()) {
      stats_.last_error = got.status().ToString();
      return false;
    }
    if (got->closed) return false;
    if (got->bytes == 0) break;
    connection.in.append(buffer, got->bytes);
  }
  size_t begin = 0;
  while (connection.in.size() - begin >= 4) {
    const auto* head = reinterpret_cast<const uint8_t*>(connection.in.data() + begin);
    const uint32_t length = internal::GetU32(head);
    if (length == 0 || length > max_frame_) {
      ++stats_.bad_frames;
      stats_.last_error = "uplink frame from " + connection.socket.peer() + ": length " +
                          std::to_string(length) + " is outside 1.." + std::to_string(max_frame_);
      return false;
    }
    if (connection.in.size() - begin - 4 < length) break;
    batch_ticks_.clear();
    const Status received = receiver_.Receive({head + 4, length}, batch_ticks_);
    if (!received.ok()) {
      ++stats_.refused_batches;
      stats_.last_error = received.ToString();
    } else if (Status committed = commit(batch_ticks_); !committed.ok()) {
      // Unacknowledged, so the collector resends it; the acknowledgements already queued for the
      // earlier batches are dropped with the connection, and those batches come back as
      // duplicates.
      stats_.last_error = committed.ToString();
      if (commit_error_.ok()) commit_error_ = std::move(committed);
      return false;
    }
    uint8_t ack[kAckBytes];
    internal::PutU32(ack, 4);
    internal::PutU32(ack + 4, received.ok() ? 0 : 1);
    connection.out.append(reinterpret_cast<const char*>(ack), kAckBytes);
    begin += 4 + length;
  }
  connection.in.erase(0, begin);
  while (!connection.out.empty()) {
    auto put = connection.socket.Write(connection.out);
    if (!put.ok()) {
      stats_.last_error = put.status().ToString();
      return false;
    }
    if (*put == 0) break;
    connection.out.erase(0, *put);
  }
  return true;
}

}  // namespace aits::feed
