#include "aits/session/paper.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/clock.h"
#include "aits/log/log.h"
#include "aits/ml/model_watch.h"
#include "aits/node/data_client.h"
#include "aits/node/event_loop.h"
#include "aits/node/threaded_venue.h"
#include "aits/persistence/codec.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/persistence/writer_lock.h"
#include "aits/session/command_feed.h"
#include "aits/session/session_metrics.h"
#include "aits/trace/tracer.h"
#include "aits/trading/json_writer.h"

namespace aits::session {
namespace {

using Steady = std::chrono::steady_clock;
using persistence::Event;
using persistence::EventStore;
using persistence::EventType;

int64_t NanosSince(Steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - start).count();
}

std::string HistogramJson(const LatencyHistogram& h) {
  std::string out;
  trading::JsonWriter json(&out);
  json.BeginObject();
  json.Member("count", h.count());
  json.Member("p50_us", static_cast<double>(h.Quantile(0.5)) / 1e3);
  json.Member("p99_us", static_cast<double>(h.Quantile(0.99)) / 1e3);
  json.Member("p999_us", static_cast<double>(h.Quantile(0.999)) / 1e3);
  json.Member("max_us", static_cast<double>(h.max()) / 1e3);
  json.EndObject();
  return out;
}

// The checks a resumed kernel must pass against the state rebuilt from the log alone.
Status CheckAgainstLog(const Session& session, const LogState& log, const std::string& path) {
  const kernel::Kernel& kernel = session.kernel();
  const auto mismatch = [&](const std::string& what) {
    return Internal(path + ": resumed state differs from the log: " + what);
  };
  if (!log.duplicate_client_ids.empty()) {
    return mismatch("client order id '" + log.duplicate_client_ids.front() +
                    "' was submitted twice");
  }
  for (const Instrument& instrument : session.instruments()) {
    const Position& position = kernel.position(instrument.id);
    const Quantity logged = instrument.id.value < log.positions.size()
                                ? log.positions[instrument.id.value]
                                : Quantity();
    if (position.quantity.raw() != logged.raw()) {
      return mismatch(instrument.symbol + " position " + position.quantity.ToString() + " vs " +
                      logged.ToString());
    }
  }
  const Account account = kernel.account();
  if (account.balance.raw() != log.balance.raw()) {
    return mismatch("balance " + account.balance.ToString() + " vs " + log.balance.ToString());
  }
  for (const auto& [id, order] : log.orders) {
    if (id == 0 || id > kernel.order_count()) {
      return mismatch("order " + std::to_string(id) + " is in the log but not in the kernel");
    }
    const Order* found = kernel.FindOrder(OrderId{id});
    if (found == nullptr) continue;  // finished long ago, dropped from memory
    const Order& mine = *found;
    if (mine.status != order.status ||
        mine.request.client_order_id != order.request.client_order_id) {
      return mismatch("order " + std::to_string(id) + " is " + std::string(ToString(mine.status)) +
                      " but the log says " + std::string(ToString(order.status)));
    }
  }
  if (kernel.fill_count() != log.fills) {
    return mismatch(std::to_string(kernel.fill_count()) + " fills vs " + std::to_string(log.fills));
  }
  return Status::Ok();
}

// How often the command feed looks at the commands table: a running session applies an operator
// command within about this long (plus a tick's processing).
constexpr auto kCommandPoll = std::chrono::milliseconds(250);

// The spans of the decisions the kernel made, of the orders a traced decision caused, and of
// their fills (PaperOptions::tracer): Before and After bracket each event the kernel takes; the
// orders numbered and the fills booked in between get their spans.
class OrderSpans {
 public:
  OrderSpans(trace::Tracer& tracer, trace::TickTraces* ticks, trace::SpanIndex* orders)
      : tracer_(tracer), ticks_(ticks), orders_index_(orders) {}

  // `tick`: the tick the kernel is about to take, if it is one. The decision it may close a bar
  // for gets a span under the tick's message (or a new root), ended (exported) only if the
  // kernel decided or made orders on this tick in this process (a decider of another role sets
  // its own).
  void Before(const Session& session, const Tick* tick = nullptr) {
    const kernel::Kernel& kernel = session.kernel();
    orders_ = kernel.order_count();
    fills_ = kernel.fill_count();
    if (tick == nullptr) {
      trace::SetCurrent({});
      return;
    }
    decisions_ = session.decisions();
    const trace::SpanContext message =
        ticks_ != nullptr ? ticks_->Of(static_cast<uint32_t>(tick->instrument.value), tick->ts)
                          : trace::SpanContext{};
    // A span no tick used is kept for the next (under the same message: its ids and sampling
    // decision stand), so that the ticks that decide nothing, most of them, pay for no new ids.
    if (!pending_ || message != parent_) {
      pending_.emplace(tracer_.StartChild("decision", trace::SpanKind::kInternal, message));
      parent_ = message;
    } else if (pending_->recording()) {
      pending_->start_ns = SystemWallClock().Now().ns;
    }
    trace::SetCurrent(pending_->context);
    trace::WatchParentUse(pending_->context);
  }

