"""The highest packet rate each capture keeps up with, with no kernel drops: netstudy's TPACKET_V3 ring,
its recvfrom path and ``tcpdump -w /dev/null``, searched in the same run on a quiet loopback; the ratios.

    sudo .venv/bin/python benchmarks/sniff.py [--quick] [--rounds 3] [--seconds 3] [--start 5000]

The generator is ``benchmarks/loflood.c``, built with ``cc`` at the start (Debian/Ubuntu package ``gcc``):
60-byte UDP frames to 127.0.0.1 port 47000 through an AF_PACKET socket and the qdisc (the IP layer drops
them at once: see its comment), evenly paced at the rate asked (sendmmsg batches, never ahead of the
schedule), several hundred thousand a second on one core; ``--senders`` of them (default 2) share the
rate, so tcpdump's limit is measured and not a Python generator's. (trafgen's ``--rate`` sends each
second's frames in one burst at top speed; its ``--gap`` tops out near 15,000 a second.) The rate
reported is the one achieved: what the ``tx_packets`` counter of ``lo`` gained, divided by the seconds
the generator ran (a busy 2-core machine may fall short of the one asked). When two clean steps in a
row fall short (below 85% of the rate asked), the generator's ceiling is reached before the capture's:
the search stops there.

Everything runs in a network namespace of its own (``sniffbench-<pid>``, removed at the end), so its ``lo``
carries the generator's datagrams only. Each capture runs as a user runs it, with the same filter, snap
length and buffer (``netstudy sniff -i lo -s 262144 -B 2048 -w /dev/null --mechanism ring udp port 47000``,
the same with ``--mechanism recvfrom``, ``tcpdump -i lo -n -s 262144 -B 2048 -w /dev/null udp port 47000``);
it starts before the traffic, is interrupted after it, and its kernel counters are read from what it
prints at the end ("N packets received by filter", "N packets dropped by kernel": PACKET_STATISTICS). On
loopback the socket gets every datagram twice (out and in): both tools drop the outgoing copy, the
kernel counts both, so "received" is twice what was sent.

The search, for each capture in each round: rates rising by ``--factor`` from ``--start`` until the first
step with kernel drops, then up to ``--bisections`` steps between the highest rate achieved with no drops
and the lowest achieved with drops; the capture's drop-free rate is the first (each round also shows the
second). The machine is shared and noisy: each round searches every capture once, a step of each in turn
(a burst of load falls on all alike), and the median over the rounds is reported. When a capture never
drops before the generator reaches its ceiling, its figure is only a lower bound, and the benchmark says so.
Targets: the ring at least 0.5x tcpdump's drop-free rate and at least 5x recvfrom's.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 47000
SNAPLEN, BUFFER_KIB = 262144, 2048                 # tcpdump's defaults, given to both tools
FILTER = ["udp", "port", str(PORT)]
NETSTUDY = [sys.executable, "-m", "netstudy.cli", "sniff", "-i", "lo", "-s", str(SNAPLEN), "-B", str(BUFFER_KIB),
            "-w", "/dev/null"]
CAPTURES = {
    "ring": [*NETSTUDY, "--mechanism", "ring", *FILTER],
    "recvfrom": [*NETSTUDY, "--mechanism", "recvfrom", *FILTER],
    "tcpdump": ["tcpdump", "-i", "lo", "-n", "-s", str(SNAPLEN), "-B", str(BUFFER_KIB), "-w", "/dev/null", *FILTER],
}
GENERATOR = Path(__file__).with_name("loflood.c")
SATURATED = 0.85            # a clean step that achieved less than this share of the rate asked: the generator's ceiling

@dataclass(frozen=True)
class Step:
    """One capture at one rate: datagrams a second asked and achieved, the capture's kernel counters."""

    capture: str
    asked: float
    achieved: float
    received: int
    dropped: int
    cpu_s: float

    @property
    def clean(self) -> bool:
        return self.dropped == 0 and self.received > 0

    @property
    def cpu_per_datagram_us(self) -> float:
        """The capture's CPU time (user + system) while the traffic ran, a datagram: what it costs besides
        the kernel's work in the senders' context, the same for every capture."""
        return self.cpu_s / max(self.received // 2, 1) * 1e6

    def line(self) -> str:
        return (f"{self.capture:>9} {self.asked:>10.0f} {self.achieved:>11.0f} {2 * self.achieved:>10.0f} "
                f"{self.received:>10} {self.dropped:>9} {self.cpu_per_datagram_us:>8.2f}  "
                f"{'clean' if self.clean else 'DROPS'}")


HEADER = (f"{'capture':>9} {'asked/s':>10} {'achieved/s':>11} {'frames/s':>10} {'received':>10} {'dropped':>9} "
          f"{'cpu µs/d':>8}")


@dataclass(frozen=True)
class Search:
    """A capture's round: the highest rate achieved with no kernel drops, and the lowest achieved with
    drops (None: it never dropped, the generator's ceiling came first)."""

    best: float
    lowest_dropping: float | None
    cpu_us: float                   # the capture's CPU time a datagram at its best clean step

    @property
    def never_dropped(self) -> bool:
        return self.lowest_dropping is None

    def text(self) -> str:
        if self.lowest_dropping is None:
            return f"{self.best:.0f}+"
        return f"{self.best:.0f} (drops from {self.lowest_dropping:.0f})"


class Bench:
    """The namespace and the generator: :meth:`step` runs one capture at one rate."""

    def __init__(self, seconds: float, generator: str, senders: int) -> None:
        self.seconds, self.senders = seconds, senders
        self.generator = generator
        self.ns = f"sniffbench-{os.getpid()}"

    def __enter__(self) -> Bench:
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        try:
            subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "netns", "del", self.ns], check=False)

    def inside(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def sent(self) -> int:
        """Packets sent on the namespace's ``lo`` so far (each datagram once)."""
        out = subprocess.run(self.inside(["cat", "/sys/class/net/lo/statistics/tx_packets"]),
                             capture_output=True, text=True, check=True).stdout
        return int(out)

    def generate(self, rate: float) -> float:
        """Send ``rate`` datagrams a second for the step's seconds; the rate achieved."""
        before = self.sent()
        senders = [subprocess.Popen(self.inside([self.generator, f"{rate / self.senders:.0f}", str(self.seconds),
                                                 str(PORT)]), stdout=subprocess.PIPE, text=True)
                   for _ in range(self.senders)]
        taken = max(float(sender.communicate()[0].split()[1]) for sender in senders)
        return (self.sent() - before) / taken

    def step(self, capture: str, rate: float) -> Step:
        proc = subprocess.Popen(self.inside(CAPTURES[capture]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stderr is not None
        while "listening on" not in (line := proc.stderr.readline()):
            if not line:
                raise SystemExit(f"{capture} did not start: {proc.communicate()[1].strip()}")
        time.sleep(0.3)
        cpu = cpu_seconds(proc.pid)
        achieved = self.generate(rate)
        time.sleep(0.5)                     # the capture's last block retires
        cpu = cpu_seconds(proc.pid) - cpu
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
        received = re.search(r"(\d+) packets? received by filter", err)
        dropped = re.search(r"(\d+) packets? dropped by kernel", err)
        if received is None or dropped is None:
            raise SystemExit(f"{capture} printed no kernel counters:\n{err}")
        return Step(capture, rate, achieved, int(received.group(1)), int(dropped.group(1)), cpu)


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used so far (``utime``, ``stime`` of /proc/PID/stat,
    proc(5)). ``ip netns exec`` runs the capture in its own process, so the pid is the capture's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def search(start: float, factor: float, bisections: int) -> Generator[float, Step, Search]:
    """One capture's search, as a generator of the rates to try (each sent back its step): rates rising by
    ``factor`` from ``start`` (falling, if the first step drops) until a clean step and a dropping one
    bracket the limit, then up to ``bisections`` geometric steps between the highest rate achieved clean
    and the lowest achieved with drops: achieved rates, not the ones asked, which part near the
    generator's ceiling. Stops early when the two cross (the limit is lost in the machine's noise)."""
    steps: list[Step] = []
    rate, falling_short = start, False
    while True:
        step = yield rate
        steps.append(step)
        if step.clean:
            if any(not s.clean for s in steps):     # came down from a first step that dropped
                break
            short = step.achieved < SATURATED * rate
            if short and falling_short:             # twice in a row: the generator's ceiling, not a passing load
                return outcome(steps)
            falling_short = short
            rate *= factor
        else:
            if any(s.clean for s in steps) or rate < 100:
                break
            rate /= factor
    for _ in range(bisections):
        found = outcome(steps)
        if found.lowest_dropping is None or found.lowest_dropping <= found.best:
            break
        steps.append((yield math.sqrt(found.best * found.lowest_dropping)))
    return outcome(steps)


def interleaved(bench: Bench, names: list[str], start: float, factor: float, bisections: int) -> dict[str, Search]:
    """One round: every capture's search, a step of each in turn, so a burst of load on the shared
    machine falls on all of them alike."""
    searches = {name: search(start, factor, bisections) for name in names}
    rates = {name: next(searcher) for name, searcher in searches.items()}
    found: dict[str, Search] = {}
    while rates:
        for name in list(rates):
            step = bench.step(name, rates[name])
            print(step.line(), flush=True)
            try:
                rates[name] = searches[name].send(step)
            except StopIteration as done:
                found[name] = done.value
                del rates[name]
    return found


def outcome(steps: list[Step]) -> Search:
    best = max((s for s in steps if s.clean), key=lambda s: s.achieved, default=None)
    return Search(best.achieved if best else 0.0, min((s.achieved for s in steps if not s.clean), default=None),
                  best.cpu_per_datagram_us if best else math.nan)


def report(results: dict[str, list[Search]]) -> None:
    """The median drop-free rate of each capture over the rounds, and the ratios against the targets."""
    median = {name: statistics.median(s.best for s in searches) for name, searches in results.items()}
    unbounded = {name for name, searches in results.items() if any(s.never_dropped for s in searches)}
    rounds = len(next(iter(results.values())))
    print(f"\ndrop-free rate, median of {rounds} round(s) (datagrams/s; frames/s on lo is twice that):")
    for name, searches in results.items():
        each = ", ".join(s.text() for s in searches)
        print(f"  {name:>9}: {median[name]:>9.0f}{'+' if name in unbounded else ' '}  (rounds: {each})")
    if unbounded:
        print("  +: never dropped, the generator's ceiling reached first: a lower bound, not the capture's limit")
    if any(s.lowest_dropping is not None and s.lowest_dropping <= s.best for ss in results.values() for s in ss):
        print("  a round whose drops came below its drop-free rate: near the limit the machine's load decides")
    cpu = {name: statistics.median(s.cpu_us for s in searches) for name, searches in results.items()}
    print("CPU time a datagram at the drop-free rate, median (the capture's user + system time while the traffic "
          "ran; the kernel's work of filling its buffer runs in the senders' and is not in it):")
    print("  " + ", ".join(f"{name} {us:.2f} µs" for name, us in cpu.items()))
    for name, target in (("tcpdump", 0.5), ("recvfrom", 5.0)):
        if "ring" not in median or name not in median:
            continue
        if not median[name]:
            print(f"ring / {name}: no drop-free rate for {name}")
            continue
        ratio = median["ring"] / median[name]
        verdict = "meets" if ratio >= target else "misses"
        print(f"ring / {name:<8}: {ratio:5.2f}x  (target >= {target}: {verdict} it)")
        if name in unbounded and "ring" not in unbounded:
            print(f"  {name} never dropped: the ratio is an upper bound")
        elif "ring" in unbounded and name not in unbounded:
            print("  the ring never dropped: the ratio is a lower bound")
        elif "ring" in unbounded:
            print(f"  neither the ring nor {name} dropped: the ratio says nothing of their limits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="searches of every capture (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of traffic a step (default %(default)s)")
    parser.add_argument("--start", type=float, default=5000, help="first rate, datagrams/s (default %(default)s)")
    parser.add_argument("--factor", type=float, default=2.0, help="rising rates' factor (default %(default)s)")
    parser.add_argument("--bisections", type=int, default=4, help="steps after the first drops (default %(default)s)")
    parser.add_argument("--senders", type=int, default=2,
                        help="generator processes sharing the rate (default %(default)s)")
    parser.add_argument("--captures", default=",".join(CAPTURES),
                        help="which captures, comma-separated (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="one round, 1.5-second steps, 2 bisections")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.bisections = 1, 1.5, 2
    if os.geteuid() != 0:
        raise SystemExit("needs root: AF_PACKET sockets and a network namespace")
    for tool, package in (("cc", "gcc"), ("tcpdump", "tcpdump")):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install it (apt-get install {package})")
    names = args.captures.split(",")
    if unknown := set(names) - set(CAPTURES):
        raise SystemExit(f"unknown capture(s) {', '.join(sorted(unknown))}: choose among {', '.join(CAPTURES)}")
    results: dict[str, list[Search]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="sniffbench-") as build:
        generator = str(Path(build) / "loflood")
        subprocess.run(["cc", "-O2", "-o", generator, str(GENERATOR)], check=True)
        with Bench(args.seconds, generator, args.senders) as bench:
            for number in range(1, args.rounds + 1):
                print(f"\nround {number}/{args.rounds}, {args.seconds:g} s a step\n{HEADER}", flush=True)
                for name, found in interleaved(bench, names, args.start, args.factor, args.bisections).items():
                    results[name].append(found)
    report(results)


if __name__ == "__main__":
    main()
