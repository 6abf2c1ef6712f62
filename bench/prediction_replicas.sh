#!/usr/bin/env bash
# Predictions per second of the prediction role (issue 11): one process for two symbols (a
# thread each), one process for one symbol, and two replicas sharing the symbols
# (`--symbols`), at once. Each process's rate is its predictions over its own wall time
# (`seconds` in its JSON summary: connecting, reading FEATURES, predicting, publishing).
# nats-server runs on loopback with a throwaway store; FEATURES is filled first, per run its own
# --market, by the ingestion and features roles.
#
# Also prints the CPU the single process and nats-server used: on a small machine the replicas
# share the cores with the server, which bounds what a second one can add.
#
# Usage: bench/prediction_replicas.sh AITS_BINARY   (env TICKS per symbol, default 1000000)
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 AITS_BINARY" >&2
  exit 2
fi
aits=$(realpath "$1")
work=$(mktemp -d /tmp/replicas.XXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p $port -js -sd $work/js >$work/nats.log 2>&1 & nats=$!
trap 'kill $nats; rm -rf "$work"' EXIT
sleep 0.5
bus=nats://127.0.0.1:$port
s=(--synthetic EURUSD,GBPUSD --ticks ${TICKS:-1000000} --start 2024-01-08 --seed 3 --params fast=3,slow=8)
for m in one single two; do
  $aits serve --role ingestion --market $m --bus $bus "${s[@]}" --speed max --health off --quiet --json >/dev/null
  $aits serve --role features --market $m --bus $bus "${s[@]}" --health off --quiet --json >/dev/null
done
rate() { python3 -c "
import json,sys
tot=0; secs=0
for f in sys.argv[1:]:
    d=json.load(open(f)); n=sum(s['outputs'] for s in d['stages']); tot+=n; secs=max(secs,d['seconds'])
    print(f'  {f.split(\"/\")[-1]}: {n} predictions in {d[\"seconds\"]:.3f} s = {n/d[\"seconds\"]:,.0f}/s')
print(f'  together: {tot/secs:,.0f}/s')
" "$@"; }
echo "one process, both symbols:"
$aits serve --role prediction --market one --bus $bus "${s[@]}" --health off --quiet --json >$work/one.json
rate $work/one.json
echo "one process, one symbol:"
n0=$(awk '{print $14+$15}' /proc/$nats/stat)
/usr/bin/time -f "  prediction CPU: user %U s, sys %S s, wall %e s" $aits serve --role prediction --market single --symbols EURUSD --bus $bus "${s[@]}" --health off --quiet --json >$work/single.json
n1=$(awk '{print $14+$15}' /proc/$nats/stat)
echo "  nats-server CPU: $(( (n1-n0) * 1000 / $(getconf CLK_TCK) )) ms"
rate $work/single.json
echo "two processes, one symbol each, at once:"
n0=$(awk '{print $14+$15}' /proc/$nats/stat)
$aits serve --role prediction --market two --symbols EURUSD --bus $bus "${s[@]}" --health off --quiet --json >$work/two-a.json &
a=$!
$aits serve --role prediction --market two --symbols GBPUSD --bus $bus "${s[@]}" --health off --quiet --json >$work/two-b.json
wait $a
n1=$(awk '{print $14+$15}' /proc/$nats/stat)
echo "  nats-server CPU: $(( (n1-n0) * 1000 / $(getconf CLK_TCK) )) ms"
rate $work/two-a.json $work/two-b.json
