"""What the MetaTrader end-to-end tests share: free loopback ports and the real tick file's rows."""

import calendar
import socket


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
