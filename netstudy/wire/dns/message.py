"""A whole DNS message (RFC 1035 §4.1): :class:`Message` with its :class:`Question` and :class:`Record`
entries, parsed from bytes and written back (names compressed); and :class:`DNS`, its 12-byte header as
a field table, which ``decode()`` finds after UDP port 53.

Hostile bytes raise :class:`DecodeError` naming layer ``DNS``, the field and the byte offset, and never
loop: every count is checked against the bytes that are left, names as :mod:`netstudy.wire.dns.name`
reads them. A field too large to write raises :class:`BuildError`.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from netstudy.errors import BuildError, DecodeError
from netstudy.wire.dns.codes import (
    _HEADER,
    _Q,
    _RR,
    LAYER,
    OPCODES,
    PORT,
    RCODES,
    class_code,
    class_name,
    rcode_name,
    type_code,
    type_name,
)
from netstudy.wire.dns.name import ROOT, Name, NamePiece, NameSpan, _read_name, _Writer
from netstudy.wire.dns.rdata import EDNS_OPTIONS, MX, OPT, RDATA_TYPES, SRV, RData, Unknown
from netstudy.wire.dns.summary import (
    _cut_at,
    _skim_line,
    _tcpdump_class,
    _tcpdump_flags,
    _tcpdump_question,
    _tcpdump_rdata,
    _tcpdump_sections,
    _tcpdump_walk,
)
from netstudy.wire.dns.text import _columns
from netstudy.wire.fields import CutHeader, Field, Header, Span
from netstudy.wire.numbers import UDP_PORT_NEXT, register


class DNS(Header):
    """The DNS message header (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2): 12 bytes."""

    NAME = "DNS"
    CUT: ClassVar[type[Header]]       # DNSCut (below): what UDP gives a datagram the capture cut
    # the fields as attributes (made from FIELDS when the class is created; declared for type checkers)
    id: int
    qr: bool
    opcode: int
    aa: bool
    tc: bool
    rd: bool
    ra: bool
    z: bool
    ad: bool
    cd: bool
    rcode: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int
    FIELDS = (
        Field("id", 16, "identifier chosen by the client, copied into the reply (RFC 1035 §4.1.1)"),
        Field("qr", 1, "0 = query, 1 = response (RFC 1035 §4.1.1)", "flag"),
        Field("opcode", 4, "kind of query: 0 QUERY, 4 NOTIFY, 5 UPDATE (RFC 1035 §4.1.1)", names=OPCODES),
        Field("aa", 1, "authoritative answer: the server owns the zone (RFC 1035 §4.1.1)", "flag"),
        Field("tc", 1, "truncated: the answer did not fit, retry over TCP (RFC 1035 §4.1.1)", "flag"),
        Field("rd", 1, "recursion desired, copied into the reply (RFC 1035 §4.1.1)", "flag"),
        Field("ra", 1, "recursion available at this server (RFC 1035 §4.1.1)", "flag"),
        Field("z", 1, "reserved, must be zero (RFC 1035 §4.1.1)", "flag"),
        Field("ad", 1, "authentic data: DNSSEC-validated (RFC 4035 §3.2.3)", "flag"),
        Field("cd", 1, "checking disabled: do not validate (RFC 4035 §3.2.2)", "flag"),
        Field("rcode", 4, "response code: 0 NOERROR, 3 NXDOMAIN ... (RFC 1035 §4.1.1)", names=RCODES),
        Field("qdcount", 16, "entries in the question section (RFC 1035 §4.1.1)"),
        Field("ancount", 16, "records in the answer section (RFC 1035 §4.1.1)"),
        Field("nscount", 16, "records in the authority section (RFC 1035 §4.1.1)"),
        Field("arcount", 16, "records in the additional section (RFC 1035 §4.1.1)"),
    )

    def message(self, allow_trailing: bool = False) -> Message:
        """The whole message this header starts (question and records); DecodeError if it is malformed."""
        return Message.parse(self._buf[self._off:self._end], allow_trailing=allow_trailing)

    def summary(self) -> str:
        """tcpdump's line: ``1234+ A? example.com. (29)``, ``1234*- 1/0/0 A 1.2.3.4 (45)``."""
        if self._build is None:
            return self.summary_at(self._buf, self._off, self._end)
        return self._parsed_summary()

    @classmethod
    def summary_at(cls, data: bytes, off: int, end: int) -> str:
        """:meth:`summary` of the message at ``data[off:end]``: the common ones skimmed from the bytes
        (see :func:`_skim_line`), any other parsed whole; DecodeError if there is not even a header."""
        if end - off < 12:
            raise cls._short(off, end)
        line = _skim_line(data, off, end)
        if line is None:
            return cls._make(data, off, end)._parsed_summary()
        return f"{line} ({end - off})"

    def _parsed_summary(self) -> str:
        """The line from the whole parsed message, or the flags and ``[|domain]`` if it does not parse."""
        try:
            msg = self.message(allow_trailing=True)
        except DecodeError:             # cut or hostile: the header's counts, then what fits, as tcpdump
            if self._end - self._off < 12:              # a header built in Python: no message behind it
                return f"{self._summary_flags()} [|domain]"
            text, whole = _tcpdump_walk(self._buf, self._off, self._end)
            return f"{text} ({self._end - self._off})" if whole else f"{text} [|domain]"
        return f"{msg.summary()} ({self._end - self._off})"

    def _summary_flags(self) -> str:
        return _tcpdump_flags(self.id, self.qr, self.opcode, self.rcode, self.aa, self.ra, self.tc,
                              self.ad, self.rd, self.cd, self.z)


