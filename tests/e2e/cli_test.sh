#!/usr/bin/env bash
# End-to-end tests of the `aits` command line on the real files in ../shared/data.
# Usage: cli_test.sh AITS_BINARY SHARED_DATA_DIR TESTS_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; tests="$3"; python="$4"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- help for every command
for cmd in backtest import indicators info strategies instruments; do
  out=$("$aits" "$cmd" --help 2>&1) || fail "aits $cmd --help exits non-zero"
  expect_in "aits $cmd --help" "$out" "Usage"
done
expect_in "aits --help" "$("$aits" --help 2>&1)" "backtest"

# --- backtest on real GBP/USD bid+ask one-minute bars
"$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --ask-data "$data/gbpusd-m1-ask-2012.csv" \
  --strategy sma_cross --param fast=10 --param slow=30 --commission per_lot:7 \
  --out "$work/gbp" --no-progress >"$work/gbp.log" 2>&1 || { fail "gbpusd backtest"; cat "$work/gbp.log"; }
for f in metrics.json trades.csv orders.csv equity.csv report.html; do
  [[ -s "$work/gbp/$f" ]] && pass "gbp $f written" || fail "gbp $f missing"
done
m="$work/gbp/metrics.json"
expect_eq "gbp bars" "$(json "$m" "d['run']['bars_processed']")" "30117"
expect_eq "gbp rejected" "$(json "$m" "d['data']['rejected_total']")" "0"
expect_eq "gbp format" "$(json "$m" "d['data']['format']")" "csv-bars"
expect_eq "gbp crossed bars repaired, counted" "$(json "$m" "d['data']['repaired']")" "1203"
trades=$(json "$m" "d['metrics']['trades']")
[[ "$trades" -gt 10 ]] && pass "gbp trades $trades" || fail "gbp trades $trades"
expect_eq "trades.csv rows" "$(($(wc -l <"$work/gbp/trades.csv") - 1))" "$trades"
expect_eq "gbp commission > 0" "$(json "$m" "d['metrics']['total_commission'] > 0")" "True"
# The ledger adds up, from outputs that do not derive from each other: orders.csv (every fill:
# sma_cross's market orders fill whole, at their average price), trades.csv and the data's last
# bar. Realised P&L of closed lots + open P&L - commission (7 per lot filled) = final equity -
# initial balance; and trades.csv carries the same realised P&L.
ledger=$("$python" - "$work/gbp" "$data/gbpusd-m1-bid-2012.csv" "$data/gbpusd-m1-ask-2012.csv" <<'PY'
import csv, json, sys
out, bid_file, ask_file = sys.argv[1:]
m = json.load(open(out + "/metrics.json"))
orders = list(csv.DictReader(open(out + "/orders.csv")))
trades = list(csv.DictReader(open(out + "/trades.csv")))
problems = []
if len(orders) != m["run"]["orders"]:
    problems.append(f"orders.csv has {len(orders)} rows, metrics.json {m['run']['orders']} orders")
filled = [o for o in orders if o["status"] == "filled"]
if len(filled) != m["run"]["fills"]:
    problems.append(f"{len(filled)} filled orders, {m['run']['fills']} fills")
if any(float(o["filled"]) != float(o["quantity"]) for o in filled):
    problems.append("a filled order is not filled whole")
# The venue's ticket, the last column: every order that reached the venue has one, a new one each.
if list(orders[0].keys())[-1] != "venue_order_id":
    problems.append(f"orders.csv's last column is {list(orders[0].keys())[-1]}, not venue_order_id")
tickets = [int(o["venue_order_id"]) for o in filled if o["venue_order_id"]]
if len(tickets) != len(filled) or min(tickets, default=1) < 1:
    problems.append(f"{len(filled) - len(tickets)} filled orders without the venue's ticket")
by_id = [int(o["venue_order_id"]) for o in sorted(filled, key=lambda o: int(o["id"]))]
if by_id != sorted(set(by_id)):
    problems.append("the venue's tickets are not distinct and in the order of the orders")
lots = avg = realised = traded = 0.0
for o in sorted(filled, key=lambda o: int(o["id"])):
    qty, price = float(o["filled"]), float(o["avg_fill_price"])
    delta = qty if o["side"] == "buy" else -qty
    traded += qty
    if lots == 0 or (lots > 0) == (delta > 0):
        avg = (avg * abs(lots) + price * qty) / (abs(lots) + qty)
        lots += delta
        continue
    closed = min(qty, abs(lots))
    realised += (price - avg if lots > 0 else avg - price) * closed * 100000
    left = lots + delta
    if abs(left) < 1e-9:
        left = 0.0
    elif (left > 0) != (lots > 0):
        avg = price
    lots = left
last = lambda path: [float(v) for v in open(path).read().split("\n")[-2].split(",")[1:]]
bid_close, ask_close = last(bid_file)[3], last(ask_file)[3]
ask_close = max(ask_close, bid_close)  # a crossed ask is lifted to the bid, as the reader does
open_pnl = ((bid_close - avg) if lots > 0 else (avg - ask_close)) * abs(lots) * 100000
commission = 7 * traded
change = m["account"]["final_equity"] - m["account"]["initial_balance"]
if abs(realised + open_pnl - commission - change) > 0.01:
    problems.append(f"realised {realised:.2f} + open {open_pnl:.2f} - commission {commission:.2f}"
                    f" != final - initial {change:.2f}")
if abs(commission - m["metrics"]["total_commission"]) > 0.01:
    problems.append(f"commission {commission:.2f} != {m['metrics']['total_commission']}")
gross = sum(float(t["gross_pnl"]) for t in trades)
if abs(gross - realised) > 0.01:
    problems.append(f"trades.csv gross P&L {gross:.2f} != realised {realised:.2f}")
equity = list(csv.DictReader(open(out + "/equity.csv")))
if abs(float(equity[-1]["equity"]) - m["account"]["final_equity"]) > 0.01:
    problems.append(f"equity.csv ends at {equity[-1]['equity']}, final equity {m['account']['final_equity']}")
if max(float(r["drawdown"]) for r in equity) > m["metrics"]["max_drawdown"] + 1e-6:
    problems.append("equity.csv draws down deeper than max_drawdown")
print("; ".join(problems) or f"adds up ({len(filled)} fills, open {lots:+.2f} lots)")
PY
)
expect_in "gbp ledger" "$ledger" "adds up"
expect_in "report shows the final equity" "$(cat "$work/gbp/report.html")" \
  "$(json "$m" "'%.2f' % d['account']['final_equity']")"
