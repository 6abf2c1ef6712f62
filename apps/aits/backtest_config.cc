#include "backtest_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "aits/data/tick_store.h"
#include "yaml_reader.h"

namespace aits::app {
namespace {

template <typename T>
void Prefer(std::optional<T>& flag, const std::optional<T>& from_file) {
  if (!flag && from_file) flag = from_file;
}

Status MergeYamlMap(const std::string& path, const YAML::Node& root, BacktestFlags& flags);

Status MergeYaml(const std::string& path, BacktestFlags& flags) {
  AITS_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
  try {
    return MergeYamlMap(path, root, flags);
  } catch (const YAML::Exception& error) {
    return InvalidArgument(path + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg);
  }
}

Status MergeYamlMap(const std::string& path, const YAML::Node& root, BacktestFlags& flags) {
  YamlReader yaml(path, root);
  BacktestFlags file;
  std::optional<int64_t> latency_us;
  AITS_RETURN_IF_ERROR(yaml.Get("", "data", &file.data));
  AITS_RETURN_IF_ERROR(yaml.Get("", "ask_data", &file.ask_data));
  AITS_RETURN_IF_ERROR(yaml.Get("", "format", &file.format));
  AITS_RETURN_IF_ERROR(yaml.Get("", "strict", &file.strict));
  AITS_RETURN_IF_ERROR(yaml.Get("", "bar", &file.bar));
  AITS_RETURN_IF_ERROR(yaml.Get("costs", "fill_mode", &file.fill_mode));
  AITS_RETURN_IF_ERROR(yaml.Get("", "out", &file.out));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "symbol", &file.symbol));
  AITS_RETURN_IF_ERROR(yaml.Get("", "instruments", &file.instruments));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "digits", &file.digits));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "contract_size", &file.contract_size));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "lot_step", &file.lot_step));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "min_lots", &file.min_lots));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "max_lots", &file.max_lots));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "base", &file.base));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "quote", &file.quote));
  AITS_RETURN_IF_ERROR(yaml.Get("instrument", "margin_rate", &file.margin_rate));
  AITS_RETURN_IF_ERROR(yaml.Get("strategy", "name", &file.strategy));
  AITS_RETURN_IF_ERROR(yaml.GetParams(&file.params));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "cash", &file.cash));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "currency", &file.currency));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "leverage", &file.leverage));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "stop_out", &file.stop_out));
  AITS_RETURN_IF_ERROR(yaml.Get("costs", "commission", &file.commission));
  AITS_RETURN_IF_ERROR(yaml.Get("costs", "slippage_points", &file.slippage_points));
  AITS_RETURN_IF_ERROR(yaml.Get("costs", "latency_us", &latency_us));
  AITS_RETURN_IF_ERROR(yaml.Get("costs", "spread_points", &file.spread_points));
  AITS_RETURN_IF_ERROR(yaml.CheckUnknown());

  // Relative data paths in a config file are relative to the file.
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto relative = [&base](std::optional<std::string>& value) {
    if (value && !value->empty() && std::filesystem::path(*value).is_relative()) {
      value = (base / *value).lexically_normal().string();
    }
  };
  relative(file.data);
  relative(file.ask_data);
  relative(file.instruments);
  // Two catalogue files would each redefine instruments; which one was meant is not ours to guess.
  if (flags.instruments && file.instruments) {
    std::error_code ignored;
    if (std::filesystem::weakly_canonical(*flags.instruments, ignored) !=
        std::filesystem::weakly_canonical(*file.instruments, ignored)) {
      return InvalidArgument("--instruments " + *flags.instruments +
                             " and 'instruments: " + *file.instruments + "' in " + path +
                             " name different catalogue files; give one (put your rows in one "
                             "file)");
    }
  }

  Prefer(flags.data, file.data);
  Prefer(flags.ask_data, file.ask_data);
  Prefer(flags.format, file.format);
  Prefer(flags.strict, file.strict);
  Prefer(flags.bar, file.bar);
  Prefer(flags.fill_mode, file.fill_mode);
  Prefer(flags.out, file.out);
  Prefer(flags.symbol, file.symbol);
  Prefer(flags.instruments, file.instruments);
  Prefer(flags.digits, file.digits);
  Prefer(flags.contract_size, file.contract_size);
  Prefer(flags.lot_step, file.lot_step);
  Prefer(flags.min_lots, file.min_lots);
  Prefer(flags.max_lots, file.max_lots);
  Prefer(flags.base, file.base);
  Prefer(flags.quote, file.quote);
  Prefer(flags.margin_rate, file.margin_rate);
  Prefer(flags.strategy, file.strategy);
  Prefer(flags.cash, file.cash);
  Prefer(flags.currency, file.currency);
  Prefer(flags.leverage, file.leverage);
  Prefer(flags.stop_out, file.stop_out);
  Prefer(flags.commission, file.commission);
  Prefer(flags.slippage_points, file.slippage_points);
  Prefer(flags.latency_us, latency_us);
  Prefer(flags.spread_points, file.spread_points);
  // File params first, so flags given later override them key by key.
  flags.params.insert(flags.params.begin(), file.params.begin(), file.params.end());
  return Status::Ok();
}

