"""A lab described as data: switches (subnets), hosts and routers, firewall rules and services.

Nothing here touches the system: a :class:`Topology` is a frozen value that knows its addresses,
its routes and the traceroute path between two hosts, so it can be checked, drawn and printed
before (or without) building it.

Addressing, the same in every lab (labs live in separate namespaces, so equal addresses never meet):

- IPv4 comes from the description (``Nic(switch, ip)``, prefix length from the switch's subnet).
- IPv6 is a ULA (RFC 4193) ``fd00:6e73::/48`` ("ns" in hex): the switch ``10.0.K.0/24`` gets
  ``fd00:6e73:0:K::/64`` and the host number is written again in hex digits, so ``10.0.1.10`` is
  also ``fd00:6e73:0:1::10``.
- The MAC of an interface is ``02:00`` + its IPv4 address (a locally administered address, IEEE 802
  clause 8.2), so ``10.0.0.10`` is ``02:00:0a:00:00:0a`` and its link-local address is the EUI-64
  ``fe80::aff:fe00:a`` (RFC 4291 appendix A).
"""
from __future__ import annotations

import ipaddress
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netstudy.lab.system import LabError

ULA_PREFIX = ipaddress.IPv6Network("fd00:6e73::/48")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")   # a Linux interface name has at most 15 characters
PROTOCOLS = ("tcp", "udp")
ACTIONS = {
    "drop": "drop",                                       # silence: the prober times out (filtered)
    "reject": {"tcp": "reject with tcp reset",            # RST, as a closed port answers (RFC 9293 3.10.7.1)
               "udp": "reject with icmpx type port-unreachable",
               "icmp": "reject with icmpx type host-unreachable"},
    "prohibit": "reject with icmpx type admin-prohibited",  # ICMP type 3 code 13 (RFC 1812 5.2.7.1)
}


# names a switch's namespace already has: its loopback and its bridge (a host's port there bears its name)
RESERVED_NAMES = ("lo", "br0")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise LabError(f"{kind} name {name!r} must be 1-15 characters of a-z, 0-9 and '-', "
                         "starting with a letter (it becomes a Linux interface name)")
    if name in RESERVED_NAMES:
        raise LabError(f"{kind} name {name!r} is taken by the switch's own {'loopback' if name == 'lo' else 'bridge'} "
                       f"interface: choose another (reserved: {', '.join(RESERVED_NAMES)})")


def _hex_digits(number: int) -> int:
    """10 -> 0x10: a decimal number re-read as hex digits, so IPv6 addresses echo the IPv4 ones."""
    return int(str(number), 16)


