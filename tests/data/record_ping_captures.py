"""Record the captures notebooks/02_ping.ipynb falls back on when it may not send ICMP itself.

    sudo .venv/bin/python tests/data/record_ping_captures.py

tcpdump records netstudy's own probes: a loopback ping, and in the lab's `routed` topology (scanner
10.0.1.2 - r1 - r2 - target 10.0.3.10) a ping of target, a ping with TTL 1 (time exceeded from r1), a ping of an absent
host (host unreachable from r2, after its ARP gives up), and an ICMP traceroute. Captured on the
scanner's side, so each file holds the probes and their answers and nothing else.
"""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from netstudy.lab import Lab

OUT = Path(__file__).resolve().parents[2] / "netstudy" / "data" / "captures"
NETSTUDY = [sys.executable, "-m", "netstudy.cli"]
LAB_RUNS = {
    "lab_ping_target.pcap": ["ping", "-c", "3", "-i", "0.2", "10.0.3.10"],    # as notebook 02 runs them live
    "lab_ttl_exceeded.pcap": ["ping", "-c", "3", "-i", "0.2", "-t", "1", "10.0.3.10"],
    "lab_host_unreachable.pcap": ["ping", "-c", "3", "-i", "0.2", "-W", "5", "10.0.3.99"],
    "lab_traceroute.pcap": ["traceroute", "10.0.3.10"],
}


def capture(start: Callable[[list[str]], subprocess.Popen], path: Path, interface: str,
            run: Callable[[], subprocess.CompletedProcess]) -> None:
    """tcpdump on ``interface`` (started by ``start(argv)``) while ``run()`` runs, into ``path``."""
    tcpdump = start(["tcpdump", "-i", interface, "-n", "--immediate-mode", "-U", "-s", "256", "-w", str(path),
                     "icmp"])
    assert "listening on" in tcpdump.stderr.readline()
    try:
        print(run().stdout)
        time.sleep(0.3)
    finally:
        tcpdump.terminate()
        tcpdump.wait(timeout=10)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    def popen(argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)

    capture(popen, OUT / "loopback_ping.pcap", "lo",
            lambda: subprocess.run([*NETSTUDY, "ping", "-c", "40", "-i", "0.01", "127.0.0.1"],
                                   capture_output=True, text=True, check=True))
    with Lab("routed") as lab:
        for name, argv in LAB_RUNS.items():
            capture(lambda a: lab.popen("scanner", a, stderr=subprocess.PIPE, text=True), OUT / name, "eth0",
                    lambda argv=argv: lab.run("scanner", [*NETSTUDY, *argv], timeout=60))
    for path in sorted(OUT.glob("*.pcap")):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
