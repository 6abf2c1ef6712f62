#include "features_command.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "aits/config/backtest_settings.h"
#include "aits/data/source.h"
#include "aits/ml/feature_dataset.h"
#include "aits/models/dataset.h"
#include "cli.h"
#include "progress.h"

namespace aits::app {
namespace {

struct FeaturesFlags {
  std::string data;
  std::string ask_data;
  std::string out;
  std::string format = "auto";
  std::string timeframes = "M1,M5,M15,H1";
  std::string symbol;
  std::optional<int> digits;
  int64_t spread_points = 0;
  bool strict = false;
  bool quiet = false;
};

bool SameFile(const std::string& a, const std::string& b) {
  std::error_code error;
  return std::filesystem::weakly_canonical(a, error) == std::filesystem::weakly_canonical(b, error);
}

// Exact counts (not "62.5k"): scripts compare them.
unsigned long long Count(uint64_t value) { return static_cast<unsigned long long>(value); }

int RunFeatures(const FeaturesFlags& flags) {
  for (const std::string* input : {&flags.data, &flags.ask_data}) {
    if (!input->empty() && SameFile(*input, flags.out)) {
      return Fail(InvalidArgument("--out '" + flags.out + "' is an input file"));
    }
  }
  ml::FeatureBuildOptions options;
  auto timeframes = features::ParseTimeframes(flags.timeframes);
  if (!timeframes.ok()) return Fail(timeframes.status().WithContext("--timeframes"));
  options.engine.timeframes = *timeframes;
  // Validate the timeframes before any reading, so that a typo fails at once.
  auto engine = features::FeatureEngine::Create(options.engine);
  if (!engine.ok()) return Fail(engine.status().WithContext("--timeframes"));

  auto format = data::ParseDataFormat(flags.format);
  if (!format.ok()) return Fail(format.status().WithContext("--format"));
  // Prices are rounded to the instrument's digits, as the backtest and the live kernel see them,
  // so that training features equal serving features. --spread counts points of those digits.
  // A symbol given must resolve (docs/instruments.md); without one, a catalogue symbol the file
  // name starts with gives the digits, and otherwise the file's prices are kept as written.
  data::ReadOptions probe;
  probe.format = *format;
  probe.ask_path = flags.ask_data;
  auto inst = config::InstrumentFor(flags.symbol, flags.data, "", probe, kFixedDigits);
  if (!inst.ok() && !flags.symbol.empty()) return Fail(inst.status());
  const std::string symbol = inst.ok() ? inst->instrument.symbol : "";
  int digits = inst.ok() ? inst->instrument.digits : kFixedDigits;
  if (symbol.empty() && !flags.digits && flags.spread_points != 0) {
    return Fail(
        InvalidArgument("--spread counts points of the price digits; cannot tell them "
                        "from '" +
                        flags.data + "': give --symbol or --digits"));
  }
  if (flags.digits) {
    if (*flags.digits < 0 || *flags.digits > kFixedDigits) {
      return Fail(
          InvalidArgument("--digits " + std::to_string(*flags.digits) + " is outside 0..9"));
    }
    digits = *flags.digits;
  }
  if (flags.spread_points < 0) {
    return Fail(
        InvalidArgument("--spread " + std::to_string(flags.spread_points) + " is negative"));
  }
  options.read.format = *format;
  options.read.strict = flags.strict;
  options.read.price_precision = digits;
  options.read.instrument = InstrumentId{0};
  options.read.ask_path = flags.ask_data;
  options.read.spread_points = flags.spread_points;

  ProgressBar bar("features", "", !flags.quiet);
  options.progress = [&bar](double fraction) { bar.Update(fraction, 0); };
  ml::FeatureBuildStats stats;
  auto dataset = ml::BuildFeatureDataset(flags.data, options, &stats);
  bar.Finish();
  if (!dataset.ok()) {
    if (stats.read.TotalRejected() > 0) std::fprintf(stderr, "%s", stats.read.Summary().c_str());
    return Fail(dataset.status());
  }
  Status written = ml::WriteFeatureCsv(*dataset, flags.out);
  if (!written.ok()) return Fail(written);

  std::printf("wrote %zu rows x %zu features to %s\n", dataset->rows(),
              dataset->feature_names.size(), flags.out.c_str());
  std::printf("  data          %s (%s", flags.data.c_str(),
              std::string(data::ToString(stats.format)).c_str());
  if (stats.data_period.ns > 0) {
    std::printf(", %s bars", ml::FormatPeriod(stats.data_period).c_str());
  }
  std::printf(")\n");
  std::printf("  read          %llu rows, %llu accepted, %llu rejected\n", Count(stats.read.rows),
              Count(stats.read.accepted), Count(stats.read.TotalRejected()));
  if (stats.read.repaired > 0) {
    std::printf("  repaired      %llu bars whose ask was below the bid (ask lifted to the bid)\n",
                Count(stats.read.repaired));
  }
  std::printf("  rows          %zu written, %zu skipped in the warm-up\n", stats.rows,
              stats.warmup_rows_skipped);
  std::printf("  span          %s .. %s\n", FormatIso8601(dataset->time.front()).c_str(),
              FormatIso8601(dataset->time.back()).c_str());
  std::string names;
  for (Duration tf : options.engine.timeframes) {
    names += (names.empty() ? "" : ",") + features::TimeframeName(tf);
  }
  std::printf("  timeframes    %s\n", names.c_str());
  std::printf("  feature set   version %s, hash %s\n", dataset->feature_set_version.c_str(),
              dataset->feature_set_hash.c_str());
  if (stats.read.TotalRejected() > 0) std::printf("%s", stats.read.Summary().c_str());
  return 0;
}

}  // namespace

void AddFeaturesCommand(CLI::App& app) {
  auto flags = std::make_shared<FeaturesFlags>();
  CLI::App* cmd = app.add_subcommand(
      "features",
      "Compute the ML feature set (17 features per timeframe, named {feature}_{TF}) over a tick\n"
      "or bar file and write one CSV row per closed base bar, after the warm-up. The first\n"
      "timeframe is the base; each row holds every timeframe's last closed bar, never later data.\n"
      "Example: aits features --data gbpusd-m1-bid-2012.csv --ask-data gbpusd-m1-ask-2012.csv \\\n"
      "           --out features.csv\n"
      "         aits features --data usdchf-30min-1996-2001.csv --spread 20 \\\n"
      "           --timeframes M30,H1,H4,D1 --out chf.csv");
  cmd->add_option("--data", flags->data, "Tick or bar file (any supported format)")->required();
  cmd->add_option("--ask-data,--ask", flags->ask_data,
                  "Ask-side bar file joined on time with --data");
  cmd->add_option("--spread", flags->spread_points,
                  "Spread in points for single-price data or bid-only bars");
  cmd->add_option("--timeframes", flags->timeframes,
                  "Comma list, ascending, each a multiple of the first (the base): M1 M5 M15 "
                  "M30 H1 H4 D1, S30, 90s, 2h ...")
      ->capture_default_str();
  cmd->add_option("--out", flags->out, "Feature CSV to write")->required();
  cmd->add_option("--format", flags->format,
                  "auto|mt5-ticks|mt5-bars|csv-ticks|histdata-ticks|csv-bars|yahoo|price|binary")
      ->capture_default_str();
  cmd->add_option("--symbol", flags->symbol,
                  "Instrument symbol, for its price digits (default: from the file name)");
  cmd->add_option("--digits", flags->digits,
                  "Price digits (default: 5 for FX, 3 for JPY pairs; a binary store's own)");
  cmd->add_flag("--strict", flags->strict, "Stop at the first bad row instead of counting it");
  cmd->add_flag("--no-progress", flags->quiet, "Do not draw a progress bar");
  cmd->callback([flags] {
    const int code = RunFeatures(*flags);
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
