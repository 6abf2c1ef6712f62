#include "aits/bus/stream_backup.h"

#include <nats/nats.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include <unistd.h>

#include "aits/bus/internal/nats_util.h"

namespace aits::bus {
namespace {

using internal::FromNats;
using internal::Millis;
using internal::MsgPtr;

constexpr char kMagic[] = "AITS JetStream stream backup 1";
// The server's default is 256 KiB; 128 KiB stays well inside any max_payload a server is given.
constexpr int kChunkBytes = 128 * 1024;
// A frame longer than this is not one we wrote (the chunks are at most kChunkBytes).
constexpr uint32_t kMaxFrame = 8 * 1024 * 1024;
// How long a backup waits for the next chunk, and a restore for the server to load the archive
// (which it does only after the last chunk, and which takes time for a large stream).
constexpr int64_t kChunkWaitMs = 30'000;
constexpr int64_t kRestoreFinishMs = 300'000;

// JetStream's error codes (nats-server's errors.json) that callers act on.
constexpr int kStreamNotFound = 10059;
constexpr int kStreamNameExists = 10058;

std::string Joined(const std::vector<std::string>& servers) {
  std::string out;
  for (const std::string& s : servers) out += (out.empty() ? "" : ", ") + s;
  return out;
}

struct ConnectionDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
using ConnectionPtr = std::unique_ptr<natsConnection, ConnectionDeleter>;
struct SubscriptionDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
using SubscriptionPtr = std::unique_ptr<natsSubscription, SubscriptionDeleter>;
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// A plain connection (no reconnects: a backup or restore that loses its server fails rather than
// resume a transfer the server has dropped).
Result<ConnectionPtr> Connect(const NatsOptions& nats) {
  if (nats.servers.empty()) return InvalidArgument("nats: no server URL given");
  natsOptions* raw = nullptr;
  if (natsOptions_Create(&raw) != NATS_OK) return Internal("nats: cannot create options");
  const std::unique_ptr<natsOptions, void (*)(natsOptions*)> opts(raw, &natsOptions_Destroy);
  std::vector<const char*> servers;
  for (const std::string& s : nats.servers) servers.push_back(s.c_str());
  natsStatus s = natsOptions_SetServers(raw, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(raw, nats.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(raw, Millis(nats.connect_timeout));
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(raw, false);
  natsConnection* connection = nullptr;
  if (s == NATS_OK) s = natsConnection_Connect(&connection, raw);
  if (s != NATS_OK) {
    const Status status = FromNats(s, "nats: cannot connect to " + Joined(nats.servers));
    return s == NATS_INVALID_ARG || s == NATS_ADDRESS_MISSING ? InvalidArgument(status.message())
                                                              : Unavailable(status.message());
  }
  return ConnectionPtr(connection);
}

// A JetStream API request and its JSON answer; an API error becomes a Status by its code.
Result<nlohmann::json> ApiRequest(natsConnection* connection, const std::string& subject,
                                  const std::string& body, int64_t timeout_ms,
                                  const std::string& what) {
  natsMsg* reply = nullptr;
  const natsStatus s = natsConnection_Request(&reply, connection, subject.c_str(), body.data(),
                                              static_cast<int>(body.size()), timeout_ms);
  if (s != NATS_OK) return FromNats(s, what);
  const MsgPtr owned(reply);
  nlohmann::json answer = nlohmann::json::parse(
      natsMsg_GetData(reply), natsMsg_GetData(reply) + natsMsg_GetDataLength(reply), nullptr,
      /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    return Internal(what + ": the server's answer is not a JSON object");
  }
  if (answer.contains("error") && answer["error"].is_object()) {
    const nlohmann::json& error = answer["error"];
    const int code = error.value("err_code", 0);
    const std::string text = what + ": " + error.value("description", std::string("?")) +
                             " (JetStream error " + std::to_string(code) + ")";
    if (code == kStreamNotFound) return NotFound(text);
    if (code == kStreamNameExists) return FailedPrecondition(text);
    return FailedPrecondition(text);
  }
  return answer;
}

uint64_t U64(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// The description of a stream from its configuration and state as the API gives them.
StreamBackupInfo Describe(const nlohmann::json& config, const nlohmann::json& state) {
  StreamBackupInfo info;
  info.stream = config.value("name", std::string());
  if (const auto it = config.find("subjects"); it != config.end() && it->is_array()) {
    for (const auto& subject : *it) {
      if (subject.is_string()) info.subjects.push_back(subject.get<std::string>());
    }
  }
  info.replicas = config.value("num_replicas", 1);
  info.messages = U64(state, "messages");
  info.first_sequence = info.messages == 0 ? 0 : U64(state, "first_seq");
  info.last_sequence = U64(state, "last_seq");
  info.stream_bytes = U64(state, "bytes");
  info.consumers = U64(state, "consumer_count");
  return info;
}

void PutLe(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
uint64_t GetLe(const unsigned char* in, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | in[i];
  return value;
}

Timestamp WallNow() {
  return Timestamp::FromNanos(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

// An opened backup file: its description (line 2) and where the frames begin.
struct OpenedBackup {
  FilePtr file;
  nlohmann::json header;
  StreamBackupInfo info;
};

// Opens `path`, reads lines 1 and 2, walks the frames to the end marker and the total, and leaves
// the file positioned at the first frame.
Result<OpenedBackup> OpenBackup(const std::string& path) {
  OpenedBackup out;
  out.file.reset(std::fopen(path.c_str(), "rb"));
  if (!out.file) {
    const int error = errno;
    const std::string text = path + ": " + std::strerror(error);
    return error == ENOENT ? NotFound(text) : IoError(text);
  }
  std::FILE* f = out.file.get();
  auto read_line = [f](std::string& line, size_t max) {
    line.clear();
    for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f)) {
      if (c == '\n') return true;
      if (line.size() == max) return false;
      line.push_back(static_cast<char>(c));
    }
    return false;
  };
  std::string line;
  if (!read_line(line, sizeof(kMagic)) || line != kMagic) {
    return DataLoss(path + ": not an AITS JetStream stream backup (its first line is not '" +
                    kMagic + "')");
  }
  if (!read_line(line, 16 * 1024 * 1024)) return DataLoss(path + ": truncated in its description");
  out.header = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (out.header.is_discarded() || !out.header.is_object() || !out.header.contains("config") ||
      !out.header["config"].is_object() || !out.header.contains("state") ||
      !out.header["state"].is_object()) {
    return DataLoss(path + ": its description (line 2) is not the JSON a backup writes");
  }
  out.info = Describe(out.header["config"], out.header["state"]);
  if (out.info.stream.empty()) return DataLoss(path + ": its description names no stream");
  out.info.consumers = out.header.value("consumers_included", true) ? out.info.consumers : 0;
  out.info.taken = Timestamp::FromNanos(out.header.value("taken_ns", int64_t{0}));
  out.info.source = out.header.value("source", std::string());

  const long first_frame = std::ftell(f);
  uint64_t total = 0;
  while (true) {
    std::array<unsigned char, 4> length{};
    if (std::fread(length.data(), 1, length.size(), f) != length.size()) {
      return DataLoss(path + ": truncated after " + std::to_string(total) +
                      " bytes of the snapshot (no end marker: the backup did not finish, or the "
                      "file was cut)");
    }
    const uint64_t n = GetLe(length.data(), 4);
    if (n == 0) break;
    if (n > kMaxFrame) {
      return DataLoss(path + ": a frame of " + std::to_string(n) + " bytes after " +
                      std::to_string(total) + " (corrupt)");
    }
    if (std::fseek(f, static_cast<long>(n), SEEK_CUR) != 0) {
      return IoError(path + ": " + std::strerror(errno));
    }
    total += n;
  }
  std::array<unsigned char, 8> size{};
  if (std::fread(size.data(), 1, size.size(), f) != size.size()) {
    return DataLoss(path + ": truncated after its end marker");
  }
  // fseek past the end succeeds; the recorded total catches a cut inside the last frame.
  const long end = std::ftell(f);
  std::fgetc(f);
  if (GetLe(size.data(), 8) != total || !std::feof(f) ||
      std::filesystem::file_size(path) != static_cast<uintmax_t>(end)) {
    return DataLoss(path + ": its frames hold " + std::to_string(total) +
                    " bytes, its end marker says " + std::to_string(GetLe(size.data(), 8)) +
                    " (truncated or corrupt)");
  }
  out.info.snapshot_bytes = total;
  std::clearerr(f);
  if (std::fseek(f, first_frame, SEEK_SET) != 0) {
    return IoError(path + ": " + std::strerror(errno));
  }
  return out;
}

Status WriteAll(std::FILE* f, const void* data, size_t size, const std::string& path) {
  if (size > 0 && std::fwrite(data, 1, size, f) != size) {
    return IoError(path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

// Receives the snapshot's chunks on `sub` into `f`, acknowledging each (the server's flow
// control), until the empty message that ends them. Returns the bytes received.
Result<uint64_t> ReceiveChunks(natsConnection* connection, natsSubscription* sub, std::FILE* f,
                               const std::string& path, const std::string& what,
                               uint64_t stream_bytes, const BackupOptions& options) {
  uint64_t total = 0;
  while (true) {
    natsMsg* raw = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&raw, sub, kChunkWaitMs);
    if (s == NATS_TIMEOUT) {
      return DeadlineExceeded(what + ": no snapshot data for " +
                              std::to_string(kChunkWaitMs / 1000) + " s after " +
                              std::to_string(total) + " bytes");
    }
    if (s != NATS_OK) return FromNats(s, what + " after " + std::to_string(total) + " bytes");
    const MsgPtr msg(raw);
    const int n = natsMsg_GetDataLength(raw);
    if (n == 0) return total;  // the end of the snapshot
    std::string frame;
    PutLe(frame, static_cast<uint64_t>(n), 4);
    AITS_RETURN_IF_ERROR(WriteAll(f, frame.data(), frame.size(), path));
    AITS_RETURN_IF_ERROR(WriteAll(f, natsMsg_GetData(raw), static_cast<size_t>(n), path));
    total += static_cast<uint64_t>(n);
    const char* reply = natsMsg_GetReply(raw);
    if (reply != nullptr && *reply != '\0') {
      const natsStatus acked = natsConnection_Publish(connection, reply, nullptr, 0);
      if (acked != NATS_OK) return FromNats(acked, what + ": acknowledging a chunk");
    }
    if (options.progress) options.progress(total, stream_bytes);
  }
}

}  // namespace

Result<StreamBackupInfo> BackupStream(const NatsOptions& nats, const std::string& stream,
                                      const std::string& path, const BackupOptions& options) {
  AITS_RETURN_IF_ERROR(ValidateName("stream", stream));
  const std::string what = "backup of stream " + stream + " from " + Joined(nats.servers);
  AITS_ASSIGN_OR_RETURN(ConnectionPtr connection, Connect(nats));

  // The chunks come to an inbox of ours, subscribed before the request: the server waits only
  // briefly for someone to listen. No limit on what may queue there: the server's flow control
  // is loose (it sends on after 10 ms without an acknowledgement), and a chunk dropped as a slow
  // consumer would make a backup with a hole.
  natsInbox* inbox = nullptr;
  if (natsInbox_Create(&inbox) != NATS_OK) return Internal(what + ": cannot make an inbox");
  const std::string deliver = inbox;
  natsInbox_Destroy(inbox);
  natsSubscription* raw_sub = nullptr;
  natsStatus s = natsConnection_SubscribeSync(&raw_sub, connection.get(), deliver.c_str());
  if (s != NATS_OK) return FromNats(s, what + ": subscribing to its inbox");
  const SubscriptionPtr sub(raw_sub);
  s = natsSubscription_SetPendingLimits(raw_sub, -1, -1);
  if (s != NATS_OK) return FromNats(s, what + ": inbox limits");

  const nlohmann::json request = {{"deliver_subject", deliver},
                                  {"no_consumers", !options.consumers},
                                  {"chunk_size", kChunkBytes}};
  AITS_ASSIGN_OR_RETURN(const nlohmann::json answer,
                        ApiRequest(connection.get(), "$JS.API.STREAM.SNAPSHOT." + stream,
                                   request.dump(), Millis(nats.request_timeout), what));
  if (!answer.contains("config") || !answer["config"].is_object() || !answer.contains("state") ||
      !answer["state"].is_object()) {
    return Internal(what + ": the server's answer holds no configuration and state");
  }

  StreamBackupInfo info = Describe(answer["config"], answer["state"]);
  if (!options.consumers) info.consumers = 0;
  info.taken = WallNow();
  info.source = Joined(nats.servers);
  const nlohmann::json header = {{"stream", stream},
                                 {"taken", FormatIso8601(info.taken)},
                                 {"taken_ns", info.taken.ns},
                                 {"source", info.source},
                                 {"consumers_included", options.consumers},
                                 {"config", answer["config"]},
                                 {"state", answer["state"]}};

  // Written beside the target and renamed once whole: a failed backup leaves no FILE behind.
  const std::string partial = path + ".partial";
  FilePtr file(std::fopen(partial.c_str(), "wb"));
  if (!file) return IoError(partial + ": " + std::strerror(errno));
  auto fail = [&partial, &file](const Status& status) {
    file.reset();
    std::remove(partial.c_str());
    return status;
  };
  const std::string head = std::string(kMagic) + "\n" + header.dump() + "\n";
  if (Status w = WriteAll(file.get(), head.data(), head.size(), partial); !w.ok()) return fail(w);
  Result<uint64_t> received = ReceiveChunks(connection.get(), raw_sub, file.get(), partial, what,
                                            info.stream_bytes, options);
  if (!received.ok()) return fail(received.status());
  std::string end;
  PutLe(end, 0, 4);
  PutLe(end, *received, 8);
  if (Status w = WriteAll(file.get(), end.data(), end.size(), partial); !w.ok()) return fail(w);
  if (std::fflush(file.get()) != 0 || ::fsync(::fileno(file.get())) != 0) {
    return fail(IoError(partial + ": " + std::strerror(errno)));
  }
  if (std::fclose(file.release()) != 0) {
    std::remove(partial.c_str());
    return IoError(partial + ": " + std::strerror(errno));
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    const Status status = IoError(path + ": " + std::strerror(errno));
    std::remove(partial.c_str());
    return status;
  }
  info.snapshot_bytes = *received;
  return info;
}

Result<StreamBackupInfo> ReadStreamBackup(const std::string& path) {
  AITS_ASSIGN_OR_RETURN(OpenedBackup opened, OpenBackup(path));
  return opened.info;
}

Result<StreamBackupInfo> RestoreStream(const NatsOptions& nats, const std::string& path,
                                       const RestoreOptions& options) {
  AITS_ASSIGN_OR_RETURN(OpenedBackup opened, OpenBackup(path));
  const StreamBackupInfo& backup = opened.info;
  const std::string what =
      "restore of stream " + backup.stream + " from " + path + " into " + Joined(nats.servers);
  nlohmann::json config = opened.header["config"];
  if (options.replicas) {
    if (*options.replicas < 1 || *options.replicas > 5) {
      return InvalidArgument(what + ": replicas " + std::to_string(*options.replicas) +
                             " (1 to 5)");
    }
    config["num_replicas"] = *options.replicas;
  }
  AITS_ASSIGN_OR_RETURN(ConnectionPtr connection, Connect(nats));
  const nlohmann::json request = {{"config", config}, {"state", opened.header["state"]}};
  AITS_ASSIGN_OR_RETURN(const nlohmann::json answer,
                        ApiRequest(connection.get(), "$JS.API.STREAM.RESTORE." + backup.stream,
                                   request.dump(), Millis(nats.request_timeout), what));
  const std::string deliver = answer.value("deliver_subject", std::string());
  if (deliver.empty()) return Internal(what + ": the server's answer names no deliver subject");

  // One chunk at a time, each a request the server answers once it has stored it (an empty
  // answer; an error is text): the flow control.
  std::string chunk;
  uint64_t sent = 0;
  while (true) {
    std::array<unsigned char, 4> length{};
    if (std::fread(length.data(), 1, length.size(), opened.file.get()) != length.size()) {
      return IoError(path + ": read failed after " + std::to_string(sent) + " bytes");
    }
    const uint64_t n = GetLe(length.data(), 4);
    if (n == 0) break;
    chunk.resize(n);
    if (std::fread(chunk.data(), 1, n, opened.file.get()) != n) {
      return IoError(path + ": read failed after " + std::to_string(sent) + " bytes");
    }
    natsMsg* reply = nullptr;
    const natsStatus s =
        natsConnection_Request(&reply, connection.get(), deliver.c_str(), chunk.data(),
                               static_cast<int>(n), Millis(nats.request_timeout));
    if (s != NATS_OK) return FromNats(s, what + ": sending at byte " + std::to_string(sent));
    const MsgPtr owned(reply);
    if (natsMsg_GetDataLength(reply) > 0) {
      return FailedPrecondition(
          what + ": the server refused the chunk at byte " + std::to_string(sent) + ": " +
          std::string(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply))));
    }
    sent += n;
    if (options.progress) options.progress(sent, backup.snapshot_bytes);
  }
  // The empty message ends the transfer; the answer to it comes once the server has loaded the
  // archive: the stream's info, or why it could not.
  AITS_ASSIGN_OR_RETURN(const nlohmann::json done,
                        ApiRequest(connection.get(), deliver, "", kRestoreFinishMs, what));
  if (!done.contains("config") || !done.contains("state")) {
    return Internal(what + ": the server's final answer holds no stream");
  }
  StreamBackupInfo restored = Describe(done["config"], done["state"]);
  restored.snapshot_bytes = sent;
  restored.taken = backup.taken;
  restored.source = backup.source;
  if (restored.messages != backup.messages || restored.first_sequence != backup.first_sequence ||
      restored.last_sequence != backup.last_sequence) {
    return DataLoss(
        what + ": the server holds " + std::to_string(restored.messages) + " messages " +
        std::to_string(restored.first_sequence) + ".." + std::to_string(restored.last_sequence) +
        ", the backup recorded " + std::to_string(backup.messages) + " messages " +
        std::to_string(backup.first_sequence) + ".." + std::to_string(backup.last_sequence));
  }
  return restored;
}

Result<std::vector<ConsumerPosition>> ListConsumers(const NatsOptions& nats,
                                                    const std::string& stream) {
  AITS_RETURN_IF_ERROR(ValidateName("stream", stream));
  const std::string what = "consumers of stream " + stream + " on " + Joined(nats.servers);
  AITS_ASSIGN_OR_RETURN(ConnectionPtr connection, Connect(nats));
  std::vector<ConsumerPosition> out;
  uint64_t listed = 0;
  // The API answers a page at a time (256 in nats-server 2.9): ask from where the last ended.
  while (true) {
    const nlohmann::json request = {{"offset", listed}};
    AITS_ASSIGN_OR_RETURN(const nlohmann::json answer,
                          ApiRequest(connection.get(), "$JS.API.CONSUMER.LIST." + stream,
                                     request.dump(), Millis(nats.request_timeout), what));
    const auto consumers = answer.find("consumers");
    if (consumers == answer.end() || !consumers->is_array() || consumers->empty()) break;
    for (const nlohmann::json& c : *consumers) {
      // Ephemeral consumers (another reader's, for now) are listed too; only durables last.
      const auto config = c.find("config");
      if (config == c.end() || !config->contains("durable_name")) continue;
      ConsumerPosition p;
      p.name = c.value("name", std::string());
      if (const auto d = c.find("delivered"); d != c.end()) p.delivered = U64(*d, "stream_seq");
      if (const auto a = c.find("ack_floor"); a != c.end()) p.ack_floor = U64(*a, "stream_seq");
      p.pending = U64(c, "num_pending");
      p.ack_pending = U64(c, "num_ack_pending");
      out.push_back(std::move(p));
    }
    listed += consumers->size();
    if (listed >= U64(answer, "total")) break;
  }
  std::sort(out.begin(), out.end(),
            [](const ConsumerPosition& a, const ConsumerPosition& b) { return a.name < b.name; });
  return out;
}

}  // namespace aits::bus
