"""DNS messages on the wire (RFC 1035 §4), sans-I/O: bytes in, a :class:`Message` out, and back.

* :class:`DNS` is the 12-byte header as a field table (it draws as a bit diagram like every header) and
  is what ``decode()`` finds after UDP port 53; ``DNS.message()`` parses the sections that follow.
* :class:`Message` is the whole message: the header flags, the question and three record sections.
  ``Message.parse(data)`` and ``msg.to_wire()`` (names compressed, RFC 1035 §4.1.4).
* :class:`Name` is a domain name as its labels (bytes, case preserved); its text form escapes bytes the
  way dig prints them (``\\.``, ``\\032``).
* Record data: :class:`A`, :class:`AAAA`, :class:`NS`, :class:`CNAME`, :class:`PTR`, :class:`MX`,
  :class:`TXT`, :class:`SOA`, :class:`SRV`, :class:`CAA`, :class:`OPT` (EDNS0, RFC 6891) and
  :class:`Unknown` (any other type, kept as raw bytes, shown as RFC 3597 ``\\# 4 0a000001``).

Hostile bytes raise :class:`DecodeError` naming layer ``DNS``, the field and the byte offset, and never
loop: a compression pointer must point before the name run it ends (so every jump goes strictly
backwards), names stop at 255 bytes, and every count is checked against the bytes that are left.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from netstudy.errors import BuildError, DecodeError
from netstudy.wire.fields import Field, Header
from netstudy.wire.numbers import UDP_PORT_NEXT, register

__all__ = ["DNS", "Message", "Question", "Record", "Name", "RData", "A", "AAAA", "NS", "CNAME", "PTR",
           "MX", "TXT", "SOA", "SRV", "CAA", "OPT", "Unknown", "NamePiece", "NameSpan", "compression_map",
           "make_opt", "tcp_frame", "tcp_unframe", "type_code", "type_name", "class_code", "class_name", "rcode_name", "reverse_name",
           "TYPES", "RCODES", "OPCODES", "PORT"]

LAYER = "DNS"
PORT = 53

OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE", 6: "DSO"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADVERS"}
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
         33: "SRV", 41: "OPT", 43: "DS", 46: "RRSIG", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 252: "AXFR",
         255: "ANY", 257: "CAA"}
CLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
_TYPE_CODES = {v: k for k, v in TYPES.items()}
_CLASS_CODES = {v: k for k, v in CLASSES.items()}

MAX_NAME = 255          # bytes of a name on the wire, root label included (RFC 1035 §2.3.4)
MAX_LABEL = 63


def _name_or_number(table: dict[int, str], prefix: str, code: int) -> str:
    return table.get(code) or f"{prefix}{code}"


def type_name(code: int) -> str:
    """``1 -> 'A'``; types without a mnemonic as RFC 3597 writes them: ``'TYPE65280'``."""
    return _name_or_number(TYPES, "TYPE", code)


def class_name(code: int) -> str:
    return _name_or_number(CLASSES, "CLASS", code)


def rcode_name(code: int) -> str:
    return _name_or_number(RCODES, "RCODE", code)


def _code(codes: dict[str, int], prefix: str, what: str, text: str | int) -> int:
    if isinstance(text, int):
        code = text
    else:
        upper = text.upper()
        if upper in codes:
            return codes[upper]
        if not (upper.startswith(prefix) and upper[len(prefix):].isdigit()):
            raise ValueError(f"{text!r} is not a DNS {what} (e.g. {', '.join(list(codes)[:6])} or {prefix}123)")
        code = int(upper[len(prefix):])
    if not 0 <= code <= 0xFFFF:
        raise ValueError(f"DNS {what} {code} is not in 0..65535")
    return code


def type_code(text: str | int) -> int:
    """``'AAAA' -> 28``, ``'TYPE65280' -> 65280`` (RFC 3597 §5); ValueError naming the text otherwise."""
    return _code(_TYPE_CODES, "TYPE", "type", text)


def class_code(text: str | int) -> int:
    return _code(_CLASS_CODES, "CLASS", "class", text)


# ----------------------------------------------------------------------------------------------------
# the header

class DNS(Header):
    """The DNS message header (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2): 12 bytes."""

    NAME = "DNS"
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
        (see :func:`_skim_line`), any other parsed whole."""
        line = _skim_line(data, off, end)
        if line is None:
            return cls._make(data, off, end)._parsed_summary()
        return f"{line} ({end - off})"

    def _parsed_summary(self) -> str:
        """The line from the whole parsed message, or the flags and ``[|domain]`` if it does not parse."""
        try:
            msg = self.message(allow_trailing=True)
        except DecodeError:
            return f"{self._summary_flags()} [|domain]"
        return f"{_tcpdump_line(msg)} ({self._end - self._off})"

    def _summary_flags(self) -> str:
        return _tcpdump_flags(self.id, self.qr, self.opcode, self.rcode, self.aa, self.ra, self.tc,
                              self.ad, self.rd, self.cd)


register(UDP_PORT_NEXT, PORT, DNS)

_HEADER = struct.Struct("!HHHHHH")


def _tcpdump_flags(id_: int, qr: bool, opcode: int, rcode: int, aa: bool, ra: bool, tc: bool, ad: bool,
                   rd: bool, cd: bool) -> str:
    """tcpdump's start of a DNS line: the ID, then its marks for opcode, rcode and flags (``1234*-``)."""
    return f"{id_}{_tcpdump_marks(qr, opcode, rcode, aa, ra, tc, ad, rd, cd)}"


