// MetaTrader 5's numbers as the MQL5 reference defines them (trade request actions, order and
// deal types, filling modes, trade transaction types, TRADE_RETCODE_*), for the protocol's
// fields that carry MT5 enums (proto/mt5/protocol.schema), and the protocol's own error codes.
// Both the gateway and the terminal simulator speak in these numbers, so that the simulator's
// frames are the EA's.
#pragma once

#include <cstdint>
#include <string_view>

namespace aits::mt5 {

// The `error` message's codes (the protocol's, not MT5's).
enum class ErrorCode : uint32_t {
  kNone = 0,
  kMalformedFrame = 1,     // framing or fields could not be read (fatal)
  kFrameTooLarge = 2,      // a frame above the receiver's cap (fatal)
  kBadVersion = 3,         // another protocol version (fatal)
  kBadToken = 4,           // the hello's secret is wrong (fatal)
  kUnknownMessage = 5,     // a message type the receiver does not know
  kUnexpectedMessage = 6,  // a known type in the wrong direction, or before the handshake
  kBadRequest = 7,         // a request's fields make no sense (no symbol, count 0, ...)
  kUnknownSymbol = 8,      // the terminal has no such symbol (or cannot select it)
  kBusy = 9,               // too many requests in flight
  kTimeout = 10,           // a reply did not come in time
  kInternal = 11,
  kHeartbeatLost = 12,  // nothing received for dead_after_ms (fatal)
};
std::string_view ToString(ErrorCode code);
// Whether the sender closes the link after sending this error.
bool IsFatal(ErrorCode code);

// ENUM_TRADE_REQUEST_ACTIONS
enum class TradeAction : uint32_t {
  kDeal = 1,
  kPending = 5,
  kSltp = 6,
  kModify = 7,
  kRemove = 8,
  kCloseBy = 10,
};

// ENUM_ORDER_TYPE
enum class OrderType : uint32_t {
  kBuy = 0,
  kSell = 1,
  kBuyLimit = 2,
  kSellLimit = 3,
  kBuyStop = 4,
  kSellStop = 5,
  kBuyStopLimit = 6,
  kSellStopLimit = 7,
  kCloseBy = 8,
};
// Buy, buy limit, buy stop, buy stop limit.
bool IsBuy(OrderType type);

// ENUM_ORDER_STATE
enum class OrderState : uint32_t {
  kStarted = 0,
  kPlaced = 1,
  kCanceled = 2,
  kPartial = 3,
  kFilled = 4,
  kRejected = 5,
  kExpired = 6,
  kRequestAdd = 7,
  kRequestModify = 8,
  kRequestCancel = 9,
};

// ENUM_ORDER_TYPE_FILLING
enum class Filling : uint32_t { kFok = 0, kIoc = 1, kReturn = 2, kBoc = 3 };
// SYMBOL_FILLING_MODE flags (a symbol's allowed modes; RETURN is always allowed outside market
// execution).
inline constexpr uint32_t kSymbolFillingFok = 1;
inline constexpr uint32_t kSymbolFillingIoc = 2;
inline constexpr uint32_t kSymbolFillingBoc = 4;

// ENUM_ORDER_TYPE_TIME
enum class OrderTime : uint32_t { kGtc = 0, kDay = 1, kSpecified = 2, kSpecifiedDay = 3 };

// ENUM_SYMBOL_TRADE_EXECUTION
enum class Execution : uint32_t { kRequest = 0, kInstant = 1, kMarket = 2, kExchange = 3 };

// ENUM_SYMBOL_TRADE_MODE
enum class SymbolTradeMode : uint32_t {
  kDisabled = 0,
  kLongOnly = 1,
  kShortOnly = 2,
  kCloseOnly = 3,
  kFull = 4,
};

// ENUM_ACCOUNT_MARGIN_MODE
enum class MarginMode : uint32_t { kRetailNetting = 0, kExchange = 1, kRetailHedging = 2 };

// ENUM_POSITION_TYPE
enum class PositionType : uint32_t { kBuy = 0, kSell = 1 };

// ENUM_DEAL_TYPE (the trading ones; 2.. are balance, credit, charges, ...)
enum class DealType : uint32_t { kBuy = 0, kSell = 1, kBalance = 2 };

// ENUM_DEAL_ENTRY
enum class DealEntry : uint32_t { kIn = 0, kOut = 1, kInOut = 2, kOutBy = 3 };

// ENUM_DEAL_REASON
enum class DealReason : uint32_t {
  kClient = 0,
  kMobile = 1,
  kWeb = 2,
  kExpert = 3,
  kSl = 4,
  kTp = 5,
  kSo = 6,  // stop out
  kRollover = 7,
  kVmargin = 8,
  kSplit = 9,
};

// ENUM_TRADE_TRANSACTION_TYPE
enum class TransactionType : uint32_t {
  kOrderAdd = 0,
  kOrderUpdate = 1,
  kOrderDelete = 2,
  kHistoryAdd = 3,
  kHistoryUpdate = 4,
  kHistoryDelete = 5,
  kDealAdd = 6,
  kDealUpdate = 7,
  kDealDelete = 8,
  kPosition = 9,
  kRequest = 10,
};

// TICK_FLAG_*
inline constexpr uint32_t kTickFlagBid = 2;
inline constexpr uint32_t kTickFlagAsk = 4;
inline constexpr uint32_t kTickFlagLast = 8;
inline constexpr uint32_t kTickFlagVolume = 16;
inline constexpr uint32_t kTickFlagBuy = 32;
inline constexpr uint32_t kTickFlagSell = 64;

// TRADE_RETCODE_* (MqlTradeResult.retcode).
namespace retcode {
inline constexpr uint32_t kRequote = 10004;
inline constexpr uint32_t kReject = 10006;
inline constexpr uint32_t kCancel = 10007;
inline constexpr uint32_t kPlaced = 10008;
inline constexpr uint32_t kDone = 10009;
inline constexpr uint32_t kDonePartial = 10010;
inline constexpr uint32_t kError = 10011;
inline constexpr uint32_t kTimeout = 10012;
inline constexpr uint32_t kInvalid = 10013;
inline constexpr uint32_t kInvalidVolume = 10014;
inline constexpr uint32_t kInvalidPrice = 10015;
inline constexpr uint32_t kInvalidStops = 10016;
inline constexpr uint32_t kTradeDisabled = 10017;
inline constexpr uint32_t kMarketClosed = 10018;
inline constexpr uint32_t kNoMoney = 10019;
inline constexpr uint32_t kPriceChanged = 10020;
inline constexpr uint32_t kPriceOff = 10021;
inline constexpr uint32_t kInvalidExpiration = 10022;
inline constexpr uint32_t kOrderChanged = 10023;
inline constexpr uint32_t kTooManyRequests = 10024;
inline constexpr uint32_t kNoChanges = 10025;
inline constexpr uint32_t kServerDisablesAt = 10026;
inline constexpr uint32_t kClientDisablesAt = 10027;
inline constexpr uint32_t kLocked = 10028;
inline constexpr uint32_t kFrozen = 10029;
inline constexpr uint32_t kInvalidFill = 10030;
inline constexpr uint32_t kConnection = 10031;
inline constexpr uint32_t kOnlyReal = 10032;
inline constexpr uint32_t kLimitOrders = 10033;
inline constexpr uint32_t kLimitVolume = 10034;
inline constexpr uint32_t kInvalidOrder = 10035;
inline constexpr uint32_t kPositionClosed = 10036;
inline constexpr uint32_t kInvalidCloseVolume = 10038;
inline constexpr uint32_t kCloseOrderExist = 10039;
inline constexpr uint32_t kLimitPositions = 10040;
inline constexpr uint32_t kRejectCancel = 10041;
inline constexpr uint32_t kLongOnly = 10042;
inline constexpr uint32_t kShortOnly = 10043;
inline constexpr uint32_t kCloseOnly = 10044;
inline constexpr uint32_t kFifoClose = 10045;
inline constexpr uint32_t kHedgeProhibited = 10046;
}  // namespace retcode

// Every retcode above, in number order.
inline constexpr uint32_t kAllRetcodes[] = {
    10004, 10006, 10007, 10008, 10009, 10010, 10011, 10012, 10013, 10014, 10015,
    10016, 10017, 10018, 10019, 10020, 10021, 10022, 10023, 10024, 10025, 10026,
    10027, 10028, 10029, 10030, 10031, 10032, 10033, 10034, 10035, 10036, 10038,
    10039, 10040, 10041, 10042, 10043, 10044, 10045, 10046};

// "TRADE_RETCODE_REQUOTE"; "" for a number MT5 does not define.
std::string_view RetcodeName(uint32_t retcode);
// The MQL5 reference's description ("Requote"); "" for an unknown number.
std::string_view RetcodeText(uint32_t retcode);
// 10008 placed, 10009 done, 10010 done partially: the request was carried out (in part).
bool IsSuccess(uint32_t retcode);

}  // namespace aits::mt5
