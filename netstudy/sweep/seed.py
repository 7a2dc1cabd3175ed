"""The course's original network scanner, kept as notebook 03's first lesson: ``argparse`` for the
command line, ``subprocess`` to run a ping program once for every address of the network, one after
the other, then the same with a pool of processes.

    python -m netstudy.sweep.seed 10.0.0.0/28 --timeout 1 --workers 32
    python -m netstudy.sweep.seed 10.0.0.10 10.0.0.11 10.0.0.12

Each silent address costs a whole timeout, so a quiet /24 takes 254 timeouts in turn; the pool divides
that by the number of workers, at the price of one process per address. The ping program is
``netstudy ping -c 1 -W TIMEOUT -n ADDRESS`` (run as ``python -m netstudy.cli``), whose exit status is
0 when the reply came (iputils' ping behaves the same: ``--ping ping``). Standard library only.
"""
from __future__ import annotations

import argparse
import ipaddress
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

PING = [sys.executable, "-m", "netstudy.cli", "ping"]


def ping_command(address: str, timeout: float, ping: list[str] | None = None) -> list[str]:
    """The argv that pings ``address`` once, waiting ``timeout`` seconds for the reply."""
    return [*(ping or PING), "-c", "1", "-W", f"{timeout:g}", "-n", address]


def is_alive(address: str, timeout: float = 1.0, ping: list[str] | None = None) -> bool:
    """Ping ``address`` once in a child process: alive when ping exits with status 0."""
    done = subprocess.run(ping_command(address, timeout, ping), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=timeout + 30)
    return done.returncode == 0


def addresses(network: str) -> list[str]:
    """The host addresses of ``network`` (``10.0.0.0/24`` -> 10.0.0.1 ... 10.0.0.254), or one address."""
    net = ipaddress.ip_network(network, strict=False)
    return [str(a) for a in (net.hosts() if net.num_addresses > 2 else net)]


def scan(targets: list[str], timeout: float = 1.0, ping: list[str] | None = None) -> list[str]:
    """The live addresses among ``targets``, pinged one after the other."""
    return [address for address in targets if is_alive(address, timeout, ping)]


def scan_pool(targets: list[str], timeout: float = 1.0, workers: int = 32, ping: list[str] | None = None) -> list[str]:
    """The same, with ``workers`` processes pinging at once."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        alive = list(pool.map(is_alive, targets, [timeout] * len(targets), [ping] * len(targets)))
    return [address for address, up in zip(targets, alive, strict=True) if up]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Find the live hosts of a network by pinging each address.")
    parser.add_argument("networks", nargs="+", help="networks in CIDR notation, e.g. 10.0.0.0/24, or addresses")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for each reply (default 1)")
    parser.add_argument("--workers", type=int, default=0, help="ping this many addresses at once (default: one by one)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    targets = [address for network in args.networks for address in addresses(network)]
    alive = scan_pool(targets, args.timeout, args.workers) if args.workers else scan(targets, args.timeout)
    for address in alive:
        print(f"{address} is up")
    print(f"{len(alive)} hosts up of {len(targets)} scanned in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