def _tcpdump_marks(qr: bool, opcode: int, rcode: int, aa: bool, ra: bool, tc: bool, ad: bool, rd: bool,
                   cd: bool) -> str:
    op = _TCPDUMP_OPCODES[opcode]
    if qr:
        rc = "" if rcode == 0 else " " + {1: "FormErr", 2: "ServFail", 3: "NXDomain", 4: "NotImp",
                                          5: "Refused"}.get(rcode, f"Resp{rcode}")
        return f"{op}{rc}{'*' if aa else ''}{'' if ra else '-'}{'|' if tc else ''}{'$' if ad else ''}"
    return f"{op}{'+' if rd else ''}{'%' if cd else ''}"


def _tcpdump_line(m: Message) -> str:
    flags = _tcpdump_flags(m.id, m.qr, m.opcode, m.rcode, m.aa, m.ra, m.tc, m.ad, m.rd, m.cd)
    question = "" if m.qr else " ".join(_tcpdump_question(q.type, q.cls, q.name) for q in m.question)
    answers = [f"{_tcpdump_class(r.cls)} {r.type_text} {_tcpdump_rdata(r.rdata)}" for r in m.answer]
    return _tcpdump_sections(flags, m.qr, len(m.question), question, answers, len(m.authority),
                             len(m.additional))


# how tcpdump marks each opcode after the ID (its ns_ops table, older names included: RFC 1035 §4.1.1)
_TCPDUMP_OPCODES = ("", " inv_q", " stat", " op3", " notify", " update", " op6", " op7", " op8", " updateA",
                    " updateD", " updateDA", " updateM", " updateMA", " zoneInit", " zoneRef")
_TCPDUMP_CLASSES = {1: "", 3: " CHAOS", 4: " HS", 255: " ANY"}     # IN goes unsaid


def _tcpdump_type(code: int) -> str:
    """A type as tcpdump names it in a question: ``A``, ``Type65280`` for one without a mnemonic."""
    return _name_or_number(TYPES, "Type", code)


def _tcpdump_class(code: int) -> str:
    """A class as tcpdump writes it before a '?' or a record's type: nothing for IN, `` CHAOS``..."""
    text = _TCPDUMP_CLASSES.get(code)
    return f" (Class {code})" if text is None else text


def _tcpdump_question(qtype: int, qclass: int, name: object) -> str:
    """A question as tcpdump writes it: ``A? example.com.``, ``TXT CHAOS? version.bind.``."""
    return f"{_tcpdump_type(qtype)}{_tcpdump_class(qclass)}? {name}"


def _tcpdump_rdata(rdata: RData) -> str:
    """Record data as tcpdump writes it in the line: as dig does, but an MX exchange before its
    preference (``MX mail.example.com. 10``)."""
    if isinstance(rdata, MX):
        return f"{rdata.exchange} {rdata.preference}"
    return rdata.to_text()


def _tcpdump_sections(flags: str, qr: bool, questions: int, question: str, answers: list[str], ns: int,
                      ar: int) -> str:
    """tcpdump's line from its parts: a response lists its answers (each `` TYPE rdata``) after the
    section counts, a query shows its ``question`` text (``A? example.com.``, each question's when there
    are several; unused in a response) after any non-empty counts."""
    text = flags if questions == 1 else f"{flags} [{questions}q]"
    if qr:
        return f"{text} {len(answers)}/{ns}/{ar}" + ",".join(answers)
    if answers or ns or ar:
        for count, letter in ((len(answers), "a"), (ns, "n"), (ar, "au")):
            if count:
                text += f" [{count}{letter}]"
    return f"{text} {question}" if questions else text


def _skim_line(data: bytes, off: int, end: int) -> str | None:
    """tcpdump's line (without the length) for the message at ``data[off:end]`` when it is a common one,
    read straight from the bytes; None for any other, which the full parse then handles.

    RFC 1035 §4.1: the header, one question, then the records. Taken here: one question, no authority
    records, answers of class IN and type A, AAAA, NS, CNAME, PTR or MX, at most one additional record (the OPT
    pseudo-record, owned by the root: RFC 6891 §6.1.1), every name labels in place or a bare pointer
    to a name read before (:func:`_skim_name`), every record whole. ``_parse`` accepts such a message
    (its count checks too: each record read here took at least 11 bytes) and writes the same line.
    """
    if end - off < 17:
        return None
    ident, flags, qd, an, ns, ar = _HEADER.unpack_from(data, off)
    if qd != 1 or ns or ar > 1:
        return None
    known: dict[int, str] = {}
    qname, pos = _skim_name(data, off, off + 12, end, known)
    if qname is None or pos + 4 > end:
        return None
    qtype, qclass = _Q.unpack_from(data, pos)
    pos += 4
    answers = []
    for i in range(an + ar):
        owner, pos = _skim_name(data, off, pos, end, known)
        if owner is None or pos + 10 > end:
            return None
        rtype, rclass, _, size = _RR.unpack_from(data, pos)
        pos += 10
        stop = pos + size
        if stop > end:
            return None
        if i == an:                                     # the additional record
            if rtype != OPT.TYPE or owner != "." or not _opt_options_fit(data, pos, stop):
                return None
        elif rclass != 1:                               # an answer not of class IN: tcpdump names its class
            return None
        elif rtype == A.TYPE and size == 4:
            answers.append(f" A {_DECIMAL[data[pos]]}.{_DECIMAL[data[pos + 1]]}.{_DECIMAL[data[pos + 2]]}."
                           f"{_DECIMAL[data[pos + 3]]}")
        elif rtype == AAAA.TYPE and size == 16:
            answers.append(f" AAAA {socket.inet_ntop(socket.AF_INET6, data[pos:stop])}")
        elif rtype in _SKIM_NAME_AT:
            skip = _SKIM_NAME_AT[rtype]
            target, after = _skim_name(data, off, pos + skip, stop, known)
            if target is None or after != stop:
                return None
            preference = f" {data[pos] << 8 | data[pos + 1]}" if skip else ""      # MX: after the name
            answers.append(f" {TYPES[rtype]} {target}{preference}")
        else:
            return None
        pos = stop
    question = "" if flags & 0x8000 else _tcpdump_question(qtype, qclass, qname)
    return _tcpdump_sections(f"{ident}{_flag_marks(flags)}", flags >> 15, 1, question, answers, 0, ar)


