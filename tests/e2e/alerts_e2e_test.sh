#!/usr/bin/env bash
# An alert from a running session to the notifications role and on to Telegram, through
# Debian's Prometheus and Alertmanager on loopback (docs/monitoring.md): Prometheus scrapes
# `aits paper --health` and evaluates deploy/prometheus/rules.yml, Alertmanager posts to `aits
# serve --role notifications`, whose bot talks to a stand-in of Telegram's Bot API
# (tests/tools/telegram_stand_in_main.cc). `aits breaker halted` must arrive as AitsBreakerHalted
# firing, in the alerts file and in the Telegram chat; `/breaker normal` sent from Telegram by an
# admin must reach the session, and the alert's resolution come back the same way, each once. A
# viewer's /pause is refused; a malformed webhook is refused with the field named and counted,
# and changes nothing; every bot command is audited. The same alerts reach the api role too
# (`aits api serve`, GET /api/v1/alerts): Alertmanager logs in with OAuth2 client credentials
# (RFC 6749 §4.4, its own API key) at the API's token endpoint.
# Usage: alerts_e2e_test.sh AITS_BINARY RULES_YML TELEGRAM_STAND_IN
set -euo pipefail
aits="$1"
rules="$2"
stand_in="$3"
for tool in prometheus prometheus-alertmanager curl python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
dir=$(mktemp -d)
pids=()
cleanup() {
  exec 3>&- 2>/dev/null || true  # the stand-in ends when its input does
  # SIGTERM: background jobs of a script ignore SIGINT unless they handle it themselves.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -n "${KEEP_DIR:-}" ]] || rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for log in "$dir"/*.err; do echo "--- $log:" >&2; tail -20 "$log" >&2; done
  if [[ -n "${prom_port:-}" ]]; then
    echo "--- Prometheus' alerts and notifications:" >&2
    curl -s "http://127.0.0.1:${prom_port}/api/v1/alerts" >&2 || true
    curl -s "http://127.0.0.1:${prom_port}/api/v1/targets" >&2 || true
    curl -s "http://127.0.0.1:${prom_port}/metrics" | grep '^prometheus_notifications' >&2 || true
  fi
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The port an aits process printed on its stderr: PREFIX then 127.0.0.1:PORT.
printed_port() {  # FILE PREFIX
  for _ in $(seq 1 100); do
    port=$(sed -n "s/^${2}127\.0\.0\.1:\([0-9]*\).*/\1/p" "$1" | head -1)
    [[ -n "$port" ]] && { echo "$port"; return 0; }
    sleep 0.1
  done
  return 1
}


# Telegram's stand-in: commands in through a FIFO, the bot's messages out as JSON lines.
mkfifo "$dir/telegram.in"
"$stand_in" 42:token <"$dir/telegram.in" >"$dir/telegram.out" 2>"$dir/telegram.err" &
pids+=($!)
exec 3>"$dir/telegram.in"
for _ in $(seq 1 100); do grep -q '^url ' "$dir/telegram.out" && break; sleep 0.1; done
telegram_url=$(sed -n 's/^url //p' "$dir/telegram.out")
[[ -n "$telegram_url" ]] || fail "the Telegram stand-in did not start"
printf '42:token\n' >"$dir/telegram.token"
cat >"$dir/bot.yaml" <<YAML
users:
  - {id: 203, name: anna, role: admin}
  - {id: 201, name: vera, role: viewer}
alert_chats: [7001]
YAML
echo "text 203 7001 hello" >&3  # the chat exists once someone wrote in it

# The role starts before the session it answers about (as Kubernetes may start them).
"$aits" serve --role notifications --notify-listen 127.0.0.1:0 --alerts-file "$dir/alerts.jsonl" \
  --health 127.0.0.1:0 --state "$dir/s" --telegram-config "$dir/bot.yaml" \
  --telegram-token-file "$dir/telegram.token" --telegram-api "$telegram_url" \
  --telegram-audit "$dir/telegram-audit.jsonl" 2>"$dir/notify.err" >/dev/null &
pids+=($!)
notify_port=$(printed_port "$dir/notify.err" "aits serve: notifications: Alertmanager's webhook on http:\/\/") ||
  fail "the notifications role did not say where it listens"
notify_health=$(printed_port "$dir/notify.err" "aits serve: notifications: \/healthz, \/readyz and \/metrics on ") ||
  fail "the notifications role did not say where its /metrics is"

# A line the bot sent containing TEXT, within 60 s.
wait_for_telegram() {  # TEXT WHAT
  for _ in $(seq 1 600); do
    grep -qF -- "$1" "$dir/telegram.out" && return 0
    sleep 0.1
  done
  fail "no Telegram message with '$1' ($2): $(cat "$dir/telegram.out")"
}
echo "text 203 7001 /status" >&3
wait_for_telegram "No session to answer about yet" "/status before the session started"

"$aits" paper --speed 20 --state "$dir/s" --health 127.0.0.1:0 --no-progress 2>"$dir/paper.err" >/dev/null &
pids+=($!)
paper_port=$(printed_port "$dir/paper.err" "aits paper: \/healthz, \/readyz and \/metrics on ") ||
  fail "the paper session did not say where its /metrics is"


# The api role over the same session, with Alertmanager's API key: the notifier role, which may
# post alerts and nothing else.
auth=(--auth "$dir/auth.db" --master-key "$dir/master.key" --fast-hash)
"$aits" api init "${auth[@]}" >/dev/null 2>"$dir/api-init.err" || fail "aits api init failed"
for user in vera:viewer ada:admin; do
  AITS_PASSWORD="${user%%:*}-pw" "$aits" api user add "${user%%:*}" --role "${user##*:}" "${auth[@]}" \
    >/dev/null || fail "aits api user add ${user%%:*} failed"
done
key=$("$aits" api key create alertmanager --role notifier --json "${auth[@]}") || fail "aits api key create failed"
key_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$key")
python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$key" >"$dir/am-client-secret"
"$aits" api serve --state "$dir/s" --listen 127.0.0.1:0 --json "${auth[@]}" --no-web \
  >"$dir/api.out" 2>"$dir/api.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$dir/api.out" && break; sleep 0.1; done
api_url=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$dir/api.out") ||
  fail "the api role did not say where it listens"
viewer_token=$(curl -sf --data 'grant_type=password&username=vera&password=vera-pw' \
  "$api_url/api/v1/auth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
  fail "no token for the viewer"

am_port=$(free_port)
cat >"$dir/alertmanager.yml" <<YAML
route:
  receiver: aits
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: aits
    webhook_configs:
      - url: http://127.0.0.1:${notify_port}/alerts/alertmanager
        send_resolved: true
      - url: ${api_url}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          oauth2:
            client_id: ${key_id}
            client_secret_file: ${dir}/am-client-secret
            token_url: ${api_url}/api/v1/auth/token
YAML
prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/am" \
  --web.listen-address="127.0.0.1:${am_port}" --cluster.listen-address= 2>"$dir/alertmanager.err" &
pids+=($!)

prom_port=$(free_port)
cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["${rules}"]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:${am_port}"]
scrape_configs:
  - job_name: aits-paper
    static_configs:
      - targets: ["127.0.0.1:${paper_port}"]
YAML
# A firing alert is sent again each second rather than each minute: a send made before
# Prometheus has found its Alertmanager is dropped, and would otherwise wait a minute.
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prom" \
  --web.listen-address="127.0.0.1:${prom_port}" --rules.alert.resend-delay=1s \
  2>"$dir/prometheus.err" &
pids+=($!)

for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:${prom_port}/-/ready" >/dev/null && curl -sf "http://127.0.0.1:${am_port}/-/ready" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:${prom_port}/-/ready" >/dev/null || fail "Prometheus did not get ready"
# Alertmanager found: its discovery runs apart from readiness (every 5 s at most).
for _ in $(seq 1 300); do
  curl -s "http://127.0.0.1:${prom_port}/api/v1/alertmanagers" | grep -q "127.0.0.1:${am_port}" && break
  sleep 0.1
done
curl -s "http://127.0.0.1:${prom_port}/api/v1/alertmanagers" | grep -q "127.0.0.1:${am_port}" ||
  fail "Prometheus did not find its Alertmanager in 30 s"
# The session scraped: its target up.
for _ in $(seq 1 300); do
  curl -s "http://127.0.0.1:${prom_port}/api/v1/query?query=up" | grep -q '"value":\[[0-9.]*,"1"\]' && break
  sleep 0.1
done

# A malformed notification first: refused, named, counted, nothing written.
answer=$(curl -s -o - -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
  --data '{"version":"4","status":"firing","alerts":[{"status":"maybe","labels":{"alertname":"X"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z"}]}' \
  "http://127.0.0.1:${notify_port}/alerts/alertmanager")
[[ "$answer" == *' 400' && "$answer" == *'/alerts/0/status: \"maybe\" is neither firing nor resolved'* ]] ||
  fail "a malformed webhook got: $answer"
[[ ! -s "$dir/alerts.jsonl" ]] || fail "a malformed webhook wrote to the alerts file"
curl -s "http://127.0.0.1:${notify_health}/metrics" | grep -q '^aits_alert_webhooks_rejected_total 1$' ||
  fail "the refusal was not counted"

count() { grep -c "\"status\":\"$1\",\"alertname\":\"AitsBreakerHalted\"" "$dir/alerts.jsonl" 2>/dev/null || true; }
wait_for_alert() {  # STATUS
  for _ in $(seq 1 600); do
    [[ "$(count "$1")" -ge 1 ]] && return 0
    sleep 0.1
  done
  fail "no AitsBreakerHalted $1 reached the notifications role in 60 s"
}

# The api role's view of the alert: what fires, and the changes newest first.
api_alerts() { curl -sf -H "Authorization: Bearer $viewer_token" "$api_url/api/v1/alerts"; }
wait_for_api_alert() {  # PYTHON-CONDITION-ON-a WHAT
  for _ in $(seq 1 600); do
    api_alerts | python3 -c "import json,sys; a=json.load(sys.stdin); sys.exit(0 if ($1) else 1)" && return 0
    sleep 0.1
  done
  fail "the api role did not show $2 in 60 s: $(api_alerts)"
}

echo "text 203 7001 /status" >&3
wait_for_telegram '"text":"Session ' "the answer to /status"
echo "text 201 7001 /pause" >&3
wait_for_telegram "/pause needs the trader or admin role; you are viewer." "a viewer's /pause"

"$aits" breaker halted --reason e2e --state "$dir/s" >/dev/null 2>&1 || fail "aits breaker halted refused"
start=$(date +%s.%N)
wait_for_alert firing
firing_after=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
wait_for_telegram "FIRING AitsBreakerHalted (critical)" "the alert in the Telegram chat"
telegram_after=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
wait_for_api_alert "[x['alertname'] for x in a['firing']] == ['AitsBreakerHalted']" "AitsBreakerHalted firing"
api_after=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
# The admin lifts the halt from Telegram: the session applies it, the alert resolves.
echo "text 203 7001 /breaker normal e2e" >&3
wait_for_telegram "Breaker → normal queued" "the answer to /breaker normal"
wait_for_alert resolved
wait_for_telegram "RESOLVED AitsBreakerHalted" "the resolution in the Telegram chat"
wait_for_api_alert "not a['firing'] and a['recent'][0]['status'] == 'resolved'" "the resolution"
# Alertmanager sends a group again at each group_interval while it changes: still once each.
sleep 3
[[ "$(count firing)" == 1 && "$(count resolved)" == 1 ]] ||
  fail "expected one firing and one resolved line: $(cat "$dir/alerts.jsonl")"
grep -q '"summary":"Trading halted on 127.0.0.1:'"${paper_port}"'"' "$dir/alerts.jsonl" ||
  fail "the alert's summary is not in the file: $(cat "$dir/alerts.jsonl")"
audited=$(grep -c '"command"' "$dir/telegram-audit.jsonl" || true)
(( audited == 5 )) || fail "expected 5 audited bot commands (hello, /status twice, /pause, /breaker): $(cat "$dir/telegram-audit.jsonl")"
grep -q '"command":"/pause","result":"forbidden"' "$dir/telegram-audit.jsonl" ||
  fail "the viewer's /pause is not audited as forbidden"
# Alertmanager's posts to the api role: once each change, as the notifications role got them,
# under its API key, every one in the audit trail.
api_changes=$(api_alerts | python3 -c "import json,sys; print(len([x for x in json.load(sys.stdin)['recent'] if x['alertname'] == 'AitsBreakerHalted']))")
[[ "$api_changes" == 2 ]] || fail "expected two changes of AitsBreakerHalted on the api role: $(api_alerts)"
admin_token=$(curl -sf --data 'grant_type=password&username=ada&password=ada-pw' \
  "$api_url/api/v1/auth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
  fail "no token for the admin"
trail=$(curl -sf -H "Authorization: Bearer $admin_token" "$api_url/api/v1/audit?limit=1000")
python3 - "$trail" "$key_id" <<'PY' || fail "the audit trail of Alertmanager's posts: $trail"
import json, sys
items, key = json.loads(sys.argv[1])["items"], sys.argv[2]
tokens = [e for e in items if e["action"] == "POST /api/v1/auth/token" and e["target"] == "client:" + key]
posts = [e for e in items if e["action"] == "POST /api/v1/alerts/alertmanager"]
# Its token issued at the first attempt (credentials in the Basic header), every post taken.
assert tokens and all(e["status"] == 200 for e in tokens), tokens
assert len(posts) >= 2 and all(e["status"] == 200 and e["actor"] == key for e in posts), posts
PY
echo "ok: AitsBreakerHalted reached the notifications role ${firing_after} s, Telegram ${telegram_after} s and the api role ${api_after} s after the halt; /breaker normal from Telegram resolved it; a viewer refused; a malformed webhook refused"
