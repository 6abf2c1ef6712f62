#include "aits/session/session_venue.h"

#include <utility>

namespace aits::session {

SessionVenue::SessionVenue(const node::ThreadedVenueConfig& config) : config_(config) {}

SessionVenue::SessionVenue(BrokerFactory broker) : broker_factory_(std::move(broker)) {
  // Never called when empty: seeds() tells the two kinds apart, so an empty factory gets one
  // that refuses.
  if (!broker_factory_) {
    broker_factory_ = [] { return std::unique_ptr<execution::ExecutionClient>(); };
  }
}

execution::ExecutionClient* SessionVenue::live_client() const {
  if (venue_) return venue_.get();
  return broker_.get();
}

Duration SessionVenue::ExpectedLatency() const {
  if (broker_) return broker_->ExpectedLatency();
  return config_.venue.latency;
}

SessionVenue::~SessionVenue() = default;

void SessionVenue::AddInstrument(const Instrument& instrument) {
  instruments_.push_back(instrument);
  if (auto* client = live_client()) client->AddInstrument(instrument);
}

uint64_t SessionVenue::Submit(const Order& order) {
  if (auto* client = live_client()) return client->Submit(order);
  if (order.id.value >= sent_.size()) sent_.resize(order.id.value + 1, false);
  sent_[order.id.value] = true;
  return 0;  // as the live venue: the ticket comes with the order's first (logged) report
}

Status SessionVenue::Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) {
  if (auto* client = live_client()) return client->Cancel(id, venue_order_id, now);
  return Status::Ok();  // the live venue accepts every cancel; its fate is in the logged reports
}

Status SessionVenue::SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                                   std::optional<Price> take_profit) {
  if (auto* client = live_client())
    return client->SetProtection(instrument, stop_loss, take_profit);
  return Status::Ok();
}

Status SessionVenue::SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                                           std::optional<Price> stop_loss,
                                           std::optional<Price> take_profit) {
  if (auto* client = live_client()) {
    return client->SetPositionProtection(instrument, position_ticket, stop_loss, take_profit);
  }
  return Status::Ok();
}

Result<execution::AccountState> SessionVenue::Snapshot() const {
  if (auto* client = live_client()) return client->Snapshot();
  if (!seeded_) {
    return FailedPrecondition(
        "the session's venue is replaying its log and holds no account: only a logged "
        "reconciliation gives it one");
  }
  return *seeded_;
}

Result<std::vector<ExecutionReport>> SessionVenue::Recover(
    std::span<const Order> unfinished, int64_t venue_from_msc,
    std::span<const uint64_t> known_exec_ids) {
  if (auto* client = live_client()) {
    return client->Recover(unfinished, venue_from_msc, known_exec_ids);
  }
  return std::vector<ExecutionReport>{};
}

void SessionVenue::OnTick(const Tick& tick) {
  if (auto* client = live_client()) client->OnTick(tick);
}
void SessionVenue::OnBar(const Bar& bar) {
  if (auto* client = live_client()) client->OnBar(bar);
}
void SessionVenue::OnBarClosed(const Bar& bar) {
  if (auto* client = live_client()) client->OnBarClosed(bar);
}

Status SessionVenue::Seed(const execution::AccountState& account, Timestamp now) {
  if (venue_) return venue_->Seed(account, now);
  if (broker_) return FailedPrecondition("a broker's account cannot be seeded");
  seeded_ = account;
  return Status::Ok();
}

Status SessionVenue::GoLive(const execution::AccountState& account, Timestamp now) {
  if (live()) return FailedPrecondition("the session's venue is already live");
  if (!seeds()) {
    std::unique_ptr<execution::ExecutionClient> broker = broker_factory_();
    if (!broker) {
      return FailedPrecondition(
          "this session trades through a broker, and nothing connects it here: aits live does");
    }
    for (const Instrument& instrument : instruments_) broker->AddInstrument(instrument);
    broker_ = std::move(broker);
    seeded_.reset();
    return Status::Ok();
  }
  auto venue = std::make_unique<node::ThreadedVenue>(config_);
  for (const Instrument& instrument : instruments_) venue->AddInstrument(instrument);
  // Only what a broker can hold: an order without a ticket never reached the venue (its report
  // was lost when the last run stopped), and reconciliation finds it missing.
  execution::AccountState held;
  held.positions = account.positions;
  held.balance = account.balance;
  for (const execution::WorkingOrder& order : account.orders) {
    if (order.ticket != 0 && order.type != OrderType::kMarket && order.price) {
      held.orders.push_back(order);
    }
  }
  AITS_RETURN_IF_ERROR(venue->Seed(held, now));
  venue_ = std::move(venue);
  seeded_.reset();
  return Status::Ok();
}

}  // namespace aits::session
