// Backup and restore of one JetStream stream through the server's own snapshot API
// ($JS.API.STREAM.SNAPSHOT.<stream>, $JS.API.STREAM.RESTORE.<stream>; docs/deployment.md,
// "Backups"). A snapshot is the stream's store as the server keeps it — every message with its
// sequence, subject, headers (the publish ids) and time, the stream's first and last sequence, and
// the durable consumers with what they have delivered and what was acknowledged — as the server's
// compressed archive, which this code stores without looking inside. Restored, the stream is the
// same: the same messages under the same sequences, its duplicate window rebuilt from the ids (a
// retried publish is still stored once), and each durable consumer resuming where it was.
//
// The backup file is ours (nothing else reads it):
//   line 1   "AITS JetStream stream backup 1"
//   line 2   one JSON object: the stream's name, when and from which servers the backup was taken,
//            and the stream's configuration and state as the snapshot API answered them
//   then     frames: a 4-byte little-endian length and that many bytes of the snapshot; a frame
//            of length 0 ends them, followed by the snapshot's total size (8 bytes, little
//            endian), and then the file ends.
// A backup is written to FILE.partial and renamed to FILE once complete, so FILE is never a
// backup cut short; a restore reads the whole file's framing before it sends anything, so a
// truncated or foreign file is refused (DataLoss naming it) without touching the server. The
// archive's own checksums are the server's to verify: a damaged frame fails the restore there.
//
// Errors name the stream, the file and the servers: NotFound for a stream that does not exist
// (backup) or a file that does not (restore); FailedPrecondition for a restore onto a stream that
// exists; DataLoss for a file that is not a whole backup; IoError for a file that cannot be
// written or read; Unavailable / DeadlineExceeded when the server cannot be reached or stops
// answering mid-way (a backup is then not written; a restore leaves no stream, the server
// dropping a restore that stalls for 5 s).
//
// Each call opens a connection of its own and closes it. Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::bus {

// What a backup file says of itself (its line 2), or what a restore made.
struct StreamBackupInfo {
  std::string stream;
  std::vector<std::string> subjects;
  uint64_t messages = 0;
  uint64_t first_sequence = 0;  // 0 while empty
  uint64_t last_sequence = 0;
  uint64_t stream_bytes = 0;    // the messages' size in the server's store
  uint64_t consumers = 0;       // consumers in the backup (0 when left out)
  uint64_t snapshot_bytes = 0;  // the archive's size in the file (compressed)
  int replicas = 1;
  Timestamp taken{};
  std::string source;  // the servers the backup was taken from, as they were named
};

struct BackupOptions {
  bool consumers = true;  // false: the stream's messages only, its consumers left out
  // Called as the archive arrives with the bytes received so far and the stream's size in the
  // server's store (the archive, compressed, is usually smaller: an estimate of the total), after
  // each frame; may be empty.
  std::function<void(uint64_t received, uint64_t stream_bytes)> progress;
};

struct RestoreOptions {
  // Restore with this number of replicas instead of the backup's (a three-server cluster's
  // stream into a single server, say); unset: the backup's.
  std::optional<int> replicas;
  // Called after each frame sent with the bytes sent and the archive's size; may be empty.
  std::function<void(uint64_t sent, uint64_t total)> progress;
};

// Snapshots `stream` into `path` (see above). The stream may be written to meanwhile: the
// snapshot holds what was stored when the server began it.
Result<StreamBackupInfo> BackupStream(const NatsOptions& nats, const std::string& stream,
                                      const std::string& path, const BackupOptions& options = {});

// Reads a backup file's description and checks its framing to the end (no server needed).
Result<StreamBackupInfo> ReadStreamBackup(const std::string& path);

// Restores the stream of `path` into the server, under its own name (which must not exist
// there). Returns the restored stream as the server reports it; DataLoss if it does not hold the
// messages and sequences the backup recorded.
Result<StreamBackupInfo> RestoreStream(const NatsOptions& nats, const std::string& path,
                                       const RestoreOptions& options = {});

// The durable consumers of `stream` and their positions, by name.
// Every durable consumer's position (message_bus.h's ConsumerPosition, with its name, pending and
// ack_pending).
Result<std::vector<ConsumerPosition>> ListConsumers(const NatsOptions& nats,
                                                    const std::string& stream);

}  // namespace aits::bus
