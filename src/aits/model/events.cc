#include "aits/model/events.h"

namespace aits {

std::string_view ToString(BreakerState state) {
  switch (state) {
    case BreakerState::kNormal:
      return "normal";
    case BreakerState::kReduceOnly:
      return "reduce_only";
    case BreakerState::kHalted:
      return "halted";
  }
  return "?";
}

Result<BreakerState> ParseBreakerState(std::string_view text) {
  if (text == "normal") return BreakerState::kNormal;
  if (text == "reduce_only") return BreakerState::kReduceOnly;
  if (text == "halted") return BreakerState::kHalted;
  return InvalidArgument("breaker state '" + std::string(text) +
                         "' is not one of normal, reduce_only, halted");
}

std::string_view ToString(ExecKind kind) {
  switch (kind) {
    case ExecKind::kNew:
      return "new";
    case ExecKind::kAccepted:
      return "accepted";
    case ExecKind::kRejected:
      return "rejected";
    case ExecKind::kPartiallyFilled:
      return "partially_filled";
    case ExecKind::kFilled:
      return "filled";
    case ExecKind::kCanceled:
      return "canceled";
    case ExecKind::kModified:
      return "modified";
    case ExecKind::kExpired:
      return "expired";
  }
  return "?";
}

Result<ExecKind> ParseExecKind(std::string_view text) {
  for (ExecKind kind :
       {ExecKind::kNew, ExecKind::kAccepted, ExecKind::kRejected, ExecKind::kPartiallyFilled,
        ExecKind::kFilled, ExecKind::kCanceled, ExecKind::kModified, ExecKind::kExpired}) {
    if (ToString(kind) == text) return kind;
  }
  return InvalidArgument("execution report kind '" + std::string(text) +
                         "' is not one of new, accepted, rejected, partially_filled, filled, "
                         "canceled, modified, expired");
}

std::string_view ToString(AccountReportReason reason) {
  switch (reason) {
    case AccountReportReason::kUpdate:
      return "update";
    case AccountReportReason::kMarginCall:
      return "margin_call";
    case AccountReportReason::kStopOut:
      return "stop_out";
  }
  return "?";
}

Result<AccountReportReason> ParseAccountReportReason(std::string_view text) {
  if (text == "update") return AccountReportReason::kUpdate;
  if (text == "margin_call") return AccountReportReason::kMarginCall;
  if (text == "stop_out") return AccountReportReason::kStopOut;
  return InvalidArgument("account report reason '" + std::string(text) +
                         "' is not one of update, margin_call, stop_out");
}

}  // namespace aits
