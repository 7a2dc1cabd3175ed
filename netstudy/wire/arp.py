"""ARP (RFC 826) and its relatives RARP (RFC 903) and InARP (RFC 2390).

An ARP packet names its hardware and protocol types and the sizes of their addresses, then carries four
addresses of those sizes. :class:`ARP` is the one nearly every capture holds, Ethernet/IPv4 (6-byte and
4-byte addresses, 28 bytes); any other sizes decode as :class:`ARPOther`, its 8-byte fixed part with the
addresses after it. Both write tcpdump's line, which checks the types before it trusts the addresses.
"""
from __future__ import annotations

import socket

from netstudy.wire.fields import Field, Header, Span
from netstudy.wire.numbers import ETHERTYPE_NAMES, ETHERTYPE_NEXT, register

OPCODES = {1: "request", 2: "reply", 3: "RARP request", 4: "RARP reply", 8: "InARP request", 9: "InARP reply",
           10: "ARP NAK"}
# how tcpdump names them (its arpop_values, arphrd_values; RFC 826, RFC 903, RFC 2390, RFC 2225)
_TCPDUMP_OPCODES = {1: "Request", 2: "Reply", 3: "Reverse Request", 4: "Reverse Reply", 8: "Inverse Request",
                    9: "Inverse Reply", 10: "NACK Reply"}
_TCPDUMP_HARDWARE = {1: "Ethernet", 6: "TokenRing", 7: "ArcNet", 15: "FrameRelay", 19: "ATM", 23: "Strip",
                     24: "IEEE 1394", 32: "InfiniBand"}
_TCPDUMP_PROTOCOLS = {0x0800: "IPv4", 0x0806: "ARP", 0x86DD: "IPv6", 0x8035: "Reverse ARP", 0x8100: "802.1Q",
                      0x88A8: "802.1Q-QinQ", 0x9100: "802.1Q-QinQ", 0x9200: "802.1Q-9200", 0x8847: "MPLS unicast",
                      0x8848: "MPLS multicast", 0x1000: "Trailer"}
_IPV4_TYPES = (0x0800, 0x1000)     # IPv4, and the trailer encapsulation tcpdump also reads as IPv4 (RFC 893)


def _common_fields() -> tuple[Field, ...]:
    return (
        Field("hardware_type", 16, "link type of the hardware addresses, 1 = Ethernet (RFC 826)", default=1),
        Field("protocol_type", 16, "EtherType of the protocol addresses, 0x0800 = IPv4 (RFC 826)", "hex",
              0x0800, names=ETHERTYPE_NAMES),
        Field("hardware_size", 8, "bytes per hardware address, 6 for Ethernet (RFC 826)", default=6),
        Field("protocol_size", 8, "bytes per protocol address, 4 for IPv4 (RFC 826)", default=4),
        Field("opcode", 16, "1 request, 2 reply, 3/4 RARP (RFC 903), 8/9 InARP (RFC 2390)", default=1,
              names=OPCODES),
    )


