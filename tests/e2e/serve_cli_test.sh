#!/usr/bin/env bash
# End-to-end test of `aits serve` (docs/services.md): a paper session split in two processes over
# a real nats-server — the ingestion role publishing two synthetic feeds to the MARKET stream,
# the account's owner trading them — ends as the embedded `aits paper` session does; its log
# replays; it stops and resumes from the stream; /healthz and /readyz answer; bad roles, buses
# and a missing ingestion are clear errors. The five-process run writes its features and
# predictions to a real Redis as well (--redis), and ends the same; a Redis away is no error.
# Its owner keeps its trades, and its features role its bars and feature rows, in a real
# PostgreSQL (--trades, --bars, --offline-features): the trades those of the embedded run (kept
# in SQLite), every bar and row once, also after a restart of either.
# The features and prediction roles' /metrics has their readers' lag, and every aits_bus_ metric
# the alerting rules read.
# Usage: serve_cli_test.sh AITS_BINARY PYTHON RULES_YML
set -uo pipefail
aits="$1"; python="$2"; rules="$3"
work=$(mktemp -d)
nats_pid=""
cleanup() {
  [[ -n "$nats_pid" ]] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
  stop_redis
  stop_postgres
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_nats "$work" || { finish serve_cli_test; exit 1; }
echo "nats-server at $bus"

# same_as WHAT A.json B.json KEY...: one interpreter start compares every key.
same_as() {
  local what="$1" a="$2" b="$3"; shift 3
  local differ
  # An unreadable summary is a difference, not silence.
  differ=$("$python" - "$a" "$b" "$@" 2>&1 <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
print("; ".join(f"{k}: {a.get(k)} vs {b.get(k)}" for k in sys.argv[3:] if a.get(k) != b.get(k)))
PY
) || differ="a summary is not JSON: ${differ##*$'\n'}"
  if [[ -z "$differ" ]]; then pass "$what: $* equal"; else fail "$what: $differ"; fi
}

session=(--synthetic EURUSD,GBPUSD --ticks 40000 --start 2024-01-08 --seed 3
         --params fast=3,slow=8 --commission per_lot:7)
owner_roles=features,prediction,decision,risk,execution

# The same session, embedded and split.
"$aits" paper "${session[@]}" --speed max --state "$work/embedded" --quiet --json \
  --trades "$work/embedded-trades.db" >"$work/embedded.json" || fail "aits paper"
"$aits" serve --role ingestion --bus "$bus" "${session[@]}" --speed max --json --health off \
  >"$work/ingestion.json" 2>"$work/ingestion.err" &
ingestion_pid=$!
"$aits" serve --role "$owner_roles" --bus "$bus" "${session[@]}" --state "$work/split" --json \
  --health off >"$work/split.json" 2>"$work/split.err"
expect_code "owner role" "$?" "0" "$work/split.err"
wait "$ingestion_pid"
expect_code "ingestion role" "$?" "0" "$work/ingestion.err"
expect_eq "ingestion: ticks published" "$(json "$work/ingestion.json" 'd["ticks"]')" "80000"
expect_eq "ingestion: feeds" "$(json "$work/ingestion.json" '",".join(f["subject"] for f in d["feeds"])')" \
  "md.default.EURUSD,md.default.GBPUSD"
same_as "split session as embedded" "$work/split.json" "$work/embedded.json" \
  ticks orders fills decisions position balance equity breaker
[[ $(json "$work/split.json" 'd["fills"]') -gt 5 ]] && pass "the session traded" || fail "no fills"
expect_eq "the owner measured the market's delay over the bus" \
  "$(json "$work/split.json" 'd["market"]["messages"] > 50, d["market"]["delay_p50_us"] > 0')" \
  "True True"
run "$aits" replay --events "$work/split"
expect_code "replay of the split session" "$code" "0"
expect_in "replay" "$out" "equal"

# Four processes: ingestion (its feeds are on the stream from above), features, prediction, and
# the owner deciding on the predictions it reads back (ADR 0007). The same log again.
"$aits" serve --role features --bus "$bus" "${session[@]}" --json --health off \
  >"$work/features.json" 2>"$work/features.err" &
features_pid=$!
"$aits" serve --role prediction --bus "$bus" "${session[@]}" --json --health off \
  >"$work/prediction.json" 2>"$work/prediction.err" &
prediction_pid=$!
"$aits" serve --role decision,risk,execution --bus "$bus" "${session[@]}" --state "$work/four" \
  --json --health off >"$work/four.json" 2>"$work/four.err"
expect_code "owner of four processes" "$?" "0" "$work/four.err"
wait "$features_pid"
expect_code "features role" "$?" "0" "$work/features.err"
wait "$prediction_pid"
expect_code "prediction role" "$?" "0" "$work/prediction.err"
same_as "four processes as embedded" "$work/four.json" "$work/embedded.json" \
  ticks orders fills decisions position balance equity breaker
expect_eq "features role: both symbols to their feeds' end" \
  "$(json "$work/features.json" '",".join(s["symbol"] for s in d["stages"] if s["ended"])')" \
  "EURUSD,GBPUSD"
expect_eq "prediction role: a prediction per feature row, nothing dead-lettered" \
  "$(json "$work/prediction.json" 'all(s["outputs"] == s["inputs"] > 100 and s["dead_lettered"] == 0 for s in d["stages"])')" \
  "True"
expect_eq "the owner took a prediction per bar" \
  "$(json "$work/four.json" 'd["predictions"]["bars"] > 100, d["predictions"]["dead_lettered"]')" \
  "True 0"
run "$aits" replay --events "$work/four"
expect_code "replay of the four-process session" "$code" "0"
# (The session ids differ: by default each names its process, "p<pid>".)
run "$aits" explain 3 --events "$work/four" --json
four_explained=$(sed -E 's/"p[0-9]+-/"SESSION-/g' <<<"$out")
run "$aits" explain 3 --events "$work/embedded" --json
expect_eq "order 3's decision record, four processes vs embedded" "$four_explained" \
  "$(sed -E 's/"p[0-9]+-/"SESSION-/g' <<<"$out")"

# Every role its own process, at once: ingestion, features, two prediction replicas sharing
# the symbols, decision, and the owner (risk,execution) asking the decision role at each bar
# close (ADR 0007, decision 4). Every role but ingestion writes to Redis too (the rows, the
# predictions, each symbol's last decision, the session's state), which changes nothing of the
# session.
start_redis || exit 1
start_postgres || exit 1
psql_at() { psql -h 127.0.0.1 -p "$pg_port" -U aits -At -d "$1" -c "$2"; }
psql_at postgres "CREATE DATABASE five" >/dev/null
psql_at postgres "CREATE DATABASE parts" >/dev/null
records="postgresql://aits@127.0.0.1:$pg_port/five"
five=()
for role in ingestion features prediction:EURUSD prediction:GBPUSD decision; do
  extra=()
  [[ $role == ingestion ]] && extra=(--speed max)
  [[ $role == *:* ]] && extra=(--symbols "${role#*:}")
  [[ $role != ingestion ]] && extra+=(--redis "127.0.0.1:$redis_port")
  [[ $role == features ]] && extra+=(--bars "$records" --offline-features "$records")
  "$aits" serve --role "${role%%:*}" --market five --bus "$bus" "${session[@]}" "${extra[@]}" \
    --json --health off >"$work/five-$role.json" 2>"$work/five-$role.err" &
  five+=($!)
done
"$aits" serve --role risk,execution --market five --bus "$bus" "${session[@]}" \
  --redis "127.0.0.1:$redis_port" --state "$work/five" --trades "$records" --json --health off \
  >"$work/five.json" 2>"$work/five.err"
expect_code "owner of five processes" "$?" "0"
for idx in 0 1 2 3 4; do
  wait "${five[$idx]}"
  expect_code "six processes: role $idx" "$?" "0"
done
expect_eq "each prediction replica predicted its own symbol" \
  "$(json "$work/five-prediction:EURUSD.json" '",".join(s["symbol"] for s in d["stages"])') $(json "$work/five-prediction:GBPUSD.json" '",".join(s["symbol"] for s in d["stages"])')" \
  "EURUSD GBPUSD"
same_as "six processes as embedded" "$work/five.json" "$work/embedded.json" \
  ticks orders fills decisions position balance equity breaker
expect_eq "the owner took a decision per bar" \
  "$(json "$work/five.json" 'd["decision_role"]["bars"] > 100, d["decision_role"]["dead_lettered"]')" \
  "True 0"
# The owner's committed log on ORDERS and AUDIT (log_relay.h): every event read, each relayed
# one stored once, at least a message per order and one per fill (log_relay_test compares them
# with the log event by event).
expect_eq "the owner relayed its log to ORDERS and AUDIT" \
  "$(json "$work/five.json" 'd["relay"]["last_seq"] == d["events"], d["relay"]["stored"] == d["relay"]["orders"] + d["relay"]["audit"], d["relay"]["orders"] >= d["orders"] + d["fills"], d["relay"]["audit"] > d["decisions"]')" \
  "True True True True"
# Every row written, or its failure counted: a call slower than the roles' 100 ms timeout (ctest
# runs tests side by side on a small machine) is an error, not a wait.
expect_eq "features role: every row written to Redis or counted as failed" \
  "$(json "$work/five-features.json" 'all(s["cache"]["puts"] + s["cache"]["errors"] + s["cache"]["skipped"] == s["outputs"] and s["cache"]["puts"] > 100 for s in d["stages"])')" \
  "True"
for replica in prediction:EURUSD prediction:GBPUSD; do
  expect_eq "$replica: predictions new to Redis, written" \
    "$(json "$work/five-$replica.json" 'all(s["cache"]["hits"] == 0 and s["cache"]["puts"] > 100 for s in d["stages"])')" \
    "True"
done
# One key per row written (a write whose invalidation message failed is counted failed, and kept).
feature_keys=$(redis-cli -p "$redis_port" --scan --pattern 'feature:EURUSD:*' | wc -l)
expect_eq "Redis: EURUSD's rows, one key each" \
  "$(json "$work/five-features.json" "[s['cache']['puts'] <= $feature_keys <= s['outputs'] for s in d['stages'] if s['symbol'] == 'EURUSD']")" \
  "[True]"
# The longest TTL left of any prediction: the last ones were written as the session ended (on a
# loaded machine the first may have expired already, 30 s being shorter than the run).
prediction_ttl=$(redis-cli -p "$redis_port" eval "local most = -2 for _, key in ipairs(redis.call('keys', ARGV[1])) do most = math.max(most, redis.call('pttl', key)) end return most" 0 'prediction:*')
[[ $prediction_ttl -gt 0 && $prediction_ttl -le 30000 ]] && pass "a prediction's TTL ($prediction_ttl ms) is within 30 s" \
  || fail "a prediction's TTL: $prediction_ttl"
# The decision role's last answer per symbol, the owner's last word on its session.
for symbol in EURUSD GBPUSD; do
  redis-cli -p "$redis_port" get "decision:five:$symbol" >"$work/decision-$symbol.json"
  expect_eq "Redis: $symbol's last decision, for the last bar" \
    "$(json "$work/decision-$symbol.json" 'd["market"], d["symbol"], d["bar_open"] > "2000", d["decided"] == ("decision" in d)')" \
    "five $symbol True True"
done
redis-cli -p "$redis_port" get session:five >"$work/session-state.json"
same_as "Redis: the session's state at its end, as the owner's summary" \
  "$work/session-state.json" "$work/five.json" ticks orders fills decisions position equity breaker
expect_eq "Redis: the session ended" "$(json "$work/session-state.json" 'd["status"], d["market"]')" \
  "ended five"
session_ttl=$(redis-cli -p "$redis_port" pttl session:five)
[[ $session_ttl -gt 0 && $session_ttl -le 3600000 ]] && pass "the session state's TTL ($session_ttl ms) is within 1 h" \
  || fail "the session state's TTL: $session_ttl"
stop_redis
expect_eq "decision role: a decision per question, both symbols, ended by the owner" \
  "$(json "$work/five-decision.json" 'all(s["outputs"] == s["inputs"] > 50 and s["ended"] for s in d["stages"]), len(d["stages"])')" \
  "True 2"
# The records in PostgreSQL. Trades: those of the embedded run (its store a SQLite file), field
# for field; the session's id aside (each names its process).
trade_columns="number, symbol, side, quantity, quantity_digits, entry_ns, exit_ns, entry_price, exit_price, gross_pnl, commission, net_pnl, exit_reason"
embedded_trades=$("$python" - "$work/embedded-trades.db" "SELECT $trade_columns FROM trades ORDER BY number" <<'PY'
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join(str(v) for v in row))
PY
)
expect_eq "trades in PostgreSQL: the embedded run's, field for field" \
  "$(psql_at five "SELECT $trade_columns FROM trades ORDER BY number")" "$embedded_trades"
