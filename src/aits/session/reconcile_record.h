// The `reconciliation` event of the log (persistence::EventType::kReconciliation): what a start
// found when it compared the state rebuilt from the log with the venue's account, and what it
// did about it (docs/execution.md, "Reconciliation"; docs/paper.md).
//
// The payload is JSON:
//   {"policy":"adopt","matched_positions":0,"matched_orders":1,
//    "differences":["unknown position: EURUSD: log none, venue +0.30 lots"],
//    "venue":{"positions":[{"instrument":0,"symbol":"EURUSD","ticket":7,"lots":"0.30",
//                           "price":"1.10000"}],
//             "orders":[{"instrument":0,"symbol":"EURUSD","client_order_id":"x","ticket":9,
//                        "side":"buy","type":"limit","tif":"GTC","lots":"1.00","filled":"0.00",
//                        "price":"1.09000"}],
//             "balance":"99000.00"},
//    "actions":[{"action":"adopt position","instrument":0,"symbol":"EURUSD","ticket":7,
//                "lots":"0.30","price":"1.10000"},
//               {"action":"adopt balance","balance":"99000.00"}]}
// "balance" (the venue's, when it told one) is absent from records written before balances were
// compared; a replay of such a record compares without it.
// The venue's holdings are stored whole, so that a replay (or a resume) can put the simulated
// venue where the broker was and re-run the same comparison: the record it makes must equal the
// logged one byte for byte, and the orders and fills that follow too. The actions are stored for
// readers of the log (RebuildFromLog books the positions they set; aits replay --events lists
// them) and are checked by that equality.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/execution/reconciliation.h"
#include "aits/kernel/kernel.h"
#include "aits/model/instrument.h"

namespace aits::session {

// The payload of a reconciliation; symbols from `instruments` (indexed by id).
std::string EncodeReconciliation(const kernel::Reconciliation& reconciliation,
                                 const std::vector<Instrument>& instruments);

// What a logged reconciliation holds (the kernel's side is not stored: a replay rebuilds it).
struct ReconciliationRecord {
  execution::ReconcilePolicy policy = execution::ReconcilePolicy::kRefuse;
  execution::AccountState venue;
  std::vector<std::string> differences;
  std::vector<execution::ReconcileAction> actions;
};

// InvalidArgument naming the field on a malformed payload or an instrument id outside
// `instruments`; lots and prices are read at the instrument's precision.
Result<ReconciliationRecord> DecodeReconciliation(std::string_view payload,
                                                  const std::vector<Instrument>& instruments);

// One line for listings: "adopt: 1 difference(s): unknown position: ...; actions: adopt
// position EURUSD ticket 7 +0.30 lots @ 1.10000".
std::string DescribeReconciliation(std::string_view payload);

}  // namespace aits::session
