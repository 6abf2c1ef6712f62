#include "aits/backtest/backtest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace aits::backtest {
namespace {

const std::string kData = AITS_SHARED_DATA_DIR;

BacktestConfig GbpUsd() {
  BacktestConfig config;
  config.data_path = kData + "/gbpusd-m1-bid-2012.csv";
  config.ask_path = kData + "/gbpusd-m1-ask-2012.csv";
  config.instrument = Instrument::Infer("GBPUSD");
  config.strategy = "sma_cross";
  config.params = *strategy::StrategyParams::Parse("fast=10,slow=30");
  config.kernel.venue.commission = *execution::ParseCommission("per_lot:7");
  return config;
}

// The bars the kernel saw (the ask file joined and repaired as the backtest reads it).
std::vector<Bar> ReadBars(const BacktestConfig& config) {
  data::ReadOptions options;
  options.ask_path = config.ask_path;
  options.price_precision = config.instrument.digits;
  auto source = data::OpenBars(config.data_path, options);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  std::vector<Bar> bars;
  if (!source.ok()) return bars;
  std::vector<Bar> batch(1024);
  while (true) {
    auto count = (*source)->Read(batch);
    EXPECT_TRUE(count.ok());
    if (!count.ok() || *count == 0) break;
    bars.insert(bars.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(*count));
  }
  return bars;
}

TEST(BacktestTest, RealGbpUsdBarsGiveAConsistentReport) {
  BacktestConfig config = GbpUsd();
  config.kernel.venue.slippage_points = 3;
  auto result = RunBacktest(config);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->bar_data);
  EXPECT_EQ(result->bars, 30'117u);
  EXPECT_EQ(result->read_stats.TotalRejected(), 0u);
  EXPECT_GT(result->stats.trades, 100);
  EXPECT_EQ(result->trades.size(), static_cast<size_t>(result->stats.trades));
  const std::vector<Bar> bars = ReadBars(config);
  ASSERT_EQ(bars.size(), 30'117u);

  // Bar data fill at the next bar's open: a market order decided on a bar's close fills at the
  // open of the first bar that closes after its arrival, buys at the ask and sells at the bid,
  // the slippage against the trader.
  const double slip = 3e-5;
  size_t bar_idx = 0;
  for (const Fill& fill : result->fills) {
    ASSERT_EQ(fill.reason, FillReason::kMarket);
    const Order& order = result->orders.at(fill.order_id.value - 1);
    ASSERT_EQ(order.id, fill.order_id);
    while (bar_idx < bars.size() && bars[bar_idx].CloseTime() <= order.arrives) ++bar_idx;
    ASSERT_LT(bar_idx, bars.size());
    const Bar& bar = bars[bar_idx];
    const double open =
        fill.side == Side::kBuy ? bar.ask.open.AsDouble() + slip : bar.bid.open.AsDouble() - slip;
    EXPECT_NEAR(fill.price.AsDouble(), open, 1e-9)
        << "order " << order.id.value << " fill at " << FormatIso8601(fill.ts);
  }

  // The ledger adds up, from the fills and the data alone: realised P&L of the closed lots
  // (average-price netting) + open P&L of what is left, marked at the last bar's close on the
  // side that would close it - every commission = final equity - initial balance.
  const double contract = static_cast<double>(config.instrument.contract_size);
  double lots = 0;  // signed, long > 0
  double avg = 0;
  double realised = 0;
  double commission = 0;
  for (const Fill& fill : result->fills) {
    const double delta = Sign(fill.side) * fill.quantity.AsDouble();
    const double price = fill.price.AsDouble();
    commission += fill.commission.AsDouble();
    if (lots == 0 || (lots > 0) == (delta > 0)) {
      avg =
          (avg * std::fabs(lots) + price * std::fabs(delta)) / (std::fabs(lots) + std::fabs(delta));
      lots += delta;
      continue;
    }
    const double closed = std::min(std::fabs(delta), std::fabs(lots));
    realised += (lots > 0 ? price - avg : avg - price) * closed * contract;
    const double left = lots + delta;
    if (std::fabs(left) < 1e-9) {
      lots = 0;
    } else {
      if ((left > 0) != (lots > 0)) avg = price;  // flipped: the rest opened at this fill
      lots = left;
    }
  }
  const Bar& last = bars.back();
  const double mark = lots > 0 ? last.bid.close.AsDouble() : last.ask.close.AsDouble();
  const double open_pnl = (lots > 0 ? mark - avg : avg - mark) * std::fabs(lots) * contract;
  const auto& s = result->stats;
  EXPECT_GT(commission, 0);
  EXPECT_NEAR(realised + open_pnl - commission,
              result->final_account.equity.AsDouble() - config.kernel.initial_balance.AsDouble(),
              0.01);
  EXPECT_NEAR(s.final_equity, result->final_account.equity.AsDouble(), 0.01);
  EXPECT_NEAR(s.total_commission, commission, 0.01);
  // The trade records carry the same realised P&L.
  double trade_gross = 0;
  for (const auto& trade : result->trades) trade_gross += trade.gross_pnl.AsDouble();
  EXPECT_NEAR(trade_gross, realised, 0.01);
  EXPECT_GE(s.max_drawdown, 0);
  EXPECT_LE(s.max_drawdown, 1);
}

TEST(BacktestTest, SameInputsSameResult) {
  auto first = RunBacktest(GbpUsd());
  auto second = RunBacktest(GbpUsd());
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->fills.size(), second->fills.size());
  EXPECT_EQ(first->final_account.equity, second->final_account.equity);
  EXPECT_EQ(MetricsJson(*first).size() > 0, true);
}

TEST(BacktestTest, TickDataRunsThroughBarsBuiltFromTicks) {
  BacktestConfig config;
  config.data_path = kData + "/usdjpy-ticks.csv";
  config.instrument = Instrument::Infer("USDJPY");
  config.params = *strategy::StrategyParams::Parse("fast=3,slow=8,lots=0.1");
  auto result = RunBacktest(config);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->bar_data);
  EXPECT_EQ(result->ticks + result->read_stats.TotalRejected(), 1'000u);
  EXPECT_GT(result->bars, 10u);
}

// The window passes exactly the bars (or ticks) in [start, end) and a strategy factory replaces
// the named built-in.
TEST(BacktestTest, TimeWindowAndStrategyFactory) {
  BacktestConfig config = GbpUsd();
  auto full = RunBacktest(config);
  ASSERT_TRUE(full.ok());
  config.start = FromCivil(2012, 2, 10, 0, 0, 0);
  config.end = FromCivil(2012, 2, 17, 0, 0, 0);
  config.strategy_factory = [](const Instrument& instrument) {
    return strategy::MakeStrategy("buy_and_hold", strategy::StrategyParams(), instrument);
  };
  auto window = RunBacktest(config);
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  EXPECT_GT(window->bars, 5'000u);
  EXPECT_LT(window->bars, full->bars / 2);
  EXPECT_GE(window->first.ns, config.start->ns);
  EXPECT_LE(window->last.ns, config.end->ns);
  ASSERT_FALSE(window->fills.empty());
  EXPECT_EQ(window->fills.size(), 1u);  // bought once, held
  EXPECT_EQ(window->fills[0].side, Side::kBuy);

  config.start = FromCivil(2030, 1, 1, 0, 0, 0);
  config.end.reset();
  auto empty = RunBacktest(config);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("within the time window"), std::string::npos);

  BacktestConfig ticks;
  ticks.data_path = kData + "/usdjpy-ticks.csv";
  ticks.instrument = Instrument::Infer("USDJPY");
  auto all_ticks = RunBacktest(ticks);
  ASSERT_TRUE(all_ticks.ok());
  ticks.start = Timestamp{all_ticks->first.ns + Duration::Minutes(5).ns};
  auto later = RunBacktest(ticks);
  ASSERT_TRUE(later.ok());
  EXPECT_LT(later->ticks, all_ticks->ticks);
  EXPECT_GE(later->first.ns, ticks.start->ns);
}

TEST(BacktestTest, ErrorsNameWhatIsWrong) {
  BacktestConfig config = GbpUsd();
  config.data_path = kData + "/does-not-exist.csv";
  auto missing = RunBacktest(config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("does-not-exist.csv"), std::string::npos);

  config = GbpUsd();
  config.strategy = "magic";
  EXPECT_NE(RunBacktest(config).status().message().find("magic"), std::string::npos);

  config = GbpUsd();
  config.kernel.leverage = 0;
  EXPECT_FALSE(RunBacktest(config).ok());
}

TEST(BacktestTest, WritesEveryOutputFile) {
  auto result = RunBacktest(GbpUsd());
  ASSERT_TRUE(result.ok());
  const std::string dir = ::testing::TempDir() + "/aits-backtest-out";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WriteBacktestOutputs(*result, dir).ok());
  std::ifstream in(dir + "/metrics.json");
  const auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc["run"]["bars_processed"], 30'117);
  EXPECT_EQ(doc["metrics"]["trades"], result->stats.trades);
  EXPECT_EQ(doc["run"]["orders"], result->orders.size());
  EXPECT_EQ(doc["run"]["fills"], result->fills.size());
  EXPECT_TRUE(doc["data"]["rejected"].contains("time_backwards"));
  const double final_equity = doc["account"]["final_equity"];
  EXPECT_NEAR(final_equity, result->final_account.equity.AsDouble(), 0.005);

