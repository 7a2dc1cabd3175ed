"""The Internet checksum: netstudy's arithmetic version against the textbook loop, in one run.

    python benchmarks/checksum.py

Both compute RFC 1071's checksum; the test suite proves they agree on every length. The textbook loop
adds 16-bit words one at a time in Python; ``internet_checksum`` reads the buffer as one integer and
reduces it modulo 0xFFFF (2**16 ≡ 1), so the work happens in C. Targets: ≥ 20× on a 1,500-byte packet,
≥ 25× on 1 MiB.
"""
from __future__ import annotations

import os
import sys
import timeit

from netstudy.wire.checksum import internet_checksum, internet_checksum_loop


def per_call(fn, data: bytes, budget_s: float = 0.6) -> float:
    """Seconds per call: the best of 5 repeats of as many calls as fit in about ``budget_s``."""
    timer = timeit.Timer(lambda: fn(data))
    number, _ = timer.autorange()
    number = max(1, int(number * budget_s / 0.2 / 5))
    return min(timer.repeat(5, number)) / number


def main() -> int:
    targets = {1500: 20.0, 1 << 20: 25.0}
    failed = False
    print(f"{'buffer':>12} {'textbook loop':>16} {'netstudy':>14} {'ratio':>8}  target")
    for size, target in targets.items():
        data = os.urandom(size)
        assert internet_checksum(data) == internet_checksum_loop(data)
        loop = per_call(internet_checksum_loop, data)
        fast = per_call(internet_checksum, data)
        ratio = loop / fast
        failed |= ratio < target
        print(f"{size:>10} B {loop * 1e6:>13.1f} µs {fast * 1e6:>11.2f} µs {ratio:>7.0f}×  ≥ {target:.0f}×"
              f" {'ok' if ratio >= target else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
