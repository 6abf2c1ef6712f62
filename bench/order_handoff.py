#!/usr/bin/env python3
"""How long an order placed through the API takes to reach the running session
(docs/performance.md, "The API").

Runs `aits paper --speed 1` on its embedded default and `aits api serve` over its state directory,
both writing JSON log lines at info, then places N market orders through POST /api/v1/orders,
each with its own X-Chain-ID, spaced apart. Each order is timed from the moment the API began
handling its request (the access line's time less its `micros`) to the session's "operator
command applied" line (written where the kernel thread applies it): the request path, the
command's commit, the wake, the feed's read of the commands table, the inbox and the kernel
thread's next turn. Both lines are stamped by the same machine's clock, in microseconds.

--poll-only puts the session's state in a directory too deep for a socket address, so the
session falls back to reading its commands every 250 ms: the hand-off without the wake.

Usage: bench/order_handoff.py AITS_BINARY [--orders N] [--spacing-ms M] [--poll-only]
"""
import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime


def post(base, path, token, body, headers):
    data = json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Bearer " + token)
    for k, v in headers.items():
        request.add_header(k, v)
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.status, json.loads(r.read() or b"{}")


def get(base, path, token):
    request = urllib.request.Request(base + path)
    request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def lines_by_chain(path):
    found = {}
    if not os.path.exists(path):
        return found
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            chain = entry.get("chain_id")
            if chain and chain.startswith("handoff-"):
                found.setdefault(chain, []).append(entry)
    return found


def stamp(entry):
    return datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("aits")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--spacing-ms", type=int, default=100)
    parser.add_argument("--poll-only", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="aits_handoff_")
    procs = []

    def log(name):
        return ["--log-level", "info", "--log-file", f"{work}/{name}.log", "--log-json"]

    try:
        auth = ["--auth", f"{work}/auth.db", "--master-key", f"{work}/master.key", "--fast-hash"]
        subprocess.run([args.aits, "api", "init", *auth, "--quiet"], check=True)
        subprocess.run([args.aits, "api", "user", "add", "tom", "--role", "trader", *auth,
                        "--quiet"], check=True, env={**os.environ, "AITS_PASSWORD": "t"})
        state = f"{work}/{'d' * 110}/s" if args.poll_only else f"{work}/s"
        procs.append(subprocess.Popen([args.aits, *log("paper"), "paper", "--speed", "1",
                                       "--state", state, "--quiet"],
                                      stdout=subprocess.DEVNULL))
        for _ in range(300):
            if os.path.exists(f"{state}/events.db"):
                break
            time.sleep(0.1)
        api = subprocess.Popen([args.aits, *log("api"), "api", "serve", "--state", state,
                                "--listen", "127.0.0.1:0", "--json", *auth],
                               stdout=subprocess.PIPE, text=True)
        procs.append(api)
        base = json.loads(api.stdout.readline())["listening"]
        form = urllib.parse.urlencode({"grant_type": "password", "username": "tom",
                                       "password": "t"}).encode()
        with urllib.request.urlopen(base + "/api/v1/auth/token", data=form, timeout=10) as r:
            token = json.loads(r.read())["access_token"]
        for _ in range(300):
            session = get(base, "/api/v1/session", token)
            if session.get("state") == "running" and session.get("events", 0) > 50:
                break
            time.sleep(0.1)
        symbol = session["symbols"][0]
        woken = os.path.exists(f"{state}/commands.wake")
        for i in range(args.orders):
            side = "buy" if i % 2 == 0 else "sell"  # back and forth: the position stays small
            status, _ = post(base, "/api/v1/orders", token,
                             {"symbol": symbol, "side": side, "lots": 0.01, "reason": "handoff"},
                             {"X-Chain-ID": f"handoff-{i}"})
            if status != 202:
                raise RuntimeError(f"order {i}: {status}")
            time.sleep(args.spacing_ms / 1000)
        time.sleep(1)
        api_lines = lines_by_chain(f"{work}/api.log")
        session_lines = lines_by_chain(f"{work}/paper.log")
        delays = []
        handling = []  # the API's own part: the request path and the command's commit
        for i in range(args.orders):
            chain = f"handoff-{i}"
            sent = [e for e in api_lines.get(chain, []) if e["message"] == "POST /api/v1/orders"]
            applied = [e for e in session_lines.get(chain, [])
                       if e["message"] == "operator command applied"]
            if sent and applied:
                began = stamp(sent[0]) - int(sent[0]["micros"]) / 1e6
                delays.append((stamp(applied[0]) - began) * 1000)
                handling.append(int(sent[0]["micros"]) / 1000)
        if not delays:
            raise RuntimeError("no order reached the session's log")
        print(json.dumps({
            "orders": args.orders, "applied": len(delays), "wake_socket": woken,
            "handoff_ms": {"p50": round(percentile(delays, 0.5), 3),
                           "p90": round(percentile(delays, 0.9), 3),
                           "p99": round(percentile(delays, 0.99), 3),
                           "max": round(max(delays), 3)},
            "api_ms": {"p50": round(percentile(handling, 0.5), 3),
                       "p90": round(percentile(handling, 0.9), 3),
                       "max": round(max(handling), 3)}}))
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