svgs=$(grep -o "<svg" "$work/gbp/report.html" | wc -l)
[[ "$svgs" -ge 3 ]] && pass "report has $svgs charts" || fail "report has $svgs charts"
if grep -Eq "(src|href)=\"https?://" "$work/gbp/report.html"; then fail "report fetches from the network"; else pass "report is self-contained"; fi

# --- same run from a YAML config gives the same numbers
cat >"$work/bt.yaml" <<YAML
data: $data/gbpusd-m1-bid-2012.csv
ask_data: $data/gbpusd-m1-ask-2012.csv
strategy:
  name: sma_cross
  params: {fast: 10, slow: 30}
costs:
  commission: per_lot:7
YAML
"$aits" backtest --config "$work/bt.yaml" --json --no-progress >"$work/yaml.json" 2>"$work/yaml.err" || { fail "yaml backtest"; cat "$work/yaml.err"; }
expect_eq "yaml = flags (net profit)" "$(json "$work/yaml.json" "d['metrics']['net_profit']")" "$(json "$m" "d['metrics']['net_profit']")"
printf 'data: x.csv\nstrategy:\n  name: sma_cross\n  parms: {fast: 3}\n' >"$work/typo.yaml"
out=$("$aits" backtest --config "$work/typo.yaml" 2>&1) && fail "typo in yaml accepted"
expect_in "yaml typo" "$out" "strategy.parms"

# --- the decision stack: --signal trades through the decision engine and the risk manager, with
# the decision: and risk: sections paper sessions read; a built-in strategy refuses them.
cat >"$work/stack.yaml" <<YAML
strategy:
  signal: sma_cross
  params: {fast: 5, slow: 20}
decision:
  buy_threshold: 0.3
  sell_threshold: -0.3
  sizing: fixed_lots
  lots: 3
  max_lots: 3
  scale_by_confidence: false
risk:
  base: defaults
  max_order_lots: 2
YAML
"$aits" backtest --config "$work/stack.yaml" --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD \
  --json --no-progress >"$work/stack.json" 2>"$work/stack.err" || { fail "decision-stack backtest"; cat "$work/stack.err"; }
expect_eq "stack" "$(json "$work/stack.json" "d['strategy']['stack']")" "decision"
expect_eq "stack has a risk manager" "$(json "$work/stack.json" "d['strategy']['risk_manager']")" "True"
expect_eq "stack decided" "$(json "$work/stack.json" "d['strategy']['decisions'] > 0")" "True"
# 3-lot entries (max_lots 3 lifts the cap at the risk limits) against a 2-lot order limit: every
# entry is refused, so nothing fills.
expect_eq "risk manager refuses the 3-lot entries" "$(json "$work/stack.json" "d['run']['orders'] > 0 and d['run']['fills'] == 0")" "True"
out=$("$aits" backtest --config "$work/stack.yaml" --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD \
      --strategy rsi_reversion --no-progress 2>&1) && fail "--strategy with --signal accepted"
expect_in "--strategy and --signal" "$out" "give one"
printf 'risk:\n  base: defaults\n' >"$work/risk-only.yaml"
out=$("$aits" backtest --config "$work/risk-only.yaml" --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD \
      --no-progress 2>&1) && fail "risk: with a built-in strategy accepted"
expect_in "risk: with a built-in strategy" "$out" "decision stack"

