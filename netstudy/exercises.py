"""Checks for the exercises of notebooks/00_start_here.ipynb: each says what is right, or what to look at
without giving the answer away; and :func:`reveal`, which every notebook's solution cells use to show a
reference answer from a program's ``solutions.py`` without binding the student's name."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from netstudy.wire.checksum import internet_checksum

# inputs that catch the usual mistakes: odd lengths, carries to fold, all ones ("negative zero")
_CHECKSUM_CASES: list[tuple[bytes, str]] = [
    (bytes.fromhex("4500001c000100004001"), "an IPv4 header's first 10 bytes"),
    (bytes.fromhex("0001f203f4f5f6f7"), "the example of RFC 1071 §3"),
    (bytes.fromhex("ffff0001"), "words whose sum carries out of 16 bits"),
    (bytes.fromhex("abcdef"), "an odd number of bytes"),
    (b"", "no bytes at all"),
    (bytes.fromhex("ffffffff"), "only ones"),
]


def check_checksum(fn: Callable[[bytes], int]) -> str:
    """Test a student's RFC 1071 checksum function on the cases that catch the classic mistakes."""
    for data, what in _CHECKSUM_CASES:
        expected = internet_checksum(data)
        try:
            got = fn(data)
        except Exception as exc:  # the student's code may fail in any way; say how, kindly
            return f"✗ your function raised {type(exc).__name__}: {exc} on {what} ({data.hex() or 'empty'})"
        if got != expected:
            hint = ""
            if len(data) % 2:
                hint = " — with an odd length, pad a zero byte at the END (RFC 1071 §4.1)"
            elif got == (~expected & 0xFFFF):
                hint = " — that is the sum itself: the checksum is its one's complement (~sum & 0xFFFF)"
            elif isinstance(got, int) and got > 0xFFFF:
                hint = " — fold the carries back in: while s >> 16: s = (s & 0xFFFF) + (s >> 16)"
            return f"✗ for {what} ({data.hex() or 'empty'}) you returned {got!r}, expected 0x{expected:04x}{hint}"
    return f"✓ right on all {len(_CHECKSUM_CASES)} cases, odd lengths and carries included"


def check_answer(name: str, answer: object, expected: object, hint: str = "") -> str:
    """Compare one answer read off a diagram or a table with the value the package decoded. A wrong answer's
    message repeats what the student said and the hint, never the expected value."""
    if answer == expected:
        return f"✓ {name} is {expected!r}"
    if answer is None:
        return f"✗ {name}: no answer yet" + (f" — {hint}" if hint else "")
    return f"✗ {name}: {answer!r} is not what the packet says" + (f" — {hint}" if hint else "")


def reveal(solution: object, check: Callable[[Any], str] | None = None, helpers: tuple[object, ...] = ()) -> None:
    """Print a reference answer's source (from a program's ``solutions.py``), after the helpers it calls,
    and, given the exercise's check, the check's verdict on it. Nothing is bound in the caller's namespace,
    so a solution cell that calls this leaves the student's own function or class in place ("Run All"
    shows the student's verdict above and the reference's here)."""
    for shown in (*helpers, solution):
        print(f"# {getattr(shown, '__module__', '?')}.{getattr(shown, '__qualname__', shown)!s}")
        print(inspect.getsource(shown).rstrip())      # type: ignore[arg-type]  # a function or class
        print()
    if check is not None:
        print(check(solution))
