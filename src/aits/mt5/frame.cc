#include "aits/mt5/frame.h"

#include <cassert>
#include <cstring>

namespace aits::mt5 {
namespace frame_internal {

void PatchHeader(std::string& out, size_t start, uint16_t type, uint64_t seq, uint64_t request_id) {
  const auto length = static_cast<uint32_t>(out.size() - start - kLengthBytes);
  const uint16_t version = kProtocolVersion;
  char* at = out.data() + start;
  std::memcpy(at, &length, 4);
  std::memcpy(at + 4, &version, 2);
  std::memcpy(at + 6, &type, 2);
  std::memcpy(at + 8, &seq, 8);
  std::memcpy(at + 16, &request_id, 8);
}

}  // namespace frame_internal

FrameDecoder::FrameDecoder(uint32_t max_frame) : max_frame_(max_frame) {
  assert(max_frame >= kEnvelopeBytes && max_frame <= kMaxFrameCap);
}

void FrameDecoder::Append(std::string_view bytes) {
  std::memcpy(WritableTail(bytes.size()), bytes.data(), bytes.size());
  Commit(bytes.size());
}

char* FrameDecoder::WritableTail(size_t min_bytes) {
  Compact();
  if (buffer_.size() - end_ < min_bytes) buffer_.resize(end_ + min_bytes);
  return buffer_.data() + end_;
}

void FrameDecoder::Commit(size_t n) {
  assert(end_ + n <= buffer_.size());
  end_ += n;
}

void FrameDecoder::Compact() {
  // Frames handed out point into the buffer until the next Append/WritableTail: only now may
  // the unread bytes move to the front.
  if (begin_ == 0) return;
  const size_t held = end_ - begin_;
  if (held > 0) std::memmove(buffer_.data(), buffer_.data() + begin_, held);
  begin_ = 0;
  end_ = held;
}

bool FrameDecoder::Next(Frame& frame) {
  if (!status_.ok()) return false;
  if (end_ - begin_ < kLengthBytes) return false;
  const char* at = buffer_.data() + begin_;
  uint32_t length = 0;
  std::memcpy(&length, at, 4);
  if (length < kEnvelopeBytes) {
    status_ = InvalidArgument("frame length " + std::to_string(length) + " is below the " +
                              std::to_string(kEnvelopeBytes) + "-byte envelope");
    return false;
  }
  if (length > max_frame_) {
    status_ = OutOfRange("frame length " + std::to_string(length) + " exceeds the cap of " +
                         std::to_string(max_frame_) + " bytes");
    return false;
  }
  if (end_ - begin_ < kLengthBytes + length) return false;
  std::memcpy(&frame.envelope.version, at + 4, 2);
  std::memcpy(&frame.envelope.type, at + 6, 2);
  std::memcpy(&frame.envelope.seq, at + 8, 8);
  std::memcpy(&frame.envelope.request_id, at + 16, 8);
  frame.payload = std::string_view(at + kLengthBytes + kEnvelopeBytes, length - kEnvelopeBytes);
  begin_ += kLengthBytes + length;
  return true;
}

}  // namespace aits::mt5
