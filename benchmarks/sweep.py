"""A /24 sweep in the lab: netstudy's ICMP sweep beside `fping -g` and `nmap -sn`, in one run.

    sudo .venv/bin/python benchmarks/sweep.py [--hosts 40] [--silent 3] [--rounds 3]

The lab's `lan` holds ``--hosts`` hosts on 10.0.0.0/24 (every fourth address empty, the last
``--silent`` dropping ICMP echo); each sweep runs in the scanner's namespace. Ours is timed as the CLI
runs it (`netstudy sweep 10.0.0.0/24`, a fresh interpreter: import and all), with its defaults (1000
probes/s, 0.5 s wait, one retry waiting 1.5× longer); fping with its defaults (`fping -a -q -g`: 500 ms
wait, 3 retries, back-off 1.5); nmap with ICMP echo only (`nmap -sn -n -PE --disable-arp-ping`; plain
`nmap -sn` on a LAN uses ARP, which finds the ICMP-silent hosts too, so it is timed separately beside
our ARP sweep). The live sets must be identical. Rounds alternate between the tools; the best round of
each is compared. Target: ours <= 0.5x fping's wall time and <= 1x nmap's.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time

from netstudy.lab import Lab

SUBNET = "10.0.0.0/24"
NETSTUDY = [sys.executable, "-m", "netstudy.cli", "sweep", SUBNET]


def alive_netstudy(out: str) -> set[str]:
    return {line.split()[0] for line in out.splitlines()[:-1]}


def alive_fping(out: str) -> set[str]:
    return set(out.split())


def alive_nmap(out: str) -> set[str]:
    return set(re.findall(r"^Host: (\S+) .*Status: Up", out, re.MULTILINE))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--silent", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fping, nmap = shutil.which("fping"), shutil.which("nmap")
    if fping is None or nmap is None:
        print("needs fping and nmap (apt-get install fping nmap)", file=sys.stderr)
        return 2
    runs = {
        "netstudy sweep (icmp)": (NETSTUDY, alive_netstudy),
        "fping -a -q -g": ([fping, "-a", "-q", "-g", SUBNET], alive_fping),
        "nmap -sn -PE --disable-arp-ping": ([nmap, "-sn", "-n", "-PE", "--disable-arp-ping", "-oG", "-", SUBNET],
                                            alive_nmap),
        "netstudy sweep --method arp": ([*NETSTUDY, "--method", "arp"], alive_netstudy),
        "nmap -sn (ARP on a LAN)": ([nmap, "-sn", "-n", "-oG", "-", SUBNET], alive_nmap),
    }
    best: dict[str, float] = {}
    found: dict[str, set[str]] = {}
    with Lab("lan", hosts=args.hosts, silent=args.silent) as lab:
        print(f"lab lan: {args.hosts} hosts on {SUBNET}, {len(lab.absent)} empty addresses among them, "
              f"{args.silent} dropping ICMP; {args.rounds} rounds")
        for _ in range(args.rounds):
            for name, (argv, parse) in runs.items():
                started = time.perf_counter()
                out = lab.run("scanner", argv, timeout=120)
                seconds = time.perf_counter() - started
                best[name] = min(best.get(name, seconds), seconds)
                alive = parse(out.stdout)
                if found.setdefault(name, alive) != alive:
                    print(f"{name}: the live set changed between rounds", file=sys.stderr)
                    return 1
    for name, seconds in best.items():
        print(f"{name:34} {seconds:6.2f} s  {len(found[name]):3} hosts up")
    icmp = found["netstudy sweep (icmp)"]
    same_icmp = icmp == found["fping -a -q -g"] == found["nmap -sn -PE --disable-arp-ping"]
    same_arp = found["netstudy sweep --method arp"] == found["nmap -sn (ARP on a LAN)"]
    print(f"ICMP live sets identical (netstudy, fping, nmap -PE): {same_icmp}; "
          f"ARP live sets identical (netstudy, nmap): {same_arp}; "
          f"ARP finds {len(found['netstudy sweep --method arp'] - icmp)} ICMP-silent hosts")
    ours = best["netstudy sweep (icmp)"]
    to_fping, to_nmap = ours / best["fping -a -q -g"], ours / best["nmap -sn -PE --disable-arp-ping"]
    arp_ratio = best["netstudy sweep --method arp"] / best["nmap -sn (ARP on a LAN)"]
    print(f"netstudy/fping = {to_fping:.2f}x (target <= 0.5x: {'met' if to_fping <= 0.5 else 'NOT met'}); "
          f"netstudy/nmap -PE = {to_nmap:.2f}x (target <= 1x: {'met' if to_nmap <= 1 else 'NOT met'}); "
          f"ARP: netstudy/nmap = {arp_ratio:.2f}x")
    return 0 if same_icmp and same_arp else 1


if __name__ == "__main__":
    sys.exit(main())
