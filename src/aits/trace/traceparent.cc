#include "aits/trace/traceparent.h"

#include <algorithm>

namespace aits::trace {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: the W3C allows only lower case
}

// Reads `bytes.size()` bytes of lower-case hex from `text`; false at the first other character.
template <size_t N>
bool ReadHex(std::string_view text, std::array<uint8_t, N>& bytes) {
  for (size_t idx = 0; idx < N; ++idx) {
    const int high = HexValue(text[2 * idx]);
    const int low = HexValue(text[2 * idx + 1]);
    if (high < 0 || low < 0) return false;
    bytes[idx] = static_cast<uint8_t>(high * 16 + low);
  }
  return true;
}

template <size_t N>
void WriteHex(const std::array<uint8_t, N>& bytes, char* out) {
  for (size_t idx = 0; idx < N; ++idx) {
    out[2 * idx] = kHexDigits[bytes[idx] >> 4];
    out[2 * idx + 1] = kHexDigits[bytes[idx] & 0x0f];
  }
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

Status Malformed(std::string_view text, std::string_view why) {
  // The value is quoted only when it is short: a header of any size may arrive.
  std::string quoted = text.size() <= 64 ? "\"" + std::string(text) + "\"" : "(too long)";
  return InvalidArgument("traceparent " + quoted + ": " + std::string(why));
}

}  // namespace

bool SpanContext::valid() const { return !AllZero(trace_id) && !AllZero(span_id); }

Result<SpanContext> ParseTraceparent(std::string_view text) {
  if (text.size() != kTraceparentSize) {
    return Malformed(
        text, std::to_string(text.size()) + " characters, not " + std::to_string(kTraceparentSize));
  }
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') {
    return Malformed(text, "a '-' missing after the version, the trace id or the span id");
  }
  std::array<uint8_t, 1> version{};
  if (!ReadHex(text.substr(0, 2), version)) return Malformed(text, "the version is not hex");
  if (version[0] != 0)
    return Malformed(text, "version " + std::string(text.substr(0, 2)) + ", only 00 is read");
  SpanContext context;
  if (!ReadHex(text.substr(3, 32), context.trace_id)) {
    return Malformed(text, "the trace id is not 32 lower-case hex digits");
  }
  if (!ReadHex(text.substr(36, 16), context.span_id)) {
    return Malformed(text, "the span id is not 16 lower-case hex digits");
  }
  std::array<uint8_t, 1> flags{};
  if (!ReadHex(text.substr(53, 2), flags)) return Malformed(text, "the flags are not hex");
  context.flags = flags[0];
  if (AllZero(context.trace_id)) return Malformed(text, "the trace id is all zeros");
  if (AllZero(context.span_id)) return Malformed(text, "the span id is all zeros");
  return context;
}

void FormatTraceparent(const SpanContext& context, char* out) {
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  WriteHex(context.trace_id, out + 3);
  out[35] = '-';
  WriteHex(context.span_id, out + 36);
  out[52] = '-';
  WriteHex(std::array<uint8_t, 1>{context.flags}, out + 53);
}

std::string FormatTraceparent(const SpanContext& context) {
  std::string out(kTraceparentSize, '0');
  FormatTraceparent(context, out.data());
  return out;
}

std::string HexTraceId(const std::array<uint8_t, 16>& id) {
  std::string out(32, '0');
  WriteHex(id, out.data());
  return out;
}

std::string HexSpanId(const std::array<uint8_t, 8>& id) {
  std::string out(16, '0');
  WriteHex(id, out.data());
  return out;
}

}  // namespace aits::trace