def _skim_name(data: bytes, off: int, pos: int, limit: int, known: dict[int, str]) -> tuple[str | None, int]:
    """The text of the name at ``pos`` (in the message at ``off``) and where it ends, when it is labels in
    place ending with the root before ``limit`` (then noted in ``known`` by its message offset) or one
    pointer to a name in ``known`` (so to an earlier one); the text is None for anything else."""
    if pos >= limit:
        return None, 0
    first = data[pos]
    if first >= 0xC0:
        text = known.get((first & 0x3F) << 8 | data[pos + 1]) if pos + 2 <= limit else None
        return text, pos + 2
    root = data.find(0, pos, limit)
    text = _labels_text(data[pos:root + 1]) if root >= 0 else None
    if text is not None:
        known[pos - off] = text
    return text, root + 1


@functools.lru_cache(maxsize=1024)
def _labels_text(wire: bytes) -> str | None:
    """The text of a name written as labels ending with the root byte (``wire``'s last); None if ``wire``
    is not exactly that (a label type 01 or 10, a label running past the end, over 255 bytes). Cached:
    a capture names the same hosts again and again."""
    labels = []
    pos, last = 0, len(wire) - 1
    while pos < last:
        length = wire[pos]
        if not 0 < length <= MAX_LABEL:
            return None
        labels.append(wire[pos + 1:pos + 1 + length])
        pos += 1 + length
    return _show_labels(labels) if pos == last and len(wire) <= MAX_NAME else None


@functools.cache
def _flag_marks(word: int) -> str:
    """tcpdump's flags after the ID for a header's 16-bit flags ``word`` (cached: a capture has few)."""
    return _tcpdump_marks(word >> 15, word >> 11 & 0xF, word & 0xF, word & 0x400, word & 0x80, word & 0x200,
                          word & 0x20, word & 0x100, word & 0x10)


def _opt_options_fit(data: bytes, pos: int, stop: int) -> bool:
    """True if the EDNS options (code, length, value) fill the OPT record data exactly (RFC 6891 §6.1.2)."""
    while pos + 4 <= stop:
        pos += 4 + (data[pos + 2] << 8 | data[pos + 3])
    return pos == stop


_DECIMAL = [str(b) for b in range(256)]     # an IPv4 address's bytes as dotted-quad text writes them


# ----------------------------------------------------------------------------------------------------
# names

_SPECIAL = frozenset(b'.;\\()"@$')


# the bytes a label shows as they are: printable ASCII but the specials
_PLAIN = bytes(b for b in range(0x21, 0x7F) if b not in _SPECIAL)


def _escape_label(label: bytes) -> str:
    """A label as dig prints it (RFC 4343 §2.1): specials after a backslash, other bytes as ``\\DDD``."""
    if not label.translate(None, _PLAIN):      # nothing to escape (the usual case)
        return label.decode("ascii")
    out = []
    for b in label:
        if b in _SPECIAL:
            out.append("\\" + chr(b))
        elif 0x21 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


def _unescape(text: str, what: str, split: bool = True) -> list[bytes]:
    """Presentation text to raw bytes (``\\X`` and ``\\DDD`` honoured), split on unescaped dots if ``split``."""
    parts: list[bytes] = []
    cur = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            digits = text[i + 1:i + 4]
            if len(digits) == 3 and digits.isdigit():
                if int(digits) > 255:
                    raise ValueError(f"{what} {text!r}: escape \\{digits} is not a byte (0..255)")
                cur.append(int(digits))
                i += 4
                continue
            if i + 1 >= n:
                raise ValueError(f"{what} {text!r} ends with a lone backslash")
            cur += text[i + 1].encode()
            i += 2
            continue
        if c == "." and split:
            parts.append(bytes(cur))
            cur = bytearray()
        else:
            cur += c.encode()
        i += 1
    parts.append(bytes(cur))
    return parts