Result<Quantity> Lots(const char* name, double value, int precision) {
  auto lots = Quantity::FromDouble(value, precision);
  if (!lots.ok() || !lots->IsPositive()) {
    return InvalidArgument("--" + std::string(name) + " " + std::to_string(value) +
                           " must be a positive number");
  }
  return lots;
}

int DecimalsOf(double value) {
  int decimals = 0;
  while (decimals < 8 && std::fabs(value - std::round(value)) > 1e-9) {
    value *= 10;
    ++decimals;
  }
  return decimals;
}

}  // namespace

Result<Duration> ParseBarPeriod(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("bar period '" + std::string(text) +
                           "' is not M1, M5, M15, M30, H1, H4, D1 or a number with s/m/h/d");
  };
  if (text.size() < 2) return bad();
  const char first = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  int64_t count = 0;
  Duration unit;
  if (first == 'M' || first == 'H' || first == 'D' || first == 'S') {
    for (char ch : text.substr(1)) {
      if (!std::isdigit(static_cast<unsigned char>(ch))) return bad();
      count = count * 10 + (ch - '0');
      if (count > 1'000'000) return bad();
    }
    unit = first == 'M'   ? Duration::Minutes(1)
           : first == 'H' ? Duration::Hours(1)
           : first == 'D' ? Duration::Days(1)
                          : Duration::Seconds(1);
  } else {
    size_t pos = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      count = count * 10 + (text[pos] - '0');
      if (count > 1'000'000) return bad();
      ++pos;
    }
    if (pos == 0 || pos + 1 != text.size()) return bad();
    switch (text[pos]) {
      case 's':
        unit = Duration::Seconds(1);
        break;
      case 'm':
        unit = Duration::Minutes(1);
        break;
      case 'h':
        unit = Duration::Hours(1);
        break;
      case 'd':
        unit = Duration::Days(1);
        break;
      default:
        return bad();
    }
  }
  if (count <= 0) return bad();
  if (count > Duration::Days(366).ns / unit.ns) {
    return InvalidArgument("bar period '" + std::string(text) + "' is longer than 366 days");
  }
  return Duration{unit.ns * count};
}

Result<data::ResolvedInstrument> InstrumentFor(const std::string& symbol,
                                               const std::string& data_path,
                                               const std::string& instruments_file,
                                               const data::ReadOptions& read,
                                               std::optional<int> digits) {
  AITS_ASSIGN_OR_RETURN(InstrumentCatalogue catalogue,
                        InstrumentCatalogue::BuiltInWith(instruments_file));
  data::InstrumentQuery query;
  query.symbol = symbol;
  query.data_path = data_path;
  query.read = read;
  query.digits = digits;
  return data::ResolveInstrument(catalogue, query);
}

