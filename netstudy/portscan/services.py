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
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from netstudy.errors import InputError

NMAP_SERVICES = Path("/usr/share/nmap/nmap-services")
FALLBACK = "top-ports.txt"


@dataclass(frozen=True)
class ServiceTable:
    """``names[(protocol, port)]`` and, per protocol, the ports most often open first (``ranked``)."""

    names: dict[tuple[str, int], str]
    ranked: dict[str, tuple[int, ...]]
    source: str                          # the file read, or "netstudy's fallback list"

    def name(self, port: int, protocol: str = "tcp") -> str:
        """The service usually on ``port`` (nmap's name), else the system's, else ``unknown`` (as nmap)."""
        return self.names.get((protocol, port)) or system_names().get((protocol, port), "unknown")

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
    names: dict[tuple[str, int], str] = {}
    weights: dict[str, list[tuple[float, int]]] = {"tcp": [], "udp": []}
    for name, number, protocol, frequency in _NMAP_LINE.findall(text):
        port = int(number)
        names.setdefault((protocol, port), name)
        weights[protocol].append((float(frequency or 0), port))
    ranked = {proto: tuple(port for _, port in sorted(pairs, key=lambda p: (-p[0], p[1])))
              for proto, pairs in weights.items()}
    return ServiceTable(names, ranked, source)


def read_fallback(text: str, source: str) -> ServiceTable:
    """The table from netstudy's own list: ``name port/proto`` a line, most common first."""
    names: dict[tuple[str, int], str] = {}
    ranked: dict[str, list[int]] = {"tcp": [], "udp": []}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        number, _, protocol = fields[1].partition("/")
        if protocol in ranked and number.isdigit() and int(number) not in ranked[protocol]:
            names[(protocol, int(number))] = fields[0]
            ranked[protocol].append(int(number))
    return ServiceTable(names, {p: tuple(v) for p, v in ranked.items()}, source)


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
    text = (files("netstudy") / "data" / "portscan" / FALLBACK).read_text()
    return read_fallback(text, "netstudy's fallback list (nmap-services not installed)")