class Name:
    """A domain name: a tuple of labels (bytes, case preserved), always absolute (ends at the root).

    Names compare and hash case-insensitively, as DNS does (RFC 4343). ``Name("www.Example.com")`` or
    ``Name.from_text("www", origin=Name("example.com"))``; ``str(name)`` is dig's escaped text.
    """

    __slots__ = ("labels", "_key")

    def __init__(self, name: str | Name | Iterable[bytes] = ()) -> None:
        if isinstance(name, Name):
            self.labels, self._key = name.labels, name._key
            return
        labels = _text_labels(name) if isinstance(name, str) else tuple(
            x.encode() if isinstance(x, str) else bytes(x) for x in name)
        total = 1
        for label in labels:
            if not label:
                raise ValueError(f"name {_show_labels(labels)!r}: empty label (two dots in a row)")
            if len(label) > MAX_LABEL:
                raise ValueError(f"name {_show_labels(labels)!r}: label of {len(label)} bytes, "
                                 f"at most {MAX_LABEL} (RFC 1035 §2.3.4)")
            total += 1 + len(label)
        if total > MAX_NAME:
            raise ValueError(f"name {_show_labels(labels)[:40]}...: {total} bytes on the wire, at most "
                             f"{MAX_NAME} (RFC 1035 §2.3.4)")
        self.labels: tuple[bytes, ...] = labels
        self._key = tuple(map(bytes.lower, labels))

    @classmethod
    def from_text(cls, text: str, origin: Name | None = None) -> Name:
        """Presentation text to a name: ``@`` is the origin, a name without a final dot is relative to it."""
        if text == "@":
            if origin is None:
                raise ValueError("'@' needs an origin ($ORIGIN)")
            return origin
        if text == ".":
            return ROOT
        labels = _unescape(text, "name")
        if labels[-1] == b"":            # absolute
            labels.pop()
            return cls(labels)
        return cls(labels + list(origin.labels if origin is not None else ()))

    @classmethod
    def _trusted(cls, labels: tuple[bytes, ...]) -> Name:
        n = cls.__new__(cls)
        n.labels = labels
        n._key = tuple(map(bytes.lower, labels))
        return n

    def to_text(self) -> str:
        return _show_labels(self.labels)

    __str__ = to_text

    def __repr__(self) -> str:
        return f"Name({self.to_text()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Name(other)
            except ValueError:
                return False
        return isinstance(other, Name) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def key(self) -> tuple[bytes, ...]:
        """The labels lower-cased (ASCII only, RFC 4343): what comparisons use."""
        return self._key

    @property
    def wire_length(self) -> int:
        return 1 + sum(1 + len(x) for x in self.labels)

    def to_wire(self) -> bytes:
        """Uncompressed wire form: length-prefixed labels, then the zero-length root label."""
        return b"".join(bytes((len(x),)) + x for x in self.labels) + b"\x00"

    def is_subdomain(self, other: Name | str) -> bool:
        """True if this name is ``other`` or below it (``www.example.com`` is under ``example.com``)."""
        other = Name(other)
        n = len(other._key)
        return n <= len(self._key) and (n == 0 or self._key[-n:] == other._key)


def _show_labels(labels: Sequence[bytes]) -> str:
    return ".".join(map(_escape_label, labels)) + "." if labels else "."


def _text_labels(text: str) -> tuple[bytes, ...]:
    if text in (".", ""):
        return ()
    labels = _unescape(text, "name")
    if labels[-1] == b"" and len(labels) > 1:
        labels.pop()
    return tuple(labels)


ROOT = Name()


