"""ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): IPv6's echo, errors, and its ARP."""
from __future__ import annotations

import socket

from netstudy.wire.checksum import internet_checksum, ones_complement_sum, segment_status
from netstudy.wire.decode import Packet, decode_ip
from netstudy.wire.fields import Field, Header, Span
from netstudy.wire.icmp import TypedMessage
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.ipv6 import IPv6
from netstudy.wire.numbers import IP_PROTOCOL_NEXT, register
from netstudy.wire.options import Option, OptionSpec, OptionTable
from netstudy.wire.tcp import TCP
from netstudy.wire.udp import UDP

PROTOCOL = 58
UNREACHABLE, PACKET_TOO_BIG, TIME_EXCEEDED, PARAMETER_PROBLEM = 1, 2, 3, 4
ECHO_REQUEST, ECHO_REPLY = 128, 129
ROUTER_SOLICITATION, ROUTER_ADVERTISEMENT, NEIGHBOR_SOLICITATION, NEIGHBOR_ADVERTISEMENT = 133, 134, 135, 136

TYPES = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
         128: "echo request", 129: "echo reply", 130: "multicast listener query", 131: "multicast listener report",
         133: "router solicitation", 134: "router advertisement", 135: "neighbor solicitation",
         136: "neighbor advertisement", 137: "redirect", 143: "multicast listener report v2"}
UNREACHABLE_CODES = {0: "no route", 1: "administratively prohibited", 2: "beyond scope", 3: "address unreachable",
                     4: "port unreachable", 5: "source address failed policy", 6: "reject route"}

NDP_OPTIONS = OptionTable("NDP options", [
    OptionSpec(1, "source link-address", None, "link-layer address of the sender (RFC 4861 §4.6.1)"),
    OptionSpec(2, "target link-address", None, "link-layer address of the target (RFC 4861 §4.6.1)"),
    OptionSpec(3, "prefix info", None, "an on-link prefix and its lifetimes (RFC 4861 §4.6.2)"),
    OptionSpec(5, "mtu", "2xI", "the link MTU (RFC 4861 §4.6.4)"),
], unknown_name="ndp-opt-{kind}", singles=(), end=None, length_unit=8)

_COMMON: tuple[Field, ...] = (
    Field("type", 8, "message type: 128 echo request, 129 reply, 1 unreachable, 3 time exceeded, "
                     "135/136 neighbour solicitation/advertisement (RFC 4443 §2.1)", names=TYPES),
    Field("code", 8, "subtype of the type (RFC 4443 §2.1)"),
    Field("checksum", 16, "Internet checksum with the IPv6 pseudo-header (RFC 4443 §2.3)", "hex", None,
          auto=True),
)


def ndp_option(kind: int, data: bytes) -> Option:
    """An NDP option from its type and data; the data is zero-padded to a multiple of 8 bytes with the header."""
    data = bytes(data) + b"\x00" * (-(2 + len(data)) % 8)
    return NDP_OPTIONS.option(kind, data)


