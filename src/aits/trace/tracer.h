// Spans and their export (docs/monitoring.md, "Traces"): a role opens a span for each message
// it handles, under the span whose traceparent the message carried, and hands the new span's
// traceparent on with what it publishes. Spans of a sampled trace are written as OTLP/JSON
// (the JSON encoding of OpenTelemetry's ExportTraceServiceRequest) to a file, one request a
// line, and/or POSTed to an OTLP HTTP endpoint (`/v1/traces`).
//
// Sampling is decided once, at the root (head sampling, by the trace id against the ratio, as
// OpenTelemetry's TraceIdRatioBased does), and travels in the flags: a child follows its
// parent's decision, so a trace is exported whole by every process or by none. A span that is
// not sampled still has ids (its children must know the decision) but records nothing: no
// name, attributes or export; Start and End cost an id, two clock reads and no allocation.
//
// Threads: a Tracer may be used from any thread. End only queues the span (a mutex held for a
// push); a thread of the Tracer's own writes the queue out every flush_interval, so the trading
// path never waits for a disk or a collector. A full queue drops spans and counts them.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/trace/traceparent.h"

namespace aits::trace {

// OTLP's SpanKind numbers.
enum class SpanKind : uint8_t {
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5
};

// OTLP's status codes.
enum class SpanStatus : uint8_t { kUnset = 0, kOk = 1, kError = 2 };

struct SpanAttribute {
  std::string key;
  std::string text;  // a string attribute's value
  int64_t number = 0;
  bool is_number = false;
};

// One operation of one process. Made by Tracer::Start, finished by Tracer::End.
struct Span {
  SpanContext context;
  std::array<uint8_t, 8> parent_span_id{};  // all zeros: a root
  std::string name;                         // set only when recording
  SpanKind kind = SpanKind::kInternal;
  int64_t start_ns = 0;  // wall clock, Unix nanoseconds
  int64_t end_ns = 0;
  std::vector<SpanAttribute> attributes;
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;

  // Sampled: its attributes are kept and it is exported when it ends. The setters below do
  // nothing otherwise, so a caller need not ask (but may, before building a costly value).
  bool recording() const { return context.sampled(); }
  bool is_root() const;
  void SetAttribute(std::string_view key, std::string_view value);
  void SetAttribute(std::string_view key, int64_t value);
  void SetError(std::string_view message);
  // What a message published within this span carries: its children's parent.
  std::string traceparent() const { return FormatTraceparent(context); }
};

struct TracerOptions {
  std::string service_name;    // OTLP's resource attribute service.name: the role
  double sample_ratio = 0;     // of the roots started here, 0 to 1
  std::string file;            // appended OTLP/JSON lines; empty: none
  std::string otlp_endpoint;   // http://HOST:PORT/v1/traces; empty: none
  size_t max_queued = 65'536;  // spans ended and not yet written; more are dropped
  Duration flush_interval = Duration::Millis(200);
};

struct TracerCounters {
  uint64_t roots = 0;              // traces started here
  uint64_t sampled_roots = 0;      // of which sampled
  uint64_t malformed_parents = 0;  // traceparents refused (a new root started instead)
  uint64_t exported = 0;           // spans written (to the file, or accepted by the endpoint)
  uint64_t dropped = 0;            // spans lost: the queue full, or an export that failed
  uint64_t export_errors = 0;      // failed writes or POSTs
};

class Tracer {
 public:
  // Checks the options (InvalidArgument: a ratio outside [0, 1], an endpoint that is not
  // http://…) and opens the file for appending (IoError naming it), then starts the export
  // thread. Nothing at all is exported without a file or an endpoint; sampling still decides.
  static Result<std::unique_ptr<Tracer>> Open(TracerOptions options);
  // Writes out what is queued, then stops the export thread.
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // A span starting now under `parent`, a traceparent as a message carried it. Empty: a new
  // root, sampled by the ratio. Malformed: counted, its reason kept (last_malformed()), and a
  // new root started — a bad header never stops a message.
  Span Start(std::string_view name, SpanKind kind, std::string_view parent);
  // A span under a context already parsed (a span of this process); an invalid one (none): a new
  // root, sampled by the ratio.
  Span StartChild(std::string_view name, SpanKind kind, const SpanContext& parent);
  // A new root, sampled by the ratio.
  Span StartRoot(std::string_view name, SpanKind kind);
  // Ends the span now (its end time) and, if sampled, queues it for export.
  void End(Span& span);
  // Blocks until what was queued before the call is written (tests, and a role's end).
  void Flush();

