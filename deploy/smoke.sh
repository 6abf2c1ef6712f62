#!/usr/bin/env bash
# The smoke test of the deployment (docs/deployment.md, "Smoke test"): starts the whole system
# from deploy/compose.yaml with podman-compose — the images deploy/build-image.sh built — and
# checks it against the running containers:
#   - every container's health check passes (podman runs them only through systemd timers, which
#     a host without systemd lacks, and podman-compose 1.0.3 waits for no health condition: this
#     script runs each check itself until it passes);
#   - every role answers /healthz 200 and /readyz 200, but the owner's standby, whose /readyz
#     answers 503 "standby" while the other owner holds the session; NATS's /healthz with
#     JetStream on;
#   - a JetStream publish (`aits bus publish`) is stored, read back with its sequence, and
#     stored once when published again with the same id; the ingestion role's MARKET stream grows;
#   - the features and prediction roles' keys are in Redis (reached as redis:6379);
#   - the paper session places an order: the owner's event log in PostgreSQL holds a submitted
#     order and `aits explain 1` reads its decision record back;
#   - a backup of the MARKET stream taken from the running server (`aits bus backup`) is whole;
# then removes every container, volume and network it made, also when a check fails or it is
# interrupted. Prints the figures: time to start, to healthy, to the first order, in all.
#   deploy/smoke.sh                 (as root: rootful podman) the images as they are
#   deploy/smoke.sh --build BINARY  first rebuild them from BINARY (deploy/build-image.sh
#                                   --reuse-bases), as ctest's deploy_smoke does with its build's
# The market runs at AITS_SPEED (default 600 times real time, so that M1 bars, and orders, come
# within seconds). The compose project is aits-smoke; what a previous run left of it is removed
# first. A separate copy of compose.yaml runs, with a .env of its own (a random password), so
# that deploy/.env — an operator's — is neither read nor written.
# Exit 0 when every check passed, 1 otherwise, 77 (a skip for ctest) when podman, podman-compose
# or the images are missing, or not root.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "${here}/.." && pwd)"
project=aits-smoke
runtime="${AITS_PODMAN_RUNTIME:-runc}"
speed="${AITS_SPEED:-600}"
session=smoke
version="$(sed -n 's/^project(aits VERSION \([0-9][0-9.]*\).*/\1/p' "${repo}/CMakeLists.txt")"