  // `report`: the span of the venue's report the kernel just took, when it came traced from
  // another process (the fills it booked go under it rather than under their order's span).
  void After(const Session& session, const trace::SpanContext& report = {}) {
    const kernel::Kernel& kernel = session.kernel();
    trace::SpanContext decision = trace::Current();
    trace::SetCurrent({});
    // Something was sent under the tick's span (a command to a venue in another process, the
    // owner's question to a decision role): it is kept, or their parent would be missing.
    const bool parent = pending_ && trace::WatchedWasParent();
    trace::WatchParentUse({});
    if (pending_ && decision.valid() && decision == pending_->context) {
      // Nobody else decided: the kernel's own decision, if it made one on this tick. The
      // kernel's own orders (a stop-loss, a stop-out) and changes (a trailing stop) come from
      // the tick, not a decision: no order span, but the tick's span is kept as "tick" when
      // they made orders or were sent on.
      const bool decided = session.decisions() > decisions_;
      if (decided || parent || kernel.order_count() > orders_) {
        if (pending_->recording()) {
          if (!decided) pending_->name = "tick";
          pending_->SetAttribute("aits.symbol", session.instrument().symbol);
          pending_->SetAttribute("aits.decisions",
                                 static_cast<int64_t>(session.decisions() - decisions_));
          pending_->SetAttribute("aits.orders",
                                 static_cast<int64_t>(kernel.order_count() - orders_));
        }
        tracer_.End(*pending_);
        pending_.reset();
      }
      if (!decided) decision = {};
    } else if (pending_ && decision.valid() && parent) {
      // A decider of another role answered on this tick: the tick's span is kept, as the parent
      // of the question the owner sent it (ACCOUNTS).
      if (pending_->recording()) {
        pending_->name = "tick";
        pending_->SetAttribute("aits.symbol", session.instrument().symbol);
      }
      tracer_.End(*pending_);
      pending_.reset();
    }
    if (decision.sampled()) {
      for (uint64_t id = orders_ + 1; id <= kernel.order_count(); ++id) {
        const Order* order = kernel.FindOrder(OrderId{id});
        if (order == nullptr) continue;
        trace::Span span = tracer_.StartChild("order", trace::SpanKind::kClient, decision);
        span.SetAttribute("aits.order_id", static_cast<int64_t>(id));
        span.SetAttribute("aits.client_order_id", order->request.client_order_id);
        span.SetAttribute("aits.side", ToString(order->request.side));
        span.SetAttribute("aits.lots", order->request.quantity.ToString());
        span.SetAttribute("aits.status", ToString(order->status));
        tracer_.End(span);
        // Bounded: an order unfilled this long ago is not waited for.
        if (open_.size() >= kMaxOpen) open_.erase(open_.begin());
        open_.emplace(id, span.context);
        if (orders_index_ != nullptr) orders_index_->Put(id, span.context);
      }
    }
    const uint64_t booked = kernel.fill_count() - fills_;
    if (booked == 0 || (open_.empty() && !report.sampled())) return;
    const HistoryRing<Fill>& fills = kernel.fills();
    for (size_t idx = fills.size() - std::min<size_t>(booked, fills.size()); idx < fills.size();
         ++idx) {
      const Fill& fill = fills[idx];
      const auto order = open_.find(fill.order_id.value);
      if (order == open_.end() && !report.sampled()) continue;
      trace::Span span = tracer_.StartChild("fill", trace::SpanKind::kInternal,
                                            report.sampled() ? report : order->second);
      span.SetAttribute("aits.order_id", static_cast<int64_t>(fill.order_id.value));
      span.SetAttribute("aits.price", fill.price.ToString());
      span.SetAttribute("aits.lots", fill.quantity.ToString());
      tracer_.End(span);
    }
  }

 private:
  static constexpr size_t kMaxOpen = 4096;
  trace::Tracer& tracer_;
  trace::TickTraces* ticks_;
  trace::SpanIndex* orders_index_;
  uint64_t orders_ = 0;
  uint64_t fills_ = 0;
  uint64_t decisions_ = 0;
  // The tick's decision span, until a tick uses it; the message context it was started under.
  std::optional<trace::Span> pending_;
  trace::SpanContext parent_;
  std::map<uint64_t, trace::SpanContext> open_;  // sampled orders' spans, by order id
};

// The steps of a model that keeps learning (PaperOptions::retrain and promote; docs/ml.md, "The
// loop"): a verdict of update or retrain makes a candidate, whose model_shadow_start command
// starts its trial; the trial's end goes to the registry's gate, whose model_promotion command
// settles it. Each step runs on a worker thread and its command goes through the loop, or with
// `wait_for_models` runs on the kernel's thread and its command waits in ready() for the end of
// the tick. One candidate at a time.
class ModelSteps {
 public:
  // What a step hands the session: its commands, in order, and whether the loop is free again
  // once they are handed over (a judged trial, a retrain without a candidate).
  struct Handed {
    std::vector<std::string> commands;
    bool settles = false;
  };

  ModelSteps(const PaperOptions& options, const SessionSpec& spec, const Session& session)
      : options_(options), spec_(spec), session_(session) {
    if (options.metrics != nullptr) {
      // The loop's steps on /metrics (docs/monitoring.md, "Metrics"), at 0 without the loop so
      // that its alerts read a series either way; counted from any thread.
      if (Status made = MakeMetrics(*options.metrics); !made.ok()) {
        AITS_LOG_ERROR("session", "the model loop's metrics", {{"error", made.ToString()}});
      }
    }
  }
  ~ModelSteps() { Join(); }

  // After a start or a resume: a verdict that already calls for a retrain (it was logged before
  // the stop, so it is not reported again) is taken up at the first bar, and a trial that ended
  // but was not judged before the stop goes to the gate now. Kernel thread.
  void Attach(node::EventLoop* loop) {
    loop_ = loop;
    retry_ = static_cast<bool>(options_.retrain);
    for (const trading::DecisionStrategy* strategy : session_.strategies()) {
      const trading::SignalSource* source = strategy->source();
      if (source == nullptr || source->shadow() == nullptr || source->shadow()->running()) continue;
      OnShadowEnded(Timestamp{}, strategy->ShadowJson());
    }
  }

  // Kernel thread.
  void OnVerdict(Timestamp ts, std::string_view record) {
    if (!options_.retrain) return;
    const nlohmann::json verdict = nlohmann::json::parse(record, nullptr, false);
    const std::string said =
        verdict.is_object() && verdict.contains("verdict") && verdict["verdict"].is_string()
            ? verdict["verdict"].get<std::string>()
            : std::string();
    if (said != "update" && said != "retrain") return;
    Retrain(ts, said, std::string(record));
  }

  // Kernel thread, at every bar's close: a retrain put off by the cooldown is due.
  void OnBar(Timestamp ts) {
    ++bars_;
    Cool();
    if (!retry_ || bars_ < next_bar_ || busy_.load(std::memory_order_acquire)) return;
    retry_ = false;
    for (const trading::DecisionStrategy* strategy : session_.strategies()) {
      if (strategy->source() == nullptr || strategy->source()->model_name().empty()) continue;
      const ml::WatchVerdict now = strategy->watch_verdict();
      if (now != ml::WatchVerdict::kUpdate && now != ml::WatchVerdict::kRetrain) return;
      const std::string said(ml::ToString(now));
      Retrain(ts, said, nlohmann::json{{"verdict", said}, {"retry", true}}.dump());
      return;
    }
  }

  // Kernel thread.
  void OnShadowEnded(Timestamp /*ts*/, std::string_view record) {
    if (!options_.promote) {
      Settled();
      return;
    }
    busy_.store(true, std::memory_order_release);
    Run([this, record = std::string(record)] {
      Result<std::string> command = options_.promote(spec_, record);
      if (!command.ok()) {
        // The trial is settled all the same (the candidate dropped, the served model goes on),
        // so that the loop is not left holding an ended trial; the error is in the log.
        AITS_LOG_ERROR("session", "shadow trial: the promotion failed",
                       {{"error", command.status().ToString()}});
        const nlohmann::json trial = nlohmann::json::parse(record, nullptr, false);
        const std::string candidate =
            trial.is_object() ? trial.value("candidate", std::string()) : std::string();
        if (candidate.empty()) return Handed{{}, true};
        return Handed{{nlohmann::json{{"command", "model_promotion"},
                                      {"candidate", candidate},
                                      {"production", trial.value("production", std::string())},
                                      {"passed", false},
                                      {"status", "unchanged"},
                                      {"reason", "the gate failed: " + command.status().ToString()},
                                      {"by", "registry gate"}}
                           .dump()},
                      true};
      }
      Count(*command);
      Handed handed{{std::move(*command)}, true};
      if (std::string probation = Probation(handed.commands.front()); !probation.empty()) {
        handed.commands.push_back(std::move(probation));
      }
      return handed;
    });
  }

