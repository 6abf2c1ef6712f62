#include "bus_command.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/bus/nats_bus.h"
#include "aits/bus/stream_backup.h"
#include "cli.h"
#include "progress.h"

namespace aits::app {
namespace {

struct BusFlags {
  std::string bus = "nats://127.0.0.1:4222";
  bool quiet = false;
  bool json = false;
  bool no_progress = false;
};

bus::NatsOptions Options(const BusFlags& flags) {
  bus::NatsOptions options;
  options.servers = bus::NatsServers(flags.bus);
  options.name = "aits bus";
  return options;
}

void AddCommonFlags(CLI::App& cmd, BusFlags& flags, bool progress) {
  cmd.add_option("--bus", flags.bus, "nats://HOST:PORT[,nats://...]")->capture_default_str();
  cmd.add_flag("--quiet", flags.quiet, "Print nothing but errors");
  cmd.add_flag("--json", flags.json, "Print the outcome as JSON");
  if (progress) cmd.add_flag("--no-progress", flags.no_progress, "Do not draw a progress bar");
}

nlohmann::ordered_json InfoJson(const bus::StreamBackupInfo& info) {
  return {{"stream", info.stream},
          {"subjects", info.subjects},
          {"messages", info.messages},
          {"first_sequence", info.first_sequence},
          {"last_sequence", info.last_sequence},
          {"stream_bytes", info.stream_bytes},
          {"consumers", info.consumers},
          {"snapshot_bytes", info.snapshot_bytes},
          {"replicas", info.replicas},
          {"taken", FormatIso8601(info.taken)},
          {"source", info.source}};
}

std::string Range(const bus::StreamBackupInfo& info) {
  return info.messages == 0
             ? std::string("empty")
             : std::to_string(info.messages) + " messages, sequences " +
                   std::to_string(info.first_sequence) + ".." + std::to_string(info.last_sequence);
}

std::string Kib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  return buf;
}

// The payload as text when it is printable ASCII, hex otherwise (the services' envelopes are
// protobuf).
bool Printable(const std::string& payload) {
  return std::all_of(payload.begin(), payload.end(),
                     [](char c) { return c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f); });
}
std::string Hex(const std::string& payload) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(payload.size() * 2);
  for (const char c : payload) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

int RunBackup(const BusFlags& flags, const std::string& stream, const std::string& out,
              bool no_consumers) {
  ProgressBar bar("backup " + stream, "KiB", !flags.quiet && !flags.json && !flags.no_progress);
  bus::BackupOptions options;
  options.consumers = !no_consumers;
  // The archive is compressed: its share of the stream's stored size is an estimate, held below
  // 100 % until the end.
  options.progress = [&bar](uint64_t received, uint64_t stream_bytes) {
    const double share =
        stream_bytes == 0 ? 0.0 : static_cast<double>(received) / static_cast<double>(stream_bytes);
    bar.Update(std::min(share, 0.99), received / 1024);
  };
  auto info = bus::BackupStream(Options(flags), stream, out, options);
  bar.Finish();
  if (!info.ok()) return Fail(info.status());
  if (flags.json) {
    nlohmann::ordered_json j = InfoJson(*info);
    j["file"] = out;
    std::printf("%s\n", j.dump(2).c_str());
  } else if (!flags.quiet) {
    std::printf("backed up stream %s (%s, %llu consumers) into %s: %s\n", info->stream.c_str(),
                Range(*info).c_str(), static_cast<unsigned long long>(info->consumers), out.c_str(),
                Kib(info->snapshot_bytes).c_str());
  }
  return 0;
}

