"""One declarative field table per header, and the machinery it drives.

A header is a class with a ``FIELDS`` table: each :class:`Field` gives a name, a width in bits and a
one-line meaning that cites the RFC. From that table alone :class:`Header` derives

* the ``struct`` format that reads and writes the fixed part in one call (sub-byte fields share a word
  and are cut out with shifts and masks),
* an attribute per field, readable and settable, with values shown the way people read them
  (``'127.0.0.1'``, ``'02:00:00:00:00:01'``, ``True``),
* building (lengths and checksums marked ``auto`` are filled in unless the caller set them),
* the text description and the bit layout that ``netstudy.show`` draws.

Parsing is cheap on purpose (one ``struct.unpack_from`` per header, no copies): the header keeps the
buffer and its offsets, and reads payload and options only when asked.

Why this file is long: :class:`Header` and the small compiler that writes its ``struct`` format and its
per-field accessors from ``FIELDS`` (``_compile``, ``_read_source``, ``_accessor``) are one mechanism,
run by ``Header.__init_subclass__``; split, each half would only make sense read beside the other.
"""
from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, ClassVar, TypeVar

from netstudy.errors import BuildError, DecodeError

__all__ = ["CutHeader", "Field", "FieldView", "Header", "Span", "Stack", "reads_bytes"]

# how values of each kind are stored in the struct tuple (raw) and shown to people
_BYTES_KINDS = {"ipv4", "ipv6", "mac", "bytes"}


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: its name, width in bits, and meaning (one line, citing the RFC).

    ``kind`` says how to show the value: ``int`` (decimal), ``hex``, ``flag`` (one bit, a bool),
    ``ipv4``/``ipv6``/``mac`` (addresses, as text) or ``bytes``. ``names`` maps well-known values to
    names (``6 -> 'TCP'``). ``auto`` marks a length or checksum that building fills in unless set.
    """

    name: str
    bits: int
    meaning: str
    kind: str = "int"
    default: Any = 0
    auto: bool = False
    names: Mapping[int, str] | None = None

    def show(self, value: Any) -> str:
        """The value as a person reads it, with its well-known name when there is one."""
        if self.kind == "hex":
            text = f"0x{value:0{(self.bits + 3) // 4}x}"
        elif self.kind == "flag":
            text = "1" if value else "0"
        elif self.kind == "bytes":
            text = bytes(value).hex() or "(empty)"
        else:
            text = str(value)
        if self.names and value in self.names:
            text += f" ({self.names[value]})"
        return text


@dataclass(frozen=True, slots=True)
class FieldView:
    """A field of one concrete header, placed: what a diagram or a description needs to show it."""

    name: str
    bit_offset: int        # from the start of this header
    bits: int
    value: Any             # as the attribute returns it
    text: str              # as a person reads it
    raw: int | bytes       # the bits themselves (an int, or bytes for addresses and options)
    meaning: str
    struct_code: str       # the struct code of the word this field lives in ('B', 'H', '4s', ...)

    @property
    def byte_offset(self) -> int:
        return self.bit_offset // 8


# ----------------------------------------------------------------------------------------------------
# compiling a field table into a struct layout

@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a field lives: index in the unpacked tuple, (for sub-word fields) shift and mask, and the
    struct code and byte offset of its word."""

    index: int
    shift: int | None
    mask: int
    code: str
    byte: int


_WORD_CODES = {8: "B", 16: "H", 32: "I", 64: "Q"}


