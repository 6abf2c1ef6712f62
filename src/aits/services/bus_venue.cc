#include "aits/services/bus_venue.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include "aits/bus/consumer_metrics.h"
#include "aits/core/clock.h"
#include "aits/core/instance_tag.h"
#include "aits/core/resilience.h"
#include "aits/proto/messages.h"
#include "aits/services/market_stream.h"

namespace aits::services {
namespace {

using Steady = std::chrono::steady_clock;

// How long a reader waits in one Fetch before it looks at its stop flag again.
constexpr Duration kPoll = Duration::Millis(50);
// Commands fetched at once by the bridge: all of a fetch is applied before the stop flag is
// looked at, so that nothing fetched waits out ack_wait for the next bridge.
constexpr int kCommandFetch = 16;
constexpr int kReportFetch = 64;
// A restarted owner's drain of the reports stored while it was down: how long a fetch waits for
// the first (the stream holding none new answers empty after it).
constexpr Duration kDrainWait = Duration::Millis(200);

Result<std::string> ExecSubject(std::string_view market, std::string_view what) {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market name", market));
  return "exec." + std::string(market) + "." + std::string(what);
}

// One message, stored before the call returns, retried with the same id while the bus is away.
Status PublishOne(bus::MessageBus& bus, CircuitBreaker& breaker, std::string_view subject,
                  std::string_view id, std::string_view payload,
                  std::string_view traceparent = {}) {
  const bus::OutgoingMessage message{subject, id, payload, traceparent};
  return bus::PublishInOrder(bus, std::span<const bus::OutgoingMessage>(&message, 1), breaker)
      .status();
}

// A command's span attributes (the owner's exec.command, the gateway's gateway.command).
void DescribeCommand(trace::Span& span, std::string_view subject, const VenueCommand& command) {
  if (!span.recording()) return;
  span.SetAttribute("messaging.destination.name", subject);
  span.SetAttribute("aits.command", ToString(command.kind));
  span.SetAttribute("aits.command_id", command.id);
  if (command.kind == VenueCommand::Kind::kSubmit) {
    span.SetAttribute("aits.order_id", static_cast<int64_t>(command.order.id.value));
    span.SetAttribute("aits.client_order_id", command.order.request.client_order_id);
  } else if (command.kind == VenueCommand::Kind::kCancel) {
    span.SetAttribute("aits.order_id", static_cast<int64_t>(command.order_id.value));
  }
}

std::string Millis(Duration duration) { return std::to_string(duration.ns / 1'000'000) + " ms"; }

}  // namespace

Result<std::string> ExecCommandsSubject(std::string_view market) {
  return ExecSubject(market, "commands");
}
Result<std::string> ExecReportsSubject(std::string_view market) {
  return ExecSubject(market, "reports");
}
Result<std::string> ExecAnswersSubject(std::string_view market) {
  return ExecSubject(market, "answers");
}

Status EnsureExecStream(bus::MessageBus& bus, int replicas) {
  bus::StreamConfig config;
  config.name = std::string(kExecStream);
  config.subjects = {"exec.>"};
  config.replicas = replicas;
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  return EnsureDeadLetterStream(bus, replicas);
}

Status BusVenueOptions::Validate() const {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market name", market));
  if (scope.empty() || scope.find(':') != std::string::npos) {
    return InvalidArgument("bus venue: scope '" + scope +
                           "' must name the account's session, without ':' (the command ids "
                           "carry it: an OrderId restarts at 1 in a new session)");
  }
  if (answer_timeout.ns <= 0) {
    return InvalidArgument("bus venue: answer timeout " + std::to_string(answer_timeout.ns) +
                           " ns is not positive");
  }
  return Status::Ok();
}

Status VenueBridgeOptions::Validate() const {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market name", market));
  if (remember_ids == 0) return InvalidArgument("venue bridge: remember_ids must be at least 1");
  if (ack_wait.ns <= 0) return InvalidArgument("venue bridge: ack_wait must be positive");
  return Status::Ok();
}

// ---- The owner's side ----

BusVenue::BusVenue(bus::MessageBus& bus, const BusVenueOptions& options, std::string commands,
                   std::string reports, std::string answers,
                   std::unique_ptr<bus::Consumer> consumer)
    : bus_(bus),
      options_(options),
      commands_subject_(std::move(commands)),
      reports_subject_(std::move(reports)),
      answers_subject_(std::move(answers)),
      incarnation_(NewInstanceTag()),
      reports_(std::move(consumer)) {
  sender_ = std::thread([this] { RunSender(); });
}

Result<std::unique_ptr<BusVenue>> BusVenue::Create(bus::MessageBus& bus,
                                                   const BusVenueOptions& options) {
  AITS_RETURN_IF_ERROR(options.Validate());
  AITS_ASSIGN_OR_RETURN(std::string commands, ExecCommandsSubject(options.market));
  AITS_ASSIGN_OR_RETURN(std::string reports, ExecReportsSubject(options.market));
  AITS_ASSIGN_OR_RETURN(std::string answers, ExecAnswersSubject(options.market));
  bus::ConsumerConfig config;
  config.stream = std::string(kExecStream);
  config.durable = "exec-" + options.market + "-owner";
  config.filter_subject = reports;
  // Reports stored before this account's owner first read them are of no order it sent.
  config.start = bus::StartAt::kNew;
  config.ack_all = true;
  // A restarted owner's Recover takes what was stored while it was down without acknowledging
  // it (DrainStored): at most this many reports, the rest comes through the reader.
  config.max_ack_pending = 65'536;
  config.push = options.push;
  Result<std::unique_ptr<bus::Consumer>> consumer =
      bus::ConsumeMetered(bus, config, options.metrics, "owner");
  if (!consumer.ok()) return consumer.status().WithContext("bus venue: reading " + reports);
  return std::unique_ptr<BusVenue>(new BusVenue(bus, options, std::move(commands),
                                                std::move(reports), std::move(answers),
                                                std::move(consumer).value()));
}

BusVenue::~BusVenue() {
  Stop();
  {
    const std::lock_guard<std::mutex> lock(queue_mutex_);
    closing_ = true;
  }
  queue_ready_.notify_one();
  if (sender_.joinable()) sender_.join();
}

void BusVenue::AddInstrument(const Instrument& /*instrument*/) {}

std::string BusVenue::IdOf(const std::string& command) const {
  return options_.market + ":" + options_.scope + ":" + command;
}

void BusVenue::Send(VenueCommand command) const {
  std::string traceparent;
  if (options_.tracer != nullptr) {
    // Under the decision whose order this is; a command of the kernel's own (a stop-out's
    // close, the operator's) starts a trace of its own.
    trace::Span span = options_.tracer->StartChild("exec.command", trace::SpanKind::kProducer,
                                                   trace::CurrentAsParent());
    DescribeCommand(span, commands_subject_, command);
    options_.tracer->End(span);
    traceparent = span.traceparent();
  }
  {
    const std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back({std::move(command), std::move(traceparent)});
  }
  queue_ready_.notify_one();
}

uint64_t BusVenue::Submit(const Order& order) {
  VenueCommand command;
  command.kind = VenueCommand::Kind::kSubmit;
  command.id =
      IdOf("submit:" + std::to_string(order.id.value) + ":" + order.request.client_order_id);
  command.order = order;
  Send(std::move(command));
  return 0;
}

Status BusVenue::Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) {
  VenueCommand command;
  command.kind = VenueCommand::Kind::kCancel;
  command.id =
      IdOf("cancel:" + std::to_string(id.value) + ":" + std::to_string(++cancels_[id.value]));
  command.order_id = id;
  command.venue_order_id = venue_order_id;
  command.ts = now;
  Send(std::move(command));
  return Status::Ok();
}

