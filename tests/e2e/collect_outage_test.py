#!/usr/bin/env python3
"""The data collector's server away for a real minute: nothing lost, nothing doubled.

Three processes on loopback: `aits ingest` (the server, writing the binary tick store), `aits
collect` (a data-only gateway whose ticks go through the collector to the ingest) and `aits
mt5-sim`, replaying ../shared/data/eurusd-ticks-2020-01-01.csv (9,500 ticks over six hours) into
the collector's gateway at --speed times real time. Once the ingest has stored some ticks it is
killed with SIGKILL and kept away for --away seconds of wall time (60), then started again on the
same directory and port. The collector must retry (1, 2 and 4 s), spill the batch in flight, keep
queueing, and resend everything once the ingest is back. When the simulator has replayed everything
and stopped, the collector is stopped with SIGTERM (it delivers what is queued first) and then
the ingest; then:
  (a) the ingest's file holds every tick the collector accepted exactly once, in order: the
      file's ticks from the first one the gateway subscribed to (a new subscription starts "from
      now", so the first few replayed ticks may precede it), same times and prices;
  (b) the collector counted the outage (failed sends, an outage, a spilled batch, resent batches)
      and ends with an empty spill file;
  (c) the counts agree: collect's accepted = ingest's stored over both runs = the file's records.

Usage: collect_outage_test.py AITS DATA_DIR [--speed X] [--away SECONDS] [--keep]
"""

import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mt5_e2e_util import Failure, file_ticks, free_port, kill_all  # noqa: E402

TOKEN = "e2e-collect-secret-0123"
STORE_HEADER = 128
RECORD = struct.Struct("<qqqff")



