#include "trace_flags.h"

#include <cstdio>
#include <utility>

namespace aits::app {

void AddTraceFlags(CLI::App& cmd, TraceFlags& flags, std::string_view roots) {
  cmd.add_option("--trace-file", flags.file,
                 "Append the spans of the traces this process takes part in to FILE, as "
                 "OTLP/JSON lines (docs/monitoring.md, \"Traces\")");
  cmd.add_option("--otlp-endpoint", flags.otlp_endpoint,
                 "POST the spans to an OTLP/HTTP collector, http://HOST:PORT/v1/traces");
  cmd.add_option("--trace-sample", flags.sample,
                 "Share of the traces this process starts (" + std::string(roots) +
                     ") that are kept, 0 to 1; a trace started elsewhere follows its start's "
                     "decision")
      ->capture_default_str();
}

Result<std::unique_ptr<trace::Tracer>> OpenTracer(const TraceFlags& flags, const CLI::App& cmd,
                                                  const std::string& service) {
  if (flags.file.empty() && flags.otlp_endpoint.empty()) {
    if (cmd.count("--trace-sample") > 0) {
      return InvalidArgument(
          "--trace-sample: give --trace-file or --otlp-endpoint for the spans to go to");
    }
    return std::unique_ptr<trace::Tracer>();
  }
  trace::TracerOptions options;
  options.service_name = service;
  options.sample_ratio = flags.sample;
  options.file = flags.file;
  options.otlp_endpoint = flags.otlp_endpoint;
  return trace::Tracer::Open(std::move(options));
}

void CloseTracer(trace::Tracer* tracer, std::string_view who) {
  if (tracer == nullptr) return;
  tracer->Flush();
  const trace::TracerCounters counters = tracer->counters();
  const std::string name(who);
  if (counters.malformed_parents > 0) {
    std::fprintf(stderr,
                 "%s: %llu malformed traceparents refused (new traces started); the last: %s\n",
                 name.c_str(), static_cast<unsigned long long>(counters.malformed_parents),
                 tracer->last_malformed().c_str());
  }
  if (counters.dropped > 0) {
    std::fprintf(stderr, "%s: %llu spans dropped (%llu failed exports)\n", name.c_str(),
                 static_cast<unsigned long long>(counters.dropped),
                 static_cast<unsigned long long>(counters.export_errors));
  }
}

}  // namespace aits::app
