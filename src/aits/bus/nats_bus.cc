#include "aits/bus/nats_bus.h"

#include <nats/nats.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "aits/bus/internal/nats_util.h"
#include "aits/core/time.h"

namespace aits::bus {
namespace {

constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr const char* kTraceparentHeader = "traceparent";  // W3C's name, as HTTP carries it

using internal::FromNats;
using internal::Millis;
using internal::MsgPtr;

// The answers to a group of messages published asynchronously (one PublishBatch, or one
// PublishLater), filled by cnats' callback thread; whoever published waits for them here.
class AckBatch {
 public:
  explicit AckBatch(size_t size) : acks_(size), outcomes_(size, kNoAnswer), awaited_(size) {}

  void Stored(size_t i, PublishAck ack) {
    const std::lock_guard lock(mu_);
    acks_[i] = ack;
    Answered(i, kStored);
  }
  void Refused(size_t i, Status error) {
    const std::lock_guard lock(mu_);
    errors_.emplace(i, std::move(error));
    Answered(i, kRefused);
  }

  // Whether the first `sent` messages are answered, waiting up to `timeout` for it. `sent` may
  // be fewer than the batch when a message could not be handed to the connection.
  bool Wait(size_t sent, Duration timeout) {
    std::unique_lock lock(mu_);
    awaited_ = sent;
    return cv_.wait_for(lock, std::chrono::nanoseconds(timeout.ns),
                        [&] { return answered_ >= sent; });
  }
  bool answered(size_t sent) {
    const std::lock_guard lock(mu_);
    return answered_ >= sent;
  }
  bool answered_at(size_t i) {
    const std::lock_guard lock(mu_);
    return outcomes_[i] != kNoAnswer;
  }

  // The acks, or the first message's failure (one never answered: `unanswered`).
  aits::Result<std::vector<PublishAck>> Result(const Status& unanswered) {
    const std::lock_guard lock(mu_);
    for (size_t i = 0; i < outcomes_.size(); ++i) {
      if (outcomes_[i] == kStored) continue;
      const Status& failure = outcomes_[i] == kRefused ? errors_.at(i) : unanswered;
      if (outcomes_.size() == 1) return failure;
      return failure.WithContext("message " + std::to_string(i) + " of the batch");
    }
    return acks_;
  }

 private:
  enum Outcome { kNoAnswer, kStored, kRefused };
  void Answered(size_t i, Outcome outcome) {  // under mu_
    if (outcomes_[i] != kNoAnswer) return;
    outcomes_[i] = outcome;
    if (++answered_ == awaited_) cv_.notify_all();  // one wake-up per batch, not per ack
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PublishAck> acks_;
  std::vector<Outcome> outcomes_;
  std::map<size_t, Status> errors_;
  size_t answered_ = 0;
  size_t awaited_;  // the answers the waiter needs: the batch, or those handed over (Wait)
};

// Which batch each message in flight belongs to, for the callback of the connection's one
// asynchronous JetStream context. One context for every publisher: a context of its own per
// batch subscribed and unsubscribed its reply inbox each time, which cost a stage's one-row
// batch about 80 us idle and 0.7 ms among busy roles (docs/performance.md).
class AckRouter {
 public:
  void Track(natsMsg* msg, std::shared_ptr<AckBatch> batch, size_t index) {
    const std::lock_guard lock(mu_);
    routes_[msg] = Route{std::move(batch), index};
  }
  // Forgets `msg` if it is still `batch`'s: a message answered and freed may have lent its
  // address to another batch's since.
  void Untrack(natsMsg* msg, const AckBatch* batch) {
    const std::lock_guard lock(mu_);
    const auto it = routes_.find(msg);
    if (it != routes_.end() && it->second.batch.get() == batch) routes_.erase(it);
  }

  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
    auto* self = static_cast<AckRouter*>(closure);
    Route route;
    {
      const std::lock_guard lock(self->mu_);
      const auto it = self->routes_.find(msg);
      if (it != self->routes_.end()) {
        route = std::move(it->second);
        self->routes_.erase(it);  // before the message is freed and its address reused
      }
    }
    if (route.batch != nullptr) {
      if (ack != nullptr) {
        route.batch->Stored(route.index, PublishAck{ack->Sequence, ack->Duplicate});
      } else {
        const natsStatus s = error != nullptr ? error->Err : NATS_ERR;
        route.batch->Refused(
            route.index,
            s == NATS_NO_RESPONDERS
                ? NotFound(std::string("no stream stores subject ") + natsMsg_GetSubject(msg))
                : FromNats(s, error != nullptr ? error->ErrCode : jsErrCode{},
                           std::string("publish to ") + natsMsg_GetSubject(msg)));
      }
    }
    natsMsg_Destroy(msg);
  }

 private:
  struct Route {
    std::shared_ptr<AckBatch> batch;
    size_t index = 0;
  };
  std::mutex mu_;
  std::unordered_map<natsMsg*, Route> routes_;
};

struct Shared {
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  jsOptions js_options{};
  NatsOptions options;
  AckRouter acks;
  // The asynchronous publishes' context (PublishBatch, PublishLater), acks to `acks`. cnats 3.4
  // never gives up on an asynchronous publish: one whose ack never comes (its server died) stays
  // in the context's pending list until the connection closes; its batch has long timed out.
  jsCtx* async = nullptr;

  // Subscriptions unsubscribed whose memory the reader thread may still reach (see Retire).
  std::mutex retired_mu;
  std::vector<natsSubscription*> retired;

