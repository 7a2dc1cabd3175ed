"""IPv4 (RFC 791): the header, its options, fragments, and the checksum over the header."""
from __future__ import annotations

import struct

from netstudy.wire.checksum import internet_checksum, pseudo_header_ipv4, verify
from netstudy.wire.fields import CutHeader, Field, Header, Span
from netstudy.wire.numbers import ETHERTYPE_NEXT, IP_PROTOCOL_NAMES, IP_PROTOCOL_NEXT, number_of, register
from netstudy.wire.options import Option, OptionSpec, OptionTable

# what decoding reads to walk past the header: version/IHL, total length, flags/fragment offset, protocol
_skim = struct.Struct("!BxHxxHxB").unpack_from

IPV4_OPTIONS = OptionTable("IPv4", [
    OptionSpec(0, "EOL", "", "end of option list (RFC 791 §3.1)"),
    OptionSpec(1, "NOP", "", "no operation, padding between options (RFC 791 §3.1)"),
    OptionSpec(7, "RR", None, "record route: pointer, then addresses (RFC 791 §3.1)"),
    OptionSpec(68, "TS", None, "internet timestamp (RFC 791 §3.1)"),
    OptionSpec(130, "SEC", None, "security (RFC 1108)"),
    OptionSpec(131, "LSRR", None, "loose source and record route (RFC 791 §3.1)"),
    OptionSpec(137, "SSRR", None, "strict source and record route (RFC 791 §3.1)"),
    OptionSpec(148, "RA", "H", "router alert (RFC 2113)"),
], unknown_name="opt-{kind}")


