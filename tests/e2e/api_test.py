#!/usr/bin/env python3
"""End-to-end test of `aits api` (docs/api.md) against a running paper session.

Sets up an auth store (users of every role, an API key), runs `aits paper --speed 1` on the
sample data and `aits api serve` over its state directory, and checks over real HTTP:
- every endpoint of the OpenAPI document, for every role and without a token: 401, 403, or the
  role gets through (a command's role is shown with a refused body, so nothing changes);
- tampered, alg-none and foreign-key tokens are refused; API keys and refresh tokens work;
- the breaker halted from the API reaches the running session, and the request's chain id is in
  the API's audit trail and in the session's own log;
- an order placed with a chain id is followed by it through the API's access log, the session's
  log lines (the command, the order's updates, its fill), its event log and the audit trail;
- injection strings, malformed and oversized bodies are 4xx with a message, and change nothing;
- the rate limit (429, Retry-After), login lockout, TLS 1.3 only, and a clean stop on SIGINT.

- a backtest submitted as a job: its progress, its report (JSON and sandboxed HTML), and data
  files outside the data directory refused;
- paper sessions started through the API, listed beside the served one, run to their end or
  stopped cleanly, each with its summary;
- every answer from a documented route has a status the OpenAPI document lists, and every 2xx
  JSON body validates against its schema there; a walk GETs every documented GET path as an
  admin (with {id} taken from a real item) and validates each.

Usage: api_test.py AITS_BINARY DATA_DIR
"""
import base64
import json
import os
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

AITS = sys.argv[1]
DATA = sys.argv[2]
failures = 0


def check(what, ok, detail=""):
    global failures
    if ok:
        print(f"ok:   {what}")
    else:
        failures += 1
        print(f"FAIL: {what} {detail}")


# The served OpenAPI document once read: every answer of a documented route is then checked
# against it (conform).
DOC = None
conformed = 0


