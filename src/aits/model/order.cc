#include "aits/model/order.h"

namespace aits {

std::string_view ToString(Side side) { return side == Side::kBuy ? "buy" : "sell"; }

std::string_view ToString(OrderType type) {
  switch (type) {
    case OrderType::kMarket:
      return "market";
    case OrderType::kLimit:
      return "limit";
    case OrderType::kStop:
      return "stop";
  }
  return "?";
}

std::string_view ToString(TimeInForce tif) {
  switch (tif) {
    case TimeInForce::kGtc:
      return "GTC";
    case TimeInForce::kIoc:
      return "IOC";
    case TimeInForce::kFok:
      return "FOK";
    case TimeInForce::kDay:
      return "DAY";
  }
  return "?";
}

std::string_view ToString(OrderStatus status) {
  switch (status) {
    case OrderStatus::kPendingNew:
      return "pending_new";
    case OrderStatus::kAccepted:
      return "accepted";
    case OrderStatus::kFilled:
      return "filled";
    case OrderStatus::kCanceled:
      return "canceled";
    case OrderStatus::kExpired:
      return "expired";
    case OrderStatus::kRejected:
      return "rejected";
  }
  return "?";
}

std::string_view ToString(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone:
      return "";
    case RejectReason::kInvalidQuantity:
      return "invalid_quantity";
    case RejectReason::kInvalidPrice:
      return "invalid_price";
    case RejectReason::kInsufficientMargin:
      return "insufficient_margin";
    case RejectReason::kNoMarket:
      return "no_market";
    case RejectReason::kUnknownInstrument:
      return "unknown_instrument";
    case RejectReason::kDuplicateClientId:
      return "duplicate_client_order_id";
    case RejectReason::kRiskOrderSize:
      return "risk_order_size";
    case RejectReason::kRiskPositionLimit:
      return "risk_position_limit";
    case RejectReason::kRiskGrossExposure:
      return "risk_gross_exposure";
    case RejectReason::kRiskNetExposure:
      return "risk_net_exposure";
    case RejectReason::kRiskCurrencyExposure:
      return "risk_currency_exposure";
    case RejectReason::kRiskCorrelatedExposure:
      return "risk_correlated_exposure";
    case RejectReason::kRiskLeverage:
      return "risk_leverage";
    case RejectReason::kRiskMarginUse:
      return "risk_margin_use";
    case RejectReason::kRiskOrderRate:
      return "risk_order_rate";
    case RejectReason::kRiskPriceCollar:
      return "risk_price_collar";
    case RejectReason::kRiskReduceOnly:
      return "risk_reduce_only";
    case RejectReason::kRiskHalted:
      return "risk_halted";
    case RejectReason::kInvalidPosition:
      return "invalid_position";
    case RejectReason::kVenueRefused:
      return "venue_refused";
  }
  return "?";
}

std::string_view ToString(AccountMode mode) {
  return mode == AccountMode::kHedging ? "hedging" : "netting";
}

Result<AccountMode> ParseAccountMode(std::string_view text) {
  if (text == "netting") return AccountMode::kNetting;
  if (text == "hedging") return AccountMode::kHedging;
  return InvalidArgument("unknown account mode '" + std::string(text) + "' (netting or hedging)");
}

std::string_view ToString(FillReason reason) {
  switch (reason) {
    case FillReason::kMarket:
      return "market";
    case FillReason::kLimit:
      return "limit";
    case FillReason::kStop:
      return "stop";
    case FillReason::kStopLoss:
      return "stop_loss";
    case FillReason::kTakeProfit:
      return "take_profit";
  }
  return "?";
}

Result<FillReason> ParseFillReason(std::string_view text) {
  for (FillReason reason : {FillReason::kMarket, FillReason::kLimit, FillReason::kStop,
                            FillReason::kStopLoss, FillReason::kTakeProfit}) {
    if (ToString(reason) == text) return reason;
  }
  return InvalidArgument("unknown fill reason '" + std::string(text) + "'");
}

}  // namespace aits