class DNSCut(DNS):
    """A DNS message whose UDP datagram the capture cut (the snap length): its header decoded as any DNS
    header (it is one: ``isinstance(h, DNS)``), and :class:`CutHeader` naming the first question or record
    not captured whole, so ``decode`` keeps it as the last layer with ``packet.error`` saying where. UDP
    picks this class only for a datagram longer than the bytes there are: nothing on the common path."""

    __slots__ = ()

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        if end - off < 12:
            raise cls._short(off, end)
        cut = _cut_at(data, off, end)
        if cut is None:
            return cls, off, end, None, off + 12, end
        section, where, reason = cut
        raise CutHeader(LAYER, section, where, reason, (cls, off, end, None, end, end))

    @classmethod
    def summary_at(cls, data: bytes, off: int, end: int) -> str:
        """tcpdump's line as far as the walk goes, without its ``[|domain]``: the packet's mark, which
        names the section cut, follows it (every entry captured, the bytes cut after them: DNS's line)."""
        if _cut_at(data, off, end) is None:
            return DNS.summary_at(data, off, end)
        text, whole = _tcpdump_walk(data, off, end)
        return f"{text} ({end - off})" if whole else text


DNS.CUT = DNSCut
register(UDP_PORT_NEXT, PORT, DNS)


@dataclass(frozen=True, slots=True)
class Question:
    """One entry of the question section: a name, a type and a class (RFC 1035 §4.1.2)."""

    name: Name
    type: int = 1
    cls: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", Name(self.name))
        if not isinstance(self.type, int):
            object.__setattr__(self, "type", type_code(self.type))
        if not isinstance(self.cls, int):
            object.__setattr__(self, "cls", class_code(self.cls))

    def to_text(self) -> str:
        """dig's question line: ``;example.com.\t\t\tIN\tA``."""
        # dig counts its columns from the name, after the ';' that marks the line as a comment
        return ";" + _columns([str(self.name), class_name(self.cls), type_name(self.type)], (32, 40))


@dataclass(frozen=True, slots=True)
class Record:
    """A resource record (RFC 1035 §4.1.3): owner name, TTL, class and typed record data.

    ``Record("www.example.com", A("192.0.2.1"), ttl=300)``. The type comes from the rdata.
    For OPT (EDNS0) the class is the UDP payload size and the TTL packs extended rcode, version and DO.
    """

    name: Name
    rdata: RData
    ttl: int = 0
    cls: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", Name(self.name))
        if not isinstance(self.cls, int):
            object.__setattr__(self, "cls", class_code(self.cls))

    @property
    def type(self) -> int:
        return self.rdata.type

    @property
    def type_text(self) -> str:
        return type_name(self.rdata.type)

    def to_text(self) -> str:
        """dig's answer line: ``www.example.com.\t300\tIN\tA\t192.0.2.1``."""
        return _columns([str(self.name), str(self.ttl), class_name(self.cls), self.type_text,
                         self.rdata.to_text()], (24, 32, 40, 48))

    # EDNS0 views of an OPT record (RFC 6891 §6.1.3)
    @property
    def payload_size(self) -> int:
        return self.cls

    @property
    def extended_rcode(self) -> int:
        return self.ttl >> 24

    @property
    def edns_version(self) -> int:
        return (self.ttl >> 16) & 0xFF

    @property
    def do(self) -> bool:
        return bool(self.ttl & 0x8000)