class ICMPv6(TypedMessage):
    """An ICMPv6 message of a type without its own table: common fields and 4 type-specific bytes."""

    NAME = "ICMPv6"
    LAYER = "transport"
    PROTOCOL = "ICMPv6"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    type: int
    code: int
    checksum: int
    rest: int
    FIELDS = _COMMON + (Field("rest", 32, "depends on the type (RFC 4443 §2.1)", "hex"),)
    BY_TYPE = {}

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("checksum"):
            self.checksum = 0
            if under is not None and hasattr(under, "pseudo_header"):
                message = self.pack() + payload
                pseudo = under.pseudo_header(PROTOCOL, len(message))
                self.checksum = internet_checksum(message, ones_complement_sum(pseudo))

    def checksum_status(self, under: Header | None) -> str:
        """``good``, ``bad``, ``offloaded`` or ``unverified`` (the checksum covers the pseudo-header too)."""
        message = self._buf[self._off:self._end]
        complete = getattr(under, "captured_whole", False)
        pseudo = b""
        if complete and under is not None and hasattr(under, "pseudo_header"):
            pseudo = under.pseudo_header(PROTOCOL, len(message))
        return segment_status(message, pseudo, self.raw("checksum"), complete)

    def summary(self) -> str:
        detail, buf, off, size = "", self._buf, self._off, self._end - self._off
        name = TYPES.get(self.type) or f"unknown icmp6 type ({self.type})"
        if self.type == 143 and size >= 8:      # MLDv2 report: its count (RFC 3810 §5.2)
            detail = f", {int.from_bytes(buf[off + 6:off + 8], 'big')} group record(s)"
        elif self.type == 130 and size >= 24:   # MLD query: v2 from 28 bytes (RFC 3810 §5.1.12), v1 (RFC 2710 §3)
            group = socket.inet_ntop(socket.AF_INET6, buf[off + 8:off + 24])
            if size >= 28:
                sources = int.from_bytes(buf[off + 26:off + 28], "big")
                count = "" if not sources else (f", {sources} source(s)" if sources <= (size - 28) // 16
                                                else " [invalid number of sources]")
                name += f" v2 [gaddr {group}{count}]"
            else:
                name += f" max resp delay: {int.from_bytes(buf[off + 4:off + 6], 'big')} addr: {group}"
        elif self.type == 4 and size >= 8:      # parameter problem: what, and where (RFC 4443 §3.4)
            pointer = int.from_bytes(buf[off + 4:off + 8], "big")
            what = _PARAMETER_PROBLEMS.get(self.code)
            detail = f", {what} - octet {pointer}" if what else f", code-#{self.code}"
        return f"ICMP6, {name}{detail}, length {size}"


# parameter problem codes as tcpdump words them (RFC 4443 §3.4, RFC 7112 §6)
_PARAMETER_PROBLEMS = {0: "erroneous", 1: "next header", 2: "option", 3: "incomplete header chain"}


class ICMPv6Echo(ICMPv6):
    """Echo request (128) and reply (129): identifier and sequence number (RFC 4443 §4.1)."""

    NAME = "ICMPv6 echo"
    TYPE = ECHO_REQUEST
    ALSO_TYPES = (ECHO_REPLY,)
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    identifier: int
    sequence: int
    FIELDS = _COMMON + (
        Field("identifier", 16, "matches replies to requests (RFC 4443 §4.1)"),
        Field("sequence", 16, "counts the requests, echoed in the reply (RFC 4443 §4.1)"),
    )

    def summary(self) -> str:
        kind = "request" if self.type == ECHO_REQUEST else "reply"
        return f"ICMP6, echo {kind}, id {self.identifier}, seq {self.sequence}, length {self._end - self._off}"


class _ICMPv6Error(ICMPv6):
    """An ICMPv6 error quotes as much of the offending packet as fits in 1280 bytes (RFC 4443 §2.4)."""

    @property
    def quoted(self) -> Packet:
        """The quoted packet, decoded (IPv6 header, then as much of what followed as is there)."""
        return decode_ip(self.payload)


class ICMPv6Unreachable(_ICMPv6Error):
    """Destination unreachable (type 1): the code says why (RFC 4443 §3.1)."""

    NAME = "ICMPv6 unreachable"
    TYPE = UNREACHABLE
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    unused: int
    FIELDS = _COMMON + (Field("unused", 32, "zero (RFC 4443 §3.1)", "hex"),)

    def summary(self) -> str:
        """tcpdump's line, which names the quoted packet's destination (and port, for code 4)."""
        what = UNREACHABLE_CODES.get(self.code, f"code {self.code}")
        layers = self.quoted.layers
        ip = layers[0] if layers else None
        if isinstance(ip, (IPv4, IPv6)):            # (nothing quoted: the code alone)
            transport = layers[-1] if len(layers) > 1 else None
            if self.code == 4 and isinstance(transport, (TCP, UDP)):
                what = f"unreachable port, {ip.dst} {transport.NAME.lower()} port {transport.dport}"
            elif self.code in _TCPDUMP_UNREACHABLE:
                what = _TCPDUMP_UNREACHABLE[self.code].format(dst=ip.dst, src=ip.src)
            else:                       # codes tcpdump does not know (RFC 4443 §3.1: 5, 6), a port not quoted
                what = f"{what} {ip.dst}"
        return f"ICMP6, destination unreachable, {what}, length {self._end - self._off}"


