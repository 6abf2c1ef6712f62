#include "history_command.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/text.h"
#include "aits/core/time.h"
#include "aits/gateway/gateway.h"
#include "aits/gateway/history.h"
#include "aits/gateway/history_file.h"
#include "aits/model/instrument.h"
#include "aits/net/socket.h"
#include "cli.h"
#include "progress.h"

namespace aits::app {
namespace {

using gateway::HistoryFormat;
using gateway::HistoryKind;

struct HistoryFlags {
  std::string symbol;
  std::string from;
  std::string to;
  bool ticks = false;
  std::string bars;
  std::string out;
  std::string format;
  std::string listen = "127.0.0.1:5757";
  std::string token;
  std::string token_file;
  std::vector<std::string> mt5_names;
  std::string timeout = "60s";
  std::string slice = "1d";
  uint32_t bars_per_slice = 10'000;
  uint32_t ticks_per_request = 1'000'000;
  int attempts = 3;
  bool no_progress = false;
  bool quiet = false;
  bool json = false;
};

// "250ms", "60s", "5m", "1h", "1d": a positive duration. InvalidArgument naming the flag.
Result<std::chrono::milliseconds> ParseSpan(const std::string& flag, const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const auto number = ParseInt(std::string_view(text).substr(0, digits));
  const std::string unit = text.substr(digits);
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (unit == "d") scale = 86'400'000;
  if (digits == 0 || !number || *number <= 0 || scale == 0 ||
      *number > std::numeric_limits<int64_t>::max() / scale / 1'000'000) {
    return InvalidArgument(flag + " '" + text +
                           "': expected a positive whole number with ms, s, m, h or d (60s, 1d)");
  }
  return std::chrono::milliseconds(*number * scale);
}

Result<int64_t> ParseTimeFlag(const std::string& flag, const std::string& text) {
  const std::optional<Timestamp> time = ParseUtcTime(text);
  if (!time) {
    return InvalidArgument(flag + " '" + text +
                           "': expected a UTC date or time (2020-01-01, 2020-01-01T17:00:00)");
  }
  return time->ns / 1'000'000;
}

Result<std::string> TokenOf(const HistoryFlags& flags) {
  if (!flags.token.empty() && !flags.token_file.empty()) {
    return InvalidArgument("--token and --token-file: give one of them");
  }
  if (!flags.token_file.empty()) {
    std::ifstream in(flags.token_file);
    if (!in) return InvalidArgument("--token-file '" + flags.token_file + "': cannot be read");
    std::string line;
    std::getline(in, line);
    const std::string token(Trim(line));
    if (token.empty()) {
      return InvalidArgument("--token-file '" + flags.token_file + "': its first line is empty");
    }
    return token;
  }
  if (flags.token.empty()) {
    return InvalidArgument("--token or --token-file: the shared secret the EA's hello carries");
  }
  return flags.token;
}

struct Plan {
  gateway::HistoryRange range;
  gateway::HistoryOptions options;
  gateway::HistoryFileSpec file;
  gateway::GatewayConfig gateway;
  std::chrono::milliseconds timeout{60'000};
};

Result<Plan> PlanOf(const HistoryFlags& flags) {
  Plan plan;
  if (flags.symbol.empty()) return InvalidArgument("--symbol: required (EURUSD)");
  if (flags.ticks == !flags.bars.empty()) {
    return InvalidArgument("--ticks or --bars TIMEFRAME: give exactly one");
  }
  AITS_ASSIGN_OR_RETURN(plan.range.from_msc, ParseTimeFlag("--from", flags.from));
  AITS_ASSIGN_OR_RETURN(plan.range.to_msc, ParseTimeFlag("--to", flags.to));
  if (plan.range.to_msc <= plan.range.from_msc) {
    return InvalidArgument("--to '" + flags.to + "' is not after --from '" + flags.from + "'");
  }
  plan.range.kind = flags.ticks ? HistoryKind::kTicks : HistoryKind::kBars;
  if (!flags.ticks) {
    AITS_ASSIGN_OR_RETURN(plan.range.period_sec, gateway::ParseTimeframe(flags.bars));
  }
  plan.range.mt5_symbol = flags.symbol;
  for (const std::string& pair : flags.mt5_names) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      return InvalidArgument("--mt5-name '" + pair + "': expected SYMBOL=MT5NAME");
    }
    if (pair.substr(0, eq) == flags.symbol) plan.range.mt5_symbol = pair.substr(eq + 1);
    plan.gateway.mt5_names.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
  }
  if (flags.out.empty()) return InvalidArgument("--out: required (a .bin or .csv file)");
  plan.file.path = flags.out;
  if (flags.format.empty()) {
    AITS_ASSIGN_OR_RETURN(plan.file.format, gateway::HistoryFormatOf(flags.out));
  } else {
    AITS_ASSIGN_OR_RETURN(plan.file.format, gateway::ParseHistoryFormat(flags.format));
  }
  if (plan.file.format == HistoryFormat::kBinary && !flags.ticks) {
    return InvalidArgument("--bars with a binary file '" + flags.out +
                           "': the tick store holds ticks only; write bars to a .csv file");
  }
  plan.file.kind = plan.range.kind;
  plan.file.symbol = flags.symbol;
  plan.file.period_sec = plan.range.period_sec;
  AITS_ASSIGN_OR_RETURN(plan.timeout, ParseSpan("--timeout", flags.timeout));
  AITS_ASSIGN_OR_RETURN(const std::chrono::milliseconds slice, ParseSpan("--slice", flags.slice));
  plan.options.tick_slice_ms = slice.count();
  plan.options.bars_per_slice = flags.bars_per_slice;
  plan.options.max_ticks_per_request = flags.ticks_per_request;
  plan.options.attempts = flags.attempts;
  plan.options.request_timeout = plan.timeout;
  if (flags.bars_per_slice == 0) return InvalidArgument("--bars-per-slice 0: must be positive");
  if (flags.ticks_per_request == 0) {
    return InvalidArgument("--ticks-per-request 0: must be positive");
  }
  if (flags.attempts < 1 || flags.attempts > 100) {
    return InvalidArgument("--attempts " + std::to_string(flags.attempts) + ": must be 1..100");
  }
  auto listen = net::ParseEndpoint(flags.listen);
  if (!listen.ok()) {
    return InvalidArgument("--listen '" + flags.listen + "': " + listen.status().message());
  }
  plan.gateway.host = listen->host;
  plan.gateway.port = listen->port;
  AITS_ASSIGN_OR_RETURN(plan.gateway.token, TokenOf(flags));
  plan.gateway.node_id = "aits-history";
  Instrument instrument = Instrument::Infer(flags.symbol);
  instrument.id = InstrumentId{0};
  plan.gateway.instruments = {instrument};
  plan.gateway.answer_timeout = plan.timeout;
  return plan;
}

std::string KindText(const Plan& plan) {
  return plan.range.kind == HistoryKind::kTicks
             ? std::string("ticks")
             : gateway::TimeframeName(plan.range.period_sec) + " bars";
}

int RunHistory(const HistoryFlags& flags) {
  auto planned = PlanOf(flags);
  if (!planned.ok()) return Fail(planned.status());
  Plan& plan = *planned;
  const bool talk = !flags.quiet && !flags.json;
  // The file is checked before anyone is waited for: a wrong one fails at once.
  if (Status checked = gateway::CheckHistoryFile(plan.file); !checked.ok()) return Fail(checked);

  auto made = gateway::Gateway::Create(plan.gateway);
  if (!made.ok()) return Fail(made.status());
  gateway::Gateway& gw = **made;
  if (Status listening = gw.Listen(); !listening.ok()) return Fail(listening);
  const std::string address = plan.gateway.host + ":" + std::to_string(gw.port());
  if (!flags.quiet) {
    // On stderr even with --json: a script starting the EA's side reads the port from here.
    std::fprintf(stderr,
                 "aits history: listening on %s; the EA (AitsBridge, or aits mt5-sim) must "
                 "connect within %s\n",
                 address.c_str(), flags.timeout.c_str());
  }
  auto spec = gw.RequestSymbol(plan.range.mt5_symbol, plan.timeout);
  if (!spec.ok()) {
    return Fail(spec.status().code() == StatusCode::kIoError
                    ? IoError("no answer from an EA on " + address + " within " + flags.timeout +
                              ": " + spec.status().message())
                    : spec.status().WithContext("symbol " + plan.range.mt5_symbol));
  }
  plan.file.digits = static_cast<int>(spec->digits);

  gateway::HistoryOpening opening;
  auto writer = gateway::HistoryWriter::Open(plan.file, &opening);
  if (!writer.ok()) return Fail(writer.status());
  if (talk && opening.resumed) {
    std::fprintf(stderr, "aits history: %s holds %llu %s up to %s: continuing after them\n",
                 plan.file.path.c_str(), static_cast<unsigned long long>(opening.records),
                 KindText(plan).c_str(),
                 FormatIso8601(Timestamp{opening.resume.from_msc * 1'000'000}).c_str());
  }
  if (!flags.quiet && !opening.repaired.empty()) {
    std::fprintf(stderr, "aits history: %s: %s\n", plan.file.path.c_str(),
                 opening.repaired.c_str());
  }

  ProgressBar bar("history", plan.range.kind == HistoryKind::kTicks ? "ticks" : "bars",
                  talk && !flags.no_progress);
  gateway::HistorySink sink;
  gateway::HistoryWriter& out = **writer;
  sink.ticks = [&](std::span<const mt5::TickData> ticks) { return out.Append(ticks); };
  sink.bars = [&](std::span<const mt5::BarData> bars) { return out.Append(bars); };
  sink.progress = [&](const gateway::HistoryStats& stats) {
    const double fraction = stats.slices_total == 0 ? 1.0
                                                    : static_cast<double>(stats.slices_done) /
                                                          static_cast<double>(stats.slices_total);
    bar.Update(
        fraction, stats.delivered,
        "slice " + std::to_string(stats.slices_done) + "/" + std::to_string(stats.slices_total));
  };
  std::optional<gateway::HistoryResume> resume;
  if (opening.resumed) resume = opening.resume;
  auto downloaded = gateway::DownloadHistory(gw, plan.range, plan.options, sink, resume);
  bar.Finish();
  const Status finished = out.Finish();
  gw.Stop();  // a bye to the EA
  if (!downloaded.ok()) {
    return Fail(downloaded.status().WithContext(
        "history of " + flags.symbol + " (" + std::to_string(out.records()) + " " + KindText(plan) +
        " kept in " + plan.file.path + "; run the same command to continue)"));
  }
  if (!finished.ok()) return Fail(finished);
  if (out.records() == 0) {
    ::unlink(plan.file.path.c_str());
    return Fail(NotFound("the terminal has no " + KindText(plan) + " of " + plan.range.mt5_symbol +
                         " in " + flags.from + " .. " + flags.to + "; nothing written"));
  }
  const gateway::HistoryStats& stats = *downloaded;
  const double rate = stats.seconds > 0 ? static_cast<double>(stats.delivered) / stats.seconds : 0;
  if (flags.json) {
    nlohmann::ordered_json j = {{"symbol", flags.symbol},
                                {"mt5_symbol", plan.range.mt5_symbol},
                                {"kind", plan.range.kind == HistoryKind::kTicks ? "ticks" : "bars"},
                                {"period", gateway::TimeframeName(plan.range.period_sec)},
                                {"file", plan.file.path},
                                {"format", plan.file.format == HistoryFormat::kCsv ? "csv" : "bin"},
                                {"digits", plan.file.digits},
                                {"resumed", opening.resumed},
                                {"records_before", opening.records},
                                {"repaired", opening.repaired},
                                {"downloaded", stats.delivered},
                                {"written", out.records() - opening.records},
                                {"records", out.records()},
                                {"refused", out.refused()},
                                {"slices", stats.slices_total},
                                {"requests", stats.requests},
                                {"retries", stats.retries},
                                {"edge_duplicates", stats.edge_duplicates},
                                {"out_of_order", stats.out_of_order},
                                {"seconds", stats.seconds},
                                {"per_second", rate}};
    std::printf("%s\n", j.dump(2).c_str());
  } else if (!flags.quiet) {
    std::printf(
        "history: %llu %s of %s downloaded in %llu slice(s), %llu request(s) (%llu retried), "
        "%.2f s, %s/s; %s now holds %llu (%llu refused, %llu edge duplicates skipped)\n",
        static_cast<unsigned long long>(stats.delivered), KindText(plan).c_str(),
        flags.symbol.c_str(), static_cast<unsigned long long>(stats.slices_total),
        static_cast<unsigned long long>(stats.requests),
        static_cast<unsigned long long>(stats.retries), stats.seconds,
        ProgressBar::Human(rate).c_str(), plan.file.path.c_str(),
        static_cast<unsigned long long>(out.records()),
        static_cast<unsigned long long>(out.refused()),
        static_cast<unsigned long long>(stats.edge_duplicates));
  }
  return 0;
}

}  // namespace

