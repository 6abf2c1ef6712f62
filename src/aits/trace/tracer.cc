#include "aits/trace/tracer.h"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "aits/core/clock.h"
#include "aits/core/hash.h"

namespace aits::trace {
namespace {

// Ids from a generator of each thread's own (splitmix64 over a random seed): no lock, no
// system call after the first id of a thread. Ids only need to be unique, not secret.
uint64_t NextRandom() {
  thread_local uint64_t state = [] {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device() ^
           static_cast<uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  }();
  state += 0x9e3779b97f4a7c15ULL;
  return Mix64(state);
}

template <size_t N>
void FillRandom(std::array<uint8_t, N>& bytes) {
  for (size_t idx = 0; idx < N; idx += 8) {
    uint64_t value = NextRandom();
    while (value == 0) value = NextRandom();  // an all-zero id is invalid
    std::memcpy(bytes.data() + idx, &value, std::min<size_t>(8, N - idx));
  }
}

// The trace id's last 8 bytes, big-endian: what the sampling ratio is compared against.
uint64_t SampleKey(const std::array<uint8_t, 16>& trace_id) {
  uint64_t key = 0;
  for (size_t idx = 8; idx < 16; ++idx) key = (key << 8) | trace_id[idx];
  return key;
}

int64_t NowNs() { return SystemWallClock().Now().ns; }

nlohmann::json Attribute(const SpanAttribute& attribute) {
  nlohmann::json value;
  // OTLP's JSON writes 64-bit integers as strings.
  if (attribute.is_number) {
    value["intValue"] = std::to_string(attribute.number);
  } else {
    value["stringValue"] = attribute.text;
  }
  return {{"key", attribute.key}, {"value", value}};
}

size_t DiscardBody(char* /*data*/, size_t size, size_t count, void* /*user*/) {
  return size * count;
}

// POSTs one request body; Unavailable when the endpoint cannot be reached or answers other
// than 2xx (OTLP/HTTP's success).
Status Post(const std::string& endpoint, const std::string& body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Internal("curl_easy_init failed");
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &DiscardBody);
  const CURLcode code = curl_easy_perform(curl);
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return Unavailable("OTLP export to " + endpoint + ": " + curl_easy_strerror(code));
  }
  if (http < 200 || http >= 300) {
    return Unavailable("OTLP export to " + endpoint + ": HTTP " + std::to_string(http));
  }
  return Status::Ok();
}

thread_local SpanContext t_current;
thread_local SpanContext t_watched;
thread_local bool t_watched_used = false;

}  // namespace

void SetCurrent(const SpanContext& context) { t_current = context; }
const SpanContext& Current() { return t_current; }
const SpanContext& CurrentAsParent() {
  if (t_current.valid() && t_current == t_watched) t_watched_used = true;
  return t_current;
}
void WatchParentUse(const SpanContext& span) {
  t_watched = span;
  t_watched_used = false;
}
bool WatchedWasParent() { return t_watched_used; }

bool Span::is_root() const {
  return std::all_of(parent_span_id.begin(), parent_span_id.end(),
                     [](uint8_t b) { return b == 0; });
}

void Span::SetAttribute(std::string_view key, std::string_view value) {
  if (!recording()) return;
  attributes.push_back(SpanAttribute{std::string(key), std::string(value), 0, false});
}

void Span::SetAttribute(std::string_view key, int64_t value) {
  if (!recording()) return;
  attributes.push_back(SpanAttribute{std::string(key), {}, value, true});
}

void Span::SetError(std::string_view message) {
  if (!recording()) return;
  status = SpanStatus::kError;
  status_message = std::string(message);
}

Result<std::unique_ptr<Tracer>> Tracer::Open(TracerOptions options) {
  // NaN fails both comparisons, so it is refused too.
  if (!(options.sample_ratio >= 0 && options.sample_ratio <= 1)) {
    return InvalidArgument("trace sample ratio " + std::to_string(options.sample_ratio) +
                           ": not between 0 and 1");
  }
  if (!options.otlp_endpoint.empty() && !options.otlp_endpoint.starts_with("http://") &&
      !options.otlp_endpoint.starts_with("https://")) {
    return InvalidArgument("OTLP endpoint \"" + options.otlp_endpoint +
                           "\": not an http:// or https:// URL");
  }
  if (options.max_queued == 0) return InvalidArgument("trace queue of 0 spans");
  std::unique_ptr<Tracer> tracer(new Tracer(std::move(options)));
  if (!tracer->options_.file.empty()) {
    tracer->file_ = std::fopen(tracer->options_.file.c_str(), "ae");
    if (tracer->file_ == nullptr) {
      return IoError("trace file " + tracer->options_.file + ": " + std::strerror(errno));
    }
  }
  if (!tracer->options_.otlp_endpoint.empty()) curl_global_init(CURL_GLOBAL_DEFAULT);
  tracer->thread_ = std::thread([t = tracer.get()] { t->Run(); });
  return tracer;
}

