#!/usr/bin/env bash
# End-to-end tests of `aits features` on the real files in ../shared/data: the CSV's header, its
# row counts and warm-up (recomputed independently here from the input files), a few feature
# values, and errors for bad input.
# Usage: features_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# field LOG LABEL N: the N-th number on the line of the summary that starts with LABEL
field() { grep -E "^  $2 " "$1" | grep -oE '[0-9]+' | sed -n "${3}p"; }

# Checks one feature CSV. Arguments: csv, expected timeframes (comma list), rows written, rows
# skipped, expected base bars (rows + skipped), then "bars BID ASK" or "price FILE SPREAD".
cat >"$work/check.py" <<'PY'
import csv, math, re, sys
from datetime import datetime, timezone

path, tfs, written, skipped, base_bars, kind = sys.argv[1:7]
extra = sys.argv[7:]
written, skipped, base_bars = int(written), int(skipped), int(base_bars)
FEATURES = ["price_change", "price_volatility", "price_momentum", "volume_change",
            "volume_avg_ratio", "rsi", "macd_signal", "bollinger_position", "bid_ask_spread",
            "spread_volatility", "sma_20", "ema_12", "ema_26", "atr_14", "volatility_20",
            "rsi_14", "macd"]
UNIT = {"S": 1, "M": 60, "H": 3600, "D": 86400}
periods = [int(t[1:]) * UNIT[t[0]] for t in tfs.split(",")]
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)

with open(path) as f:
    comment = f.readline().strip()
    check(re.fullmatch(r"# aits-features version=1 hash=[0-9a-f]{16}", comment) is not None,
          "comment line: " + comment)
    reader = csv.reader(f)
    header = next(reader)
    rows = list(reader)
expected = ["time", "close", "spread"] + [f"{n}_{t}" for t in tfs.split(",") for n in FEATURES]
check(header == expected, "header: %s" % header[:6])
check(len(rows) == written, "rows %d != written %d" % (len(rows), written))
check(written + skipped == base_bars, "written %d + skipped %d != base bars %d"
      % (written, skipped, base_bars))

def parse_time(text):
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
times = [parse_time(r[0]) for r in rows]
check(all(b > a for a, b in zip(times, times[1:])), "times not increasing")
check(all(t % periods[0] == 0 for t in times), "a row time is not a base bar close")
values = [[float(x) for x in r[1:]] for r in rows]
check(all(math.isfinite(v) for r in values for v in r), "a non-finite value")
col = {name: idx for idx, name in enumerate(header[1:])}
base = tfs.split(",")[0]

# Base bar open times from the input, to recompute the warm-up independently: a higher-timeframe
# bar closes on the base bar ending at its boundary, or when a base bar of a later period comes.
if kind == "bars":
    with open(extra[0]) as f:
        next(f)
        bid = [(l.split(",")[0], float(l.split(",")[4])) for l in f if l.strip()]
    with open(extra[1]) as f:
        next(f)
        ask = {l.split(",")[0]: float(l.split(",")[4]) for l in f if l.strip()}
    opens = [int(datetime.fromisoformat(ts).timestamp()) for ts, _ in bid]
    mids = {}
    for (ts, b), o in zip(bid, opens):
        a = ask[ts]
        if a >= b:
            mids[o + 60] = ((b + a) / 2, a - b)
