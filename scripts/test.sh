#!/usr/bin/env bash
# Installs what is missing, builds and runs every test: the release build (the default suite,
# then the slow training tests of label "slow"), then the default suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer, the threaded tests (label "tsan") under
# ThreadSanitizer, and the format check.
#   scripts/test.sh           everything (what CI runs)
#   scripts/test.sh --fast    release build only
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -d ../shared/data ]]; then
  echo "test: ../shared/data is missing: the tests read the project's real market data there" >&2
  echo "      (CI has ../shared beside the checkout; see README)." >&2
  exit 1
fi

# Each step's wall time is printed after it (CI keeps the whole run under 45 minutes: these say
# where the time goes).
step() {
  local started=$SECONDS
  "$@"
  echo "test: '$*' took $((SECONDS - started)) s (total $SECONDS s)"
}

step scripts/install-deps.sh
step scripts/format.sh --check

step scripts/build.sh release
step ctest --preset release
# The training tests (whole pipelines, LibTorch epochs) run once, in the release build; the
# sanitizer presets do not even build them (AITS_BUILD_SLOW_TESTS=OFF).
step ctest --preset slow

if [[ "${1:-}" != "--fast" ]]; then
  # The sanitizer suite leaves out the tests labelled paced (tests/CMakeLists.txt).
  step scripts/build.sh asan
  step ctest --preset asan
  # Only the tsan-labelled test targets are built (the build preset's target list).
  step scripts/build.sh tsan
  step ctest --preset tsan
fi
echo "test: all green"
