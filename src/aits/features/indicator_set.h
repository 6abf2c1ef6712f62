// IndicatorSet: a list of indicators built from a text spec and fed one bar at a time.
//
// Spec: comma-separated items, each `name[:param[:param...]]`, spaces around items ignored:
//   sma:N  ema:N  rsi:N  atr:N  stddev:N  mom:N  roc:N      one period each (required)
//   macd[:fast:slow:signal]                                  default 12:26:9
//   bbands[:N[:k]]                                           default 20:2
//   vwap                                                     no parameters
//   cross:fast:slow                                          crossover of SMA(fast) and SMA(slow)
// e.g. "sma:30,ema:30,rsi:14,atr:14,macd:12:26:9,bbands:20:2,stddev:20,mom:10,roc:10,vwap,
// cross:10:30". Periods are validated by the indicator classes (see indicators.h); the same column
// may not appear twice.
//
// Columns, in spec order (k printed in its shortest form: 2, 2.5):
//   sma_N ema_N rsi_N atr_N stddev_N mom_N roc_N vwap cross_F_S
//   macd_F_S_G macd_signal_F_S_G macd_hist_F_S_G
//   bb_upper_N_k bb_middle_N_k bb_lower_N_k bb_pctb_N_k
//
// Inputs taken from a Bar: the mid OHLC (Bar::mid). Single-input indicators use mid.close, ATR
// uses mid high/low/close, VWAP weighs the mid typical price (high + low + close) / 3 by
// Bar::volume and takes the session day from Bar::open_time. Crossover items compare SMA(fast)
// with SMA(slow) and give their first value one bar after SMA(slow) has one.
//
// Update() and Values() do no allocation once `out` has its size (pass the same vector each bar).
// Thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/features/indicators.h"
#include "aits/model/market.h"

namespace aits::features {

class IndicatorSet {
 public:
  // Errors name the item (its position and text) and the offending value.
  static Result<IndicatorSet> Parse(std::string_view spec);

  // One name per output, in the order Values() fills them.
  std::vector<std::string> ColumnNames() const { return columns_; }
  size_t ColumnCount() const { return columns_.size(); }

  void Update(const Bar& bar);
  // Resizes *out to ColumnCount(); nullopt for an output that is still warming up.
  void Values(std::vector<std::optional<double>>* out) const;
  void Reset();

 private:
  enum class Kind { kSma, kEma, kRsi, kAtr, kMacd, kBbands, kStdDev, kMom, kRoc, kVwap, kCross };
  struct CrossItem {
    Sma fast;
    Sma slow;
    Crossover cross;
  };
  struct Item {
    Kind kind;
    size_t index;   // into the vector of its kind
    size_t column;  // first output column
  };

  IndicatorSet() = default;

  std::vector<Item> items_;
  std::vector<std::string> columns_;
  std::vector<Sma> sma_;
  std::vector<Ema> ema_;
  std::vector<Rsi> rsi_;
  std::vector<Atr> atr_;
  std::vector<Macd> macd_;
  std::vector<Bollinger> bbands_;
  std::vector<StdDev> stddev_;
  std::vector<Momentum> mom_;
  std::vector<Roc> roc_;
  std::vector<Vwap> vwap_;
  std::vector<CrossItem> cross_;
};

}  // namespace aits::features
