#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release) with two jobs; further arguments go
# to `cmake --build` (e.g. `--target aits` to build only the command-line tool).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" "$@"
