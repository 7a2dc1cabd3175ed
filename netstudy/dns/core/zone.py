"""Zones read from RFC 1035 master files (§5): ``$ORIGIN``, ``$TTL`` (RFC 2308 §4), ``@``, relative
names, a blank owner meaning "the previous one", TTL and class in either order, parentheses across
lines, ``;`` comments, quoted strings, and RFC 3597's ``\\# LENGTH HEX`` for any type.

``Zone`` holds the records by owner name and type, and knows its apex SOA and its delegations (zone
cuts: names below the apex that own NS records). Pure: text in, a ``Zone`` out; reading a master file
from disk is ``netstudy.dns.engine.server.load_zone``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from netstudy.errors import InputError
from netstudy.wire.dns import SOA, Name, Record, class_code, parse_ttl, rdata_from_text, type_code, type_name

__all__ = ["Zone", "ZoneError", "parse_zone"]

_TTL_RE = re.compile(r"^(\d+|(\d+[wdhmsWDHMS])+)$")
_CLASSES = {"IN", "CH", "HS"}
CNAME = type_code("CNAME")
BESIDE_CNAME = {46, 47}         # RRSIG, NSEC: the only types a CNAME may share a name with
                                # (RFC 2181 §10.1, RFC 4035 §2.5)


def _check_cname(types: dict[int, int], rtype: int) -> None:
    """RFC 1034 §3.6.2: a name with a CNAME has no other data. ``types``: what the name has, with the
    line each first came on."""
    others = {t: line for t, line in types.items() if t not in BESIDE_CNAME}
    if rtype == CNAME and any(t != CNAME for t in others):
        t, line = next((t, line) for t, line in others.items() if t != CNAME)
    elif rtype not in BESIDE_CNAME and rtype != CNAME and CNAME in types:
        t, line = CNAME, types[CNAME]
    else:
        return
    raise InputError(f"a CNAME cannot share its name with other data (RFC 1034 §3.6.2): "
                     f"{type_name(t)} at line {line}")
NS_TYPE = type_code("NS")


class ZoneError(InputError):
    """A master file that does not parse: says the file, the line and what is wrong."""


@dataclass
class Zone:
    """The records of one zone, by owner name then type, with its SOA at the apex."""

    origin: Name
    nodes: dict[Name, dict[int, list[Record]]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        if not record.name.is_subdomain(self.origin):
            raise InputError(f"{record.name} is outside the zone {self.origin}")
        rrset = self.nodes.setdefault(record.name, {}).setdefault(record.type, [])
        if record not in rrset:
            rrset.append(record)

    @property
    def soa(self) -> Record:
        rrset = self.nodes.get(self.origin, {}).get(SOA.TYPE)
        if not rrset:
            raise ZoneError(f"zone {self.origin} has no SOA record at its apex")
        return rrset[0]

    def records(self) -> list[Record]:
        """Every record, in the order they were added."""
        return [rr for node in self.nodes.values() for rrset in node.values() for rr in rrset]

    def get(self, name: Name | str, rtype: int) -> list[Record]:
        return list(self.nodes.get(Name(name), {}).get(rtype, ()))

    def cut(self, name: Name) -> Name | None:
        """The delegation point at or above ``name`` (below the apex) if the name lies in a child zone."""
        labels = name.labels
        for i in range(len(labels) - len(self.origin.labels) - 1, -1, -1):
            candidate = Name._trusted(labels[i:])
            node = self.nodes.get(candidate)
            if node is not None and NS_TYPE in node:
                return candidate
        return None

    def has_descendants(self, name: Name) -> bool:
        """True for an empty non-terminal: no records of its own, but names below it (RFC 8020 §2)."""
        n = len(name.key)
        return any(len(other.key) > n and other.key[-n:] == name.key for other in self.nodes)

    def __len__(self) -> int:
        return sum(len(rrset) for node in self.nodes.values() for rrset in node.values())


def _tokens(text: str, source: str):
    """Logical lines of a master file: (line number, starts with blank, tokens) with parentheses joined."""
    tokens: list[str] = []
    depth = 0
    start_line, line = 1, 1
    leading_blank = False
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and depth == 0:
            leading_blank = c in " \t"
            start_line = line
            at_line_start = False
        if c == "\n":
            line += 1
            if depth == 0:
                if tokens:
                    yield start_line, leading_blank, tokens
                tokens = []
                at_line_start = True
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == ";":
            while i < n and text[i] != "\n":
                i += 1
        elif c == "(":
            depth += 1
            i += 1
        elif c == ")":
            if depth == 0:
                raise ZoneError(f"{source}:{line}: ')' without '('")
            depth -= 1
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    raise ZoneError(f"{source}:{line}: string not closed before the end of the line")
                j += 1
            if j >= n:
                raise ZoneError(f"{source}:{line}: string not closed")
            tokens.append(text[i + 1:j])
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in ' \t\r\n;()"':
                j += 2 if text[j] == "\\" else 1
            tokens.append(text[i:j])
            i = j
    if depth:
        raise ZoneError(f"{source}:{start_line}: '(' never closed")
    if tokens:
        yield start_line, leading_blank, tokens


def parse_zone(text: str, origin: Name | str | None = None, source: str = "<zone>") -> Zone:
    """Parse master-file text into a :class:`Zone`; the zone's origin is ``origin`` or the first $ORIGIN."""
    current = Name(origin) if origin is not None else None
    default_ttl: int | None = None
    last_ttl: int | None = None
    owner: Name | None = None
    zone: Zone | None = Zone(current) if current is not None else None
    types: dict[Name, dict[int, int]] = {}      # owner -> its types, with the line each first came on
    for lineno, blank, toks in _tokens(text, source):
        where = f"{source}:{lineno}"
        try:
            if toks[0].startswith("$"):
                directive = toks[0].upper()
                if directive == "$ORIGIN" and len(toks) == 2:
                    current = Name.from_text(toks[1], current)
                    if zone is None:
                        zone = Zone(current)
                elif directive == "$TTL" and len(toks) == 2:
                    default_ttl = parse_ttl(toks[1])
                elif directive in ("$ORIGIN", "$TTL"):
                    raise InputError(f"{directive} takes one argument")
                else:
                    raise InputError(f"{toks[0]} is not supported here ($ORIGIN and $TTL are)")
                continue
            if zone is None or current is None:
                raise InputError("a record before any $ORIGIN, and no origin given")
            rest = toks
            if not blank:
                owner = Name.from_text(rest[0], current)
                rest = rest[1:]
            elif owner is None:
                raise InputError("the first record has no owner name")
            ttl, rclass = None, 1
            for _ in range(2):
                if rest and _TTL_RE.match(rest[0]) and ttl is None:
                    ttl = parse_ttl(rest[0])
                    rest = rest[1:]
                elif rest and (rest[0].upper() in _CLASSES or rest[0].upper().startswith("CLASS")):
                    rclass = class_code(rest[0])
                    rest = rest[1:]
            if not rest:
                raise InputError("no record type")
            rtype = type_code(rest[0])
            rdata = rdata_from_text(rtype, rest[1:], current)
            if ttl is None:
                ttl = default_ttl if default_ttl is not None else last_ttl
            if ttl is None and rtype == SOA.TYPE:
                ttl = rdata.minimum  # type: ignore[attr-defined]
            if ttl is None:
                raise InputError("no TTL: give one on the record or a $TTL line first (RFC 2308 §4)")
            last_ttl = ttl
            seen = types.setdefault(owner, {})
            _check_cname(seen, rtype)
            seen.setdefault(rtype, lineno)
            zone.add(Record(owner, rdata, ttl, rclass))
        except ZoneError:
            raise
        except ValueError as exc:
            raise ZoneError(f"{where}: {exc}") from None
    if zone is None:
        raise ZoneError(f"{source}: no records")
    zone.soa  # noqa: B018 - raises ZoneError without an SOA at the apex
    return zone
