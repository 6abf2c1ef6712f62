#!/usr/bin/env bash
# End-to-end tests of `aits retrain` (issue 13): a model trained on the first days of the real
# GBP/USD one-minute bars, retrained on the last rows of the days after — continued boosting of its
# XGBoost member (update) and every stage anew (full) — registered as a candidate whose parent is
# the model, scored with it on the same holdout; the same bytes twice; and bad input (too little
# data, an unknown model, a mode, a model without XGBoost, another feature set, a time) refused
# by name with the registry unchanged. XGBoost, a forest and the logistic baseline: seconds.
# Usage: retrain_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# config NAME LINES [XGBOOST]: the first LINES one-minute bars, the registry of the test.
config() {
  mkdir -p "$work/$1"
  head -n "$2" "$data/gbpusd-m1-bid-2012.csv" >"$work/$1/gbpusd-m1-bid.csv"
  head -n "$2" "$data/gbpusd-m1-ask-2012.csv" >"$work/$1/gbpusd-m1-ask.csv"
  cat >"$work/$1.yaml" <<YAML
data:
  path: $work/$1/gbpusd-m1-bid.csv
  ask: $work/$1/gbpusd-m1-ask.csv
xgboost:
  enabled: ${3:-true}
  rounds: 20
  max_depth: 3
xgboost_regressor:
  enabled: false
random_forest:
  trees: 8
  max_depth: 5
lstm:
  enabled: false
gru:
  enabled: false
anomaly:
  trees: 20
registry:
  dir: $work/models
  name: gbp_rt
gate:
  metric: auc
  threshold: 0.0
YAML
}
config old 6000
config new 9000
config noxgb 6000 false
sed -i 's/name: gbp_rt/name: no_xgb/' "$work/noxgb.yaml"

run "$aits" train --config "$work/old.yaml" --json
expect_code "train the source" "$code" 0
run "$aits" train --config "$work/noxgb.yaml" --json
expect_code "train a model without XGBoost" "$code" 0
retrain=("$aits" retrain --config "$work/new.yaml" --no-progress)

# --- help
run "$aits" retrain --help
expect_code "retrain --help" "$code" 0
for flag in --model --mode --rows --to --registry --json --quiet --no-progress --check; do
  expect_in "retrain --help" "$out" "$flag"
done

# --- bad input: a clear message, exit 2, the registry as it was
state() { ls -l "$work/models/models"; "$aits" models --registry "$work/models"; }
before=$(state)
run "${retrain[@]}" --model gbp_rt@1 --rows 50000
expect_code "too little data" "$code" 2
expect_in "too little data" "$out" "too little data to retrain: $work/new/gbpusd-m1-bid.csv has"
expect_in "too little data" "$out" "labelled rows (2012-02-"
expect_in "too little data" "$out" "50000 needed (--rows)"
run "${retrain[@]}" --model gbp_rt@1 --rows 3000 --to 2012-02-03
expect_code "too little data up to --to" "$code" 2
expect_in "too little data up to --to" "$out" "up to --to 2012-02-03T00:00:00Z"
run "${retrain[@]}" --model nope --rows 3000
expect_code "unknown model" "$code" 2
expect_in "unknown model" "$out" '"nope"'
run "${retrain[@]}" --model gbp_rt@1 --mode sideways
expect_code "unknown mode" "$code" 2
expect_in "unknown mode" "$out" "--mode 'sideways': update"
run "${retrain[@]}" --model no_xgb@1 --mode update --rows 3000
expect_code "update without XGBoost" "$code" 2
expect_in "update without XGBoost" "$out" "no_xgb@1 has none (members: random_forest,logistic); use --mode full"
run "${retrain[@]}" --model gbp_rt@1 --timeframes M1,M5,M15 --rows 3000
expect_code "another feature set" "$code" 2
expect_in "another feature set" "$out" "(timeframes M1,M5,M15, hash "
expect_in "another feature set" "$out" "is not the one gbp_rt@1 was trained on (hash "
run "${retrain[@]}" --model gbp_rt@1 --to yesterday
expect_code "a bad --to" "$code" 2
expect_in "a bad --to" "$out" "--to 'yesterday'"
run "${retrain[@]}" --model nope --registry "$work/models" --check
expect_code "--check with a registry finds the model" "$code" 2
expect_in "--check with a registry finds the model" "$out" '"nope"'
run "${retrain[@]}" --model gbp_rt@1 --rows 50000 --check
expect_code "--check stops before the data is read" "$code" 0
expect_eq "the registry after every refusal" "$(state)" "$before"

# --- update: a candidate of the model, its parent the model, both scored on one holdout
run "${retrain[@]}" --model gbp_rt --mode update --rows 3000 --json --quiet
expect_code "retrain --mode update" "$code" 0
echo "$out" | tail -n 1 >"$work/update.json"
expect_eq "update: the candidate" \
  "$(json "$work/update.json" 'd["model"]["name"] + "@" + str(d["model"]["version"]) + " " + d["model"]["status"]')" \
  "gbp_rt@2 candidate"
expect_eq "update: its parent" "$(json "$work/update.json" 'd["parent"]')" "gbp_rt@1"
expect_eq "update: gate metrics on the holdout" \
  "$(json "$work/update.json" '[type(d["metrics"][k]["auc"]).__name__ for k in ("validation", "baseline")]')" \
  "['float', 'float']"
expect_eq "update: the holdout at the window's end" \
  "$(json "$work/update.json" 'd["holdout"]["to"] == d["window"]["to"] and d["holdout"]["rows"] > 0')" "True"
run "$aits" models --registry "$work/models" --name gbp_rt
expect_eq "aits models lists the candidate" "$(awk '$2 == "gbp_rt" && $3 == 2 {print $4, $5}' <<<"$out")" \
  "ensemble candidate"
expect_eq "the source stays production" "$(awk '$2 == "gbp_rt" && $3 == 1 {print $5}' <<<"$out")" \
  "production"

# --- full, as text: every stage anew, the same baseline on the same holdout
run "${retrain[@]}" --model gbp_rt@1 --mode full --rows 3000
expect_code "retrain --mode full" "$code" 0
expect_in "full: what it did" "$out" "retrained gbp_rt@1 (full)"
expect_in "full: the baseline" "$out" "holdout, gbp_rt@1 (the baseline):"
expect_in "full: registered" "$out" "gbp_rt@3 (#"
expect_in "full: registered" "$out" "candidate, parent gbp_rt@1"

# --- the same inputs, the same bytes
run "${retrain[@]}" --model gbp_rt@1 --mode update --rows 3000 --json --quiet
expect_code "update again" "$code" 0
if cmp -s "$work/models/models/gbp_rt-v2-ensemble.bin" "$work/models/models/gbp_rt-v4-ensemble.bin"; then
  pass "update twice: the same model bytes"
else
  fail "update twice: the model files differ"
fi

finish retrain_cli_test
