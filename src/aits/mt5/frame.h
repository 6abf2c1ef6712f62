// Framing of the MT5 protocol (docs/metatrader.md, "Framing"): a little-endian u32 length, then
// a 20-byte envelope (u16 version, u16 message type, u64 sequence number, u64 request id), then
// the message's fields (messages.h). The length counts the envelope and the fields and is capped
// (kDefaultMaxFrame, configurable up to kMaxFrameCap): a reader never buffers more than one
// capped frame, so a peer that sends garbage or a huge length costs a closed link, not memory.
//
// A stream that breaks the framing (a length below the envelope or above the cap) cannot be
// resynchronised: FrameDecoder stops for good and the link must be closed. A frame of another
// protocol version or of an unknown type is still framed correctly: it is handed up, and the
// session decides (an error frame, then the close).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/mt5/messages.h"
#include "aits/mt5/wire.h"

namespace aits::mt5 {

inline constexpr size_t kLengthBytes = 4;
inline constexpr size_t kEnvelopeBytes = 20;
// The largest frame length (envelope and fields) a peer accepts by default: 1 MiB, which holds
// ~23,000 ticks; history replies are split into frames below it.
inline constexpr uint32_t kDefaultMaxFrame = 1u << 20;
inline constexpr uint32_t kMaxFrameCap = 16u << 20;

struct Envelope {
  uint16_t version = kProtocolVersion;
  uint16_t type = 0;  // a MessageType's number, or one the schema does not know
  uint64_t seq = 0;
  uint64_t request_id = 0;

  bool operator==(const Envelope&) const = default;
};

// One frame as read: its envelope and its undecoded fields, which point into the decoder's
// buffer and stay valid until the decoder is given more bytes.
struct Frame {
  Envelope envelope;
  std::string_view payload;
};

// Appends one frame holding `message` to `out`. OutOfRange (and `out` unchanged) when the frame
// would be longer than `max_frame`: the sender splits what it sends (ticks, history) below it.
template <typename M>
Status AppendFrame(std::string& out, const M& message, uint64_t seq, uint64_t request_id,
                   uint32_t max_frame = kDefaultMaxFrame);

// Decodes a frame's fields as message M. InvalidArgument naming the message, the field and the
// byte when the fields are truncated, malformed or followed by bytes left over.
// Precondition: frame.envelope.type == M::kType.
template <typename M>
Status DecodeFrame(const Frame& frame, M& message) {
  WireReader reader(frame.payload);
  Decode(reader, message);
  return reader.Finish(M::kName);
}

// Splits a byte stream into frames. Feed it what the socket gives (Append, or WritableTail and
// Commit to read straight into it), then take frames with Next until it returns false.
class FrameDecoder {
 public:
  // Precondition: kEnvelopeBytes <= max_frame <= kMaxFrameCap.
  explicit FrameDecoder(uint32_t max_frame = kDefaultMaxFrame);

  void Append(std::string_view bytes);
  // At least `min_bytes` of writable room at the end of the buffer; Commit(n) makes n of them
  // part of the stream.
  char* WritableTail(size_t min_bytes);
  void Commit(size_t n);

  // The next whole frame, or false when more bytes are needed or the stream is broken
  // (status() then says why: "frame length 9 is below the 20-byte envelope", "frame length
  // 2000000 exceeds the cap of 1048576 bytes"). The frame's payload points into the buffer.
  bool Next(Frame& frame);
  const Status& status() const { return status_; }
  // Bytes held that are not yet a whole frame.
  size_t buffered() const { return end_ - begin_; }
  uint32_t max_frame() const { return max_frame_; }

 private:
  void Compact();

  uint32_t max_frame_;
  std::string buffer_;
  size_t begin_ = 0;  // the first unread byte
  size_t end_ = 0;    // one past the last byte received
  Status status_;
};

// --- implementation -----------------------------------------------------------------------

namespace frame_internal {
// Writes the length and envelope into the kLengthBytes + kEnvelopeBytes reserved at `start`.
void PatchHeader(std::string& out, size_t start, uint16_t type, uint64_t seq, uint64_t request_id);
}  // namespace frame_internal

template <typename M>
Status AppendFrame(std::string& out, const M& message, uint64_t seq, uint64_t request_id,
                   uint32_t max_frame) {
  const size_t start = out.size();
  out.append(kLengthBytes + kEnvelopeBytes, '\0');
  WireWriter writer(out);
  Encode(message, writer);
  const size_t length = out.size() - start - kLengthBytes;
  if (length > max_frame) {
    out.resize(start);
    return OutOfRange(std::string(M::kName) + " frame of " + std::to_string(length) +
                      " bytes exceeds the cap of " + std::to_string(max_frame));
  }
  frame_internal::PatchHeader(out, start, static_cast<uint16_t>(M::kType), seq, request_id);
  return Status::Ok();
}

}  // namespace aits::mt5
