#!/usr/bin/env python3
"""Kills `aits paper` with SIGKILL at random moments and checks the log and the resume each time.

A deterministic busy session is run once without interruption (REF). The same session is then
started in KILL and killed with SIGKILL after a random delay (uniform over 0 .. 1.2 x REF's wall
time, so kills land in start-up, first runs, resumes, mid-run and commits), again and again;
each restart resumes the log. After every kill:
  (a) `aits replay --events KILL` says "identical": the committed prefix is a consistent,
      reproducible history;
  (b) the log's seq runs 1, 2, 3, ... from a session_start, and its rows (type, ts, payload),
      without session_stop and account checkpoints, are a prefix of REF's rows: nothing was
      lost, sent twice or changed by the kill and the resume;
  (c) the log never shrinks (committed ticks survive the kill).
A run that ends before its kill lands must equal REF; the next attempt starts a new session.
Attempts go on until --kills kills have landed (at most three times as many attempts; at
least --min-landed must land). Finally the last session runs to its end and must equal REF, rows and
balance.

Usage: paper_kill_test.py AITS_BINARY [--seed N] [--kills N] [--ticks N] [--keep]
The seed of the kill moments is printed; pass it back with --seed to repeat a run's delays.
"""

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

CONFIG = """decision:
  buy_threshold: 0.5
  sell_threshold: -0.5
  close_threshold: 0.2
  sizing: fixed_lots
  lots: 0.3
  scale_by_confidence: false
  atr_period: 5
"""

SESSION_START, TICK, FILL, SESSION_STOP, ACCOUNT = 1, 2, 7, 10, 11


class Failure(Exception):
    pass


def paper_command(aits, state, config, ticks):
    return [aits, "paper", "--feed", "synthetic", "--start", "2024-01-08", "--seed", "5",
            "--ticks", str(ticks), "--speed", "max", "--session-id", "k",
            "--params", "fast=3,slow=8,atr=5,scale=0.2", "--commission", "per_lot:7",
            "--config", config, "--quiet", "--state", state]


def connect(state):
    # Read-only: a read-write connection would checkpoint and delete the WAL a killed writer
    # left behind when it closes, so the next resume would not see the crash as it was.
    path = os.path.abspath(os.path.join(state, "events.db"))
    return sqlite3.connect("file:" + path + "?mode=ro", uri=True)


def log_exists(state):
    return os.path.exists(os.path.join(state, "events.db"))


def event_count(state):
    """Committed events, or 0 when there is no log or no table yet."""
    if not log_exists(state):
        return 0
    db = connect(state)
    try:
        return db.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # killed before the schema was committed
        return 0
    finally:
        db.close()


def tick_count(state):
    if event_count(state) == 0:
        return 0
    db = connect(state)
    try:
        return db.execute("SELECT count(*) FROM events WHERE type = ?", (TICK,)).fetchone()[0]
    finally:
        db.close()


def last_type(state):
    db = connect(state)
    try:
        return db.execute("SELECT type FROM events ORDER BY seq DESC LIMIT 1").fetchone()[0]
    finally:
        db.close()


def history(state):
    """The log's (type, ts, payload) rows in seq order, without session stops and checkpoints."""
    db = connect(state)
    try:
        return db.execute("SELECT type, ts, payload FROM events WHERE type NOT IN (?, ?) "
                          "ORDER BY seq", (SESSION_STOP, ACCOUNT)).fetchall()
    finally:
        db.close()


def check_structure(state, what):
    db = connect(state)
    try:
        count, low, high = db.execute("SELECT count(*), min(seq), max(seq) FROM events").fetchone()
        if low != 1 or high != count:
            raise Failure(f"{what}: seq is not contiguous from 1 ({count} rows, seq {low}..{high})")
        first = db.execute("SELECT type FROM events WHERE seq = 1").fetchone()[0]
        if first != SESSION_START:
            raise Failure(f"{what}: the first event has type {first}, not session_start")
    finally:
        db.close()


def check_prefix(rows, ref_rows, what):
    if len(rows) > len(ref_rows):
        raise Failure(f"{what}: {len(rows)} events (without stops and checkpoints), more than "
                      f"the {len(ref_rows)} of the uninterrupted run")
    for i, (mine, ref) in enumerate(zip(rows, ref_rows)):
        if mine != ref:
            raise Failure(f"{what}: event {i + 1} (without stops and checkpoints) differs from "
                          f"the uninterrupted run: type {mine[0]} ts {mine[1]} payload "
                          f"{bytes(mine[2])[:80]!r} vs type {ref[0]} ts {ref[1]} payload "
                          f"{bytes(ref[2])[:80]!r}")


