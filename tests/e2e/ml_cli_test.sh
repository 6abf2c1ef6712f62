#!/usr/bin/env bash
# End-to-end tests of `aits train`, `aits evaluate`, `aits models` and
# `aits backtest --strategy ml_ensemble` on the first days of the real GBP/USD one-minute bid/ask
# bars, with small models so that the run takes seconds; and their errors for bad input. The
# registry is a directory, then a PostgreSQL database started by the script.
# Usage: ml_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
nats_pid=""
trap 'stop_postgres; stop_server "$nats_pid" "" TERM; rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

# --- backtest the registered model: the same feature engine runs live inside the kernel, and its
# score trades through the decision engine and the risk manager, as in a paper session.
cat >"$work/decide.yaml" <<'YAML'
decision:
  buy_threshold: 0.05
  sell_threshold: -0.05
  close_threshold: 0.01
  sizing: fixed_lots
  lots: 1
  scale_by_confidence: false
risk:
  base: defaults
  max_order_lots: 2
YAML
bt=("$aits" backtest --data "$work/gbpusd-m1-bid.csv" --ask-data "$work/gbpusd-m1-ask.csv"
    --strategy ml_ensemble --registry "$work/models")
out=$("${bt[@]}" --model gbp_test --config "$work/decide.yaml" --out "$work/bt" 2>&1); code=$?
expect_code "backtest ml_ensemble" "$code" 0
expect_in "backtest ml_ensemble" "$out" "model         gbp_test@1"
expect_in "backtest ml_ensemble" "$out" "signal -> decision engine -> risk manager"
[[ -f "$work/bt/report.html" ]] && pass "backtest report written" || fail "no backtest report"
decided=$("$python" - "$work/bt" <<'PY'
import csv, json, sys
m = json.load(open(sys.argv[1] + "/metrics.json"))
orders = list(csv.DictReader(open(sys.argv[1] + "/orders.csv")))
problems = []
if m["strategy"].get("stack") != "decision" or not m["strategy"].get("risk_manager"):
    problems.append(f"strategy {m['strategy']}")
if not m["strategy"].get("decisions", 0) > len(orders) > 0:
    problems.append(f"{m['strategy'].get('decisions')} decisions, {len(orders)} orders")
# The decision stack's orders carry client ids bt-1, bt-2, ... (the venue's stop-loss and
# take-profit closes carry none).
decided = [o for o in orders if o["client_order_id"]]
if not decided or any(not o["client_order_id"].startswith("bt-") for o in decided):
    problems.append("decision orders without the decision stack's client ids")
if any(float(o["quantity"]) > 2 for o in orders if o["status"] != "rejected"):
    problems.append("an accepted order above the risk limit of 2 lots")
print("; ".join(problems) or f"decision stack ({len(orders)} orders)")
PY
)
expect_in "ml backtest through the decision stack" "$decided" "decision stack"
out=$("${bt[@]}" --model gbp_test --signal ml_ensemble --config "$work/decide.yaml" --json 2>/dev/null); code=$?
expect_code "--signal ml_ensemble = --strategy ml_ensemble" "$code" 0
expect_eq "--signal ml_ensemble orders" "$("$python" -c 'import json,sys; print(json.load(sys.stdin)["run"]["orders"])' <<<"$out")" \
  "$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"]["orders"])' "$work/bt/metrics.json")"
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
printf 'decision:\n  buy_threshold: 2\n' >"$work/bad-threshold.yaml"
out=$("${bt[@]}" --model gbp_test --config "$work/bad-threshold.yaml" 2>&1); code=$?
expect_code "threshold out of range" "$code" 2
expect_in "threshold out of range" "$out" "buy_threshold"
printf 'decision:\n  buy_treshold: 0.1\n' >"$work/typo-decision.yaml"
out=$("${bt[@]}" --model gbp_test --config "$work/typo-decision.yaml" 2>&1); code=$?
expect_code "misspelt decision setting" "$code" 2
expect_in "misspelt decision setting" "$out" "buy_treshold"
# The model's old strategy parameters are refused with where their settings went.
out=$("${bt[@]}" --model gbp_test --param entry=0.1 2>&1); code=$?
expect_code "ml_ensemble parameter" "$code" 2
expect_in "ml_ensemble parameter" "$out" "decision: section"
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

