#!/usr/bin/env bash
# End-to-end test of `aits bus` (docs/deployment.md, "Backups"): a stream published to with
# `aits bus publish`, read back, read in part by a durable consumer; it and the MARKET stream of
# an ingestion role backed up, described by `aits bus inspect`, restored into a second
# nats-server, where `aits bus read` finds the same messages under the same sequences and the
# durable consumer resumes where it was; the flags' errors and exit codes (2 for a name that does not exist, 1
# for a server that is not there or a stream that exists), with the stream and the file named.
# Usage: bus_cli_test.sh AITS_BINARY PYTHON
set -uo pipefail
aits="$1"; python="$2"
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x "$nats_server" ]] || { echo "FAIL: nats-server is not installed (scripts/install-deps.sh)"; exit 1; }
# start_nats NAME: a JetStream server with its store in $work/NAME; its URL in $url.
start_nats() {
  mkdir -p "$work/$1/ports"
  "$nats_server" -a 127.0.0.1 -p -1 -js -sd "$work/$1/js" --ports_file_dir "$work/$1/ports" \
    >"$work/$1/nats.log" 2>&1 &
  pids+=("$!")
  url=""
  for _ in $(seq 100); do
    url=$(cat "$work/$1"/ports/*.ports 2>/dev/null | "$python" -c \
      'import json,sys; print(json.load(sys.stdin)["nats"][0])' 2>/dev/null) && [[ -n "$url" ]] && break
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "FAIL: nats-server did not start:"; cat "$work/$1/nats.log"; exit 1; }
}
start_nats a; a="$url"
start_nats b; b="$url"

# A stream of ours, made by the first publish; a publish id is stored once.
run "$aits" bus publish --bus "$a" --stream CHECKS --subject checks.one --id c-1 "hello"
expect_code "publish" "$code" 0
expect_eq "publish" "$out" "stored as sequence 1"
run "$aits" bus publish --bus "$a" --subject checks.one --id c-1 --json "hello again"
expect_eq "a retried publish" "$(json /dev/stdin 'd["sequence"], d["duplicate"]' <<<"$out")" \
  "1 True"
for n in 2 3 4 5; do
  "$aits" bus publish --bus "$a" --subject checks.one --id "c-$n" --quiet "message $n" ||
    fail "publish $n"
done
run "$aits" bus read --bus "$a" --stream CHECKS --from 2 --count 2
expect_code "read" "$code" 0
expect_in "read from 2" "$out" "2 checks.one c-2"
expect_eq "read: two lines" "$(wc -l <<<"$out")" "2"

# A reader's durable consumer that has taken (and acknowledged) the first three; a second read as
# it resumes at the fourth.
run "$aits" bus read --bus "$a" --stream CHECKS --durable checker --count 3
expect_eq "durable read" "$(cut -d' ' -f1 <<<"$out" | paste -sd,)" "1,2,3"

# The MARKET stream as a role writes it (binary envelopes): a short synthetic session published by
# the ingestion role.
session=(--synthetic EURUSD,GBPUSD --ticks 3000 --start 2024-01-08 --seed 5)
"$aits" serve --role ingestion --bus "$a" "${session[@]}" --speed max --json --health off \
  >"$work/ingestion.json" 2>"$work/ingestion.log" || fail "ingestion: $(cat "$work/ingestion.log")"
run "$aits" bus info --bus "$a" --json MARKET CHECKS
market_last=$(json /dev/stdin 'd[0]["last_sequence"]' <<<"$out")
check "MARKET holds the session's messages ($market_last)" test "$market_last" -gt 1
expect_eq "CHECKS' durable consumer" \
  "$(json /dev/stdin '[(c["name"], c["ack_floor"]) for c in d[1]["durable_consumers"]]' <<<"$out")" \
  "[('checker', 3)]"

# Back up both, describe them, restore into the second server.
for stream in CHECKS MARKET; do
  run "$aits" bus backup --bus "$a" --stream "$stream" --out "$work/$stream.jsbak" --no-progress
  expect_code "backup $stream" "$code" 0
  expect_in "backup $stream" "$out" "backed up stream $stream"
done
run "$aits" bus inspect --json "$work/MARKET.jsbak"
expect_eq "inspect: the last sequence" "$(json /dev/stdin 'd["last_sequence"]' <<<"$out")" \
  "$market_last"
expect_eq "inspect: the source" "$(json /dev/stdin 'd["source"]' <<<"$out")" "$a"
for stream in CHECKS MARKET; do
  run "$aits" bus restore --bus "$b" "$work/$stream.jsbak" --no-progress
  expect_code "restore $stream" "$code" 0
  expect_in "restore $stream" "$out" "restored stream $stream"
done
run "$aits" bus read --bus "$b" --stream CHECKS --json --count 100
expect_eq "CHECKS restored" "$(json /dev/stdin '[(m["sequence"], m["id"], m["payload"]) for m in d]' <<<"$out")" \
  "[(1, 'c-1', 'hello'), (2, 'c-2', 'message 2'), (3, 'c-3', 'message 3'), (4, 'c-4', 'message 4'), (5, 'c-5', 'message 5')]"
"$aits" bus read --bus "$a" --stream MARKET --json --count 100000 >"$work/market-a.json" ||
  fail "read MARKET from $a"
"$aits" bus read --bus "$b" --stream MARKET --json --count 100000 >"$work/market-b.json" ||
  fail "read MARKET from $b"
check "MARKET reads the same from both servers" cmp -s "$work/market-a.json" "$work/market-b.json"
run "$aits" bus read --bus "$b" --stream CHECKS --durable checker --count 10
expect_eq "the durable consumer resumes after the restore" "$(cut -d' ' -f1 <<<"$out" | paste -sd,)" \
  "4,5"

# Errors: each named, with the exit codes of README's "Exit codes".
run "$aits" bus restore --bus "$b" "$work/CHECKS.jsbak" --no-progress
expect_code "restore onto an existing stream" "$code" 1
expect_in "restore onto an existing stream" "$out" "CHECKS"
run "$aits" bus backup --bus "$a" --stream NOPE --out "$work/nope.jsbak"
expect_code "backup of a stream that does not exist" "$code" 2
expect_in "backup of a stream that does not exist" "$out" "NOPE"
check "no file for a failed backup" test ! -e "$work/nope.jsbak"
head -c 300 "$work/MARKET.jsbak" >"$work/cut.jsbak"
run "$aits" bus inspect "$work/cut.jsbak"
expect_code "a cut backup" "$code" 1
expect_in "a cut backup" "$out" "$work/cut.jsbak"
run "$aits" bus restore --bus "$b" "$work/missing.jsbak"
expect_code "a missing file" "$code" 2
expect_in "a missing file" "$out" "$work/missing.jsbak"
run "$aits" bus info --bus "nats://127.0.0.1:$(free_port)" MARKET
expect_code "a server that is not there" "$code" 1
expect_in "a server that is not there" "$out" "cannot connect"
run "$aits" bus backup --bus "$a" --stream MARKET
expect_code "backup without --out" "$code" 2

finish bus_cli_test
