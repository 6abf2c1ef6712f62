#!/usr/bin/env bash
# Formats the C++ tree with .clang-format, or with --check fails if any file would change.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cc' '*.h' | grep -v '^build/')
if [[ "${1:-}" == "--check" ]]; then
  clang-format --dry-run -Werror "${files[@]}"
  echo "format: ${#files[@]} files obey .clang-format"
else
  clang-format -i "${files[@]}"
fi
