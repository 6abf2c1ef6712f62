#!/usr/bin/env bash
# End-to-end test of traces (docs/monitoring.md, "Traces"): the roles of `aits serve` as five
# processes over a real nats-server — ingestion, features, prediction, decision and the
# account's owner (risk, execution) — each writing its spans to a trace file of its own; and as
# four, the owner deciding itself (decision,risk,execution). The
# trace of one order is rebuilt from the five files, from the tick's MARKET message to the fill:
# one trace id across the processes, every span's parent present, the stages in their order,
# each in the process that runs it. The session ends as it does untraced (tracing changes
# nothing it does); a malformed --otlp-endpoint and --trace-sample without a destination are
# refused; sampling at 0 writes no span.
# Usage: trace_e2e_test.sh AITS_BINARY PYTHON
set -uo pipefail
aits="$1"; python="$2"
work=$(mktemp -d)
nats_pid=""
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  [[ -n "$nats_pid" ]] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
  [[ -n "${KEEP:-}" ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_nats "$work" || { finish trace_e2e_test; exit 1; }

session=(--synthetic EURUSD --ticks 20000 --start 2024-01-08 --seed 3 --params fast=3,slow=8)

# The same session embedded and untraced: what the traced one must end as.
"$aits" paper "${session[@]}" --speed max --state "$work/embedded" --quiet --json \
  >"$work/embedded.json" || fail "aits paper"

# LAYOUT ROLE... -- OWNER_ROLES STAGES SERVICES: the roles each its own process on market
# LAYOUT, every one tracing every trace it starts (--trace-sample 1) into its file, then one
# order's trace rebuilt from the files: STAGES its span names from the root, SERVICES the
# processes that wrote them.
traced_run() {
  local layout="$1"; shift
  local dir="$work/$layout" roles=()
  while [[ "$1" != -- ]]; do roles+=("$1"); shift; done
  local owner_roles="$2" stages="$3" services="$4"
  mkdir -p "$dir"
  local names=() pids_here=()
  for role in "${roles[@]}"; do
    local pace=()
    [[ $role == ingestion ]] && pace=(--speed max)
    names+=("$role")
    "$aits" serve --role "$role" --bus "$bus" --market "$layout" "${session[@]}" --json \
      --health off --trace-file "$dir/$role.trace.jsonl" --trace-sample 1 "${pace[@]}" \
      >"$dir/$role.json" 2>"$dir/$role.err" &
    pids_here+=($!)
    pids+=($!)
  done
  "$aits" serve --role "$owner_roles" --bus "$bus" --market "$layout" "${session[@]}" --json \
    --health off --state "$dir/owner" --trace-file "$dir/owner.trace.jsonl" --trace-sample 1 \
    >"$dir/owner.json" 2>"$dir/owner.err"
  expect_code "$layout: owner ($owner_roles)" "$?" "0" "$dir/owner.err"
  for idx in "${!pids_here[@]}"; do
    wait "${pids_here[$idx]}"
    expect_code "$layout: ${names[$idx]} role" "$?" "0" "$dir/${names[$idx]}.err"
  done
  pids=()

  # The orders a decision made (aits explain finds their decision); the venue's own (stop-loss,
  # take-profit) come from a tick, not from a traced decision, and have no span of their own.
  local decided=()
  for ((id = 1; id <= $(json "$dir/owner.json" 'd["orders"]'); id++)); do
    "$aits" explain "$id" --state "$dir/owner" >/dev/null 2>&1 && decided+=("$id")
  done

  local verdict
  verdict=$("$python" - "$dir" "$dir/owner.json" "$work/embedded.json" "${decided[*]}" \
    "${names[*]} owner" "$stages" "$services" <<'PY'
import json, sys, os
work, owner_json, embedded_json = sys.argv[1:4]
decided = {int(i) for i in sys.argv[4].split()}
files, expected, expected_services = (a.split() for a in sys.argv[5:8])
problems = []
owner, embedded = json.load(open(owner_json)), json.load(open(embedded_json))
for key in ("ticks", "orders", "fills", "decisions", "balance", "equity"):
    if owner.get(key) != embedded.get(key):
        problems.append(f"traced session's {key} {owner.get(key)} vs untraced {embedded.get(key)}")

# Every span of every file, with the process (service.name) that wrote it.
spans = {}
by_file = {}
for name in files:
    by_file[name] = 0
    for line in open(os.path.join(work, name + ".trace.jsonl")):
        request = json.loads(line)
        for resource in request["resourceSpans"]:
            attrs = {a["key"]: a["value"]["stringValue"] for a in resource["resource"]["attributes"]}
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    for field in ("traceId", "spanId", "name", "kind", "startTimeUnixNano",
                                  "endTimeUnixNano"):
                        if field not in span:
                            problems.append(f"{name}: a span without {field}")
                    if not isinstance(span["startTimeUnixNano"], str):
                        problems.append(f"{name}: startTimeUnixNano not a string")
                    span["service"] = attrs["service.name"]
                    spans[(span["traceId"], span["spanId"])] = span
                    by_file[name] += 1
for name, count in by_file.items():
    if count == 0:
        problems.append(f"{name} wrote no span")

fills = [s for s in spans.values() if s["name"] == "fill"]
if not fills:
    problems.append("no fill span")
else:
    # One order's trace, from its first fill back to the root.
    chain = []
    span = fills[0]
    while span is not None:
        chain.append(span)
        parent = span.get("parentSpanId")
        if parent is None:
            break
        found = spans.get((span["traceId"], parent))
        if found is None:
            problems.append(f"the parent {parent} of {span['name']} ({span['service']}) is in no file")
        span = found
    chain.reverse()
    names = [s["name"] for s in chain]
    services = [s["service"] for s in chain]
    if names != expected:
        problems.append(f"stages {names}, expected {expected}")
    if services != expected_services:
        problems.append(f"processes {services}")
    if len({s["traceId"] for s in chain}) != 1:
        problems.append("more than one trace id along the chain")
    starts = [int(s["startTimeUnixNano"]) for s in chain]
    if starts != sorted(starts):
        problems.append(f"the stages did not start in order: {starts}")
    bar_opens = {a["value"]["stringValue"] for s in chain for a in s.get("attributes", [])
                 if a["key"] == "aits.bar_open"}
    if len(bar_opens) != 1:
        problems.append(f"the stages are about more than one bar: {sorted(bar_opens)}")
    # Every fill's trace is whole: no span anywhere names a parent that no file holds.
    orphans = [s["name"] for s in spans.values()
               if "parentSpanId" in s and (s["traceId"], s["parentSpanId"]) not in spans]
    if orphans:
        problems.append(f"{len(orphans)} spans whose parent no file holds: {sorted(set(orphans))}")
    def order_ids(name):
        return sorted(int(a["value"]["intValue"]) for s in spans.values() if s["name"] == name
                      for a in s["attributes"] if a["key"] == "aits.order_id")
    if order_ids("order") != sorted(decided) or not decided:
        problems.append(f"order spans of orders {order_ids('order')}, decisions made {sorted(decided)}")
    if not set(order_ids("fill")) <= decided:
        problems.append("a fill span of an order no decision made")
    # The decision role apart: the owner's question (ACCOUNTS) came under the owner's span of
    # the tick that closed the bar, which the decision span names.
    if "owner.decision" in expected:
        asked = [a["value"]["stringValue"] for s in spans.values() if s["name"] == "decision"
                 for a in s.get("attributes", []) if a["key"] == "aits.account_traceparent"]
        named = [spans.get((t.split("-")[1], t.split("-")[2])) for t in asked if t]
        if not asked or len(named) != len(asked) or \
                any(n is None or n["name"] != "tick" for n in named):
            problems.append(f"decisions whose ACCOUNTS question names no owner's tick span: "
                            f"{sum(1 for n in named if n is None)} of {len(asked)}")
print("; ".join(problems) if problems else "ok " + " ".join(names))
PY
)
  [[ "$verdict" == ok* ]] && pass "$layout: one order's trace rebuilt across processes: ${verdict#ok }" ||
    fail "$layout: trace: $verdict"
}

# Five processes: the decision role apart, answering the owner's questions.
traced_run five ingestion features prediction decision -- risk,execution \
  "md.publish features prediction decision owner.decision order fill" \
  "aits-ingestion aits-features aits-prediction aits-decision aits-risk,execution aits-risk,execution aits-risk,execution"
# Four: the owner decides on the predictions it reads (its span "decision").
traced_run four ingestion features prediction -- decision,risk,execution \
  "md.publish features prediction decision order fill" \
  "aits-ingestion aits-features aits-prediction aits-decision,risk,execution aits-decision,risk,execution aits-decision,risk,execution"

# One process, `aits paper`: the kernel decides, under a root span per deciding tick, and each
# order and fill hangs under its decision. The session ends as the untraced one does.
"$aits" paper "${session[@]}" --speed max --state "$work/single" --quiet --json \
  --trace-file "$work/single.trace.jsonl" --trace-sample 1 >"$work/single.json" \
  2>"$work/single.err"
expect_code "aits paper traced" "$?" "0" "$work/single.err"
decided=()
for ((id = 1; id <= $(json "$work/single.json" 'd["orders"]'); id++)); do
  "$aits" explain "$id" --state "$work/single" >/dev/null 2>&1 && decided+=("$id")
done
verdict=$("$python" - "$work/single.trace.jsonl" "$work/single.json" "$work/embedded.json" \
  "${decided[*]}" <<'PY'
import json, sys
trace_file, single_json, embedded_json = sys.argv[1:4]
decided = sorted(int(i) for i in sys.argv[4].split())
problems = []
single, embedded = json.load(open(single_json)), json.load(open(embedded_json))
for key in ("ticks", "orders", "fills", "decisions", "balance", "equity"):
    if single.get(key) != embedded.get(key):
        problems.append(f"traced session's {key} {single.get(key)} vs untraced {embedded.get(key)}")
spans = {}
for line in open(trace_file):
    for resource in json.loads(line)["resourceSpans"]:
        service = {a["key"]: a["value"]["stringValue"]
                   for a in resource["resource"]["attributes"]}["service.name"]
        if service != "aits-paper":
            problems.append(f"service.name {service}")
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                spans[span["spanId"]] = span
def attr(span, key):
    return next((list(a["value"].values())[0] for a in span.get("attributes", [])
                 if a["key"] == key), None)
by_name = {}
for span in spans.values():
    by_name.setdefault(span["name"], []).append(span)
decisions = by_name.get("decision", [])
if sum(int(attr(s, "aits.decisions")) for s in decisions) != single["decisions"]:
    problems.append(f"decision spans count {sum(int(attr(s, 'aits.decisions')) for s in decisions)} "
                    f"decisions, the session made {single['decisions']}")
if any("parentSpanId" in s for s in decisions):
    problems.append("a decision span with a parent (no message came before it)")
orders = by_name.get("order", [])
if sorted(int(attr(s, "aits.order_id")) for s in orders) != decided or not decided:
    problems.append(f"order spans {sorted(int(attr(s, 'aits.order_id')) for s in orders)}, "
                    f"decided {decided}")
for s in orders:
    parent = spans.get(s.get("parentSpanId"))
    if parent is None or parent["name"] != "decision" or parent["traceId"] != s["traceId"]:
        problems.append(f"order {attr(s, 'aits.order_id')} not under a decision")
fills = by_name.get("fill", [])
for s in fills:
    parent = spans.get(s.get("parentSpanId"))
    if parent is None or parent["name"] != "order" or \
            attr(parent, "aits.order_id") != attr(s, "aits.order_id"):
        problems.append(f"a fill of order {attr(s, 'aits.order_id')} not under its order")
if not fills:
    problems.append("no fill span")
print("; ".join(problems) if problems else
      f"ok {len(decisions)} decision, {len(orders)} order and {len(fills)} fill spans")
PY
)
[[ "$verdict" == ok* ]] && pass "aits paper: decision -> order -> fill: ${verdict#ok }" ||
  fail "aits paper: trace: $verdict"
run "$aits" paper --trace-sample 0.5 --ticks 10 --state "$work/x"
expect_in "aits paper --trace-sample alone" "$out" "give --trace-file or --otlp-endpoint"

# Sampling at 0: the ingestion starts traces that nobody keeps, the features role follows.
"$aits" serve --role ingestion --bus "$bus" --market unsampled "${session[@]}" --speed max \
  --health off --quiet --trace-file "$work/none-ingestion.jsonl" --trace-sample 0 \
  >/dev/null 2>"$work/none-ingestion.err"
expect_code "unsampled ingestion" "$?" "0" "$work/none-ingestion.err"
"$aits" serve --role features --bus "$bus" --market unsampled "${session[@]}" --health off \
  --quiet --trace-file "$work/none-features.jsonl" --trace-sample 1 \
  >/dev/null 2>"$work/none-features.err"
expect_code "features under unsampled traces" "$?" "0" "$work/none-features.err"
expect_eq "no span kept at --trace-sample 0, also downstream" \
  "$(cat "$work/none-ingestion.jsonl" "$work/none-features.jsonl" | wc -c)" "0"

run "$aits" serve --role features --bus "$bus" --otlp-endpoint 127.0.0.1:4318 --health off
expect_code "an endpoint without http://" "$code" "2"
expect_in "an endpoint without http://" "$out" "not an http:// or https:// URL"
run "$aits" serve --role features --bus "$bus" --trace-sample 0.5 --health off
expect_in "--trace-sample alone" "$out" "give --trace-file or --otlp-endpoint"
run "$aits" serve --role features --bus "$bus" --trace-file "$work/x.jsonl" --trace-sample 2 \
  --health off
expect_in "a ratio above 1" "$out" "not between 0 and 1"

finish trace_e2e_test