  // One row per order and per trade, under a header.
  const auto rows = [&](const std::string& name) {
    std::ifstream file(dir + "/" + name);
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) lines.push_back(line);
    return lines;
  };
  const auto orders = rows("orders.csv");
  ASSERT_EQ(orders.size(), result->orders.size() + 1);
  EXPECT_EQ(orders[0].rfind("id,client_order_id,", 0), 0u);
  EXPECT_EQ(orders[1].rfind("1,", 0), 0u);
  // The venue's ticket of each order closes its row, after the columns readers already parse.
  EXPECT_NE(orders[0].find(",tag,venue_order_id"), std::string::npos) << orders[0];
  for (size_t row = 1; row < orders.size(); ++row) {
    const Order& order = result->orders[row - 1];
    const std::string last = orders[row].substr(orders[row].rfind(',') + 1);
    EXPECT_EQ(last, order.venue_order_id == 0 ? "" : std::to_string(order.venue_order_id))
        << orders[row];
    if (order.status == OrderStatus::kFilled) {
      EXPECT_GT(order.venue_order_id, 0u) << orders[row];
    }
  }
  EXPECT_EQ(rows("trades.csv").size(), result->trades.size() + 1);
  // The equity curve ends at the final equity; thinned, it can miss the deepest point but never
  // go deeper.
  const auto equity = rows("equity.csv");
  ASSERT_GT(equity.size(), 1000u);
  EXPECT_EQ(equity[0], "timestamp,equity,drawdown");
  double max_drawdown = 0;
  double last_equity = 0;
  for (size_t row = 1; row < equity.size(); ++row) {
    std::istringstream fields(equity[row]);
    std::string time, value, drawdown;
    ASSERT_TRUE(std::getline(fields, time, ',') && std::getline(fields, value, ',') &&
                std::getline(fields, drawdown, ','))
        << equity[row];
    last_equity = std::stod(value);
    max_drawdown = std::max(max_drawdown, std::stod(drawdown));
  }
  EXPECT_NEAR(last_equity, final_equity, 0.01);
  EXPECT_GT(max_drawdown, 0);
  EXPECT_LE(max_drawdown, result->stats.max_drawdown + 1e-6);
  // The report names the final equity and draws its charts inline.
  std::ifstream html_file(dir + "/report.html");
  const std::string html((std::istreambuf_iterator<char>(html_file)),
                         std::istreambuf_iterator<char>());
  std::ostringstream equity_text;
  equity_text.setf(std::ios::fixed);
  equity_text.precision(2);
  equity_text << final_equity;
  EXPECT_NE(html.find(equity_text.str()), std::string::npos) << equity_text.str();
  size_t svgs = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    ++svgs;
  }
  EXPECT_GE(svgs, 3u);
  // An unwritable directory is an error naming it.
  EXPECT_FALSE(WriteBacktestOutputs(*result, "/proc/aits-cannot-write").ok());
}

