"""The link layer, for any engine that speaks Ethernet itself (an ARP sweep, a sniffer): this host's
interfaces with their IPv4 networks and MAC addresses, and a packet socket (packet(7)) on one of them.

- :func:`interfaces` lists every interface that is up and has an IPv4 address, read with the
  ``ioctl`` calls ``ifconfig`` uses (netdevice(7): ``SIOCGIFADDR``, ``SIOCGIFNETMASK``,
  ``SIOCGIFHWADDR``, ``SIOCGIFFLAGS``): no subprocess, no privilege.
- :func:`interface_for` picks the interface whose network holds an address: the local segment that
  an ARP request for it can reach.
- :class:`PacketSocket` is an ``AF_PACKET`` / ``SOCK_RAW`` socket bound to one interface and one
  EtherType: whole Ethernet frames out and in (root or CAP_NET_RAW, else
  :class:`~netstudy.errors.PrivilegeError` saying so).

Frames are built and read by ``netstudy.wire``; this module only opens, sends and receives.
"""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
import time
from dataclasses import dataclass

from netstudy.errors import InputError, PrivilegeError
from netstudy.net.raw import source_address

SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFHWADDR = 0x8913, 0x8915, 0x891B, 0x8927
IFF_UP, IFF_LOOPBACK, IFF_MULTICAST = 0x1, 0x8, 0x1000
ARPHRD_ETHER = 1
ETH_P_ALL, ETH_P_ARP = 0x0003, 0x0806
_IFREQ = 40          # struct ifreq: a 16-byte name, then a union of at most 24 bytes


@dataclass(frozen=True)
class Interface:
    """One interface of this host with an IPv4 address: its name, index, MAC (empty when it has
    none, e.g. ``lo``), address and network (``10.0.0.2`` in ``10.0.0.0/24``), and whether it is the
    loopback and takes multicast (``IFF_MULTICAST``: ``ip link set IFACE multicast off`` clears it)."""

    name: str
    index: int
    mac: str
    address: str
    network: ipaddress.IPv4Network
    loopback: bool = False
    multicast: bool = False

    def __str__(self) -> str:
        return f"{self.name} {self.address}/{self.network.prefixlen}"


def _ioctl(sock: socket.socket, request: int, name: str) -> bytes:
    return fcntl.ioctl(sock.fileno(), request, struct.pack("16s24x", name.encode()[:15]))


def interfaces() -> list[Interface]:
    """Every interface that is up and has an IPv4 address, in index order (the primary address of
    each, as ``SIOCGIFADDR`` reports it)."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index, name in socket.if_nameindex():
            try:
                flags = struct.unpack_from("=H", _ioctl(sock, SIOCGIFFLAGS, name), 16)[0]
                address = socket.inet_ntoa(_ioctl(sock, SIOCGIFADDR, name)[20:24])
                netmask = socket.inet_ntoa(_ioctl(sock, SIOCGIFNETMASK, name)[20:24])
                hardware = _ioctl(sock, SIOCGIFHWADDR, name)
            except OSError:              # no IPv4 address, or gone since the listing
                continue
            if not flags & IFF_UP:
                continue
            family = struct.unpack_from("=H", hardware, 16)[0]
            mac = ":".join(f"{b:02x}" for b in hardware[18:24]) if family == ARPHRD_ETHER else ""
            network = ipaddress.IPv4Network(f"{address}/{netmask}", strict=False)
            found.append(Interface(name, index, mac, address, network, bool(flags & IFF_LOOPBACK),
                                   bool(flags & IFF_MULTICAST)))
    return found


def interface_for(address: str, choices: list[Interface] | None = None) -> Interface | None:
    """The Ethernet interface whose IPv4 network holds ``address`` (the longest prefix, if several),
    or None when no local segment does (it is behind a router, or nowhere)."""
    target = ipaddress.IPv4Address(address)
    matches = [i for i in (interfaces() if choices is None else choices)
               if i.mac and not i.loopback and target in i.network]
    return max(matches, key=lambda i: i.network.prefixlen, default=None)


def route_interface(destination: str) -> str | None:
    """The interface packets to and from ``destination`` cross, as this host's addresses tell it: ``lo``
    for one of its own addresses (127.0.0.0/8 included: the kernel's local route), else the interface
    holding the source address the route picks (:func:`~netstudy.net.raw.source_address`); None when no
    interface holds it."""
    source = source_address(destination)
    if source == destination or ipaddress.IPv4Address(destination).is_loopback:
        return "lo"
    return next((i.name for i in interfaces() if i.address == source), None)


class PacketSocket:
    """An ``AF_PACKET`` raw socket on ``interface`` for frames of ``ethertype`` (packet(7)): ``send``
    a whole Ethernet frame, ``read`` the next one with the time it arrived. Non-blocking."""

    def __init__(self, interface: Interface | str, ethertype: int = ETH_P_ALL) -> None:
        if isinstance(interface, str):
            named = [i for i in interfaces() if i.name == interface]
            if not named:
                raise InputError(f"{interface}: no such interface with an IPv4 address")
            interface = named[0]
        self.interface = interface
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
        except PermissionError:
            raise PrivilegeError("a packet socket (AF_PACKET) needs root or CAP_NET_RAW: run as root, or give "
                                 "the interpreter CAP_NET_RAW (setcap cap_net_raw+ep)") from None
        try:
            self.sock.bind((interface.name, ethertype))
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> PacketSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, frame: bytes | bytearray) -> None:
        self.sock.send(frame)

    def read(self) -> tuple[bytes, int] | None:
        """``(frame, time.perf_counter_ns() when read)``, or None when nothing is waiting. Frames this
        host sent itself (``PACKET_OUTGOING``) are skipped."""
        while True:
            try:
                data, address = self.sock.recvfrom(65535)
            except BlockingIOError:
                return None
            if address[2] != socket.PACKET_OUTGOING:
                return data, time.perf_counter_ns()
