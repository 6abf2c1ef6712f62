#include "aits/node/threaded_venue.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <type_traits>
#include <utility>

#include "aits/portfolio/portfolio.h"

namespace aits::node {
namespace {

using Steady = std::chrono::steady_clock;

// How long the venue waits for a call when it holds no report (Stop closes the queue, which
// wakes it at once; this only bounds a wait nobody ends).
constexpr std::chrono::milliseconds kIdleWait{50};
// How soon it retries a report the node's inbox had no room for.
constexpr std::chrono::microseconds kFullRetry{50};

// The venue's account, as the SimulatedVenue asks for it: its own portfolio, booked with its own
// fills. Used margin is the portfolio's at the latest quote (the thread has no hot path to save).
class AccountView final : public execution::AccountOracle {
 public:
  explicit AccountView(const portfolio::Portfolio& portfolio) : portfolio_(portfolio) {}
  Money FreeMargin() const override { return portfolio_.account().free_margin; }
  Money MarginRequired(const Instrument& instrument, Quantity lots, Price price) const override {
    return portfolio_.MarginRequired(instrument, lots, price);
  }
  Money NotionalInAccount(const Instrument& instrument, Quantity lots, Price price) const override {
    return portfolio_.NotionalInAccount(instrument, lots, price);
  }
  Money Balance() const override { return portfolio_.account().balance; }
  Money Equity() const override { return portfolio_.Equity(); }
  Money UsedMargin() const override { return portfolio_.account().margin; }

