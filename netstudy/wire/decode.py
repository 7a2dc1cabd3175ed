"""Decoding a whole frame into its stack of layers, the way a protocol analyser does.

``decode(frame, linktype)`` starts from the link layer the capture says, then lets each header name
the next one (EtherType, IP protocol, port) until nothing more is known. A layer that is cut short or
inconsistent stops the stack there: the layers before it stay, and the packet is marked malformed with
the error naming layer, field and byte offset, as tshark marks ``[Malformed Packet]``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from netstudy.errors import DecodeError
from netstudy.wire import dns, icmp, icmpv6  # noqa: F401  (imported so that they register for decoding)
from netstudy.wire.arp import ARP
from netstudy.wire.ethernet import Ethernet
from netstudy.wire.fields import LOCATE, Header, Span, _new, compile_function
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.ipv6 import IPv6
from netstudy.wire.link import SLL, SLL2, Null
from netstudy.wire.tcp import TCP
from netstudy.wire.udp import UDP

__all__ = ["Packet", "decode", "decode_ip", "LINKTYPES"]

H = TypeVar("H", bound=Header)

# tcpdump's LINKTYPE_ numbers -> the first header (None: raw IP, version from the first nibble)
LINKTYPES: dict[int, type[Header] | None] = {0: Null, 1: Ethernet, 101: None, 228: None, 229: None,
                                             113: SLL, 276: SLL2}


def _first_of(layer: str, packet: Packet) -> Header | None:
    """The first header of ``packet`` at ``layer`` (the outermost IP header of a tunnel), or None."""
    index = 0
    for span in packet.spans:
        if layer == span[0].LAYER:
            return packet._layer(index)
        index += 1
    return None


def _only_of(layer: str, packet: Packet) -> Header | None:
    """The header of ``packet`` at ``layer``, of which a packet has one at most (transport, application),
    or None: searched from the innermost layer out, where it is (last, or next to last). Made here as
    ``Packet._layer`` makes it (inlined: ``packet.transport`` is on the path of every packet of a capture)."""
    spans = packet.spans
    index = len(spans)
    while index:
        index -= 1
        kind, off, end, _, _, _ = spans[index]
        if layer == kind.LAYER:
            made = packet._made
            if made is None:
                made = packet._made = {}
            elif index in made:
                return made[index]
            data = packet.data
            header = made[index] = _new(kind)
            header._v = kind._STRUCT.unpack_from(data, off)
            header._buf = data
            header._off = off
            header._end = end
            header._build = None
            return header
    return None


class Packet:
    """A decoded frame: its layers (outermost first), what is left undecoded, and any malformed layer.

    Decoding only skims each header (where it ends, what follows); a header object is made the first
    time it is looked at, so asking for the TCP ports of a million frames never builds their Ethernet
    headers.
    """

    __slots__ = ("data", "linktype", "spans", "error", "_rest_start", "_rest_end", "_stopped_at", "_made")

    # made by decode() alone, which sets every slot: data and linktype as given; spans, one ``Span``
    # per layer (header class, offset, end, then what follows: see netstudy.wire.fields.Span); error,
    # the DecodeError that stopped the walk or None; _rest_start/_rest_end, the bytes no layer claimed;
    # _stopped_at, the class that was next (or that failed); _made, the header objects made so far by
    # layer index (None until one is asked for).

    def _layer(self, index: int) -> Header:
        """The header object of layer ``index``, made the first time."""
        made = self._made
        if made is None:
            made = self._made = {}
        header = made.get(index)
        if header is None:
            cls, off, end, _, _, _ = self.spans[index]
            header = made[index] = cls._make(self.data, off, end)
        return header

    @property
    def layers(self) -> list[Header]:
        """Every decoded header, outermost first."""
        return [self._layer(i) for i in range(len(self.spans))]

    # -- looking things up --
    def _index(self, kind: type[Header] | tuple[type[Header], ...]) -> int:
        for i, span in enumerate(self.spans):
            if issubclass(span[0], kind):
                return i
        return -1

    def get(self, kind: type[H], default: Any = None) -> H | Any:
        """The first layer that is a ``kind`` (e.g. ``packet.get(TCP)``), or ``default``."""
        for i, span in enumerate(self.spans):
            if issubclass(span[0], kind):
                return self._layer(i)
        return default

    def __getitem__(self, kind: type[H]) -> H:
        layer = self.get(kind)
        if layer is None:
            raise KeyError(f"no {kind.__name__} layer in {self.summary()}")
        return layer

    def __contains__(self, kind: type[Header]) -> bool:
        return self._index(kind) >= 0

    def __iter__(self) -> Iterator[Header]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def malformed(self) -> bool:
        return self.error is not None

    @property
    def remainder(self) -> bytes:
        """Bytes after the last decoded header that no layer claimed (application data, or the bad layer)."""
        return self.data[self._rest_start:self._rest_end]

    # a partial is no Python frame: these are on every packet's path
    network = property(partial(_first_of, "network"),
                       doc="The first network-layer header (IPv4, IPv6, ARP), if any.")
    transport = property(partial(_only_of, "transport"), doc="The TCP, UDP, ICMP or ICMPv6 header, if any.")
    application = property(partial(_only_of, "application"),
                           doc="The application header netstudy decodes (DNS on port 53), if any.")

    def checksums(self) -> dict[str, str]:
        """The status of every checksum in the packet: ``good``, ``bad``, ``offloaded``, ``unverified``, ``none``."""
        status: dict[str, str] = {}
        ip = None
        fragmented = False
        for layer in self.layers:
            if isinstance(layer, IPv4):
                status[layer.NAME] = "good" if layer.checksum_ok() else "bad"
                ip = layer
                fragmented = layer.is_fragment
            elif isinstance(layer, IPv6):
                ip = layer
            elif layer.NAME == "IPv6 fragment":
                fragmented = True
            elif hasattr(layer, "checksum_status"):
                status[layer.NAME] = "unverified" if fragmented else layer.checksum_status(ip)
        return status

    # -- text --
    def summary(self) -> str:
        """One line in the manner of tcpdump: ``IP 127.0.0.1.53 > 127.0.0.1.40000: UDP, length 45``."""
        return _summary(self)

    def __repr__(self) -> str:
        return f"<Packet {len(self.data)} bytes: {self.summary()}>"

    def describe(self) -> str:
        """Every layer's fields, one per line, then the remainder and any error."""
        parts = [layer.describe() for layer in self.layers]
        if self.error is not None:
            parts.append(f"[Malformed {self.error.layer}: {self.error}]")
        elif self.remainder:
            parts.append(f"payload, {len(self.remainder)} bytes")
        return "\n".join(parts)

    # -- one row of a table --
    def row(self) -> dict[str, Any]:
        """The packet as one row of a table (see ``netstudy.pcap.to_frame``): each layer fills the
        columns its ``ROW`` names; ``protocol`` is the top layer's."""
        return dict(zip(ROW_COLUMNS, self.row_values()))

    def row_values(self) -> list[Any]:
        """:meth:`row` as a list in the order of ``ROW_COLUMNS`` (what ``to_frame`` collects), written by
        the function compiled for this packet's stack of layers (see :func:`_compile_row`)."""
        node = _ROW_WRITERS
        try:
            for span in self.spans:
                node = node[span[0]]
            write = node[None]
        except KeyError:
            write = _compile_row(tuple(span[0] for span in self.spans))
        return write(self, self.data, self.spans)