  // Unsubscribes and frees `subscription`, never while the connection's reader thread may hold
  // it. cnats 3.4.1 looks a message's subscription up and then locks it without holding a
  // reference (fixed upstream after 3.4.1, "Crash processing inbound message for destroyed
  // subscription"): freed in that moment, the reader locked freed memory and hung, and the
  // connection's close then waited for it forever (message_bus_test, ~1 in 60 runs under load).
  // After the unsubscribe no new message reaches it; a round trip then proves the reader has
  // finished every message it read before the answer. Without the answer (no server), it is
  // freed after the connection is closed, its reader joined.
  void Retire(natsSubscription* subscription) {
    if (subscription == nullptr) return;
    (void)natsSubscription_Unsubscribe(subscription);
    if (connection != nullptr &&
        natsConnection_FlushTimeout(connection, Millis(options.request_timeout)) != NATS_OK) {
      const std::lock_guard lock(retired_mu);
      retired.push_back(subscription);
      return;
    }
    natsSubscription_Destroy(subscription);
  }

  ~Shared() {
    // Closed first, while the contexts its threads may still be delivering acks to exist:
    // destroying the asynchronous context first left the connection's destruction waiting, now
    // and then, for a reader thread blocked in the middle of a message (message_bus_test hung
    // in 1 of about 30 runs of a batch test).
    if (connection != nullptr) natsConnection_Close(connection);
    for (natsSubscription* subscription : retired) natsSubscription_Destroy(subscription);
    if (async != nullptr) jsCtx_Destroy(async);
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) natsConnection_Destroy(connection);
  }
};

// Messages published asynchronously as one group, their acks awaited together.
class AsyncSend {
 public:
  AsyncSend(std::shared_ptr<Shared> shared, size_t size)
      : shared_(std::move(shared)), batch_(std::make_shared<AckBatch>(size)), keys_(size) {}
  ~AsyncSend() { Forget(); }
  AsyncSend(const AsyncSend&) = delete;
  AsyncSend& operator=(const AsyncSend&) = delete;

  // Sends `messages` (validated) in order; a message that cannot be handed to the connection
  // stops it there (its failure is Complete's answer).
  void Start(std::span<const OutgoingMessage> messages) {
    for (size_t i = 0; i < messages.size() && failed_.ok(); ++i) {
      const std::string subject(messages[i].subject);
      const std::string id(messages[i].id);
      natsMsg* msg = nullptr;
      natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, messages[i].payload.data(),
                                    static_cast<int>(messages[i].payload.size()));
      if (s == NATS_OK && !id.empty()) s = natsMsgHeader_Set(msg, kMsgIdHeader, id.c_str());
      if (s == NATS_OK && !messages[i].traceparent.empty()) {
        const std::string traceparent(messages[i].traceparent);
        s = natsMsgHeader_Set(msg, kTraceparentHeader, traceparent.c_str());
      }
      if (s == NATS_OK) {
        shared_->acks.Track(msg, batch_, i);
        natsMsg* handed = msg;
        s = js_PublishMsgAsync(shared_->async, &handed, nullptr);
        if (s != NATS_OK) shared_->acks.Untrack(msg, batch_.get());
        if (handed == nullptr) keys_[sent_++] = msg;  // the library owns it now
        msg = handed;
      }
      natsMsg_Destroy(msg);
      if (s != NATS_OK) failed_ = FromNats(s, {}, "publish to " + subject);
    }
  }

  bool answered() { return batch_->answered(sent_); }
  const Status& failed() const { return failed_; }

  // Waits up to `timeout` for every acknowledgement. Unanswered: `unanswered`.
  aits::Result<std::vector<PublishAck>> Complete(Duration timeout, const Status& unanswered) {
    const bool all = batch_->Wait(sent_, timeout);
    if (!all) Forget();  // a late ack finds nothing
    if (!failed_.ok()) return failed_;
    return batch_->Result(unanswered);
  }

 private:
  void Forget() {
    for (size_t i = 0; i < sent_; ++i) {
      if (!batch_->answered_at(i)) shared_->acks.Untrack(keys_[i], batch_.get());
    }
  }

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<AckBatch> batch_;
  std::vector<natsMsg*> keys_;  // the routes' keys only (the library owns and frees them)
  size_t sent_ = 0;
  Status failed_;
};

Status NoAck(Duration timeout) {
  return DeadlineExceeded("no acknowledgement of a publish within " +
                          std::to_string(timeout.ns / 1'000'000) +
                          " ms (it may be stored: publish it again with the same id)");
}

// One message of PublishLater, its ack waited for when asked.
class NatsPendingPublish final : public PendingPublish {
 public:
  explicit NatsPendingPublish(std::unique_ptr<AsyncSend> send, Duration timeout)
      : send_(std::move(send)), timeout_(timeout) {}

  bool answered() override { return send_->answered(); }
  Result<PublishAck> Wait() override {
    if (!result_) {
      aits::Result<std::vector<PublishAck>> acks = send_->Complete(timeout_, NoAck(timeout_));
      result_ = acks.ok() ? aits::Result<PublishAck>(acks->front())
                          : aits::Result<PublishAck>(acks.status());
    }
    return *result_;
  }

 private:
  std::unique_ptr<AsyncSend> send_;
  Duration timeout_;
  std::optional<aits::Result<PublishAck>> result_;
};

