#!/usr/bin/env bash
# End-to-end tests of `aits monitor` on the real files in ../shared/data: the alerts of the JSON
# output against the library's tests (src/aits/feed/monitor_replay_test.cc), the spread
# percentiles recomputed here from the file, the text summary, and errors for bad input.
# Usage: monitor_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- two files, JSON
run "$aits" monitor --data "$data/eurusd-ticks-2020-01-01.csv" --data "$data/usdjpy-ticks.csv" \
  --json
expect_code "monitor --json" "$code" "0"
printf '%s\n' "$out" >"$work/m.json"
expect_eq "files" "$(json "$work/m.json" "len(d['files'])")" "2"
expect_eq "eurusd symbol" "$(json "$work/m.json" "d['files'][0]['symbol']")" "EURUSD"
expect_eq "eurusd ticks" "$(json "$work/m.json" "d['files'][0]['statistics']['ticks']")" "9500"
expect_eq "eurusd alerts" "$(json "$work/m.json" "len(d['files'][0]['alerts'])")" "0"
expect_eq "usdjpy alerts" \
  "$(json "$work/m.json" "[(a['kind'], a['state']) for a in d['files'][1]['alerts']]")" \
  "[('stale_feed', 'raised'), ('stale_feed', 'cleared')]"
expect_eq "usdjpy stale start" "$(json "$work/m.json" "d['files'][1]['alerts'][0]['start']")" \
  "2013-01-01T22:02:00.295Z"
expect_eq "usdjpy stale end" "$(json "$work/m.json" "d['files'][1]['alerts'][1]['end']")" \
  "2013-01-01T22:02:35.907Z"
# The spread percentiles (nearest rank) and mean, recomputed from the file in points of 1e-5.
recomputed=$("$python" - "$data/eurusd-ticks-2020-01-01.csv" <<'PY'
import math, sys
spreads = sorted(round((float(a) - float(b)) * 1e5)
                 for _, b, a, _ in (line.strip().split(",") for line in open(sys.argv[1])))
rank = lambda p: spreads[max(1, math.ceil(p * len(spreads))) - 1] / 10
print(rank(0.5), rank(0.9), rank(0.99), max(spreads) / 10, round(sum(spreads) / len(spreads) / 10, 6))
PY
)
expect_eq "eurusd spread p50 p90 p99 max mean" \
  "$(json "$work/m.json" "' '.join(str(x) for x in [d['files'][0]['statistics']['spread_pips'][k] for k in ('p50', 'p90', 'p99', 'max')] + [round(d['files'][0]['statistics']['spread_pips']['mean'], 6)])")" \
  "$recomputed"

# --- text, bar files with their ask side
run "$aits" monitor --data "$data/gbpusd-m1-bid-2012.csv,$data/gbpusd-m1-ask-2012.csv" --quiet
expect_code "monitor gbpusd" "$code" "0"
expect_in "gbpusd summary" "$out" \
  "alerts        51 raised (spread_spike 30, price_gap 10, stale_feed 11, crossed_quote 0, frozen_quote 0)"
expect_in "gbpusd bars" "$out" "(bar closes of 30117 bars)"
run "$aits" monitor --data "GBPUSD=$data/gbpusd-m1-bid-2012.csv,$data/gbpusd-m1-ask-2012.csv"
expect_in "alert lines" "$out" \
  "2012-02-15T22:01:00Z raised warning spread_spike GBPUSD"
# A stricter stale limit raises more.
run "$aits" monitor --data "$data/eurusd-ticks-2020-01-01.csv" --stale-after 60 --quiet
# (seven silences of the file exceed 60 s: 85.7, 76.3, 67.0, 64.3, 60.3, 60.01 and 60.002 s)
expect_in "--stale-after 60" "$out" "stale_feed 7"

# --- bad input: exit 2, the message names the flag or file
run "$aits" monitor --data "$work/missing.csv"
expect_code "missing file" "$code" "2"
expect_in "missing file" "$out" "missing.csv"
run "$aits" monitor --data "a.csv,b.csv,c.csv"
expect_code "three files" "$code" "2"
expect_in "three files" "$out" "--data a.csv,b.csv,c.csv: more than two files"
run "$aits" monitor --data "$data/usdjpy-ticks.csv" --spike-ratio 0.5
expect_code "bad ratio" "$code" "2"
expect_in "bad ratio" "$out" "spread_spike_ratio = 0.5"
run "$aits" monitor
expect_code "no --data" "$code" "2"

finish monitor_cli_test
