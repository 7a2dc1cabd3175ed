"""tcpdump's one line for a DNS message (``1234+ A? example.com. (29)``, ``1234*- 1/0/0 A 1.2.3.4 (45)``):
its parts, and the line skimmed straight from the bytes for the common messages (:func:`_skim_line`),
which a table of a whole capture writes without parsing them (``Message.summary`` writes it from a
parsed message; the two agree: tests/test_dns_summary.py).
"""
from __future__ import annotations

import functools
import socket
import struct

from netstudy.errors import DecodeError
from netstudy.wire.dns.codes import _HEADER, _Q, _RR, MAX_LABEL, MAX_NAME, TYPES, _name_or_number
from netstudy.wire.dns.name import _read_name
from netstudy.wire.dns.rdata import AAAA, CNAME, MX, NS, OPT, PTR, RDATA_TYPES, SRV, TXT, A, RData
from netstudy.wire.dns.text import _show_labels


def _tcpdump_flags(id_: int, qr: int, opcode: int, rcode: int, aa: int, ra: int, tc: int, ad: int,
                   rd: int, cd: int, z: int = 0) -> str:
    """tcpdump's start of a DNS line: the ID, then its marks for opcode, rcode and flags (``1234*-``);
    a flag is any int, read as true or false (a bool, or its bit still in place in the flags word)."""
    return f"{id_}{_tcpdump_marks(qr, opcode, rcode, aa, ra, tc, ad, rd, cd, z)}"


def _tcpdump_marks(qr: int, opcode: int, rcode: int, aa: int, ra: int, tc: int, ad: int, rd: int,
                   cd: int, z: int = 0) -> str:
    """The marks after the ID. A query with bits a query should not set (AA, TC, RA, Z or an rcode) gets
    tcpdump's ``[b2&3=0x...]``: the whole flags word in hex (its print-domain.c tests ``flags & 0x6cf``)."""
    op = _TCPDUMP_OPCODES[opcode]
    if qr:
        rc = "" if rcode == 0 else " " + _TCPDUMP_RCODES.get(rcode, f"Resp{rcode}")
        return f"{op}{rc}{'*' if aa else ''}{'' if ra else '-'}{'|' if tc else ''}{'$' if ad else ''}"
    marks = f"{op}{'+' if rd else ''}{'%' if cd else ''}"
    if aa or tc or ra or z or rcode & 0xF:
        word = (opcode << 11 | bool(aa) << 10 | bool(tc) << 9 | bool(rd) << 8 | bool(ra) << 7 | bool(z) << 6
                | bool(ad) << 5 | bool(cd) << 4 | rcode & 0xF)
        marks += f" [b2&3=0x{word:x}]"
    return marks


# how tcpdump names an rcode (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891 §9 and the extended ones an OPT
# record's upper 8 bits make: BADVERS, RFC 7873's BADCOOKIE...)
_TCPDUMP_RCODES = {1: "FormErr", 2: "ServFail", 3: "NXDomain", 4: "NotImp", 5: "Refused", 6: "YXDomain",
                   7: "YXRRSet", 8: "NXRRSet", 9: "NotAuth", 10: "NotZone", 15: "NoChange", 16: "BadVers",
                   17: "BadKey", 18: "BadTime", 19: "BadMode", 20: "BadName", 21: "BadAlg", 22: "BadTrunc",
                   23: "BadCookie"}

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
    """Record data as tcpdump writes it in the line, after a space (or nothing: the type alone, for the
    types whose data it shows only with -v, SOA among them, and those it does not decode): addresses and
    names as dig writes them, an MX exchange before its preference (``mail.example.com. 10``), an SRV
    target, port, priority and weight (``:sip.example.com.:5060 10 60``), TXT strings quoted."""
    if isinstance(rdata, MX):
        return f" {rdata.exchange} {rdata.preference}"
    if isinstance(rdata, SRV):
        return f" {rdata.target}:{rdata.port} {rdata.priority} {rdata.weight}"
    if isinstance(rdata, (A, AAAA, NS, CNAME, PTR, TXT)):
        return f" {rdata.to_text()}"
    return ""


def _tcpdump_sections(flags: str, qr: int, questions: int, question: str, answers: list[str], ns: int,
                      ar: int, opcode: int = 0) -> str:
    """tcpdump's line from its parts: a response lists its answers (each `` TYPE rdata``) after the
    section counts, a query shows its ``question`` text (``A? example.com.``, each question's when there
    are several; unused in a response) after its unusual counts (:func:`_query_counts`)."""
    if qr:
        text = flags if questions == 1 else f"{flags} [{questions}q]"
        return f"{text} {len(answers)}/{ns}/{ar}" + ",".join(answers)
    text = flags + _query_counts(opcode, questions, len(answers), ns, ar)
    return f"{text} {question}" if questions else text


