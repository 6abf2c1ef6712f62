#!/usr/bin/env python3
"""The gateway role and the account's owner in two processes over nats-server, against
`aits mt5-sim` on real EUR/USD ticks: the MetaTrader link of `aits live`, split across the bus.

  mt5-sim --(EA protocol)--> aits serve --role gateway --(EXEC, MARKET)--> aits serve
                                                                          --role all-but-ingestion
                                                                          --venue bus

The simulator replays ../shared/data/eurusd-ticks-2020-01-01.csv (9,500 ticks) at --speed times
real time into the gateway role, which publishes the terminal's ticks to md.live.EURUSD and
applies the owner's commands from exec.live.commands to the terminal. The owner trades the
ticks from the stream with a fast SMA cross on one-second bars, as live_mt5_test.py's `aits live`
does. When the simulator has replayed everything and stopped, both roles get SIGTERM, and:
  (a) the owner's balance equals the simulator's to the cent, its net position the simulator's;
  (b) every order the simulator took carries a distinct client order id of the session: no
      order reached the terminal twice, whatever was killed;
  (c) the owner's log holds the file's ticks from its first one on, each once, in order (by
      price: the gateway stamps ticks on arrival) — a restarted gateway continues the stream
      after the server time of the last tick it holds, so the ticks the simulator replayed while
      it was down come then;
  (d) `aits replay` reproduces the owner's log.
--kill-owner N / --kill-gateway N: SIGKILL that role N times at random moments, restart it with
  the same command line (the owner under the default --reconcile refuse: it starts only if the
  venue's account, asked through the gateway role, equals its log after the orders in flight
  were asked about).
--in-flight: the simulator holds every trade request 300 ms, and each kill comes as soon as a
  new order is in the owner's log; a restarted gateway role must have asked the terminal about
  an order the killed one sent (the new gateway knows nothing of it).
--trace: both roles write their spans (--trace-file, --trace-sample 1), and a fill's trace is
  rebuilt from the two files, from the terminal's tick that the gateway role published to the
  fill the owner booked: md.publish (gateway) -> decision -> exec.command (owner) ->
  gateway.command -> gateway.report (gateway) -> exec.report -> fill (owner), one trace id,
  every parent in one of the files (docs/monitoring.md, "Traces").

Usage: gateway_role_test.py AITS DATA_DIR [--account netting|hedging] [--kill-owner N]
                            [--kill-gateway N] [--in-flight] [--trace] [--consumers push|pull]
                            [--speed X] [--seed N] [--keep]
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
SESSION = "G"
MARKET = "live"
TICK = 2


def logged_prices(state):
    """(bid, ask) of every tick in the owner's log, in order."""
    db = sqlite3.connect("file:" + os.path.abspath(os.path.join(state, "events.db")) + "?mode=ro",
                         uri=True)
    try:
        out = []
        for (payload,) in db.execute("SELECT payload FROM events WHERE type = ? ORDER BY seq",
                                     (TICK,)):
            _, _, bid, _, ask = struct.unpack("<BqqBq", payload[:26])
            out.append((round(bid / 1e4), round(ask / 1e4)))  # points of 10^-5
        return out
    finally:
        db.close()


def session_spec(state):
    """The session's spec as its log's first event holds it (JSON)."""
    db = sqlite3.connect("file:" + os.path.abspath(os.path.join(state, "events.db")) + "?mode=ro",
                         uri=True)
    try:
        (payload,) = db.execute("SELECT payload FROM events ORDER BY seq LIMIT 1").fetchone()
        return json.loads(payload)
    finally:
        db.close()


def read_spans(path):
    """Every span of an OTLP/JSON trace file: {spanId: span}, each with its service name."""
    spans = {}
    with open(path) as f:
        for line in f:
            for resource in json.loads(line)["resourceSpans"]:
                service = next(a["value"]["stringValue"]
                               for a in resource["resource"]["attributes"]
                               if a["key"] == "service.name")
                for scope in resource["scopeSpans"]:
                    for span in scope["spans"]:
                        span["service"] = service
                        spans[span["spanId"]] = span
    return spans


