"""IPv6 (RFC 8200): the fixed 40-byte header and the extension headers chained after it."""
from __future__ import annotations

import socket
import struct

from netstudy.wire.checksum import pseudo_header_ipv6
from netstudy.wire.fields import CutHeader, Field, Header, Span
from netstudy.wire.ipv4 import protocol_number
from netstudy.wire.numbers import ETHERTYPE_NEXT, IP_PROTOCOL_NAMES, IP_PROTOCOL_NEXT, register
from netstudy.wire.options import Option, OptionSpec, OptionTable

NO_NEXT_HEADER = 59
_skim = struct.Struct("!B3xHB").unpack_from    # what decoding reads: version, payload length, next header

IPV6_OPTIONS = OptionTable("IPv6 options", [
    OptionSpec(0, "Pad1", "", "one byte of padding (RFC 8200 §4.2)"),
    OptionSpec(1, "PadN", None, "N bytes of padding (RFC 8200 §4.2)"),
    OptionSpec(4, "tunnel-limit", "B", "tunnel encapsulation limit (RFC 2473 §5.1)"),
    OptionSpec(5, "router-alert", "H", "router alert: 0 = MLD (RFC 2711 §2.1)"),
    OptionSpec(194, "jumbo", "I", "jumbo payload length (RFC 2675 §2)"),
], unknown_name="opt-{kind}", singles=(0,), end=None, length_counts_header=False)


def _next_header_field(rfc: str) -> Field:
    return Field("next_header", 8, f"type of the next header: 6 TCP, 17 UDP, 58 ICMPv6, 44 fragment ({rfc})",
                 default=None, auto=True, names=IP_PROTOCOL_NAMES)


class IPv6(Header):
    """The IPv6 header (RFC 8200 §3): 40 bytes, no options, no checksum; extensions follow as headers."""

    NAME = "IPv6"
    LAYER = "network"
    ROW = (("src", "src"), ("dst", "dst"), ("ttl", "hop_limit"))
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    version: int
    traffic_class: int
    flow_label: int
    payload_length: int
    next_header: int
    hop_limit: int
    src: str
    dst: str
    FIELDS = (
        Field("version", 4, "IP version, always 6 (RFC 8200 §3)", default=6),
        Field("traffic_class", 8, "DSCP and ECN, as IPv4's TOS byte (RFC 8200 §7)"),
        Field("flow_label", 20, "labels packets of one flow (RFC 6437)", "hex"),
        Field("payload_length", 16, "bytes after this header, extensions included (RFC 8200 §3)",
              default=None, auto=True),
        _next_header_field("RFC 8200 §3"),
        Field("hop_limit", 8, "decremented by each router, 0 means drop: IPv4's TTL (RFC 8200 §3)", default=64),
        Field("src", 128, "source address (RFC 8200 §3)", "ipv6", "::"),
        Field("dst", 128, "destination address (RFC 8200 §3)", "ipv6", "::"),
    )

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 40:
            raise cls._short(off, end)
        first, length, next_header = _skim(data, off)
        if first >> 4 != 6:
            raise cls._fail("version", off, f"version is {first >> 4}, not 6")
        stop = off + 40 + length
        if stop > end or not length:            # rare: more than captured (IPv6Cut), or 0 (a jumbogram, offload)
            if not length and not next_header:  # a jumbogram: its length in the hop-by-hop header (RFC 2675 §2)
                jumbo = _jumbo_length(data, off + 40, end)
                if jumbo is not None:
                    stop = off + 40 + jumbo
                    if stop > end:
                        return IPv6JumboCut, off, end, IPv6HopByHop, off + 40, end
                    return cls, off, end, IPv6HopByHop, off + 40, stop
            return (IPv6Cut if length else cls), off, end, \
                IP_PROTOCOL_NEXT[next_header] if next_header else IPv6HopByHop, off + 40, end
        # hop-by-hop options only here, first (RFC 8200 §4.1): the table's entry for 0 marks it misplaced
        return cls, off, end, IP_PROTOCOL_NEXT[next_header] if next_header else IPv6HopByHop, off + 40, stop

    @property
    def captured_whole(self) -> bool:
        """Is the whole datagram in the capture (the payload length's worth of bytes, or a jumbogram's)?"""
        length = self._v[1] or self.jumbo_length or 0
        return length != 0 and self._off + 40 + length <= self._end

    @property
    def jumbo_length(self) -> int | None:
        """A jumbogram's length (RFC 2675 §2): the Jumbo Payload option's, which counts every byte after
        this header, when the payload length is 0 and a hop-by-hop header follows; None otherwise."""
        if self._v[1] or self._v[2]:
            return None
        return _jumbo_length(self._buf, self._off + 40, self._end)

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("payload_length"):
            self.payload_length = len(payload)
        if not self.is_set("next_header"):
            self.next_header = protocol_number(over, NO_NEXT_HEADER)

    def pseudo_header(self, protocol: int, length: int) -> bytes:
        """What TCP, UDP and ICMPv6 add to their checksum from this header (RFC 8200 §8.1)."""
        return pseudo_header_ipv6(self._v[-2], self._v[-1], protocol, length)

    def summary(self) -> str:
        name = IP_PROTOCOL_NAMES.get(self.next_header, f"ip-proto-{self.next_header}")
        return f"IP6 {self.src} > {self.dst}: {name}, length {self.payload_length}"


