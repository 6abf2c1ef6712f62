#!/usr/bin/env bash
# The alerting rules (deploy/prometheus/rules.yml) through Prometheus' own tools: `promtool check
# rules` and the unit tests of rules_test.yml (`promtool test rules`). Then two broken copies
# (a threshold moved, an alert's `for` dropped) must fail those tests: they can fail.
# Usage: alert_rules_test.sh DEPLOY_PROMETHEUS_DIR
set -euo pipefail
src="$1"
command -v promtool >/dev/null || { echo "FAIL: promtool not found (scripts/install-deps.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

promtool check rules "$src/rules.yml"
(cd "$src" && promtool test rules rules_test.yml)

cp "$src/rules_test.yml" "$work/"
sed 's/> 0.8 \* aits_risk_limit_max_drawdown_ratio/> 0.9 * aits_risk_limit_max_drawdown_ratio/' \
  "$src/rules.yml" >"$work/rules.yml"
cmp -s "$src/rules.yml" "$work/rules.yml" && { echo "FAIL: the threshold to break was not found" >&2; exit 1; }
if (cd "$work" && promtool test rules rules_test.yml >/dev/null 2>&1); then
  echo "FAIL: the rules' tests passed with the drawdown threshold moved" >&2
  exit 1
fi
# AitsRoleDown without its `for: 1m`: it would fire on one failed scrape.
awk '/alert: AitsRoleDown/ { skip = 1 } skip && /for: 1m/ { skip = 0; next } { print }' \
  "$src/rules.yml" >"$work/rules.yml"
if (cd "$work" && promtool test rules rules_test.yml >/dev/null 2>&1); then
  echo "FAIL: the rules' tests passed with AitsRoleDown's for dropped" >&2
  exit 1
fi
echo "ok: $(grep -c -- '- alert:' "$src/rules.yml") alerts checked and unit-tested; broken copies fail"
