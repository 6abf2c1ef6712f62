// The message bus between parts and processes (docs/services.md): streams that store messages in
// order, store a retried publish once, and are read by durable consumers that resume where they
// stopped. One interface, two implementations with the same semantics: in-process
// (MakeInProcessBus, the embedded default) and NATS JetStream (aits/bus/nats_bus.h). One contract
// test (message_bus_contract_test.cc) runs against both.
//
// Not the kernel's bus (bus.h): that one is synchronous, typed and never leaves its thread. This
// one carries bytes (the protobuf envelopes of aits::proto) between roles.
//
// Semantics (JetStream's; the in-process bus follows them):
// - Subjects are dot-separated tokens of [A-Za-z0-9_-]. In a stream's subjects and a consumer's
//   filter, "*" stands for one token and ">" (last) for one or more.
// - A stream stores every published message whose subject one of its subjects matches, numbered
//   1, 2, … in the order it accepted them. Publish returns once the message is stored. A publish
//   whose id the stream has stored within its duplicate window is not stored again: its ack says
//   duplicate and names the first copy's sequence. That is what makes a retried publish safe.
// - Limits (max_messages, max_age) discard the oldest messages; a consumer behind them skips to
//   the oldest kept.
// - A consumer reads one stream, optionally only the subjects its filter matches, in stream
//   order. Fetch hands out up to `max` messages; each must be acknowledged (Ack). One not
//   acknowledged within ack_wait, or refused (Nak), is delivered again, before newer ones, with
//   `delivered` counting the attempts. At most max_ack_pending messages are out unacknowledged:
//   Fetch returns nothing more until some are acknowledged (the back-pressure that bounds a slow
//   consumer's memory). A durable consumer (a name) lives in the bus: opened again, by this
//   process or another, it resumes after what was acknowledged. Its start position applies only
//   when it is first created: the first message, new messages only, a sequence, or a time.
// - Delivery::pending is the consumer's lag: messages after this one that it has not yet been
//   handed.
//
// Errors: InvalidArgument for a bad name, subject or configuration (naming it); NotFound for a
// stream or consumer that does not exist and for a subject no stream stores; OutOfRange for a
// payload over kMaxPayload; Unavailable when the server cannot be reached; DeadlineExceeded when a
// call timed out (a publish that timed out may have been stored: retry it with the same id).
//
// Thread-safe: a MessageBus may be used from any thread. A Consumer is used by one thread at a
// time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/resilience.h"
#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::bus {

// Retries of a publish: about 8 attempts over 10 s and more (each may wait out the request
// timeout), enough to ride out a JetStream leader election.
inline BackoffPolicy PublishRetry() {
  BackoffPolicy policy;
  policy.initial = Duration::Millis(100);
  policy.max = Duration::Seconds(2);
  policy.max_attempts = 8;
  return policy;
}

// nats-server's default max_payload; the in-process bus enforces the same cap.
inline constexpr size_t kMaxPayload = 1024 * 1024;

struct StreamConfig {
  std::string name;                   // [A-Za-z0-9_-]+
  std::vector<std::string> subjects;  // at least one; may use wildcards
  Duration duplicate_window = Duration::Minutes(2);
  uint64_t max_messages = 0;  // 0: no limit
  Duration max_age{};         // 0: no limit
  int replicas = 1;           // copies in a JetStream cluster (1..5); the in-process bus keeps one
};

struct StreamState {
  uint64_t messages = 0;
  uint64_t first_sequence = 0;  // 0 while empty
  uint64_t last_sequence = 0;   // the last sequence assigned, also after discards
};

// Where a durable consumer stands, by stream sequence (GetConsumerPosition, and a stream
// backup's ListConsumers).
struct ConsumerPosition {
  std::string name;
  uint64_t delivered = 0;    // the last stream sequence handed out, to any reader (0: none yet)
  uint64_t ack_floor = 0;    // every message up to this one is acknowledged
  uint64_t pending = 0;      // messages after `delivered` not yet handed out
  uint64_t ack_pending = 0;  // handed out, not yet acknowledged
};

struct OutgoingMessage {
  std::string_view subject;
  std::string_view id;  // empty: not de-duplicated
  std::string_view payload;
  // W3C trace context of the span that published it (aits/trace/traceparent.h), handed to the
  // reader as Delivery::traceparent; NATS carries it in the "traceparent" header. Empty: none.
  // The bus neither reads nor checks it: a reader's tracer refuses a malformed one.
  std::string_view traceparent;
};

