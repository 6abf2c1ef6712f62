#!/usr/bin/env python3
"""`aits live` against `aits mt5-sim` on real EUR/USD ticks, as two processes over loopback.

The terminal simulator replays ../shared/data/eurusd-ticks-2020-01-01.csv (9,500 ticks, six hours
of a quiet evening) at --speed times real time into `aits live`, which trades them with a fast SMA
cross on one-second bars (live ticks are stamped on arrival, so the bars are wall-clock bars).
When the simulator has replayed everything and stopped, `aits live` is stopped with SIGTERM and:
  (a) the node's balance equals the simulator's to the cent, and its net position equals the
      simulator's open positions (netting: the one position; hedging: the sum by ticket);
  (b) every order the simulator ever took carries a distinct client order id of the session: no
      order reached the terminal twice;
  (c) the event log holds every tick of the file exactly once, in order, with its server time
      (the v2 tick payload's source_msc): nothing lost and nothing doubled, restarts included;
  (d) `aits replay` reproduces the log and `aits compare` pairs its orders with a backtest's.
--operator: pause, flatten and resume are queued while the session runs (aits pause, ...); each
  must be applied. --kill: `aits live` is killed with SIGKILL once or more at random moments and
  restarted with the same command line plus --reconcile adopt; it must resume the log and the feed
  right after the last logged tick ((c) covers the ticks the simulator replayed while it was down).
  --in-flight aims each kill at an order: the simulator holds every trade request 300 ms, and the
  kill comes as soon as a new order is in the log; the restart keeps the default --reconcile
  refuse, so it starts only if asking the terminal what became of the order (Gateway::Recover)
  leaves the log and the account equal; at least one restart must have recovered a report.
--dry-run: shadow trading; the session fills on its simulated venue and the terminal gets no order.
--sealed-token: the EA's secret is kept sealed at rest (aits secret seal, under a master key from
  aits api init); aits live opens it with $AITS_MASTER_KEY_FILE, and the EA's handshake proves it
  read the right secret. Without the key it is refused, naming the file.

Usage: live_mt5_test.py AITS DATA_DIR [--account netting|hedging] [--kill N] [--in-flight]
                        [--operator] [--dry-run] [--sealed-token] [--speed X] [--seed N]
                        [--keep]
"""

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mt5_e2e_util import (Failure, check_accounts, file_ticks, free_port, kill_all,  # noqa: E402
                           simulator_command, wait_for_new_order)

TOKEN = "e2e-secret-0123456789"
SESSION = "L"
TICK = 2
COMMAND = 9



def logged_ticks(state):
    """(source_msc, bid, ask) of every tick in the log (payload v2: tick v1 + source_msc i64)."""
    db = sqlite3.connect("file:" + os.path.abspath(os.path.join(state, "events.db")) + "?mode=ro",
                         uri=True)
    try:
        rows = db.execute("SELECT payload FROM events WHERE type = ? ORDER BY seq", (TICK,))
        out = []
        for (payload,) in rows:
            if payload[0] != 2 or len(payload) != 47:
                raise Failure("a live tick without its source time (version %d, %d bytes)"
                              % (payload[0], len(payload)))
            _, _, bid, _, ask, _, _, _, _, source = struct.unpack("<BqqBqBffIq", payload)
            out.append((source, bid / 1e9, ask / 1e9))  # raw at the fixed scale, 10^9
        return out
    finally:
        db.close()


def command_count(state):
    db = sqlite3.connect("file:" + os.path.abspath(os.path.join(state, "events.db")) + "?mode=ro",
                         uri=True)
    try:
        return db.execute("SELECT count(*) FROM events WHERE type = ?", (COMMAND,)).fetchone()[0]
    finally:
        db.close()


