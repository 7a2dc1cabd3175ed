"""Decoding a whole frame into its stack of layers, the way a protocol analyser does.

``decode(frame, linktype)`` starts from the link layer the capture says, then lets each header name
the next one (EtherType, IP protocol, port) until nothing more is known. A layer that is cut short or
inconsistent stops the stack there: the layers before it stay, and the packet is marked malformed with
the error naming layer, field and byte offset, as tshark marks ``[Malformed Packet]``.

The headers a frame may hold are found through the tables of ``netstudy.wire.numbers``, which each header
module fills as it is imported (``netstudy/wire/__init__.py`` imports them all, before any of its modules
is used); so this module imports only the headers it names, and the ICMP errors, which decode the
datagram they quote with :func:`decode_ip`, can import it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from netstudy.errors import DecodeError, InputError
from netstudy.wire.arp import ARP, ARPOther
from netstudy.wire.checksum import pseudo_header_ipv6
from netstudy.wire.ethernet import Ethernet
from netstudy.wire.fields import LOCATE, CutHeader, Header, Span, _new, compile_function
from netstudy.wire.ipv4 import IPv4
from netstudy.wire.ipv6 import IPv6, IPv6Routing
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
        index += 1  # noqa: SIM113  (a counter costs less than enumerate's tuples, on every packet's path)
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

    __slots__ = ("data", "linktype", "wire_length", "spans", "error", "_rest_start", "_rest_end", "_stopped_at",
                 "_made")

    # made by decode() alone, which sets every slot: data, linktype and wire_length (the frame's length on
    # the wire, None when it is the bytes there are) as given; spans, one ``Span``
    # per layer (header class, offset, end, then what follows: see netstudy.wire.fields.Span); error,
    # the DecodeError that stopped the walk or None; _rest_start/_rest_end, the bytes no layer claimed;
    # _stopped_at, the class that was next (or that failed); _made, the header objects made so far by
    # layer index (None until one is asked for).
    data: bytes
    linktype: int
    wire_length: int | None
    spans: list[Span]
    error: DecodeError | None
    _rest_start: int
    _rest_end: int
    _stopped_at: type[Header] | None
    _made: dict[int, Header] | None

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
        ip: Any = None                  # the IP header (or _FinalDestination) the transport's checksum covers
        fragmented = False
        for layer in self.layers:
            if isinstance(layer, IPv4):
                # a tunnel's inner header has its own verdict, named as the line names it: after the outer
                verdict = "unverified" if layer.header_cut else "good" if layer.checksum_ok() else "bad"
                status["IPv4" if ip is None else _inner_name(status)] = verdict
                ip = layer
                fragmented = layer.is_fragment
            elif isinstance(layer, IPv6):
                ip = layer
            elif layer.NAME == "IPv6 fragment":
                fragmented = True
            elif isinstance(layer, IPv6Routing) and ip is not None:
                final = layer.final_destination       # segments left: the pseudo-header's is the final one
                if final is not None:
                    ip = _FinalDestination(ip, final)
            elif hasattr(layer, "checksum_status"):
                status[layer.NAME] = "unverified" if fragmented else layer.checksum_status(ip)
        return status

    # -- text --
    def summary(self) -> str:
        """One line in the manner of tcpdump: ``IP 127.0.0.1.53 > 127.0.0.1.40000: UDP, length 45``."""
        node = _SUMMARY_WRITERS         # the writer compiled for this stack of layers (see _compile_summary)
        try:
            for span in self.spans:
                node = node[span[0]]
            write = node[None]
        except KeyError:
            write = _compile_summary(tuple(span[0] for span in self.spans))
        return write(self, self.data, self.spans)

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
        return dict(zip(ROW_COLUMNS, self.row_values(), strict=True))

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
Writer = Callable[["Packet", bytes, list[Span]], Any]


def _compile_row(kinds: tuple[type[Header], ...]) -> Writer:
    """The function that writes the row of a packet whose layers are ``kinds``: each layer fills the
    columns its ``ROW`` names (a later layer's value wins: a tunnel's inner addresses), read straight
    from the bytes where the field table says how (``Header.read_source``), from the header object
    otherwise; the protocol is the top layer's that names one. The summary line is written in place
    from the row's values while no header object was made (and perhaps changed) in Python, by the
    packet's summary writer (:func:`_compile_summary`) otherwise. Compiled once per stack shape, so a
    table of a capture runs one flat function per packet."""
    lines: list[str] = []
    names: dict[str, Any] = {"summary": _summary_writer(kinds)}
    values = dict.fromkeys(ROW_COLUMNS, "None")
    values["length"] = "len(data)"
    protocol = None
    for i, cls in enumerate(kinds):
        lines.append(f"    _, o{i}, e{i}, _, _, _ = spans[{i}]")
        for column, attribute in cls.ROW:
            source = cls.read_source(attribute, "data", f"o{i}") or f"packet._layer({i}).{attribute}"
            lines.append(f"    {column}{i} = {source}")
            values[column] = f"{column}{i}"
        if cls.PROTOCOL is None or cls.PROTOCOL:
            protocol = cls.PROTOCOL or cls.NAME
    values["protocol"] = repr(protocol)
    values["malformed"] = "packet.error is not None"
    values["summary"] = "None"
    lines.append(f"    row = [{', '.join(values[c] for c in ROW_COLUMNS)}]")

    def read(i: int, attribute: str) -> str:           # the row's value, or as the summary writer reads it
        for column, name in kinds[i].ROW:
            if name == attribute:
                return f"{column}{i}"
        return _read_in_place(kinds, i, attribute)

    lines.append("    if packet._made is None:")
    lines += _indent(_summary_lines(kinds, read, _line_in_place, "row[-1] = ", names), 2)
    lines += ["    else:", "        row[-1] = summary(packet, data, spans)"]
    write = compile_function("row", "def row(packet, data, spans):\n" + "\n".join(lines) + "\n    return row\n",
                             names)
    node = _ROW_WRITERS
    for cls in kinds:
        node = node.setdefault(cls, {})
    node[None] = write
    return write


# ----------------------------------------------------------------------------------------------------
# the one-line summary, in the manner of tcpdump: written by one function per stack shape, compiled
# from the description below (which a row writer inlines)

# the summary writers, in a trie like the row writers'
_SUMMARY_WRITERS: dict[Any, Any] = {}


def _summary_writer(kinds: tuple[type[Header], ...]) -> Writer:
    """The summary writer of packets whose layers are ``kinds`` (compiled the first time)."""
    node = _SUMMARY_WRITERS
    try:
        for cls in kinds:
            node = node[cls]
        write: Writer = node[None]
    except KeyError:
        write = _compile_summary(kinds)
    return write


def _compile_summary(kinds: tuple[type[Header], ...]) -> Writer:
    """The function writing the summary line of a packet whose layers are ``kinds``: read straight from
    the bytes while no header object was made, from the header objects (which may have been changed)
    once one was."""
    names: dict[str, Any] = {}
    lines = [f"    _, o{i}, e{i}, _, _, _ = spans[{i}]" for i in range(len(kinds))]
    lines.append("    if packet._made is None:")
    lines += _indent(_summary_lines(kinds, partial(_read_in_place, kinds), _line_in_place, "return ", names), 2)
    lines.append("    else:")
    lines += _indent(_summary_lines(kinds, _read_from_object, _line_from_object, "return ", names), 2)
    write = compile_function("summary", "def summary(packet, data, spans):\n" + "\n".join(lines) + "\n", names)
    node = _SUMMARY_WRITERS
    for cls in kinds:
        node = node.setdefault(cls, {})
    node[None] = write
    return write


def _read_in_place(kinds: tuple[type[Header], ...], i: int, attribute: str) -> str:
    """Source reading ``attribute`` of layer ``i`` from the bytes, or from its header object if the
    field table does not say how."""
    return kinds[i].read_source(attribute, "data", f"o{i}") or _read_from_object(i, attribute)


def _read_from_object(i: int, attribute: str) -> str:
    return f"packet._layer({i}).{attribute}"


def _line_in_place(i: int) -> str:
    """Source for layer ``i``'s own line, read from the bytes (``Header.summary_at``)."""
    return f"summary_at{i}(data, o{i}, e{i})"


