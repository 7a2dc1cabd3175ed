"""The course's original port scanner, kept as notebook 04's first lesson: ``argparse`` for the command
line and one thread per port, each a blocking ``connect()`` with a timeout.

    python -m netstudy.portscan.seed 127.0.0.1 -p 1-1024 --timeout 1

A full range starts 65,535 threads (each with its own stack), and on loopback it meets TCP
self-connect: when the kernel picks a source port equal to the port being scanned, the socket connects
to itself (simultaneous open) and the port is reported open although nobody listens. Standard library only.
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time


def is_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Try a full TCP connect to ``host``:``port``: open when it succeeds."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        return sock.connect_ex((host, port)) == 0
    finally:
        sock.close()


def scan(host: str, ports: range | list[int], timeout: float = 1.0) -> tuple[list[int], int, int]:
    """One thread per port; returns (open ports, threads started, threads that failed to start or run)."""
    found: list[int] = []
    failures = 0
    lock = threading.Lock()

    def worker(port: int) -> None:
        nonlocal failures
        try:
            if is_open(host, port, timeout):
                with lock:
                    found.append(port)
        except OSError:                       # e.g. "Too many open files"
            with lock:
                failures += 1

    threads = []
    for port in ports:
        thread = threading.Thread(target=worker, args=(port,))
        try:
            thread.start()
        except RuntimeError:                  # "can't start new thread"
            failures += 1
            continue
        threads.append(thread)
    for thread in threads:
        thread.join()
    return sorted(found), len(threads), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scan TCP ports, one thread per port.")
    parser.add_argument("host")
    parser.add_argument("-p", "--ports", default="1-1024", help="a range, e.g. 1-1024")
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args(argv)
    low, _, high = args.ports.partition("-")
    started = time.perf_counter()
    found, threads, failures = scan(args.host, range(int(low), int(high or low) + 1), args.timeout)
    for port in found:
        print(f"port {port} is open")
    print(f"{threads} threads, {failures} failures, {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
