#!/usr/bin/env python3
"""Independent reference for `aits indicators`: recomputes every indicator column and compares.

Usage:
  python3 ta_reference.py --bars BID.csv --aits OUT.csv [--rel-tol 1e-7] [--show 10]

BID.csv holds `timestamp,open,high,low,close[,volume]` rows (the file given to
`aits indicators --data`). Without an ask file the CLI's mid is the bid, so the indicators here
are computed from these prices directly. OUT.csv is what the CLI wrote: a header
`timestamp,close,<columns>` and one row per bar, an empty cell while an output warms up.

Every column named in OUT.csv's header is recomputed here from BID.csv alone, with TA-Lib's
conventions (default compatibility, no unstable period), written independently of the C++ code:
windowed indicators recompute each value from its whole window (math.fsum), recursive ones
(EMA, RSI, MACD, ATR) run TA-Lib's batch loops over the full series.

  sma_N ema_N rsi_N atr_N stddev_N mom_N roc_N vwap cross_F_S
  macd_F_S_G macd_signal_F_S_G macd_hist_F_S_G
  bb_upper_N_K bb_middle_N_K bb_lower_N_K bb_pctb_N_K

Conventions that go beyond TA-Lib (they match src/aits/features/indicators.h):
  * RSI is 0 when average gain and loss are both 0; ROC is 0 when the base value is 0 (TA-Lib).
  * Only exact zero is zero (TA-Lib's 1e-8 TA_IS_ZERO band is not applied).
  * A flat Bollinger/STDDEV window has standard deviation 0 and %b 0.5.
  * VWAP resets at each UTC day; with no volume (or zero volume all day) bars weigh equally.
  * cross_F_S compares SMA(F) with SMA(S): +1 when it goes from below to above (remembering the
    side through ties), -1 for the reverse, 0 otherwise; first value one bar after SMA(S).
    Averages within 1e-12 (relative) of each other are a tie, so that two mathematically equal
    averages do not cross on rounding noise.

Comparison, row by row: the same number of rows; the same timestamp; close and every indicator
value within a relative tolerance (default 1e-7; an absolute floor of 1e-12, and 1e-9 for %b,
which is a ratio that crosses zero whenever the close touches the lower band); an empty cell must
be empty in both. Prints a summary; exits 0 when everything matches, 1 on any mismatch, 2 when
the inputs cannot be read or a column is not recognised.

Standard library only (no numpy).
"""

import argparse
import csv
import datetime
import math
import re
import sys

# Moving averages within this relative distance are a tie (rounding noise is not a cross).
CROSS_TIE_TOLERANCE = 1e-12


class InputError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Input


_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$")