def reverse_name(address: str) -> Name:
    """The PTR name of an address: ``1.2.0.192.in-addr.arpa.`` (RFC 1035 §3.5), ``...ip6.arpa.`` (RFC 3596)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"{address!r} does not appear to be an IPv4 or IPv6 address") from None
    return Name(ip.reverse_pointer)


@dataclass(frozen=True, slots=True)
class NamePiece:
    """One piece of a name as it lies in the message: a label, a compression pointer, or the root byte."""

    offset: int             # where the piece starts in the message
    length: int             # bytes it occupies there (label: 1 + its length; pointer: 2; root: 1)
    kind: str               # "label", "pointer" or "root"
    text: str               # the label (escaped), "->0x0c", or "."
    target: int | None = None   # for a pointer: the offset it points to


@dataclass(frozen=True, slots=True)
class NameSpan:
    """One name occurrence in a message: where it sits, what it reads as, and its pieces in place
    (labels written there, then the root byte or the one pointer that ends it)."""

    section: str            # "question", "answer", "authority", "additional"
    role: str               # "qname", "owner", or the rdata field ("target", "exchange", "mname", ...)
    offset: int
    name: Name
    pieces: tuple[NamePiece, ...]


def _read_name(data: bytes, offset: int, end: int, field: str,
               pieces: list[NamePiece] | None = None) -> tuple[Name, int]:
    """Read a possibly compressed name at ``offset``; return it and where the bytes in place end.

    Pointers (RFC 1035 §4.1.4) must point before the start of the run of labels they end, so the walk
    moves strictly backwards at every jump and cannot loop; the name stops at 255 bytes.
    """
    labels: list[bytes] = []
    pos = offset
    run_start = offset
    limit = end               # labels in place must end inside the field (record data or message)
    after: int | None = None  # where the name ends in place (after the first pointer, or the root)
    total = 1
    while True:
        if pos >= limit:
            raise DecodeError(LAYER, field, pos, "name runs past the end of the message"
                              if limit == len(data) else "name runs past the end of its record data")
        length = data[pos]
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= limit:
                raise DecodeError(LAYER, field, pos, "compression pointer cut short")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if pieces is not None and after is None:
                pieces.append(NamePiece(pos, 2, "pointer", f"->0x{target:02x}", target))
            if target >= run_start:
                what = "points to itself" if target == pos else (
                    "points forward" if target > pos else "loops back into its own name")
                raise DecodeError(LAYER, field, pos, f"compression pointer to {target} {what} "
                                                     f"(pointers must point to an earlier name)")
            if after is None:
                after = pos + 2
            pos = run_start = target
            limit = len(data)
            continue
        if kind:
            raise DecodeError(LAYER, field, pos, f"label type {kind >> 6:02b} is not a length or a pointer "
                                                 f"(RFC 6891 §5 retired extended labels)")
        if length == 0:
            if pieces is not None and after is None:
                pieces.append(NamePiece(pos, 1, "root", "."))
            return Name._trusted(tuple(labels)), (after if after is not None else pos + 1)
        total += 1 + length
        if total > MAX_NAME:
            raise DecodeError(LAYER, field, pos, f"name longer than {MAX_NAME} bytes (RFC 1035 §2.3.4)")
        if pos + 1 + length > limit:
            raise DecodeError(LAYER, field, pos, f"label of {length} bytes runs past the end")
        label = data[pos + 1:pos + 1 + length]
        if pieces is not None and after is None:
            pieces.append(NamePiece(pos, 1 + length, "label", _escape_label(label)))
        labels.append(label)
        pos += 1 + length


class _Writer:
    """A growing message with a table of name suffixes already written (for compression pointers)."""

    __slots__ = ("buf", "suffixes", "compress")

    def __init__(self, compress: bool = True) -> None:
        self.buf = bytearray()
        self.suffixes: dict[tuple[bytes, ...], int] = {}
        self.compress = compress

    def name(self, name: Name, compressible: bool = True) -> None:
        """Write ``name``, pointing to the longest suffix already written when compression is allowed."""
        labels = name.labels
        use = self.compress and compressible
        for i in range(len(labels)):
            suffix = labels[i:]
            if use:
                at = self.suffixes.get(suffix)
                if at is not None:
                    self.buf += struct.pack("!H", 0xC000 | at)
                    return
                pos = len(self.buf)
                if pos < 0x4000:
                    self.suffixes.setdefault(suffix, pos)
            self.buf.append(len(labels[i]))
            self.buf += labels[i]
        self.buf.append(0)


# ----------------------------------------------------------------------------------------------------
# record data

def _quote(data: bytes) -> str:
    """A character-string as dig prints it: in quotes, ``\\"`` and ``\\\\`` escaped, other bytes ``\\DDD``."""
    out = ['"']
    for b in data:
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    out.append('"')
    return "".join(out)


def _string_bytes(token: str) -> bytes:
    """A zone-file character-string token (quotes already removed by the tokenizer) to bytes."""
    return _unescape(token, "string", split=False)[0]


def _u(data: bytes, off: int, end: int, fmt: str, field: str) -> tuple:
    s = struct.calcsize(fmt)
    if off + s > end:
        raise DecodeError(LAYER, field, off, f"record data too short: needs {s} more bytes, {end - off} left")
    return struct.unpack_from(fmt, data, off)


