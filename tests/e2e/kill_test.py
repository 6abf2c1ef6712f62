#!/usr/bin/env python3
"""The kill test of issue 11 (docs/services.md, "Faults"): a paper session split five ways —
ingestion, features, prediction, decision, and the account's owner (risk, execution) with its
event log on PostgreSQL — over nats-server, the features and prediction roles writing to Redis,
while a supervisor SIGKILLs a role, nats-server, PostgreSQL or Redis at random moments (at least
20 kills, every kind at least twice) and starts it again, as Kubernetes restarts a pod. A role
whose dependency went away fails fast and is restarted too; Redis is no such dependency: no role
may fail because of it.

Then the session must end as one uninterrupted run does: the same orders, fills, decisions and
account as `aits paper` on the same flags (nothing lost, nothing doubled: every order once), a log
that replays, the owner's log relayed to ORDERS and AUDIT with every event once (nats-server's
/jsz against the log's counts on PostgreSQL), the trades the owner kept on PostgreSQL (--trades)
those of the uninterrupted run (kept in SQLite), each once, and the features role's bars and
feature rows (--bars, --offline-features) one per bar it published, and the recovery figures
printed as JSON: per kind of kill, the time from the kill until the owner's log grew again
(trading again), and the committed events lost (none); for Redis also the time from its kill
until the roles wrote to it again.

With --cluster, JetStream runs as a three-node cluster on loopback with every stream replicated
three times, and the kills are of the nodes, one at a time, each down for a few seconds: nothing
is lost and trading goes on.

Usage: kill_test.py AITS_BINARY [--cluster] [--seed N] [--kills N] [--json FILE]
Every server runs on loopback with a throwaway directory and stops at the end.
"""
import argparse
import json
import os
import pwd
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

PG_BIN = "/usr/lib/postgresql/15/bin"
SESSION = ["--synthetic", "EURUSD", "--ticks", "120000", "--start", "2024-01-08", "--seed", "3",
           "--params", "fast=3,slow=8", "--commission", "per_lot:7", "--session-id", "kill"]
# Synthetic EURUSD has about 1.9 ticks a second of market time: 120,000 ticks at 1,000x last
# about a minute, long enough for 20+ kills a second or two apart. A cluster's node is killed
# only once the cluster is whole again (about 8 s a kill, more on a loaded machine), so six of
# them need a longer session: at 1,000x one run of several ended after five.
SPEED = "1000"
CLUSTER_SPEED = "650"
ROLES = ["ingestion", "features", "prediction", "decision", "owner"]
KINDS = [*ROLES, "nats", "postgres", "redis"]
NODES = ["nats1", "nats2", "nats3"]

failures = []


def fail(text):
    print("FAIL: " + text, flush=True)
    failures.append(text)


def ok(text):
    print("ok:   " + text, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """One restartable process with its log."""

    def __init__(self, name, argv, log_dir, env=None, preexec=None):
        self.name, self.argv, self.env, self.preexec = name, argv, env, preexec
        self.log_path = os.path.join(log_dir, name + ".log")
        self.out_path = os.path.join(log_dir, name + ".out")
        self.popen = None
        self.starts = 0
        self.finished = False  # exited 0: its work is done (not restarted)

    def start(self):
        self.starts += 1
        log = open(self.log_path, "a")
        log.write(f"--- start {self.starts} at {time.time():.3f}\n")
        log.flush()
        out = open(self.out_path, "w")
        self.popen = subprocess.Popen(self.argv, stdout=out, stderr=log, env=self.env,
                                      preexec_fn=self.preexec, start_new_session=True)

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            os.kill(self.popen.pid, sig)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def as_postgres():
    """Under root PostgreSQL runs as its own user (it refuses root)."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")

    def drop():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    return drop


def stream_messages(monitor_port, names):
    """How many messages each named stream holds, from nats-server's monitoring (/jsz)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/jsz?streams=true",
                                timeout=5) as answer:
        report = json.load(answer)
    held = {}
    for account in report.get("account_details", []):
        for stream in account.get("stream_detail", []):
            held[stream["name"]] = stream["state"]["messages"]
    return tuple(held.get(name) for name in names)