 private:
  const portfolio::Portfolio& portfolio_;
};

}  // namespace

Status ThreadedVenueConfig::Validate() const {
  AITS_RETURN_IF_ERROR(venue.Validate());
  if (account_currency.empty()) return InvalidArgument("venue: account currency is not set");
  if (initial_balance.raw() <= 0) {
    return InvalidArgument("venue: balance " + initial_balance.ToString() + " is not positive");
  }
  if (!(leverage >= 0.01 && leverage <= 10'000)) {
    return InvalidArgument("venue: leverage " + std::to_string(leverage) +
                           " is outside 0.01 .. 10000");
  }
  if (report_latency.count() < 0) {
    return InvalidArgument("venue: report latency " + std::to_string(report_latency.count()) +
                           " ns is negative");
  }
  if (processing_delay.count() < 0) {
    return InvalidArgument("venue: processing delay " + std::to_string(processing_delay.count()) +
                           " ns is negative");
  }
  if (answer_timeout.count() <= 0) {
    return InvalidArgument("venue: answer timeout " + std::to_string(answer_timeout.count()) +
                           " ns is not positive");
  }
  if (queue_capacity < 2) {
    return InvalidArgument("venue: queue capacity " + std::to_string(queue_capacity) +
                           " is below 2");
  }
  return Status::Ok();
}

// Everything the venue's thread owns. Reports the SimulatedVenue makes (from inside the calls
// the thread applies) are booked on the venue's account if they fill, and held until due.
class ThreadedVenue::Desk final : public execution::ExecutionEvents {
 public:
  explicit Desk(const ThreadedVenueConfig& config)
      : latency_(config.report_latency),
        account_(config.account_currency, config.initial_balance, config.leverage,
                 config.venue.account_mode),
        view_(account_),
        venue_(config.venue, *this, view_) {}

  void Apply(Call& call, std::atomic<uint64_t>& refused_cancels,
             std::atomic<uint64_t>& refused_protections) {
    std::visit(
        [&](auto& item) {
          using T = std::decay_t<decltype(item)>;
          if constexpr (std::is_same_v<T, Tick>) {
            // Marked first, as the kernel does, so the venue's checks see this tick's rates.
            account_.OnTick(item);
            venue_.OnTick(item);
          } else if constexpr (std::is_same_v<T, Bar>) {
            Tick open;
            open.ts = item.open_time;
            open.instrument = item.instrument;
            open.bid = item.bid.open;
            open.ask = item.ask.open;
            account_.OnTick(open);
            venue_.OnBar(item);
            account_.OnBar(item);
          } else if constexpr (std::is_same_v<T, BarClosed>) {
            venue_.OnBarClosed(item.bar);
          } else if constexpr (std::is_same_v<T, CancelCall>) {
            if (!venue_.Cancel(item.id, item.ticket, item.now).ok()) {
              refused_cancels.fetch_add(1, std::memory_order_relaxed);
            }
          } else if constexpr (std::is_same_v<T, ProtectionCall>) {
            const Status status =
                item.by_ticket
                    ? venue_.SetPositionProtection(item.instrument, item.position_ticket,
                                                   item.stop_loss, item.take_profit)
                    : venue_.SetProtection(item.instrument, item.stop_loss, item.take_profit);
            if (!status.ok()) {
              refused_protections.fetch_add(1, std::memory_order_relaxed);
            }
          } else if constexpr (std::is_same_v<T, std::unique_ptr<Order>>) {
            (void)venue_.Submit(*item);  // the ticket travels in the reports
          } else if constexpr (std::is_same_v<T, std::unique_ptr<Query>>) {
            item->answer.set_value(Answer(item->seed, item->now));
          } else {
            // A bad instrument is the kernel's to refuse (Kernel::AddInstrument validates first);
            // the venue keeps whatever the kernel accepted.
            (void)account_.AddInstrument(*item);
            venue_.AddInstrument(*item);
            instruments_.push_back(std::move(item));  // the venue keeps references
          }
        },
        call);
  }

  // Pushes the reports that are due (all of them if `all`) without waiting. Returns false if the
  // node's inbox was full (the rest are held for a retry).
  bool Post(ProducerLink& link, bool all, std::atomic<uint64_t>& posted,
            std::atomic<uint64_t>& lost, std::atomic<uint64_t>& full) {
    const SteadyTime now = Steady::now();
    while (!held_.empty() && (all || held_.front().due <= now)) {
      NodeEvent& event = held_.front().event;
      std::visit(
          [&](auto& item) {
            if constexpr (requires { item.pushed_ns; }) item.pushed_ns = SteadyNowNs();
          },
          event);
      switch (link.TrySend(std::move(event))) {
        case PushResult::kAccepted:
          posted.fetch_add(1, std::memory_order_relaxed);
          break;
        case PushResult::kClosed:
          lost.fetch_add(1, std::memory_order_relaxed);
          break;
        case PushResult::kFull:
          full.fetch_add(1, std::memory_order_relaxed);
          return false;
      }
      held_.pop_front();
    }
    return true;
  }

  // Counts what is still held as lost (the loop has stopped taking reports).
  void Abandon(std::atomic<uint64_t>& lost) {
    lost.fetch_add(held_.size(), std::memory_order_relaxed);
    held_.clear();
  }

  // A query: the seed (if any) applied, then the snapshot.
  Result<execution::AccountState> Answer(const std::optional<execution::AccountState>& seed,
                                         Timestamp now) {
    if (seed) {
      AITS_RETURN_IF_ERROR(venue_.Seed(*seed, now));
      // The venue's own account holds what the broker holds: its positions replaced, its balance
      // the seeded one (the SimulatedVenue keeps that as its ledger too).
      const bool hedging = account_.account_mode() == AccountMode::kHedging;
      for (const std::unique_ptr<Instrument>& instrument : instruments_) {
        if (hedging) {
          const std::vector<HedgedPosition> held = account_.positions(instrument->id);
          for (const HedgedPosition& position : held) {
            AITS_RETURN_IF_ERROR(
                account_.SetPosition(instrument->id, position.ticket, Quantity(), Price(), now));
          }
        } else if (!account_.position(instrument->id).IsFlat()) {
          AITS_RETURN_IF_ERROR(account_.SetPosition(instrument->id, 0, Quantity(), Price(), now));
        }
      }
      // Tickets as the venue numbered them (a seeded position without one got the next).
      auto seeded = venue_.Snapshot();
      if (!seeded.ok()) return seeded.status();
      for (const execution::HeldPosition& position : seeded->positions) {
        AITS_RETURN_IF_ERROR(account_.SetPosition(position.instrument, position.ticket,
                                                  position.quantity, position.open_price, now));
      }
      if (seed->balance) account_.SetBalance(*seed->balance);
    }
    return venue_.Snapshot();
  }

  std::optional<SteadyTime> next_due() const {
    if (held_.empty()) return std::nullopt;
    return held_.front().due;
  }

  void set_producer(ProducerId id) { producer_ = id; }

  // ExecutionEvents: from inside the venue's calls, on the venue's thread.
  void OnExecutionReport(const ExecutionReport& report) override {
    if (report.kind == ExecKind::kPartiallyFilled || report.kind == ExecKind::kFilled) {
      Fill fill;
      fill.order_id = report.order_id;
      fill.client_order_id = report.client_order_id;
      fill.instrument = report.instrument;
      fill.side = report.side;
      fill.quantity = report.quantity;
      fill.price = report.price;
      fill.commission = report.commission;
      fill.ts = report.ts;
      fill.reason = report.fill_reason;
      fill.position_ticket = report.position_ticket;  // a hedging account books it per position
      account_.OnFill(fill);
    }
    Hold(ExecutionReportEvent{producer_, std::make_unique<ExecutionReport>(report), 0});
  }
  void OnAccountReport(const AccountReport& report) override {
    Hold(AccountReportEvent{producer_, std::make_unique<AccountReport>(report), 0});
  }

 private:
  struct Held {
    SteadyTime due;
    NodeEvent event;
  };
  void Hold(NodeEvent&& event) {
    held_.push_back(Held{Steady::now() + latency_, std::move(event)});
  }

  std::chrono::nanoseconds latency_;
  portfolio::Portfolio account_;
  AccountView view_;
  execution::SimulatedVenue venue_;
  std::vector<std::unique_ptr<Instrument>> instruments_;
  std::deque<Held> held_;  // in the order made; one latency, so due times never decrease
  ProducerId producer_ = 0;
};

ThreadedVenue::ThreadedVenue(const ThreadedVenueConfig& config)
    : config_(config),
      calls_in_(std::max<size_t>(config.queue_capacity, 2)),
      desk_(std::make_unique<Desk>(config)) {}

ThreadedVenue::~ThreadedVenue() { Stop(); }

void ThreadedVenue::Queue(Call&& call) const {
  // Before Start nobody drains the queue: waiting for room would never end.
  const PushResult pushed =
      started_ ? calls_in_.Push(std::move(call)) : calls_in_.TryPush(std::move(call));
  if (pushed != PushResult::kAccepted) refused_calls_.fetch_add(1, std::memory_order_relaxed);
}

void ThreadedVenue::AddInstrument(const Instrument& instrument) {
  Queue(std::make_unique<Instrument>(instrument));
}

uint64_t ThreadedVenue::Submit(const Order& order) {
  Queue(std::make_unique<Order>(order));
  return 0;
}

Status ThreadedVenue::Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) {
  Queue(CancelCall{id, venue_order_id, now});
  return Status::Ok();
}

Status ThreadedVenue::SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                                    std::optional<Price> take_profit) {
  Queue(
      ProtectionCall{.instrument = instrument, .stop_loss = stop_loss, .take_profit = take_profit});
  return Status::Ok();
}