# --- the registry on PostgreSQL (docs/ml.md, "On PostgreSQL"): `aits train` registers there,
# `aits models` lists it, a backtest trades from it.
if start_postgres; then
  pg="postgresql://aits@127.0.0.1:$pg_port/postgres"
  run "$aits" models --registry "$pg"
  expect_code "models on a PostgreSQL database without a registry" "$code" 2
  expect_in "models on a PostgreSQL database without a registry" "$out" "has no registry tables"
  out=$("$aits" train --config "$work/ml.yaml" --registry "$pg" 2>/dev/null); code=$?
  expect_code "train into PostgreSQL" "$code" 0
  expect_in "train into PostgreSQL" "$out" "gbp_test@1"
  expect_in "train into PostgreSQL" "$out" "production"
  run "$aits" models --registry "$pg"
  expect_code "models on PostgreSQL" "$code" 0
  for kind in ensemble xgboost random_forest logistic lstm gru xgboost_regressor; do
    expect_in "models list on PostgreSQL" "$out" " $kind "
  done
  run "$aits" backtest --data "$work/gbpusd-m1-bid.csv" --ask-data "$work/gbpusd-m1-ask.csv" \
    --strategy ml_ensemble --registry "$pg" --model gbp_test --config "$work/decide.yaml"
  expect_code "backtest from PostgreSQL" "$code" 0
  expect_in "backtest from PostgreSQL" "$out" "model         gbp_test@1"
  stop_postgres
fi

# --- evaluate: walk-forward report with baselines. The out-of-sample scores trade through the
# decision engine and the risk manager, configured by the decision: section (docs/ml.md).
decision_section() {  # decision_section BUY SELL CLOSE
  printf 'decision:\n  buy_threshold: %s\n  sell_threshold: %s\n  close_threshold: %s\n' "$@"
  printf '  sizing: fixed_lots\n  lots: 1\n  scale_by_confidence: false\n'
  printf '  stop_atr: 0\n  take_profit_atr: 0\n'
}
{ cat "$work/ml.yaml"; decision_section 0.05 -0.05 0.01; } >"$work/eval.yaml"
out=$("$aits" evaluate --config "$work/eval.yaml" --out "$work/eval" 2>/dev/null); code=$?
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
    if not bt["trades"] + bt["time_in_market"] > 0:
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
# Thresholds no score can pass: the ensemble never trades, and the baselines are untouched.
{ cat "$work/ml.yaml"; decision_section 1 -1 0; } >"$work/never.yaml"
out=$("$aits" evaluate --config "$work/never.yaml" --out "$work/never" 2>/dev/null); code=$?
expect_code "evaluate with unreachable thresholds" "$code" 0
expect_eq "ml_ensemble under unreachable thresholds (trades, time in market)" \
  "$(json "$work/never/metrics.json" 'd["backtests"]["ml_ensemble"]["trades"], d["backtests"]["ml_ensemble"]["time_in_market"]')" "0 0.0"
expect_eq "baselines do not depend on decision:" \
  "$(json "$work/never/metrics.json" '[d["backtests"][n]["net_profit"] for n in ("buy_and_hold", "sma_cross", "random_signal")]')" \
  "$(json "$work/eval/metrics.json" '[d["backtests"][n]["net_profit"] for n in ("buy_and_hold", "sma_cross", "random_signal")]')"
# The evaluation's old trading rule is gone, and says where it went.
{ cat "$work/ml.yaml"; printf 'backtest:\n  entry: 0.1\n'; } >"$work/old.yaml"
out=$("$aits" evaluate --config "$work/old.yaml" --out "$work/old" 2>&1); code=$?
expect_code "evaluate with backtest.entry" "$code" 2
expect_in "evaluate with backtest.entry" "$out" "old.yaml:$(($(wc -l <"$work/ml.yaml") + 2)): setting 'backtest.entry'"
expect_in "evaluate with backtest.entry" "$out" "decision: and risk: sections"

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

# --- the model watched live (docs/ml.md, "Watching a model live"): a paper session serving it
# shows on /metrics its inputs' and its score's drift against its training data and its record
# on the calls the market settled. The synthetic market is not the real one the model learnt
# (its volatility differs by far), so more than a fifth of the inputs have drifted (the
# condition of the AitsModelInputsDrifted alert), and the watch's verdict is "retrain", logged
# as a model_verdict event.
"$aits" paper --feed synthetic --symbol GBPUSD --start-price 1.58 --start 2012-02-06 --seed 4 \
  --speed 20000 --signal ml_ensemble --model gbp_test@1 --registry "$work/models" \
  --config "$work/paper.yaml" --session-id watch --state "$work/watched" --health 127.0.0.1:0 \
  --no-progress >"$work/watch.out" 2>"$work/watch.err" &
