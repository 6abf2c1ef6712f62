#!/usr/bin/env bash
# deploy/check.sh must fail on broken deployment files: a check that cannot fail is worthless.
# Copies deploy/ to a scratch directory; the unchanged copy must pass (else the failures below
# would prove nothing); then each group of breakages, on a fresh copy, must make the check exit 1
# and name every one of them. Breakages that would hide others (a kustomization that does not
# render, a compose file that does not load) go in groups of their own. Last, a missing tool is a
# skip (77) outside CI and a failure in it.
#   deploy/check_test.sh    exits 0 when every breakage was caught, 77 when tools are missing
# The breakages are literal text: $(...) and ${...} in single quotes are meant unexpanded.
# shellcheck disable=SC2016
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
python="$(command -v python3)"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# A fresh copy of the deployment files (the tools — node_modules, lint-manifests.js — are used
# from deploy/ itself by check.sh).
fresh_copy() {
  rm -rf "${work}/deploy"
  mkdir -p "${work}/deploy"
  (cd "${here}" && tar --exclude=./node_modules --exclude=./.env -cf - .) | tar -C "${work}/deploy" -xf -
}

# mutate FILE OLD NEW: replaces the first OLD (literal text, newlines allowed) in FILE by NEW; a
# breakage that changes nothing would test nothing, so OLD must be there.
mutate() {
  "${python}" - "${work}/deploy/$1" "$2" "$3" <<'PY' || fail "mutation of $1 did not apply: $2"
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit(1)
open(path, "w").write(text.replace(old, new, 1))
PY
}

# expect_caught GROUP FRAGMENT...: the check on the copy exits 1 and prints every fragment.
expect_caught() {
  local group="$1" output status=0 fragment
  shift
  output="$("${here}/check.sh" "${work}/deploy" 2>&1)" || status=$?
  if ((status != 1)); then
    fail "${group}: check exit ${status}, expected 1"
    echo "${output}"
    return
  fi
  for fragment in "$@"; do
    if grep -qF -- "${fragment}" <<<"${output}"; then
      pass "${group}: caught: ${fragment}"
    else
      fail "${group}: the check did not say: ${fragment}"
      echo "${output}"
    fi
  done
}

# The unchanged files pass.
fresh_copy
status=0
output="$("${here}/check.sh" "${work}/deploy" 2>&1)" || status=$?
if ((status == 77)); then
  echo "${output}"
  exit 77
fi
if ((status != 0)); then
  echo "${output}"
  fail "the unchanged deployment files do not pass (exit ${status})"
  exit 1
fi
pass "the unchanged deployment files pass"

# 1. Kubernetes objects that render, break in ways the schema and the lint must see.
fresh_copy
mutate k8s/postgres.yaml $'  selector:\n    app.kubernetes.io/name: postgresql' \
                         $'  selector:\n    app.kubernetes.io/name: postgresq'
mutate k8s/kustomization.yaml $'  - name: nats-config\n    files:\n      - nats.conf\n' ''
mutate k8s/owner.yaml 'key: POSTGRES_PASSWORD' 'key: POSTGRES_PASSWROD'
mutate k8s/ingestion.yaml '          livenessProbe:' '          livenesProbe:'
mutate k8s/ingestion.yaml 'readOnlyRootFilesystem: true' 'readOnlyRootFilesystem: false'
mutate k8s/nats.yaml '  replicas: 3' '  replicas: "three"'
mutate k8s/features.yaml $'            limits:\n              cpu: "1"\n' $'            limits:\n'
mutate k8s/features.yaml '- $(AITS_SPEED)' '- "60"'
mutate k8s/prediction.yaml '$(AITS_PARAMS)' '$(AITS_PARAM)'
mutate k8s/prediction.yaml $'    name: aits-prediction\n  minReplicas' $'    name: aits-predictions\n  minReplicas'
mutate k8s/owner.yaml $'  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: aits\n      app.kubernetes.io/component: owner' \
                      $'  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: aits\n      app.kubernetes.io/component: owners'
mutate k8s/redis.yaml $'            tcpSocket:\n              port: redis' $'            tcpSocket:\n              port: 6380'
mutate k8s/nats.yaml '  serviceName: nats-headless' '  serviceName: nats'
# PostgreSQL opened to every role at both ends (either end alone still blocks the connection,
# and the lint, which follows both, rightly lets that pass).
mutate k8s/network-policies.yaml $'      app.kubernetes.io/component: owner\n  policyTypes: ["Egress"]' \
                                 $'  policyTypes: ["Egress"]'
mutate k8s/network-policies.yaml $'              app.kubernetes.io/component: owner\n      ports:\n        - protocol: TCP\n          port: 5432' \
                                 $'      ports:\n        - protocol: TCP\n          port: 5432'
