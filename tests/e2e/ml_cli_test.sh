#!/usr/bin/env bash
# End-to-end tests of `aits train`, `aits evaluate`, `aits models` and
# `aits backtest --strategy ml_ensemble` on the first days of the real GBP/USD one-minute bid/ask
# bars, with small models so that the run takes seconds; and their errors for bad input.
# Usage: ml_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
expect_in() { if grep -qF -- "$3" <<<"$2"; then pass "$1 mentions '$3'"; else fail "$1: '$3' not in: $2"; fi; }
expect_code() { if [[ "$2" == "$3" ]]; then pass "$1 exit $3"; else fail "$1: exit $2, expected $3"; fi; }

head -n 9000 "$data/gbpusd-m1-bid-2012.csv" >"$work/gbpusd-m1-bid.csv"
head -n 9000 "$data/gbpusd-m1-ask-2012.csv" >"$work/gbpusd-m1-ask.csv"
cat >"$work/ml.yaml" <<YAML
data:
  path: $work/gbpusd-m1-bid.csv
  ask: $work/gbpusd-m1-ask.csv
walk_forward:
  folds: 2
xgboost:
  rounds: 20
  max_depth: 3
xgboost_regressor:
  rounds: 10
random_forest:
  trees: 8
  max_depth: 5
lstm:
  hidden: 8
  window: 10
  epochs: 1
gru:
  hidden: 8
  window: 10
  epochs: 1
anomaly:
  trees: 20
registry:
  dir: $work/models
  name: gbp_test
gate:
  metric: auc
  threshold: 0.0
YAML

# --- train: registers the ensemble and its members; a gate of AUC > 0 passes.
out=$("$aits" train --config "$work/ml.yaml" 2>"$work/train.err"); code=$?
expect_code "train" "$code" 0
expect_in "train output" "$out" "gbp_test@1"
expect_in "train output" "$out" "production"
expect_in "train output" "$out" "validation:"
expect_in "train output" "$out" "ensemble"
expect_in "train progress" "$(cat "$work/train.err")" "stage 3: LSTM"
expect_in "train progress" "$(cat "$work/train.err")" "epoch    1"

out=$("$aits" models --registry "$work/models"); code=$?
expect_code "models" "$code" 0
for kind in ensemble xgboost random_forest logistic lstm gru xgboost_regressor; do
  expect_in "models list" "$out" " $kind "
done

# --- backtest the registered model: the same feature engine runs live inside the kernel.
bt=("$aits" backtest --data "$work/gbpusd-m1-bid.csv" --ask-data "$work/gbpusd-m1-ask.csv"
    --strategy ml_ensemble --registry "$work/models")
out=$("${bt[@]}" --model gbp_test --param entry=0.05 --out "$work/bt" 2>&1); code=$?
expect_code "backtest ml_ensemble" "$code" 0
expect_in "backtest ml_ensemble" "$out" "model         gbp_test@1"
[[ -f "$work/bt/report.html" ]] && pass "backtest report written" || fail "no backtest report"
expect_in "in-sample warning" "$out" "covers rows the model was trained on"
out=$("${bt[@]}" --model latest --from 2012-02-07 2>&1); code=$?
expect_code "backtest --model latest --from" "$code" 0
expect_in "backtest --from" "$out" "period        2012-02-07 00:00:00"
out=$("${bt[@]}" --model latest --from 2012-02-30 2>&1); code=$?
expect_code "impossible --from date" "$code" 2
expect_in "impossible --from date" "$out" "2012-02-30"
out=$("${bt[@]}" --model nope 2>&1); code=$?
[[ $code -ne 0 ]] && pass "unknown model fails" || fail "unknown model accepted"
expect_in "unknown model" "$out" "nope"
out=$("${bt[@]}" --model gbp_test --param entry=2 2>&1); code=$?
expect_code "entry out of range" "$code" 2
expect_in "entry out of range" "$out" "entry"
out=$("${bt[@]}" --model gbp_test --param enrty=0.1 2>&1); code=$?
expect_code "misspelt parameter" "$code" 2
expect_in "misspelt parameter" "$out" "enrty"
out=$("$aits" backtest --data "$work/gbpusd-m1-bid.csv" --model gbp_test 2>&1); code=$?
expect_code "--model without ml_ensemble" "$code" 2
# A corrupt model file is detected by its checksum, naming the file.
model_file=$(ls "$work"/models/models/gbp_test-v1-*.bin | head -1)
cp "$model_file" "$work/saved.bin"
printf 'XXXX' | dd of="$model_file" bs=1 seek=100 conv=notrunc status=none
out=$("${bt[@]}" --model gbp_test 2>&1); code=$?
[[ $code -ne 0 ]] && pass "corrupt model refused" || fail "corrupt model accepted"
expect_in "corrupt model" "$out" "gbp_test-v1"
cp "$work/saved.bin" "$model_file"