expect_eq "trades: as many as the session's round trips, more than 2" \
  "$(psql_at five "SELECT count(*) > 2, count(DISTINCT session) FROM trades")" "t|1"
# Bars and rows: one per closed bar of each symbol, as the features role published them; the
# features role reads each feed to its end (the owner stops at its --ticks), so every tick of a
# feed is in a stored bar but those of the bar in progress at its end.
bars_per_symbol=$(psql_at five "SELECT string_agg(symbol || '=' || n, ',' ORDER BY symbol) FROM (SELECT symbol, count(*) n FROM bars GROUP BY symbol) b")
expect_eq "bars in PostgreSQL: one per feature row published, per symbol" "$bars_per_symbol" \
  "$(json "$work/five-features.json" '",".join(s["symbol"] + "=" + str(s["outputs"]) for s in sorted(d["stages"], key=lambda s: s["symbol"]))')"
in_bars=$(psql_at five "SELECT string_agg(symbol || '=' || n, ',' ORDER BY symbol) FROM (SELECT symbol, sum(tick_count) n FROM bars GROUP BY symbol) b")
expect_eq "bars: every tick of each feed in a bar but those of the last (under 1,000)" \
  "$("$python" - "$work/five-ingestion.json" "$in_bars" <<'PY'
import json, sys
published = {f["subject"].split(".")[-1]: f["ticks"] for f in json.load(open(sys.argv[1]))["feeds"]}
stored = {k: int(v) for k, v in (item.split("=") for item in sys.argv[2].split(","))}
print(sorted(stored) == sorted(published) and all(0 < published[k] - stored[k] < 1000 for k in stored))
PY
)" "True"
bars_now=$(psql_at five "SELECT count(*) FROM bars")
expect_eq "feature rows: one per bar (a rule signal's rows are empty), one feature set" \
  "$(psql_at five "SELECT (SELECT count(*) FROM feature_rows) = (SELECT count(*) FROM bars), count(*), min(name) FROM feature_sets")" \
  "t|1|sma_cross(fast=3,slow=8)"
