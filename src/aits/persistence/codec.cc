#include "aits/persistence/codec.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace aits::persistence {
namespace {

// Format version of each payload; bump it (and keep decoding the old one) when a layout changes.
constexpr uint8_t kTickVersion = 1;
constexpr uint8_t kTickWithSourceVersion = 2;
// Orders and fills that name a position (hedging accounts) are written as v2, which appends the
// position tickets; everything else is still written as v1, so that the logs of netting
// sessions stay byte for byte what they were and sessions started before v2 still resume.
constexpr uint8_t kOrderVersion = 1;
constexpr uint8_t kOrderVersionWithPosition = 2;
// Orders the venue has named (its ticket, Order::venue_order_id) are written as v3: v2's tickets
// and then the venue's. A session that does not log venue tickets clears them first (session.cc).
constexpr uint8_t kOrderVersionWithVenueTicket = 3;
constexpr uint8_t kFillVersion = 1;
constexpr uint8_t kFillVersionWithPosition = 2;
constexpr uint8_t kExecutionReportVersion = 1;
constexpr uint8_t kAccountReportVersion = 1;

// Highest valid value of each stored enum (decoders reject anything above).
constexpr uint8_t kMaxSide = static_cast<uint8_t>(Side::kSell);
constexpr uint8_t kMaxOrderType = static_cast<uint8_t>(OrderType::kStop);
constexpr uint8_t kMaxTif = static_cast<uint8_t>(TimeInForce::kDay);
constexpr uint8_t kMaxOrderStatus = static_cast<uint8_t>(OrderStatus::kRejected);
constexpr uint8_t kMaxRejectReason = static_cast<uint8_t>(kLastRejectReason);
constexpr uint8_t kMaxExecKind = static_cast<uint8_t>(ExecKind::kExpired);
constexpr uint8_t kMaxAccountReason = static_cast<uint8_t>(AccountReportReason::kStopOut);

// The only fill reasons the venue and kernel produce. Decoded fills point at these literals, so
// a Fill's string_view outlives the payload it was decoded from.
// ---- writing: little-endian, appended to the caller's buffer ----

void PutU8(uint8_t value, std::string* out) { out->push_back(static_cast<char>(value)); }

void PutU32(uint32_t value, std::string* out) {
  char bytes[4];
  for (int idx = 0; idx < 4; ++idx) bytes[idx] = static_cast<char>((value >> (8 * idx)) & 0xff);
  out->append(bytes, 4);
}

void PutU64(uint64_t value, std::string* out) {
  char bytes[8];
  for (int idx = 0; idx < 8; ++idx) bytes[idx] = static_cast<char>((value >> (8 * idx)) & 0xff);
  out->append(bytes, 8);
}

void PutI64(int64_t value, std::string* out) { PutU64(static_cast<uint64_t>(value), out); }

void PutF32(float value, std::string* out) {
  // Bit pattern, so that every float (NaN payloads, -0) round-trips exactly.
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  PutU32(bits, out);
}

template <typename Fixed>
void PutFixed(const Fixed& value, std::string* out) {
  PutI64(value.raw(), out);
  PutU8(static_cast<uint8_t>(value.precision()), out);
}

void PutOptionalPrice(const std::optional<Price>& value, std::string* out) {
  PutU8(value.has_value() ? 1 : 0, out);
  if (value.has_value()) PutFixed(*value, out);
}

void PutF64(double value, std::string* out) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  PutU64(bits, out);
}

void PutString(std::string_view text, std::string* out) {
  PutU32(static_cast<uint32_t>(text.size()), out);
  out->append(text.data(), text.size());
}

// ---- reading: every read checks the remaining length; the first failure sticks ----

class Reader {
 public:
  Reader(std::string_view data, const char* payload_name)
      : data_(data), payload_name_(payload_name) {}

  bool ok() const { return status_.ok(); }
  Status status() const { return status_; }

