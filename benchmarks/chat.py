"""Chat servers under load: ThreadedChatServer (a thread per client) against ChatServer (one event loop).

    .venv/bin/python benchmarks/chat.py [--clients 200 1000] [--lines 20] [--duration 20]

For each number of clients, the same two loads against each server, each on a fresh server in this
process while the clients run in a second process (``netstudy.chat.load``: one selectors loop for all
of them, counting newlines in C, so the clients are not the bottleneck):

(a) throughput: every client sends ``--lines`` lines as fast as it can; every line goes to all the
    others. Figure: delivered lines per second, first send to last delivery.
(b) latency: every client sends one line every 0.5 s for ``--duration`` s (spread evenly). Figure:
    p50 and p99 of the time from a line's send to its arrival at 10 probe clients.

Targets at 1,000 clients: ChatServer >= 2x the threaded server's delivered lines/s, and p99 < 50 ms
in the paced load. The machine is shared: the load average is printed with the figures.

``--record-notebook`` instead runs notebook 06's short burst against the threaded server with 1,000
clients (too slow to run inside the notebook: its 1,000 joins alone take tens of seconds) and saves
the result in netstudy/data/chat/, where the notebook reads it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from netstudy.chat import ChatServer, ThreadedChatServer
from netstudy.chat.load import NOTEBOOK_LINES, NOTEBOOK_WINDOW, LoadResult, run_load_process

RECORD = Path(__file__).resolve().parent.parent / "netstudy" / "data" / "chat" / "threaded_1000_burst.json"

SERVERS = {"threaded": ThreadedChatServer, "eventloop": ChatServer}


def measure(server_cls: type, clients: int, mode: str, **load: float) -> LoadResult:
    with server_cls() as srv:
        return run_load_process("127.0.0.1", srv.address[1], clients, mode, **load)


def describe(r: LoadResult) -> str:
    done = "" if r.complete else f"  INCOMPLETE: {r.delivered:,}/{r.expected:,} delivered {r.error}"
    return (f"{r.lines_per_s:>12,.0f} lines/s  p50 {r.percentile(50):>9.1f} ms  p99 {r.percentile(99):>9.1f} ms"
            f"  ({r.sent:,} sent, {r.seconds:.2f} s){done}")


def record_notebook_point() -> int:
    n = 1000
    r = measure(ThreadedChatServer, n, "burst", lines=NOTEBOOK_LINES[n], window=NOTEBOOK_WINDOW, timeout=300)
    record = {"recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "loadavg": [round(x, 1) for x in os.getloadavg()], "result": dataclasses.asdict(r)}
    RECORD.write_text(json.dumps(record) + "\n")
    print(f"threaded, {n} clients, notebook burst: {describe(r)}\nsaved in {RECORD}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--lines", type=int, default=20, help="lines per client in the throughput load")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of the paced load")
    p.add_argument("--record-notebook", action="store_true", help="record notebook 06's threaded 1,000 point")
    a = p.parse_args()
    if a.record_notebook:
        return record_notebook_point()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    failed = False
    for n in a.clients:
        burst = {name: measure(cls, n, "burst", lines=a.lines, timeout=300) for name, cls in SERVERS.items()}
        paced = {name: measure(cls, n, "paced", interval=0.5, duration=a.duration, timeout=a.duration + 30)
                 for name, cls in SERVERS.items()}
        print(f"\n{n} clients, (a) throughput: {a.lines} lines each, fanned out to {n - 1} others")
        for name, r in burst.items():
            print(f"  {name:<10}{describe(r)}")
        ratio = burst["eventloop"].lines_per_s / burst["threaded"].lines_per_s
        print(f"  ratio eventloop/threaded delivered lines/s: {ratio:.1f}x")
        print(f"{n} clients, (b) latency: one line per client every 0.5 s for {a.duration:g} s")
        for name, r in paced.items():
            print(f"  {name:<10}{describe(r)}")
        p99 = paced["eventloop"].percentile(99)
        threaded_p99 = paced["threaded"].percentile(99)
        print(f"  ratio threaded/eventloop p99 latency: {threaded_p99 / p99:.1f}x")
        if n >= 1000:
            ok = ratio >= 2 and p99 < 50 and burst["eventloop"].complete and paced["eventloop"].complete
            failed |= not ok
            print(f"  targets (>= 2x lines/s, p99 < 50 ms, nothing lost): {'met' if ok else 'MISSED'}")
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
