"""Type-length-value options, as IPv4 (RFC 791 §3.1) and TCP (RFC 9293 §3.1) carry them.

Each option is a kind byte; kinds 0 (end of list) and 1 (no-operation) stand alone, every other kind is
followed by a length byte counting the whole option. A table per protocol names the kinds and says how
to read their data, so unknown kinds are kept raw and still round-trip.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from netstudy.errors import BuildError, DecodeError

__all__ = ["Option", "OptionSpec", "OptionTable"]


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """How to read one option kind: its name, the struct format of its data ('' none, '*I' repeated
    32-bit pairs, None raw bytes) and its meaning with the RFC."""

    kind: int
    name: str
    fmt: str | None
    meaning: str
    text: str = ""          # how tcpdump writes it, e.g. "TS val {0} ecr {1}"
    show: Callable[[bytes], str] | None = None     # or a function of the data bytes writing it so


class Option(NamedTuple):
    """One option: its kind, its data bytes, those data read as a value, and the table entry that
    names it (``spec``) in the table that reads and writes it (``table``)."""

    kind: int
    data: bytes
    value: Any
    spec: OptionSpec
    table: OptionTable

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def meaning(self) -> str:
        return self.spec.meaning

    @property
    def length(self) -> int:
        return 1 if self.kind in self.table.singles else 2 + len(self.data)

    def pack(self) -> bytes:
        if self.kind in self.table.singles:
            return bytes([self.kind])
        length = (2 + len(self.data) - self.table.header_bytes) // self.table.length_unit
        return bytes([self.kind, length]) + self.data

    def __str__(self) -> str:
        return self.table._texts[self.kind](self.data)

    def __repr__(self) -> str:
        return f"Option({self})"


class OptionTable:
    """The option kinds of one protocol, able to parse an options area and to build one.

    IPv4 and TCP: kinds 0 and 1 stand alone, 0 ends the list, the length counts the kind and length
    bytes. IPv6 extension headers (RFC 8200 §4.2): only Pad1 (0) stands alone, nothing ends the list,
    and the length counts the data alone (``singles=(0,)``, ``end=None``, ``length_counts_header=False``).
    """

    def __init__(self, layer: str, specs: list[OptionSpec], unknown_name: str = "unknown-{kind}",
                 singles: tuple[int, ...] = (0, 1), end: int | None = 0, length_counts_header: bool = True,
                 length_unit: int = 1) -> None:
        self.layer = layer
        self.by_kind = {s.kind: s for s in specs}
        self.by_name = {s.name: s for s in specs}
        self.unknown_name = unknown_name
        self.singles, self.end = singles, end
        self.header_bytes = 0 if length_counts_header else 2
        self.length_unit = length_unit         # NDP options count their length in 8-byte units (RFC 4861 §4.6)
        self._readers = {s.kind: _reader(s.fmt) for s in specs}
        self._texts = {s.kind: _texter(s, self._readers[s.kind]) for s in specs}    # str(option), from its data

    def _spec(self, kind: int) -> OptionSpec:
        spec = self.by_kind.get(kind)
        if spec is None:
            spec = self.by_kind[kind] = OptionSpec(kind, self.unknown_name.format(kind=kind), None, "unknown kind")
            self._readers[kind] = _reader(None)
            self._texts[kind] = _texter(spec, self._readers[kind])
        return spec

    def option(self, kind: int, data: bytes = b"") -> Option:
        spec = self._spec(kind)
        return Option(kind, bytes(data), self._readers[kind](data), spec, self)

    def make(self, name: str, *value: Any) -> Option:
        """An option by name: ``make('mss', 1460)``, ``make('TS', 1, 0)``, ``make('sack', (1, 2), (5, 9))``."""
        spec = self.by_name.get(name)
        if spec is None:
            raise BuildError(f"{self.layer}: no option named {name!r}; known: {', '.join(self.by_name)}")
        if not spec.fmt:
            data = bytes(value[0]) if value else b""
        elif spec.fmt.startswith("*"):
            data = b"".join(struct.pack("!" + spec.fmt[1:], *group) for group in value)
        else:
            try:
                data = struct.pack("!" + spec.fmt, *value)
            except struct.error as exc:
                raise BuildError(f"{self.layer} option {name}: {exc}") from None
        return self.option(spec.kind, data)

    def walk(self, data: bytes, start: int, end: int, where: int, cut: bool = False) -> list[tuple[int, int, int]]:
        """(kind, start, end of its data) for each option in ``data[start:end]``, in order, up to the end of
        list; ``where`` is the packet offset of ``data[start]``, for the DecodeError of an option that does
        not fit (``cut``: the options area was cut by the snap length, and the walk stops there instead).
        Parsing and the one-line text both walk the options this way."""
        singles, stop, unit, extra = self.singles, self.end, self.length_unit, self.header_bytes
        found = []
        i = start
        while i < end:
            kind = data[i]
            if kind in singles:
                found.append((kind, i + 1, i + 1))
                if kind == stop:                      # end of option list: the rest is padding
                    break
                i += 1
                continue
            if i + 1 >= end:
                if cut:
                    break
                raise DecodeError(self.layer, "options", where + i - start, f"option kind {kind} has no length byte")
            length = data[i + 1] * unit + extra
            if length < 2 or i + length > end:
                if cut:
                    break
                raise DecodeError(self.layer, "options", where + i - start + 1,
                                  f"option kind {kind} length {length} does not fit in {end - i} bytes")
            found.append((kind, i + 2, i + length))
            i += length
        return found

    def parse(self, data: bytes, offset: int, cut: bool = False) -> list[Option]:
        """Options from ``data`` (which starts at byte ``offset`` of the packet, for error messages); of an
        area ``cut`` by the snap length, those captured whole."""
        option = self.option
        return [option(kind, data[s:e]) for kind, s, e in self.walk(data, 0, len(data), offset, cut)]

    def texts(self, data: bytes, start: int, end: int, where: int, skip: int | None = None) -> list[str]:
        """Each option in ``data[start:end]`` as tcpdump writes it (``str(option)``), straight from the
        bytes, leaving out kind ``skip``; DecodeError as :meth:`walk`. An option without data reads as
        its name (``nop``, ``sackOK``)."""
        texts, out = self._texts, []
        for kind, s, e in self.walk(data, start, end, where):
            if kind != skip:
                if kind not in texts:
                    self._spec(kind)
                out.append(texts[kind](data[s:e]) if e > s else self.by_kind[kind].name)
        return out

    @staticmethod
    def pack(options: list[Option], align: int = 4) -> bytes:
        """The options area: options back to back, zero-padded (end of list / Pad1) to a multiple of ``align``."""
        raw = b"".join(o.pack() for o in options)
        return raw + b"\x00" * (-len(raw) % align)


def _reader(fmt: str | None) -> Callable[[bytes], Any]:
    """A function reading an option's data as its table says: nothing, one struct, or repeated groups."""
    if not fmt:
        return lambda data: None
    if fmt.startswith("*"):                          # repeated groups, e.g. SACK blocks (RFC 2018 §3)
        group = struct.Struct("!" + fmt[1:])
        return lambda data: None if len(data) % group.size else tuple(group.iter_unpack(data))
    one = struct.Struct("!" + fmt)
    if len(one.unpack(bytes(one.size))) == 1:
        return lambda data: one.unpack(data)[0] if len(data) == one.size else None
    return lambda data: one.unpack(data) if len(data) == one.size else None


