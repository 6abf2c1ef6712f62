#include "instruments_command.h"

#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "aits/model/instrument_catalogue.h"
#include "cli.h"

namespace aits::app {
namespace {

struct InstrumentsFlags {
  std::string instruments;
  bool json = false;
  bool quiet = false;
};

nlohmann::ordered_json EntryJson(const CatalogueEntry& entry) {
  const Instrument& inst = entry.instrument;
  return {
      {"symbol", inst.symbol},
      {"digits", inst.digits},
      {"contract_size", inst.contract_size},
      {"base", std::string(inst.base.view())},
      {"quote", std::string(inst.quote.view())},
      {"margin_rate", inst.margin_rate},
      // Hedging accounts: null for the larger leg, else contract units per lot of the hedged
      // volume (docs/instruments.md).
      {"margin_hedged", inst.margin_hedged_use_leg ? nlohmann::ordered_json(nullptr)
                                                   : nlohmann::ordered_json(inst.margin_hedged)},
      {"min_lot", inst.min_lots.ToString()},
      {"max_lot", inst.max_lots.ToString()},
      {"lot_step", inst.lot_step.ToString()},
      {"tick_size", inst.tick_size.ToString()},
      {"pip_size", inst.pip_size.ToString()},
      {"sessions", entry.sessions},
      {"description", entry.description},
      {"defined_at", entry.defined_at}};
}

int RunInstruments(const InstrumentsFlags& flags) {
  auto catalogue = InstrumentCatalogue::BuiltInWith(flags.instruments);
  if (!catalogue.ok()) return Fail(catalogue.status());
  if (flags.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const CatalogueEntry& entry : catalogue->entries()) list.push_back(EntryJson(entry));
    const nlohmann::ordered_json out = {{"catalogue", catalogue->name()}, {"instruments", list}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (flags.quiet) {
    for (const CatalogueEntry& entry : catalogue->entries()) {
      std::printf("%s\n", entry.instrument.symbol.c_str());
    }
    return 0;
  }
  std::printf("%s (%zu instruments; defaults to check against your broker)\n",
              catalogue->name().c_str(), catalogue->entries().size());
  std::printf("%-10s %6s %13s %4s %5s %6s %9s %9s %8s  %s\n", "symbol", "digits", "contract_size",
              "base", "quote", "margin", "min_lot", "max_lot", "lot_step", "sessions (UTC)");
  for (const CatalogueEntry& entry : catalogue->entries()) {
    const Instrument& inst = entry.instrument;
    std::printf("%-10s %6d %13lld %4s %5s %6g %9s %9s %8s  %s\n", inst.symbol.c_str(), inst.digits,
                static_cast<long long>(inst.contract_size),
                inst.base.empty() ? "-" : std::string(inst.base.view()).c_str(),
                std::string(inst.quote.view()).c_str(), inst.margin_rate,
                inst.min_lots.ToString().c_str(), inst.max_lots.ToString().c_str(),
                inst.lot_step.ToString().c_str(),
                entry.sessions.empty() ? "always" : entry.sessions.c_str());
  }
  return 0;
}

}  // namespace

void AddInstrumentsCommand(CLI::App& app) {
  auto flags = std::make_shared<InstrumentsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "instruments",
      "List the instrument catalogue: digits, contract size, currencies, margin rate, lot rules\n"
      "and trading sessions of every symbol AITS knows (typical MetaTrader 5 values: check them\n"
      "against your broker). --instruments FILE adds or overrides rows (docs/instruments.md).\n"
      "Example: aits instruments --instruments my-broker.csv --json");
  cmd->add_option("--instruments", flags->instruments,
                  "Catalogue CSV whose rows add to or replace the built-in ones");
  cmd->add_flag("--json", flags->json, "Print the catalogue as JSON");
  cmd->add_flag("--quiet", flags->quiet, "Print only the symbols, one a line");
  cmd->callback([flags] {
    const int code = RunInstruments(*flags);
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
