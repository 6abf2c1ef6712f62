// The in-process MessageBus: JetStream's semantics (message_bus.h) over memory, one mutex and one
// condition variable. What it does not do: persist (a process's streams die with it), replicate,
// or spread a stream's storage across processes.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "aits/bus/message_bus.h"

namespace aits::bus {
namespace {

struct Stored {
  std::string subject;
  std::string id;
  std::string payload;
  Timestamp stored;
  std::string traceparent;
};

struct Outstanding {
  Timestamp deadline;  // delivered again once the clock reaches it
  uint64_t delivered = 1;
  bool nak = false;
};

struct ConsumerState {
  ConsumerConfig config;
  uint64_t next = 1;  // the next stream sequence not yet handed out
  std::map<uint64_t, Outstanding> outstanding;
};

struct Stream {
  StreamConfig config;
  uint64_t first = 1;  // sequence of messages.front(); last + 1 while empty
  uint64_t last = 0;
  std::deque<Stored> messages;
  std::unordered_map<std::string, uint64_t> ids;           // within the duplicate window
  std::deque<std::pair<Timestamp, std::string>> id_times;  // in store order, to expire them
  std::map<std::string, std::shared_ptr<ConsumerState>, std::less<>> consumers;

  const Stored& at(uint64_t sequence) const { return messages[sequence - first]; }
};

struct State {
  explicit State(const Clock& c) : clock(c) {}
  const Clock& clock;
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, Stream, std::less<>> streams;
  uint64_t ephemerals = 0;

  // Drops what max_age has expired. Called with mu held.
  void Expire(Stream& stream, Timestamp now) {
    if (stream.config.max_age.ns > 0) {
      while (!stream.messages.empty() &&
             stream.messages.front().stored < now - stream.config.max_age) {
        stream.messages.pop_front();
        ++stream.first;
      }
    }
    while (!stream.id_times.empty() &&
           stream.id_times.front().first < now - stream.config.duplicate_window) {
      stream.ids.erase(stream.id_times.front().second);
      stream.id_times.pop_front();
    }
  }

  Stream* Find(std::string_view name) {
    const auto it = streams.find(name);
    return it == streams.end() ? nullptr : &it->second;
  }
};

Status NoStream(std::string_view name) {
  return NotFound("stream " + std::string(name) + " does not exist");
}

Status NoConsumer(std::string_view stream, std::string_view name) {
  return NotFound("consumer " + std::string(name) + " of stream " + std::string(stream) +
                  " does not exist");
}

class InProcessConsumer final : public Consumer {
 public:
  InProcessConsumer(std::shared_ptr<State> state, std::string stream, std::string name,
                    bool ephemeral)
      : state_(std::move(state)),
        stream_(std::move(stream)),
        name_(std::move(name)),
        ephemeral_(ephemeral) {}

  ~InProcessConsumer() override {
    if (!ephemeral_) return;
    const std::lock_guard lock(state_->mu);
    if (Stream* stream = state_->Find(stream_)) {
      const auto it = stream->consumers.find(name_);
      if (it != stream->consumers.end()) stream->consumers.erase(it);
    }
  }

  Result<std::vector<Delivery>> Fetch(int max, Duration timeout) override {
    if (max < 1) return InvalidArgument("Fetch: max " + std::to_string(max) + " must be >= 1");
    using Steady = std::chrono::steady_clock;
    const Steady::time_point give_up = Steady::now() + std::chrono::nanoseconds(timeout.ns);
    std::unique_lock lock(state_->mu);
    while (true) {
      Stream* stream = state_->Find(stream_);
      if (stream == nullptr) return NoStream(stream_);
      const auto found = stream->consumers.find(name_);
      if (found == stream->consumers.end()) {
        return NoConsumer(stream_, name_);
      }
      ConsumerState& consumer = *found->second;
      const Timestamp now = state_->clock.Now();
      state_->Expire(*stream, now);
      std::vector<Delivery> out = Take(*stream, consumer, static_cast<size_t>(max), now);
      if (!out.empty()) return out;
      const Steady::time_point steady_now = Steady::now();
      if (steady_now >= give_up) return out;
      Steady::time_point wake = give_up;
      if (!consumer.outstanding.empty()) {
        Timestamp earliest = consumer.outstanding.begin()->second.deadline;
        for (const auto& [sequence, o] : consumer.outstanding)
          earliest = std::min(earliest, o.deadline);
        const int64_t wait_ns = std::max<int64_t>((earliest - now).ns, 1'000'000);
        wake = std::min(wake, steady_now + std::chrono::nanoseconds(wait_ns));
      }
      state_->changed.wait_until(lock, wake);
    }
  }

