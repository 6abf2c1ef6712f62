#include "aits/log/log.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>

namespace aits {
namespace {

// What one ConfigureLogging set up. Immutable once published, so a line reads it without a lock.
struct Config {
  std::shared_ptr<spdlog::logger> logger;
  LogFormat format = LogFormat::kText;
  std::string role;
};

// spdlog's time stamp, in UTC with microseconds; the rest of the line is our message body, which
// Log builds itself so that the JSON escaping is ours to get right.
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%fZ %v";
constexpr const char* kJsonPattern = "{\"time\":\"%Y-%m-%dT%H:%M:%S.%fZ\",%v}";

spdlog::level::level_enum SpdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      break;
  }
  return spdlog::level::off;
}

std::shared_ptr<const Config> MakeConfig(spdlog::sink_ptr sink, const LogOptions& options) {
  auto config = std::make_shared<Config>();
  // Not registered with spdlog's global registry: nothing else can look it up or replace it.
  config->logger = std::make_shared<spdlog::logger>("aits", std::move(sink));
  config->logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      options.format == LogFormat::kJsonLines ? kJsonPattern : kTextPattern,
      spdlog::pattern_time_type::utc));
  config->logger->set_level(SpdlogLevel(options.level));
  // Lines are rare (session events, not ticks): each is flushed, so a crash loses none.
  config->logger->flush_on(spdlog::level::trace);
  config->format = options.format;
  config->role = options.role;
  return config;
}

std::atomic<std::shared_ptr<const Config>>& Current() {
  static std::atomic<std::shared_ptr<const Config>> current(
      MakeConfig(std::make_shared<spdlog::sinks::stderr_sink_mt>(), LogOptions{}));
  return current;
}

void AppendHex(unsigned value, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\u00");
  out->push_back(kHex[(value >> 4) & 0xf]);
  out->push_back(kHex[value & 0xf]);
}

// The length of the well-formed UTF-8 sequence at text[pos] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when the byte there does not start one.
size_t Utf8SequenceLength(std::string_view text, size_t pos) {
  const auto byte = [&](size_t idx) { return static_cast<unsigned char>(text[idx]); };
  const unsigned char lead = byte(pos);
  size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) second_min = 0xa0;  // overlong below U+0800
    if (lead == 0xed) second_max = 0x9f;  // surrogates U+D800..U+DFFF
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) second_min = 0x90;  // overlong below U+10000
    if (lead == 0xf4) second_max = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  if (byte(pos + 1) < second_min || byte(pos + 1) > second_max) return 0;
  for (size_t idx = pos + 2; idx < pos + length; ++idx) {
    if (byte(idx) < 0x80 || byte(idx) > 0xbf) return 0;
  }
  return length;
}

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, pos);
      if (length == 0) {
        out->append("\\ufffd");  // a byte that is not UTF-8 would make the line invalid JSON
        ++pos;
      } else {
        out->append(text.substr(pos, length));
        pos += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          AppendHex(c, out);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++pos;
  }
  out->push_back('"');
}

// Text keeps every byte but control characters, which would break the line or the terminal.
void AppendText(std::string_view text, std::string* out) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else {
      out->push_back(ch);
    }
  }
}

// A field's value, quoted when it is empty or holds a space or a quote, so that key=value pairs
// stay apart when read back.
void AppendTextValue(std::string_view value, std::string* out) {
  if (!value.empty() && value.find_first_of(" \"") == std::string_view::npos) {
    AppendText(value, out);
    return;
  }
  out->push_back('"');
  size_t start = 0;
  for (size_t pos = value.find_first_of("\"\\"); pos != std::string_view::npos;
       pos = value.find_first_of("\"\\", start)) {
    AppendText(value.substr(start, pos - start), out);
    out->push_back('\\');
    out->push_back(value[pos]);
    start = pos + 1;
  }
  AppendText(value.substr(start), out);
  out->push_back('"');
}

void AppendJsonMember(std::string_view key, std::string_view value, std::string* out) {
  out->push_back(',');
  AppendJsonString(key, out);
  out->push_back(':');
  AppendJsonString(value, out);
}

}  // namespace

std::string_view ToString(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      break;
  }
  return "off";
}

Result<LogLevel> ParseLogLevel(std::string_view text) {
  for (const LogLevel level : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                               LogLevel::kError, LogLevel::kOff}) {
    if (text == ToString(level)) return level;
  }
  if (text == "warning") return LogLevel::kWarn;
  return InvalidArgument("log level '" + std::string(text) +
                         "' is not one of trace, debug, info, warn, error, off");
}

Status ConfigureLogging(const LogOptions& options) {
  spdlog::sink_ptr sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    // Opened here first: spdlog would create missing directories and retry, and report failure
    // as an exception; a wrong path should be an error that names it, and create nothing.
    std::FILE* probe = std::fopen(options.file.c_str(), "ab");
    if (probe == nullptr) {
      return IoError("cannot open log file '" + options.file +
                     "' for appending: " + std::strerror(errno));
    }
    std::fclose(probe);
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, /*truncate=*/false);
    } catch (const std::exception& error) {
      return IoError("cannot open log file '" + options.file + "': " + error.what());
    }
  }
  Current().store(MakeConfig(std::move(sink), options));
  log_internal::g_level.store(options.level, std::memory_order_relaxed);
  return Status::Ok();
}

void Log(LogLevel level, std::string_view component, std::string_view message,
         std::span<const LogField> fields) {
  if (!LogEnabled(level)) return;
  const std::shared_ptr<const Config> config = Current().load();
  std::string body;
  body.reserve(64 + message.size());
  if (config->format == LogFormat::kJsonLines) {
    // The opening brace and "time" come from the pattern (kJsonPattern).
    body.append("\"level\":");
    AppendJsonString(ToString(level), &body);
    if (!config->role.empty()) AppendJsonMember("role", config->role, &body);
    AppendJsonMember("component", component, &body);
    AppendJsonMember("message", message, &body);
    for (const LogField& field : fields) AppendJsonMember(field.key, field.value, &body);
  } else {
    const std::string_view name = ToString(level);
    body.append(name);
    body.append(name.size() < 5 ? 6 - name.size() : 1, ' ');
    AppendText(component, &body);
    body.append("  ");
    AppendText(message, &body);
    for (const LogField& field : fields) {
      body.push_back(' ');
      AppendText(field.key, &body);
      body.push_back('=');
      AppendTextValue(field.value, &body);
    }
  }
  config->logger->log(SpdlogLevel(level), spdlog::string_view_t(body.data(), body.size()));
}

}  // namespace aits