@dataclass(frozen=True)
class Switch:
    """A LAN segment: a Linux bridge in its own namespace. ``subnet6`` defaults from ``subnet``."""

    name: str
    subnet: str
    subnet6: str = ""

    def __post_init__(self) -> None:
        _check_name("switch", self.name)
        try:
            net = ipaddress.IPv4Network(self.subnet)
        except ValueError as exc:
            raise LabError(f"switch {self.name}: subnet {self.subnet!r}: {exc}") from None
        if net.prefixlen > 30:
            raise LabError(f"switch {self.name}: subnet {self.subnet} has no room for hosts")
        if self.subnet6:
            six = ipaddress.IPv6Network(self.subnet6)
        else:
            subnet_digits = _hex_digits((int(net.network_address) >> 8) & 0xFF)
            six = ipaddress.IPv6Network((int(ULA_PREFIX.network_address) | subnet_digits << 64, 64))
        if six.prefixlen != 64:
            raise LabError(f"switch {self.name}: subnet6 {self.subnet6} must be a /64 (RFC 4291 2.5.1)")
        object.__setattr__(self, "subnet", str(net))
        object.__setattr__(self, "subnet6", str(six))

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def network6(self) -> ipaddress.IPv6Network:
        return ipaddress.IPv6Network(self.subnet6)

    def ipv6_for(self, ipv4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
        """The ULA that mirrors an IPv4 address of this subnet (10.0.1.10 -> fd00:6e73:0:1::10)."""
        host_number = int(ipv4) - int(self.network.network_address)
        return self.network6.network_address + _hex_digits(host_number)


@dataclass(frozen=True)
class Nic:
    """One interface of a host or router, plugged into ``switch`` with IPv4 address ``ip``.

    ``delay_ms``/``loss_pct`` ask for netem on this interface's egress; kernels without
    ``sch_netem`` (such as this project's CI machine) make the build fail with a LabError saying so.
    """

    switch: str
    ip: str
    delay_ms: float = 0.0
    loss_pct: float = 0.0

    def __post_init__(self) -> None:
        if self.ip is None:
            raise LabError(f"a nic on switch {self.switch} has no ip: give it an IPv4 address")
        try:
            object.__setattr__(self, "ip", str(ipaddress.IPv4Address(self.ip)))
        except ValueError as exc:
            raise LabError(f"nic on switch {self.switch}: ip {self.ip!r} is not an IPv4 address ({exc})") from None
        if self.delay_ms < 0 or not 0 <= self.loss_pct <= 100:
            raise LabError(f"nic {self.ip}: delay_ms must be >= 0 and loss_pct within 0..100")


@dataclass(frozen=True)
class Rule:
    """A firewall rule on a host's input: ``action`` is drop, reject or prohibit; ``proto`` is tcp,
    udp (with ``port``) or icmp (echo requests, IPv4 and IPv6; no port)."""

    action: str
    proto: str
    port: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise LabError(f"firewall action {self.action!r} is not one of {', '.join(ACTIONS)}")
        if self.proto == "icmp":
            if self.port is not None:
                raise LabError("an icmp rule takes no port (it matches echo requests)")
        elif self.proto not in PROTOCOLS or self.port is None or not 0 < self.port < 65536:
            raise LabError(f"firewall rule {self.proto}/{self.port}: proto must be tcp, udp or icmp, "
                             "and tcp/udp need a port in 1..65535")

    def nft(self) -> str:
        """This rule as one line of an nft ``inet`` chain (nft(8), "REJECT STATEMENT")."""
        verdict = ACTIONS[self.action]
        if isinstance(verdict, dict):
            verdict = verdict[self.proto]
        if self.proto == "icmp":
            return f"icmp type echo-request {verdict}\n    icmpv6 type echo-request {verdict}"
        return f"{self.proto} dport {self.port} {verdict}"


@dataclass(frozen=True)
class Service:
    """A listener the lab starts on every address of a host: TCP accepts, sends ``banner`` and echoes;
    UDP echoes each datagram back (so a UDP scan sees the port answer)."""

    proto: str
    port: int
    banner: bytes = b""

    def __post_init__(self) -> None:
        if self.proto not in PROTOCOLS or not 0 < self.port < 65536:
            raise LabError(f"service {self.proto}/{self.port}: proto must be tcp or udp, port 1..65535")
        if isinstance(self.banner, str):
            object.__setattr__(self, "banner", self.banner.encode())


@dataclass(frozen=True)
class Host:
    """A network namespace with one interface per switch it is plugged into (``eth0``, ``eth1``, ...).

    ``router=True`` turns on IPv4/IPv6 forwarding (RFC 1812) between its interfaces.
    """

    name: str
    nics: tuple[Nic, ...]
    router: bool = False
    firewall: tuple[Rule, ...] = ()
    services: tuple[Service, ...] = ()

    def __post_init__(self) -> None:
        _check_name("host", self.name)
        object.__setattr__(self, "nics", tuple(self.nics))
        object.__setattr__(self, "firewall", tuple(self.firewall))
        object.__setattr__(self, "services", tuple(self.services))
        if not self.nics:
            raise LabError(f"host {self.name} has no interface: give it a Nic(switch, ip)")

    def port_state(self, proto: str, port: int) -> str:
        """What a probe of ``proto``/``port`` meets: ``open`` (a service), ``drop``, ``reject``,
        ``prohibit`` (a firewall rule; rules are checked before sockets) or ``closed``."""
        for rule in self.firewall:
            if rule.proto == proto and rule.port == port:
                return rule.action
        if any(s.proto == proto and s.port == port for s in self.services):
            return "open"
        return "closed"

    @property
    def answers_ping(self) -> bool:
        return not any(rule.proto == "icmp" for rule in self.firewall)


@dataclass(frozen=True)
class Interface:
    """An interface as built: its name inside the host's namespace, MAC and addresses."""

    host: str
    name: str
    switch: str
    mac: str
    ipv4: ipaddress.IPv4Interface
    ipv6: ipaddress.IPv6Interface
    link_local: ipaddress.IPv6Interface


@dataclass(frozen=True)
class Addresses:
    """A host's addresses: the first interface's as plain strings, and every interface."""

    ipv4: str
    ipv6: str
    link_local: str          # with its zone, e.g. fe80::aff:fe00:a%eth0
    mac: str
    interfaces: tuple[Interface, ...]


@dataclass(frozen=True)
class Route:
    destination: str         # a prefix, or "default" / "::/0"
    gateway: str = ""        # empty: on-link through ``device``
    device: str = ""

    def ip_args(self) -> str:
        """The words after ``ip route add``."""
        return f"{self.destination} via {self.gateway}" if self.gateway else f"{self.destination} dev {self.device}"


def mac_for(ipv4: ipaddress.IPv4Address) -> str:
    return "02:00:" + ":".join(f"{b:02x}" for b in ipv4.packed)


def link_local_for(mac: str) -> ipaddress.IPv6Address:
    """The modified EUI-64 link-local address of a MAC (RFC 4291 2.5.1 and appendix A)."""
    octets = bytes.fromhex(mac.replace(":", ""))
    eui64 = bytes([octets[0] ^ 0x02]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui64)


@dataclass(frozen=True)
class Topology:
    """Switches and hosts (routers are hosts with ``router=True``); ``absent`` lists addresses left
    deliberately empty (a sweep must not find them); ``vantage`` is where experiments start."""

    name: str
    switches: tuple[Switch, ...]
    hosts: tuple[Host, ...]
    absent: tuple[str, ...] = ()
    vantage: str = "scanner"
    _by_name: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "switches", tuple(self.switches))
        object.__setattr__(self, "hosts", tuple(self.hosts))
        object.__setattr__(self, "absent", tuple(str(ipaddress.ip_address(a)) for a in self.absent))
        by_name: dict[str, Any] = {}
        nodes: list[Switch | Host] = [*self.switches, *self.hosts]
        for node in nodes:
            if node.name in by_name:
                raise LabError(f"topology {self.name}: the name {node.name!r} is used twice")
            by_name[node.name] = node
        object.__setattr__(self, "_by_name", by_name)
        prefixes: dict[str, str] = {}
        for sw in self.switches:
            if sw.subnet6 in prefixes:
                raise LabError(f"switches {prefixes[sw.subnet6]} and {sw.name} would share the IPv6 "
                                 f"prefix {sw.subnet6}: give one of them an explicit subnet6")
            prefixes[sw.subnet6] = sw.name
        used: dict[str, str] = {}
        for host in self.hosts:
            switches_seen = set()
            for nic in host.nics:
                sw = self.switch(nic.switch)
                addr = ipaddress.IPv4Address(nic.ip)
                if addr not in sw.network or addr in (sw.network.network_address, sw.network.broadcast_address):
                    raise LabError(f"host {host.name}: {nic.ip} is not a host address of {sw.name} ({sw.subnet})")
                if nic.switch in switches_seen:
                    raise LabError(f"host {host.name} is plugged into {nic.switch} twice")
                if nic.ip in used or nic.ip in self.absent:
                    raise LabError(f"host {host.name}: {nic.ip} is already "
                                     f"{'taken by ' + used[nic.ip] if nic.ip in used else 'listed as absent'}")
                switches_seen.add(nic.switch)
                used[nic.ip] = host.name
        if self.vantage not in by_name or not isinstance(by_name[self.vantage], Host):
            raise LabError(f"topology {self.name}: the vantage host {self.vantage!r} is not one of its hosts")

    # -- lookups ---------------------------------------------------------------------------------
    def switch(self, name: str) -> Switch:
        node = self._by_name.get(name)
        if not isinstance(node, Switch):
            raise LabError(f"topology {self.name} has no switch {name!r} "
                             f"(switches: {', '.join(s.name for s in self.switches)})")
        return node

    def host(self, name: str) -> Host:
        node = self._by_name.get(name)
        if not isinstance(node, Host):
            raise LabError(f"topology {self.name} has no host {name!r} "
                             f"(hosts: {', '.join(h.name for h in self.hosts)})")
        return node

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every namespace the lab creates: switches first, then hosts and routers."""
        return tuple(self._by_name)

    @property
    def routers(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.router)

    def interfaces(self, host: str) -> tuple[Interface, ...]:
        result = []
        for index, nic in enumerate(self.host(host).nics):
            sw = self.switch(nic.switch)
            v4 = ipaddress.IPv4Address(nic.ip)
            mac = mac_for(v4)
            result.append(Interface(host, f"eth{index}", sw.name, mac,
                                    ipaddress.IPv4Interface((v4, sw.network.prefixlen)),
                                    ipaddress.IPv6Interface((sw.ipv6_for(v4), 64)),
                                    ipaddress.IPv6Interface((link_local_for(mac), 64))))
        return tuple(result)

    def addresses(self, host: str) -> Addresses:
        ifaces = self.interfaces(host)
        first = ifaces[0]
        return Addresses(str(first.ipv4.ip), str(first.ipv6.ip), f"{first.link_local.ip}%{first.name}",
                         first.mac, ifaces)

    def members(self, switch: str) -> list[tuple[Host, Nic]]:
        """The hosts and routers plugged into ``switch``, in description order."""
        return [(h, nic) for h in self.hosts for nic in h.nics if nic.switch == switch]

    # -- routing ---------------------------------------------------------------------------------
    def _first_hops(self, host: str) -> dict[str, tuple[Host, Nic]]:
        """For every switch not attached to ``host``: the router (and its nic on an attached switch)
        that a shortest path leaves through (breadth-first search over switches joined by routers)."""
        me = self.host(host)
        attached = [nic.switch for nic in me.nics]
        first: dict[str, tuple[Host, Nic]] = {}
        queue: deque[tuple[str, tuple[Host, Nic] | None]] = deque((s, None) for s in attached)
        seen = set(attached)
        while queue:
            switch, hop = queue.popleft()
            for router, nic in self.members(switch):
                if not router.router or router.name == me.name:
                    continue
                for other in router.nics:
                    if other.switch not in seen:
                        seen.add(other.switch)
                        first[other.switch] = hop or (router, nic)
                        queue.append((other.switch, first[other.switch]))
        return first

    def routes(self, host: str) -> list[Route]:
        """Static routes for ``host``: one per remote subnet (IPv4 and IPv6); for a plain host also a
        default route through the first router on its first switch, as DHCP would give it, and
        224.0.0.0/4 on ``eth0`` so multicast works without naming an interface (RFC 1112 6.1)."""
        routes = []
        for switch, (_router, nic) in self._first_hops(host).items():
            sw, via = self.switch(switch), self.switch(nic.switch)
            gateway = ipaddress.IPv4Address(nic.ip)
            routes += [Route(sw.subnet, str(gateway)), Route(sw.subnet6, str(via.ipv6_for(gateway)))]
        me = self.host(host)
        if not me.router:
            routes.append(Route("224.0.0.0/4", device="eth0"))
            home = self.switch(me.nics[0].switch)
            gateways = [nic for h, nic in self.members(home.name) if h.router]
            if gateways:
                gateway = ipaddress.IPv4Address(gateways[0].ip)
                routes += [Route("default", str(gateway)), Route("::/0", str(home.ipv6_for(gateway)))]
        return routes

    def hops(self, src: str, dst: str, version: int = 4) -> list[str]:
        """The addresses a traceroute from ``src`` to ``dst`` should print: each router's address on
        the subnet the probe arrives from (routers set icmp_errors_use_inbound_ifaddr), then ``dst``."""
        target = self.host(dst).nics
        path: list[str] = []
        current = self.host(src)
        for _ in range(len(self.hosts) + 1):
            if {n.switch for n in current.nics} & {n.switch for n in target}:
                shared = next(n for n in target if n.switch in {c.switch for c in current.nics})
                return path + [self._address(shared, version)]
            first = self._first_hops(current.name)
            toward = next((first[n.switch] for n in target if n.switch in first), None)
            if toward is None:
                raise LabError(f"topology {self.name}: no route from {src} to {dst}")
            current, nic = toward
            path.append(self._address(nic, version))
        raise LabError(f"topology {self.name}: routing loop between {src} and {dst}")

    def _address(self, nic: Nic, version: int) -> str:
        v4 = ipaddress.IPv4Address(nic.ip)
        return str(v4) if version == 4 else str(self.switch(nic.switch).ipv6_for(v4))

    # -- conversions -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, str, int) that :meth:`from_dict` reads back; banners become text."""
        data = asdict(self)
        data.pop("_by_name")
        for host in data["hosts"]:
            for service in host["services"]:
                service["banner"] = service["banner"].decode("latin-1")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Topology:
        """Read the dict (or TOML) form. A host with one interface may say ``switch``/``ip`` instead
        of ``nics``; ``routers`` is a list of hosts that forward."""
        def host(item: dict[str, Any], router: bool) -> Host:
            item = dict(item)
            unknown = set(item) - {"name", "nics", "switch", "ip", "router", "firewall", "services"}
            if unknown:
                raise LabError(f"host {item.get('name')}: unknown keys {sorted(unknown)}")
            name = item.get("name")
            if "name" not in item:
                raise LabError(f"a {'router' if router else 'host'} without a name: give every entry name = \"...\"")
            nics = item.pop("nics", None) or [{"switch": item.pop("switch", None), "ip": item.pop("ip", None)}]
            item.pop("switch", None), item.pop("ip", None)
            for nic in nics:
                missing = [key for key in ("switch", "ip") if nic.get(key) is None]
                if missing:
                    raise LabError(f"host {name}: no {' and no '.join(missing)} (give it switch and ip, "
                                   "or nics = [{switch, ip}, ...])")
            try:
                return Host(item.pop("name"), tuple(Nic(**n) for n in nics),
                            router=item.pop("router", router),
                            firewall=tuple(Rule(**r) for r in item.pop("firewall", ())),
                            services=tuple(Service(**s) for s in item.pop("services", ())))
            except LabError as exc:
                raise LabError(f"host {name}: {exc}" if not str(exc).startswith(f"host {name}") else str(exc)) from None
        try:
            return cls(name=data.get("name", "custom"),
                       switches=tuple(Switch(**s) for s in data.get("switches", ())),
                       hosts=tuple(host(h, False) for h in data.get("hosts", ()))
                       + tuple(host(r, True) for r in data.get("routers", ())),
                       absent=tuple(data.get("absent", ())),
                       vantage=data.get("vantage", "scanner"))
        except TypeError as exc:          # a missing or misspelt key in one of the entries
            raise LabError(f"topology {data.get('name', 'custom')}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Topology:
        """Read a TOML topology file (``[[switches]]``, ``[[hosts]]``, ``[[routers]]`` tables)."""
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            try:   # the backport, if installed (mypy checks as 3.10 and tomli is not installed here)
                import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
            except ModuleNotFoundError:
                raise LabError(f"{path}: TOML topology files need Python >= 3.11 (tomllib) or the "
                                 "tomli package; the built-in topologies lan, routed and firewalled "
                                 "work by name on any Python") from None
        text = Path(path).read_text()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LabError(f"{path}: {exc}") from None
        data.setdefault("name", Path(path).stem)
        return cls.from_dict(data)

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)


