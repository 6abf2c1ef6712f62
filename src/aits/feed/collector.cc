#include "aits/feed/collector.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace aits::feed {
namespace {

constexpr size_t kMaxBatchTicks = 100'000;  // keeps a batch's payload far below its 16 MiB cap

// Trimmed and upper-cased into `out`; false if longer than a symbol may be.
bool NormaliseSymbol(std::string_view text, std::string& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.size() > kMaxSymbolName) return false;
  out.assign(text);
  for (char& ch : out) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  return true;
}

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.10g", value);
  return text;
}

}  // namespace

std::string_view ToString(QuoteReject reason) {
  switch (reason) {
    case QuoteReject::kMissingSymbol:
      return "missing_symbol";
    case QuoteReject::kMissingTime:
      return "missing_time";
    case QuoteReject::kMissingBid:
      return "missing_bid";
    case QuoteReject::kMissingAsk:
      return "missing_ask";
    case QuoteReject::kMissingVolume:
      return "missing_volume";
    case QuoteReject::kUnknownSymbol:
      return "unknown_symbol";
    case QuoteReject::kNonFinite:
      return "non_finite";
    case QuoteReject::kNonPositivePrice:
      return "non_positive_price";
    case QuoteReject::kCrossed:
      return "crossed";
    case QuoteReject::kNegativeVolume:
      return "negative_volume";
    case QuoteReject::kBadTime:
      return "bad_time";
    case QuoteReject::kTimeBackwards:
      return "time_backwards";
    case QuoteReject::kSpillFailed:
      return "spill_failed";
    case QuoteReject::kCount:
      break;
  }
  return "unknown";
}

void WallSleeper::SleepUntil(Timestamp until) {
  const Duration left = until - WallClock().Now();
  if (left.ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left.ns));
}

uint64_t CollectorStats::TotalRejected() const {
  uint64_t total = 0;
  for (uint64_t count : rejected) total += count;
  return total;
}

Status CollectorOptions::Validate() const {
  if (symbols.empty()) return InvalidArgument("collector: no symbols configured");
  std::vector<std::string> names;
  for (const CollectorSymbol& symbol : symbols) {
    std::string name;
    if (!NormaliseSymbol(symbol.name, name) || name.empty()) {
      return InvalidArgument("collector: symbol name '" + symbol.name + "' must be 1.." +
                             std::to_string(kMaxSymbolName) + " characters");
    }
    if (symbol.digits < 0 || symbol.digits > 9) {
      return InvalidArgument("collector: symbol " + name + " digits " +
                             std::to_string(symbol.digits) + " is outside 0..9");
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return InvalidArgument("collector: symbol " + name + " is listed twice");
    }
    names.push_back(name);
  }
  if (ring_capacity == 0) return InvalidArgument("collector: ring_capacity must be >= 1");
  if (max_batch_ticks == 0 || max_batch_ticks > kMaxBatchTicks) {
    return InvalidArgument("collector: max_batch_ticks " + std::to_string(max_batch_ticks) +
                           " is outside 1.." + std::to_string(kMaxBatchTicks));
  }
  if (spill_batch_ticks == 0 || spill_batch_ticks > kMaxBatchTicks) {
    return InvalidArgument("collector: spill_batch_ticks " + std::to_string(spill_batch_ticks) +
                           " is outside 1.." + std::to_string(kMaxBatchTicks));
  }
  if (max_retries < 0 || max_retries > 30) {
    return InvalidArgument("collector: max_retries " + std::to_string(max_retries) +
                           " is outside 0..30");
  }
  if (first_backoff.ns <= 0 || reconnect_interval.ns <= 0) {
    return InvalidArgument("collector: first_backoff and reconnect_interval must be positive");
  }
  if (spill_path.empty()) return InvalidArgument("collector: spill_path is empty");
  return Status::Ok();
}

Result<std::unique_ptr<Collector>> Collector::Open(CollectorOptions options, Uplink& uplink,
                                                   const Clock& clock) {
  AITS_RETURN_IF_ERROR(options.Validate());
  AITS_ASSIGN_OR_RETURN(auto spill, SpillFile::Open(options.spill_path, options.spill));
  return std::unique_ptr<Collector>(
      new Collector(std::move(options), uplink, clock, std::move(spill)));
}

Collector::Collector(CollectorOptions options, Uplink& uplink, const Clock& clock,
                     std::unique_ptr<SpillFile> spill)
    : options_(std::move(options)), uplink_(uplink), clock_(clock), spill_(std::move(spill)) {
  for (const CollectorSymbol& symbol : options_.symbols) {
    SymbolState state;
    NormaliseSymbol(symbol.name, state.name);
    state.digits = symbol.digits;
    symbols_.push_back(std::move(state));
  }
  ring_.resize(options_.ring_capacity);
  batch_index_.assign(symbols_.size(), -1);
  stats_.recovery = spill_->recovery();
  next_attempt_ = clock_.Now();
}

Collector::~Collector() = default;

