# Helpers shared by the end-to-end scripts in this folder. Source it after setting `python` (the
# interpreter `json` uses); it sets `failures`, which `finish` turns into the exit status.
# shellcheck shell=bash

failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
# json FILE EXPR: prints EXPR over the JSON document in FILE, loaded as `d`
json() { "$python" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# expect_eq WHAT GOT WANT
expect_eq() { if [[ "$2" == "$3" ]]; then pass "$1 = $3"; else fail "$1: expected '$3', got '$2'"; fi; }
# expect_in WHAT TEXT NEEDLE: TEXT contains NEEDLE
expect_in() { if grep -qF -- "$3" <<<"$2"; then pass "$1 mentions '$3'"; else fail "$1: '$3' not in: $2"; fi; }
# expect_code WHAT GOT WANT [STDERR_FILE]: an exit code; on a mismatch, the end of the process's
# standard error (what CI's log must show to tell why).
expect_code() {
  if [[ "$2" == "$3" ]]; then pass "$1 exit $3"; return; fi
  fail "$1: exit $2, expected $3"
  if [[ -n "${4:-}" && -s "$4" ]]; then tail -n 20 "$4" | sed 's/^/  | /'; fi
}
# check WHAT CMD...: runs CMD as a test
check() {
  local what="$1"; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# run CMD...: the command's output (stdout and stderr) in $out, its exit code in $code; works
# under `set -e` as well as without it
run() {
  local restore=""
  [[ $- == *e* ]] && restore="set -e"
  set +e
  out=$("$@" 2>&1)
  code=$?
  $restore
}
# sql STATE QUERY: the rows of a read-only query on STATE/events.db, one per line, '|' between
# columns (BLOBs decoded as UTF-8 with replacement)
sql() {
  "$python" - "$1/events.db" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for row in db.execute(sys.argv[2]):
    print("|".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row))
PY
}
# paper_refuses WHAT EXPECTED_TEXT... -- ARGS...: `$aits paper --quiet ARGS` must exit 2 and name
# each text (the flag, or file:line and key, and the value)
paper_refuses() {
  local what="$1"; shift
  local texts=()
  while [[ "$1" != "--" ]]; do texts+=("$1"); shift; done
  shift
  run "$aits" paper --quiet "$@"
  expect_eq "$what: exit code" "$code" "2"
  local text
  for text in "${texts[@]}"; do expect_in "$what" "$out" "$text"; done
}
# free_port: a TCP port on 127.0.0.1 that was free when asked
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# stop_server PID DIR SIGNAL: stops a server started here (either may be empty) and removes its
# directory
stop_server() {
  if [[ -n "$1" ]]; then
    kill "-$3" "$1" 2>/dev/null
    wait "$1" 2>/dev/null
  fi
  [[ -n "$2" ]] && rm -rf "$2"
  return 0
}
# start_postgres: Debian's PostgreSQL 15 on 127.0.0.1 with a throwaway cluster (user `aits`
# trusted, fsync off), as test_servers::PostgresServer starts it; sets pg_port. Under root the
# server runs as `postgres` (it refuses root). stop_postgres stops it and removes the cluster.
start_postgres() {
  local bin=/usr/lib/postgresql/15/bin as=()
  pg_dir=$(mktemp -d)
  if [[ $EUID -eq 0 ]]; then
    chown postgres:postgres "$pg_dir"
    as=(setpriv --reuid=postgres --regid=postgres --clear-groups)
  fi
  if ! "${as[@]}" "$bin/initdb" -D "$pg_dir/data" -U aits --auth=trust -E UTF8 --locale=C \
      --no-sync >"$pg_dir/initdb.log" 2>&1; then
    fail "initdb: $(cat "$pg_dir/initdb.log")"
    return 1
  fi
  pg_port=$(free_port)
  "${as[@]}" "$bin/postgres" -D "$pg_dir/data" -p "$pg_port" -c listen_addresses=127.0.0.1 \
    -c "unix_socket_directories=$pg_dir" -c fsync=off >"$pg_dir/server.log" 2>&1 &
  pg_pid=$!
  local _
  for _ in $(seq 1 300); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && return 0
    sleep 0.1
  done
  fail "PostgreSQL did not accept connections within 30 s: $(tail -5 "$pg_dir/server.log")"
  return 1
}
stop_postgres() {
  stop_server "${pg_pid:-}" "${pg_dir:-}" INT  # SIGINT: fast shutdown
  pg_pid=""
  pg_dir=""
}
# start_redis: Debian's redis-server on 127.0.0.1 with a free port, no persistence, a throwaway
# directory, as test_servers::RedisServer starts it; sets redis_port. stop_redis stops it.
start_redis() {
  redis_dir=$(mktemp -d)
  redis_port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$redis_dir" --save '' \
    --appendonly no --protected-mode no >"$redis_dir/server.log" 2>&1 &
  redis_pid=$!
  local _
  for _ in $(seq 1 100); do
    [[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] && return 0
    sleep 0.1
  done
  fail "Redis did not answer within 10 s: $(tail -5 "$redis_dir/server.log")"
  return 1
}
stop_redis() {
  stop_server "${redis_pid:-}" "${redis_dir:-}" TERM
  redis_pid=""
  redis_dir=""
}
# start_nats DIR: nats-server with JetStream on 127.0.0.1, a port of its choosing (read from its
# ports file), its store and log in DIR; sets nats_pid and bus (nats://127.0.0.1:PORT).
start_nats() {
  local server
  server=$(command -v nats-server || echo /usr/sbin/nats-server)
  [[ -x "$server" ]] || { fail "nats-server is not installed (scripts/install-deps.sh)"; return 1; }
  mkdir -p "$1/ports"
  "$server" -a 127.0.0.1 -p -1 -js -sd "$1/js" --ports_file_dir "$1/ports" >"$1/nats.log" 2>&1 &
  nats_pid=$!
  bus=""
  local _
  for _ in $(seq 100); do
    bus=$(cat "$1"/ports/*.ports 2>/dev/null | "$python" -c \
      'import json,sys; print(json.load(sys.stdin)["nats"][0])' 2>/dev/null) && [[ -n "$bus" ]] &&
      return 0
    sleep 0.1
  done
  fail "nats-server did not start: $(cat "$1/nats.log")"
  return 1
}
# probe URL: "STATUS BODY" of a GET, retried while nothing listens (for /healthz and /readyz)
probe() {
  "$python" - "$1" <<'PY'
import sys, time, urllib.request, urllib.error
for attempt in range(50):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            print(r.status, r.read().decode()); break
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode()); break
    except OSError:
        time.sleep(0.1)
PY
}
# health_port ERR_FILE: the port a serve process printed to ERR_FILE ("/healthz, /readyz and
# /metrics on 127.0.0.1:PORT", or the ml role's "/readyz on 127.0.0.1:PORT"), waiting for it.
health_port() {
  local found=""
  for _ in $(seq 100); do
    found=$(sed -n 's/.*\/\(readyz\|metrics\) on 127.0.0.1:\([0-9]*\).*/\2/p' "$1")
    [[ -n "$found" ]] && break
    sleep 0.1
  done
  echo "$found"
}
# expect_health ERR_FILE BODY: health_port, its /healthz, and its /readyz once ready, each
# answering 200 BODY; sets port
expect_health() {
  port=$(health_port "$1")
  local _ ready=""
  expect_eq "/healthz" "$(probe "http://127.0.0.1:$port/healthz")" "200 $2"
  for _ in $(seq 50); do
    ready=$(probe "http://127.0.0.1:$port/readyz")
    [[ "$ready" == 200* ]] && break
    sleep 0.1
  done
  expect_eq "/readyz" "$ready" "200 $2"
}
# finish NAME: the summary line, and the script's exit status
finish() {
  echo "$1: $failures failure(s)"
  [[ $failures -eq 0 ]]
}
