"""Who made a network card, from the first three bytes of its MAC address (the OUI, IEEE 802 §8).

The IEEE Registration Authority assigns each manufacturer an Organizationally Unique Identifier and
publishes the list (https://standards-oui.ieee.org/oui/oui.txt). :func:`vendor_table` reads, in this
order, the first that is installed: nmap's ``nmap-mac-prefixes`` (made from that list), Debian's
``ieee-data`` package (the list itself), else the small excerpt of it shipped with netstudy
(``netstudy/data/sweep/oui.txt``, a dozen well-known OUIs). Two bits of the first byte come before any
lookup: 0x01 marks a group (multicast) address, 0x02 a *locally administered* one, which no
manufacturer owns (virtual machines, containers, and this project's lab: ``02:00:0a:00:00:0a``).
"""
from __future__ import annotations

import functools
import re
from importlib.resources import files
from pathlib import Path

SOURCES = (Path("/usr/share/nmap/nmap-mac-prefixes"), Path("/usr/share/ieee-data/oui.txt"))
_IEEE_LINE = re.compile(r"^([0-9A-Fa-f]{2})-([0-9A-Fa-f]{2})-([0-9A-Fa-f]{2})\s+\(hex\)\s+(.+)$")
_PREFIX_LINE = re.compile(r"^([0-9A-Fa-f]{6})\s+(.+)$")


def read_table(text: str) -> dict[str, str]:
    """``{"00000C": "Cisco Systems, Inc", ...}`` from either format: nmap's (``00000C Cisco Systems``)
    or the IEEE's (``00-00-0C   (hex)\t\tCisco Systems, Inc``). Comments and other lines are skipped."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        ieee = _IEEE_LINE.match(line)
        if ieee:
            table["".join(ieee.groups()[:3]).upper()] = ieee.group(4).strip()
            continue
        plain = _PREFIX_LINE.match(line)
        if plain:
            table[plain.group(1).upper()] = plain.group(2).strip()
    return table


@functools.cache
def vendor_table() -> tuple[dict[str, str], str]:
    """(OUI -> organisation, where it was read from): the first installed source, else the excerpt."""
    for path in SOURCES:
        try:
            table = read_table(path.read_text(errors="replace"))
        except OSError:
            continue
        if table:
            return table, str(path)
    shipped = files("netstudy") / "data" / "sweep" / "oui.txt"
    return read_table(shipped.read_text()), "netstudy/data/sweep/oui.txt (an IEEE excerpt)"


def vendor(mac: str, table: dict[str, str] | None = None) -> str:
    """The organisation that owns ``mac``'s OUI, ``"locally administered"``, ``"multicast"``, or
    ``"unknown"`` (not in the table used)."""
    digits = mac.replace(":", "").replace("-", "").upper()
    if len(digits) < 6:
        return "unknown"
    first = int(digits[:2], 16)
    if first & 0x01:
        return "multicast"
    if first & 0x02:
        return "locally administered"
    return (vendor_table()[0] if table is None else table).get(digits[:6], "unknown")
