#!/usr/bin/env bash
# Installs the Debian 12 packages AITS needs, and only those missing, then the npm packages of
# deploy/check.sh (deploy/package-lock.json into deploy/node_modules) and of the web dashboard
# (web/package-lock.json into web/node_modules) when they are not there yet. Safe to run again.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --sample also the R packages that ship the real sample data
#   scripts/install-deps.sh --image  also what deploy/build-image.sh and deploy/smoke.sh need
#                                    (mmdebstrap, podman, runc, podman-compose)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config git python3
          libgtest-dev libgmock-dev libbenchmark-dev
          libyaml-cpp-dev libcli11-dev nlohmann-json3-dev clang-format
          clang llvm  # the asan preset's compiler, and llvm-symbolizer for its reports
          libeigen3-dev libsqlite3-dev libxgboost-dev libtorch-dev
          libprotobuf-dev protobuf-compiler libspdlog-dev liblz4-dev zlib1g-dev
          nats-server libnats-dev  # the message bus over NATS JetStream; tests start nats-server
          postgresql-15 libpq-dev redis-server libhiredis-dev  # the services' stores; tests start them
          libboost1.81-dev libssl-dev libsodium-dev  # the api role: HTTP/WebSocket, TLS, tokens
          wrk curl  # bench/api_load.sh: the API under load
          libcurl4-openssl-dev  # the Telegram Bot API client (notify/telegram.h)
          prometheus prometheus-alertmanager  # promtool; both servers for tests/e2e/alerts_e2e_test.sh
          yamllint docker-compose shellcheck  # deploy/check.sh (docs/deployment.md)
          gdb  # the stacks of a hung test (src/aits/testing/hang_watch.h)
          chromium)  # the dashboard's browser test (tests/e2e/dashboard_test.mjs, playwright-core)
# deploy/check.sh also needs kubectl and node with npm. Where they are installed already (a
# kubectl from Kubernetes' or Google's packages, a newer Node.js), those are used; Debian's own
# packages otherwise: kubernetes-client (kubectl 1.20, whose built-in kustomize renders deploy/k8s
# as v5 does), nodejs and npm.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
case "${1:-}" in
  --sample) packages+=(r-base-core r-cran-timeseries) ;;
  # deploy/build-image.sh and deploy/smoke.sh: the root filesystems, podman with runc (Debian's
  # crun refuses hosts whose cgroups are v1 beside an empty v2 hierarchy), its network stack
  # (netavark, aardvark-dns so that the containers find each other by service name, iptables)
  # and podman-compose. (deploy/backup-postgres.sh's pg_dump 15 comes with postgresql-15 above.)
  --image) packages+=(mmdebstrap podman runc netavark aardvark-dns iptables podman-compose) ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The versions package-lock.json pins, as the user running this (not root through sudo). npm
# writes node_modules/.package-lock.json on every install: newer than the lock file means the
# install is of this lock file.
npm_ci() {  # DIR WHAT
  if [[ ! $1/node_modules/.package-lock.json -nt $1/package-lock.json ]]; then
    echo "install-deps: npm ci in $1/ ($2)"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "install-deps: $1/node_modules matches $1/package-lock.json"
  fi
}
npm_ci deploy "kubernetes-models, yaml"
# The dashboard's build (typescript, esbuild, lightweight-charts) and its browser test
# (playwright-core, which drives Debian's chromium: it downloads no browser of its own).
npm_ci web "typescript, esbuild, lightweight-charts, playwright-core"