Status BusVenue::SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) {
  VenueCommand command;
  command.kind = VenueCommand::Kind::kProtection;
  command.id = IdOf("sltp:" + std::to_string(instrument.value) + ":0:" + incarnation_ + ":" +
                    std::to_string(++protections_));
  command.instrument = instrument;
  command.stop_loss = stop_loss;
  command.take_profit = take_profit;
  Send(std::move(command));
  return Status::Ok();
}

Status BusVenue::SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                                       std::optional<Price> stop_loss,
                                       std::optional<Price> take_profit) {
  VenueCommand command;
  command.kind = VenueCommand::Kind::kProtection;
  command.id =
      IdOf("sltp:" + std::to_string(instrument.value) + ":" + std::to_string(position_ticket) +
           ":" + incarnation_ + ":" + std::to_string(++protections_));
  command.instrument = instrument;
  command.by_ticket = true;
  command.position_ticket = position_ticket;
  command.stop_loss = stop_loss;
  command.take_profit = take_profit;
  Send(std::move(command));
  return Status::Ok();
}

Result<VenueReport> BusVenue::Ask(VenueCommand request, std::string_view what,
                                  VenueReport::Kind answered_by) const {
  request.id = IdOf(std::string(what) + ":" + incarnation_ + ":" + std::to_string(++requests_));
  // Reading from "new" before the request goes: the answer cannot come before the reader.
  bus::ConsumerConfig config;
  config.stream = std::string(kExecStream);
  config.filter_subject = answers_subject_;
  config.start = bus::StartAt::kNew;
  config.ack_all = true;
  Result<std::unique_ptr<bus::Consumer>> answers = bus_.Consume(config);
  if (!answers.ok()) {
    return answers.status().WithContext("bus venue: " + std::string(what) + " request");
  }
  const std::string id = request.id;
  // The bridge drops a request nobody waits for any more (one that sat in the stream while no
  // bridge ran): a Recover applied late would tell the venue of orders long settled.
  request.ts = SystemWallClock().Now() + options_.answer_timeout;
  Send(std::move(request));
  const Steady::time_point deadline =
      Steady::now() + std::chrono::nanoseconds(options_.answer_timeout.ns);
  while (Steady::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Steady::now());
    AITS_ASSIGN_OR_RETURN(
        std::vector<bus::Delivery> got,
        (*answers)->Fetch(kReportFetch, Duration{std::min(left.count(), kPoll.ns)}));
    for (bus::Delivery& delivery : got) {
      Result<VenueReport> answer = proto::Decode<VenueReport>(delivery.payload);
      if (!answer.ok()) {
        // Every asker sees it; the DEAD copy's id keeps it one there.
        dead_lettered_.fetch_add(1, std::memory_order_relaxed);
        AITS_RETURN_IF_ERROR(DeadLetter(bus_, answers_subject_, delivery, answer.status()));
        continue;
      }
      if (answer->answers != id) continue;  // another asker's
      if (!answer->error.ok()) {
        return answer->error.WithContext("the gateway's venue: " + std::string(what));
      }
      if (answer->kind != answered_by) {
        return DataLoss("bus venue: the answer to " + id + " is a " +
                        std::string(ToString(answer->kind)));
      }
      return std::move(answer).value();
    }
    if (!got.empty()) AITS_RETURN_IF_ERROR((*answers)->Ack(got.back().sequence));
  }
  return DeadlineExceeded("bus venue: no answer to " + std::string(what) + " request " + id +
                          " on " + answers_subject_ + " within " + Millis(options_.answer_timeout) +
                          " (is the gateway role's venue bridge running on market " +
                          options_.market + "?)");
}

