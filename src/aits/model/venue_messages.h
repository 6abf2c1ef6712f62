// The messages between the account's owner and its venue when the venue lives in another process
// (the gateway role; services/bus_venue.h): the owner's calls of execution::ExecutionClient as
// VenueCommands, and what the venue says as VenueReports. Plain values that own their data; their
// encoding for the bus is aits/proto/messages.h's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/account_state.h"
#include "aits/model/events.h"
#include "aits/model/message_type.h"
#include "aits/model/order.h"

namespace aits {

// One call of the owner's execution client, for the venue's side to make on its venue.
struct VenueCommand {
  static constexpr MessageType kMessageType = MessageType::kVenueCommand;

  enum class Kind : uint8_t {
    kSubmit,      // `order`
    kCancel,      // `order_id`, `venue_order_id`, `ts`
    kProtection,  // `instrument`, `by_ticket` and `position_ticket`, `stop_loss`, `take_profit`
    kSnapshot,    // a request: answered by a VenueReport kSnapshot naming `id`
    kRecover,  // a request: `unfinished`, `venue_from_msc`, `known_exec_ids`; answered kRecovered
  };

  Kind kind = Kind::kSubmit;
  // The command's identity, also its publish id: the venue's side applies a command once per id
  // (services/bus_venue.h says how each kind's id is made), and an answer names its request's.
  std::string id;
  Order order;
  OrderId order_id;
  uint64_t venue_order_id = 0;
  // kCancel: the kernel's now. A request: the wall time after which its asker no longer waits.
  Timestamp ts;
  InstrumentId instrument;
  bool by_ticket = false;  // SetPositionProtection (position_ticket) rather than SetProtection
  uint64_t position_ticket = 0;
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  std::vector<Order> unfinished;
  int64_t venue_from_msc = 0;
  std::vector<uint64_t> known_exec_ids;
};
std::string_view ToString(VenueCommand::Kind kind);
Result<VenueCommand::Kind> ParseVenueCommandKind(std::string_view text);

// The account's terms as its venue states them: what a session on it must be opened with.
struct VenueTerms {
  std::string currency;  // the account currency, "USD"
  double leverage = 0;   // 100 for 1:100
  bool hedging = false;  // a position per opening fill (false: netting)

  friend bool operator==(const VenueTerms&, const VenueTerms&) = default;
};

// What the venue's side tells the owner: a report its venue made, or the answer to a request.
struct VenueReport {
  static constexpr MessageType kMessageType = MessageType::kVenueReport;

  enum class Kind : uint8_t {
    kExecution,  // `execution`
    kAccount,    // `account`
    kSnapshot,   // the answer to a snapshot request: `snapshot`, or `error`
    kRecovered,  // the answer to a recover request: `recovered`, or `error`
  };

  Kind kind = Kind::kExecution;
  std::string answers;  // an answer: the request's id
  ExecutionReport execution;
  AccountReport account;
  // An answer: the venue's failure (OK: the answer holds). Travels as its code and message.
  Status error;
  AccountState snapshot;
  // A snapshot answer: the account's terms, when the venue's side knows them.
  std::optional<VenueTerms> terms;
  std::vector<ExecutionReport> recovered;
};
std::string_view ToString(VenueReport::Kind kind);
Result<VenueReport::Kind> ParseVenueReportKind(std::string_view text);

}  // namespace aits