# --- ticks: HistData EUR/USD, import to binary, replay gives identical results
"$aits" backtest --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD --bar M1 \
  --param fast=5 --param slow=20 --json --no-progress >"$work/eur.json" 2>"$work/eur.err" || { fail "eurusd tick backtest"; cat "$work/eur.err"; }
expect_eq "eur format" "$(json "$work/eur.json" "d['data']['format']")" "histdata-ticks"
expect_eq "eur ticks" "$(json "$work/eur.json" "d['run']['ticks_processed'] + d['data']['rejected_total']")" "9500"
"$aits" import --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD --out "$work/eur.aitsbin" --no-progress >"$work/imp.log" 2>&1 || { fail "import"; cat "$work/imp.log"; }
"$aits" backtest --data "$work/eur.aitsbin" --bar M1 --param fast=5 --param slow=20 --json --no-progress >"$work/eurbin.json" 2>"$work/eurbin.err" || { fail "binary backtest"; cat "$work/eurbin.err"; }
expect_eq "binary format" "$(json "$work/eurbin.json" "d['data']['format']")" "binary"
for key in "d['run']['ticks_processed']" "d['metrics']['trades']" "d['metrics']['net_profit']" "d['account']['final_equity']"; do
  expect_eq "csv = binary ($key)" "$(json "$work/eurbin.json" "$key")" "$(json "$work/eur.json" "$key")"
done

# --- single-price series with a configured spread (USD/CHF)
"$aits" backtest --data "$data/usdchf-30min-1996-2001.csv" --symbol USDCHF --spread 20 --bar H4 \
  --json --no-progress >"$work/chf.json" 2>"$work/chf.err" || { fail "usdchf backtest"; cat "$work/chf.err"; }
expect_eq "chf format" "$(json "$work/chf.json" "d['data']['format']")" "price"
expect_eq "chf rows" "$(json "$work/chf.json" "d['data']['rows']")" "62496"

# --- yahoo daily bars
"$aits" backtest --data "$data/orcl-day-1995-2014.txt" --symbol ORCL --spread 1 --strategy rsi_reversion \
  --param lots=100 --json --no-progress >"$work/orcl.json" 2>"$work/orcl.err" || { fail "orcl backtest"; cat "$work/orcl.err"; }
expect_eq "orcl format" "$(json "$work/orcl.json" "d['data']['format']")" "yahoo"
expect_eq "orcl bars" "$(json "$work/orcl.json" "d['run']['bars_processed']")" "5036"

# --- indicators checked against an independent Python implementation
"$aits" indicators --data "$data/gbpusd-m1-bid-2012.csv" \
  --indicators sma:30,ema:30,rsi:14,atr:14,macd:12:26:9,bbands:20:2 --out "$work/ind.csv" >"$work/ind.log" 2>&1 || { fail "indicators"; cat "$work/ind.log"; }
if "$python" "$tests/tools/ta_reference.py" --bars "$data/gbpusd-m1-bid-2012.csv" --aits "$work/ind.csv" >"$work/ref.log" 2>&1; then
  pass "indicators match the Python reference ($(tail -1 "$work/ref.log"))"
else
  fail "indicators differ from the Python reference"; tail -20 "$work/ref.log"
fi
expect_eq "indicator rows" "$(($(wc -l <"$work/ind.csv") - 1))" "30117"

