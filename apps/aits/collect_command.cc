#include "collect_command.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/feed/collector.h"
#include "aits/feed/tcp_uplink.h"
#include "aits/gateway/gateway.h"
#include "aits/model/instrument_catalogue.h"
#include "aits/net/socket.h"
#include "aits/node/inbox.h"
#include "cli.h"
#include "mt5_flags.h"

namespace aits::app {
namespace {

struct CollectFlags {
  std::vector<std::string> symbols;
  std::string listen = "127.0.0.1:5757";
  std::string token_file;
  std::vector<std::string> mt5_names;
  std::string instruments;
  std::string server;
  std::string spill;
  double drain_seconds = 10;
  bool quiet = false;
  bool json = false;
};

// The collector's quote for a gateway tick: the trade server's time of the quote (time_msc) when
// the terminal gave one, so that the stored history is the market's, not this machine's arrival
// times; MT5 reports one volume per tick.
feed::Quote QuoteOf(const node::MarketData& data, const std::string& symbol) {
  feed::Quote quote;
  quote.symbol = symbol;
  quote.time =
      data.source_msc != 0 ? Timestamp{0} + Duration::Millis(data.source_msc) : data.tick.ts;
  quote.bid = data.tick.bid.AsDouble();
  quote.ask = data.tick.ask.AsDouble();
  quote.volume = static_cast<double>(data.tick.bid_volume);
  return quote;
}

int RunCollect(const CollectFlags& flags) {
  const bool quiet = flags.quiet || flags.json;
  auto symbols = SymbolList(flags.symbols);
  if (!symbols.ok()) return Fail(symbols.status());
  auto token = ReadToken(flags.token_file);
  if (!token.ok()) return Fail(token.status());
  auto listen = net::ParseEndpoint(flags.listen);
  if (!listen.ok()) return Fail(listen.status().WithContext("--listen"));
  auto server = net::ParseEndpoint(flags.server);
  if (!server.ok()) return Fail(server.status().WithContext("--server"));
  auto names = ParseNames(flags.mt5_names);
  if (!names.ok()) return Fail(names.status());
  if (!(flags.drain_seconds >= 0)) {
    return Fail(InvalidArgument("--drain must be zero or a positive number of seconds"));
  }
  auto catalogue = InstrumentCatalogue::BuiltInWith(flags.instruments);
  if (!catalogue.ok()) return Fail(catalogue.status());

  gateway::GatewayConfig config;
  config.host = listen->host;
  config.port = listen->port;
  config.token = *token;
  config.mt5_names = *names;
  feed::CollectorOptions options;
  for (const std::string& symbol : *symbols) {
    const CatalogueEntry* entry = catalogue->Find(symbol);
    if (entry == nullptr) {
      return Fail(InvalidArgument("--symbol " + symbol +
                                  " is not in the instrument catalogue (add it with "
                                  "--instruments FILE; docs/instruments.md)"));
    }
    Instrument instrument = entry->instrument;
    instrument.id = InstrumentId{static_cast<uint32_t>(config.instruments.size())};
    config.instruments.push_back(instrument);
    options.symbols.push_back({instrument.symbol, instrument.digits});
  }
  options.spill_path = flags.spill;

  const WallClock clock;
  feed::TcpUplink uplink({.server = *server});
  auto opened = feed::Collector::Open(options, uplink, clock);
  if (!opened.ok()) return Fail(opened.status().WithContext("--spill"));
  feed::Collector& collector = **opened;
  const feed::SpillRecovery recovered = collector.stats().recovery;
  auto created = gateway::Gateway::Create(config);
  if (!created.ok()) return Fail(created.status());
  gateway::Gateway& gw = **created;
  node::Inbox<node::NodeEvent> inbox(1 << 16);
  if (Status started = gw.Start(node::ProducerLink(&inbox, 1)); !started.ok()) {
    return Fail(started);
  }
  if (!quiet) {
    std::fprintf(stderr,
                 "aits collect: listening on %s:%u for the AitsBridge EA; sending to %s; spill "
                 "file %s (%zu batches to resend) (Ctrl-C stops; nothing is lost)\n",
                 listen->host.c_str(), gw.port(), flags.server.c_str(), flags.spill.c_str(),
                 collector.spilled_records());
  }
  std::optional<StopSignals> signals(std::in_place);

  Status failed;
  bool was_down = false;
  const auto handle = [&](node::NodeEvent&& event) {
    if (auto* data = std::get_if<node::MarketData>(&event)) {
      const uint32_t id = data->tick.instrument.value;
      if (id >= config.instruments.size()) return;
      // A refused quote is counted under its reason in the collector's stats (printed at the
      // end); only a spill failure stops the collector.
      const Status accepted = collector.Accept(QuoteOf(*data, config.instruments[id].symbol));
      if (!accepted.ok() && accepted.code() != StatusCode::kInvalidArgument && failed.ok()) {
        failed = accepted;
      }
    } else if (auto* status = std::get_if<node::ProducerStatus>(&event); status && !quiet) {
      std::fprintf(stderr, "aits collect: the EA's link is %s%s%s\n",
                   std::string(node::ToString(status->state)).c_str(),
                   status->error.ok() ? "" : ": ",
                   status->error.ok() ? "" : status->error.message().c_str());
    }
  };
  while (!StopSignals::stopped() && failed.ok()) {
    node::NodeEvent event;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    if (inbox.WaitPop(event, deadline) == node::PopResult::kEvent) {
      handle(std::move(event));
      inbox.Drain(handle, 4096);
    }
    if (!failed.ok()) break;
    failed = collector.Poll();
    if (collector.uplink_down() != was_down && !quiet) {
      was_down = collector.uplink_down();
      std::fprintf(stderr, "aits collect: the ingest is %s%s%s\n", was_down ? "away" : "back",
                   was_down ? ": " : "", was_down ? collector.stats().last_send_error.c_str() : "");
    }
  }
  signals.reset();
  gw.Stop();
  // What the gateway pushed before it stopped still goes to the collector.
  while (inbox.Drain(handle, 4096) > 0) {
  }
  Status drained = Status::Ok();
  if (failed.ok()) {
    // Deliver what can be delivered within --drain; the rest goes to the spill file for the next
    // run (Shutdown).
    feed::WallSleeper sleeper;
    drained = collector.Drain(
        sleeper, clock.Now() + Duration::Millis(static_cast<int64_t>(flags.drain_seconds * 1e3)));
  }
  const Status shut = collector.Shutdown();
  if (!failed.ok()) return Fail(failed.WithContext("aits collect"));
  if (!shut.ok()) return Fail(shut.WithContext("aits collect: spilling at shutdown"));

  const feed::CollectorStats& s = collector.stats();
  const auto gateway_count = [&gw](gateway::Counter counter) { return gw.count(counter); };
  if (flags.json) {
    nlohmann::ordered_json rejected = nlohmann::ordered_json::object();
    for (size_t idx = 0; idx < s.rejected.size(); ++idx) {
      if (s.rejected[idx] != 0) {
        rejected[std::string(feed::ToString(static_cast<feed::QuoteReject>(idx)))] =
            s.rejected[idx];
      }
    }
    nlohmann::ordered_json out = {{"ticks_received", gateway_count(gateway::Counter::kTicks)},
                                  {"links_lost", gateway_count(gateway::Counter::kLinksLost)},
                                  {"accepted", s.accepted},
                                  {"rejected", std::move(rejected)},
                                  {"last_rejection", s.last_rejection},
                                  {"batches_sent", s.batches_sent},
                                  {"ticks_sent", s.ticks_sent},
                                  {"failed_sends", s.failed_sends},
                                  {"outages", s.outages},
                                  {"ring_overflows", s.ring_overflows},
                                  {"batches_spilled", s.batches_spilled},
                                  {"ticks_spilled", s.ticks_spilled},
                                  {"batches_resent", s.batches_resent},
                                  {"spill_records_lost", s.spill_records_lost},
                                  {"spill_records_recovered", recovered.records},
                                  {"spill_records_left", collector.spilled_records()},
                                  {"drained", drained.ok()},
                                  {"last_send_error", s.last_send_error}};
    std::printf("%s\n", out.dump(2).c_str());
  } else if (!flags.quiet) {
    std::printf(
        "collect: %llu ticks from the EA, %llu accepted, %llu rejected; %llu sent in %llu "
        "batches; %llu failed sends, %llu outages; %llu batches (%llu ticks) spilled, %llu "
        "resent; %zu batches left in %s\n",
        static_cast<unsigned long long>(gateway_count(gateway::Counter::kTicks)),
        static_cast<unsigned long long>(s.accepted),
        static_cast<unsigned long long>(s.TotalRejected()),
        static_cast<unsigned long long>(s.ticks_sent),
        static_cast<unsigned long long>(s.batches_sent),
        static_cast<unsigned long long>(s.failed_sends), static_cast<unsigned long long>(s.outages),
        static_cast<unsigned long long>(s.batches_spilled),
        static_cast<unsigned long long>(s.ticks_spilled),
        static_cast<unsigned long long>(s.batches_resent), collector.spilled_records(),
        flags.spill.c_str());
    if (!s.last_rejection.empty()) std::printf("  last rejection: %s\n", s.last_rejection.c_str());
    if (!drained.ok())
      std::printf("  not delivered before stopping: %s\n", drained.message().c_str());
  }
  return 0;
}

}  // namespace

void AddCollectCommand(CLI::App& app) {
  auto flags = std::make_shared<CollectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "collect",
      "Collect the ticks of a MetaTrader 5 terminal (the AitsBridge EA connects here) and send\n"
      "them to an `aits ingest` server, losing none while it is away: 3 retries, then a spill\n"
      "file on local disk, resent in order when it is back; Ctrl-C spills what is in memory and\n"
      "the next run resends it (docs/feed.md, \"aits collect and aits ingest\").\n"
      "Example: AITS_MT5_TOKEN=... aits collect --symbol EURUSD --server 10.0.0.5:5758 "
      "--spill collect.spill");
  cmd->add_option("--symbol", flags->symbols,
                  "Symbols to collect (repeat or comma-separate; default EURUSD), catalogue names")
      ->delimiter(',');
  cmd->add_option("--mt5-name", flags->mt5_names,
                  "SYMBOL=TERMINAL_NAME when the broker names it otherwise (EURUSD=EURUSD.m)");
  cmd->add_option("--instruments", flags->instruments,
                  "Instrument catalogue CSV on top of the built-in one (docs/instruments.md)");
  cmd->add_option("--listen", flags->listen, "Where the gateway listens for the EA, HOST:PORT")
      ->capture_default_str();
  cmd->add_option("--token-file", flags->token_file,
                  "File whose first line is the EA's shared secret (else AITS_MT5_TOKEN)");
  cmd->add_option("--server", flags->server, "The aits ingest server, HOST:PORT")->required();
  cmd->add_option("--spill", flags->spill,
                  "The spill file: batches the server has not taken yet, kept across runs")
      ->required();
  cmd->add_option("--drain", flags->drain_seconds,
                  "Seconds a stop waits to deliver what is queued before spilling it")
      ->capture_default_str();
  cmd->add_flag("--quiet", flags->quiet, "Print nothing but errors");
  cmd->add_flag("--json", flags->json, "Print the summary as JSON");
  cmd->callback([flags] { ExitOnFailure(RunCollect(*flags)); });
}

}  // namespace aits::app