watch_pid=$!
port=$(health_port "$work/watch.err")
metric() { awk -v series="$1" '$1 == series { print $2 }' "$work/watch.metrics"; }
settled=""
retrain=""
for _ in $(seq 600); do  # the features warm up on a day and a half of bars first
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/watch.metrics" || break
  settled=$(metric 'aits_model_calls_settled_total{symbol="GBPUSD"}')
  window=$(metric 'aits_model_drift_window_bars{symbol="GBPUSD"}')
  retrain=$(metric 'aits_model_verdict{symbol="GBPUSD",verdict="retrain"}')
  [[ "$retrain" == "1" ]] && break
  sleep 0.2
done
kill -INT "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null
# The verdict's change is in the session's log, with its reason, and a replay makes it again.
expect_eq "the watch's verdict on /metrics" "$retrain" "1"
verdicts=$("$python" - "$work/watched/events.db" <<'PY'
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT payload FROM events WHERE type = 16 ORDER BY seq")
for (payload,) in rows:
    v = json.loads(payload)
    print(v["previous"], "->", v["verdict"], ":", v["reason"])
PY
)
# Decay or drift, whichever is known first (the calls settle before the drift window fills).
expect_in "model_verdict events in the log" "$verdicts" "warming_up -> retrain : "
grep -qE "retrain : (decay: live accuracy|drift: [0-9]+ of 68 inputs)" <<<"$verdicts" \
  && pass "the verdict's reason: ${verdicts#*: }" || fail "the verdict's reason: $verdicts"
out=$("$aits" replay --events "$work/watched" 2>&1); code=$?
expect_code "replay of the watched session" "$code" 0
expect_in "replay of the watched session" "$out" "identical"
if [[ -z "$settled" || "$settled" == "0" ]]; then
  fail "no settled call on /metrics: $(grep '^aits_model' "$work/watch.metrics" | head -20) $(cat "$work/watch.err")"
else
  pass "the watched model settled $settled calls over a window of $window bars"
  report=$(promtool check metrics <"$work/watch.metrics" 2>&1)
  expect_eq "promtool check metrics of the watched session" "$report" ""
  expect_in "validation accuracy served" "$(grep '^aits_model_validation_accuracy' "$work/watch.metrics")" 'symbol="GBPUSD"'
  accuracy=$(metric 'aits_model_live_accuracy{symbol="GBPUSD"}')
  "$python" -c "import sys; a=float(sys.argv[1]); sys.exit(0 if 0 <= a <= 1 else 1)" "$accuracy" \
    && pass "live accuracy $accuracy" || fail "live accuracy '$accuracy' is not a fraction"
  score_psi=$(metric 'aits_model_drift_psi{symbol="GBPUSD",feature="score"}')
  "$python" -c "import math,sys; sys.exit(0 if math.isfinite(float(sys.argv[1])) else 1)" "$score_psi" \
    && pass "the score's PSI $score_psi" || fail "the score's PSI '$score_psi' is not a number"
  inputs=$(grep '^aits_model_drift_psi{' "$work/watch.metrics" | grep -vc 'feature="score"')
  drifted=$(grep '^aits_model_drift_psi{' "$work/watch.metrics" | grep -v 'feature="score"' \
            | awk '$2 > 0.2' | wc -l)
  (( drifted * 5 > inputs )) && pass "$drifted of $inputs inputs drifted (PSI > 0.2)" \
    || fail "only $drifted of $inputs inputs drifted on a market unlike the model's"
fi

# --- the model's candidate made from recent data (docs/ml.md, "Retraining") and tried in shadow
# beside it ("Shadow trial"): the candidate scores every bar, never trades; when it has made 100
# calls the trial ends, its record and production's over the same bars are logged
# (model_shadow), kept in the registry, and the registry's shadow gate decides; its answer is
# logged as a model_promotion command. Replay makes the trial again, identical.
out=$("$aits" retrain --config "$work/ml.yaml" --registry "$work/models" --model gbp_test@1 \
      --mode update --rows 5000 --json --quiet 2>/dev/null); code=$?
expect_code "retrain: the candidate" "$code" 0
expect_eq "retrain: the candidate and its parent" \
  "$("$python" -c 'import json,sys; d=json.load(sys.stdin); print(d["model"]["name"], d["model"]["version"], d["model"]["status"], d["parent"])' <<<"$out")" \
  "gbp_test 2 candidate gbp_test@1"
