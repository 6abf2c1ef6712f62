#include "aits/config/backtest_settings.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "aits/config/yaml_reader.h"
#include "aits/data/tick_store.h"

namespace aits::config {
namespace {

template <typename T>
void Prefer(std::optional<T>& flag, const std::optional<T>& from_file) {
  if (!flag && from_file) flag = from_file;
}

Status MergeYamlMap(const std::string& path, const YAML::Node& root, BacktestFlags& flags);
Result<FeedFlag> ParseFeedItem(const std::string& flag, const std::string& item,
                               const std::string& role);

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
  if (YAML::Node list = yaml.Node("", "data"); list && list.IsSequence()) {
    AITS_RETURN_IF_ERROR(ParseYamlFeeds(path, list, &file.feeds));
  } else {
    AITS_RETURN_IF_ERROR(yaml.Get("", "data", &file.data));
  }
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
  AITS_RETURN_IF_ERROR(yaml.Get("strategy", "signal", &file.signal));
  AITS_RETURN_IF_ERROR(ReadDecisionAndRisk(path, root, &file.decision, &file.risk));
  yaml.SectionReadElsewhere("decision");
  yaml.SectionReadElsewhere("risk");
  AITS_RETURN_IF_ERROR(yaml.GetParams(&file.params));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "cash", &file.cash));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "currency", &file.currency));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "leverage", &file.leverage));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "stop_out", &file.stop_out));
  AITS_RETURN_IF_ERROR(yaml.Get("account", "account_mode", &file.account_mode));
  if (file.account_mode) {
    // Checked here, so that a bad value is reported at its file and key, not as the flag.
    if (auto mode = ParseAccountMode(*file.account_mode); !mode.ok()) {
      return mode.status().WithContext(path + ": account.account_mode");
    }
  }
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

  // Data given on the command line (either form) replaces the file's (either form).
  if (!flags.data && flags.feeds.empty()) {
    flags.data = file.data;
    flags.feeds = file.feeds;
  }
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
  Prefer(flags.signal, file.signal);
  flags.decision.insert(flags.decision.begin(), file.decision.begin(), file.decision.end());
  flags.risk.insert(flags.risk.begin(), file.risk.begin(), file.risk.end());
  Prefer(flags.cash, file.cash);
  Prefer(flags.currency, file.currency);
  Prefer(flags.leverage, file.leverage);
  Prefer(flags.stop_out, file.stop_out);
  Prefer(flags.account_mode, file.account_mode);
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

// The single-feed form: the instrument of --data FILE, with the per-instrument flags applied.
Status ResolveOneInstrument(const BacktestFlags& flags, ResolvedBacktest& resolved) {
  backtest::BacktestConfig& config = resolved.config;
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
  return Status::Ok();
}

bool IsSymbolChar(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
}

// "GBPUSD=bid.csv,ask.csv" -> a feed; `flag` names the option for errors.
Result<FeedFlag> ParseFeedItem(const std::string& flag, const std::string& item,
                               const std::string& role) {
  FeedFlag feed;
  feed.role = role;
  feed.where = flag + " " + item;
  const size_t eq = item.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument(feed.where + ": expected SYMBOL=FILE[,ASK_FILE] (several feeds each " +
                           "name their symbol, e.g. " + flag + " GBPUSD=gbpusd-bid.csv," +
                           "gbpusd-ask.csv)");
  }
  feed.symbol = item.substr(0, eq);
  std::transform(feed.symbol.begin(), feed.symbol.end(), feed.symbol.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  std::string rest = item.substr(eq + 1);
  size_t begin = 0;
  while (begin <= rest.size()) {
    const size_t comma = rest.find(',', begin);
    const std::string file =
        rest.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (file.empty()) return InvalidArgument(feed.where + ": empty file name");
    feed.files.push_back(file);
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  if (feed.files.size() > 2) {
    return InvalidArgument(feed.where + ": " + std::to_string(feed.files.size()) +
                           " files; give one data file, or a bid and an ask bar file");
  }
  return feed;
}

// A --data value that is SYMBOL=FILE rather than a file name (a file that exists wins, so
// "a=b.csv" in the current directory still reads as a file).
bool IsFeedItem(const std::string& item) {
  const size_t eq = item.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  if (!std::all_of(item.begin(), item.begin() + static_cast<std::ptrdiff_t>(eq), IsSymbolChar)) {
    return false;
  }
  std::error_code ignored;
  return !std::filesystem::exists(item, ignored);
}

Status ParseDataItems(BacktestFlags& flags) {
  return ParseFeedItems(flags.data_items, flags.convert_items, &flags.data, &flags.feeds);
}

}  // namespace