  // A loop command the session refused (a candidate it could not load, another feature set):
  // the loop is free again, and the refusal is logged as a model_retrain with its reason.
  // Returns that command (empty for a command that is not the loop's). Kernel thread.
  std::string Refused(const std::string& text, const Status& why) {
    const nlohmann::json command = nlohmann::json::parse(text, nullptr, false);
    if (!command.is_object() || command.value("command", std::string()) != "model_shadow_start") {
      return {};
    }
    const std::string by = command.value("by", std::string());
    if (by != "retrain" && by != "probation") return {};
    Settled();
    return nlohmann::json{{"command", "model_retrain"},
                          {"model", command.value("production", std::string("?"))},
                          {"error", "candidate " + command.value("candidate", std::string("?")) +
                                        " refused: " + why.message()},
                          {"by", by}}
        .dump();
  }

  // The fallback to the last good model (docs/ml.md, "The loop"): a candidate the loop promoted
  // is on probation, the model it replaced tried beside it on the next bars as a candidate in
  // its turn, and promoted back by the same gate if it does better there. Not after a model
  // came back this way (no ping-pong), nor outside the loop (a --shadow trial alone). Any thread.
  std::string Probation(const std::string& promotion) {
    if (!options_.retrain) return {};
    const nlohmann::json answer = nlohmann::json::parse(promotion, nullptr, false);
    if (!answer.is_object() || !answer.value("passed", false)) return {};
    const std::string candidate = answer.value("candidate", std::string());
    const std::string replaced = answer.value("production", std::string());
    const uint64_t calls = answer.value("min_calls", uint64_t{0});
    if (candidate.empty() || replaced.empty() || calls == 0) return {};
    const std::lock_guard lock(mu_);
    if (made_.count(candidate) == 0) return {};  // not a candidate of the loop's
    if (candidate == came_back_) {
      came_back_.clear();
      return {};
    }
    came_back_ = replaced;  // if it wins, it comes back
    return nlohmann::json{{"command", "model_shadow_start"},
                          {"candidate", replaced},
                          {"checksum", answer.value("production_checksum", std::string())},
                          {"production", candidate},
                          {"min_calls", calls},
                          {"by", "probation"}}
        .dump();
  }

  // A retrain of the served model on `said` (update, retrain), unless a candidate is in hand
  // or the cooldown holds (then OnBar tries again once it is over).
  void Retrain(Timestamp ts, const std::string& said, std::string record) {
    std::string served;
    std::string on_trial;
    for (const trading::DecisionStrategy* strategy : session_.strategies()) {
      const trading::SignalSource* source = strategy->source();
      if (source == nullptr || source->model_name().empty()) continue;
      served = std::string(source->model_name());
      if (source->shadow() != nullptr) on_trial = std::string(source->shadow_candidate());
    }
    if (served.empty()) return;
    Cool();
    if (busy_.load(std::memory_order_acquire) || !on_trial.empty()) {
      AITS_LOG_INFO(
          "session", "model verdict: a candidate is already in hand, no retrain",
          {{"verdict", said},
           {"model", served},
           {"candidate", on_trial.empty() ? std::string("(being made or judged)") : on_trial}});
      return;
    }
    if (bars_ < next_bar_) {
      retry_ = true;
      AITS_LOG_INFO(
          "session", "model verdict: retrain put off by the cooldown",
          {{"verdict", said}, {"model", served}, {"bars_left", std::to_string(next_bar_ - bars_)}});
      return;
    }
    busy_.store(true, std::memory_order_release);
    AITS_LOG_INFO("session", "model verdict: retraining",
                  {{"verdict", said}, {"model", served}, {"at", FormatIso8601(ts)}});
    Run([this, served, ts, record = std::move(record)] {
      Result<std::string> command = options_.retrain(spec_, served, ts, record, options_.stop);
      if (command.ok()) {
        const nlohmann::json made = nlohmann::json::parse(*command, nullptr, false);
        if (made.is_object()) {
          const std::lock_guard lock(mu_);
          made_.insert(made.value("candidate", std::string()));
        }
        if (metrics_.candidates != nullptr) metrics_.candidates->Increment();
        if (metrics_.seconds != nullptr && made.is_object() && made.contains("retrain") &&
            made["retrain"].is_object()) {
          metrics_.seconds->Set(made["retrain"].value("seconds", 0.0));
        }
        return Handed{{std::move(*command)}, false};  // busy until its trial is judged
      }
      if (metrics_.failed != nullptr) metrics_.failed->Increment();
      AITS_LOG_ERROR("session", "model verdict: the retrain failed",
                     {{"model", served}, {"error", command.status().ToString()}});
      return Handed{{nlohmann::json{{"command", "model_retrain"},
                                    {"model", served},
                                    {"error", command.status().ToString()},
                                    {"by", "retrain"}}
                         .dump()},
                    true};
    });
  }

  // The cooldown starts at the first bar or verdict after a step ended. Kernel thread.
  void Cool() {
    if (!settled_.exchange(false, std::memory_order_acq_rel)) return;
    next_bar_ = bars_ + options_.retrain_cooldown_bars;
    retry_ = true;
  }

  Status MakeMetrics(Registry& registry) {
    AITS_ASSIGN_OR_RETURN(
        Family<Counter> * retrains,
        registry.AddCounter("aits_model_retrains_total",
                            "Retrains the session ran on its model's verdict, by how they ended: "
                            "a candidate registered, or failed (too little data, an error).",
                            {"result"}));
    AITS_ASSIGN_OR_RETURN(metrics_.candidates, retrains->With({{"result", "candidate"}}));
    AITS_ASSIGN_OR_RETURN(metrics_.failed, retrains->With({{"result", "failed"}}));
    AITS_ASSIGN_OR_RETURN(
        Family<Counter> * decisions,
        registry.AddCounter("aits_model_gate_decisions_total",
                            "The registry gate's decisions on the loop's trials: a retrained "
                            "candidate's, or a probation's (the replaced model tried again; "
                            "passed: it came back).",
                            {"trial", "passed"}));
    for (const char* trial : {"retrain", "probation"}) {
      for (const char* passed : {"true", "false"}) {
        AITS_ASSIGN_OR_RETURN(Counter * counter,
                              decisions->With({{"trial", trial}, {"passed", passed}}));
        metrics_.decisions.emplace(std::string(trial) + passed, counter);
      }
    }
    AITS_ASSIGN_OR_RETURN(
        Family<Gauge> * seconds,
        registry.AddGauge("aits_model_retrain_seconds",
                          "Wall time of the session's last retrain that made a candidate.", {}));
    AITS_ASSIGN_OR_RETURN(metrics_.seconds, seconds->With({}));
    return Status::Ok();
  }

