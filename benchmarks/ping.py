"""Flood ping of 127.0.0.1: netstudy's engine against iputils `ping -f`, in one run.

    sudo .venv/bin/python benchmarks/ping.py [--count 10000] [--rounds 3]

Both send the next echo request as soon as the reply to the last one is back (interval 0), 10,000
probes, and both time themselves the same way: from the first probe to the last reply (iputils
prints it as "time Nms"; ours is ``summary.time_ms``). Rounds alternate between the two so the
machine's load hits both alike; the best round of each is compared. Also shown: a bare Python loop
(sendto, recv_into, nothing else) as the interpreter's own ceiling on this machine.
Target: netstudy >= 0.5x iputils.
"""
from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import subprocess
import sys
import time

from netstudy.icmp_engine import EchoTemplate, IcmpSocket
from netstudy.ping import Ping

TARGET = 0.5


def ours(count: int) -> tuple[float, str]:
    with Ping("127.0.0.1", count=count, interval=0) as session:
        for _ in session.run():
            pass
        s = session.summary()
    return s.time_ms / 1000, f"{s.received}/{s.transmitted} replies, avg rtt {s.avg_ms:.3f} ms"


def iputils(count: int) -> tuple[float, str]:
    out = subprocess.run([shutil.which("ping") or "ping", "-f", "-q", "-c", str(count), "127.0.0.1"],
                         capture_output=True, text=True, check=True).stdout
    received = re.search(r"(\d+) received", out).group(1)
    avg = re.search(r"= [\d.]+/([\d.]+)/", out).group(1)
    return int(re.search(r"time (\d+)ms", out).group(1)) / 1000, f"{received}/{count} replies, avg rtt {avg} ms"


def bare_loop(count: int) -> tuple[float, str]:
    """sendto + wait + recv_into and nothing else: no parsing, no records."""
    with IcmpSocket(4, "raw") as sock:
        template, buffer = EchoTemplate(sock.identifier, 56), bytearray(65536)
        raw, started = sock.sock, time.perf_counter()
        for seq in range(1, count + 1):
            raw.sendto(template.request(seq), ("127.0.0.1", 0))
            select.select([raw], [], [], 1.0)
            raw.recv_into(buffer)
        return time.perf_counter() - started, "no parsing, no records"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/ping.py needs root: flood ping (interval 0) is root-only, for iputils and for us")
        return 2
    runners = {"netstudy.ping": ours, "iputils ping -f": iputils, "bare Python loop": bare_loop}
    best: dict[str, tuple[float, str]] = {}
    for _ in range(args.rounds):
        for name, run in runners.items():
            seconds, note = run(args.count)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, note)
    print(f"flood ping of 127.0.0.1, {args.count} probes, best of {args.rounds} alternating rounds")
    for name, (seconds, note) in best.items():
        print(f"  {name:<18} {args.count / seconds:>9,.0f} probes/s  {seconds * 1e6 / args.count:6.1f} µs/probe  ({note})")
    ratio = best["iputils ping -f"][0] / best["netstudy.ping"][0]
    ceiling = best["iputils ping -f"][0] / best["bare Python loop"][0]
    print(f"netstudy / iputils = {ratio:.2f}x (target >= {TARGET}x: {'ok' if ratio >= TARGET else 'MISSED'}); "
          f"the bare Python loop reaches {ceiling:.2f}x")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
