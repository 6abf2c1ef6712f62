#!/usr/bin/env bash
# The API under load over real connections (docs/performance.md, "API"): `aits api serve` over a
# synthetic session's log, wrk on loopback sending authenticated GETs (a Bearer token), with many
# connections held open at once. wrk and the server share the machine's cores.
#
# Usage: bench/api_load.sh AITS_BINARY
#   env CONNECTIONS  connections wrk holds open (default 1000, the original design's figure)
#       SECONDS      how long each run lasts (default 15)
#       PATHS        the GETs, one run each (default /api/v1/account /api/v1/orders?limit=10)
#       THREADS      the server's I/O threads (default 2)
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 AITS_BINARY" >&2
  exit 2
fi
aits="$1"
connections="${CONNECTIONS:-1000}"
seconds="${SECONDS_EACH:-${SECONDS:-15}}"
threads="${THREADS:-2}"
read -r -a paths <<<"${PATHS:-/api/v1/account /api/v1/orders?limit=10}"
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
(( $(ulimit -n) > connections + 100 )) || ulimit -n $((connections + 1000))

work=$(mktemp -d)
server=""
cleanup() {
  [[ -n "$server" ]] && kill -INT "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$aits" paper --synthetic EURUSD --ticks 200000 --start 2024-01-08 --seed 3 \
  --params fast=3,slow=8 --speed max --state "$work/s" --quiet >/dev/null
auth=(--auth "$work/auth.db" --master-key "$work/master.key")
"$aits" api init "${auth[@]}" --quiet
AITS_PASSWORD=load "$aits" api user add load --role viewer "${auth[@]}" --quiet
"$aits" api serve --state "$work/s" --listen 127.0.0.1:0 --json "${auth[@]}" \
  --threads "$threads" --rate-limit 1000000000 \
  --max-connections-per-client $((connections + 100)) >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 100); do [[ -s "$work/serve.out" ]] && break; sleep 0.1; done
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' \
  "$work/serve.out")
token=$(curl -s -d 'grant_type=password&username=load&password=load' "$base/api/v1/auth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

echo "aits api serve at $base ($threads I/O threads); wrk: $connections connections, ${seconds} s"
for path in "${paths[@]}"; do
  echo "--- GET $path"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Authorization: Bearer $token" \
    "$base$path" | grep -E "Requests/sec|Latency|50%|75%|90%|99%|Non-2xx|Socket errors|requests in"
done