_TCPDUMP_UNREACHABLE = {0: "unreachable route {dst}", 1: "unreachable prohibited {dst}",
                        2: "beyond scope {dst}, source address {src}", 3: "unreachable address {dst}"}


class ICMPv6PacketTooBig(_ICMPv6Error):
    """Packet too big (type 2): the MTU of the next link, for path MTU discovery (RFC 4443 §3.2)."""

    NAME = "ICMPv6 packet too big"
    TYPE = PACKET_TOO_BIG
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    mtu: int
    FIELDS = _COMMON + (Field("mtu", 32, "MTU of the next-hop link (RFC 4443 §3.2)"),)

    def summary(self) -> str:
        return f"ICMP6, packet too big, mtu {self.mtu}, length {self._end - self._off}"


class ICMPv6TimeExceeded(_ICMPv6Error):
    """Time exceeded (type 3): the hop limit reached 0 in transit (code 0) (RFC 4443 §3.3)."""

    NAME = "ICMPv6 time exceeded"
    TYPE = TIME_EXCEEDED
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    unused: int
    FIELDS = _COMMON + (Field("unused", 32, "zero (RFC 4443 §3.3)", "hex"),)

    def summary(self) -> str:
        """tcpdump's line: in transit, the destination of the quoted packet (``in-transit for 2001:db8::2``);
        in reassembly, ``in-transit (reassembly)`` (tcpdump names the type after code 0)."""
        what = "in-transit"
        if self.code == 1:
            what += " (reassembly)"
        elif self.code:
            what += f", unknown code ({self.code})"
        elif self._end - self._off >= 48:                       # the quoted IPv6 header's destination
            what += f" for {socket.inet_ntop(socket.AF_INET6, self._buf[self._off + 32:self._off + 48])}"
        return f"ICMP6, time exceeded {what}, length {self._end - self._off}"


class ICMPv6ParameterProblem(_ICMPv6Error):
    """Parameter problem (type 4): the byte offset of the offending field (RFC 4443 §3.4)."""

    NAME = "ICMPv6 parameter problem"
    TYPE = PARAMETER_PROBLEM
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    pointer: int
    FIELDS = _COMMON + (Field("pointer", 32, "offset of the error in the quoted packet (RFC 4443 §3.4)"),)


class _NDP(ICMPv6):
    """A Neighbor Discovery message: fixed fields, then options in 8-byte units (RFC 4861 §4)."""

    _EXTRAS = frozenset({"options"})

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < cls.MIN_LENGTH:
            raise cls._short(off, end)
        return cls, off, end, None, end, end                       # options run to the end of the message

    @property
    def options(self) -> list[Option]:
        return NDP_OPTIONS.parse(self.options_raw, self._off + self.MIN_LENGTH)

    def _pack_options(self, options: list[Option]) -> bytes:
        return b"".join(o.pack() for o in options)

    def option(self, kind: int) -> Option | None:
        return next((o for o in self.options if o.kind == kind), None)

    def link_address(self, kind: int) -> str | None:
        """The MAC in a source (1) or target (2) link-layer address option, as text."""
        opt = self.option(kind)
        return opt.data[:6].hex(":") if opt is not None and len(opt.data) >= 6 else None

    def option_text(self, option: Option) -> str:
        return option.data[:6].hex(":") if option.kind in (1, 2) else str(option)