def _line_from_object(i: int) -> str:
    """Source for layer ``i``'s own line, from its header object if one was made (it may have been changed)."""
    return f"(packet._made[{i}].summary() if {i} in packet._made else summary_at{i}(data, o{i}, e{i}))"


def _indent(lines: list[str], levels: int) -> list[str]:
    return ["    " * levels + line for line in lines]


def _summary_lines(kinds: tuple[type[Header], ...], read: Callable[[int, str], str], line: Callable[[int], str],
                   out: str, names: dict[str, Any]) -> list[str]:
    """Python source that writes tcpdump's line for a packet of layers ``kinds`` (``out`` it: ``return ``,
    ``row[-1] = ``), given the sources reading a layer's field (``read(i, "src")``) and its own line
    (``line(i)``): the one place where the line is written. Names the source uses are added to ``names``.

    The line: the first network header's family and addresses, with the ports of a TCP or UDP header,
    then what tcpdump writes for the extension headers between (``HBH ``), then the line of the top
    layer (of the transport layer, when it has no ports); a packet with no network header is its top
    layer's line, an ARP packet the ARP header's. A malformed packet's line ends with the layer and
    reason of its error (``[|tcp: ...]``), and one stopped in its TCP or UDP header gives the ports
    that were there."""
    for i, cls in enumerate(kinds):
        names[f"summary_at{i}"] = cls.summary_at
        if hasattr(cls, "mark_at"):
            names[f"mark_at{i}"] = cls.mark_at
        if hasattr(cls, "cut_mark_at"):        # an IPv6 extension header: its words when the capture cuts it
            names[f"cut_mark_at{i}"] = cls.cut_mark_at
        if hasattr(cls, "CUT_MARK"):           # an IP datagram longer than the bytes there are (rare)
            names[f"cut_mark{i}"] = partial(_cut_mark, cls)
            names[f"declared_end{i}"] = getattr(cls, "declared_end")  # noqa: B009  (IPv4Cut's, IPv6Cut's)
            names["_lengthen"] = _lengthen
    names["_WITH_PORTS"] = _WITH_PORTS
    names["_CutHeader"] = CutHeader
    names["_on_the_wire"] = _on_the_wire
    whole = _line_source(kinds, read, line, out, "")
    cut = _line_source(kinds, read, line, out, "{tail}")
    return (["if packet.error is None:"] + _indent(whole, 1)
            + ["else:", "    tail = f' [|{packet.error.layer.lower()}: {packet.error.reason}]'"] + _indent(cut, 1))