def resolve(ref):
    node = DOC
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def mismatch(schema, value, pointer=""):
    """The first place `value` does not match the OpenAPI 3.0 `schema`: (JSON pointer, what was
    expected), or None. The subset the document uses: $ref, allOf, oneOf, type (integer is not
    number), nullable, enum, properties, required, additionalProperties, items."""
    if "$ref" in schema:
        return mismatch(resolve(schema["$ref"]), value, pointer)
    if value is None:
        return None if schema.get("nullable") else (pointer or "/", "not null")
    for part in schema.get("allOf", []):
        found = mismatch(part, value, pointer)
        if found:
            return found
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if mismatch(s, value, pointer) is None]
        if len(matching) != 1:
            return (pointer or "/", f"exactly one of {json.dumps(schema['oneOf'])}")
    kind = schema.get("type")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {None: True, "object": isinstance(value, dict), "array": isinstance(value, list),
          "string": isinstance(value, str), "boolean": isinstance(value, bool),
          "integer": is_number and isinstance(value, int), "number": is_number}[kind]
    if not ok:
        return (pointer or "/", f"type {kind}, not {json.dumps(value)[:80]}")
    if "enum" in schema and value not in schema["enum"]:
        return (pointer or "/", f"one of {schema['enum']}, not {json.dumps(value)[:80]}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                return (f"{pointer}/{name}", "a required field")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            at = f"{pointer}/{name.replace('~', '~0').replace('/', '~1')}"
            if name in properties:
                found = mismatch(properties[name], item, at)
            elif extra is False:
                found = (at, "no such field")
            else:
                found = mismatch(extra, item, at) if isinstance(extra, dict) else None
            if found:
                return found
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found = mismatch(schema["items"], item, f"{pointer}/{i}")
            if found:
                return found
    return None


def operation(method, path):
    """(template, operation) of the documented route `method path` answers, or (None, None)."""
    parts = urllib.parse.urlsplit(path).path.split("/")
    for template, methods in DOC["paths"].items():
        pattern = template.split("/")
        if len(pattern) == len(parts) and method.lower() in methods and all(
                p == q or (p.startswith("{") and q) for p, q in zip(pattern, parts)):
            return template, methods[method.lower()]
    return None, None


def conform(method, path, status, headers, body):
    """Checks an answer against the document: a status it lists and, for a success, the content
    type and the schema it gives."""
    global conformed
    template, op = operation(method, path)
    if op is None:
        return
    conformed += 1
    what = f"{method} {path} ({template}) answers {status}"
    responses = op["responses"]
    if str(status) not in responses:
        check(f"{what}: a status the document lists", False, f"(it lists {sorted(responses)})")
        return
    if not 200 <= status < 300:
        return
    content = responses[str(status)].get("content", {})
    kind = headers.get("Content-Type", "").split(";")[0].strip()
    if kind not in content:
        check(f"{what}: the documented content type", False, f"({kind}, not {list(content)})")
        return
    schema = content[kind].get("schema")
    found = mismatch(schema, body) if schema is not None else None
    if found:
        check(f"{what}: its body matches the document", False,
              f"at {found[0]}: expected {found[1]}")


def request(base, method, path, token=None, body=None, headers=None, context=None, form=False):
    """(status, headers, parsed JSON or text) of one request, checked against the document when
    the route is in it."""
    data = None
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if body is not None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        elif form:
            data = urllib.parse.urlencode(body).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            status, h, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, h, raw = e.code, dict(e.headers), e.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode(errors="replace")
    if DOC is not None:
        conform(method, path, status, h, parsed)
    return status, h, parsed


class WebSocket:
    """A minimal RFC 6455 client (text frames, masked as a client must): enough for the test."""

    def __init__(self, base, path):
        import socket
        host, port = base.split("//")[1].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self.pending = head.partition(b"\r\n\r\n")
        self.lines = []
        self.status = int(head.split(b" ")[1]) if head else 0

    def _read(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        else:
            header += bytes([0x80 | 126]) + len(data).to_bytes(2, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        """(opcode, payload) of the next frame."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self._read(2), "big")
        elif n == 127:
            n = int.from_bytes(self._read(8), "big")
        return b0 & 0x0F, self._read(n)

    def recv_json(self):
        """The next message: a frame carries one or more, one per line."""
        while not self.lines:
            opcode, payload = self.recv()
            if opcode == 8:
                raise ConnectionError(f"closed: {payload[2:].decode(errors='replace')}")
            self.lines = payload.decode().split("\n")
        return json.loads(self.lines.pop(0))

    def close(self):
        self.sock.close()


def aits(*args, env=None, check_rc=True):
    r = subprocess.run([AITS, *args], capture_output=True, text=True, env=env, timeout=60)
    if check_rc and r.returncode != 0:
        raise RuntimeError(f"aits {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r


def log_flags(path):
    """aits's flags for JSON log lines at info into `path`."""
    return ["--log-level", "info", "--log-file", path, "--log-json"]


def log_lines(path, chain):
    """The JSON log lines of `path` that carry chain id `chain`."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return [line for line in lines if line.get("chain_id") == chain]


def start_api(work, state, auth_flags, *extra, log=None):
    """`aits api serve` on a free port; (process, base URL)."""
    proc = subprocess.Popen([AITS, *(log_flags(log) if log else []), "api", "serve", "--state",
                             state, "--listen", "127.0.0.1:0", "--json", *auth_flags, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("aits api serve did not start: " + proc.stderr.read())
    return proc, json.loads(line)["listening"]


def stop(proc, what):
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "killed"
    check(f"{what} stops on SIGINT with exit 0", rc == 0, f"(exit {rc})")


def main():
    work = tempfile.mkdtemp(prefix="aits_api_e2e_")
    procs = []
    try:
        run(work, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"api_test: {conformed} answers checked against the OpenAPI document; "
          f"{failures} failure(s)")
    return 1 if failures else 0


def login(base, user, password, **kw):
    return request(base, "POST", "/api/v1/auth/token",
                   body={"grant_type": "password", "username": user, "password": password},
                   form=True, **kw)


def run(work, procs):
    auth = ["--auth", f"{work}/auth.db", "--master-key", f"{work}/master.key", "--fast-hash"]
    aits("api", "init", *auth)
    check("the master key file is private",
          oct(os.stat(f"{work}/master.key").st_mode & 0o777) == "0o600")
    for user, role in (("vera", "viewer"), ("tom", "trader"), ("ada", "admin")):
        aits("api", "user", "add", user, "--role", role, *auth,
             env={**os.environ, "AITS_PASSWORD": f"{user}-secret"})
    key = json.loads(aits("api", "key", "create", "grid bot", "--role", "trader", "--json",
                          *auth).stdout)
    listed = aits("api", "key", "list", *auth).stdout
    check("key list shows the key but never its secret",
          key["id"] in listed and key["secret"] not in listed)
    bad = aits("api", "user", "add", "x", "--role", "root", *auth, check_rc=False,
               env={**os.environ, "AITS_PASSWORD": "p"})
    check("a bad role is exit 2 naming it", bad.returncode == 2 and "root" in bad.stderr,
          bad.stderr)

    state = f"{work}/s"
    # Second bars and short averages: decisions within seconds, so that the decision routes'
    # answers are checked against their schemas too.
    paper = subprocess.Popen([AITS, *log_flags(f"{work}/paper.log"), "paper", "--speed", "1",
                              "--bar", "S1", "--params", "fast=2,slow=5", "--state", state,
                              "--session-id", "e2e", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.append(paper)
    for _ in range(300):
        if os.path.exists(f"{state}/events.db"):
            break
        time.sleep(0.1)
    api, base = start_api(work, state, auth, "--jobs", f"{work}/jobs", "--data-dir", DATA,
                          "--sessions", f"{work}/sessions", log=f"{work}/api.log")
    procs.append(api)

    status, headers, body = request(base, "GET", "/api/v1/health")
    check("health answers without a token", status == 200 and body == {"status": "ok"})
    check("a request id comes back", len(headers.get("X-Request-ID", "")) >= 8)
    status, _, doc = request(base, "GET", "/api/v1/openapi.json")
    check("the OpenAPI document", status == 200 and doc.get("openapi", "").startswith("3."))
    global DOC
    DOC = doc

    tokens = {}
    for user in ("vera", "tom", "ada"):
        status, headers, body = login(base, user, f"{user}-secret")
        check(f"{user} logs in", status == 200 and "access_token" in body, body)
        check(f"{user}'s token answer is not cached", headers.get("Cache-Control") == "no-store")
        tokens[user] = body["access_token"]
        if user == "tom":
            tom_refresh = body["refresh_token"]
    role_of = {"vera": "viewer", "tom": "trader", "ada": "admin"}
    rank = {"viewer": 1, "trader": 2, "admin": 3}

    # Wait for the session to have ticks and an order, so that {id} routes have something.
    for _ in range(200):
        _, _, acct = request(base, "GET", "/api/v1/session", tokens["vera"])
        if isinstance(acct, dict) and acct.get("events", 0) > 50:
            break
        time.sleep(0.1)
    check("the API reads the running session", acct.get("state") == "running", acct)

    # The permission matrix, endpoint by endpoint, from the OpenAPI document.
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            # A DELETE names an order that is not there: nothing is cancelled by the matrix.
            concrete = path.replace("{id}", "999999999" if method == "delete" else "1")
            needed = op.get("x-aits-role")
            if needed is None:
                continue
            body = "{" if method == "post" else None  # a refused body: nothing changes
            status, headers, answer = request(base, method.upper(), concrete, body=body)
            check(f"{method.upper()} {path} without a token: 401",
                  status == 401 and answer["error"]["code"] == "unauthenticated"
                  and "WWW-Authenticate" in headers, f"({status})")
            for user, token in tokens.items():
                status, _, answer = request(base, method.upper(), concrete, token, body=body)
                allowed = rank[role_of[user]] >= rank[needed]
                if allowed:
                    ok = status != 401 and status != 403
                else:
                    ok = status == 403 and answer["error"]["code"] == "forbidden"
                check(f"{method.upper()} {path} as {role_of[user]}: "
                      f"{'through' if allowed else '403'}", ok, f"({status} {answer})")

    # Tokens that must not work.
    t = tokens["ada"]
    head, payload, sig = t.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "mallory"}).encode()) \
        .decode().rstrip("=")
    none_head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    for what, bad_token in (("tampered", f"{head}.{forged}.{sig}"),
                            ("alg none", f"{none_head}.{payload}."),
                            ("garbage", "not.a.token"),
                            ("a refresh token", tom_refresh)):
        status, _, answer = request(base, "GET", "/api/v1/me", bad_token)
        check(f"a {what} token is refused (401)", status == 401, f"({status} {answer})")
    # A token from another installation's keys.
    other = [f"--auth", f"{work}/other.db", "--master-key", f"{work}/other.key", "--fast-hash"]
    aits("api", "init", *other)
    aits("api", "user", "add", "ada", "--role", "admin", *other,
         env={**os.environ, "AITS_PASSWORD": "x"})
    api2, base2 = start_api(work, state, other)
    procs.append(api2)
    foreign = login(base2, "ada", "x")[2]["access_token"]
    stop(api2, "the second API")
    status, _, answer = request(base, "GET", "/api/v1/me", foreign)
    check("a token signed by another key ring is refused",
          status == 401 and "unknown key id" in answer["error"]["message"], answer)

    # The same server as the api role of `aits serve`: its own process, /readyz once it listens,
    # the session and the tokens of `aits api serve`.
    role = subprocess.Popen([AITS, "serve", "--role", "api", "--state", state, "--api-listen",
                             "127.0.0.1:0", "--health", "127.0.0.1:0", "--json", *auth],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(role)
    health_line = role.stderr.readline()  # "aits serve: api: /healthz, ... on HOST:PORT"
    listening = role.stdout.readline()
    check("the api role starts", bool(listening) and "/healthz" in health_line,
          health_line + listening)
    if listening:
        role_base = json.loads(listening)["listening"]
        health = "http://" + health_line.strip().rsplit(" ", 1)[-1]
        status, _, _ = request(health, "GET", "/readyz")
        check("the api role is ready once it listens", status == 200, f"({status})")
        status, _, same = request(role_base, "GET", "/api/v1/session", tokens["vera"])
        _, _, direct = request(base, "GET", "/api/v1/session", tokens["vera"])
        check("the api role serves the session, with the same tokens",
              status == 200 and same.get("id") == direct.get("id"), f"({status} {same})")
        stop(role, "the api role")
    refused = aits("serve", "--role", "api,risk,execution", "--state", state, *auth,
                   check_rc=False)
    check("the api role beside another role is refused, naming why",
          refused.returncode != 0 and "process of its own" in refused.stderr, refused.stderr)

    status, _, me = request(base, "GET", "/api/v1/me", headers={"X-API-Key": key["secret"]})
    check("an API key authenticates", status == 200 and me["subject"] == key["id"], me)
    status, _, cc = request(base, "POST", "/api/v1/auth/token", form=True,
                            body={"grant_type": "client_credentials", "client_id": key["id"],
                                  "client_secret": key["secret"]})
    check("client credentials give an access token and no refresh token",
          status == 200 and "refresh_token" not in cc, cc)
    status, _, refreshed = request(base, "POST", "/api/v1/auth/token", form=True,
                                   body={"grant_type": "refresh_token",
                                         "refresh_token": tom_refresh})
    check("a refresh token gives new tokens", status == 200 and "refresh_token" in refreshed)

    # Started without --registry: the model routes say which flag is missing.
    status, _, answer = request(base, "GET", "/api/v1/models", tokens["vera"])
    check("the models without a registry: 503 naming --registry",
          status == 503 and "--registry" in answer["error"]["message"], f"({status} {answer})")

    # Bad input to the commands: 4xx with a message, and nothing queued.
    _, _, risk_before = request(base, "GET", "/api/v1/risk", tokens["tom"])
    pending_before = pending_commands(state)
    payloads = [
        "{", "[]", "null", '"halted"', "{}" * 1000,
        {"state": "halted"},
        {"state": "halted", "reason": ""},
        {"state": "'; DROP TABLE events; --", "reason": "x"},
        {"state": "halted", "reason": "x" * 501},
        {"state": "halted", "reason": "x", "extra": 1},
        {"state": {"$ne": 1}, "reason": "x"},
        {"state": "halted\u0000", "reason": "x"},
        {"state": "<script>alert(1)</script>", "reason": "x"},
    ]
    for p in payloads:
        status, _, answer = request(base, "POST", "/api/v1/risk/breaker", tokens["tom"], body=p)
        shown = (p if isinstance(p, str) else json.dumps(p))[:40]
        check(f"breaker body {shown!r}: 400 with a message",
              status == 400 and answer["error"]["message"], f"({status} {answer})")
    status, _, answer = request(base, "POST", "/api/v1/risk/breaker", tokens["tom"],
                                body=json.dumps({"state": "halted", "reason": "x" * 2_000_000}))
    check("an oversized body: 413", status == 413, f"({status})")
    for p in ({"reason": 5}, {"reason": "ok", "state": "halted"}):
        status, _, _ = request(base, "POST", "/api/v1/session/pause", tokens["tom"], body=p)
        check(f"pause body {json.dumps(p)}: 400", status == 400, f"({status})")
    for target in ("/api/v1/orders/abc", "/api/v1/orders/1%20OR%201=1",
                   "/api/v1/orders?limit=0", "/api/v1/orders?from=yesterday",
                   "/api/v1/trades?limit=%zz", "/api/v1/market/bars"):
        status, _, answer = request(base, "GET", target, tokens["vera"])
        check(f"GET {target}: 400", status == 400 and answer["error"]["message"], (status, answer))
    check("bad input queued no command", pending_commands(state) == pending_before)
    _, _, risk_after = request(base, "GET", "/api/v1/risk", tokens["tom"])
    check("bad input left the breaker as it was", risk_after["breaker"] == risk_before["breaker"])

    # The breaker halted from the API reaches the running session, with its chain id.
    chain = "e2e-chain-42"
    status, headers, answer = request(base, "POST", "/api/v1/risk/breaker", tokens["tom"],
                                      body={"state": "halted", "reason": "api e2e"},
                                      headers={"X-Chain-ID": chain, "X-Request-ID": "e2e-req-1"})
    check("the trader halts the breaker: 202", status == 202, (status, answer))
    check("the chain id comes back", headers.get("X-Chain-ID") == chain)
    halted = None
    for _ in range(100):
        _, _, risk = request(base, "GET", "/api/v1/risk", tokens["vera"])
        if risk.get("breaker") == "halted":
            halted = risk
            break
        time.sleep(0.1)
    check("the running session applied the halt", halted is not None, risk)
    if halted:
        applied = halted["commands"][-1] if halted["commands"] else {}
        check("the applied command carries who asked and the chain id",
              applied.get("by") == "tom" and applied.get("chain_id") == chain, applied)
    logged = [row for row in session_rows(state, 9) if chain in row]
    check("the chain id is in the session's own log (a command event)", len(logged) == 1, logged)
    _, _, trail = request(base, "GET", "/api/v1/audit?limit=200", tokens["ada"])
    mine = [e for e in trail["items"] if e["chain_id"] == chain]
    check("the chain id is in the audit trail, with who, role, what and result",
          len(mine) == 1 and mine[0]["actor"] == "tom" and mine[0]["role"] == "trader"
          and mine[0]["status"] == 202 and mine[0]["request_id"] == "e2e-req-1", mine)
    refused = [e for e in trail["items"] if e["status"] == 403 and e["actor"] == "vera"]
    check("refused commands are audited too", len(refused) > 0)
    status, _, order = request(base, "GET", "/api/v1/orders?limit=1", tokens["vera"])
    check("orders list answers", status == 200 and "items" in order)

    # The streams: quotes of the running session, and the breaker's resume as it is applied.
    ws = WebSocket(base, "/api/v1/stream?access_token=" + tokens["vera"])
    check("a WebSocket upgrade with a token is accepted (101)", ws.status == 101, ws.status)
    ws.send(json.dumps({"op": "subscribe", "topics": ["quotes", "risk"]}))
    ack = ws.recv_json()
    check("the stream acknowledges the subscription", ack.get("type") == "subscribed", ack)
    quotes = []
    deadline = time.time() + 15
    while len(quotes) < 3 and time.time() < deadline:
        m = ws.recv_json()
        if m.get("topic") == "quotes":
            quotes.append(m)
    check("live quotes arrive, in seq order",
          len(quotes) == 3 and quotes[0]["seq"] < quotes[1]["seq"] < quotes[2]["seq"]
          and quotes[0]["data"]["bid"] > 0, quotes)
    request(base, "POST", "/api/v1/risk/breaker", tokens["tom"],
            body={"state": "normal", "reason": "stream e2e"})
    change = None
    deadline = time.time() + 15
    while change is None and time.time() < deadline:
        m = ws.recv_json()
        if m.get("topic") == "risk" and "breaker_change" in m.get("data", {}):
            change = m["data"]["breaker_change"]
    check("the breaker's change reaches the stream", change is not None and
          change.get("to") == "normal", change)
    ws.send("not json")
    answer = ws.recv_json()
    while "topic" in answer:
        answer = ws.recv_json()
    check("a bad stream message is answered with an error, the stream stays",
          answer.get("type") == "error", answer)
    ws.close()
    refused = WebSocket(base, "/api/v1/stream")
    check("a WebSocket upgrade without a token is refused (401)", refused.status == 401,
          refused.status)
    refused.close()

    # Alerts: Alertmanager's webhook (here posted as it posts) onto the stream's alerts topic.
    ws = WebSocket(base, "/api/v1/stream?access_token=" + tokens["vera"])
    ws.send(json.dumps({"op": "subscribe", "topics": ["alerts"], "symbols": ["NOPE"]}))
    ack = ws.recv_json()
    check("the stream takes the alerts topic", ack.get("topics") == ["alerts"], ack)
    alert = {"status": "firing", "labels": {"alertname": "AitsFeedStale", "severity": "warning"},
             "annotations": {"summary": "no tick for 30 s"}, "startsAt": "2026-12-07T09:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "e2e0001"}
    webhook = {"version": "4", "status": "firing", "receiver": "aits-api", "groupKey": "{}",
               "alerts": [alert]}
    # Alertmanager's own key, of the notifier role, through OAuth2 client credentials.
    notifier = json.loads(aits("api", "key", "create", "alertmanager", "--role", "notifier",
                               "--json", *auth).stdout)
    status, _, granted = request(base, "POST", "/api/v1/auth/token",
                                 body={"grant_type": "client_credentials",
                                       "client_id": notifier["id"],
                                       "client_secret": notifier["secret"]}, form=True)
    check("a notifier's key gets a token", status == 200, (status, granted))
    alerter = granted.get("access_token", "")
    status, _, refused = request(base, "POST", "/api/v1/alerts/alertmanager", tokens["tom"],
                                 body=webhook)
    check("a trader may not post alerts (403)", status == 403, (status, refused))
    for method, path in (("GET", "/api/v1/account"), ("GET", "/api/v1/alerts"),
                         ("POST", "/api/v1/risk/breaker")):
        status, _, refused = request(base, method, path, alerter,
                                     body={"state": "halted", "reason": "x"}
                                     if method == "POST" else None)
        check(f"the notifier may not {method} {path} (403)", status == 403, (status, refused))
    status, _, posted = request(base, "POST", "/api/v1/alerts/alertmanager", alerter,
                                body=webhook)
    check("the notifier posts Alertmanager's webhook", status == 200
          and posted == {"alerts": 1, "delivered": 1, "repeated": 0}, (status, posted))
    got = ws.recv_json()
    check("the alert reaches the stream, past a symbol filter, with its change's id",
          got.get("topic") == "alerts" and got.get("id") == "e2e0001/firing/2026-12-07T09:00:00Z"
          and got["data"]["alertname"] == "AitsFeedStale", got)
    status, _, again = request(base, "POST", "/api/v1/alerts/alertmanager", alerter,
                               body=webhook)
    check("Alertmanager's repeat is counted, not published again",
          again == {"alerts": 1, "delivered": 0, "repeated": 1}, again)
    bad = dict(webhook, alerts=[dict(alert, startsAt=17)])
    status, _, refused = request(base, "POST", "/api/v1/alerts/alertmanager", alerter,
                                 body=bad)
    check("a malformed webhook: 400 naming the field",
          status == 400 and "/alerts/0/startsAt" in refused["error"]["message"], refused)
    status, _, shown = request(base, "GET", "/api/v1/alerts", tokens["vera"])
    check("GET /alerts lists what fires, with the seq to follow it from",
          status == 200 and len(shown["firing"]) == 1 and shown["seq"] >= got["seq"]
          and shown["firing"][0]["summary"] == "no tick for 30 s", shown)
    refused = WebSocket(base, "/api/v1/stream?access_token=" + alerter)
    check("the notifier may not open the stream (401)", refused.status == 401, refused.status)
    refused.close()
    ws.send(json.dumps({"op": "ping"}))
    pong = ws.recv_json()
    check("nothing more reached the stream (the repeat, the malformed one)",
          pong.get("type") == "pong", pong)
    ws.close()

    # An order placed through the API takes the strategy's path through the risk checks.
    order_chain = "e2e-order-chain-7"
    status, _, placed = request(base, "POST", "/api/v1/orders", tokens["tom"],
                                body={"symbol": acct["symbols"][0], "side": "buy", "lots": 0.1,
                                      "reason": "api e2e"},
                                headers={"X-Chain-ID": order_chain, "X-Request-ID": "e2e-req-7"})
    check("the trader places a market order: 202", status == 202, (status, placed))
    client_id = placed.get("queued", {}).get("client_order_id", "")
    mine = None
    for _ in range(100):
        _, _, orders = request(base, "GET", "/api/v1/orders?limit=50", tokens["vera"])
        mine = next((o for o in orders["items"] if o["client_order_id"] == client_id), None)
        if mine and mine["status"] in ("filled", "rejected"):
            break
        time.sleep(0.1)
    check("the session took the API's order, with its client id and tag",
          mine is not None and mine["tag"] == "manual" and mine["lots"] == 0.1
          and mine["status"] in ("filled", "rejected"), mine)
    # The order's chain id, through every log it went through.
    api_lines = log_lines(f"{work}/api.log", order_chain)
    check("the API's access log has the order's request with its ids",
          any(l["message"] == "POST /api/v1/orders" and l["status"] == "202"
              and l["request_id"] == "e2e-req-7" and l["actor"] == "tom" for l in api_lines),
          api_lines)
    session_lines = []
    for _ in range(50):  # the session writes its lines as it applies; the fill may trail
        session_lines = log_lines(f"{work}/paper.log", order_chain)
        if any(l["message"].startswith("fill ") or l["message"].endswith(" rejected")
               for l in session_lines):
            break
        time.sleep(0.1)
    messages = [l["message"] for l in session_lines]
    check("the session's log has the command with the order's chain id and client id",
          any(l["message"] == "operator command applied" and l["client_order_id"] == client_id
              and l["request_id"] == "e2e-req-7" and l["by"] == "tom" for l in session_lines),
          messages)
    if mine and mine["status"] == "filled":
        check("the session's log has the order's fill with its chain id",
              any(l["message"] == "fill of an operator's order"
                  and l["client_order_id"] == client_id for l in session_lines)
              and "operator's order filled" in messages, messages)
    else:
        check("the session's log has the order's rejection with its chain id",
              "operator's order rejected" in messages, messages)
    check("every session line of the chain names the order",
          all(l.get("client_order_id") == client_id for l in session_lines), session_lines)
    check("the order's command event carries the chain id",
          len([row for row in session_rows(state, 9) if order_chain in row]) == 1)
    _, _, trail = request(base, "GET", "/api/v1/audit?limit=200", tokens["ada"])
    check("the audit trail has the order with its chain id",
          any(e["chain_id"] == order_chain and e["status"] == 202 for e in trail["items"]))
    for bad in ({"symbol": "NOPE", "side": "buy", "lots": 1, "reason": "x"},
                {"symbol": acct["symbols"][0], "side": "up", "lots": 1, "reason": "x"},
                {"symbol": acct["symbols"][0], "side": "buy", "lots": -1, "reason": "x"},
                {"symbol": acct["symbols"][0], "side": "buy", "type": "limit", "lots": 1,
                 "reason": "x"},
                {"symbol": acct["symbols"][0], "side": "buy", "lots": 1}):
        status, _, answer = request(base, "POST", "/api/v1/orders", tokens["tom"], body=bad)
        check(f"order {json.dumps(bad)[:50]}: 400", status == 400, (status, answer))
    status, _, answer = request(base, "DELETE", f"/api/v1/orders/{mine['id'] if mine else 1}",
                                tokens["tom"])
    check("cancelling an order that is not working: 409", status == 409, (status, answer))

    # A resting limit order modified: cancelled and replaced, the replacement through the checks.
    def order_by(client_id):
        _, _, page = request(base, "GET", "/api/v1/orders?limit=100", tokens["vera"])
        return next((o for o in page.get("items", []) if o["client_order_id"] == client_id), None)

    def wait_order(client_id, statuses):
        found = None
        for _ in range(100):
            found = order_by(client_id)
            if found and found["status"] in statuses:
                break
            time.sleep(0.1)
        return found

    # The breaker, halted above, back to normal: a halted session refuses new orders.
    request(base, "POST", "/api/v1/session/resume", tokens["tom"], body={"reason": "modify"})
    for _ in range(100):
        _, _, risk = request(base, "GET", "/api/v1/risk", tokens["vera"])
        if risk.get("breaker") == "normal":
            break
        time.sleep(0.1)
    _, _, quotes = request(base, "GET", "/api/v1/market/quotes", tokens["vera"])
    bid = next(iter(quotes.get("items", [])), {}).get("bid", 1.1) if isinstance(quotes, dict) \
        else 1.1
    limit_price = round(bid * 0.995, 4)
    status, _, placed = request(base, "POST", "/api/v1/orders", tokens["tom"],
                                body={"symbol": acct["symbols"][0], "side": "buy",
                                      "type": "limit", "lots": 0.1, "price": limit_price,
                                      "reason": "to modify"})
    resting = wait_order(placed.get("queued", {}).get("client_order_id", ""), ("accepted",))
    check("a limit order rests", resting is not None and resting["status"] == "accepted",
          (status, placed, resting))
    if resting:
        new_price = round(limit_price * 0.999, 4)
        status, _, modified = request(base, "PATCH", f"/api/v1/orders/{resting['id']}",
                                      tokens["tom"],
                                      body={"price": new_price, "lots": 0.2, "reason": "lower"})
        check("the trader modifies it: 202", status == 202, (status, modified))
        replacement = wait_order(modified.get("queued", {}).get("client_order_id", ""),
                                 ("accepted", "rejected"))
        old = order_by(resting["client_order_id"])
        check("it is cancelled and replaced at the new price and size",
              old is not None and old["status"] == "canceled" and replacement is not None
              and replacement["status"] == "accepted" and replacement["price"] == new_price
              and replacement["lots"] == 0.2, (old, replacement))
        status, _, answer = request(base, "PATCH", f"/api/v1/orders/{resting['id']}",
                                    tokens["tom"], body={"price": new_price, "reason": "again"})
        check("modifying the cancelled one: 409", status == 409, (status, answer))
        status, _, answer = request(base, "PATCH", f"/api/v1/orders/{resting['id']}",
                                    tokens["tom"], body={"reason": "nothing"})
        check("a modify that changes nothing: 400", status == 400, (status, answer))
        if replacement:
            request(base, "DELETE", f"/api/v1/orders/{replacement['id']}", tokens["tom"])

    # A backtest as a job: submitted, followed, its report fetched.
    status, _, job = request(base, "POST", "/api/v1/backtests", tokens["tom"],
                             body={"data": "eurusd-ticks-2020-01-01.csv", "symbol": "EURUSD",
                                   "strategy": "sma_cross", "params": {"fast": 5, "slow": 20},
                                   "reason": "api e2e"})
    check("a backtest is queued: 202", status == 202 and job.get("state") in ("queued", "running"),
          (status, job))
    job_id = job.get("id", 0)
    for _ in range(600):
        _, _, job = request(base, "GET", f"/api/v1/backtests/{job_id}", tokens["vera"])
        if job.get("state") not in ("queued", "running"):
            break
        time.sleep(0.1)
    check("the backtest runs to its end, with its progress",
          job.get("state") == "done" and job.get("progress") == 1 and job.get("count", 0) > 9000
          and job.get("by") == "tom", job)
    status, _, metrics = request(base, "GET", f"/api/v1/backtests/{job_id}/report", tokens["vera"])
    check("its report is what aits backtest --json prints", status == 200
          and isinstance(metrics, dict) and "trades" in json.dumps(metrics)[:100000], (status,))
    status, headers, html = request(base, "GET", f"/api/v1/backtests/{job_id}/report.html",
                                    tokens["vera"])
    check("its HTML report is served sandboxed", status == 200
          and headers.get("Content-Type", "").startswith("text/html")
          and "sandbox" in headers.get("Content-Security-Policy", ""), (status, headers))
    _, _, listed = request(base, "GET", "/api/v1/backtests", tokens["vera"])
    check("the backtest is listed", [j["id"] for j in listed.get("items", [])] == [job_id], listed)
    for bad in ({"data": "../../etc/passwd"}, {"data": "/etc/passwd"},
                {"data": "eurusd-ticks-2020-01-01.csv", "symbol": "--out=/tmp"},
                {"data": "eurusd-ticks-2020-01-01.csv", "strategy": "x; rm -rf /"}):
        status, _, answer = request(base, "POST", "/api/v1/backtests", tokens["tom"], body=bad)
        check(f"backtest {json.dumps(bad)[:60]}: 400", status == 400, (status, answer))
    status, _, answer = request(base, "DELETE", f"/api/v1/backtests/{job_id}", tokens["tom"])
    check("cancelling a finished backtest: 409", status == 409, (status, answer))
    _, _, listed = request(base, "GET", "/api/v1/backtests", tokens["vera"])
    check("refused submissions start no job", len(listed.get("items", [])) == 1, listed)

    # Paper sessions started through the API: one runs to its end, one is stopped.
    status, _, short = request(base, "POST", "/api/v1/sessions", tokens["tom"],
                               body={"synthetic": ["EURUSD"], "ticks": 3000, "speed": "max",
                                     "start": "2024-01-08", "reason": "api e2e"})
    check("a paper session is started: 202", status == 202, (status, short))
    status, _, long = request(base, "POST", "/api/v1/sessions", tokens["tom"],
                              body={"synthetic": ["USDJPY"], "speed": 1})
    check("a second one is started: 202", status == 202, (status, long))
    for _ in range(600):
        _, _, short = request(base, "GET", f"/api/v1/sessions/{short.get('id', 0)}",
                              tokens["vera"])
        _, _, long = request(base, "GET", f"/api/v1/sessions/{long.get('id', 0)}", tokens["vera"])
        if short.get("state") not in ("queued", "running") and long.get("state") == "running":
            break
        time.sleep(0.1)
    check("the first runs to its end, with its summary",
          short.get("state") == "done" and short.get("summary", {}).get("ticks") == 3000, short)
    time.sleep(1)  # the second has started trading
    status, _, stopping = request(base, "POST", f"/api/v1/sessions/{long.get('id', 0)}/stop",
                                  tokens["tom"])
    check("a running session is asked to stop: 202", status == 202, (status, stopping))
    for _ in range(300):
        _, _, long = request(base, "GET", f"/api/v1/sessions/{long.get('id', 0)}", tokens["vera"])
        if long.get("state") != "running":
            break
        time.sleep(0.1)
    check("it stops cleanly, with its summary", long.get("state") == "stopped"
          and long.get("summary", {}).get("ticks", 0) > 0, long)
    status, _, listed = request(base, "GET", "/api/v1/sessions", tokens["vera"])
    check("the sessions: the served one and the two started", status == 200
          and listed.get("served", {}).get("id") == acct.get("id")
          and len(listed.get("items", [])) == 2, listed)
    for bad in ({"feed": "../../etc/passwd"}, {"synthetic": ["EURUSD"], "state": "/tmp/x"},
                {"speed": "warp"}):
        status, _, answer = request(base, "POST", "/api/v1/sessions", tokens["tom"], body=bad)
        check(f"session {json.dumps(bad)[:60]}: 400", status == 400, (status, answer))

    no_item = walk_documented_gets(base, tokens["ada"], acct["symbols"][0], "the running session")
    check("a decision record and an order were checked against their schemas",
          not any(t.startswith(("/api/v1/decisions/", "/api/v1/orders/")) for t in no_item),
          no_item)

    # Login lockout: five wrong passwords, then even the right one waits.
    for _ in range(5):
        login(base, "vera", "wrong")
    status, headers, answer = login(base, "vera", "vera-secret")
    check("five failed logins lock the name out: 429 with Retry-After",
          status == 429 and int(headers.get("Retry-After", "0")) > 0, (status, answer))

    stop(api, "the API")

    # A tight rate limit on a second server.
    api3, base3 = start_api(work, state, auth, "--rate-limit", "5")
    procs.append(api3)
    codes = [request(base3, "GET", "/api/v1/me", tokens["ada"])[0] for _ in range(6)]
    status, headers, answer = request(base3, "GET", "/api/v1/me", tokens["ada"])
    check("past --rate-limit: 429 with Retry-After",
          codes[:5] == [200] * 5 and status == 429 and int(headers.get("Retry-After", "0")) >= 1,
          (codes, status, headers))
    stop(api3, "the rate-limited API")

    # TLS 1.3 only, with the certificate from the flags.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    f"{work}/key.pem", "-out", f"{work}/cert.pem", "-days", "1", "-subj",
                    "/CN=localhost"], check=True, capture_output=True)
    api4, base4 = start_api(work, state, auth, "--tls-cert", f"{work}/cert.pem", "--tls-key",
                            f"{work}/key.pem")
    procs.append(api4)
    check("TLS: the server says https", base4.startswith("https://"))
    ctx = ssl.create_default_context(cafile=f"{work}/cert.pem")
    ctx.check_hostname = False
    status, _, _ = request(base4, "GET", "/api/v1/health", context=ctx)
    check("TLS 1.3: health answers", status == 200)
    old = ssl.create_default_context(cafile=f"{work}/cert.pem")
    old.check_hostname = False
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        request(base4, "GET", "/api/v1/health", context=old)
        check("TLS 1.2 is refused", False)
    except (urllib.error.URLError, ssl.SSLError, ConnectionError):
        check("TLS 1.2 is refused", True)
    stop(api4, "the TLS API")

    paper.send_signal(signal.SIGINT)
    paper.wait(timeout=30)


def walk_documented_gets(base, token, symbol, what):
    """GETs every documented GET path as an admin, its {id} taken from the first items of the
    list above it, so that request() checks each answer against the document. Returns the {id}
    targets that had no item to show."""
    before = conformed
    answered = {}
    no_item = set()
    for template, methods in DOC["paths"].items():
        if "get" not in methods:
            continue
        targets = [template]
        if "{id}" in template:
            _, _, listed = request(base, "GET", template.split("/{id}")[0], token)
            items = listed.get("items", []) if isinstance(listed, dict) else []
            ids = [item.get("id", item.get("decision")) for item in items[:3]]
            # No item (the models without a registry): the route's refusal is checked instead.
            targets = [template.replace("{id}", str(i)) for i in ids]
            if not targets:
                targets = [template.replace("{id}", "1")]
                no_item.add(targets[0])
        for target in targets:
            if template == "/api/v1/market/bars":
                target += "?symbol=" + urllib.parse.quote(symbol)
            answered[target] = request(base, "GET", target, token)[0]
    succeeded = {t for t, status in answered.items() if 200 <= status < 300}
    check(f"{what}: the walk checked {conformed - before} answers against the document, "
          f"{len(succeeded)} of them 2xx", len(succeeded) >= 20 and conformed - before >= 30,
          {t: s for t, s in answered.items() if t not in succeeded})
    # What cannot succeed here: an {id} with no item, the models without a registry, and the
    # stream without an upgrade.
    check(f"{what}: every documented GET with something to show answers 2xx",
          all(t in succeeded for t in answered if t not in no_item
              and not t.startswith("/api/v1/models") and t != "/api/v1/stream"),
          {t: s for t, s in answered.items() if t not in succeeded})
    return no_item


def session_rows(state, event_type):
    db = sqlite3.connect(f"file:{state}/events.db?mode=ro", uri=True)
    try:
        return [bytes(r[0]).decode(errors="replace") for r in
                db.execute("SELECT payload FROM events WHERE type = ?", (event_type,))]
    finally:
        db.close()


def pending_commands(state):
    db = sqlite3.connect(f"file:{state}/events.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM commands").fetchone()[0]
    finally:
        db.close()


if __name__ == "__main__":
    sys.exit(main())