  // A gate decision on /metrics, by the trial it ended. Any thread.
  void Count(const std::string& promotion) {
    if (metrics_.decisions.empty()) return;
    const nlohmann::json answer = nlohmann::json::parse(promotion, nullptr, false);
    if (!answer.is_object()) return;
    bool probation = false;
    {
      const std::lock_guard lock(mu_);
      probation = !came_back_.empty() && answer.value("candidate", std::string()) == came_back_;
    }
    const auto found = metrics_.decisions.find(std::string(probation ? "probation" : "retrain") +
                                               (answer.value("passed", false) ? "true" : "false"));
    if (found != metrics_.decisions.end()) found->second->Increment();
  }

  // A candidate judged, or a retrain that made none: the next may come after the cooldown.
  void Settled() {
    settled_.store(true, std::memory_order_release);
    busy_.store(false, std::memory_order_release);
  }

  // The commands to apply now: with wait_for_models, those of this tick's steps; after the
  // loop, those it could no longer take. Kernel thread.
  std::vector<std::string> TakeReady() {
    const std::lock_guard lock(mu_);
    return std::exchange(ready_, {});
  }
  bool waits() const { return options_.wait_for_models; }

  void Join() {
    if (worker_.joinable()) worker_.join();
  }

 private:
  // Runs a step, whose commands go to the session in order. The loop is free again (Settled)
  // only once they are handed over, so that the kernel thread never waits (Join) for a worker
  // still pushing into the inbox only it empties.
  void Run(std::function<Handed()> step) {
    if (options_.wait_for_models || loop_ == nullptr) {
      Handed handed = step();
      for (std::string& command : handed.commands) Keep(std::move(command));
      if (handed.settles) Settled();
      return;
    }
    Join();  // busy_ was clear: the last worker has handed everything over
    worker_ = std::thread([this, step = std::move(step)] {
      Handed handed = step();
      bool kept = false;  // once one is kept, the rest follow it, in order
      for (std::string& command : handed.commands) {
        if (kept || !loop_->SubmitCommand(node::OperatorCommand{.text = command}).ok()) {
          kept = true;
          Keep(std::move(command));
        }
      }
      if (handed.settles) Settled();
    });
  }

  void Keep(std::string command) {
    if (command.empty()) return;
    const std::lock_guard lock(mu_);
    ready_.push_back(std::move(command));
  }

  const PaperOptions& options_;
  const SessionSpec& spec_;
  const Session& session_;
  node::EventLoop* loop_ = nullptr;
  std::atomic<bool> busy_{false};     // a candidate is being made or judged
  std::atomic<bool> settled_{false};  // a step ended since the last bar (the cooldown starts)
  uint64_t bars_ = 0;                 // closed since the run's start (kernel thread)
  uint64_t next_bar_ = 0;             // no retrain before this bar
  bool retry_ = false;                // a retrain was put off, or a trial ended
  std::thread worker_;
  std::mutex mu_;
  std::vector<std::string> ready_;
  std::string came_back_;       // the model a probation trial may bring back (under mu_)
  std::set<std::string> made_;  // candidates the loop's retrains made (under mu_)
  struct {
    Counter* candidates = nullptr;
    Counter* failed = nullptr;
    Gauge* seconds = nullptr;
    std::map<std::string, Counter*> decisions;  // "retrain" or "probation", then "true"/"false"
  } metrics_;
};

// The kernel thread's side of a paper session: each tick is logged and fed with its latencies
// measured, each operator command applied and marked, timers between ticks fired, and the log
// committed by its batch policy between events.
class PaperTarget final : public node::LoopTarget {
 public:
  PaperTarget(const PaperOptions& options, Session& session, EventStore& store,
              const std::vector<std::unique_ptr<node::ReplayClient>>& feeds, PaperResult& result,
              SessionMetrics* metrics)
      : options_(options),
        session_(session),
        store_(store),
        feeds_(feeds),
        result_(result),
        metrics_(metrics) {
    if (options.tracer != nullptr)
      order_spans_.emplace(*options.tracer, options.tick_traces, options.order_traces);
  }

  Status OnMarketData(const node::MarketData& data) override {
    const uint64_t bars_before = session_.kernel().bars_processed();
    session_.ResetAcceptClock();
    if (order_spans_) order_spans_->Before(session_, &data.tick);
    const auto t0 = Steady::now();
    session_.Feed(data.tick, data.source_msc);
    const int64_t nanos = NanosSince(t0);
    if (order_spans_) order_spans_->After(session_);
    if (options_.on_tick) options_.on_tick(data.tick);
    ++result_.ticks;
    const bool bar_closed = session_.kernel().bars_processed() != bars_before;
    if (options_.check_tick) {
      if (Status checked = options_.check_tick(); !checked.ok()) {
        // The tick is in the open batch without what it should have caused: none of it stands.
        (void)store_.Abandon();
        return checked;
      }
    }
    (bar_closed ? result_.bar_ticks : result_.plain_ticks).Record(nanos);
    int64_t to_order = -1;
    if (session_.accepted_at_ns() != 0) {
      to_order =
          session_.accepted_at_ns() -
          std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
      (bar_closed ? result_.bar_orders : result_.plain_orders).Record(to_order);
    }
    if (metrics_ != nullptr) {
      metrics_->OnTick(data.tick.instrument.value, bar_closed, nanos, to_order);
      if ((result_.ticks & 255) == 0) metrics_->Publish(session_);
    }
    AITS_RETURN_IF_ERROR(session_.store_status());
    if (options_.checkpoint_every > 0 && session_.ticks() % options_.checkpoint_every == 0) {
      session_.WriteCheckpoint();
    }
    AITS_RETURN_IF_ERROR(Committed(store_.MaybeCommit()));
    if (session_.spec().max_ticks > 0 && session_.ticks() >= session_.spec().max_ticks) {
      result_.feed_ended = true;
    }
    if (steps_ != nullptr && bar_closed) steps_->OnBar(data.tick.ts);
    if (steps_ != nullptr && steps_->waits()) {
      for (std::string& text : steps_->TakeReady()) {
        Status outcome;
        AITS_RETURN_IF_ERROR(OnCommand(node::OperatorCommand{.text = std::move(text)}, &outcome));
      }
    }
    if ((result_.ticks & 1023) == 0) Progress();
    return Status::Ok();
  }

  // Steps of the model's loop that the feed waits for (ModelSteps): their commands are applied
  // after the tick that called for them.
  void SetModelSteps(ModelSteps* steps) { steps_ = steps; }