// The push subscriptions whose server's heartbeats stopped. A push consumer is made with an idle
// heartbeat: the server sends one whenever it has sent nothing else for kPushHeartbeat, and cnats
// reports NATS_MISSED_HEARTBEAT to the connection's error handler when two are missed. Its
// reader then fails at once (docs/services.md, "A consumer whose server died"), in ~2 s rather
// than the 8 s or more of the unanswered-info check. A process-wide registry, never destroyed:
// cnats may run the handler after a connection and its subscriptions are gone, so the handler
// marks only subscriptions still registered (a freed address is not until it is registered
// again, by then as a new reader).
constexpr Duration kPushHeartbeat = Duration::Seconds(1);
class HeartbeatWatch {
 public:
  static HeartbeatWatch& Get() {
    static auto* watch = new HeartbeatWatch();  // outlives every connection's callbacks
    return *watch;
  }
  void Register(natsSubscription* sub) {
    const std::lock_guard lock(mu_);
    missed_[sub] = false;
  }
  void Unregister(natsSubscription* sub) {
    const std::lock_guard lock(mu_);
    missed_.erase(sub);
  }
  // Whether `sub` missed its heartbeats since the last call (and clears it).
  bool TakeMissed(natsSubscription* sub) {
    const std::lock_guard lock(mu_);
    const auto it = missed_.find(sub);
    if (it == missed_.end() || !it->second) return false;
    it->second = false;
    return true;
  }
  static void OnAsyncError(natsConnection*, natsSubscription* sub, natsStatus err, void*) {
    if (err != NATS_MISSED_HEARTBEAT || sub == nullptr) return;
    HeartbeatWatch& self = Get();
    const std::lock_guard lock(self.mu_);
    const auto it = self.missed_.find(sub);
    if (it != self.missed_.end()) it->second = true;
  }

 private:
  std::mutex mu_;
  std::unordered_map<natsSubscription*, bool> missed_;
};

constexpr auto kConsumerCheckEvery = std::chrono::seconds(2);
// Longer than a cluster's usual leader elections (a few seconds), shorter than a role's wait.
constexpr auto kConsumerUnansweredFor = std::chrono::seconds(8);

class NatsConsumer final : public Consumer {
 public:
  NatsConsumer(std::shared_ptr<Shared> shared, natsSubscription* subscription, std::string stream,
               std::string name, bool ephemeral, bool ack_all, bool push)
      : shared_(std::move(shared)),
        subscription_(subscription),
        stream_(std::move(stream)),
        name_(std::move(name)),
        ephemeral_(ephemeral),
        ack_all_(ack_all),
        push_(push) {
    if (push_) HeartbeatWatch::Get().Register(subscription_);
  }

  ~NatsConsumer() override {
    if (push_) HeartbeatWatch::Get().Unregister(subscription_);
    held_.clear();
    // What the server pushed and Fetch never handed out goes back, so that whoever opens the
    // durable next gets it at once rather than after ack_wait. The interest goes first, or the
    // server would send the copies here again.
    if (push_ && !ephemeral_) {
      // A round trip first: whatever the server sent before its answer is then queued here
      // (one connection, in order), not in flight to a subscription about to go.
      natsConnection_FlushTimeout(shared_->connection, Millis(shared_->options.request_timeout));
      std::vector<MsgPtr> queued;
      if (kept_) queued.push_back(std::move(kept_));
      natsMsg* msg = nullptr;
      while (natsSubscription_NextMsg(&msg, subscription_, 0) == NATS_OK) queued.emplace_back(msg);
      (void)natsSubscription_Unsubscribe(subscription_);
      for (const MsgPtr& refused : queued) (void)natsMsg_Nak(refused.get(), nullptr);
    }
    kept_.reset();
    // Bound, not created by the library, so the unsubscribe keeps the consumer.
    shared_->Retire(subscription_);
    if (ephemeral_) {
      jsErrCode ignored{};
      js_DeleteConsumer(shared_->js, stream_.c_str(), name_.c_str(), nullptr, &ignored);
    }
    // Acks are asynchronous: send them before a durable is opened again elsewhere.
    natsConnection_FlushTimeout(shared_->connection, Millis(shared_->options.request_timeout));
  }

  Result<std::vector<Delivery>> Fetch(int max, Duration timeout) override {
    if (max < 1) return InvalidArgument("Fetch: max " + std::to_string(max) + " must be >= 1");
    std::vector<Delivery> out;
    if (push_ && HeartbeatWatch::Get().TakeMissed(subscription_)) {
      // Heartbeats stop for a deleted consumer too: ask before blaming the server, so that a
      // reader told NotFound opens its consumer again rather than waiting for a server.
      if (ConsumerGone()) return GoneError();
      return Unavailable("consumer " + name_ + " of stream " + stream_ +
                         ": its server's heartbeats stopped (server down?)");
    }
    const natsStatus s = push_ ? Received(max, timeout, out) : Pulled(max, timeout, out);
    if (s == NATS_TIMEOUT) {
      AITS_RETURN_IF_ERROR(CheckStillThere());
      return out;
    }
    last_alive_ = last_checked_ = std::chrono::steady_clock::now();
    if (s != NATS_OK) {
      return FromNats(s, pull_error_, "fetch from consumer " + name_ + " of stream " + stream_);
    }
    return out;
  }

  Status Ack(uint64_t sequence) override { return Settle(sequence, /*nak=*/false); }
  Status Nak(uint64_t sequence) override { return Settle(sequence, /*nak=*/true); }

  Status InProgress(uint64_t sequence) override {
    const auto it = held_.find(sequence);
    if (it == held_.end()) return Status::Ok();
    // Waits for the server, as a nak does: a lost extension would mean a redelivery of work that
    // is going on. Rare (a few per ack_wait).
    const natsStatus s = natsMsg_InProgress(it->second.get(), &shared_->js_options);
    if (s != NATS_OK) {
      return FromNats(
          s, {},
          "in-progress ack of message " + std::to_string(sequence) + " of stream " + stream_);
    }
    return Status::Ok();
  }