Result<execution::AccountState> BusVenue::Snapshot() const {
  VenueCommand request;
  request.kind = VenueCommand::Kind::kSnapshot;
  AITS_ASSIGN_OR_RETURN(VenueReport answer,
                        Ask(std::move(request), "snapshot", VenueReport::Kind::kSnapshot));
  if (answer.terms) terms_ = std::move(answer.terms);
  return std::move(answer.snapshot);
}

Result<std::optional<VenueReport>> BusVenue::Take(const bus::Delivery& delivery) {
  Result<VenueReport> report = proto::Decode<VenueReport>(delivery.payload);
  Status bad = report.status();
  if (report.ok() && report->kind != VenueReport::Kind::kExecution &&
      report->kind != VenueReport::Kind::kAccount) {
    bad = DataLoss("a venue report of kind " + std::string(ToString(report->kind)) +
                   " on the reports subject (answers go to " + answers_subject_ + ")");
  }
  if (bad.ok()) return std::optional<VenueReport>(std::move(report).value());
  dead_lettered_.fetch_add(1, std::memory_order_relaxed);
  AITS_RETURN_IF_ERROR(DeadLetter(bus_, reports_subject_, delivery, bad));
  return std::optional<VenueReport>();
}

Result<std::vector<ExecutionReport>> BusVenue::DrainStored() {
  std::vector<ExecutionReport> stored;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> got,
                          reports_->Fetch(kReportFetch, kDrainWait));
    if (got.empty()) break;
    for (const bus::Delivery& delivery : got) {
      if (delivery.sequence <= last_pushed_) {
        duplicates_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      AITS_ASSIGN_OR_RETURN(std::optional<VenueReport> report, Take(delivery));
      last_pushed_ = delivery.sequence;
      // An account report says what the account is; the start's snapshot says it later.
      if (!report || report->kind != VenueReport::Kind::kExecution) continue;
      stored.push_back(std::move(report->execution));
      drained_.fetch_add(1, std::memory_order_relaxed);
    }
    if (got.back().pending == 0) break;  // caught up with the stream
  }
  return stored;
}