class ARP(Header):
    """An ARP packet with Ethernet-sized and IPv4-sized addresses: who has this IP address, tell me (RFC 826)."""

    NAME = "ARP"
    LAYER = "network"          # it serves the network layer (IPv4 addresses), carried straight in Ethernet
    ROW = (("src", "sender_ip"), ("dst", "target_ip"))
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    hardware_type: int
    protocol_type: int
    hardware_size: int
    protocol_size: int
    opcode: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str
    FIELDS = _common_fields() + (
        Field("sender_mac", 48, "hardware address of the sender (RFC 826)", "mac", "00:00:00:00:00:00"),
        Field("sender_ip", 32, "protocol address of the sender (RFC 826)", "ipv4", "0.0.0.0"),
        Field("target_mac", 48, "hardware address of the target; zero in a request (RFC 826)", "mac",
              "00:00:00:00:00:00"),
        Field("target_ip", 32, "protocol address being asked about (RFC 826)", "ipv4", "0.0.0.0"),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 8:
            raise cls._short(off, end)
        if data[off + 1] == 19 and data[off] == 0:     # ATM ARP: other fields after the types (RFC 2225 §8.7)
            raise cls._fail("hardware_type", off, "hardware type 19 is ATM ARP (RFC 2225), whose layout netstudy "
                                                  "does not decode")
        sizes = data[off + 4] << 8 | data[off + 5]
        stop = off + 8 + 2 * ((sizes >> 8) + (sizes & 0xFF))
        if stop > end:
            raise cls._fail("hardware_size", off, f"addresses of {sizes >> 8} and {sizes & 0xFF} bytes run past the "
                                                  f"{end - off} bytes left")
        kind = cls if sizes == 0x0604 else ARPOther
        return kind, off, end, None, stop, stop    # what follows in a frame is Ethernet padding, not payload

    @classmethod
    def summary_at(cls, data: bytes, off: int, end: int) -> str:
        return _line(data, off, end - off)

    def summary(self) -> str:
        """tcpdump's line; its length counts the bytes after the link header, the frame's padding too."""
        if self._build is None:
            return _line(self._buf, self._off, self._end - self._off)
        raw = self.pack()
        return _line(raw, 0, len(raw))


class ARPOther(Header):
    """An ARP packet whose address sizes are not Ethernet's and IPv4's (6 and 4): the fixed part; the four
    addresses follow it, of the sizes it gives (RFC 826)."""

    NAME = "ARP"
    LAYER = "network"
    PROTOCOL = "ARP"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    hardware_type: int
    protocol_type: int
    hardware_size: int
    protocol_size: int
    opcode: int
    FIELDS = _common_fields()

    _locate = ARP._locate        # the sizes pick the class (ARP for 6/4)
    summary_at = ARP.summary_at
    summary = ARP.summary

    @property
    def header_length(self) -> int:
        return 8 + 2 * (self.hardware_size + self.protocol_size)


def _line(data: bytes, off: int, length: int) -> str:
    """tcpdump's line for the ARP packet at ``off`` (its addresses checked to be there), ``length`` the
    bytes from it to the frame's end: the operation and its addresses when the protocol addresses are
    IPv4's, the types and sizes alone otherwise."""
    hardware, protocol = data[off] << 8 | data[off + 1], data[off + 2] << 8 | data[off + 3]
    hlen, plen, opcode = data[off + 4], data[off + 5], data[off + 6] << 8 | data[off + 7]
    if protocol not in _IPV4_TYPES or plen != 4 or hlen == 0:
        return (f"ARP, {_TCPDUMP_HARDWARE.get(hardware, f'Unknown Hardware ({hardware})')} (len {hlen}), "
                f"{_TCPDUMP_PROTOCOLS.get(protocol, f'Unknown Protocol (0x{protocol:04x})')} (len {plen}), "
                f"length {length}")
    sha = off + 8
    spa = sha + hlen
    tha = spa + 4
    tpa = tha + hlen
    name = _TCPDUMP_OPCODES.get(opcode)
    if opcode == 1:
        target_mac = f" ({_link_text(data, tha, hlen)})" if any(data[tha:tpa]) else ""
        what = f"who-has {_ip(data, tpa)}{target_mac} tell {_ip(data, spa)}"
    elif opcode == 2:
        what = f"{_ip(data, spa)} is-at {_link_text(data, sha, hlen)}"
    elif opcode in (3, 8):
        what = f"who-is {_link_text(data, tha, hlen)} tell {_link_text(data, sha, hlen)}"
    elif opcode == 4:
        what = f"{_link_text(data, tha, hlen)} at {_ip(data, tpa)}"
    elif opcode == 9:
        what = f"{_link_text(data, sha, hlen)} at {_ip(data, spa)}"
    else:                               # tcpdump names it and dumps the bytes (with -x): no length
        return f"ARP, {name or f'Unknown ({opcode})'} "
    return f"ARP, {name} {what}, length {length}"


def _ip(data: bytes, at: int) -> str:
    return socket.inet_ntoa(data[at:at + 4])


def _link_text(data: bytes, at: int, size: int) -> str:
    return data[at:at + size].hex(":")


register(ETHERTYPE_NEXT, 0x0806, ARP)
register(ETHERTYPE_NEXT, 0x8035, ARP)      # RARP has ARP's format (RFC 903)