// GBP/USD (Feb 2012) and USD/JPY (Feb 2013) one-minute bid/ask bars in one run.
BacktestConfig GbpUsdAndUsdJpy() {
  BacktestConfig config = GbpUsd();
  FeedConfig gbpusd;
  gbpusd.instrument = Instrument::Infer("GBPUSD");
  gbpusd.data_path = kData + "/gbpusd-m1-bid-2012.csv";
  gbpusd.ask_path = kData + "/gbpusd-m1-ask-2012.csv";
  FeedConfig usdjpy;
  usdjpy.instrument = Instrument::Infer("USDJPY");
  usdjpy.data_path = kData + "/usdjpy-m1-bid-2013.csv";
  usdjpy.ask_path = kData + "/usdjpy-m1-ask-2013.csv";
  config.feeds = {gbpusd, usdjpy};
  return config;
}

BacktestConfig SingleOf(const FeedConfig& feed) {
  BacktestConfig config = GbpUsd();
  config.data_path = feed.data_path;
  config.ask_path = feed.ask_path;
  config.instrument = feed.instrument;
  config.instrument.id = InstrumentId{0};
  return config;
}

TEST(BacktestTest, SeveralInstrumentsTradeAsTheirSingleRunsDo) {
  const BacktestConfig config = GbpUsdAndUsdJpy();
  auto both = RunBacktest(config);
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  ASSERT_EQ(both->feeds.size(), 2u);
  EXPECT_EQ(both->bars, 30'117u + 28'761u);
  EXPECT_EQ(both->feeds[0].events, 30'117u);
  EXPECT_EQ(both->feeds[1].events, 28'761u);
  EXPECT_EQ(both->symbols, (std::vector<std::string>{"GBPUSD", "USDJPY"}));
  EXPECT_EQ(both->read_stats.rows, both->feeds[0].read_stats.rows + both->feeds[1].read_stats.rows);
  // The two histories do not overlap in time and sma_cross trades fixed lots, so each symbol's
  // trades are exactly those of its own single-instrument run (one strategy instance each).
  for (size_t feed = 0; feed < 2; ++feed) {
    auto single = RunBacktest(SingleOf(config.feeds[feed]));
    ASSERT_TRUE(single.ok()) << single.status().ToString();
    std::vector<portfolio::TradeRecord> mine;
    for (const auto& trade : both->trades) {
      if (trade.instrument.value == feed) mine.push_back(trade);
    }
    ASSERT_EQ(mine.size(), single->trades.size()) << config.feeds[feed].instrument.symbol;
    ASSERT_GT(mine.size(), 50u);
    for (size_t idx = 0; idx < mine.size(); ++idx) {
      EXPECT_EQ(mine[idx].entry_time, single->trades[idx].entry_time);
      EXPECT_EQ(mine[idx].entry_price, single->trades[idx].entry_price);
      EXPECT_EQ(mine[idx].exit_price, single->trades[idx].exit_price);
      EXPECT_EQ(mine[idx].net_pnl, single->trades[idx].net_pnl);
    }
  }
  // Per-symbol figures add up to the account's.
  const auto summaries = SummarizeBySymbol(*both);
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0].symbol, "GBPUSD");
  EXPECT_EQ(summaries[0].trades + summaries[1].trades, both->stats.trades);
  EXPECT_EQ(summaries[0].orders + summaries[1].orders, both->orders.size());
  const Money net = summaries[0].net_pnl + summaries[1].net_pnl;
  EXPECT_EQ(net, both->final_account.balance - config.kernel.initial_balance);
}