Tracer::Tracer(TracerOptions options) : options_(std::move(options)) {
  sample_all_ = options_.sample_ratio >= 1;
  // 2^64 * ratio, below 2^64 since ratio < 1 here.
  sample_bound_ =
      sample_all_ ? 0 : static_cast<uint64_t>(options_.sample_ratio * 18446744073709551616.0);
}

Tracer::~Tracer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (file_ != nullptr) std::fclose(file_);
}

Span Tracer::Make(std::string_view name, SpanKind kind, const SpanContext& parent, bool root) {
  Span span;
  span.kind = kind;
  if (root) {
    FillRandom(span.context.trace_id);
    const bool sampled = sample_all_ || SampleKey(span.context.trace_id) < sample_bound_;
    span.context.flags = sampled ? SpanContext::kSampled : 0;
    std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.roots;
    counters_.sampled_roots += sampled ? 1 : 0;
    if (metrics_) (sampled ? metrics_->sampled_roots : metrics_->unsampled_roots)->Increment();
  } else {
    span.context.trace_id = parent.trace_id;
    span.context.flags = parent.flags;
    span.parent_span_id = parent.span_id;
  }
  FillRandom(span.context.span_id);
  if (span.recording()) span.name = std::string(name);
  span.start_ns = NowNs();
  return span;
}

Span Tracer::Start(std::string_view name, SpanKind kind, std::string_view parent) {
  if (parent.empty()) return Make(name, kind, {}, /*root=*/true);
  Result<SpanContext> context = ParseTraceparent(parent);
  if (context.ok() && context->valid()) return Make(name, kind, *context, /*root=*/false);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++counters_.malformed_parents;
    if (metrics_) metrics_->malformed->Increment();
    last_malformed_ = context.status().message();
  }
  return Make(name, kind, {}, /*root=*/true);
}

Span Tracer::StartChild(std::string_view name, SpanKind kind, const SpanContext& parent) {
  return Make(name, kind, parent, /*root=*/!parent.valid());
}

Span Tracer::StartRoot(std::string_view name, SpanKind kind) {
  return Make(name, kind, {}, /*root=*/true);
}

void Tracer::End(Span& span) {
  span.end_ns = NowNs();
  if (!span.recording()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  ++queued_total_;
  if (queue_.size() >= options_.max_queued) {
    ++counters_.dropped;
    if (metrics_) metrics_->dropped->Increment();
    ++written_total_;
    return;
  }
  queue_.push_back(std::move(span));
}

void Tracer::Flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t target = queued_total_;
  ++flush_requests_;
  wake_.notify_all();
  written_.wait(lock, [&] { return written_total_ >= target; });
}

TracerCounters Tracer::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

Status Tracer::ExportMetrics(Registry* registry) {
  if (registry == nullptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    metrics_.reset();
    return Status::Ok();
  }
  // Registered before the lock: a registry's own lock is never taken inside ours.
  AITS_ASSIGN_OR_RETURN(
      Family<Counter>* const roots,
      registry->AddCounter("aits_trace_roots_total",
                           "Traces this process started, by whether they were sampled",
                           {"sampled"}));
  Metrics metrics;
  AITS_ASSIGN_OR_RETURN(metrics.sampled_roots, roots->With({{"sampled", "true"}}));
  AITS_ASSIGN_OR_RETURN(metrics.unsampled_roots, roots->With({{"sampled", "false"}}));
  struct Single {
    std::string_view name;
    std::string_view help;
    Counter** slot;
  };
  const Single singles[] = {
      {"aits_trace_spans_exported_total",
       "Spans written to the trace file or accepted by the endpoint", &metrics.exported},
      {"aits_trace_spans_dropped_total",
       "Spans lost: the export queue full, or an export that failed", &metrics.dropped},
      {"aits_trace_export_errors_total",
       "Failed writes of the trace file and failed POSTs to the endpoint", &metrics.export_errors},
      {"aits_trace_malformed_traceparents_total",
       "Traceparents refused as malformed; a new trace was started", &metrics.malformed},
  };
  for (const Single& single : singles) {
    AITS_ASSIGN_OR_RETURN(Family<Counter>* const family,
                          registry->AddCounter(single.name, single.help));
    AITS_ASSIGN_OR_RETURN(*single.slot, family->With({}));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  metrics.sampled_roots->Increment(counters_.sampled_roots);
  metrics.unsampled_roots->Increment(counters_.roots - counters_.sampled_roots);
  metrics.exported->Increment(counters_.exported);
  metrics.dropped->Increment(counters_.dropped);
  metrics.export_errors->Increment(counters_.export_errors);
  metrics.malformed->Increment(counters_.malformed_parents);
  metrics_ = metrics;
  return Status::Ok();
}

std::string Tracer::last_malformed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_malformed_;
}

