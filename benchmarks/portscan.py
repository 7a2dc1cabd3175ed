"""A full 65,535-port scan of 127.0.0.1 with ~20 listeners: netstudy's connect scan beside
`nmap -n -Pn -sT -p- -T5`, and its SYN scan beside `nmap -n -Pn -sS -p- -T5`, in one run.

    sudo .venv/bin/python benchmarks/portscan.py [--listeners 20] [--rounds 3]

Ours is timed as the CLI runs it (`netstudy portscan 127.0.0.1 -p- -sT`, a fresh interpreter: import,
reading nmap-services and all), nmap as the shell runs it. Rounds alternate between the tools; the best
round of each is compared. The open sets must be identical (and hold every listener we opened).
Targets: connect scan at least 2x nmap's speed (ours <= 0.5x its time); SYN scan at least nmap's speed.
"""
from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import time

NETSTUDY = [sys.executable, "-m", "netstudy.cli", "portscan", "127.0.0.1", "-p-"]


def open_ours(out: str) -> set[int]:
    return {int(m) for m in re.findall(r"^(\d+)/tcp\s+open\s", out, re.MULTILINE)}


def open_nmap(out: str) -> set[int]:
    return {int(m) for m in re.findall(r"Ports: (.*)", out) for m in re.findall(r"(\d+)/open/tcp", m)}


def timed(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    nmap = shutil.which("nmap")
    if nmap is None:
        print("needs nmap (apt-get install nmap)", file=sys.stderr)
        return 2
    listeners = []
    for _ in range(args.listeners):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        listeners.append(s)
    ours_wanted = {s.getsockname()[1] for s in listeners}
    runs = {
        "connect": (NETSTUDY + ["-sT"], [nmap, "-n", "-Pn", "-sT", "-p-", "-T5", "-oG", "-", "127.0.0.1"]),
        "syn": (NETSTUDY + ["-sS"], [nmap, "-n", "-Pn", "-sS", "-p-", "-T5", "-oG", "-", "127.0.0.1"]),
    }
    failed = False
    for kind, (ours_argv, nmap_argv) in runs.items():
        best: dict[str, float] = {}
        sets: dict[str, set[int]] = {}
        for _ in range(args.rounds):
            for tool, argv, reader in (("netstudy", ours_argv, open_ours), ("nmap", nmap_argv, open_nmap)):
                elapsed, out = timed(argv)
                best[tool] = min(best.get(tool, elapsed), elapsed)
                found = reader(out)
                sets.setdefault(tool, found)
                if found != sets[tool]:                       # someone else opened or closed a port meanwhile
                    sets[tool] &= found
        same = sets["netstudy"] == sets["nmap"] and ours_wanted <= sets["netstudy"]
        ratio = best["nmap"] / best["netstudy"]
        target = 2.0 if kind == "connect" else 1.0
        print(f"{kind:8} netstudy {best['netstudy']:.2f} s   nmap -T5 {best['nmap']:.2f} s   "
              f"speed ratio {ratio:.2f}x (target >= {target:g}x)   open sets identical: {same} "
              f"({len(sets['netstudy'])} ports)")
        failed |= not same or ratio < target
    for s in listeners:
        s.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