expect_eq "features role: every bar and row new to the stores, in batches" \
  "$(json "$work/five-features.json" 'all(s["records"]["bars_new"] == s["records"]["bars"] == s["outputs"] and s["records"]["rows_new"] == s["outputs"] and 0 < s["records"]["writes"] < s["outputs"] for s in d["stages"])')" \
  "True"
# A features role started again recomputes every bar from the first tick and writes it again:
# nothing new is stored.
"$aits" serve --role features --market five --bus "$bus" "${session[@]}" --bars "$records" \
  --offline-features "$records" --json --health off >"$work/five-features-again.json" 2>&1
expect_code "features role, again" "$?" "0"
expect_eq "features role, again: every bar and row written, none new" \
  "$(json "$work/five-features-again.json" 'all(s["records"]["bars"] == s["outputs"] > 100 and s["records"]["bars_new"] == s["records"]["rows_new"] == 0 for s in d["stages"])')" \
  "True"
expect_eq "bars after the restart" "$(psql_at five "SELECT count(*) FROM bars")" "$bars_now"
run "$aits" replay --events "$work/five"
expect_code "replay of the five-process session" "$code" "0"
run "$aits" explain 3 --events "$work/five" --json
expect_eq "order 3's decision record, five processes vs embedded" \
  "$(sed -E 's/"p[0-9]+-/"SESSION-/g' <<<"$out")" "$four_explained"

