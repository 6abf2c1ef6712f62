// What a venue holds on the account: its open positions, its working orders and its balance. The
// node compares it with the state its event log implies when it starts (execution/
// reconciliation.h, which names these aits::execution::AccountState and so on), and a venue in
// another process sends it over the bus (aits/model/venue_messages.h), so it is a model value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/fixed_point.h"
#include "aits/model/instrument.h"
#include "aits/model/order.h"

namespace aits {

// A position as one side sees it. `ticket` 0: not known (netting, or a log from before tickets).
struct HeldPosition {
  uint64_t ticket = 0;
  InstrumentId instrument;
  Quantity quantity;  // signed lots: positive long, negative short
  Price open_price;
};

// A working (not finished) order as one side sees it.
struct WorkingOrder {
  std::string client_order_id;  // the node's id for the order; the key of the match
  uint64_t ticket = 0;          // the venue's, 0 if not known
  InstrumentId instrument;
  Side side = Side::kBuy;
  Quantity quantity;  // ordered lots
  Quantity filled;    // lots filled so far
  // What the order is, for a side that must take it over or work it (adopt, a seeded venue);
  // not part of the match.
  OrderType type = OrderType::kLimit;
  std::optional<Price> price;
  TimeInForce tif = TimeInForce::kGtc;
};

struct AccountState {
  std::vector<HeldPosition> positions;
  std::vector<WorkingOrder> orders;
  // The account's balance in the account currency; empty when the side cannot tell (then it is
  // not compared).
  std::optional<Money> balance;
};

}  // namespace aits