def check_bad_input(aits, work, token_file):
    """Each bad start is a clear error naming what is wrong (exit 2), before anything listens."""
    env = dict(os.environ)
    env.pop("AITS_MT5_TOKEN", None)
    paper = os.path.join(work, "paper")
    subprocess.run([aits, "paper", "--ticks", "50", "--speed", "max", "--quiet", "--state",
                    paper], check=True, stdout=subprocess.DEVNULL, env=env)
    cases = [
        ([], "AITS_MT5_TOKEN"),
        (["--token-file", os.path.join(work, "nope")], "--token-file"),
        (["--token-file", token_file, "--listen", "127.0.0.1"], "--listen"),
        (["--token-file", token_file, "--wait", "0"], "--wait"),
        (["--token-file", token_file, "--mt5-name", "EURUSD"], "--mt5-name 'EURUSD'"),
        (["--token-file", token_file, "--symbol", "EURUSD,EURUSD"], "given twice"),
        (["--token-file", token_file, "--state", paper], "holds a paper session"),
    ]
    for extra, words in cases:
        run = subprocess.run([aits, "live", "--wait", "1"] + extra, capture_output=True,
                             text=True, env=env, cwd=work)
        if run.returncode != 2 or words not in run.stderr:
            raise Failure("aits live %s: exit %d, %r (expected exit 2 naming %r)"
                          % (" ".join(extra), run.returncode, run.stderr.strip(), words))
    # No EA within --wait: a clear error naming the address, exit 1.
    run = subprocess.run([aits, "live", "--token-file", token_file, "--wait", "1", "--listen",
                          "127.0.0.1:%d" % free_port(), "--state", os.path.join(work, "none")],
                         capture_output=True, text=True, env=env)
    if run.returncode != 1 or "no EA connected" not in run.stderr:
        raise Failure("aits live without an EA: exit %d, %r" % (run.returncode, run.stderr))
    # aits paper refuses a live session's directory by name (checked after the run below).


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("aits")
    parser.add_argument("data")
    parser.add_argument("--account", default="netting")
    parser.add_argument("--kill", type=int, default=0)
    parser.add_argument("--in-flight", action="store_true")
    parser.add_argument("--operator", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--bad-input", action="store_true")
    parser.add_argument("--sealed-token", action="store_true")
    parser.add_argument("--speed", type=float, default=900)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.aits = os.path.abspath(args.aits)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("seed %d (pass --seed %d to repeat the kill moments)" % (seed, seed))

    data = os.path.join(args.data, "eurusd-ticks-2020-01-01.csv")
    source = file_ticks(data)
    replay_seconds = (source[-1][0] - source[0][0]) / 1000.0 / args.speed
    work = tempfile.mkdtemp(prefix="aits-live-e2e-")
    state = os.path.join(work, "state")
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    live_env = dict(os.environ)
    if args.sealed_token:
        key = os.path.join(work, "master.key")
        subprocess.run([args.aits, "api", "init", "--auth", os.path.join(work, "auth.db"),
                        "--master-key", key, "--fast-hash", "--quiet"], check=True)
        subprocess.run([args.aits, "secret", "seal", "--in", token_file, "--out",
                        token_file + ".sealed", "--master-key", key, "--quiet"], check=True)
        os.remove(token_file)
        token_file += ".sealed"
        with open(token_file, "rb") as f:
            if TOKEN.encode() in f.read():
                raise Failure("the sealed token file holds the secret in the clear")
        refused = subprocess.run([args.aits, "live", "--token-file", token_file, "--wait", "1",
                                  "--listen", "127.0.0.1:%d" % free_port(), "--state",
                                  os.path.join(work, "nokey")], capture_output=True, text=True,
                                 env={k: v for k, v in os.environ.items()
                                      if not k.startswith("AITS_MASTER_KEY")})
        if refused.returncode == 0 or "is sealed" not in refused.stderr:
            raise Failure("a sealed token without its key: %d %s" % (refused.returncode,
                                                                    refused.stderr))
        print("ok: a sealed token file without its master key is refused, naming it")
        live_env["AITS_MASTER_KEY_FILE"] = key
    port = free_port()
    live_cmd = [args.aits, "--log-level", "info", "live", "--symbol", "EURUSD", "--listen", "127.0.0.1:%d" % port,
                "--token-file", token_file, "--state", state, "--params", "fast=2,slow=5",
                "--bar", "S1", "--session-id", SESSION, "--wait", "60", "--json", "--no-progress",
                "--transcript", os.path.join(work, "transcript.jsonl")]
    sim_cmd = simulator_command(args.aits, port, TOKEN, data, args.speed, args.account, seed,
                                args.in_flight)
    if args.dry_run:
        live_cmd.append("--dry-run")
    live_log = open(os.path.join(work, "live.err"), "a")
    procs = []

    def start_live(extra):
        out = open(os.path.join(work, "live.out"), "w")
        proc = subprocess.Popen(live_cmd + extra, stdout=out, stderr=live_log, env=live_env)
        procs.append(proc)
        return proc

    try:
        if args.bad_input:
            check_bad_input(args.aits, work, token_file)
        live = start_live([])
        sim = subprocess.Popen(sim_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(sim)
        started = time.monotonic()
        kills = sorted(rng.uniform(0.2, 0.6) * replay_seconds for _ in range(args.kill))
        operator = ([(0.3, "pause"), (0.45, "flatten"), (0.6, "resume")] if args.operator else [])
        for at in kills:
            time.sleep(max(0.0, started + at - time.monotonic()))
            if args.in_flight:
                wait_for_new_order(state)
            live.send_signal(signal.SIGKILL)
            live.wait()
            print("killed aits live at %.2f s%s" % (time.monotonic() - started,
                                                     " (an order in flight)" if args.in_flight
                                                     else ""))
            live = start_live([] if args.in_flight else ["--reconcile", "adopt"])
        for fraction, name in operator:
            time.sleep(max(0.0, started + fraction * replay_seconds - time.monotonic()))
            subprocess.run([args.aits, name, "--state", state, "--reason", "e2e"], check=True,
                           stdout=subprocess.DEVNULL)
        sim_out, sim_err = sim.communicate(timeout=replay_seconds * 4 + 120)
        if sim.returncode != 0:
            raise Failure("mt5-sim exited %d: %s" % (sim.returncode, sim_err[-2000:]))
        with open(os.path.join(work, "sim.json"), "w") as f:
            f.write(sim_out)
        simulator = json.loads(sim_out)
        time.sleep(1.0)  # the last reports reach the node
        live.send_signal(signal.SIGTERM)
        live.wait(timeout=60)
        with open(os.path.join(work, "live.out")) as f:
            text = f.read()
        if live.returncode != 0:
            with open(os.path.join(work, "live.err")) as f:
                raise Failure("aits live exited %d: %s" % (live.returncode, f.read()[-3000:]))
        node = json.loads(text)

        print("simulator: %d ticks, %d deals, balance %.2f, %d open positions"
              % (simulator["ticks_replayed"], simulator["deals"], simulator["balance"],
                 len(simulator["open_positions"])))
        print("node: %d orders, %d fills, balance %s, position %s, gateway %s"
              % (node["orders"], node["fills"], node["balance"], node["position"],
                 json.dumps(node["gateway"])))
        if set(node.get("market_alerts", {})) != {"spread_spike", "price_gap", "stale_feed",
                                                   "crossed_quote", "frozen_quote"}:
            raise Failure("the summary lacks the market monitor's alert counts")
        if simulator["ticks_replayed"] != len(source):
            raise Failure("the simulator replayed %d of %d ticks"
                          % (simulator["ticks_replayed"], len(source)))
        ids = [c for c in simulator["order_comments"] if c.startswith(SESSION)]
        if args.dry_run:
            # Shadow trading: the session traded the live prices on its simulated venue; nothing
            # reached the account.
            if ids or simulator["deals"] != 0 or not node["dry_run"]:
                raise Failure("a dry run sent %d orders to the terminal (%d deals)"
                              % (len(ids), simulator["deals"]))
            if node["fills"] < 2:
                raise Failure("the dry run made %d fills" % node["fills"])
        else:
            if node["fills"] < 2 or simulator["deals"] < 2:
                raise Failure("too little trading to prove anything: %d fills, %d deals"
                              % (node["fills"], simulator["deals"]))
            # (a) the accounts, (b) no order twice
            check_accounts(simulator, node, SESSION)
        # (c) every tick once, in order, with its server time, from the first one the session
        # asked for (a new session subscribes "from now": what was replayed before is not its).
        logged = logged_ticks(state)
        times = [t[0] for t in source]
        if not logged or logged[0][0] not in times:
            raise Failure("the log's first tick is not one of the file's")
        first = times.index(logged[0][0])
        expected = source[first:]
        if first > len(source) // 10:
            raise Failure("the session's first tick is the file's %d-th" % first)
        if [t[0] for t in logged] != [t[0] for t in expected]:
            seen = [t[0] for t in logged]
            missing = sorted(set(t[0] for t in expected) - set(seen))
            doubled = len(seen) - len(set(seen))
            raise Failure("the log's ticks are not the file's from the first on: %d logged, %d "
                          "expected, %d missing (first %s), %d doubled"
                          % (len(logged), len(expected), len(missing), missing[:3], doubled))
        for (_, bid, ask), (_, fbid, fask) in zip(logged, expected):
            if abs(bid - fbid) > 1e-9 or abs(ask - fask) > 1e-9:
                raise Failure("a logged price differs from the file's")
        if args.kill and node["gateway"]["resumes"] < 1 or args.kill and not node["resumed"]:
            raise Failure("the restarted session did not resume the log and the feed")
        if args.in_flight:
            with open(os.path.join(work, "live.err")) as f:
                recoveries = f.read().count("venue reports of the time the node was down applied")
            if recoveries < 1:
                raise Failure("no restart recovered the fate of an order in flight")
            print("%d of %d restart(s) logged the venue's reports of orders in flight"
                  % (recoveries, args.kill))
        if args.operator:
            if node["commands_applied"] + command_count(state) < 3 or command_count(state) != 3:
                raise Failure("operator commands: %d logged, %d applied in the last run"
                              % (command_count(state), node["commands_applied"]))
        if args.bad_input:
            run = subprocess.run([args.aits, "paper", "--state", state, "--speed", "max"],
                                 capture_output=True, text=True)
            if run.returncode == 0 or "aits live" not in run.stderr:
                raise Failure("aits paper on a live session: exit %d, %r"
                              % (run.returncode, run.stderr))
        # (d) replay and compare
        replay = subprocess.run([args.aits, "replay", "--events", state], capture_output=True,
                                text=True)
        if replay.returncode != 0 or "identical" not in replay.stdout:
            raise Failure("aits replay: %s %s" % (replay.stdout[-2000:], replay.stderr[-2000:]))
        compare = subprocess.run([args.aits, "compare", "--state", state, "--json"],
                                 capture_output=True, text=True)
        if compare.returncode != 0:
            raise Failure("aits compare: %s" % compare.stderr[-2000:])
        print("aits live%s against mt5-sim (%s%s%s): %s, %d ticks logged once each (the file's "
              "from its %d-th), %d orders at the terminal, each once"
              % (" --dry-run" if args.dry_run else "", args.account,
                 ", %d kill(s)" % args.kill if args.kill else "",
                 ", operator commands" if args.operator else "",
                 "%d fills on the simulated venue" % node["fills"] if args.dry_run
                 else "accounts equal", len(logged), first, len(ids)))
        return 0
    except (Failure, subprocess.CalledProcessError, subprocess.TimeoutExpired,
            json.JSONDecodeError) as error:
        print("FAIL: %s (state in %s; seed %d)" % (error, work, seed))
        args.keep = True
        return 1
    finally:
        kill_all(procs)
        live_log.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
