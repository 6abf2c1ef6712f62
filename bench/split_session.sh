#!/usr/bin/env bash
# A paper session split into roles, each its own `aits serve` process over a throwaway
# nats-server on loopback, against the same session embedded (`aits paper --speed max`): the
# figures of issue 11 (docs/performance.md, "The session split ...").
#
# Usage: bench/split_session.sh AITS_BINARY
#   env TICKS    ticks of the synthetic market (default 1000000)
#       SYMBOLS  its symbols (default EURUSD)
#       SPEED    the ingestion role's pace: max, or a multiple of real time (default max)
#       MODE     five: ingestion, features, prediction, decision, risk+execution (default);
#                four: the decision on the owner (decision,risk,execution)
#       WORK     working directory (default: a new temp dir, kept for inspection)
#       SEQUENTIAL 1: each role after the one before has finished (each role's own rate), in
#                place of all at once
#       BAR      the signal's bar period (default M1); a short one (5s) makes an order-dense
#                session, for orders/s through decision, risk and execution
#       CONSUMERS push (default) or pull: how the roles read the bus (aits serve --consumers)
#       STORES   a store location (a file, or postgresql://user@host:port/db): the features role
#                keeps its bars and feature rows there (--bars, --offline-features) and the
#                owner its trades (--trades); default none. Run with and without to see what
#                the stores cost (docs/performance.md)
#       TRACE    off (default), or a ratio: every role writes its spans to WORK/ROLE.trace.jsonl
#                with --trace-sample TRACE (docs/monitoring.md, "Traces"); run with off, 0 and 1
#                to see what tracing costs
#
# Every role starts at once; the owner's wall time is from its start to its summary. Prints
# the owner's summary figures (its waits for predictions or decisions, the market's delay, the
# latency histograms of its kernel) and whether orders, fills and balance equal the embedded
# session's.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 AITS_BINARY" >&2
  exit 2
fi
aits=$(realpath "$1")
ticks=${TICKS:-1000000}
symbols=${SYMBOLS:-EURUSD}
speed=${SPEED:-max}
mode=${MODE:-five}
work=${WORK:-$(mktemp -d /tmp/aits-split.XXXXXX)}
mkdir -p "$work"
echo "work dir: $work"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/js" >"$work/nats.log" 2>&1 &
nats=$!
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  kill "$nats" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done
bus="nats://127.0.0.1:$port"
session=(--synthetic "$symbols" --ticks "$ticks" --start 2024-01-08 --seed 3
         --params fast=3,slow=8 --commission per_lot:7 --bar "${BAR:-M1}")
consumers=(--consumers "${CONSUMERS:-push}")
trace=${TRACE:-off}
traced() {  # ROLE: the trace flags of its process
  [[ $trace == off ]] || echo "--trace-file $work/$1.trace.jsonl --trace-sample $trace"
}

echo "embedded: aits paper --speed max"
start=$(date +%s.%N)
"$aits" paper "${session[@]}" --speed max --state "$work/embedded" --quiet --json \
  >"$work/embedded.json"
embedded_s=$(echo "$(date +%s.%N) - $start" | bc)

case $mode in
  five) roles=(ingestion features prediction decision); owner=risk,execution ;;
  four) roles=(ingestion features prediction); owner=decision,risk,execution ;;
  *) echo "MODE is five or four, not $mode" >&2; exit 2 ;;
esac
sequential=${SEQUENTIAL:-0}
stores=${STORES:-}
echo "split ($mode): ${roles[*]} $owner, $([[ $sequential == 1 ]] && echo "one after another" || echo "at once")"
start=$(date +%s.%N)
for role in "${roles[@]}"; do
  pace=()
  [[ $role == ingestion ]] && pace=(--speed "$speed")
  [[ -n $stores && $role == features ]] && pace=(--bars "$stores" --offline-features "$stores")
  # The decision role answers the owner's questions: it runs beside the owner either way.
  if [[ $sequential == 1 && $role != decision ]]; then
    role_start=$(date +%s.%N)
    # shellcheck disable=SC2046  # traced's words are meant to split
    "$aits" serve --role "$role" --bus "$bus" "${session[@]}" "${pace[@]}" "${consumers[@]}" \
      $(traced "$role") --json --health off --idle-timeout 120 >"$work/$role.json" \
      2>"$work/$role.err"
    echo "  $role alone: $(echo "$(date +%s.%N) - $role_start" | bc) s"
    start=$(date +%s.%N)
    continue
  fi
  # shellcheck disable=SC2046
  "$aits" serve --role "$role" --bus "$bus" "${session[@]}" "${pace[@]}" "${consumers[@]}" \
    $(traced "$role") --json --health off --idle-timeout 120 >"$work/$role.json" \
    2>"$work/$role.err" &
  pids+=($!)
done
owner_stores=()
[[ -n $stores ]] && owner_stores=(--trades "$stores")
# shellcheck disable=SC2046
"$aits" serve --role "$owner" --bus "$bus" "${session[@]}" "${consumers[@]}" --state "$work/owner" \
  $(traced owner) --json --health off --idle-timeout 120 "${owner_stores[@]}" \
  >"$work/owner.json" 2>"$work/owner.err"
owner_s=$(echo "$(date +%s.%N) - $start" | bc)
for pid in "${pids[@]}"; do wait "$pid"; done
pids=()

python3 - "$work" "$embedded_s" "$owner_s" <<'PY'
import json, sys
work, embedded_s, owner_s = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
e = json.load(open(f"{work}/embedded.json"))
o = json.load(open(f"{work}/owner.json"))
print(f"embedded: {embedded_s:.2f} s; the split owner: {owner_s:.2f} s "
      f"({o['ticks'] / owner_s:,.0f} ticks/s, {o['orders'] / owner_s:,.0f} orders/s, "
      f"{o['decisions'] / owner_s:,.0f} decisions/s)")
same = all(e[k] == o[k] for k in ("orders", "fills", "decisions", "balance", "equity"))
print(f"orders {o['orders']}, fills {o['fills']}, decisions {o['decisions']}, "
      f"balance {o['balance']}: {'equal to' if same else 'DIFFERENT from'} the embedded session")
for key in ("predictions", "decision_role"):
    if key in o:
        f = o[key]
        print(f"{key}: {f['bars']} bars, wait p50 {f['wait_p50_us']:.1f} us, "
              f"p99 {f['wait_p99_us']:.1f} us, max {f['wait_max_us']:.1f} us")
m = o["market"]
print(f"market: {m['messages']} messages, delay p50 {m['delay_p50_us']:.1f} us, "
      f"p99 {m['delay_p99_us']:.1f} us")
for stage in json.load(open(f"{work}/features.json"))["stages"]:
    if "records" in stage:
        r = stage["records"]
        print(f"features {stage['symbol']}: {r['bars']} bars and {r['rows']} rows stored in "
              f"{r['writes']} transactions, {r['write_total_ms']:.1f} ms in all "
              f"(p50 {r['write_p50_us']:.0f} us, p99 {r['write_p99_us']:.0f} us a transaction)")
for name, h in o.get("latency", {}).items():
    if isinstance(h, dict) and h.get("count"):
        print(f"latency {name}: n={h['count']} p50 {h['p50_us']:.1f} us "
              f"p99 {h['p99_us']:.1f} us max {h['max_us']:.1f} us")
if not same:
    sys.exit(1)
PY
