"""Link-layer headers of capture files that are not Ethernet: BSD loopback and Linux "cooked" captures.

Link types are tcpdump's LINKTYPE_ numbers (https://www.tcpdump.org/linktypes.html).
"""
from __future__ import annotations

import struct

from netstudy.wire.fields import Field, Header, Span
from netstudy.wire.numbers import ETHERTYPE_NAMES, ETHERTYPE_NEXT

PACKET_TYPES = {0: "to us", 1: "broadcast", 2: "multicast", 3: "to another host", 4: "sent by us"}


class Null(Header):
    """BSD loopback encapsulation (LINKTYPE_NULL): a 4-byte address family in the writer's byte order."""

    NAME = "Loopback"
    LAYER = "link"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    family: int
    FIELDS = (Field("family", 32, "address family: 2 IPv4; 24, 28 or 30 IPv6 (LINKTYPE_NULL)"),)

    @property
    def address_family(self) -> int:
        """The family, whichever byte order the capturing host used (small numbers: read both ways)."""
        return _either_order(self._v[0])

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 4:
            raise cls._short(off, end)
        family = _either_order(int.from_bytes(data[off:off + 4], "big"))
        ethertype = 0x0800 if family == 2 else 0x86DD if family in (10, 24, 28, 30) else 0   # 0: none
        return cls, off, end, ETHERTYPE_NEXT[ethertype], off + 4, end


class SLL(Header):
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113), what ``tcpdump -i any`` writes: 16 bytes."""

    NAME = "Linux cooked"
    LAYER = "link"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    packet_type: int
    arphrd_type: int
    address_length: int
    address: bytes
    protocol: int
    FIELDS = (
        Field("packet_type", 16, "0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us",
              names=PACKET_TYPES),
        Field("arphrd_type", 16, "link type (ARPHRD_): 1 Ethernet, 772 loopback"),
        Field("address_length", 16, "bytes of link-layer address used below"),
        Field("address", 64, "link-layer address of the sender, zero-padded", "bytes", b"\x00" * 8),
        Field("protocol", 16, "EtherType of the payload", "hex", 0x0800, names=ETHERTYPE_NAMES),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 16:
            raise cls._short(off, end)
        return cls, off, end, ETHERTYPE_NEXT[data[off + 14] << 8 | data[off + 15]], off + 16, end


class SLL2(Header):
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276): SLL plus the interface index, 20 bytes."""

    NAME = "Linux cooked v2"
    LAYER = "link"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    protocol: int
    reserved: int
    interface_index: int
    arphrd_type: int
    packet_type: int
    address_length: int
    address: bytes
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

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 20:
            raise cls._short(off, end)
        return cls, off, end, ETHERTYPE_NEXT[data[off] << 8 | data[off + 1]], off + 20, end


def _either_order(value: int) -> int:
    """An address family written in the capturing host's byte order: small numbers read either way."""
    return value if value < 0x10000 else struct.unpack("<I", struct.pack("!I", value))[0]
