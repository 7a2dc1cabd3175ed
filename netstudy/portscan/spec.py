"""What a port scan is asked to scan, as nmap writes it (sans-I/O): port specs (:func:`parse_ports`:
``22,80,443``, ``1-1024``, ``-``, ``U:53,T:80``) and targets (:func:`expand_targets`: addresses, CIDRs,
lists, names left for the engine to resolve)."""
from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netstudy.errors import InputError

MAX_ADDRESSES = 65536            # a /16, as the network scanner: more is a typo


# -- port specifications -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortSpec:
    """The TCP and UDP ports a spec names, each list in the spec's order without repeats."""

    tcp: tuple[int, ...]
    udp: tuple[int, ...]

    def for_protocol(self, protocol: str) -> tuple[int, ...]:
        return self.tcp if protocol == "tcp" else self.udp

    def __len__(self) -> int:
        return len(self.tcp) + len(self.udp)


def _port(text: str, spec: str) -> int:
    if not text.isdigit():
        raise InputError(f"bad port spec {spec!r}: {text!r} is not a port number (nmap's forms: 22,80,443 "
                         f"1-1024 - U:53,T:80)")
    port = int(text)
    if not 1 <= port <= 65535:
        raise InputError(f"bad port spec {spec!r}: port {port} is out of range 1-65535")
    return port


def parse_ports(spec: str) -> PortSpec:
    """The ports of an nmap port spec: ``22,80,443``; ranges ``1-1024``, ``-1024`` (from 1), ``60000-``
    (to 65535), ``-`` (all 65,535); ``T:`` and ``U:`` prefixes, each holding until the next
    (``U:53,123,T:22,80``). Ports without a prefix are both TCP and UDP (each scan takes its own).
    :class:`InputError` for anything else."""
    text = spec.strip().replace(" ", "")
    if not text:
        raise InputError("empty port spec: give ports like 22,80,443 or 1-1024 or - (all)")
    tcp: list[Sequence[int]] = []                 # the ranges and single ports named, in order
    udp: list[Sequence[int]] = []
    targets: tuple[list[Sequence[int]], ...] = (tcp, udp)
    for item in text.split(","):
        if not item:
            raise InputError(f"bad port spec {spec!r}: an empty item between commas")
        prefix, colon, rest = item.partition(":")
        if colon:
            if prefix.upper() not in ("T", "U"):
                raise InputError(f"bad port spec {spec!r}: {prefix}: is not a protocol (T: or U:)")
            targets = (tcp,) if prefix.upper() == "T" else (udp,)
            item = rest
            if not item:
                raise InputError(f"bad port spec {spec!r}: no port after {prefix}:")
        if "-" in item:
            low, _, high = item.partition("-")
            first = _port(low, spec) if low else 1
            last = _port(high, spec) if high else 65535
            if first > last:
                raise InputError(f"bad port spec {spec!r}: range {item} runs backwards")
            ports: Sequence[int] = range(first, last + 1)
        else:
            ports = (_port(item, spec),)
        for target in targets:
            target.append(ports)
    return PortSpec(_once_each(tcp), _once_each(udp))


def _once_each(parts: list[Sequence[int]]) -> tuple[int, ...]:
    """The ports of ``parts`` in order, each once (a set checks first: ``-`` is 65,535 of them)."""
    ports = tuple(itertools.chain.from_iterable(parts))
    return ports if len(parts) < 2 or len(set(ports)) == len(ports) else tuple(dict.fromkeys(ports))


def expand_targets(targets: str | Iterable[str]) -> list[str]:
    """The targets of a scan, in order, each once: addresses and CIDRs expanded (a CIDR's hosts without
    network and broadcast address, as nmap; at most a /16 in all), host names kept as given for the
    engine to resolve. Items are separated by commas or spaces, or given as a list."""
    items = [targets] if isinstance(targets, str) else list(targets)
    words = [w for item in items for w in item.replace(",", " ").split()]
    if not words:
        raise InputError("no target: give a host, an address, a list or a CIDR (10.0.0.0/24)")
    seen: dict[str, None] = {}
    for word in words:
        try:
            network = ipaddress.ip_network(word, strict=False)
        except ValueError:
            if "/" in word:
                raise InputError(f"{word!r} is not a network (like 10.0.0.0/24)") from None
            seen[word] = None                     # a name: the engine resolves it
            continue
        if network.version != 4:
            raise InputError(f"{word}: IPv6 is not supported by this scanner yet; give IPv4 targets")
        if network.num_addresses > MAX_ADDRESSES:
            raise InputError(f"{word} holds {network.num_addresses} addresses; a scan takes at most a /16 "
                             f"({MAX_ADDRESSES})")
        for address in (network.hosts() if network.prefixlen < 31 else iter(network)):
            seen[str(address)] = None
        if len(seen) > MAX_ADDRESSES:
            raise InputError(f"{len(seen)} targets; a scan takes at most {MAX_ADDRESSES} (a /16)")
    return list(seen)
