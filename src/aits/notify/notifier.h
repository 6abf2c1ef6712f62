// The notifications role's core (SPEC §1, service 10; docs/monitoring.md, "The notifications
// role"): alerts arrive from Alertmanager's webhook, each change of an alert (it fired, it
// resolved) is delivered once — to the log, to an alerts file of JSON lines, and to the channels
// added (Telegram's, later) — and Alertmanager's repeats of what was delivered already are
// counted, not delivered again. A malformed notification is refused whole, with the field that is
// wrong, and counted; nothing of it is delivered.
//
// Thread-safety: every call from any thread (one mutex; the HTTP server calls Receive from its
// I/O threads).
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/notify/alertmanager.h"

namespace aits::notify {

struct NotifierOptions {
  // Appended with one JSON line per delivered alert; empty: none. Opened at Create.
  std::string alerts_file;
  // Delivered alerts kept for Recent(), newest last.
  size_t recent = 256;
  // Alert changes remembered to tell a repeat from a change; the oldest are forgotten first (a
  // repeat of a forgotten one is delivered again, which is harmless).
  size_t remembered = 10'000;
};

// One alert as delivered: the alert, and when it was received (UTC, ISO 8601).
struct Delivered {
  Alert alert;
  std::string received;
};

// What identifies an alert across its changes: Alertmanager's fingerprint, or its name and labels
// when it sent none.
std::string AlertIdentity(const Alert& alert);
// One delivered alert as JSON, as the alerts file holds it and the roles show it: received,
// status, alertname, severity, summary, labels, annotations, starts_at, ends_at, fingerprint.
nlohmann::ordered_json DeliveredJson(const Delivered& delivered);

struct ReceiveOutcome {
  size_t alerts = 0;     // in the notification
  size_t delivered = 0;  // new changes, delivered
  size_t repeated = 0;   // delivered before (Alertmanager's group_interval, repeat_interval)
};

class Notifier {
 public:
  using Channel = std::function<void(const Delivered&)>;

  // IoError naming the alerts file when it cannot be opened for appending; the registry's error
  // when a family of the same name was registered differently. `metrics` may be null; it must
  // outlive the notifier.
  static Result<std::unique_ptr<Notifier>> Create(const NotifierOptions& options,
                                                  Registry* metrics = nullptr);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Every delivered alert goes to `channel` too, after the log and the file, under the mutex (a
  // channel queues; it must not block).
  void AddChannel(Channel channel);

  // One webhook body. InvalidArgument (ParseAlertmanagerWebhook's, prefixed "alertmanager
  // webhook: ") for a malformed one, of which nothing is delivered.
  Result<ReceiveOutcome> Receive(std::string_view body);

  // The last delivered alerts, oldest first.
  std::vector<Delivered> Recent() const;
  uint64_t rejected() const;

 private:
  Notifier() = default;
  void Deliver(const Alert& alert, const std::string& received);

  NotifierOptions options_;
  mutable std::mutex mutex_;
  std::FILE* file_ = nullptr;
  std::vector<Channel> channels_;
  std::deque<Delivered> recent_;
  // (fingerprint or alertname+labels, status, startsAt) of the changes delivered.
  using Key = std::tuple<std::string, std::string, std::string>;
  std::set<Key> seen_;
  std::deque<Key> seen_order_;
  uint64_t rejected_ = 0;

  Family<Counter>* received_ = nullptr;   // {status}
  Family<Counter>* delivered_ = nullptr;  // {status}
  Counter* repeated_ = nullptr;
  Counter* malformed_ = nullptr;
};

}  // namespace aits::notify