def parse_timestamp(text, where):
    """Returns integer nanoseconds since the epoch, UTC."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        value = int(text)
        # Bare integers: seconds, milliseconds, microseconds or nanoseconds by magnitude.
        magnitude = abs(value)
        if magnitude < 10**11:
            return value * 10**9
        if magnitude < 10**14:
            return value * 10**6
        if magnitude < 10**17:
            return value * 10**3
        return value
    match = _TS_RE.match(text)
    if not match:
        raise InputError(f"{where}: timestamp {text!r} is not a recognised date-time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7) or ""
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    zone = match.group(8)
    offset_s = 0
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_s = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    try:
        base = datetime.datetime(year, month, day, hour, minute, second,
                                 tzinfo=datetime.timezone.utc)
    except ValueError as err:
        raise InputError(f"{where}: timestamp {text!r}: {err}") from None
    seconds = int(base.timestamp()) - offset_s
    return seconds * 10**9 + nanos


def parse_float(text, where):
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a number") from None
    return value


def read_csv(path):
    """All rows of a CSV file as (header, [(line_no, row), ...]); errors name the file."""
    try:
        handle = open(path, newline="")
    except OSError as err:
        raise InputError(f"{path}: {err.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path}: empty file")
        return header, list(enumerate(reader, start=2))


def read_bars(path):
    header, lines = read_csv(path)
    names = [h.strip().lower() for h in header]
    for needed in ("timestamp", "high", "low", "close"):
        if needed not in names:
            raise InputError(f"{path}:1: header {header} has no column {needed!r}")
    col = {name: idx for idx, name in enumerate(names)}
    bars = []
    for line_no, row in lines:
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            raise InputError(f"{path}:{line_no}: {len(row)} fields, expected {len(names)}")
        where = f"{path}:{line_no}"
        bar = {
            "ts": parse_timestamp(row[col["timestamp"]], where + " timestamp"),
            "high": parse_float(row[col["high"]], where + " high"),
            "low": parse_float(row[col["low"]], where + " low"),
            "close": parse_float(row[col["close"]], where + " close"),
            "volume": parse_float(row[col["volume"]], where + " volume")
            if "volume" in col else 0.0,
        }
        bars.append(bar)
    return bars


def read_output(path):
    header, lines = read_csv(path)
    header = [h.strip() for h in header]
    if len(header) < 2 or header[0] != "timestamp" or header[1] != "close":
        raise InputError(f"{path}:1: header must start with timestamp,close; got {header}")
    rows = []
    for line_no, row in lines:
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(
                f"{path}:{line_no}: {len(row)} fields, header has {len(header)}")
        rows.append((line_no, [cell.strip() for cell in row]))
    return header, rows


# ----------------------------------------------------------------------------------------------
# Indicators: each returns a list with None during warm-up.


def sma(xs, n):
    out = [None] * len(xs)
    for t in range(n - 1, len(xs)):
        out[t] = math.fsum(xs[t - n + 1:t + 1]) / n
    return out


def stddev(xs, n):
    out = [None] * len(xs)
    for t in range(n - 1, len(xs)):
        window = xs[t - n + 1:t + 1]
        if max(window) == min(window):
            out[t] = 0.0
            continue
        mean = math.fsum(window) / n
        out[t] = math.sqrt(math.fsum((x - mean) ** 2 for x in window) / n)
    return out


def ema_seeded_at(xs, n, start):
    """TA_INT_EMA: seeded at `start` with the mean of xs[start-n+1 .. start]; k = 2 / (n + 1)."""
    out = [None] * len(xs)
    if start >= len(xs):
        return out
    k = 2.0 / (n + 1)
    value = math.fsum(xs[start - n + 1:start + 1]) / n
    out[start] = value
    for t in range(start + 1, len(xs)):
        value = (xs[t] - value) * k + value
        out[t] = value
    return out


def ema(xs, n):
    return ema_seeded_at(xs, n, n - 1)


def rsi(xs, n):
    out = [None] * len(xs)
    if len(xs) <= n:
        return out
    gain = loss = 0.0
    for t in range(1, n + 1):
        change = xs[t] - xs[t - 1]
        if change < 0:
            loss -= change
        else:
            gain += change
    gain /= n
    loss /= n

    def value():
        total = gain + loss
        return 100.0 * gain / total if total != 0 else 0.0

    out[n] = value()
    for t in range(n + 1, len(xs)):
        change = xs[t] - xs[t - 1]
        gain = (gain * (n - 1) + (change if change > 0 else 0.0)) / n
        loss = (loss * (n - 1) + (-change if change < 0 else 0.0)) / n
        out[t] = value()
    return out


def macd(xs, fast, slow, signal):
    """TA-Lib MACD: both EMAs seeded at index slow-1, signal seeded with the first `signal`
    MACD values; all outputs start at slow + signal - 2."""
    size = len(xs)
    line_out, signal_out, hist_out = [None] * size, [None] * size, [None] * size
    first = slow - 1
    if first >= size:
        return line_out, signal_out, hist_out
    fast_ema = ema_seeded_at(xs, fast, first)
    slow_ema = ema_seeded_at(xs, slow, first)
    line = [fast_ema[t] - slow_ema[t] for t in range(first, size)]
    sig = ema_seeded_at(line, signal, signal - 1)
    for j in range(signal - 1, len(line)):
        line_out[first + j] = line[j]
        signal_out[first + j] = sig[j]
        hist_out[first + j] = line[j] - sig[j]
    return line_out, signal_out, hist_out


def atr(bars, n):
    size = len(bars)
    out = [None] * size
    if size <= n:
        return out
    true_range = [None] + [
        max(bars[t]["high"], bars[t - 1]["close"]) - min(bars[t]["low"], bars[t - 1]["close"])
        for t in range(1, size)
    ]
    value = math.fsum(true_range[1:n + 1]) / n
    out[n] = value
    for t in range(n + 1, size):
        value = (value * (n - 1) + true_range[t]) / n
        out[t] = value
    return out


def bbands(xs, n, k):
    middle = sma(xs, n)
    sd = stddev(xs, n)
    upper, lower, pctb = [None] * len(xs), [None] * len(xs), [None] * len(xs)
    for t in range(len(xs)):
        if middle[t] is None:
            continue
        upper[t] = middle[t] + k * sd[t]
        lower[t] = middle[t] - k * sd[t]
        width = upper[t] - lower[t]
        pctb[t] = 0.5 if width == 0 else (xs[t] - lower[t]) / width
    return upper, middle, lower, pctb


def momentum(xs, n):
    return [None] * min(n, len(xs)) + [xs[t] - xs[t - n] for t in range(n, len(xs))]


def roc(xs, n):
    def one(t):
        base = xs[t - n]
        return (xs[t] / base - 1.0) * 100.0 if base != 0 else 0.0
    return [None] * min(n, len(xs)) + [one(t) for t in range(n, len(xs))]


def vwap(bars):
    out = []
    day = None
    pv = vol = price_sum = 0.0
    count = 0
    for bar in bars:
        bar_day = bar["ts"] // (86400 * 10**9)
        if bar_day != day:
            day = bar_day
            pv = vol = price_sum = 0.0
            count = 0
        typical = (bar["high"] + bar["low"] + bar["close"]) / 3.0
        volume = bar["volume"]
        if not math.isfinite(volume) or volume < 0:
            volume = 0.0
        pv += typical * volume
        vol += volume
        price_sum += typical
        count += 1
        out.append(pv / vol if vol > 0 else price_sum / count)
    return out


def cross(xs, fast, slow):
    a_series, b_series = sma(xs, fast), sma(xs, slow)
    out = [None] * len(xs)
    last_side = 0
    seen = 0
    for t in range(len(xs)):
        if b_series[t] is None:
            continue
        a, b = a_series[t], b_series[t]
        tolerance = CROSS_TIE_TOLERANCE * max(abs(a), abs(b))
        side = 1 if a - b > tolerance else (-1 if a - b < -tolerance else 0)
        if seen >= 1:
            out[t] = float(side) if side != 0 and last_side != 0 and side != last_side else 0.0
        if side != 0:
            last_side = side
        seen += 1
    return out


# ----------------------------------------------------------------------------------------------
# Columns


def _ints(parts, count, column):
    if len(parts) != count or not all(re.fullmatch(r"\d+", p) for p in parts):
        raise InputError(f"column {column!r}: expected {count} integer parameter(s)")
    values = [int(p) for p in parts]
    if any(v < 1 for v in values):
        raise InputError(f"column {column!r}: periods must be >= 1")
    return values


def compute_columns(names, bars):
    """Returns {column name: list of values (None while warming up)} for every name."""
    closes = [bar["close"] for bar in bars]
    cache = {}
    result = {}
    for name in names:
        if name == "vwap":
            result[name] = vwap(bars)
            continue
        match = re.fullmatch(r"(sma|ema|rsi|atr|stddev|mom|roc)_(\d+)", name)
        if match:
            kind, period = match.group(1), _ints([match.group(2)], 1, name)[0]
            min_period = 1 if kind in ("atr", "mom", "roc") else 2
            if period < min_period:
                raise InputError(f"column {name!r}: period must be >= {min_period}")
            func = {"sma": sma, "ema": ema, "rsi": rsi, "stddev": stddev, "mom": momentum,
                    "roc": roc}.get(kind)
            result[name] = atr(bars, period) if kind == "atr" else func(closes, period)
            continue
        match = re.fullmatch(r"macd(_signal|_hist)?_(\d+)_(\d+)_(\d+)", name)
        if match:
            fast, slow, signal = _ints(list(match.groups()[1:]), 3, name)
            if fast >= slow:
                raise InputError(f"column {name!r}: fast period must be less than slow")
            key = ("macd", fast, slow, signal)
            if key not in cache:
                cache[key] = macd(closes, fast, slow, signal)
            part = {None: 0, "_signal": 1, "_hist": 2}[match.group(1)]
            result[name] = cache[key][part]
            continue
        match = re.fullmatch(r"bb_(upper|middle|lower|pctb)_(\d+)_([0-9.eE+-]+)", name)
        if match:
            period = _ints([match.group(2)], 1, name)[0]
            try:
                k = float(match.group(3))
            except ValueError:
                raise InputError(f"column {name!r}: multiplier {match.group(3)!r}") from None
            key = ("bb", period, k)
            if key not in cache:
                cache[key] = bbands(closes, period, k)
            part = ["upper", "middle", "lower", "pctb"].index(match.group(1))
            result[name] = cache[key][part]
            continue
        match = re.fullmatch(r"cross_(\d+)_(\d+)", name)
        if match:
            fast, slow = _ints(list(match.groups()), 2, name)
            result[name] = cross(closes, fast, slow)
            continue
        raise InputError(f"column {name!r} is not an indicator this reference knows")
    return result


# ----------------------------------------------------------------------------------------------
# Comparison


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", required=True, help="input bars CSV given to aits indicators")
    parser.add_argument("--aits", required=True, help="CSV written by aits indicators")
    parser.add_argument("--rel-tol", type=float, default=1e-7)
    parser.add_argument("--show", type=int, default=10, help="mismatches to print")
    args = parser.parse_args(argv)

    try:
        bars = read_bars(args.bars)
        header, rows = read_output(args.aits)
        columns = header[2:]
        expected = compute_columns(columns, bars)
    except InputError as err:
        print(f"ta_reference: error: {err}", file=sys.stderr)
        return 2

    mismatches = []
    compared = {name: 0 for name in ["close"] + columns}
    max_rel = {name: 0.0 for name in ["close"] + columns}

    def report(line_no, column, message):
        mismatches.append(f"{args.aits}:{line_no} {column}: {message}")

    if len(rows) != len(bars):
        report(len(rows) + 1, "rows", f"{len(rows)} data rows, but {args.bars} has {len(bars)}")

    def check_value(line_no, column, cell, want, abs_tol):
        if want is None:
            if cell != "":
                report(line_no, column, f"{cell!r} but the reference is still warming up")
            return
        if cell == "":
            report(line_no, column, f"empty but the reference has {want!r}")
            return
        try:
            got = float(cell)
        except ValueError:
            report(line_no, column, f"{cell!r} is not a number")
            return
        compared[column] += 1
        scale = max(abs(got), abs(want))
        if scale > 0:
            max_rel[column] = max(max_rel[column], abs(got - want) / scale)
        if not math.isclose(got, want, rel_tol=args.rel_tol, abs_tol=abs_tol):
            report(line_no, column, f"{got!r} vs reference {want!r} (diff {got - want:.3g})")

    for row_idx, (line_no, cells) in enumerate(rows[:len(bars)]):
        bar = bars[row_idx]
        try:
            ts = parse_timestamp(cells[0], f"{args.aits}:{line_no} timestamp")
        except InputError as err:
            report(line_no, "timestamp", str(err))
            ts = None
        if ts is not None and ts != bar["ts"]:
            report(line_no, "timestamp",
                   f"{cells[0]!r} but bar {row_idx + 1} of {args.bars} is at "
                   f"{bar['ts'] / 1e9:.0f} s (diff {(ts - bar['ts']) / 1e9:g} s)")
        check_value(line_no, "close", cells[1], bar["close"], 1e-12)
        for col_idx, column in enumerate(columns):
            abs_tol = 1e-9 if column.startswith("bb_pctb_") else 1e-12
            check_value(line_no, column, cells[2 + col_idx], expected[column][row_idx], abs_tol)

    print(f"ta_reference: {len(rows)} rows of {args.aits} against {len(bars)} bars of "
          f"{args.bars}, rel tol {args.rel_tol:g}")
    for column in ["close"] + columns:
        warm = sum(1 for v in expected.get(column, []) if v is None)
        print(f"  {column:<24} {compared[column]:>7} values compared, "
              f"{warm:>5} warm-up rows, max rel diff {max_rel[column]:.3g}")
    if mismatches:
        print(f"FAIL: {len(mismatches)} mismatch(es)")
        for line in mismatches[:args.show]:
            print("  " + line)
        if len(mismatches) > args.show:
            print(f"  ... and {len(mismatches) - args.show} more")
        return 1
    print("OK: every row matches")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