  uint8_t U8(const char* field) {
    const char* bytes = Take(1, field);
    return bytes == nullptr ? 0 : static_cast<uint8_t>(bytes[0]);
  }
  uint32_t U32(const char* field) {
    const char* bytes = Take(4, field);
    if (bytes == nullptr) return 0;
    uint32_t value = 0;
    for (int idx = 0; idx < 4; ++idx) {
      value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[idx])) << (8 * idx);
    }
    return value;
  }
  uint64_t U64(const char* field) {
    const char* bytes = Take(8, field);
    if (bytes == nullptr) return 0;
    uint64_t value = 0;
    for (int idx = 0; idx < 8; ++idx) {
      value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[idx])) << (8 * idx);
    }
    return value;
  }
  int64_t I64(const char* field) { return static_cast<int64_t>(U64(field)); }
  float F32(const char* field) {
    const uint32_t bits = U32(field);
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }
  double F64(const char* field) {
    const uint64_t bits = U64(field);
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }
  Timestamp Time(const char* field) { return Timestamp{I64(field)}; }

  // An enum stored as one byte, valid in 0..max.
  template <typename Enum>
  Enum EnumU8(const char* field, uint8_t max) {
    const uint8_t value = U8(field);
    if (ok() && value > max) Fail(field, value);
    return static_cast<Enum>(value);
  }

  // raw (i64) then precision (u8, 0..9); `field` names the value, e.g. "quantity".
  template <typename Fixed>
  Fixed FixedValue(const char* field) {
    const int64_t raw = I64(field);
    const uint8_t precision = U8(field);
    if (ok() && precision > kFixedDigits) Fail(field, precision, ".precision");
    return Fixed::FromRaw(raw, precision);
  }

  std::optional<Price> OptionalPrice(const char* field) {
    const uint8_t present = U8(field);
    if (!ok()) return std::nullopt;
    if (present > 1) {
      Fail(field, present, ".present");
      return std::nullopt;
    }
    if (present == 0) return std::nullopt;
    return FixedValue<Price>(field);
  }

  std::string_view String(const char* field) {
    const uint32_t size = U32(field);
    const char* bytes = Take(size, field);
    return bytes == nullptr ? std::string_view() : std::string_view(bytes, size);
  }

  // Call after the last field: trailing bytes mean the payload is not what it claims to be.
  Status Finish() {
    if (ok() && pos_ != data_.size()) {
      status_ =
          DataLoss(std::string(payload_name_) + " payload: " + std::to_string(data_.size() - pos_) +
                   " trailing bytes after " + std::to_string(pos_));
    }
    return status_;
  }

  void Fail(const char* field, uint64_t value, const char* suffix = "") {
    if (!ok()) return;
    status_ = DataLoss(std::string(payload_name_) + " payload: field " + field + suffix + " = " +
                       std::to_string(value) + " out of range");
  }

  void FailText(const char* field, std::string_view value) {
    if (!ok()) return;
    status_ = DataLoss(std::string(payload_name_) + " payload: field " + field + " = \"" +
                       std::string(value.substr(0, 64)) + "\" is not a known value");
  }

 private:
  const char* Take(size_t size, const char* field) {
    if (!ok()) return nullptr;
    if (data_.size() - pos_ < size) {
      status_ =
          DataLoss(std::string(payload_name_) + " payload: truncated at field " + field +
                   " (needs " + std::to_string(size) + " bytes at offset " + std::to_string(pos_) +
                   ", " + std::to_string(data_.size() - pos_) + " left)");
      return nullptr;
    }
    const char* bytes = data_.data() + pos_;
    pos_ += size;
    return bytes;
  }

  std::string_view data_;
  size_t pos_ = 0;
  const char* payload_name_;
  Status status_;
};

void CheckVersion(Reader& reader, uint8_t expected) {
  const uint8_t version = reader.U8("version");
  if (reader.ok() && version != expected) reader.Fail("version", version);
}

// Reads the version byte, which must be `base` or `extended`; true for `extended`.
bool ReadVersion(Reader& reader, uint8_t base, uint8_t extended) {
  const uint8_t version = reader.U8("version");
  if (reader.ok() && version != base && version != extended) reader.Fail("version", version);
  return version == extended;
}

}  // namespace

