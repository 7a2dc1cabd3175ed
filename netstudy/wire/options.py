"""Type-length-value options, as IPv4 (RFC 791 §3.1) and TCP (RFC 9293 §3.1) carry them.

Each option is a kind byte; kinds 0 (end of list) and 1 (no-operation) stand alone, every other kind is
followed by a length byte counting the whole option. A table per protocol names the kinds and says how
to read their data, so unknown kinds are kept raw and still round-trip.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Option:
    """One option: its kind, its data bytes, and those data read as a value (per the table)."""

    kind: int
    name: str
    data: bytes = b""
    value: Any = None
    meaning: str = ""
    text: str = ""

    single: bool = False    # a one-byte option (no length, no data)
    length_counts_header: bool = True
    length_unit: int = 1

    @property
    def length(self) -> int:
        return 1 if self.single else 2 + len(self.data)

    def pack(self) -> bytes:
        if self.single:
            return bytes([self.kind])
        total = 2 + len(self.data)
        length = (total if self.length_counts_header else total - 2) // self.length_unit
        return bytes([self.kind, length]) + self.data

    def __str__(self) -> str:
        if self.name == "sack" and self.value:
            return f"sack {len(self.value)} " + "".join(f"{{{left}:{right}}}" for left, right in self.value)
        if self.text and self.value is not None:
            values = self.value if isinstance(self.value, tuple) else (self.value,)
            return self.text.format(*values, n=len(values))
        if self.value is None or self.value == ():
            return self.name if self.data == b"" else f"{self.name} 0x{self.data.hex()}"
        if isinstance(self.value, tuple):
            return f"{self.name} {' '.join(str(v) for v in self.value)}"
        return f"{self.name} {self.value}"


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

    def _value(self, spec: OptionSpec | None, data: bytes) -> Any:
        if spec is None or spec.fmt is None or spec.fmt == "":
            return None
        if spec.fmt.startswith("*"):                 # repeated groups, e.g. SACK blocks (RFC 2018 §3)
            size = struct.calcsize("!" + spec.fmt[1:])
            if len(data) % size:
                return None
            return tuple(struct.unpack_from("!" + spec.fmt[1:], data, i) for i in range(0, len(data), size))
        if len(data) != struct.calcsize("!" + spec.fmt):
            return None
        value = struct.unpack("!" + spec.fmt, data)
        return value[0] if len(value) == 1 else value

    def option(self, kind: int, data: bytes = b"") -> Option:
        spec = self.by_kind.get(kind)
        name = spec.name if spec else self.unknown_name.format(kind=kind)
        return Option(kind, name, bytes(data), self._value(spec, data), spec.meaning if spec else "unknown kind",
                      spec.text if spec else "", kind in self.singles, self.header_bytes == 0, self.length_unit)

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

    def parse(self, data: bytes, offset: int) -> list[Option]:
        """Options from ``data`` (which starts at byte ``offset`` of the packet, for error messages)."""
        options: list[Option] = []
        i = 0
        while i < len(data):
            kind = data[i]
            if kind in self.singles:
                options.append(self.option(kind))
                i += 1
                if kind == self.end:                  # end of option list: the rest is padding
                    break
                continue
            if i + 1 >= len(data):
                raise DecodeError(self.layer, "options", offset + i, f"option kind {kind} has no length byte")
            length = data[i + 1] * self.length_unit + self.header_bytes
            if length < 2 or i + length > len(data):
                raise DecodeError(self.layer, "options", offset + i + 1,
                                  f"option kind {kind} length {length} does not fit in {len(data) - i} bytes")
            options.append(self.option(kind, data[i + 2:i + length]))
            i += length
        return options

    @staticmethod
    def pack(options: list[Option], align: int = 4) -> bytes:
        """The options area: options back to back, zero-padded (end of list / Pad1) to a multiple of ``align``."""
        raw = b"".join(o.pack() for o in options)
        return raw + b"\x00" * (-len(raw) % align)