mutate k8s/network-policies.yaml '          port: 4222' '          port: 4223'
# The decision role's exception from Redis misspelt at both ends: it reaches the caches.
mutate k8s/network-policies.yaml 'values: ["decision"]' 'values: ["decisions"]'
mutate k8s/network-policies.yaml 'values: ["decision"]' 'values: ["decisions"]'
mutate k8s/postgres-secret.yaml 'PLACEHOLDER-replace-before-deploying' 'hunter2'
expect_caught "kubernetes" \
  'postgres.yaml:18: Service/postgres: spec.selector: selects no pod' \
  'ConfigMap "nats-config" does not exist' \
  'Secret "postgres-credentials" has no key "POSTGRES_PASSWROD"' \
  'unknown key "livenesProbe"' \
  'no livenessProbe' \
  'readOnlyRootFilesystem is not true' \
  'StatefulSet/nats: spec.replicas: schema: must be integer' \
  'no cpu limit' \
  'Deployment/aits-features: spec.template.spec.containers[0].args: the session flags differ' \
  '$(AITS_PARAM) names no variable of the container' \
  'Deployment/aits-predictions does not exist' \
  'PodDisruptionBudget/aits-owner: spec.selector: selects no pod' \
  'probes port 6380, which the container does not declare' \
  'Service "nats" is not headless' \
  'the NetworkPolicies allow aits/ingestion -> postgresql/database:5432' \
  'port 4223 is no port of the pods of StatefulSet/nats' \
  'the NetworkPolicies block aits/owner -> nats/bus:4222' \
  'the NetworkPolicies allow aits/decision -> redis/cache:6379' \
  'holds a value that is no PLACEHOLDER'

# 2. A kustomization that does not render.
fresh_copy
mutate k8s/kustomization.yaml '  - owner.yaml' '  - owners.yaml'
expect_caught "kustomize" 'FAIL: kubectl kustomize'

# 3. A compose file that loads, with a service and a password wrong.
fresh_copy
mutate compose.yaml $'    nproc:\n      soft: 1024\n      hard: 1024\n' ''
mutate compose.yaml \
  'POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it in deploy/.env, see .env.example}' \
  'POSTGRES_PASSWORD: hunter2'
mutate compose.yaml '"--role", "ingestion"]' '"--role", "ingestion", "--seed", "2"]'
flag_fragments=()
if [[ -n "${AITS_BIN:-}" ]]; then
  # A flag the build does not have (every role: their session is still one).
  mutate compose.yaml '    - --no-progress' '    - --no-progres'
  flag_fragments=('--no-progres is no flag of this build')
else
  echo "note: AITS_BIN not set: a flag unknown to the build is not tried"
fi
expect_caught "compose" \
  'nproc must be 1024' \
  'a password written into the file' \
  'service ingestion: command: the session flags differ' \
  "${flag_fragments[@]}"

# 4. A compose file that does not load; YAML, server configurations, the Containerfile and a
# script broken besides.
fresh_copy
mutate compose.yaml $'      prediction:\n        condition: service_started' \
                    $'      predictor:\n        condition: service_started'
mutate compose.yaml $'  nats:\n' $'  nats:   \n'
mutate k8s/nats.conf 'connect_retries: 120' 'connect_retry: 120'
mutate k8s/redis.conf 'maxmemory-policy volatile-lru' 'maxmemory-policy volatile-lru2'
mutate Containerfile $'USER 10001:10001\n# The owner' $'# The owner'
mutate image/aits-probe '[[ "${code}" == 200 ]]' '[ $code == 200 ]'
expect_caught "compose, servers, image, scripts" \
  'FAIL: docker-compose config -q' \
  'trailing spaces' \
  'unknown field "connect_retry"' \
  "'maxmemory-policy volatile-lru2'" \
  'target aits: USER is root (none)' \
  'FAIL: shellcheck'

# 5. A missing tool: skipped outside CI, a failure in it. PATH holds only what check.sh needs
# before it looks for its tools.
mkdir -p "${work}/bin"
for tool in bash env dirname sed mktemp rm; do ln -sf "$(command -v "${tool}")" "${work}/bin/${tool}"; done
status=0
env -u CI PATH="${work}/bin" "${work}/bin/bash" "${here}/check.sh" >/dev/null 2>&1 || status=$?
if ((status == 77)); then pass "tools missing outside CI: skipped (77)"; else fail "tools missing outside CI: exit ${status}, expected 77"; fi
status=0
env CI=true PATH="${work}/bin" "${work}/bin/bash" "${here}/check.sh" >/dev/null 2>&1 || status=$?
if ((status == 1)); then pass "tools missing in CI: failed (1)"; else fail "tools missing in CI: exit ${status}, expected 1"; fi

echo "check_test: ${failures} failure(s)"
((failures == 0))