# A model that fails its gate is rejected: `latest` never picks it, NAME@VERSION still does.
sed 's/threshold: 0.0/threshold: 1.0/' "$work/ml.yaml" >"$work/strict.yaml"
out=$("$aits" train --config "$work/strict.yaml" --registry "$work/strict" 2>/dev/null); code=$?
expect_code "train with an impossible gate" "$code" 0
expect_in "train with an impossible gate" "$out" "rejected"
strict_bt=("$aits" backtest --data "$work/gbpusd-m1-bid.csv" --ask-data "$work/gbpusd-m1-ask.csv"
           --strategy ml_ensemble --registry "$work/strict")
out=$("${strict_bt[@]}" --model latest 2>&1); code=$?
[[ $code -ne 0 ]] && pass "latest skips rejected models" || fail "latest picked a rejected model"
expect_in "latest with only rejected models" "$out" "rejected by their gate: gbp_test@1"
out=$("${strict_bt[@]}" --model gbp_test@1 2>&1); code=$?
expect_code "rejected model by version" "$code" 0

# --- evaluate: walk-forward report with baselines.
out=$("$aits" evaluate --config "$work/ml.yaml" --out "$work/eval" 2>/dev/null); code=$?
expect_code "evaluate" "$code" 0
expect_in "evaluate" "$out" "out of sample"
for name in ml_ensemble buy_and_hold sma_cross random_signal; do
  expect_in "evaluate backtests" "$out" "$name"
done
# The outputs parse and agree: one scores.csv row per scored row, in time order, scores and
# confidences in range; two folds; AUCs in [0, 1]; a backtest per baseline that traded.
evaluation=$("$python" - "$work/eval" <<'PY'
import csv, json, math, sys
out = sys.argv[1]
m = json.load(open(out + "/metrics.json", encoding="utf-8"))
scores = list(csv.DictReader(open(out + "/scores.csv")))
problems = []
oos = m["out_of_sample"]
if len(scores) != oos["rows_scored"] or not scores:
    problems.append(f"scores.csv has {len(scores)} rows, rows_scored {oos['rows_scored']}")
if any(a["time"] >= b["time"] for a, b in zip(scores, scores[1:])):
    problems.append("scores.csv is not in time order")
if not all(-1 <= float(r["score"]) <= 1 and 0 <= float(r["confidence"]) <= 1 for r in scores):
    problems.append("a score or confidence out of range")
if len(m["folds"]) != 2:
    problems.append(f"{len(m['folds'])} folds, 2 configured")
for name, model in oos["models"].items():
    if not (isinstance(model.get("auc"), float) and 0 <= model["auc"] <= 1):
        problems.append(f"{name} AUC {model.get('auc')}")
if not 0 < oos["rows_labelled"] <= oos["rows_scored"] <= m["rows"]:
    problems.append(f"rows labelled {oos['rows_labelled']}, scored {oos['rows_scored']}, total {m['rows']}")
if sorted(m["backtests"]) != ["buy_and_hold", "ml_ensemble", "random_signal", "sma_cross"]:
    problems.append(f"backtests {sorted(m['backtests'])}")
for name, bt in m["backtests"].items():
    if name != "ml_ensemble" and not bt["trades"] + bt["time_in_market"] > 0:
        problems.append(f"{name} never traded")
    if not math.isfinite(bt["net_profit"]):
        problems.append(f"{name} net profit {bt['net_profit']}")
print("; ".join(problems) or f"consistent ({len(scores)} scores)")
PY
)
expect_in "evaluate metrics.json and scores.csv" "$evaluation" "consistent"
html=$(cat "$work/eval/report.html")
expect_in "evaluate report" "$html" "fold 2"
expect_in "evaluate report" "$html" "random_signal"