// Layout v1 (39 bytes): version u8, ts i64, bid (i64 raw, u8 precision), ask (same),
// bid_volume f32 bits, ask_volume f32 bits, instrument u32. Layout v2 (47 bytes, a live feed's
// tick): v1, then source_msc i64.
void EncodeTick(const Tick& tick, std::string* out, int64_t source_msc) {
  PutU8(source_msc != 0 ? kTickWithSourceVersion : kTickVersion, out);
  PutI64(tick.ts.ns, out);
  PutFixed(tick.bid, out);
  PutFixed(tick.ask, out);
  PutF32(tick.bid_volume, out);
  PutF32(tick.ask_volume, out);
  PutU32(tick.instrument.value, out);
  if (source_msc != 0) PutI64(source_msc, out);
}

Result<Tick> DecodeTick(std::string_view payload, int64_t* source_msc) {
  Reader reader(payload, "tick");
  const bool with_source = ReadVersion(reader, kTickVersion, kTickWithSourceVersion);
  Tick tick;
  tick.ts = reader.Time("ts");
  tick.bid = reader.FixedValue<Price>("bid");
  tick.ask = reader.FixedValue<Price>("ask");
  tick.bid_volume = reader.F32("bid_volume");
  tick.ask_volume = reader.F32("ask_volume");
  tick.instrument.value = reader.U32("instrument");
  const int64_t source = with_source ? reader.I64("source_msc") : 0;
  AITS_RETURN_IF_ERROR(reader.Finish());
  if (source_msc != nullptr) *source_msc = source;
  return tick;
}

// Layout v1: version u8, id u64, request (instrument u32, side u8, type u8, tif u8, quantity,
// price?, stop_loss?, take_profit?, client_order_id str, tag str), status u8, reject_reason u8,
// reject_detail str, created i64, arrives i64, updated i64, filled, avg_fill_price. Fixed values
// are i64 raw + u8 precision; optionals a u8 0/1 flag then the value; strings a u32 length then the
// bytes. Layout v2 (an order that names a position): v1, then request.position_ticket u64 and
// position_ticket u64. Layout v3 (an order with the venue's ticket): v2 (either ticket may be 0),
// then venue_order_id u64.
void EncodeOrder(const Order& order, std::string* out) {
  const OrderRequest& request = order.request;
  const bool with_venue_ticket = order.venue_order_id != 0;
  const bool with_position = with_venue_ticket || request.position_ticket != 0;
  PutU8(with_venue_ticket ? kOrderVersionWithVenueTicket
        : with_position   ? kOrderVersionWithPosition
                          : kOrderVersion,
        out);
  PutU64(order.id.value, out);
  PutU32(request.instrument.value, out);
  PutU8(static_cast<uint8_t>(request.side), out);
  PutU8(static_cast<uint8_t>(request.type), out);
  PutU8(static_cast<uint8_t>(request.tif), out);
  PutFixed(request.quantity, out);
  PutOptionalPrice(request.price, out);
  PutOptionalPrice(request.stop_loss, out);
  PutOptionalPrice(request.take_profit, out);
  PutString(request.client_order_id, out);
  PutString(request.tag, out);
  PutU8(static_cast<uint8_t>(order.status), out);
  PutU8(static_cast<uint8_t>(order.reject_reason), out);
  PutString(order.reject_detail, out);
  PutI64(order.created.ns, out);
  PutI64(order.arrives.ns, out);
  PutI64(order.updated.ns, out);
  PutFixed(order.filled, out);
  PutFixed(order.avg_fill_price, out);
  if (with_position) {
    PutU64(request.position_ticket, out);
    PutU64(order.position_ticket, out);
  }
  if (with_venue_ticket) PutU64(order.venue_order_id, out);
}

