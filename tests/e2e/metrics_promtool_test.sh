#!/usr/bin/env bash
# Checks the text exposition of src/aits/core/metrics.h with Prometheus' own parser and linter:
# `promtool check metrics` (Debian package prometheus, installed by scripts/install-deps.sh) reads
# the sample registry printed by tests/tools/metrics_exposition.cc. A malformed exposition is fed
# first, to show that this promtool does reject what it cannot parse.
# Usage: metrics_promtool_test.sh METRICS_EXPOSITION_BINARY
set -euo pipefail
sample="$1"
if ! command -v promtool >/dev/null; then
  echo "FAIL: promtool not found; run scripts/install-deps.sh (Debian package prometheus)" >&2
  exit 1
fi

if printf 'aits_x{a="unterminated} 1\n' | promtool check metrics >/dev/null 2>&1; then
  echo "FAIL: promtool accepted a malformed exposition" >&2
  exit 1
fi

text=$("$sample")
# promtool prints nothing and exits 0 when the text parses and lints clean; otherwise it lists
# the problems (exit 1: unparsable, 3: lint problems).
if ! report=$(printf '%s\n' "$text" | promtool check metrics 2>&1) || [[ -n "$report" ]]; then
  echo "FAIL: promtool check metrics:" >&2
  echo "$report" >&2
  echo "--- exposition:" >&2
  echo "$text" >&2
  exit 1
fi
echo "ok: promtool check metrics accepts $(grep -c -v '^#' <<<"$text") samples"
