#include "aits/mt5/mql.h"

namespace aits::mt5 {

std::string_view ToString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return "none";
    case ErrorCode::kMalformedFrame:
      return "malformed_frame";
    case ErrorCode::kFrameTooLarge:
      return "frame_too_large";
    case ErrorCode::kBadVersion:
      return "bad_version";
    case ErrorCode::kBadToken:
      return "bad_token";
    case ErrorCode::kUnknownMessage:
      return "unknown_message";
    case ErrorCode::kUnexpectedMessage:
      return "unexpected_message";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kUnknownSymbol:
      return "unknown_symbol";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kHeartbeatLost:
      return "heartbeat_lost";
  }
  return "unknown";
}

bool IsFatal(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformedFrame:
    case ErrorCode::kFrameTooLarge:
    case ErrorCode::kBadVersion:
    case ErrorCode::kBadToken:
    case ErrorCode::kHeartbeatLost:
      return true;
    default:
      return false;
  }
}

bool IsBuy(OrderType type) {
  switch (type) {
    case OrderType::kBuy:
    case OrderType::kBuyLimit:
    case OrderType::kBuyStop:
    case OrderType::kBuyStopLimit:
      return true;
    default:
      return false;
  }
}

namespace {

struct RetcodeEntry {
  uint32_t code;
  std::string_view name;
  std::string_view text;
};

// The MQL5 reference's "Trade Server Return Codes" table.
constexpr RetcodeEntry kRetcodes[] = {
    {10004, "TRADE_RETCODE_REQUOTE", "Requote"},
    {10006, "TRADE_RETCODE_REJECT", "Request rejected"},
    {10007, "TRADE_RETCODE_CANCEL", "Request canceled by trader"},
    {10008, "TRADE_RETCODE_PLACED", "Order placed"},
    {10009, "TRADE_RETCODE_DONE", "Request completed"},
    {10010, "TRADE_RETCODE_DONE_PARTIAL", "Only part of the request was completed"},
    {10011, "TRADE_RETCODE_ERROR", "Request processing error"},
    {10012, "TRADE_RETCODE_TIMEOUT", "Request canceled by timeout"},
    {10013, "TRADE_RETCODE_INVALID", "Invalid request"},
    {10014, "TRADE_RETCODE_INVALID_VOLUME", "Invalid volume in the request"},
    {10015, "TRADE_RETCODE_INVALID_PRICE", "Invalid price in the request"},
    {10016, "TRADE_RETCODE_INVALID_STOPS", "Invalid stops in the request"},
    {10017, "TRADE_RETCODE_TRADE_DISABLED", "Trade is disabled"},
    {10018, "TRADE_RETCODE_MARKET_CLOSED", "Market is closed"},
    {10019, "TRADE_RETCODE_NO_MONEY", "There is not enough money to complete the request"},
    {10020, "TRADE_RETCODE_PRICE_CHANGED", "Prices changed"},
    {10021, "TRADE_RETCODE_PRICE_OFF", "There are no quotes to process the request"},
    {10022, "TRADE_RETCODE_INVALID_EXPIRATION", "Invalid order expiration date in the request"},
    {10023, "TRADE_RETCODE_ORDER_CHANGED", "Order state changed"},
    {10024, "TRADE_RETCODE_TOO_MANY_REQUESTS", "Too frequent requests"},
    {10025, "TRADE_RETCODE_NO_CHANGES", "No changes in request"},
    {10026, "TRADE_RETCODE_SERVER_DISABLES_AT", "Autotrading disabled by server"},
    {10027, "TRADE_RETCODE_CLIENT_DISABLES_AT", "Autotrading disabled by client terminal"},
    {10028, "TRADE_RETCODE_LOCKED", "Request locked for processing"},
    {10029, "TRADE_RETCODE_FROZEN", "Order or position frozen"},
    {10030, "TRADE_RETCODE_INVALID_FILL", "Invalid order filling type"},
    {10031, "TRADE_RETCODE_CONNECTION", "No connection with the trade server"},
    {10032, "TRADE_RETCODE_ONLY_REAL", "Operation is allowed only for live accounts"},
    {10033, "TRADE_RETCODE_LIMIT_ORDERS", "The number of pending orders has reached the limit"},
    {10034, "TRADE_RETCODE_LIMIT_VOLUME",
     "The volume of orders and positions for the symbol has reached the limit"},
    {10035, "TRADE_RETCODE_INVALID_ORDER", "Incorrect or prohibited order type"},
    {10036, "TRADE_RETCODE_POSITION_CLOSED", "Position with the specified identifier is closed"},
    {10038, "TRADE_RETCODE_INVALID_CLOSE_VOLUME",
     "A close volume exceeds the current position volume"},
    {10039, "TRADE_RETCODE_CLOSE_ORDER_EXIST", "A close order already exists for the position"},
    {10040, "TRADE_RETCODE_LIMIT_POSITIONS",
     "The number of open positions has reached the account's limit"},
    {10041, "TRADE_RETCODE_REJECT_CANCEL",
     "The pending order activation request is rejected, the order is canceled"},
    {10042, "TRADE_RETCODE_LONG_ONLY", "Only long positions are allowed for the symbol"},
    {10043, "TRADE_RETCODE_SHORT_ONLY", "Only short positions are allowed for the symbol"},
    {10044, "TRADE_RETCODE_CLOSE_ONLY", "Only position closing is allowed for the symbol"},
    {10045, "TRADE_RETCODE_FIFO_CLOSE", "Position closing is allowed only by the FIFO rule"},
    {10046, "TRADE_RETCODE_HEDGE_PROHIBITED",
     "Opposite positions on one symbol are disabled for the account"},
};

const RetcodeEntry* FindRetcode(uint32_t code) {
  for (const RetcodeEntry& entry : kRetcodes) {
    if (entry.code == code) return &entry;
  }
  return nullptr;
}

}  // namespace

std::string_view RetcodeName(uint32_t retcode) {
  const RetcodeEntry* entry = FindRetcode(retcode);
  return entry == nullptr ? std::string_view() : entry->name;
}

std::string_view RetcodeText(uint32_t retcode) {
  const RetcodeEntry* entry = FindRetcode(retcode);
  return entry == nullptr ? std::string_view() : entry->text;
}

bool IsSuccess(uint32_t retcode) {
  return retcode == retcode::kPlaced || retcode == retcode::kDone ||
         retcode == retcode::kDonePartial;
}

}  // namespace aits::mt5