  Status OnCommand(const node::OperatorCommand& command, Status* outcome) override {
    const std::string& session_id = session_.spec().session_id;
    const Status applied = session_.ApplyCommand(command.text);
    *outcome = applied;
    if (!applied.ok() && steps_ != nullptr) {
      // A candidate the session could not take: the loop goes on, and the log says why.
      if (std::string said = steps_->Refused(command.text, applied); !said.empty()) {
        Status logged;
        AITS_RETURN_IF_ERROR(OnCommand(node::OperatorCommand{.text = std::move(said)}, &logged));
      }
    }
    if (metrics_ != nullptr) metrics_->OnCommand(applied.ok());
    if (options_.notice) {
      options_.notice(applied.ok()
                          ? "applied operator command: " + command.text
                          : "ignored operator command " + command.text + ": " + applied.message());
    }
    if (applied.ok()) {
      const Session::CommandTrace& trace = session_.last_command();
      AITS_LOG_INFO("session", "operator command applied",
                    {{"session_id", session_id},
                     {"command", command.text},
                     {"by", trace.by},
                     {"request_id", trace.request_id},
                     {"chain_id", trace.chain_id},
                     {"client_order_id", trace.client_order_id}});
    } else {
      AITS_LOG_INFO(
          "session", "operator command ignored",
          {{"session_id", session_id}, {"command", command.text}, {"error", applied.message()}});
    }
    // A refused command is marked too: it is answered (the notice, the log line) and must not
    // come back at every poll.
    if (command.store_id != 0) {
      AITS_RETURN_IF_ERROR(store_.MarkCommandApplied(command.store_id, store_.last_seq()));
    }
    AITS_RETURN_IF_ERROR(session_.store_status());
    return Committed(store_.Commit());
  }

  // The asynchronous venue's reports: logged as inputs and applied by the session. One the order
  // manager could not apply (late, repeated, unknown) is counted there and reported here.
  Status OnExecutionReport(const node::ExecutionReportEvent& event) override {
    if (order_spans_) order_spans_->Before(session_);
    const execution::ReportOutcome outcome = session_.OnExecutionReport(*event.report);
    if (order_spans_) order_spans_->After(session_, event.trace);
    if (outcome != execution::ReportOutcome::kApplied) {
      ++result_.reports_not_applied;
      const std::string text = execution::OrderManager::Describe(*event.report, outcome);
      AITS_LOG_INFO("session", text, {{"session_id", session_.spec().session_id}});
    }
    ++result_.execution_reports;
    AITS_RETURN_IF_ERROR(session_.store_status());
    return Committed(store_.MaybeCommit());
  }

  Status OnAccountReport(const node::AccountReportEvent& event) override {
    session_.OnAccountReport(*event.report);
    ++result_.account_reports;
    AITS_RETURN_IF_ERROR(session_.store_status());
    return Committed(store_.MaybeCommit());
  }

  Status OnProducerStatus(const node::ProducerStatus& status, std::string_view /*name*/) override {
    // A feed that cannot be read, or a commands table that cannot, stops the session with the
    // error as it is (it names the file, line and field) — unless the session is stopping: a feed
    // that waited for data and gave up because of that stop (the bus's "stopped while waiting")
    // is the stop, and the loop ends as stopped.
    if (status.state == node::ProducerState::kError) {
      if (options_.stop != nullptr && options_.stop->load()) return Status::Ok();
      return status.error;
    }
    return Status::Ok();
  }

  std::optional<Timestamp> NextTimer() const override { return session_.kernel().NextTimer(); }

  Status AdvanceTo(Timestamp time) override {
    session_.AdvanceTo(time);
    AITS_RETURN_IF_ERROR(session_.store_status());
    return Committed(store_.MaybeCommit());
  }

  // A command's writer waits for the log's lock: the open batch is committed now rather than
  // at the next tick or idle turn (a tick at the market's pace may be seconds away).
  Status OnFlush() override { return Committed(store_.Commit()); }

  Status OnIdle() override {
    // Waiting for the market: commit what is pending.
    AITS_RETURN_IF_ERROR(Committed(store_.MaybeCommit()));
    Progress();
    if (metrics_ != nullptr) metrics_->Publish(session_);
    if (options_.on_idle) options_.on_idle();
    return Status::Ok();
  }

  bool done() const override {
    return result_.feed_ended || (options_.stop_after > 0 && result_.ticks >= options_.stop_after);
  }

  // Hands the trades closed since the last call to PaperOptions::on_trades when the log holds
  // every event appended (so every trade handed out is one a resume closes again).
  Status ReportTrades() {
    if (!options_.on_trades || store_.committed_seq() != store_.last_seq()) return Status::Ok();
    const portfolio::Portfolio& book = session_.kernel().portfolio();
    const uint64_t closed = book.trades_closed();
    if (closed == reported_) return Status::Ok();
    const std::vector<portfolio::TradeRecord>& kept = book.trades();
    const uint64_t first_kept = closed - kept.size() + 1;
    if (first_kept > reported_ + 1) {
      // The kernel keeps thousands of trades and this runs after every commit: only a batch
      // that closed more than it keeps could get here.
      return Internal("trades " + std::to_string(reported_ + 1) + ".." +
                      std::to_string(first_kept - 1) +
                      " left the kernel's memory before they were handed out");
    }
    const std::span<const portfolio::TradeRecord> fresh =
        std::span(kept).subspan(static_cast<size_t>(reported_ + 1 - first_kept));
    AITS_RETURN_IF_ERROR(
        options_.on_trades(session_.spec(), static_cast<int64_t>(reported_ + 1), fresh));
    reported_ = closed;
    return Status::Ok();
  }

 private:
  Status Committed(const Status& committed) {
    if (!committed.ok()) return committed;
    return ReportTrades();
  }

  void Progress() {
    if (!options_.progress) return;
    const auto now = Steady::now();
    if (now - last_progress_ <= std::chrono::milliseconds(500)) return;
    last_progress_ = now;
    const kernel::Kernel& kernel = session_.kernel();
    PaperProgress progress;
    progress.ticks = session_.ticks();
    progress.orders = kernel.order_count();
    progress.fills = kernel.fill_count();
    progress.equity = kernel.account().equity;
    progress.position = kernel.position(session_.instrument().id).quantity;
    progress.breaker = std::string(risk::ToString(kernel.risk()->breaker()));
    progress.fraction = 1.0;
    for (const auto& feed : feeds_)
      progress.fraction = std::min(progress.fraction, feed->Progress());
    options_.progress(progress);
  }

  const PaperOptions& options_;
  Session& session_;
  EventStore& store_;
  const std::vector<std::unique_ptr<node::ReplayClient>>& feeds_;
  PaperResult& result_;
  SessionMetrics* metrics_;
  std::optional<OrderSpans> order_spans_;
  ModelSteps* steps_ = nullptr;
  Steady::time_point last_progress_ = Steady::now();
  uint64_t reported_ = 0;  // trades handed to on_trades (numbers 1..reported_)
};

}  // namespace

