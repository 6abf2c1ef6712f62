#!/usr/bin/env bash
# The alerting rules (deploy/prometheus/rules.yml) through Prometheus' own tools: `promtool check
# rules` and the unit tests of rules_test.yml (`promtool test rules`). Then broken copies (two
# thresholds moved, an alert's `for` dropped) must fail those tests: they can fail.
# Usage: alert_rules_test.sh DEPLOY_PROMETHEUS_DIR
set -euo pipefail
src="$1"
command -v promtool >/dev/null || { echo "FAIL: promtool not found (scripts/install-deps.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

promtool check rules "$src/rules.yml"
(cd "$src" && promtool test rules rules_test.yml)

cp "$src/rules_test.yml" "$work/"
# must_fail WHAT: the unit tests fail on the broken copy in $work (WHAT names the break).
must_fail() {
  if (cd "$work" && promtool test rules rules_test.yml >/dev/null 2>&1); then
    echo "FAIL: the rules' tests passed with $1" >&2
    exit 1
  fi
}
# moved SED WHAT: a copy with one threshold moved by the sed expression must fail the tests.
moved() {
  sed "$1" "$src/rules.yml" >"$work/rules.yml"
  cmp -s "$src/rules.yml" "$work/rules.yml" && { echo "FAIL: $2 to break was not found" >&2; exit 1; }
  must_fail "$2 moved"
}
moved 's/> 0.8 \* aits_risk_limit_max_drawdown_ratio/> 0.9 * aits_risk_limit_max_drawdown_ratio/' \
  "the drawdown threshold"
# AitsBusConsumerLag's threshold at the stuck reader's lag: it must no longer fire.
moved 's/aits_bus_consumer_pending_messages > 1000/aits_bus_consumer_pending_messages > 1500/' \
  "the consumer lag threshold"
# AitsRoleDown without its `for: 1m`: it would fire on one failed scrape.
awk '/alert: AitsRoleDown/ { skip = 1 } skip && /for: 1m/ { skip = 0; next } { print }' \
  "$src/rules.yml" >"$work/rules.yml"
must_fail "AitsRoleDown's for dropped"
echo "ok: $(grep -c -- '- alert:' "$src/rules.yml") alerts checked and unit-tested; broken copies fail"