# --- bad configuration and data.
printf 'xgboost:\n  rounds: 10\n  depth: 3\n' >"$work/typo.yaml"
out=$("$aits" train --config "$work/typo.yaml" --data "$work/gbpusd-m1-bid.csv" 2>&1); code=$?
expect_code "unknown key" "$code" 2
expect_in "unknown key" "$out" "xgboost.depth"
expect_in "unknown key" "$out" "line 3"
out=$("$aits" train --data "$work/missing.csv" --registry "$work/m2" 2>&1); code=$?
[[ $code -ne 0 ]] && pass "missing data fails" || fail "missing data accepted"
expect_in "missing data" "$out" "missing.csv"
head -n 300 "$work/gbpusd-m1-bid.csv" >"$work/tiny.csv"
# Too little data is a clean error (exit 2, not a signal), saying why.
out=$("$aits" train --data "$work/tiny.csv" --symbol GBPUSD --registry "$work/m3" 2>&1); code=$?
expect_code "too little data for the warm-up" "$code" 2
expect_in "too little data for the warm-up" "$out" "within the warm-up"
head -n 2150 "$work/gbpusd-m1-bid.csv" >"$work/small.csv"
out=$("$aits" train --data "$work/small.csv" --symbol GBPUSD --registry "$work/m4" 2>&1); code=$?
expect_code "too little data to validate" "$code" 2
expect_in "too little data to validate" "$out" "removes every row of the validation segment"
out=$("$aits" train --config "$work/ml.yaml" --timeframes M5,M1 2>&1); code=$?
expect_code "bad timeframes" "$code" 2
expect_in "bad timeframes" "$out" "M1"
# --- paper trading with the ensemble as the signal: the decision records carry the models'
# outputs, the regime and the XGBoost member's top feature contributions; replay is exact.
cat >"$work/paper.yaml" <<'YAML'
decision:
  buy_threshold: 0.02
  sell_threshold: -0.02
  close_threshold: 0.005
  sizing: fixed_lots
  lots: 0.1
  scale_by_confidence: false
YAML
out=$("$aits" paper --feed synthetic --symbol GBPUSD --start-price 1.58 --start 2012-02-06 --seed 4 \
      --ticks 250000 --speed max --signal ml_ensemble --model gbp_test@1 --registry "$work/models" \
      --config "$work/paper.yaml" --session-id ml --state "$work/paper" --quiet 2>&1); code=$?
expect_code "paper ml_ensemble" "$code" 0
expect_in "paper ml_ensemble" "$out" "feed ended after 250000 new ticks"
out=$("$aits" explain 1 --state "$work/paper" --json 2>&1); code=$?
expect_code "explain an ml_ensemble order" "$code" 0
expect_in "explain: model outputs" "$out" '"xgboost"'
expect_in "explain: regime" "$out" '"regime_name"'
expect_in "explain: feature contributions" "$out" '"top_features"'
expect_in "explain: contribution values" "$out" '"contribution"'
out=$("$aits" replay --events "$work/paper" 2>&1); code=$?
expect_code "replay ml_ensemble session" "$code" 0
expect_in "replay ml_ensemble session" "$out" "identical"

out=$("$aits" train --help); expect_in "train --help" "$out" "--config"
out=$("$aits" evaluate --help); expect_in "evaluate --help" "$out" "--folds"

if ((failures > 0)); then
  echo "ml_cli_test: $failures failure(s)"
  exit 1
fi
echo "ml_cli_test: all passed"