# Stopped after 15,000 ticks and resumed from the stream (the feeds are there from the run above).
# Both parts keep their trades in PostgreSQL: the resumed part replays the first part's trades
# and writes them again, and each is stored once.
parts_trades="postgresql://aits@127.0.0.1:$pg_port/parts"
"$aits" serve --role "$owner_roles" --bus "$bus" "${session[@]}" --state "$work/parts" \
  --stop-after 15000 --trades "$parts_trades" --quiet --health off >/dev/null 2>&1
expect_code "owner, first part" "$?" "0"
first_part_trades=$(psql_at parts "SELECT count(*) FROM trades")
"$aits" serve --role "$owner_roles" --bus "$bus" --state "$work/parts" --trades "$parts_trades" \
  --json --health off >"$work/parts.json" 2>"$work/parts.err"
expect_code "owner, resumed" "$?" "0"
expect_eq "resumed run: resumed, new ticks" \
  "$(json "$work/parts.json" 'd["resumed"], d["ticks"]')" "True 25000"
same_as "resumed session as embedded" "$work/parts.json" "$work/embedded.json" \
  orders fills balance equity
[[ $first_part_trades -gt 0 ]] && pass "the first part stored trades ($first_part_trades)" \
  || fail "the first part stored no trades"
expect_eq "trades of the stopped and resumed session: the embedded run's, each once" \
  "$(psql_at parts "SELECT $trade_columns FROM trades ORDER BY number")" "$embedded_trades"