Result<std::vector<ExecutionReport>> BusVenue::Recover(std::span<const Order> unfinished,
                                                       int64_t venue_from_msc,
                                                       std::span<const uint64_t> known_exec_ids) {
  // What the venue reported while this owner was down comes first: it is older than anything
  // the bridge can answer now, and it holds what no terminal query finds again (a deal of no
  // order of the node's, such as an SL close, when the log has no server time to catch up from).
  std::vector<ExecutionReport> reports;
  const auto drain = [&]() -> Status {
    Result<std::vector<ExecutionReport>> stored = DrainStored();
    if (!stored.ok()) return stored.status().WithContext("bus venue: reading " + reports_subject_);
    for (ExecutionReport& report : *stored) reports.push_back(std::move(report));
    return Status::Ok();
  };
  if (!started_) AITS_RETURN_IF_ERROR(drain());
  if (!unfinished.empty() || venue_from_msc > 0) {
    AITS_RETURN_IF_ERROR(AskRecover(unfinished, venue_from_msc, known_exec_ids, &reports));
  }
  if (started_) return reports;
  // An order the log has as sent and unanswered may still be at the venue (a terminal takes its
  // time over a trade request); the gateway that sent it reports its fate when it comes, not in
  // the answer. Its report, waited for here up to answer_timeout, keeps the account the
  // reconciliation compares from differing from the log by an order in flight.
  std::set<uint64_t> waiting;
  for (const Order& order : unfinished) {
    if (order.status == OrderStatus::kPendingNew) waiting.insert(order.id.value);
  }
  const auto heard = [&] {
    for (const ExecutionReport& report : reports) waiting.erase(report.order_id.value);
    return waiting.empty();
  };
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.answer_timeout.ns);
  while (!heard() && std::chrono::steady_clock::now() < give_up) {
    AITS_RETURN_IF_ERROR(drain());
  }
  return reports;
}

Status BusVenue::AskRecover(std::span<const Order> unfinished, int64_t venue_from_msc,
                            std::span<const uint64_t> known_exec_ids,
                            std::vector<ExecutionReport>* reports) {
  VenueCommand request;
  request.kind = VenueCommand::Kind::kRecover;
  request.unfinished.assign(unfinished.begin(), unfinished.end());
  request.venue_from_msc = venue_from_msc;
  request.known_exec_ids.assign(known_exec_ids.begin(), known_exec_ids.end());
  AITS_ASSIGN_OR_RETURN(VenueReport answer,
                        Ask(std::move(request), "recover", VenueReport::Kind::kRecovered));
  for (ExecutionReport& report : answer.recovered) reports->push_back(std::move(report));
  return Status::Ok();
}

void BusVenue::RunSender() {
  CircuitBreaker breaker("nats: " + commands_subject_, {}, SystemWallClock());
  std::deque<Queued> sending;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_ready_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing, everything sent
      sending.swap(queue_);
    }
    for (const auto& [command, traceparent] : sending) {
      const Status sent = PublishOne(bus_, breaker, commands_subject_, command.id,
                                     proto::Encode(command), traceparent);
      (sent.ok() ? commands_sent_ : failed_commands_).fetch_add(1, std::memory_order_relaxed);
      if (!sent.ok()) {
        std::fprintf(stderr, "aits: bus venue: command %s not sent: %s\n", command.id.c_str(),
                     sent.ToString().c_str());
      }
    }
    sending.clear();
  }
}

Status BusVenue::Start(node::ProducerLink link) {
  if (started_) return FailedPrecondition("the bus venue has already been started");
  started_ = true;
  reader_ = std::thread([this, link] { RunReader(link); });
  return Status::Ok();
}

void BusVenue::Stop() {
  stopping_.store(true);
  if (reader_.joinable()) reader_.join();
}

Status BusVenue::reader_status() const {
  const std::lock_guard<std::mutex> lock(status_mutex_);
  return reader_status_;
}