def make_opt(payload: int = 1232, do: bool = False, extended_rcode: int = 0, version: int = 0,
             options: Iterable[tuple[int, bytes]] = ()) -> Record:
    """An OPT pseudo-record advertising EDNS0 (RFC 6891 §6.1): 1232 bytes is the DNS flag day 2020 size."""
    ttl = (extended_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return Record(ROOT, OPT(tuple((c, bytes(v)) for c, v in options)), ttl, payload)


@dataclass(slots=True)
class Message:
    """A whole DNS message (RFC 1035 §4.1): header flags, question, answer, authority, additional."""

    id: int = 0
    qr: bool = False
    opcode: int = 0
    aa: bool = False
    tc: bool = False
    rd: bool = False
    ra: bool = False
    z: bool = False
    ad: bool = False
    cd: bool = False
    rcode: int = 0            # the header's 4 bits; with EDNS the OPT record adds 8 more (see ``status``)
    question: list[Question] = field(default_factory=list)
    answer: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    trailing: bytes = b""     # bytes after the last record (only with ``parse(allow_trailing=True)``)

    # -- reading -------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, allow_trailing: bool = False) -> Message:
        """Parse a message; DecodeError(layer='DNS', field, offset) for anything malformed.

        Bytes after the last record are an error unless ``allow_trailing`` (then kept in ``trailing``).
        """
        return _parse(bytes(data), allow_trailing, None)

    # -- writing -------------------------------------------------------------------------------------

    def header(self) -> DNS:
        """This message's 12-byte header as a :class:`DNS` field-table header (counts filled in)."""
        return DNS(id=self.id, qr=self.qr, opcode=self.opcode, aa=self.aa, tc=self.tc, rd=self.rd, ra=self.ra,
                   z=self.z, ad=self.ad, cd=self.cd, rcode=self.rcode, qdcount=len(self.question),
                   ancount=len(self.answer), nscount=len(self.authority), arcount=len(self.additional))

    def to_wire(self, compress: bool = True) -> bytes:
        """The message as bytes; names compressed (RFC 1035 §4.1.4) unless ``compress=False``."""
        for name, value, bits in (("id", self.id, 16), ("opcode", self.opcode, 4), ("rcode", self.rcode, 4)):
            if not 0 <= value < (1 << bits):
                raise BuildError(f"DNS.{name}: {value} does not fit in {bits} bits")
        counts = (len(self.question), len(self.answer), len(self.authority), len(self.additional))
        if max(counts) > 0xFFFF:
            raise BuildError("DNS: more than 65535 entries in a section")
        w = _Writer(compress)
        w.buf += _HEADER.pack(self.id, self.flags_word(), *counts)
        for q in self.question:
            w.name(q.name)
            w.buf += _Q.pack(q.type, q.cls)
        for rr in self.answer + self.authority + self.additional:
            _write_record(w, rr)
        return bytes(w.buf)

    def flags_word(self) -> int:
        """The 16 bits after the ID: QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode."""
        return (self.qr << 15 | self.opcode << 11 | self.aa << 10 | self.tc << 9 | self.rd << 8 | self.ra << 7
                | self.z << 6 | self.ad << 5 | self.cd << 4 | self.rcode)

    def reply(self, rcode: int = 0, aa: bool = False) -> Message:
        """A response skeleton: ID, opcode, RD, CD and the question echoed (RFC 1035 §4.1.1)."""
        return Message(id=self.id, qr=True, opcode=self.opcode, aa=aa, rd=self.rd, cd=self.cd,
                       rcode=rcode, question=list(self.question))

    # -- EDNS0 ---------------------------------------------------------------------------------------

    @property
    def opt(self) -> Record | None:
        """The OPT pseudo-record of the additional section, if the sender spoke EDNS0."""
        for rr in self.additional:
            if rr.type == OPT.TYPE:
                return rr
        return None

    @property
    def full_rcode(self) -> int:
        """The 12-bit rcode: header bits plus the OPT record's extended bits (RFC 6891 §6.1.3)."""
        opt = self.opt
        return self.rcode | ((opt.extended_rcode << 4) if opt is not None else 0)

    @property
    def status(self) -> str:
        """The rcode as dig says it: ``NOERROR``, ``NXDOMAIN``, ``REFUSED`` ..."""
        return rcode_name(self.full_rcode)

    # -- text ----------------------------------------------------------------------------------------

    def flags_text(self) -> str:
        """The set flags as dig lists them: ``qr aa rd``."""
        return " ".join(name for name, on in (("qr", self.qr), ("aa", self.aa), ("tc", self.tc), ("rd", self.rd),
                                             ("ra", self.ra), ("ad", self.ad), ("cd", self.cd)) if on)

    def to_text(self) -> str:
        """The message the way dig prints it: header line, flags, OPT pseudosection, then each section."""
        lines = [f";; ->>HEADER<<- opcode: {OPCODES.get(self.opcode, self.opcode)}, status: {self.status}, "
                 f"id: {self.id}",
                 f";; flags: {self.flags_text()}; QUERY: {len(self.question)}, ANSWER: {len(self.answer)}, "
                 f"AUTHORITY: {len(self.authority)}, ADDITIONAL: {len(self.additional)}"]
        opt = self.opt
        lines.append("")
        if opt is not None:            # dig puts no blank line between this and the question section
            lines += [";; OPT PSEUDOSECTION:",
                      f"; EDNS: version: {opt.edns_version}, flags:{' do' if opt.do else ''}; udp: {opt.payload_size}"]
            for code, value in opt.rdata.options:  # type: ignore[attr-defined]
                lines.append(f"; {EDNS_OPTIONS.get(code, f'OPT={code}')}: {value.hex()}")
        if self.question:
            lines += [";; QUESTION SECTION:"] + [q.to_text() for q in self.question] + [""]
        for title, records in (("ANSWER", self.answer), ("AUTHORITY", self.authority),
                               ("ADDITIONAL", [r for r in self.additional if r.type != OPT.TYPE])):
            if records:
                lines += [f";; {title} SECTION:"] + [r.to_text() for r in records] + [""]
        return "\n".join(lines).rstrip("\n")

    def summary(self) -> str:
        """tcpdump's one line for this message (without the length)."""
        flags = _tcpdump_flags(self.id, self.qr, self.opcode, self.full_rcode, self.aa, self.ra, self.tc, self.ad,
                               self.rd, self.cd, self.z)
        question = "" if self.qr else " ".join(_tcpdump_question(q.type, q.cls, q.name) for q in self.question)
        answers = [f"{_tcpdump_class(r.cls)} {r.type_text}{_tcpdump_rdata(r.rdata)}" for r in self.answer]
        return _tcpdump_sections(flags, self.qr, len(self.question), question, answers, len(self.authority),
                                 len(self.additional), self.opcode)


def _write_record(w: _Writer, rr: Record) -> None:
    w.name(rr.name)
    start = len(w.buf)
    w.buf += _RR.pack(rr.type, rr.cls, rr.ttl, 0)
    rr.rdata.write(w)
    length = len(w.buf) - start - 10
    if length > 0xFFFF:
        raise BuildError(f"{rr.type_text} record data of {length} bytes: at most 65535")
    struct.pack_into("!H", w.buf, start + 8, length)


def _parse(data: bytes, allow_trailing: bool, spans: list[NameSpan] | None) -> Message:
    if len(data) < 12:
        raise DecodeError(LAYER, "id" if not data else "header", 0, f"needs 12 bytes, only {len(data)}")
    ident, flags, qd, an, ns, ar = _HEADER.unpack_from(data, 0)
    end = len(data)
    room = end - 12
    if qd * 5 > room:
        raise DecodeError(LAYER, "qdcount", 4, f"{qd} questions cannot fit in the {room} bytes after the header")
    if (an + ns + ar) * 11 > room - qd * 5:
        raise DecodeError(LAYER, "ancount", 6, f"{an}+{ns}+{ar} records cannot fit in the {room} bytes "
                                               f"after the header")
    msg = Message(ident, bool(flags >> 15), (flags >> 11) & 0xF, bool(flags & 0x400), bool(flags & 0x200),
                  bool(flags & 0x100), bool(flags & 0x80), bool(flags & 0x40), bool(flags & 0x20),
                  bool(flags & 0x10), flags & 0xF)
    pos = 12
    pieces: list[NamePiece] | None = None
    for _ in range(qd):
        if spans is not None:
            pieces = []
        start = pos
        name, pos = _read_name(data, pos, end, "qname", pieces)
        if pos + 4 > end:
            raise DecodeError(LAYER, "qtype", pos, "question cut short: type and class missing")
        qtype, qclass = _Q.unpack_from(data, pos)
        pos += 4
        msg.question.append(_question(name, qtype, qclass))
        if spans is not None:
            spans.append(NameSpan("question", "qname", start, name, tuple(pieces or ())))
    for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
        records = getattr(msg, section)
        for _ in range(count):
            rr, pos = _read_record(data, pos, end, section, spans)
            records.append(rr)
    opts = [r for r in msg.additional if r.type == OPT.TYPE]
    if len(opts) > 1 or (opts and opts[0].name.labels):
        raise DecodeError(LAYER, "additional", pos, "more than one OPT record, or one not owned by the root "
                                                    "(RFC 6891 §6.1.1)")
    if pos != end:
        if not allow_trailing:
            raise DecodeError(LAYER, "trailing", pos, f"{end - pos} bytes of trailing garbage after the last record")
        msg.trailing = data[pos:]
    return msg


def _question(name: Name, qtype: int, qclass: int) -> Question:
    q = Question.__new__(Question)
    object.__setattr__(q, "name", name)
    object.__setattr__(q, "type", qtype)
    object.__setattr__(q, "cls", qclass)
    return q


def _read_record(data: bytes, pos: int, end: int, section: str,
                 spans: list[NameSpan] | None) -> tuple[Record, int]:
    pieces: list[NamePiece] | None = [] if spans is not None else None
    start = pos
    name, pos = _read_name(data, pos, end, "name", pieces)
    if pos + 10 > end:
        raise DecodeError(LAYER, "type", pos, "record cut short: type, class, TTL and rdlength need 10 bytes")
    rtype, rclass, ttl, rdlength = _RR.unpack_from(data, pos)
    pos += 10
    if pos + rdlength > end:
        raise DecodeError(LAYER, "rdlength", pos - 2, f"rdlength {rdlength} runs past the end of the message "
                                                      f"({end - pos} bytes left)")
    if spans is not None:
        spans.append(NameSpan(section, "owner", start, name, tuple(pieces or ())))
    cls = RDATA_TYPES.get(rtype)
    rdata = cls.read(data, pos, pos + rdlength) if cls is not None else Unknown(rtype, data[pos:pos + rdlength])
    if spans is not None and cls is not None:
        _rdata_spans(data, pos, pos + rdlength, rdata, section, spans)
    rr = Record.__new__(Record)
    for attr, value in (("name", name), ("rdata", rdata), ("ttl", ttl), ("cls", rclass)):
        object.__setattr__(rr, attr, value)
    return rr, pos + rdlength


def _rdata_spans(data: bytes, off: int, end: int, rdata: RData, section: str, spans: list[NameSpan]) -> None:
    """Record where the names inside an rdata lie (they follow fixed fields: MX 2 bytes, SRV 6)."""
    skip = {MX.TYPE: 2, SRV.TYPE: 6}.get(rdata.type, 0)
    pos = off + skip
    for role, _ in rdata.names().items():
        pieces: list[NamePiece] = []
        name, after = _read_name(data, pos, end, "rdata", pieces)
        spans.append(NameSpan(section, role, pos, name, tuple(pieces)))
        pos = after
