"""Checks for the exercises of notebooks/02_ping.ipynb (ping and traceroute): each says what is right, or
what to look at."""
from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable, Sequence

from netstudy.wire.icmp import ICMPEcho

# (identifier, sequence, payload, what the case catches)
_ECHO_CASES: list[tuple[int, int, bytes, str]] = [
    (0x1234, 1, bytes(range(16, 56)), "a request like ping's"),
    (0xFFFF, 0xFFFF, b"\xff\xff\xff\xff", "words whose sum carries out of 16 bits"),
    (7, 300, b"abc", "an odd number of payload bytes"),
    (0, 0, b"", "no payload at all"),
]


def check_echo_request(fn: Callable[[int, int, bytes], bytes]) -> str:
    """Test a student's ``echo_request(identifier, sequence, payload) -> bytes`` against netstudy.wire."""
    for identifier, sequence, payload, what in _ECHO_CASES:
        expected = bytes(ICMPEcho(identifier=identifier, sequence=sequence) / payload)
        try:
            got = bytes(fn(identifier, sequence, payload))
        except Exception as exc:  # the student's code may fail in any way; say how, kindly
            return f"✗ your function raised {type(exc).__name__}: {exc} on {what}"
        if got == expected:
            continue
        where = f"for {what} (identifier {identifier}, sequence {sequence})"
        if len(got) != len(expected):
            return (f"✗ {where} you returned {len(got)} bytes, expected {len(expected)}: 8 bytes of header "
                    f"(type, code, checksum, identifier, sequence), then the payload as it is")
        if got[:2] != expected[:2]:
            return f"✗ {where} type and code are {got[0]}, {got[1]}: an echo REQUEST is type 8, code 0 (RFC 792)"
        if got[4:] != expected[4:]:
            return (f"✗ {where} the identifier, sequence or payload bytes differ: pack them in network byte "
                    f"order (struct format '!HH'), and append the payload unchanged")
        mine, right = struct.unpack("!H", got[2:4])[0], struct.unpack("!H", expected[2:4])[0]
        if mine == 0:
            return f"✗ {where} the checksum is 0: compute it over the message (checksum field 0), then put it in"
        if mine == (~right & 0xFFFF):
            return f"✗ {where} 0x{mine:04x} is the sum itself: the checksum is its complement, ~sum & 0xFFFF"
        if mine == int.from_bytes(right.to_bytes(2, "big"), "little"):
            return f"✗ {where} the checksum's bytes are swapped: pack it big-endian, struct.pack('!H', checksum)"
        hint = " — an odd length needs a zero byte added at the END before summing (RFC 1071 §4.1)" \
            if len(payload) % 2 else " — sum 16-bit words, fold the carries back in, then complement"
        return f"✗ {where} the checksum is 0x{mine:04x}, expected 0x{right:04x}{hint}"
    return f"✓ right on all {len(_ECHO_CASES)} cases: your bytes are what ping sends (and what the kernel checks)"


def _iputils_statistics(rtts: Sequence[float]) -> tuple[float, float, float, float]:
    n = len(rtts)
    mean = sum(rtts) / n
    return min(rtts), mean, max(rtts), math.sqrt(max(sum(x * x for x in rtts) / n - mean * mean, 0.0))


def check_ping_statistics(fn: Callable[[list[float]], tuple[float, float, float, float]]) -> str:
    """Test a student's ``statistics(rtts_ms) -> (min, avg, max, mdev)`` against iputils' formulas."""
    rng = random.Random(2)
    cases = [[1.0, 2.0, 3.0], [0.045], [0.028, 0.030, 0.127], [rng.lognormvariate(-3, 0.5) for _ in range(50)]]
    for rtts in cases:
        expected = _iputils_statistics(rtts)
        try:
            got = tuple(fn(list(rtts)))
        except Exception as exc:  # the student's code may fail in any way; say how, kindly
            return f"✗ your function raised {type(exc).__name__}: {exc} for RTTs {rtts[:3]}..."
        if len(got) != 4:
            return f"✗ return four numbers (min, avg, max, mdev), not {len(got)}"
        for name, mine, right in zip(("min", "avg", "max", "mdev"), got, expected, strict=True):
            if math.isclose(mine, right, rel_tol=1e-9, abs_tol=1e-12):
                continue
            hint = ""
            if name == "mdev" and len(rtts) > 1:
                sample = math.sqrt(sum((x - expected[1]) ** 2 for x in rtts) / (len(rtts) - 1))
                mean_abs = sum(abs(x - expected[1]) for x in rtts) / len(rtts)
                if math.isclose(mine, sample, rel_tol=1e-9):
                    hint = " — that divides by n - 1; iputils divides by n: sqrt(mean(x²) - mean(x)²)"
                elif math.isclose(mine, mean_abs, rel_tol=1e-9):
                    hint = (" — despite its name, iputils' mdev is not the mean absolute deviation but "
                            "sqrt(mean(x²) - mean(x)²), the standard deviation")
            return f"✗ for RTTs {[round(x, 4) for x in rtts[:4]]}{'...' if len(rtts) > 4 else ''} your {name} " \
                   f"is {mine!r}, expected {right!r}{hint}"
    return f"✓ right on all {len(cases)} cases: min/avg/max/mdev as iputils prints them"


def check_hops(fn: Callable[[int], tuple[int, int]]) -> str:
    """Test ``fn(reply_ttl) -> (initial_ttl, routers)``: with what TTL was a reply most likely sent, and how
    many routers did it cross? Tried on the lab target's TTL 62 and on replies from other systems."""
    for reply_ttl in (62, 64, 117, 250, 1):
        start = next(t for t in (64, 128, 255) if t >= reply_ttl)
        try:
            initial_ttl, routers = fn(reply_ttl)
        except Exception as exc:  # the student's code may fail in any way; say how, kindly
            return f"✗ your function raised {type(exc).__name__}: {exc} for a reply with TTL {reply_ttl}"
        if initial_ttl != start:
            return (f"✗ for a reply with TTL {reply_ttl} you said it started at {initial_ttl}: systems start at "
                    f"64 (Linux, macOS), 128 (Windows) or 255 (many routers), and a TTL only goes down on "
                    f"the way — which of those could have come down to {reply_ttl}, and which is nearest?")
        if routers != start - reply_ttl:
            return (f"✗ for a reply with TTL {reply_ttl} you counted {routers} routers: every router takes "
                    f"exactly one off the TTL (RFC 791 §3.2)")
    return "✓ right on all 5 replies: the lab target's 62 left Linux with 64 and crossed r2 and r1"


__all__ = ["check_echo_request", "check_ping_statistics", "check_hops"]