TEST(BacktestTest, SeveralInstrumentsWriteSymbolsIntoEveryOutput) {
  auto result = RunBacktest(GbpUsdAndUsdJpy());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const std::string dir = ::testing::TempDir() + "/aits-backtest-multi";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WriteBacktestOutputs(*result, dir).ok());
  std::ifstream in(dir + "/metrics.json");
  const auto doc = nlohmann::json::parse(in);
  ASSERT_EQ(doc["symbols"].size(), 2u);
  EXPECT_EQ(doc["symbols"][0]["symbol"], "GBPUSD");
  EXPECT_EQ(doc["symbols"][1]["symbol"], "USDJPY");
  EXPECT_EQ(doc["symbols"][1]["instrument"]["quote"], "JPY");
  EXPECT_EQ(doc["symbols"][0]["events"], 30'117);
  const int64_t trades =
      doc["symbols"][0]["trades"].get<int64_t>() + doc["symbols"][1]["trades"].get<int64_t>();
  EXPECT_EQ(trades, doc["metrics"]["trades"].get<int64_t>());
  const double net =
      doc["symbols"][0]["net_pnl"].get<double>() + doc["symbols"][1]["net_pnl"].get<double>();
  EXPECT_NEAR(net,
              doc["account"]["final_balance"].get<double>() -
                  doc["account"]["initial_balance"].get<double>(),
              0.01);
  EXPECT_FALSE(doc.contains("instrument"));
  std::map<std::string, size_t> by_symbol;
  std::ifstream trades_csv(dir + "/trades.csv");
  std::string line;
  std::getline(trades_csv, line);
  while (std::getline(trades_csv, line)) {
    const size_t first = line.find(',');
    const size_t second = line.find(',', first + 1);
    ++by_symbol[line.substr(second + 1, line.find(',', second + 1) - second - 1)];
  }
  EXPECT_EQ(by_symbol["GBPUSD"], doc["symbols"][0]["trades"].get<size_t>());
  EXPECT_EQ(by_symbol["USDJPY"], doc["symbols"][1]["trades"].get<size_t>());
  std::ifstream html_file(dir + "/report.html");
  const std::string html((std::istreambuf_iterator<char>(html_file)),
                         std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("USDJPY"), std::string::npos);
  EXPECT_NE(html.find("Net P&amp;L"), std::string::npos);
}