  TracerCounters counters() const;
  std::string last_malformed() const;

  // Serves the counters in `registry` from now on (the figures so far included):
  // aits_trace_roots_total{sampled}, aits_trace_spans_exported_total,
  // aits_trace_spans_dropped_total, aits_trace_export_errors_total and
  // aits_trace_malformed_traceparents_total. InvalidArgument if a name clashes. Null: stop
  // (call it before the registry goes, if the tracer outlives it). Once per registry: the
  // figures so far are added to its counters again at each call.
  Status ExportMetrics(Registry* registry);
  const TracerOptions& options() const { return options_; }

 private:
  explicit Tracer(TracerOptions options);
  void Run();
  void Export(std::vector<Span>& batch);
  Span Make(std::string_view name, SpanKind kind, const SpanContext& parent, bool root);

  TracerOptions options_;
  uint64_t sample_bound_ = 0;  // a root is sampled when its trace id's low 8 bytes are below
  bool sample_all_ = false;
  std::FILE* file_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::vector<Span> queue_;
  uint64_t queued_total_ = 0;    // spans ever queued
  uint64_t written_total_ = 0;   // of those, handled by the export thread (written or dropped)
  uint64_t flush_requests_ = 0;  // Flush calls, and of them those the export thread answered
  uint64_t flushes_done_ = 0;
  bool stopping_ = false;
  TracerCounters counters_;
  // Where counters_ is mirrored (ExportMetrics), updated under mutex_ with it; null: nowhere.
  struct Metrics {
    Counter* sampled_roots = nullptr;
    Counter* unsampled_roots = nullptr;
    Counter* exported = nullptr;
    Counter* dropped = nullptr;
    Counter* export_errors = nullptr;
    Counter* malformed = nullptr;
  };
  std::optional<Metrics> metrics_;
  std::string last_malformed_;
  std::thread thread_;
};

// Ends `span`, when it holds one, as the guard goes out of scope: for a span that must end
// however its function returns. `tracer` may be null when `span` stays empty.
class EndOnExit {
 public:
  EndOnExit(Tracer* tracer, std::optional<Span>& span) : tracer_(tracer), span_(span) {}
  ~EndOnExit() {
    if (span_) tracer_->End(*span_);
  }
  EndOnExit(const EndOnExit&) = delete;
  EndOnExit& operator=(const EndOnExit&) = delete;

 private:
  Tracer* tracer_;
  std::optional<Span>& span_;
};

// The span whose work this thread is doing, for code further down the same call that cannot be
// handed it: the owner's decider sets the decision's span here, and the session, after the
// kernel took the tick, opens the spans of the orders it caused under it. OpenTelemetry keeps
// its context the same way (per thread). An invalid context (the default): none.
void SetCurrent(const SpanContext& context);
const SpanContext& Current();
// Current(), for a caller that makes it the parent of a span or of a message it publishes. If it
// is the span this thread watches (WatchParentUse), the thread notes that it has a child, so
// that whoever opened it knows it must be exported (WatchedWasParent).
const SpanContext& CurrentAsParent();
// Watches `span` from now on, its note cleared: the session's span of the tick it is taking,
// which it ends only when something hangs under it.
void WatchParentUse(const SpanContext& span);
bool WatchedWasParent();

// The OTLP/JSON ExportTraceServiceRequest of `spans`, all of the process `service_name`: one
// resourceSpans entry (resource attribute service.name), one scopeSpans entry (scope "aits"),
// ids in lower-case hex, times as strings of Unix nanoseconds, as the OTLP JSON encoding asks.
// One line: no newline inside.
std::string EncodeOtlpJson(std::string_view service_name, std::span<const Span> spans);

}  // namespace aits::trace