skip() { echo "smoke: SKIPPED: $*" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "run as root (the images and the stack are rootful podman's)"
for tool in podman podman-compose "${runtime}"; do
  command -v "${tool}" >/dev/null || skip "${tool} not found (scripts/install-deps.sh --image)"
done
if [[ "${1:-}" == --build ]]; then
  [[ -n "${2:-}" ]] || { echo "smoke: --build needs the aits binary" >&2; exit 2; }
  command -v mmdebstrap >/dev/null || skip "mmdebstrap not found (scripts/install-deps.sh --image)"
  build_start=${SECONDS}
  build_log="$(mktemp /var/tmp/aits-smoke-build.XXXXXX.log)"
  "${here}/build-image.sh" --reuse-bases "$2" >"${build_log}" 2>&1 || {
    tail -30 "${build_log}"
    echo "smoke: deploy/build-image.sh failed (its output: ${build_log})" >&2
    exit 1
  }
  rm -f "${build_log}"
  echo "smoke: images rebuilt from $2 in $((SECONDS - build_start)) s"
elif [[ $# -gt 0 ]]; then
  echo "usage: deploy/smoke.sh [--build AITS_BINARY]" >&2
  exit 2
fi
for image in aits aits-nats aits-postgres aits-redis; do
  podman image exists "localhost/${image}:${version}" ||
    skip "localhost/${image}:${version} not built (deploy/build-image.sh)"
done

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
started=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) ${started}" | awk '{ printf "%.1f", $1 - $2 }'; }

work="$(mktemp -d /var/tmp/aits-smoke.XXXXXX)"
compose=(podman-compose --podman-args "--runtime ${runtime}" -p "${project}"
         -f "${work}/compose.yaml")
# Everything of the project, whatever state it is in: compose's own `down` first, then what it
# may have missed (a container its restart policy started again meanwhile), by the label
# podman-compose puts on each.
teardown() {
  local attempt ids
  "${compose[@]}" down -v >"${work}/down.log" 2>&1
  for attempt in 1 2 3; do
    mapfile -t ids < <(podman ps -aq --filter "label=io.podman.compose.project=${project}")
    ((${#ids[@]} == 0)) && break
    podman rm -f -v "${ids[@]}" >/dev/null 2>&1
    sleep "${attempt}"
  done
  mapfile -t ids < <(podman volume ls -q --filter "label=io.podman.compose.project=${project}")
  ((${#ids[@]} > 0)) && podman volume rm -f "${ids[@]}" >/dev/null 2>&1
  podman network exists "${project}_default" 2>/dev/null &&
    podman network rm -f "${project}_default" >/dev/null 2>&1
  local left
  left="$(podman ps -aq --filter "label=io.podman.compose.project=${project}";
          podman volume ls -q --filter "label=io.podman.compose.project=${project}")"
  [[ -z "${left}" ]] || echo "smoke: could not remove: ${left//$'\n'/ }" >&2
}
on_exit() {
  local code=$?
  teardown
  rm -rf "${work}"
  exit "${code}"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

cp "${here}/compose.yaml" "${work}/compose.yaml"
mkdir -p "${work}/k8s"
cp "${here}/k8s/redis.conf" "${work}/k8s/redis.conf"
{
  echo "POSTGRES_PASSWORD=smoke-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  echo "AITS_SPEED=${speed}"
  echo "AITS_SESSION=${session}"
} >"${work}/.env"
chmod 600 "${work}/.env"
password="$(sed -n 's/^POSTGRES_PASSWORD=//p' "${work}/.env")"

teardown  # a previous run's leftovers
echo "smoke: podman-compose up (${project}, runtime ${runtime}, speed ${speed})"
if ! "${compose[@]}" up -d >"${work}/up.log" 2>&1; then
  cat "${work}/up.log"
  fail "podman-compose up"
  exit 1
fi
up_seconds=$(elapsed)
pass "podman-compose up: $(grep -c '^podman run' "${work}/up.log") containers in ${up_seconds} s"

services=(nats postgres redis ingestion features prediction decision owner owner-standby)
roles=(ingestion features prediction decision owner owner-standby)
container() { echo "${project}_$1_1"; }
# logs SERVICE: the last lines of its output, for a failure's message.
logs() { podman logs --tail 15 "$(container "$1")" 2>&1 | sed 's/^/      /'; }
# http SERVICE PORT PATH: "CODE BODY" of GET PATH from inside the container (no HTTP client in
# the images: bash's /dev/tcp, as aits-probe does).
http() {
  podman exec "$(container "$1")" /bin/bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
    IFS= read -r -t 3 status <&3 || exit 1
    body=""
    while IFS= read -r -t 3 line <&3 || [[ -n "${line}" ]]; do
      body="${line%$'"'"'\r'"'"'}"; line=""
    done
    read -r _ code _ <<<"${status}"
    echo "${code} ${body}"' _ "$2" "$3" 2>/dev/null
}

# Health: each container's own check, run until it passes (180 s at most for all); the checks of
# one round run side by side (an exec takes a second or two here).
declare -A healthy_at=()
deadline=$((SECONDS + 180))
while ((${#healthy_at[@]} < ${#services[@]} && SECONDS < deadline)); do
  for service in "${services[@]}"; do
    [[ -n "${healthy_at[${service}]:-}" ]] && continue
    (podman healthcheck run "$(container "${service}")" >/dev/null 2>&1 &&
       touch "${work}/healthy-${service}") &
  done
  wait
  for service in "${services[@]}"; do
    if [[ -z "${healthy_at[${service}]:-}" && -e "${work}/healthy-${service}" ]]; then
      healthy_at[${service}]=$(elapsed)
    fi
  done
  sleep 1
done
for service in "${services[@]}"; do
  if [[ -n "${healthy_at[${service}]:-}" ]]; then
    pass "${service}: healthy after ${healthy_at[${service}]} s"
  else
    fail "${service}: not healthy within 180 s ($(podman inspect -f '{{.State.Status}}, restarts {{.RestartCount}}' "$(container "${service}")" 2>&1))"
    logs "${service}"
  fi
done
healthy_seconds=$(elapsed)

# The roles' endpoints. Both owners run --standby: whichever took the session's lock first is
# ready, the other answers 503 "standby" (docs/deployment.md, "The roles").
ready_owners=0
for role in "${roles[@]}"; do
  read -r code body <<<"$(http "${role}" 8080 /healthz)"
  if [[ "${code}" == 200 ]]; then pass "${role}: /healthz 200 ${body}"; else
    fail "${role}: /healthz answered '${code} ${body}'"; logs "${role}"; fi
  # Ready once its work has started: give a role that restarted a few seconds.
  for _ in $(seq 30); do
    read -r code body <<<"$(http "${role}" 8080 /readyz)"
    [[ "${code}" == 200 || "${body}" == *standby* ]] && break
    sleep 1
  done
  if [[ "${role}" == owner* && "${code}" == 503 && "${body}" == *standby* ]]; then
    pass "${role}: /readyz 503, the standby: ${body}"
  elif [[ "${code}" == 200 ]]; then
    pass "${role}: /readyz 200 ${body}"
    [[ "${role}" == owner* ]] && ready_owners=$((ready_owners + 1))
  else
    fail "${role}: /readyz answered '${code} ${body}'"; logs "${role}"
  fi
done
if ((ready_owners == 1)); then pass "one owner trades, the other stands by"; else
  fail "${ready_owners} owners ready (one expected)"; fi
read -r code body <<<"$(http nats 8222 '/healthz?js-enabled-only=true')"
if [[ "${code}" == 200 ]]; then pass "nats: /healthz (JetStream) 200 ${body}"; else
  fail "nats: /healthz answered '${code} ${body}'"; fi

# JetStream: a publish stored and read back, from inside a role's container (the bus's address
# is the compose network's).
bus=(podman exec "$(container decision)" /usr/local/bin/aits bus)
nats=(--bus nats://nats:4222)
first="$("${bus[@]}" publish "${nats[@]}" --stream SMOKE --subject smoke.check --id smoke-1 \
          --json "smoke $(date +%s)" 2>&1)"
sequence="$(sed -n 's/.*"sequence": \([0-9]*\).*/\1/p' <<<"${first}")"
again="$("${bus[@]}" publish "${nats[@]}" --subject smoke.check --id smoke-1 --json again 2>&1)"
if [[ -n "${sequence}" && "${again}" == *'"duplicate": true'* &&
      "${again}" == *"\"sequence\": ${sequence}"* ]]; then
  pass "JetStream: published as sequence ${sequence}, its retry stored once"
else
  fail "JetStream publish: ${first} / ${again}"
fi
read_back="$("${bus[@]}" read "${nats[@]}" --stream SMOKE --from "${sequence:-1}" --count 1 2>&1)"
if [[ "${read_back}" == "${sequence} smoke.check smoke-1 "*"smoke "* ]]; then
  pass "JetStream: read back: ${read_back}"
else
  fail "JetStream read back: ${read_back}"
fi
market() { "${bus[@]}" info "${nats[@]}" MARKET 2>&1 | sed -n 's/.*sequences [0-9]*\.\.\([0-9]*\)$/\1/p'; }
market_before="$(market)"
sleep 2
market_after="$(market)"
if [[ -n "${market_before}" && -n "${market_after}" ]] && ((market_after > market_before)); then
  pass "MARKET stream grows: sequence ${market_before} -> ${market_after} in 2 s"
else
  fail "MARKET stream does not grow: '${market_before}' -> '${market_after}'"
fi

# The features and prediction roles write to Redis, which they reach by its service name.
keys="$(podman exec "$(container redis)" redis-cli -h 127.0.0.1 dbsize 2>&1)"
if [[ "${keys}" =~ ^[0-9]+$ ]] && ((keys > 0)); then
  pass "Redis holds ${keys} keys of the features and prediction roles"
else
  fail "Redis: dbsize '${keys}'"
fi

# The paper session places an order: the owner's log on PostgreSQL holds one (event type 5, an
# order submitted), and its decision record reads back.
orders=0
order_seconds=""
deadline=$((SECONDS + 180))
while ((SECONDS < deadline)); do
  orders="$(podman exec -e PGPASSWORD="${password}" "$(container postgres)" \
    /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -U aits -d aits -tAc \
    "SELECT count(*) FROM events WHERE session = '${session}' AND type = 5" 2>/dev/null)"
  if [[ "${orders}" =~ ^[0-9]+$ ]] && ((orders > 0)); then order_seconds=$(elapsed); break; fi
  sleep 2
done
if [[ -n "${order_seconds}" ]]; then
  # When the first order was logged (its wall time, ns), from the start of `up`.
  first_wall="$(podman exec -e PGPASSWORD="${password}" "$(container postgres)" \
    /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -U aits -d aits -tAc \
    "SELECT min(wall) FROM events WHERE session = '${session}' AND type = 5" 2>/dev/null)"
  if [[ "${first_wall}" =~ ^[0-9]+$ ]]; then
    order_seconds="$(awk -v w="${first_wall}" -v s="${started}" 'BEGIN { printf "%.1f", w / 1e9 - s }')"
  fi
  pass "paper session: ${orders} order(s) in the event log, the first logged ${order_seconds} s after the start"
  for owner in owner owner-standby; do
    explained="$(podman exec "$(container "${owner}")" /usr/local/bin/aits explain 1 \
      --events "postgresql://aits@postgres:5432/aits#${session}" 2>&1)" && break
  done
  if [[ "${explained}" == "order 1: "* ]]; then pass "aits explain 1: ${explained%%$'\n'*}"; else
    fail "aits explain 1: ${explained}"; fi
else
  fail "paper session: no order in the event log within 180 s (orders: '${orders}')"
  logs owner
  logs decision
fi

# A backup of the live MARKET stream, taken inside a container and checked whole there.
backup="$("${bus[@]}" backup "${nats[@]}" --stream MARKET --out /tmp/market.jsbak --no-progress 2>&1)"
inspected="$("${bus[@]}" inspect /tmp/market.jsbak 2>&1)"
if [[ "${backup}" == "backed up stream MARKET"* && "${inspected}" == *"stream MARKET"* ]]; then
  pass "aits bus backup of the live MARKET stream: ${backup}"
else
  fail "aits bus backup: ${backup} / ${inspected}"
fi

checks_seconds=$(elapsed)
teardown
trap - EXIT
rm -rf "${work}"
total_seconds=$(elapsed)
echo "smoke: up ${up_seconds} s, healthy ${healthy_seconds} s, first order ${order_seconds:-none} s," \
     "checks done ${checks_seconds} s, torn down ${total_seconds} s"
if ((failures > 0)); then
  echo "smoke: ${failures} check(s) failed"
  exit 1
fi
echo "smoke: all passed"