def replay(aits, state, what):
    done = subprocess.run([aits, "replay", "--events", state], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0 or "identical" not in done.stdout:
        raise Failure(f"{what}: aits replay exit code {done.returncode}:\n{done.stdout}"
                      f"{done.stderr}")
    balance = [line.strip() for line in done.stdout.splitlines()
               if line.strip().startswith("balance ")]
    if not balance:
        raise Failure(f"{what}: aits replay printed no balance line:\n{done.stdout}")
    return balance[0]


def check_complete(aits, state, ref_rows, ref_balance, what):
    """A session that ran to its end: its history equals the reference run's, and so does its
    balance. Returns replay's balance line."""
    check_structure(state, what)
    rows = history(state)
    check_prefix(rows, ref_rows, what)
    if len(rows) != len(ref_rows):
        raise Failure(f"{what}: {len(rows)} events (without stops and checkpoints), the "
                      f"uninterrupted run has {len(ref_rows)}")
    last = last_type(state)
    if last != SESSION_STOP:
        raise Failure(f"{what}: the last event has type {last}, not session_stop")
    balance = replay(aits, state, what)
    if balance != ref_balance:
        raise Failure(f"{what}: replay says '{balance}', the uninterrupted run '{ref_balance}'")
    return balance


def run(args):
    aits = os.path.abspath(args.aits)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"paper_kill_test: seed {seed} (repeat with --seed {seed}), {args.kills} kills, "
          f"{args.ticks} ticks")
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="aits-kill-")
    try:
        config = os.path.join(work, "paper.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        ref = os.path.join(work, "ref")
        out_path = os.path.join(work, "out.txt")

        # --- the uninterrupted reference run
        started = time.monotonic()
        done = subprocess.run(paper_command(aits, ref, config, args.ticks), capture_output=True,
                              text=True, timeout=300)
        ref_seconds = time.monotonic() - started
        if done.returncode != 0:
            raise Failure(f"reference run: exit code {done.returncode}:\n{done.stdout}"
                          f"{done.stderr}")
        check_structure(ref, "reference log")
        ref_rows = history(ref)
        fills = sum(1 for row in ref_rows if row[0] == FILL)
        ticks = sum(1 for row in ref_rows if row[0] == TICK)
        if ticks != args.ticks:
            raise Failure(f"reference run logged {ticks} ticks, not {args.ticks}")
        if fills == 0:
            raise Failure("reference run made no fills: the session does not trade")
        ref_balance = replay(aits, ref, "reference log")
        print(f"reference: {ref_seconds:.2f} s, {len(ref_rows)} events (without stops and "
              f"checkpoints), {ticks} ticks, {fills} fills, {ref_balance}")

        # --- kills. A run that ends before its kill lands is checked like the final one and
        # the next attempt starts a new session, so that kills keep landing in start-up, first
        # runs, resumes and commits rather than in resumes of a finished session.
        landed = 0
        attempts = 0
        completed = 0
        phases = {}
        horizon = 1.2 * ref_seconds
        kill = os.path.join(work, "kill-1")
        while landed < args.kills and attempts < 3 * args.kills:
            attempts += 1
            what = f"attempt {attempts} ({os.path.basename(kill)})"
            before = tick_count(kill)
            before_events = event_count(kill)
            delay = rng.uniform(0.0, horizon)
            with open(out_path, "w") as out:
                started = time.monotonic()
                process = subprocess.Popen(paper_command(aits, kill, config, args.ticks),
                                           stdout=out, stderr=subprocess.STDOUT)
                try:
                    process.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                code = process.wait(timeout=300)
                elapsed = time.monotonic() - started
            with open(out_path) as f:
                output = f.read()
            if code == 0:
                # A whole session ran faster than the reference did (the machine was busier
                # then): aim the kills within what a session takes now, or most of them miss.
                if before == 0:
                    horizon = min(horizon, 1.2 * elapsed)
                phase = "finished before the kill"
                phases[phase] = phases.get(phase, 0) + 1
                balance = check_complete(aits, kill, ref_rows, ref_balance, what)
                completed += 1
                print(f"{what}: finished before the kill at {delay:.2f} s; the log equals the "
                      f"uninterrupted run ({balance}); starting a new session")
                kill = os.path.join(work, f"kill-{completed + 1}")
                continue
            if code != -signal.SIGKILL:
                raise Failure(f"{what}: aits paper failed by itself (exit code {code}) before "
                              f"the kill at {delay:.2f} s:\n{output}")
            landed += 1
            after = tick_count(kill)
            if after < before:
                raise Failure(f"{what}: the log lost committed ticks ({before} -> {after})")
            events = event_count(kill)
            if events == 0:
                phase = "start-up, before the first commit"
            elif before == args.ticks:
                phase = "resume or close of a session with every tick committed"
            elif after == args.ticks and last_type(kill) != SESSION_STOP:
                phase = "closing: every tick committed, no session_stop yet"
            elif before_events == 0:
                phase = "first run"
            elif after > before:
                phase = "running after a resume"
            else:
                phase = "resume, before new ticks were committed"
            phases[phase] = phases.get(phase, 0) + 1
            result = f"killed after {delay:.2f} s ({phase}); ticks {before} -> {after}"
            if events > 0:
                replay(aits, kill, what)
                check_structure(kill, what)
                check_prefix(history(kill), ref_rows, what)
                result += f"; replay identical, {events} events a prefix of the reference"
            print(f"kill {landed}, {what}: {result}")

        # --- run to the end: the same history as the uninterrupted run
        done = subprocess.run(paper_command(aits, kill, config, args.ticks), capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise Failure(f"final resume: exit code {done.returncode}:\n{done.stdout}"
                          f"{done.stderr}")
        balance = check_complete(aits, kill, ref_rows, ref_balance, "final log")
        summary = ", ".join(f"{n} {phase}" for phase, n in sorted(phases.items()))
        print(f"summary: {landed} kills landed in {attempts} attempts ({summary}); "
              f"{completed + 1} sessions ran to the end through kills and resumes, each equal to "
              f"the uninterrupted run ({len(ref_rows)} events, {balance})")
        if landed < args.min_landed:
            raise Failure(f"only {landed} kills hit a live process (need {args.min_landed})")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("aits")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--min-landed", type=int, default=15)
    parser.add_argument("--ticks", type=int, default=200000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    try:
        run(args)
    except (Failure, subprocess.TimeoutExpired) as error:
        print(f"FAIL: {error}")
        return 1
    print("paper_kill_test: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