stop_postgres

# One owner per session: a second owner is refused; a standby takes over when the owner is
# killed, and the session ends as one uninterrupted run. A paced ingestion keeps the owner busy.
paced=(--synthetic EURUSD --ticks 20000 --start 2024-01-08 --seed 5 --params fast=3,slow=8)
"$aits" paper "${paced[@]}" --speed max --state "$work/whole" --quiet --json >"$work/whole.json"
"$aits" serve --role ingestion --bus "$bus" --market standby "${paced[@]}" --speed 1500 \
  --health off --quiet >/dev/null 2>&1 &
paced_ingestion=$!
"$aits" serve --role "$owner_roles" --bus "$bus" --market standby "${paced[@]}" \
  --state "$work/owned" --health off --quiet >/dev/null 2>&1 &
first_owner=$!
sleep 1
run "$aits" serve --role "$owner_roles" --bus "$bus" --market standby "${paced[@]}" \
  --state "$work/owned" --health off
expect_in "a second owner" "$out" "is open for writing by another process (pid $first_owner)"
"$aits" serve --role "$owner_roles" --bus "$bus" --market standby "${paced[@]}" \
  --state "$work/owned" --standby --health off --json >"$work/standby.json" 2>"$work/standby.err" &
standby=$!
# Killed once the standby waits (a sanitizer build may take more than a second to get there).
for _ in $(seq 200); do
  grep -qF "standby: " "$work/standby.err" 2>/dev/null && break
  sleep 0.05
done
{ kill -9 "$first_owner" && wait "$first_owner"; } 2>/dev/null  # no "Killed" notice
wait "$standby"
expect_code "the standby, after taking over" "$?" "0"
wait "$paced_ingestion"
expect_in "the standby" "$(cat "$work/standby.err")" "standby: "
expect_eq "the standby resumed the killed owner's log" "$(json "$work/standby.json" 'd["resumed"]')" "True"
same_as "the session taken over as one uninterrupted run" "$work/standby.json" "$work/whole.json" \
  orders fills balance equity

# Health and metrics: a paced ingestion (a one-minute bar every 0.1 s) and a features and
# prediction process on it run long enough to be probed, then stop on SIGINT. The stages trace
# (the ingestion does not: each features span starts a trace), their tracer's counters on
# /metrics, its spans written at the stop.
paced=(--bus "$bus" --market paced --synthetic USDJPY --ticks 0 --start 2024-01-08)
"$aits" serve --role ingestion "${paced[@]}" --speed 600 --health 127.0.0.1:0 --json \
  >"$work/paced.json" 2>"$work/paced.err" &
paced_pid=$!
"$aits" serve --role features,prediction "${paced[@]}" --health 127.0.0.1:0 --json \
  --trace-file "$work/paced.trace.jsonl" --trace-sample 1 \
  >"$work/paced_stages.json" 2>"$work/paced_stages.err" &
stages_pid=$!
expect_health "$work/paced.err" '{"status":"ok","role":"ingestion"}'
stages_port=$(health_port "$work/paced_stages.err")
# The prediction stage's counter, which the prediction role's autoscaler reads
# (deploy/k8s/prediction.yaml), grows; the exposition passes Prometheus' own check.
metrics=""
for _ in $(seq 100); do
  metrics=$(probe "http://127.0.0.1:$stages_port/metrics")
  grep -qE '^aits_predictions_total\{symbol="USDJPY"\} [1-9]' <<<"${metrics#200 }" && break
  sleep 0.1
done
expect_in "/metrics of features,prediction" "$metrics" 'aits_predictions_total{symbol="USDJPY"} '
expect_in "/metrics: the features stage's inputs" "$metrics" \
  'aits_stage_inputs_total{stage="features",symbol="USDJPY"} '
# Each reader's lag and redeliveries, by stream and consumer (the bus's readers, a role apart
# from another in the same process by its name).
expect_in "/metrics: the features stage's lag on MARKET" "$metrics" \
  'aits_bus_consumer_pending_messages{stream="MARKET",consumer="features:md.paced.USDJPY"} '