void Collector::CountRejection(QuoteReject reason, std::string_view symbol, const char* field,
                               const std::string& value) {
  ++stats_.rejected[static_cast<size_t>(reason)];
  stats_.last_rejection = "quote " + std::string(symbol) + " field '" + field + "' value '" +
                          value + "': " + std::string(ToString(reason));
}

Status Collector::Reject(QuoteReject reason, std::string_view symbol, const char* field,
                         const std::string& value) {
  CountRejection(reason, symbol, field, value);
  return InvalidArgument("collector: " + stats_.last_rejection);
}

Status Collector::Accept(const Quote& quote) {
  std::string name;
  if (!NormaliseSymbol(quote.symbol, name)) {
    return Reject(QuoteReject::kUnknownSymbol, quote.symbol.substr(0, 64), "symbol",
                  std::string(quote.symbol.substr(0, 64)));
  }
  if (name.empty()) return Reject(QuoteReject::kMissingSymbol, "?", "symbol", "");
  size_t sym = 0;
  while (sym < symbols_.size() && symbols_[sym].name != name) ++sym;
  if (sym == symbols_.size()) return Reject(QuoteReject::kUnknownSymbol, name, "symbol", name);
  SymbolState& state = symbols_[sym];
  if (!quote.time) return Reject(QuoteReject::kMissingTime, name, "time", "");
  if (!quote.bid) return Reject(QuoteReject::kMissingBid, name, "bid", "");
  if (!quote.ask) return Reject(QuoteReject::kMissingAsk, name, "ask", "");
  if (!quote.volume) return Reject(QuoteReject::kMissingVolume, name, "volume", "");
  const double bid = *quote.bid;
  const double ask = *quote.ask;
  const double volume = *quote.volume;
  if (!std::isfinite(bid)) return Reject(QuoteReject::kNonFinite, name, "bid", Number(bid));
  if (!std::isfinite(ask)) return Reject(QuoteReject::kNonFinite, name, "ask", Number(ask));
  if (!std::isfinite(volume) || !std::isfinite(static_cast<float>(volume))) {
    return Reject(QuoteReject::kNonFinite, name, "volume", Number(volume));
  }
  if (bid <= 0) return Reject(QuoteReject::kNonPositivePrice, name, "bid", Number(bid));
  if (ask <= 0) return Reject(QuoteReject::kNonPositivePrice, name, "ask", Number(ask));
  if (ask < bid) {
    return Reject(QuoteReject::kCrossed, name, "ask", Number(ask) + " < bid " + Number(bid));
  }
  if (volume < 0) return Reject(QuoteReject::kNegativeVolume, name, "volume", Number(volume));
  const Timestamp time = *quote.time;
  if (time.ns <= 0) {
    return Reject(QuoteReject::kBadTime, name, "time", std::to_string(time.ns) + " ns");
  }
  if (state.seen && time < state.last_time) {
    return Reject(QuoteReject::kTimeBackwards, name, "time",
                  FormatIso8601(time) + " < " + FormatIso8601(state.last_time));
  }
  auto bid_price = Price::FromDouble(bid, state.digits);
  auto ask_price = Price::FromDouble(ask, state.digits);
  if (!bid_price.ok()) return Reject(QuoteReject::kNonFinite, name, "bid", Number(bid));
  if (!ask_price.ok()) return Reject(QuoteReject::kNonFinite, name, "ask", Number(ask));
  if (!bid_price->IsPositive()) {
    return Reject(QuoteReject::kNonPositivePrice, name, "bid",
                  Number(bid) + " (rounds to 0 at " + std::to_string(state.digits) + " digits)");
  }

  if (ring_count_ == ring_.size()) {
    Status spilled = SpillRingOverflow();
    if (!spilled.ok()) {
      CountRejection(QuoteReject::kSpillFailed, name, "ring", spilled.message());
      return spilled;
    }
  }
  SequencedTick& slot = ring_[(ring_head_ + ring_count_) % ring_.size()];
  slot.tick.ts = time;
  slot.tick.bid = *bid_price;
  slot.tick.ask = *ask_price;
  slot.tick.bid_volume = static_cast<float>(volume);
  slot.tick.ask_volume = static_cast<float>(volume);
  slot.tick.instrument = InstrumentId{static_cast<uint32_t>(sym)};
  slot.sequence = ++state.sequence;
  ++ring_count_;
  state.last_time = time;
  state.seen = true;
  ++stats_.accepted;
  return Status::Ok();
}