Status ThreadedVenue::SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                                            std::optional<Price> stop_loss,
                                            std::optional<Price> take_profit) {
  Queue(ProtectionCall{.instrument = instrument,
                       .by_ticket = true,
                       .position_ticket = position_ticket,
                       .stop_loss = stop_loss,
                       .take_profit = take_profit});
  return Status::Ok();
}

Result<execution::AccountState> ThreadedVenue::Ask(std::optional<execution::AccountState> seed,
                                                   Timestamp now) const {
  auto query = std::make_unique<Query>();
  query->seed = std::move(seed);
  query->now = now;
  std::future<Result<execution::AccountState>> answer = query->answer.get_future();
  if (stopped_) {
    refused_calls_.fetch_add(1, std::memory_order_relaxed);
    return FailedPrecondition("venue: stopped; it cannot report or take an account any more");
  }
  if (!started_) {
    // No thread yet: this one is the venue's until Start (which happens after), so it applies
    // what is queued, in order, and answers.
    Call call;
    while (calls_in_.TryPop(call)) {
      desk_->Apply(call, refused_cancels_, refused_protections_);
      calls_.fetch_add(1, std::memory_order_relaxed);
    }
    Call asked(std::move(query));
    desk_->Apply(asked, refused_cancels_, refused_protections_);
    return answer.get();
  }
  if (calls_in_.Push(Call(std::move(query))) != PushResult::kAccepted) {
    refused_calls_.fetch_add(1, std::memory_order_relaxed);
    return FailedPrecondition("venue: its queue is closed; it cannot report or take an account");
  }
  if (answer.wait_for(config_.answer_timeout) != std::future_status::ready) {
    // The query stays queued; its answer, if it ever comes, goes nowhere.
    // Internal: the venue's own thread not answering is a fault of the node, not of its input.
    return Internal(
        "venue: no answer to an account query within " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(config_.answer_timeout).count()) +
        " ms (answer_timeout)");
  }
  return answer.get();
}