expect_in "/metrics: the prediction stage's lag on FEATURES" "$metrics" \
  'aits_bus_consumer_pending_messages{stream="FEATURES",consumer="prediction:feat.paced.USDJPY"} '
expect_in "/metrics: the prediction stage's redeliveries" "$metrics" \
  'aits_bus_redeliveries_total{stream="FEATURES",consumer="prediction:feat.paced.USDJPY"} '
expect_in "/metrics: the traces the stages started" "$metrics" 'aits_trace_roots_total{sampled="true"} '
expect_in "/metrics: the spans exported" "$metrics" '# TYPE aits_trace_spans_exported_total counter'
# The rules' bus metrics are served here (session_metrics_test.sh checks the others on a
# paper session, which reads no bus).
for name in $(grep -o 'aits_bus_[a-z_]*' "$rules" | sort -u); do
  expect_in "rules.yml reads $name: a bus reader's role serves it" "$metrics" "# TYPE $name "
done
if command -v promtool >/dev/null; then
  report=$(printf '%s\n' "${metrics#200 }" | promtool check metrics 2>&1) || true
  expect_eq "promtool check metrics of a role's /metrics" "$report" ""
fi
kill -INT "$stages_pid"
wait "$stages_pid"
expect_code "features,prediction stopped by SIGINT" "$?" "0"
expect_eq "features,prediction: their spans written at the stop" \
  "$("$python" -c 'import json, sys
names = {s["name"] for line in open(sys.argv[1]) for r in json.loads(line)["resourceSpans"]
         for scope in r["scopeSpans"] for s in scope["spans"]}
print(sorted(names))' "$work/paced.trace.jsonl")" "['features', 'prediction']"
expect_eq "features,prediction: stopped where they were, no end marker" \
  "$(json "$work/paced_stages.json" '[(s["role"], s["stopped"], s["ended"]) for s in d["stages"]]')" \
  "[('features', True, False), ('prediction', True, False)]"
kill -INT "$paced_pid"
wait "$paced_pid"
expect_code "paced ingestion stopped by SIGINT" "$?" "0"
expect_eq "paced ingestion: stopped, ticks out at once (not held for a full batch)" \
  "$(json "$work/paced.json" 'd["stopped"], d["ticks"] > 0')" "True True"

# Errors.
run "$aits" serve --role bogus
expect_code "unknown role" "$code" "2"
expect_in "unknown role" "$out" 'unknown role "bogus"'
run "$aits" serve --role risk --bus "$bus"
expect_in "a part of the owner" "$out" "risk and execution run together"
run "$aits" serve --role risk,execution --symbols EURUSD --bus "$bus" "${session[@]}"
expect_in "--symbols for the owner" "$out" "the owner and ingestion take every symbol"
run "$aits" serve --role prediction --symbols USDJPY --bus "$bus" "${session[@]}" --health off
expect_in "--symbols naming no traded symbol" "$out" "USDJPY is not a traded symbol"
run "$aits" serve --role ingestion "${session[@]}"
expect_code "ingestion over the in-process bus" "$code" "2"
expect_in "ingestion over the in-process bus" "$out" "give --bus nats://HOST:PORT"
run "$aits" serve --role ingestion --bus "$bus" --synthetic EURUSD --ticks 1000 --seed 99 \
  --start 2024-01-08 --speed max --health off
expect_in "another dataset under the same --market" "$out" \
  "md.default.EURUSD already holds another feed"
run "$aits" serve --role monitoring --bus "$bus"
expect_in "the monitoring role, which is Prometheus" "$out" "--role monitoring: not built as a role"
run "$aits" serve --role notifications,features --bus "$bus"
expect_in "the notifications role with another" "$out" \
  "the notifications role runs in a process of its own"