struct PublishAck {
  uint64_t sequence = 0;   // the stored message's; for a duplicate, the first copy's
  bool duplicate = false;  // the id was stored within the duplicate window: nothing stored now
};

enum class StartAt { kFirst, kNew, kSequence, kTime };

struct ConsumerConfig {
  std::string stream;
  std::string durable;         // [A-Za-z0-9_-]+; empty: an ephemeral consumer, gone when closed
  std::string filter_subject;  // empty: every subject of the stream
  StartAt start = StartAt::kFirst;
  uint64_t start_sequence = 0;  // kSequence: the first message delivered (>= 1)
  Timestamp start_time{};       // kTime: the first message stored at or after it
  Duration ack_wait = Duration::Seconds(30);
  int max_ack_pending = 1024;  // >= 1
  // Ack(sequence) also acknowledges every message handed out before it (JetStream's AckAll): one
  // ack per fetched batch. Nak still names one message.
  bool ack_all = false;
  // The server sends each message as it is stored (a push consumer), up to max_ack_pending
  // unacknowledged, instead of answering a request per Fetch (pull): a hop on the trading path
  // loses the request's round trip. The contract is the same either way; the in-process bus
  // hands out at once in both. A durable keeps the mode it was created with. A reader that
  // closes gives back what the server sent it and it never handed out; what the server sent to
  // a reader that died (or in the moment it closed) comes again after ack_wait, so a push
  // durable that changes hands may resume up to ack_wait later than a pull one.
  bool push = false;
};

struct Delivery {
  std::string subject;
  std::string id;  // the publish id; empty if published without one
  std::string payload;
  uint64_t sequence = 0;    // the stream's
  uint64_t delivered = 1;   // 1 the first time
  uint64_t pending = 0;     // messages after this one the consumer has not been handed yet
  Timestamp stored{};       // when the stream stored it (the bus's clock)
  std::string traceparent;  // as published (OutgoingMessage::traceparent); empty: none
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Up to `max` (>= 1) messages in delivery order, waiting up to `timeout` for the first; an
  // empty vector when none came in time. NotFound once the consumer is gone — deleted, or lost
  // with the server of a cluster that held it (NATS notices within a few seconds of waiting).
  virtual Result<std::vector<Delivery>> Fetch(int max, Duration timeout) = 0;
  // Done with the message of this stream sequence (handed out by this consumer): it is not
  // delivered again; with ack_all, neither is any handed out before it. Acknowledging one that
  // is not outstanding is a no-op.
  virtual Status Ack(uint64_t sequence) = 0;
  // Deliver it again at the next Fetch.
  virtual Status Nak(uint64_t sequence) = 0;
  // Still working on it (JetStream's in-progress acknowledgement): its ack_wait starts again, so
  // that work longer than ack_wait (a training job) keeps the message without a redelivery, while
  // a consumer that died stops extending it and the message comes again one ack_wait later. A
  // no-op for a message that is not outstanding.
  virtual Status InProgress(uint64_t sequence) = 0;
};

// A publish sent and not yet confirmed (MessageBus::PublishLater).
class PendingPublish {
 public:
  virtual ~PendingPublish() = default;
  // The stream's answer has come: Wait returns at once.
  virtual bool answered() = 0;
  // The stream's acknowledgement, waiting for it (up to the bus's request timeout), or the
  // failure — after which the message may or may not be stored: publish it again with the same
  // id. The same answer on every call.
  virtual Result<PublishAck> Wait() = 0;
};

class MessageBus {
 public:
  virtual ~MessageBus() = default;
  // Creates the stream, or checks that an existing one has this configuration (updating its
  // subjects and limits if they differ).
  virtual Status AddStream(const StreamConfig& config) = 0;
  virtual Result<StreamState> GetStream(std::string_view name) = 0;
  virtual Status DeleteStream(std::string_view name) = 0;
  // The last message the stream holds on `subject` (a literal subject), or nullopt if it holds
  // none. What a publisher that restarts reads to continue where it stopped. Its `delivered` and
  // `pending` are 0: no consumer handed it out.
  virtual Result<std::optional<Delivery>> LastMessage(std::string_view stream,
                                                      std::string_view subject) = 0;

