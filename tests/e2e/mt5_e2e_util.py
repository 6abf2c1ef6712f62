"""What the MetaTrader end-to-end tests share: free loopback ports and the real tick file's rows."""

import calendar
import os
import time
import socket
import sqlite3


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def file_ticks(path, points=None):
    """(time_msc, bid, ask) of every row: 'YYYYMMDD HHMMSSmmm,bid,ask,volume', UTC. Prices as
    written, or with `points` (10^digits) as whole points."""
    out = []
    with open(path) as f:
        for line in f:
            stamp, bid, ask = line.strip().split(",")[:3]
            day, clock = stamp.split(" ")
            seconds = calendar.timegm((int(day[:4]), int(day[4:6]), int(day[6:8]),
                                       int(clock[:2]), int(clock[2:4]), int(clock[4:6])))
            time_msc = seconds * 1000 + int(clock[6:9])
            if points is None:
                out.append((time_msc, float(bid), float(ask)))
            else:
                out.append((time_msc, round(float(bid) * points), round(float(ask) * points)))
    return out


def kill_all(procs):
    """Kills and reaps every process still running (a test's teardown, pass or fail)."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def simulator_command(aits, port, token, data, speed, account, seed, in_flight):
    """`aits mt5-sim` replaying `data` (EURUSD) into the gateway at `port`, stopping at its end;
    in_flight: every trade request held 300 ms, so that a kill can find an order in flight."""
    command = [aits, "mt5-sim", "--connect", "127.0.0.1:%d" % port, "--token", token,
               "--data", "EURUSD=" + data, "--speed", str(speed), "--stop-at-end",
               "--account", account, "--seed", str(seed % 1000 + 1), "--json"]
    return command + (["--processing-delay-ms", "300"] if in_flight else [])


def wait_for_new_order(state, timeout=30):
    """Returns as soon as the session's log holds an order more than now (a kill's aim)."""
    before = order_count(state)
    deadline = time.monotonic() + timeout
    while order_count(state) == before:
        if time.monotonic() > deadline:
            raise Failure("no new order in the log within %d s to aim a kill at" % timeout)
        time.sleep(0.005)


def order_count(state):
    """The orders submitted in a session's log so far (committed ones: what a restart finds)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "events.db"), uri=True,
                         timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM events WHERE type = 5").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet
    finally:
        db.close()


def check_accounts(simulator, node, session):
    """The node's account equals the simulator's (balance to the cent, net position), and every
    order the simulator took carries a distinct client order id of the session. Returns the ids."""
    if "%.2f" % simulator["balance"] != node["balance"]:
        raise Failure("balance: simulator %.2f, node %s" % (simulator["balance"], node["balance"]))
    net = sum(p["volume"] * (1 if p["type"] == "buy" else -1)
              for p in simulator["open_positions"])
    if abs(net - float(node["position"])) > 1e-9:
        raise Failure("net position: simulator %.2f, node %s" % (net, node["position"]))
    ids = [c for c in simulator["order_comments"] if c.startswith(session)]
    if len(ids) != len(set(ids)):
        twice = sorted({c for c in ids if ids.count(c) > 1})
        raise Failure("client order ids the terminal took twice: %s" % twice)
    if not ids:
        raise Failure("no order of the session reached the simulator")
    return ids
