// StandInEa: the Expert Advisor's side of the MT5 link in C++, for the gateway's tests and
// benchmarks (no MetaTrader runs here). It sends exactly the frames the EA would (a hello, the
// replies to the gateway's requests with their request ids, tick and transaction pushes) over the
// same mt5::Link the terminal simulator uses, and hands the test every frame the gateway sends.
// It has no behaviour of its own beyond the handshake helpers: each test plays the terminal's
// part frame by frame, so that what the gateway does with each answer is what is tested.
//
// Threads: one thread uses a StandInEa.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/mt5/link.h"
#include "aits/mt5/messages.h"

namespace aits::gateway {

// A frame the gateway sent, owned.
struct Received {
  mt5::Envelope envelope;
  std::string payload;

  mt5::MessageType type() const { return static_cast<mt5::MessageType>(envelope.type); }
  template <typename M>
  Result<M> As() const {
    if (envelope.type != static_cast<uint16_t>(M::kType)) {
      return InvalidArgument("expected '" + std::string(M::kName) + "', got '" +
                             std::string(mt5::MessageName(envelope.type)) + "'");
    }
    M message;
    AITS_RETURN_IF_ERROR(mt5::DecodeFrame(mt5::Frame{envelope, payload}, message));
    return message;
  }
};

// What a symbol looks like at a typical FX broker: 5 digits, lots 0.01..100 by 0.01, market
// execution allowing FOK and IOC.
mt5::SymbolSpec FxSymbol(std::string name);

// A hello as the EA sends it (protocol version 1, netting unless `hedging`).
mt5::Hello HelloWith(std::string token, bool hedging = false);

class StandInEa {
 public:
  static Result<StandInEa> Connect(uint16_t port,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(2));

  template <typename M>
  Status Send(const M& message, uint64_t request_id = 0) {
    return link_.Send(message, request_id);
  }
  // The next frame the gateway sends (heartbeats skipped unless `heartbeats`). DeadlineExceeded-
  // like: NotFound after `timeout`; IoError once the gateway has closed the link.
  Result<Received> Next(std::chrono::milliseconds timeout = std::chrono::seconds(2),
                        bool heartbeats = false);
  // The next frame, which must be an M: the message and its request id.
  template <typename M>
  Result<std::pair<M, uint64_t>> Expect(
      std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    AITS_ASSIGN_OR_RETURN(Received frame, Next(timeout));
    AITS_ASSIGN_OR_RETURN(M message, frame.As<M>());
    return std::pair<M, uint64_t>(std::move(message), frame.envelope.request_id);
  }
  // Reads (and drops) what comes until the gateway closes the link: true if it did within
  // `timeout`. The frames read are kept in closing_frames().
  bool WaitClosed(std::chrono::milliseconds timeout);
  const std::vector<Received>& closing_frames() const { return closing_; }

  // hello, welcome, then the gateway's opening requests answered: get_symbol from `specs` (by
  // name; unknown: error kUnknownSymbol), get_account with `account`, subscribe acked, until
  // every symbol is subscribed. Returns each subscribe's from_msc by symbol in `subscribed`.
  // Requests of other kinds that come meanwhile are kept for Next().
  Status Handshake(const mt5::Hello& hello, const std::vector<mt5::SymbolSpec>& specs,
                   const mt5::Account& account,
                   std::vector<std::pair<std::string, int64_t>>* subscribed = nullptr);

  // Waits until everything sent has been written to the socket (a sender faster than the gateway
  // reads must not grow its outbound buffer past the link's cap). IoError if the link fails.
  Status Drain(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool has_unsent() const { return link_.has_outbound(); }

  void Close(std::string_view reason) { link_.Close(reason); }
  void Drop() { link_.Drop(); }
  bool open() const { return link_.open(); }
  uint64_t frames_sent() const { return link_.frames_sent(); }

 private:
  explicit StandInEa(mt5::Link link) : link_(std::move(link)) {}
  mt5::Link link_;
  std::deque<Received> pending_;
  std::vector<Received> closing_;
  bool closed_ = false;
};

// Raw bytes to the gateway, outside any framing rule (garbage, oversized lengths, foreign
// versions): what it answered before it closed the link.
struct RawAnswer {
  std::vector<Received> frames;  // decodable frames the gateway sent back
  bool closed = false;           // it closed the connection within the timeout
};
Result<RawAnswer> SendRaw(uint16_t port, std::string_view bytes,
                          std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace aits::gateway
