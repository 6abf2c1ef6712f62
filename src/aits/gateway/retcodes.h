// What the gateway does with each answer of MetaTrader 5's trade server (TRADE_RETCODE_*), and
// which filling type an order is sent with (docs/metatrader.md, "Gateway").
//
// Every retcode maps to one of a few venue-neutral outcomes: the request was carried out (in part
// or placed), it is retried (a requote or a moved price: a fresh price, a bounded number of
// times; too many requests: after an exponential back-off), its fate is unknown and is resolved by
// asking the terminal before anything is sent again (a timeout), or the order is rejected with a
// RejectReason and the retcode's name and text. AutoTrading switched off also raises an alert.
//
// The filling type comes from the symbol's SYMBOL_FILLING_MODE flags for every order, closes
// included, so that the server never answers 10030 (unsupported filling mode), the commonest live
// failure of MT5 bots: FOK when allowed, else IOC, else RETURN (allowed for every execution mode
// but market execution). A pending order on an exchange-executed symbol rests in the book, which
// only RETURN does. A market-execution symbol that allows neither FOK nor IOC cannot take an
// order: refused locally, never sent.
#pragma once

#include <cstdint>
#include <string>

#include "aits/core/status.h"
#include "aits/model/order.h"
#include "aits/mt5/messages.h"
#include "aits/mt5/mql.h"

namespace aits::gateway {

enum class RetcodeAction : uint8_t {
  kDone,         // 10009 done, 10008 placed: the fills and the order come as transactions
  kPartial,      // 10010: part done; the rest per the filling type (IOC: cancelled; RETURN: works)
  kRequote,      // 10004, 10020: sent again with a fresh price, at most max_requotes times
  kBackOff,      // 10024: sent again after an exponential back-off, a bounded number of times
  kResolve,      // 10012: the request's fate is unknown; the terminal is asked before any resend
  kReject,       // the order is rejected (reject_reason)
  kRejectAlert,  // 10026, 10027: rejected, and AutoTrading being off is raised as an alert
};
std::string_view ToString(RetcodeAction action);

struct RetcodeHandling {
  RetcodeAction action = RetcodeAction::kReject;
  RejectReason reject_reason = RejectReason::kNone;  // for kReject, kRejectAlert
};

// Every retcode of mt5::kAllRetcodes has its row; a number MT5 does not define is rejected as
// kVenueRefused (its number is in the report's text).
RetcodeHandling HandlingOf(uint32_t retcode);

// "TRADE_RETCODE_NO_MONEY (10019): No money to complete the request" and, when given, the
// server's comment after " - ".
std::string RetcodeText(uint32_t retcode, std::string_view comment = {});

// The filling type of an order on this symbol (see above). `pending`: a limit or stop order.
// FailedPrecondition naming the symbol and its flags when no filling type fits.
Result<mt5::Filling> FillingFor(const mt5::SymbolSpec& spec, bool pending);

}  // namespace aits::gateway