Result<Order> DecodeOrder(std::string_view payload) {
  Reader reader(payload, "order");
  const uint8_t version = reader.U8("version");
  if (reader.ok() && version != kOrderVersion && version != kOrderVersionWithPosition &&
      version != kOrderVersionWithVenueTicket) {
    reader.Fail("version", version);
  }
  const bool with_venue_ticket = version == kOrderVersionWithVenueTicket;
  const bool with_position = with_venue_ticket || version == kOrderVersionWithPosition;
  Order order;
  OrderRequest& request = order.request;
  order.id.value = reader.U64("id");
  request.instrument.value = reader.U32("instrument");
  request.side = reader.EnumU8<Side>("side", kMaxSide);
  request.type = reader.EnumU8<OrderType>("type", kMaxOrderType);
  request.tif = reader.EnumU8<TimeInForce>("tif", kMaxTif);
  request.quantity = reader.FixedValue<Quantity>("quantity");
  request.price = reader.OptionalPrice("price");
  request.stop_loss = reader.OptionalPrice("stop_loss");
  request.take_profit = reader.OptionalPrice("take_profit");
  request.client_order_id = std::string(reader.String("client_order_id"));
  request.tag = std::string(reader.String("tag"));
  order.status = reader.EnumU8<OrderStatus>("status", kMaxOrderStatus);
  order.reject_reason = reader.EnumU8<RejectReason>("reject_reason", kMaxRejectReason);
  order.reject_detail = std::string(reader.String("reject_detail"));
  order.created = reader.Time("created");
  order.arrives = reader.Time("arrives");
  order.updated = reader.Time("updated");
  order.filled = reader.FixedValue<Quantity>("filled");
  order.avg_fill_price = reader.FixedValue<Price>("avg_fill_price");
  if (with_position) {
    request.position_ticket = reader.U64("request.position_ticket");
    order.position_ticket = reader.U64("position_ticket");
    if (reader.ok() && !with_venue_ticket && request.position_ticket == 0) {
      reader.Fail("request.position_ticket", 0);
    }
  }
  if (with_venue_ticket) {
    order.venue_order_id = reader.U64("venue_order_id");
    if (reader.ok() && order.venue_order_id == 0) reader.Fail("venue_order_id", 0);
  }
  AITS_RETURN_IF_ERROR(reader.Finish());
  return order;
}

// Layout v1: version u8, order_id u64, client_order_id str, instrument u32, side u8, quantity,
// price, commission i64 (Money raw), ts i64, reason str. The reason is stored as text rather than
// an index so that reordering the canonical list can never change what an old log says.
// Layout v2 (a fill that names its position): v1, then position_ticket u64.
void EncodeFill(const Fill& fill, std::string* out) {
  PutU8(fill.position_ticket != 0 ? kFillVersionWithPosition : kFillVersion, out);
  PutU64(fill.order_id.value, out);
  PutString(fill.client_order_id, out);
  PutU32(fill.instrument.value, out);
  PutU8(static_cast<uint8_t>(fill.side), out);
  PutFixed(fill.quantity, out);
  PutFixed(fill.price, out);
  PutI64(fill.commission.raw(), out);
  PutI64(fill.ts.ns, out);
  PutString(ToString(fill.reason), out);
  if (fill.position_ticket != 0) PutU64(fill.position_ticket, out);
}

Result<Fill> DecodeFill(std::string_view payload) {
  Reader reader(payload, "fill");
  const bool with_position = ReadVersion(reader, kFillVersion, kFillVersionWithPosition);
  Fill fill;
  fill.order_id.value = reader.U64("order_id");
  fill.client_order_id = std::string(reader.String("client_order_id"));
  fill.instrument.value = reader.U32("instrument");
  fill.side = reader.EnumU8<Side>("side", kMaxSide);
  fill.quantity = reader.FixedValue<Quantity>("quantity");
  fill.price = reader.FixedValue<Price>("price");
  fill.commission = Money::FromRaw(reader.I64("commission"));
  fill.ts = reader.Time("ts");
  const std::string_view reason = reader.String("reason");
  if (reader.ok()) {
    if (auto parsed = ParseFillReason(reason); parsed.ok()) {
      fill.reason = *parsed;
    } else {
      reader.FailText("reason", reason);
    }
  }
  if (with_position) {
    fill.position_ticket = reader.U64("position_ticket");
    if (reader.ok() && fill.position_ticket == 0) reader.Fail("position_ticket", 0);
  }
  AITS_RETURN_IF_ERROR(reader.Finish());
  return fill;
}

