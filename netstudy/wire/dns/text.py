"""DNS text as dig prints it and zone files write it (RFC 1035 §5.1, RFC 4343 §2.1): labels and
character-strings escaped and unescaped, numbers and TTLs read from tokens, dig's columns.

A token that does not read raises :class:`InputError` naming it.
"""
from __future__ import annotations

from collections.abc import Sequence

from netstudy.errors import InputError

# the bytes that a label shows after a backslash
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
                    raise InputError(f"{what} {text!r}: escape \\{digits} is not a byte (0..255)")
                cur.append(int(digits))
                i += 4
                continue
            if i + 1 >= n:
                raise InputError(f"{what} {text!r} ends with a lone backslash")
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


def _show_labels(labels: Sequence[bytes]) -> str:
    return ".".join(map(_escape_label, labels)) + "." if labels else "."


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


def _int(token: str, bits: int, what: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise InputError(f"{what} {token!r} is not a number") from None
    if not 0 <= value < (1 << bits):
        raise InputError(f"{what} {value} is not in 0..{(1 << bits) - 1}")
    return value


def _need(tokens: Sequence[str], n: int, what: str) -> None:
    if len(tokens) != n:
        raise InputError(f"{what} needs {n} field{'s' if n > 1 else ''}, got {len(tokens)}: {' '.join(tokens)!r}")


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
                raise InputError(f"TTL {text!r} is not seconds or a duration like 1h30m")
        if number:
            raise InputError(f"TTL {text!r} ends without a unit")
    if value >= 1 << 31:
        raise InputError(f"TTL {text!r} exceeds 2147483647 seconds (RFC 2181 §8)")
    return value


def _columns(parts: list[str], stops: tuple[int, ...]) -> str:
    """Join the way dig lines up columns, as BIND's ``indent()`` (lib/dns/masterdump.c) does: each part
    is followed by tabs (8 wide) to the next stop and spaces for the rest, and a part that reaches the
    stop is followed by one space (or the tab it then crosses). Columns count from the first part."""
    out, column = [], 0
    for part, stop in zip(parts[:-1], stops, strict=True):
        out.append(part)
        column += len(part)
        to = max(stop, column + 1)
        tabs = to // 8 - column // 8
        if tabs > 0:
            out.append("\t" * tabs)
            column = to // 8 * 8
        out.append(" " * (to - column))
        column = to
    out.append(parts[-1])
    return "".join(out)