void AddHistoryCommand(CLI::App& app) {
  auto flags = std::make_shared<HistoryFlags>();
  CLI::App* cmd = app.add_subcommand(
      "history",
      "Download a symbol's ticks or bars for a time range from a MetaTrader 5 terminal: listen\n"
      "for the EA as the gateway, ask in slices, write the binary tick store or CSV; a file\n"
      "holding the start of the same download is continued (docs/metatrader.md, \"History\").\n"
      "Example: aits history --symbol EURUSD --from 2020-01-01 --to 2020-01-02 --ticks "
      "--out eurusd.bin --token-file token.txt");
  cmd->add_option("--symbol", flags->symbol, "The symbol (the node's name)")->required();
  cmd->add_option("--from", flags->from, "Start, UTC (included)")->required();
  cmd->add_option("--to", flags->to, "End, UTC (excluded)")->required();
  cmd->add_flag("--ticks", flags->ticks, "Download ticks");
  cmd->add_option("--bars", flags->bars, "Download bars of this timeframe (M1 .. MN1)");
  cmd->add_option("--out", flags->out, "The file to write or continue (.bin or .csv)")->required();
  cmd->add_option("--format", flags->format, "bin or csv (default: from --out's extension)");
  cmd->add_option("--listen", flags->listen, "Where the gateway listens, HOST:PORT (port 0: any)")
      ->capture_default_str();
  cmd->add_option("--token", flags->token, "The shared secret the EA's hello must carry");
  cmd->add_option("--token-file", flags->token_file, "A file whose first line is the secret");
  cmd->add_option("--mt5-name", flags->mt5_names,
                  "SYMBOL=MT5NAME: the terminal's name of the symbol (EURUSD=EURUSD.m)");
  cmd->add_option("--timeout", flags->timeout,
                  "How long to wait for the EA, and for each answer (ms, s, m, h)")
      ->capture_default_str();
  cmd->add_option("--slice", flags->slice, "Ticks: the span asked per slice")
      ->capture_default_str();
  cmd->add_option("--bars-per-slice", flags->bars_per_slice, "Bars: how many per slice")
      ->capture_default_str();
  cmd->add_option("--ticks-per-request", flags->ticks_per_request,
                  "The most ticks one answer holds (a full one is continued)")
      ->capture_default_str();
  cmd->add_option("--attempts", flags->attempts, "Tries of each request before failing")
      ->capture_default_str();
  cmd->add_flag("--no-progress", flags->no_progress, "Do not draw a progress bar");
  cmd->add_flag("--quiet", flags->quiet, "Print nothing but errors");
  cmd->add_flag("--json", flags->json, "Print the summary as JSON");
  cmd->callback([flags] { ExitOnFailure(RunHistory(*flags)); });
}

}  // namespace aits::app