def _int(token: str, bits: int, what: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise ValueError(f"{what} {token!r} is not a number") from None
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{what} {value} is not in 0..{(1 << bits) - 1}")
    return value


def _need(tokens: Sequence[str], n: int, what: str) -> None:
    if len(tokens) != n:
        raise ValueError(f"{what} needs {n} field{'s' if n > 1 else ''}, got {len(tokens)}: {' '.join(tokens)!r}")


class RData:
    """Record data of one type: wire and text forms. Subclasses are small frozen dataclasses."""

    __slots__ = ()
    TYPE: ClassVar[int] = 0
    COMPRESSIBLE: ClassVar[bool] = False   # RFC 3597 §4: only RFC 1035's types compress names in rdata

    @property
    def type(self) -> int:
        return self.TYPE

    def write(self, w: _Writer) -> None:
        raise NotImplementedError

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        raise NotImplementedError

    def to_text(self) -> str:
        raise NotImplementedError

    @classmethod
    def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
        raise NotImplementedError

    def names(self) -> dict[str, Name]:
        """The domain names inside this rdata, by field (for additional-section processing)."""
        return {}


def _address_rdata(type_code_: int, family: int, size: int, label: str) -> type:
    """A and AAAA share everything but the family and the size."""

    @dataclass(frozen=True, slots=True)
    class Address(RData):
        address: str
        TYPE: ClassVar[int] = type_code_

        def __post_init__(self) -> None:
            try:
                packed = socket.inet_pton(family, str(self.address))
            except (OSError, ValueError):
                raise ValueError(f"{label} record: {self.address!r} is not an {'IPv4' if size == 4 else 'IPv6'} "
                                 f"address") from None
            object.__setattr__(self, "address", socket.inet_ntop(family, packed))

        def write(self, w: _Writer) -> None:
            w.buf += socket.inet_pton(family, self.address)

        @classmethod
        def read(cls, data: bytes, off: int, end: int) -> RData:
            if end - off != size:
                raise DecodeError(LAYER, "rdata", off, f"{label} record data is {end - off} bytes, must be {size}")
            rdata = object.__new__(cls)      # the bytes are an address: nothing for __post_init__ to check
            object.__setattr__(rdata, "address", socket.inet_ntop(family, data[off:end]))
            return rdata

        def to_text(self) -> str:
            return self.address

        @classmethod
        def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
            _need(tokens, 1, label)
            return cls(tokens[0])

    Address.__name__ = Address.__qualname__ = label
    Address.__doc__ = f"{label} record: one {'IPv4' if size == 4 else 'IPv6'} address " \
                      f"({'RFC 1035 §3.4.1' if size == 4 else 'RFC 3596 §2.2'})."
    return Address


A = _address_rdata(1, socket.AF_INET, 4, "A")
AAAA = _address_rdata(28, socket.AF_INET6, 16, "AAAA")


def _single_name_rdata(type_code_: int, label: str, rfc: str) -> type:
    """NS, CNAME and PTR: record data that is one compressible domain name."""

    @dataclass(frozen=True, slots=True)
    class SingleName(RData):
        target: Name
        TYPE: ClassVar[int] = type_code_
        COMPRESSIBLE: ClassVar[bool] = True

        def __post_init__(self) -> None:
            object.__setattr__(self, "target", Name(self.target))

        def write(self, w: _Writer) -> None:
            w.name(self.target)

        @classmethod
        def read(cls, data: bytes, off: int, end: int) -> RData:
            name, after = _read_name(data, off, end, "rdata")
            _done(after, end)
            return cls(name)

        def to_text(self) -> str:
            return self.target.to_text()

        @classmethod
        def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
            _need(tokens, 1, label)
            return cls(Name.from_text(tokens[0], origin))

        def names(self) -> dict[str, Name]:
            return {"target": self.target}

    SingleName.__name__ = SingleName.__qualname__ = label
    SingleName.__doc__ = f"{label} record: one domain name ({rfc})."
    return SingleName


NS = _single_name_rdata(2, "NS", "RFC 1035 §3.3.11")
CNAME = _single_name_rdata(5, "CNAME", "RFC 1035 §3.3.1")
PTR = _single_name_rdata(12, "PTR", "RFC 1035 §3.3.12")


def _done(pos: int, end: int) -> None:
    if pos != end:
        raise DecodeError(LAYER, "rdlength", pos, f"record data has {end - pos} bytes left over after its fields")


@dataclass(frozen=True, slots=True)
class MX(RData):
    """MX record: a preference (lower wins) and a mail exchanger (RFC 1035 §3.3.9)."""

    preference: int
    exchange: Name
    TYPE: ClassVar[int] = 15
    COMPRESSIBLE: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "exchange", Name(self.exchange))

    def write(self, w: _Writer) -> None:
        w.buf += struct.pack("!H", self.preference)
        w.name(self.exchange)

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        (pref,) = _u(data, off, end, "!H", "rdata")
        name, after = _read_name(data, off + 2, end, "rdata")
        _done(after, end)
        return cls(pref, name)

    def to_text(self) -> str:
        return f"{self.preference} {self.exchange}"

    @classmethod
    def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
        _need(tokens, 2, "MX")
        return cls(_int(tokens[0], 16, "MX preference"), Name.from_text(tokens[1], origin))

    def names(self) -> dict[str, Name]:
        return {"exchange": self.exchange}


@dataclass(frozen=True, slots=True)
class TXT(RData):
    """TXT record: one or more character-strings of up to 255 bytes each (RFC 1035 §3.3.14)."""

    strings: tuple[bytes, ...]
    TYPE: ClassVar[int] = 16

    def __post_init__(self) -> None:
        strings = (self.strings,) if isinstance(self.strings, (str, bytes)) else self.strings
        strings = tuple(s.encode() if isinstance(s, str) else bytes(s) for s in strings)
        for s in strings:
            if len(s) > 255:
                raise ValueError(f"TXT string of {len(s)} bytes: at most 255 each (split it into several)")
        object.__setattr__(self, "strings", strings)

    def write(self, w: _Writer) -> None:
        for s in self.strings:
            w.buf.append(len(s))
            w.buf += s

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        strings = []
        while off < end:
            n = data[off]
            if off + 1 + n > end:
                raise DecodeError(LAYER, "rdata", off, f"TXT string of {n} bytes runs past the record data")
            strings.append(data[off + 1:off + 1 + n])
            off += 1 + n
        return cls(tuple(strings))

    def to_text(self) -> str:
        return " ".join(_quote(s) for s in self.strings)

    @classmethod
    def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
        if not tokens:
            raise ValueError("TXT needs at least one string")
        return cls(tuple(_string_bytes(t) for t in tokens))