ROW_COLUMNS = ("length", "src_mac", "dst_mac", "vlan", "src", "dst", "protocol", "sport", "dport", "tcp_flags",
               "icmp_type", "icmp_code", "ttl", "malformed", "summary")
_SRC, _DST, _SPORT, _DPORT = (ROW_COLUMNS.index(c) for c in ("src", "dst", "sport", "dport"))

# the row writers, in a trie keyed by the layers' classes one at a time, the writer under the key None
_ROW_WRITERS: dict[Any, Any] = {}


def _compile_row(kinds: tuple[type[Header], ...]) -> Callable[[Packet, bytes, list], list[Any]]:
    """The function that writes the row of a packet whose layers are ``kinds``: each layer fills the
    columns its ``ROW`` names (a later layer's value wins: a tunnel's inner addresses), read straight
    from the bytes where the field table says how (``Header.read_source``), from the header object
    otherwise; the protocol is the top layer's that names one. The summary line is written in place
    for a well-formed packet none of whose headers was made (and perhaps changed) in Python, by
    ``_summary`` otherwise. Compiled once per stack shape, so a table of a capture runs one flat
    function per packet."""
    lines: list[str] = []
    names: dict[str, Any] = {"_summary": _summary}
    values = dict.fromkeys(ROW_COLUMNS, "None")
    values["length"] = "len(data)"
    protocol = None
    for i, cls in enumerate(kinds):
        lines.append(f"    _, o{i}, e{i}, _, _, _ = spans[{i}]")
        for column, attribute in cls.ROW:
            lines.append(f"    {column}{i} = {cls.read_source(attribute, 'data', f'o{i}') or f'packet._layer({i}).{attribute}'}")
            values[column] = f"{column}{i}"
        if cls.PROTOCOL is None or cls.PROTOCOL:
            protocol = cls.PROTOCOL or cls.NAME
        names[f"summary_at{i}"] = cls.summary_at
    values["protocol"] = repr(protocol)
    values["malformed"] = "packet.error is not None"
    values["summary"] = "None"
    lines.append(f"    row = [{', '.join(values[c] for c in ROW_COLUMNS)}]")
    line = _summary_source(kinds)
    if line is None:
        lines.append("    row[-1] = _summary(packet, row)")
    else:
        lines += ["    if packet.error is None and packet._made is None:",
                  f"        row[-1] = {line}",
                  "    else:",
                  "        row[-1] = _summary(packet, row)"]
    write = compile_function("row", "def row(packet, data, spans):\n" + "\n".join(lines) + "\n    return row\n",
                             names)
    node = _ROW_WRITERS
    for cls in kinds:
        node = node.setdefault(cls, {})
    node[None] = write
    return write