  Status Ack(uint64_t sequence) override { return Settle(sequence, /*nak=*/false); }
  Status Nak(uint64_t sequence) override { return Settle(sequence, /*nak=*/true); }

  Status InProgress(uint64_t sequence) override {
    const std::lock_guard lock(state_->mu);
    Stream* stream = state_->Find(stream_);
    if (stream == nullptr) return NoStream(stream_);
    const auto found = stream->consumers.find(name_);
    if (found == stream->consumers.end()) return NoConsumer(stream_, name_);
    const auto it = found->second->outstanding.find(sequence);
    if (it != found->second->outstanding.end() && !it->second.nak) {
      it->second.deadline = state_->clock.Now() + found->second->config.ack_wait;
    }
    return Status::Ok();
  }

 private:
  // Redeliveries first (in sequence order), then new messages, within max and max_ack_pending.
  static std::vector<Delivery> Take(const Stream& stream, ConsumerState& consumer, size_t max,
                                    Timestamp now) {
    std::vector<Delivery> out;
    std::vector<bool> is_new;
    const auto deliver = [&](uint64_t sequence, uint64_t delivered, bool fresh) {
      const Stored& m = stream.at(sequence);
      out.push_back(
          Delivery{m.subject, m.id, m.payload, sequence, delivered, 0, m.stored, m.traceparent});
      is_new.push_back(fresh);
    };
    for (auto it = consumer.outstanding.begin(); it != consumer.outstanding.end();) {
      if (it->first < stream.first) {  // discarded by a limit: nothing left to deliver
        it = consumer.outstanding.erase(it);
        continue;
      }
      if (out.size() < max && (it->second.nak || it->second.deadline <= now)) {
        it->second.nak = false;
        it->second.deadline = now + consumer.config.ack_wait;
        deliver(it->first, ++it->second.delivered, false);
      }
      ++it;
    }
    const std::string& filter = consumer.config.filter_subject;
    consumer.next = std::max(consumer.next, stream.first);
    while (out.size() < max &&
           consumer.outstanding.size() < static_cast<size_t>(consumer.config.max_ack_pending) &&
           consumer.next <= stream.last) {
      const uint64_t sequence = consumer.next++;
      if (!filter.empty() && !SubjectMatches(filter, stream.at(sequence).subject)) continue;
      consumer.outstanding[sequence] = Outstanding{now + consumer.config.ack_wait, 1, false};
      deliver(sequence, 1, true);
    }
    if (out.empty()) return out;
    // The lag: what is left unhanded, plus the new messages of this batch after each one. With a
    // filter this counts the matching messages left, linear in the lag.
    uint64_t left = 0;
    for (uint64_t s = consumer.next; s <= stream.last; ++s) {
      if (filter.empty()) {
        left = stream.last - s + 1;
        break;
      }
      if (SubjectMatches(filter, stream.at(s).subject)) ++left;
    }
    for (size_t i = out.size(); i-- > 0;) {
      out[i].pending = left;
      if (is_new[i]) ++left;
    }
    return out;
  }

