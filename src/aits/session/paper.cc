#include "aits/session/paper.h"

#include <chrono>
#include <filesystem>
#include <iterator>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "aits/log/log.h"
#include "aits/persistence/codec.h"
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
  const Position& position = kernel.position(session.instrument().id);
  if (position.quantity.raw() != log.position.raw()) {
    return mismatch("position " + position.quantity.ToString() + " vs " + log.position.ToString());
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

}  // namespace

std::string PaperResult::LatencyJson() const {
  return "{\"ticks_without_bar_close\":" + HistogramJson(plain_ticks) +
         ",\"ticks_with_bar_close\":" + HistogramJson(bar_ticks) +
         ",\"tick_to_order_without_bar_close\":" + HistogramJson(plain_orders) +
         ",\"tick_to_order_with_bar_close\":" + HistogramJson(bar_orders) + "}";
}

Result<PaperResult> RunPaper(const PaperOptions& options) {
  const auto wall_start = Steady::now();
  PaperResult result;
  std::error_code error;
  std::filesystem::create_directories(options.state_dir, error);
  if (error) {
    return IoError("cannot create state directory " + options.state_dir + ": " + error.message());
  }
  const std::string path = (std::filesystem::path(options.state_dir) / "events.db").string();
  const bool existed = std::filesystem::exists(path);
  SessionSpec spec = options.spec;
  std::unique_ptr<Session> session;
  std::unique_ptr<data::TickSource> feed;
  if (!existed) {
    // A new session: everything that can be refused is checked before the log exists, so a
    // refused start leaves no session behind in the directory.
    if (!options.spec_given) {
      return NotFound(options.state_dir + " holds no session to resume; give a feed and a " +
                      "signal to start one");
    }
    AITS_ASSIGN_OR_RETURN(session, Session::Create(spec, options.signals));
    AITS_ASSIGN_OR_RETURN(feed, OpenFeed(spec));
  }
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<EventStore> store, EventStore::Open(path, options.store));
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
      // A log from before sessions recorded their instrument keeps the one it was run with.
      if (!logged.instrument) given.instrument.reset();
      const std::string difference = logged.FirstDifference(given);
      if (!difference.empty()) {
        return InvalidArgument(options.state_dir + " holds another session (" + difference +
                               "); resume it with just --state " + options.state_dir +
                               ", or start this one in a new directory");
      }
    }
    spec = logged;
    AITS_ASSIGN_OR_RETURN(session, Session::Create(spec, options.signals));
    // Re-run every logged tick through the fresh kernel, checking each output against the log.
    auto followed = FollowLog(*store, *session, &result.resumed_events);
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
      AITS_ASSIGN_OR_RETURN(session, Session::Create(spec, options.signals));
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

  // The feed, positioned after the last logged tick.
  if (!feed) {
    AITS_ASSIGN_OR_RETURN(feed, OpenFeed(spec));
  }
  std::vector<Tick> batch(1024);
  size_t batch_size = 0;
  size_t batch_next = 0;
  bool feed_done = false;
  const auto next_tick = [&]() -> Result<const Tick*> {
    if (batch_next == batch_size) {
      if (feed_done) return nullptr;
      AITS_ASSIGN_OR_RETURN(batch_size, feed->Read(batch));
      batch_next = 0;
      if (batch_size == 0) {
        feed_done = true;
        return nullptr;
      }
    }
    return &batch[batch_next++];
  };
  {
    uint64_t skipped = 0;
    const Tick* last = nullptr;
    while (skipped < session->ticks()) {
      AITS_ASSIGN_OR_RETURN(last, next_tick());
      if (last == nullptr) break;
      ++skipped;
    }
    if (skipped < session->ticks()) {
      return FailedPrecondition("the feed " + spec.feed + " has " + std::to_string(skipped) +
                                " ticks but the log consumed " + std::to_string(session->ticks()) +
                                "; was the file changed?");
    }
    if (last != nullptr && resumed_log && resumed_log->last_tick) {
      std::string a, b;
      persistence::EncodeTick(*last, &a);
      persistence::EncodeTick(*resumed_log->last_tick, &b);
      if (a != b) {
        return FailedPrecondition("the feed " + spec.feed +
                                  " differs from the logged ticks at tick " +
                                  std::to_string(skipped) + "; was the file changed?");
      }
    }
  }

  session->StartAppending(store.get());
  const auto check_store = [&]() -> Status {
    if (!session->store_status().ok()) return session->store_status();
    return Status::Ok();
  };
  const auto apply_commands = [&]() -> Status {
    AITS_ASSIGN_OR_RETURN(std::vector<persistence::Command> commands, store->PendingCommands());
    for (const auto& command : commands) {
      const Status applied = session->ApplyCommand(command.text);
      notice(applied.ok() ? "applied operator command: " + command.text
                          : "ignored operator command " + command.text + ": " + applied.message());
      if (applied.ok()) {
        AITS_LOG_INFO("session", "operator command applied",
                      {{"session_id", spec.session_id}, {"command", command.text}});
      } else {
        AITS_LOG_INFO("session", "operator command ignored",
                      {{"session_id", spec.session_id},
                       {"command", command.text},
                       {"error", applied.message()}});
      }
      AITS_RETURN_IF_ERROR(store->MarkCommandApplied(command.id, store->last_seq()));
      AITS_RETURN_IF_ERROR(check_store());
    }
    if (!commands.empty()) AITS_RETURN_IF_ERROR(store->Commit());
    return Status::Ok();
  };
  const auto stopping = [&]() {
    return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
  };

  AITS_RETURN_IF_ERROR(apply_commands());
  auto last_poll = Steady::now();
  auto last_progress = Steady::now();
  std::optional<Timestamp> pace_t0;
  Steady::time_point pace_wall0;
  const uint64_t total_limit = spec.max_ticks;
  while (true) {
    if (stopping()) {
      result.interrupted = true;
      break;
    }
    if (options.stop_after > 0 && result.ticks >= options.stop_after) break;
    if (total_limit > 0 && session->ticks() >= total_limit) {
      result.feed_ended = true;
      break;
    }
    AITS_ASSIGN_OR_RETURN(const Tick* tick, next_tick());
    if (tick == nullptr) {
      result.feed_ended = true;
      break;
    }
    if (options.speed > 0) {
      if (!pace_t0) {
        pace_t0 = tick->ts;
        pace_wall0 = Steady::now();
      }
      const auto due =
          pace_wall0 + std::chrono::nanoseconds(static_cast<int64_t>(
                           static_cast<double>((tick->ts - *pace_t0).ns) / options.speed));
      while (Steady::now() < due && !stopping()) {
        // Waiting for the market: commit what is pending and take operator commands meanwhile.
        AITS_RETURN_IF_ERROR(store->MaybeCommit());
        if (Steady::now() - last_poll > std::chrono::milliseconds(250)) {
          AITS_RETURN_IF_ERROR(apply_commands());
          last_poll = Steady::now();
        }
        std::this_thread::sleep_until(std::min(due, Steady::now() + std::chrono::milliseconds(50)));
      }
      if (stopping()) {
        result.interrupted = true;
        break;
      }
    }
    const uint64_t bars_before = session->kernel().bars_processed();
    session->ResetAcceptClock();
    const auto t0 = Steady::now();
    session->Feed(*tick);
    const int64_t nanos = NanosSince(t0);
    ++result.ticks;
    const bool bar_closed = session->kernel().bars_processed() != bars_before;
    (bar_closed ? result.bar_ticks : result.plain_ticks).Record(nanos);
    if (session->accepted_at_ns() != 0) {
      const int64_t to_order =
          session->accepted_at_ns() -
          std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
      (bar_closed ? result.bar_orders : result.plain_orders).Record(to_order);
    }
    AITS_RETURN_IF_ERROR(check_store());
    if (options.checkpoint_every > 0 && session->ticks() % options.checkpoint_every == 0) {
      session->WriteCheckpoint();
    }
    AITS_RETURN_IF_ERROR(store->MaybeCommit());
    if ((result.ticks & 1023) == 0) {
      const auto now = Steady::now();
      if (now - last_poll > std::chrono::milliseconds(250)) {
        AITS_RETURN_IF_ERROR(apply_commands());
        last_poll = now;
      }
      if (options.progress && now - last_progress > std::chrono::milliseconds(500)) {
        last_progress = now;
        PaperProgress progress;
        progress.ticks = session->ticks();
        progress.orders = session->kernel().order_count();
        progress.fills = session->kernel().fill_count();
        progress.equity = session->kernel().account().equity;
        progress.position = session->kernel().position(session->instrument().id).quantity;
        progress.breaker = std::string(risk::ToString(session->kernel().risk()->breaker()));
        progress.fraction = feed->Progress();
        options.progress(progress);
      }
    }
  }

  session->WriteCheckpoint();
  const kernel::Kernel& kernel = session->kernel();
  result.orders = kernel.order_count();
  result.fills = kernel.fill_count();
  result.decisions = session->strategy().decisions();
  result.account = kernel.account();
  result.position = kernel.position(session->instrument().id).quantity;
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
  AITS_RETURN_IF_ERROR(check_store());
  AITS_RETURN_IF_ERROR(store->Close());
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
