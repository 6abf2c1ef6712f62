// Logging: levelled, timestamped lines for whoever operates AITS (what a session did and why),
// written to stderr or a file, as text or as JSON lines (docs/architecture.md, "Logging").
// The CLI's own output (summaries, progress, "aits: error:" lines) is not logging and does not
// go through here.
//
// spdlog writes the lines; none of its types appear here, so including this header costs a
// translation unit nothing more than <string_view>.
//
// A line in text:        2026-12-04T14:00:00.123456Z info  session  message key=value
// A line as JSON lines:  {"time":"2026-12-04T14:00:00.123456Z","level":"info","role":"aits",
//                          "component":"session","message":"message","key":"value"}
// Times are UTC with microseconds. JSON strings are escaped so that every line parses whatever
// bytes the message holds: control characters as \n, \t or \u00XX, and bytes that are not UTF-8
// as U+FFFD. Text lines escape control characters, so a message is always one line, and put a
// field's value in double quotes when it is empty or holds a space or a quote.
//
// Threads: Log and LogEnabled may be called from any thread; lines never interleave. A
// ConfigureLogging that runs while other threads log takes effect for lines that start after it.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits {

enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kOff };

enum class LogFormat : uint8_t { kText, kJsonLines };

// "trace", "debug", "info", "warn", "error", "off".
std::string_view ToString(LogLevel level);

// Parses ToString's names (and "warning"); anything else is InvalidArgument listing them.
Result<LogLevel> ParseLogLevel(std::string_view text);

struct LogOptions {
  // Lines below this level are not written, and AITS_LOG does not even build them. The default
  // is warn so that a command's output is unchanged unless the user asks for logs.
  LogLevel level = LogLevel::kWarn;
  std::string file;  // lines are appended to this file; empty: stderr
  LogFormat format = LogFormat::kText;
  // Which process writes ("aits", "aits-train", later a service's name): a field of every JSON
  // line, so that the logs of several processes can be merged.
  std::string role;
};

// Replaces the destination, format and level of every later line. Until it is first called,
// lines at warn and above go to stderr as text.
// Returns IoError naming the path when the file cannot be opened for appending (its directory
// must exist: none is created); the previous configuration then stays in force.
Status ConfigureLogging(const LogOptions& options);

// One piece of structured context on a line, after the message. This is where the ids that tie
// lines together go (chain_id, request_id, order ids) once the node hands them out: in JSON lines
// each field is a member (its value a string), in text " key=value". Keys must not be one of
// time, level, role, component or message.
struct LogField {
  std::string_view key;
  std::string_view value;
};

namespace log_internal {
inline std::atomic<LogLevel> g_level{LogLevel::kWarn};
}  // namespace log_internal

// Whether a line at `level` would be written. One relaxed atomic load: cheap enough for a hot
// path to ask before it builds a message.
inline bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff && level >= log_internal::g_level.load(std::memory_order_relaxed);
}

// Writes one line if LogEnabled(level). `component` names the module that speaks ("session",
// "backtest", "registry"). Prefer AITS_LOG where the message is built: Log's arguments are
// evaluated even when the level is off.
void Log(LogLevel level, std::string_view component, std::string_view message,
         std::span<const LogField> fields = {});
inline void Log(LogLevel level, std::string_view component, std::string_view message,
                std::initializer_list<LogField> fields) {
  Log(level, component, message, std::span<const LogField>(fields.begin(), fields.size()));
}

}  // namespace aits

// AITS_LOG(level, component, message [, fields]): the arguments are evaluated only when the
// level is enabled, so a disabled line costs one atomic load and builds no strings.
//   AITS_LOG_INFO("session", "resumed at event " + std::to_string(seq), {{"state", dir}});
#define AITS_LOG(level, component, ...)                                        \
  do {                                                                         \
    if (::aits::LogEnabled(level)) ::aits::Log(level, component, __VA_ARGS__); \
  } while (false)
#define AITS_LOG_TRACE(component, ...) AITS_LOG(::aits::LogLevel::kTrace, component, __VA_ARGS__)
#define AITS_LOG_DEBUG(component, ...) AITS_LOG(::aits::LogLevel::kDebug, component, __VA_ARGS__)
#define AITS_LOG_INFO(component, ...) AITS_LOG(::aits::LogLevel::kInfo, component, __VA_ARGS__)
#define AITS_LOG_WARN(component, ...) AITS_LOG(::aits::LogLevel::kWarn, component, __VA_ARGS__)
#define AITS_LOG_ERROR(component, ...) AITS_LOG(::aits::LogLevel::kError, component, __VA_ARGS__)