 private:
  // Pull: one request for up to `max`, answered by the server.
  natsStatus Pulled(int max, Duration timeout, std::vector<Delivery>& out) {
    natsMsgList list{};
    pull_error_ = {};
    const natsStatus s =
        natsSubscription_Fetch(&list, subscription_, max, Millis(timeout), &pull_error_);
    if (s != NATS_OK) return s;
    out.reserve(static_cast<size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
      Take(MsgPtr(list.Msgs[i]), out);
      list.Msgs[i] = nullptr;
    }
    natsMsgList_Destroy(&list);
    return NATS_OK;
  }

  // Push: what the server already sent, waiting for the first only.
  natsStatus Received(int max, Duration timeout, std::vector<Delivery>& out) {
    pull_error_ = {};
    natsMsg* msg = nullptr;
    if (kept_) {
      Take(std::move(kept_), out);
    } else {
      const natsStatus s = natsSubscription_NextMsg(&msg, subscription_, Millis(timeout));
      if (s != NATS_OK) return s;
      Take(MsgPtr(msg), out);
    }
    while (static_cast<int>(out.size()) < max &&
           natsSubscription_NextMsg(&msg, subscription_, 0) == NATS_OK) {
      Take(MsgPtr(msg), out);
    }
    return NATS_OK;  // the empty queue's NATS_TIMEOUT ends the batch
  }

  void Take(MsgPtr msg, std::vector<Delivery>& out) {
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg.get()) != NATS_OK) return;  // not a JetStream message
    Delivery d;
    d.subject = natsMsg_GetSubject(msg.get());
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg.get(), kMsgIdHeader, &id) == NATS_OK && id != nullptr) d.id = id;
    const char* traceparent = nullptr;
    if (natsMsgHeader_Get(msg.get(), kTraceparentHeader, &traceparent) == NATS_OK &&
        traceparent != nullptr) {
      d.traceparent = traceparent;
    }
    d.payload.assign(natsMsg_GetData(msg.get()),
                     static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
    d.sequence = meta->Sequence.Stream;
    d.delivered = meta->NumDelivered;
    d.pending = meta->NumPending;
    d.stored = Timestamp::FromNanos(meta->Timestamp);
    jsMsgMetaData_Destroy(meta);
    held_[d.sequence] = std::move(msg);  // a redelivery replaces the earlier copy
    out.push_back(std::move(d));
  }

  // A consumer lives on one server of a cluster (an ephemeral one is not replicated): when that
  // server dies, fetches time out for ever rather than fail, pull and push alike. While nothing
  // comes, look every few seconds whether it still exists, so that its reader fails fast (and is
  // started again, reading by sequence from where its own state says) instead of waiting out its
  // idle timeout. A consumer whose server is down is not "gone" to the others: they leave its
  // info unanswered. Unanswered for kConsumerUnansweredFor is a failure too (the cluster kill
  // test saw a role wait on such a consumer for good; nats_cluster_test).
  Status CheckStillThere() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_checked_ < kConsumerCheckEvery) return Status::Ok();
    last_checked_ = now;
    jsErrCode js_error{};
    const natsStatus s = AskInfo(js_error);
    if (IsGone(s, js_error)) return GoneError();
    if (s == NATS_OK) {
      last_alive_ = now;
      return Status::Ok();
    }
    if (now - last_alive_ >= kConsumerUnansweredFor) {
      const auto quiet = std::chrono::duration_cast<std::chrono::seconds>(now - last_alive_);
      return Unavailable(FromNats(s, js_error,
                                  "consumer " + name_ + " of stream " + stream_ +
                                      ": nothing from it for " + std::to_string(quiet.count()) +
                                      " s and its info unanswered (its server down?)")
                             .message());
    }
    return Status::Ok();  // the server is unreachable for now: keep waiting a while
  }

  // `wait`: how long an unanswered request waits (the context's request timeout by default).
  natsStatus AskInfo(jsErrCode& js_error, std::optional<Duration> wait = std::nullopt) {
    jsOptions options = shared_->js_options;
    if (wait) options.Wait = Millis(*wait);
    jsConsumerInfo* info = nullptr;
    const natsStatus s =
        js_GetConsumerInfo(&info, shared_->js, stream_.c_str(), name_.c_str(), &options, &js_error);
    if (info != nullptr) jsConsumerInfo_Destroy(info);
    return s;
  }
  static bool IsGone(natsStatus s, jsErrCode js_error) {
    return s != NATS_OK && (js_error == JSConsumerNotFoundErr || s == NATS_NOT_FOUND);
  }
  // Asked with a short wait: a live server answers in a millisecond, and a dead one must not
  // delay the reader's failure by a request timeout.
  bool ConsumerGone() {
    jsErrCode js_error{};
    const natsStatus s = AskInfo(js_error, Duration::Millis(500));
    return IsGone(s, js_error);
  }
  Status GoneError() const {
    return NotFound("consumer " + name_ + " of stream " + stream_ +
                    " is gone (deleted, or lost with the server that held it)");
  }

  Status Settle(uint64_t sequence, bool nak) {
    const auto it = held_.find(sequence);
    if (it == held_.end()) return Status::Ok();
    // An ack goes without waiting (options with a Wait would make cnats wait for the server's
    // confirmation: 0.4 us against a round trip each). A nak waits, so that the next Fetch
    // finds the message again, as the contract says; it is the rare path.
    const natsStatus s = nak ? natsMsg_Nak(it->second.get(), &shared_->js_options)
                             : natsMsg_Ack(it->second.get(), nullptr);
    if (!nak && ack_all_) {
      held_.erase(held_.begin(), std::next(it));  // the server acknowledged those with it
    } else {
      held_.erase(it);
    }
    if (nak && push_ && s == NATS_OK) GiveBackQueued(sequence);
    if (s != NATS_OK) {
      return FromNats(s, {},
                      std::string(nak ? "nak" : "ack") + " of message " + std::to_string(sequence) +
                          " of stream " + stream_);
    }
    return Status::Ok();
  }

  // Push: a nak must bring its message back before newer ones (the contract), but the server
  // may have pushed newer ones already. It sends the refused message again before anything
  // else once it has the nak (which Settle waited for), so everything queued here ahead of that
  // copy was sent before: each is refused too, in order, and comes again after it. The copy, if
  // already here, is kept aside for the next Fetch.
  void GiveBackQueued(uint64_t naked) {
    natsMsg* msg = nullptr;
    while (natsSubscription_NextMsg(&msg, subscription_, 0) == NATS_OK) {
      MsgPtr queued(msg);
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, queued.get()) != NATS_OK) continue;
      const uint64_t sequence = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
      if (sequence == naked) {
        kept_ = std::move(queued);
        return;
      }
      (void)natsMsg_Nak(queued.get(), nullptr);  // a failure: it comes again after ack_wait
    }
  }

  std::shared_ptr<Shared> shared_;
  natsSubscription* subscription_;
  std::string stream_;
  std::string name_;
  bool ephemeral_;
  bool ack_all_;
  bool push_;
  jsErrCode pull_error_{};
  MsgPtr kept_;  // push: a refused message's new copy, handed out first (GiveBackQueued)
  // Messages handed out and not yet settled (at most max_ack_pending: the server sends no more).
  std::map<uint64_t, MsgPtr> held_;
  std::chrono::steady_clock::time_point last_checked_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_alive_ = last_checked_;  // a message, or its info
};

