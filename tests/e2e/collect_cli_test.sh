#!/usr/bin/env bash
# End-to-end tests of `aits collect` and `aits ingest` without an outage (that is
# collect_outage_test.py): the real EUR/USD ticks replayed by `aits mt5-sim` as fast as they are
# taken, through the collector to an ingest writing csv-ticks, read back by `aits info`; errors for
# bad flags, a foreign spill file and a directory of the other format.
# Usage: collect_cli_test.sh AITS_BINARY SHARED_DATA_DIR PYTHON
set -uo pipefail
aits="$1"; data="$2"; python="$3"
work=$(mktemp -d)
pids=()
trap 'for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done; rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export AITS_MT5_TOKEN=e2e-collect-cli-secret

free_port() { "$python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
ingest_port=$(free_port)
gateway_port=$(free_port)

# --- the whole chain at --speed 0, into csv-ticks
"$aits" ingest --listen "127.0.0.1:$ingest_port" --out "$work/ticks" --format csv --json \
  >"$work/ingest.json" 2>"$work/ingest.err" &
ingest=$!; pids+=("$ingest")
"$aits" collect --listen "127.0.0.1:$gateway_port" --server "127.0.0.1:$ingest_port" \
  --spill "$work/spill" --json >"$work/collect.json" 2>"$work/collect.err" &
collect=$!; pids+=("$collect")
sleep 0.5
"$aits" mt5-sim --connect "127.0.0.1:$gateway_port" --token "$AITS_MT5_TOKEN" \
  --data "EURUSD=$data/eurusd-ticks-2020-01-01.csv" --speed 0 --stop-at-end --quiet
expect_code "mt5-sim" "$?" "0"
# Wait until the ingest has committed every tick (its state names the count), then stop both.
for _ in $(seq 1 100); do
  grep -q "^EURUSD csv 9500 " "$work/ticks/ingest.state" 2>/dev/null && break
  sleep 0.05
done
kill -TERM "$collect"; wait "$collect"; expect_code "collect after SIGTERM" "$?" "0"
kill -TERM "$ingest"; wait "$ingest"; expect_code "ingest after SIGTERM" "$?" "0"
expect_eq "collect accepted" "$(json "$work/collect.json" 'd["accepted"]')" "9500"
expect_eq "collect spill left" "$(json "$work/collect.json" 'd["spill_records_left"]')" "0"
expect_eq "ingest stored" "$(json "$work/ingest.json" 'd["stored"]')" "9500"
expect_eq "ingest duplicates" "$(json "$work/ingest.json" 'd["duplicates"] + d["stale"]')" "0"
run "$aits" info "$work/ticks/EURUSD.csv"
expect_in "aits info on the csv" "$out" "rows 9500, accepted 9500, rejected 0"
expect_in "aits info on the csv" "$out" "2020-01-01T17:00:00.065Z .. 2020-01-01T23:00:52.125Z"

# --- errors
run "$aits" ingest --listen "127.0.0.1:$ingest_port" --out "$work/ticks" --format bin
expect_code "ingest: the other format" "$code" "2"
expect_in "ingest: the other format" "$out" "ingest.state line 2 field 'format' value 'csv'"
run "$aits" ingest --out "$work/x" --format xml
expect_code "ingest --format xml" "$code" "2"
expect_in "ingest --format xml" "$out" "--format 'xml'"
run "$aits" ingest --listen nowhere --out "$work/x"
expect_code "ingest --listen nowhere" "$code" "2"
expect_in "ingest --listen nowhere" "$out" "--listen"
run env -u AITS_MT5_TOKEN "$aits" collect --server "127.0.0.1:$ingest_port" --spill "$work/s"
expect_code "collect without a token" "$code" "2"
expect_in "collect without a token" "$out" "AITS_MT5_TOKEN"
run "$aits" collect --server "127.0.0.1:$ingest_port" --spill "$work/s" --symbol NOPE
expect_code "collect --symbol NOPE" "$code" "2"
expect_in "collect --symbol NOPE" "$out" "--symbol NOPE is not in the instrument catalogue"
run "$aits" collect --server "127.0.0.1:$ingest_port"
expect_code "collect without --spill" "$code" "2"
echo "not a spill file" >"$work/bad.spill"
run "$aits" collect --server "127.0.0.1:$ingest_port" --spill "$work/bad.spill"
expect_code "collect on a foreign spill file" "$code" "2"
expect_in "collect on a foreign spill file" "$out" "bad.spill"

finish collect_cli_test
