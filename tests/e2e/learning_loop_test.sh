#!/usr/bin/env bash
# End-to-end test of a model that keeps learning (issue 13; docs/ml.md, "The loop"): one paper
# session on a synthetic market whose steps grow four times as large half way. The model is
# trained on the first half only. In the session its watch calls for a retrain; `aits-train
# retrain` makes a candidate from the rows known by then; the candidate is tried in shadow beside
# the served model on the same bars; the registry's gate promotes or rejects it; and each step is
# in the event log, in that order, the registry agreeing. Then: the same run again gives the same
# log and the same model bytes (the feed waits for each step at --speed max); replay is identical;
# bad flags are refused by name. The same session as the owner of `aits serve` over nats-server,
# its retrains run as jobs of an ml role of their own (--retrain-runner ml), takes the same steps
# and makes the same model bytes. XGBoost, a small forest and the logistic baseline: seconds.
# Usage: learning_loop_test.sh AITS_BINARY PYTHON
set -uo pipefail
aits="$1"; python="$2"
work=$(mktemp -d)
nats_pid=""
ml_pid=""
cleanup() {
  [[ -n "$ml_pid" ]] && kill "$ml_pid" 2>/dev/null && wait "$ml_pid" 2>/dev/null
  [[ -n "$nats_pid" ]] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The market: 1.6M ticks (2020-01-06 .. 2020-01-17) in one volatility regime, its steps four
# times as large from tick 1,000,000 (2020-01-14T02:52:03Z) on; the first million, alone, are
# what the model learns from.
switch_time="2020-01-14T02:52:03"
run "$aits" generate --steady --ticks 1000000 --seed 7 --out "$work/first.aitsbin" --no-progress
expect_code "generate the first half" "$code" 0
run "$aits" generate --steady --ticks 1600000 --switch-at 1000000 --switch-volatility 4 --seed 7 \
    --out "$work/market.aitsbin" --no-progress
expect_code "generate the market with its switch" "$code" 0
run "$aits" generate --ticks 100 --switch-at 100 --out "$work/bad.aitsbin" --no-progress
expect_code "a switch past the end" "$code" 2
expect_in "a switch past the end" "$out" "--switch-at 100: must be below --ticks 100"

# ml.yaml DATA: the model's settings over DATA.
ml_yaml() {
  cat <<YAML
data:
  path: $1
  symbol: EURUSD
features:
  timeframes: M1,M5,M15
label:
  horizon: 15m
xgboost:
  rounds: 30
  max_depth: 3
xgboost_regressor:
  enabled: false
random_forest:
  trees: 10
  max_depth: 5
lstm:
  enabled: false
gru:
  enabled: false
anomaly:
  trees: 20
registry:
  dir: $work/trained
  name: eur
gate:
  metric: auc
  threshold: 0.0
seed: 42
YAML
}
ml_yaml "$work/first.aitsbin" >"$work/ml.yaml"
# A retrain reads the whole market file; the session passes --to, so only the rows labelled by
# the verdict's time are learnt from.
ml_yaml "$work/market.aitsbin" >"$work/retrain.yaml"

# same_steps STATE_A STATE_B: "same" when the two logs hold the same steps of the loop (verdicts,
# its commands, trials) at the same times, the retrains' wall times aside and a failed retrain's
# text reduced to its reason (it names its runner: the child, or the ml job); else what differs.
same_steps() {
  "$python" - "$1/events.db" "$2/events.db" <<'PY'
import json, sqlite3, sys
def steps(path):
    out = []
    db = sqlite3.connect("file:" + path + "?mode=ro", uri=True)
    for kind, ts, payload in db.execute(
            "SELECT type, ts, payload FROM events WHERE type IN (9, 16, 17) ORDER BY seq"):
        body = json.loads(payload)
        if kind == 9 and not str(body.get("command", "")).startswith("model_"):
            continue
        body.get("retrain", {}).pop("seconds", None)
        if body.get("command") == "model_retrain" and "too little data" in body["error"]:
            body["error"] = "too little data"
        out.append((kind, ts, json.dumps(body, sort_keys=True)))
    return out
a, b = steps(sys.argv[1]), steps(sys.argv[2])
print("same" if a == b and a else f"differ: {len(a)} and {len(b)} steps; first difference "
      f"{next(((x, y) for x, y in zip(a + [None] * len(b), b + [None] * len(a)) if x != y), None)}")
PY
}

run "$aits" train --config "$work/ml.yaml" --json --quiet --no-progress
expect_code "train on the first half" "$code" 0
# Whatever its own gate said, the session serves eur@1 by name.
for copy in r1 r2 r3; do cp -r "$work/trained" "$work/$copy"; done

session=("$aits" paper --feed "$work/market.aitsbin" --speed max --signal ml_ensemble
         --model eur@1 --retrain-config "$work/retrain.yaml" --retrain-rows 3000
         --session-id loop --no-progress)
# Its /metrics scraped while it runs; the last scrape before it ends is kept.
"${session[@]}" --registry "$work/r1" --state "$work/s1" --health 127.0.0.1:0 \
  >"$work/s1.out" 2>"$work/s1.err" &
session_pid=$!
port=$(health_port "$work/s1.err")
"$python" - "http://127.0.0.1:$port/metrics" "$work/s1.metrics" <<'PY' &
import sys, time, urllib.request
seen = False
for attempt in range(2000):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            body = r.read().decode()
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(body)
        import os
        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
        seen = True
    except OSError:
        if seen:
            break
    time.sleep(0.2)
PY
scraper_pid=$!
wait "$session_pid"; code=$?
wait "$scraper_pid"
out=$(cat "$work/s1.out" "$work/s1.err")
expect_code "the session" "$code" 0 "$work/s1.err"
expect_in "the session" "$out" "feed ended after 1600000 new ticks"
scraped=$(cat "$work/s1.metrics" 2>/dev/null)
expect_in "the loop on /metrics" "$scraped" 'aits_model_retrains_total{result="candidate"}'
expect_in "the loop on /metrics" "$scraped" 'aits_model_gate_decisions_total{trial="retrain",passed="false"}'
candidates=$(sed -n 's/^aits_model_retrains_total{result="candidate"} \([0-9]*\).*/\1/p' <<<"$scraped")
[[ -n "$candidates" && "$candidates" -ge 1 ]] && pass "retrains counted on /metrics ($candidates)" \
  || fail "no retrain counted on /metrics: '$candidates'"
if command -v promtool >/dev/null; then
  check "promtool check metrics of the session's /metrics" \
    bash -c "promtool check metrics <'$work/s1.metrics'"
fi

# The steps in the log, checked against each other and against the registry (its SQLite file).
steps=$("$python" - "$work/s1/events.db" "$work/r1/registry.sqlite" "$switch_time" <<'PY'
import datetime, json, sqlite3, sys
log = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
reg = sqlite3.connect("file:" + sys.argv[2] + "?mode=ro", uri=True)
switch = int(datetime.datetime.fromisoformat(sys.argv[3] + "+00:00").timestamp() * 1e9)
def iso_ns(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)
problems = []
events = []
for seq, kind, ts, payload in log.execute(
        "SELECT seq, type, ts, payload FROM events WHERE type IN (9, 16, 17) ORDER BY seq"):
    body = json.loads(payload)
    if kind == 9 and not str(body.get("command", "")).startswith("model_"):
        continue
    events.append((seq, kind, ts, body))
verdicts = [e for e in events if e[1] == 16]
starts = [e for e in events if e[1] == 9 and e[3]["command"] == "model_shadow_start"]
failed = [e for e in events if e[1] == 9 and e[3]["command"] == "model_retrain"]
trials = [e for e in events if e[1] == 17]
answers = [e for e in events if e[1] == 9 and e[3]["command"] == "model_promotion"]
status = {f"{n}@{v}": s for n, v, s in reg.execute(
    "SELECT name, version, status FROM models WHERE kind = 'ensemble'")}
parent = {f"{n}@{v}": p for n, v, p in reg.execute(
    "SELECT name, version, parent FROM models WHERE kind = 'ensemble'")}
actions = {}
for n, v, action in reg.execute(
        "SELECT m.name, m.version, e.action FROM events e JOIN models m ON m.id = e.model_id "
        "WHERE m.kind = 'ensemble' ORDER BY e.id"):
    actions.setdefault(f"{n}@{v}", []).append(action)
if not starts:
    problems.append("no candidate was tried")
# Every candidate: made on a verdict, from rows known then, tried, judged, in that order. A
# promoted one is on probation: the model it replaced is tried beside it next (the fallback).
served = "eur@1"
replaced = None
probations = []
for index, (seq, _, ts, start) in enumerate(starts):
    cand = start["candidate"]
    if start["production"] != served:
        problems.append(f"{cand}: tried beside {start['production']}, the session served {served}")
    if start.get("by") == "probation":
        probations.append(start)
        if cand != replaced:
            problems.append(f"probation of {served}: tried {cand}, the model it replaced was {replaced}")
    else:
        before = [v for v in verdicts if v[0] < seq]
        if not before or before[-1][3]["verdict"] not in ("update", "retrain"):
            problems.append(f"{cand}: no update or retrain verdict before it")
        if parent.get(cand) != served:
            problems.append(f"{cand}: parent {parent.get(cand)} in the registry, served {served}")
        window_to = iso_ns(start["retrain"]["window"]["to"])
        if window_to > ts:
            problems.append(f"{cand}: learnt from rows up to {start['retrain']['window']['to']}, after the verdict")
    trial = [t for t in trials if t[0] > seq and t[3]["candidate"] == cand]
    answer = [a for a in answers if a[0] > seq and a[3]["candidate"] == cand]
    if not trial:
        if index + 1 < len(starts):  # the last may still be on trial when the feed ends
            problems.append(f"{cand}: no trial")
        continue
    if not answer or answer[0][0] < trial[0][0]:
        problems.append(f"{cand}: no gate answer after its trial")
        continue
    record = trial[0][3]["record"]
    if record.get("state") != "complete" or record.get("calls", 0) < 200:
        problems.append(f"{cand}: trial {record.get('state')} with {record.get('calls')} calls")
    passed = answer[0][3]["passed"]
    want = "promote" if passed else "reject"
    if want not in actions.get(cand, []) or "shadow" not in actions.get(cand, []):
        problems.append(f"{cand}: passed={passed}, registry audit {actions.get(cand)}")
    if not passed and start.get("by") != "probation" and status.get(cand) != "rejected":
        problems.append(f"{cand}: rejected in the log, {status.get(cand)} in the registry")
    if passed:
        replaced, served = served, cand
        # The next start, if any, is its probation (unless it came back on one).
        following = starts[index + 1][3] if index + 1 < len(starts) else None
        if start.get("by") != "probation" and following and following.get("by") != "probation":
            problems.append(f"{cand}: promoted, and no probation of it followed")
# No candidate without a command: every registered version came from a start in the log.
made = [s[3]["candidate"] for s in starts if s[3].get("by") != "probation"]
if sorted(status) != sorted(["eur@1"] + made):
    problems.append(f"registry {sorted(status)} against candidates {made}")
if served != "eur@1" and status.get(served) != "production":
    problems.append(f"the session ends serving {served}, {status.get(served)} in the registry")
for _, _, _, body in failed:
    if "too little data to retrain" not in body["error"]:
        problems.append("a failed retrain: " + body["error"][:200])
after = [s for s in starts if s[2] > switch and s[3].get("by") != "probation"]
if not after:
    problems.append("no candidate after the switch")
elif iso_ns(after[0][3]["retrain"]["window"]["to"]) <= switch:
    problems.append("the first candidate after the switch learnt nothing of it")
print("; ".join(problems) if problems else
      f"ok: {len(verdicts)} verdicts, {len(failed)} failed retrains, {len(starts)} candidates, "
      f"{sum(a[3]['passed'] for a in answers)} promoted, "
      f"{sum(not a[3]['passed'] for a in answers)} rejected, {len(probations)} probations, "
      f"{len(after)} after the switch")
PY
)
expect_in "the loop's steps in the log and the registry" "$steps" "ok: "
echo "  $steps"

# A retrain with too little data is logged with its reason, and the registry holds nothing of it
# (checked above); the first verdict comes with a few hundred bars, fewer than --retrain-rows.
expect_in "a retrain on too little data" "$(sql "$work/s1" \
    "SELECT payload FROM events WHERE type = 9 AND CAST(payload AS TEXT) LIKE '%model_retrain%' LIMIT 1")" \
    "too little data to retrain"

run "$aits" replay --events "$work/s1"
expect_code "replay" "$code" 0
expect_in "replay" "$out" "identical"

# The same session again, from the same registry: the same steps at the same points and the same
# model bytes (the retrain's own wall time aside).
run "${session[@]}" --registry "$work/r2" --state "$work/s2"
expect_code "the session again" "$code" 0
same=$(same_steps "$work/s1" "$work/s2")
expect_eq "the same steps, checksums included, twice" "$same" "same"

# The same session as the owner of `aits serve` over nats-server, its retrains jobs of an ml role
# in a process of its own (the role trains with its --registry, the session's): the same steps,
# the same candidates and the same model bytes as the child's.
if start_nats "$work"; then
  "$aits" serve --role ml --bus "$bus" --market loop --registry "$work/r3" --health off --quiet \
    >"$work/ml-role.out" 2>"$work/ml-role.err" &
  ml_pid=$!
  run "$aits" serve --role ingestion,features,prediction,decision,risk,execution --bus "$bus" \
    --market loop --feed "$work/market.aitsbin" --speed max --signal ml_ensemble --model eur@1 \
    --registry "$work/r3" --retrain-config "$work/retrain.yaml" --retrain-rows 3000 \
    --retrain-runner ml --retrain-wait yes --session-id loop --state "$work/s3" --health off \
    --quiet
  expect_code "the session, its retrains on the ml role" "$code" 0
  same=$(same_steps "$work/s1" "$work/s3")
  expect_eq "the loop through the ml role: the same steps and checksums as the child's" "$same" \
    "same"
  run "$aits" ml status --bus "$bus" --market loop --json
  jobs=$("$python" -c '
import json, sys
events = json.load(sys.stdin)
done = [e for e in events if e["job"].startswith("retrain-") and e["event"] == "done"]
failed = [e for e in events if e["job"].startswith("retrain-") and e["event"] == "failed"]
print(f"{len(done)} done, {len(failed)} failed")' <<<"$out")
  starts=$(sql "$work/s3" "SELECT COUNT(*) FROM events WHERE type = 9 AND CAST(payload AS TEXT)
    LIKE '%model_shadow_start%' AND CAST(payload AS TEXT) NOT LIKE '%probation%'")
  retrain_failures=$(sql "$work/s3" "SELECT COUNT(*) FROM events WHERE type = 9 AND CAST(payload AS TEXT)
    LIKE '%model_retrain%'")
  expect_eq "every retrain an ml job: done ones the candidates, failed ones the failures" "$jobs" \
    "$starts done, $retrain_failures failed"
  run "$aits" serve --role ingestion,features,prediction,decision,risk,execution --bus "$bus" \
    --market loop2 --feed "$work/market.aitsbin" --signal ml_ensemble --model eur@1 \
    --registry "$work/r3" --retrain-runner ml --state "$work/s4" --health off --quiet
  expect_code "--retrain-runner ml without --retrain-config" "$code" 2
  expect_in "--retrain-runner ml without --retrain-config" "$out" "give --retrain-config too"
fi
run "$aits" serve --role all --feed "$work/market.aitsbin" --signal ml_ensemble --model eur@1 \
  --registry "$work/r3" --retrain-config "$work/retrain.yaml" --retrain-runner ml \
  --state "$work/s5" --health off --quiet
expect_code "--retrain-runner ml over the in-process bus" "$code" 2
expect_in "--retrain-runner ml over the in-process bus" "$out" "give --bus nats://"

run "$aits" models --registry "$work/r1" --events eur@2
expect_code "models --events of the first candidate" "$code" 0
expect_in "models --events of the first candidate" "$out" "parent      eur@1"
expect_in "models --events of the first candidate" "$out" "shadow: complete trial over"

# Members weighed by their recent record (docs/ml.md, "Member weights"): the weights move once
# every member has its calls, each decision names the ones its score was made with, and a replay
# makes the same decisions.
run "$aits" paper --feed "$work/market.aitsbin" --speed max --signal ml_ensemble --model eur@1 \
    --registry "$work/r1" --member-weights adaptive --stop-after 400000 --session-id weights \
    --state "$work/weights" --quiet --no-progress
expect_code "a session with adaptive member weights" "$code" 0
moved=$("$python" - "$work/weights/events.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
decisions = moved = 0
for (payload,) in db.execute("SELECT payload FROM events WHERE type = 4"):
    text = payload.decode() if isinstance(payload, bytes) else payload
    start = text.find('"member_weights":')
    if start < 0:
        continue
    decisions += 1
    weights = json.JSONDecoder().raw_decode(text[start + len('"member_weights":'):])[0]
    if any(abs(w - 1) > 1e-9 for w in weights.values()):
        moved += 1
        if not all(0.5 <= w <= 2 for w in weights.values()):
            print(f"out of bounds: {weights}")
print(f"{decisions} decisions with weights" if decisions and moved else
      f"{decisions} decisions with weights, {moved} moved")
PY
)
expect_in "member weights in the decisions" "$moved" "decisions with weights"
[[ "$moved" != *moved* && "$moved" != *"out of bounds"* ]] && pass "the weights moved, within bounds" \
  || fail "member weights: $moved"
run "$aits" replay --events "$work/weights"
expect_code "replay with member weights" "$code" 0
expect_in "replay with member weights" "$out" "identical"

# Bad flags: refused by name before anything starts.
bad=("$aits" paper --feed "$work/market.aitsbin" --speed max --quiet --state "$work/bad")
run "${bad[@]}" --retrain-config "$work/retrain.yaml"
expect_code "--retrain-config for a rule signal" "$code" 2
expect_in "--retrain-config for a rule signal" "$out" "--retrain-config is for --signal ml_ensemble"
ml=("${bad[@]}" --signal ml_ensemble --model eur@1 --registry "$work/r1")
run "${ml[@]}" --retrain-config "$work/missing.yaml"
expect_code "a missing --retrain-config" "$code" 2
expect_in "a missing --retrain-config" "$out" "missing.yaml"
run "${ml[@]}" --retrain-config "$work/retrain.yaml" --retrain-mode sometimes
expect_code "a bad --retrain-mode" "$code" 2
expect_in "a bad --retrain-mode" "$out" "--retrain-mode 'sometimes': expected auto, update or full"
run "${ml[@]}" --retrain-config "$work/retrain.yaml" --retrain-rows 10
expect_code "too few --retrain-rows" "$code" 2
expect_in "too few --retrain-rows" "$out" "--retrain-rows 10: at least 1000"
run "${ml[@]}" --member-weights loud
expect_code "a bad --member-weights" "$code" 2
expect_in "a bad --member-weights" "$out" "--member-weights 'loud': expected alike or adaptive"
run "${bad[@]}" --member-weights adaptive
expect_code "--member-weights for a rule signal" "$code" 2
expect_in "--member-weights for a rule signal" "$out" "--member-weights is for --signal ml_ensemble"
run "${ml[@]}" --retrain-config "$work/retrain.yaml" --retrain-wait maybe
expect_code "a bad --retrain-wait" "$code" 2
expect_in "a bad --retrain-wait" "$out" "--retrain-wait 'maybe'"
run "${ml[@]}" --retrain-config "$work/retrain.yaml" --retrain-timeout 0
expect_code "a bad --retrain-timeout" "$code" 2
expect_in "a bad --retrain-timeout" "$out" "--retrain-timeout 0: expected 1 to 86400 seconds"
[[ ! -e "$work/bad/events.db" ]] && pass "nothing started" || fail "a refused session left a log"

finish learning_loop_test
