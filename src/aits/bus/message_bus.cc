#include "aits/bus/message_bus.h"

#include <string>

namespace aits::bus {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// A subject's dot-separated tokens, one at a time.
class SubjectTokens {
 public:
  explicit SubjectTokens(std::string_view subject) : rest_(subject) {}
  bool done() const { return done_; }
  std::string_view Next() {
    const size_t dot = rest_.find('.');
    const std::string_view token = rest_.substr(0, dot);
    if (dot == std::string_view::npos) {
      done_ = true;
      rest_ = {};
    } else {
      rest_ = rest_.substr(dot + 1);
    }
    return token;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

}  // namespace

namespace {

// A publish that was synchronous: its answer is in hand.
class AnsweredPublish final : public PendingPublish {
 public:
  explicit AnsweredPublish(Result<PublishAck> answer) : answer_(std::move(answer)) {}
  bool answered() override { return true; }
  Result<PublishAck> Wait() override { return answer_; }

 private:
  Result<PublishAck> answer_;
};

}  // namespace

Result<std::unique_ptr<PendingPublish>> MessageBus::PublishLater(const OutgoingMessage& message) {
  AITS_RETURN_IF_ERROR(ValidatePublish(message.subject, message.payload));
  return std::unique_ptr<PendingPublish>(std::make_unique<AnsweredPublish>(Publish(message)));
}

Result<std::vector<PublishAck>> MessageBus::PublishBatch(
    std::span<const OutgoingMessage> messages) {
  std::vector<PublishAck> acks;
  acks.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    Result<PublishAck> ack = Publish(messages[i]);
    if (!ack.ok())
      return ack.status().WithContext("message " + std::to_string(i) + " of the batch");
    acks.push_back(ack.value());
  }
  return acks;
}

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (name.size() > 200) {
    return InvalidArgument(std::string(what) + " '" + std::string(name.substr(0, 40)) +
                           "…' is longer than 200 characters");
  }
  for (const char c : name) {
    if (!IsNameChar(c)) {
      return InvalidArgument(std::string(what) + " '" + std::string(name) +
                             "' may hold only letters, digits, '_' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidateSubject(std::string_view subject, bool wildcards_allowed) {
  const auto bad = [&](std::string_view why) {
    return InvalidArgument("subject '" + std::string(subject) + "': " + std::string(why));
  };
  if (subject.empty()) return InvalidArgument("subject is empty");
  SubjectTokens tokens(subject);
  while (!tokens.done()) {
    const std::string_view token = tokens.Next();
    if (token.empty()) return bad("empty token");
    if (token == "*" || token == ">") {
      if (!wildcards_allowed) return bad("wildcards are not allowed here");
      if (token == ">" && !tokens.done()) return bad("'>' must be the last token");
    } else {
      for (const char c : token) {
        if (!IsNameChar(c)) return bad("a token may hold only letters, digits, '_' and '-'");
      }
    }
  }
  return Status::Ok();
}

Status ValidatePublish(std::string_view subject, std::string_view payload) {
  if (Status s = ValidateSubject(subject, false); !s.ok()) return s;
  if (payload.size() > kMaxPayload) {
    return OutOfRange("publish to " + std::string(subject) + ": payload of " +
                      std::to_string(payload.size()) + " bytes is over the " +
                      std::to_string(kMaxPayload) + "-byte cap");
  }
  return Status::Ok();
}

Status ValidateStreamConfig(const StreamConfig& config) {
  if (Status s = ValidateName("stream name", config.name); !s.ok()) return s;
  const std::string where = "stream " + config.name + ": ";
  if (config.subjects.empty()) return InvalidArgument(where + "no subjects");
  for (const std::string& subject : config.subjects) {
    if (Status s = ValidateSubject(subject, true); !s.ok())
      return s.WithContext(where + "subjects");
  }
  if (config.duplicate_window.ns < 0) return InvalidArgument(where + "duplicate_window < 0");
  if (config.max_age.ns < 0) return InvalidArgument(where + "max_age < 0");
  if (config.replicas < 1 || config.replicas > 5) {
    return InvalidArgument(where + "replicas " + std::to_string(config.replicas) +
                           " is outside 1..5");
  }
  return Status::Ok();
}

Status ValidateConsumerConfig(const ConsumerConfig& config) {
  if (Status s = ValidateName("stream name", config.stream); !s.ok()) return s;
  const std::string where = "consumer of stream " + config.stream + ": ";
  if (!config.durable.empty()) {
    if (Status s = ValidateName("durable name", config.durable); !s.ok()) {
      return s.WithContext(where);
    }
  }
  if (!config.filter_subject.empty()) {
    if (Status s = ValidateSubject(config.filter_subject, true); !s.ok()) {
      return s.WithContext(where + "filter_subject");
    }
  }
  if (config.start == StartAt::kSequence && config.start_sequence == 0) {
    return InvalidArgument(where + "start_sequence must be >= 1");
  }
  if (config.ack_wait.ns <= 0) return InvalidArgument(where + "ack_wait must be > 0");
  if (config.max_ack_pending < 1) {
    return InvalidArgument(where + "max_ack_pending " + std::to_string(config.max_ack_pending) +
                           " must be >= 1");
  }
  return Status::Ok();
}

Status CheckSameDurable(const ConsumerConfig& wanted, std::string_view filter, bool ack_all,
                        bool push) {
  const std::string which = "durable " + wanted.durable + " of stream " + wanted.stream;
  if (filter != wanted.filter_subject) {
    return InvalidArgument(which + " exists with filter '" + std::string(filter) + "', not '" +
                           wanted.filter_subject + "'");
  }
  if (ack_all != wanted.ack_all) {
    return InvalidArgument(which + " exists with ack_all " + (ack_all ? "on" : "off") + ", not " +
                           (wanted.ack_all ? "on" : "off"));
  }
  if (push != wanted.push) {
    return InvalidArgument(which + " exists as a " + (push ? "push" : "pull") +
                           " consumer, not a " + (wanted.push ? "push" : "pull") + " one");
  }
  return Status::Ok();
}

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  SubjectTokens p(pattern);
  SubjectTokens s(subject);
  while (true) {
    const std::string_view p_token = p.Next();
    const std::string_view s_token = s.Next();
    if (p_token == ">") return !s_token.empty();
    if (p_token != "*" && p_token != s_token) return false;
    if (p.done() || s.done()) return p.done() && s.done();
  }
}

bool SubjectsOverlap(std::string_view a, std::string_view b) {
  SubjectTokens x(a);
  SubjectTokens y(b);
  while (true) {
    const std::string_view x_token = x.Next();
    const std::string_view y_token = y.Next();
    if (x_token == ">" || y_token == ">") return true;
    if (x_token != "*" && y_token != "*" && x_token != y_token) return false;
    if (x.done() || y.done()) return x.done() && y.done();
  }
}

Status Retried(CircuitBreaker& breaker, const std::function<Status()>& call,
               const BackoffPolicy& retry) {
  return CallWithRetry(breaker, retry, call);
}

Result<std::vector<PublishAck>> PublishInOrder(MessageBus& bus,
                                               std::span<const OutgoingMessage> messages,
                                               CircuitBreaker& breaker,
                                               const BackoffPolicy& retry) {
  std::vector<PublishAck> acks;
  acks.reserve(messages.size());
  BackoffPolicy once = retry;
  once.max_attempts = 1;
  for (size_t idx = 0; idx < messages.size(); ++idx) {
    const OutgoingMessage& message = messages[idx];
    PublishAck ack;
    const Status status = Retried(
        breaker,
        [&] {
          Result<PublishAck> stored = bus.Publish(message);
          if (stored.ok()) ack = *stored;
          return stored.status();
        },
        message.id.empty() ? once : retry);
    if (!status.ok()) {
      return status.WithContext("message " + std::to_string(idx) + " of " +
                                std::to_string(messages.size()) + " to " +
                                std::string(message.subject));
    }
    acks.push_back(ack);
  }
  return acks;
}

}  // namespace aits::bus
