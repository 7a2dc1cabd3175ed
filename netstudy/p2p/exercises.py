"""Notebook 07's checks: each calls the student's function and says what is wrong without giving the answer."""
from __future__ import annotations

from collections.abc import Callable

from netstudy.p2p.core import decode_announcement, encode_announcement

CASES = [("alice", 0x1122334455667788, 40000, 7), ("bob", 1, 1, 0), ("émile", 0xFFFFFFFFFFFFFFFF, 65535, 99)]


def check_announcement(build: Callable[[str, int, int, int], bytes]) -> str:
    """``build(name, peer_id, port, seq)`` must return the 36 bytes ``netstudy.p2p`` sends."""
    for name, pid, port, seq in CASES:
        got = build(name, pid, port, seq)
        want = encode_announcement(name, pid, port, seq)
        if not isinstance(got, bytes):
            return f"not yet: build({name!r}, ...) returned {type(got).__name__}, not bytes"
        if len(got) != len(want):
            return (f"not yet: build({name!r}, ...) is {len(got)} bytes; "
                    f"an announcement has {len(want)} (4+1+1+2+8+4+16)")
        if got != want:
            first = next(i for i in range(len(want)) if got[i] != want[i])
            field = ["magic"] * 4 + ["version", "kind"] + ["port"] * 2 + ["peer id"] * 8 + ["seq"] * 4 + ["name"] * 16
            return (f"not yet: build({name!r}, ...) differs first at byte {first} ({field[first]}): "
                    "check the order, the sizes and network byte order (!)")
        decode_announcement(got)
    return "correct: your announcement is byte for byte the package's"


GROUPS = ["239.255.42.99", "224.0.0.251", "239.0.0.1", "224.128.0.1", "238.127.255.255"]


def _mac(group: str) -> str:
    a = [int(x) for x in group.split(".")]
    return "01:00:5e:" + ":".join(f"{b:02x}" for b in (a[1] & 0x7F, a[2], a[3]))


def check_multicast_mac(mac_of: Callable[[str], str]) -> str:
    """``mac_of(group)`` must give the Ethernet address an IPv4 multicast group is sent to (RFC 1112 §6.4)."""
    for group in GROUPS:
        got = str(mac_of(group)).lower().replace("-", ":")
        if got != _mac(group):
            hint = ("the first three bytes are fixed" if not got.startswith("01:00:5e") else
                    "only the low 23 bits of the address are copied")
            return f"not yet: mac_of({group!r}) gave {got!r}: {hint}"
    return "correct: 23 bits of the group, so 32 groups share each MAC address"
