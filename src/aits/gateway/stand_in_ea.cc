#include "aits/gateway/stand_in_ea.h"

#include <algorithm>
#include <utility>

#include "aits/mt5/mql.h"
#include "aits/net/socket.h"

namespace aits::gateway {

using Steady = std::chrono::steady_clock;

mt5::SymbolSpec FxSymbol(std::string name) {
  mt5::SymbolSpec spec;
  spec.name = std::move(name);
  spec.digits = 5;
  spec.point = 1e-5;
  spec.tick_size = 1e-5;
  spec.tick_value = 1;
  spec.contract_size = 100'000;
  spec.volume_min = 0.01;
  spec.volume_max = 100;
  spec.volume_step = 0.01;
  spec.filling_mode = mt5::kSymbolFillingFok | mt5::kSymbolFillingIoc;
  spec.execution_mode = static_cast<uint32_t>(mt5::Execution::kMarket);
  spec.trade_mode = static_cast<uint32_t>(mt5::SymbolTradeMode::kFull);
  spec.currency_base = "EUR";
  spec.currency_profit = "USD";
  spec.currency_margin = "EUR";
  return spec;
}

mt5::Hello HelloWith(std::string token, bool hedging) {
  mt5::Hello hello;
  hello.protocol_version = mt5::kProtocolVersion;
  hello.token = std::move(token);
  hello.login = 5'001'234;
  hello.server = "Demo-Server";
  hello.company = "Broker Ltd";
  hello.currency = "USD";
  hello.leverage = 100;
  hello.margin_mode = static_cast<uint32_t>(hedging ? mt5::MarginMode::kRetailHedging
                                                    : mt5::MarginMode::kRetailNetting);
  hello.terminal_build = 4755;
  hello.ea_version = "stand-in";
  hello.trade_allowed = true;
  hello.server_time_msc = 1'700'000'000'000;
  return hello;
}

Result<StandInEa> StandInEa::Connect(uint16_t port, std::chrono::milliseconds timeout) {
  AITS_ASSIGN_OR_RETURN(net::Socket socket,
                        net::Connect(net::Endpoint{"127.0.0.1", port}, timeout));
  return StandInEa(mt5::Link(std::move(socket)));
}

Result<Received> StandInEa::Next(std::chrono::milliseconds timeout, bool heartbeats) {
  const Steady::time_point deadline = Steady::now() + timeout;
  for (;;) {
    while (!pending_.empty()) {
      Received frame = std::move(pending_.front());
      pending_.pop_front();
      if (!heartbeats && frame.type() == mt5::MessageType::kHeartbeat) continue;
      return frame;
    }
    if (closed_) return IoError("the gateway closed the link");
    // At least one look, even with no time left (a non-blocking read).
    const auto left =
        std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now()),
                 std::chrono::milliseconds(0));
    const Status polled = link_.Poll(left, [&](const mt5::Frame& frame) {
      pending_.push_back(Received{frame.envelope, std::string(frame.payload)});
      return Status::Ok();
    });
    if (!polled.ok()) closed_ = true;
    if (pending_.empty() && !closed_ && Steady::now() >= deadline) {
      return NotFound("no frame from the gateway in time");
    }
  }
}

Status StandInEa::Drain(std::chrono::milliseconds timeout) {
  const Steady::time_point deadline = Steady::now() + timeout;
  while (link_.has_outbound()) {
    if (Steady::now() >= deadline) return IoError("the gateway reads nothing");
    net::WaitFor wait{.fd = link_.fd(), .read = false, .write = true};
    AITS_RETURN_IF_ERROR(
        net::Wait(std::span<net::WaitFor>(&wait, 1), std::chrono::milliseconds(10)).status());
    AITS_RETURN_IF_ERROR(link_.Flush());
  }
  return Status::Ok();
}