# --- bad input: counted rejections, strict mode, missing/empty/wrong-format files
cat >"$work/bad.csv" <<CSV
timestamp,bid,ask
2013-01-01 22:00:00.000,86.655,86.728
2013-01-01 22:00:01.000,nan,86.728
2013-01-01 22:00:02.000,86.655,inf
2013-01-01 22:00:03.000,-1,86.728
2013-01-01 22:00:04.000,86.800,86.700
2013-01-01 22:00:05.000,86.655
2013-01-01 22:00:06.000,abc,86.728
2013-01-01 21:00:00.000,86.655,86.728
2013-01-01 22:00:07.000,86.660,86.730
2013-01-01 22:00:07.000,86.660,86.730
2013-01-01 22:00:08.000,86.661,86.731
CSV
"$aits" backtest --data "$work/bad.csv" --symbol USDJPY --json --no-progress >"$work/bad.json" 2>"$work/bad.err" || { fail "bad.csv backtest should run"; cat "$work/bad.err"; }
expect_eq "bad accepted" "$(json "$work/bad.json" "d['data']['accepted']")" "3"
expect_eq "bad rejected" "$(json "$work/bad.json" "d['data']['rejected_total']")" "8"
expect_eq "bad non_finite" "$(json "$work/bad.json" "d['data']['rejected']['non_finite']")" "2"
expect_eq "bad crossed" "$(json "$work/bad.json" "d['data']['rejected']['crossed']")" "1"
expect_eq "bad backwards" "$(json "$work/bad.json" "d['data']['rejected']['time_backwards']")" "1"
expect_eq "bad duplicate" "$(json "$work/bad.json" "d['data']['rejected']['duplicate']")" "1"
expect_in "bad sample names file:line" "$(json "$work/bad.json" "d['data']['rejected_samples'][0]")" "bad.csv:3"
out=$("$aits" backtest --data "$work/bad.csv" --symbol USDJPY --strict --no-progress 2>&1) && fail "strict run succeeded"
expect_in "strict stops at line 3" "$out" "bad.csv:3"
out=$("$aits" backtest --data "$work/missing.csv" --no-progress 2>&1) && fail "missing file accepted"
expect_in "missing file" "$out" "missing.csv"
: >"$work/empty.csv"
out=$("$aits" backtest --data "$work/empty.csv" --symbol EURUSD --no-progress 2>&1) && fail "empty file accepted"
expect_in "empty file" "$out" "empty.csv"
printf 'hello world\nthis is not market data\n' >"$work/words.csv"
out=$("$aits" backtest --data "$work/words.csv" --symbol EURUSD --no-progress 2>&1) && fail "wrong-format file accepted"
expect_in "wrong format" "$out" "words.csv"
head -c 100 "$work/eur.aitsbin" >"$work/trunc.aitsbin"
out=$("$aits" backtest --data "$work/trunc.aitsbin" --symbol EURUSD --format binary --no-progress 2>&1) && fail "truncated store accepted"
expect_in "truncated store" "$out" "trunc.aitsbin"
out=$("$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --leverage -5 --no-progress 2>&1) && fail "negative leverage accepted"
expect_in "negative leverage" "$out" "leverage"
out=$("$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --param fsat=3 --no-progress 2>&1) && fail "unknown param accepted"
expect_in "unknown param" "$out" "fsat"

# --- regressions from the review of issue 2
printf 'timestamp,bid,ask\n2020-01-01 00:00:00,1.1,1.2\n2020-01-01 00:00:01,1.1\xe9,1.2\n' >"$work/latin1.csv"
"$aits" backtest --data "$work/latin1.csv" --symbol EURUSD --out "$work/latin1" --no-progress >/dev/null 2>&1 \
  || fail "a run with a non-UTF-8 row"
# Strict UTF-8 decoding: the bad byte is in the rejected row's sample, replaced, not copied.
latin1=$("$python" -c "
import json, sys
d = json.load(open(sys.argv[1], encoding='utf-8'))['data']
s = d['rejected_samples']
print(d['accepted'], d['rejected_total'], len(s), 'latin1.csv:3' in s[0], '\ufffd' in s[0])" \
  "$work/latin1/metrics.json" 2>&1)
expect_eq "non-UTF-8 sample in a valid metrics.json" "$latin1" "1 1 1 True True"
printf 'just a scalar\n' >"$work/scalar.yaml"
out=$("$aits" backtest --config "$work/scalar.yaml" 2>&1); code=$?
expect_eq "scalar yaml exit code" "$code" "2"
expect_in "scalar yaml" "$out" "top level must be a map"
"$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --ask-data "$data/gbpusd-m1-ask-2012.csv" --bar H1 \
  --json --no-progress >"$work/h1.json" 2>"$work/h1.err" || { fail "H1 resample"; cat "$work/h1.err"; }
h1=$(json "$work/h1.json" "d['run']['bars_processed']")
[[ "$h1" -gt 400 && "$h1" -lt 600 ]] && pass "--bar H1 resamples M1 bars ($h1 bars)" || fail "--bar H1 gave $h1 bars"
out=$("$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --bar 90s --no-progress 2>&1) && fail "--bar 90s on M1 bars accepted"
expect_in "--bar not a multiple" "$out" "not a multiple"
"$aits" backtest --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD --param fast=2 --param slow=3 \
  --latency-us 300000000 --out "$work/slow" --no-progress >/dev/null 2>&1 || fail "long-latency run"
maxq=$("$python" -c "import csv,sys; print(max(float(r['quantity']) for r in csv.DictReader(open(sys.argv[1]))))" "$work/slow/orders.csv")
expect_eq "long latency never stacks orders (max order lots)" "$maxq" "2.0"
for bad in "--leverage 1e-300" "--leverage inf" "--margin-rate inf" "--commission per_lot:1e300" \
           "--contract-size 1e30" "--latency-us 9223372036854775807" "--bar 1000000d" "--cash 1e30" \
           "--slippage 100000000000" "--base EURO"; do
  # shellcheck disable=SC2086
  out=$("$aits" backtest --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD $bad --no-progress 2>&1); code=$?
  expect_eq "rejects $bad (exit code)" "$code" "2"
done
out=$("$aits" backtest --data "$data/eurusd-ticks-2020-01-01.csv" --symbol EURUSD --ask-data "$work/nope.csv" --no-progress 2>&1) && fail "--ask-data with ticks accepted"
expect_in "--ask-data with ticks" "$out" "joins bar files only"
expect_in "zero-spread warning" "$(json "$work/chf.json" "d['warnings']")" "[]"
"$aits" backtest --data "$data/usdchf-30min-1996-2001.csv" --symbol USDCHF --json --no-progress >"$work/chf0.json" 2>/dev/null
expect_in "zero-spread warning" "$(json "$work/chf0.json" "d['warnings'][0]")" "without a spread"

# --- regressions from the second review of issue 2
printf '20230230,1.1,1.2\n20230301,1.1,1.2\n' >"$work/baddate.csv"
out=$("$aits" info "$work/baddate.csv" 2>&1) && fail "an impossible date was read as an epoch"
expect_in "impossible YYYYMMDD date" "$out" "baddate.csv"
printf '20200101 170000;1.1212;1.12172;1.1211;1.1215;0\n20200101 170100;1.1215;1.12182;1.1213;1.1216;0\n' >"$work/hdbars.csv"
expect_in "HistData bars are bars" "$("$aits" info "$work/hdbars.csv" 2>&1)" "csv-bars"
printf '2020-01-01 00:00:00,1.1000,1.1010,1.0990,1.1005\n' >"$work/ohlc5.csv"
out=$("$aits" info "$work/ohlc5.csv" 2>&1) && fail "5 headerless columns guessed"
expect_in "5 headerless columns" "$out" "ambiguous"
out=$("$aits" backtest --data "$work/eur.aitsbin" --digits 3 --no-progress 2>&1) && fail "store digits overridden"
expect_in "store digits" "$out" "5-digit prices"
out=$("$aits" import --data "$work/eur.aitsbin" --out "$work/eur.aitsbin" 2>&1) && fail "import onto itself"
expect_in "import onto itself" "$out" "input file itself"
printf 'timestamp,bid,ask\n2020-01-01 00:00:00,nan,1.2\n' >"$work/allbad.csv"
out=$("$aits" import --data "$work/allbad.csv" --symbol EURUSD --out "$work/allbad.aitsbin" 2>&1) && fail "import of no ticks"
expect_in "import of no ticks" "$out" "no valid ticks"
[[ -e "$work/allbad.aitsbin" ]] && fail "empty import left a file" || pass "empty import leaves no file"
expect_in "daily bar period" "$("$aits" info "$data/orcl-day-1995-2014.txt" 2>&1)" "of 86400 s"
"$aits" indicators --data "$data/gbpusd-m1-bid-2012.csv" --bar H1 --indicators sma:5 --out "$work/h1.csv" >/dev/null 2>&1 || fail "indicators --bar H1"
rows=$(($(wc -l <"$work/h1.csv") - 1))
[[ "$rows" -gt 400 && "$rows" -lt 600 ]] && pass "indicators --bar H1 resamples ($rows rows)" || fail "indicators --bar H1 gave $rows rows"
cp "$work/h1.csv" "$work/keep.csv"
"$aits" indicators --data "$work/missing.csv" --out "$work/keep.csv" >/dev/null 2>&1 && fail "indicators on a missing file"
expect_eq "a failed indicators run keeps the old --out" "$(cmp -s "$work/h1.csv" "$work/keep.csv" && echo same)" "same"
out=$("$aits" indicators --data "$data/usdjpy-ticks.csv" --ask-data "$work/x.csv" --out "$work/y.csv" 2>&1) && fail "indicators --ask-data with ticks"
expect_in "indicators --ask-data with ticks" "$out" "joins bar files only"

# --- fill mode is named and checked against the data
expect_eq "bar data fill mode" "$(json "$m" "d['data']['fill_mode']")" "next_bar_open"
expect_eq "tick data fill mode" "$(json "$work/eur.json" "d['data']['fill_mode']")" "touch"
out=$("$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --fill-mode touch --no-progress 2>&1) && fail "touch fills on bars"
expect_in "touch on bars" "$out" "needs tick data"

# --- instruments: the catalogue, a file name that is no symbol, unknown symbols, conflicts
# (docs/instruments.md)
cat_json="$work/instruments.json"
"$aits" instruments --json >"$cat_json" 2>"$work/instruments.err" || { fail "aits instruments --json"; cat "$work/instruments.err"; }
expect_eq "catalogue lists the FX majors, metals, indices, stocks" \
  "$(json "$cat_json" "all(s in [i['symbol'] for i in d['instruments']] for s in ['EURUSD','USDJPY','USDTHB','XAUUSD','XAGUSD','US500','STOXX50','GER40','ORCL','AAPL'])")" "True"
expect_eq "catalogue XAUUSD contract size" "$(json "$cat_json" "[i for i in d['instruments'] if i['symbol']=='XAUUSD'][0]['contract_size']")" "100"
expect_eq "catalogue: the larger leg by default" "$(json "$cat_json" "[i for i in d['instruments'] if i['symbol']=='EURUSD'][0]['margin_hedged']")" "None"
expect_in "aits instruments" "$("$aits" instruments 2>&1)" "defaults to check against your broker"
expect_in "aits instruments --quiet" "$("$aits" instruments --quiet 2>&1)" "GBPJPY"
# Regression: GBP/USD bars in a file named mydata.csv failed with "no rate converts its P&L in ATA".
mkdir -p "$work/mine"
cp "$data/gbpusd-m1-bid-2012.csv" "$work/mine/mydata.csv"
out=$("$aits" backtest --data "$work/mine/mydata.csv" --no-progress 2>&1); code=$?
expect_eq "mydata.csv without --symbol (exit code)" "$code" "2"
expect_in "mydata.csv without --symbol" "$out" "--symbol"
expect_in "mydata.csv names the catalogue" "$out" "built-in config/instruments.csv"
expect_in "mydata.csv names the file" "$out" "mydata.csv"
if grep -qE "no rate converts|in ATA" <<<"$out"; then fail "mydata.csv still invents a currency: $out"; else pass "mydata.csv invents no currency"; fi
bt_same=(--strategy sma_cross --param fast=10 --param slow=30 --commission per_lot:7 --json --no-progress)
"$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" "${bt_same[@]}" >"$work/orig.json" 2>"$work/orig.err" || { fail "gbpusd bid-only backtest"; cat "$work/orig.err"; }
"$aits" backtest --data "$work/mine/mydata.csv" --symbol GBPUSD "${bt_same[@]}" >"$work/mydata.json" 2>"$work/mydata.err" || { fail "mydata.csv --symbol GBPUSD"; cat "$work/mydata.err"; }
for key in "d['run']['bars_processed']" "d['metrics']['trades']" "d['metrics']['net_profit']" "d['account']['final_equity']" "d['data']['rounded']"; do
  expect_eq "mydata.csv --symbol GBPUSD = gbpusd file ($key)" "$(json "$work/mydata.json" "$key")" "$(json "$work/orig.json" "$key")"
done
out=$("$aits" backtest --data "$work/mine/mydata.csv" --symbol MYDATA --no-progress 2>&1); code=$?
expect_eq "unknown currency pair (exit code)" "$code" "2"
expect_in "unknown currency pair" "$out" "unknown currency pair 'MYDATA' (--symbol)"
expect_in "unknown currency pair names the catalogue" "$out" "built-in config/instruments.csv"
cp "$data/usdjpy-ticks.csv" "$work/mine/ticks.csv"
out=$("$aits" paper --feed "$work/mine/ticks.csv" --speed max --quiet --state "$work/mine/paper" 2>&1); code=$?
expect_eq "paper feed ticks.csv without --symbol (exit code)" "$code" "2"
expect_in "paper feed ticks.csv without --symbol" "$out" "give --symbol"
[[ -e "$work/mine/paper/events.db" ]] && fail "a refused paper session left a log" || pass "a refused paper session leaves no log"
# An index in EUR on a USD account: no rate converts its P&L; the error says what to do.
out=$("$aits" backtest --data "$data/stoxx50-day-2006.txt" --no-progress 2>&1); code=$?
expect_eq "STOXX50 on a USD account (exit code)" "$code" "2"
expect_in "STOXX50 on a USD account" "$out" "--currency EUR"
"$aits" backtest --data "$data/stoxx50-day-2006.txt" --currency EUR --json --no-progress >"$work/stoxx.json" 2>"$work/stoxx.err" || { fail "STOXX50 on a EUR account"; cat "$work/stoxx.err"; }
expect_eq "STOXX50 bars" "$(json "$work/stoxx.json" "d['run']['bars_processed']")" "255"
expect_eq "STOXX50 prices not rounded" "$(json "$work/stoxx.json" "d['data']['rounded']")" "0"
# A user catalogue adds a symbol: the same bars under the broker's own name trade the same.
printf 'symbol,digits,contract_size,base,quote,margin_rate,min_lot,max_lot,lot_step,sessions,description\nGBPUSD.m,5,100000,GBP,USD,1,0.01,100,0.01,Sun 22:00-Fri 22:00,my broker\n' >"$work/mine/broker.csv"
"$aits" backtest --data "$work/mine/mydata.csv" --symbol GBPUSD.m --instruments "$work/mine/broker.csv" "${bt_same[@]}" >"$work/broker.json" 2>"$work/broker.err" || { fail "--instruments backtest"; cat "$work/broker.err"; }
expect_eq "user catalogue row = built-in GBPUSD (net profit)" "$(json "$work/broker.json" "d['metrics']['net_profit']")" "$(json "$work/orig.json" "d['metrics']['net_profit']")"
printf 'data: mydata.csv\ninstruments: broker.csv\ninstrument:\n  symbol: GBPUSD.m\nstrategy:\n  name: sma_cross\n  params: {fast: 10, slow: 30}\ncosts:\n  commission: per_lot:7\n' >"$work/mine/bt.yaml"
"$aits" backtest --config "$work/mine/bt.yaml" --json --no-progress >"$work/broker-yaml.json" 2>"$work/broker-yaml.err" || { fail "instruments: in yaml"; cat "$work/broker-yaml.err"; }
expect_eq "instruments: in yaml = --instruments (net profit)" "$(json "$work/broker-yaml.json" "d['metrics']['net_profit']")" "$(json "$work/broker.json" "d['metrics']['net_profit']")"
cp "$work/mine/broker.csv" "$work/mine/other.csv"
out=$("$aits" backtest --config "$work/mine/bt.yaml" --instruments "$work/mine/other.csv" --no-progress 2>&1); code=$?
expect_eq "two catalogue files (exit code)" "$code" "2"
expect_in "two catalogue files" "$out" "name different catalogue files"
# A malformed catalogue row: file, line, field and value.
printf 'symbol,digits,contract_size,base,quote,margin_rate,min_lot,max_lot,lot_step\nGBPUSD.m,5,100000,GBP,USD,1,0.01,100,0.01\nEURUSD.m,12,100000,EUR,USD,1,0.01,100,0.01\n' >"$work/mine/badcat.csv"
out=$("$aits" backtest --data "$work/mine/mydata.csv" --symbol GBPUSD --instruments "$work/mine/badcat.csv" --no-progress 2>&1); code=$?
expect_eq "malformed catalogue (exit code)" "$code" "2"
expect_in "malformed catalogue" "$out" "badcat.csv:3: field 'digits' value '12'"
out=$("$aits" instruments --instruments "$work/mine/badcat.csv" 2>&1) && fail "aits instruments accepted a malformed catalogue"
expect_in "aits instruments, malformed catalogue" "$out" "badcat.csv:3"
out=$("$aits" backtest --data "$work/mine/mydata.csv" --symbol GBPUSD --instruments "$work/mine/none.csv" --no-progress 2>&1) && fail "missing catalogue accepted"
expect_in "missing catalogue" "$out" "none.csv"
# A binary store declares its symbol: --symbol must agree with it.
out=$("$aits" backtest --data "$work/eur.aitsbin" --symbol GBPUSD --no-progress 2>&1); code=$?
expect_eq "--symbol against a store (exit code)" "$code" "2"
expect_in "--symbol against a store" "$out" "--symbol GBPUSD disagrees with"
# An uncatalogued symbol keeps the data's digits: 5-decimal quotes are not rounded to 2.
printf 'timestamp,bid,ask\n2020-01-01 00:00:00,1.12345,1.12351\n2020-01-01 00:00:01,1.12346,1.12352\n' >"$work/mine/acme.csv"
out=$("$aits" import --data "$work/mine/acme.csv" --symbol ACME --out "$work/mine/acme.aitsbin" --no-progress 2>&1) || fail "import of ACME: $out"
expect_in "unknown symbol keeps the data's digits" "$out" "ACME (5 digits)"
out=$("$aits" backtest --data "$work/mine/acme.csv" --symbol ACME --json --no-progress 2>"$work/acme.err") || { fail "backtest of ACME"; cat "$work/acme.err"; }
expect_eq "unknown symbol: no price rounded" "$(json /dev/stdin "d['data']['rounded']" <<<"$out")" "0"

# --- logging flags reach aits-train: given before `train` (aits passes them on) and after it.
# A daily file with the default M1 timeframe fails fast, after the "training started" line.
# A build without the training code (AITS_BUILD_TRAINING=OFF: the asan preset) has no aits-train.
if [[ -n "${AITS_E2E_NO_TRAINING:-}" ]]; then
  echo "cli_test: aits-train is not built here (AITS_BUILD_TRAINING=OFF): its logging flags are left out"
else
"$aits" --log-level info --log-json --log-file "$work/train.log" train \
  --data "$data/stoxx50-day-2006.txt" --registry "$work/models" >/dev/null 2>&1
expect_eq "train on daily bars with M1 features (exit code)" "$?" "2"
expect_eq "logging flags before train: aits-train's JSON line" "$("$python" -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["role"], r["component"], r["message"], r["data"].endswith("stoxx50-day-2006.txt"))
' "$work/train.log")" "aits-train train training started True"
"$aits" train --log-level info --log-file "$work/train-text.log" \
  --data "$data/stoxx50-day-2006.txt" --registry "$work/models" >/dev/null 2>&1
expect_in "logging flags after train" "$(cat "$work/train-text.log")" "info  train  training started"
out=$("$aits" train --log-level loud --data "$data/stoxx50-day-2006.txt" 2>&1); code=$?
expect_eq "aits train --log-level loud (exit code)" "$code" "2"
expect_in "aits train --log-level loud" "$out" "'loud'"
fi

# --- hedging accounts (docs/execution.md, "Hedging accounts"): a backtest with --account-mode
# hedging against the same backtest on a netting account, the flag's errors, and a hedged paper
# session that resumes and replays.
# The same long/short strategy on both kinds of account.
for mode in netting hedging; do
  "$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --ask-data "$data/gbpusd-m1-ask-2012.csv" \
    --strategy sma_cross --param fast=10 --param slow=30 --param mode=long_short \
    --commission per_lot:7 --account-mode "$mode" --out "$work/hedge-$mode" --no-progress \
    >"$work/hedge-$mode.log" 2>&1 || { fail "$mode backtest"; cat "$work/hedge-$mode.log"; }
done
n="$work/hedge-netting/metrics.json"
h="$work/hedge-hedging/metrics.json"
expect_eq "hedging report names the mode" "$(json "$h" "d['account'].get('mode')")" "hedging"
expect_eq "netting report as before (no mode)" "$(json "$n" "d['account'].get('mode')")" "None"
trades=$(json "$h" "d['metrics']['trades']")
[[ "$trades" -gt 10 ]] && pass "hedging trades $trades" || fail "hedging trades $trades"
# sma_cross closes by ticket (FIFO) on a hedging account: the same net position after every
# decision, the same fills' cash flows and so the same equity, trades and commission; a flip is
# a close and an open, so more orders.
expect_eq "same final equity" "$(json "$h" "d['account']['final_equity']")" \
  "$(json "$n" "d['account']['final_equity']")"
expect_eq "same trades" "$trades" "$(json "$n" "d['metrics']['trades']")"
expect_eq "same commission" "$(json "$h" "d['metrics']['total_commission']")" \
  "$(json "$n" "d['metrics']['total_commission']")"
h_orders=$(json "$h" "d['run']['orders']")
n_orders=$(json "$n" "d['run']['orders']")
[[ "$h_orders" -gt "$n_orders" ]] && pass "hedging sends more orders ($h_orders > $n_orders)" ||
  fail "hedging orders $h_orders, netting $n_orders: a flip should be a close and an open"
# Every trade closes one position: at most the strategy's 1 lot, at that position's open price.
hedge_check=$("$python" - "$work/hedge-hedging" <<'PY'
import csv, json, sys
out = sys.argv[1]
m = json.load(open(out + "/metrics.json"))
trades = list(csv.DictReader(open(out + "/trades.csv")))
problems = []
if len(trades) != m["metrics"]["trades"]:
    problems.append(f"trades.csv has {len(trades)} rows, metrics {m['metrics']['trades']}")
for t in trades:
    if abs(float(t["quantity"]) - 1.0) > 1e-9:
        problems.append(f"a trade of {t['quantity']} lots")
        break
print("; ".join(problems) if problems else "ok")
PY
)
expect_eq "hedging trades.csv" "$hedge_check" "ok"

# --- bad values name the flag and the value
out=$("$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --account-mode foo \
  --out "$work/hedge-bad" --no-progress 2>&1) && fail "--account-mode foo accepted"
expect_in "backtest --account-mode foo" "$out" "--account-mode"
expect_in "backtest --account-mode foo" "$out" "'foo'"
printf 'account:\n  account_mode: hedgy\n' >"$work/hedge-bad-backtest.yaml"
out=$("$aits" backtest --data "$data/gbpusd-m1-bid-2012.csv" --config "$work/hedge-bad-backtest.yaml" \
  --out "$work/hedge-bad" --no-progress 2>&1) && fail "account.account_mode hedgy accepted"
expect_in "backtest config account_mode: hedgy" "$out" "hedge-bad-backtest.yaml: account.account_mode"
expect_in "backtest config account_mode: hedgy" "$out" "'hedgy'"
out=$("$aits" paper --feed synthetic --ticks 100 --speed max --state "$work/hedge-badpaper" \
  --account-mode foo --quiet 2>&1) && fail "paper --account-mode foo accepted"
expect_in "paper --account-mode foo" "$out" "--account-mode"
expect_in "paper --account-mode foo" "$out" "'foo'"

# --- a hedged paper session: stopped, resumed, replayed
st="$work/hedge-paper"
printf 'account:\n  account_mode: hedging\n' >"$work/hedge-paper.yaml"
"$aits" paper --feed synthetic --ticks 6000 --speed max --state "$st" --params fast=3,slow=8 \
  --config "$work/hedge-paper.yaml" --start 2024-01-08 --session-id hedge --stop-after 2500 --quiet \
  >"$work/hedge-p1.log" 2>&1 || { fail "hedged paper, first part"; cat "$work/hedge-p1.log"; }
"$aits" paper --state "$st" --speed max --quiet >"$work/hedge-p2.log" 2>&1 ||
  { fail "hedged paper, resumed"; cat "$work/hedge-p2.log"; }
expect_in "resumed session" "$(cat "$work/hedge-p2.log")" "feed ended"
expect_eq "the session's description names the mode" "$("$python" - "$st/events.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
payload = db.execute("SELECT payload FROM events WHERE seq = 1").fetchone()[0]
print(json.loads(payload).get("account_mode"))
PY
)" "hedging"
printf 'account:\n  account_mode: hedgy\n' >"$work/hedge-bad.yaml"
out=$("$aits" paper --feed synthetic --ticks 100 --speed max --state "$work/hedge-badyaml" \
  --config "$work/hedge-bad.yaml" --quiet 2>&1) && fail "account_mode: hedgy accepted"
expect_in "paper config account_mode: hedgy" "$out" "hedge-bad.yaml:2: account.account_mode"
expect_in "paper config account_mode: hedgy" "$out" "'hedgy'"
out=$("$aits" replay --events "$st" 2>&1) || fail "replay of the hedged session: $out"
expect_in "replay" "$out" "identical"

finish cli_test