std::string PaperResult::LatencyJson() const {
  return "{\"ticks_without_bar_close\":" + HistogramJson(plain_ticks) +
         ",\"ticks_with_bar_close\":" + HistogramJson(bar_ticks) +
         ",\"tick_to_order_without_bar_close\":" + HistogramJson(plain_orders) +
         ",\"tick_to_order_with_bar_close\":" + HistogramJson(bar_orders) +
         ",\"hand_off_to_kernel_thread\":" + HistogramJson(hand_off) + "}";
}

namespace {

// Whether the session's feeds are the MetaTrader gateway's live data ("mt5", every one of them),
// and whether what it needs to run live was given (aits live gives it).
Result<bool> CheckLive(const SessionSpec& spec, const PaperOptions& options) {
  const std::vector<FeedSpec> feeds = FeedsOf(spec);
  const size_t live = static_cast<size_t>(std::count_if(
      feeds.begin(), feeds.end(), [](const FeedSpec& feed) { return feed.feed == kLiveFeed; }));
  if (live > 0 && live < feeds.size()) {
    return InvalidArgument("a session's feeds are either all live (" + std::string(kLiveFeed) +
                           ") or all recorded, not a mix");
  }
  if (live > 0 && options.live_data == nullptr) {
    return InvalidArgument("the feed " + std::string(kLiveFeed) +
                           " is the MetaTrader gateway's live data, which aits live connects");
  }
  if (spec.venue == "mt5" && !options.broker) {
    return InvalidArgument("the venue mt5 is a live MetaTrader account, which aits live connects");
  }
  return live > 0;
}

}  // namespace