# A fill's trace from its root: the span names, and the process that wrote each.
# The owner computes features, prediction and decision in its kernel: one "decision" span.
FILL_TRACE = [("md.publish", "gateway"), ("decision", "owner"), ("exec.command", "owner"),
              ("gateway.command", "gateway"), ("gateway.report", "gateway"),
              ("exec.report", "owner"), ("fill", "owner")]
# A fill of an order the terminal opened itself (a stop-loss or take-profit hit there): its
# trace starts at the gateway role's report.
VENUE_FILL_TRACE = [("gateway.report", "gateway"), ("exec.report", "owner"), ("fill", "owner")]


def check_trace(work):
    """The traces of the owner's fills, rebuilt from the two roles' files. Returns how many
    fills were followed to the terminal's tick."""
    gateway = read_spans(os.path.join(work, "gateway.trace.jsonl"))
    owner = read_spans(os.path.join(work, "owner.trace.jsonl"))
    spans = dict(gateway)
    spans.update(owner)
    whole = 0
    for span in owner.values():
        if span["name"] != "fill":
            continue
        chain = [span]
        while chain[-1].get("parentSpanId") and chain[-1]["parentSpanId"] in spans:
            chain.append(spans[chain[-1]["parentSpanId"]])
        if chain[-1].get("parentSpanId"):
            continue  # a parent lost with a killed role's unwritten spans
        chain.reverse()
        got = [(s["name"], "gateway" if s["service"] == "aits-gateway" else "owner")
               for s in chain]
        if got != FILL_TRACE and got != VENUE_FILL_TRACE:
            raise Failure("a fill's trace is %s, not %s" % (got, FILL_TRACE))
        if len({s["traceId"] for s in chain}) != 1:
            raise Failure("a fill's trace has several trace ids")
        whole += got == FILL_TRACE
    if whole == 0:
        raise Failure("no fill's trace reaches back to a tick the gateway role published "
                      "(%d gateway spans, %d owner spans)" % (len(gateway), len(owner)))
    return whole


def wait_for(what, test, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.05)
    raise Failure("%s not ready within %d s" % (what, timeout))


def port_open(port):
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Role:
    """One restartable `aits serve` process, its stderr appended to a log."""

    def __init__(self, name, argv, work):
        self.name, self.argv, self.work = name, argv, work
        self.proc = None
        self.starts = 0
        self.err = open(os.path.join(work, name + ".err"), "a")

    def start(self):
        self.starts += 1
        self.err.write("--- start %d\n" % self.starts)
        self.err.flush()
        self.out_path = os.path.join(self.work, name_out(self.name))
        self.proc = subprocess.Popen(self.argv, stdout=open(self.out_path, "w"), stderr=self.err)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        if self.proc.returncode != 0:
            with open(os.path.join(self.work, self.name + ".err")) as f:
                raise Failure("%s exited %d: %s" % (self.name, self.proc.returncode,
                                                    f.read()[-3000:]))
        with open(self.out_path) as f:
            return json.loads(f.read())

    def log_text(self):
        with open(os.path.join(self.work, self.name + ".err")) as f:
            return f.read()


