#!/usr/bin/env bash
# Validates AITS's deployment files offline, with the tools that will read them
# (docs/deployment.md, "Validation"), in this order:
#   the scripts        by shellcheck
#   every YAML file    by yamllint (.yamllint.yaml)
#   k8s/nats.conf      by nats-server -t, as the cluster's servers read it
#   k8s/redis.conf     by redis-server, started on a socket and asked for PONG and its settings
#   k8s/               by kubectl kustomize, client-side (a server-side dry run needs a cluster);
#                      then every rendered object by lint-manifests.js: its Kubernetes schema
#                      (npm kubernetes-models) and what the schema lets through (unknown keys,
#                      selectors, references, probes, limits, security, network policies, one
#                      session for every role)
#   compose.yaml       by docker-compose config -q with .env.example, then lint-manifests.js
#   Containerfile      by lint-manifests.js: the targets, their user, health check, entrypoint
# Prints what it checked; exits 1 on any problem, 77 when a tool is missing outside CI (ctest
# counts that as skipped; with CI=true a missing tool is a failure: scripts/install-deps.sh
# installs them all).
#   deploy/check.sh [DIR]   DIR: the deployment files to check (default: this script's folder);
#                           deploy/check_test.sh points it at broken copies.
# With AITS_BIN=PATH (an aits binary; ctest passes the build's), every flag the manifests and the
# compose file give the roles must be one `PATH serve --help` lists.
set -euo pipefail

# Debian installs nats-server in /usr/sbin, which a user's PATH may lack.
PATH="${PATH}:/usr/sbin"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(cd "${1:-${here}}" && pwd)"
repo="$(cd "${here}/.." && pwd)"

# The version the images are tagged with: CMakeLists.txt's project version.
version="$(sed -n 's/^project(aits VERSION \([0-9][0-9.]*\).*/\1/p' "${repo}/CMakeLists.txt")"
if [[ -z "${version}" ]]; then
  echo "check: ${repo}/CMakeLists.txt: no 'project(aits VERSION x.y.z'" >&2
  exit 1
fi

missing=()
for tool in shellcheck yamllint kubectl node docker-compose nats-server redis-server redis-cli; do
  command -v "${tool}" >/dev/null || missing+=("${tool}")
done
[[ -d "${here}/node_modules/kubernetes-models" && -d "${here}/node_modules/yaml" ]] ||
  missing+=("deploy/node_modules (npm ci in deploy/)")
if ((${#missing[@]} > 0)); then
  echo "check: missing: ${missing[*]}; scripts/install-deps.sh installs them" >&2
  if [[ "${CI:-}" == true ]]; then
    exit 1
  fi
  echo "check: SKIPPED (not CI)" >&2
  exit 77
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

failures=0
# step NAME CMD...: runs CMD, its output indented; counts a failure.
step() {
  local name="$1"
  shift
  local output status=0
  output="$("$@" 2>&1)" || status=$?
  if [[ -n "${output}" ]]; then
    echo "    ${output//$'\n'/$'\n'    }"
  fi
  if ((status == 0)); then
    echo "ok:   ${name}"
  else
    echo "FAIL: ${name} (exit ${status})"
    failures=$((failures + 1))
  fi
}

echo "check: ${dir} (images at ${version})"

serve_help=()
serve_flags() { "${AITS_BIN}" serve --help >"${work}/serve-help.txt"; }
if [[ -n "${AITS_BIN:-}" ]]; then
  step "${AITS_BIN} serve --help (the roles' flags)" serve_flags
  serve_help=("${work}/serve-help.txt")
else
  echo "note: AITS_BIN not set: the roles' flags are not checked against a build"
fi

mapfile -t scripts < <(find "${dir}" -path "${dir}/node_modules" -prune -o -type f \
  \( -name '*.sh' -o -path "${dir}/image/*" \) -print | sort)
step "shellcheck: ${#scripts[@]} scripts" shellcheck "${scripts[@]}"

step "yamllint --strict (${dir}/.yamllint.yaml)" \
  yamllint --strict -c "${dir}/.yamllint.yaml" "${dir}"

# The cluster's configuration names each server by its pod (POD_NAME, from the downward API).
step "nats-server -t: k8s/nats.conf" env POD_NAME=nats-0 nats-server -t -c "${dir}/k8s/nats.conf"

# redis-server has no "check the configuration" mode: start it on the file, listening on a socket
# only, and ask it. The file's `dir` (the volume, /data) is changed to a scratch directory first;
# every other line is read as it stands. A line Redis refuses stops it at once. (Run by step in a
# subshell: the server is stopped here, whatever happens.)
redis_check() {
  local redis_pid
  local conf="${work}/redis.conf" socket="${work}/redis.sock" i
  mkdir -p "${work}/redis"
  sed "s|^dir .*|dir ${work}/redis|" "${dir}/k8s/redis.conf" >"${conf}"
  redis-server "${conf}" --port 0 --unixsocket "${socket}" >"${work}/redis.log" 2>&1 &
  redis_pid=$!
  for ((i = 0; ; i++)); do
    if [[ "$(redis-cli -s "${socket}" ping 2>/dev/null)" == PONG ]]; then break; fi
    if ! kill -0 "${redis_pid}" 2>/dev/null || ((i == 50)); then
      kill "${redis_pid}" 2>/dev/null || true
      cat "${work}/redis.log"
      return 1
    fi
    sleep 0.1
  done
  redis-cli -s "${socket}" config get maxmemory-policy | paste -sd' '
  redis-cli -s "${socket}" config get appendonly | paste -sd' '
  redis-cli -s "${socket}" shutdown nosave >/dev/null 2>&1 || true
  wait "${redis_pid}" 2>/dev/null || true
}
step "redis-server runs k8s/redis.conf" redis_check

rendered="${work}/rendered.yaml"
render() { kubectl kustomize "${dir}/k8s" >"${rendered}"; }
kubectl_version="$(kubectl version --client 2>/dev/null | paste -sd' ' || true)"
step "kubectl kustomize k8s (${kubectl_version})" render
if [[ -s "${rendered}" ]]; then
  step "kubernetes-models schema and lint: $(grep -c '^kind:' "${rendered}") objects" \
    node "${here}/lint-manifests.js" k8s "${rendered}" "${dir}/k8s" "${version}" "${serve_help[@]}"
fi

compose=(docker-compose --env-file "${dir}/.env.example" -f "${dir}/compose.yaml")
step "docker-compose config -q (with .env.example)" "${compose[@]}" config -q
if "${compose[@]}" config >"${work}/compose.yaml" 2>/dev/null; then
  step "compose lint" node "${here}/lint-manifests.js" compose "${work}/compose.yaml" \
    "${dir}/compose.yaml" "${dir}/.env.example" "${version}" "${serve_help[@]}"
fi

step "Containerfile lint" node "${here}/lint-manifests.js" containerfile "${dir}/Containerfile"

if ((failures > 0)); then
  echo "check: ${failures} check(s) failed"
  exit 1
fi
echo "check: all passed"