def _line_source(kinds: tuple[type[Header], ...], read: Callable[[int, str], str], line: Callable[[int], str],
                 out: str, tail: str) -> list[str]:
    """:func:`_summary_lines` for a well-formed packet (``tail`` empty) or a malformed one (``{tail}``)."""
    layers = [cls.LAYER for cls in kinds]
    transport = layers.index("transport") if "transport" in layers else len(kinds)
    net = layers.index("network") if "network" in layers[:transport] else -1
    if net < 0:
        top = f"{{{line(len(kinds) - 1)}}}" if kinds else "{len(data)} bytes undecoded"
        if tail:        # cut in its network header: tcpdump writes no link header (without -e), the mark alone
            return ["if packet._stopped_at is not None and packet._stopped_at.LAYER == 'network':",
                    f"    {out}f'{tail}'", "else:", f"    {out}f'{top}{tail}'"]
        return [f"{out}f'{top}{tail}'"]
    if kinds[net] in (ARP, ARPOther):          # its length, as tcpdump's, from the frame's on the wire
        return [f"{out}f'{{_on_the_wire(packet, {line(net)})}}{tail}'"]
    # a tunnel (IP in IP, IPv6 in IPv6, 6in4): each outer IP header's addresses and the marks of its
    # extension headers, then the innermost one's line, as tcpdump writes them
    ips = [i for i in range(net, transport) if issubclass(kinds[i], (IPv4, IPv6))]
    outer = ""
    for k, i in enumerate(ips[:-1]):
        outer += (f"{_family(kinds, i)}{{{read(i, 'src')}}} > {{{read(i, 'dst')}}}: "
                  + _marks(kinds, i + 1, ips[k + 1]))
    net = ips[-1]
    family = _family(kinds, net)
    src, dst = read(net, "src"), read(net, "dst")
    if hasattr(kinds[net], "CUT_MARK") and transport < len(kinds):
        # longer than the bytes there are: the transport's length as the IP header gives it (a UDP
        # header's line reads its own length field; a TCP line is read from the bytes, as far as the
        # datagram's end, which it reads no further than its options)
        captured = line
        extra = f"declared_end{net}(data, o{net}) - e{net}"

        def line(i: int) -> str:
            if i > transport and issubclass(kinds[transport], UDP):   # DNS: its "(N)" from UDP's length field
                udp = f"(data[o{transport} + 4] << 8 | data[o{transport} + 5]) - 8 - (e{i} - o{i})"
                return f'_lengthen({captured(i)}, {udp}, " (", ")")'
            if i != transport or issubclass(kinds[i], UDP):
                return captured(i)
            if issubclass(kinds[i], TCP):         # its sequence range too: read to where the datagram ends
                return f"summary_at{i}(data, o{i}, declared_end{net}(data, o{net}))"
            return f"_lengthen({captured(i)}, {extra})"
    marks = _marks(kinds, net + 1, transport)    # IPv6 extension headers, as tcpdump marks them: "HBH "
    if transport < len(kinds):
        if kinds[transport] in _WITH_PORTS:
            sport, dport, last = read(transport, "sport"), read(transport, "dport"), len(kinds) - 1
            if transport > net + 1:              # after extension headers: the ports after their marks
                return [f"{out}f'{outer}{family}{{{src}}} > {{{dst}}}: {marks}{{{sport}}} > {{{dport}}}: "
                        f"{{{line(last)}}}{tail}'"]
            return [f"{out}f'{outer}{family}{{{src}}}.{{{sport}}} > {{{dst}}}.{{{dport}}}: {{{line(last)}}}{tail}'"]
        return [f"{out}f'{outer}{family}{{{src}}} > {{{dst}}}: {marks}{{{line(transport)}}}{tail}'"]
    lines, cases = [], []
    if tail:                                     # stopped in its TCP or UDP header: the ports, if there
        cases.append(("packet._stopped_at in _WITH_PORTS and len(packet.remainder) >= 4",
                      f"{out}f'{outer}{family}{{{src}}}.{{int.from_bytes(packet.remainder[:2], \"big\")}} > "
                      f"{{{dst}}}.{{int.from_bytes(packet.remainder[2:4], \"big\")}}:{tail}'"))
        # stopped before an ICMP message's type, code and checksum (the ICMP families have a CUT class
        # for a message cut after them): the addresses, then the mark, as tcpdump writes them
        cases.append(("hasattr(packet._stopped_at, 'CUT')", f"{out}f'{outer}{family}{{{src}}} > {{{dst}}}: {tail}'"))
        last = len(kinds) - 1
        if last == net:                          # its options cut by the capture: the addresses, the mark
            cases.append(("packet.error.__class__ is _CutHeader",
                          f"{out}f'{outer}{family}{{{src}}} > {{{dst}}}:{tail}'"))
        elif hasattr(kinds[last], "cut_mark_at"):      # an extension header the capture cut
            cases.append(("packet.error.__class__ is _CutHeader",
                          f"{out}f'{outer}{family}{{{src}}} > {{{dst}}}: {_marks(kinds, net + 1, last)}"
                          f"{{cut_mark_at{last}(data, o{last}, e{last})}}{tail}'"))
        # stopped in an extension header's fixed part: its name as tcpdump writes it (RT6), then the mark
        cases.append(("hasattr(packet._stopped_at, 'cut_mark_at')",
                      f"{out}f'{outer}{family}{{{src}}} > {{{dst}}}: {marks}"
                      f"{{packet._stopped_at.cut_mark_at(data, packet._rest_start, packet._rest_end)}}{tail}'"))
    if marks:                                    # a later IPv6 fragment: "frag (1448|1448)" says it all
        lines.append(f"marks = f'{marks}'")
        cases.append(("marks", f"{out}f'{outer}{family}{{{src}}} > {{{dst}}}: {{marks.rstrip()}}{tail}'"))
    otherwise = f"{out}f'{outer}{{{line(net)}}}{tail}'"
    if not cases:
        return lines + [otherwise]
    for k, (condition, statement) in enumerate(cases):
        lines += [f"{'elif' if k else 'if'} {condition}:", f"    {statement}"]
    return lines + ["else:", f"    {otherwise}"]