int PrintConsumers(const BusFlags& flags, const std::string& stream, nlohmann::ordered_json* j) {
  auto consumers = bus::ListConsumers(Options(flags), stream);
  if (!consumers.ok()) return Fail(consumers.status());
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const bus::ConsumerPosition& c : *consumers) {
    list.push_back({{"name", c.name},
                    {"delivered", c.delivered},
                    {"ack_floor", c.ack_floor},
                    {"pending", c.pending},
                    {"ack_pending", c.ack_pending}});
    if (!flags.json && !flags.quiet) {
      std::printf("  consumer %s: acknowledged up to %llu, delivered up to %llu, %llu pending\n",
                  c.name.c_str(), static_cast<unsigned long long>(c.ack_floor),
                  static_cast<unsigned long long>(c.delivered),
                  static_cast<unsigned long long>(c.pending));
    }
  }
  if (j != nullptr) (*j)["durable_consumers"] = list;
  return 0;
}

int RunRestore(const BusFlags& flags, const std::string& file, std::optional<int> replicas) {
  auto described = bus::ReadStreamBackup(file);
  if (!described.ok()) return Fail(described.status());
  ProgressBar bar("restore " + described->stream, "KiB",
                  !flags.quiet && !flags.json && !flags.no_progress);
  bus::RestoreOptions options;
  options.replicas = replicas;
  options.progress = [&bar](uint64_t sent, uint64_t total) {
    bar.Update(total == 0 ? 1.0 : static_cast<double>(sent) / static_cast<double>(total),
               sent / 1024);
  };
  auto info = bus::RestoreStream(Options(flags), file, options);
  bar.Finish();
  if (!info.ok()) return Fail(info.status());
  nlohmann::ordered_json j = InfoJson(*info);
  j["file"] = file;
  if (!flags.json && !flags.quiet) {
    std::printf("restored stream %s (%s) from %s (taken %s)\n", info->stream.c_str(),
                Range(*info).c_str(), file.c_str(), FormatIso8601(info->taken).c_str());
  }
  if (const int code = PrintConsumers(flags, info->stream, &j); code != 0) return code;
  if (flags.json) std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

int RunInspect(const BusFlags& flags, const std::string& file) {
  auto info = bus::ReadStreamBackup(file);
  if (!info.ok()) return Fail(info.status());
  if (flags.json) {
    nlohmann::ordered_json j = InfoJson(*info);
    j["file"] = file;
    std::printf("%s\n", j.dump(2).c_str());
  } else if (!flags.quiet) {
    std::string subjects;
    for (const std::string& s : info->subjects) subjects += (subjects.empty() ? "" : ",") + s;
    std::printf(
        "%s: stream %s (%s), subjects %s, %d replicas, %llu consumers, taken %s from %s, "
        "%s\n",
        file.c_str(), info->stream.c_str(), Range(*info).c_str(), subjects.c_str(), info->replicas,
        static_cast<unsigned long long>(info->consumers), FormatIso8601(info->taken).c_str(),
        info->source.c_str(), Kib(info->snapshot_bytes).c_str());
  }
  return 0;
}

int RunInfo(const BusFlags& flags, const std::vector<std::string>& streams) {
  auto connected = bus::ConnectNats(Options(flags));
  if (!connected.ok()) return Fail(connected.status().WithContext("--bus"));
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const std::string& name : streams) {
    auto state = (*connected)->GetStream(name);
    if (!state.ok()) return Fail(state.status());
    nlohmann::ordered_json j = {{"stream", name},
                                {"messages", state->messages},
                                {"first_sequence", state->first_sequence},
                                {"last_sequence", state->last_sequence}};
    if (!flags.json && !flags.quiet) {
      std::printf("stream %s: %llu messages, sequences %llu..%llu\n", name.c_str(),
                  static_cast<unsigned long long>(state->messages),
                  static_cast<unsigned long long>(state->first_sequence),
                  static_cast<unsigned long long>(state->last_sequence));
    }
    if (const int code = PrintConsumers(flags, name, &j); code != 0) return code;
    all.push_back(std::move(j));
  }
  if (flags.json) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

int RunPublish(const BusFlags& flags, const std::string& stream, const std::string& subject,
               const std::string& id, const std::string& data) {
  auto connected = bus::ConnectNats(Options(flags));
  if (!connected.ok()) return Fail(connected.status().WithContext("--bus"));
  bus::MessageBus& bus = **connected;
  if (!stream.empty()) {
    // Made if missing, on the subject alone; an existing stream must already store it.
    auto existing = bus.GetStream(stream);
    if (existing.status().code() == StatusCode::kNotFound) {
      bus::StreamConfig config;
      config.name = stream;
      config.subjects = {subject};
      if (Status added = bus.AddStream(config); !added.ok()) return Fail(added);
    } else if (!existing.ok()) {
      return Fail(existing.status());
    }
  }
  auto ack = bus.Publish(subject, id, data);
  if (!ack.ok()) return Fail(ack.status());
  if (flags.json) {
    const nlohmann::ordered_json j = {{"subject", subject},
                                      {"id", id},
                                      {"sequence", ack->sequence},
                                      {"duplicate", ack->duplicate}};
    std::printf("%s\n", j.dump(2).c_str());
  } else if (!flags.quiet) {
    std::printf("stored as sequence %llu%s\n", static_cast<unsigned long long>(ack->sequence),
                ack->duplicate ? " (a duplicate of its id: stored before)" : "");
  }
  return 0;
}

int RunRead(const BusFlags& flags, const std::string& stream, const std::string& durable,
            uint64_t from, int count) {
  if (count < 1) return Fail(InvalidArgument("--count must be at least 1"));
  auto connected = bus::ConnectNats(Options(flags));
  if (!connected.ok()) return Fail(connected.status().WithContext("--bus"));
  bus::ConsumerConfig config;
  config.stream = stream;
  config.durable = durable;
  config.start = from == 0 ? bus::StartAt::kFirst : bus::StartAt::kSequence;
  config.start_sequence = from;
  config.ack_all = true;
  auto consumer = (*connected)->Consume(config);
  if (!consumer.ok()) return Fail(consumer.status());
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  int read = 0;
  while (read < count) {
    auto batch = (*consumer)->Fetch(std::min(count - read, 256), Duration::Seconds(1));
    if (!batch.ok()) return Fail(batch.status());
    if (batch->empty()) break;  // nothing more stored
    for (const bus::Delivery& d : *batch) {
      const bool text = Printable(d.payload);
      if (flags.json) {
        nlohmann::ordered_json j = {{"sequence", d.sequence},
                                    {"subject", d.subject},
                                    {"id", d.id},
                                    {"stored", FormatIso8601(d.stored)}};
        j[text ? "payload" : "payload_hex"] = text ? d.payload : Hex(d.payload);
        all.push_back(std::move(j));
      } else if (!flags.quiet) {
        std::printf("%llu %s %s %s %s\n", static_cast<unsigned long long>(d.sequence),
                    d.subject.c_str(), d.id.empty() ? "-" : d.id.c_str(),
                    FormatIso8601(d.stored).c_str(),
                    text ? d.payload.c_str()
                         : ("(" + std::to_string(d.payload.size()) + " bytes, binary)").c_str());
      }
    }
    read += static_cast<int>(batch->size());
    if (Status acked = (*consumer)->Ack(batch->back().sequence); !acked.ok()) return Fail(acked);
    if (batch->back().pending == 0) break;  // the stream's last, for now
  }
  if (flags.json) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

}  // namespace

void AddBusCommand(CLI::App& app) {
  CLI::App* bus = app.add_subcommand(
      "bus",
      "The NATS JetStream streams of the services: back a stream up and restore it, describe a\n"
      "backup, show streams and their durable consumers, publish and read a message.\n"
      "Example: aits bus backup --bus nats://nats:4222 --stream MARKET --out market.jsbak");
  bus->require_subcommand(1);

  auto flags = std::make_shared<BusFlags>();

  auto stream = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto no_consumers = std::make_shared<bool>(false);
  CLI::App* backup = bus->add_subcommand(
      "backup",
      "Back a stream up into a file through JetStream's snapshot API: every message under its\n"
      "sequence, and the durable consumers' positions. The file is written whole or not at all.");
  AddCommonFlags(*backup, *flags, /*progress=*/true);
  backup->add_option("--stream", *stream, "The stream")->required();
  backup->add_option("--out", *out, "The backup file to write")->required();
  backup->add_flag("--no-consumers", *no_consumers, "Leave the durable consumers out");
  backup->callback([flags, stream, out, no_consumers] {
    ExitOnFailure(RunBackup(*flags, *stream, *out, *no_consumers));
  });

  auto file = std::make_shared<std::string>();
  auto replicas = std::make_shared<std::optional<int>>();
  CLI::App* restore = bus->add_subcommand(
      "restore",
      "Restore a stream from a backup file into a server that does not have it: the same\n"
      "messages under the same sequences, its durable consumers where they were.");
  AddCommonFlags(*restore, *flags, /*progress=*/true);
  restore->add_option("FILE", *file, "The backup file")->required();
  restore->add_option("--replicas", *replicas,
                      "Copies of the stream in a cluster (default: the backup's)");
  restore->callback(
      [flags, file, replicas] { ExitOnFailure(RunRestore(*flags, *file, *replicas)); });

  CLI::App* inspect =
      bus->add_subcommand("inspect", "Describe a backup file and check it is whole (no server).");
  inspect->add_option("FILE", *file, "The backup file")->required();
  inspect->add_flag("--quiet", flags->quiet, "Print nothing but errors");
  inspect->add_flag("--json", flags->json, "Print the description as JSON");
  inspect->callback([flags, file] { ExitOnFailure(RunInspect(*flags, *file)); });

  auto streams = std::make_shared<std::vector<std::string>>();
  CLI::App* info = bus->add_subcommand("info",
                                       "The state of streams and their durable consumers.\n"
                                       "Example: aits bus info MARKET DECISIONS");
  AddCommonFlags(*info, *flags, /*progress=*/false);
  info->add_option("STREAM", *streams, "Streams")->required();
  info->callback([flags, streams] { ExitOnFailure(RunInfo(*flags, *streams)); });

  auto subject = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  CLI::App* publish = bus->add_subcommand(
      "publish", "Publish one message to a stream and print the sequence it was stored under.");
  AddCommonFlags(*publish, *flags, /*progress=*/false);
  publish->add_option("--subject", *subject, "The subject")->required();
  publish->add_option("--id", *id, "Its publish id (stored once within the duplicate window)");
  publish->add_option("--stream", *stream, "Make this stream on the subject if it does not exist");
  publish->add_option("DATA", *data, "The payload")->required();
  publish->callback([flags, stream, subject, id, data] {
    ExitOnFailure(RunPublish(*flags, *stream, *subject, *id, *data));
  });

  auto durable = std::make_shared<std::string>();
  auto from = std::make_shared<uint64_t>(0);
  auto count = std::make_shared<int>(10);
  CLI::App* read = bus->add_subcommand(
      "read",
      "Print a stream's messages from a sequence; with --durable, as that durable consumer\n"
      "(made if missing), acknowledging what it printed, so that the next read resumes after it.");
  AddCommonFlags(*read, *flags, /*progress=*/false);
  read->add_option("--stream", *stream, "The stream")->required();
  read->add_option("--durable", *durable, "Read as this durable consumer");
  read->add_option("--from", *from,
                   "The first sequence (default: the stream's first; a durable consumer's only "
                   "when it is made)");
  read->add_option("--count", *count, "At most this many messages")->capture_default_str();
  read->callback([flags, stream, durable, from, count] {
    ExitOnFailure(RunRead(*flags, *stream, *durable, *from, *count));
  });
}

}  // namespace aits::app