def _compile(fields: tuple[Field, ...], owner: str) -> tuple[str, dict[str, _Slot]]:
    """Group fields into struct words: byte-aligned ones get their own code, small ones share a word."""
    codes: list[str] = []
    slots: dict[str, _Slot] = {}
    group: list[Field] = []
    group_bits = 0
    byte = 0                     # where the next word starts
    for f in fields:
        if not group and f.kind in _BYTES_KINDS:
            if f.bits % 8:
                raise TypeError(f"{owner}.{f.name}: a {f.kind} field must be whole bytes")
            slots[f.name] = _Slot(len(codes), None, 0, f"{f.bits // 8}s", byte)
            codes.append(f"{f.bits // 8}s")
            byte += f.bits // 8
            continue
        if not group and f.bits in _WORD_CODES:
            code = _WORD_CODES[f.bits]
            slots[f.name] = _Slot(len(codes), None, (1 << f.bits) - 1, code, byte)
            codes.append(code)
            byte += f.bits // 8
            continue
        group.append(f)
        group_bits += f.bits
        if group_bits in _WORD_CODES:
            code = _WORD_CODES[group_bits]
            shift = group_bits
            for g in group:
                shift -= g.bits
                slots[g.name] = _Slot(len(codes), shift, (1 << g.bits) - 1, code, byte)
            codes.append(code)
            byte += group_bits // 8
            group, group_bits = [], 0
        elif group_bits > 64:
            raise TypeError(f"{owner}: fields {[g.name for g in group]} do not close a 8/16/32/64-bit word")
    if group:
        raise TypeError(f"{owner}: fields {[g.name for g in group]} do not end on a byte boundary")
    return "!" + "".join(codes), slots


def _to_raw(f: Field, value: Any, owner: str) -> Any:
    """A user's value for field ``f`` as the struct wants it, or a BuildError saying what is wrong."""
    if f.kind in _BYTES_KINDS:
        size = f.bits // 8
        if isinstance(value, str):
            try:
                if f.kind == "mac":
                    value = bytes.fromhex(value.replace(":", "").replace("-", ""))
                elif f.kind in ("ipv4", "ipv6"):
                    value = socket.inet_pton(socket.AF_INET if f.kind == "ipv4" else socket.AF_INET6, value)
                else:
                    value = bytes.fromhex(value)
            except (ValueError, OSError):
                raise BuildError(f"{owner}.{f.name}: {value!r} is not a valid {f.kind} value") from None
        elif f.kind in ("ipv4", "ipv6") and hasattr(value, "packed"):
            value = value.packed
        value = bytes(value)
        if len(value) != size:
            raise BuildError(f"{owner}.{f.name}: needs {size} bytes, got {len(value)}")
        return value
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int):
        raise BuildError(f"{owner}.{f.name}: needs an integer, got {value!r}")
    if not 0 <= value < (1 << f.bits):
        raise BuildError(f"{owner}.{f.name}: {value} does not fit in {f.bits} bits (0..{(1 << f.bits) - 1})")
    return value


# Reading a field is one Python expression, compiled once: its word (from the unpacked tuple, or straight
# from the bytes), shifted and masked when the field shares it, then shown as its kind says. The attribute
# getters and the columns of a table of packets (``Header.read_source``) are made this way.
# Addresses as text: a capture repeats a few addresses many times, so their texts are remembered (a bounded
# cache: a sweep over a whole /16 still fits).
_ADDRESSES_REMEMBERED = 1 << 16
READ_NAMES = {"_ipv4_text": lru_cache(_ADDRESSES_REMEMBERED)(socket.inet_ntoa),
              "_ipv6_text": lru_cache(_ADDRESSES_REMEMBERED)(partial(socket.inet_ntop, socket.AF_INET6)),
              "_from_bytes": int.from_bytes}


def _read_source(f: Field, slot: _Slot, word: str) -> str:
    """Python source for field ``f`` given the source of its ``word``: ``_ipv4_text(self._v[8])``,
    ``(data[off] >> 4 & 0xf)``."""
    if slot.shift is not None:
        word = f"({word} >> {slot.shift} & {slot.mask:#x})"
    return {"ipv4": f"_ipv4_text({word})", "ipv6": f"_ipv6_text({word})", "mac": f'{word}.hex(":")',
            "flag": f"bool({word})"}.get(f.kind, word)