@dataclass(frozen=True, slots=True)
class SOA(RData):
    """SOA record: the zone's primary server, contact mailbox, serial and timers (RFC 1035 §3.3.13)."""

    mname: Name
    rname: Name
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int          # also the TTL of negative answers (RFC 2308 §5)
    TYPE: ClassVar[int] = 6
    COMPRESSIBLE: ClassVar[bool] = True
    _FMT: ClassVar[struct.Struct] = struct.Struct("!IIIII")

    def __post_init__(self) -> None:
        object.__setattr__(self, "mname", Name(self.mname))
        object.__setattr__(self, "rname", Name(self.rname))

    def write(self, w: _Writer) -> None:
        w.name(self.mname)
        w.name(self.rname)
        w.buf += self._FMT.pack(self.serial, self.refresh, self.retry, self.expire, self.minimum)

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        mname, off = _read_name(data, off, end, "rdata")
        rname, off = _read_name(data, off, end, "rdata")
        numbers = _u(data, off, end, "!IIIII", "rdata")
        _done(off + 20, end)
        return cls(mname, rname, *numbers)

    def to_text(self) -> str:
        return f"{self.mname} {self.rname} {self.serial} {self.refresh} {self.retry} {self.expire} {self.minimum}"

    @classmethod
    def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
        _need(tokens, 7, "SOA")
        numbers = [_int(t, 32, "SOA") if t.isdigit() else parse_ttl(t) for t in tokens[2:]]
        return cls(Name.from_text(tokens[0], origin), Name.from_text(tokens[1], origin), *numbers)

    def names(self) -> dict[str, Name]:
        return {"mname": self.mname, "rname": self.rname}


@dataclass(frozen=True, slots=True)
class SRV(RData):
    """SRV record: priority, weight, port and target of a service (RFC 2782; target never compressed)."""

    priority: int
    weight: int
    port: int
    target: Name
    TYPE: ClassVar[int] = 33

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Name(self.target))

    def write(self, w: _Writer) -> None:
        w.buf += struct.pack("!HHH", self.priority, self.weight, self.port)
        w.name(self.target, compressible=False)

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        numbers = _u(data, off, end, "!HHH", "rdata")
        name, after = _read_name(data, off + 6, end, "rdata")
        _done(after, end)
        return cls(*numbers, name)

    def to_text(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}"

    @classmethod
    def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
        _need(tokens, 4, "SRV")
        return cls(_int(tokens[0], 16, "SRV priority"), _int(tokens[1], 16, "SRV weight"),
                   _int(tokens[2], 16, "SRV port"), Name.from_text(tokens[3], origin))

    def names(self) -> dict[str, Name]:
        return {"target": self.target}


@dataclass(frozen=True, slots=True)
class CAA(RData):
    """CAA record: which certificate authorities may issue for the name (RFC 8659 §4.1)."""

    flags: int
    tag: str
    value: bytes
    TYPE: ClassVar[int] = 257

    def __post_init__(self) -> None:
        if not (1 <= len(self.tag) <= 255 and self.tag.isascii() and self.tag.isalnum()):
            raise ValueError(f"CAA tag {self.tag!r} must be 1..255 ASCII letters and digits (RFC 8659 §4.1)")
        if isinstance(self.value, str):
            object.__setattr__(self, "value", self.value.encode())

    def write(self, w: _Writer) -> None:
        tag = self.tag.encode()
        w.buf += bytes((self.flags, len(tag))) + tag + self.value

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        flags, taglen = _u(data, off, end, "!BB", "rdata")
        if taglen == 0 or off + 2 + taglen > end:
            raise DecodeError(LAYER, "rdata", off + 1, f"CAA tag length {taglen} does not fit the record data")
        tag = data[off + 2:off + 2 + taglen]
        if not (tag.isascii() and tag.isalnum()):
            raise DecodeError(LAYER, "rdata", off + 2, "CAA tag must be ASCII letters and digits")
        return cls(flags, tag.decode(), data[off + 2 + taglen:end])

    def to_text(self) -> str:
        return f"{self.flags} {self.tag} {_quote(self.value)}"

    @classmethod
    def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
        _need(tokens, 3, "CAA")
        return cls(_int(tokens[0], 8, "CAA flags"), tokens[1], _string_bytes(tokens[2]))


EDNS_OPTIONS = {3: "NSID", 8: "ECS", 10: "COOKIE", 11: "TCP-KEEPALIVE", 12: "PADDING", 15: "EDE"}


@dataclass(frozen=True, slots=True)
class OPT(RData):
    """OPT pseudo-record data (EDNS0, RFC 6891 §6.1.2): a list of (option code, option bytes).

    The record around it carries the rest: its class is the sender's UDP payload size and its TTL packs
    the extended rcode, the version and the DO bit (see :func:`make_opt` and :class:`Record`).
    """

    options: tuple[tuple[int, bytes], ...] = ()
    TYPE: ClassVar[int] = 41

    def write(self, w: _Writer) -> None:
        for code, value in self.options:
            w.buf += struct.pack("!HH", code, len(value)) + value

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        options = []
        while off < end:
            code, length = _u(data, off, end, "!HH", "rdata")
            if off + 4 + length > end:
                raise DecodeError(LAYER, "rdata", off + 2, f"EDNS option of {length} bytes runs past the record")
            options.append((code, data[off + 4:off + 4 + length]))
            off += 4 + length
        return cls(tuple(options))

    def to_text(self) -> str:
        return " ".join(f"{EDNS_OPTIONS.get(c, f'OPT{c}')}={v.hex()}" for c, v in self.options)


