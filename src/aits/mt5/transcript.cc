#include "aits/mt5/transcript.h"

#include <cstring>
#include <fstream>
#include <utility>

#include "aits/mt5/json_fields.h"
#include "aits/mt5/messages_json.h"

namespace aits::mt5 {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Result<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("payload_hex: odd number of digits");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int value = 0;
    for (size_t k = 0; k < 2; ++k) {
      const char c = hex[i + k];
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (digit < 0) return InvalidArgument("payload_hex: '" + std::string(1, c) + "' is not hex");
      value = value * 16 + digit;
    }
    out.push_back(static_cast<char>(value));
  }
  return out;
}

// The type number of a schema name or of a number written as text.
Result<uint16_t> TypeNumber(const std::string& type) {
  for (const MessageType t : kAllMessageTypes) {
    if (MessageName(static_cast<uint16_t>(t)) == type) return static_cast<uint16_t>(t);
  }
  unsigned value = 0;
  size_t used = 0;
  try {
    value = static_cast<unsigned>(std::stoul(type, &used));
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != type.size() || used == 0 || value > 65535) {
    return InvalidArgument("type: '" + type + "' is neither a message name nor a number");
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

TranscriptEntry EntryOf(const Frame& frame, bool out) {
  TranscriptEntry entry;
  entry.out = out;
  entry.envelope = frame.envelope;
  const std::string_view name = MessageName(frame.envelope.type);
  entry.type = name.empty() ? std::to_string(frame.envelope.type) : std::string(name);
  bool decoded = false;
  VisitMessageType(frame.envelope.type, [&](auto message) {
    if (DecodeFrame(frame, message).ok()) {
      ToJson(message, entry.message);
      decoded = true;
    }
  });
  if (!decoded) entry.payload_hex = Hex(frame.payload);
  return entry;
}

std::string ToJsonLine(const TranscriptEntry& entry) {
  nlohmann::json line;
  line["dir"] = entry.out ? "out" : "in";
  line["seq"] = entry.envelope.seq;
  line["request_id"] = entry.envelope.request_id;
  line["type"] = entry.type;
  if (entry.envelope.version != kProtocolVersion) line["version"] = entry.envelope.version;
  if (entry.payload_hex.empty()) {
    line["message"] = entry.message;
  } else {
    line["payload_hex"] = entry.payload_hex;
  }
  return line.dump();
}

Result<TranscriptEntry> ParseJsonLine(std::string_view text) {
  const nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (line.is_discarded() || !line.is_object()) return InvalidArgument("not a JSON object");
  TranscriptEntry entry;
  std::string error;
  std::string dir;
  if (!json_fields::Field(line, "dir", "dir", dir, error) ||
      !json_fields::Field(line, "seq", "seq", entry.envelope.seq, error) ||
      !json_fields::Field(line, "request_id", "request_id", entry.envelope.request_id, error) ||
      !json_fields::Field(line, "type", "type", entry.type, error)) {
    return InvalidArgument(error);
  }
  if (dir != "in" && dir != "out") return InvalidArgument("dir: '" + dir + "' is not in or out");
  entry.out = dir == "out";
  if (line.contains("version") &&
      !json_fields::Field(line, "version", "version", entry.envelope.version, error)) {
    return InvalidArgument(error);
  }
  AITS_ASSIGN_OR_RETURN(entry.envelope.type, TypeNumber(entry.type));
  if (line.contains("payload_hex")) {
    if (!json_fields::Field(line, "payload_hex", "payload_hex", entry.payload_hex, error)) {
      return InvalidArgument(error);
    }
  } else {
    if (!line.contains("message")) return InvalidArgument("message: missing");
    entry.message = line["message"];
  }
  return entry;
}

Result<std::string> EncodeEntry(const TranscriptEntry& entry) {
  std::string payload;
  if (!entry.payload_hex.empty()) {
    AITS_ASSIGN_OR_RETURN(payload, Unhex(entry.payload_hex));
  } else {
    std::string error;
    bool known = false;
    VisitMessageType(entry.envelope.type, [&](auto message) {
      known = true;
      if (FromJson(entry.message, message, error)) {
        WireWriter writer(payload);
        Encode(message, writer);
      }
    });
    if (!known) return InvalidArgument("type " + entry.type + " has fields but no schema");
    if (!error.empty()) return InvalidArgument(error);
  }
  std::string bytes(kLengthBytes + kEnvelopeBytes, '\0');
  bytes += payload;
  frame_internal::PatchHeader(bytes, 0, entry.envelope.type, entry.envelope.seq,
                              entry.envelope.request_id);
  if (entry.envelope.version != kProtocolVersion) {
    std::memcpy(bytes.data() + kLengthBytes, &entry.envelope.version, 2);
  }
  return bytes;
}

Result<std::vector<TranscriptEntry>> ReadTranscript(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("transcript '" + path + "' cannot be read");
  std::vector<TranscriptEntry> entries;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    auto entry = ParseJsonLine(line);
    if (!entry.ok()) {
      return InvalidArgument(path + ":" + std::to_string(number) + ": " + entry.status().message());
    }
    entries.push_back(std::move(*entry));
  }
  return entries;
}

Result<TranscriptWriter> TranscriptWriter::Open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return IoError("transcript '" + path + "' cannot be opened for writing");
  TranscriptWriter writer;
  writer.file_ = file;
  return writer;
}

TranscriptWriter::~TranscriptWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

TranscriptWriter::TranscriptWriter(TranscriptWriter&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)) {}

TranscriptWriter& TranscriptWriter::operator=(TranscriptWriter&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
  }
  return *this;
}

void TranscriptWriter::Write(const Frame& frame, bool out) {
  if (file_ == nullptr) return;
  const std::string line = ToJsonLine(EntryOf(frame, out)) + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace aits::mt5