void Tracer::Run() {
  std::vector<Span> batch;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::nanoseconds(options_.flush_interval.ns),
                   [&] { return stopping_ || flush_requests_ > flushes_done_; });
    const uint64_t requests = flush_requests_;
    if (!queue_.empty()) {
      batch.swap(queue_);
      lock.unlock();
      Export(batch);
      const uint64_t handled = batch.size();
      batch.clear();
      lock.lock();
      written_total_ += handled;
    }
    flushes_done_ = requests;
    written_.notify_all();
    if (stopping_ && queue_.empty()) return;
  }
}

void Tracer::Export(std::vector<Span>& batch) {
  if (file_ == nullptr && options_.otlp_endpoint.empty()) return;
  const std::string body = EncodeOtlpJson(options_.service_name, batch);
  uint64_t failed = 0;
  uint64_t exported = 0;
  if (file_ != nullptr) {
    const bool ok = std::fwrite(body.data(), 1, body.size(), file_) == body.size() &&
                    std::fputc('\n', file_) != EOF && std::fflush(file_) == 0;
    (ok ? exported : failed) += 1;
  }
  if (!options_.otlp_endpoint.empty()) {
    (Post(options_.otlp_endpoint, body).ok() ? exported : failed) += 1;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t written = exported > 0 ? batch.size() : 0;
  const uint64_t lost = exported == 0 && failed > 0 ? batch.size() : 0;
  counters_.export_errors += failed;
  counters_.exported += written;
  counters_.dropped += lost;
  if (metrics_) {
    metrics_->export_errors->Increment(failed);
    metrics_->exported->Increment(written);
    metrics_->dropped->Increment(lost);
  }
}

std::string EncodeOtlpJson(std::string_view service_name, std::span<const Span> spans) {
  nlohmann::json out_spans = nlohmann::json::array();
  for (const Span& span : spans) {
    nlohmann::json s = {
        {"traceId", HexTraceId(span.context.trace_id)},
        {"spanId", HexSpanId(span.context.span_id)},
        {"name", span.name},
        {"kind", static_cast<int>(span.kind)},
        {"startTimeUnixNano", std::to_string(span.start_ns)},
        {"endTimeUnixNano", std::to_string(span.end_ns)},
        {"flags", static_cast<int>(span.context.flags)},
    };
    if (!span.is_root()) s["parentSpanId"] = HexSpanId(span.parent_span_id);
    nlohmann::json attributes = nlohmann::json::array();
    for (const SpanAttribute& attribute : span.attributes)
      attributes.push_back(Attribute(attribute));
    s["attributes"] = std::move(attributes);
    nlohmann::json status = {{"code", static_cast<int>(span.status)}};
    if (!span.status_message.empty()) status["message"] = span.status_message;
    s["status"] = std::move(status);
    out_spans.push_back(std::move(s));
  }
  nlohmann::json resource = {
      {"attributes",
       nlohmann::json::array(
           {{{"key", "service.name"}, {"value", {{"stringValue", std::string(service_name)}}}}})}};
  nlohmann::json request = {
      {"resourceSpans",
       nlohmann::json::array(
           {{{"resource", std::move(resource)},
             {"scopeSpans", nlohmann::json::array({{{"scope", {{"name", "aits"}}},
                                                    {"spans", std::move(out_spans)}}})}}})}};
  // Bytes that are not UTF-8 (an attribute's value from outside) become U+FFFD, not an error.
  return request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace aits::trace