@dataclass(frozen=True, slots=True)
class Unknown(RData):
    """Record data of a type this codec does not know, kept as bytes (RFC 3597 §5: ``\\# 4 0a000001``)."""

    rtype: int
    data: bytes

    @property
    def type(self) -> int:
        return self.rtype

    def write(self, w: _Writer) -> None:
        w.buf += self.data

    def to_text(self) -> str:
        return f"\\# {len(self.data)}" + (f" {self.data.hex()}" if self.data else "")

    @classmethod
    def parse_generic(cls, rtype: int, tokens: Sequence[str]) -> Unknown:
        """RFC 3597 §5 text: ``\\#``, the length, then hex in any number of tokens."""
        if len(tokens) < 2 or tokens[0] != "\\#":
            raise ValueError(f"{type_name(rtype)} data must be RFC 3597 generic text: \\# LENGTH HEX")
        length = _int(tokens[1], 16, "RFC 3597 length")
        try:
            data = bytes.fromhex("".join(tokens[2:]))
        except ValueError:
            raise ValueError(f"{type_name(rtype)}: {''.join(tokens[2:])!r} is not hex") from None
        if len(data) != length:
            raise ValueError(f"{type_name(rtype)}: \\# says {length} bytes, the hex has {len(data)}")
        return cls(rtype, data)


RDATA_TYPES: dict[int, type[RData]] = {c.TYPE: c for c in (A, AAAA, NS, CNAME, PTR, MX, TXT, SOA, SRV, CAA, OPT)}
# where the one name in these types' record data starts: after MX's 2-byte preference (see _skim_line)
_SKIM_NAME_AT = {NS.TYPE: 0, CNAME.TYPE: 0, PTR.TYPE: 0, MX.TYPE: 2}


def rdata_from_text(rtype: int, tokens: Sequence[str], origin: Name | None = None) -> RData:
    """Record data from zone-file tokens; any type also accepts RFC 3597's ``\\# LENGTH HEX``."""
    if tokens and tokens[0] == "\\#":
        generic = Unknown.parse_generic(rtype, tokens)
        cls = RDATA_TYPES.get(rtype)
        return generic if cls is None else _read_rdata(cls, generic.data)
    cls = RDATA_TYPES.get(rtype)
    if cls is None or cls is OPT:
        raise ValueError(f"{type_name(rtype)}: no text form known; write it as \\# LENGTH HEX (RFC 3597)")
    return cls.from_text(tokens, origin)


def _read_rdata(cls: type[RData], data: bytes) -> RData:
    try:
        return cls.read(data, 0, len(data))
    except DecodeError as exc:
        raise ValueError(f"{type_name(cls.TYPE)} generic data does not decode: {exc.reason}") from None


def parse_ttl(text: str) -> int:
    """A TTL in seconds, or BIND's units: ``3600``, ``1h``, ``1h30m``, ``2w`` (weeks, days, hours, minutes)."""
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    if text.isdigit():
        value = int(text)
    else:
        value, number = 0, ""
        for c in text.lower():
            if c.isdigit():
                number += c
            elif c in units and number:
                value += int(number) * units[c]
                number = ""
            else:
                raise ValueError(f"TTL {text!r} is not seconds or a duration like 1h30m")
        if number:
            raise ValueError(f"TTL {text!r} ends without a unit")
    if value >= 1 << 31:
        raise ValueError(f"TTL {text!r} exceeds 2147483647 seconds (RFC 2181 §8)")
    return value


# ----------------------------------------------------------------------------------------------------
# questions, records, messages

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
        return _columns([";" + str(self.name), class_name(self.cls), type_name(self.type)], (32, 40))


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


def _columns(parts: list[str], stops: tuple[int, ...]) -> str:
    """Join the way dig lines up columns: tabs up to the next stop, one space if already past it."""
    out = ""
    for part, stop in zip(parts[:-1], stops):
        out += part
        if len(out.expandtabs()) >= stop:
            out += " "
        while len(out.expandtabs()) < stop:
            out += "\t"
    return out + parts[-1]


def make_opt(payload: int = 1232, do: bool = False, extended_rcode: int = 0, version: int = 0,
             options: Iterable[tuple[int, bytes]] = ()) -> Record:
    """An OPT pseudo-record advertising EDNS0 (RFC 6891 §6.1): 1232 bytes is the DNS flag day 2020 size."""
    ttl = (extended_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return Record(ROOT, OPT(tuple((c, bytes(v)) for c, v in options)), ttl, payload)


_RR = struct.Struct("!HHIH")
_Q = struct.Struct("!HH")


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
        return _tcpdump_line(self)


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
            spans.append(NameSpan("question", "qname", start, name, tuple(pieces)))
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


def tcp_frame(message: bytes) -> bytes:
    """A message as DNS over TCP sends it: a 2-byte length, then the message (RFC 1035 §4.2.2)."""
    return struct.pack("!H", len(message)) + message


def tcp_unframe(buf: bytearray) -> list[bytes]:
    """Take every whole length-prefixed message off the front of ``buf`` (a stream's bytes so far);
    a message still arriving stays in ``buf``."""
    messages = []
    while len(buf) >= 2:
        length = buf[0] << 8 | buf[1]
        if len(buf) < 2 + length:
            break
        messages.append(bytes(buf[2:2 + length]))
        del buf[:2 + length]
    return messages


def compression_map(data: bytes | bytearray | memoryview) -> list[NameSpan]:
    """Every name in a message and its pieces in place: labels, pointers (with targets) and root bytes.

    This is what a figure needs to draw an arrow from each compression pointer to the name it reuses.
    """
    spans: list[NameSpan] = []
    _parse(bytes(data), True, spans)
    return spans