Result<PaperResult> RunPaper(const PaperOptions& options) {
  const auto wall_start = Steady::now();
  PaperResult result;
  std::error_code error;
  std::filesystem::create_directories(options.state_dir, error);
  if (error) {
    return IoError("cannot create state directory " + options.state_dir + ": " + error.message());
  }
  const std::string path = options.events.empty()
                               ? (std::filesystem::path(options.state_dir) / "events.db").string()
                               : options.events;
  // One owner per session: before anything is read, traded or written.
  const auto waiting = [&options](const std::string& why) {
    if (options.notice) options.notice("standby: " + why + "; waiting to take over");
  };
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<persistence::WriterLock> owner,
                        options.standby
                            ? persistence::WriterLock::Acquire(path, options.stop, waiting)
                            : persistence::WriterLock::TryAcquire(path));
  bool existed = false;
  if (persistence::IsPostgresLocation(path)) {
    Result<std::unique_ptr<EventStore>> found = persistence::OpenEventStoreAtReadOnly(path);
    if (!found.ok() && found.status().code() != StatusCode::kNotFound) return found.status();
    existed = found.ok() && (*found)->last_seq() > 0;
  } else {
    existed = std::filesystem::exists(path);
  }
  SessionSpec spec = options.spec;
  // Before the session and the store, so that it outlives both.
  std::unique_ptr<SessionMetrics> metrics;
  persistence::EventStoreOptions store_options = options.store;
  if (options.metrics != nullptr) {
    store_options.on_commit = [&metrics](int64_t nanos, const Status& status) {
      if (metrics) metrics->OnCommit(nanos, status);
    };
  }
  std::unique_ptr<Session> session;
  std::vector<std::unique_ptr<data::TickSource>> sources;
  bool live = false;  // the feeds are the gateway's (options.live_data)
  std::optional<kernel::Reconciliation> reconciliation;
  // Seeds the venue (tests) and compares it with the kernel: a refusal returns before anything
  // is written, with every difference listed.
  const auto reconcile = [&]() -> Status {
    execution::ReconcilePolicy policy;
    if (options.reconcile) {
      policy = *options.reconcile;
    } else {
      AITS_ASSIGN_OR_RETURN(policy, execution::ParseReconcilePolicy(spec.reconcile));
    }
    if (options.venue_account) AITS_RETURN_IF_ERROR(session->SeedVenue(*options.venue_account));
    auto planned = session->PlanReconciliation(policy);
    if (!planned.ok()) {
      return Status(planned.status().code(),
                    planned.status().message() +
                        (result.recovered_reports > 0
                             ? "\nnothing was traded; only the venue's reports of the orders in "
                               "flight at the last stop were logged"
                             : "\nnothing was traded or written") +
                        "; to start anyway choose --reconcile adopt (take the venue's account) or "
                        "flatten (close and cancel what the log cannot account for)");
    }
    reconciliation = std::move(*planned);
    return Status::Ok();
  };
  if (!existed) {
    // A new session: everything that can be refused is checked before the log exists, so a
    // refused start leaves no session behind in the directory.
    if (!options.spec_given) {
      return NotFound(options.state_dir + " holds no session to resume; give a feed and a " +
                      "signal to start one");
    }
    AITS_ASSIGN_OR_RETURN(live, CheckLive(spec, options));
    AITS_ASSIGN_OR_RETURN(session,
                          Session::Create(spec, options.signals, options.broker, options.deciders));
    if (!live) {
      AITS_ASSIGN_OR_RETURN(sources,
                            options.open_feeds ? options.open_feeds(spec) : OpenFeeds(spec));
    }
    AITS_RETURN_IF_ERROR(session->GoLive());
    AITS_RETURN_IF_ERROR(reconcile());
  }
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<EventStore> store,
                        persistence::OpenEventStoreAt(path, store_options));
  const auto notice = [&](const std::string& text) {
    if (options.notice) options.notice(text);
  };

  std::optional<LogState> resumed_log;
  if (existed && store->last_seq() > 0) {
    AITS_ASSIGN_OR_RETURN(SessionSpec logged, ReadSessionSpec(*store));
    if (options.spec_given) {
      SessionSpec given = options.spec;
      given.synthetic_start = logged.synthetic_start;  // set from the wall clock at each start
      given.session_id = logged.session_id;
      given.model_checksum = logged.model_checksum;
      given.reconcile = logged.reconcile;          // a start's choice (PaperOptions::reconcile)
      given.order_tickets = logged.order_tickets;  // how the log was written, not a setting
      // A log from before sessions recorded their instrument keeps the one it was run with.
      if (!logged.instrument) given.instrument.reset();
      // A live session's account is the broker's (aits live reads it at each start, aits serve
      // --venue bus asks the gateway role): its first start's balance and leverage belong to the
      // log, the broker's today are reconciled.
      if ((logged.feed == kLiveFeed && given.feed == kLiveFeed) ||
          (logged.venue == "mt5" && given.venue == "mt5")) {
        given.balance = logged.balance;
        given.leverage = logged.leverage;
      }
      const std::string difference = logged.FirstDifference(given);
      if (!difference.empty()) {
        return InvalidArgument(options.state_dir + " holds another session (" + difference +
                               "); resume it with just --state " + options.state_dir +
                               ", or start this one in a new directory");
      }
    }
    spec = logged;
    AITS_ASSIGN_OR_RETURN(live, CheckLive(spec, options));
    AITS_ASSIGN_OR_RETURN(session,
                          Session::Create(spec, options.signals, options.broker, options.deciders));
    // Re-run every logged tick through the fresh kernel, checking each output against the log.
    auto followed = FollowLog(*store, *session, &result.resumed_events);
    // A decision stack fed by other processes that could not answer for a logged bar: its error,
    // not a divergence (the log is right; the answer is missing).
    if (options.check_tick) AITS_RETURN_IF_ERROR(options.check_tick());
    if (!followed.ok()) {
      return Status(followed.status().code(),
                    followed.status().message() +
                        " (nothing was written; the events before it are intact: inspect them "
                        "with aits replay --events " +
                        path + ")");
    }
    if (!*followed) {
      const Divergence& d = session->divergence();
      return Internal(path + ": this build does not reproduce the logged session at event " +
                      std::to_string(d.seq) + ": logged " + d.logged + "; now " + d.produced);
    }
    AITS_ASSIGN_OR_RETURN(LogState log, RebuildFromLog(*store));
    AITS_RETURN_IF_ERROR(CheckAgainstLog(*session, log, path));
    // The asynchronous venue: a fresh one, holding what the log says the account holds.
    AITS_RETURN_IF_ERROR(session->GoLive());
    if (live || spec.venue == "mt5") {
      // Orders in flight when the node stopped: their fate at the venue is a fact, logged (even
      // if the reconciliation then refuses) and applied before the account is compared.
      session->StartAppending(store.get());
      AITS_ASSIGN_OR_RETURN(
          result.recovered_reports,
          session->RecoverOrders(log.last_ticks, log.last_source_msc, log.venue_exec_ids));
      AITS_RETURN_IF_ERROR(session->store_status());
      if (result.recovered_reports > 0) {
        AITS_RETURN_IF_ERROR(store->Commit());
        notice("the venue told what it did while the node was down: " +
               std::to_string(result.recovered_reports) + " report(s) logged and applied");
        AITS_LOG_INFO("session", "venue reports of the time the node was down applied",
                      {{"reports", std::to_string(result.recovered_reports)}});
      }
    }
    AITS_RETURN_IF_ERROR(reconcile());
    resumed_log = log;
    result.resumed = true;
    result.resumed_ticks = session->ticks();
    notice("resumed " + path + " at event " + std::to_string(store->last_seq()) + ": " +
           std::to_string(session->ticks()) + " ticks, " + std::to_string(log.orders.size()) +
           " orders, " + std::to_string(log.fills) + " fills, position " + log.position.ToString() +
           ", balance " + log.balance.ToString() + " (kernel rebuilt and equal to the log)");
    AITS_LOG_INFO("session", "paper session resumed",
                  {{"session_id", spec.session_id},
                   {"state", options.state_dir},
                   {"events", std::to_string(store->last_seq())},
                   {"ticks", std::to_string(session->ticks())},
                   {"orders", std::to_string(log.orders.size())},
                   {"fills", std::to_string(log.fills)},
                   {"position", log.position.ToString()},
                   {"balance", log.balance.ToString()}});
  } else {
    if (!options.spec_given) {
      return NotFound(options.state_dir + " holds no session to resume; give a feed and a " +
                      "signal to start one");
    }
    if (!session) {
      AITS_ASSIGN_OR_RETURN(live, CheckLive(spec, options));
      AITS_ASSIGN_OR_RETURN(
          session, Session::Create(spec, options.signals, options.broker, options.deciders));
      AITS_RETURN_IF_ERROR(session->GoLive());
      AITS_RETURN_IF_ERROR(reconcile());
    }
    AITS_RETURN_IF_ERROR(
        store->Append(EventType::kSessionStart, Timestamp{}, spec.ToJson()).status());
    AITS_RETURN_IF_ERROR(store->Commit());
    if (LogEnabled(LogLevel::kInfo)) {
      const LogField fields[] = {{"session_id", spec.session_id}, {"state", options.state_dir},
                                 {"symbol", spec.symbol},         {"feed", spec.feed},
                                 {"signal", spec.signal},         {"model", spec.model}};
      Log(LogLevel::kInfo, "session", "paper session started",
          std::span(fields, spec.model.empty() ? std::size(fields) - 1 : std::size(fields)));
    }
  }

  // The feeds, each positioned after the last tick of its instrument in the log.
  if (!live && sources.empty()) {
    AITS_ASSIGN_OR_RETURN(sources, options.open_feeds ? options.open_feeds(spec) : OpenFeeds(spec));
  }
  const std::vector<FeedSpec> feed_specs = FeedsOf(spec);
  node::ReplayOptions replay;
  replay.speed = options.speed;
  std::vector<std::unique_ptr<node::ReplayClient>> clients;
  std::optional<Timestamp> first_time;
  for (size_t idx = 0; idx < sources.size(); ++idx) {
    const FeedSpec& feed_spec = feed_specs[idx];
    const InstrumentId id = feed_spec.instrument.id;
    AITS_ASSIGN_OR_RETURN(
        std::unique_ptr<node::ReplayClient> client,
        node::ReplayClient::Create(feed_spec.feed, std::move(sources[idx]), replay));
    const uint64_t consumed = session->ticks_by_instrument()[id.value];
    const std::string what =
        "the feed " + feed_spec.feed +
        (feed_specs.size() > 1 ? " (" + feed_spec.instrument.symbol + ")" : std::string());
    std::optional<Tick> last;
    AITS_ASSIGN_OR_RETURN(const uint64_t skipped, client->Skip(consumed, &last));
    if (skipped < consumed) {
      return FailedPrecondition(what + " has " + std::to_string(skipped) +
                                " ticks but the log consumed " + std::to_string(consumed) +
                                "; was the file changed?");
    }
    const std::optional<Tick>& logged_last =
        resumed_log && id.value < resumed_log->last_ticks.size() ? resumed_log->last_ticks[id.value]
                                                                 : std::nullopt;
    if (last && logged_last) {
      std::string a, b;
      persistence::EncodeTick(*last, &a);
      persistence::EncodeTick(*logged_last, &b);
      if (a != b) {
        return FailedPrecondition(what + " differs from the logged ticks at tick " +
                                  std::to_string(skipped) + "; was the file changed?");
      }
    }
    if (feed_specs.size() > 1 && options.speed > 0) {
      AITS_ASSIGN_OR_RETURN(const std::optional<Timestamp> next, client->PeekTime());
      if (next && (!first_time || *next < *first_time)) first_time = next;
    }
    clients.push_back(std::move(client));
  }
  // A live feed continues right after the log's last tick of each instrument.
  if (live && resumed_log) {
    for (const FeedSpec& feed_spec : feed_specs) {
      const uint32_t id = feed_spec.instrument.id.value;
      if (id < resumed_log->last_ticks.size() && resumed_log->last_ticks[id]) {
        options.live_data->ResumeAfter(*resumed_log->last_ticks[id],
                                       resumed_log->last_source_msc[id]);
      }
    }
  }
  // Paced feeds keep one pace, from the earliest next tick of any of them.
  if (first_time) {
    for (auto& client : clients) client->SetPacingAnchor(*first_time);
  }

  // The kernel thread is this one: the event loop drains what the feed's thread and the
  // operator-command feed push (docs/architecture.md, "The event loop").
  session->StartAppending(store.get());
  if (options.metrics != nullptr) {
    AITS_ASSIGN_OR_RETURN(metrics, SessionMetrics::Create(*options.metrics, *session));
    session->SetMetrics(metrics.get());
    metrics->Publish(*session, /*force=*/true);  // the resumed state, and the counters' baseline
  }
  if (reconciliation && !reconciliation->report.clean()) {
    result.reconciliation = reconciliation->lines;
    result.reconciliation_actions = reconciliation->plan.size();
    notice("the venue's account differs from the event log in " +
           std::to_string(reconciliation->lines.size()) + " item(s); policy " +
           std::string(execution::ToString(reconciliation->policy)) + ", " +
           std::to_string(reconciliation->plan.size()) + " action(s) recorded in the log:");
    for (const std::string& line : reconciliation->lines) notice("  " + line);
    AITS_RETURN_IF_ERROR(session->ApplyReconciliation(*reconciliation));
    AITS_RETURN_IF_ERROR(session->store_status());
    AITS_RETURN_IF_ERROR(store->Commit());
  }
  PaperTarget target(options, *session, *store, clients, result, metrics.get());
  StoreCommandFeed commands(path, kCommandPoll);
  node::LoopOptions loop_options;
  loop_options.stop = options.stop;
  node::EventLoop loop(target, loop_options);
  // The model's loop: a retrain on its verdict, the gate on its candidate's trial; their answers
  // come back as commands, and one the loop no longer takes (the feed ended meanwhile) is applied
  // after it.
  ModelSteps steps(options, spec, *session);
  steps.Attach(&loop);
  target.SetModelSteps(&steps);
  session->OnVerdict(
      [&steps](Timestamp ts, std::string_view record) { steps.OnVerdict(ts, record); });
  session->OnShadowEnded(
      [&steps](Timestamp ts, std::string_view record) { steps.OnShadowEnded(ts, record); });
  loop.AddProducer(commands);
  for (auto& client : clients) loop.AddClient(*client);
  if (live) loop.AddClient(*options.live_data);
  if (node::Producer* venue = session->venue_producer()) loop.AddProducer(*venue);
  if (options.broker_producer != nullptr) loop.AddProducer(*options.broker_producer);
  Result<node::LoopExit> ran = loop.Run();
  steps.Join();
  if (ran.ok()) {
    for (const std::string& command : steps.TakeReady()) {
      // Refused as the loop would refuse it: said, and the run's result stands.
      if (const Status applied = session->ApplyCommand(command); !applied.ok()) {
        notice("ignored model command " + command + ": " + applied.message());
      }
    }
  }
  AITS_ASSIGN_OR_RETURN(const node::LoopExit exit, std::move(ran));
  result.interrupted = exit == node::LoopExit::kStopped;
  if (exit == node::LoopExit::kEndOfData) result.feed_ended = true;
  result.hand_off = loop.stats().hand_off;
  result.clock_advances = session->clock_advances();
  result.commands_applied = loop.stats().commands_applied;
  result.commands_refused = loop.stats().commands_refused;
  if (const auto* venue = dynamic_cast<const node::ThreadedVenue*>(session->venue_producer())) {
    result.lost_reports = venue->lost_reports();
  }

  session->WriteCheckpoint();
  if (metrics) metrics->Publish(*session, /*force=*/true);
  // The end of this run: the strategies' OnStop, the unfinished bars flushed (not traded on) and a
  // last equity sample, as at the end of a backtest. Nothing of it is logged or checkpointed, so a
  // resume, whose fresh kernel never stopped, continues the bars as they were.
  session->kernel().Stop();
  const kernel::Kernel& kernel = session->kernel();
  result.orders = kernel.order_count();
  result.fills = kernel.fill_count();
  result.decisions = session->decisions();
  result.account = kernel.account();
  result.position = kernel.position(session->instrument().id).quantity;
  for (const FeedSpec& feed : feed_specs) {
    const InstrumentId id = feed.instrument.id;
    const Session::InstrumentCounts& counts = session->counts()[id.value];
    PaperSymbolResult symbol;
    symbol.symbol = feed.instrument.symbol;
    symbol.traded = feed.traded;
    symbol.ticks = session->ticks_by_instrument()[id.value];
    symbol.orders = counts.orders;
    symbol.fills = counts.fills;
    symbol.commission = counts.commission;
    symbol.net_pnl = counts.net_pnl;
    symbol.position = kernel.position(id).quantity;
    result.symbols.push_back(std::move(symbol));
  }
  result.breaker = std::string(risk::ToString(kernel.risk()->breaker()));
  const char* const stop_reason =
      result.interrupted ? "interrupted" : (result.feed_ended ? "feed_ended" : "stop_after");
  {
    std::string summary;
    trading::JsonWriter json(&summary);
    json.BeginObject();
    json.Member("reason", stop_reason);
    json.Member("ticks", session->ticks());
    json.Member("orders", result.orders);
    json.Member("fills", result.fills);
    json.Member("balance", result.account.balance.ToString());
    json.Member("equity", result.account.equity.ToString());
    json.EndObject();
    AITS_RETURN_IF_ERROR(store->Append(EventType::kSessionStop, kernel.Now(), summary).status());
  }
  AITS_RETURN_IF_ERROR(session->store_status());
  AITS_RETURN_IF_ERROR(store->Close());
  // Everything is committed: the last trades go out.
  AITS_RETURN_IF_ERROR(target.ReportTrades());
  result.last_seq = store->last_seq();
  result.wall_seconds = static_cast<double>(NanosSince(wall_start)) / 1e9;
  AITS_LOG_INFO("session", "paper session stopped",
                {{"session_id", spec.session_id},
                 {"state", options.state_dir},
                 {"reason", stop_reason},
                 {"new_ticks", std::to_string(result.ticks)},
                 {"ticks", std::to_string(session->ticks())},
                 {"orders", std::to_string(result.orders)},
                 {"fills", std::to_string(result.fills)},
                 {"balance", result.account.balance.ToString()},
                 {"equity", result.account.equity.ToString()},
                 {"breaker", result.breaker},
                 {"events", std::to_string(result.last_seq)}});
  return result;
}

}  // namespace aits::session
