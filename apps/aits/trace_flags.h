// The trace flags that `aits serve`, `aits paper` and `aits live` share (docs/monitoring.md,
// "Traces"): where the spans go and how many of the traces this process starts are kept.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/trace/tracer.h"

namespace aits::app {

struct TraceFlags {
  std::string file;           // --trace-file
  std::string otlp_endpoint;  // --otlp-endpoint
  double sample = 0.01;       // --trace-sample
};

// Adds --trace-file, --otlp-endpoint and --trace-sample; `roots` says which traces this command
// starts (for --trace-sample's help).
void AddTraceFlags(CLI::App& cmd, TraceFlags& flags, std::string_view roots);

// The tracer the flags ask for, its resource named `service`; null without --trace-file and
// --otlp-endpoint. InvalidArgument for --trace-sample alone (the spans would go nowhere), a
// ratio outside 0..1 or an endpoint that is not http://…; IoError for a file that cannot be
// opened.
Result<std::unique_ptr<trace::Tracer>> OpenTracer(const TraceFlags& flags, const CLI::App& cmd,
                                                  const std::string& service);

// Writes out what is queued and says on stderr what was refused or lost, as `who`.
void CloseTracer(trace::Tracer* tracer, std::string_view who);

}  // namespace aits::app