def _summary_source(kinds: tuple[type[Header], ...]) -> str | None:
    """Python source writing what :func:`_summary` writes for a well-formed packet of layers ``kinds``,
    from the row's locals (None where the shape needs ``_summary`` itself)."""
    layers = [cls.LAYER for cls in kinds]
    transport = layers.index("transport") if "transport" in layers else len(kinds)
    net = layers.index("network") if "network" in layers[:transport] else -1
    if net < 0:
        last = len(kinds) - 1
        return f"summary_at{last}(data, o{last}, e{last})" if kinds else "f'{len(data)} bytes undecoded'"
    if any(hasattr(cls, "mark_at") for cls in kinds[net + 1:transport]):
        return None                             # IPv6 extension headers: _summary writes their marks
    if kinds[net] is ARP or transport == len(kinds):
        return f"summary_at{net}(data, o{net}, e{net})"
    columns = {column for column, _ in kinds[net].ROW}
    if not {"src", "dst"} <= columns:
        return None
    family = "IP" if kinds[net] is IPv4 else "IP6"
    if kinds[transport] not in _WITH_PORTS:
        return f"f'{family} {{src{net}}} > {{dst{net}}}: {{summary_at{transport}(data, o{transport}, e{transport})}}'"
    last = len(kinds) - 1
    return (f"f'{family} {{src{net}}}.{{sport{transport}}} > {{dst{net}}}.{{dport{transport}}}: "
            f"{{summary_at{last}(data, o{last}, e{last})}}'")


def _ip_class(data: bytes, offset: int) -> type[Header] | None:
    if offset < len(data) and data[offset] >> 4 == 6:
        return IPv6
    return IPv4