class IPv6Cut(IPv6):
    """An IPv6 header whose payload length runs past the bytes there are (cut by the snap length, or a
    length that lies): as :class:`netstudy.wire.ipv4.IPv4Cut`, an IPv6 header whose summary line writes
    the lengths the headers give, and ``truncated-ip6 - N bytes missing!`` as tcpdump does."""

    __slots__ = ()
    CUT_MARK = " truncated-ip6 - {} bytes missing!"

    @classmethod
    def _make(cls, data: bytes, offset: int, end: int) -> IPv6:  # type: ignore[override]  # an IPv6, not a cls
        """The header object: an IPv6 like any other (the class is the summary line's business alone)."""
        return IPv6._make(data, offset, end)

    @staticmethod
    def declared_end(data: bytes, off: int) -> int:
        """Where the datagram ends by its payload length (past the bytes there are)."""
        return off + 40 + (data[off + 4] << 8 | data[off + 5])


def _jumbo_length(data: bytes, off: int, end: int) -> int | None:
    """The value of the first Jumbo Payload option (RFC 2675 §2) of the hop-by-hop header at ``off``,
    among its options captured before ``end``; None when it has none, or one of 65535 or less (which
    RFC 2675 §3 rejects, as tcpdump does: "No valid Jumbo Payload")."""
    if end - off < 2:
        return None
    stop = min(off + 8 * (data[off + 1] + 1), end)
    for kind, start, until in IPV6_OPTIONS.walk(data, off + 2, stop, off + 2, cut=True):
        if kind == 194 and until - start == 4:
            length = int.from_bytes(data[start:until], "big")
            return length if length > 0xFFFF else None
    return None


class _Extension(Header):
    """An extension header: next header, length in 8-byte units beyond the first 8 (RFC 8200 §4)."""

    PROTOCOL = ""
    LAYER = "network"

    _EXTRAS = frozenset({"options"})

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < cls.MIN_LENGTH:
            raise cls._short(off, end)
        length = 8 * (data[off + 1] + 1)
        if off + length > end:          # cut by the snap length: its fixed fields kept, nothing after it
            raise CutHeader(cls.NAME, "hdr_ext_len", off + 1, f"extension of {length} bytes runs past the "
                            f"{end - off} bytes left", (cls, off, end, None, end, end))
        return cls, off, end, IP_PROTOCOL_NEXT[data[off]], off + length, end

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("next_header"):
            self.next_header = protocol_number(over, NO_NEXT_HEADER)
        if not self.is_set("hdr_ext_len"):
            self.hdr_ext_len = self.header_length // 8 - 1

    def summary(self) -> str:
        return f"{self.NAME}, {self.header_length} bytes"

    @classmethod
    def mark_at(cls, data: bytes, off: int, end: int) -> str:
        """What tcpdump writes for this header before the next one's text (``HBH ``); '' for none."""
        return ""

    @classmethod
    def cut_mark_at(cls, data: bytes, off: int, end: int) -> str:
        """What tcpdump writes of this header when the capture cuts it (at ``end``) before its mark:
        nothing of the options headers (``[|hbhopt]`` alone), the routing header's fixed fields."""
        return ""