// Layout v1: version u8, kind u8, order_id u64, client_order_id str, venue_order_id u64,
// position_ticket u64, instrument u32, side u8, type u8, tif u8, quantity, price, commission i64
// (Money raw), fill_reason str, reject_reason u8, stop_loss?, take_profit?, text str, ts i64,
// exec_id u64.
void EncodeExecutionReport(const ExecutionReport& report, std::string* out) {
  PutU8(kExecutionReportVersion, out);
  PutU8(static_cast<uint8_t>(report.kind), out);
  PutU64(report.order_id.value, out);
  PutString(report.client_order_id, out);
  PutU64(report.venue_order_id, out);
  PutU64(report.position_ticket, out);
  PutU32(report.instrument.value, out);
  PutU8(static_cast<uint8_t>(report.side), out);
  PutU8(static_cast<uint8_t>(report.type), out);
  PutU8(static_cast<uint8_t>(report.tif), out);
  PutFixed(report.quantity, out);
  PutFixed(report.price, out);
  PutI64(report.commission.raw(), out);
  PutString(ToString(report.fill_reason), out);
  PutU8(static_cast<uint8_t>(report.reject_reason), out);
  PutOptionalPrice(report.stop_loss, out);
  PutOptionalPrice(report.take_profit, out);
  PutString(report.text, out);
  PutI64(report.ts.ns, out);
  PutU64(report.exec_id, out);
}

Result<ExecutionReport> DecodeExecutionReport(std::string_view payload) {
  Reader reader(payload, "execution_report");
  CheckVersion(reader, kExecutionReportVersion);
  ExecutionReport report;
  report.kind = reader.EnumU8<ExecKind>("kind", kMaxExecKind);
  report.order_id.value = reader.U64("order_id");
  report.client_order_id = std::string(reader.String("client_order_id"));
  report.venue_order_id = reader.U64("venue_order_id");
  report.position_ticket = reader.U64("position_ticket");
  report.instrument.value = reader.U32("instrument");
  report.side = reader.EnumU8<Side>("side", kMaxSide);
  report.type = reader.EnumU8<OrderType>("type", kMaxOrderType);
  report.tif = reader.EnumU8<TimeInForce>("tif", kMaxTif);
  report.quantity = reader.FixedValue<Quantity>("quantity");
  report.price = reader.FixedValue<Price>("price");
  report.commission = Money::FromRaw(reader.I64("commission"));
  const std::string_view reason = reader.String("fill_reason");
  if (reader.ok()) {
    if (auto parsed = ParseFillReason(reason); parsed.ok()) {
      report.fill_reason = *parsed;
    } else {
      reader.FailText("fill_reason", reason);
    }
  }
  report.reject_reason = reader.EnumU8<RejectReason>("reject_reason", kMaxRejectReason);
  report.stop_loss = reader.OptionalPrice("stop_loss");
  report.take_profit = reader.OptionalPrice("take_profit");
  report.text = std::string(reader.String("text"));
  report.ts = reader.Time("ts");
  report.exec_id = reader.U64("exec_id");
  AITS_RETURN_IF_ERROR(reader.Finish());
  return report;
}

// Layout v1: version u8, reason u8, balance i64, equity i64, margin i64, free_margin i64 (Money
// raw), margin_level f64 bits, ts i64.
void EncodeAccountReport(const AccountReport& report, std::string* out) {
  PutU8(kAccountReportVersion, out);
  PutU8(static_cast<uint8_t>(report.reason), out);
  PutI64(report.balance.raw(), out);
  PutI64(report.equity.raw(), out);
  PutI64(report.margin.raw(), out);
  PutI64(report.free_margin.raw(), out);
  PutF64(report.margin_level, out);
  PutI64(report.ts.ns, out);
}

Result<AccountReport> DecodeAccountReport(std::string_view payload) {
  Reader reader(payload, "account_report");
  CheckVersion(reader, kAccountReportVersion);
  AccountReport report;
  report.reason = reader.EnumU8<AccountReportReason>("reason", kMaxAccountReason);
  report.balance = Money::FromRaw(reader.I64("balance"));
  report.equity = Money::FromRaw(reader.I64("equity"));
  report.margin = Money::FromRaw(reader.I64("margin"));
  report.free_margin = Money::FromRaw(reader.I64("free_margin"));
  report.margin_level = reader.F64("margin_level");
  report.ts = reader.Time("ts");
  AITS_RETURN_IF_ERROR(reader.Finish());
  return report;
}

}  // namespace aits::persistence