Result<ResolvedBacktest> ResolveBacktest(const BacktestFlags& given) {
  BacktestFlags flags = given;
  if (!flags.config_path.empty()) AITS_RETURN_IF_ERROR(MergeYaml(flags.config_path, flags));
  if (!flags.data || flags.data->empty()) {
    return InvalidArgument("no data file: give --data FILE (or `data:` in the config file)");
  }
  ResolvedBacktest resolved;
  backtest::BacktestConfig& config = resolved.config;
  config.data_path = *flags.data;
  config.ask_path = flags.ask_data.value_or("");
  if (flags.format) {
    AITS_ASSIGN_OR_RETURN(config.format, data::ParseDataFormat(*flags.format));
  }
  config.strict = flags.strict.value_or(false);
  config.fill_mode = flags.fill_mode.value_or("auto");
  if (flags.from) {
    AITS_ASSIGN_OR_RETURN(config.start, ParseDateTime("--from", *flags.from));
  }
  if (flags.to) {
    AITS_ASSIGN_OR_RETURN(config.end, ParseDateTime("--to", *flags.to));
  }
  if (config.start && config.end && config.end->ns <= config.start->ns) {
    return InvalidArgument("--to " + *flags.to + " is not after --from " + *flags.from);
  }

  data::ReadOptions read;
  read.format = config.format;
  read.ask_path = config.ask_path;
  std::optional<int> given_digits;
  if (flags.digits && *flags.digits >= 0 && *flags.digits <= kFixedDigits) {
    given_digits = *flags.digits;
  }
  AITS_ASSIGN_OR_RETURN(data::ResolvedInstrument found,
                        InstrumentFor(flags.symbol.value_or(""), config.data_path,
                                      flags.instruments.value_or(""), read, given_digits));
  resolved.instrument_origin = found.origin;
  Instrument inst = std::move(found.instrument);
  if (flags.digits) {
    auto store = data::ReadTickStoreInfo(config.data_path);
    if (store.ok() && store->digits != *flags.digits) {
      return InvalidArgument("'" + config.data_path + "' holds " + std::to_string(store->digits) +
                             "-digit prices; --digits " + std::to_string(*flags.digits) +
                             " would mislabel them");
    }
    if (*flags.digits < 0 || *flags.digits > kFixedDigits) {
      return InvalidArgument("--digits " + std::to_string(*flags.digits) + " is outside 0..9");
    }
    const bool fx = inst.contract_size == 100'000;
    inst.digits = *flags.digits;
    inst.tick_size = Price::FromRaw(Pow10(kFixedDigits - inst.digits), inst.digits);
    inst.pip_size =
        Price::FromRaw(Pow10(kFixedDigits - inst.digits + (fx && inst.digits > 0)), inst.digits);
  }
  if (flags.contract_size) {
    if (!(*flags.contract_size >= 1 && *flags.contract_size <= 1e9) ||
        *flags.contract_size != std::round(*flags.contract_size)) {
      return InvalidArgument("contract size " + std::to_string(*flags.contract_size) +
                             " must be a whole number in 1..1000000000");
    }
    inst.contract_size = static_cast<int64_t>(*flags.contract_size);
  }
  if (flags.lot_step) {
    AITS_ASSIGN_OR_RETURN(inst.lot_step,
                          Lots("lot-step", *flags.lot_step, DecimalsOf(*flags.lot_step)));
  }
  const int lot_precision = inst.LotPrecision();
  if (flags.min_lots) {
    AITS_ASSIGN_OR_RETURN(inst.min_lots, Lots("min-lots", *flags.min_lots, lot_precision));
  }
  if (flags.max_lots) {
    AITS_ASSIGN_OR_RETURN(inst.max_lots, Lots("max-lots", *flags.max_lots, lot_precision));
  }
  for (const auto* code : {&flags.base, &flags.quote, &flags.currency}) {
    if (*code && (code->value().size() != 3 ||
                  !std::all_of(code->value().begin(), code->value().end(), ::isalpha))) {
      return InvalidArgument("currency '" + code->value() + "' is not a 3-letter code");
    }
  }
  if (flags.base) inst.base = Currency::Of(*flags.base);
  if (flags.quote) inst.quote = Currency::Of(*flags.quote);
  if (flags.margin_rate) inst.margin_rate = *flags.margin_rate;
  inst.id = InstrumentId{0};
  AITS_RETURN_IF_ERROR(inst.Validate());
  config.instrument = inst;

  config.strategy = flags.strategy.value_or("sma_cross");
  for (const std::string& item : flags.params) {
    AITS_ASSIGN_OR_RETURN(auto parsed, strategy::StrategyParams::Parse(item));
    for (const auto& [key, value] : parsed.values()) config.params.Set(key, value);
  }

  kernel::KernelConfig& kc = config.kernel;
  if (flags.cash) {
    auto cash = Money::FromDouble(*flags.cash);
    if (!cash.ok() || cash->raw() <= 0 || *flags.cash > static_cast<double>(kernel::kMaxCash)) {
      return InvalidArgument("cash " + std::to_string(*flags.cash) + " is outside 0 .. " +
                             std::to_string(kernel::kMaxCash));
    }
    kc.initial_balance = *cash;
  }
  if (flags.currency) {
    if (flags.currency->size() != 3) {
      return InvalidArgument("--currency '" + *flags.currency + "' is not a 3-letter code");
    }
    kc.account_currency = Currency::Of(*flags.currency);
  }
  // One instrument and no second feed: nothing can convert P&L in a third currency. Say so here,
  // with the way out, rather than as the portfolio's generic "no rate" later.
  const Instrument& traded = config.instrument;
  if (traded.quote != kc.account_currency && traded.base != kc.account_currency) {
    const std::string account(kc.account_currency.view());
    return InvalidArgument(traded.symbol + " is quoted in " + std::string(traded.quote.view()) +
                           " (" + resolved.instrument_origin + ") and the account is in " +
                           account +
                           ": a backtest of one instrument has no rate to convert its P&L; use "
                           "--currency " +
                           std::string(traded.quote.view()) + " (or --quote " + account +
                           " to take its prices as " + account + ")");
  }
  if (flags.leverage) kc.leverage = *flags.leverage;
  if (flags.stop_out) kc.venue.stop_out_level = *flags.stop_out;
  if (flags.commission) {
    AITS_ASSIGN_OR_RETURN(kc.venue.commission, execution::ParseCommission(*flags.commission));
  }
  if (flags.slippage_points) {
    if (*flags.slippage_points < 0) {
      return InvalidArgument("--slippage " + std::to_string(*flags.slippage_points) +
                             " points must be >= 0");
    }
    kc.venue.slippage_points = *flags.slippage_points;
  }
  if (flags.latency_us) {
    if (*flags.latency_us < 0 || *flags.latency_us > 86'400'000'000) {
      return InvalidArgument("--latency-us " + std::to_string(*flags.latency_us) +
                             " is outside 0 .. 86400000000 (one day)");
    }
    kc.venue.latency = Duration::Micros(*flags.latency_us);
  }
  if (flags.spread_points) {
    if (*flags.spread_points < 0) {
      return InvalidArgument("--spread " + std::to_string(*flags.spread_points) +
                             " points must be >= 0");
    }
    config.spread_points = *flags.spread_points;
  }
  if (flags.bar) {
    AITS_ASSIGN_OR_RETURN(kc.bar_period, ParseBarPeriod(*flags.bar));
    config.resample_bars = true;
  }
  AITS_RETURN_IF_ERROR(kc.Validate());
  resolved.out_dir = flags.out.value_or("");
  return resolved;
}

Result<Timestamp> ParseDateTime(std::string_view what, std::string_view text) {
  const std::optional<Timestamp> parsed = ParseUtcTime(text);
  // The range keeps a typo such as 0212 from silently selecting no data at all.
  if (!parsed || *parsed < FromCivil(1970, 1, 1) || *parsed >= FromCivil(2201, 1, 1)) {
    return InvalidArgument(std::string(what) + " '" + std::string(text) +
                           "' is not a UTC date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS])");
  }
  return *parsed;
}

}  // namespace aits::app
