// Declarative scenario tests: a text file of market data, orders and expectations, run through the
// real kernel (venue, portfolio, bus) with a scripted "strategy" that is just the file.
//
// Grammar (one command per line, '#' starts a comment, times in seconds after 2020-01-06 00:00 UTC,
// a Monday, with optional fraction):
//   instrument SYMBOL [digits=N] [contract=N] [lot_step=X] [min=X] [max=X] [margin_rate=X]
//              [margin_hedged=X]  (hedged margin in contract units per lot, not the larger leg)
//              (repeatable: ids 0, 1, ... in order; tick, bar, submit and expect position take
//              sym=SYMBOL for any but the first)
//   account [cash=X] [currency=CCY] [leverage=X] [stop_out=PERCENT] [mode=netting|hedging]
//   venue [latency_us=N] [slippage=POINTS] [commission=KIND:RATE] [mode=touch|bar]
//   tick T BID ASK
//   bar T PERIOD_SECONDS BID_O BID_H BID_L BID_C ASK_O ASK_H ASK_L ASK_C
//   submit NAME buy|sell market|limit|stop QTY [price=X] [sl=X] [tp=X] [tif=gtc|ioc|fok|day]
//          [client=ID] [position=NAME|TICKET]
//          (position=: the order closes that position: the one order NAME's fill opened, or a
//          ticket by number)
//   protect NAME [sl=X] [tp=X]            (SetPositionProtection of the position NAME opened;
//                                          an unset one is cleared)
//   cancel NAME
//   risk                                  (before market data: the default risk limits)
//   halt                                  (operator halt: needs `risk`)
//   expect fill NAME buy|sell QTY PRICE [reason=R] [commission=X] [ticket=NAME|TICKET]
//                                       (next unchecked fill of NAME; ticket=: its position)
//   expect nofill NAME                                             (no unchecked fill of NAME)
//   expect status NAME STATUS [reason=REJECT_REASON]
//   expect position QTY [avg=PRICE]     (the net position)
//   expect positions N                  (hedging: open positions of the instrument)
//   expect position_of NAME QTY         (hedging: signed lots of the position NAME opened, 0 if
//                                        closed, in the portfolio and at the venue)
//   expect balance X | equity X | realized X | commission X | margin X
//                                                           (account currency, 2 decimals)
//   expect canceled NAME [before=NAME|REASON]     (cancelled; before=: before that order's fill)
//   expect trades N
// Reconciliation at start (docs/execution.md, "Reconciliation"). The logged state is what the
// lines above built in the kernel (as a start rebuilds it from its log); `broker` lines describe
// the account the venue holds instead, and `reconcile` seeds the venue with them, compares and
// applies the policy's plan (broker tickets count from 1000 unless ticket= is given):
//   broker position QTY price=X [ticket=N]          (signed lots: negative is short)
//   broker order CLIENT|- buy|sell limit|stop QTY price=X [filled=X] [ticket=N]
//   broker balance X                                (the venue's balance; else the account's)
//   broker flat                                     (the account holds nothing)
//   reconcile adopt|flatten|refuse
//   expect accepted | refused                       (whether the last reconcile refused)
//   expect differences N | actions N
//   expect difference TEXT        (the next report line, e.g. "unknown position: EURUSD: log
//                                  none, venue +0.30 lots")
//   expect action TEXT            (the next action: "adopt position EURUSD +0.30 @ 1.10000",
//                                  "cancel order EURUSD 'c1' ticket 1000", "adopt balance
//                                  99000.00")
//   expect working N              (unfinished orders, in the kernel and at the venue alike)
//   expect client ID STATUS [filled=QTY] [avg=PRICE]   (the latest order with that client id)
//   expect venue QTY              (the venue's net position)
// Closing orders of `flatten` are tagged `reconcile`: `expect fill reconcile sell 1 PRICE`.
// Lines are executed in order; an expectation checks the state after everything above it.
#pragma once

#include <string>
#include <vector>

#include "aits/core/status.h"

namespace aits::testing {

struct ScenarioFailure {
  int line = 0;
  std::string message;
};

// Runs one scenario file; returns every failed expectation (empty: passed). A malformed file is
// an error Status naming file:line.
Result<std::vector<ScenarioFailure>> RunScenarioFile(const std::string& path);
Result<std::vector<ScenarioFailure>> RunScenarioText(const std::string& name,
                                                     const std::string& text);

}  // namespace aits::testing
