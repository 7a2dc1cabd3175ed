"""ICMP for IPv4 (RFC 792): echo, destination unreachable, time exceeded, and the datagram they quote.

Every ICMP message starts with type, code and checksum; the next four bytes depend on the type. Each
message kind is its own small field table sharing those first three fields, and ``ICMP.parse`` picks
the right one from the type byte.
"""
from __future__ import annotations

from typing import ClassVar

from netstudy.wire.checksum import internet_checksum, verify
from netstudy.wire.decode import Packet, decode_ip
from netstudy.wire.fields import LOCATE, CutHeader, Field, Header, Span
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.ipv6 import IPv6
from netstudy.wire.numbers import IP_PROTOCOL_NEXT, register
from netstudy.wire.tcp import TCP
from netstudy.wire.udp import UDP

TYPES = {0: "echo reply", 3: "destination unreachable", 4: "source quench", 5: "redirect", 8: "echo request",
         9: "router advertisement", 10: "router solicitation", 11: "time exceeded", 12: "parameter problem",
         13: "timestamp request", 14: "timestamp reply"}
UNREACHABLE_CODES = {0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
                     3: "port unreachable", 4: "fragmentation needed and DF set", 5: "source route failed",
                     6: "destination network unknown", 7: "destination host unknown", 9: "network prohibited",
                     10: "host prohibited", 13: "communication administratively prohibited"}
TIME_EXCEEDED_CODES = {0: "time to live exceeded in transit", 1: "fragment reassembly time exceeded"}

ECHO_REPLY, UNREACHABLE, ECHO_REQUEST, TIME_EXCEEDED = 0, 3, 8, 11

_COMMON: tuple[Field, ...] = (
    Field("type", 8, "message type: 8 echo request, 0 echo reply, 3 unreachable, 11 time exceeded (RFC 792)",
          names=TYPES),
    Field("code", 8, "subtype, e.g. 3 = port unreachable when type is 3 (RFC 792)"),
    Field("checksum", 16, "Internet checksum of the whole ICMP message (RFC 792)", "hex", None, auto=True),
)


class TypedMessage(Header):
    """A message whose first byte is its type and whose layout depends on it (ICMP, ICMPv6).

    The family's base class holds ``BY_TYPE``; each subclass names its ``TYPE`` (and ``ALSO_TYPES``)
    and is registered there, so ``Base.parse`` returns an instance of the right subclass.
    """

    BY_TYPE: ClassVar[dict[int, type[TypedMessage]]]
    CUT: ClassVar[type[TypedMessage] | None] = None  # the family's message cut after its first 4 bytes
    ROW = (("icmp_type", "type"), ("icmp_code", "code"))
    TYPE: ClassVar[int | None] = None
    _PICKS_TYPE: ClassVar[bool]             # True for the family's base (it holds BY_TYPE)
    ALSO_TYPES: ClassVar[tuple[int, ...]] = ()

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        cls._PICKS_TYPE = "BY_TYPE" in cls.__dict__
        if cls._PICKS_TYPE:
            return
        for number in ((cls.TYPE,) if cls.TYPE is not None else ()) + cls.ALSO_TYPES:
            cls.BY_TYPE[number] = cls

    def __init__(self, **values) -> None:
        if self.TYPE is not None:
            values.setdefault("type", self.TYPE)
        super().__init__(**values)

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if cls._PICKS_TYPE and end > off:       # the family's base: the type byte says which message
            kind = cls.BY_TYPE.get(data[off])
            if kind is not None:
                return LOCATE[kind](data, off, end)
        if end - off < cls.MIN_LENGTH:
            cut = cls.CUT
            if cut is not None and end - off >= cut.MIN_LENGTH and cls.MIN_LENGTH > cut.MIN_LENGTH:
                # type, code and checksum captured, the rest cut by the snap length: the three kept
                missing = cls.FIELDS[len(cut.FIELDS)].name
                raise CutHeader(cls.NAME, missing, off + cut.MIN_LENGTH, f"needs {cls.MIN_LENGTH} bytes, only "
                                f"{end - off} left", (cut, off, end, None, end, end))
            raise cls._short(off, end)
        return cls, off, end, None, off + cls.MIN_LENGTH, end


class ICMP(TypedMessage):
    """An ICMP message of a type without its own table: the common fields and 4 type-specific bytes."""

    NAME = "ICMP"
    LAYER = "transport"
    PROTOCOL = "ICMP"
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    type: int
    code: int
    checksum: int
    rest: int
    FIELDS = _COMMON + (Field("rest", 32, "depends on the type (RFC 792)", "hex"),)
    BY_TYPE = {}

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        if not self.is_set("checksum"):
            self.checksum = 0
            self.checksum = internet_checksum(self.pack() + payload)

    def checksum_status(self, under: Header | None = None) -> str:
        """``good`` or ``bad`` when the whole message is here, else ``unverified`` (RFC 792)."""
        if under is not None and not getattr(under, "captured_whole", True):
            return "unverified"
        return "good" if verify(self._buf[self._off:self._end]) else "bad"

    def summary(self) -> str:
        return f"ICMP {TYPES.get(self.type, f'type-#{self.type}')}, length {self._end - self._off}"


