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
backwards), names stop at 255 bytes, and every count is checked against the bytes that are left. Text a
user gives that does not read (a name, a type, a zone-file token) raises :class:`InputError`; a value
that cannot be written, :class:`BuildError`.

The files, each importing only those above it:

* ``codes.py``: opcodes, rcodes, types and classes (names both ways), the limits, the fixed layouts
* ``text.py``: escaping and unescaping as dig and zone files write names and strings; TTLs; dig's columns
* ``name.py``: :class:`Name`, reading names (pointers followed safely) and writing them compressed
* ``rdata.py``: one class per record type, wire and text forms
* ``summary.py``: tcpdump's one line, and that line skimmed straight from the bytes
* ``message.py``: :class:`Question`, :class:`Record`, :class:`Message`, and the :class:`DNS` header
  (registered for UDP port 53)
* ``compression.py``: :func:`compression_map`, where every name's pieces lie (for the figure)
* ``framing.py``: DNS over TCP's 2-byte length prefix
"""
from netstudy.wire.dns.codes import (
    CLASSES,
    LAYER,
    MAX_LABEL,
    MAX_NAME,
    OPCODES,
    PORT,
    RCODES,
    TYPES,
    class_code,
    class_name,
    rcode_name,
    type_code,
    type_name,
)
from netstudy.wire.dns.compression import compression_map
from netstudy.wire.dns.framing import tcp_frame, tcp_unframe
from netstudy.wire.dns.message import DNS, Message, Question, Record, make_opt
from netstudy.wire.dns.name import ROOT, Name, NamePiece, NameSpan, reverse_name
from netstudy.wire.dns.rdata import (
    AAAA,
    CAA,
    CNAME,
    EDNS_OPTIONS,
    MX,
    NS,
    OPT,
    PTR,
    RDATA_TYPES,
    SOA,
    SRV,
    TXT,
    A,
    RData,
    Unknown,
    rdata_from_text,
)
from netstudy.wire.dns.text import parse_ttl

__all__ = ["DNS", "Message", "Question", "Record", "Name", "RData", "A", "AAAA", "NS", "CNAME", "PTR",
           "MX", "TXT", "SOA", "SRV", "CAA", "OPT", "Unknown", "NamePiece", "NameSpan", "compression_map",
           "make_opt", "tcp_frame", "tcp_unframe", "type_code", "type_name", "class_code", "class_name",
           "rcode_name", "reverse_name", "rdata_from_text", "parse_ttl", "RDATA_TYPES", "EDNS_OPTIONS", "ROOT",
           "TYPES", "CLASSES", "RCODES", "OPCODES", "PORT", "LAYER", "MAX_NAME", "MAX_LABEL"]
