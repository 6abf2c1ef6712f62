#!/usr/bin/env bash
# The hang watchdog (hang_watch.h) on a test that hangs on purpose: the binary ends with 124
# within seconds, naming the test, with the stack of the thread that waits.
# Usage: hang_watch_test.sh PROBE_BINARY
set -uo pipefail
out=$(timeout 60 "$1" 2>&1); code=$?
fail() { echo "FAIL: $*" >&2; echo "$out" >&2; exit 1; }
[[ $code -eq 124 ]] || fail "exit code $code, not 124"
grep -q "HANG: HangWatchProbe.Hangs has run for" <<<"$out" || fail "the hung test is not named"
grep -q "WaitsForAServerThatNeverAnswers" <<<"$out" || fail "no stack shows the waiting function"
echo "ok: the hang was reported with its stack"