def wait_for(what, test, timeout):
    give_up = time.time() + timeout
    while time.time() < give_up:
        if test():
            return True
        time.sleep(0.05)
    fail(f"{what} did not come up within {timeout} s")
    return False


class Poller(threading.Thread):
    """Runs a count-printing command every 0.1 s: (time, count) samples, the count None when the
    command printed no number (its server is away)."""

    def __init__(self, argv, keep_unanswered):
        super().__init__(daemon=True)
        self.argv, self.keep_unanswered = argv, keep_unanswered
        self.samples, self.stopped = [], False

    def run(self):
        while not self.stopped:
            try:
                out = subprocess.run(self.argv, capture_output=True, text=True, timeout=2)
                answer = out.stdout.strip()
                count = int(answer) if out.returncode == 0 and answer.isdigit() else None
                if count is not None or self.keep_unanswered:
                    self.samples.append((time.time(), count))
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.1)


class Committed(Poller):
    """The owner's committed events on PostgreSQL."""

    def __init__(self, port):
        super().__init__([PG_BIN + "/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "aits",
                          "-d", "postgres", "-Atc", "SELECT count(*) FROM events"],
                         keep_unanswered=False)

    def count_at(self, t):
        before = [count for (when, count) in self.samples if when <= t]
        return before[-1] if before else 0

    def grew_after(self, t, count):
        for when, now in self.samples:
            if when > t and now > count:
                return when
        return None