  // Stores the message in the stream whose subjects match `subject` (a literal subject). `id`
  // may be empty (no de-duplication).
  virtual Result<PublishAck> Publish(const OutgoingMessage& message) = 0;
  Result<PublishAck> Publish(std::string_view subject, std::string_view id,
                             std::string_view payload) {
    return Publish(OutgoingMessage{subject, id, payload});
  }
  // Publishes the messages in order without waiting for each one's acknowledgement, then waits
  // for all of them: one ack per message, in order. If any failed, returns the first failure
  // (naming the message's index); some of the batch may be stored, so the caller retries the
  // whole batch with the same ids and the stream stores each message once. Messages without an
  // id are not safe to retry. The default publishes one after another.
  virtual Result<std::vector<PublishAck>> PublishBatch(std::span<const OutgoingMessage> messages);
  // Sends the message and returns without waiting for the stream's acknowledgement, which the
  // handle gives later. For a step of a lockstep: the reader on the other side gets the message
  // as soon as the stream stored it, and the publisher goes on to wait for the answer instead of
  // first waiting for its ack (whose round trip is half of a hop's time over NATS). An error
  // here is one found before sending (a bad subject, a connection that is closed). The default
  // publishes synchronously.
  virtual Result<std::unique_ptr<PendingPublish>> PublishLater(const OutgoingMessage& message);
  Result<std::unique_ptr<PendingPublish>> PublishLater(std::string_view subject,
                                                       std::string_view id,
                                                       std::string_view payload) {
    return PublishLater(OutgoingMessage{subject, id, payload});
  }

  // Creates the consumer or binds to the existing durable of that name.
  virtual Result<std::unique_ptr<Consumer>> Consume(const ConsumerConfig& config) = 0;
  virtual Status DeleteConsumer(std::string_view stream, std::string_view durable) = 0;
  // NotFound when the stream or the durable does not exist. What a reader that replaces a dead
  // one asks to know what the dead one may have taken (the gateway role: the commands a killed
  // bridge may have applied).
  virtual Result<ConsumerPosition> GetConsumerPosition(std::string_view stream,
                                                       std::string_view durable) = 0;
};

// `call` retried while it fails with what may pass (IsRetryable), with back-off and jitter, real
// sleeps, through `breaker`: CallWithRetry for the bus's calls (publishes, stream checks, the
// last message of a subject) that a leader election delays.
Status Retried(CircuitBreaker& breaker, const std::function<Status()>& call,
               const BackoffPolicy& retry = PublishRetry());

// Publishes `messages` one after another, each acknowledged before the next goes, so that the
// stream never holds a later message without every earlier one: a pipelined PublishBatch cannot
// promise that across a cluster's leader change, where an earlier message in flight may be lost
// while a later one lands — a hole that readers applying by sequence would take for lost data.
// A retryable failure (the server away, no acknowledgement in time) is retried with back-off
// through `breaker` (the same id: stored once; a message without an id is not retried).
// Returns the acks in order, or the first failure that outlasted the retries, naming the
// message's index; the messages before it are stored.
Result<std::vector<PublishAck>> PublishInOrder(MessageBus& bus,
                                               std::span<const OutgoingMessage> messages,
                                               CircuitBreaker& breaker,
                                               const BackoffPolicy& retry = PublishRetry());

// The in-process bus. `clock` stamps stored messages and times the duplicate window, max_age and
// ack_wait (a SimulatedClock makes those deterministic in tests); Fetch's timeout is real time.
// The clock must outlive the bus.
std::unique_ptr<MessageBus> MakeInProcessBus(const Clock& clock);
// The same over the system clock.
std::unique_ptr<MessageBus> MakeInProcessBus();

// The checks both implementations apply, shared so that they refuse the same input.
Status ValidateName(std::string_view what, std::string_view name);
Status ValidateSubject(std::string_view subject, bool wildcards_allowed);
// A publish's subject (literal) and payload size (at most kMaxPayload: OutOfRange).
Status ValidatePublish(std::string_view subject, std::string_view payload);
Status ValidateStreamConfig(const StreamConfig& config);
Status ValidateConsumerConfig(const ConsumerConfig& config);
// Opening an existing durable with another filter, ack policy or mode (push) is refused
// (InvalidArgument naming both), as JetStream does: the durable keeps the configuration it was
// created with.
Status CheckSameDurable(const ConsumerConfig& wanted, std::string_view filter, bool ack_all,
                        bool push);
// NATS subject matching: "*" one token, ">" the rest (one or more tokens).
bool SubjectMatches(std::string_view pattern, std::string_view subject);
// Whether some literal subject matches both patterns (two streams may not share one).
bool SubjectsOverlap(std::string_view a, std::string_view b);

}  // namespace aits::bus
