"""Reference answers to notebook 08's exercises (shown on demand; they never define a student's name)."""
from __future__ import annotations


def solution_relative(seqs: list[int]) -> list[int]:
    """Each sequence number minus the first, modulo 2**32 (sequence space wraps: RFC 9293 §3.4)."""
    return [(s - seqs[0]) % 2**32 for s in seqs]


def solution_io_counts(times_s: list[float], lengths: list[int], interval_s: float) -> list[tuple[int, int]]:
    """Frames and bytes per interval, counted in integer nanoseconds from the first frame."""
    step, origin = round(interval_s * 1e9), round(times_s[0] * 1e9)
    slots = [(round(t * 1e9) - origin) // step for t in times_s]
    rows = [[0, 0] for _ in range(max(slots) + 1)]
    for slot, length in zip(slots, lengths, strict=True):
        rows[slot][0] += 1
        rows[slot][1] += length
    return [(frames, size) for frames, size in rows]
