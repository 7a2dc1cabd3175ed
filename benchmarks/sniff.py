"""Capture at rising packet rates on a quiet loopback: netstudy's TPACKET_V3 ring, its recvfrom path and
`tcpdump -w /dev/null`, each with the same kernel filter, at each rate in one run; the highest rate
each captures with no kernel drops, and the ratios.

    sudo .venv/bin/python benchmarks/sniff.py [--rates 5000,10000,...] [--seconds 2] [--senders 2]

Everything runs in a network namespace of its own (``sniff-bench-<pid>``, removed at the end), so its
``lo`` carries only the generator's datagrams: ``--senders`` processes each sending small UDP datagrams
to one port at a paced share of the rate (a bound socket there that never reads, so no ICMP comes back);
the rate reported is what they sent divided by the seconds of traffic.
Each capture runs as the CLI runs (``netstudy sniff -i lo -w /dev/null udp port P`` and
``tcpdump -i lo -w /dev/null udp port P``), is started before the traffic and interrupted after it,
and its kernel counters are read from what it prints ("N packets received by filter", "N packets
dropped by kernel", from PACKET_STATISTICS). On loopback the kernel counts each datagram twice (out
and in). The rates are the generator's achieved ones (it is paced; on a busy 2-core machine it may fall
short of the one asked). Targets: the ring at least 0.5x tcpdump's drop-free rate, at least 5x recvfrom's.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 47000
NETSTUDY = [sys.executable, "-m", "netstudy.cli", "sniff", "-i", "lo", "-w", "/dev/null"]
CAPTURES = {
    "ring": [*NETSTUDY, "--mechanism", "ring", "udp", "port", str(PORT)],
    "recvfrom": [*NETSTUDY, "--mechanism", "recvfrom", "udp", "port", str(PORT)],
    "tcpdump": ["tcpdump", "-i", "lo", "-n", "-w", "/dev/null", "udp", "port", str(PORT)],
}

# one sender: `rate` datagrams a second for `seconds`, paced in 1 ms ticks; prints how many it sent
SENDER = r"""
import socket, sys, time
rate, seconds, port = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sendto, target, payload = sock.sendto, ("127.0.0.1", port), b"x" * 18
start = time.perf_counter(); sent = 0
while True:
    now = time.perf_counter() - start
    if now >= seconds:
        break
    due = int(rate * now) + 1
    while sent < due:
        try:
            sendto(payload, target)
        except OSError:
            pass
        sent += 1
    if sent >= rate * (time.perf_counter() - start):
        time.sleep(0.0005)
print(sent)
"""
SINK = r"""
import socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sock.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
time.sleep(3600)
"""


def inside(ns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def capture(ns: str, name: str, rate: float, seconds: float, senders: int) -> tuple[float, int, int]:
    """(achieved datagrams a second, received by filter, dropped by kernel) of one capture at one rate."""
    proc = subprocess.Popen(inside(ns, CAPTURES[name]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=environment())
    assert proc.stderr is not None
    while "listening on" not in (line := proc.stderr.readline()):
        if not line:
            raise SystemExit(f"{name} did not start")
    time.sleep(0.3)
    generators = [subprocess.Popen(inside(ns, [sys.executable, "-c", SENDER, str(rate / senders), str(seconds),
                                               str(PORT)]), stdout=subprocess.PIPE, text=True)
                  for _ in range(senders)]
    achieved = sum(int(g.communicate()[0]) for g in generators) / seconds
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    received = int(re.search(r"(\d+) packets? received by filter", err).group(1))   # type: ignore[union-attr]
    dropped = int(re.search(r"(\d+) packets? dropped by kernel", err).group(1))     # type: ignore[union-attr]
    return achieved, received, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2500,5000,10000,20000,40000,60000,80000,100000",
                        help="datagrams a second to try, comma-separated (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of traffic at each rate")
    parser.add_argument("--senders", type=int, default=2, help="sending processes")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: AF_PACKET sockets and a network namespace")
    ns = f"sniff-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    sink = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        sink = subprocess.Popen(inside(ns, [sys.executable, "-c", SINK, str(PORT)]), stdout=subprocess.PIPE, text=True)
        assert sink.stdout is not None
        sink.stdout.readline()
        best: dict[str, float] = dict.fromkeys(CAPTURES, 0.0)
        print(f"{'rate asked':>10} {'capture':>9} {'achieved/s':>11} {'frames/s':>9} {'received':>9} "
              f"{'dropped':>8}")
        for rate in (float(r) for r in args.rates.split(",")):
            for name in CAPTURES:
                achieved, received, dropped = capture(ns, name, rate, args.seconds, args.senders)
                print(f"{rate:>10.0f} {name:>9} {achieved:>11.0f} {2 * achieved:>9.0f} {received:>9} {dropped:>8}",
                      flush=True)
                if dropped == 0 and received > 0:
                    best[name] = max(best[name], achieved)
        print()
        for name, value in best.items():
            print(f"highest drop-free rate, {name:>9}: {value:>9.0f} datagrams/s ({2 * value:.0f} frames/s on lo)")
        if best["tcpdump"]:
            print(f"ring / tcpdump:  {best['ring'] / best['tcpdump']:.2f}x   (target >= 0.5)")
        if best["recvfrom"]:
            print(f"ring / recvfrom: {best['ring'] / best['recvfrom']:.2f}x   (target >= 5)")
    finally:
        if sink is not None:
            sink.kill()
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