void BusVenue::RunReader(node::ProducerLink link) {
  uint64_t& last = last_pushed_;
  const auto fail = [&](const Status& error) {
    {
      const std::lock_guard<std::mutex> lock(status_mutex_);
      reader_status_ = error;
    }
    (void)link.Report(node::ProducerState::kError, error, stopping_);
  };
  while (!stopping_.load()) {
    Result<std::vector<bus::Delivery>> got = reports_->Fetch(kReportFetch, kPoll);
    if (!got.ok()) return fail(got.status().WithContext("bus venue: reading " + reports_subject_));
    bool pushed_all = true;
    for (bus::Delivery& delivery : *got) {
      if (delivery.sequence <= last) {
        duplicates_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      Result<std::optional<VenueReport>> report = Take(delivery);
      if (!report.ok()) return fail(report.status());
      if (!*report) {  // dead-lettered
        last = delivery.sequence;
        continue;
      }
      node::NodeEvent event;
      if ((*report)->kind == VenueReport::Kind::kExecution) {
        trace::SpanContext traced;
        if (options_.tracer != nullptr && !delivery.traceparent.empty()) {
          trace::Span span = options_.tracer->Start("exec.report", trace::SpanKind::kConsumer,
                                                    delivery.traceparent);
          if (span.recording()) {
            const ExecutionReport& exec = (*report)->execution;
            span.SetAttribute("messaging.destination.name", reports_subject_);
            span.SetAttribute("aits.exec_kind", ToString(exec.kind));
            span.SetAttribute("aits.order_id", static_cast<int64_t>(exec.order_id.value));
            span.SetAttribute("aits.client_order_id", exec.client_order_id);
          }
          options_.tracer->End(span);
          traced = span.context;
        }
        event = node::ExecutionReportEvent{
            link.id(), std::make_unique<ExecutionReport>(std::move((*report)->execution)),
            node::SteadyNowNs(), traced};
      } else {
        event = node::AccountReportEvent{
            link.id(), std::make_unique<AccountReport>((*report)->account), node::SteadyNowNs()};
      }
      if (!link.Send(std::move(event), stopping_)) {
        pushed_all = false;  // stopping or the loop closed: the rest comes to the next reader
        break;
      }
      reports_pushed_.fetch_add(1, std::memory_order_relaxed);
      last = delivery.sequence;
    }
    // One ack for everything up to the last report in the inbox (ack_all).
    if (last > 0 && !got->empty()) {
      if (Status acked = reports_->Ack(last); !acked.ok()) return fail(acked);
    }
    if (!pushed_all) return;
  }
}

// ---- The gateway's side ----

namespace {

std::string BridgeDurable(std::string_view market) {
  return "exec-" + std::string(market) + "-bridge";
}

// The ids of the commands applied, the oldest forgotten beyond `capacity`.
class AppliedIds {
 public:
  explicit AppliedIds(size_t capacity) : capacity_(capacity) {}
  bool Contains(const std::string& id) const { return ids_.contains(id); }
  void Add(const std::string& id) {
    if (!ids_.insert(id).second) return;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  size_t capacity_;
  std::unordered_set<std::string> ids_;
  std::deque<std::string> order_;
};

// Publishes what the venue pushes into the bridge's inbox, on a thread of its own, until told
// to finish (then what the inbox holds goes too).
// The spans under which the bridge applied its submits, by the order's client id and by its
// id ("#<id>": a venue that does not echo client ids), for the reports of those orders. Filled
// by the command loop, read by the report publisher. Bounded: the oldest forgotten.
class CommandSpans {
 public:
  void Add(const Order& order, const trace::SpanContext& span) {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (std::string key : {order.request.client_order_id, "#" + std::to_string(order.id.value)}) {
      if (key.empty()) continue;
      if (spans_.insert_or_assign(key, span).second) keys_.push_back(std::move(key));
    }
    while (keys_.size() > kMaxOrders * 2) {
      spans_.erase(keys_.front());
      keys_.pop_front();
    }
  }
  // The span of the submit whose order `report` is about (invalid: none known).
  trace::SpanContext Of(const ExecutionReport& report) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    auto found =
        report.client_order_id.empty() ? spans_.end() : spans_.find(report.client_order_id);
    if (found == spans_.end() && report.order_id.value != 0) {
      found = spans_.find("#" + std::to_string(report.order_id.value));
    }
    return found == spans_.end() ? trace::SpanContext{} : found->second;
  }

 private:
  static constexpr size_t kMaxOrders = 4096;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, trace::SpanContext> spans_;
  std::deque<std::string> keys_;
};

class ReportPublisher {
 public:
  ReportPublisher(bus::MessageBus& bus, node::Inbox<node::NodeEvent>& inbox, std::string subject,
                  const VenueBridgeOptions& options, const CommandSpans& spans)
      : bus_(bus),
        inbox_(inbox),
        subject_(std::move(subject)),
        options_(options),
        spans_(spans),
        incarnation_(NewInstanceTag()),
        breaker_("nats: " + subject_, {}, SystemWallClock()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ReportPublisher() { (void)Finish(); }

  // Stops after what the inbox holds now; the first error, if one ended it.
  Status Finish() {
    finishing_.store(true);
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  // Whether it ended on an error (the command loop stops then). Any thread.
  bool failed() const { return failed_.load(); }
  uint64_t reports() const { return reports_; }          // after Finish
  uint64_t market_data() const { return market_data_; }  // after Finish

 private:
  void Run() {
    node::NodeEvent event;
    while (!finishing_.load()) {
      const node::PopResult popped =
          inbox_.WaitPop(event, Steady::now() + std::chrono::nanoseconds(kPoll.ns));
      if (popped == node::PopResult::kClosed) return;
      if (popped == node::PopResult::kEvent && !Handled(event)) return;
    }
    // What the inbox holds now, not what a venue that goes on pushing (a feed's ticks) adds.
    for (size_t left = inbox_.SizeApprox(); left > 0 && inbox_.TryPop(event); --left) {
      if (!Handled(event)) return;
    }
  }

  bool Handled(node::NodeEvent& event) {
    status_ = Handle(event);
    if (status_.ok()) return true;
    failed_.store(true);
    return false;
  }

  Status Handle(node::NodeEvent& event) {
    VenueReport report;
    if (auto* execution = std::get_if<node::ExecutionReportEvent>(&event)) {
      report.kind = VenueReport::Kind::kExecution;
      report.execution = std::move(*execution->report);
    } else if (auto* account = std::get_if<node::AccountReportEvent>(&event)) {
      report.kind = VenueReport::Kind::kAccount;
      report.account = *account->report;
    } else if (auto* tick = std::get_if<node::MarketData>(&event)) {
      ++market_data_;
      return options_.on_market_data ? options_.on_market_data(*tick) : Status::Ok();
    } else if (auto* state = std::get_if<node::ProducerStatus>(&event)) {
      if (options_.on_status) options_.on_status(*state);
      return Status::Ok();
    } else {
      return Status::Ok();  // an operator command: the gateway role takes none from its venue
    }
    const std::string id =
        options_.market + ":report:" + incarnation_ + ":" + std::to_string(++reports_);
    return PublishOne(bus_, breaker_, subject_, id, proto::Encode(report), Traced(report))
        .WithContext("venue bridge: report " + id);
  }

  // The report's span (ended now), under its order's submit's when the bridge applied one that
  // was traced, else a new root; its traceparent, or empty without a tracer.
  std::string Traced(const VenueReport& report) {
    if (options_.tracer == nullptr) return {};
    const bool execution = report.kind == VenueReport::Kind::kExecution;
    const trace::SpanContext command =
        execution ? spans_.Of(report.execution) : trace::SpanContext{};
    trace::Span span =
        options_.tracer->StartChild("gateway.report", trace::SpanKind::kProducer, command);
    if (span.recording()) {
      span.SetAttribute("messaging.destination.name", subject_);
      span.SetAttribute("aits.report", ToString(report.kind));
      if (execution) {
        span.SetAttribute("aits.exec_kind", ToString(report.execution.kind));
        span.SetAttribute("aits.order_id", static_cast<int64_t>(report.execution.order_id.value));
        span.SetAttribute("aits.client_order_id", report.execution.client_order_id);
        span.SetAttribute("aits.venue_order_id",
                          static_cast<int64_t>(report.execution.venue_order_id));
      }
    }
    options_.tracer->End(span);
    return span.traceparent();
  }

  bus::MessageBus& bus_;
  node::Inbox<node::NodeEvent>& inbox_;
  const std::string subject_;
  const VenueBridgeOptions& options_;
  const CommandSpans& spans_;
  const std::string incarnation_;
  CircuitBreaker breaker_;
  std::atomic<bool> finishing_{false};
  std::atomic<bool> failed_{false};
  Status status_;  // the thread's until it is joined
  uint64_t reports_ = 0;
  uint64_t market_data_ = 0;
  std::thread thread_;
};

bool IsRequest(VenueCommand::Kind kind) {
  return kind == VenueCommand::Kind::kSnapshot || kind == VenueCommand::Kind::kRecover;
}

// Applies one decoded command to the venue; an answer for the requests.
std::optional<VenueReport> Apply(const VenueCommand& command, execution::ExecutionClient& venue,
                                 const VenueBridgeOptions& options, VenueBridgeStats& stats) {
  VenueReport answer;
  answer.answers = command.id;
  switch (command.kind) {
    case VenueCommand::Kind::kSubmit:
      (void)venue.Submit(command.order);  // an asynchronous venue's ticket comes in its reports
      return std::nullopt;
    case VenueCommand::Kind::kCancel:
      if (!venue.Cancel(command.order_id, command.venue_order_id, command.ts).ok()) {
        ++stats.refused;
      }
      return std::nullopt;
    case VenueCommand::Kind::kProtection: {
      const Status status =
          command.by_ticket
              ? venue.SetPositionProtection(command.instrument, command.position_ticket,
                                            command.stop_loss, command.take_profit)
              : venue.SetProtection(command.instrument, command.stop_loss, command.take_profit);
      if (!status.ok()) ++stats.refused;
      return std::nullopt;
    }
    case VenueCommand::Kind::kSnapshot: {
      answer.kind = VenueReport::Kind::kSnapshot;
      Result<execution::AccountState> state = venue.Snapshot();
      if (state.ok()) {
        answer.snapshot = std::move(state).value();
        if (options.terms) answer.terms = options.terms();
      } else {
        answer.error = state.status();
      }
      return answer;
    }
    case VenueCommand::Kind::kRecover: {
      answer.kind = VenueReport::Kind::kRecovered;
      Result<std::vector<ExecutionReport>> recovered =
          venue.Recover(command.unfinished, command.venue_from_msc, command.known_exec_ids);
      if (recovered.ok()) {
        answer.recovered = std::move(recovered).value();
      } else {
        answer.error = recovered.status();
      }
      return answer;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<SentOrders> SentOrdersOfLastBridge(bus::MessageBus& bus, std::string_view market) {
  AITS_ASSIGN_OR_RETURN(const std::string commands, ExecCommandsSubject(market));
  AITS_ASSIGN_OR_RETURN(const std::string reports, ExecReportsSubject(market));
  SentOrders out;
  Result<bus::ConsumerPosition> position =
      bus.GetConsumerPosition(kExecStream, BridgeDurable(market));
  if (!position.ok() && position.status().code() == StatusCode::kNotFound) return out;
  AITS_RETURN_IF_ERROR(position.status());
  out.delivered = position->delivered;
  if (out.delivered == 0) return out;
  bus::ConsumerConfig config;
  config.stream = std::string(kExecStream);
  config.filter_subject = "exec." + std::string(market) + ".>";
  config.start = bus::StartAt::kFirst;
  // Acknowledged as read: a reader with max_ack_pending messages unacknowledged is handed no
  // more, and the scan would end early.
  config.ack_all = true;
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer, bus.Consume(config));
  struct Sent {
    Order order;
    std::string command_id;
  };
  std::vector<Sent> sent;
  std::unordered_map<std::string, size_t> by_client_id;  // index in `sent`
  // For a venue that does not echo client ids: the last submit of each order id.
  std::unordered_map<uint64_t, std::string> client_id_of;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> got, consumer->Fetch(256, kDrainWait));
    if (got.empty()) break;
    AITS_RETURN_IF_ERROR(consumer->Ack(got.back().sequence));
    for (const bus::Delivery& delivery : got) {
      if (delivery.subject == commands) {
        Result<VenueCommand> command = proto::Decode<VenueCommand>(delivery.payload);
        if (!command.ok() || command->kind != VenueCommand::Kind::kSubmit) continue;
        if (delivery.sequence > out.delivered) continue;  // no bridge had it
        by_client_id[command->order.request.client_order_id] = sent.size();
        client_id_of[command->order.id.value] = command->order.request.client_order_id;
        sent.push_back({std::move(command->order), std::move(command->id)});
      } else if (delivery.subject == reports) {
        Result<VenueReport> report = proto::Decode<VenueReport>(delivery.payload);
        if (!report.ok() || report->kind != VenueReport::Kind::kExecution) continue;
        const ExecutionReport& exec = report->execution;
        if (exec.exec_id != 0) out.exec_ids.push_back(exec.exec_id);
        std::string_view client_id = exec.client_order_id;
        if (client_id.empty() && exec.order_id.value != 0) {
          const auto named = client_id_of.find(exec.order_id.value);
          if (named != client_id_of.end()) client_id = named->second;
        }
        const auto found = by_client_id.find(std::string(client_id));
        if (found == by_client_id.end()) continue;
        Order& order = sent[found->second].order;
        if (exec.venue_order_id != 0) order.venue_order_id = exec.venue_order_id;
        switch (exec.kind) {
          case ExecKind::kAccepted:
            order.status = OrderStatus::kAccepted;
            break;
          case ExecKind::kPartiallyFilled:
            order.status = OrderStatus::kAccepted;
            order.filled += exec.quantity;
            break;
          case ExecKind::kFilled:
          case ExecKind::kCanceled:
          case ExecKind::kRejected:
          case ExecKind::kExpired:
            by_client_id.erase(found);  // finished
            break;
          case ExecKind::kNew:
          case ExecKind::kModified:
            break;
        }
      }
    }
    if (got.back().pending == 0) break;
  }
  // In the order they were sent: the venue resolves them in this order. (A client order id sent
  // twice, under two session scopes, is the later one's.)
  for (size_t idx = 0; idx < sent.size(); ++idx) {
    const auto found = by_client_id.find(sent[idx].order.request.client_order_id);
    if (found == by_client_id.end() || found->second != idx) continue;
    out.unfinished.push_back(std::move(sent[idx].order));
    out.command_ids.push_back(std::move(sent[idx].command_id));
  }
  return out;
}

Result<VenueBridgeStats> RunVenueBridge(bus::MessageBus& bus, execution::ExecutionClient& venue,
                                        node::Inbox<node::NodeEvent>& inbox,
                                        const VenueBridgeOptions& options) {
  AITS_RETURN_IF_ERROR(options.Validate());
  AITS_ASSIGN_OR_RETURN(const std::string commands, ExecCommandsSubject(options.market));
  AITS_ASSIGN_OR_RETURN(const std::string reports, ExecReportsSubject(options.market));
  AITS_ASSIGN_OR_RETURN(const std::string answers, ExecAnswersSubject(options.market));
  bus::ConsumerConfig config;
  config.stream = std::string(kExecStream);
  config.durable = BridgeDurable(options.market);
  config.filter_subject = commands;
  config.start = bus::StartAt::kFirst;
  config.ack_wait = options.ack_wait;
  config.max_ack_pending = 1024;
  config.push = options.push;
  Result<std::unique_ptr<bus::Consumer>> opened =
      bus::ConsumeMetered(bus, config, options.metrics, "gateway");
  if (!opened.ok()) return opened.status().WithContext("venue bridge: reading " + commands);
  const std::unique_ptr<bus::Consumer> consumer = std::move(opened).value();

  VenueBridgeStats stats;
  AppliedIds applied(options.remember_ids);
  for (const std::string& id : options.applied) applied.Add(id);
  CircuitBreaker breaker("nats: " + answers, {}, SystemWallClock());
  CommandSpans spans;
  ReportPublisher publisher(bus, inbox, reports, options, spans);
  const auto stopped = [&] { return options.stop != nullptr && options.stop->load(); };
  Status failed;
  while (failed.ok() && !stopped() && !publisher.failed()) {
    Result<std::vector<bus::Delivery>> got = consumer->Fetch(kCommandFetch, kPoll);
    if (!got.ok()) {
      failed = got.status().WithContext("venue bridge: reading " + commands);
      break;
    }
    for (const bus::Delivery& delivery : *got) {
      Result<VenueCommand> command = proto::Decode<VenueCommand>(delivery.payload);
      stats.commands += command.ok() ? 1 : 0;
      if (!command.ok()) {
        ++stats.dead_lettered;
        failed = DeadLetter(bus, commands, delivery, command.status());
      } else if (applied.Contains(command->id)) {
        ++stats.duplicates;
      } else if (IsRequest(command->kind) && SystemWallClock().Now() > command->ts) {
        ++stats.expired;
      } else {
        // Under the owner's exec.command span, when it sent one.
        std::optional<trace::Span> span;
        if (options.tracer != nullptr && !delivery.traceparent.empty()) {
          span = options.tracer->Start("gateway.command", trace::SpanKind::kConsumer,
                                       delivery.traceparent);
          DescribeCommand(*span, commands, *command);
          // Before the venue has the order: its first report may come at once.
          if (command->kind == VenueCommand::Kind::kSubmit) {
            spans.Add(command->order, span->context);
          }
        }
        const std::optional<VenueReport> answer = Apply(*command, venue, options, stats);
        if (span) options.tracer->End(*span);
        ++stats.applied;
        applied.Add(command->id);
        if (answer) {
          failed = PublishOne(bus, breaker, answers, "answer:" + command->id,
                              proto::Encode(*answer), span ? span->traceparent() : std::string())
                       .WithContext("venue bridge: answering " + command->id);
          stats.answers += failed.ok() ? 1 : 0;
        }
      }
      if (!failed.ok()) break;
      // Applied, then acknowledged: a crash between the two applies this one command again
      // (bus_venue.h, "Restarts").
      failed = consumer->Ack(delivery.sequence);
      if (!failed.ok()) break;
    }
  }
  // What the venue pushed up to now goes out before the bridge returns.
  const Status published = publisher.Finish();
  stats.reports = publisher.reports();
  stats.market_data = publisher.market_data();
  AITS_RETURN_IF_ERROR(failed);
  AITS_RETURN_IF_ERROR(published);
  stats.stopped = stopped();
  return stats;
}

}  // namespace aits::services
