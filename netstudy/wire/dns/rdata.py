"""Record data, one small frozen dataclass per type, each with its wire form (``read``, ``write``) and
its text form (``to_text``, ``from_text`` from zone-file tokens): :class:`A`, :class:`AAAA`, :class:`NS`,
:class:`CNAME`, :class:`PTR`, :class:`MX`, :class:`TXT`, :class:`SOA`, :class:`SRV`, :class:`CAA`,
:class:`OPT` (EDNS0, RFC 6891) and :class:`Unknown` (any other type, kept as bytes: RFC 3597).
"""
from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from netstudy.errors import BuildError, DecodeError, InputError
from netstudy.wire.dns.codes import LAYER, type_name
from netstudy.wire.dns.name import Name, _read_name, _Writer
from netstudy.wire.dns.text import _int, _need, _quote, _string_bytes, parse_ttl


def _u(data: bytes, off: int, end: int, fmt: str, field: str) -> tuple[Any, ...]:
    s = struct.calcsize(fmt)
    if off + s > end:
        raise DecodeError(LAYER, field, off, f"record data too short: needs {s} more bytes, {end - off} left")
    return struct.unpack_from(fmt, data, off)


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


@dataclass(frozen=True, slots=True)
class _Address(RData):
    """A and AAAA: one address, of the family and size the subclass names."""

    address: str
    FAMILY: ClassVar[int]
    SIZE: ClassVar[int]
    VERSION: ClassVar[str]

    def __post_init__(self) -> None:
        try:
            packed = socket.inet_pton(self.FAMILY, str(self.address))
        except (OSError, ValueError):
            raise InputError(f"{type(self).__name__} record: {self.address!r} is not an {self.VERSION} "
                             f"address") from None
        object.__setattr__(self, "address", socket.inet_ntop(self.FAMILY, packed))

    def write(self, w: _Writer) -> None:
        w.buf += socket.inet_pton(self.FAMILY, self.address)

    @classmethod
    def read(cls, data: bytes, off: int, end: int) -> RData:
        if end - off != cls.SIZE:
            raise DecodeError(LAYER, "rdata", off, f"{cls.__name__} record data is {end - off} bytes, "
                                                   f"must be {cls.SIZE}")
        rdata = object.__new__(cls)      # the bytes are an address: nothing for __post_init__ to check
        object.__setattr__(rdata, "address", socket.inet_ntop(cls.FAMILY, data[off:end]))
        return rdata

    def to_text(self) -> str:
        return self.address

    @classmethod
    def from_text(cls, tokens: Sequence[str], origin: Name | None = None) -> RData:
        _need(tokens, 1, cls.__name__)
        return cls(tokens[0])


@dataclass(frozen=True, slots=True)
class A(_Address):
    """A record: one IPv4 address (RFC 1035 §3.4.1)."""

    TYPE: ClassVar[int] = 1
    FAMILY: ClassVar[int] = socket.AF_INET
    SIZE: ClassVar[int] = 4
    VERSION: ClassVar[str] = "IPv4"


@dataclass(frozen=True, slots=True)
class AAAA(_Address):
    """AAAA record: one IPv6 address (RFC 3596 §2.2)."""

    TYPE: ClassVar[int] = 28
    FAMILY: ClassVar[int] = socket.AF_INET6
    SIZE: ClassVar[int] = 16
    VERSION: ClassVar[str] = "IPv6"


@dataclass(frozen=True, slots=True)
class _SingleName(RData):
    """NS, CNAME and PTR: record data that is one compressible domain name."""

    target: Name
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
        _need(tokens, 1, cls.__name__)
        return cls(Name.from_text(tokens[0], origin))

    def names(self) -> dict[str, Name]:
        return {"target": self.target}


@dataclass(frozen=True, slots=True)
class NS(_SingleName):
    """NS record: one domain name (RFC 1035 §3.3.11)."""

    TYPE: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class CNAME(_SingleName):
    """CNAME record: one domain name (RFC 1035 §3.3.1)."""

    TYPE: ClassVar[int] = 5


@dataclass(frozen=True, slots=True)
class PTR(_SingleName):
    """PTR record: one domain name (RFC 1035 §3.3.12)."""

    TYPE: ClassVar[int] = 12


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
                raise BuildError(f"TXT string of {len(s)} bytes: at most 255 each (split it into several)")
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
            raise InputError("TXT needs at least one string")
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
        priority, weight, port = _u(data, off, end, "!HHH", "rdata")
        name, after = _read_name(data, off + 6, end, "rdata")
        _done(after, end)
        return cls(priority, weight, port, name)

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
            raise BuildError(f"CAA tag {self.tag!r} must be 1..255 ASCII letters and digits (RFC 8659 §4.1)")
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
        # as dig writes it: upper-case hex, a space every 28 bytes (BIND's unknown_totext)
        text = self.data.hex().upper()
        return " ".join([f"\\# {len(self.data)}", *(text[i:i + 56] for i in range(0, len(text), 56))])

    @classmethod
    def parse_generic(cls, rtype: int, tokens: Sequence[str]) -> Unknown:
        """RFC 3597 §5 text: ``\\#``, the length, then hex in any number of tokens."""
        if len(tokens) < 2 or tokens[0] != "\\#":
            raise InputError(f"{type_name(rtype)} data must be RFC 3597 generic text: \\# LENGTH HEX")
        length = _int(tokens[1], 16, "RFC 3597 length")
        try:
            data = bytes.fromhex("".join(tokens[2:]))
        except ValueError:
            raise InputError(f"{type_name(rtype)}: {''.join(tokens[2:])!r} is not hex") from None
        if len(data) != length:
            raise InputError(f"{type_name(rtype)}: \\# says {length} bytes, the hex has {len(data)}")
        return cls(rtype, data)


RDATA_TYPES: dict[int, type[RData]] = {c.TYPE: c for c in (A, AAAA, NS, CNAME, PTR, MX, TXT, SOA, SRV, CAA, OPT)}


def rdata_from_text(rtype: int, tokens: Sequence[str], origin: Name | None = None) -> RData:
    """Record data from zone-file tokens; any type also accepts RFC 3597's ``\\# LENGTH HEX``."""
    if tokens and tokens[0] == "\\#":
        generic = Unknown.parse_generic(rtype, tokens)
        cls = RDATA_TYPES.get(rtype)
        return generic if cls is None else _read_rdata(cls, generic.data)
    cls = RDATA_TYPES.get(rtype)
    if cls is None or cls is OPT:
        raise InputError(f"{type_name(rtype)}: no text form known; write it as \\# LENGTH HEX (RFC 3597)")
    return cls.from_text(tokens, origin)


def _read_rdata(cls: type[RData], data: bytes) -> RData:
    try:
        return cls.read(data, 0, len(data))
    except DecodeError as exc:
        raise InputError(f"{type_name(cls.TYPE)} generic data does not decode: {exc.reason}") from None

