#!/usr/bin/env bash
# End-to-end tests of `aits history` against `aits mt5-sim --history`, two processes over
# loopback: the real EUR/USD ticks of ../shared/data downloaded into the binary store (the same
# bytes as `aits import` of the file), into CSV and as M1 bars (read back by `aits info`), a
# download cut short and continued, a torn last record, a million-tick download killed with
# SIGKILL twice and run again (the same bytes each time), and clear errors for bad flags, a file
# of another symbol and an EA that never comes.
# Usage: history_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
sim_pid=""
history_pid=""
cleanup() {
  [[ -n "$sim_pid" ]] && kill "$sim_pid" 2>/dev/null
  [[ -n "$history_pid" ]] && kill "$history_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src="$data/eurusd-ticks-2020-01-01.csv"
echo "history-e2e-token" >"$work/token.txt"

# download NAME ARGS...: `aits history ARGS` on a free port with the simulator connecting to it;
# the command's stdout in $work/NAME.out, stderr in $work/NAME.err, exit code in $code.
download() {
  local name="$1"; shift
  "$aits" history --listen 127.0.0.1:0 --token-file "$work/token.txt" --timeout 20s \
    --no-progress "$@" >"$work/$name.out" 2>"$work/$name.err" &
  history_pid=$!
  local port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/^aits history: listening on 127.0.0.1:\([0-9]*\);.*/\1/p' "$work/$name.err")
    [[ -n "$port" ]] && break
    sleep 0.05
  done
  if [[ -z "$port" ]]; then
    fail "$name: no 'listening on' line: $(cat "$work/$name.err")"
  else
    "$aits" mt5-sim --connect "127.0.0.1:$port" --token history-e2e-token \
      --data "${sim_symbol:-EURUSD}=${sim_data:-$src}" --history --stop-at-end --quiet >"$work/$name.sim" 2>&1 &
    sim_pid=$!
  fi
  wait "$history_pid"
  code=$?
  history_pid=""
  if [[ -n "$sim_pid" ]]; then
    wait "$sim_pid"
    expect_code "$name: the simulator stops at the gateway's bye" "$?" "0"
    sim_pid=""
  fi
}

# --- ticks into the binary store: the bytes `aits import` writes of the same file
run "$aits" import --data "$src" --symbol EURUSD --out "$work/reference.bin" --no-progress
expect_code "import of the source" "$code" "0"
download bin --symbol EURUSD --from 2020-01-01 --to 2020-01-02 --ticks --out "$work/eurusd.bin" \
  --slice 1h --json
expect_code "history --ticks into .bin" "$code" "0"
expect_eq "ticks downloaded" "$(json "$work/bin.out" "d['downloaded']")" "9500"
expect_eq "slices" "$(json "$work/bin.out" "d['slices']")" "24"
expect_eq "edge duplicates" "$(json "$work/bin.out" "d['edge_duplicates']")" "0"
expect_eq "digits" "$(json "$work/bin.out" "d['digits']")" "5"
check "the store equals aits import's, byte for byte" cmp -s "$work/eurusd.bin" "$work/reference.bin"
run "$aits" info "$work/eurusd.bin"
expect_in "aits info on the download" "$out" "ticks     9500"
expect_in "aits info on the download" "$out" "EURUSD (5 digits)"
echo "throughput (one day of EUR/USD ticks through the loopback gateway): $(json "$work/bin.out" "round(d['per_second'])") ticks/s"

# --- the same into CSV, and read back
download csv --symbol EURUSD --from 2020-01-01 --to 2020-01-02 --ticks --out "$work/eurusd.csv"
expect_code "history --ticks into .csv" "$code" "0"
expect_in "the text summary" "$(cat "$work/csv.out")" "9500 ticks of EURUSD downloaded"
expect_eq "CSV header" "$(head -1 "$work/eurusd.csv")" "timestamp,bid,ask,last,volume,flags,symbol"
expect_eq "CSV first tick" "$(sed -n 2p "$work/eurusd.csv")" \
  "2020-01-01 17:00:00.065,1.12120,1.12172,0,0,6,EURUSD"
run "$aits" info "$work/eurusd.csv"
expect_in "aits info on the CSV" "$out" "format    csv-ticks"
expect_in "aits info on the CSV" "$out" "ticks     9500"
# Every row against the source's (time, bid, ask).
same=$("$python" - "$src" "$work/eurusd.csv" <<'PY'
import sys
src = [(l.split(",")[0], round(float(l.split(",")[1]), 5), round(float(l.split(",")[2]), 5))
       for l in open(sys.argv[1])]
src = [(t[0:4] + "-" + t[4:6] + "-" + t[6:8] + " " + t[9:11] + ":" + t[11:13] + ":" + t[13:15] +
        "." + t[15:18], b, a) for t, b, a in src]
got = [(l.split(",")[0], float(l.split(",")[1]), float(l.split(",")[2]))
       for l in list(open(sys.argv[2]))[1:]]
print(src == got)
PY
)
expect_eq "every CSV row equals the source's" "$same" "True"

# --- the terminal names the symbol EURUSD.m: asked under that name, written as EURUSD
sim_symbol=EURUSD.m
download renamed --symbol EURUSD --mt5-name EURUSD=EURUSD.m --from 2020-01-01 --to 2020-01-02 \
  --ticks --out "$work/renamed.csv" --json
sim_symbol=""
expect_code "history --mt5-name" "$code" "0"
expect_eq "asked as" "$(json "$work/renamed.out" "d['mt5_symbol']")" "EURUSD.m"
check "written as EURUSD, the same rows" cmp -s "$work/renamed.csv" "$work/eurusd.csv"

# --- M1 bars into CSV
download bars --symbol EURUSD --from 2020-01-01T17:00 --to 2020-01-02 --bars M1 \
  --out "$work/eurusd-m1.csv" --bars-per-slice 60 --json
expect_code "history --bars M1" "$code" "0"
expect_eq "bars downloaded" "$(json "$work/bars.out" "d['downloaded']")" "361"
expect_eq "bar slices" "$(json "$work/bars.out" "d['slices']")" "7"
run "$aits" info "$work/eurusd-m1.csv"
expect_in "aits info on the bars" "$out" "format    csv-bars"
expect_in "aits info on the bars" "$out" "bars      361 of 60 s"

# --- cut short, then continued: the same bytes as the whole download
download part --symbol EURUSD --from 2020-01-01 --to 2020-01-01T20:00:00.500 --ticks \
  --out "$work/resumed.bin" --slice 1h --json
expect_code "history of the first part" "$code" "0"
part=$(json "$work/part.out" "d['records']")
download rest --symbol EURUSD --from 2020-01-01 --to 2020-01-02 --ticks --out "$work/resumed.bin" \
  --slice 1h --json
expect_code "history continued" "$code" "0"
expect_eq "continued from the file" "$(json "$work/rest.out" "d['resumed']")" "True"
expect_eq "records before" "$(json "$work/rest.out" "d['records_before']")" "$part"
expect_eq "records after" "$(json "$work/rest.out" "d['records']")" "9500"
check "the continued store equals the whole download" cmp -s "$work/resumed.bin" "$work/eurusd.bin"
# A torn last record (a kill in the middle of a write) is cut back, said so, and continued.
head -c $((128 + 32 * 5000 + 7)) "$work/eurusd.bin" >"$work/torn.bin"
"$python" - "$work/torn.bin" <<'PY'
import struct, sys
# The header as a kill after 5,000 whole records leaves it (their count, first and last times and
# checksum are rewritten by the continuation): count 4,000 here, behind the records.
with open(sys.argv[1], "r+b") as f:
    f.seek(16); f.write(struct.pack("<Q", 4000))
PY
download torn --symbol EURUSD --from 2020-01-01 --to 2020-01-02 --ticks --out "$work/torn.bin" \
  --slice 1h
expect_code "history over a torn file" "$code" "1"
expect_in "a header out of step with its records" "$(cat "$work/torn.err")" "checksum mismatch"
head -c $((128 + 32 * 5000 + 7)) "$work/eurusd.bin" >"$work/torn.bin"
"$python" - "$work/torn.bin" "$work/eurusd.bin" <<'PY'
import struct, sys
# The header of the first 5,000 records, as the appender wrote it before the kill.
with open(sys.argv[2], "rb") as f:
    whole = f.read()
records = whole[128:128 + 32 * 5000]
h = 0xcbf29ce484222325
for i in range(0, len(records), 8):
    h ^= struct.unpack_from("<Q", records, i)[0]
    h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
with open(sys.argv[1], "r+b") as f:
    f.seek(16); f.write(struct.pack("<Q", 5000))
    f.seek(68); f.write(records[32 * 4999:32 * 4999 + 8])
    f.seek(76); f.write(struct.pack("<Q", h))
PY
download torn2 --symbol EURUSD --from 2020-01-01 --to 2020-01-02 --ticks --out "$work/torn.bin" \
  --slice 1h
expect_code "history over a torn last record" "$code" "0"
expect_in "the cut is said" "$(cat "$work/torn2.err")" "cut a torn last record (7 of 32 bytes)"
expect_in "the continuation is said" "$(cat "$work/torn2.err")" "holds 5000 ticks"
check "the repaired store equals the whole download" cmp -s "$work/torn.bin" "$work/eurusd.bin"

# --- killed with SIGKILL twice in the middle of a bigger download (a million synthetic ticks over
# eleven days, day slices, answers of 50,000), then run again: the same bytes as in one go
run "$aits" generate --ticks 1000000 --out "$work/synthetic.bin" --no-progress
expect_code "generate" "$code" "0"
big=(--symbol EURUSD --from 2020-01-06 --to 2020-01-20 --ticks --slice 1d --ticks-per-request 50000)
sim_data="$work/synthetic.bin"
download big-whole "${big[@]}" --out "$work/big-whole.bin" --json
expect_eq "a million ticks downloaded" "$(json "$work/big-whole.out" "d['records']")" "1000000"
for threshold in 8000000 20000000; do
  "$aits" history --listen 127.0.0.1:0 --token-file "$work/token.txt" --no-progress "${big[@]}" \
    --out "$work/big-killed.bin" >/dev/null 2>"$work/killed.err" &
  history_pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/^aits history: listening on 127.0.0.1:\([0-9]*\);.*/\1/p' "$work/killed.err")
    [[ -n "$port" ]] && break
    sleep 0.05
  done
  "$aits" mt5-sim --connect "127.0.0.1:$port" --token history-e2e-token \
    --data "EURUSD=$work/synthetic.bin" --history --stop-at-end --quiet >/dev/null 2>&1 &
  sim_pid=$!
  for _ in $(seq 1 1500); do
    [[ $(stat -c %s "$work/big-killed.bin" 2>/dev/null || echo 0) -gt $threshold ]] && break
    sleep 0.02
  done
  kill -9 "$history_pid" 2>/dev/null
  wait "$history_pid" 2>/dev/null
  history_pid=""
  wait "$sim_pid"
  sim_pid=""
  echo "killed at $(stat -c %s "$work/big-killed.bin") bytes"
done
download big-resumed "${big[@]}" --out "$work/big-killed.bin" --json
sim_data=""
expect_code "history after two kills" "$code" "0"
expect_eq "after two kills: records" "$(json "$work/big-resumed.out" "d['records']")" "1000000"
check "after two kills, the same bytes as in one go" cmp -s "$work/big-killed.bin" "$work/big-whole.bin"

# --- bad input: each a clear error naming the flag or the file, exit 2, nothing waited for
refuses() {
  local what="$1" text="$2"; shift 2
  run "$aits" history --token t --no-progress "$@"
  expect_eq "$what: exit code" "$code" "2"
  expect_in "$what" "$out" "$text"
}
base=(--symbol EURUSD --from 2020-01-01 --to 2020-01-02)
refuses "unknown timeframe" "--bars 'X1': not an MT5 timeframe" "${base[@]}" --bars X1 --out "$work/x.csv"
refuses "ticks and bars" "--ticks or --bars TIMEFRAME: give exactly one" "${base[@]}" --ticks --bars M1 --out "$work/x.csv"
refuses "bad --from" "--from '2020-13-01'" --symbol EURUSD --from 2020-13-01 --to 2020-01-02 --ticks --out "$work/x.bin"
refuses "to before from" "is not after --from" --symbol EURUSD --from 2020-01-02 --to 2020-01-01 --ticks --out "$work/x.bin"
refuses "bad --format" "--format 'xml': expected bin or csv" "${base[@]}" --ticks --out "$work/x.bin" --format xml
refuses "unknown extension" "give --format bin or --format csv" "${base[@]}" --ticks --out "$work/x.dat"
refuses "bars into a store" "the tick store holds ticks only" "${base[@]}" --bars M1 --out "$work/x.bin"
refuses "bad --timeout" "--timeout 'soon'" "${base[@]}" --ticks --out "$work/x.bin" --timeout soon
refuses "bad --listen" "--listen 'nowhere'" "${base[@]}" --ticks --out "$work/x.bin" --listen nowhere
refuses "bad --mt5-name" "--mt5-name 'EURUSD': expected SYMBOL=MT5NAME" "${base[@]}" --ticks --out "$work/x.bin" --mt5-name EURUSD
refuses "a store of another symbol" "holds ticks of EURUSD, not GBPUSD" --symbol GBPUSD --from 2020-01-01 --to 2020-01-02 --ticks --out "$work/eurusd.bin"
refuses "a CSV of ticks asked for bars" "holds ticks" "${base[@]}" --bars M1 --out "$work/eurusd.csv"
run "$aits" history "${base[@]}" --ticks --out "$work/x.bin" --no-progress
expect_eq "no token: exit code" "$code" "2"
expect_in "no token" "$out" "--token or --token-file"
check "no file was left by a refused command" test ! -e "$work/x.bin"
# No EA: a clear error after the timeout, exit 1.
run "$aits" history "${base[@]}" --ticks --out "$work/x.bin" --token t --listen 127.0.0.1:0 \
  --timeout 500ms --no-progress
expect_eq "no EA: exit code" "$code" "1"
expect_in "no EA" "$out" "no answer from an EA on 127.0.0.1:"

finish "history_cli_test"