class _OptionsExtension(_Extension):
    """Hop-by-Hop and Destination Options: a list of TLV options padded to 8 bytes (RFC 8200 §4.3, §4.6)."""

    def __init__(self, **values) -> None:
        values.setdefault("options", [])      # none at all is still padded to 8 bytes (PadN, RFC 8200 §4.2)
        super().__init__(**values)

    @property
    def options(self) -> list[Option]:
        return IPV6_OPTIONS.parse(self.options_raw, self._off + 2)

    def _pack_options(self, options: list[Option]) -> bytes:
        raw = b"".join(o.pack() for o in options)
        pad = -(2 + len(raw)) % 8
        if pad == 1:
            raw += b"\x00"                                 # Pad1
        elif pad:
            raw += bytes([1, pad - 2]) + b"\x00" * (pad - 2)  # PadN
        return raw


class IPv6HopByHop(_OptionsExtension):
    """Hop-by-Hop Options: examined by every router on the path (RFC 8200 §4.3)."""

    NAME = "IPv6 hop-by-hop"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    next_header: int
    hdr_ext_len: int
    FIELDS = (_next_header_field("RFC 8200 §4.3"),
              Field("hdr_ext_len", 8, "length in 8-byte units, not counting the first 8 (RFC 8200 §4.3)",
                    default=None, auto=True))

    @classmethod
    def mark_at(cls, data: bytes, off: int, end: int) -> str:
        return "HBH "


class IPv6JumboCut(IPv6Cut):
    """A jumbogram (RFC 2675) whose Jumbo Payload Length runs past the bytes there are: as
    :class:`IPv6Cut`, but its length is the hop-by-hop header's, and tcpdump writes
    ``truncated-ip6 - N bytes missing!`` after that header's mark (``HBH truncated-ip6 - 1 bytes missing!``)."""

    __slots__ = ()
    CUT_MARK = "truncated-ip6 - {} bytes missing!"
    CUT_MARK_AFTER = IPv6HopByHop       # the header whose mark the cut mark follows (IPv6Cut's: none, after IP6)

    @staticmethod
    def declared_end(data: bytes, off: int) -> int:
        """Where the datagram ends by its Jumbo Payload Length (past the bytes there are)."""
        return off + 40 + (_jumbo_length(data, off + 40, len(data)) or 0)


class IPv6DestOptions(_OptionsExtension):
    """Destination Options: examined only by the destination (RFC 8200 §4.6)."""

    NAME = "IPv6 destination options"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    next_header: int
    hdr_ext_len: int
    FIELDS = IPv6HopByHop.FIELDS

    @classmethod
    def mark_at(cls, data: bytes, off: int, end: int) -> str:
        return "DSTOPT "


class IPv6Routing(_Extension):
    """Routing header: addresses to visit on the way (RFC 8200 §4.4); type-specific data kept raw."""

    NAME = "IPv6 routing"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    next_header: int
    hdr_ext_len: int
    routing_type: int
    segments_left: int
    reserved: int
    FIELDS = (_next_header_field("RFC 8200 §4.4"),
              Field("hdr_ext_len", 8, "length in 8-byte units, not counting the first 8 (RFC 8200 §4.4)",
                    default=None, auto=True),
              Field("routing_type", 8, "0 deprecated, 2 mobile IPv6, 4 segment routing (RFC 8200 §4.4)"),
              Field("segments_left", 8, "route segments still to visit (RFC 8200 §4.4)"),
              Field("reserved", 32, "type-specific; zero for types 0 and 2 (RFC 8200 §4.4)", "hex"))

    def _pack_options(self, data: bytes) -> bytes:
        return bytes(data) + b"\x00" * (-(8 + len(data)) % 8)

    @property
    def addresses(self) -> list[str]:
        """The addresses the header lists: types 0 and 2 the route in order, type 4 (segment routing,
        RFC 8754 §2) its segment list, whose first entry is the final destination; [] for other types."""
        return [_ipv6_text(a) for a in _addresses(self._buf, self._off, self._off + self.header_length)]

    @property
    def final_destination(self) -> bytes | None:
        """The packed address the packet is finally for, when segments are left to visit (and so the
        IPv6 destination is only the next hop): what the upper-layer checksum's pseudo-header uses
        (RFC 8200 §8.1); None when the destination field already holds it."""
        if not self._v[3]:
            return None
        listed = _addresses(self._buf, self._off, self._off + self.header_length)
        if not listed:
            return None
        return listed[0] if self._v[2] == 4 else listed[-1]

    @classmethod
    def mark_at(cls, data: bytes, off: int, end: int) -> str:
        """tcpdump's text: ``RT6 (len=2, type=0 [Deprecated], segleft=1, [0]2200::210:2:0:0:4) ``."""
        length, kind, left = data[off + 1], data[off + 2], data[off + 3]
        text = f"RT6 (len={length}, type={kind}{' [Deprecated]' if kind == 0 else ''}, segleft={left}"
        listed = _addresses(data, off, min(off + 8 * (length + 1), end))     # (those captured, when cut)
        if kind in (0, 2):
            reserved = int.from_bytes(data[off + 4:off + 8], "big")
            if reserved:
                text += f", rsv=0x{reserved:x}"
        elif kind == 4:
            text += f", last-entry={data[off + 4]}"
            if data[off + 5]:
                text += f", flags=0x{data[off + 5]:x}"
            text += f", tag={int.from_bytes(data[off + 6:off + 8], 'big'):x}"
            listed = listed[:data[off + 4] + 1]
        else:
            return text + " (unknown type)) "
        return text + "".join(f", [{i}]{_ipv6_text(a)}" for i, a in enumerate(listed)) + ") "


    @classmethod
    def cut_mark_at(cls, data: bytes, off: int, end: int) -> str:
        """tcpdump's ``RT6 (len=2, type=0, segleft=1`` left open before its mark, or ``RT6`` alone when
        not even those were captured."""
        if end - off < 4:
            return "RT6"
        return cls.mark_at(data, off, end).removesuffix(") ").removesuffix(" (unknown type)")


