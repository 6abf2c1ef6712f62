#include "aits/mt5/link.h"

#include <utility>

namespace aits::mt5 {
namespace {

// One read takes at most this much: enough for ~5,000 ticks, small enough that a fast peer
// cannot keep one ReadAvailable call from returning (it loops only while reads fill it).
constexpr size_t kReadChunk = 256 * 1024;

}  // namespace

Link::Link(net::Socket socket, LinkConfig config)
    : socket_(std::move(socket)),
      peer_(socket_.peer()),
      config_(config),
      decoder_(config.max_frame),
      last_received_(std::chrono::steady_clock::now()),
      last_sent_(last_received_) {}

Status Link::Sent(size_t before) {
  if (transcript_ != nullptr) {
    FrameDecoder reread(kMaxFrameCap);
    reread.Append(std::string_view(outbound_).substr(before));
    Frame frame;
    while (reread.Next(frame)) transcript_->Write(frame, /*out=*/true);
  }
  ++next_seq_;
  if (outbound_.size() - outbound_begin_ > config_.max_outbound) {
    outbound_.resize(before);
    --next_seq_;
    return IoError("link to " + peer_ + ": " + std::to_string(before - outbound_begin_) +
                   " bytes still unsent (the peer does not read); the cap is " +
                   std::to_string(config_.max_outbound));
  }
  return Flush();
}

Status Link::Flush() {
  while (has_outbound()) {
    AITS_ASSIGN_OR_RETURN(const size_t n,
                          socket_.Write(std::string_view(outbound_).substr(outbound_begin_)));
    if (n == 0) break;
    outbound_begin_ += n;
    bytes_sent_ += n;
    last_sent_ = std::chrono::steady_clock::now();
  }
  if (outbound_begin_ == outbound_.size()) {
    outbound_.clear();
    outbound_begin_ = 0;
  } else if (outbound_begin_ > (size_t{1} << 20) && outbound_begin_ * 2 > outbound_.size()) {
    outbound_.erase(0, outbound_begin_);
    outbound_begin_ = 0;
  }
  return Status::Ok();
}

Status Link::Fill(bool& more) {
  more = false;
  if (!socket_.valid()) return IoError("link to " + peer_ + " is closed");
  char* tail = decoder_.WritableTail(kReadChunk);
  AITS_ASSIGN_OR_RETURN(const net::ReadResult read,
                        socket_.Read(std::span<char>(tail, kReadChunk)));
  if (read.closed) return IoError("peer " + peer_ + " closed the link");
  if (read.bytes == 0) return Status::Ok();
  decoder_.Commit(read.bytes);
  bytes_received_ += read.bytes;
  last_received_ = std::chrono::steady_clock::now();
  more = read.bytes == kReadChunk;
  return Status::Ok();
}

Status Link::Accept(const Frame& frame) {
  if (transcript_ != nullptr) transcript_->Write(frame, /*out=*/false);
  if (frame.envelope.seq != expected_seq_) {
    return InvalidArgument("sequence from " + peer_ + ": expected " +
                           std::to_string(expected_seq_) + ", got " +
                           std::to_string(frame.envelope.seq) + " (" +
                           std::string(MessageName(frame.envelope.type)) + ")");
  }
  ++expected_seq_;
  return Status::Ok();
}

Status Link::DecoderStatus() const {
  if (decoder_.status().ok()) return Status::Ok();
  return Status(decoder_.status().code(),
                "malformed frame from " + peer_ + ": " + decoder_.status().message());
}

Status Link::WaitReady(std::chrono::milliseconds timeout, int wake_fd) {
  if (!socket_.valid()) return IoError("link to " + peer_ + " is closed");
  net::WaitFor items[2] = {net::WaitFor{.fd = socket_.fd(), .read = true, .write = has_outbound()},
                           net::WaitFor{.fd = wake_fd, .read = true}};
  AITS_RETURN_IF_ERROR(
      net::Wait(std::span<net::WaitFor>(items, wake_fd >= 0 ? 2 : 1), timeout).status());
  if (items[0].writable && has_outbound()) AITS_RETURN_IF_ERROR(Flush());
  return Status::Ok();
}

void Link::Close(std::string_view reason) {
  if (!socket_.valid()) return;
  if (Send(Bye{.reason = std::string(reason)}).ok()) (void)Flush();
  Drop();
}

void Link::Drop() { socket_.Close(); }

}  // namespace aits::mt5
