#!/usr/bin/env bash
# End-to-end test of `aits paper` over several instruments (docs/paper.md, "Several instruments"):
# the real GBP/USD (2012) and USD/JPY (2013) prices of ../shared/data, each one-minute bid/ask bar
# as one tick at its close, traded in one session at --speed max; the same through
# `aits backtest`; a stop and resume; replay; synthetic markets for several symbols; bad input.
# Usage: paper_multisym_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The balance of a paper summary ("... balance 100123.45 equity ...").
balance_of() { sed -n 's/.* balance \([-0-9.]*\) .*/\1/p' <<<"$1" | head -1; }

# Bid and ask bars joined on time -> timestamp,bid,ask at the bar's last second.
to_ticks() {
  "$python" - "$1" "$2" "$3" <<'PY'
import csv, sys, datetime
bid = {r['timestamp']: r['close'] for r in csv.DictReader(open(sys.argv[1]))}
with open(sys.argv[3], 'w') as out:
    out.write('timestamp,bid,ask\n')
    for r in csv.DictReader(open(sys.argv[2])):
        if r['timestamp'] not in bid:
            continue
        t = datetime.datetime.fromisoformat(r['timestamp']) + datetime.timedelta(seconds=59)
        out.write(f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{bid[r['timestamp']]},{r['close']}\n")
PY
}
to_ticks "$data/gbpusd-m1-bid-2012.csv" "$data/gbpusd-m1-ask-2012.csv" "$work/gbpusd.csv"
to_ticks "$data/usdjpy-m1-bid-2013.csv" "$data/usdjpy-m1-ask-2013.csv" "$work/usdjpy.csv"
gbp="GBPUSD=$work/gbpusd.csv"
jpy="USDJPY=$work/usdjpy.csv"
# Loose enough that the breaker stays normal and both symbols trade.
cat >"$work/risk.yaml" <<YAML
risk: {base: defaults, max_drawdown: 0.9, reduce_only_drawdown: 0.9, var_limit: 1, daily_loss_limit: 100000}
YAML
signal=(--signal sma_cross --config "$work/risk.yaml")

out=$("$aits" paper --data "$gbp" --data "$jpy" "${signal[@]}" --params fast=10,slow=30 \
  --balance 100000 --leverage 100 --speed max --state "$work/whole" --quiet 2>&1) ||
  fail "two-symbol paper session: $out"
expect_in "summary" "$out" "feed ended after"
ticks_of() { sed -n "s/.*$1 *traded *ticks \([0-9]*\) .*/\1/p" <<<"$2"; }
fills_of() { sed -n "s/.*$1 *traded .* fills \([0-9]*\) .*/\1/p" <<<"$2"; }
gbp_ticks=$(ticks_of GBPUSD "$out"); jpy_ticks=$(ticks_of USDJPY "$out")
expect_in "ticks of both" "$out" "feed ended after $((gbp_ticks + jpy_ticks)) new ticks"
[[ "$(fills_of USDJPY "$out")" -gt 0 && "$(fills_of GBPUSD "$out")" -gt 0 ]] &&
  pass "both symbols trade" || fail "both symbols should trade: $out"
whole_balance=$(balance_of "$out")
whole_out="$out"

"$aits" backtest --data "$gbp" --data "$jpy" "${signal[@]}" --param fast=10 --param slow=30 \
  --cash 100000 --leverage 100 --no-progress --json >"$work/bt.json" 2>"$work/bt.err" ||
  { fail "backtest"; cat "$work/bt.err"; }
expect_eq "backtest of the same feeds: final balance" \
  "$(json "$work/bt.json" "'%.2f' % d['account']['final_balance']")" "$whole_balance"
expect_eq "backtest of the same feeds: ticks per symbol" \
  "$(json "$work/bt.json" "[s['events'] for s in d['symbols']]")" "[$gbp_ticks, $jpy_ticks]"
expect_eq "backtest of the same feeds: fills per symbol" \
  "$(json "$work/bt.json" "[s['fills'] for s in d['symbols']]")" \
  "[$(fills_of GBPUSD "$whole_out"), $(fills_of USDJPY "$whole_out")]"

out=$("$aits" replay --events "$work/whole" 2>&1) || fail "replay: $out"
expect_in "replay" "$out" "identical"

# Stopped twice and resumed: the same end as the uninterrupted run.
"$aits" paper --data "$gbp" --data "$jpy" "${signal[@]}" --params fast=10,slow=30 --balance 100000 \
  --leverage 100 --speed max --state "$work/parts" --stop-after 25000 --quiet >/dev/null 2>&1 ||
  fail "part 1"
"$aits" paper --state "$work/parts" --speed max --stop-after 20000 --quiet >/dev/null 2>&1 ||
  fail "part 2"
out=$("$aits" paper --state "$work/parts" --speed max --quiet 2>&1) || fail "part 3: $out"
expect_in "resumed run" "$out" "feed ended after $((gbp_ticks + jpy_ticks - 45000)) new ticks"
expect_eq "resumed balance" "$(balance_of "$out")" "$whole_balance"
out=$("$aits" replay --events "$work/parts" 2>&1) || fail "replay of the resumed log: $out"
expect_in "replay of the resumed log" "$out" "identical"

# The same from the config file's data list.
cat >"$work/multi.yaml" <<YAML
data:
  - {symbol: GBPUSD, files: gbpusd.csv}
  - {symbol: USDJPY, files: usdjpy.csv}
risk:
  base: defaults
  max_drawdown: 0.9
  reduce_only_drawdown: 0.9
  var_limit: 1
  daily_loss_limit: 100000
  group: ["majors:GBPUSD,USDJPY:max_positions=2"]
YAML
out=$("$aits" paper --config "$work/multi.yaml" --signal sma_cross --params fast=10,slow=30 \
  --balance 100000 --leverage 100 --speed max --state "$work/yaml" --quiet 2>&1) ||
  fail "YAML data list: $out"
expect_eq "YAML run = flag run" "$(balance_of "$out")" "$whole_balance"

# Synthetic markets for two symbols, interleaved in time; stop, resume, replay.
syn=(--synthetic EURUSD,USDJPY --seed 5 --ticks 20000 --start 2024-01-08 --signal sma_cross --params fast=3,slow=8)
out=$("$aits" paper "${syn[@]}" --speed max --state "$work/syn" --quiet 2>&1) || fail "synthetic: $out"
expect_in "synthetic summary" "$out" "feed ended after 20000 new ticks"
expect_in "synthetic EURUSD" "$out" "EURUSD   traded"
syn_balance=$(balance_of "$out")
"$aits" paper "${syn[@]}" --speed max --state "$work/syn2" --stop-after 7000 --quiet >/dev/null 2>&1 ||
  fail "synthetic part 1"
out=$("$aits" paper --state "$work/syn2" --speed max --quiet 2>&1) || fail "synthetic part 2: $out"
expect_eq "synthetic resumed balance" "$(balance_of "$out")" "$syn_balance"
out=$("$aits" replay --events "$work/syn2" 2>&1) || fail "synthetic replay: $out"
expect_in "synthetic replay" "$out" "identical"

# Bad input: exit code 2 and a message naming the flag or the file and line.
expect_error() {
  local what="$1" needle="$2"; shift 2
  out=$("$aits" paper "$@" --speed max --state "$work/bad-$RANDOM" --quiet 2>&1); code=$?
  expect_eq "$what (exit code)" "$code" "2"
  expect_in "$what" "$out" "$needle"
}
expect_error "symbol twice" "--data $gbp: symbol GBPUSD is given twice" --data "$gbp" --data "$gbp"
expect_error "unresolvable symbol" "--data XXXYYY=$work/gbpusd.csv:" \
  --data "$gbp" --data "XXXYYY=$work/gbpusd.csv"
expect_error "missing file" "--data USDJPY=$work/nope.csv: no such file" \
  --data "$gbp" --data "USDJPY=$work/nope.csv"
expect_error "bid/ask bar files" "paper trading reads tick files" \
  --data "GBPUSD=$data/gbpusd-m1-bid-2012.csv,$data/gbpusd-m1-ask-2012.csv" --data "$jpy"
expect_error "traded symbol without a feed (--symbol)" "--symbol is for a session of one instrument" \
  --symbol EURUSD --data "$gbp" --data "$jpy"
expect_error "no conversion for EURGBP" "add a feed for GBPUSD" \
  --data "$jpy" --data "EURGBP=$work/gbpusd.csv"
expect_error "synthetic symbol twice" "--synthetic EURUSD: symbol EURUSD is given twice" \
  --synthetic EURUSD,EURUSD --ticks 10
printf 'data:\n  - {symbol: GBPUSD, files: gbpusd.csv, role: hedge}\n' >"$work/bad.yaml"
expect_error "YAML role" "bad.yaml:2 (GBPUSD): role 'hedge' is not trade or convert" \
  --config "$work/bad.yaml"
printf 'risk:\n  base: defaults\n  group: "x:GBPUSD"\n' >"$work/badgroup.yaml"
expect_error "YAML group" "badgroup.yaml:3: risk.group:" --config "$work/badgroup.yaml" --data "$gbp"

finish paper_multisym_cli_test
