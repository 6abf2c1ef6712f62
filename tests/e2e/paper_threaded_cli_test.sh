#!/usr/bin/env bash
# End-to-end tests of `aits paper --venue threaded`: a session on the asynchronous venue (the
# simulated venue on its own thread, its reports travelling through the inbox) on the real tick
# file, its log holding the venue's reports as inputs, a replay that reproduces it exactly, a
# resume on a fresh venue and the settings file's `execution:` section; bad values are clear
# errors naming the flag (or file and line) and the value. The log is read with Python's sqlite3.
# Usage: paper_threaded_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -euo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ticks="$data/eurusd-ticks-2020-01-01.csv"

# --- a session on the threaded venue, stopped part way
thr="$work/thr"
run "$aits" paper --feed "$ticks" --speed max --state "$thr" --params fast=3,slow=8 \
  --session-id thr --venue threaded --report-latency 1ms --stop-after 5000 --quiet
expect_eq "paper --venue threaded: exit code" "$code" "0"
expect_in "paper summary" "$out" "stopped after 5000 new ticks"
expect_in "paper summary" "$out" "venue reports"
spec=$(sql "$thr" "SELECT payload FROM events WHERE seq = 1")
expect_in "session_start" "$spec" '"venue":"threaded"'
expect_in "session_start" "$spec" '"report_latency_us":1000'
reports=$(sql "$thr" "SELECT count(*) FROM events WHERE type = 14")
fills=$(sql "$thr" "SELECT count(*) FROM events WHERE type = 7")
check "the session trades ($fills fills)" test "$fills" -gt 0
check "execution reports are logged as inputs ($reports >= $fills)" test "$reports" -ge "$fills"
run "$aits" replay --events "$thr"
expect_eq "replay: exit code" "$code" "0"
expect_in "replay" "$out" "identical"
expect_in "replay" "$out" "5000 ticks"

# --- resume: a fresh threaded venue holding what the log implies, nothing to reconcile
run "$aits" paper --state "$thr" --speed max --quiet
expect_eq "resume: exit code" "$code" "0"
expect_in "resume" "$out" "feed ended after 4500 new ticks"
expect_eq "no reconciliation recorded" "$(sql "$thr" "SELECT count(*) FROM events WHERE type = 13")" \
  "0"
run "$aits" replay --events "$thr"
expect_eq "replay after resume: exit code" "$code" "0"
expect_in "replay after resume" "$out" "identical"
expect_in "replay after resume" "$out" "9500 ticks"

# --- the settings file's execution: section
printf 'execution:\n  report_latency: 250us\n  venue: threaded\n' >"$work/threaded.yaml"
yaml="$work/yaml"
run "$aits" paper --feed synthetic --ticks 3000 --speed max --state "$yaml" --params fast=3,slow=8 \
  --config "$work/threaded.yaml" --quiet
expect_eq "execution: section: exit code" "$code" "0"
expect_in "session_start from the file" "$(sql "$yaml" "SELECT payload FROM events WHERE seq = 1")" \
  '"report_latency_us":250'
run "$aits" replay --events "$yaml"
expect_in "replay of the file's session" "$out" "identical"
# The default stays the synchronous venue: nothing new in its log.
sim="$work/sim"
run "$aits" paper --feed synthetic --ticks 2000 --speed max --state "$sim" --quiet
expect_eq "default venue: exit code" "$code" "0"
expect_eq "no venue in a default session_start" \
  "$(sql "$sim" "SELECT instr(CAST(payload AS TEXT), 'venue') FROM events WHERE seq = 1")" "0"
expect_eq "no venue reports in a default log" \
  "$(sql "$sim" "SELECT count(*) FROM events WHERE type IN (14, 15)")" "0"

# --- live against backtest: the threaded session slipped 3 points a fill; its backtest on the
# same ticks with no slippage shows every strategy fill 3 points worse.
slip="$work/slip"
run "$aits" paper --feed synthetic --ticks 6000 --speed max --venue threaded --slippage 3 \
  --start 2024-01-08 --state "$slip" --quiet
expect_eq "slipping session: exit code" "$code" "0"
run "$aits" compare --state "$slip" --slippage 0 --csv "$work/fills.csv"
expect_eq "compare: exit code" "$code" "0"
expect_in "compare: the slippage" "$out" "slippage mean 3.00 points (max 3.00)"
expect_in "compare: the gap's parts" "$out" "fill prices of paired orders -"
expect_in "compare: the csv" "$(head -1 "$work/fills.csv")" "created,kind,symbol,side,origin"
run "$aits" compare --state "$slip" --json
expect_in "compare --json: the session's own venue model" "$out" '"max_abs_slippage_points": 0.0'
run "$aits" compare --state "$work/none"
expect_eq "compare of nothing: exit code (a session that does not exist)" "$code" "2"
expect_in "compare of nothing: names the log" "$out" "none"

# --- bad input: exit code 2, naming the flag (or file:line and key) and the value
paper_refuses "--venue foo" "--venue" "'foo'" "simulated, threaded" -- \
  --state "$work/bad1" --ticks 10 --speed max --venue foo
check "a refused venue writes no log" test ! -e "$work/bad1/events.db"
paper_refuses "--report-latency 5 parsecs" "--report-latency" "'5parsecs'" -- \
  --state "$work/bad2" --ticks 10 --speed max --venue threaded --report-latency 5parsecs
paper_refuses "--report-latency on the simulated venue" "--report-latency" "--venue threaded" -- \
  --state "$work/bad3" --ticks 10 --speed max --report-latency 5ms
printf 'execution:\n  venue: remote\n' >"$work/bad.yaml"
paper_refuses "execution.venue: remote" "bad.yaml:2" "execution.venue" "'remote'" -- \
  --state "$work/bad4" --ticks 10 --speed max --config "$work/bad.yaml"
printf 'execution:\n  latency: 5ms\n' >"$work/key.yaml"
paper_refuses "execution.latency" "key.yaml:2" "unknown key execution.latency" -- \
  --state "$work/bad5" --ticks 10 --speed max --config "$work/key.yaml"

finish paper_threaded_cli_test