def name_out(name):
    return name + ".out"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("aits")
    parser.add_argument("data")
    parser.add_argument("--account", default="netting")
    parser.add_argument("--kill-owner", type=int, default=0)
    parser.add_argument("--kill-gateway", type=int, default=0)
    parser.add_argument("--in-flight", action="store_true")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--consumers", default="push")
    parser.add_argument("--speed", type=float, default=900)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.aits = os.path.abspath(args.aits)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("seed %d (pass --seed %d to repeat the kill moments)" % (seed, seed))

    data = os.path.join(args.data, "eurusd-ticks-2020-01-01.csv")
    source = file_ticks(data, points=100000)
    replay_seconds = (source[-1][0] - source[0][0]) / 1000.0 / args.speed
    work = tempfile.mkdtemp(prefix="aits-gateway-role-e2e-")
    state = os.path.join(work, "state")
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    nats_port, ea_port = free_port(), free_port()
    bus = "nats://127.0.0.1:%d" % nats_port
    common = ["--bus", bus, "--market", MARKET, "--symbol", "EURUSD", "--health", "off",
              "--json", "--no-progress", "--wait", "30", "--consumers", args.consumers]
    gateway_cmd = [args.aits, "--log-level", "info", "serve", "--role", "gateway", "--listen",
                   "127.0.0.1:%d" % ea_port, "--token-file", token_file,
                   "--transcript", os.path.join(work, "transcript.jsonl")] + common
    owner_cmd = [args.aits, "--log-level", "info", "serve", "--role",
                 "features,prediction,decision,risk,execution", "--venue", "bus", "--state",
                 state, "--params", "fast=2,slow=5", "--bar", "S1", "--session-id", SESSION,
                 "--idle-timeout", "0"] + common  # the account's terms: the terminal's
    if args.trace:
        gateway_cmd += ["--trace-file", os.path.join(work, "gateway.trace.jsonl"),
                        "--trace-sample", "1"]
        owner_cmd += ["--trace-file", os.path.join(work, "owner.trace.jsonl"),
                      "--trace-sample", "1"]
    sim_cmd = simulator_command(args.aits, ea_port, TOKEN, data, args.speed, args.account, seed,
                                args.in_flight)
    procs = []
    nats = None
    gateway = owner = None
    try:
        nats = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(nats_port), "-js",
                                 "-sd", os.path.join(work, "nats")],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(work,
                                                                                    "nats.err"),
                                                                       "w"))
        procs.append(nats)
        wait_for("nats-server", lambda: port_open(nats_port), 30)
        gateway = Role("gateway", gateway_cmd, work)
        gateway.start()
        wait_for("the gateway role", lambda: port_open(ea_port), 30)
        sim = subprocess.Popen(sim_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(sim)
        # The owner starts once the terminal is there: its first snapshot is the account.
        owner = Role("owner", owner_cmd, work)
        owner.start()
        started = time.monotonic()
        kills = sorted([(rng.uniform(0.15, 0.7) * replay_seconds, "owner")
                        for _ in range(args.kill_owner)] +
                       [(rng.uniform(0.15, 0.7) * replay_seconds, "gateway")
                        for _ in range(args.kill_gateway)])
        for at, who in kills:
            time.sleep(max(0.0, started + at - time.monotonic()))
            role = owner if who == "owner" else gateway
            if args.in_flight:
                wait_for_new_order(state)
            role.kill()
            print("killed the %s role at %.2f s%s" % (who, time.monotonic() - started,
                                                      " (an order in flight)" if args.in_flight
                                                      else ""), flush=True)
            if who == "gateway":
                time.sleep(0.5)  # the terminal notices the link is gone, and waits to reconnect
            role.start()
            if who == "gateway":
                wait_for("the restarted gateway role", lambda: port_open(ea_port), 30)
        sim_out, sim_err = sim.communicate(timeout=replay_seconds * 4 + 120)
        if sim.returncode != 0:
            raise Failure("mt5-sim exited %d: %s" % (sim.returncode, sim_err[-2000:]))
        simulator = json.loads(sim_out)
        # The last ticks and reports reach the owner.
        time.sleep(2.0)
        node = owner.stop()
        bridge = gateway.stop()

        print("simulator: %d ticks, %d deals, balance %.2f, %d open positions"
              % (simulator["ticks_replayed"], simulator["deals"], simulator["balance"],
                 len(simulator["open_positions"])))
        print("owner: %d orders, %d fills, balance %s, position %s; gateway (last run): %s"
              % (node["orders"], node["fills"], node["balance"], node["position"],
                 json.dumps({k: bridge[k] for k in ("ticks_published", "commands", "applied",
                                                     "duplicates", "reports")})))
        if simulator["ticks_replayed"] != len(source):
            raise Failure("the simulator replayed %d of %d ticks"
                          % (simulator["ticks_replayed"], len(source)))
        if node["fills"] < 2 or simulator["deals"] < 2:
            raise Failure("too little trading to prove anything: %d fills, %d deals"
                          % (node["fills"], simulator["deals"]))
        # (a) the accounts, (b) no order twice
        ids = check_accounts(simulator, node, SESSION)
        # (c) every tick once, in order, from the owner's first one
        logged = logged_prices(state)
        prices = [(bid, ask) for _, bid, ask in source]
        first = None
        for at in range(min(len(prices), 1000)):
            if prices[at:at + 20] == logged[:20]:
                first = at
                break
        if first is None:
            raise Failure("the owner's first ticks are not the file's (%s)" % logged[:3])
        expected = prices[first:]
        if logged != expected:
            mismatch = next((i for i, (a, b) in enumerate(zip(logged, expected)) if a != b),
                            min(len(logged), len(expected)))
            raise Failure("the owner's ticks are not the file's from its %d-th on: %d logged, "
                          "%d expected, first difference at tick %d" % (first, len(logged),
                                                                        len(expected), mismatch))
        if args.kill_owner and "resumed" not in owner.log_text():
            raise Failure("the restarted owner did not resume its log")
        if args.kill_gateway and "continuing the market data" not in gateway.log_text():
            raise Failure("the restarted gateway role did not continue the stream")
        if args.kill_gateway and args.in_flight:
            asked = gateway.log_text().count("the last gateway role sent that no report finished")
            if asked < 1:
                raise Failure("no restarted gateway role asked the terminal about an order the "
                              "killed one had sent")
            print("%d of %d gateway restart(s) asked the terminal about orders in flight"
                  % (asked, args.kill_gateway))
        if args.kill_owner and args.in_flight:
            print("owner restarts: %d (each aimed at an order in flight)" % args.kill_owner)
        # The session took the terminal's terms (no --account-mode given to the owner).
        spec = session_spec(state)
        mode = spec.get("account_mode", "netting")  # the spec leaves its default out
        if mode != args.account or spec.get("venue") != "mt5":
            raise Failure("the owner's session is %s on venue %s; the terminal's account is %s"
                          % (mode, spec.get("venue"), args.account))
        if args.trace:
            print("traces: %d fill(s) followed from the terminal's tick through both roles"
                  % check_trace(work))
        # (d) replay
        replay = subprocess.run([args.aits, "replay", "--events", state], capture_output=True,
                                text=True)
        if replay.returncode != 0 or "identical" not in replay.stdout:
            raise Failure("aits replay: %s %s" % (replay.stdout[-2000:], replay.stderr[-2000:]))
        print("gateway role + owner over nats-server against mt5-sim (%s%s%s): accounts equal, "
              "%d ticks logged once each (the file's from its %d-th), %d orders at the terminal, "
              "each once" % (args.account,
                             ", %d owner kill(s)" % args.kill_owner if args.kill_owner else "",
                             ", %d gateway kill(s)" % args.kill_gateway
                             if args.kill_gateway else "",
                             len(logged), first, len(ids)))
        return 0
    except (Failure, subprocess.CalledProcessError, subprocess.TimeoutExpired,
            json.JSONDecodeError) as error:
        print("FAIL: %s (work in %s; seed %d)" % (error, work, seed))
        args.keep = True
        return 1
    finally:
        for role in (owner, gateway):
            if role is not None and role.proc is not None:
                procs.append(role.proc)
        kill_all(procs)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