def _word_in_bytes(slot: _Slot, data: str, off: str) -> str:
    """Python source for the word of ``slot`` read straight from bytes ``data`` at header offset ``off``."""
    def at(i: int) -> str:
        return f"{off} + {slot.byte + i}" if slot.byte + i else off
    if slot.code == "B":
        return f"{data}[{at(0)}]"
    if slot.code == "H":
        return f"({data}[{at(0)}] << 8 | {data}[{at(1)}])"
    size = struct.calcsize(slot.code)
    word = f"{data}[{at(0)}:{at(size)}]"
    return word if slot.code.endswith("s") else f"_from_bytes({word}, 'big')"


def compile_function(name: str, source: str, names: Mapping[str, Any] = {}) -> Callable[..., Any]:
    """The function ``name`` defined in ``source`` (which may use the names in ``READ_NAMES`` and
    ``names``); its source is kept as its ``__doc__``, to be read."""
    namespace = {**READ_NAMES, **names}
    exec(source, namespace)
    function = namespace[name]
    function.__doc__ = source
    return function


# what Header.read_source knows of a property's getter: the source reading it from the bytes (marked
# with reads_bytes), or the field and slot it was made from (a getter made from the table)
_BYTE_SOURCE: dict[Callable[..., Any], str] = {}
_FIELD_SLOT: dict[Callable[..., Any], tuple[Field, _Slot]] = {}

G = TypeVar("G", bound=Callable[..., Any])


def reads_bytes(source: str, **names: Any) -> Callable[[G], G]:
    """Mark a computed property's getter with the Python source that reads its value straight from the
    bytes (``{data}``, ``{off}`` as in :meth:`Header.read_source`), using ``names``: tables of packets
    are then filled without making the header."""
    READ_NAMES.update(names)

    def mark(getter: G) -> G:
        _BYTE_SOURCE[getter] = source
        return getter

    return mark


def _accessor(f: Field, slot: _Slot) -> property:
    """A property reading and writing one field straight from the header's unpacked tuple."""
    get = compile_function("get", f"def get(self):\n    return {_read_source(f, slot, f'self._v[{slot.index}]')}\n")
    _FIELD_SLOT[get] = (f, slot)        # marks a getter made from the table (Header.read_source)

    def set_(self: Header, value: Any) -> None:
        self._set(f.name, value)

    return property(get, set_, doc=f.meaning)


# ----------------------------------------------------------------------------------------------------
# the header base class

Span = tuple[type["Header"], int, int, "type[Header] | None", int, int]
"""What skimming a header finds (``Header._locate``), and what ``decode`` keeps per layer: the header's
class, where it starts and where its bytes end; then the class of what follows (None: nothing known),
where its payload starts and ends. The last three are where the next layer's span starts."""

# every header class's ``_locate``, bound once: decode() calls one per layer of every frame, and a class
# method looked up on a different class at each step would be bound anew each time
LOCATE: dict[type[Header], Callable[[bytes, int, int], Span]] = {}
_new = object.__new__         # a header from bytes is made without __init__ (which builds from values)
H = TypeVar("H", bound="Header")

class CutHeader(DecodeError):
    """A header whose fixed part was captured but whose variable part (options, extension data) runs past
    the bytes there are, as a snap length cuts it: the error names the layer, field and offset like any
    :class:`DecodeError`, and ``span`` is the header as far as it was captured (nothing follows it), which
    ``decode`` keeps as the packet's last layer: its fixed fields stay readable, the packet is malformed."""

    def __init__(self, layer: str, field: str, offset: int, reason: str, span: Span) -> None:
        super().__init__(layer, field, offset, reason)
        self.span = span


class _Built:
    """What a header made (or changed) in Python carries besides its words: fields left for ``build``
    to fill, and extras such as an options list."""

    __slots__ = ("unset", "extra")

    def __init__(self, unset: set[str], extra: dict[str, Any]) -> None:
        self.unset, self.extra = unset, extra