Result<execution::AccountState> ThreadedVenue::Snapshot() const {
  return Ask(std::nullopt, Timestamp{});
}

Status ThreadedVenue::Seed(const execution::AccountState& state, Timestamp now) {
  return Ask(state, now).status();
}

void ThreadedVenue::OnTick(const Tick& tick) { Queue(Call(tick)); }
void ThreadedVenue::OnBar(const Bar& bar) { Queue(Call(bar)); }
void ThreadedVenue::OnBarClosed(const Bar& bar) { Queue(BarClosed{bar}); }

Status ThreadedVenue::Start(ProducerLink link) {
  if (started_) return FailedPrecondition("the venue has already been started");
  started_ = true;
  desk_->set_producer(link.id());
  thread_ = std::thread([this, link] { Run(link); });
  return Status::Ok();
}

void ThreadedVenue::Stop() {
  stopped_ = true;
  calls_in_.Close();
  if (thread_.joinable()) thread_.join();
}

void ThreadedVenue::ApplyOnThread(Call& call) {
  if (config_.processing_delay.count() > 0) std::this_thread::sleep_for(config_.processing_delay);
  desk_->Apply(call, refused_cancels_, refused_protections_);
  calls_.fetch_add(1, std::memory_order_relaxed);
}

void ThreadedVenue::Run(ProducerLink link) {
  Call call;
  for (;;) {
    // Reports first: a due report waits for nothing the venue could still be given.
    const bool room = desk_->Post(link, /*all=*/false, posted_, lost_, inbox_full_);
    SteadyTime wake = Steady::now() + kIdleWait;
    if (!room) {
      wake = Steady::now() + kFullRetry;
    } else if (const std::optional<SteadyTime> due = desk_->next_due()) {
      wake = std::min(wake, *due);
    }
    const PopResult popped = calls_in_.WaitPop(call, wake);
    if (popped == PopResult::kClosed) break;
    if (popped == PopResult::kEvent) {
      ApplyOnThread(call);
      // Drained in a batch: ticks come in bursts, and each report's due time was set when made.
      while (calls_in_.TryPop(call)) ApplyOnThread(call);
    }
  }
  // Stopping: whatever the inbox takes now, latency or not; the rest is lost to this run.
  if (!desk_->Post(link, /*all=*/true, posted_, lost_, inbox_full_)) desk_->Abandon(lost_);
}

}  // namespace aits::node