shadowed=("$aits" paper --feed synthetic --symbol GBPUSD --start-price 1.58 --start 2012-02-06
          --seed 4 --ticks 250000 --speed max --signal ml_ensemble --model gbp_test@1
          --registry "$work/models" --config "$work/paper.yaml" --quiet)
out=$("${shadowed[@]}" --shadow gbp_test@2 --shadow-calls 100 --session-id shadow \
      --state "$work/shadowed" 2>&1); code=$?
expect_code "paper with a shadow candidate" "$code" 0
trial=$("$python" - "$work/shadowed/events.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
shadow = [json.loads(p) for (p,) in db.execute("SELECT payload FROM events WHERE type = 17")]
commands = [json.loads(p) for (p,) in db.execute("SELECT payload FROM events WHERE type = 9")]
promotions = [c for c in commands if c["command"] == "model_promotion"]
problems = []
if len(shadow) != 1:
    problems.append(f"{len(shadow)} model_shadow events")
else:
    s = shadow[0]
    r = s["record"]
    if (s["candidate"], s["production"]) != ("gbp_test@2", "gbp_test@1"):
        problems.append(f"models {s['candidate']}, {s['production']}")
    if r["state"] != "complete" or r["calls"] != 100 or r["bars"] < 100:
        problems.append(f"record {r}")
    if r["production"]["settled"] != r["settled"]:
        problems.append("the two models were not settled on the same bars")
if len(promotions) != 1:
    problems.append(f"{len(promotions)} model_promotion commands")
else:
    p = promotions[0]
    print(p["status"], p["passed"])
print("; ".join(problems) or "one trial, one promotion decision")
PY
)
expect_in "the shadow trial in the log" "$trial" "one trial, one promotion decision"
status=$(head -1 <<<"$trial" | cut -d' ' -f1)
passed=$(head -1 <<<"$trial" | cut -d' ' -f2)
# The registry holds what the log says: the candidate promoted (the served model archived) or
# rejected, its shadow record kept and audited.
out=$("$aits" models --registry "$work/models" --name gbp_test); code=$?
expect_code "models after the trial" "$code" 0
expect_in "the candidate's status in the registry" "$(grep -E '^ +[0-9]+ +gbp_test +2 ' <<<"$out")" " $status "
if [[ "$passed" == "True" ]]; then
  expect_in "the served model archived" "$(grep -E '^ +[0-9]+ +gbp_test +1 ' <<<"$out")" " archived "
else
  expect_in "the served model kept" "$(grep -E '^ +[0-9]+ +gbp_test +1 ' <<<"$out")" " production "
fi
kept=$("$python" - "$work/models/registry.sqlite" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(metrics,) = db.execute("SELECT metrics FROM models WHERE name = 'gbp_test' AND version = 2").fetchone()
shadow = json.loads(metrics).get("shadow", {})
actions = [a for (a,) in db.execute(
    "SELECT action FROM events WHERE model_id = (SELECT id FROM models WHERE name = 'gbp_test' AND version = 2) ORDER BY id")]
print(shadow.get("state"), shadow.get("calls"), " ".join(actions))
PY
)
expect_in "the shadow record in the registry" "$kept" "complete 100 register shadow"
out=$("$aits" models --registry "$work/models" --events gbp_test@2); code=$?
expect_code "models --events" "$code" 0
expect_in "models --events: the trial" "$out" "complete trial, 100 calls over"
expect_in "models --events: the audit" "$out" " shadow: complete trial over"
out=$("$aits" replay --events "$work/shadowed" 2>&1); code=$?
expect_code "replay of the shadowed session" "$code" 0
expect_in "replay of the shadowed session" "$out" "identical"
# Bad input: the served model as its own candidate, an unknown one, a rule signal.
out=$("${shadowed[@]}" --shadow gbp_test@1 --state "$work/bad-shadow" 2>&1); code=$?
expect_code "the served model in shadow" "$code" 2
expect_in "the served model in shadow" "$out" "the model the session serves"
out=$("${shadowed[@]}" --shadow gbp_test@9 --state "$work/bad-shadow" 2>&1); code=$?
[[ $code -ne 0 ]] && pass "an unknown shadow model fails" || fail "an unknown shadow model accepted"
expect_in "an unknown shadow model" "$out" "gbp_test@9"
out=$("$aits" paper --feed synthetic --symbol GBPUSD --ticks 1000 --shadow gbp_test@2 \
      --state "$work/bad-shadow" 2>&1); code=$?
expect_code "a shadow for a rule signal" "$code" 2
expect_in "a shadow for a rule signal" "$out" "--shadow is for --signal ml_ensemble"