class ICMPv6RouterSolicitation(_NDP):
    """Router solicitation (133): hosts asking routers to announce themselves (RFC 4861 §4.1)."""

    NAME = "ICMPv6 router solicitation"
    TYPE = ROUTER_SOLICITATION
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    reserved: int
    FIELDS = _COMMON + (Field("reserved", 32, "zero (RFC 4861 §4.1)", "hex"),)


class ICMPv6RouterAdvertisement(_NDP):
    """Router advertisement (134): a router's prefixes, MTU and lifetimes (RFC 4861 §4.2)."""

    NAME = "ICMPv6 router advertisement"
    TYPE = ROUTER_ADVERTISEMENT
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    cur_hop_limit: int
    managed: bool
    other: bool
    reserved: int
    router_lifetime: int
    reachable_time: int
    retrans_timer: int
    FIELDS = _COMMON + (
        Field("cur_hop_limit", 8, "hop limit hosts should use, 0 = unspecified (RFC 4861 §4.2)"),
        Field("managed", 1, "addresses come from DHCPv6 (RFC 4861 §4.2)", "flag"),
        Field("other", 1, "other configuration from DHCPv6 (RFC 4861 §4.2)", "flag"),
        Field("reserved", 6, "zero (RFC 4861 §4.2)"),
        Field("router_lifetime", 16, "seconds this router is a default router (RFC 4861 §4.2)"),
        Field("reachable_time", 32, "ms a neighbour is assumed reachable (RFC 4861 §4.2)"),
        Field("retrans_timer", 32, "ms between neighbour solicitations (RFC 4861 §4.2)"),
    )


class ICMPv6NeighborSolicitation(_NDP):
    """Neighbor solicitation (135): IPv6's ARP request, "who has this address?" (RFC 4861 §4.3)."""

    NAME = "ICMPv6 neighbor solicitation"
    TYPE = NEIGHBOR_SOLICITATION
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    reserved: int
    target: str
    FIELDS = _COMMON + (
        Field("reserved", 32, "zero (RFC 4861 §4.3)", "hex"),
        Field("target", 128, "the address being asked about (RFC 4861 §4.3)", "ipv6", "::"),
    )

    def summary(self) -> str:
        return f"ICMP6, neighbor solicitation, who has {self.target}, length {self._end - self._off}"


class ICMPv6NeighborAdvertisement(_NDP):
    """Neighbor advertisement (136): IPv6's ARP reply, "this address is at this MAC" (RFC 4861 §4.4)."""

    NAME = "ICMPv6 neighbor advertisement"
    TYPE = NEIGHBOR_ADVERTISEMENT
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    router: bool
    solicited: bool
    override: bool
    reserved: int
    target: str
    FIELDS = _COMMON + (
        Field("router", 1, "the sender is a router (RFC 4861 §4.4)", "flag"),
        Field("solicited", 1, "an answer to a solicitation (RFC 4861 §4.4)", "flag"),
        Field("override", 1, "replace a cached link-layer address (RFC 4861 §4.4)", "flag"),
        Field("reserved", 29, "zero (RFC 4861 §4.4)", "hex"),
        Field("target", 128, "the address advertised (RFC 4861 §4.4)", "ipv6", "::"),
    )

    def summary(self) -> str:
        return f"ICMP6, neighbor advertisement, tgt is {self.target}, length {self._end - self._off}"


class ICMPv6Cut(ICMPv6):
    """An ICMPv6 message cut by the snap length inside its 8 fixed bytes: the type, code and checksum that
    were captured, kept as the last layer (``packet.error`` names the field cut); its checksum cannot be
    checked."""

    NAME = "ICMPv6"
    FIELDS = _COMMON

    def checksum_status(self, under: Header | None) -> str:
        return "unverified"


ICMPv6.CUT = ICMPv6Cut
register(IP_PROTOCOL_NEXT, PROTOCOL, ICMPv6)
