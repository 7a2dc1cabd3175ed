"""Ethernet II frames (IEEE 802.3 / RFC 894) and 802.1Q VLAN tags (IEEE 802.1Q)."""
from __future__ import annotations

from netstudy.wire.fields import Field, Header, Span
from netstudy.wire.numbers import ETHERTYPE_NAMES, ETHERTYPE_NEXT, number_of, register

BROADCAST = "ff:ff:ff:ff:ff:ff"


class Ethernet(Header):
    """Ethernet II header: two MAC addresses and the EtherType of what follows (RFC 894)."""

    NAME = "Ethernet"
    LAYER = "link"
    ROW = (("src_mac", "src"), ("dst_mac", "dst"))
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    dst: str
    src: str
    ethertype: int
    FIELDS = (
        Field("dst", 48, "destination MAC address (IEEE 802.3 §3.2.4)", "mac", "00:00:00:00:00:00"),
        Field("src", 48, "source MAC address (IEEE 802.3 §3.2.5)", "mac", "00:00:00:00:00:00"),
        Field("ethertype", 16, "type of the payload: 0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6 (RFC 894)",
              "hex", None, auto=True, names=ETHERTYPE_NAMES),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 14:
            raise cls._short(off, end)
        return cls, off, end, ETHERTYPE_NEXT[data[off + 12] << 8 | data[off + 13]], off + 14, end

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("ethertype"):
            self.ethertype = _ethertype_of(over)

    def summary(self) -> str:
        return f"{self.src} > {self.dst}, ethertype {ETHERTYPE_NAMES.get(self.ethertype, hex(self.ethertype))}"


class VLAN(Header):
    """An 802.1Q tag: priority, drop eligibility, VLAN id, then the EtherType it wraps (IEEE 802.1Q §9.6)."""

    NAME = "802.1Q"
    LAYER = "link"
    ROW = (("vlan", "vid"),)
    PROTOCOL = ""
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    pcp: int
    dei: bool
    vid: int
    ethertype: int
    FIELDS = (
        Field("pcp", 3, "priority code point, 0 (best effort) to 7 (IEEE 802.1Q §6.9.3)"),
        Field("dei", 1, "drop eligible indicator (IEEE 802.1Q §6.9.3)", "flag"),
        Field("vid", 12, "VLAN identifier, 1..4094 (IEEE 802.1Q §9.6)", default=1),
        Field("ethertype", 16, "type of the payload (RFC 894)", "hex", None, auto=True, names=ETHERTYPE_NAMES),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 4:
            raise cls._short(off, end)
        return cls, off, end, ETHERTYPE_NEXT[data[off + 2] << 8 | data[off + 3]], off + 4, end

    fill = Ethernet.fill

    def summary(self) -> str:
        return f"vlan {self.vid}, p {self.pcp}, ethertype {ETHERTYPE_NAMES.get(self.ethertype, hex(self.ethertype))}"


def _ethertype_of(over: Header | None) -> int:
    """The EtherType that announces header ``over`` (the inverse of ETHERTYPE_NEXT)."""
    return number_of(ETHERTYPE_NEXT, over)


register(ETHERTYPE_NEXT, 0x8100, VLAN)
register(ETHERTYPE_NEXT, 0x88A8, VLAN)