# --- the same watch in the prediction role of `aits serve`, where the model is when the roles
# run apart: its /metrics shows the model's drift, live record and verdict.
start_nats "$work" || fail "nats-server"
paced=(--bus "$bus" --market watch --synthetic GBPUSD --ticks 0 --start 2012-02-06 --seed 4)
"$aits" serve --role ingestion "${paced[@]}" --speed 20000 --health off --json \
  >"$work/w-ingestion.json" 2>"$work/w-ingestion.err" &
w_ingestion=$!
"$aits" serve --role features,prediction "${paced[@]}" --signal ml_ensemble --model gbp_test@1 \
  --registry "$work/models" --health 127.0.0.1:0 --json \
  >"$work/w-stages.json" 2>"$work/w-stages.err" &
w_stages=$!
stages_port=$(health_port "$work/w-stages.err")
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$stages_port/metrics" >"$work/watch.metrics" || break
  [[ "$(metric 'aits_model_verdict{symbol="GBPUSD",verdict="warming_up"}')" == "0" ]] && break
  sleep 0.2
done
expect_eq "prediction role: the watch's verdict taken" \
  "$(metric 'aits_model_verdict{symbol="GBPUSD",verdict="warming_up"}')" "0"
expect_in "prediction role: the score's drift" "$(cat "$work/watch.metrics")" \
  'aits_model_drift_psi{symbol="GBPUSD",feature="score"} '
report=$(promtool check metrics <"$work/watch.metrics" 2>&1)
expect_eq "promtool check metrics of the prediction role" "$report" ""
kill -INT "$w_stages"; wait "$w_stages"
kill -INT "$w_ingestion"; wait "$w_ingestion"
expect_eq "prediction role: verdict changes in its summary" \
  "$(json "$work/w-stages.json" '[s.get("verdict_changes", 0) > 0 for s in d["stages"] if s["role"] == "prediction"]')" \
  "[True]"
stop_server "$nats_pid" "" TERM
nats_pid=""

# --- one node configuration, two modes: a backtest and a paper session of the model over the
# same tick file, with the same decision settings, make the same orders and end with the same
# balance (they build the same stack through the node builder).
"$aits" generate --ticks 500000 --symbol GBPUSD --start-price 1.58 --seed 4 \
  --out "$work/gbp-ticks.aitsbin" --no-progress >/dev/null 2>&1 || fail "generate ticks"
out=$("$aits" backtest --data "$work/gbp-ticks.aitsbin" --signal ml_ensemble --model gbp_test@1 \
      --registry "$work/models" --config "$work/paper.yaml" --json --no-progress 2>"$work/pbt.err"); code=$?
expect_code "backtest of the paper ticks" "$code" 0
bt_said=$("$python" -c 'import json,sys; m=json.load(sys.stdin); print("orders %d  fills %d  decisions %d  balance %.2f" % (m["run"]["orders"], m["run"]["fills"], m["strategy"]["decisions"], m["account"]["final_balance"]))' <<<"$out")
out=$("$aits" paper --feed "$work/gbp-ticks.aitsbin" --signal ml_ensemble --model gbp_test@1 \
      --registry "$work/models" --config "$work/paper.yaml" --speed max --session-id same \
      --state "$work/paper-file" --quiet 2>&1); code=$?
expect_code "paper of the same ticks" "$code" 0
paper_said=$(sed -nE 's/.*orders ([0-9]+)  fills ([0-9]+)  decisions ([0-9]+)  position [^ ]+  balance ([0-9.]+) .*/orders \1  fills \2  decisions \3  balance \4/p' <<<"$out")
paper_said=$("$python" -c 'import sys; w=sys.argv[1].split(); print("orders %s  fills %s  decisions %s  balance %.2f" % (w[1], w[3], w[5], float(w[7])))' "$paper_said")
expect_eq "backtest = paper (orders, fills, decisions, balance)" "$bt_said" "$paper_said"
[[ "$bt_said" != *"orders 0 "* ]] && pass "the shared ticks trade ($bt_said)" || fail "no orders on the shared ticks"
out=$("$aits" replay --events "$work/paper" 2>&1); code=$?
expect_code "replay ml_ensemble session" "$code" 0
expect_in "replay ml_ensemble session" "$out" "identical"

out=$("$aits" train --help); expect_in "train --help" "$out" "--config"
out=$("$aits" evaluate --help); expect_in "evaluate --help" "$out" "--folds"

finish ml_cli_test