Status Collector::EncodeRing(size_t count, Pending& out) {
  scratch_batch_.Clear();
  std::fill(batch_index_.begin(), batch_index_.end(), -1);
  for (size_t idx = 0; idx < count; ++idx) {
    SequencedTick st = ring_[(ring_head_ + idx) % ring_.size()];
    int& index = batch_index_[st.tick.instrument.value];
    if (index < 0) {
      index = static_cast<int>(scratch_batch_.symbols.size());
      const SymbolState& state = symbols_[st.tick.instrument.value];
      scratch_batch_.symbols.push_back({state.name, state.digits});
    }
    st.tick.instrument = InstrumentId{static_cast<uint32_t>(index)};
    scratch_batch_.ticks.push_back(st);
  }
  // Accept() checked everything the encoder checks: a failure here is a bug. The ticks stay in
  // the ring until the caller drops them.
  AITS_RETURN_IF_ERROR(codec_.Encode(scratch_batch_, Compression::kLz4, out.bytes)
                           .WithContext("collector: encoding a batch"));
  out.ticks = count;
  return Status::Ok();
}

Status Collector::SpillPending() {
  if (!pending_) return Status::Ok();
  AITS_RETURN_IF_ERROR(spill_->Append(pending_->bytes));
  ++stats_.batches_spilled;
  stats_.ticks_spilled += pending_->ticks;
  pending_.reset();
  return Status::Ok();
}

void Collector::DropFromRing(size_t count) {
  ring_head_ = (ring_head_ + count) % ring_.size();
  ring_count_ -= count;
}

Status Collector::SpillFromRing() {
  Pending batch;
  const size_t count = std::min(options_.spill_batch_ticks, ring_count_);
  AITS_RETURN_IF_ERROR(EncodeRing(count, batch));
  AITS_RETURN_IF_ERROR(spill_->Append(batch.bytes));
  DropFromRing(count);
  ++stats_.batches_spilled;
  stats_.ticks_spilled += count;
  return Status::Ok();
}

Status Collector::SpillRingOverflow() {
  // The batch in flight is older than anything in the ring: it goes first.
  AITS_RETURN_IF_ERROR(SpillPending());
  AITS_RETURN_IF_ERROR(SpillFromRing());
  ++stats_.ring_overflows;
  return Status::Ok();
}

Status Collector::OnSendFailed(const Status& status, Timestamp now, bool from_spill) {
  ++stats_.failed_sends;
  stats_.last_send_error = status.ToString();
  ++failures_;
  if (down_) {
    next_attempt_ = now + options_.reconnect_interval;
    return Status::Ok();
  }
  if (failures_ <= options_.max_retries) {
    next_attempt_ = now + Duration{options_.first_backoff.ns << (failures_ - 1)};
    return Status::Ok();
  }
  ++stats_.outages;
  down_ = true;
  next_attempt_ = now + options_.reconnect_interval;
  return from_spill ? Status::Ok() : SpillPending();
}

Status Collector::Poll() {
  const Timestamp now = clock_.Now();
  if (now < next_attempt_) return Status::Ok();
  while (true) {
    std::span<const uint8_t> head;
    const bool from_spill = !spill_->empty();
    if (from_spill) {
      Status read = spill_->Front(resend_);
      if (read.code() == StatusCode::kDataLoss) {
        // Changed on disk since it was written: it cannot be sent; count it and go on.
        ++stats_.spill_records_lost;
        stats_.last_send_error = read.ToString();
        AITS_RETURN_IF_ERROR(spill_->PopFront());
        continue;
      }
      AITS_RETURN_IF_ERROR(read);
      head = resend_;
    } else if (pending_) {
      head = pending_->bytes;
    } else if (ring_count_ > 0) {
      Pending batch;
      const size_t count = std::min(options_.max_batch_ticks, ring_count_);
      AITS_RETURN_IF_ERROR(EncodeRing(count, batch));
      DropFromRing(count);
      pending_ = std::move(batch);
      head = pending_->bytes;
    } else {
      next_attempt_ = now;
      return Status::Ok();
    }
    const Status sent = uplink_.Send(head);
    if (!sent.ok()) return OnSendFailed(sent, now, from_spill);
    failures_ = 0;
    down_ = false;
    if (from_spill) {
      ++stats_.batches_resent;
      AITS_RETURN_IF_ERROR(spill_->PopFront());
    } else {
      ++stats_.batches_sent;
      stats_.ticks_sent += pending_->ticks;
      pending_.reset();
    }
  }
}

Status Collector::Drain(Sleeper& sleeper, Timestamp deadline) {
  while (true) {
    AITS_RETURN_IF_ERROR(Poll());
    if (idle()) return Status::Ok();
    if (next_attempt_ > deadline) {
      return FailedPrecondition("collector: the uplink is still failing at " +
                                FormatIso8601(deadline) + " with " + std::to_string(ring_count_) +
                                " ticks in the ring, " + (pending_ ? "1" : "0") +
                                " batch in flight and " + std::to_string(spill_->records()) +
                                " batches spilled; last error: " + stats_.last_send_error);
    }
    if (next_attempt_ > clock_.Now()) sleeper.SleepUntil(next_attempt_);
  }
}

Status Collector::Shutdown() {
  AITS_RETURN_IF_ERROR(SpillPending());
  while (ring_count_ > 0) AITS_RETURN_IF_ERROR(SpillFromRing());
  return Status::Ok();
}

}  // namespace aits::feed
