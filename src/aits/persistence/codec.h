// Binary payloads of the event store's hot events (ticks, orders, fills, and the execution and
// account reports a session on an asynchronous venue consumes as inputs): compact, exact (fixed-
// point raw values with their precision), little-endian, each starting with a one-byte format
// version. Encoders append to a caller-owned buffer so that a session reuses one buffer and does
// not allocate per event; decoders check lengths and ranges and return DataLoss naming the field
// instead of reading past the end.
#pragma once

#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/model/events.h"
#include "aits/model/market.h"
#include "aits/model/order.h"

namespace aits::persistence {

// Clear `out` first if it should hold only this payload. A tick of a live feed carries the
// feed's own time of it (`source_msc`, MetaTrader's time_msc; 0: none, the v1 layout), so that
// a resumed session can ask the feed for what follows it exactly (docs/metatrader.md, "aits live").
void EncodeTick(const Tick& tick, std::string* out, int64_t source_msc = 0);
void EncodeOrder(const Order& order, std::string* out);  // request, status, reason, times, fills
void EncodeFill(const Fill& fill, std::string* out);

Result<Tick> DecodeTick(std::string_view payload, int64_t* source_msc = nullptr);
Result<Order> DecodeOrder(std::string_view payload);
// Fill::reason is a string_view: the decoder maps it to the canonical static strings the venue
// and kernel use ("market", "limit", "stop", "stop_loss", "take_profit", "stop_out", "halt") and
// rejects any other value.
Result<Fill> DecodeFill(std::string_view payload);

// Venue reports, every field (a replay hands the decoded report to the kernel as the venue sent
// it). ExecutionReport::fill_reason is stored as text, as a fill's reason is.
void EncodeExecutionReport(const ExecutionReport& report, std::string* out);
void EncodeAccountReport(const AccountReport& report, std::string* out);
Result<ExecutionReport> DecodeExecutionReport(std::string_view payload);
Result<AccountReport> DecodeAccountReport(std::string_view payload);

}  // namespace aits::persistence