# -- ready-made topologies ---------------------------------------------------------------------------
MAX_LAN_HOSTS = 180         # lan: .10 upwards with every fourth address left empty stays inside the /24
MIN_SUBNETS, MAX_SUBNETS = 2, 8


def lan(hosts: int = 5, *, silent: int = 0) -> Topology:
    """One switch ``sw0`` on 10.0.0.0/24: ``scanner`` at .2 and ``h1``..``hN`` from .10 upwards, every
    fourth address left empty (.12, .16, ...: listed in ``absent``). The last ``silent`` hosts drop
    ICMP echo requests (they still answer ARP: the network-scanner lesson)."""
    if not 1 <= hosts <= MAX_LAN_HOSTS or not 0 <= silent <= hosts:
        raise LabError(f"lan: hosts must be 1..{MAX_LAN_HOSTS} (got {hosts}) and silent 0..hosts (got {silent})")
    addresses: list[str] = []
    absent: list[str] = []
    slot = 10
    while len(addresses) < hosts:
        (absent if (slot - 10) % 4 == 2 else addresses).append(f"10.0.0.{slot}")
        slot += 1
    members = [Host("scanner", (Nic("sw0", "10.0.0.2"),))]
    for i, address in enumerate(addresses, 1):
        rules = (Rule("drop", "icmp"),) if i > hosts - silent else ()
        members.append(Host(f"h{i}", (Nic("sw0", address),), firewall=rules))
    return Topology("lan", (Switch("sw0", "10.0.0.0/24"),), tuple(members), absent=tuple(absent))