def store_ticks(path):
    """(time_msc, bid, ask) of every record of a binary tick store (data/tick_store.h)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"AITSTCK1":
        raise Failure("%s is not a tick store" % path)
    count = struct.unpack_from("<Q", data, 16)[0]
    if len(data) != STORE_HEADER + count * RECORD.size:
        raise Failure("%s: %d bytes for %d records" % (path, len(data), count))
    out = []
    for idx in range(count):
        ts, bid, ask, _, _ = RECORD.unpack_from(data, STORE_HEADER + idx * RECORD.size)
        if ts % 1_000_000 or bid % 10_000 or ask % 10_000:
            raise Failure("record %d is not on milliseconds and 5 digits" % idx)
        out.append((ts // 1_000_000, bid // 10_000, ask // 10_000))
    return out


def stored_records(state):
    """The records ingest.state says EURUSD.bin holds (0 before the first commit)."""
    try:
        with open(state) as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] == "EURUSD":
                    return int(fields[2])
    except FileNotFoundError:
        pass
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("aits")
    parser.add_argument("data")
    parser.add_argument("--speed", type=float, default=280)
    parser.add_argument("--away", type=float, default=60)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    data = os.path.join(args.data, "eurusd-ticks-2020-01-01.csv")
    source = file_ticks(data, points=10 ** 5)
    replay_seconds = (source[-1][0] - source[0][0]) / 1000.0 / args.speed
    work = tempfile.mkdtemp(prefix="aits-collect-e2e-")
    out_dir = os.path.join(work, "ticks")
    state = os.path.join(out_dir, "ingest.state")
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    ingest_port, gateway_port = free_port(), free_port()
    ingest_cmd = [args.aits, "ingest", "--listen", "127.0.0.1:%d" % ingest_port, "--out", out_dir,
                  "--json"]
    collect_cmd = [args.aits, "collect", "--listen", "127.0.0.1:%d" % gateway_port,
                   "--token-file", token_file, "--symbol", "EURUSD",
                   "--server", "127.0.0.1:%d" % ingest_port,
                   "--spill", os.path.join(work, "collect.spill"), "--drain", "30", "--json"]
    sim_cmd = [args.aits, "mt5-sim", "--connect", "127.0.0.1:%d" % gateway_port, "--token", TOKEN,
               "--data", "EURUSD=" + data, "--speed", str(args.speed), "--stop-at-end", "--json"]
    errors = open(os.path.join(work, "stderr.log"), "a")
    procs = []

    def start(cmd, name):
        out = open(os.path.join(work, name + ".json"), "w")
        proc = subprocess.Popen(cmd, stdout=out, stderr=errors)
        procs.append(proc)
        return proc

    def summary(name):
        with open(os.path.join(work, name + ".json")) as f:
            return json.load(f)

    started = time.monotonic()
    try:
        ingest = start(ingest_cmd, "ingest1")
        collect = start(collect_cmd, "collect")
        time.sleep(0.5)
        sim = start(sim_cmd, "sim")
        # Kill the ingest once it has stored something, early enough that the replay runs on
        # through the whole time it is away.
        deadline = time.monotonic() + 20
        while stored_records(state) < 200:
            if time.monotonic() > deadline:
                raise Failure("the ingest stored nothing in 20 s")
            time.sleep(0.05)
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
        killed_at = time.monotonic() - started
        before = stored_records(state)
        time.sleep(args.away)
        ingest = start(ingest_cmd, "ingest2")
        back_at = time.monotonic() - started
        if sim.wait(timeout=replay_seconds + 60) != 0:
            raise Failure("mt5-sim exited with %d" % sim.returncode)
        time.sleep(1)  # the gateway has the last ticks the simulator sent
        collect.send_signal(signal.SIGTERM)
        if collect.wait(timeout=60) != 0:
            raise Failure("aits collect exited with %d" % collect.returncode)
        ingest.send_signal(signal.SIGTERM)
        if ingest.wait(timeout=30) != 0:
            raise Failure("aits ingest exited with %d" % ingest.returncode)
        took = time.monotonic() - started
        sim_out, collect_out, ingest_out = summary("sim"), summary("collect"), summary("ingest2")

        # (a) every tick once, in order, from the first one the gateway subscribed to
        stored = store_ticks(os.path.join(out_dir, "EURUSD.bin"))
        if not stored:
            raise Failure("the ingest's file is empty")
        if stored[0] not in source:
            raise Failure("the file's first tick %s is not one of the source's" % (stored[0],))
        first = source.index(stored[0])
        if first > len(source) // 10:
            raise Failure("the first stored tick is the source's %d-th" % first)
        expected = source[first:]
        if stored != expected:
            seen = set()
            doubled = sum(1 for tick in stored if tick in seen or seen.add(tick))
            missing = [tick for tick in expected if tick not in set(stored)]
            raise Failure("the stored ticks are not the source's from the %d-th on: %d stored, %d "
                          "expected, %d missing (first %s), %d doubled"
                          % (first, len(stored), len(expected), len(missing), missing[:3],
                             doubled))
        # (b) the outage was seen, spilled and resent
        if collect_out["outages"] < 1 or collect_out["failed_sends"] < 4:
            raise Failure("the collector did not count the outage: %s" % collect_out)
        if collect_out["batches_spilled"] < 1 or collect_out["batches_resent"] < 1:
            raise Failure("the collector spilled or resent nothing: %s" % collect_out)
        if collect_out["spill_records_left"] != 0 or not collect_out["drained"]:
            raise Failure("the collector stopped with batches undelivered: %s" % collect_out)
        # (c) the counts agree
        if sim_out["ticks_replayed"] != len(source):
            raise Failure("mt5-sim replayed %d of %d ticks" % (sim_out["ticks_replayed"],
                                                               len(source)))
        accepted = collect_out["accepted"]
        if accepted != len(stored) or collect_out["ticks_received"] != accepted:
            raise Failure("collect received %d and accepted %d ticks, the file holds %d"
                          % (collect_out["ticks_received"], accepted, len(stored)))
        ingest_symbol = ingest_out["symbols"][0]
        if ingest_symbol["records"] != len(stored) or ingest_symbol["stored"] + before != len(
                stored):
            raise Failure("the restarted ingest stored %d after %d, its file holds %d of %d"
                          % (ingest_symbol["stored"], before, ingest_symbol["records"],
                             len(stored)))
        print("collect/ingest outage: ingest SIGKILLed at %.1f s with %d ticks stored, away %.0f s, "
              "back at %.1f s; %d ticks stored once each (the source's from its %d-th), in %.1f s "
              "wall" % (killed_at, before, args.away, back_at, len(stored), first, took))
        print("collector: %d failed sends, %d outage(s), %d batch(es) / %d ticks spilled, %d "
              "resent, %d ring overflows; ingest after the restart: %d duplicates dropped in "
              "memory, %d already in the file"
              % (collect_out["failed_sends"], collect_out["outages"],
                 collect_out["batches_spilled"], collect_out["ticks_spilled"],
                 collect_out["batches_resent"], collect_out["ring_overflows"],
                 ingest_out["duplicates"], ingest_out["stale"]))
        return 0
    except (Failure, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError) as error:
        print("FAIL: %s (files in %s)" % (error, work))
        args.keep = True
        return 1
    finally:
        kill_all(procs)
        errors.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            with open(os.path.join(work, "stderr.log")) as f:
                sys.stdout.write(f.read()[-4000:])


if __name__ == "__main__":
    sys.exit(main())