class RedisKeys(Poller):
    """How many keys Redis holds (None while it does not answer)."""

    def __init__(self, port):
        super().__init__(["redis-cli", "-p", str(port), "dbsize"], keep_unanswered=True)

    def written_after(self, t):
        """When a Redis killed at `t` (which comes back empty) held keys again."""
        for when, count in self.samples:
            if when > t and not count:
                t = when  # down, or back and empty
                break
        else:
            return None
        for when, count in self.samples:
            if when > t and count:
                return when
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("aits")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("AITS_KILL_SEED", "11")))
    parser.add_argument("--cluster", action="store_true")
    parser.add_argument("--kills", type=int, default=0)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    kinds = NODES if args.cluster else KINDS
    if args.kills == 0:
        args.kills = 6 if args.cluster else 24
    least = 6 if args.cluster else 20
    print(f"kill test: seed {args.seed}, {args.kills} kills"
          f"{' of a three-node JetStream cluster' if args.cluster else ''}", flush=True)
    for tool in ("nats-server", "setpriv", "redis-server", "redis-cli"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            fail(f"{tool} is not installed (scripts/install-deps.sh)")
            return 1
    if not os.path.exists(PG_BIN + "/postgres"):
        fail("PostgreSQL 15 is not installed (scripts/install-deps.sh)")
        return 1

    work = tempfile.mkdtemp(prefix="aits-kill-")
    os.chmod(work, 0o755)
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    processes = {}
    committed = None
    try:
        # The uninterrupted run to compare with.
        embedded_trades = os.path.join(work, "embedded-trades.db")
        embedded = subprocess.run([args.aits, "paper", *SESSION, "--speed", "max", "--state",
                                   os.path.join(work, "embedded"), "--quiet", "--json",
                                   "--trades", embedded_trades],
                                  capture_output=True, text=True)
        if embedded.returncode != 0:
            fail("aits paper: " + embedded.stderr)
            return 1
        reference = json.loads(embedded.stdout)

        # Servers.
        pg_dir = os.path.join(work, "pg")
        os.makedirs(pg_dir)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(pg_dir, user.pw_uid, user.pw_gid)
        initdb = subprocess.run([PG_BIN + "/initdb", "-D", pg_dir + "/data", "-U", "aits",
                                 "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                                capture_output=True, text=True, preexec_fn=as_postgres())
        if initdb.returncode != 0:
            fail("initdb: " + initdb.stderr)
            return 1
        pg_port = free_port()
        processes["postgres"] = Process(
            "postgres",
            [PG_BIN + "/postgres", "-D", pg_dir + "/data", "-p", str(pg_port), "-c",
             "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + pg_dir, "-c",
             "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=32MB"],
            logs, preexec=as_postgres())
        nats_ports = [free_port() for _ in range(3 if args.cluster else 1)]
        if args.cluster:
            route_ports = [free_port() for _ in NODES]
            monitor_ports = [free_port() for _ in NODES]
            routes = ",".join(f"nats://127.0.0.1:{port}" for port in route_ports)
            for idx, node in enumerate(NODES):
                processes[node] = Process(
                    node, ["nats-server", "-a", "127.0.0.1", "-p", str(nats_ports[idx]), "-n",
                           node, "-m", str(monitor_ports[idx]), "--cluster_name", "aits",
                           "--cluster", f"nats://127.0.0.1:{route_ports[idx]}", "--routes",
                           routes, "-js", "-sd", os.path.join(work, "js-" + node)], logs)
        else:
            monitor_ports = [free_port()]
            processes["nats"] = Process(
                "nats", ["nats-server", "-a", "127.0.0.1", "-p", str(nats_ports[0]), "-m",
                         str(monitor_ports[0]), "-js", "-sd", os.path.join(work, "js")], logs)

        # Redis as a cache: no persistence, a kill loses what it held (the roles write on).
        redis_port = free_port()
        processes["redis"] = Process(
            "redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--dir",
                      os.path.join(work, "logs"), "--save", "", "--appendonly", "no"], logs)

        def redis_ready():
            return subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                                  capture_output=True, text=True).stdout.strip() == "PONG"

        def pg_ready():
            return subprocess.run([PG_BIN + "/pg_isready", "-h", "127.0.0.1", "-p",
                                   str(pg_port)], capture_output=True).returncode == 0

        def nats_ready():
            if args.cluster:
                # JetStream is up once the cluster has elected its meta leader.
                for port in monitor_ports:
                    try:
                        with urllib.request.urlopen(
                                f"http://127.0.0.1:{port}/healthz?js-enabled-only=true",
                                timeout=1) as answer:
                            if answer.status != 200:
                                return False
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/jsz",
                                                    timeout=1) as answer:
                            if not json.load(answer).get("meta_cluster", {}).get("leader"):
                                return False
                    except OSError:
                        return False
                return True
            try:
                with socket.create_connection(("127.0.0.1", nats_ports[0]), timeout=0.2):
                    return True
            except OSError:
                return False
        processes["postgres"].start()
        processes["redis"].start()
        for name in (NODES if args.cluster else ["nats"]):
            processes[name].start()
        if not (wait_for("PostgreSQL", pg_ready, 30) and wait_for("Redis", redis_ready, 30) and
                wait_for("nats-server", nats_ready, 60)):
            return 1

        bus = ",".join(f"nats://127.0.0.1:{port}" for port in nats_ports)
        events = f"postgresql://aits@127.0.0.1:{pg_port}/postgres#kill"
        records = f"postgresql://aits@127.0.0.1:{pg_port}/postgres"
        redis = f"127.0.0.1:{redis_port}"
        common = ["--bus", bus, *SESSION, "--health", "off", "--json", "--idle-timeout", "60",
                  "--replicas", "3" if args.cluster else "1"]
        roles = {
            "ingestion": ["serve", "--role", "ingestion", *common, "--speed",
                          CLUSTER_SPEED if args.cluster else SPEED],
            "features": ["serve", "--role", "features", *common, "--redis", redis, "--bars",
                         records, "--offline-features", records],
            "prediction": ["serve", "--role", "prediction", *common, "--redis", redis],
            "decision": ["serve", "--role", "decision", *common],
            "owner": ["serve", "--role", "risk,execution", *common, "--events", events,
                      "--trades", records],
        }
        for name, argv in roles.items():
            processes[name] = Process(name, [args.aits, *argv], logs)
            processes[name].start()
        committed = Committed(pg_port)
        committed.start()
        redis_keys = RedisKeys(redis_port)
        redis_keys.start()

        kills = []           # (time, kind, committed events at the kill)
        restarts_due = {}    # name -> time to start again
        own_failures = {}    # name -> exits with an error (a dependency was away)
        schedule = []
        next_kill = time.time() + rng.uniform(1.0, 2.0)
        give_up = time.time() + 400
        owner_result = None
        last_node_start = time.time()
        while time.time() < give_up:
            now = time.time()
            for name in ROLES:
                p = processes[name]
                if p.finished or p.alive() or name in restarts_due:
                    continue
                code = p.popen.returncode
                if code == 0:
                    p.finished = True
                    if name == "owner":
                        owner_result = json.load(open(p.out_path))
                elif code != -signal.SIGKILL:
                    own_failures[name] = own_failures.get(name, 0) + 1
                    restarts_due[name] = now + 0.5
            if owner_result is not None:
                break
            for name, due in list(restarts_due.items()):
                if now >= due:
                    del restarts_due[name]
                    processes[name].start()
                    if name in NODES:
                        last_node_start = now
            # A node of the cluster is killed only once the cluster is whole again — every node
            # up and healthy, the last one back for at least 5 s to catch up — so that one node
            # at a time is lost: with two away, a stream replicated three times has no quorum.
            nodes_up = True
            if args.cluster and len(kills) < args.kills and now >= next_kill:
                nodes_up = (all(processes[n].alive() for n in NODES) and
                            now - last_node_start >= 5 and nats_ready())
            # The first kill once the session trades (a fresh cluster takes some seconds to
            # elect its stream leaders): every kill then interrupts a running session.
            trading = bool(kills) or committed.count_at(now) > 2000
            if len(kills) < args.kills and now >= next_kill and nodes_up and trading:
                if not schedule:
                    schedule = kinds[:]
                    rng.shuffle(schedule)
                kind = schedule.pop()
                p = processes[kind]
                if p.alive():
                    kills.append((now, kind, committed.count_at(now)))
                    p.kill()
                    down = rng.uniform(2.0, 4.0) if args.cluster else rng.uniform(0.2, 1.0)
                    restarts_due[kind] = now + down
                    print(f"  kill {len(kills):2d}: {kind}", flush=True)
                next_kill = now + rng.uniform(1.0, 2.5)
            time.sleep(0.02)
        committed.stopped = True
        redis_keys.stopped = True

        if owner_result is None:
            fail("the owner did not finish the session in time; logs in " + logs)
            for name in ROLES:
                print(f"--- {name}.log (tail)")
                print("".join(open(processes[name].log_path).readlines()[-15:]))
            return 1
        ok(f"the session ended after {len(kills)} kills; restarts after a dependency's "
           f"absence: {own_failures}")
        by_kind = {kind: sum(1 for _, k, _ in kills if k == kind) for kind in kinds}
        if len(kills) >= least and all(count >= 2 for count in by_kind.values()):
            ok(f"at least {least} kills, every kind at least twice: {by_kind}")
        else:
            fail(f"too few kills: {len(kills)} ({by_kind})")
        differ = [f"{key}: {owner_result.get(key)} vs {reference.get(key)}"
                  for key in ("orders", "fills", "position", "balance", "equity", "breaker")
                  if owner_result.get(key) != reference.get(key)]
        if differ:
            fail("the killed session differs from the uninterrupted one: " + "; ".join(differ))
        else:
            ok(f"the same orders ({reference['orders']}), fills ({reference['fills']}), position "
               "and account as the uninterrupted run")
        replay = subprocess.run([args.aits, "replay", "--events", events], capture_output=True,
                                text=True)
        if replay.returncode == 0 and "equal" in replay.stdout + replay.stderr:
            ok("the log replays equal")
        else:
            fail("replay: " + replay.stdout + replay.stderr)

        # The owner relays its committed log to ORDERS and AUDIT (log_relay.h): after every kill
        # of the owner and of the servers, each relayed event is on its stream once — no hole,
        # no repeat.
        relayed = stream_messages(monitor_ports[0], ("ORDERS", "AUDIT"))
        logged = subprocess.run(
            [PG_BIN + "/psql", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "aits", "-d",
             "postgres", "-Atc",
             "SELECT count(*) FILTER (WHERE type IN (5, 6, 7, 14)) || ' ' ||"
             " count(*) FILTER (WHERE type IN (1, 4, 8, 9, 10, 13)) FROM events"],
            capture_output=True, text=True)
        expected = tuple(int(n) for n in logged.stdout.split()) if logged.returncode == 0 else None
        if expected and relayed == expected:
            ok(f"ORDERS and AUDIT hold the log's {expected[0]} order events and {expected[1]} "
               "audit events once each")
        else:
            fail(f"ORDERS and AUDIT hold {relayed} messages, the log {expected} "
                 f"({logged.stderr.strip()})")

        # Redis is beside the trading path: a role may not have failed because of it.
        for name in ("features", "prediction"):
            errors = [line.strip() for line in open(processes[name].log_path)
                      if line.startswith("aits: error") and "redis" in line.lower()]
            if errors:
                fail(f"{name} failed because of Redis: {errors[0]}")
        # Their last runs end on their own after the owner (their inputs' end markers); one
        # killed at the very end is not started again and has nothing to report.
        caches = {}
        for name in ("features", "prediction"):
            p = processes[name]
            if p.alive():
                try:
                    p.popen.wait(30)
                except subprocess.TimeoutExpired:
                    pass
            if p.popen.returncode == 0:
                for stage in json.load(open(p.out_path))["stages"]:
                    caches[name] = stage["cache"]
        ok(f"Redis writes of the roles' last runs: {caches}")

        # The records: the uninterrupted run's trades, each once (the owner writes them again
        # after every restart), and one bar and row per bar of the features role's last run (a
        # role killed at the very end is started once more, as its supervisor would).
        features = processes["features"]
        if features.popen.returncode != 0:
            features.start()
            try:
                features.popen.wait(120)
            except subprocess.TimeoutExpired:
                features.kill()
        columns = ("session, number, symbol, side, quantity, entry_ns, exit_ns, entry_price, "
                   "exit_price, gross_pnl, commission, net_pnl, exit_reason")

        def psql(query):
            return subprocess.run([PG_BIN + "/psql", "-h", "127.0.0.1", "-p", str(pg_port), "-U",
                                   "aits", "-d", "postgres", "-Atc", query],
                                  capture_output=True, text=True).stdout.strip()
        expected = "\n".join("|".join(str(v) for v in row) for row in sqlite3.connect(
            embedded_trades).execute(f"SELECT {columns} FROM trades ORDER BY number"))
        stored = psql(f"SELECT {columns} FROM trades ORDER BY number")
        if expected and stored == expected:
            ok(f"trades on PostgreSQL: the uninterrupted run's {len(expected.splitlines())}, "
               "each once")
        else:
            fail(f"trades on PostgreSQL differ from the uninterrupted run's:\n{stored}\n"
                 f"vs\n{expected}")
        if features.popen.returncode == 0:
            stages = json.load(open(features.out_path))["stages"]
            published = sum(stage["outputs"] for stage in stages)
            counts = psql("SELECT (SELECT count(*) FROM bars), (SELECT count(*) FROM feature_rows)")
            if counts == f"{published}|{published}" and published > 100:
                ok(f"bars and feature rows on PostgreSQL: {published} each, one per bar published")
            else:
                fail(f"bars|rows on PostgreSQL {counts}, the features role published {published}")
        else:
            fail("the features role did not end its last run: " + features.log_path)

        # Recovery: from each kill to the log's next growth; for Redis also to its next write.
        recovery = {}
        redis_written = []
        for when, kind, count in kills:
            grew = committed.grew_after(when, count)
            if grew is not None:
                recovery.setdefault(kind, []).append(grew - when)
            if kind == "redis":
                written = redis_keys.written_after(when)
                if written is not None:
                    redis_written.append(written - when)
        figures = {
            "kills": len(kills),
            "by_kind": by_kind,
            "restarts_after_a_dependency_failed": own_failures,
            "committed_events_lost": 0 if not differ else None,
            "seconds_to_trading_again": {
                kind: {"n": len(v), "p50": round(statistics.median(v), 3),
                       "max": round(max(v), 3)} for kind, v in sorted(recovery.items())},
        }
        if redis_written:
            figures["seconds_to_redis_written_again"] = {
                "n": len(redis_written), "p50": round(statistics.median(redis_written), 3),
                "max": round(max(redis_written), 3)}
        print(json.dumps(figures, indent=2), flush=True)
        if args.json:
            with open(args.json, "w") as out:
                json.dump(figures, out, indent=2)
    finally:
        if committed is not None:
            committed.stopped = True
        for p in processes.values():
            p.stop(signal.SIGINT if p.name == "postgres" else signal.SIGTERM)
        if not failures and not os.environ.get("AITS_KILL_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("logs kept in " + logs)
    if failures:
        print(f"kill_test: {len(failures)} failure(s)")
        return 1
    print("kill_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
