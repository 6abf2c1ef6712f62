// Transcripts of an MT5 link: every frame sent or received, one JSON object per line,
//   {"dir":"out","seq":3,"request_id":7,"type":"place_order","message":{...fields...}}
// ("dir" is the recording side's view: "out" it sent, "in" it received). A link records to one
// when asked (Link::Record, `aits gateway --record FILE` style flags), and tests replay golden
// transcripts: the frames one side sent are fed to the other, whose answers must equal the
// recorded ones (docs/metatrader.md, "Golden transcripts").
//
// A frame whose type or fields cannot be decoded is recorded with its type number and its bytes
// in hex ("payload_hex"), so a transcript of a broken exchange still shows what came.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/status.h"
#include "aits/mt5/frame.h"

namespace aits::mt5 {

struct TranscriptEntry {
  bool out = false;
  Envelope envelope;
  std::string type;         // the schema's name, or the number for an unknown type
  nlohmann::json message;   // the fields (an object), or null for an undecodable frame
  std::string payload_hex;  // an undecodable frame's bytes
};

// The entry for one frame (its fields decoded to JSON when the type is known and they decode).
TranscriptEntry EntryOf(const Frame& frame, bool out);
std::string ToJsonLine(const TranscriptEntry& entry);
// InvalidArgument naming what is wrong ("seq: missing", "place_order.volume: not a number").
Result<TranscriptEntry> ParseJsonLine(std::string_view line);
// The entry's frame as bytes on the wire (length, envelope, fields), as its sender wrote it.
Result<std::string> EncodeEntry(const TranscriptEntry& entry);

// Reads a whole transcript file; errors name the file and line.
Result<std::vector<TranscriptEntry>> ReadTranscript(const std::string& path);

// Appends entries to a file as they happen, flushed per line (a crash keeps what was written).
class TranscriptWriter {
 public:
  static Result<TranscriptWriter> Open(const std::string& path);
  TranscriptWriter() = default;
  ~TranscriptWriter();
  TranscriptWriter(TranscriptWriter&& other) noexcept;
  TranscriptWriter& operator=(TranscriptWriter&& other) noexcept;
  TranscriptWriter(const TranscriptWriter&) = delete;
  TranscriptWriter& operator=(const TranscriptWriter&) = delete;

  void Write(const Frame& frame, bool out);

 private:
  std::FILE* file_ = nullptr;
};

}  // namespace aits::mt5
