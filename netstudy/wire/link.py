"""Link-layer headers of capture files that are not Ethernet: BSD loopback and Linux "cooked" captures.

Link types are tcpdump's LINKTYPE_ numbers (https://www.tcpdump.org/linktypes.html).
"""
from __future__ import annotations

import struct

from netstudy.wire.fields import Field, Header
from netstudy.wire.numbers import ETHERTYPE_NAMES, ETHERTYPE_NEXT

PACKET_TYPES = {0: "to us", 1: "broadcast", 2: "multicast", 3: "to another host", 4: "sent by us"}


class Null(Header):
    """BSD loopback encapsulation (LINKTYPE_NULL): a 4-byte address family in the writer's byte order."""

    NAME = "Loopback"
    FIELDS = (Field("family", 32, "address family: 2 IPv4; 24, 28 or 30 IPv6 (LINKTYPE_NULL)"),)

    @property
    def address_family(self) -> int:
        """The family, whichever byte order the capturing host used (small numbers: read both ways)."""
        value = self._v[0]
        return value if value < 0x10000 else struct.unpack("<I", struct.pack("!I", value))[0]

    def layout(self) -> tuple[type[Header] | None, int, int]:
        family = self.address_family
        ethertype = 0x0800 if family == 2 else 0x86DD if family in (10, 24, 28, 30) else None
        return ETHERTYPE_NEXT.get(ethertype), self._off + 4, self._end


class SLL(Header):
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113), what ``tcpdump -i any`` writes: 16 bytes."""

    NAME = "Linux cooked"
    FIELDS = (
        Field("packet_type", 16, "0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us",
              names=PACKET_TYPES),
        Field("arphrd_type", 16, "link type (ARPHRD_): 1 Ethernet, 772 loopback"),
        Field("address_length", 16, "bytes of link-layer address used below"),
        Field("address", 64, "link-layer address of the sender, zero-padded", "bytes", b"\x00" * 8),
        Field("protocol", 16, "EtherType of the payload", "hex", 0x0800, names=ETHERTYPE_NAMES),
    )

    def layout(self) -> tuple[type[Header] | None, int, int]:
        return ETHERTYPE_NEXT.get(self._v[-1]), self._off + 16, self._end


class SLL2(Header):
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276): SLL plus the interface index, 20 bytes."""

    NAME = "Linux cooked v2"
    FIELDS = (
        Field("protocol", 16, "EtherType of the payload", "hex", 0x0800, names=ETHERTYPE_NAMES),
        Field("reserved", 16, "must be zero"),
        Field("interface_index", 32, "index of the interface the packet was seen on"),
        Field("arphrd_type", 16, "link type (ARPHRD_): 1 Ethernet, 772 loopback"),
        Field("packet_type", 8, "0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us",
              names=PACKET_TYPES),
        Field("address_length", 8, "bytes of link-layer address used below"),
        Field("address", 64, "link-layer address of the sender, zero-padded", "bytes", b"\x00" * 8),
    )

    def layout(self) -> tuple[type[Header] | None, int, int]:
        return ETHERTYPE_NEXT.get(self._v[0]), self._off + 20, self._end