class ICMPEcho(ICMP):
    """Echo request (type 8) and echo reply (type 0): identifier and sequence number (RFC 792 p.14)."""

    NAME = "ICMP echo"
    TYPE = ECHO_REQUEST
    ALSO_TYPES = (ECHO_REPLY,)
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    identifier: int
    sequence: int
    FIELDS = _COMMON + (
        Field("identifier", 16, "matches replies to requests, often the process id (RFC 792 p.14)"),
        Field("sequence", 16, "counts the requests, echoed back in the reply (RFC 792 p.14)"),
    )

    def summary(self) -> str:
        kind = "request" if self.type == ECHO_REQUEST else "reply"
        return f"ICMP echo {kind}, id {self.identifier}, seq {self.sequence}, length {self._end - self._off}"


class _ICMPError(ICMP):
    """An ICMP error: it quotes the IP header and the first 8 bytes (or more) of the datagram it is about."""

    @property
    def quoted(self) -> Packet:
        """The quoted datagram, decoded (IP header, then as much of the transport header as is there)."""
        return decode_ip(self.payload)


class ICMPUnreachable(_ICMPError):
    """Destination unreachable (type 3): the code says why; code 4 carries the next-hop MTU (RFC 1191 §4)."""

    NAME = "ICMP unreachable"
    TYPE = UNREACHABLE
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    unused: int
    next_hop_mtu: int
    FIELDS = _COMMON + (
        Field("unused", 16, "zero (RFC 792 p.4)"),
        Field("next_hop_mtu", 16, "MTU of the next hop when code = 4, fragmentation needed (RFC 1191 §4)"),
    )

    def summary(self) -> str:
        """tcpdump's line, which names the quoted datagram's destination: ``ICMP net 10.0.0.9 unreachable``,
        ``ICMP 10.0.0.9 udp port 33434 unreachable``, ``ICMP 10.0.0.9 unreachable - need to frag (mtu 1400)``."""
        what = UNREACHABLE_CODES.get(self.code, f"code {self.code}")
        layers = self.quoted.layers
        ip = layers[0] if layers else None
        if isinstance(ip, (IPv4, IPv6)):            # (nothing quoted: the code alone)
            transport = layers[1] if len(layers) > 1 else None
            if self.code == 3 and isinstance(transport, (TCP, UDP)):
                what = f"{ip.dst} {transport.NAME.lower()} port {transport.dport} unreachable"
            elif self.code in _TCPDUMP_UNREACHABLE and isinstance(ip, IPv4):   # (IPv6 has no protocol field)
                what = _TCPDUMP_UNREACHABLE[self.code].format(dst=ip.dst, protocol=ip.protocol)
                if self.code == 4 and self.next_hop_mtu:
                    what += f" (mtu {self.next_hop_mtu})"
        return f"ICMP {what}, length {self._end - self._off}"


# how tcpdump words each code (its unreach table), given the quoted datagram's destination and protocol
_TCPDUMP_UNREACHABLE = {
    0: "net {dst} unreachable", 1: "host {dst} unreachable", 2: "{dst} protocol {protocol} unreachable",
    4: "{dst} unreachable - need to frag", 5: "{dst} unreachable - source route failed",
    6: "net {dst} unreachable - unknown", 7: "host {dst} unreachable - unknown",
    8: "{dst} unreachable - source host isolated", 9: "net {dst} unreachable - admin prohibited",
    10: "host {dst} unreachable - admin prohibited", 11: "net {dst} unreachable - tos prohibited",
    12: "host {dst} unreachable - tos prohibited", 13: "host {dst} unreachable - admin prohibited filter",
    14: "host {dst} unreachable - host precedence violation", 15: "host {dst} unreachable - precedence cutoff"}


class ICMPTimeExceeded(_ICMPError):
    """Time exceeded (type 11): a router dropped the datagram because its TTL reached 0 (RFC 792 p.6)."""

    NAME = "ICMP time exceeded"
    TYPE = TIME_EXCEEDED
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    unused: int
    FIELDS = _COMMON + (Field("unused", 32, "zero (RFC 792 p.6)"),)

    def summary(self) -> str:
        what = {0: "time exceeded in-transit", 1: "ip reassembly time exceeded"}.get(   # as tcpdump words them
            self.code, f"time exceeded-#{self.code}")
        return f"ICMP {what}, length {self._end - self._off}"


class ICMPCut(ICMP):
    """An ICMP message cut by the snap length inside its 8 fixed bytes: the type, code and checksum that
    were captured (``decode`` keeps it as the last layer, ``packet.error`` names the field cut). Its line
    names the type, as tcpdump's does; its checksum cannot be checked."""

    NAME = "ICMP"
    FIELDS = _COMMON

    def checksum_status(self, under: Header | None = None) -> str:
        return "unverified"


ICMP.CUT = ICMPCut
register(IP_PROTOCOL_NEXT, 1, ICMP)