def decode(frame: bytes | bytearray | memoryview, linktype: int = 1, first: type[Header] | None = None) -> Packet:
    """Decode a captured frame whose link layer is ``linktype`` (1 Ethernet, 101 raw IP, 113/276 Linux
    cooked, 0 BSD loopback) into a :class:`Packet`; or, given ``first``, bytes that start with that
    header (``decode(data, first=UDP)``). Never raises for bad bytes: a malformed layer is recorded in
    ``packet.error`` and stops the stack.

    Each header's ``_locate`` reads the few bytes that say how long it is and what follows, so the
    walk is a loop of small lookups; header objects are made later, when asked for.
    """
    if frame.__class__ is not bytes:
        frame = bytes(frame)
    if first is not None:
        cls, linktype = first, -1
    else:
        try:
            cls = LINKTYPES[linktype] or _ip_class(frame, 0)
        except KeyError:
            raise ValueError(f"link type {linktype} is not one netstudy decodes; known: {sorted(LINKTYPES)}") from None
    spans: list[Span] = []
    off, end, error = 0, len(frame), None
    locate = LOCATE
    try:
        while cls is not None:
            span = locate[cls](frame, off, end)
            spans.append(span)
            _, _, _, cls, off, end = span
    except DecodeError as exc:
        error = exc
    packet = _new_packet(Packet)      # every slot set here: no __init__ call on this per-packet path
    packet.data = frame
    packet.linktype = linktype
    packet.spans = spans
    packet.error = error
    packet._rest_start = off
    packet._rest_end = end if end > off else off
    packet._stopped_at = cls
    packet._made = None
    return packet


_new_packet = object.__new__


def decode_ip(data: bytes | bytearray | memoryview) -> Packet:
    """Decode bytes that start with an IP header (IPv4 or IPv6, from the version nibble): what a raw
    socket returns, or the datagram an ICMP error quotes (there a transport header cut short is
    expected, and marked like any other)."""
    return decode(data, 101)


_WITH_PORTS = (TCP, UDP)


def _summary(p: Packet, row: list[Any] | None = None) -> str:
    """The tcpdump-style line; given the packet's ``row``, its addresses and ports are taken from there
    (they are the network and transport headers' when the packet has one network header with addresses)."""
    spans = p.spans
    net = transport = -1
    index = 0
    for kind, *_ in spans:                     # the first network header, and the transport header
        where = kind.LAYER
        if where == "transport":
            transport = index
            break                              # what follows is application data
        if where == "network":
            if net < 0:
                net = index
            elif kind.ROW:                     # a second IP header (a tunnel): the row holds the inner one's
                row = None
        index += 1
    tail = "" if p.error is None else f" [|{p.error.layer.lower()}: {p.error.reason}]"
    if net < 0:
        if spans:
            return p._layer(len(spans) - 1).summary() + tail
        return f"{len(p.data)} bytes undecoded{tail}"
    kind = spans[net][0]
    if kind is ARP:
        return p._layer(net).summary() + tail
    family = "IP" if kind is IPv4 else "IP6"
    if row is None:
        ip = p._layer(net)
        src, dst = ip.src, ip.dst
    else:
        src, dst = row[_SRC], row[_DST]
    marks = ""                                 # IPv6 extension headers, as tcpdump marks them: "HBH "
    for kind, off, end, *_ in spans[net + 1:transport if transport >= 0 else len(spans)]:
        if hasattr(kind, "mark_at"):
            marks += kind.mark_at(p.data, off, end)
    if transport >= 0:
        if spans[transport][0] not in _WITH_PORTS:
            return f"{family} {src} > {dst}: {marks}{p._layer(transport).summary()}{tail}"
        if row is None:
            layer = p._layer(transport)
            sport, dport = layer.sport, layer.dport
        else:
            sport, dport = row[_SPORT], row[_DPORT]
        made = p._made                      # a header already made (and perhaps changed) speaks for itself
        if made is not None and len(spans) - 1 in made:
            line = made[len(spans) - 1].summary()
        else:
            kind, off, end, _, _, _ = spans[-1]
            line = kind.summary_at(p.data, off, end)
        return f"{family} {src}.{sport} > {dst}.{dport}: {marks}{line}{tail}"
    if p.error is not None and p._stopped_at in _WITH_PORTS and len(p.remainder) >= 4:
        sport, dport = int.from_bytes(p.remainder[:2], "big"), int.from_bytes(p.remainder[2:4], "big")
        return f"{family} {src}.{sport} > {dst}.{dport}:{tail}"
    if marks:                                  # a later IPv6 fragment: "frag (1448|1448)" says it all
        return f"{family} {src} > {dst}: {marks.rstrip()}{tail}"
    return p._layer(net).summary() + tail