class NatsBus final : public MessageBus {
 public:
  explicit NatsBus(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  Status AddStream(const StreamConfig& config) override {
    if (Status s = ValidateStreamConfig(config); !s.ok()) return s;
    std::vector<const char*> subjects;
    for (const std::string& subject : config.subjects) subjects.push_back(subject.c_str());
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    c.Name = config.name.c_str();
    c.Subjects = subjects.data();
    c.SubjectsLen = static_cast<int>(subjects.size());
    c.Storage = js_FileStorage;
    c.Duplicates = config.duplicate_window.ns;
    c.MaxMsgs = config.max_messages == 0 ? -1 : static_cast<int64_t>(config.max_messages);
    c.MaxAge = config.max_age.ns;
    c.Replicas = config.replicas;
    jsStreamInfo* info = nullptr;
    jsErrCode js_error{};
    natsStatus s = js_AddStream(&info, shared_->js, &c, nullptr, &js_error);
    // Two processes adding the same stream at once (every role ensures the streams it uses at
    // its start): the server can check the later one's subjects against the stream the first is
    // creating before that one has its name, and calls them overlapping. Asked again, it finds
    // the stream by name.
    for (int again = 0; s != NATS_OK && js_error == JSStreamSubjectOverlapErr && again < 3;
         ++again) {
      if (info != nullptr) jsStreamInfo_Destroy(info);
      info = nullptr;
      js_error = {};
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << again));
      s = js_AddStream(&info, shared_->js, &c, nullptr, &js_error);
    }
    if (s != NATS_OK && js_error == JSStreamNameExistErr) {
      js_error = {};
      s = js_UpdateStream(&info, shared_->js, &c, nullptr, &js_error);
    }
    if (info != nullptr) jsStreamInfo_Destroy(info);
    if (s != NATS_OK) return FromNats(s, js_error, "add stream " + config.name);
    return Status::Ok();
  }

  Result<StreamState> GetStream(std::string_view name) override {
    const std::string n(name);
    jsStreamInfo* info = nullptr;
    jsErrCode js_error{};
    const natsStatus s = js_GetStreamInfo(&info, shared_->js, n.c_str(), nullptr, &js_error);
    if (s != NATS_OK) return FromNats(s, js_error, "stream " + n);
    StreamState out;
    out.messages = info->State.Msgs;
    out.first_sequence = info->State.Msgs == 0 ? 0 : info->State.FirstSeq;
    out.last_sequence = info->State.LastSeq;
    jsStreamInfo_Destroy(info);
    return out;
  }

  Result<std::optional<Delivery>> LastMessage(std::string_view name,
                                              std::string_view subject) override {
    const std::string n(name);
    const std::string subj(subject);
    natsMsg* msg = nullptr;
    jsErrCode js_error{};
    const natsStatus s =
        js_GetLastMsg(&msg, shared_->js, n.c_str(), subj.c_str(), nullptr, &js_error);
    if (s != NATS_OK) {
      if (js_error == JSNoMessageFoundErr) return std::optional<Delivery>();
      return FromNats(s, js_error, "last message of " + subj + " in stream " + n);
    }
    Delivery out;
    out.subject = natsMsg_GetSubject(msg);
    out.payload.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, kMsgIdHeader, &id) == NATS_OK && id != nullptr) out.id = id;
    const char* traceparent = nullptr;
    if (natsMsgHeader_Get(msg, kTraceparentHeader, &traceparent) == NATS_OK &&
        traceparent != nullptr) {
      out.traceparent = traceparent;
    }
    out.sequence = natsMsg_GetSequence(msg);
    out.delivered = 0;
    out.stored = Timestamp{natsMsg_GetTime(msg)};
    natsMsg_Destroy(msg);
    return std::optional<Delivery>(std::move(out));
  }

  Status DeleteStream(std::string_view name) override {
    const std::string n(name);
    jsErrCode js_error{};
    const natsStatus s = js_DeleteStream(shared_->js, n.c_str(), nullptr, &js_error);
    if (s != NATS_OK) return FromNats(s, js_error, "delete stream " + n);
    return Status::Ok();
  }

  // No responders to a publish: no stream stores the subject (NotFound, not worth a retry), or
  // one does and nobody answers for it now — its leader is being elected after a cluster node
  // died (Unavailable: retried). JetStream's API tells them apart; when it does not answer
  // either, that is the cluster's trouble too. (Seen in nats_cluster_test: a publish right after
  // the kill of the node that led the stream.)
  Status NoResponders(const std::string& subject) {
    const std::string request = nlohmann::json{{"subject", subject}}.dump();
    natsMsg* reply = nullptr;
    const natsStatus s = natsConnection_Request(&reply, shared_->connection, "$JS.API.STREAM.NAMES",
                                                request.data(), static_cast<int>(request.size()),
                                                Millis(shared_->options.request_timeout));
    if (s != NATS_OK) {
      return Unavailable("publish to " + subject +
                         ": no stream answered, and JetStream's API did not either (" +
                         natsStatus_GetText(s) + ")");
    }
    const nlohmann::json names = nlohmann::json::parse(
        std::string(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply))),
        nullptr, /*allow_exceptions=*/false);
    natsMsg_Destroy(reply);
    const auto streams = names.is_object() ? names.find("streams") : names.end();
    if (names.is_object() && streams != names.end() && streams->is_array() && !streams->empty()) {
      return Unavailable("publish to " + subject + ": stream " + streams->front().dump() +
                         " stores it but did not answer (its leader away?)");
    }
    return NotFound("no stream stores subject " + subject);
  }

  using MessageBus::Publish;
  Result<PublishAck> Publish(const OutgoingMessage& message) override {
    const std::string_view payload = message.payload;
    if (Status s = ValidatePublish(message.subject, payload); !s.ok()) return s;
    const std::string subj(message.subject);
    const std::string msg_id(message.id);
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = Millis(shared_->options.request_timeout);
    if (!msg_id.empty()) options.MsgId = msg_id.c_str();
    jsPubAck* ack = nullptr;
    jsErrCode js_error{};
    natsStatus s = NATS_OK;
    if (message.traceparent.empty()) {
      s = js_Publish(&ack, shared_->js, subj.c_str(), payload.data(),
                     static_cast<int>(payload.size()), &options, &js_error);
    } else {
      // Headers need a message of its own; the id still goes through the options.
      natsMsg* msg = nullptr;
      s = natsMsg_Create(&msg, subj.c_str(), nullptr, payload.data(),
                         static_cast<int>(payload.size()));
      const std::string traceparent(message.traceparent);
      if (s == NATS_OK) s = natsMsgHeader_Set(msg, kTraceparentHeader, traceparent.c_str());
      if (s == NATS_OK) s = js_PublishMsg(&ack, shared_->js, msg, &options, &js_error);
      natsMsg_Destroy(msg);
    }
    if (s == NATS_NO_RESPONDERS) return NoResponders(subj);
    if (s != NATS_OK) return FromNats(s, js_error, "publish to " + subj);
    const PublishAck out{ack->Sequence, ack->Duplicate};
    jsPubAck_Destroy(ack);
    return out;
  }

  Result<std::vector<PublishAck>> PublishBatch(std::span<const OutgoingMessage> messages) override {
    for (const OutgoingMessage& m : messages) {
      if (Status s = ValidatePublish(m.subject, m.payload); !s.ok()) return s;
    }
    AsyncSend send(shared_, messages.size());
    send.Start(messages);
    const Duration timeout = shared_->options.request_timeout;
    return send.Complete(timeout, FromNats(NATS_TIMEOUT, {}, "no acknowledgement"));
  }

  using MessageBus::PublishLater;
  Result<std::unique_ptr<PendingPublish>> PublishLater(const OutgoingMessage& message) override {
    if (Status s = ValidatePublish(message.subject, message.payload); !s.ok()) return s;
    auto send = std::make_unique<AsyncSend>(shared_, 1);
    send->Start(std::span<const OutgoingMessage>(&message, 1));
    if (!send->failed().ok()) return send->failed();
    return std::unique_ptr<PendingPublish>(
        std::make_unique<NatsPendingPublish>(std::move(send), shared_->options.request_timeout));
  }

  Result<std::unique_ptr<Consumer>> Consume(const ConsumerConfig& config) override {
    if (Status s = ValidateConsumerConfig(config); !s.ok()) return s;
    const bool ephemeral = config.durable.empty();
    std::string name = config.durable;
    jsErrCode js_error{};
    if (!ephemeral) {
      jsConsumerInfo* info = nullptr;
      const natsStatus s = js_GetConsumerInfo(&info, shared_->js, config.stream.c_str(),
                                              name.c_str(), nullptr, &js_error);
      if (s == NATS_OK) {
        const std::string filter =
            info->Config->FilterSubject == nullptr ? "" : info->Config->FilterSubject;
        const bool ack_all = info->Config->AckPolicy == js_AckAll;
        const bool push = info->Config->DeliverSubject != nullptr;
        jsConsumerInfo_Destroy(info);
        if (Status same = CheckSameDurable(config, filter, ack_all, push); !same.ok()) return same;
        return Bind(config, name, ephemeral);
      }
      if (js_error != JSConsumerNotFoundErr) {
        return FromNats(s, js_error, "consumer " + name + " of stream " + config.stream);
      }
    }
    Result<std::string> created = CreateConsumer(config);
    if (!created.ok()) return created.status();
    name = created.value();
    return Bind(config, name, ephemeral);
  }

  Result<ConsumerPosition> GetConsumerPosition(std::string_view stream,
                                               std::string_view durable) override {
    const std::string s_name(stream);
    const std::string c_name(durable);
    jsErrCode js_error{};
    jsConsumerInfo* info = nullptr;
    const natsStatus s =
        js_GetConsumerInfo(&info, shared_->js, s_name.c_str(), c_name.c_str(), nullptr, &js_error);
    if (s != NATS_OK) {
      const Status failed = FromNats(s, js_error, "consumer " + c_name + " of stream " + s_name);
      if (js_error == JSConsumerNotFoundErr || js_error == JSStreamNotFoundErr) {
        return NotFound(failed.message());
      }
      return failed;
    }
    ConsumerPosition position;
    position.name = c_name;
    position.delivered = info->Delivered.Stream;
    position.ack_floor = info->AckFloor.Stream;
    position.pending = info->NumPending;
    position.ack_pending = static_cast<uint64_t>(info->NumAckPending);
    jsConsumerInfo_Destroy(info);
    return position;
  }

  Status DeleteConsumer(std::string_view stream, std::string_view durable) override {
    const std::string s_name(stream);
    const std::string c_name(durable);
    jsErrCode js_error{};
    const natsStatus s =
        js_DeleteConsumer(shared_->js, s_name.c_str(), c_name.c_str(), nullptr, &js_error);
    if (s != NATS_OK) {
      return FromNats(s, js_error, "delete consumer " + c_name + " of stream " + s_name);
    }
    return Status::Ok();
  }

 private:
  // Creates the consumer through JetStream's API directly rather than js_AddConsumer: cnats 3.4
  // writes a start time's fraction without its leading zeros (12 ms becomes ".12345678"), so a
  // replay from a time would start up to 0.9 s late. Returns the consumer's name.
  Result<std::string> CreateConsumer(const ConsumerConfig& config) {
    nlohmann::json c = {{"ack_policy", config.ack_all ? "all" : "explicit"},
                        {"ack_wait", config.ack_wait.ns},
                        {"max_ack_pending", config.max_ack_pending}};
    if (!config.durable.empty()) c["durable_name"] = config.durable;
    if (config.push) {
      // A subject of this connection's inbox space; a durable keeps it, and whoever binds to the
      // durable later (another process) subscribes to it.
      natsInbox* inbox = nullptr;
      if (natsInbox_Create(&inbox) != NATS_OK) return Internal("nats: cannot create an inbox");
      c["deliver_subject"] = std::string(inbox);
      natsInbox_Destroy(inbox);
      c["idle_heartbeat"] = kPushHeartbeat.ns;
    }
    if (!config.filter_subject.empty()) c["filter_subject"] = config.filter_subject;
    switch (config.start) {
      case StartAt::kFirst:
        c["deliver_policy"] = "all";
        break;
      case StartAt::kNew:
        c["deliver_policy"] = "new";
        break;
      case StartAt::kSequence:
        c["deliver_policy"] = "by_start_sequence";
        c["opt_start_seq"] = config.start_sequence;
        break;
      case StartAt::kTime:
        c["deliver_policy"] = "by_start_time";
        c["opt_start_time"] = FormatIso8601(config.start_time);
        break;
    }
    const std::string body = nlohmann::json{{"stream_name", config.stream}, {"config", c}}.dump();
    const std::string subject = config.durable.empty() ? "$JS.API.CONSUMER.CREATE." + config.stream
                                                       : "$JS.API.CONSUMER.DURABLE.CREATE." +
                                                             config.stream + "." + config.durable;
    const std::string what =
        "add consumer " + (config.durable.empty() ? std::string("(ephemeral)") : config.durable) +
        " to stream " + config.stream;
    natsMsg* reply = nullptr;
    const natsStatus s = natsConnection_Request(&reply, shared_->connection, subject.c_str(),
                                                body.data(), static_cast<int>(body.size()),
                                                Millis(shared_->options.request_timeout));
    if (s != NATS_OK) return FromNats(s, {}, what);
    const MsgPtr owned(reply);
    const nlohmann::json answer = nlohmann::json::parse(
        natsMsg_GetData(reply), natsMsg_GetData(reply) + natsMsg_GetDataLength(reply), nullptr,
        /*allow_exceptions=*/false);
    if (answer.is_discarded()) return Internal(what + ": the server's answer is not JSON");
    if (answer.contains("error")) {
      const nlohmann::json& error = answer["error"];
      return FromNats(NATS_ERR, static_cast<jsErrCode>(error.value("err_code", 0)),
                      what + ": " + error.value("description", std::string("?")));
    }
    if (!answer.contains("name") || !answer["name"].is_string()) {
      return Internal(what + ": the server's answer names no consumer");
    }
    return answer["name"].get<std::string>();
  }

  // A subscription bound to the existing consumer: never creates one, so destroying the
  // subscription leaves a durable in place.
  Result<std::unique_ptr<Consumer>> Bind(const ConsumerConfig& config, const std::string& name,
                                         bool ephemeral) {
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = config.stream.c_str();
    options.Consumer = name.c_str();
    options.ManualAck = true;
    natsSubscription* subscription = nullptr;
    jsErrCode js_error{};
    const std::string subject = config.filter_subject.empty() ? ">" : config.filter_subject;
    natsStatus s = NATS_OK;
    if (config.push) {
      s = js_SubscribeSync(&subscription, shared_->js, subject.c_str(), &shared_->js_options,
                           &options, &js_error);
      // The server sends at most max_ack_pending unacknowledged messages; cnats' own limit (65,536
      // messages, 64 MiB) would drop some of a stream of large messages first, so it is lifted:
      // max_ack_pending is the bound.
      if (s == NATS_OK) {
        s = natsSubscription_SetPendingLimits(subscription, -1, -1);
        if (s != NATS_OK) {
          shared_->Retire(subscription);
          subscription = nullptr;
        }
      }
    } else {
      s = js_PullSubscribe(&subscription, shared_->js, subject.c_str(), name.c_str(),
                           &shared_->js_options, &options, &js_error);
    }
    if (s != NATS_OK) {
      if (ephemeral) {
        jsErrCode ignored{};
        js_DeleteConsumer(shared_->js, config.stream.c_str(), name.c_str(), nullptr, &ignored);
      }
      return FromNats(s, js_error, "bind to consumer " + name + " of stream " + config.stream);
    }
    return std::unique_ptr<Consumer>(std::make_unique<NatsConsumer>(
        shared_, subscription, config.stream, name, ephemeral, config.ack_all, config.push));
  }

  std::shared_ptr<Shared> shared_;
};

