#include "ingest_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "aits/feed/ingest_store.h"
#include "aits/feed/tcp_uplink.h"
#include "aits/net/socket.h"
#include "cli.h"

namespace aits::app {
namespace {

struct IngestFlags {
  std::string listen = "127.0.0.1:5758";
  std::string out;
  std::string format = "bin";
  bool sync = false;
  bool quiet = false;
  bool json = false;
  bool no_progress = false;
};

int RunIngest(const IngestFlags& flags) {
  auto endpoint = net::ParseEndpoint(flags.listen);
  if (!endpoint.ok()) return Fail(endpoint.status().WithContext("--listen"));
  if (flags.format != "bin" && flags.format != "csv") {
    return Fail(InvalidArgument("--format '" + flags.format + "': expected bin or csv"));
  }
  const feed::IngestFormat format =
      flags.format == "bin" ? feed::IngestFormat::kBinary : feed::IngestFormat::kCsv;
  auto opened = feed::IngestStore::Open(flags.out, format, flags.sync);
  if (!opened.ok()) return Fail(opened.status().WithContext("--out"));
  feed::IngestStore& store = **opened;
  auto listened = feed::TcpBatchServer::Listen(*endpoint);
  if (!listened.ok()) return Fail(listened.status().WithContext("--listen"));
  feed::TcpBatchServer& server = **listened;

  const bool quiet = flags.quiet || flags.json;
  if (!quiet) {
    std::fprintf(stderr,
                 "aits ingest: listening on %s:%u for collectors; %s files in %s "
                 "(Ctrl-C stops; run again to continue)\n",
                 endpoint->host.c_str(), server.port(), flags.format.c_str(), flags.out.c_str());
  }
  std::optional<StopSignals> signals(std::in_place);
  const auto commit = [&](std::span<const feed::SequencedTick> ticks) {
    return store.Commit(ticks,
                        [&](uint32_t id) -> const std::string& { return server.symbol_name(id); });
  };
  const bool progress = !quiet && !flags.no_progress && isatty(STDERR_FILENO) != 0;
  uint64_t shown_refusals = 0;
  Status failed;
  auto last_line = std::chrono::steady_clock::now();
  while (!StopSignals::stopped()) {
    failed = server.Poll(std::chrono::milliseconds(200), commit);
    // A failed commit leaves the receiver's keys and the store's memory ahead of the files: stop,
    // and let the next run start from ingest.state (the collector keeps the batch meanwhile).
    if (!failed.ok()) break;
    if (store.stats().refused > shown_refusals && !quiet) {
      std::fprintf(stderr, "aits ingest: refused ticks of %s\n",
                   store.stats().last_refusal.c_str());
    }
    shown_refusals = store.stats().refused;
    const auto now = std::chrono::steady_clock::now();
    if (progress && now - last_line >= std::chrono::seconds(1)) {
      last_line = now;
      std::fprintf(stderr, "\ringest: %llu batches, %llu ticks stored, %llu duplicates ",
                   static_cast<unsigned long long>(server.receiver_stats().batches),
                   static_cast<unsigned long long>(store.stats().stored),
                   static_cast<unsigned long long>(server.receiver_stats().duplicates +
                                                   store.stats().stale));
    }
  }
  signals.reset();
  if (progress) std::fprintf(stderr, "\n");
  if (!failed.ok()) return Fail(failed.WithContext("aits ingest"));

  const feed::ReceiverStats& received = server.receiver_stats();
  const feed::TcpBatchServerStats& served = server.stats();
  const feed::IngestStats& stored = store.stats();
  if (flags.json) {
    nlohmann::ordered_json symbols = nlohmann::ordered_json::array();
    for (const feed::IngestSymbolStats& s : store.symbol_stats()) {
      symbols.push_back({{"symbol", s.symbol},
                         {"stored", s.stored},
                         {"stale", s.stale},
                         {"records", s.records},
                         {"file", store.path_of(s.symbol)}});
    }
    nlohmann::ordered_json out = {{"connections", served.connections},
                                  {"batches", received.batches},
                                  {"bad_batches", received.bad_batches},
                                  {"bad_frames", served.bad_frames},
                                  {"ticks_received", received.ticks},
                                  {"duplicates", received.duplicates},
                                  {"stale", stored.stale},
                                  {"stored", stored.stored},
                                  {"refused", stored.refused},
                                  {"last_error", served.last_error},
                                  {"symbols", std::move(symbols)}};
    std::printf("%s\n", out.dump(2).c_str());
  } else if (!flags.quiet) {
    std::printf(
        "ingest: %llu connections, %llu batches (%llu refused, %llu bad frames), %llu ticks "
        "stored, %llu duplicates dropped (%llu in memory, %llu already in the files), %llu "
        "refused\n",
        static_cast<unsigned long long>(served.connections),
        static_cast<unsigned long long>(received.batches),
        static_cast<unsigned long long>(received.bad_batches),
        static_cast<unsigned long long>(served.bad_frames),
        static_cast<unsigned long long>(stored.stored),
        static_cast<unsigned long long>(received.duplicates + stored.stale),
        static_cast<unsigned long long>(received.duplicates),
        static_cast<unsigned long long>(stored.stale),
        static_cast<unsigned long long>(stored.refused));
    for (const feed::IngestSymbolStats& s : store.symbol_stats()) {
      std::printf("  %-12s %llu stored, %llu already stored, %llu in %s\n", s.symbol.c_str(),
                  static_cast<unsigned long long>(s.stored),
                  static_cast<unsigned long long>(s.stale),
                  static_cast<unsigned long long>(s.records), store.path_of(s.symbol).c_str());
    }
  }
  return 0;
}

}  // namespace

void AddIngestCommand(CLI::App& app) {
  auto flags = std::make_shared<IngestFlags>();
  CLI::App* cmd = app.add_subcommand(
      "ingest",
      "Receive the ticks of `aits collect` processes and append each symbol's to a file in a\n"
      "directory, each tick once, even when a collector resends after an outage or this server\n"
      "was restarted (docs/feed.md, \"aits collect and aits ingest\").\n"
      "Example: aits ingest --listen 127.0.0.1:5758 --out ticks/");
  cmd->add_option("--listen", flags->listen, "Where collectors connect, HOST:PORT")
      ->capture_default_str();
  cmd->add_option("--out", flags->out, "The directory of the files (SYMBOL.bin or SYMBOL.csv)")
      ->required();
  cmd->add_option("--format", flags->format,
                  "bin (the binary tick store aits backtest reads) or csv (csv-ticks)")
      ->capture_default_str();
  cmd->add_flag("--sync", flags->sync,
                "fdatasync every batch before acknowledging it (survives a crash of the machine, "
                "not only of the process)");
  cmd->add_flag("--quiet", flags->quiet, "Print nothing but errors");
  cmd->add_flag("--json", flags->json, "Print the summary as JSON");
  cmd->add_flag("--no-progress", flags->no_progress, "No progress line");
  cmd->callback([flags] { ExitOnFailure(RunIngest(*flags)); });
}

}  // namespace aits::app