def _query_counts(opcode: int, qd: int, an: int, ns: int, ar: int) -> str:
    """The counts tcpdump writes after a query's flags, those not as a query has them: ``[1a]`` before
    ``[2q]`` (an inverse query, opcode 1, is expected to carry one answer: ``[2q]`` first, then ``[0a]``),
    then ``[1n]``, ``[1au]``."""
    counts = ((qd, "q", qd != 0), (an, "a", an != 1)) if opcode == 1 else ((an, "a", an != 0), (qd, "q", qd != 1))
    return "".join(f" [{count}{letter}]" for count, letter, shown in (*counts, (ns, "n", ns != 0),
                                                                     (ar, "au", ar != 0)) if shown)


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
            if rtype != OPT.TYPE or owner != "." or not _opt_options_fit(data, pos, stop) or data[pos - 6]:
                return None                             # (an extended rcode: the parse names it)
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
    return _tcpdump_sections(f"{ident}{_flag_marks(flags)}", flags >> 15, 1, question, answers, 0, ar,
                             flags >> 11 & 0xF)


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
                          word & 0x20, word & 0x100, word & 0x10, word & 0x40)


def _opt_options_fit(data: bytes, pos: int, stop: int) -> bool:
    """True if the EDNS options (code, length, value) fill the OPT record data exactly (RFC 6891 §6.1.2)."""
    while pos + 4 <= stop:
        pos += 4 + (data[pos + 2] << 8 | data[pos + 3])
    return pos == stop


_DECIMAL = [str(b) for b in range(256)]     # an IPv4 address's bytes as dotted-quad text writes them



# where the one name in these types' record data starts: after MX's 2-byte preference (see _skim_line)
_SKIM_NAME_AT = {NS.TYPE: 0, CNAME.TYPE: 0, PTR.TYPE: 0, MX.TYPE: 2}


# -- a message that does not parse whole (cut by the snap length, or hostile): tcpdump's walk -----------

_TRUNCATED = " [|domain]"


def _tcpdump_walk(data: bytes, off: int, end: int) -> tuple[str, bool]:
    """tcpdump's line for the message at ``data[off:end]`` that ``Message.parse`` refuses (cut by the
    snap length, counts no message could hold, a bad name), as its print-domain.c walks it: the header's
    counts as they are, then the questions or answers that fit; True with it when the walk got to the
    end (tcpdump then writes the length), False when it stopped (tcpdump then writes ``[|domain]``).
    At least 12 bytes; read only on this rare path."""
    msg = data[off:end]
    end = len(msg)
    ident, flags, qd, an, ns, ar = _HEADER.unpack_from(msg, 0)
    qr, opcode = flags >> 15, flags >> 11 & 0xF
    if not qr:
        text = f"{ident}{_flag_marks(flags)}{_query_counts(opcode, qd, an, ns, ar)}"
        pos: int | None = 12
        while qd and pos is not None and pos < end:
            pos, question = _walk_question(msg, pos, end)
            if question is None:
                return text, False
            text += " " + question
            qd -= 1
        return text, not qd
    rcode = _walk_rcode(msg, end, flags & 0xF, qd, an + ns, ar)
    text = f"{ident}{_tcpdump_marks(1, opcode, rcode, flags & 0x400, flags & 0x80, flags & 0x200, flags & 0x20, 0, 0)}"
    if qd != 1:
        text += f" [{qd}q]"
    pos = 12
    for i in range(qd):
        if i:
            text += ","
        pos = _nskip(msg, pos, end)
        if pos is None:
            return text, False
        pos += 4
    text += f" {an}/{ns}/{ar}"
    first = True
    while an and (first or pos < end):
        if not first:
            text += ","
        first = False
        pos, answer, whole = _walk_record(msg, pos, end)
        text += answer
        if not whole:
            return text, False
        an -= 1
    return text, not an


def _nskip(msg: bytes, pos: int, end: int) -> int | None:
    """Where the name at ``pos`` ends in place, as tcpdump's ns_nskip skips it (None: not captured, or a
    label type it does not know); a pointer ends the name without being followed."""
    if pos >= end:
        return None
    length = msg[pos]
    pos += 1
    while length:
        kind = length & 0xC0
        if kind == 0xC0:
            return pos + 1
        if kind == 0x40:            # an extended label (RFC 2673's bit labels, retired by RFC 6891 §5)
            if length & 0x3F != 1 or pos >= end:
                return None
            pos += 1 + ((msg[pos] or 256) + 7) // 8
        elif kind:
            return None
        else:
            pos += length
        if pos >= end:
            return None
        length = msg[pos]
        pos += 1
    return pos


