#!/usr/bin/env bash
# Tick-to-order latency of `aits paper --speed max` (issue 4): a tick enters -> the kernel is done
# with it (any order it produced accepted by the simulated venue). Histograms come from aits
# itself (--latency-out): ticks_without_bar_close, ticks_with_bar_close (the signal steps, for
# ml_ensemble the whole ensemble including the LSTM/GRU Eigen step), and tick_to_order_* (tick in
# -> the venue accepted the first order it caused).
# Targets: p99 <= 20 us without a bar close, <= 100 us with one.
#
# Usage: bench/paper_latency.sh AITS_BINARY SHARED_DATA_DIR
#   env TICKS  ticks per paper run (default 1000000, the issue's minimum)
#       RUNS   repetitions of each run; medians are printed at the end (default 3)
#       WORK   working directory (default: a new temp dir, kept for inspection)
#       EPOCHS LSTM/GRU epochs of the benchmark model (default 1)
#
# It trains a small but complete ensemble (k-means, PCA, isolation forest, XGBoost 300 rounds,
# random forest, logistic, LSTM and GRU with hidden 64, window 30) on the shared GBP/USD M1 bars
# into a temp registry, then runs paper sessions on the synthetic market with --signal
# ml_ensemble and with --signal sma_cross (no neural net), and, for information only, on the real
# EURUSD tick file (9.5k ticks: far too short for the 1M-tick requirement).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 AITS_BINARY SHARED_DATA_DIR" >&2
  exit 2
fi
aits=$(realpath "$1")
data=$(realpath "$2")
ticks=${TICKS:-1000000}
runs=${RUNS:-3}
epochs=${EPOCHS:-1}
work=${WORK:-$(mktemp -d /tmp/aits-paper-latency.XXXXXX)}
mkdir -p "$work"
[[ -x "$aits" && -s "$aits" ]] || { echo "not an executable: $aits" >&2; exit 1; }
for file in gbpusd-m1-bid-2012.csv gbpusd-m1-ask-2012.csv; do
  [[ -r "$data/$file" ]] || { echo "missing $data/$file" >&2; exit 1; }
done
echo "work dir: $work"

# --- the model --------------------------------------------------------------------------------
registry="$work/models"
model="bench@1"  # by version: reachable even if the gate rejected it
if [[ ! -f "$registry/registry.sqlite" ]]; then
  cat >"$work/ml-bench.yaml" <<EOF
data:
  path: $data/gbpusd-m1-bid-2012.csv
  ask: $data/gbpusd-m1-ask-2012.csv
features:
  timeframes: M1,M5,M15,H1
label:
  horizon: 15m
  dead_zone: 0.0
split:
  train: 0.70
  validation: 0.15
xgboost:
  rounds: 300
  max_depth: 4
  eta: 0.05
random_forest:
  trees: 100
  max_depth: 8
lstm:
  hidden: 64
  window: 30
  epochs: $epochs
gru:
  hidden: 64
  window: 30
  epochs: $epochs
registry:
  dir: $registry
  name: bench
gate:
  metric: auc
  threshold: 0.0
seed: 42
EOF
  echo "== training the benchmark ensemble ($work/ml-bench.yaml)"
  start=$(date +%s.%N)
  "$aits" train --config "$work/ml-bench.yaml" >"$work/train.log" 2>&1 ||
    { tail -20 "$work/train.log" >&2; exit 1; }
  echo "trained in $(echo "$(date +%s.%N) - $start" | bc) s (log: $work/train.log)"
fi

# --- the paper runs ---------------------------------------------------------------------------
# run NAME ARGS...: one fresh paper session; prints wall time and the latency JSON.
run() {
  local name=$1
  shift
  local state="$work/$name"
  rm -rf "$state"
  local start end
  start=$(date +%s.%N)
  "$aits" paper "$@" --speed max --state "$state" --latency-out "$state.json" --quiet \
    >"$state.log" 2>&1 || { cat "$state.log" >&2; exit 1; }
  end=$(date +%s.%N)
  local wall
  wall=$(echo "$end - $start" | bc)
  echo "== $name: wall ${wall} s"
  cat "$state.json"
  echo
  echo "$wall" >"$state.wall"
}

# The benchmark model's scores are small (it is barely better than chance), so the ML runs use
# low thresholds to trade: the "order accepted" class then has ensemble steps in it too.
cat >"$work/ml-paper.yaml" <<'YAML'
decision:
  buy_threshold: 0.05
  sell_threshold: -0.05
  close_threshold: 0.01
  sizing: fixed_lots
  lots: 0.1
  scale_by_confidence: false
YAML
synthetic=(--feed synthetic --start 2024-01-08 --seed 3 --ticks "$ticks")
for ((i = 1; i <= runs; ++i)); do
  run "ml-$i" "${synthetic[@]}" --signal ml_ensemble --model "$model" --registry "$registry" \
    --config "$work/ml-paper.yaml"
  run "sma-$i" "${synthetic[@]}" --signal sma_cross
done
if [[ -r "$data/eurusd-ticks-2020-01-01.csv" ]]; then
  run "eurusd-ml" --feed "$data/eurusd-ticks-2020-01-01.csv" --signal ml_ensemble \
    --model "$model" --registry "$registry"
  run "eurusd-sma" --feed "$data/eurusd-ticks-2020-01-01.csv" --signal sma_cross
fi

# --- medians over the runs --------------------------------------------------------------------
python3 - "$work" "$runs" <<'EOF'
import json, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
targets = {"ticks_without_bar_close": 20.0, "ticks_with_bar_close": 100.0,
           "tick_to_order_without_bar_close": 20.0, "tick_to_order_with_bar_close": 100.0}
for signal in ("ml", "sma"):
    docs = [json.load(open(f"{work}/{signal}-{i}.json")) for i in range(1, runs + 1)]
    walls = [float(open(f"{work}/{signal}-{i}.wall").read()) for i in range(1, runs + 1)]
    print(f"== {signal}: median of {runs} runs, wall {statistics.median(walls):.2f} s")
    for cls in ("ticks_without_bar_close", "ticks_with_bar_close",
                "tick_to_order_without_bar_close", "tick_to_order_with_bar_close"):
        rows = [d[cls] for d in docs]
        med = {k: statistics.median(r[k] for r in rows)
               for k in ("count", "p50_us", "p99_us", "p999_us", "max_us")}
        line = (f"  {cls:32s} count {med['count']:>9.0f}  p50 {med['p50_us']:8.2f} us  "
                f"p99 {med['p99_us']:8.2f} us  p99.9 {med['p999_us']:8.2f} us  "
                f"max {med['max_us']:9.1f} us")
        if cls in targets:
            line += f"  p99/target {med['p99_us'] / targets[cls]:.2f}"
        print(line)
EOF
