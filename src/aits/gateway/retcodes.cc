#include "aits/gateway/retcodes.h"

namespace aits::gateway {

std::string_view ToString(RetcodeAction action) {
  switch (action) {
    case RetcodeAction::kDone:
      return "done";
    case RetcodeAction::kPartial:
      return "partial";
    case RetcodeAction::kRequote:
      return "requote";
    case RetcodeAction::kBackOff:
      return "back_off";
    case RetcodeAction::kResolve:
      return "resolve";
    case RetcodeAction::kReject:
      return "reject";
    case RetcodeAction::kRejectAlert:
      return "reject_alert";
  }
  return "?";
}

RetcodeHandling HandlingOf(uint32_t retcode) {
  namespace rc = mt5::retcode;
  const auto reject = [](RejectReason reason) {
    return RetcodeHandling{RetcodeAction::kReject, reason};
  };
  switch (retcode) {
    case rc::kPlaced:
    case rc::kDone:
      return {RetcodeAction::kDone, RejectReason::kNone};
    case rc::kDonePartial:
      return {RetcodeAction::kPartial, RejectReason::kNone};
    case rc::kRequote:
    case rc::kPriceChanged:
      return {RetcodeAction::kRequote, RejectReason::kNone};
    case rc::kTooManyRequests:
      return {RetcodeAction::kBackOff, RejectReason::kNone};
    case rc::kTimeout:
      return {RetcodeAction::kResolve, RejectReason::kNone};
    case rc::kServerDisablesAt:
    case rc::kClientDisablesAt:
      return {RetcodeAction::kRejectAlert, RejectReason::kVenueRefused};
    case rc::kInvalidVolume:
    case rc::kLimitVolume:
    case rc::kInvalidCloseVolume:
      return reject(RejectReason::kInvalidQuantity);
    case rc::kInvalidPrice:
    case rc::kInvalidStops:
    case rc::kInvalidExpiration:
      return reject(RejectReason::kInvalidPrice);
    case rc::kNoMoney:
      return reject(RejectReason::kInsufficientMargin);
    case rc::kMarketClosed:
    case rc::kPriceOff:
      return reject(RejectReason::kNoMarket);
    case rc::kPositionClosed:
    case rc::kCloseOrderExist:
      return reject(RejectReason::kInvalidPosition);
    // 10035 is also the EA's answer to a client order id it has sent before (protocol.schema):
    // told apart by the comment where the report is made.
    case rc::kInvalidOrder:
    case rc::kReject:
    case rc::kCancel:
    case rc::kError:
    case rc::kInvalid:
    case rc::kTradeDisabled:
    case rc::kOrderChanged:
    case rc::kNoChanges:
    case rc::kLocked:
    case rc::kFrozen:
    case rc::kInvalidFill:
    case rc::kConnection:  // the terminal has no link to its server: nothing was sent
    case rc::kOnlyReal:
    case rc::kLimitOrders:
    case rc::kLimitPositions:
    case rc::kRejectCancel:
    case rc::kLongOnly:
    case rc::kShortOnly:
    case rc::kCloseOnly:
    case rc::kFifoClose:
    case rc::kHedgeProhibited:
      return reject(RejectReason::kVenueRefused);
    default:
      return reject(RejectReason::kVenueRefused);
  }
}

std::string RetcodeText(uint32_t retcode, std::string_view comment) {
  std::string_view name = mt5::RetcodeName(retcode);
  std::string text = name.empty() ? std::string("unknown retcode") : std::string(name);
  text += " (" + std::to_string(retcode) + ")";
  const std::string_view words = mt5::RetcodeText(retcode);
  if (!words.empty()) {
    text += ": ";
    text += words;
  }
  if (!comment.empty()) {
    text += " - ";
    text += comment;
  }
  return text;
}

Result<mt5::Filling> FillingFor(const mt5::SymbolSpec& spec, bool pending) {
  const auto execution = static_cast<mt5::Execution>(spec.execution_mode);
  if (pending && execution == mt5::Execution::kExchange) return mt5::Filling::kReturn;
  if ((spec.filling_mode & mt5::kSymbolFillingFok) != 0) return mt5::Filling::kFok;
  if ((spec.filling_mode & mt5::kSymbolFillingIoc) != 0) return mt5::Filling::kIoc;
  if (execution != mt5::Execution::kMarket) return mt5::Filling::kReturn;
  return FailedPrecondition("symbol " + spec.name + ": market execution with filling flags " +
                            std::to_string(spec.filling_mode) +
                            " allows neither FOK nor IOC, and RETURN is not allowed there");
}

}  // namespace aits::gateway