def _walk_rcode(msg: bytes, end: int, rcode: int, qd: int, an_ns: int, ar: int) -> int:
    """The rcode with an OPT record's upper 8 bits (RFC 6891 §6.1.3) when the walk reaches one, as tcpdump
    looks for it: skipping what it can, giving up (the header's rcode) where the bytes stop."""
    pos: int | None = 12
    for _ in range(qd):
        pos = _nskip(msg, pos, end) if pos is not None else None
        if pos is None or pos + 4 >= end:
            return rcode
        pos += 4
    for _ in range(an_ns):
        pos = _nskip(msg, pos, end) if pos is not None else None
        if pos is None or pos + 10 > end:
            return rcode
        pos += 10 + (msg[pos + 8] << 8 | msg[pos + 9])
        if pos >= end:
            return rcode
    for _ in range(ar):
        pos = _nskip(msg, pos, end) if pos is not None else None
        if pos is None or pos + 5 > end:
            return rcode
        if msg[pos] << 8 | msg[pos + 1] == OPT.TYPE:
            return rcode | msg[pos + 4] << 4
        if pos + 10 > end:
            return rcode
        pos += 10 + (msg[pos + 8] << 8 | msg[pos + 9])
        if pos >= end:
            return rcode
    return rcode


def _walk_question(msg: bytes, pos: int, end: int) -> tuple[int | None, str | None]:
    """One question as tcpdump writes it, and where the next starts; None for the text if it stops."""
    after = _nskip(msg, pos, end)
    if after is None or after + 4 > end:
        return None, None
    qtype, qclass = _Q.unpack_from(msg, after)
    try:
        name, _ = _read_name(msg, pos, end, "qname")
    except DecodeError:
        return None, None
    return after + 4, _tcpdump_question(qtype, qclass, name)


def _walk_record(msg: bytes, pos: int, end: int) -> tuple[int, str, bool]:
    """One record as tcpdump writes it in the line (`` A 192.0.2.1``), where the next starts, and False if
    the walk stops there: a record whose owner or fixed fields are not captured ends the walk with
    nothing written (tcpdump's ns_rprint returns the end of the capture), one whose data is cut or
    malformed stops it after its type."""
    after = _nskip(msg, pos, end)
    if after is None or after + 10 > end:
        return end, "", True
    rtype, rclass, _, size = _RR.unpack_from(msg, after)
    start = after + 10
    text = ("" if rtype == OPT.TYPE else _tcpdump_class(rclass)) + f" {_tcpdump_type(rtype)}"
    if start + size > end:
        return end, text, False
    cls = RDATA_TYPES.get(rtype)
    if cls is None or cls is OPT:
        return start + size, text, True
    try:
        rdata = _walk_rdata(msg, start, start + size, end, cls)
    except (DecodeError, IndexError):
        return end, text, False
    return start + size, text + _tcpdump_rdata(rdata), True


def _walk_rdata(msg: bytes, start: int, stop: int, end: int, cls: type[RData]) -> RData:
    """Record data as tcpdump reads it for its line: an address from the first 4 (16) bytes whatever the
    rdlength says, a name read as far as the message goes (it may run past its record), any other type
    within its rdlength; DecodeError or IndexError where the bytes are not there."""
    if cls is A or cls is AAAA:
        size = 4 if cls is A else 16
        if start + size > end:
            raise IndexError(start)
        return cls(socket.inet_ntop(socket.AF_INET if cls is A else socket.AF_INET6, msg[start:start + size]))
    if cls in (NS, CNAME, PTR, MX, SRV):
        skip = 2 if cls is MX else 6 if cls is SRV else 0
        if start + skip > end:
            raise IndexError(start)
        name, _ = _read_name(msg, start + skip, end, "rdata")
        if cls is MX:
            return MX(msg[start] << 8 | msg[start + 1], name)
        if cls is SRV:
            priority, weight, port = struct.unpack_from("!HHH", msg, start)
            return SRV(priority, weight, port, name)
        return (NS if cls is NS else CNAME if cls is CNAME else PTR)(name)
    return cls.read(msg, start, stop)


def _cut_at(data: bytes, off: int, end: int) -> tuple[str, int, str] | None:
    """Where the capture cuts the message at ``data[off:]`` (its datagram runs past ``end``): the section,
    the byte offset of its first entry not captured whole, and why; None when every entry the header
    counts was captured (the bytes cut were after them). Names are skipped as tcpdump skips them."""
    _, _, qd, an, ns, ar = _HEADER.unpack_from(data, off)
    pos: int | None = off + 12
    for section, count, fixed in (("question", qd, 4), ("answer", an, 10), ("authority", ns, 10),
                                  ("additional", ar, 10)):
        for k in range(count):
            start = pos
            pos = _nskip(data, start, end) if start is not None else None
            if start is None or pos is None or pos + fixed > end or (
                    fixed == 10 and pos + 10 + (data[pos + 8] << 8 | data[pos + 9]) > end):
                where = start if start is not None else end
                return section, where, f"{section} {k + 1} of {count} runs past the {end - off} bytes captured"
            pos += fixed + (0 if fixed == 4 else data[pos + 8] << 8 | data[pos + 9])
    return None
