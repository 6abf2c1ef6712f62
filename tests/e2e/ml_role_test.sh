#!/usr/bin/env bash
# End-to-end tests of the ml role over a real nats-server: `aits serve --role ml` runs the jobs
# that `aits ml submit` publishes (XGBoost-only training on a slice of the GBP/USD one-minute
# bars, seconds each, and a retrain of one), registers their models, answers /healthz and /readyz, dead-letters what is
# no job, reports a failing job with its reason, and, killed with SIGKILL mid-job (its aits-train
# with it), resumes: the job completes once. Submission errors name the field and value.
# Usage: ml_role_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits=$(realpath "$1"); data="$2"; python="$3"
work=$(mktemp -d)
role_pid=""
nats_pid=""
cleanup() {
  [[ -n "$role_pid" ]] && kill -9 "$role_pid" 2>/dev/null
  stop_server "$nats_pid" "" TERM
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_nats "$work" || { finish ml_role_test; exit 1; }
echo "nats-server at $bus"

# config NAME LINES ROUNDS FOREST_TREES: an XGBoost configuration on the first LINES one-minute
# bars (no LibTorch model; a random forest of FOREST_TREES trees unless 0)
config() {
  mkdir -p "$work/$1"
  head -n "$2" "$data/gbpusd-m1-bid-2012.csv" >"$work/$1/gbpusd-m1-bid.csv"
  head -n "$2" "$data/gbpusd-m1-ask-2012.csv" >"$work/$1/gbpusd-m1-ask.csv"
  local forest="  enabled: false"
  [[ "$4" != 0 ]] && forest="  trees: $4
  max_depth: 8"
  cat >"$work/$1.yaml" <<YAML
data:
  path: $work/$1/gbpusd-m1-bid.csv
  ask: $work/$1/gbpusd-m1-ask.csv
xgboost:
  rounds: $3
  max_depth: 6
xgboost_regressor:
  enabled: false
random_forest:
$forest
lstm:
  enabled: false
gru:
  enabled: false
anomaly:
  trees: 10
registry:
  name: gbp_role
gate:
  metric: auc
  threshold: 0.0
YAML
}
config quick 6000 10 0
# About 5 s: long enough to be killed mid-run.
config slow 20000 300 40
submit=("$aits" ml submit --bus "$bus")

# --- submission errors: checked before anything is published
run "${submit[@]}" --job-id j0 -- predict --config "$work/quick.yaml"
expect_code "unknown subcommand" "$code" "2"
expect_in "unknown subcommand" "$out" 'unknown subcommand "predict"'
run "${submit[@]}" --job-id j0 -- train --config "$work/quick.yaml" --data "$work/none.csv"
expect_code "missing data file" "$code" "2"
expect_in "missing data file" "$out" "$work/none.csv"
run "${submit[@]}" --job-id j0 -- train --config "$work/quick.yaml" --registry "$work/elsewhere"
expect_code "a job's own --registry" "$code" "2"
expect_in "a job's own --registry" "$out" "a job does not choose the registry"
run "${submit[@]}" --job-id a.b -- train --config "$work/quick.yaml"
expect_code "a bad job id" "$code" "2"
expect_in "a bad job id" "$out" "'a.b'"
run "${submit[@]}" --job-id j0 -- train --config "$work/quick.yaml" --epochs many
expect_code "a bad flag value" "$code" "2"
expect_in "a bad flag value" "$out" "many"
run "$aits" ml submit --bus nats://127.0.0.1:1 --job-id j0 -- train --config "$work/quick.yaml"
expect_in "unreachable bus" "$out" "nats://127.0.0.1:1"
run "$aits" ml status --bus "$bus" --job-id j0
expect_code "nothing was published" "$code" "2"
expect_in "nothing was published" "$out" "job j0: no events"

# --- the role: health, a job, its model
start_role() {
  "$aits" serve --role ml --bus "$bus" --registry "$work/models" --ack-wait 2 \
    --health 127.0.0.1:0 --json >"$work/role-$1.json" 2>"$work/role-$1.err" &
  role_pid=$!
}
start_role 1
expect_health "$work/role-1.err" '{"status":"ok","role":"ml"}'

# Relative paths are made absolute by the submitter: the role runs elsewhere.
submit_relative() {
  (cd "$work" && "$aits" ml submit --bus "$bus" --job-id j1 --wait --json --timeout 120 \
    -- train --config quick.yaml)
}
run submit_relative
expect_code "a job submitted and waited for" "$code" "0"
echo "$out" | tail -n 1 >"$work/j1.json"
expect_eq "j1: done" "$(json "$work/j1.json" 'd["event"]')" "done"
expect_eq "j1: model" "$(json "$work/j1.json" 'd["model"]["name"] + "@" + str(d["model"]["version"])')" \
  "gbp_role@1"
expect_eq "j1: metrics" "$(json "$work/j1.json" '"auc" in d["metrics"]["validation"]')" "True"
run "$aits" models --registry "$work/models" --name gbp_role
expect_in "the registry holds it" "$out" "gbp_role"
run "${submit[@]}" --job-id j1 -- train --config "$work/quick.yaml"
expect_code "j1 again" "$code" "1"
expect_in "j1 again" "$out" "job j1 has run already"

# --- a retrain job: the model j1 registered, retrained in the role's registry as a candidate
run "${submit[@]}" --job-id j1r --wait --json --timeout 120 \
  -- retrain --config "$work/quick.yaml" --model gbp_role@1 --mode update --rows 2000
expect_code "a retrain job submitted and waited for" "$code" "0"
echo "$out" | tail -n 1 >"$work/j1r.json"
expect_eq "j1r: the candidate" \
  "$(json "$work/j1r.json" 'd["event"] + " " + d["model"]["name"] + "@" + str(d["model"]["version"]) + " " + d["model"]["status"]')" \
  "done gbp_role@2 candidate"
expect_eq "j1r: its parent" "$(json "$work/j1r.json" 'd["parent"]')" "gbp_role@1"
run "${submit[@]}" --job-id j1s -- retrain --config "$work/quick.yaml" --model gbp_role --mode sideways
expect_code "a retrain job with a bad mode" "$code" "2"
expect_in "a retrain job with a bad mode" "$out" "--mode 'sideways'"

# --- what is no job: dead-lettered, counted, and the role goes on
run "$aits" bus publish --bus "$bus" --subject ml.default.jobs --id bad-1 'not json'
expect_code "a malformed job published" "$code" "0"
# --- a failing job: its reason (the data is no bars: aits-train's own error) comes back
printf 'this is,not,a bar file\n' >"$work/garbage.csv"
run "${submit[@]}" --job-id j2 --wait --timeout 120 -- train --config "$work/quick.yaml" \
  --data "$work/garbage.csv" --symbol GBPUSD
expect_code "a failing job" "$code" "1"
expect_in "a failing job's reason" "$out" "job j2 failed: "
expect_in "a failing job's reason" "$out" "garbage.csv"

# --- stopped by SIGINT: what it counted
kill -INT "$role_pid"
wait "$role_pid"
expect_code "the role stopped by SIGINT" "$?" "0"
role_pid=""
expect_eq "first role: done, failed, dead-lettered" \
  "$(json "$work/role-1.json" '(d["done"], d["failed"], d["dead_lettered"])')" "(2, 1, 1)"

# --- killed mid-job with SIGKILL: the training dies with it; restarted, the job completes once
start_role 2
run "${submit[@]}" --job-id j3 -- train --config "$work/slow.yaml"
expect_code "a long job submitted" "$code" "0"
for _ in $(seq 300); do
  [[ $("$aits" ml status --bus "$bus" --job-id j3 --json 2>/dev/null) == *'"event":"progress"'* ]] &&
    break
  sleep 0.1
done
kill -9 "$role_pid"
wait "$role_pid" 2>/dev/null
role_pid=""
sleep 0.5
if pgrep -f -- "aits-train train --config $work/slow.yaml" >/dev/null; then
  fail "the role's aits-train outlived it"
else
  pass "the role's aits-train died with it"
fi
run "$aits" ml status --bus "$bus" --job-id j3 --json
expect_in "j3 was running when killed" "$out" '"event":"progress"'
start_role 3
run "$aits" ml status --bus "$bus" --job-id j3 --wait --timeout 180 --quiet
expect_code "j3 completed after the restart" "$code" "0"
run "$aits" ml status --bus "$bus" --job-id j3 --events --json
echo "$out" >"$work/j3-events.json"
expect_eq "j3: one result" \
  "$(json "$work/j3-events.json" 'sum(e["event"] in ("done", "failed") for e in d)')" "1"
expect_eq "j3: done" "$(json "$work/j3-events.json" 'd[-1]["event"]')" "done"
expect_eq "j3: run again on the second delivery" \
  "$(json "$work/j3-events.json" 'max(e["attempt"] for e in d if e["event"] == "accepted")')" "2"
kill -INT "$role_pid"
wait "$role_pid"
role_pid=""
expect_eq "the restarted role: j3 done" "$(json "$work/role-3.json" 'd["done"]')" "1"
run "$aits" ml status --bus "$bus"
expect_in "status lists every job" "$out" "j1"
expect_in "status lists every job" "$out" "j3"

run "$aits" serve --role ml,prediction --bus "$bus"
expect_in "the ml role alone" "$out" "the ml role runs in a process of its own"
run "$aits" serve --role ml
expect_in "the ml role over the in-process bus" "$out" "give --bus nats://HOST:PORT"

finish ml_role_test