def routed(subnets: int = 3) -> Topology:
    """A chain of subnets ``s1``..``sN`` (10.0.K.0/24) joined by routers ``r1``..``rN-1``: ``rK`` is
    10.0.K.1 on sK and 10.0.K+1.2 on sK+1. ``scanner`` is 10.0.1.2 and ``target`` 10.0.N.10, so a
    traceroute from scanner prints 10.0.1.1, 10.0.2.1, ..., 10.0.N.10 (``Topology.hops``)."""
    if not MIN_SUBNETS <= subnets <= MAX_SUBNETS:
        raise LabError(f"routed: subnets must be {MIN_SUBNETS}..{MAX_SUBNETS} (got {subnets})")
    switches = tuple(Switch(f"s{k}", f"10.0.{k}.0/24") for k in range(1, subnets + 1))
    routers = tuple(Host(f"r{k}", (Nic(f"s{k}", f"10.0.{k}.1"), Nic(f"s{k + 1}", f"10.0.{k + 1}.2")),
                         router=True) for k in range(1, subnets))
    ends = (Host("scanner", (Nic("s1", "10.0.1.2"),)), Host("target", (Nic(f"s{subnets}", f"10.0.{subnets}.10"),)))
    return Topology("routed", switches, ends + routers)


FIREWALLED_RULES = (
    Rule("drop", "tcp", 25), Rule("reject", "tcp", 113), Rule("prohibit", "tcp", 445),
    Rule("drop", "udp", 69), Rule("reject", "udp", 514), Rule("prohibit", "udp", 137),
)
FIREWALLED_SERVICES = (
    Service("tcp", 22, b"SSH-2.0-netstudy_lab\r\n"), Service("tcp", 80), Service("tcp", 443),
    Service("udp", 53), Service("udp", 123),
)