def _family(kinds: tuple[type[Header], ...], i: int) -> str:
    """Source writing the start of IP header ``i``'s part of the line: ``IP``, ``IP6``, and tcpdump's
    ``truncated-ip - N bytes missing!`` after it when the datagram is longer than the frame."""
    family = "IP" if issubclass(kinds[i], IPv4) else "IP6"
    if hasattr(kinds[i], "CUT_MARK") and getattr(kinds[i], "CUT_MARK_AFTER", None) is None:
        return f'{family}{{cut_mark{i}(packet, data, o{i}) or " "}}'
    return family + " "


def _cut_mark(cls: Any, packet: Packet, data: bytes, off: int) -> str:
    """`` truncated-ip - N bytes missing! `` when the frame on the wire was shorter than IP header ``cls``
    at ``off`` says its datagram is (tcpdump's words); '' when the capture cut it (the snap length), or
    when the packet's ``wire_length`` is not known."""
    if packet.wire_length is None:              # not known: the bytes may be all the capture kept
        return ""
    missing = cls.declared_end(data, off) - packet.wire_length
    return cls.CUT_MARK.format(missing) if missing > 0 else ""


def _lengthen(text: str, extra: int, before: str = ", length ", after: str = "") -> str:
    """A line ending ``, length N`` (TCP, ICMP, ICMPv6), or ``before`` N ``after`` (DNS's `` (N)``), with
    ``extra`` bytes more: the length the IP header gives, where the capture holds fewer bytes."""
    head, sep, length = text.rpartition(before)
    if after:
        length, sep = (length[:-len(after)], sep) if length.endswith(after) else ("", "")
    if sep and length.isdigit():
        return f"{head}{before}{int(length) + extra}{after}"
    return text


