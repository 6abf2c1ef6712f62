// SessionView: what the API shows of one paper or live session, projected from the session's
// event log (docs/api.md, "Where the data comes from"). The log is the session's own record —
// the SQLite file of an embedded session or the PostgreSQL log of a distributed owner — so the
// API reads what the kernel committed, never a second account of it, and needs no hook in the
// kernel thread. A poll (every 250 ms by default) reads the events after the last one it read:
//   - the session's spec (instruments, currency) from its start;
//   - the account's checkpoints (balance, equity, margin, positions, breaker);
//   - every order as submitted and after each change, every fill;
//   - decision records (the last `max_decisions`), breaker changes, operator commands;
//   - the last quote of every instrument and its M1 bars (the last `max_bars`).
// Commands go the other way through the log's commands table, as `aits breaker` queues them: the
// session applies each between two ticks and logs where it did.
//
// Thread-safety: Poll on one thread (Start's, or a test's); the readers on any thread, each
// answering from a consistent snapshot under a shared lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/api/stream_hub.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/data/bar_aggregator.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"
#include "aits/persistence/event_store.h"

namespace aits::api {

struct SessionViewOptions {
  size_t max_decisions = 20000;
  size_t max_bars = 2000;  // per instrument
  std::chrono::milliseconds interval{250};
};

// A page of a list: newest first, `limit` items with keys below `before` (0: from the newest),
// optionally one symbol and a time range [from, to).
struct ListQuery {
  uint64_t before = 0;
  size_t limit = 100;
  std::string symbol;
  std::optional<Timestamp> from;
  std::optional<Timestamp> to;
};

class SessionView {
 public:
  // `location`: a state directory (its events.db), an events file, or a PostgreSQL location
  // (postgresql://...#session). NotFound when no session is there.
  static Result<std::unique_ptr<SessionView>> Open(std::string location,
                                                   SessionViewOptions options = {});
  ~SessionView();  // Stop()

  // Reads the events committed since the last call. DataLoss/IoError from the store.
  Status Poll();
  // Every event read from now on is also published to `hub` (stream_hub.h); call before the
  // first Poll to have the whole log in it. `hub` must outlive the view.
  void PublishTo(StreamHub* hub) { hub_ = hub; }
  // Polls every options.interval on a thread of its own until Stop(); a failed poll is kept
  // (last_error) and retried at the next interval.
  void Start();
  void Stop();

  // JSON answers of the API's routes (their shapes in docs/api.md).
  nlohmann::json Summary() const;  // the session: id, spec, events read, state, last error
  nlohmann::json Account() const;
  nlohmann::json Positions() const;
  nlohmann::json Orders(const ListQuery& q, const std::string& status) const;
  // The order and, when a decision made it, that decision record. NotFound otherwise.
  Result<nlohmann::json> Order(uint64_t id) const;
  nlohmann::json Trades(const ListQuery& q) const;
  nlohmann::json Decisions(const ListQuery& q) const;
  Result<nlohmann::json> Decision(uint64_t id) const;
  nlohmann::json Risk() const;
  nlohmann::json Quotes() const;
  // M1 bars of `symbol`, oldest first; NotFound for a symbol the session does not trade.
  Result<nlohmann::json> Bars(const std::string& symbol, size_t limit) const;

  // Queues an operator command (docs/paper.md, "Operator commands"); the session applies it
  // between two ticks. `command` is its JSON ({"command": "breaker", ...}).
  Status QueueCommand(const nlohmann::json& command);

  const std::string& location() const { return location_; }
  uint64_t last_seq() const { return last_seq_.load(); }

 private:
  struct Trade {
    uint64_t id = 0;  // 1, 2, ... in log order
    Fill fill;
  };
  struct DecisionRecord {
    uint64_t id = 0;
    Timestamp time;
    std::string symbol;
    nlohmann::json json;
  };
  struct InstrumentState {
    Instrument instrument;
    std::optional<Tick> last;
    data::BarAggregator bars{Duration::Minutes(1)};
    std::deque<Bar> done;
  };

  SessionView(std::string location, std::unique_ptr<persistence::EventStore> store,
              SessionViewOptions options)
      : location_(std::move(location)), store_(std::move(store)), options_(options) {}
  Status Apply(const persistence::Event& event);
  std::string SymbolOf(InstrumentId id) const;
  nlohmann::json OrderJson(const aits::Order& order) const;
  nlohmann::json FillJson(const Trade& trade) const;
  nlohmann::json BarJson(const Bar& bar) const;

  std::string location_;
  std::unique_ptr<persistence::EventStore> store_;
  SessionViewOptions options_;

  mutable std::shared_mutex mutex_;
  nlohmann::json spec_;  // the session start's JSON
  std::string session_id_;
  std::string currency_;
  std::map<InstrumentId, InstrumentState> instruments_;
  nlohmann::json account_;  // the last checkpoint
  Timestamp account_time_;
  std::map<uint64_t, aits::Order> orders_;  // by kernel id, as last updated
  std::set<std::string> in_flight_;         // client ids submitted and not yet named
  std::map<uint64_t, uint64_t> decision_of_order_;
  std::vector<Trade> trades_;
  std::deque<DecisionRecord> decisions_;
  std::string breaker_ = "normal";
  std::deque<nlohmann::json> breaker_changes_;
  std::deque<nlohmann::json> commands_;
  bool stopped_ = false;  // the session logged its stop
  nlohmann::json stop_summary_;
  Timestamp kernel_time_;
  std::string last_error_;
  StreamHub* hub_ = nullptr;

  std::atomic<uint64_t> last_seq_{0};
  std::thread thread_;
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

}  // namespace aits::api