def firewalled() -> Topology:
    """One switch on 10.0.0.0/24: ``scanner`` (.2), ``target`` (.10) and ``stealth`` (.11).

    ``target``: open tcp 22 (sends an SSH-style banner), 80, 443 and udp 53, 123 (echo); dropped
    tcp 25, udp 69; rejected tcp 113 (RST), udp 514 (ICMP port unreachable); prohibited tcp 445,
    udp 137 (ICMP admin-prohibited); every other port closed (the kernel answers RST / port
    unreachable), e.g. tcp 23 and udp 161. ``stealth`` drops ICMP echo but has tcp 80 open.
    ``Topology.host("target").port_state(proto, port)`` says which is which.
    """
    return Topology("firewalled", (Switch("sw0", "10.0.0.0/24"),), (
        Host("scanner", (Nic("sw0", "10.0.0.2"),)),
        Host("target", (Nic("sw0", "10.0.0.10"),), firewall=FIREWALLED_RULES, services=FIREWALLED_SERVICES),
        Host("stealth", (Nic("sw0", "10.0.0.11"),), firewall=(Rule("drop", "icmp"),),
             services=(Service("tcp", 80),)),
    ))


TOPOLOGIES: dict[str, Callable[..., Topology]] = {"lan": lan, "routed": routed, "firewalled": firewalled}


def load_topology(spec: str | Path | Topology | dict[str, Any], **params: int) -> Topology:
    """A topology from a built-in name (``lan``, ``routed``, ``firewalled``; ``params`` go to it), a
    ``.toml`` file, a dict, or a Topology (returned as is)."""
    if isinstance(spec, Topology):
        return spec
    if isinstance(spec, dict):
        return Topology.from_dict(spec)
    if str(spec) in TOPOLOGIES:
        return TOPOLOGIES[str(spec)](**params)
    if str(spec).endswith(".toml"):
        return Topology.from_toml(spec)
    raise LabError(f"{spec!r} is neither a built-in topology ({', '.join(TOPOLOGIES)}) nor a .toml file")