// Writes `rows` (time offset in seconds, bid, ask) as a csv-ticks file.
std::string TickFile(const std::string& name, const std::vector<std::string>& rows) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path);
  out << "timestamp,bid,ask\n";
  for (const auto& row : rows) out << row << "\n";
  return path;
}

TEST(BacktestTest, ConversionFeedConvertsAndIsNotTraded) {
  // EUR/GBP on a USD account, GBP/USD only for the rate; GBP/USD is given second but must be
  // registered first (its id 0) for the portfolio to resolve the conversion.
  FeedConfig eurgbp;
  eurgbp.instrument = Instrument::Infer("EURGBP");
  eurgbp.data_path = TickFile("eurgbp-ticks.csv", {"2020-01-06 00:00:00,0.85000,0.85010",
                                                   "2020-01-06 00:01:00,0.86000,0.86010",
                                                   "2020-01-06 00:02:00,0.86000,0.86010"});
  FeedConfig gbpusd;
  gbpusd.instrument = Instrument::Infer("GBPUSD");
  gbpusd.role = FeedRole::kConvert;
  gbpusd.data_path = TickFile("gbpusd-ticks.csv", {"2020-01-06 00:00:00,1.25000,1.25010",
                                                   "2020-01-06 00:01:00,1.29995,1.30005"});
  BacktestConfig config;
  config.strategy = "buy_and_hold";
  config.feeds = {eurgbp, gbpusd};
  auto result = RunBacktest(config);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->symbols, (std::vector<std::string>{"GBPUSD", "EURGBP"}));
  EXPECT_EQ(result->feeds[0].instrument.value, 1u);
  EXPECT_EQ(result->feeds[1].instrument.value, 0u);
  EXPECT_EQ(result->feeds[1].events, 2u);
  ASSERT_FALSE(result->orders.empty());
  for (const Order& order : result->orders) {
    EXPECT_EQ(order.request.instrument.value, 1u) << "the conversion feed was traded";
  }
  // buy_and_hold buys when the first bar finishes, at the 00:01 quote (ask 0.86010); marked at
  // the last bid 0.86000 the lot has lost 10 GBP (100,000 EUR x 0.0001), which the GBP/USD
  // feed's last mid 1.30000 makes 13.00 USD.
  EXPECT_EQ(result->fills.size(), 1u);
  EXPECT_NEAR(result->final_account.equity.AsDouble() - result->final_account.balance.AsDouble(),
              -13.0, 1e-6);

  // Without the conversion feed the error names the missing pair.
  config.feeds = {eurgbp};
  config.feeds.push_back(eurgbp);
  config.feeds[1].instrument = Instrument::Infer("USDJPY");
  auto missing = RunBacktest(config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("EURGBP is quoted in GBP"), std::string::npos)
      << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("GBPUSD"), std::string::npos);
  // The same symbol twice is an error, not two strategies on one instrument.
  config.feeds = {eurgbp, eurgbp};
  config.kernel.account_currency = Currency::Of("GBP");
  auto twice = RunBacktest(config);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("EURGBP has two feeds"), std::string::npos);
}

}  // namespace
}  // namespace aits::backtest
