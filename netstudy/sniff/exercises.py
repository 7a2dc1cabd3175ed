"""Notebook 05's checks: each runs the student's answer on cases with known answers and says what is
wrong without giving the answer away."""
from __future__ import annotations

import os
from collections.abc import Callable

from netstudy.errors import InputError
from netstudy.sniff.engine import replay

# (IHL, the frame's byte 14 with that header length): IPv4 headers of 20 to 60 bytes
_IHLS = (5, 6, 8, 15)


def check_transport_offset(offset: Callable[[bytes], int]) -> str:
    """Exercise 1: ``offset(frame)`` -> where the transport header of an Ethernet + IPv4 frame starts,
    read from the frame itself (IPv4 headers with and without options)."""
    for ihl in _IHLS:
        frame = bytes(12) + b"\x08\x00" + bytes([0x40 | ihl]) + bytes(ihl * 4 - 1) + bytes(20)
        try:
            got = offset(frame)
        except Exception as exc:             # the student's bug, reported as a hint
            raise AssertionError(f"offset(...) raised {type(exc).__name__}: {exc}") from None
        want = 14 + ihl * 4
        if got != want:
            hint = ("the IPv4 header is not always 20 bytes: which field says how long it is, and in what unit?"
                    if got == 34 else "the header length counts 32-bit words, and the Ethernet header comes first")
            raise AssertionError(f"a frame whose IPv4 header has IHL {ihl}: got {got}, expected another offset: {hint}")
    return f"✓ check_transport_offset: the transport header found after IPv4 headers of {len(_IHLS)} lengths"


def check_dns_filter(expression: str, capture: str | os.PathLike[str]) -> str:
    """Exercise 2: a tcpdump filter expression that keeps the DNS query and its answer of ``capture``
    and nothing else."""
    try:
        kept = replay(capture, expression).frames
    except InputError as exc:
        raise AssertionError(f"the filter does not compile: {exc}") from None
    rows = [frame.decode().row() for frame in kept]
    dns = [r for r in rows if r["protocol"] == "DNS"]
    if len(dns) < 2:
        raise AssertionError(f"the filter kept {len(dns)} DNS packet(s) of the 2: DNS travels over UDP, to which port?")
    if len(rows) != len(dns):
        others = sorted({str(r['protocol']) for r in rows if r['protocol'] != 'DNS'})
        raise AssertionError(f"the filter also kept {len(rows) - len(dns)} other packet(s) ({', '.join(others)}): "
                             f"narrow it down")
    return f"✓ check_dns_filter: {expression!r} keeps the {len(dns)} DNS packets and nothing else"