Status ParseFeedItems(const std::vector<std::string>& data_items,
                      const std::vector<std::string>& convert_items,
                      std::optional<std::string>* single, std::vector<FeedFlag>* feeds) {
  if (single != nullptr && data_items.size() == 1 && !IsFeedItem(data_items[0]) &&
      convert_items.empty()) {
    *single = data_items[0];
    return Status::Ok();
  }
  for (const std::string& item : data_items) {
    AITS_ASSIGN_OR_RETURN(FeedFlag feed, ParseFeedItem("--data", item, "trade"));
    feeds->push_back(std::move(feed));
  }
  for (const std::string& item : convert_items) {
    AITS_ASSIGN_OR_RETURN(FeedFlag feed, ParseFeedItem("--convert-data", item, "convert"));
    feeds->push_back(std::move(feed));
  }
  if (!convert_items.empty() && data_items.empty()) {
    return InvalidArgument("--convert-data " + convert_items[0] +
                           ": conversion feeds need at least one traded --data SYMBOL=FILE");
  }
  return Status::Ok();
}

// The YAML form of several feeds:
//   data:
//     - {symbol: GBPUSD, files: [bid.csv, ask.csv]}
//     - {symbol: USDJPY, files: usdjpy.csv, role: convert}
Status ParseYamlFeeds(const std::string& path, const YAML::Node& list,
                      std::vector<FeedFlag>* feeds) {
  for (const YAML::Node& entry : list) {
    const std::string where = path + ":" + std::to_string(entry.Mark().line + 1);
    if (!entry.IsMap()) {
      return InvalidArgument(where + ": a `data:` entry must be a map of symbol, files and role");
    }
    FeedFlag feed;
    feed.where = where;
    for (const auto& item : entry) {
      const std::string key = item.first.Scalar();
      const YAML::Node& value = item.second;
      if (key == "symbol" && value.IsScalar()) {
        feed.symbol = value.Scalar();
        std::transform(feed.symbol.begin(), feed.symbol.end(), feed.symbol.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      } else if (key == "files" && value.IsScalar()) {
        AITS_ASSIGN_OR_RETURN(FeedFlag parsed,
                              ParseFeedItem(where + ": files", "X=" + value.Scalar(), "trade"));
        feed.files = parsed.files;
      } else if (key == "files" && value.IsSequence()) {
        for (const YAML::Node& file : value) {
          if (!file.IsScalar() || file.Scalar().empty()) {
            return InvalidArgument(where + ": setting 'data.files' must list file names");
          }
          feed.files.push_back(file.Scalar());
        }
      } else if (key == "role" && value.IsScalar()) {
        feed.role = value.Scalar();
      } else if (key == "symbol" || key == "files" || key == "role") {
        return InvalidArgument(where + ": setting 'data." + key + "' has the wrong form");
      } else {
        return InvalidArgument(path + ": unknown setting 'data." + key + "' (line " +
                               std::to_string(item.first.Mark().line + 1) +
                               "); a feed has symbol, files and role");
      }
    }
    if (feed.symbol.empty()) return InvalidArgument(where + ": a `data:` entry needs a symbol");
    if (feed.files.empty() || feed.files.size() > 2) {
      return InvalidArgument(where + ": " + feed.symbol +
                             " needs `files:` with one data file, or a bid and an ask bar file");
    }
    feed.where = where + " (" + feed.symbol + ")";
    // Relative data paths in a config file are relative to the file.
    for (std::string& name : feed.files) {
      if (std::filesystem::path(name).is_relative()) {
        name = (std::filesystem::path(path).parent_path() / name).lexically_normal().string();
      }
    }
    feeds->push_back(std::move(feed));
  }
  if (feeds->empty()) return InvalidArgument(path + ": `data:` is an empty list");
  return Status::Ok();
}

Result<std::vector<backtest::FeedConfig>> ResolveFeeds(const std::vector<FeedFlag>& feeds,
                                                       const std::string& instruments_file,
                                                       const std::optional<std::string>& format,
                                                       std::string* origin) {
  AITS_ASSIGN_OR_RETURN(InstrumentCatalogue catalogue,
                        InstrumentCatalogue::BuiltInWith(instruments_file));
  std::vector<backtest::FeedConfig> resolved;
  for (size_t idx = 0; idx < feeds.size(); ++idx) {
    const FeedFlag& feed = feeds[idx];
    if (feed.role != "trade" && feed.role != "convert") {
      return InvalidArgument(feed.where + ": role '" + feed.role + "' is not trade or convert");
    }
    for (size_t other = 0; other < idx; ++other) {
      if (feeds[other].symbol == feed.symbol) {
        return InvalidArgument(feed.where + ": symbol " + feed.symbol + " is given twice (also " +
                               feeds[other].where + ")");
      }
    }
    for (const std::string& file : feed.files) {
      std::error_code ignored;
      if (!std::filesystem::is_regular_file(file, ignored)) {
        return InvalidArgument(feed.where + ": no such file '" + file + "'");
      }
    }
    data::InstrumentQuery query;
    query.symbol = feed.symbol;
    query.data_path = feed.files[0];
    if (format) {
      AITS_ASSIGN_OR_RETURN(query.read.format, data::ParseDataFormat(*format));
    }
    if (feed.files.size() > 1) query.read.ask_path = feed.files[1];
    query.symbol_option = feed.where.rfind("--", 0) == 0
                              ? feed.where.substr(0, feed.where.find(' '))
                              : std::string("data.symbol");
    auto found = data::ResolveInstrument(catalogue, query);
    if (!found.ok()) return InvalidArgument(feed.where + ": " + found.status().message());
    backtest::FeedConfig config_feed;
    config_feed.instrument = std::move(found->instrument);
    config_feed.instrument.id = InstrumentId{static_cast<uint32_t>(idx)};
    config_feed.data_path = feed.files[0];
    config_feed.ask_path = feed.files.size() > 1 ? feed.files[1] : "";
    config_feed.role =
        feed.role == "convert" ? backtest::FeedRole::kConvert : backtest::FeedRole::kTrade;
    if (origin != nullptr) {
      *origin +=
          (origin->empty() ? "" : "; ") + config_feed.instrument.symbol + ": " + found->origin;
    }
    resolved.push_back(std::move(config_feed));
  }
  return resolved;
}

Result<std::vector<size_t>> FeedOrder(const std::vector<FeedFlag>& flags,
                                      const std::vector<backtest::FeedConfig>& feeds,
                                      Currency account_currency) {
  auto order = backtest::FeedRegistrationOrder(feeds, account_currency);
  if (order.ok()) return order;
  for (size_t idx = 0; idx < feeds.size() && idx < flags.size(); ++idx) {
    const std::string& symbol = feeds[idx].instrument.symbol;
    if (order.status().message().rfind(symbol + " ", 0) == 0) {
      return InvalidArgument(flags[idx].where + ": " + order.status().message());
    }
  }
  return order.status();
}

namespace {

// Several feeds: each one's instrument from the catalogue; per-instrument flags would be
// ambiguous, so they are refused with the way to say the same per instrument.
Status ResolveFeedInstruments(const BacktestFlags& flags, ResolvedBacktest& resolved) {
  backtest::BacktestConfig& config = resolved.config;
  const std::vector<std::pair<const char*, bool>> single_only = {
      {"--ask-data (give SYMBOL=BID,ASK)", flags.ask_data.has_value()},
      {"--symbol", flags.symbol.has_value()},
      {"--digits", flags.digits.has_value()},
      {"--contract-size", flags.contract_size.has_value()},
      {"--lot-step", flags.lot_step.has_value()},
      {"--min-lots", flags.min_lots.has_value()},
      {"--max-lots", flags.max_lots.has_value()},
      {"--base", flags.base.has_value()},
      {"--quote", flags.quote.has_value()},
      {"--margin-rate", flags.margin_rate.has_value()}};
  for (const auto& [name, given] : single_only) {
    if (given) {
      return InvalidArgument(std::string(name) +
                             " applies to one instrument; with several data feeds each "
                             "instrument's values come from the catalogue (add rows with "
                             "--instruments FILE, docs/instruments.md)");
    }
  }
  AITS_ASSIGN_OR_RETURN(config.feeds, ResolveFeeds(flags.feeds, flags.instruments.value_or(""),
                                                   flags.format, &resolved.instrument_origin));
  // The single-feed fields describe the first traded feed, for logs and labels.
  for (const backtest::FeedConfig& feed : config.feeds) {
    if (feed.role != backtest::FeedRole::kTrade) continue;
    config.instrument = feed.instrument;
    config.data_path = feed.data_path;
    config.ask_path = feed.ask_path;
    break;
  }
  return Status::Ok();
}

// Every traded instrument's P&L must convert to the account currency through the feeds given.
Status CheckFeedConversions(const BacktestFlags& flags, const backtest::BacktestConfig& config) {
  return FeedOrder(flags.feeds, config.feeds, config.kernel.account_currency).status();
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
  AITS_RETURN_IF_ERROR(ParseDataItems(flags));
  if (!flags.config_path.empty()) AITS_RETURN_IF_ERROR(MergeYaml(flags.config_path, flags));
  if (flags.feeds.empty() && (!flags.data || flags.data->empty())) {
    return InvalidArgument(
        "no data file: give --data FILE or --data SYMBOL=FILE[,ASK_FILE] (or `data:` in the "
        "config file)");
  }
  ResolvedBacktest resolved;
  backtest::BacktestConfig& config = resolved.config;
  config.data_path = flags.data.value_or("");
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

  if (flags.feeds.empty()) {
    AITS_RETURN_IF_ERROR(ResolveOneInstrument(flags, resolved));
  } else {
    AITS_RETURN_IF_ERROR(ResolveFeedInstruments(flags, resolved));
  }

  config.strategy = flags.strategy.value_or("sma_cross");
  for (const std::string& item : flags.params) {
    AITS_ASSIGN_OR_RETURN(auto parsed, strategy::StrategyParams::Parse(item));
    for (const auto& [key, value] : parsed.values()) config.params.Set(key, value);
  }

  kernel::KernelConfig& kc = config.kernel;
  // The decision stack: what `aits paper --signal` trades, configured the same way.
  std::string signal;
  if (flags.signal) {
    if (flags.strategy && *flags.strategy != *flags.signal) {
      return InvalidArgument("--strategy " + *flags.strategy + " and --signal " + *flags.signal +
                             " both say what trades: give one (--signal trades through the "
                             "decision engine and the risk manager)");
    }
    signal = *flags.signal;
  } else if (config.strategy == "ml_ensemble") {
    signal = "ml_ensemble";
  }
  if (!signal.empty()) {
    config.strategy = signal;
    node::DecisionStack stack;
    AITS_ASSIGN_OR_RETURN(stack.decision, node::DecisionConfigFor(flags.decision));
    stack.options.client_id_prefix = "bt";
    if (signal == "ml_ensemble") {
      if (!config.params.values().empty()) {
        return InvalidArgument(
            "--param " + config.params.values().begin()->first +
            ": ml_ensemble takes no parameters; its trading rules are the decision: section of "
            "--config (buy_threshold, sell_threshold, close_threshold, min_confidence, sizing, "
            "lots, ...; docs/decision.md) and its limits the risk: section");
      }
      // The signal comes from the registry (ChooseBacktestModel, model_choice.h).
    } else {
      stack.signal = node::RuleSignalFactory(signal, config.params);
    }
    config.decision = std::move(stack);
    AITS_ASSIGN_OR_RETURN(kc.risk, node::RiskLimitsFor(flags.risk));
  } else if (!flags.decision.empty() || !flags.risk.empty()) {
    return InvalidArgument(std::string(flags.decision.empty() ? "risk:" : "decision:") +
                           " settings are for the decision stack (--signal NAME, or --strategy "
                           "ml_ensemble); the built-in strategy " +
                           config.strategy +
                           " trades without the decision engine and the risk manager");
  }
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
  if (config.feeds.empty() && traded.quote != kc.account_currency &&
      traded.base != kc.account_currency) {
    const std::string account(kc.account_currency.view());
    return InvalidArgument(traded.symbol + " is quoted in " + std::string(traded.quote.view()) +
                           " (" + resolved.instrument_origin + ") and the account is in " +
                           account +
                           ": a backtest of one instrument has no rate to convert its P&L; use "
                           "--currency " +
                           std::string(traded.quote.view()) + " (or --quote " + account +
                           " to take its prices as " + account + ")");
  }
  if (!config.feeds.empty()) AITS_RETURN_IF_ERROR(CheckFeedConversions(flags, config));
  if (flags.leverage) kc.leverage = *flags.leverage;
  if (flags.stop_out) kc.venue.stop_out_level = *flags.stop_out;
  if (flags.account_mode) {
    auto mode = ParseAccountMode(*flags.account_mode);
    if (!mode.ok()) return mode.status().WithContext("--account-mode");
    kc.venue.account_mode = *mode;
  }
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

}  // namespace aits::config