class Header:
    """Base of every header: a field table, parsed from or built into bytes.

    Subclasses set ``NAME`` (as people say it) and ``FIELDS``; a header with a next layer or
    variable-length parts overrides ``layout()`` (and ``fill``, ``options``, ``summary`` as needed).

    A parsed header keeps the buffer and offsets it came from (``_buf``, ``_off``, ``_end``) and reads
    options and payload from there only when asked; ``_build`` is None until the header is made or
    changed in Python.
    """

    NAME: ClassVar[str] = "header"
    FIELDS: ClassVar[tuple[Field, ...]] = ()
    MIN_LENGTH: ClassVar[int]          # the fixed part, in bytes
    _STRUCT: ClassVar[struct.Struct]
    _SLOTS: ClassVar[dict[str, _Slot]]
    _BY_NAME: ClassVar[dict[str, Field]]
    _EXTRAS: ClassVar[frozenset[str]] = frozenset()   # keyword arguments beyond the table, e.g. "options"
    _BYTE_OF: ClassVar[dict[str, int]]                  # field name -> byte offset in the header
    # in a table of packets (netstudy.pcap.to_frame): the columns this header fills, as (column, attribute),
    # and its name in the "protocol" column when it is the top layer (None: NAME; "": keep the one below)
    ROW: ClassVar[tuple[tuple[str, str], ...]] = ()
    PROTOCOL: ClassVar[str | None] = None
    # where the header sits in the stack: "link", "network", "transport" or "application"
    LAYER: ClassVar[str] = "application"

    __slots__ = ("_v", "_buf", "_off", "_end", "_build")
    _v: tuple[Any, ...]             # the words of the fixed part, as struct unpacks them
    _buf: bytes
    _off: int
    _end: int
    _build: _Built | None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        LOCATE[cls] = cls._locate
        if "FIELDS" not in cls.__dict__:
            return
        fmt, slots = _compile(cls.FIELDS, cls.__name__)
        cls._STRUCT = struct.Struct(fmt)
        cls.MIN_LENGTH = cls._STRUCT.size
        cls._SLOTS = slots
        cls._BY_NAME = {f.name: f for f in cls.FIELDS}
        bits, cls._BYTE_OF = 0, {}
        for f in cls.FIELDS:
            cls._BYTE_OF[f.name] = bits // 8
            bits += f.bits
        for f in cls.FIELDS:
            if f.name not in cls.__dict__:       # a subclass may present a field its own way
                setattr(cls, f.name, _accessor(f, slots[f.name]))

    # -- construction ------------------------------------------------------------------------------

    def __init__(self, **values: Any) -> None:
        """A header from field values; unnamed fields take their defaults, ``auto`` ones are filled at build."""
        unknown = set(values) - set(self._BY_NAME) - self._EXTRAS
        if unknown:
            raise BuildError(f"{self.NAME}: no field named {', '.join(sorted(unknown))}; "
                             f"fields are {', '.join(self._BY_NAME)}")
        self._v = self._pack_defaults()
        self._buf, self._off, self._end = b"", 0, 0
        self._build = _Built({f.name for f in self.FIELDS if f.auto and f.name not in values}, {})
        for name, value in values.items():
            if name in self._EXTRAS:
                self._build.extra[name] = value
            else:
                self._set(name, value)

    @classmethod
    def _pack_defaults(cls) -> tuple:
        words: list[Any] = []
        for f in cls.FIELDS:
            s = cls._SLOTS[f.name]
            default = _to_raw(f, f.default, cls.NAME) if not (f.auto and f.default is None) else 0
            if s.index == len(words):
                words.append(b"\x00" * int(s.code[:-1]) if s.code.endswith("s") else 0)
            if s.shift is None:
                words[s.index] = default
            else:
                words[s.index] |= default << s.shift
        return tuple(words)

    @classmethod
    def parse(cls: type[H], data: bytes | bytearray | memoryview, offset: int = 0, end: int | None = None) -> H:
        """Parse this header at ``offset`` of ``data``; raises DecodeError (layer, field, offset) if it does not fit."""
        if not isinstance(data, bytes):
            data = bytes(data)
        return cls._parse(data, offset, len(data) if end is None else end)

    @classmethod
    def _parse(cls: type[H], data: bytes, offset: int, end: int) -> H:
        kind = cls._locate(data, offset, end)[0]        # checks it, and picks the class for typed messages
        return kind._make(data, offset, end)            # type: ignore[return-value]  # a subclass of cls

    @classmethod
    def _make(cls: type[H], data: bytes, offset: int, end: int) -> H:
        """The header object for bytes ``_locate`` has already checked: one ``struct`` call, no copies."""
        h = _new(cls)
        h._v = cls._STRUCT.unpack_from(data, offset)
        h._buf = data
        h._off = offset
        h._end = end
        h._build = None
        return h

    @classmethod
    def _locate(cls, data: bytes, off: int, end: int) -> Span:
        """Skim the header at ``off``: its :data:`Span` (its class, ``off``, ``end``, then the class of
        what follows or None, where its payload starts, where it ends). Reads only the bytes that say how
        long the header is and what comes next, so walking a frame costs a few byte lookups per layer;
        raises DecodeError naming the field when those bytes are inconsistent. Headers with lengths,
        options or a next layer override it."""
        if end - off < cls.MIN_LENGTH:
            raise cls._short(off, end)
        return cls, off, end, None, off + cls.MIN_LENGTH, end

    @classmethod
    def _short(cls, off: int, end: int) -> DecodeError:
        return DecodeError(cls.NAME, cls.FIELDS[0].name if end <= off else "header", off,
                           f"needs {cls.MIN_LENGTH} bytes, only {max(end - off, 0)} left")

    @classmethod
    def _fail(cls, field: str, off: int, reason: str) -> DecodeError:
        """A DecodeError for ``field`` of the header at ``off``, with the field's absolute byte offset."""
        return DecodeError(cls.NAME, field, off + cls._BYTE_OF.get(field, 0), reason)

    # -- field access ------------------------------------------------------------------------------

    def _set(self, name: str, value: Any) -> None:
        f = self._BY_NAME[name]
        if self._build is None:            # a parsed header being changed: keep its options as bytes
            self._build = _Built(set(), {"options": bytes(self.options_raw)} if self.options_raw else {})
        if value is None:
            if not f.auto:
                raise BuildError(f"{self.NAME}.{name}: only lengths and checksums can be left to fill (None)")
            self._build.unset.add(name)
            return
        raw = _to_raw(f, value, self.NAME)
        s = self._SLOTS[name]
        words = list(self._v)
        if s.shift is None:
            words[s.index] = raw
        else:
            words[s.index] = (words[s.index] & ~(s.mask << s.shift)) | (raw << s.shift)
        self._v = tuple(words)
        self._build.unset.discard(name)

    def raw(self, name: str) -> Any:
        """The bits of field ``name`` as stored (an int, or bytes for addresses)."""
        s = self._SLOTS[name]
        word = self._v[s.index]
        return word if s.shift is None else (word >> s.shift) & s.mask

    def is_set(self, name: str) -> bool:
        """False for an ``auto`` field (length, checksum) still waiting to be filled by ``build``."""
        return self._build is None or name not in self._build.unset

    def values(self) -> dict[str, Any]:
        """Every field as the attributes show it, in table order."""
        return {f.name: getattr(self, f.name) for f in self.FIELDS}

    # -- layout: what follows, where ---------------------------------------------------------------

    def layout(self) -> tuple[type[Header] | None, int, int]:
        """(class of the next header or None, where this header's payload starts, where it ends) in the
        buffer, as ``_locate`` finds them."""
        try:
            return self._locate(self._buf, self._off, self._end)[3:]
        except CutHeader as cut:            # captured in part: its options as far as they go, nothing after
            return cut.span[3:]

    @property
    def header_length(self) -> int:
        """Bytes of this header, options included."""
        if self._build is not None:
            return self.MIN_LENGTH + len(self.options_raw)
        return self.layout()[1] - self._off

    @property
    def payload(self) -> bytes:
        """The bytes this header carries (what follows it, up to the end its length fields give)."""
        if not self._buf:
            return b""
        _, start, end = self.layout()
        return self._buf[start:end]

    def next_layer(self) -> type[Header] | None:
        """The header class that the payload starts with, when this header says (EtherType, protocol...)."""
        return self.layout()[0]

    @property
    def options_raw(self) -> bytes:
        """The variable-length bytes between the fixed part and the payload (options), if any."""
        if self._build is not None:
            options = self._build.extra.get("options", b"")
            return bytes(options) if isinstance(options, (bytes, bytearray)) else self._pack_options(options)
        return self._buf[self._off + self.MIN_LENGTH:self.layout()[1]]

    def _pack_options(self, options: Any) -> bytes:
        """Option objects as this header's options area (headers with options override this)."""
        raise BuildError(f"{self.NAME} has no options")

    def options_views(self) -> list[FieldView]:
        """The variable-length part as drawable pieces: one per option when the header has an ``options``
        list, then any padding; one box of raw bytes otherwise, or when the options are malformed."""
        raw = self.options_raw
        if not raw:
            return []
        start, end = self.MIN_LENGTH * 8, (self.MIN_LENGTH + len(raw)) * 8
        whole = FieldView("options", start, end - start, raw, raw.hex(), raw, f"{len(raw)} bytes of options",
                          f"{len(raw)}s")
        listed = getattr(type(self), "options", None)     # the property of headers with an options list
        if listed is None:
            return [whole]
        try:
            options = listed.fget(self)
        except DecodeError as exc:
            return [FieldView("options", start, end - start, raw, f"malformed: {exc.reason}", raw,
                              "options that do not parse", f"{len(raw)}s")]
        views, bit = [], start
        for opt in options:
            views.append(FieldView(f"option {opt.name}", bit, opt.length * 8, opt.value, self.option_text(opt),
                                   opt.pack(), opt.meaning, f"{opt.length}s"))
            bit += opt.length * 8
        if bit < end:
            pad = (end - bit) // 8
            views.append(FieldView("padding", bit, end - bit, None, "", raw[-pad:],
                                   "zeros after the options, to the length the header gives", f"{pad}s"))
        return views

    def option_text(self, option: Any) -> str:
        """How one option reads in a diagram (default: as tcpdump prints it)."""
        return str(option)

    # -- building ---------------------------------------------------------------------------------

    def fill(self, payload: bytes, under: Header | None, over: Header | None) -> None:
        """Fill the ``auto`` fields still unset (lengths, checksums), knowing the payload and neighbours."""

    def pack(self) -> bytes:
        """The header as it stands (fixed part and options), auto fields not filled."""
        return self._STRUCT.pack(*self._v) + self.options_raw

    def build(self, payload: bytes = b"", under: Header | None = None, over: Header | None = None) -> bytes:
        """Header + payload as bytes, with unset lengths and checksums filled in (the header keeps them)."""
        payload = bytes(payload)
        if self._build is not None and self._build.unset:
            self.fill(payload, under, over)
        return self.pack() + payload

    def __truediv__(self, other: Header | bytes | Stack) -> Stack:
        return Stack([self]) / other

    def __bytes__(self) -> bytes:
        if self._build is None:
            return self._buf[self._off:self.layout()[1]]
        return self.build()

    # -- description ------------------------------------------------------------------------------

    def fields(self) -> list[FieldView]:
        """Every field of this header, placed (bit offset, width, value, text, raw bits), options included."""
        views = []
        bit = 0
        for f in self.FIELDS:
            value = getattr(self, f.name)
            views.append(FieldView(f.name, bit, f.bits, value, f.show(value), self.raw(f.name), f.meaning,
                                   self._SLOTS[f.name].code))
            bit += f.bits
        return views + self.options_views()

    @property
    def struct_format(self) -> str:
        """The ``struct`` format string of the fixed part (``!`` = network byte order)."""
        return self._STRUCT.format

    @property
    def offset(self) -> int:
        """Where this header starts in the buffer it was parsed from (0 for a built one)."""
        return self._off

    def summary(self) -> str:
        """One line about this layer alone."""
        return self.NAME

    @classmethod
    def read_source(cls, name: str, data: str = "data", off: str = "off") -> str | None:
        """Python source reading attribute ``name`` straight from the bytes ``data`` of a header at offset
        ``off`` (``_ipv4_text(data[off + 12:off + 16])``), or None when ``name`` is not a field read as
        the table says (a property computed otherwise). Tables of many packets are compiled from it."""
        getter = getattr(getattr(cls, name, None), "fget", None)
        if getter is None:                          # not a property
            return None
        source = _BYTE_SOURCE.get(getter)
        if source is not None:                      # a computed property that says how (see reads_bytes)
            return source.format(data=data, off=off)
        field_slot = _FIELD_SLOT.get(getter)
        if field_slot is None:
            return None
        f, slot = field_slot
        return _read_source(f, slot, _word_in_bytes(slot, data, off))

    @classmethod
    def summary_at(cls, data: bytes, off: int, end: int) -> str:
        """:meth:`summary` of the header at ``off`` in ``data`` (which ``_locate`` has checked); headers
        whose line is read straight from the bytes override it, so that a table of packets need not
        make them."""
        return cls._make(data, off, end).summary()

    def describe(self) -> str:
        """A multi-line description, one field per line, the way a protocol analyser's detail pane reads."""
        lines = [f"{self.NAME}, {self.header_length} bytes"]
        for v in self.fields():
            lines.append(f"    {v.name:<18} {v.text:<26} {v.meaning}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)!r}" for f in self.FIELDS]
        opts = self.options_raw
        if opts:
            parts.append(f"options={len(opts)} bytes")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and bytes(self) == bytes(other)

    __hash__ = None  # type: ignore[assignment]