class IPv4(Header):
    """The IPv4 header (RFC 791 §3.1): 20 bytes, then up to 40 bytes of options."""

    NAME = "IPv4"
    LAYER = "network"
    ROW = (("src", "src"), ("dst", "dst"), ("ttl", "ttl"))
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    version: int
    ihl: int
    dscp: int
    ecn: int
    total_length: int
    identification: int
    reserved: bool
    df: bool
    mf: bool
    fragment_offset: int
    ttl: int
    protocol: int
    checksum: int
    src: str
    dst: str
    FIELDS = (
        Field("version", 4, "IP version, always 4 (RFC 791 §3.1)", default=4),
        Field("ihl", 4, "header length in 32-bit words, 5 without options (RFC 791 §3.1)", default=None,
              auto=True),
        Field("dscp", 6, "differentiated services code point (RFC 2474 §3)"),
        Field("ecn", 2, "explicit congestion notification (RFC 3168 §5)"),
        Field("total_length", 16, "bytes of header and data (RFC 791 §3.1)", default=None, auto=True),
        Field("identification", 16, "identifies the fragments of one datagram (RFC 791 §3.1)"),
        Field("reserved", 1, "reserved flag, must be zero (RFC 791 §3.1)", "flag"),
        Field("df", 1, "don't fragment (RFC 791 §3.1)", "flag"),
        Field("mf", 1, "more fragments follow (RFC 791 §3.1)", "flag"),
        Field("fragment_offset", 13, "where this fragment goes, in 8-byte units (RFC 791 §3.1)"),
        Field("ttl", 8, "time to live: routers decrement it, 0 means drop (RFC 791 §3.1)", default=64),
        Field("protocol", 8, "the next header: 1 ICMP, 6 TCP, 17 UDP (RFC 790)", default=None, auto=True,
              names=IP_PROTOCOL_NAMES),
        Field("checksum", 16, "Internet checksum of the header only (RFC 791 §3.1, RFC 1071)", "hex",
              None, auto=True),
        Field("src", 32, "source address (RFC 791 §3.1)", "ipv4", "0.0.0.0"),
        Field("dst", 32, "destination address (RFC 791 §3.1)", "ipv4", "0.0.0.0"),
    )

    _EXTRAS = frozenset({"options"})
    OPTIONS = IPV4_OPTIONS

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 20:
            raise cls._short(off, end)
        first, total, fragment, protocol = _skim(data, off)
        hlen = 20 if first == 0x45 else cls._header_length(first, off, end)   # 0x45: version 4, no options
        if total < hlen:
            if total:
                raise cls._fail("total_length", off, f"total length {total} is shorter than the header ({hlen})")
            stop = end              # 0: segmentation offload left it for the NIC to fill
        else:
            stop = off + total
            if stop > end:          # more than captured (rare): cut by the snap length, or a length that lies
                return (IPv4Cut, off, end, None if fragment & 0x1FFF else IP_PROTOCOL_NEXT[protocol], off + hlen,
                        end)
        # a later fragment (offset > 0) carries the middle of a payload, not a header
        return cls, off, end, None if fragment & 0x1FFF else IP_PROTOCOL_NEXT[protocol], off + hlen, stop

    @classmethod
    def _header_length(cls, first: int, off: int, end: int) -> int:
        """The header length the first byte gives, checked (a header with options, or not IPv4 at all)."""
        if first >> 4 != 4:
            raise cls._fail("version", off, f"version is {first >> 4}, not 4")
        hlen = (first & 0xF) * 4
        if hlen < 20:
            raise cls._fail("ihl", off, f"header length {first & 0xF} words is less than the minimum 5")
        if off + hlen > end:            # options cut by the snap length: the fixed 20 bytes kept, nothing after
            raise CutHeader(cls.NAME, "ihl", off, f"header of {hlen} bytes runs past the {end - off} captured",
                            (cls, off, end, None, end, end))
        return hlen

    @property
    def is_fragment(self) -> bool:
        """True for any piece of a fragmented datagram (MF set or a non-zero offset, RFC 791 §2.3)."""
        return bool(self._v[4] & 0x3FFF)

    @property
    def header_cut(self) -> bool:
        """True when the capture cut this header in its options (its checksum then cannot be checked)."""
        return self._build is None and self._off + self.ihl * 4 > self._end

    @property
    def captured_whole(self) -> bool:
        """Is the whole datagram here: not cut short by the capture, not one fragment of several?"""
        total = self._v[2]
        return total != 0 and self._off + total <= self._end and not self._v[4] & 0x3FFF

    # -- options --
    @property
    def options(self) -> list[Option]:
        return IPV4_OPTIONS.parse(self.options_raw, self._off + 20)

    def _pack_options(self, options: list[Option]) -> bytes:
        return IPV4_OPTIONS.pack(options)

    # -- building and checking --
    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        hlen = 20 + len(self.options_raw)
        if not self.is_set("ihl"):
            self.ihl = hlen // 4
        if not self.is_set("total_length"):
            self.total_length = hlen + len(payload)
        if not self.is_set("protocol"):
            self.protocol = protocol_number(over)
        if not self.is_set("checksum"):
            self.checksum = 0
            self.checksum = internet_checksum(self.pack())

    def checksum_ok(self) -> bool:
        """Does the header checksum verify (RFC 791 §3.1)?"""
        return verify(bytes(self))

    def pseudo_header(self, protocol: int, length: int) -> bytes:
        """What TCP/UDP add to their checksum from this header (RFC 793 §3.1)."""
        return pseudo_header_ipv4(self._v[-2], self._v[-1], protocol, length)

    def summary(self) -> str:
        frag = ""
        if self.is_fragment:
            frag = f" (frag {self.identification}:{len(self.payload)}@{self.fragment_offset * 8}" \
                   f"{'+' if self.mf else ''})"
        name = IP_PROTOCOL_NAMES.get(self.protocol, f"ip-proto-{self.protocol}")
        return f"IP {self.src} > {self.dst}: {name}{frag}, length {len(self.payload)}"


class IPv4Cut(IPv4):
    """An IPv4 header whose total length runs past the bytes there are: the datagram was cut by the snap
    length (the capture record says it was longer on the wire), or its length field lies. Decoded as any
    IPv4 header (it is one: ``isinstance(h, IPv4)``); its own class tells the summary line to write the
    lengths the headers give, as tcpdump does, and ``truncated-ip - N bytes missing!`` when the frame on
    the wire was shorter than the length says."""

    __slots__ = ()
    CUT_MARK = " truncated-ip - {} bytes missing! "

    @classmethod
    def _make(cls, data: bytes, offset: int, end: int) -> IPv4:  # type: ignore[override]  # an IPv4, not a cls
        """The header object: an IPv4 like any other (the class is the summary line's business alone)."""
        return IPv4._make(data, offset, end)

    @staticmethod
    def declared_end(data: bytes, off: int) -> int:
        """Where the datagram ends by its total length (past the bytes there are)."""
        return off + (data[off + 2] << 8 | data[off + 3])


def protocol_number(over: Header | None, nothing: int = 0) -> int:
    """The IP protocol number that announces header ``over`` (the inverse of IP_PROTOCOL_NEXT);
    ``nothing`` when no header follows (IPv6 says 59, "no next header", RFC 8200 §4.7)."""
    return number_of(IP_PROTOCOL_NEXT, over, nothing)


register(ETHERTYPE_NEXT, 0x0800, IPv4)
register(IP_PROTOCOL_NEXT, 4, IPv4)