std::string Joined(const std::vector<std::string>& servers) {
  std::string out;
  for (const std::string& s : servers) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::vector<std::string> NatsServers(std::string_view list) {
  std::vector<std::string> servers;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    if (!item.empty()) servers.emplace_back(item);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return servers;
}

Result<std::unique_ptr<MessageBus>> ConnectNats(const NatsOptions& options) {
  if (options.servers.empty()) return InvalidArgument("nats: no server URL given");
  auto shared = std::make_shared<Shared>();
  shared->options = options;
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return Internal("nats: cannot create options");
  std::vector<const char*> servers;
  for (const std::string& s : options.servers) servers.push_back(s.c_str());
  natsStatus s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, Millis(options.connect_timeout));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // forever: roles recover alone
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, Millis(options.reconnect_wait));
  // Sent at once, not by cnats' flusher thread, which yields a millisecond before each flush: a
  // consumer's pull request waited for it (one hop took 1.0 ms at p50).
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
  // Also what makes cnats watch a push consumer's heartbeats (HeartbeatWatch).
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, &HeartbeatWatch::OnAsyncError, nullptr);
  if (s == NATS_OK) s = natsConnection_Connect(&shared->connection, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    Status status = FromNats(s, {}, "nats: cannot connect to " + Joined(options.servers));
    return s == NATS_INVALID_ARG || s == NATS_ADDRESS_MISSING ? InvalidArgument(status.message())
                                                              : Unavailable(status.message());
  }
  jsOptions_Init(&shared->js_options);
  shared->js_options.Wait = Millis(options.request_timeout);
  s = natsConnection_JetStream(&shared->js, shared->connection, &shared->js_options);
  if (s == NATS_OK) {
    jsOptions async;
    jsOptions_Init(&async);
    async.Wait = Millis(options.request_timeout);
    async.PublishAsync.AckHandler = &AckRouter::OnAck;
    async.PublishAsync.AckHandlerClosure = &shared->acks;
    s = natsConnection_JetStream(&shared->async, shared->connection, &async);
  }
  if (s != NATS_OK) return FromNats(s, {}, "nats: JetStream context");
  jsAccountInfo* account = nullptr;
  jsErrCode js_error{};
  s = js_GetAccountInfo(&account, shared->js, nullptr, &js_error);
  if (account != nullptr) jsAccountInfo_Destroy(account);
  if (s == NATS_NO_RESPONDERS || js_error == JSNotEnabledErr ||
      js_error == JSNotEnabledForAccountErr) {
    return FailedPrecondition("nats: JetStream is not enabled on " + Joined(options.servers) +
                              " (start nats-server with -js)");
  }
  if (s != NATS_OK) return FromNats(s, js_error, "nats: JetStream account info");
  return std::unique_ptr<MessageBus>(std::make_unique<NatsBus>(std::move(shared)));
}

}  // namespace aits::bus

namespace aits::bus::internal {

Status FromNats(natsStatus s, jsErrCode js_error, const std::string& what) {
  std::string text = what + ": " + natsStatus_GetText(s);
  if (js_error != 0)
    text += " (JetStream error " + std::to_string(static_cast<int>(js_error)) + ")";
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && last == s) text += ": " + std::string(detail);
  switch (js_error) {
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr:
      return NotFound(text);
    case JSStreamSubjectOverlapErr:
      return InvalidArgument(text);
    default:
      break;
  }
  switch (s) {
    case NATS_TIMEOUT:
      return DeadlineExceeded(text);
    case NATS_NO_RESPONDERS:
      return FailedPrecondition(text + " (is JetStream enabled on the server?)");
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_NOT_YET_CONNECTED:
    case NATS_CONNECTION_AUTH_FAILED:
      return Unavailable(text);
    case NATS_NOT_FOUND:
      return NotFound(text);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      return InvalidArgument(text);
    case NATS_MAX_PAYLOAD:
      return OutOfRange(text);
    default:
      return js_error != 0 ? FailedPrecondition(text) : Internal(text);
  }
}

}  // namespace aits::bus::internal
