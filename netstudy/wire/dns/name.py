"""Domain names: :class:`Name` (labels as bytes, compared case-insensitively), read from a message with
compression pointers followed safely, and written with them (RFC 1035 §3.1, §4.1.4).

A name a user writes that cannot be one raises :class:`InputError`; a name in a message that does not
decode raises :class:`DecodeError` (layer ``DNS``, the field, the byte offset).
"""
from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from netstudy.errors import DecodeError, InputError
from netstudy.wire.dns.codes import LAYER, MAX_LABEL, MAX_NAME
from netstudy.wire.dns.text import _escape_label, _show_labels, _unescape


class Name:
    """A domain name: a tuple of labels (bytes, case preserved), always absolute (ends at the root).

    Names compare and hash case-insensitively, as DNS does (RFC 4343). ``Name("www.Example.com")`` or
    ``Name.from_text("www", origin=Name("example.com"))``; ``str(name)`` is dig's escaped text.
    """

    __slots__ = ("labels", "_key")
    labels: tuple[bytes, ...]
    _key: tuple[bytes, ...]

    def __init__(self, name: str | Name | Iterable[bytes] = ()) -> None:
        if isinstance(name, Name):
            self.labels, self._key = name.labels, name._key
            return
        labels = _text_labels(name) if isinstance(name, str) else tuple(
            x.encode() if isinstance(x, str) else bytes(x) for x in name)
        total = 1
        for label in labels:
            if not label:
                raise InputError(f"name {_show_labels(labels)!r}: empty label (two dots in a row)")
            if len(label) > MAX_LABEL:
                raise InputError(f"name {_show_labels(labels)!r}: label of {len(label)} bytes, "
                                 f"at most {MAX_LABEL} (RFC 1035 §2.3.4)")
            total += 1 + len(label)
        if total > MAX_NAME:
            raise InputError(f"name {_show_labels(labels)[:40]}...: {total} bytes on the wire, at most "
                             f"{MAX_NAME} (RFC 1035 §2.3.4)")
        self.labels = labels
        self._key = tuple(map(bytes.lower, labels))

    @classmethod
    def from_text(cls, text: str, origin: Name | None = None) -> Name:
        """Presentation text to a name: ``@`` is the origin, a name without a final dot is relative to it."""
        if text == "@":
            if origin is None:
                raise InputError("'@' needs an origin ($ORIGIN)")
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
            except InputError:
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
        raise InputError(f"{address!r} does not appear to be an IPv4 or IPv6 address") from None
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