  Status Settle(uint64_t sequence, bool nak) {
    const std::lock_guard lock(state_->mu);
    Stream* stream = state_->Find(stream_);
    if (stream == nullptr) return NoStream(stream_);
    const auto found = stream->consumers.find(name_);
    if (found == stream->consumers.end()) {
      return NoConsumer(stream_, name_);
    }
    auto& outstanding = found->second->outstanding;
    const auto it = outstanding.find(sequence);
    if (it == outstanding.end()) return Status::Ok();
    if (nak) {
      it->second.nak = true;
    } else if (found->second->config.ack_all) {
      outstanding.erase(outstanding.begin(), std::next(it));
    } else {
      outstanding.erase(it);
    }
    state_->changed.notify_all();
    return Status::Ok();
  }

  std::shared_ptr<State> state_;
  std::string stream_;
  std::string name_;
  bool ephemeral_;
};

class InProcessBus final : public MessageBus {
 public:
  explicit InProcessBus(const Clock& clock) : state_(std::make_shared<State>(clock)) {}

  Status AddStream(const StreamConfig& config) override {
    if (Status s = ValidateStreamConfig(config); !s.ok()) return s;
    const std::lock_guard lock(state_->mu);
    for (const auto& [name, other] : state_->streams) {
      if (name == config.name) continue;
      for (const std::string& mine : config.subjects) {
        for (const std::string& theirs : other.config.subjects) {
          if (SubjectsOverlap(mine, theirs)) {
            return InvalidArgument("stream " + config.name + ": subject '" + mine +
                                   "' overlaps subject '" + theirs + "' of stream " + name);
          }
        }
      }
    }
    Stream& stream = state_->streams[config.name];
    stream.config = config;
    ApplyCountLimit(stream);
    return Status::Ok();
  }

  Result<StreamState> GetStream(std::string_view name) override {
    const std::lock_guard lock(state_->mu);
    Stream* stream = state_->Find(name);
    if (stream == nullptr) return NoStream(name);
    state_->Expire(*stream, state_->clock.Now());
    StreamState out;
    out.messages = stream->messages.size();
    out.first_sequence = stream->messages.empty() ? 0 : stream->first;
    out.last_sequence = stream->last;
    return out;
  }

  Result<std::optional<Delivery>> LastMessage(std::string_view name,
                                              std::string_view subject) override {
    const std::lock_guard lock(state_->mu);
    Stream* stream = state_->Find(name);
    if (stream == nullptr) return NoStream(name);
    for (auto it = stream->messages.rbegin(); it != stream->messages.rend(); ++it) {
      if (it->subject != subject) continue;
      Delivery out;
      out.subject = it->subject;
      out.id = it->id;
      out.payload = it->payload;
      out.sequence = stream->first + static_cast<uint64_t>(stream->messages.rend() - it) - 1;
      out.delivered = 0;
      out.stored = it->stored;
      out.traceparent = it->traceparent;
      return std::optional<Delivery>(std::move(out));
    }
    return std::optional<Delivery>();
  }

  Status DeleteStream(std::string_view name) override {
    const std::lock_guard lock(state_->mu);
    const auto it = state_->streams.find(name);
    if (it == state_->streams.end()) return NoStream(name);
    state_->streams.erase(it);
    state_->changed.notify_all();
    return Status::Ok();
  }

  using MessageBus::Publish;
  Result<PublishAck> Publish(const OutgoingMessage& message) override {
    const std::string_view subject = message.subject;
    const std::string_view id = message.id;
    const std::string_view payload = message.payload;
    if (Status s = ValidatePublish(subject, payload); !s.ok()) return s;
    const std::lock_guard lock(state_->mu);
    Stream* stream = nullptr;
    for (auto& [name, candidate] : state_->streams) {
      for (const std::string& pattern : candidate.config.subjects) {
        if (SubjectMatches(pattern, subject)) stream = &candidate;
      }
    }
    if (stream == nullptr) return NotFound("no stream stores subject " + std::string(subject));
    const Timestamp now = state_->clock.Now();
    state_->Expire(*stream, now);
    if (!id.empty()) {
      const auto seen = stream->ids.find(std::string(id));
      if (seen != stream->ids.end()) return PublishAck{seen->second, true};
    }
    if (stream->messages.empty()) stream->first = stream->last + 1;
    const uint64_t sequence = ++stream->last;
    stream->messages.push_back(Stored{std::string(subject), std::string(id), std::string(payload),
                                      now, std::string(message.traceparent)});
    if (!id.empty() && stream->config.duplicate_window.ns > 0) {
      stream->ids.emplace(std::string(id), sequence);
      stream->id_times.emplace_back(now, std::string(id));
    }
    ApplyCountLimit(*stream);
    state_->changed.notify_all();
    return PublishAck{sequence, false};
  }