def _on_the_wire(packet: Packet, text: str) -> str:
    """A line ending ``, length N`` counted to the end of the frame (ARP's), with the bytes the capture
    cut added back (the frame's ``wire_length``), as tcpdump counts them."""
    if packet.wire_length is None or packet.wire_length <= len(packet.data):
        return text
    return _lengthen(text, packet.wire_length - len(packet.data))


def _marks(kinds: tuple[type[Header], ...], start: int, stop: int) -> str:
    """Source writing the marks of the extension headers ``kinds[start:stop]`` (``HBH ``, ``RT6 (...) ``),
    and the cut mark of an IP header that tcpdump writes after one of them (a jumbogram's, after ``HBH ``)."""
    marks = ""
    for i in range(start, stop):
        if hasattr(kinds[i], "mark_at"):
            marks += f"{{mark_at{i}(data, o{i}, e{i})}}"
        if getattr(kinds[i - 1], "CUT_MARK_AFTER", None) is kinds[i]:
            marks += f"{{cut_mark{i - 1}(packet, data, o{i - 1})}}"
    return marks


def _ip_class(data: bytes, offset: int) -> type[Header]:
    if offset < len(data) and data[offset] >> 4 == 6:
        return IPv6
    return IPv4


def decode(frame: bytes | bytearray | memoryview, linktype: int = 1, first: type[Header] | None = None,
           wire_length: int | None = None) -> Packet:
    """Decode a captured frame whose link layer is ``linktype`` (1 Ethernet, 101 raw IP, 113/276 Linux
    cooked, 0 BSD loopback) into a :class:`Packet`; or, given ``first``, bytes that start with that
    header (``decode(data, first=UDP)``). Never raises for bad bytes: a malformed layer is recorded in
    ``packet.error`` and stops the stack. ``wire_length`` is the frame's length on the wire (a capture
    record's ``length``): an IP datagram longer than the frame on the wire reads ``truncated-ip - N bytes
    missing!`` as tcpdump writes it (without it, the bytes may be all the capture kept: no such mark).

    Each header's ``_locate`` reads the few bytes that say how long it is and what follows, so the
    walk is a loop of small lookups; header objects are made later, when asked for.
    """
    if frame.__class__ is not bytes:
        frame = bytes(frame)
    cls: type[Header] | None
    if first is not None:
        cls, linktype = first, -1
    else:
        try:
            cls = LINKTYPES[linktype] or _ip_class(frame, 0)
        except KeyError:
            raise InputError(f"link type {linktype} is not one netstudy decodes; known: {sorted(LINKTYPES)}") from None
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
        if exc.__class__ is CutHeader:  # its fixed part captured: kept as the last layer, marked malformed
            spans.append(exc.span)
            off = end
    packet = _new_packet(Packet)      # every slot set here: no __init__ call on this per-packet path
    packet.data = frame
    packet.linktype = linktype
    packet.wire_length = wire_length
    packet.spans = spans
    packet.error = error
    packet._rest_start = off
    packet._rest_end = end if end > off else off
    packet._stopped_at = cls
    packet._made = None
    return packet


