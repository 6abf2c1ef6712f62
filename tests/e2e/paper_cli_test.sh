#!/usr/bin/env bash
# End-to-end tests of `aits paper`, `aits replay`, `aits explain` and `aits breaker` on the real
# tick file in ../shared/data and the synthetic market: a session run, its replay, the decision
# record behind an order, an operator halt applied on resume, Ctrl-C, bad input and a damaged
# event log. The log (events.db) is read with Python's sqlite3, read-only.
# Usage: paper_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -euo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
bg_pid=""
cleanup() {
  if [[ -n "$bg_pid" ]]; then kill -9 "$bg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ticks="$data/eurusd-ticks-2020-01-01.csv"

# count STATE TYPE [TEXT...]: events of TYPE whose payload contains every TEXT
count() {
  local state="$1" query="SELECT count(*) FROM events WHERE type = $2"; shift 2
  local text
  for text in "$@"; do query+=" AND instr(CAST(payload AS TEXT), '$text') > 0"; done
  sql "$state" "$query"
}
# last STATE COLUMN: a column of the last event
last() { sql "$1" "SELECT $2 FROM events ORDER BY seq DESC LIMIT 1"; }
size() { stat -c %s "$1"; }

# --- a session on the real tick file, as fast as possible
eur="$work/eur"
run "$aits" paper --feed "$ticks" --speed max --state "$eur" --params fast=3,slow=8 \
  --session-id e2e --quiet
expect_eq "paper on $ticks: exit code" "$code" "0"
expect_in "paper summary" "$out" "feed ended after 9500 new ticks"
expect_in "paper summary" "$out" "event log: $eur/events.db"
check "events.db exists" test -s "$eur/events.db"
expect_eq "logged ticks" "$(count "$eur" 2)" "9500"
expect_eq "first event is session_start" "$(sql "$eur" "SELECT type FROM events WHERE seq = 1")" "1"
expect_eq "last event is session_stop" \
  "$(last "$eur" type)" "10"
fills=$(count "$eur" 7)
check "the session trades ($fills fills)" test "$fills" -gt 0
run "$aits" replay --events "$eur"
expect_eq "replay: exit code" "$code" "0"
expect_in "replay" "$out" "identical"
expect_in "replay" "$out" "9500 ticks"

# --- explain: the decision record behind an order
order=$(sql "$eur" "SELECT payload FROM events WHERE type = 4" | "$python" -c '
import json, sys
records = [json.loads(line) for line in sys.stdin]
ids = [r["order"]["id"] for r in records if isinstance(r.get("order"), dict) and "id" in r["order"]]
print(ids[len(ids) // 2] if ids else "")')
check "a decision names an order ($order)" test -n "$order"
run "$aits" explain "$order" --state "$eur"
expect_eq "explain $order: exit code" "$code" "0"
expect_in "explain $order" "$out" "order $order:"
expect_in "explain $order" "$out" "filters:"
expect_in "explain $order" "$out" "order and risk checks:"
expect_in "explain $order" "$out" "\"risk\""
expect_in "explain $order" "$out" "what happened to the order:"
"$aits" explain "$order" --state "$eur" --json >"$work/explain.json"
check "explain --json parses as JSON" \
  "$python" -c 'import json, sys; json.load(open(sys.argv[1]))' "$work/explain.json"
json_order=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["order"]["id"])' \
  "$work/explain.json")
expect_eq "explain --json names the order" "$json_order" "$order"
run "$aits" explain 999999 --state "$eur"
check "explain of a nonexistent order fails (exit code $code)" test "$code" -ne 0 -a "$code" -lt 128
expect_in "explain of a nonexistent order" "$out" "order 999999"
run "$aits" explain 1 --state "$work/nowhere"
check "explain without a log fails (exit code $code)" test "$code" -ne 0 -a "$code" -lt 128
expect_in "explain without a log" "$out" "nowhere"

# --- an operator halt queued while the session is down, applied when it resumes
brk="$work/brk"
run "$aits" paper --feed "$ticks" --speed max --state "$brk" --params fast=3,slow=8 \
  --session-id brk --stop-after 3000 --quiet
expect_eq "first part of the halted session: exit code" "$code" "0"
expect_in "first part" "$out" "stopped after 3000 new ticks"
held=$(sed -n 's/.* position \([-0-9.]*\) .*/\1/p' <<<"$out")
check "the first part ends holding a position ($held lots), for the halt to flatten" \
  test -n "$held" -a "$held" != "0.00"
run "$aits" breaker halted --state "$brk" --reason "e2e halt"
expect_eq "breaker halted: exit code" "$code" "0"
expect_in "breaker halted" "$out" "queued"
run "$aits" paper --state "$brk" --speed max --quiet
expect_eq "resume after the halt: exit code" "$code" "0"
expect_in "resume after the halt" "$out" "breaker halted"
expect_in "halting flattens the position" "$out" "position 0.00"
# Logged in this order right after the command: the breaker change, the halt's closing order,
# its fill and the order's update; and no other fill follows (the halted breaker refuses the
# strategy's orders).
cmd_seq=$(sql "$brk" "SELECT min(seq) FROM events WHERE type = 9")
expect_eq "events after the halt command" "$(sql "$brk" "SELECT group_concat(type || ':' || \
  (instr(CAST(payload AS TEXT), 'halt') > 0), ',') FROM (SELECT type, payload FROM events \
  WHERE seq > $cmd_seq AND type IN (5, 6, 7, 8) ORDER BY seq LIMIT 4)")" "8:1,5:1,7:0,6:1"
expect_eq "fills after the halt command" "$(sql "$brk" "SELECT count(*) FROM events \
  WHERE seq > $cmd_seq AND type = 7")" "1"
run "$aits" replay --events "$brk"
expect_eq "replay of the halted session: exit code" "$code" "0"
expect_in "replay of the halted session" "$out" "identical"
expect_eq "logged operator command" "$(count "$brk" 9 "e2e halt")" "1"
expect_eq "breaker_change rows to halted, manual" "$(count "$brk" 8 halted '"manual":true')" "1"
run "$aits" breaker bogus --state "$brk"
expect_eq "breaker bogus: exit code" "$code" "2"
expect_in "breaker bogus" "$out" "bogus"
run "$aits" breaker halted --state "$work/nowhere"
check "breaker without a session fails (exit code $code)" test "$code" -ne 0 -a "$code" -lt 128
expect_in "breaker without a session" "$out" "holds no session"

# --- a session in real time: an operator command while it runs, then Ctrl-C stops it cleanly
# (exit code 0 and a session_stop as the last event)
int="$work/int"
"$aits" paper --speed 1 --state "$int" --session-id int --quiet >"$work/int.out" 2>&1 &
bg_pid=$!
# SIGINT only once the handler is in place (the log holds a tick): a slow start on a busy
# machine must not turn this into a kill before the handler exists.
for _ in $(seq 300); do
  [[ -s "$int/events.db" ]] && [[ "$(count "$int" 2 2>/dev/null || echo 0)" -gt 0 ]] && break
  sleep 0.2
done
# A running session applies an operator command within about a second.
run "$aits" breaker reduce_only --state "$int" --reason "live e2e"
expect_eq "breaker on a running session: exit code" "$code" "0"
changes=0
for _ in $(seq 100); do
  changes=$(count "$int" 8 reduce_only '"manual":true')
  [[ "$changes" -gt 0 ]] && break
  sleep 0.1
done
expect_eq "the running session logged the breaker change" "$changes" "1"
sleep 1
kill -INT "$bg_pid"
for _ in $(seq 300); do kill -0 "$bg_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$bg_pid" 2>/dev/null; then
  fail "aits paper still runs 30 s after SIGINT"
  kill -9 "$bg_pid"
fi
set +e; wait "$bg_pid"; code=$?; set -e
bg_pid=""
expect_eq "Ctrl-C: exit code" "$code" "0"
expect_in "Ctrl-C summary" "$(cat "$work/int.out")" "stopped by signal"
expect_eq "Ctrl-C: last event is session_stop" \
  "$(last "$int" type)" "10"
expect_in "Ctrl-C: session_stop" "$(last "$int" payload)" '"reason":"interrupted"'
run "$aits" replay --events "$int"
expect_in "replay after Ctrl-C" "$out" "identical"

# --- bad input: exit code 2 and a message naming the problem
printf 'decision:\n  buy_threshold: 0.5\n  buy_treshold: 0.4\n' >"$work/unknown.yaml"
paper_refuses "unknown decision key" "buy_treshold" "unknown.yaml:3" -- \
  --state "$work/bad1" --ticks 10 --speed max --config "$work/unknown.yaml"
check "a refused config writes no log" test ! -e "$work/bad1/events.db"
printf 'risk:\n  base: defaults\n  max_order_lots: -1\n' >"$work/negative.yaml"
paper_refuses "negative risk limit" "max_order_lots" "-1" -- \
  --state "$work/bad2" --ticks 10 --speed max --config "$work/negative.yaml"
printf 'risk:\n  max_order_lots: 5\n' >"$work/partial.yaml"
paper_refuses "risk section missing limits" "max_position_lots is missing" "base: defaults" -- \
  --state "$work/bad3" --ticks 10 --speed max --config "$work/partial.yaml"
paper_refuses "--speed fast" "--speed 'fast'" -- --state "$work/bad4" --ticks 10 --speed fast
paper_refuses "--reconcile maybe" "--reconcile" "\"maybe\"" "adopt, flatten, refuse" -- \
  --state "$work/bad6" --ticks 10 --speed max --reconcile maybe
check "a refused policy writes no log" test ! -e "$work/bad6/events.db"
printf 'risk:\n  base: defaults\nreconcile: sometimes\n' >"$work/policy.yaml"
paper_refuses "reconcile: sometimes" "policy.yaml:3" "reconcile: 'sometimes'" -- \
  --state "$work/bad7" --ticks 10 --speed max --config "$work/policy.yaml"
paper_refuses "bar data as feed" "gbpusd-m1-bid-2012.csv" "paper trading consumes ticks" -- \
  --state "$work/bad5" --speed max --feed "$data/gbpusd-m1-bid-2012.csv"
check "a refused feed writes no session" test ! -e "$work/bad5/events.db"
events_before=$(sql "$eur" "SELECT count(*) FROM events")
paper_refuses "another session in an existing --state" "holds another session" "signal_params" -- \
  --state "$eur" --speed max --feed "$ticks" --params fast=4,slow=8
expect_eq "a refused session leaves the log alone" "$(sql "$eur" "SELECT count(*) FROM events")" \
  "$events_before"

# --- a damaged event log: resume and replay stop with a clear error and write nothing
trunc="$work/trunc"
cp -r "$eur" "$trunc"
whole=$(size "$trunc/events.db")
truncate -s $((whole / 2)) "$trunc/events.db"
half=$(size "$trunc/events.db")
run "$aits" paper --state "$trunc" --speed max --quiet
check "resume of a truncated log fails (exit code $code)" test "$code" -ne 0 -a "$code" -lt 128
expect_in "resume of a truncated log" "$out" "events.db"
expect_eq "the truncated log is left as it was (bytes)" "$(size "$trunc/events.db")" "$half"
run "$aits" replay --events "$trunc"
check "replay of a truncated log fails cleanly (exit code $code)" \
  test "$code" -ne 0 -a "$code" -lt 128
expect_in "replay of a truncated log" "$out" "events.db"
expect_eq "the truncated log is left as it was after replay (bytes)" \
  "$(size "$trunc/events.db")" "$half"

# --- logging: --log-level info --log-json --log-file writes the session's events as JSON lines,
# with the flags before the subcommand or after it; the default level writes no log lines
logs="$work/logs"
plog="$work/paper.log"
run "$aits" --log-level info --log-json --log-file "$plog" paper --feed "$ticks" --speed max \
  --state "$logs" --params fast=3,slow=8 --session-id logs --stop-after 2000 --quiet
expect_eq "logged paper session: exit code" "$code" "0"
check "a log file keeps log lines out of the output" test "$(grep -c '"level"' <<<"$out")" -eq 0
run "$aits" breaker halted --state "$logs" --reason "log halt"
expect_eq "breaker for the logged session: exit code" "$code" "0"
run "$aits" paper --state "$logs" --speed max --quiet --log-level info --log-json \
  --log-file "$plog"
expect_eq "logged resume (flags after the subcommand): exit code" "$code" "0"
check "every log line is a JSON object with time, level, role, component and message" \
  "$python" - "$plog" <<'PY'
import json, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines, "no log lines"
for line in lines:
    record = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["time"]), line
    assert record["level"] == "info" and record["role"] == "aits", line
    assert record["component"] and record["message"], line
PY
session_lines=$("$python" - "$plog" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r["component"] == "session":
        detail = json.loads(r["command"])["reason"] if "command" in r else r.get("reason", "")
        print(r["message"], r.get("session_id"), r.get("rule", ""), detail)
PY
)
# The command sets the breaker before its own line is written.
expect_eq "the session's events, in order" "$session_lines" "paper session started logs  
paper session stopped logs  stop_after
paper session resumed logs  
breaker normal -> halted logs manual 
operator command applied logs  log halt
paper session stopped logs  feed_ended"
# A log line in text starts with its UTC time; the default level (warn) writes none.
log_line='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z '
"$aits" paper --feed "$ticks" --speed max --state "$work/logs-default" --params fast=3,slow=8 \
  --ticks 500 >/dev/null 2>"$work/default.err"
expect_eq "default level: log lines on stderr" "$(grep -cE "$log_line" "$work/default.err")" "0"
check "default level: stderr still has the paper notices" grep -q "aits paper: state in" \
  "$work/default.err"
"$aits" --log-level info paper --feed "$ticks" --speed max --state "$work/logs-text" \
  --params fast=3,slow=8 --ticks 500 --quiet >/dev/null 2>"$work/info.err"
check "--log-level info: text log lines on stderr" grep -qE "${log_line}info  session  paper session started" \
  "$work/info.err"
run "$aits" --log-file "$work/no-such-dir/aits.log" paper --state "$work/logs-bad" --quiet
expect_eq "unopenable --log-file: exit code" "$code" "1"
expect_in "unopenable --log-file" "$out" "$work/no-such-dir/aits.log"
check "an unopenable --log-file starts no session" test ! -e "$work/logs-bad"
run "$aits" paper --log-level loud --state "$work/logs-bad" --quiet
expect_eq "--log-level loud: exit code" "$code" "2"
expect_in "--log-level loud" "$out" "'loud'"

# --- help
run "$aits" paper --help
expect_eq "paper --help: exit code" "$code" "0"
for text in "--state" "--speed" "resume"; do expect_in "paper --help" "$out" "$text"; done

finish paper_cli_test
