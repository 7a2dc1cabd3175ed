"""Assigned numbers (IANA) the headers refer to, and the tables that say which header comes next.

The ``*_NEXT`` tables are filled by each header module as it is imported (``netstudy.wire`` imports them
all), so the modules need not import one another to dispatch. Each is a list indexed by the number
itself (None where nothing is known), as a C dispatch table is: decoding a frame looks one up per layer,
and indexing a list is the cheapest lookup Python has.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netstudy.wire.fields import Header

ETHERTYPE_NAMES = {0x0800: "IPv4", 0x0806: "ARP", 0x86DD: "IPv6", 0x8100: "802.1Q", 0x88A8: "802.1ad",
                   0x8035: "RARP", 0x88CC: "LLDP", 0x8847: "MPLS"}
IP_PROTOCOL_NAMES = {0: "IPv6 Hop-by-Hop", 1: "ICMP", 2: "IGMP", 4: "IPv4-in-IP", 6: "TCP", 17: "UDP",
                     41: "IPv6-in-IP", 43: "IPv6 Routing", 44: "IPv6 Fragment", 47: "GRE", 50: "ESP",
                     51: "AH", 58: "ICMPv6", 59: "IPv6 No Next Header", 60: "IPv6 Destination Options",
                     132: "SCTP"}

ETHERTYPE_NEXT: list[type[Header] | None] = [None] * 0x10000  # EtherType -> header (Ethernet, 802.1Q, SLL)
IP_PROTOCOL_NEXT: list[type[Header] | None] = [None] * 0x100   # IPv4 protocol / IPv6 next header -> header
UDP_PORT_NEXT: list[type[Header] | None] = [None] * 0x10000    # well-known UDP port -> application header
TCP_PORT_NEXT: list[type[Header] | None] = [None] * 0x10000    # well-known TCP port -> application header

_NUMBERS_BY_TABLE: dict[int, dict[type, int]] = {}   # id(table) -> {header class: the number building writes}


def register(table: list[type[Header] | None], number: int, cls: type[Header]) -> None:
    """List ``cls`` under ``number`` in ``table``; building writes the first number a class was listed under."""
    table[number] = cls
    _NUMBERS_BY_TABLE.setdefault(id(table), {}).setdefault(cls, number)


def number_of(table: list[type[Header] | None], header: object, nothing: int = 0) -> int:
    """The number under which ``table`` lists ``header``'s class or a base of it (``ICMPEcho`` is listed as
    ``ICMP``): what a header writes to announce the one it carries; ``nothing`` when none is listed."""
    numbers = _NUMBERS_BY_TABLE.get(id(table), {})
    for cls in type(header).__mro__:
        if cls in numbers:
            return numbers[cls]
    return nothing