else:
    with open(extra[0]) as f:
        next(f)
        stamps = [datetime.strptime(l.split(",")[0].strip('"'), "%Y-%m-%d %H:%M:%S")
                  .replace(tzinfo=timezone.utc).timestamp() for l in f if l.strip()]
    # One sample per base bar; the last bar is incomplete and never a row.
    opens = sorted(set(int(s) // periods[0] * periods[0] for s in stamps))[:-1]
    mids = {}

closed = [0] * len(periods)
current = [None] * len(periods)
first_ready = None
for o in opens:
    c = o + periods[0]
    for i, p in enumerate(periods):
        bucket = o // p * p
        if current[i] is not None and bucket > current[i]:
            closed[i] += 1
            current[i] = None
        if current[i] is None:
            current[i] = bucket
        if c >= bucket + p:
            closed[i] += 1
            current[i] = None
    if first_ready is None and min(closed) >= 34:
        first_ready = c
check(first_ready == times[0], "first row at %s, expected %s" % (times[0], first_ready))
check(len(opens) == base_bars, "%d base bars in the input, %d reported" % (len(opens), base_bars))

# Values: the row's close and spread, features against the input and against each other.
checked = 0
for i in range(1, len(rows)):
    close, spread = values[i][0], values[i][1]
    v = values[i]  # indexed by col[name]
    rel = spread / close
    check(abs(v[col["bid_ask_spread_" + base]] - rel) <= 1e-6 * rel + 1e-12,
          "bid_ask_spread at row %d" % i)
    if times[i] - times[i - 1] == periods[0]:
        pc = close / values[i - 1][0] - 1
        check(abs(v[col["price_change_" + base]] - pc) <= 1e-6 * abs(pc) + 1e-9,
              "price_change at row %d: %g vs %g" % (i, v[col["price_change_" + base]], pc))
    check(0 <= v[col["rsi_" + base]] <= 1 and 0 <= v[col["rsi_14_" + base]] <= 1,
          "rsi out of 0..1 at row %d" % i)
    if kind == "bars" and times[i] in mids:
        mid, sp = mids[times[i]]
        check(abs(close - mid) <= 0.6e-5, "close at row %d: %g vs mid %g" % (i, close, mid))
        check(abs(spread - sp) <= 1.1e-5, "spread at row %d: %g vs %g" % (i, spread, sp))
        checked += 1
    if kind == "price":
        check(abs(spread - float(extra[1])) < 1e-12, "spread at row %d: %g" % (i, spread))
        checked += 1
check(checked > len(rows) // 2, "only %d rows compared with the input" % checked)
for e in errors[:10]:
    print("  " + e)
print("%d rows, first %s, %d checked against the input" % (len(rows), rows[0][0] if rows else "-", checked))
sys.exit(1 if errors else 0)
PY

# --- help
out=$("$aits" features --help 2>&1) || fail "aits features --help exits non-zero"
expect_in "aits features --help" "$out" "Usage"
expect_in "aits features --help" "$out" "--timeframes"
expect_in "aits --help" "$("$aits" --help 2>&1)" "features"

# --- GBP/USD one-minute bid + ask bars, default timeframes M1,M5,M15,H1
bid="$data/gbpusd-m1-bid-2012.csv"; ask="$data/gbpusd-m1-ask-2012.csv"
if "$aits" features --data "$bid" --ask-data "$ask" --out "$work/gbp.csv" --no-progress >"$work/gbp.log" 2>&1; then
  pass "gbpusd features"
  cat "$work/gbp.log"
  written=$(field "$work/gbp.log" rows 1); skipped=$(field "$work/gbp.log" rows 2)
  expect_eq "gbp accepted" "$(field "$work/gbp.log" read 2)" "30117"
  expect_eq "gbp rejected" "$(field "$work/gbp.log" read 3)" "0"
  if "$python" "$work/check.py" "$work/gbp.csv" M1,M5,M15,H1 "$written" "$skipped" 30117 bars "$bid" "$ask" >"$work/gbp.check" 2>&1; then
    pass "gbp CSV ($(tail -1 "$work/gbp.check"))"
  else
    fail "gbp CSV"; cat "$work/gbp.check"
  fi
  expect_in "gbp summary" "$(cat "$work/gbp.log")" "feature set   version 1, hash "
else
  fail "gbpusd features"; cat "$work/gbp.log"
fi
# The --ask spelling and the same hash for the same timeframes.
"$aits" features --data "$bid" --ask "$ask" --out "$work/gbp2.csv" --no-progress >/dev/null 2>&1 || fail "--ask alias"
expect_eq "same input, same file" "$(cmp -s "$work/gbp.csv" "$work/gbp2.csv" && echo same)" "same"

# --- USD/CHF half-hourly single-price series with a spread, timeframes M30,H1,H4,D1
chf="$data/usdchf-30min-1996-2001.csv"
if "$aits" features --data "$chf" --spread 20 --timeframes M30,H1,H4,D1 --out "$work/chf.csv" --no-progress >"$work/chf.log" 2>&1; then
  pass "usdchf features"
  cat "$work/chf.log"
  written=$(field "$work/chf.log" rows 1); skipped=$(field "$work/chf.log" rows 2)
  accepted=$(field "$work/chf.log" read 2)
  expect_eq "chf rows read" "$(field "$work/chf.log" read 1)" "62496"
  # One base bar per accepted sample but the last (incomplete) one.
  expect_eq "chf base bars" "$((written + skipped))" "$((accepted - 1))"
  if "$python" "$work/check.py" "$work/chf.csv" M30,H1,H4,D1 "$written" "$skipped" "$((written + skipped))" price "$chf" 0.0002 >"$work/chf.check" 2>&1; then
    pass "chf CSV ($(tail -1 "$work/chf.check"))"
  else
    fail "chf CSV"; cat "$work/chf.check"
  fi
  gbp_hash=$(head -1 "$work/gbp.csv"); chf_hash=$(head -1 "$work/chf.csv")
  [[ "$gbp_hash" != "$chf_hash" ]] && pass "other timeframes, other hash" || fail "same hash for other timeframes"
else
  fail "usdchf features"; cat "$work/chf.log"
fi

# --- ticks: six hours of EUR/USD are too short for H1, fine for S30,M1,M5
out=$("$aits" features --data "$data/eurusd-ticks-2020-01-01.csv" --out "$work/eur.csv" --no-progress 2>&1); code=$?
expect_eq "short ticks with H1 (exit code)" "$code" "2"
expect_in "short ticks with H1" "$out" "warm-up"
"$aits" features --data "$data/eurusd-ticks-2020-01-01.csv" --timeframes S30,M1,M5 --out "$work/eur.csv" --no-progress >"$work/eur.log" 2>&1 \
  && pass "eurusd ticks S30,M1,M5" || { fail "eurusd ticks S30,M1,M5"; cat "$work/eur.log"; }
expect_eq "eur header" "$(sed -n 2p "$work/eur.csv" | cut -d, -f1-5)" "time,close,spread,price_change_S30,price_volatility_S30"

# --- bad input
out=$("$aits" features --data "$chf" --spread 20 --out "$work/x.csv" --no-progress 2>&1); code=$?
expect_eq "M1 on 30-minute data (exit code)" "$code" "2"
expect_in "M1 on 30-minute data" "$out" "timeframe M1 is shorter than the data's bar period (30m) of $chf; use --timeframes M30,H1,H4,D1"
out=$("$aits" features --data "$bid" --timeframes M1,X5 --out "$work/x.csv" --no-progress 2>&1); code=$?
expect_eq "bad timeframe text (exit code)" "$code" "2"
expect_in "bad timeframe text" "$out" "'X5'"
out=$("$aits" features --data "$bid" --timeframes H1,M5 --out "$work/x.csv" --no-progress 2>&1) && fail "descending timeframes accepted"
expect_in "descending timeframes" "$out" "ascending"
out=$("$aits" features --data "$bid" --timeframes M5,M7 --out "$work/x.csv" --no-progress 2>&1) && fail "M7 on M5 accepted"
expect_in "not a multiple" "$out" "M7 is not a multiple"
cp "$work/gbp.csv" "$work/keep.csv" 2>/dev/null
out=$("$aits" features --data "$work/missing.csv" --out "$work/keep.csv" --no-progress 2>&1) && fail "missing file accepted"
expect_in "missing file" "$out" "missing.csv"
expect_eq "a failed run keeps the old --out" "$(cmp -s "$work/gbp.csv" "$work/keep.csv" && echo same)" "same"
out=$("$aits" features --data "$data/eurusd-ticks-2020-01-01.csv" --ask-data "$ask" --out "$work/x.csv" --no-progress 2>&1) && fail "--ask-data with ticks accepted"
expect_in "--ask-data with ticks" "$out" "joins bar files only"
out=$("$aits" features --data "$bid" --out "$bid" --no-progress 2>&1) && fail "--out onto the input accepted"
expect_in "--out onto the input" "$out" "is an input file"
out=$("$aits" features --data "$bid" --no-progress 2>&1) && fail "missing --out accepted"
expect_in "missing --out" "$out" "--out"
[[ -e "$work/x.csv" ]] && fail "a failed run left $work/x.csv" || pass "failed runs leave no file"

echo
finish features_cli_test