def _addresses(data: bytes, off: int, stop: int) -> list[bytes]:
    """The 16-byte addresses of the routing header at ``data[off:stop]`` (types 0, 2 and 4 list them
    after its first 8 bytes)."""
    if data[off + 2] not in (0, 2, 4):
        return []
    return [data[at:at + 16] for at in range(off + 8, stop - 15, 16)]


def _ipv6_text(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, packed)


class IPv6Misplaced(_Extension):
    """A Hop-by-Hop header anywhere but right after the IPv6 header (a second one, or after another
    extension header): malformed, as RFC 8200 §4.1 allows it only first."""

    NAME = "IPv6 hop-by-hop"
    FIELDS = IPv6HopByHop.FIELDS

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        raise cls._fail("next_header", off, "a hop-by-hop header must come first, right after the IPv6 header "
                                             "(RFC 8200 §4.1)")


class IPv6Fragment(Header):
    """Fragment header: offset, more-fragments flag and identification (RFC 8200 §4.5)."""

    NAME = "IPv6 fragment"
    PROTOCOL = ""
    LAYER = "network"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    next_header: int
    reserved: int
    fragment_offset: int
    res: int
    m: bool
    identification: int
    FIELDS = (_next_header_field("RFC 8200 §4.5"),
              Field("reserved", 8, "zero (RFC 8200 §4.5)"),
              Field("fragment_offset", 13, "where this fragment goes, in 8-byte units (RFC 8200 §4.5)"),
              Field("res", 2, "zero (RFC 8200 §4.5)"),
              Field("m", 1, "more fragments follow (RFC 8200 §4.5)", "flag"),
              Field("identification", 32, "identifies the fragments of one packet (RFC 8200 §4.5)", "hex"))

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 8:
            raise cls._short(off, end)
        later = (data[off + 2] << 8 | data[off + 3]) >> 3   # a later fragment: the middle of a payload
        return cls, off, end, None if later else IP_PROTOCOL_NEXT[data[off]], off + 8, end

    @classmethod
    def mark_at(cls, data: bytes, off: int, end: int) -> str:
        """tcpdump's ``frag (offset|length) ``: where this fragment's bytes go, and how many there are."""
        return f"frag ({(data[off + 2] << 8 | data[off + 3]) & 0xFFF8}|{end - off - 8}) "

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("next_header"):
            self.next_header = protocol_number(over, NO_NEXT_HEADER)

    def summary(self) -> str:
        return f"frag (0x{self.identification:08x}:{self.fragment_offset * 8}|{len(self.payload)})"


register(ETHERTYPE_NEXT, 0x86DD, IPv6)
for _number, _cls in ((0, IPv6HopByHop), (43, IPv6Routing), (44, IPv6Fragment), (60, IPv6DestOptions), (41, IPv6)):
    register(IP_PROTOCOL_NEXT, _number, _cls)
IP_PROTOCOL_NEXT[0] = IPv6Misplaced    # after an extension header; IPv6._locate picks IPv6HopByHop itself
