"""Flood ping of 127.0.0.1: netstudy's engine against iputils `ping -f`, in one run.

    sudo .venv/bin/python benchmarks/ping.py [--count 10000] [--rounds 3]

Both send the next echo request as soon as the reply to the last one is back (interval 0), 10,000
probes. iputils times itself from the first probe to the last reply (it prints "time Nms"), keeping
its statistics as it goes; ours is timed from the first probe to the summary computed from the
per-probe records, so the span holds everything the CLI prints. Rounds alternate between the two so the
machine's load hits both alike; the best round of each is compared. The CPU time each spent (user and
system, the kernel's share of every send and receive included) is shown beside it: on a busy shared
machine it is the steadier figure. Also shown: a bare Python loop
(sendto, recv_into, nothing else) as the interpreter's own ceiling on this machine.
Target: netstudy >= 0.5x iputils.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import select
import shutil
import subprocess
import sys
import time

from netstudy.icmp import Ping
from netstudy.net import IcmpSocket
from netstudy.wire.echo import EchoTemplate

TARGET = 0.5


def ours(count: int) -> tuple[float, float, str]:
    cpu = time.process_time()
    with Ping("127.0.0.1", count=count, interval=0) as session:
        started = time.perf_counter()
        for _ in session.run():
            pass
        s = session.summary()
        seconds = time.perf_counter() - started
    return seconds, time.process_time() - cpu, f"{s.received}/{s.transmitted} replies, avg rtt {s.avg_ms:.3f} ms"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def iputils(count: int) -> tuple[float, float, str]:
    cpu = _children_cpu()
    out = subprocess.run([shutil.which("ping") or "ping", "-f", "-q", "-c", str(count), "127.0.0.1"],
                         capture_output=True, text=True, check=True).stdout
    received = re.search(r"(\d+) received", out).group(1)
    avg = re.search(r"= [\d.]+/([\d.]+)/", out).group(1)
    return (int(re.search(r"time (\d+)ms", out).group(1)) / 1000, _children_cpu() - cpu,
            f"{received}/{count} replies, avg rtt {avg} ms")


def bare_loop(count: int) -> tuple[float, float, str]:
    """sendto + recv_into (waiting only when the reply is not there yet) and nothing else: no
    parsing, no records."""
    with IcmpSocket(4, "raw") as sock:
        template, buffer = EchoTemplate(sock.identifier, 56), bytearray(65536)
        raw, started, cpu = sock.sock, time.perf_counter(), time.process_time()
        for seq in range(1, count + 1):
            raw.sendto(template.request(seq), ("127.0.0.1", 0))
            try:
                raw.recv_into(buffer)
            except BlockingIOError:
                select.select([raw], [], [], 1.0)
                raw.recv_into(buffer)
        return time.perf_counter() - started, time.process_time() - cpu, "no parsing, no records"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/ping.py needs root: flood ping (interval 0) is root-only, for iputils and for us")
        return 2
    runners = {"netstudy.icmp": ours, "iputils ping -f": iputils, "bare Python loop": bare_loop}
    best: dict[str, tuple[float, float, str]] = {}
    for _ in range(args.rounds):
        for name, run in runners.items():
            seconds, cpu, note = run(args.count)
            old = best.get(name)
            best[name] = (min(seconds, old[0]) if old else seconds, min(cpu, old[1]) if old else cpu, note)
    print(f"flood ping of 127.0.0.1, {args.count} probes, best of {args.rounds} alternating rounds")
    print(f"  {'':<18} {'elapsed':>24}   {'CPU (user + system)':>22}")
    for name, (seconds, cpu, note) in best.items():
        print(f"  {name:<18} {args.count / seconds:>9,.0f} probes/s {seconds * 1e6 / args.count:6.1f} µs/probe"
              f"   {cpu * 1e6 / args.count:6.1f} µs/probe   ({note})")
    ratio = best["iputils ping -f"][0] / best["netstudy.icmp"][0]
    cpu_ratio = best["iputils ping -f"][1] / best["netstudy.icmp"][1]
    ceiling = best["iputils ping -f"][0] / best["bare Python loop"][0]
    print(f"netstudy / iputils = {ratio:.2f}x in probes per second (target >= {TARGET}x: "
          f"{'ok' if ratio >= TARGET else 'MISSED'}), {cpu_ratio:.2f}x in probes per CPU second; "
          f"the bare Python loop reaches {ceiling:.2f}x")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