def _texter(spec: OptionSpec, read: Callable[[bytes], Any]) -> Callable[[bytes], str]:
    """A function writing an option of this kind from its data bytes, as tcpdump does: ``mss 1460``,
    ``TS val 1 ecr 0``, ``sack 1 {5:9}``; data that does not read as the table says is shown in hex."""
    name, template = spec.name, spec.text
    if spec.show is not None:
        return spec.show

    def raw(data: bytes) -> str:
        return f"{name} 0x{data.hex()}" if data else name

    if not spec.fmt:                                 # nothing to read: the name (and any data in hex)
        return raw
    if not spec.fmt.startswith("*"):                 # one struct: its values into the text
        one = struct.Struct("!" + spec.fmt)
        form = template or name.replace("{", "{{").replace("}", "}}") + " {}" * len(one.unpack(bytes(one.size)))

        def fixed(data: bytes) -> str:
            return form.format(*one.unpack(data)) if len(data) == one.size else raw(data)

        return fixed

    def text(data: bytes) -> str:
        value = read(data)
        if value is None or value == ():
            return raw(data)
        if name == "sack":
            return f"sack {len(value)} " + "".join(f"{{{left}:{right}}}" for left, right in value)
        if template:
            return template.format(*value) if isinstance(value, tuple) else template.format(value)
        if isinstance(value, tuple):
            return f"{name} {' '.join(str(v) for v in value)}"
        return f"{name} {value}"

    return text
