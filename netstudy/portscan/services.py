"""Service names and the ports most often found open (``--top-ports N``), read at run time.

The source is nmap's ``nmap-services`` (``/usr/share/nmap/nmap-services`` with the nmap package, or
``$NMAPDIR/nmap-services``): a name and an open frequency for each port, measured by the Nmap project
over large scans. It belongs to the Nmap Security Scanner and is under the Nmap Public Source License,
so netstudy reads it where it is installed and never ships a copy. Without it, the names come from the
system's ``/etc/services`` (``socket.getservbyport``) and ``--top-ports`` from netstudy's own short list
``netstudy/data/portscan/top-ports.txt`` (ports picked by hand for this course, IANA names; its header
says so), and :attr:`ServiceTable.source` says which one was used.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from netstudy.errors import InputError

NMAP_SERVICES = Path("/usr/share/nmap/nmap-services")
FALLBACK = "top-ports.txt"
LOOKUPS_BEFORE_PARSING = 100     # one search of the text each; beyond this, parsing it all is cheaper


class ServiceTable:
    """Service names (``name(port, protocol)``) and, per protocol, the ports most often open first
    (``top(count, protocol)``), from ``nmap-services`` text or netstudy's list. The text is read at once
    but parsed only as far as asked: a name is looked up where the port's line is, the whole table
    ranked only for ``top`` (a full scan's report names a handful of ports; parsing 27,000 lines would
    cost more than the scan of some targets)."""

    def __init__(self, text: str, source: str, nmap_format: bool = True) -> None:
        self.text, self.source, self.nmap_format = text, source, nmap_format
        self._names: dict[tuple[str, int], str] = {}
        self._ranked: dict[str, tuple[int, ...]] | None = None
        self._all = False
        self._lookups = 0

    def _parse(self) -> None:
        names: dict[tuple[str, int], str] = {}
        weights: dict[str, list[tuple[float, int]]] = {"tcp": [], "udp": []}
        pattern = _NMAP_LINE if self.nmap_format else _SERVICES_LINE
        for found in pattern.findall(self.text):
            name, number, protocol = found[:3]
            port = int(number)
            if (protocol, port) not in names:
                names[(protocol, port)] = name
                frequency = float(found[3] or 0) if self.nmap_format else -len(weights[protocol])
                weights[protocol].append((frequency, port))
        self._names, self._all = names, True
        self._ranked = {proto: tuple(port for _, port in sorted(pairs, key=lambda p: (-p[0], p[1])))
                        for proto, pairs in weights.items()}

    def name(self, port: int, protocol: str = "tcp") -> str:
        """The service usually on ``port`` (nmap's name), else the system's, else ``unknown`` (as nmap)."""
        key = (protocol, port)
        name = self._names.get(key)
        if name is None and not self._all:
            self._lookups += 1
            if self._lookups > LOOKUPS_BEFORE_PARSING:
                self._parse()
                name = self._names.get(key)
            else:                         # the port's line, found by its "\t22/tcp\t" (a fast substring search)
                needle = f"\t{port}/{protocol}\t" if self.nmap_format else f" {port}/{protocol}\n"
                at = self.text.find(needle)
                start = self.text.rfind("\n", 0, at) + 1
                name = self._names[key] = self.text[start:at] if at > 0 and self.text[start] != "#" else ""
        return name or system_names().get(key, "unknown")

    @property
    def ranked(self) -> dict[str, tuple[int, ...]]:
        if self._ranked is None:
            self._parse()
        assert self._ranked is not None
        return self._ranked

    def top(self, count: int, protocol: str = "tcp") -> tuple[int, ...]:
        """The ``count`` ports most often open for ``protocol``, most frequent first."""
        ranked = self.ranked.get(protocol, ())
        if count < 1:
            raise InputError(f"--top-ports must be at least 1, not {count}")
        if count > len(ranked):
            raise InputError(f"--top-ports {count}: {self.source} ranks only {len(ranked)} {protocol} ports")
        return ranked[:count]


_NMAP_LINE = re.compile(r"^([^#\s]\S*)\s+(\d+)/(tcp|udp)(?:\s+([\d.]+))?", re.MULTILINE)
_SERVICES_LINE = re.compile(r"^([^#\s]\S*)\s+(\d+)/(tcp|udp)", re.MULTILINE)


@functools.cache
def system_names(path: str = "/etc/services") -> dict[tuple[str, int], str]:
    """``{(protocol, port): name}`` from the system's services file (IANA's names), read once."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return {}
    names: dict[tuple[str, int], str] = {}
    for name, number, protocol in _SERVICES_LINE.findall(text):
        names.setdefault((protocol, int(number)), name)
    return names


def read_nmap_services(text: str, source: str) -> ServiceTable:
    """The table from ``nmap-services`` text: ``name port/proto frequency [# comment]`` a line."""
    return ServiceTable(text, source)


def read_fallback(text: str, source: str) -> ServiceTable:
    """The table from netstudy's own list: ``name port/proto`` a line, most common first."""
    return ServiceTable(text, source, nmap_format=False)


@functools.cache
def services(path: str | None = None) -> ServiceTable:
    """The service table: ``path`` if given, else nmap's installed ``nmap-services`` ($NMAPDIR first),
    else netstudy's fallback list. Read once and remembered."""
    if path:
        candidates = [Path(path)]
    else:
        candidates = [Path(os.environ["NMAPDIR"]) / "nmap-services"] if "NMAPDIR" in os.environ else []
        candidates.append(NMAP_SERVICES)
    for candidate in candidates:
        try:
            return read_nmap_services(candidate.read_text(errors="replace"), str(candidate))
        except OSError:
            if path:
                raise InputError(f"{path}: cannot read a services file") from None
    # imported here: needed only without nmap-services, and slow to import
    from importlib.resources import files
    text = (files("netstudy") / "data" / "portscan" / FALLBACK).read_text()
    return read_fallback(text, "netstudy's fallback list (nmap-services not installed)")
