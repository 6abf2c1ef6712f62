#!/usr/bin/env bash
# A running paper session's /metrics (docs/monitoring.md): `aits paper --health 127.0.0.1:0`
# serves its registry and the process's figures; Prometheus' `promtool check metrics` parses and
# lints the scrape clean; ticks count up between two scrapes; an operator's `aits breaker halted`
# shows as the breaker's state, its change and an applied command; the process's own figures
# are there under their usual names; every aits_ metric the alerting rules read
# (deploy/prometheus/rules.yml) is one the session serves, but the bus readers' (aits_bus_*).
# Usage: session_metrics_test.sh AITS_BINARY RULES_YML
set -euo pipefail
aits="$1"
rules="$2"
command -v promtool >/dev/null || { echo "FAIL: promtool not found (scripts/install-deps.sh)" >&2; exit 1; }
dir=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -INT "$pid"; wait "$pid" || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- the session's stderr:" >&2
  cat "$dir/err" >&2 || true
  exit 1
}

"$aits" paper --speed 50 --state "$dir/s" --health 127.0.0.1:0 --no-progress 2>"$dir/err" >"$dir/out" &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^aits paper: \/healthz, \/readyz and \/metrics on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/err")
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || fail "the session ended before it served /metrics"
  sleep 0.1
done
[[ -n "$port" ]] || fail "no line saying where /metrics is"

scrape() { curl -sf "http://127.0.0.1:$port/metrics"; }
# The value of one series (exact name and labels), or nothing.
value() { scrape | awk -v series="$1" '$1 == series { print $2 }'; }
wait_for() {  # SERIES EXPECTED: until the scrape shows it, for up to 10 s
  for _ in $(seq 1 100); do
    [[ "$(value "$1")" == "$2" ]] && return 0
    sleep 0.1
  done
  fail "$1 is '$(value "$1")', not $2"
}

# The first ticks: the synthetic market at 50x brings several a second.
for _ in $(seq 1 100); do
  ticks=$(value 'aits_ticks_total{symbol="EURUSD"}')
  [[ -n "$ticks" && "$ticks" != "0" ]] && break
  sleep 0.1
done
[[ -n "$ticks" && "$ticks" != "0" ]] || fail "no ticks counted"

text=$(scrape) || fail "GET /metrics failed"
if ! report=$(printf '%s\n' "$text" | promtool check metrics 2>&1) || [[ -n "$report" ]]; then
  echo "$text" >&2
  fail "promtool check metrics: $report"
fi
for series in 'aits_breaker_state{state="normal"} 1' 'aits_account_equity{currency="USD"}' \
    'process_cpu_seconds_total' 'process_resident_memory_bytes' 'process_open_fds' \
    'aits_tick_processing_seconds_bucket{bar_close="false",le="+Inf"}' \
    'aits_event_store_commit_seconds_count'; do
  grep -qF "$series" <<<"$text" || fail "the scrape lacks '$series'"
done

# A rule over a metric nobody serves would never fire: every aits_ name in the rules (a
# histogram's _bucket series by its family) is in the scrape. Except the bus readers' lag
# (aits_bus_*): a paper session reads no bus, so only the roles of `aits serve` that read one
# serve it, and serve_cli_test.sh checks those names on a features,prediction role's scrape.
while read -r name; do
  grep -q "^# TYPE ${name%_bucket} " <<<"$text" || fail "rules.yml reads $name, which the session does not serve"
done < <(grep -o 'aits_[a-z_]*' "$rules" | grep -v '^aits_bus_' | sort -u)

sleep 0.5
later=$(value 'aits_ticks_total{symbol="EURUSD"}')
(( later > ticks )) || fail "ticks did not count up between scrapes: $ticks then $later"

"$aits" breaker halted --reason e2e --state "$dir/s" >/dev/null 2>&1 || fail "aits breaker refused"
wait_for 'aits_breaker_state{state="halted"}' 1
wait_for 'aits_breaker_state{state="normal"}' 0
wait_for 'aits_breaker_changes_total{state="halted"}' 1
wait_for 'aits_operator_commands_total{result="applied"}' 1

kill -INT "$pid"
wait "$pid" || fail "the session did not stop cleanly"
pid=""
echo "ok: $(grep -c -v '^#' <<<"$text") samples lint clean; ticks $ticks -> $later; the breaker's halt seen"
