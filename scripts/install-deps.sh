#!/usr/bin/env bash
# Installs the Debian 12 packages AITS needs, and only those missing. Safe to run again.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --sample also the R packages that ship the real sample data
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config git python3
          libgtest-dev libgmock-dev libbenchmark-dev
          libyaml-cpp-dev libcli11-dev nlohmann-json3-dev clang-format
          clang llvm  # the asan preset's compiler, and llvm-symbolizer for its reports
          libeigen3-dev libsqlite3-dev libxgboost-dev libtorch-dev
          libprotobuf-dev protobuf-compiler libspdlog-dev liblz4-dev zlib1g-dev
          nats-server libnats-dev  # the message bus over NATS JetStream; tests start nats-server
          postgresql-15 libpq-dev redis-server libhiredis-dev  # the services' stores; tests start them
          prometheus)  # promtool, for tests/e2e/metrics_promtool_test.sh
if [[ "${1:-}" == "--sample" ]]; then
  packages+=(r-base-core r-cran-timeseries)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
