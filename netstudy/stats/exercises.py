"""Notebook 08's checks: each runs the student's function on cases with known answers and says what
is wrong without giving the answer away."""
from __future__ import annotations

from collections.abc import Callable

MOD = 2**32


def check_relative_sequence(relative: Callable[[list[int]], list[int]]) -> str:
    """Exercise 1: ``relative(seqs)`` -> each raw sequence number of one side of a connection minus that
    side's first (its ISN), as Wireshark shows them: modulo 2**32 (RFC 9293 §3.4)."""
    cases = [[1000, 1001, 1101, 1201], [MOD - 10, MOD - 9, 40, 1490], [7, 7, 7]]
    for seqs in cases:
        want = [(s - seqs[0]) % MOD for s in seqs]
        try:
            got = relative(list(seqs))
        except Exception as exc:             # the student's bug, reported as a hint
            raise AssertionError(f"relative({seqs}) raised {type(exc).__name__}: {exc}") from None
        if got is None or list(got) != want:
            hint = ("sequence numbers wrap around at 2**32: what does a negative difference mean?"
                    if any(s < seqs[0] for s in seqs) else "each number minus the first one")
            raise AssertionError(f"relative({seqs}) = {got}: {hint}")
    return "✓ check_relative_sequence: all 3 runs of segments numbered as Wireshark numbers them"


def check_io_counts(io_counts: Callable[[list[float], list[int], float], list[tuple[int, int]]]) -> str:
    """Exercise 2: ``io_counts(times_s, lengths, interval_s)`` -> (frames, bytes) for each interval from
    the first frame's time to the last frame's interval, empty intervals included (``tshark -z io,stat``)."""
    cases = [([0.0, 0.2, 0.9, 1.1, 3.5], [60, 60, 1500, 60, 100], 1.0), ([10.0, 10.05, 10.3], [100, 200, 300], 0.1)]
    for times, lengths, interval in cases:
        step = round(interval * 1e9)
        origin = round(times[0] * 1e9)
        slots = [(round(t * 1e9) - origin) // step for t in times]
        want = [(slots.count(i), sum(n for s, n in zip(slots, lengths, strict=True) if s == i))
                for i in range(max(slots) + 1)]
        try:
            got = io_counts(list(times), list(lengths), interval)
        except Exception as exc:
            raise AssertionError(f"io_counts(..., {interval}) raised {type(exc).__name__}: {exc}") from None
        got = [(row[0], row[1]) for row in got or []]
        if got != want:
            hint = ("count from the first frame's time, not from 0" if len(got) > len(want)
                    else "keep the empty intervals too" if len(got) < len(want)
                    else "which interval does a frame at exactly the edge belong to?")
            raise AssertionError(f"io_counts for {len(times)} frames every {interval} s gave {len(got)} rows: {hint}")
    return "✓ check_io_counts: both captures counted per interval as tshark counts them"
