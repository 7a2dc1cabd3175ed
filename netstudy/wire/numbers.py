"""Assigned numbers (IANA) the headers refer to, and the tables that say which header comes next.

The ``*_NEXT`` dictionaries are filled by each header module as it is imported (``netstudy.wire``
imports them all), so the modules need not import one another to dispatch.
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

ETHERTYPE_NEXT: dict[int, type["Header"]] = {}      # EtherType -> header class (Ethernet, 802.1Q, SLL)
IP_PROTOCOL_NEXT: dict[int, type["Header"]] = {}    # IPv4 protocol / IPv6 next header -> header class
UDP_PORT_NEXT: dict[int, type["Header"]] = {}       # well-known UDP port -> application header
TCP_PORT_NEXT: dict[int, type["Header"]] = {}       # well-known TCP port -> application header
