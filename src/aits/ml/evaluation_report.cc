#include "aits/ml/evaluation_report.h"

#include <cmath>
#include <cstdio>

#include "aits/report/html_report.h"

namespace aits::ml {
namespace {

std::string Fixed(const nlohmann::json& value, int digits) {
  if (!value.is_number()) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, value.get<double>());
  return buf;
}

std::string Fixed(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, value);
  return buf;
}

std::string Percent(const nlohmann::json& value) {
  if (!value.is_number()) return "n/a";
  return Fixed(100.0 * value.get<double>(), 1) + " %";
}

const BaselineRun* FindRun(const EvaluationResult& result, const std::string& name) {
  for (const auto& run : result.backtests) {
    if (run.name == name) return &run;
  }
  return nullptr;
}

std::vector<report::SeriesPoint> Equity(const backtest::BacktestResult& run) {
  std::vector<report::SeriesPoint> out;
  out.reserve(run.equity.size());
  for (const auto& p : run.equity) out.push_back({p.ts, p.equity.AsDouble()});
  return out;
}

}  // namespace

std::vector<std::string> EvaluationSummary(const EvaluationResult& result) {
  std::vector<std::string> out;
  const nlohmann::json models = result.metrics.value("models", nlohmann::json::object());
  const nlohmann::json ensemble = models.value("ensemble", nlohmann::json::object());
  const double auc = ensemble.value("auc", nlohmann::json()).is_number()
                         ? ensemble["auc"].get<double>()
                         : std::nan("");
  std::string first = "Out of sample, over " + std::to_string(result.folds.size()) +
                      " walk-forward folds and " + std::to_string(ensemble.value("n", 0)) +
                      " labelled rows, the ensemble's AUC is " + Fixed(auc, 4);
  if (models.contains("logistic") &&
      models["logistic"].value("auc", nlohmann::json()).is_number()) {
    const double base = models["logistic"]["auc"].get<double>();
    first += std::string(auc > base ? " — above" : " — not above") +
             " the logistic-regression baseline's " + Fixed(base, 4);
  }
  first += std::isfinite(auc) && auc > 0.5 ? "; chance is 0.5." : "; no better than chance (0.5).";
  out.push_back(first);
  const BaselineRun* ml = FindRun(result, "ml_ensemble");
  if (ml != nullptr) {
    std::string second = "Traded after costs, the signal's net profit is " +
                         Fixed(ml->result.stats.net_profit, 2) + " " +
                         std::string(ml->result.final_account.currency.view()) + " over " +
                         std::to_string(ml->result.stats.trades) + " trades";
    for (const char* name : {"buy_and_hold", "sma_cross", "random_signal"}) {
      const BaselineRun* other = FindRun(result, name);
      if (other == nullptr) continue;
      second +=
          std::string("; ") + name + " " + Fixed(other->result.stats.net_profit, 2) + " (" +
          (ml->result.stats.net_profit > other->result.stats.net_profit ? "beaten" : "not beaten") +
          ")";
    }
    out.push_back(second + ".");
  }
  return out;
}

Status WriteEvaluationReport(const EvaluationResult& result, const std::string& path) {
  report::ReportData data;
  const std::string symbol = result.config.symbol.empty() ? "?" : result.config.symbol;
  data.title = "ml_ensemble walk-forward evaluation on " + symbol;
  data.subtitle = result.config.data_path + " · " + std::to_string(result.folds.size()) +
                  " folds · " + std::to_string(result.rows) + " feature rows";
  if (!result.scores.empty()) {
    data.subtitle += " · out of sample " + FormatIso8601(result.scores.front().time) + " .. " +
                     FormatIso8601(result.scores.back().time);
  }
  data.paragraphs = EvaluationSummary(result);
  const BaselineRun* ml = FindRun(result, "ml_ensemble");
  if (ml != nullptr) {
    data.equity_name = "ml_ensemble";
    data.equity = Equity(ml->result);
    for (const auto& p : ml->result.equity) data.drawdown.push_back({p.ts, p.drawdown});
    data.price = ml->result.prices;
    for (const auto& t : ml->result.trades) {
      data.trades.push_back({t.entry_time, t.entry_price.AsDouble(), t.exit_time,
                             t.exit_price.AsDouble(), t.side == Side::kBuy, t.net_pnl.AsDouble()});
    }
    data.notes = ml->result.warnings;
  }
  for (const auto& run : result.backtests) {
    if (run.name == "ml_ensemble") continue;
    data.comparison.push_back({run.name, Equity(run.result)});
  }
  for (const auto& bin : result.calibration) {
    if (bin.count == 0) continue;  // an empty bin has no rate to show
    data.calibration.push_back({bin.mean_predicted, bin.observed_rate, bin.count});
  }

  // One short card per model, run and fold, so values stay on one line.
  const nlohmann::json models = result.metrics.value("models", nlohmann::json::object());
  for (const auto& [name, m] : models.items()) {
    data.tables.emplace_back(name + " (out of sample)",
                             std::vector<std::pair<std::string, std::string>>{
                                 {"AUC", Fixed(m.value("auc", nlohmann::json()), 4)},
                                 {"accuracy", Percent(m.value("accuracy", nlohmann::json()))},
                                 {"precision", Percent(m.value("precision", nlohmann::json()))},
                                 {"recall", Percent(m.value("recall", nlohmann::json()))},
                                 {"log-loss", Fixed(m.value("log_loss", nlohmann::json()), 4)},
                                 {"rows", std::to_string(m.value("n", 0))}});
  }
  std::vector<std::pair<std::string, std::string>> ic;
  const nlohmann::json ic_values = result.metrics.value("ic", nlohmann::json::object());
  for (const auto& [name, v] : ic_values.items()) ic.emplace_back(name, Fixed(v, 4));
  data.tables.emplace_back("IC vs forward return (Spearman)", std::move(ic));
  for (const auto& run : result.backtests) {
    const auto& st = run.result.stats;
    data.tables.emplace_back("backtest: " + run.name,
                             std::vector<std::pair<std::string, std::string>>{
                                 {"net profit", Fixed(st.net_profit, 2)},
                                 {"return", Fixed(100 * st.total_return, 2) + " %"},
                                 {"Sharpe", Fixed(st.sharpe, 2)},
                                 {"max drawdown", Fixed(100 * st.max_drawdown, 2) + " %"},
                                 {"closed trades", std::to_string(st.trades)},
                                 {"commission", Fixed(st.total_commission, 2)}});
  }
  for (const auto& f : result.fold_metrics) {
    const nlohmann::json ens = f["models"].value("ensemble", nlohmann::json::object());
    data.tables.emplace_back("fold " + std::to_string(f.value("fold", 0)),
                             std::vector<std::pair<std::string, std::string>>{
                                 {"test from", f["test"].value("begin", "")},
                                 {"test to", f["test"].value("end", "")},
                                 {"train rows", std::to_string(f["train"].value("rows", 0))},
                                 {"ensemble AUC", Fixed(ens.value("auc", nlohmann::json()), 4)},
                                 {"accuracy", Percent(ens.value("accuracy", nlohmann::json()))}});
  }
  return report::WriteHtmlReport(data, path);
}

}  // namespace aits::ml