class Stack:
    """Headers stacked outermost first, then a payload: ``IPv4(...) / UDP(...) / b"hi"``.

    ``bytes(stack)`` builds from the inside out, so each header can fill its length and checksum from
    what it carries (TCP and UDP checksums need the IP addresses of the header under them).
    """

    __slots__ = ("layers", "payload")

    def __init__(self, layers: list[Header], payload: bytes = b"") -> None:
        self.layers, self.payload = list(layers), bytes(payload)

    def __truediv__(self, other: Header | bytes | Stack) -> Stack:
        if self.payload:
            raise BuildError("nothing can be stacked after the payload")
        if isinstance(other, Header):
            return Stack(self.layers + [other])
        if isinstance(other, Stack):
            return Stack(self.layers + other.layers, other.payload)
        return Stack(self.layers, bytes(other))

    def build(self) -> bytes:
        data = self.payload
        for i in range(len(self.layers) - 1, -1, -1):
            below = self.layers[:i]
            # ``under``: the nearest IP header below (its addresses enter TCP/UDP/ICMPv6 checksums)
            under = next((h for h in reversed(below) if hasattr(h, "pseudo_header")), below[-1] if below else None)
            over = self.layers[i + 1] if i + 1 < len(self.layers) else None
            data = self.layers[i].build(data, under, over)
        return data

    __bytes__ = build

    def __iter__(self) -> Iterator[Header]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = " / ".join(repr(h) for h in self.layers)
        return f"{inner} / {self.payload!r}" if self.payload else inner
