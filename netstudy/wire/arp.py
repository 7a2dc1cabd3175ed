"""ARP for IPv4 over Ethernet (RFC 826)."""
from __future__ import annotations

from netstudy.wire.fields import Field, Header, Span
from netstudy.wire.numbers import ETHERTYPE_NAMES, ETHERTYPE_NEXT, register

OPCODES = {1: "request", 2: "reply", 3: "RARP request", 4: "RARP reply"}


class ARP(Header):
    """An ARP packet for IPv4 over Ethernet: who has this IP address, tell me (RFC 826)."""

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
    FIELDS = (
        Field("hardware_type", 16, "link type of the hardware addresses, 1 = Ethernet (RFC 826)", default=1),
        Field("protocol_type", 16, "EtherType of the protocol addresses, 0x0800 = IPv4 (RFC 826)", "hex",
              0x0800, names=ETHERTYPE_NAMES),
        Field("hardware_size", 8, "bytes per hardware address, 6 for Ethernet (RFC 826)", default=6),
        Field("protocol_size", 8, "bytes per protocol address, 4 for IPv4 (RFC 826)", default=4),
        Field("opcode", 16, "1 = request, 2 = reply (RFC 826)", default=1, names=OPCODES),
        Field("sender_mac", 48, "hardware address of the sender (RFC 826)", "mac", "00:00:00:00:00:00"),
        Field("sender_ip", 32, "protocol address of the sender (RFC 826)", "ipv4", "0.0.0.0"),
        Field("target_mac", 48, "hardware address of the target; zero in a request (RFC 826)", "mac",
              "00:00:00:00:00:00"),
        Field("target_ip", 32, "protocol address being asked about (RFC 826)", "ipv4", "0.0.0.0"),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 28:
            raise cls._short(off, end)
        if data[off + 4] != 6 or data[off + 5] != 4:
            raise cls._fail("hardware_size", off, f"only Ethernet/IPv4 ARP (6/4) is decoded, got "
                                                  f"{data[off + 4]}/{data[off + 5]}")
        return cls, off, end, None, off + 28, off + 28    # what follows in a frame is Ethernet padding, not payload

    def summary(self) -> str:
        """tcpdump's line; its length counts the bytes after the link header, the frame's padding too."""
        length = self._end - self._off if self._build is None else 28
        if self.opcode == 1:
            return f"ARP, Request who-has {self.target_ip} tell {self.sender_ip}, length {length}"
        if self.opcode == 2:
            return f"ARP, Reply {self.sender_ip} is-at {self.sender_mac}, length {length}"
        return f"ARP, {OPCODES.get(self.opcode, f'opcode {self.opcode}')}, length {length}"


register(ETHERTYPE_NEXT, 0x0806, ARP)