bool StandInEa::WaitClosed(std::chrono::milliseconds timeout) {
  const Steady::time_point deadline = Steady::now() + timeout;
  for (;;) {
    auto next = Next(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::max(deadline - Steady::now(), Steady::duration::zero())),
                     /*heartbeats=*/true);
    if (next.ok()) {
      closing_.push_back(std::move(*next));
      continue;
    }
    return next.status().code() == StatusCode::kIoError;
  }
}

Status StandInEa::Handshake(const mt5::Hello& hello, const std::vector<mt5::SymbolSpec>& specs,
                            const mt5::Account& account,
                            std::vector<std::pair<std::string, int64_t>>* subscribed) {
  AITS_RETURN_IF_ERROR(Send(hello));
  AITS_ASSIGN_OR_RETURN(auto welcome, Expect<mt5::Welcome>());
  (void)welcome;
  size_t acked = 0;
  std::deque<Received> others;
  while (acked < specs.size()) {
    AITS_ASSIGN_OR_RETURN(Received frame, Next());
    switch (frame.type()) {
      case mt5::MessageType::kGetSymbol: {
        AITS_ASSIGN_OR_RETURN(mt5::GetSymbol get, frame.As<mt5::GetSymbol>());
        auto spec = std::find_if(specs.begin(), specs.end(),
                                 [&](const mt5::SymbolSpec& s) { return s.name == get.symbol; });
        if (spec == specs.end()) {
          AITS_RETURN_IF_ERROR(
              Send(mt5::Error{static_cast<uint32_t>(mt5::ErrorCode::kUnknownSymbol),
                              "no symbol " + get.symbol},
                   frame.envelope.request_id));
        } else {
          AITS_RETURN_IF_ERROR(Send(mt5::Symbol{*spec}, frame.envelope.request_id));
        }
        break;
      }
      case mt5::MessageType::kGetAccount:
        AITS_RETURN_IF_ERROR(Send(account, frame.envelope.request_id));
        break;
      case mt5::MessageType::kSubscribe: {
        AITS_ASSIGN_OR_RETURN(mt5::Subscribe subscribe, frame.As<mt5::Subscribe>());
        for (const std::string& symbol : subscribe.symbols) {
          if (subscribed != nullptr) subscribed->emplace_back(symbol, subscribe.from_msc);
          ++acked;
        }
        AITS_RETURN_IF_ERROR(Send(mt5::Ack{0, ""}, frame.envelope.request_id));
        break;
      }
      default:
        others.push_back(std::move(frame));
    }
  }
  for (auto it = others.rbegin(); it != others.rend(); ++it) pending_.push_front(std::move(*it));
  return Status::Ok();
}

Result<RawAnswer> SendRaw(uint16_t port, std::string_view bytes,
                          std::chrono::milliseconds timeout) {
  AITS_ASSIGN_OR_RETURN(net::Socket socket,
                        net::Connect(net::Endpoint{"127.0.0.1", port}, timeout));
  size_t written = 0;
  const Steady::time_point deadline = Steady::now() + timeout;
  RawAnswer answer;
  mt5::FrameDecoder decoder(mt5::kMaxFrameCap);
  while (Steady::now() < deadline) {
    if (written < bytes.size()) {
      auto put = socket.Write(bytes.substr(written));
      if (!put.ok()) break;  // the gateway closed first: read what it said
      written += *put;
    }
    net::WaitFor wait{.fd = socket.fd(), .read = true, .write = written < bytes.size()};
    (void)net::Wait(std::span<net::WaitFor>(&wait, 1), std::chrono::milliseconds(20));
    char buffer[4096];
    auto read = socket.Read(std::span<char>(buffer, sizeof(buffer)));
    if (!read.ok() || read->closed) {
      answer.closed = true;
      break;
    }
    decoder.Append(std::string_view(buffer, read->bytes));
    mt5::Frame frame;
    while (decoder.Next(frame)) {
      answer.frames.push_back(Received{frame.envelope, std::string(frame.payload)});
    }
  }
  return answer;
}

}  // namespace aits::gateway