run "$aits" serve --role notifications --notify-listen 127.0.0.1:nope --health off
expect_in "a bad --notify-listen" "$out" "--notify-listen"
run "$aits" serve --role ml,features --bus "$bus"
expect_in "the ml role with another" "$out" "the ml role runs in a process of its own"
run "$aits" serve --role gateway,risk,execution --bus "$bus"
expect_in "the gateway role with another" "$out" "the gateway role runs in a process of its own"
run "$aits" serve --role gateway
expect_in "the gateway role in-process" "$out" "serves an owner in another process"
run env -u AITS_MT5_TOKEN "$aits" serve --role gateway --bus "$bus" --health off
expect_in "the gateway role without the EA's secret" "$out" "AITS_MT5_TOKEN"
run "$aits" serve --role risk,execution --venue bus --bus "$bus" --balance 5 "${session[@]}"
expect_in "--balance with --venue bus" "$out" "the account's terms are the account's"
run "$aits" serve --role ingestion --venue bus --bus "$bus" "${session[@]}"
expect_in "--venue bus for ingestion" "$out" "trades through the gateway role"
run "$aits" serve --role features,prediction,decision,risk,execution --venue bus --bus "$bus" \
  --market nogateway --wait 1 --health off --symbol EURUSD --state "$work/no-gateway"
expect_in "--venue bus without a gateway role" "$out" \
  "the account of the gateway role of --market nogateway"
printf 'data:\n  path: none\n' >"$work/retrain.yaml"
run "$aits" serve --role risk,execution --bus "$bus" --market loopless --wait 1 --health off \
  "${session[@]}" --state "$work/loopless" --retrain-config "$work/retrain.yaml"
expect_code "--retrain-config with the prediction role apart" "$code" 2
expect_in "--retrain-config with the prediction role apart" "$out" \
  "need the model in the owner's process"
run "$aits" serve --role ingestion --bus nats://127.0.0.1:1 "${session[@]}" --health off
expect_in "unreachable bus" "$out" "nats://127.0.0.1:1"
run "$aits" serve --role ingestion --bus "$bus" --redis 127.0.0.1:6379 "${session[@]}"
expect_code "--redis for ingestion alone" "$code" "2"
expect_in "--redis for ingestion alone" "$out" "has none of them"
run "$aits" serve --role risk,execution --bus "$bus" --bars "$work/bars.db" "${session[@]}"
expect_code "--bars for the owner" "$code" "2"
expect_in "--bars for the owner" "$out" "the features role, run apart from the owner, writes"
run "$aits" serve --role features --bus "$bus" --trades "$work/trades.db" "${session[@]}" \
  --health off
expect_in "--trades for the features role" "$out" "the account's owner (risk,execution) writes"
run "$aits" serve --role features --bus "$bus" "${session[@]}" --health off \
  --offline-features postgresql://aits@127.0.0.1:1/aits
expect_in "--offline-features on a server that is not there" "$out" \
  "offline feature store: PostgreSQL at 127.0.0.1:1/aits cannot be reached"
run "$aits" paper "${session[@]}" --state "$work/no-trades" --trades /nonexistent/trades.db
expect_in "--trades in a directory that is not there" "$out" "--trades: trade store /nonexistent/trades.db"
run "$aits" serve --role features --bus "$bus" --redis nohost "${session[@]}" --health off
expect_code "--redis without a port" "$code" "2"
expect_in "--redis without a port" "$out" "--redis"
# A Redis that is not there costs counted errors, not the role: it runs to its feed's end.
"$aits" serve --role features --bus "$bus" --redis 127.0.0.1:1 "${session[@]}" --json \
  --health off >"$work/no-redis.json" 2>"$work/no-redis.err"
expect_code "features role with Redis away" "$?" "0"
expect_eq "features role with Redis away: nothing written, the breaker opened, calls spared" \
  "$(json "$work/no-redis.json" 'all(s["cache"]["puts"] == 0 and s["cache"]["breaker_opened"] > 0 and s["cache"]["skipped"] > 0 for s in d["stages"])')" \
  "True"
run "$aits" serve --role "$owner_roles" --bus "$bus" --synthetic AUDUSD --ticks 100 \
  --start 2024-01-08 --state "$work/lonely" --idle-timeout 1 --health off
expect_in "no ingestion" "$out" "md.default.AUDUSD: no market data for 1 s"

# Ctrl-C on an owner that waits for market data stops it at once, cleanly.
"$aits" serve --role "$owner_roles" --bus "$bus" --market nobody --synthetic AUDUSD --ticks 100 \
  --start 2024-01-08 --state "$work/waiting" --health off >"$work/waiting.out" 2>&1 &
waiting=$!
sleep 1
kill -INT "$waiting"
wait "$waiting"
expect_code "an owner waiting for data, stopped by SIGINT" "$?" "0"
expect_in "an owner waiting for data, stopped by SIGINT" "$(cat "$work/waiting.out")" "stopped by signal"

finish serve_cli_test