  Result<std::unique_ptr<Consumer>> Consume(const ConsumerConfig& config) override {
    if (Status s = ValidateConsumerConfig(config); !s.ok()) return s;
    const std::lock_guard lock(state_->mu);
    Stream* stream = state_->Find(config.stream);
    if (stream == nullptr) return NoStream(config.stream);
    const bool ephemeral = config.durable.empty();
    const std::string name =
        ephemeral ? "~ephemeral-" + std::to_string(++state_->ephemerals) : config.durable;
    const auto existing = stream->consumers.find(name);
    if (existing != stream->consumers.end()) {
      const ConsumerConfig& had = existing->second->config;
      if (Status s = CheckSameDurable(config, had.filter_subject, had.ack_all, had.push); !s.ok())
        return s;
    } else {
      state_->Expire(*stream, state_->clock.Now());
      auto consumer = std::make_shared<ConsumerState>();
      consumer->config = config;
      consumer->next = StartSequence(*stream, config);
      stream->consumers.emplace(name, std::move(consumer));
    }
    return std::unique_ptr<Consumer>(
        std::make_unique<InProcessConsumer>(state_, config.stream, name, ephemeral));
  }

  Result<ConsumerPosition> GetConsumerPosition(std::string_view stream_name,
                                               std::string_view durable) override {
    const std::lock_guard lock(state_->mu);
    Stream* stream = state_->Find(stream_name);
    if (stream == nullptr) return NoStream(stream_name);
    const auto it = stream->consumers.find(durable);
    if (it == stream->consumers.end()) return NoConsumer(stream_name, durable);
    const ConsumerState& consumer = *it->second;
    ConsumerPosition position;
    position.name = std::string(durable);
    position.delivered = consumer.next - 1;
    position.ack_pending = consumer.outstanding.size();
    position.ack_floor =
        consumer.outstanding.empty() ? position.delivered : consumer.outstanding.begin()->first - 1;
    return position;
  }

  Status DeleteConsumer(std::string_view stream_name, std::string_view durable) override {
    const std::lock_guard lock(state_->mu);
    Stream* stream = state_->Find(stream_name);
    if (stream == nullptr) return NoStream(stream_name);
    const auto it = stream->consumers.find(durable);
    if (it == stream->consumers.end()) return NoConsumer(stream_name, durable);
    stream->consumers.erase(it);
    state_->changed.notify_all();
    return Status::Ok();
  }

 private:
  static void ApplyCountLimit(Stream& stream) {
    const uint64_t max = stream.config.max_messages;
    while (max > 0 && stream.messages.size() > max) {
      stream.messages.pop_front();
      ++stream.first;
    }
  }

  static uint64_t StartSequence(const Stream& stream, const ConsumerConfig& config) {
    const uint64_t first = stream.messages.empty() ? stream.last + 1 : stream.first;
    switch (config.start) {
      case StartAt::kFirst:
        return first;
      case StartAt::kNew:
        return stream.last + 1;
      case StartAt::kSequence:
        return std::max(config.start_sequence, first);
      case StartAt::kTime:
        for (uint64_t s = first; s <= stream.last; ++s) {
          if (stream.at(s).stored >= config.start_time) return s;
        }
        return stream.last + 1;
    }
    return first;
  }

  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<MessageBus> MakeInProcessBus(const Clock& clock) {
  return std::make_unique<InProcessBus>(clock);
}

std::unique_ptr<MessageBus> MakeInProcessBus() { return MakeInProcessBus(SystemWallClock()); }

}  // namespace aits::bus
