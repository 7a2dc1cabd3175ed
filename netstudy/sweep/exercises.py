"""The checks notebook 03's exercises call: each returns a sentence saying what passed, or raises
``AssertionError`` with a hint that points at the mistake without giving the answer away."""
from __future__ import annotations

from collections.abc import Callable

from netstudy.sweep.core import initial_ttl
from netstudy.sweep.engine import arp_request

_CASES = [("02:00:0a:00:00:02", "10.0.0.2", "10.0.0.10"), ("00:00:0c:12:34:56", "192.168.1.7", "192.168.1.1"),
          ("de:ad:be:ef:00:01", "172.16.0.1", "172.16.255.254")]
# what a byte of the 42-byte frame belongs to: (first offset, name), in order
_PARTS = [(0, "Ethernet destination (who receives a who-has?)"), (6, "Ethernet source"),
          (12, "EtherType (which number announces ARP?)"), (14, "ARP hardware type"), (16, "ARP protocol type"),
          (18, "ARP hardware size"), (19, "ARP protocol size"), (20, "ARP opcode (request or reply?)"),
          (22, "ARP sender MAC"), (28, "ARP sender IP"), (32, "ARP target MAC (what do you not know yet?)"),
          (38, "ARP target IP")]


def _part(offset: int) -> str:
    return [name for start, name in _PARTS if start <= offset][-1]


def check_arp_request(arp_request_fn: Callable[[str, str, str], bytes]) -> str:
    """``arp_request_fn(sender_mac, sender_ip, target_ip)`` must return the whole broadcast who-has frame:
    14 bytes of Ethernet header, then 28 of ARP request (RFC 826), as :func:`netstudy.sweep.arp_request`."""
    for mac, ip, target in _CASES:
        got = bytes(arp_request_fn(mac, ip, target))
        want = arp_request(mac, ip, target)
        assert len(got) == len(want), (f"arp_request({mac!r}, {ip!r}, {target!r}) is {len(got)} bytes; an Ethernet "
                                       f"header and an ARP request for IPv4 make {len(want)}")
        if got != want:
            offset = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
            raise AssertionError(f"arp_request({mac!r}, {ip!r}, {target!r}): byte {offset} is wrong, in the "
                                 f"{_part(offset)}; network byte order is big-endian ('!' in struct)")
    return f"correct: {len(_CASES)} who-has frames, byte for byte as netstudy.wire builds them"


def check_initial_ttl(guess: Callable[[int], tuple[int, int]]) -> str:
    """``guess(ttl)`` must return ``(initial TTL, routers crossed)`` for a reply that arrived with ``ttl``,
    taking the smallest of the usual initial values (64, 128, 255) that is not below it."""
    for ttl in (64, 63, 57, 1, 128, 116, 65, 255, 240, 129):
        got = tuple(guess(ttl))
        want = (initial_ttl(ttl), initial_ttl(ttl) - ttl)
        if got[0] != want[0]:
            raise AssertionError(f"guess({ttl}) says it left with TTL {got[0]}: which usual starting values "
                                 f"could have come down to {ttl}, and which is the nearest?")
        assert got == want, f"guess({ttl}): initial {got[0]} is right, but how many routers took one off each?"
    return "correct: initial TTLs 64, 128 and 255 told apart, and the routers counted"
