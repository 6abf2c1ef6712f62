// Link: one framed, sequenced MT5 protocol connection (docs/metatrader.md, "Framing"), the
// common ground of the gateway (server side), the terminal simulator (the EA's side) and the
// tests' stand-ins. The Expert Advisor implements the same rules in MQL5.
//
//   - Send numbers each frame it writes (seq from 1), writes what the socket takes without
//     waiting and keeps the rest in an outbound buffer, capped (max_outbound): a peer that stops
//     reading makes Send fail, it does not make the sender's memory grow.
//   - ReadAvailable and Poll read what has arrived and hand each whole frame to a callback, in
//     order. They check what the framing alone can: the frame cap and that the peer's sequence
//     numbers run 1, 2, 3, ... with no gap or repeat. A broken stream is an error Status naming
//     the peer ("malformed frame from 127.0.0.1:40122: frame length 9 is below the 20-byte
//     envelope"); the caller sends an `error` and closes. What a frame means (version, type,
//     direction, fields) is the session's to judge.
//   - The link keeps the times it last sent and received (steady clock) for the heartbeat and
//     the dead-link rule; the session decides when to send one and when to give up.
//   - Record() writes every frame in both directions to a transcript (transcript.h).
//
// Threads: a Link belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/mt5/frame.h"
#include "aits/mt5/transcript.h"
#include "aits/net/socket.h"

namespace aits::mt5 {

using SteadyTime = std::chrono::steady_clock::time_point;

struct LinkConfig {
  uint32_t max_frame = kDefaultMaxFrame;   // the largest frame accepted from the peer
  size_t max_outbound = size_t{64} << 20;  // bytes queued unsent before Send refuses
};

class Link {
 public:
  Link(net::Socket socket, LinkConfig config = {});

  // Appends one frame and writes what the socket takes now. IoError when the socket has failed
  // or the outbound buffer would pass max_outbound; OutOfRange when the frame is above the cap.
  template <typename M>
  Status Send(const M& message, uint64_t request_id = 0) {
    if (!socket_.valid()) return IoError("link to " + peer_ + " is closed");
    const size_t before = outbound_.size();
    AITS_RETURN_IF_ERROR(AppendFrame(outbound_, message, next_seq_, request_id));
    return Sent(before);
  }
  // Writes what is queued, as far as the socket takes it now.
  Status Flush();
  bool has_outbound() const { return outbound_.size() > outbound_begin_; }

  // Reads what has arrived (without waiting) and calls on_frame(const Frame&) -> Status for each
  // whole frame, in order; a non-OK Status from the callback stops and is returned. IoError "peer
  // closed" when the peer has closed; the framing's and sequence errors as described above.
  template <typename OnFrame>
  Status ReadAvailable(OnFrame&& on_frame) {
    for (;;) {
      bool more = false;
      AITS_RETURN_IF_ERROR(Fill(more));
      Frame frame;
      while (decoder_.Next(frame)) {
        AITS_RETURN_IF_ERROR(Accept(frame));
        AITS_RETURN_IF_ERROR(on_frame(static_cast<const Frame&>(frame)));
      }
      AITS_RETURN_IF_ERROR(DecoderStatus());
      if (!more) return Status::Ok();
    }
  }
  // Waits up to `timeout` for the peer's bytes (writing queued ones as the socket takes them),
  // or for `wake_fd` (a net::Waker's) to become readable, then ReadAvailable. Returns OK on a
  // timeout or a wake with nothing read.
  template <typename OnFrame>
  Status Poll(std::chrono::milliseconds timeout, OnFrame&& on_frame, int wake_fd = -1) {
    AITS_RETURN_IF_ERROR(WaitReady(timeout, wake_fd));
    return ReadAvailable(on_frame);
  }

  // Sends `bye` with the reason (best effort: what the socket takes now) and closes.
  void Close(std::string_view reason);
  // Closes without a word (the peer broke the protocol and was told with an `error` already, or
  // is gone).
  void Drop();
  bool open() const { return socket_.valid(); }
  const std::string& peer() const { return peer_; }
  int fd() const { return socket_.fd(); }

  // Records every frame from now on; the writer must outlive the link (or Record(nullptr)).
  void Record(TranscriptWriter* writer) { transcript_ = writer; }

  SteadyTime last_received() const { return last_received_; }
  SteadyTime last_sent() const { return last_sent_; }
  uint64_t frames_sent() const { return next_seq_ - 1; }
  uint64_t frames_received() const { return expected_seq_ - 1; }
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  // After AppendFrame wrote frames from `before`: records, counts and flushes.
  Status Sent(size_t before);
  // Reads once into the decoder; `more` when the read filled its buffer (more may be there).
  Status Fill(bool& more);
  // Checks and counts one frame received.
  Status Accept(const Frame& frame);
  Status DecoderStatus() const;
  Status WaitReady(std::chrono::milliseconds timeout, int wake_fd);

  net::Socket socket_;
  std::string peer_;
  LinkConfig config_;
  FrameDecoder decoder_;
  std::string outbound_;
  size_t outbound_begin_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t expected_seq_ = 1;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  SteadyTime last_received_;
  SteadyTime last_sent_;
  TranscriptWriter* transcript_ = nullptr;
};

}  // namespace aits::mt5
