#!/usr/bin/env bash
# End-to-end test of `aits backtest` over several instruments (docs/backtest.md, "Several
# instruments") on the real GBP/USD and USD/JPY one-minute bid/ask files in ../shared/data.
# Usage: multisym_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gbp="GBPUSD=$data/gbpusd-m1-bid-2012.csv,$data/gbpusd-m1-ask-2012.csv"
jpy="USDJPY=$data/usdjpy-m1-bid-2013.csv,$data/usdjpy-m1-ask-2013.csv"
common=(--strategy sma_cross --param fast=10 --param slow=30 --commission per_lot:7 --no-progress)

"$aits" backtest --data "$gbp" --data "$jpy" "${common[@]}" --out "$work/both" >"$work/both.log" 2>&1 ||
  { fail "two-symbol backtest"; cat "$work/both.log"; }
m="$work/both/metrics.json"
expect_eq "symbols" "$(json "$m" "[s['symbol'] for s in d['symbols']]")" "['GBPUSD', 'USDJPY']"
expect_eq "bars of both" "$(json "$m" "d['run']['bars_processed']")" "58878"
expect_eq "GBPUSD bars" "$(json "$m" "d['symbols'][0]['events']")" "30117"
expect_eq "USDJPY bars" "$(json "$m" "d['symbols'][1]['events']")" "28761"
expect_eq "USDJPY quote currency" "$(json "$m" "d['symbols'][1]['instrument']['quote']")" "JPY"
expect_eq "rows rejected" "$(json "$m" "d['data']['rejected_total']")" "0"
expect_eq "symbols' trades add up" \
  "$(json "$m" "sum(s['trades'] for s in d['symbols']) == d['metrics']['trades']")" "True"
expect_eq "symbols' net P&L is the balance change" \
  "$(json "$m" "abs(sum(s['net_pnl'] for s in d['symbols']) - (d['account']['final_balance'] - d['account']['initial_balance'])) < 0.01")" \
  "True"
# trades.csv and orders.csv: one row per trade and order, each with its symbol.
count_by_symbol() {
  "$python" -c "import csv,sys,collections; print(dict(sorted(collections.Counter(r['symbol'] for r in csv.DictReader(open(sys.argv[1]))).items())))" "$1"
}
expect_eq "trades.csv per symbol" "$(count_by_symbol "$work/both/trades.csv")" \
  "$(json "$m" "dict(sorted((s['symbol'], s['trades']) for s in d['symbols']))")"
expect_eq "orders.csv per symbol" "$(count_by_symbol "$work/both/orders.csv")" \
  "$(json "$m" "dict(sorted((s['symbol'], s['orders']) for s in d['symbols']))")"
expect_in "report.html per-symbol table" "$(cat "$work/both/report.html")" "USDJPY"
expect_in "summary" "$(cat "$work/both.log")" "sma_cross on 2 symbols"

# The histories do not overlap and sma_cross trades fixed lots: each symbol's trades are those of
# its own one-instrument run, and its net P&L is that run's closed trades' gross P&L less every
# commission it paid (the last position's entry included).
for sym in gbpusd:2012:0 usdjpy:2013:1; do
  IFS=: read -r name year idx <<<"$sym"
  "$aits" backtest --data "$data/$name-m1-bid-$year.csv" --ask-data "$data/$name-m1-ask-$year.csv" \
    "${common[@]}" --out "$work/$name" >/dev/null 2>&1 || fail "$name alone"
  expect_eq "$name trades as in its own run" "$(json "$m" "d['symbols'][$idx]['trades']")" \
    "$(json "$work/$name/metrics.json" "d['metrics']['trades']")"
  # trades.csv rounds each gross P&L to the cent: allow that much per row.
  expect_eq "$name net P&L as in its own run" "$("$python" -c "
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
single = sum(float(r['gross_pnl']) for r in rows) - json.load(open(sys.argv[2]))['metrics']['total_commission']
mine = json.load(open(sys.argv[3]))['symbols'][int(sys.argv[4])]['net_pnl']
print(abs(single - mine) <= 0.005 * len(rows) + 1e-6)
" "$work/$name/trades.csv" "$work/$name/metrics.json" "$m" "$idx")" "True"
done

# The same run from a YAML list.
cat >"$work/both.yaml" <<YAML
data:
  - symbol: GBPUSD
    files: [$data/gbpusd-m1-bid-2012.csv, $data/gbpusd-m1-ask-2012.csv]
  - {symbol: USDJPY, files: "$data/usdjpy-m1-bid-2013.csv,$data/usdjpy-m1-ask-2013.csv", role: trade}
strategy: {name: sma_cross, params: {fast: 10, slow: 30}}
costs: {commission: "per_lot:7"}
YAML
"$aits" backtest --config "$work/both.yaml" --no-progress --json >"$work/yaml.json" 2>"$work/yaml.err" ||
  { fail "YAML data list"; cat "$work/yaml.err"; }
expect_eq "YAML run = flag run" "$(json "$work/yaml.json" "(d['metrics']['trades'], d['account']['final_balance'])")" \
  "$(json "$m" "(d['metrics']['trades'], d['account']['final_balance'])")"

# Errors: exit code 2 and a message naming the flag or line and the value.
expect_error() {
  local what="$1" needle="$2"; shift 2
  out=$("$aits" backtest "$@" --no-progress 2>&1); code=$?
  expect_eq "$what (exit code)" "$code" "2"
  expect_in "$what" "$out" "$needle"
}
expect_error "missing file" "--data USDJPY=$work/nope.csv: no such file '$work/nope.csv'" \
  --data "$gbp" --data "USDJPY=$work/nope.csv"
expect_error "unknown symbol" "--data XXXYYY=" --data "$gbp" --data "XXXYYY=$data/usdjpy-ticks.csv"
expect_error "duplicate symbol" "symbol GBPUSD is given twice" --data "$gbp" --data "$gbp"
expect_error "no conversion for EURGBP" "add a feed for GBPUSD" \
  --data "$jpy" --data "EURGBP=$data/eurusd-ticks-2020-01-01.csv"
expect_error "per-instrument flag with several feeds" "--digits applies to one instrument" \
  --data "$gbp" --data "$jpy" --digits 4
printf 'data:\n  - {symbol: GBPUSD, files: a.csv, role: hedge}\n' >"$work/bad.yaml"
expect_error "YAML role" "bad.yaml:2 (GBPUSD): role 'hedge' is not trade or convert" \
  --config "$work/bad.yaml"

finish multisym_cli_test