_new_packet = object.__new__


def _inner_name(status: dict[str, str]) -> str:
    """The key of a tunnel's inner IPv4 header in ``checksums()``: ``IPv4 (inner)``, then ``IPv4 (inner 2)``
    for a tunnel in a tunnel; the outermost IP header's is ``IPv4``, as the summary line writes it first."""
    depth = sum(name.startswith("IPv4 (inner") for name in status)
    return f"IPv4 (inner{f' {depth + 1}' if depth else ''})"


class _FinalDestination:
    """An IPv6 header as an upper-layer checksum sees it when a routing header still has segments to
    visit: the pseudo-header carries the final destination, not the next hop (RFC 8200 §8.1)."""

    def __init__(self, ip: Header, final: bytes) -> None:
        self.captured_whole = getattr(ip, "captured_whole", False)
        self._src, self._final = ip._v[-2], final

    def pseudo_header(self, protocol: int, length: int) -> bytes:
        return pseudo_header_ipv6(self._src, self._final, protocol, length)


def decode_ip(data: bytes | bytearray | memoryview) -> Packet:
    """Decode bytes that start with an IP header (IPv4 or IPv6, from the version nibble): what a raw
    socket returns, or the datagram an ICMP error quotes (there a transport header cut short is
    expected, and marked like any other)."""
    return decode(data, 101)


_WITH_PORTS = (TCP, UDP)
